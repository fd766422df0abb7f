//! Packaging files checked without building a .deb (that is .ci/deb-check's
//! job): the unit has the directives the kiosk relies on, the udev rules give
//! the three stable names, and every asset the package lists exists.

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn unit_is_notify_with_watchdog_and_keeps_devices_reachable() {
    let unit = directives(&read("assets/systemd/bianmin.service"));
    let has = |k: &str, v: &str| unit.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("Type", "notify"),
        ("WatchdogSec", "30"),
        ("Restart", "always"),
        ("User", "bianmin"),
        ("StateDirectory", "bianmin"),
        ("EnvironmentFile", "-/etc/bianmin/secrets.env"),
        ("ExecStart", "/usr/bin/bianmin run"),
        ("Environment", "SLINT_BACKEND=linuxkms"),
        ("ReadWritePaths", "/etc/bianmin"),
        ("ReadWritePaths", "-/media -/mnt -/run/media"),
        ("DeviceAllow", "char-ttyUSB rw"),
        ("DeviceAllow", "char-gpiochip rw"),
        ("DeviceAllow", "char-drm rw"),
        ("DeviceAllow", "char-input rw"),
        ("StartLimitIntervalSec", "0"),
        // Back-off (systemd ≥ 254; 252 ignores them with a warning).
        ("RestartSteps", "10"),
        ("RestartMaxDelaySec", "5min"),
        // No capability, ever; other users' processes invisible.
        ("CapabilityBoundingSet", ""),
        ("ProtectProc", "invisible"),
        // Memory with keys in it never written to the card.
        ("LimitCORE", "0"),
        ("MemorySwapMax", "0"),
    ] {
        assert!(has(k, v), "{k}={v} missing");
    }
    // Would hide /dev/ttyUSB*, /dev/gpiochip* and /dev/dri.
    assert!(!has("PrivateDevices", "yes"));
}

#[test]
fn udev_rules_give_the_three_stable_names() {
    let rules = read("assets/udev/99-bianmin.rules");
    let active: Vec<&str> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    for (name, vendor, product) in [
        ("bianmin-idcard", "10c4", "ea60"),
        ("bianmin-printer", "1a86", "7523"),
        ("bianmin-scanner", "067b", "2303"),
    ] {
        let lines: Vec<&&str> = active
            .iter()
            .filter(|l| l.contains(&format!("SYMLINK+=\"{name}\"")))
            .collect();
        let variable = format!(
            "BIANMIN_{}_SERIAL",
            name.trim_start_matches("bianmin-").to_uppercase()
        );
        // A configured serial number names the device by it alone…
        let by_serial = lines
            .iter()
            .find(|l| l.contains(&format!("ENV{{{variable}}}==\"?*\"")))
            .unwrap_or_else(|| panic!("{name} by serial number missing"));
        assert!(
            by_serial.contains(&format!("test x$$ID_SERIAL_SHORT = x$${variable}")),
            "{by_serial}"
        );
        assert!(!by_serial.contains("idVendor"), "{by_serial}");
        // …and only without one does the bridge chip's id.
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("ENV{{{variable}}}!=\"?*\"")))
            .unwrap_or_else(|| panic!("{name} by chip id missing"));
        assert!(
            line.contains(&format!("ATTRS{{idVendor}}==\"{vendor}\"")),
            "{line}"
        );
        assert!(
            line.contains(&format!("ATTRS{{idProduct}}==\"{product}\"")),
            "{line}"
        );
        assert!(
            line.contains("GROUP=\"dialout\"") && line.contains("MODE=\"0660\""),
            "{line}"
        );
    }
    assert!(rules.contains("IMPORT{file}=\"/etc/bianmin/usb-serials\""));
    // The configuration's default ports are the names the rules create.
    let config = bianmin_config::Config::default();
    assert_eq!(config.devices.id_card.port, "/dev/bianmin-idcard");
    assert_eq!(config.devices.printer.port, "/dev/bianmin-printer");
    assert_eq!(config.devices.scanner.port, "/dev/bianmin-scanner");
}

#[test]
fn every_packaged_asset_exists() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    assert!(!assets.is_empty());
    for asset in assets {
        let source = asset[0].as_str().unwrap();
        if source.starts_with("target/") {
            continue;
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
        assert!(
            path.is_file(),
            "{source} listed in [package.metadata.deb] but missing"
        );
    }
    let units = &deb["systemd-units"];
    assert_eq!(units["unit-name"].as_str(), Some("bianmin"));
    let scripts = deb["maintainer-scripts"].as_str().unwrap();
    for script in ["postinst", "postrm"] {
        let text = read(&format!("{scripts}{script}"));
        assert!(text.contains("#DEBHELPER#"), "{script} lacks #DEBHELPER#");
        assert!(text.starts_with("#!/bin/sh\n"), "{script}");
    }
}

#[test]
fn maintainer_scripts_are_valid_shell() {
    for script in ["assets/debian/postinst", "assets/debian/postrm"] {
        let status = std::process::Command::new("sh")
            .arg("-n")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    }
}
