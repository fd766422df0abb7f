//! Exports a technician takes away on a USB stick: the sealed outbox (for a
//! terminal whose link is down for good) and the logs (for a bug report).
//!
//! The logs must not carry personal data. The kiosk never logs any (an
//! invariant, see ARCHITECTURE.md), but a log export leaves the device on an
//! unencrypted stick, so every line also passes through `scrub` as a second
//! line of defence: anything shaped like an ID-card or mobile number is
//! masked whatever logged it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Prefixes where desktop automounters and technicians mount sticks.
const REMOVABLE_PREFIXES: [&str; 3] = ["/media/", "/run/media/", "/mnt/"];

/// Writable mount points of removable media, from the text of /proc/mounts.
pub fn removable_mounts(proc_mounts: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = proc_mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let writable = fields
                .get(3)
                .is_some_and(|opts| !opts.split(',').any(|o| o == "ro"));
            fields.get(1).copied().filter(|_| writable)
        })
        // /proc/mounts escapes spaces as \040.
        .map(|p| p.replace("\\040", " "))
        .filter(|p| {
            REMOVABLE_PREFIXES
                .iter()
                .any(|prefix| p.starts_with(prefix))
        })
        .map(PathBuf::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Removable media mounted now; empty where /proc/mounts is unreadable.
pub fn mounted_sticks() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/mounts")
        .map(|t| removable_mounts(&t))
        .unwrap_or_default()
}

/// Mask ID-card numbers (17 digits + digit or X) and mainland mobile
/// numbers (11 digits starting with 1) wherever they stand in `text`.
pub fn scrub(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut run = j - i;
            // An ID number may end in X.
            if run == 17 && j < chars.len() && matches!(chars[j], 'X' | 'x') {
                j += 1;
                run += 1;
            }
            let standalone = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            let is_id = run == 18;
            let is_mobile = run == 11 && chars[i] == '1';
            if standalone && (is_id || is_mobile) {
                let keep_head = if is_id { 6 } else { 3 };
                for (k, c) in chars[i..j].iter().enumerate() {
                    out.push(if k < keep_head || k >= run - 4 {
                        *c
                    } else {
                        '*'
                    });
                }
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// File name for an export: `bianmin-<what>-<terminal>-<YYYYmmdd-HHMMSS>.<ext>`.
pub fn export_name(what: &str, terminal_id: &str, ext: &str) -> String {
    let stamp = chrono::Utc::now()
        .with_timezone(&bianmin_core::time::station_zone())
        .format("%Y%m%d-%H%M%S");
    format!("bianmin-{what}-{terminal_id}-{stamp}.{ext}")
}

/// What goes into a log export besides the journal.
pub struct LogExport<'a> {
    pub terminal_id: &'a str,
    /// The operations snapshot as text (figures only).
    pub status: &'a str,
    /// Audit log files, newest first.
    pub audit_files: &'a [PathBuf],
    /// Lines of the journal to take.
    pub journal_lines: usize,
}

/// Write the scrubbed logs to a new file in `dir`; returns its path.
pub fn export_logs(dir: &Path, what: &LogExport<'_>) -> io::Result<PathBuf> {
    let mut text = String::new();
    text.push_str(&format!(
        "# Bianmin Kiosk log export, terminal {}, version {}\n# personal data masked\n\n## status\n{}\n\n## journal (bianmin.service)\n",
        what.terminal_id,
        env!("CARGO_PKG_VERSION"),
        what.status
    ));
    text.push_str(&journal(what.journal_lines));
    text.push_str("\n## admin audit log\n");
    for file in what.audit_files.iter().rev() {
        if let Ok(content) = std::fs::read_to_string(file) {
            text.push_str(&content);
        }
    }
    let path = dir.join(export_name("logs", what.terminal_id, "txt"));
    bianmin_fs::write_atomic(&path, scrub(&text).as_bytes(), 0o644, None)?;
    Ok(path)
}

/// The kiosk's journal, or why it could not be read (no journald in a
/// container, the service user not in `systemd-journal`).
fn journal(lines: usize) -> String {
    let output = Command::new("journalctl")
        .args([
            "--no-pager",
            "-o",
            "short-iso",
            "-u",
            "bianmin.service",
            "-n",
        ])
        .arg(lines.to_string())
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => format!(
            "(journalctl failed: {})\n",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => format!("(journalctl not available: {err})\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_id_and_mobile_numbers_only() {
        assert_eq!(
            scrub("card 11010519491231002X read; tel 13812345678."),
            "card 110105********002X read; tel 138****5678."
        );
        assert_eq!(scrub("id=110105194912310021,"), "id=110105********0021,");
        // Receipt numbers, sizes and times are left alone.
        let plain = "receipt T0001-20260101-000001 free_bytes=123456789012 12:30:01";
        assert_eq!(scrub(plain), plain);
        assert_eq!(scrub("23812345678"), "23812345678");
        assert_eq!(scrub("中文13812345678中文"), "中文138****5678中文");
    }

    #[test]
    fn only_removable_mount_points_are_offered() {
        let mounts = "/dev/mmcblk0p2 / ext4 rw 0 0\n\
                      /dev/sda1 /media/bianmin/KINGSTON vfat rw 0 0\n\
                      /dev/sdb1 /mnt/usb\\040stick vfat rw 0 0\n\
                      /dev/sr0 /media/cdrom iso9660 ro,nosuid 0 0\n\
                      tmpfs /run tmpfs rw 0 0\n";
        assert_eq!(
            removable_mounts(mounts),
            vec![
                PathBuf::from("/media/bianmin/KINGSTON"),
                PathBuf::from("/mnt/usb stick")
            ]
        );
    }
}
