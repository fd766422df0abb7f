//! A real window: `bianmin demo` under Xvfb with Slint's winit backend and
//! software renderer, tapped through like a resident would with xdotool,
//! checked screen by screen from the pixels (OCR of xwd screenshots), then
//! closed the way a window manager closes it.
//!
//! Where to tap comes from the kiosk itself: with `BIANMIN_LAYOUT_DUMP` set
//! it keeps a JSON file of the screen on show and of every visible button's
//! label and rectangle (crates/ui/src/layout_dump.rs). The dump also says when the
//! next screen is up; the screenshot must then show that screen's words, so
//! a tap that lands on the wrong button, a window that draws nothing, or a
//! dump that lies all fail the test.
//!
//! Needs Xvfb, xdotool, xwd, ImageMagick and tesseract with chi_sim
//! (`.ci/install-deps`); a missing one fails the test, it is never skipped.
//! What it saw (screenshots, OCR text, the kiosk's log) stays in
//! target/tmp/window-* when it fails.

mod desktop;
mod update;
mod x11;

use desktop::Xvfb;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The panel size of the default configuration, and so of the window.
const SCREEN: (u32, u32) = (1280, 800);
/// From launch to the attract screen (a debug build, the demo platform).
const START_LIMIT: Duration = Duration::from_secs(60);
/// From a tap to the next screen, and from there to its words on screen.
const STEP_LIMIT: Duration = Duration::from_secs(20);
/// From the close request to the end of the process.
const EXIT_LIMIT: Duration = Duration::from_secs(15);

/// What the resident taps, and what each screen must show: the words OCR
/// must find (and, to tell it from the screen before, must not find).
struct Step {
    tap: &'static str,
    screen: &'static str,
    overlay: Option<&'static str>,
    shows: &'static [&'static str],
    not_shows: &'static [&'static str],
}

const JOURNEY: [Step; 5] = [
    // The demo puts a card on the simulated reader 1.5 s after 刷身份证
    // (app.rs, identify_requested): the identify screen gives way to the
    // catalogue, with a notice naming the resident on top.
    Step {
        tap: "刷身份证",
        screen: "catalogue",
        overlay: Some("NoticeOverlay"),
        shows: &["已确认身份"],
        not_shows: &[],
    },
    Step {
        tap: "知道了",
        screen: "catalogue",
        overlay: None,
        shows: &["请选择办事类别", "社会保障"],
        not_shows: &["已确认身份"],
    },
    Step {
        tap: "社会保障",
        screen: "service-list",
        overlay: None,
        shows: &["社会保障卡申领"],
        not_shows: &["请选择办事类别"],
    },
    Step {
        tap: "社会保障卡申领",
        screen: "guide",
        overlay: None,
        // The guide's own headings: with a resident identified the header
        // title steps down a size to make room for the masked name.
        shows: &["办理条件", "我要办理"],
        not_shows: &[],
    },
    // A single service (not a 一件事 bundle) with the card read goes
    // straight to its form (journey.rs, begin_application).
    Step {
        tap: "我要办理",
        screen: "form",
        overlay: None,
        shows: &["填写信息", "下一步"],
        not_shows: &["我要办理", "办理条件"],
    },
];

#[test]
fn demo_in_a_real_window_taps_through_to_the_form_and_closes_cleanly() {
    desktop::require_tools();
    let mut run = Run::start();

    let attract = run.wait_for("attract", None, START_LIMIT);
    run.find_window();
    run.check_buttons_fit(&attract);
    run.expect_pixels("attract", &["刷身份证", "找服务"], &[]);

    let mut shown = attract;
    for step in &JOURNEY {
        run.tap(&shown, step.tap);
        shown = run.wait_for(step.screen, step.overlay, STEP_LIMIT);
        let name = match step.overlay {
            Some(overlay) => format!("{}-{}", step.screen, overlay),
            None => step.screen.to_string(),
        };
        run.expect_pixels(&name, step.shows, step.not_shows);
    }

    run.close_and_expect_clean_exit();
    run.finish();
}

/// The kiosk process; killed if still running when dropped.
struct Kiosk {
    child: Child,
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One run of the kiosk on its own X display. Fields drop in order: the
/// kiosk is killed before its X server.
struct Run {
    kiosk: Kiosk,
    xvfb: Xvfb,
    dir: PathBuf,
    dump: PathBuf,
    /// The kiosk's window and its top-left corner on the screen.
    window: Option<(u32, i64, i64)>,
    /// What happened so far, for the failure message.
    log: Vec<String>,
    shots: Vec<PathBuf>,
    step: usize,
    started: Instant,
}

impl Run {
    fn start() -> Run {
        let started = Instant::now();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "window-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(dir.join("data")).expect("test directory");
        // Built-in defaults, whatever /etc/bianmin/kiosk.toml says on this host.
        let config = dir.join("kiosk.toml");
        std::fs::write(&config, "").expect("empty configuration");
        let xvfb = Xvfb::start(SCREEN.0, SCREEN.1, &dir.join("xvfb.log"));
        let dump = dir.join("layout.json");
        let child = Command::new(env!("CARGO_BIN_EXE_bianmin"))
            .arg("--config")
            .arg(&config)
            .arg("demo")
            .env("DISPLAY", xvfb.name())
            .env("SLINT_BACKEND", "winit-software")
            .env("BIANMIN_LAYOUT_DUMP", &dump)
            .env("BIANMIN_DATA_DIR", dir.join("data"))
            // X11 even on a Wayland desktop; no systemd around the kiosk.
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("BIANMIN_PLATFORM_SECRET")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("kiosk.stdout")).expect("log file"))
            .stderr(std::fs::File::create(dir.join("kiosk.stderr")).expect("log file"))
            .spawn()
            .expect("the bianmin binary starts");
        let mut run = Run {
            kiosk: Kiosk { child },
            xvfb,
            dir,
            dump,
            window: None,
            log: Vec::new(),
            shots: Vec::new(),
            step: 0,
            started,
        };
        run.note(format!(
            "Xvfb on {}, kiosk pid {}",
            run.xvfb.name(),
            run.kiosk.child.id()
        ));
        run
    }

    fn note(&mut self, line: String) {
        self.log.push(format!(
            "{:6.2}s {line}",
            self.started.elapsed().as_secs_f32()
        ));
    }

    /// The layout dump as the kiosk last wrote it.
    fn read_dump(&self) -> Option<Value> {
        let text = std::fs::read_to_string(&self.dump).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Wait until the dump shows `screen` with `overlay` on top (None: no
    /// overlay) and some buttons, and return it.
    fn wait_for(&mut self, screen: &str, overlay: Option<&str>, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        let mut last_state = String::new();
        loop {
            if let Ok(Some(status)) = self.kiosk.child.try_wait() {
                self.fail(format!(
                    "the kiosk exited ({status}) while the test waited for {screen}"
                ));
            }
            if let Some(dump) = self.read_dump() {
                let state = format!("{}/{}", dump["screen"], dump["overlay"]);
                if state != last_state {
                    self.note(format!("dump: screen {state}"));
                    last_state = state;
                }
                let buttons = dump["buttons"].as_array().map_or(0, Vec::len);
                if dump["screen"] == screen && dump["overlay"].as_str() == overlay && buttons > 0 {
                    return dump;
                }
            }
            if Instant::now() > deadline {
                self.fail(format!(
                    "the kiosk did not reach screen {screen:?} (overlay {overlay:?}) within {limit:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The kiosk's window, found by its process id, and where it lies.
    fn find_window(&mut self) {
        let pid = self.kiosk.child.id();
        let deadline = Instant::now() + STEP_LIMIT;
        let window = loop {
            if let Some(&window) = self.xvfb.windows_of(pid).first() {
                break window;
            }
            if Instant::now() > deadline {
                self.fail(format!("no visible window of pid {pid} on the display"));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let (x, y, w, h) = match self.xvfb.geometry(window) {
            Ok(geometry) => geometry,
            Err(err) => self.fail(err),
        };
        self.note(format!("window {window:#x} at {x},{y} size {w}×{h}"));
        if (w, h) != (i64::from(SCREEN.0), i64::from(SCREEN.1)) {
            self.fail(format!(
                "the window is {w}×{h}, not the configured {}×{}",
                SCREEN.0, SCREEN.1
            ));
        }
        self.window = Some((window, x, y));
    }

    /// Every button the dump lists lies inside the window.
    fn check_buttons_fit(&mut self, dump: &Value) {
        let scale = dump["scale"].as_f64().unwrap_or(0.0);
        if scale <= 0.0 {
            self.fail(format!("the dump gives no scale factor: {dump}"));
        }
        for button in dump["buttons"].as_array().into_iter().flatten() {
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| button[k].as_i64().unwrap_or(-1));
            if x < 0
                || y < 0
                || w <= 0
                || h <= 0
                || x + w > i64::from(SCREEN.0)
                || y + h > i64::from(SCREEN.1)
            {
                self.fail(format!("button outside the window in the dump: {button}"));
            }
        }
    }

    /// Tap the centre of the button labelled `label` in `dump`.
    fn tap(&mut self, dump: &Value, label: &str) {
        let button = dump["buttons"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["label"] == label && b["enabled"] != false)
            .cloned();
        let Some(button) = button else {
            let labels: Vec<&str> = dump["buttons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["label"].as_str())
                .collect();
            self.fail(format!(
                "no enabled button {label:?} on screen {}; buttons: {labels:?}",
                dump["screen"]
            ));
        };
        let Some((_, origin_x, origin_y)) = self.window else {
            self.fail("tap before the window was found".into());
        };
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| button[k].as_i64().unwrap_or(0));
        let (at_x, at_y) = (origin_x + x + w / 2, origin_y + y + h / 2);
        self.note(format!("tap {label:?} at {at_x},{at_y}"));
        if let Err(err) = self.xvfb.click(at_x, at_y) {
            self.fail(err);
        }
    }

    /// Screenshot until OCR reads every phrase of `shows` and none of
    /// `not_shows` (the frame may lag the dump by a few milliseconds).
    fn expect_pixels(&mut self, name: &str, shows: &[&str], not_shows: &[&str]) {
        self.step += 1;
        let png = self.dir.join(format!("{:02}-{name}.png", self.step));
        let deadline = Instant::now() + STEP_LIMIT;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Err(err) = self.xvfb.screenshot(&png) {
                self.fail(err);
            }
            let text = match desktop::ocr(&png) {
                Ok(text) => text,
                Err(err) => self.fail(err),
            };
            let _ = std::fs::write(png.with_extension("txt"), &text);
            let missing: Vec<&str> = shows
                .iter()
                .copied()
                .filter(|p| !text.contains(p))
                .collect();
            let stray: Vec<&str> = not_shows
                .iter()
                .copied()
                .filter(|p| text.contains(p))
                .collect();
            if missing.is_empty() && stray.is_empty() {
                self.note(format!(
                    "{name}: OCR found {shows:?}{} (attempt {attempts})",
                    if not_shows.is_empty() {
                        String::new()
                    } else {
                        format!(", not {not_shows:?}")
                    }
                ));
                self.shots.push(png);
                return;
            }
            if Instant::now() > deadline {
                self.shots.push(png.clone());
                let mut problems = Vec::new();
                if !missing.is_empty() {
                    problems.push(format!("OCR does not find {missing:?}"));
                }
                if !stray.is_empty() {
                    problems.push(format!("OCR finds {stray:?}, which belongs elsewhere"));
                }
                self.fail(format!(
                    "{} does not show screen {name}: {} (after {attempts} screenshots); it read: {text}",
                    png.display(),
                    problems.join(" and ")
                ));
            }
            self.note(format!(
                "{name}: attempt {attempts}: OCR misses {missing:?}, finds {stray:?}"
            ));
            let kept = png.with_extension(format!("miss{attempts}.png"));
            let _ = std::fs::copy(&png, &kept);
            let _ = std::fs::write(kept.with_extension("txt"), &text);
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Send WM_DELETE_WINDOW as a window manager's close button would and
    /// expect the kiosk to end by itself, successfully.
    fn close_and_expect_clean_exit(&mut self) {
        let Some((window, _, _)) = self.window else {
            self.fail("close before the window was found".into());
        };
        let sent = x11::Connection::open(self.xvfb.display)
            .and_then(|mut connection| connection.close_window(window));
        if let Err(err) = sent {
            self.fail(format!("cannot ask the window to close: {err}"));
        }
        self.note(format!("WM_DELETE_WINDOW sent to {window:#x}"));
        let deadline = Instant::now() + EXIT_LIMIT;
        let status: ExitStatus = loop {
            match self.kiosk.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => self.fail(format!(
                    "the kiosk still runs {EXIT_LIMIT:?} after its window was asked to close"
                )),
                Err(err) => self.fail(format!("waiting for the kiosk: {err}")),
            }
        };
        self.note(format!("kiosk exited: {status}"));
        if !status.success() {
            self.fail(format!("the kiosk did not exit cleanly on close: {status}"));
        }
    }

    /// All passed: say what was seen and clear the directory.
    fn finish(self) {
        println!("{}", self.log.join("\n"));
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Fail with everything that helps: the log of steps, the last dump, the
    /// screenshots, the kiosk's output. The directory is kept.
    fn fail(&self, what: String) -> ! {
        let tail = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        let shots: Vec<String> = self.shots.iter().map(|p| p.display().to_string()).collect();
        panic!(
            "{what}\n\nsteps:\n{}\n\nlast layout dump: {}\n\nscreenshots (kept in {}):\n{}\n\n\
             kiosk stdout:\n{}\n\nkiosk stderr:\n{}\n\nXvfb log:\n{}",
            self.log.join("\n"),
            std::fs::read_to_string(&self.dump).unwrap_or_else(|e| format!("({e})")),
            self.dir.display(),
            shots.join("\n"),
            tail(&self.dir.join("kiosk.stdout")),
            tail(&self.dir.join("kiosk.stderr")),
            tail(&self.dir.join("xvfb.log")),
        );
    }
}
