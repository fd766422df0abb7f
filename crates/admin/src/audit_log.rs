//! Append-only record of what technicians did in admin mode.
//!
//! One JSON object per line (`audit.jsonl` in the data directory), so a
//! technician can read it with `less`, ship it with the log export, and a
//! torn last line after a power cut spoils only itself. Entries name the
//! setting and its old and new value; secrets (PINs, keys) are recorded as
//! changed without their value, and nothing a resident entered ever reaches
//! this file (admin actions do not touch residents' data).
//!
//! The file is bounded: past `max_bytes` it is rotated to `audit.jsonl.1`
//! (older ones shift up to `.{keep}`, the oldest is dropped), so years of
//! unattended running cannot fill the disk with it.

use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const AUDIT_FILE: &str = "audit.jsonl";
/// 1 MiB holds roughly 5,000 entries: years of a technician's visits.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
pub const DEFAULT_KEEP: u32 = 3;
/// Shown instead of the value of anything secret.
pub const REDACTED: &str = "(已更改，内容不记录)";

/// One admin action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// RFC 3339, UTC.
    pub at: String,
    /// How the technician got in, e.g. "technician-pin".
    pub actor: String,
    /// What was done: "enter", "leave", "pin-locked", "config-change",
    /// "pin-change", "test-print", "force-sync", "export-logs", …
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new: Option<String>,
}

impl AuditEntry {
    /// An action with no value attached.
    pub fn action(at: SystemTime, actor: &str, action: &str) -> AuditEntry {
        AuditEntry {
            at: rfc3339(at),
            actor: one_line(actor),
            action: one_line(action),
            key: None,
            old: None,
            new: None,
        }
    }

    /// A setting changed from `old` to `new` (absent = not set). Values of
    /// secret keys are replaced by `REDACTED`.
    pub fn change(
        at: SystemTime,
        actor: &str,
        key: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> AuditEntry {
        let shown = |v: Option<&str>| {
            v.map(|v| {
                if is_secret_key(key) {
                    REDACTED.to_string()
                } else {
                    one_line(v)
                }
            })
        };
        AuditEntry {
            at: rfc3339(at),
            actor: one_line(actor),
            action: "config-change".into(),
            key: Some(one_line(key)),
            old: shown(old),
            new: shown(new),
        }
    }
}

/// Keys whose values must never be written down.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "pin", "password", "token", "key"]
        .iter()
        .any(|word| key.split(['.', '_', '-']).any(|part| part == *word))
}

/// The audit log of one data directory.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
}

impl AuditLog {
    pub fn open(data_dir: &Path) -> AuditLog {
        AuditLog::with_limits(data_dir.join(AUDIT_FILE), DEFAULT_MAX_BYTES, DEFAULT_KEEP)
    }

    pub fn with_limits(path: PathBuf, max_bytes: u64, keep: u32) -> AuditLog {
        AuditLog {
            path,
            max_bytes: max_bytes.max(1),
            keep: keep.max(1),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry and fsync it: admin actions are rare, and the record
    /// of a change must not be lost when the change itself was saved.
    pub fn append(&self, entry: &AuditEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        let size = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.path)?;
        file.write_all(&line)?;
        file.sync_data()
    }

    /// Entries of the current file, oldest first; damaged lines (a torn
    /// write) are skipped.
    pub fn read_current(&self) -> io::Result<Vec<AuditEntry>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// The current file and its rotated predecessors, newest first.
    pub fn files(&self) -> Vec<PathBuf> {
        std::iter::once(self.path.clone())
            .chain((1..=self.keep).map(|n| self.rotated(n)))
            .filter(|p| p.exists())
            .collect()
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&self) -> io::Result<()> {
        let _ = fs::remove_file(self.rotated(self.keep));
        for n in (1..self.keep).rev() {
            let from = self.rotated(n);
            if from.exists() {
                fs::rename(&from, self.rotated(n + 1))?;
            }
        }
        fs::rename(&self.path, self.rotated(1))
    }
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Control characters are blanked so an entry reads cleanly in a terminal
/// (JSON escaping already keeps each entry on its own line).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
