//! The `bianmin` binary as a technician and CI meet it.

use std::path::Path;
use std::process::{Command, Output};

fn bianmin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SLINT_BACKEND")
        .env("RUST_LOG", "warn")
        .output()
        .expect("bianmin runs")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const REFERENCE: &str = include_str!("../../config/kiosk.toml");

/// The shipped template is refused for production only because it names no
/// platform CA and no platform sealing key (issue 16) and no content
/// publisher key (issue 14); with the three it passes.
#[test]
fn config_check_accepts_the_reference_file_once_it_names_the_platform_ca() {
    let output = bianmin(&[
        "config",
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/kiosk.toml"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 3, "{message}");
    assert!(message.contains("未设置 platform.ca_file"), "{message}");
    assert!(message.contains("未设置 content.public_key"), "{message}");
    assert!(
        message.contains("未设置 platform.seal_public_key"),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap();
    let ca = write(
        dir.path(),
        "platform-ca.pem",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    let platform_key = bianmin_platform::seal::OpeningKey::generate(
        bianmin_platform::seal::Suite::Intl,
        "2026-01",
    )
    .sealing_key()
    .to_text();
    let text = REFERENCE
        .replace(
            "# ca_file = \"/etc/bianmin/platform-ca.pem\"",
            &format!("ca_file = \"{ca}\""),
        )
        .replace(
            "seal_public_key = \"\"\nseal_key_id = \"\"",
            &format!("seal_public_key = \"{platform_key}\"\nseal_key_id = \"2026-01\""),
        )
        .replace(
            "public_key = \"\"",
            &format!(
                "public_key = \"{}\"",
                bianmin_core::package::DEMO_PUBLIC_KEY
            ),
        );
    let file = write(dir.path(), "kiosk.toml", &text);
    let output = bianmin(&["config", "check", &file]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn config_check_refuses_plain_http_outside_a_test_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let remote = write(
        dir.path(),
        "remote.toml",
        "[station]\nmode = \"test\"\n\n[platform]\nurl = \"http://10.20.30.40:8700/api/v1\"\n",
    );
    let output = bianmin(&["config", "check", &remote]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("remote.toml:5:1: 平台地址使用了不加密的 http://"),
        "{message}"
    );

    let loopback = "[platform]\nurl = \"http://127.0.0.1:8700/api/v1\"\n";
    let production = write(dir.path(), "production.toml", loopback);
    let output = bianmin(&["config", "check", &production]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("mode = \"test\""),
        "{}",
        stderr(&output)
    );

    let test = write(
        dir.path(),
        "test.toml",
        &format!("[station]\nmode = \"test\"\n\n{loopback}"),
    );
    let output = bianmin(&["config", "check", &test]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// No factory PIN: `config set-admin-pin` provisions one, weak ones are refused.
#[test]
fn set_admin_pin_provisions_the_pin_file() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |pin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bianmin"))
            .args(["config", "set-admin-pin"])
            .env("BIANMIN_DATA_DIR", &data)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pin}").unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run("123456");
    assert_eq!(weak.status.code(), Some(1));
    assert!(!data.join("admin-pin.json").exists());
    let ok = run("480715");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let mut gate = bianmin_admin::AdminGate::open(&data).unwrap();
    assert!(gate
        .try_enter("480715", std::time::SystemTime::now())
        .is_ok());
}

#[test]
fn config_check_refuses_unknown_key_and_wrong_type_in_one_line_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(
        dir.path(),
        "unknown.toml",
        "[station]\nname = \"x\"\nnmae = \"y\"\n",
    );
    let output = bianmin(&["config", "check", &unknown]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("unknown.toml:3:1:"), "{message}");
    assert!(message.contains("nmae"), "{message}");

    let wrong_type = write(
        dir.path(),
        "type.toml",
        "[devices.printer]\nbaud = \"fast\"\n",
    );
    let output = bianmin(&["config", "check", &wrong_type]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("type.toml:2:8:"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn missing_config_file_is_a_sentence_not_a_panic() {
    let output = bianmin(&["config", "check", "/nonexistent/kiosk.toml"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("cannot read"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn demo_without_a_display_says_so_in_one_line_and_how_to_see_the_screens() {
    let output = bianmin(&["demo"]);
    assert_eq!(output.status.code(), Some(3));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("no display"), "{message}");
    assert!(message.contains("bianmin screens"), "{message}");
}

#[test]
fn run_with_a_broken_config_reports_it_and_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(dir.path(), "broken.toml", "[session]\ncountdown_secs = 5\n");
    let output = bianmin(&["--config", &broken, "run"]);
    let message = stderr(&output);
    assert!(message.contains("broken.toml:2:18:"), "{message}");
    assert!(message.contains("from 20 to 300"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn screens_writes_every_screen_and_the_chinese_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shots");
    let output = bianmin(&["screens", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(
        written.len(),
        2 * bianmin_ui::headless::all_screens().len(),
        "every screen × 2 themes"
    );
    for name in [
        "attract-normal.png",
        "attract-large.png",
        "guide-large.png",
        "form-large.png",
        "printer-out-of-paper-normal.png",
        "rating-large.png",
        "idle-timeout-normal.png",
    ] {
        let image = image::open(out.join(name)).unwrap();
        assert_eq!((image.width(), image.height()), (1280, 800), "{name}");
    }

    // Other sizes work too.
    let small = dir.path().join("small");
    let output = bianmin(&[
        "screens",
        "--out",
        small.to_str().unwrap(),
        "--size",
        "800x480",
        "--theme",
        "large",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let image = image::open(small.join("attract-large.png")).unwrap();
    assert_eq!((image.width(), image.height()), (800, 480));

    // OCR reads the station name and the entry buttons back: the bundled
    // font renders Chinese whatever fonts the host has.
    let ocr = Command::new("tesseract")
        .arg(out.join("attract-large.png"))
        // One column of text of varying sizes: the automatic layout analysis
        // sometimes glued the header's two lines together (便民服务助终端).
        .args(["-", "-l", "chi_sim", "--psm", "4"])
        .output()
        .expect("tesseract with chi_sim is installed (.ci/install-deps)");
    let text: String = String::from_utf8_lossy(&ocr.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(text.contains("便民服务站"), "OCR read: {text}");
    let entries = [
        "刷身份证",
        "扫码",
        "找服务",
        "搜索",
        "查进度",
        "呼叫工作人员",
    ];
    let read: Vec<_> = entries.iter().filter(|e| text.contains(*e)).collect();
    assert!(
        read.len() >= 5,
        "OCR read only {read:?} of the entry buttons in: {text}"
    );
}

#[test]
fn walkthrough_renders_a_whole_journey_with_its_printed_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("walk");
    // On a machine whose system zone is UTC (a fresh Raspberry Pi image) the
    // screen and the receipt still tell one time: the station's.
    let output = Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .args(["walkthrough", "--out", out.to_str().unwrap()])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TZ", "UTC")
        .env("RUST_LOG", "warn")
        .output()
        .expect("bianmin runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let times = std::fs::read_to_string(out.join("times.txt")).unwrap();
    let field = |name: &str| {
        times
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let (clock, printed) = (field("screen-clock"), field("receipt-time"));
    // "01:50" on screen, "2026-12-05 01:50" on paper (a minute may turn between).
    let minutes = |hhmm: &str| {
        let (h, m) = hhmm.split_once(':').unwrap();
        h.parse::<i32>().unwrap() * 60 + m.parse::<i32>().unwrap()
    };
    let printed_clock = printed.rsplit(' ').next().unwrap();
    let apart = (minutes(&clock) - minutes(printed_clock)).rem_euclid(24 * 60);
    assert!(apart <= 1 || apart == 24 * 60 - 1, "{times}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for step in [
        "form-prefilled",
        "review",
        "signed",
        "receipt",
        "printed-receipt",
        "rating",
        "progress",
        "session-ended",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(&format!("-{step}.png"))),
            "{step} in {names:?}"
        );
    }
    let printed = names
        .iter()
        .find(|n| n.ends_with("-printed-receipt.png"))
        .unwrap();
    let image = image::open(out.join(printed)).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let codes: Vec<String> = prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect();
    assert!(
        codes
            .iter()
            .any(|c| bianmin_store::receipt::is_valid(c.trim())),
        "{codes:?}"
    );
}

/// The shipped demo package is what `content build` makes of the sources in
/// config/, signed with the demo key, byte for byte; `content check` takes
/// it with the demo publisher's key and refuses it changed by one byte.
#[test]
fn content_build_reproduces_the_demo_package_and_check_refuses_a_changed_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = dir.path().join("package.json");
    let output = bianmin(&[
        "content",
        "build",
        &format!("{root}/config"),
        "--key",
        &format!("{root}/config/content/demo-signing.key"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let built = std::fs::read(&out).unwrap();
    let shipped = std::fs::read(format!("{root}/config/content/demo-package.json")).unwrap();
    assert!(built == shipped, "the demo package is not reproduced");

    let key = bianmin_core::package::DEMO_PUBLIC_KEY;
    let check = |path: &Path| {
        bianmin(&[
            "content",
            "check",
            path.to_str().unwrap(),
            "--public-key",
            key,
        ])
    };
    let output = check(&out);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("内容包可用"));

    let mut changed = built.clone();
    let at = String::from_utf8_lossy(&built).find("居住证").unwrap();
    changed[at + 1] ^= 0x01;
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, &changed).unwrap();
    let output = check(&tampered);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("内容包不能使用"),
        "{}",
        stderr(&output)
    );
}
