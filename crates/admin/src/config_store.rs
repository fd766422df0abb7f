//! Saving a configuration edited on the touchscreen.
//!
//! The edit is judged by the same parser that reads the file at start-up, so
//! a value the kiosk would refuse on its next boot is refused now, with a
//! reason, before anything is written. The file is then rewritten in place of
//! the old one atomically (see `atomic`), the old version kept as
//! `kiosk.toml.prev`. Only the changed keys are touched in the existing
//! document, so the comments and layout a technician relies on survive.
//!
//! Values that came from the environment (`BIANMIN_DATA_DIR`, the platform
//! secret) are not written to the file unless the technician changed them:
//! `save` writes the difference between the live configuration and the edited
//! one, not the whole edited configuration.

use super::audit_log::{AuditEntry, AuditLog};
use bianmin_config::{Config, ConfigError, REFERENCE_CONFIG};
use bianmin_core::words::Words;
use bianmin_fs::atomic::{remove_stale_temps, stale_temps, write_atomic};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One setting that differs; values are rendered as TOML (`"text"`, `9600`,
/// `true`); `None` = not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    /// Whether the kiosk must restart for this change to take effect; all
    /// other settings are applied live by whoever owns them.
    pub fn requires_restart(&self) -> bool {
        let key = self.key.as_str();
        key == "store.data_dir"
            || key == "ui.width"
            || key == "ui.height"
            || key.starts_with("devices.gpio.")
    }
}

/// Why an edited configuration was not saved, for the technician at the
/// screen ([`SaveError::words`]; `Display` is the Chinese).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// A value the kiosk would refuse at start-up. The parser's reasons are
    /// English only and stay so in both languages.
    Invalid {
        key: String,
        reason: Words,
    },
    /// Values that are fine one by one but not together.
    Conflict(Words),
    Io(String),
}

impl SaveError {
    pub fn words(&self) -> Words {
        match self {
            SaveError::Invalid { key, reason } => Words::new(
                format!("「{key}」的值不可用：{}", reason.zh()),
                format!("“{key}” cannot take this value: {}", reason.en()),
            ),
            SaveError::Conflict(why) => Words::new(
                format!("设置相互冲突：{}", why.zh()),
                format!("Settings conflict: {}", why.en()),
            ),
            SaveError::Io(detail) => Words::new(
                format!("配置无法保存：{detail}"),
                format!("The configuration cannot be saved: {detail}"),
            ),
        }
    }
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words().zh())
    }
}

impl std::error::Error for SaveError {}

/// The configuration file the kiosk runs on.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    path: PathBuf,
}

impl ConfigStore {
    pub fn new(path: impl Into<PathBuf>) -> ConfigStore {
        ConfigStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the version before the last save is kept.
    pub fn prev_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".prev");
        PathBuf::from(name)
    }

    /// Temporary files an interrupted save left behind (never read).
    pub fn stale_temps(&self) -> Vec<PathBuf> {
        stale_temps(&self.path)
    }

    /// Remove them; the kiosk calls this once at start-up.
    pub fn clean_stale_temps(&self) -> usize {
        remove_stale_temps(&self.path)
    }

    /// Check `edited` against `live` and write the differences to the file.
    /// Returns what changed (empty: nothing was written).
    pub fn save(&self, live: &Config, edited: &Config) -> Result<Vec<Change>, SaveError> {
        let changes = diff(live, edited);
        if changes.is_empty() {
            return Ok(changes);
        }
        validate(edited)?;
        let current_text = std::fs::read_to_string(&self.path).ok();
        let text = render(current_text.as_deref(), &changes)?;

        // The rendered file must read back with exactly the edited values:
        // this catches a rendering mistake as well as a value that only the
        // parser refuses.
        let reread = Config::from_toml(&text, &self.path.display().to_string())
            .map_err(|e| invalid_from(&text, e))?;
        let reread_flat = flatten(&reread);
        let edited_flat = flatten(edited);
        for change in &changes {
            if reread_flat.get(&change.key) != edited_flat.get(&change.key) {
                return Err(SaveError::Invalid {
                    key: change.key.clone(),
                    reason: Words::fixed(
                        "写入后读回的值不一致",
                        "the file read back differs from what was written",
                    ),
                });
            }
        }

        let mode = std::fs::metadata(&self.path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SaveError::Io(e.to_string()))?;
        }
        write_atomic(&self.path, text.as_bytes(), mode, Some(&self.prev_path()))
            .map_err(|e| SaveError::Io(format!("{}: {e}", self.path.display())))?;
        Ok(changes)
    }
}

/// Write one audit entry per change.
pub fn record_changes(
    log: &AuditLog,
    actor: &str,
    changes: &[Change],
    now: SystemTime,
) -> std::io::Result<()> {
    for change in changes {
        log.append(&AuditEntry::change(
            now,
            actor,
            &change.key,
            change.old.as_deref(),
            change.new.as_deref(),
        ))?;
    }
    Ok(())
}

/// Settings that differ between two configurations, by dotted key.
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let old = flatten(old);
    let new = flatten(new);
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Change {
            key: k.clone(),
            old: old.get(k).map(|v| v.to_string()),
            new: new.get(k).map(|v| v.to_string()),
        })
        .collect()
}

/// Refuse values the start-up parser would refuse, and combinations that
/// cannot work. Values built in code (e.g. `Ranged(5)`) skip the range check
/// of deserialisation, so everything is rendered and parsed again here.
pub fn validate(config: &Config) -> Result<(), SaveError> {
    for (key, value) in flatten(config) {
        let Some((table, leaf)) = key.rsplit_once('.') else {
            continue;
        };
        let snippet = format!("[{table}]\n{leaf} = {value}\n");
        if let Err(err) = Config::from_toml(&snippet, "edit") {
            return Err(SaveError::Invalid {
                key,
                reason: reason_of(err),
            });
        }
    }

    let devices = &config.devices;
    let ports = [
        (
            Words::fixed("身份证读卡器", "the ID card reader"),
            devices.id_card.enabled,
            &devices.id_card.port,
            "devices.id_card.port",
        ),
        (
            Words::fixed("打印机", "the printer"),
            devices.printer.enabled,
            &devices.printer.port,
            "devices.printer.port",
        ),
        (
            Words::fixed("扫码器", "the scanner"),
            devices.scanner.enabled,
            &devices.scanner.port,
            "devices.scanner.port",
        ),
    ];
    for (_, enabled, port, key) in &ports {
        if *enabled && !port.starts_with("/dev/") {
            return Err(SaveError::Invalid {
                key: (*key).into(),
                reason: Words::new(
                    format!("串口须是 /dev/ 下的设备，而不是 {port:?}"),
                    format!("a serial port must be a device under /dev/, not {port:?}"),
                ),
            });
        }
    }
    for (i, (name_a, on_a, port_a, _)) in ports.iter().enumerate() {
        for (name_b, on_b, port_b, _) in &ports[i + 1..] {
            if *on_a && *on_b && port_a == port_b {
                return Err(SaveError::Conflict(Words::new(
                    format!(
                        "{}和{}不能使用同一个串口 {port_a}",
                        name_a.zh(),
                        name_b.zh()
                    ),
                    format!(
                        "{} and {} cannot use the same serial port {port_a}",
                        name_a.en(),
                        name_b.en()
                    ),
                )));
            }
        }
    }
    if config.session.idle_timeout_large_secs.get() < config.session.idle_timeout_secs.get() {
        return Err(SaveError::Conflict(Words::fixed(
            "大字模式的等待时间不能短于普通模式",
            "the large-text time-out cannot be shorter than the standard one",
        )));
    }
    Ok(())
}

/// Apply `changes` to the current file's text (or to the commented reference
/// file when there is none or it cannot be parsed).
pub fn render(current: Option<&str>, changes: &[Change]) -> Result<String, SaveError> {
    let mut doc = current
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
        .or_else(|| REFERENCE_CONFIG.parse::<toml_edit::DocumentMut>().ok())
        .ok_or_else(|| SaveError::Io("reference configuration does not parse".into()))?;
    for change in changes {
        let mut parts: Vec<&str> = change.key.split('.').collect();
        let Some(leaf) = parts.pop() else { continue };
        let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        for part in parts {
            let item = table.entry(part).or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            });
            table = item.as_table_like_mut().ok_or_else(|| SaveError::Invalid {
                key: change.key.clone(),
                reason: Words::new(
                    format!("「{part}」在文件里不是一个表"),
                    format!("“{part}” is not a table in the file"),
                ),
            })?;
        }
        match &change.new {
            None => {
                table.remove(leaf);
            }
            Some(text) => {
                let mut value: toml_edit::Value =
                    text.parse()
                        .map_err(|e: toml_edit::TomlError| SaveError::Invalid {
                            key: change.key.clone(),
                            reason: parser_reason(e.message().to_string()),
                        })?;
                match table.get_mut(leaf).and_then(|item| item.as_value_mut()) {
                    Some(old) => {
                        // Keep the spacing and any trailing comment of the old value.
                        *value.decor_mut() = old.decor().clone();
                        *old = value;
                    }
                    None => {
                        table.insert(leaf, toml_edit::Item::Value(value));
                    }
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// Every leaf setting by dotted key, as a TOML value. Serialising never fails
/// for `Config` (plain data, no maps with non-string keys); an empty map is
/// returned if it ever did, which makes `diff` report every key as removed
/// and `save` refuse.
pub fn flatten(config: &Config) -> BTreeMap<String, toml::Value> {
    let mut out = BTreeMap::new();
    if let Ok(toml::Value::Table(table)) = toml::Value::try_from(config) {
        flatten_into(&mut out, "", &table);
    }
    out
}

fn flatten_into(out: &mut BTreeMap<String, toml::Value>, prefix: &str, table: &toml::Table) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten_into(out, &path, inner),
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
}

fn reason_of(err: ConfigError) -> Words {
    parser_reason(match err {
        ConfigError::Invalid { message, .. } => message,
        ConfigError::Unreadable { reason, .. } => reason,
    })
}

/// The TOML and configuration parsers explain in English only.
fn parser_reason(reason: String) -> Words {
    Words::new(reason.clone(), reason)
}

/// Name the key on the line the parser complained about.
fn invalid_from(text: &str, err: ConfigError) -> SaveError {
    let key = match &err {
        ConfigError::Invalid { line, .. } => key_at_line(text, *line),
        ConfigError::Unreadable { .. } => None,
    };
    SaveError::Invalid {
        key: key.unwrap_or_else(|| "kiosk.toml".into()),
        reason: reason_of(err),
    }
}

fn key_at_line(text: &str, line: usize) -> Option<String> {
    let mut table = String::new();
    for (n, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        }
        if n + 1 == line {
            let leaf = l.split('=').next()?.trim();
            return Some(if table.is_empty() {
                leaf.to_string()
            } else {
                format!("{table}.{leaf}")
            });
        }
    }
    None
}
