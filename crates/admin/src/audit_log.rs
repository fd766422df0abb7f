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
//!
//! The lines are hash-chained: each carries `"prev"`, the lower-case hex
//! SHA-256 of the previous line's bytes (without its newline), across
//! rotations; the very first line's is [`GENESIS`]. [`AuditLog::verify`]
//! finds a line rewritten, inserted or deleted in the middle. Cutting lines
//! off the end leaves a shorter valid chain: that shows only against a
//! [`ChainReport::head`] kept elsewhere (e.g. sent to the platform).
//! Whoever can write the file can also rebuild the whole chain; the chain
//! makes tampering visible, the copy held elsewhere makes it provable.
//!
//! In the 国密 suite (`[crypto] suite = "gm"`) new lines chain with SM3
//! (GB/T 32905) and say so (`"hash":"sm3"`); a line without it chains with
//! SHA-256. Each line names the hash its `prev` was made with, so a log
//! written before the suite changed still verifies, across the change.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
/// `prev` of the first line ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A line as written: the entry and the hash of the line before it, and
/// which hash that is when it is not SHA-256.
#[derive(Serialize)]
struct ChainedLine<'a> {
    #[serde(flatten)]
    entry: &'a AuditEntry,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'static str>,
}

/// The hash that chains the lines: SHA-256, or SM3 in the 国密 suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChainHash {
    #[default]
    Sha256,
    Sm3,
}

impl ChainHash {
    /// The hash of the configured crypto suite.
    pub fn of_suite(suite: bianmin_config::CryptoSuite) -> ChainHash {
        match suite {
            bianmin_config::CryptoSuite::Intl => ChainHash::Sha256,
            bianmin_config::CryptoSuite::Gm => ChainHash::Sm3,
        }
    }

    /// Lower-case hex of `line`'s hash.
    pub fn of(self, line: &[u8]) -> String {
        match self {
            ChainHash::Sha256 => hex::encode(Sha256::digest(line)),
            ChainHash::Sm3 => {
                use sm3::Digest as _;
                hex::encode(sm3::Sm3::digest(line))
            }
        }
    }

    /// What a line says in `"hash"` (nothing for SHA-256, as lines always did).
    fn name(self) -> Option<&'static str> {
        match self {
            ChainHash::Sha256 => None,
            ChainHash::Sm3 => Some("sm3"),
        }
    }

    /// The hash a parsed line declares for its `prev`.
    fn declared(value: &serde_json::Value) -> ChainHash {
        match value.get("hash").and_then(|h| h.as_str()) {
            Some("sm3") => ChainHash::Sm3,
            _ => ChainHash::Sha256,
        }
    }
}

/// What [`AuditLog::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainReport {
    /// Lines read, over every file.
    pub lines: usize,
    pub problems: Vec<ChainProblem>,
    /// SHA-256 of the last line: compare with a copy kept elsewhere to see
    /// lines cut off the end.
    pub head: Option<String>,
    /// The last [`RECENT_LINES`] lines as written, oldest first: heartbeats
    /// carry them so the platform can check that the log goes on from what
    /// it saw last (a line rewritten on the terminal no longer matches).
    pub recent: Vec<String>,
}

/// Lines a heartbeat carries: admin actions are a handful a day, so this
/// covers many heartbeats' worth even when some are lost.
pub const RECENT_LINES: usize = 20;

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One place where the chain does not hold (`line` is 1-based in `file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// `prev` is not the hash of the line before: that line was rewritten,
    /// or lines between were deleted or inserted.
    Broken { file: PathBuf, line: usize },
    /// A line without `prev` after chained ones: inserted by hand.
    Unchained { file: PathBuf, line: usize },
    /// Not JSON (a write torn by a power cut, or damage).
    Unreadable { file: PathBuf, line: usize },
}

/// The last line of `bytes` (without its newline), if any.
fn last_line(bytes: &[u8]) -> Option<&[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return None;
    }
    Some(match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => &body[i + 1..],
        None => body,
    })
}

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
    /// What new lines chain with.
    hash: ChainHash,
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
            hash: ChainHash::Sha256,
        }
    }

    /// New lines chain with `hash` (SM3 in the 国密 suite); reading and
    /// verifying follow what each line declares.
    pub fn chained_with(mut self, hash: ChainHash) -> AuditLog {
        self.hash = hash;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry, chained to the line before it, and fsync it:
    /// admin actions are rare, and the record of a change must not be lost
    /// when the change itself was saved. One writer at a time (the admin
    /// worker): two processes appending at once could chain to the same line.
    pub fn append(&self, entry: &AuditEntry) -> io::Result<()> {
        let mut current = read_or_empty(&self.path)?;
        // The size is bounded by max_bytes; the chain entry is about 100 bytes.
        let estimate = serde_json::to_vec(entry).map_err(io::Error::other)?.len() + 80;
        if !current.is_empty() && (current.len() + estimate) as u64 > self.max_bytes {
            self.rotate()?;
            current.clear();
        }
        let mut out = Vec::new();
        if !current.is_empty() && !current.ends_with(b"\n") {
            // A torn last line becomes a line of its own (and is chained to
            // as it is), so the new entry does not merge into it.
            out.push(b'\n');
        }
        let hash = |line: &[u8]| self.hash.of(line);
        let prev = match last_line(&current) {
            Some(line) => hash(line),
            None => match fs::read(self.rotated(1)) {
                Ok(older) => last_line(&older).map_or(GENESIS.to_string(), hash),
                Err(e) if e.kind() == io::ErrorKind::NotFound => GENESIS.to_string(),
                Err(e) => return Err(e),
            },
        };
        let line = ChainedLine {
            entry,
            prev: &prev,
            hash: self.hash.name(),
        };
        serde_json::to_writer(&mut out, &line).map_err(io::Error::other)?;
        out.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.path)?;
        file.write_all(&out)?;
        file.sync_data()
    }

    /// Check the chain over the rotated files and the current one, oldest
    /// first. The oldest line still kept is trusted as the anchor (its
    /// predecessors were rotated away); lines written before the chain
    /// existed (no `prev`) are accepted only before the first chained line.
    pub fn verify(&self) -> io::Result<ChainReport> {
        let mut report = ChainReport::default();
        // The line before, and the hash its own successor must name.
        let mut previous: Option<Vec<u8>> = None;
        let mut previous_hash = ChainHash::Sha256;
        let mut chained = false;
        for file in self.files().into_iter().rev() {
            let bytes = read_or_empty(&file)?;
            let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            if body.is_empty() {
                continue;
            }
            for (i, line) in body.split(|&b| b == b'\n').enumerate() {
                report.lines += 1;
                let at = || (file.clone(), i + 1);
                match serde_json::from_slice::<serde_json::Value>(line) {
                    Err(_) => {
                        let (file, line) = at();
                        report
                            .problems
                            .push(ChainProblem::Unreadable { file, line });
                    }
                    Ok(value) => {
                        let hash = ChainHash::declared(&value);
                        previous_hash = hash;
                        match value.get("prev").and_then(|p| p.as_str()) {
                            Some(prev) => {
                                if previous.as_deref().is_some_and(|p| hash.of(p) != prev) {
                                    let (file, line) = at();
                                    report.problems.push(ChainProblem::Broken { file, line });
                                }
                                chained = true;
                            }
                            None if chained => {
                                let (file, line) = at();
                                report.problems.push(ChainProblem::Unchained { file, line });
                            }
                            None => {}
                        }
                    }
                }
                previous = Some(line.to_vec());
                if report.recent.len() == RECENT_LINES {
                    report.recent.remove(0);
                }
                report
                    .recent
                    .push(String::from_utf8_lossy(line).into_owned());
            }
        }
        // The last line's hash, made with the hash that line itself uses.
        report.head = previous.map(|line| previous_hash.of(&line));
        Ok(report)
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

fn read_or_empty(path: &Path) -> io::Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
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
