//! Crash-safe replacement of a small file.
//!
//! The kiosk's power can be cut at any moment (a cleaner unplugs it, a storm
//! trips the breaker). A file that matters is therefore never rewritten in
//! place: the new content goes to a temporary file in the same directory, is
//! fsynced, renamed over the old one (atomic on POSIX file systems), and the
//! directory is fsynced so the rename itself survives. After a crash the path
//! holds either the complete old or the complete new content; at worst a
//! stray temporary file is left, which nothing reads and the next write
//! removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Marker in temporary file names: `.kiosk.toml.tmp-<pid>-<n>`.
const TEMP_MARKER: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replace `path` with `bytes`, creating it with `mode` (e.g. 0o600).
/// When `previous` is given, the old content is kept there (hard link, so it
/// costs no copy and is itself atomic).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    previous: Option<&Path>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    remove_stale_temps(path);
    let temp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if let Some(previous) = previous {
            if path.exists() {
                // Link first, then rename: the old content is never absent
                // from both names at once.
                match fs::remove_file(previous) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                fs::hard_link(path, previous).or_else(|_| fs::copy(path, previous).map(|_| ()))?;
            }
        }
        fs::rename(&temp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Temporary files a crash left beside `path`. They are never read: the real
/// file is complete by construction.
pub fn stale_temps(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!(".{name}{TEMP_MARKER}");
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect()
}

/// Delete what `stale_temps` finds; failures are harmless (they are only
/// wasted bytes) and therefore ignored.
pub fn remove_stale_temps(path: &Path) -> usize {
    stale_temps(path)
        .into_iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count()
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent_dir(path).join(format!(".{name}{TEMP_MARKER}{}-{n}", std::process::id()))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsync a directory so a rename or a new entry in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_previous() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        let prev = dir.path().join("a.toml.prev");
        write_atomic(&path, b"one", 0o600, Some(&prev)).unwrap();
        assert!(!prev.exists());
        write_atomic(&path, b"two", 0o600, Some(&prev)).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read(&prev).unwrap(), b"one");
        write_atomic(&path, b"three", 0o600, Some(&prev)).unwrap();
        assert_eq!(fs::read(&prev).unwrap(), b"two");
        assert!(stale_temps(&path).is_empty());
    }

    #[test]
    fn stale_temp_is_removed_by_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        fs::write(dir.path().join(".a.toml.tmp-999-0"), b"half").unwrap();
        assert_eq!(stale_temps(&path).len(), 1);
        write_atomic(&path, b"whole", 0o600, None).unwrap();
        assert!(stale_temps(&path).is_empty());
    }
}
