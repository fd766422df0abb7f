//! systemd notification and the watchdog.
//!
//! The unit is `Type=notify` with `WatchdogSec=30`: systemd considers the
//! kiosk started on READY=1 and kills and restarts it when WATCHDOG=1 stops
//! arriving. The ping must prove that the kiosk is usable, not merely that
//! some thread is alive, so it is sent only while the Slint event loop keeps
//! beating (`LoopHealth::beat` from a Slint timer). A frozen UI thus stops the
//! pings and systemd restarts the kiosk.
//!
//! Outside systemd (a developer's desktop, tests, CI) `NOTIFY_SOCKET` is
//! unset and every call is a no-op.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends state to systemd; does nothing when not started by systemd.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notifier;

impl Notifier {
    /// Whether a service manager is listening.
    pub fn is_active(&self) -> bool {
        std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
    }

    /// The kiosk is up: window open, configuration read.
    pub fn ready(&self) -> io::Result<()> {
        sd_notify::notify(&[sd_notify::NotifyState::Ready])
    }

    pub fn watchdog(&self) -> io::Result<()> {
        sd_notify::notify(&[sd_notify::NotifyState::Watchdog])
    }

    pub fn stopping(&self) -> io::Result<()> {
        sd_notify::notify(&[sd_notify::NotifyState::Stopping])
    }

    /// One line shown by `systemctl status bianmin`. Newlines would start a
    /// new notify field, so they are flattened; never pass personal data.
    pub fn status(&self, text: &str) -> io::Result<()> {
        let line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        sd_notify::notify(&[sd_notify::NotifyState::Status(&line)])
    }
}

/// Proof of life from the UI event loop, shared with the watchdog thread.
#[derive(Debug, Clone)]
pub struct LoopHealth {
    origin: Instant,
    last_beat_ms: Arc<AtomicU64>,
}

impl Default for LoopHealth {
    fn default() -> Self {
        LoopHealth::new()
    }
}

impl LoopHealth {
    pub fn new() -> LoopHealth {
        LoopHealth {
            origin: Instant::now(),
            last_beat_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Called from the event loop (a Slint timer every second or so).
    pub fn beat(&self) {
        self.beat_at(Instant::now());
    }

    pub fn beat_at(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.origin).as_millis();
        self.last_beat_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Time since the last beat (or since creation, when none yet).
    pub fn age(&self, now: Instant) -> Duration {
        let last = self.origin + Duration::from_millis(self.last_beat_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogDecision {
    Ping,
    /// The event loop has not beaten for this long: no ping, so systemd
    /// restarts the kiosk when `WatchdogSec` runs out.
    Withhold {
        stalled_for: Duration,
    },
}

/// When to ping and how long a stalled event loop is tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdog {
    pub ping_every: Duration,
    pub max_loop_stall: Duration,
}

impl Watchdog {
    /// From systemd's `WATCHDOG_USEC`; `None` when no watchdog was asked for.
    pub fn from_env() -> Option<Watchdog> {
        sd_notify::watchdog_enabled().map(Watchdog::for_timeout)
    }

    /// Ping three times per timeout, so one late ping is not fatal; give up
    /// on the loop after two thirds of it, so systemd acts within one timeout
    /// of the freeze.
    pub fn for_timeout(timeout: Duration) -> Watchdog {
        Watchdog {
            ping_every: (timeout / 3).max(Duration::from_millis(100)),
            max_loop_stall: timeout * 2 / 3,
        }
    }

    pub fn decide(&self, loop_age: Duration) -> WatchdogDecision {
        if loop_age <= self.max_loop_stall {
            WatchdogDecision::Ping
        } else {
            WatchdogDecision::Withhold {
                stalled_for: loop_age,
            }
        }
    }

    /// One round: decide and, if healthy, ping.
    pub fn tick(&self, health: &LoopHealth, notifier: &Notifier, now: Instant) -> WatchdogDecision {
        let decision = self.decide(health.age(now));
        match decision {
            WatchdogDecision::Ping => {
                if let Err(err) = notifier.watchdog() {
                    tracing::warn!(%err, "watchdog ping not delivered");
                }
            }
            WatchdogDecision::Withhold { stalled_for } => {
                tracing::error!(
                    stalled_ms = stalled_for.as_millis() as u64,
                    "UI event loop stalled; withholding the watchdog ping so systemd restarts the kiosk"
                );
                let _ = notifier.status("界面无响应，等待 systemd 重启");
            }
        }
        decision
    }

    /// Ping from a plain thread for the life of the process. A thread, not a
    /// tokio task: a starved runtime must not be mistaken for a frozen UI,
    /// nor the other way round.
    pub fn spawn(
        self,
        health: LoopHealth,
        notifier: Notifier,
    ) -> io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(self.ping_every);
                self.tick(&health, &notifier, Instant::now());
            })
    }
}
