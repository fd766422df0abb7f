//! Simulated devices on real pseudo-terminals.
//!
//! A simulator is a [`SimDevice`] (bytes in, scheduled bytes out) run by a
//! thread that owns the pty's master side. The driver opens the slave side
//! by path exactly as it opens hardware, so it cannot tell the difference.
//!
//! The path handed out is a symlink in a private temporary directory, because
//! "unplug" closes the pty (the driver's reads then fail, as with a pulled
//! USB cable) and "plug" makes a new one with a new `/dev/pts/N`: the symlink
//! is re-pointed so the configured path stays valid, like a udev rule's name.
//!
//! A thread rather than a tokio task: the simulators also serve the blocking
//! CLI and `bianmin demo`, and the runner needs sub-millisecond pacing to
//! emulate the wire time of a given baud rate for the benchmark.

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A raw (no echo, no line discipline) pseudo-terminal pair.
pub struct RawPty {
    pub master: OwnedFd,
    /// Held open by the simulator so that the master never sees a hang-up
    /// while the driver closes and reopens the port.
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

/// Open a pty pair with the slave in raw mode and the master non-blocking.
pub fn open_raw_pty() -> io::Result<RawPty> {
    let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    let mut termios = tcgetattr(pair.slave.as_fd()).map_err(io::Error::from)?;
    cfmakeraw(&mut termios);
    tcsetattr(pair.slave.as_fd(), SetArg::TCSANOW, &termios).map_err(io::Error::from)?;
    let flags = fcntl(pair.master.as_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
    fcntl(
        pair.master.as_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(io::Error::from)?;
    let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))?;
    Ok(RawPty {
        master: pair.master,
        slave: pair.slave,
        slave_path,
    })
}

/// Bytes a device wants to send, with when.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<(Instant, Vec<u8>)>,
    now: Option<Instant>,
}

impl Outbox {
    fn now(&self) -> Instant {
        self.now.unwrap_or_else(Instant::now)
    }

    /// Send as soon as the line is free.
    pub fn send(&mut self, bytes: Vec<u8>) {
        let now = self.now();
        self.queue.push_back((now, bytes));
    }

    /// Send after `delay` from the moment the input that caused it arrived.
    pub fn send_after(&mut self, delay: Duration, bytes: Vec<u8>) {
        let due = self.now() + delay;
        self.queue.push_back((due, bytes));
    }

    /// Send in small pieces of 1–9 bytes, `gap` apart: how a slow USB-serial
    /// bridge or a busy reader delivers a reply.
    pub fn send_fragmented(&mut self, delay: Duration, bytes: &[u8], gap: Duration, seed: u64) {
        let mut rng = seed | 1;
        let mut at = self.now() + delay;
        let mut rest = bytes;
        while !rest.is_empty() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = (1 + (rng % 9) as usize).min(rest.len());
            self.queue.push_back((at, rest[..n].to_vec()));
            rest = &rest[n..];
            at += gap;
        }
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// A device's behaviour, independent of the pty plumbing.
pub trait SimDevice: Send + 'static {
    /// Bytes arrived from the host.
    fn on_input(&mut self, bytes: &[u8], out: &mut Outbox);
    /// Called every few milliseconds for output the device makes by itself.
    fn on_tick(&mut self, _out: &mut Outbox) {}
    /// The pty was closed (unplugged); forget half-received input.
    fn on_unplug(&mut self) {}
}

struct Shared {
    stop: AtomicBool,
    plugged: AtomicBool,
    /// Incremented each time a new pty is live (for tests that wait on it).
    generation: AtomicU64,
    baud: Mutex<Option<u32>>,
}

/// A running simulator. Dropping it stops the thread and removes the link.
pub struct SimHandle<D: SimDevice> {
    device: Arc<Mutex<D>>,
    shared: Arc<Shared>,
    link: PathBuf,
    dir: Option<tempfile::TempDir>,
    thread: Option<JoinHandle<()>>,
}

impl<D: SimDevice> SimHandle<D> {
    /// Start `device` on a fresh pty; its path is a symlink named `name` in
    /// a new temporary directory. `baud` paces output at that line rate
    /// (10 bit times a byte); `None` sends as fast as the pty takes it.
    pub fn start(device: D, name: &str, baud: Option<u32>) -> io::Result<SimHandle<D>> {
        let dir = tempfile::Builder::new().prefix("bianmin-sim-").tempdir()?;
        let link = dir.path().join(name);
        let mut handle = SimHandle::start_at(device, &link, baud)?;
        handle.dir = Some(dir);
        Ok(handle)
    }

    /// Start with the link at a chosen path (replaced if it exists).
    pub fn start_at(device: D, link: &Path, baud: Option<u32>) -> io::Result<SimHandle<D>> {
        let device = Arc::new(Mutex::new(device));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            plugged: AtomicBool::new(true),
            generation: AtomicU64::new(0),
            baud: Mutex::new(baud),
        });
        // The first pty is opened here so that the path exists when this returns.
        let pty = open_raw_pty()?;
        relink(&pty.slave_path, link)?;
        shared.generation.store(1, Ordering::SeqCst);
        let thread = {
            let (device, shared, link) = (device.clone(), shared.clone(), link.to_path_buf());
            std::thread::Builder::new()
                .name("bianmin-sim".into())
                .spawn(move || run(device, shared, link, Some(pty)))?
        };
        Ok(SimHandle {
            device,
            shared,
            link: link.to_path_buf(),
            dir: None,
            thread: Some(thread),
        })
    }

    /// The path the driver opens.
    pub fn path(&self) -> &Path {
        &self.link
    }

    /// Lock the device to change its state (place a card, set paper end…).
    pub fn device(&self) -> MutexGuard<'_, D> {
        lock(&self.device)
    }

    /// Close the pty: the driver's reads and writes fail, the path vanishes.
    pub fn unplug(&self) {
        self.shared.plugged.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.link.symlink_metadata().is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Open a new pty and point the path at it.
    pub fn plug(&self) {
        let before = self.shared.generation.load(Ordering::SeqCst);
        self.shared.plugged.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.generation.load(Ordering::SeqCst) == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn set_baud(&self, baud: Option<u32>) {
        *lock(&self.shared.baud) = baud;
    }
}

impl<D: SimDevice> Drop for SimHandle<D> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if self.dir.is_none() {
            let _ = std::fs::remove_file(&self.link);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take every later test down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn relink(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// One chunk ready to be released onto the wire at `at`.
struct Timed {
    at: Instant,
    bytes: Vec<u8>,
}

fn run<D: SimDevice>(
    device: Arc<Mutex<D>>,
    shared: Arc<Shared>,
    link: PathBuf,
    first: Option<RawPty>,
) {
    let mut pty = first;
    let mut outbox = Outbox::default();
    let mut wire: VecDeque<Timed> = VecDeque::new();
    let mut line_free_at = Instant::now();
    let mut buf = [0u8; 4096];
    while !shared.stop.load(Ordering::SeqCst) {
        if !shared.plugged.load(Ordering::SeqCst) {
            if pty.take().is_some() {
                let _ = std::fs::remove_file(&link);
                outbox.clear();
                wire.clear();
                lock(&device).on_unplug();
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let Some(p) = pty.as_ref() else {
            match open_raw_pty() {
                Ok(new) => {
                    if relink(&new.slave_path, &link).is_ok() {
                        pty = Some(new);
                        shared.generation.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            continue;
        };

        // Move due outbox items onto the wire schedule, paced by the baud rate.
        let now = Instant::now();
        let byte_time = lock(&shared.baud).map(|b| Duration::from_secs_f64(10.0 / f64::from(b)));
        while outbox.queue.front().is_some_and(|(due, _)| *due <= now) {
            let Some((due, bytes)) = outbox.queue.pop_front() else {
                break;
            };
            match byte_time {
                None => wire.push_back(Timed { at: due, bytes }),
                Some(bt) => {
                    // Release each piece when its last byte would have arrived.
                    let mut t = line_free_at.max(due);
                    for piece in bytes.chunks(32) {
                        t += bt * piece.len() as u32;
                        wire.push_back(Timed {
                            at: t,
                            bytes: piece.to_vec(),
                        });
                    }
                    line_free_at = t;
                }
            }
        }

        // Write what is due; a full pty buffer (EAGAIN) leaves it for later.
        let now = Instant::now();
        while wire.front().is_some_and(|t| t.at <= now) {
            let Some(front) = wire.front_mut() else { break };
            match nix::unistd::write(p.master.as_fd(), &front.bytes) {
                Ok(n) if n == front.bytes.len() => {
                    wire.pop_front();
                }
                Ok(n) => {
                    front.bytes.drain(..n);
                    break;
                }
                Err(_) => break,
            }
        }

        // Sleep until input, the next release, or a tick.
        let next = wire
            .front()
            .map(|t| t.at)
            .into_iter()
            .chain(outbox.queue.iter().map(|(d, _)| *d))
            .min();
        let wait = next
            .map(|n| n.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(5))
            .min(Duration::from_millis(5));
        if wait < Duration::from_millis(1) && !wait.is_zero() && wire.front().is_some() {
            std::thread::sleep(wait);
        }
        let ms = wait.as_millis().min(5) as u16;
        let mut fds = [PollFd::new(p.master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0);
        let readable = ready > 0
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let mut dev = lock(&device);
        outbox.now = Some(Instant::now());
        if readable {
            match nix::unistd::read(p.master.as_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    // A pty delivers the host's bytes at once; on a real line
                    // the last of them arrives n byte times later.
                    if let Some(bt) = byte_time {
                        outbox.now = Some(Instant::now() + bt * n as u32);
                    }
                    dev.on_input(&buf[..n], &mut outbox)
                }
                _ => {}
            }
        }
        dev.on_tick(&mut outbox);
        outbox.now = None;
    }
    let _ = std::fs::remove_file(&link);
}
