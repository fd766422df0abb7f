//! The outside world of the window test: an Xvfb display, xdotool for the
//! pointer, xwd + ImageMagick for screenshots and tesseract for reading them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The programs the test drives, with the Debian package of each.
const TOOLS: [(&str, &str); 5] = [
    ("Xvfb", "xvfb"),
    ("xdotool", "xdotool"),
    ("xwd", "x11-apps"),
    ("convert", "imagemagick"),
    ("tesseract", "tesseract-ocr"),
];

/// Fail (never skip) when a tool is missing: CI installs them all.
pub fn require_tools() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<String> = TOOLS
        .iter()
        .filter(|(program, _)| !std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .map(|(program, package)| format!("`{program}` (apt: {package})"))
        .collect();
    assert!(
        missing.is_empty(),
        "the window smoke test needs {} on PATH; `.ci/install-deps` installs them",
        missing.join(", ")
    );
    let langs = Command::new("tesseract")
        .arg("--list-langs")
        .output()
        .expect("tesseract runs");
    let listed = format!(
        "{}{}",
        String::from_utf8_lossy(&langs.stdout),
        String::from_utf8_lossy(&langs.stderr)
    );
    assert!(
        listed.lines().any(|l| l.trim() == "chi_sim"),
        "tesseract has no Simplified Chinese (apt: tesseract-ocr-chi-sim); it lists: {listed}"
    );
}

/// What a finished helper program printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Run `command` to its end, killing it after `limit`: a helper that hangs
/// (xdotool waiting for a window that never comes) fails the test instead
/// of hanging it. Standard input is the caller's to set.
pub fn run(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {limit:?}"));
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// A virtual X server on a free display; killed when dropped.
pub struct Xvfb {
    pub display: u32,
    child: Child,
    // Xvfb wrote the display number here; keep the pipe open while it runs.
    _displayfd: ChildStdout,
}

impl Xvfb {
    /// Start `Xvfb -screen 0 WxHx24` on the first free display; the server
    /// itself picks it and says so (`-displayfd`) once it takes connections.
    pub fn start(width: u32, height: u32, log: &Path) -> Xvfb {
        let log_file = std::fs::File::create(log).expect("Xvfb log file");
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg(format!("{width}x{height}x24"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("Xvfb starts (apt: xvfb)");
        let stdout = child.stdout.take().expect("Xvfb's stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = sender.send((line, reader.into_inner()));
        });
        let Ok((line, displayfd)) = receiver.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Xvfb did not say which display it serves within 30 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        let Ok(display) = line.trim().parse::<u32>() else {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "Xvfb did not start ({status:?}, said {line:?}); its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        Xvfb {
            display,
            child,
            _displayfd: displayfd,
        }
    }

    /// `:N`, for DISPLAY.
    pub fn name(&self) -> String {
        format!(":{}", self.display)
    }

    /// Run a client of this display (xdotool, xwd) with a time limit.
    pub fn client(&self, program: &str, args: &[&str], limit: Duration) -> Result<Output, String> {
        let output = run(
            Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .env("DISPLAY", self.name())
                .env_remove("WAYLAND_DISPLAY"),
            limit,
        )?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(format!(
                "{program} {args:?} failed ({}): {}{}",
                output.status, output.stdout, output.stderr
            ))
        }
    }

    /// Visible windows of process `pid` (xdotool reads `_NET_WM_PID`).
    pub fn windows_of(&self, pid: u32) -> Vec<u32> {
        let pid = pid.to_string();
        self.client(
            "xdotool",
            &["search", "--onlyvisible", "--pid", &pid],
            Duration::from_secs(10),
        )
        .map(|o| {
            o.stdout
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
    }

    /// Where `window` lies on the screen: (x, y, width, height).
    pub fn geometry(&self, window: u32) -> Result<(i64, i64, i64, i64), String> {
        let output = self.client(
            "xdotool",
            &["getwindowgeometry", "--shell", &window.to_string()],
            Duration::from_secs(10),
        )?;
        let field = |name: &str| {
            output
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| format!("no {name} in {:?}", output.stdout))
        };
        Ok((field("X")?, field("Y")?, field("WIDTH")?, field("HEIGHT")?))
    }

    /// Press and release the left button at screen position (x, y).
    pub fn click(&self, x: i64, y: i64) -> Result<(), String> {
        let (x, y) = (x.to_string(), y.to_string());
        // `mousemove --sync` waits for the pointer to arrive, and so would
        // wait forever if it were there already: move only when it is not.
        let here = self.client(
            "xdotool",
            &["getmouselocation", "--shell"],
            Duration::from_secs(10),
        )?;
        let at = |name: &str| {
            here.stdout
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(str::trim)
                .map(str::to_string)
        };
        if at("X").as_deref() != Some(x.as_str()) || at("Y").as_deref() != Some(y.as_str()) {
            self.client(
                "xdotool",
                &["mousemove", "--sync", &x, &y],
                Duration::from_secs(10),
            )?;
        }
        self.client("xdotool", &["click", "1"], Duration::from_secs(10))
            .map(|_| ())
    }

    /// The whole screen as a PNG at `path` (`xwd -root | convert`).
    pub fn screenshot(&self, path: &Path) -> Result<(), String> {
        let mut xwd = Command::new("xwd")
            .args(["-root", "-silent"])
            .env("DISPLAY", self.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("xwd: {e}"))?;
        let pipe = xwd.stdout.take().expect("xwd's stdout");
        let converted = run(
            Command::new("convert")
                .arg("xwd:-")
                .arg(format!("png:{}", path.display()))
                .stdin(pipe),
            Duration::from_secs(30),
        );
        let xwd_status = xwd.wait().map_err(|e| format!("xwd: {e}"))?;
        let converted = converted?;
        if !xwd_status.success() || !converted.status.success() {
            return Err(format!(
                "screenshot failed: xwd {xwd_status}, convert {}: {}",
                converted.status, converted.stderr
            ));
        }
        Ok(())
    }
}

impl Drop for Xvfb {
    /// SIGTERM first, so the server removes its socket and lock file; SIGKILL
    /// if it has not gone within 3 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Chinese text tesseract reads in `png`, whitespace removed (it puts
/// spaces between CJK characters and breaks lines unpredictably).
pub fn ocr(png: &Path) -> Result<String, String> {
    let output = run(
        Command::new("tesseract")
            .stdin(Stdio::null())
            .arg(png)
            .args(["-", "-l", "chi_sim", "--psm", "4"]),
        Duration::from_secs(60),
    )?;
    if !output.status.success() {
        return Err(format!(
            "tesseract failed ({}): {}",
            output.status, output.stderr
        ));
    }
    Ok(output
        .stdout
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect())
}
