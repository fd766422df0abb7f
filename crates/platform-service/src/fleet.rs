//! Fleet operations: what the heartbeats say about every kiosk, and the
//! alerts a county technician is called by.
//!
//! Each heartbeat, in the transaction that stores it, replaces its kiosk's
//! row (`kiosks`) when it is newer than the last one, notes a restart when
//! the uptime went backwards, and opens or closes the alerts its state
//! decides (paper out or near end, a device away, a stale queue, low disk,
//! too many restarts, a refused content package). "Offline" cannot come
//! with a heartbeat: [`watch`] looks for kiosks gone quiet, and delivers
//! every opening and closing to the county's webhook. Alerts and their
//! deliveries live in the database, so any number of instances may run the
//! watch: one open alert per kiosk and rule (a unique index), one delivery
//! per event (`FOR UPDATE SKIP LOCKED`).

use chrono::{NaiveTime, TimeZone};
use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The alert rules: (name, title in the console, what the threshold is).
pub const RULES: &[(&str, &str, &str)] = &[
    ("offline", "离线", "无心跳超过（秒，仅在营业时间内）"),
    ("paper_out", "打印纸用完", ""),
    ("paper_near_end", "打印纸将尽", ""),
    ("queue_stale", "待上报记录积压", "最早一条待上报超过（秒）"),
    ("disk_low", "磁盘空间不足", "剩余空间低于（%）"),
    ("restarts", "频繁重启", "一小时内重启超过（次）"),
    ("device_fault", "设备故障", ""),
    ("content_refused", "办事指南包被拒收", ""),
    ("audit_broken", "管理审计日志被改动", ""),
    ("audit_rewritten", "管理审计日志与平台所存不符", ""),
    ("update_failed", "软件更新失败", ""),
];

/// Rules a heartbeat does not decide: "offline" is the watch's, an
/// update's failure is closed only by a later healthy installation.
/// A rewritten audit log stays flagged until a technician has looked
/// (closed on the alerts page), whatever later heartbeats say.
const NOT_FROM_HEARTBEATS: &[&str] = &["offline", "update_failed", "audit_rewritten"];

pub fn rule_title(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(name, _, _)| *name == rule)
        .map(|(_, title, _)| *title)
        .unwrap_or("其他")
}

/// A device's state in the console's words.
pub fn device_state_title(state: &str) -> &'static str {
    match state {
        "ok" => "正常",
        "paper_near_end" => "纸将尽",
        "paper_out" => "缺纸",
        "absent" => "未连接",
        "error" => "故障",
        "disabled" => "未启用",
        "low" => "空间偏低",
        "critical" => "空间严重不足",
        _ => "未知",
    }
}

pub fn device_title(device: &str) -> &str {
    match device {
        "id_card" => "身份证读卡器",
        "printer" => "打印机",
        "scanner" => "扫码器",
        "gpio" => "人体感应/指示灯",
        "disk" => "磁盘",
        other => other,
    }
}

/// How often the watch runs (the offline check and webhook deliveries),
/// and what enrolling kiosks are told.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub watch_every: Duration,
    /// Longest wait for the county's webhook to answer.
    pub webhook_timeout: Duration,
    pub enroll: EnrollOptions,
    /// The key remote configurations are signed with (every instance the
    /// same: `serve --config-key-file`); a fresh one for demo and tests.
    pub config_key: Arc<ConfigKey>,
    /// The signed APT repository (`serve --apt-dir`); without it the
    /// platform distributes no software and promotes nothing.
    pub apt: Option<Arc<crate::updates::AptRepo>>,
}

impl Default for FleetOptions {
    fn default() -> FleetOptions {
        FleetOptions {
            watch_every: Duration::from_secs(30),
            webhook_timeout: Duration::from_secs(5),
            enroll: Default::default(),
            config_key: Arc::new(ConfigKey::generate()),
            apt: None,
        }
    }
}

/// The platform's Ed25519 key for remote configurations.
pub struct ConfigKey(ring::signature::Ed25519KeyPair);

impl std::fmt::Debug for ConfigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConfigKey({})", self.public())
    }
}

impl ConfigKey {
    pub fn generate() -> ConfigKey {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("the operating system's random generator works");
        ConfigKey::from_pkcs8(doc.as_ref()).expect("a key ring generated parses")
    }

    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<ConfigKey> {
        ring::signature::Ed25519KeyPair::from_pkcs8(der)
            .map(ConfigKey)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))
    }

    /// `ed25519:BASE64`, as kiosks hold it in `platform.config_key`.
    pub fn public(&self) -> String {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        format!(
            "ed25519:{}",
            base64::engine::general_purpose::STANDARD.encode(self.0.public_key().as_ref())
        )
    }

    pub fn sign(&self, version: &str, toml: &str) -> bianmin_platform::api::RemoteConfig {
        let bytes = bianmin_platform::api::RemoteConfig::signed_bytes(version, toml);
        bianmin_platform::api::RemoteConfig {
            version: version.to_string(),
            toml: toml.to_string(),
            signature: hex_of(self.0.sign(&bytes).as_ref()),
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A station's document with a kiosk's own laid over it (tables merged
/// key by key), as one TOML text; one of them alone as it is.
pub fn layered_config(station: Option<&str>, kiosk: Option<&str>) -> Result<String, String> {
    match (station, kiosk) {
        (Some(s), Some(k)) => {
            let mut base: toml::Table = toml::from_str(s).map_err(|e| e.to_string())?;
            let over: toml::Table = toml::from_str(k).map_err(|e| e.to_string())?;
            merge(&mut base, over);
            toml::to_string(&base).map_err(|e| e.to_string())
        }
        (Some(one), None) | (None, Some(one)) => Ok(one.to_string()),
        (None, None) => Ok(String::new()),
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => merge(inner, more),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// What is wrong with a configuration a technician wrote for a kiosk, in
/// the console's words with the line: its syntax and ranges as
/// `bianmin config check` checks them, and no key only enrollment sets.
pub fn check_remote_config(text: &str) -> Result<(), String> {
    if let Err(e) = bianmin_config::Config::from_toml(text, "配置") {
        return Err(e.to_string());
    }
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    for key in bianmin_platform::api::REMOTE_CONFIG_FORBIDDEN {
        let (section, name) = key.split_once('.').unwrap_or((key, ""));
        let set = table
            .get(section)
            .and_then(|v| v.as_table())
            .is_some_and(|t| t.contains_key(name));
        if set {
            return Err(format!(
                "{key} 不能远程设置：终端身份、数据目录和个人信息加密所用的平台公钥只来自注册和安装时的配置文件"
            ));
        }
    }
    Ok(())
}

/// What an enrolling kiosk is told besides its identity.
#[derive(Debug, Clone, Default)]
pub struct EnrollOptions {
    /// The kiosk API's URL as kiosks reach it; by default the one the
    /// enrolling kiosk used (its `Host`).
    pub public_url: Option<String>,
    /// PEM of the CA the kiosks pin.
    pub ca_pem: Option<String>,
    /// `ed25519:BASE64` of the content publisher.
    pub content_public_key: String,
    /// `ed25519:BASE64` of the remote-configuration key (set by `spawn`).
    pub config_public_key: Option<String>,
}

/// A heartbeat's fields the fleet keeps (the wire's `HeartbeatWire`; fields
/// an older kiosk does not send are absent, never an error).
struct Beat {
    at: i64,
    status: String,
    devices: BTreeMap<String, String>,
    station_code: Option<String>,
    queue_depth: i64,
    oldest_pending_secs: Option<i64>,
    free_disk_bytes: i64,
    total_disk_bytes: Option<i64>,
    version: String,
    config_version: Option<String>,
    content_version: Option<String>,
    content_refused: Option<String>,
    /// The kiosk's own verification of its admin audit chain (absent from
    /// kiosks that do not report it).
    audit_intact: Option<bool>,
    /// The chain's head as reported, and its last lines.
    audit_head: Option<String>,
    audit_recent: Vec<String>,
    uptime_secs: i64,
}

fn int(body: &Value, key: &str) -> Option<i64> {
    body.get(key)
        .and_then(Value::as_u64)
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Beat {
    fn of(body: &Value, now: i64) -> Beat {
        let at = text(body, "at")
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.timestamp())
            .unwrap_or(now);
        let devices = body
            .get("devices")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Beat {
            at,
            status: text(body, "status").unwrap_or_else(|| "ok".into()),
            devices,
            station_code: text(body, "station_code"),
            queue_depth: int(body, "queue_depth").unwrap_or(0),
            oldest_pending_secs: int(body, "oldest_pending_secs"),
            free_disk_bytes: int(body, "free_disk_bytes").unwrap_or(0),
            total_disk_bytes: int(body, "total_disk_bytes").filter(|n| *n > 0),
            version: text(body, "version").unwrap_or_default(),
            config_version: text(body, "config_version"),
            content_version: text(body, "content_version"),
            content_refused: text(body, "content_refused"),
            audit_intact: body
                .get("audit")
                .and_then(|a| a.get("intact"))
                .and_then(Value::as_bool),
            audit_head: body
                .pointer("/audit/head")
                .and_then(Value::as_str)
                .map(str::to_string),
            audit_recent: body
                .pointer("/audit/recent")
                .and_then(Value::as_array)
                .map(|lines| {
                    lines
                        .iter()
                        .filter_map(|l| l.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            uptime_secs: int(body, "uptime_secs").unwrap_or(0),
        }
    }

    /// The state rules that hold for this heartbeat, with their detail.
    fn conditions(
        &self,
        rules: &BTreeMap<String, i64>,
        restarts_last_hour: i64,
    ) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let printer = self.devices.get("printer").map(String::as_str);
        if printer == Some("paper_out") {
            out.push(("paper_out", "打印机缺纸，请更换纸卷".to_string()));
        }
        if printer == Some("paper_near_end") {
            out.push(("paper_near_end", "打印纸将尽，请准备纸卷".to_string()));
        }
        if let (Some(age), Some(limit)) = (self.oldest_pending_secs, rules.get("queue_stale")) {
            if age > *limit {
                out.push((
                    "queue_stale",
                    format!(
                        "最早一条待上报记录已等待 {} 分钟（共 {} 条）",
                        age / 60,
                        self.queue_depth
                    ),
                ));
            }
        }
        if let Some(limit) = rules.get("disk_low") {
            let low = match self.total_disk_bytes {
                Some(total) => {
                    self.free_disk_bytes.saturating_mul(100) < limit.saturating_mul(total)
                }
                // An older kiosk without its disk size: its own level.
                None => matches!(
                    self.devices.get("disk").map(String::as_str),
                    Some("low" | "critical")
                ),
            };
            if low {
                out.push((
                    "disk_low",
                    format!("剩余磁盘 {} MB", self.free_disk_bytes / 1_000_000),
                ));
            }
        }
        if let Some(limit) = rules.get("restarts") {
            if restarts_last_hour > *limit {
                out.push(("restarts", format!("一小时内重启 {restarts_last_hour} 次")));
            }
        }
        let faults: Vec<String> = self
            .devices
            .iter()
            .filter(|(device, state)| {
                device.as_str() != "disk" && matches!(state.as_str(), "absent" | "error")
            })
            .map(|(device, state)| format!("{}{}", device_title(device), device_state_title(state)))
            .collect();
        if !faults.is_empty() {
            out.push(("device_fault", faults.join("、")));
        }
        if let Some(why) = &self.content_refused {
            out.push(("content_refused", format!("拒收原因：{why}")));
        }
        if self.audit_intact == Some(false) {
            out.push((
                "audit_broken",
                "终端自检发现管理审计日志的哈希链断开：有记录被改动或删除，请到现场核查"
                    .to_string(),
            ));
        }
        out
    }
}

/// Enabled rules and their thresholds.
async fn enabled_rules(
    client: &impl GenericClient,
) -> Result<BTreeMap<String, i64>, tokio_postgres::Error> {
    Ok(client
        .query("SELECT rule, threshold FROM alert_rules WHERE enabled", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Open `rule`'s alert for `terminal` unless one is open; the opening is
/// queued for the webhook.
pub(crate) async fn open_alert(
    client: &impl GenericClient,
    terminal: &str,
    rule: &str,
    detail: &str,
    now: i64,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "INSERT INTO alerts (terminal_id, rule, detail, opened_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (terminal_id, rule) WHERE closed_at IS NULL DO NOTHING
             RETURNING id",
            &[&terminal, &rule, &detail, &now],
        )
        .await?;
    let changed = row.is_some();
    if let Some(row) = row {
        let id: i64 = row.get(0);
        client
            .execute(
                "INSERT INTO alert_events (alert_id, event, at) VALUES ($1, 'opened', $2)",
                &[&id, &now],
            )
            .await?;
        tracing::info!(terminal, rule, "alert opened");
    }
    Ok(changed)
}

/// Close `rule`'s open alert for `terminal`, if any.
pub(crate) async fn close_alert(
    client: &impl GenericClient,
    terminal: &str,
    rule: &str,
    now: i64,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE alerts SET closed_at = $3
             WHERE terminal_id = $1 AND rule = $2 AND closed_at IS NULL RETURNING id",
            &[&terminal, &rule, &now],
        )
        .await?;
    let changed = row.is_some();
    if let Some(row) = row {
        let id: i64 = row.get(0);
        client
            .execute(
                "INSERT INTO alert_events (alert_id, event, at) VALUES ($1, 'closed', $2)",
                &[&id, &now],
            )
            .await?;
        tracing::info!(terminal, rule, "alert closed");
    }
    Ok(changed)
}

/// What a heartbeat's audit lines say about the log the platform saw last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditContinuity {
    /// The lines go on from the head the platform holds (or it held none).
    Continues,
    /// More lines were written than a heartbeat carries since the last one
    /// arrived: nothing to compare, nothing wrong.
    Gap,
    /// What the platform saw is no longer there, or the lines do not chain.
    Rewritten(String),
}

/// The hash a terminal chains an audit line with: SM3 when the line says
/// so, SHA-256 otherwise (lower-case hex, as the next line's `prev`).
fn audit_line_hash(line: &str) -> String {
    let declared = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_string));
    let suite = match declared.as_deref() {
        Some("sm3") => bianmin_platform::seal::Suite::Gm,
        _ => bianmin_platform::seal::Suite::Intl,
    };
    suite
        .hash(line.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn audit_line_field(line: &str, field: &str) -> Option<String> {
    serde_json::from_str::<Value>(line)
        .ok()?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

/// Whether `recent` (oldest first, ending at `head`) goes on from the head
/// the platform holds (`previous`: the head and its line's time).
pub fn audit_continuity(
    previous: Option<(&str, &str)>,
    recent: &[String],
    head: &str,
) -> AuditContinuity {
    let hashes: Vec<String> = recent.iter().map(|l| audit_line_hash(l)).collect();
    for (i, line) in recent.iter().enumerate().skip(1) {
        if audit_line_field(line, "prev").as_deref() != Some(hashes[i - 1].as_str()) {
            return AuditContinuity::Rewritten(
                "终端报告的最近几条管理记录彼此接不上：日志被改动".into(),
            );
        }
    }
    if hashes.last().is_some_and(|last| last != head) {
        return AuditContinuity::Rewritten("终端报告的日志头与它的最近记录不符".into());
    }
    let (Some((held, held_at)), Some(first)) = (previous, recent.first()) else {
        return AuditContinuity::Continues;
    };
    let goes_on = hashes.iter().any(|h| h == held)
        || audit_line_field(first, "prev").as_deref() == Some(held);
    if goes_on {
        return AuditContinuity::Continues;
    }
    // The lines reach back to (or before) the time of the head held, yet
    // that line is not among them: it was changed or removed.
    let first_at = audit_line_field(first, "at").unwrap_or_default();
    if !first_at.is_empty() && first_at.as_str() <= held_at {
        return AuditContinuity::Rewritten(format!(
            "平台上次收到的日志头 {}… 已不在终端的日志里：已记录的管理操作被改写或删除，请到现场核查",
            held.chars().take(12).collect::<String>()
        ));
    }
    AuditContinuity::Gap
}

/// Take one heartbeat into the fleet's view; runs inside the transaction
/// that stores the heartbeat, so both happen or neither.
pub async fn observe_heartbeat(
    client: &impl GenericClient,
    terminal: &str,
    body: &Value,
    now: i64,
) -> Result<(), tokio_postgres::Error> {
    let beat = Beat::of(body, now);
    let previous = client
        .query_opt(
            "SELECT last_heartbeat_at, uptime_secs, audit_head, audit_head_at
             FROM kiosks WHERE terminal_id = $1 FOR UPDATE",
            &[&terminal],
        )
        .await?
        .map(|r| {
            (
                (r.get::<_, i64>(0), r.get::<_, i64>(1)),
                (r.get::<_, Option<String>>(2), r.get::<_, Option<String>>(3)),
            )
        });
    let (previous, held_audit) = match previous {
        Some((beat, audit)) => (Some(beat), audit),
        None => (None, (None, None)),
    };
    // Whatever its age, a heartbeat arriving means the kiosk is online.
    close_alert(client, terminal, "offline", now).await?;
    if let Some((last_at, last_uptime)) = previous {
        // Equal times: the one received later wins (two heartbeats within a
        // second); only a strictly older one is history.
        if beat.at < last_at {
            // Drained late from the kiosk's outbox: older than what we know.
            client
                .execute(
                    "UPDATE kiosks SET last_received_at = $2 WHERE terminal_id = $1",
                    &[&terminal, &now],
                )
                .await?;
            return Ok(());
        }
        if beat.uptime_secs < last_uptime {
            client
                .execute(
                    "INSERT INTO kiosk_restarts (terminal_id, at) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&terminal, &(beat.at - beat.uptime_secs)],
                )
                .await?;
        }
    }
    client
        .execute(
            "INSERT INTO kiosks (terminal_id, station_code, last_heartbeat_at, last_received_at,
                 status, devices, queue_depth, oldest_pending_secs, free_disk_bytes,
                 total_disk_bytes, version, config_version, content_version, content_refused,
                 uptime_secs)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (terminal_id) DO UPDATE SET
                 station_code = COALESCE(EXCLUDED.station_code, kiosks.station_code),
                 last_heartbeat_at = EXCLUDED.last_heartbeat_at,
                 last_received_at = EXCLUDED.last_received_at,
                 status = EXCLUDED.status, devices = EXCLUDED.devices,
                 queue_depth = EXCLUDED.queue_depth,
                 oldest_pending_secs = EXCLUDED.oldest_pending_secs,
                 free_disk_bytes = EXCLUDED.free_disk_bytes,
                 total_disk_bytes = EXCLUDED.total_disk_bytes,
                 version = EXCLUDED.version, config_version = EXCLUDED.config_version,
                 content_version = EXCLUDED.content_version,
                 content_refused = EXCLUDED.content_refused,
                 uptime_secs = EXCLUDED.uptime_secs",
            &[
                &terminal,
                &beat.station_code,
                &beat.at,
                &now,
                &beat.status,
                &json!(beat.devices),
                &beat.queue_depth,
                &beat.oldest_pending_secs,
                &beat.free_disk_bytes,
                &beat.total_disk_bytes,
                &beat.version,
                &beat.config_version,
                &beat.content_version,
                &beat.content_refused,
                &beat.uptime_secs,
            ],
        )
        .await?;
    let restarts: i64 = client
        .query_one(
            "SELECT count(*) FROM kiosk_restarts WHERE terminal_id = $1 AND at > $2",
            &[&terminal, &(beat.at - 3600)],
        )
        .await?
        .get(0);
    let rules = enabled_rules(client).await?;
    if let Some(head) = &beat.audit_head {
        let held = match &held_audit {
            (Some(h), Some(at)) => Some((h.as_str(), at.as_str())),
            _ => None,
        };
        if let AuditContinuity::Rewritten(detail) = audit_continuity(held, &beat.audit_recent, head)
        {
            if rules.contains_key("audit_rewritten") {
                open_alert(client, terminal, "audit_rewritten", &detail, now).await?;
            }
        }
        // The new baseline: the head reported and the time of its line.
        if let Some(head_at) = beat
            .audit_recent
            .last()
            .and_then(|l| audit_line_field(l, "at"))
        {
            client
                .execute(
                    "UPDATE kiosks SET audit_head = $2, audit_head_at = $3 WHERE terminal_id = $1",
                    &[&terminal, head, &head_at],
                )
                .await?;
        }
    }
    let holding = beat.conditions(&rules, restarts);
    for (rule, _, _) in RULES
        .iter()
        .filter(|(rule, _, _)| !NOT_FROM_HEARTBEATS.contains(rule))
    {
        match holding.iter().find(|(r, _)| r == rule) {
            Some((_, detail)) if rules.contains_key(*rule) => {
                open_alert(client, terminal, rule, detail, now).await?;
            }
            _ => {
                close_alert(client, terminal, rule, now).await?;
            }
        }
    }
    Ok(())
}

/// Whether `now` lies in a station's opening hours ("08:30-17:30" in the
/// station's zone, Beijing time); no hours, or hours that do not parse,
/// mean always open, so an alert is never silenced by a typing mistake.
pub fn within_opening_hours(hours: Option<&str>, now: i64) -> bool {
    let Some((from, to)) = hours.and_then(parse_hours) else {
        return true;
    };
    let Some(local) = chrono_tz::Asia::Shanghai.timestamp_opt(now, 0).single() else {
        return true;
    };
    let t = local.time();
    if from <= to {
        from <= t && t < to
    } else {
        // Past midnight, e.g. 20:00-02:00.
        t >= from || t < to
    }
}

pub fn parse_hours(hours: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (from, to) = hours.trim().split_once('-')?;
    let parse = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
    Some((parse(from)?, parse(to)?))
}

/// Open an "offline" alert for every kiosk quiet for longer than the rule
/// allows, inside its station's opening hours. Returns how many opened.
pub async fn sweep_offline(pool: &Pool, now: i64) -> anyhow::Result<usize> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT threshold FROM alert_rules WHERE rule = 'offline' AND enabled",
            &[],
        )
        .await?
    else {
        return Ok(0);
    };
    let limit: i64 = row.get(0);
    let quiet = client
        .query(
            "SELECT k.terminal_id, k.last_received_at, s.opening_hours
             FROM kiosks k LEFT JOIN stations s ON s.code = k.station_code
             WHERE k.last_received_at < $1
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.terminal_id = k.terminal_id
                               AND a.rule = 'offline' AND a.closed_at IS NULL)",
            &[&(now - limit)],
        )
        .await?;
    let mut opened = 0;
    for row in quiet {
        let terminal: String = row.get(0);
        let last: i64 = row.get(1);
        let hours: Option<String> = row.get(2);
        if !within_opening_hours(hours.as_deref(), now) {
            continue;
        }
        let detail = format!("已 {} 分钟没有心跳", (now - last) / 60);
        if open_alert(&client, &terminal, "offline", &detail, now).await? {
            opened += 1;
        }
    }
    Ok(opened)
}

pub const WEBHOOK_SETTING: &str = "webhook_url";

pub async fn setting(
    client: &impl GenericClient,
    key: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT value FROM fleet_settings WHERE key = $1", &[&key])
        .await?
        .map(|r| r.get(0)))
}

/// Why a webhook URL cannot be used, in the console's words: alerts leave
/// the platform only over HTTPS (plain HTTP on loopback for tests).
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "地址格式不正确".to_string())?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if bianmin_config::is_loopback_url(url) => Ok(()),
        _ => Err("告警推送地址必须是 https://（本机测试可用 http://127.0.0.1）".into()),
    }
}

/// POST pending alert events to the webhook, oldest first; the first
/// failure stops the round (the rest keep their order) and is retried
/// with back-off. Without a webhook the events are marked as not sent.
pub async fn deliver_webhooks(
    pool: &Pool,
    http: &reqwest::Client,
    now: i64,
) -> anyhow::Result<usize> {
    let mut client = pool.get().await?;
    let url = setting(&client, WEBHOOK_SETTING).await?;
    let tx = client.transaction().await?;
    let Some(url) = url.filter(|u| check_webhook_url(u).is_ok()) else {
        tx.execute(
            "UPDATE alert_events SET delivered_at = $1, last_error = '未配置告警推送地址'
             WHERE delivered_at IS NULL",
            &[&now],
        )
        .await?;
        tx.commit().await?;
        return Ok(0);
    };
    let events = tx
        .query(
            "SELECT e.seq, e.event, e.at, e.attempts, a.id, a.terminal_id, a.rule, a.detail,
                    a.opened_at, a.closed_at, k.station_code, s.name
             FROM alert_events e JOIN alerts a ON a.id = e.alert_id
             LEFT JOIN kiosks k ON k.terminal_id = a.terminal_id
             LEFT JOIN stations s ON s.code = k.station_code
             WHERE e.delivered_at IS NULL AND e.next_try_at <= $1
             ORDER BY e.seq LIMIT 50
             FOR UPDATE OF e SKIP LOCKED",
            &[&now],
        )
        .await?;
    let mut delivered = 0;
    for row in events {
        let seq: i64 = row.get(0);
        let attempts: i32 = row.get(3);
        let rule: String = row.get(6);
        let payload = json!({
            "event": row.get::<_, String>(1),
            "at": rfc3339(row.get(2)),
            "alert_id": row.get::<_, i64>(4),
            "terminal_id": row.get::<_, String>(5),
            "station_code": row.get::<_, Option<String>>(10),
            "station_name": row.get::<_, Option<String>>(11),
            "rule": rule,
            "rule_title": rule_title(&rule),
            "detail": row.get::<_, String>(7),
            "opened_at": rfc3339(row.get(8)),
            "closed_at": row.get::<_, Option<i64>>(9).map(rfc3339),
        });
        let answer = http.post(&url).json(&payload).send().await;
        let failure = match answer {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Some(if e.is_timeout() {
                "超时".to_string()
            } else {
                "无法连接".to_string()
            }),
        };
        match failure {
            None => {
                tx.execute(
                    "UPDATE alert_events SET delivered_at = $2, attempts = attempts + 1,
                         last_error = NULL WHERE seq = $1",
                    &[&seq, &now],
                )
                .await?;
                delivered += 1;
            }
            Some(why) => {
                let wait = 10i64 << attempts.clamp(0, 8);
                tx.execute(
                    "UPDATE alert_events SET attempts = attempts + 1, last_error = $2,
                         next_try_at = $3 WHERE seq = $1",
                    &[&seq, &why, &(now + wait.min(3600))],
                )
                .await?;
                tracing::warn!(seq, error = %why, "alert webhook");
                break;
            }
        }
    }
    tx.commit().await?;
    Ok(delivered)
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The running watch; dropping it stops it.
pub struct WatchGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The watch: every `every`, the offline sweep, automatic promotions of
/// releases (with a repository) and webhook deliveries.
/// Failures (a database away) are logged and tried again next round.
pub fn watch(pool: Pool, options: FleetOptions) -> WatchGuard {
    WatchGuard(tokio::spawn(async move {
        bianmin_platform::client::install_crypto_provider();
        let http = match reqwest::Client::builder()
            .timeout(options.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "fleet watch: no HTTP client");
                return;
            }
        };
        let mut tick = tokio::time::interval(options.watch_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = sweep_offline(&pool, now).await {
                tracing::warn!(error = %e, "fleet watch: offline sweep");
            }
            if let Some(repo) = &options.apt {
                if let Err(e) = crate::updates::auto_promote(&pool, repo, now).await {
                    tracing::warn!(error = %e, "fleet watch: automatic promotion");
                }
            }
            if let Err(e) = deliver_webhooks(&pool, &http, now).await {
                tracing::warn!(error = %e, "fleet watch: webhook");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_hold_in_beijing_time_and_across_midnight() {
        // 2026-12-05 02:00 UTC = 10:00 in Beijing.
        let ten_am = chrono::Utc
            .with_ymd_and_hms(2026, 12, 5, 2, 0, 0)
            .unwrap()
            .timestamp();
        assert!(within_opening_hours(Some("08:30-17:30"), ten_am));
        assert!(!within_opening_hours(Some("12:00-17:30"), ten_am));
        assert!(within_opening_hours(Some("20:00-11:00"), ten_am));
        assert!(!within_opening_hours(Some("20:00-09:00"), ten_am));
        assert!(within_opening_hours(None, ten_am));
        assert!(within_opening_hours(Some("not hours"), ten_am));
    }

    /// Audit lines chained as a terminal writes them (SHA-256).
    fn chain(actions: &[(&str, &str)], mut prev: String) -> Vec<String> {
        actions
            .iter()
            .map(|(at, action)| {
                let line =
                    json!({"at": at, "actor": "technician-pin", "action": action, "prev": prev})
                        .to_string();
                prev = audit_line_hash(&line);
                line
            })
            .collect()
    }

    #[test]
    fn audit_lines_must_go_on_from_the_head_the_platform_holds() {
        let genesis = "0".repeat(64);
        let first = chain(
            &[
                ("2026-12-05T08:00:00Z", "enter"),
                ("2026-12-05T08:01:00Z", "leave"),
            ],
            genesis.clone(),
        );
        let head = audit_line_hash(&first[1]);
        assert_eq!(
            audit_continuity(None, &first, &head),
            AuditContinuity::Continues
        );
        // Two more lines: the window still holds the old head.
        let mut grown = first.clone();
        grown.extend(chain(
            &[
                ("2026-12-05T09:00:00Z", "enter"),
                ("2026-12-05T09:02:00Z", "config-change"),
            ],
            head.clone(),
        ));
        let new_head = audit_line_hash(grown.last().unwrap());
        let held = Some((head.as_str(), "2026-12-05T08:01:00Z"));
        assert_eq!(
            audit_continuity(held, &grown, &new_head),
            AuditContinuity::Continues
        );
        // Only the new lines carried: they start right after the old head.
        assert_eq!(
            audit_continuity(held, &grown[2..], &new_head),
            AuditContinuity::Continues
        );
        // The first session rewritten and chained again by hand: the window
        // reaches back to the held head's time, and the head is gone.
        let forged = chain(
            &[
                ("2026-12-05T08:00:00Z", "enter"),
                ("2026-12-05T08:01:00Z", "test-print"),
                ("2026-12-05T09:00:00Z", "enter"),
            ],
            genesis,
        );
        let forged_head = audit_line_hash(forged.last().unwrap());
        assert!(matches!(
            audit_continuity(held, &forged, &forged_head),
            AuditContinuity::Rewritten(why) if why.contains("已不在终端的日志里")
        ));
        // Lines that do not chain among themselves, or a head that is not
        // their last line's hash.
        let mut cut = grown.clone();
        cut.remove(1);
        assert!(matches!(
            audit_continuity(held, &cut, &new_head),
            AuditContinuity::Rewritten(_)
        ));
        assert!(matches!(
            audit_continuity(held, &grown, &head),
            AuditContinuity::Rewritten(_)
        ));
        // More new lines than a heartbeat carries: nothing to compare.
        let later = chain(&[("2026-12-06T10:00:00Z", "enter")], "f".repeat(64));
        let later_head = audit_line_hash(&later[0]);
        assert_eq!(
            audit_continuity(held, &later, &later_head),
            AuditContinuity::Gap
        );
    }

    #[test]
    fn a_heartbeat_decides_its_state_alerts() {
        let rules: BTreeMap<String, i64> = [
            ("queue_stale".to_string(), 3600),
            ("disk_low".to_string(), 10),
            ("restarts".to_string(), 3),
        ]
        .into();
        let body = json!({
            "at": "2026-12-05T02:00:00Z", "status": "degraded",
            "devices": {"printer": "paper_out", "id_card": "absent", "disk": "ok"},
            "queue_depth": 12, "oldest_pending_secs": 7200,
            "free_disk_bytes": 500_000_000u64, "total_disk_bytes": 8_000_000_000u64,
            "content_refused": "签名不符",
            "audit": {"head": "00", "length": 3, "intact": false}
        });
        let beat = Beat::of(&body, 0);
        let rules_held: Vec<&str> = beat.conditions(&rules, 4).iter().map(|(r, _)| *r).collect();
        assert_eq!(
            rules_held,
            [
                "paper_out",
                "queue_stale",
                "disk_low",
                "restarts",
                "device_fault",
                "content_refused",
                "audit_broken"
            ]
        );
        let calm = Beat::of(
            &json!({"devices": {"printer": "ok"}, "free_disk_bytes": 5, "total_disk_bytes": 10,
                    "audit": {"head": "00", "length": 3, "intact": true}}),
            0,
        );
        assert!(calm.conditions(&rules, 3).is_empty());
    }

    #[test]
    fn a_kiosks_own_configuration_is_laid_over_its_stations() {
        let station =
            "[session]\nidle_timeout_secs = 90\ncountdown_secs = 30\n[ui]\ntheme = \"large\"\n";
        let kiosk = "[session]\nidle_timeout_secs = 120\n";
        let layered: toml::Table =
            toml::from_str(&layered_config(Some(station), Some(kiosk)).unwrap()).unwrap();
        assert_eq!(
            layered["session"]["idle_timeout_secs"].as_integer(),
            Some(120)
        );
        assert_eq!(layered["session"]["countdown_secs"].as_integer(), Some(30));
        assert_eq!(layered["ui"]["theme"].as_str(), Some("large"));
        assert_eq!(layered_config(None, Some(kiosk)).unwrap(), kiosk);
    }

    #[test]
    fn keys_only_enrollment_and_installation_set_are_refused_remotely() {
        assert!(check_remote_config("[session]\nidle_timeout_secs = 90\n").is_ok());
        for (text, key) in [
            ("[station]\nterminal_id = \"T9\"\n", "station.terminal_id"),
            (
                "[platform]\nseal_public_key = \"x25519:AAAA\"\n",
                "platform.seal_public_key",
            ),
            ("[platform]\nseal_key_id = \"k2\"\n", "platform.seal_key_id"),
            ("[crypto]\nsuite = \"intl\"\n", "crypto.suite"),
        ] {
            let refused = check_remote_config(text).unwrap_err();
            assert!(refused.starts_with(key), "{text}: {refused}");
        }
    }

    #[test]
    fn webhooks_leave_only_over_https() {
        assert!(check_webhook_url("https://ops.example.gov.cn/hook").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_webhook_url("http://ops.example.gov.cn/hook").is_err());
        assert!(check_webhook_url("ops.example").is_err());
    }
}
