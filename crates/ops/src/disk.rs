//! Free space and bounded directories. A full disk is the classic way a
//! kiosk dies after two days: SQLite cannot commit, logs cannot be written,
//! and the screen freezes with nobody on site. So free space is watched, a
//! warning goes to the operations screen and the heartbeat well before it is
//! gone, and directories the kiosk fills (exports, old logs) are trimmed.

use bianmin_core::words::Words;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use bianmin_fs::disk::{disk_space, DiskSpace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskLevel {
    Ok,
    /// Tell the technician (operations screen, heartbeat); keep working.
    Low,
    /// Trim what can be trimmed now; new applications still commit, since
    /// refusing a resident is worse than using the last reserve.
    Critical,
}

/// When free space counts as low. Absolute sizes, not percentages: what
/// matters is whether the next weeks of records and logs fit, and that does
/// not grow with the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskThresholds {
    pub low_bytes: u64,
    pub critical_bytes: u64,
}

impl Default for DiskThresholds {
    fn default() -> Self {
        DiskThresholds {
            low_bytes: 1024 * 1024 * 1024,
            critical_bytes: 256 * 1024 * 1024,
        }
    }
}

impl DiskThresholds {
    pub fn level(&self, space: DiskSpace) -> DiskLevel {
        if space.free_bytes < self.critical_bytes {
            DiskLevel::Critical
        } else if space.free_bytes < self.low_bytes {
            DiskLevel::Low
        } else {
            DiskLevel::Ok
        }
    }

    /// Plain words for the operations screen, or `None` when all is well.
    pub fn warning(&self, space: DiskSpace) -> Option<Words> {
        let mib = space.free_bytes / (1024 * 1024);
        match self.level(space) {
            DiskLevel::Ok => None,
            DiskLevel::Low => Some(Words::new(
                format!("存储空间不足：仅剩 {mib} MB，请尽快导出并清理"),
                format!("Storage is low: only {mib} MB left; export and clean up soon"),
            )),
            DiskLevel::Critical => Some(Words::new(
                format!("存储空间即将用尽：仅剩 {mib} MB，终端可能停止工作，请立即处理"),
                format!(
                    "Storage is nearly full: only {mib} MB left; the terminal may stop working. Act now"
                ),
            )),
        }
    }
}

/// What `bound_dir` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub removed: Vec<PathBuf>,
    pub freed_bytes: u64,
    /// Bytes left in the directory afterwards.
    pub remaining_bytes: u64,
}

/// Keep the regular files directly in `dir` under `max_bytes` in total by
/// deleting the oldest (by modification time) first. Files named in
/// `protect` (e.g. the log being written) are never deleted. A missing
/// directory is empty, not an error.
pub fn bound_dir(dir: &Path, max_bytes: u64, protect: &[&Path]) -> io::Result<Trimmed> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Trimmed::default()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    let mut total = 0u64;
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        total = total.saturating_add(meta.len());
        let path = entry.path();
        if protect.contains(&path.as_path()) {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((modified, meta.len(), path));
    }
    files.sort();
    let mut trimmed = Trimmed::default();
    for (_, len, path) in files {
        if total <= max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            trimmed.freed_bytes += len;
            trimmed.removed.push(path);
        }
    }
    trimmed.remaining_bytes = total;
    Ok(trimmed)
}

/// Bytes used by the regular files directly in `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
