//! Saving an edited configuration: validated first, written atomically with
//! the previous version kept, comments preserved, crash leftovers ignored.

use bianmin_admin::config_store::{diff, record_changes, validate};
use bianmin_admin::{AuditLog, ConfigStore, SaveError};
use bianmin_config::{Baud, Config, Ranged, REFERENCE_CONFIG};
use std::time::UNIX_EPOCH;

fn installed() -> (tempfile::TempDir, ConfigStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, REFERENCE_CONFIG).unwrap();
    (dir, ConfigStore::new(path))
}

#[test]
fn changed_port_is_saved_with_comments_and_previous_version_kept() {
    let (_dir, store) = installed();
    let live = Config::from_file(store.path()).unwrap();
    let mut edited = live.clone();
    edited.devices.printer.port = "/dev/ttyUSB1".into();
    edited.devices.printer.baud = Baud(9_600);

    let changes = store.save(&live, &edited).unwrap();
    let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["devices.printer.baud", "devices.printer.port"]);
    assert_eq!(changes[1].old.as_deref(), Some("\"/dev/bianmin-printer\""));
    assert_eq!(changes[1].new.as_deref(), Some("\"/dev/ttyUSB1\""));
    assert!(changes.iter().all(|c| !c.requires_restart()));

    let text = std::fs::read_to_string(store.path()).unwrap();
    assert_eq!(Config::from_toml(&text, "saved").unwrap(), edited);
    assert!(
        text.contains("# ESC/POS thermal receipt printer."),
        "comments kept"
    );
    assert!(text.contains("port = \"/dev/ttyUSB1\""));
    // Only the two lines differ from the reference file.
    let differing = text
        .lines()
        .zip(REFERENCE_CONFIG.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 2);
    assert_eq!(
        std::fs::read_to_string(store.prev_path()).unwrap(),
        REFERENCE_CONFIG
    );
    assert!(store.stale_temps().is_empty());
}

#[test]
fn invalid_value_is_refused_with_a_reason_and_nothing_is_written() {
    let (_dir, store) = installed();
    let live = Config::default();
    let mut edited = live.clone();
    edited.devices.scanner.baud = Baud(1234);
    let err = store.save(&live, &edited).unwrap_err();
    match &err {
        SaveError::Invalid { key, reason } => {
            assert_eq!(key, "devices.scanner.baud");
            assert!(reason.zh().contains("baud rate"), "{reason:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("「devices.scanner.baud」的值不可用："));

    let mut edited = live.clone();
    edited.session.countdown_secs = Ranged(5);
    assert!(matches!(
        store.save(&live, &edited),
        Err(SaveError::Invalid { key, .. }) if key == "session.countdown_secs"
    ));

    let mut edited = live.clone();
    edited.devices.scanner.port = "/dev/bianmin-printer".into();
    let err = store.save(&live, &edited).unwrap_err();
    assert_eq!(
        err.to_string(),
        "设置相互冲突：打印机和扫码器不能使用同一个串口 /dev/bianmin-printer"
    );

    let mut edited = live.clone();
    edited.devices.id_card.port = "COM3".into();
    assert!(store.save(&live, &edited).is_err());

    assert_eq!(
        std::fs::read_to_string(store.path()).unwrap(),
        REFERENCE_CONFIG
    );
    assert!(!store.prev_path().exists());
}

#[test]
fn disabled_devices_may_share_or_lack_a_port() {
    let mut config = Config::default();
    config.devices.scanner.enabled = false;
    config.devices.scanner.port = String::new();
    assert!(validate(&config).is_ok());
}

#[test]
fn environment_values_are_not_written_unless_edited() {
    let (_dir, store) = installed();
    let mut live = Config::from_file(store.path()).unwrap();
    live.apply_env(|k| (k == "BIANMIN_DATA_DIR").then(|| "/tmp/elsewhere".to_string()));
    let mut edited = live.clone();
    edited.station.name = "石桥村便民服务站".into();
    store.save(&live, &edited).unwrap();
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(text.contains("data_dir = \"/var/lib/bianmin\""));
    assert!(text.contains("name = \"石桥村便民服务站\""));
}

#[test]
fn optional_key_can_be_set_and_removed() {
    let (_dir, store) = installed();
    let live = Config::default();
    let mut edited = live.clone();
    edited.platform.ca_file = Some("/etc/bianmin/platform-ca.pem".into());
    store.save(&live, &edited).unwrap();
    assert_eq!(Config::from_file(store.path()).unwrap(), edited);
    let changes = store.save(&edited, &live).unwrap();
    assert_eq!(changes[0].new, None);
    assert_eq!(Config::from_file(store.path()).unwrap(), live);
}

#[test]
fn no_change_writes_nothing() {
    let (_dir, store) = installed();
    let live = Config::default();
    assert!(store.save(&live, &live).unwrap().is_empty());
    assert!(!store.prev_path().exists());
}

#[test]
fn missing_file_is_created_from_the_commented_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path().join("etc/kiosk.toml"));
    let live = Config::default();
    let mut edited = live.clone();
    edited.ui.width = Ranged(1920);
    let changes = store.save(&live, &edited).unwrap();
    assert!(changes[0].requires_restart());
    let text = std::fs::read_to_string(store.path()).unwrap();
    assert!(text.starts_with("# Bianmin Kiosk"));
    assert_eq!(Config::from_toml(&text, "x").unwrap(), edited);
}

/// Crash safety, by construction: the new content is only ever written to a
/// temporary file that nothing reads, and the real file is replaced by one
/// rename. A crash before the rename leaves the old file whole plus a stray
/// temporary; a crash after it leaves the new file whole. Here the "before"
/// case is staged by hand: a half-written temporary exists, the real file is
/// still the old one and loads, and the next start-up (or save) removes it.
#[test]
fn a_half_written_temporary_from_a_crash_is_ignored_and_cleaned() {
    let (dir, store) = installed();
    let torn = dir.path().join(".kiosk.toml.tmp-4242-0");
    std::fs::write(&torn, &REFERENCE_CONFIG.as_bytes()[..100]).unwrap();
    assert_eq!(store.stale_temps(), vec![torn.clone()]);

    assert_eq!(Config::from_file(store.path()).unwrap(), Config::default());
    assert_eq!(store.clean_stale_temps(), 1);
    assert!(!torn.exists());

    // A save also sweeps leftovers first.
    std::fs::write(&torn, b"half").unwrap();
    let live = Config::default();
    let mut edited = live.clone();
    edited.devices.printer.fs_and = true;
    store.save(&live, &edited).unwrap();
    assert!(!torn.exists());
    // Only the config, its previous version and nothing else remain.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["kiosk.toml", "kiosk.toml.prev"]);
}

#[test]
fn changes_go_to_the_audit_log() {
    let (dir, store) = installed();
    let log = AuditLog::open(dir.path());
    let live = Config::default();
    let mut edited = live.clone();
    edited.devices.printer.port = "/dev/ttyUSB1".into();
    let changes = store.save(&live, &edited).unwrap();
    record_changes(&log, "technician-pin", &changes, UNIX_EPOCH).unwrap();
    let entries = log.read_current().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].key.as_deref(), Some("devices.printer.port"));
    assert_eq!(entries[0].old.as_deref(), Some("\"/dev/bianmin-printer\""));
}

#[test]
fn diff_of_equal_configs_is_empty() {
    assert!(diff(&Config::default(), &Config::default()).is_empty());
}
