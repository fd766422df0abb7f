//! Its own test binary (one test, one thread): it changes the process
//! environment, which must not race with other tests.

use bianmin_config::{Config, Secret};

/// The platform secret reaches the configuration and then leaves the
/// environment, so a program the kiosk starts (espeak-ng, aplay,
/// journalctl) does not inherit it.
#[test]
fn the_secret_leaves_the_environment_once_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kiosk.toml");
    std::fs::write(&file, "[station]\nname = \"x\"\n").unwrap();
    std::env::set_var("BIANMIN_PLATFORM_SECRET", "s3cret-for-the-platform");

    let config = Config::load(Some(&file)).unwrap();
    assert_eq!(
        config.platform.secret,
        Some(Secret("s3cret-for-the-platform".into()))
    );
    assert!(std::env::var_os("BIANMIN_PLATFORM_SECRET").is_none());
    let child = std::process::Command::new("sh")
        .args(["-c", "env"])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&child.stdout);
    assert!(!env.contains("BIANMIN_PLATFORM_SECRET"), "{env}");
    assert!(!env.contains("s3cret-for-the-platform"));
}
