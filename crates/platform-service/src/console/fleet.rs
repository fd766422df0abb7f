//! The technician's pages: every kiosk's live status (the county view and,
//! filtered, a station's), one kiosk, the stations, and the alerts with
//! their rules and the county's webhook.

use super::auth::{self, Role, Staff};
use super::pages::{page, shown_time};
use super::{db_failure, now_secs, staff, staff_posting, Params, Shared};
use crate::enroll::{grouped, make_codes, ADMIN_PIN_SETTING, CODE_DAYS, QR_PREFIX};
use crate::fleet::{
    check_remote_config, check_webhook_url, device_state_title, device_title, parse_hours,
    rule_title, setting, RULES, WEBHOOK_SETTING,
};
use crate::updates::{channel_title, outcome_title, CHANNELS};
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bianmin_platform::api::COMMAND_KINDS;
use maud::{html, Markup, PreEscaped};
use std::collections::{BTreeMap, HashMap};

const TECHNICIAN: &[Role] = &[Role::Technician];

fn update_is_bad(outcome: &str) -> bool {
    matches!(outcome, "rolled_back" | "failed")
}

/// Seconds without a heartbeat after which a kiosk counts as offline: the
/// offline rule's threshold (15 minutes when the rule is off).
async fn offline_after(client: &deadpool_postgres::Client) -> anyhow::Result<i64> {
    Ok(client
        .query_opt(
            "SELECT threshold FROM alert_rules WHERE rule = 'offline'",
            &[],
        )
        .await?
        .map(|r| r.get(0))
        .unwrap_or(900))
}

/// One kiosk as the county view shows it.
struct KioskRow {
    terminal: String,
    station_code: Option<String>,
    station_name: Option<String>,
    last_received_at: i64,
    status: String,
    devices: BTreeMap<String, String>,
    queue_depth: i64,
    oldest_pending_secs: Option<i64>,
    free_disk_bytes: i64,
    total_disk_bytes: Option<i64>,
    version: String,
    config_version: Option<String>,
    content_version: Option<String>,
    uptime_secs: i64,
    restarts_24h: i64,
    open_alerts: Vec<String>,
    /// The latest installation report: (version tried, from, outcome,
    /// detail, when).
    update: Option<(String, String, String, String, i64)>,
}

impl KioskRow {
    fn online(&self, now: i64, offline_after: i64) -> bool {
        now - self.last_received_at <= offline_after
    }
}

async fn kiosk_rows(
    client: &deadpool_postgres::Client,
    now: i64,
    only: Option<&str>,
) -> anyhow::Result<Vec<KioskRow>> {
    let rows = client
        .query(
            "SELECT k.terminal_id, k.station_code, s.name, k.last_received_at, k.status,
                    k.devices, k.queue_depth, k.oldest_pending_secs, k.free_disk_bytes,
                    k.total_disk_bytes, k.version, k.config_version, k.content_version,
                    k.uptime_secs,
                    (SELECT count(*) FROM kiosk_restarts r
                     WHERE r.terminal_id = k.terminal_id AND r.at > $1),
                    (SELECT string_agg(a.rule, ',' ORDER BY a.opened_at) FROM alerts a
                     WHERE a.terminal_id = k.terminal_id AND a.closed_at IS NULL),
                    k.update_version, k.update_from, k.update_outcome, k.update_detail,
                    k.update_at
             FROM kiosks k LEFT JOIN stations s ON s.code = k.station_code
             WHERE $2::text IS NULL OR k.station_code = $2 OR k.terminal_id = $2
             ORDER BY k.station_code NULLS LAST, k.terminal_id",
            &[&(now - 86_400), &only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| KioskRow {
            terminal: r.get(0),
            station_code: r.get(1),
            station_name: r.get(2),
            last_received_at: r.get(3),
            status: r.get(4),
            devices: serde_json::from_value(r.get(5)).unwrap_or_default(),
            queue_depth: r.get(6),
            oldest_pending_secs: r.get(7),
            free_disk_bytes: r.get(8),
            total_disk_bytes: r.get(9),
            version: r.get(10),
            config_version: r.get(11),
            content_version: r.get(12),
            uptime_secs: r.get(13),
            restarts_24h: r.get(14),
            open_alerts: r
                .get::<_, Option<String>>(15)
                .map(|s| s.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            update: match (r.get(16), r.get(17), r.get(18), r.get(19), r.get(20)) {
                (Some(to), Some(from), Some(outcome), Some(detail), Some(at)) => {
                    Some((to, from, outcome, detail, at))
                }
                _ => None,
            },
        })
        .collect())
}

/// "3 分钟前", "2 小时前", "5 天前".
fn ago(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => "刚刚".to_string(),
        s if s < 3600 => format!("{} 分钟前", s / 60),
        s if s < 86_400 => format!("{} 小时前", s / 3600),
        s => format!("{} 天前", s / 86_400),
    }
}

fn duration_words(secs: i64) -> String {
    match secs.max(0) {
        s if s < 3600 => format!("{} 分钟", s / 60),
        s if s < 86_400 => format!("{} 小时", s / 3600),
        s => format!("{} 天 {} 小时", s / 86_400, s % 86_400 / 3600),
    }
}

fn disk_words(free: i64, total: Option<i64>) -> String {
    let gb = |b: i64| format!("{:.1} GB", b as f64 / 1e9);
    match total {
        Some(total) if total > 0 => format!("{}（{}%）", gb(free), free * 100 / total),
        _ => gb(free),
    }
}

fn devices_cell(devices: &BTreeMap<String, String>) -> Markup {
    html! {
        @for (device, state) in devices {
            @let bad = !matches!(state.as_str(), "ok" | "disabled");
            span class=[bad.then_some("owed")] data-device=(device) {
                (device_title(device)) "：" (device_state_title(state))
            }
            br;
        }
    }
}

fn state_filter_link(label: &str, state: &str, current: &str, station: Option<&str>) -> Markup {
    let href = match station {
        Some(s) => format!("/console/fleet?state={state}&station={s}"),
        None => format!("/console/fleet?state={state}"),
    };
    html! {
        a href=(href) class=[(current == state).then_some("on")] id={"filter-" (state)} { (label) }
        " "
    }
}

/// The county view (all kiosks) or a station's (`?station=CODE`), with a
/// filter by state (`?state=online|offline|alert`).
pub async fn county(State(c): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = now_secs();
    let station = q.get("station").filter(|v| !v.is_empty()).cloned();
    let state = q.get("state").cloned().unwrap_or_else(|| "all".into());
    let loaded = async {
        let client = c.backend.pool().get().await?;
        let after = offline_after(&client).await?;
        let rows = kiosk_rows(&client, now, station.as_deref()).await?;
        anyhow::Ok((after, rows))
    }
    .await;
    let (after, rows) = match loaded {
        Ok(v) => v,
        Err(e) => return db_failure(e),
    };
    let online = rows.iter().filter(|k| k.online(now, after)).count();
    let alerting = rows.iter().filter(|k| !k.open_alerts.is_empty()).count();
    let shown: Vec<&KioskRow> = rows
        .iter()
        .filter(|k| match state.as_str() {
            "online" => k.online(now, after),
            "offline" => !k.online(now, after),
            "alert" => !k.open_alerts.is_empty(),
            _ => true,
        })
        .collect();
    let title = match (&station, rows.first().and_then(|k| k.station_name.clone())) {
        (Some(_), Some(name)) => format!("{name} · 终端状态"),
        (Some(code), None) => format!("{code} · 终端状态"),
        (None, _) => "全县终端状态".to_string(),
    };
    page(
        &title,
        Some(&s),
        "/console/fleet",
        html! {
            div.card {
                h2 { (title) }
                p id="fleet-summary" {
                    "共 " (rows.len()) " 台，在线 " (online) " 台，离线 " (rows.len() - online)
                    " 台，有告警 " (alerting) " 台。"
                    @if station.is_some() { " " a href="/console/fleet" { "看全县" } }
                }
                p {
                    "筛选："
                    (state_filter_link("全部", "all", &state, station.as_deref()))
                    (state_filter_link("在线", "online", &state, station.as_deref()))
                    (state_filter_link("离线", "offline", &state, station.as_deref()))
                    (state_filter_link("有告警", "alert", &state, station.as_deref()))
                }
            }
            @if rows.is_empty() {
                p id="no-kiosks" { "还没有终端发来心跳。终端注册并联网后会出现在这里。" }
            }
            table id="kiosks" {
                tr {
                    th { "终端" } th { "站点" } th { "状态" } th { "设备" } th { "待上报" }
                    th { "磁盘剩余" } th { "版本" } th { "运行" } th { "告警" }
                }
                @for k in &shown {
                    @let up = k.online(now, after);
                    tr data-terminal=(k.terminal) {
                        td { a href={"/console/fleet/kiosks/" (k.terminal)} { (k.terminal) } }
                        td {
                            @match (&k.station_code, &k.station_name) {
                                (Some(code), Some(name)) => { a href={"/console/fleet?station=" (code)} { (name) } }
                                (Some(code), None) => { a href={"/console/fleet?station=" (code)} { (code) } }
                                _ => { "未登记" }
                            }
                        }
                        td class="state" {
                            @if up { span.status { "在线" } } @else { span.owed { "离线" } }
                            br; "心跳：" (ago(now - k.last_received_at))
                            @if k.status == "out_of_service" { br; span.owed { "暂停服务" } }
                        }
                        td { (devices_cell(&k.devices)) }
                        td {
                            (k.queue_depth) " 条"
                            @if let Some(age) = k.oldest_pending_secs { br; "最早 " (duration_words(age)) }
                        }
                        td { (disk_words(k.free_disk_bytes, k.total_disk_bytes)) }
                        td {
                            "程序 " (k.version)
                            @if let Some((to, _, outcome, _, _)) = &k.update {
                                br; span class=[update_is_bad(outcome).then_some("owed")] data-update=(outcome) {
                                    "更新 " (to) "：" (outcome_title(outcome))
                                }
                            }
                            br; "配置 " (k.config_version.as_deref().unwrap_or("—"))
                            br; "指南 " (k.content_version.as_deref().unwrap_or("—"))
                        }
                        td { (duration_words(k.uptime_secs)) br; "24 小时重启 " (k.restarts_24h) " 次" }
                        td class="alerts" {
                            @for rule in &k.open_alerts { span.owed { (rule_title(rule)) } br; }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

struct AlertRow {
    id: i64,
    terminal: String,
    station_name: Option<String>,
    rule: String,
    detail: String,
    opened_at: i64,
    closed_at: Option<i64>,
    /// The webhook's fate of the latest event: delivered, or the error.
    delivery: Option<(Option<i64>, Option<String>)>,
}

async fn alert_rows(
    client: &deadpool_postgres::Client,
    terminal: Option<&str>,
) -> anyhow::Result<Vec<AlertRow>> {
    let rows = client
        .query(
            "SELECT a.id, a.terminal_id, s.name, a.rule, a.detail, a.opened_at, a.closed_at,
                    e.delivered_at, e.last_error, e.seq IS NOT NULL
             FROM alerts a
             LEFT JOIN kiosks k ON k.terminal_id = a.terminal_id
             LEFT JOIN stations s ON s.code = k.station_code
             LEFT JOIN LATERAL (SELECT delivered_at, last_error, seq FROM alert_events
                                WHERE alert_id = a.id ORDER BY seq DESC LIMIT 1) e ON true
             WHERE $1::text IS NULL OR a.terminal_id = $1
             ORDER BY (a.closed_at IS NULL) DESC, a.opened_at DESC, a.id DESC LIMIT 300",
            &[&terminal],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AlertRow {
            id: r.get(0),
            terminal: r.get(1),
            station_name: r.get(2),
            rule: r.get(3),
            detail: r.get(4),
            opened_at: r.get(5),
            closed_at: r.get(6),
            delivery: r.get::<_, bool>(9).then(|| (r.get(7), r.get(8))),
        })
        .collect())
}

/// Alerts no heartbeat closes (a rewritten audit log): a technician closes
/// them after looking, with the session's token (`csrf`).
const CLOSED_BY_HAND: &[&str] = &["audit_rewritten"];

fn alerts_table(id: &str, rows: &[&AlertRow], csrf: Option<&str>) -> Markup {
    html! {
        table id=(id) {
            tr { th { "终端" } th { "站点" } th { "告警" } th { "情况" } th { "开始" } th { "结束" } th { "推送" } @if csrf.is_some() { th { "处理" } } }
            @for a in rows {
                tr data-alert=(a.id) data-rule=(a.rule) data-terminal=(a.terminal) {
                    td { a href={"/console/fleet/kiosks/" (a.terminal)} { (a.terminal) } }
                    td { (a.station_name.as_deref().unwrap_or("未登记")) }
                    td { (rule_title(&a.rule)) }
                    td { (a.detail) }
                    td { (shown_time(a.opened_at)) }
                    td { @match a.closed_at { Some(t) => { (shown_time(t)) } None => { span.owed { "未解除" } } } }
                    td {
                        @match &a.delivery {
                            Some((Some(_), Some(why))) => { (why) }
                            Some((Some(_), None)) => { "已推送" }
                            Some((None, Some(why))) => { span.owed { "推送失败，将重试：" (why) } }
                            Some((None, None)) => { "待推送" }
                            None => { "—" }
                        }
                    }
                    @if let Some(token) = csrf {
                        td {
                            @if a.closed_at.is_none() && CLOSED_BY_HAND.contains(&a.rule.as_str()) {
                                form method="post" action="/console/alerts/close" {
                                    input type="hidden" name="csrf" value=(token);
                                    input type="hidden" name="terminal" value=(a.terminal);
                                    input type="hidden" name="rule" value=(a.rule);
                                    button type="submit" { "已核查，解除" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A command as the kiosk page lists it.
struct CommandRow {
    id: i64,
    kind: String,
    issued_at: i64,
    issued_by: String,
    expires_at: i64,
    delivered_at: Option<i64>,
    done_at: Option<i64>,
    ok: Option<bool>,
    result: Option<String>,
}

fn command_title(kind: &str) -> &str {
    COMMAND_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
        .unwrap_or(kind)
}

async fn command_rows(
    client: &deadpool_postgres::Client,
    terminal: &str,
) -> anyhow::Result<Vec<CommandRow>> {
    Ok(client
        .query(
            "SELECT id, kind, issued_at, issued_by, expires_at, delivered_at, done_at, ok, result
             FROM kiosk_commands WHERE terminal_id = $1 ORDER BY id DESC LIMIT 50",
            &[&terminal],
        )
        .await?
        .iter()
        .map(|r| CommandRow {
            id: r.get(0),
            kind: r.get(1),
            issued_at: r.get(2),
            issued_by: r.get(3),
            expires_at: r.get(4),
            delivered_at: r.get(5),
            done_at: r.get(6),
            ok: r.get(7),
            result: r.get(8),
        })
        .collect())
}

/// A result as the list shows it: short ones whole, long ones (logs) as a
/// link.
fn result_cell(c: &CommandRow, now: i64) -> Markup {
    html! {
        @match (c.done_at, c.ok, &c.result) {
            (Some(_), Some(ok), Some(text)) => {
                @if ok { "完成：" } @else { span.owed { "未成功：" } }
                @if text.chars().count() > 200 {
                    a href={"/console/fleet/commands/" (c.id)} { "查看全文（" (text.len() / 1024 + 1) " KB）" }
                } @else { (text) }
            }
            _ if c.delivered_at.is_some() => { "已送达终端，等待结果" }
            _ if c.expires_at <= now => { span.owed { "已过期：终端在有效期内没有联网" } }
            _ => { "等待终端联网领取" }
        }
    }
}

pub async fn send_command(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(terminal): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let kind = form.get("kind").map(String::as_str).unwrap_or("");
    if !COMMAND_KINDS.iter().any(|(k, _)| *k == kind) {
        return super::failure(axum::http::StatusCode::BAD_REQUEST, "没有这种指令。");
    }
    let now = now_secs();
    let sent =
        async {
            let client = c.backend.pool().get().await?;
            client
            .execute(
                "INSERT INTO kiosk_commands (terminal_id, kind, issued_at, issued_by, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&terminal, &kind, &now, &s.username, &(now + COMMAND_HOURS * 3600)],
            )
            .await?;
            auth::audit(
                c.backend.pool(),
                &s.username,
                "kiosk_command",
                &format!("{terminal} {kind}"),
                now,
            )
            .await
        }
        .await;
    match sent {
        Ok(()) => {
            axum::response::Redirect::to(&format!("/console/fleet/kiosks/{terminal}?sent={kind}"))
                .into_response()
        }
        Err(e) => db_failure(e),
    }
}

/// A command's whole result (collected logs), as plain text.
pub async fn command_result(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = staff(&c, &headers, TECHNICIAN).await {
        return r;
    }
    let row = async {
        let client = c.backend.pool().get().await?;
        anyhow::Ok(
            client
                .query_opt("SELECT result FROM kiosk_commands WHERE id = $1", &[&id])
                .await?
                .and_then(|r| r.get::<_, Option<String>>(0)),
        )
    }
    .await;
    match row {
        Ok(Some(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(None) => super::failure(axum::http::StatusCode::NOT_FOUND, "这条指令还没有结果。"),
        Err(e) => db_failure(e),
    }
}

/// Whose configuration: one kiosk's, or a station's (every kiosk of the
/// station; a kiosk's own document is laid over it).
#[derive(Clone, Copy)]
pub(crate) enum ConfigTarget<'a> {
    Kiosk(&'a str),
    Station(&'a str),
}

impl ConfigTarget<'_> {
    fn scope(self) -> &'static str {
        match self {
            ConfigTarget::Kiosk(_) => "kiosk",
            ConfigTarget::Station(_) => "station",
        }
    }

    fn id(&self) -> &str {
        match self {
            ConfigTarget::Kiosk(id) | ConfigTarget::Station(id) => id,
        }
    }

    /// The version letter: c for a kiosk's document, s for a station's.
    fn letter(self) -> &'static str {
        match self {
            ConfigTarget::Kiosk(_) => "c",
            ConfigTarget::Station(_) => "s",
        }
    }

    /// The page the documents are edited on.
    fn page(&self) -> String {
        match self {
            ConfigTarget::Kiosk(id) => format!("/console/fleet/kiosks/{id}"),
            ConfigTarget::Station(code) => format!("/console/fleet/stations/{code}/config"),
        }
    }

    fn form(&self) -> String {
        match self {
            ConfigTarget::Kiosk(id) => format!("/console/fleet/kiosks/{id}/config"),
            ConfigTarget::Station(code) => format!("/console/fleet/stations/{code}/config"),
        }
    }
}

/// A configuration's versions, newest first, and (for a kiosk) what the
/// kiosk last said about one.
struct ConfigView {
    versions: Vec<(i64, String, i64, String, String)>,
    state: Option<(String, bool, String, i64)>,
}

async fn config_view(
    client: &deadpool_postgres::Client,
    target: ConfigTarget<'_>,
) -> anyhow::Result<ConfigView> {
    let versions = client
        .query(
            "SELECT seq, body, created_at, created_by, note FROM config_documents
             WHERE scope = $1 AND target = $2 ORDER BY seq DESC LIMIT 10",
            &[&target.scope(), &target.id()],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let state = match target {
        ConfigTarget::Kiosk(terminal) => client
            .query_opt(
                "SELECT version, ok, message, at FROM kiosk_config_state WHERE terminal_id = $1",
                &[&terminal],
            )
            .await?
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))),
        ConfigTarget::Station(_) => None,
    };
    Ok(ConfigView { versions, state })
}

fn config_card(
    s: &Staff,
    target: ConfigTarget<'_>,
    view: &ConfigView,
    draft: Option<(&str, &str)>,
) -> Markup {
    let current = view.versions.first();
    let text = draft
        .map(|(t, _)| t.to_string())
        .or_else(|| current.map(|v| v.1.clone()))
        .unwrap_or_default();
    let letter = target.letter();
    html! {
        div.card id="config" {
            h2 { @match target { ConfigTarget::Kiosk(_) => { "远程配置（本终端）" } ConfigTarget::Station(_) => { "远程配置（本站点所有终端）" } } }
            @match current {
                Some((seq, _, at, by, _)) => { p { "当前版本 " (letter) (seq) "（" (by) "，" (shown_time(*at)) "）。" } }
                None => { p { "还没有写过配置：终端使用安装时的配置文件" @if let ConfigTarget::Kiosk(_) = target { "和站点的配置" } "。" } }
            }
            @if let ConfigTarget::Kiosk(_) = target {
                p { "站点的配置对本站所有终端生效，这里写的项覆盖它。" }
                @match &view.state {
                    Some((version, true, message, at)) => { p id="config-state" { "终端已采用 " (version) "（" (shown_time(*at)) "）：" (message) } }
                    Some((version, false, message, at)) => { p id="config-state" { span.owed { "终端拒绝了 " (version) "（" (shown_time(*at)) "）：" (message) } } }
                    None => { p id="config-state" { "终端还没有回报配置。" } }
                }
            }
            @if let Some((_, why)) = draft { div.error id="config-error" { "配置没有保存：" (why) } }
            form method="post" action=(target.form()) {
                input type="hidden" name="csrf" value=(s.csrf);
                p { label for="config-text" { "只写要改的项（kiosk.toml 的格式，如 [session] idle_timeout_secs = 90）；检查同 bianmin config check。" } }
                textarea id="config-text" name="text" rows="8" { (text) }
                p { button type="submit" id="save-config" { "保存并下发" } }
            }
            @if view.versions.len() > 1 {
                table id="config-versions" {
                    tr { th { "版本" } th { "时间" } th { "人员" } th { "说明" } th { "" } }
                    @for (i, (seq, _, at, by, note)) in view.versions.iter().enumerate() {
                        tr {
                            td { (letter) (seq) }
                            td { (shown_time(*at)) }
                            td { (by) }
                            td { (note) }
                            td {
                                @if i > 0 {
                                    form method="post" action={(target.form()) "/rollback"} {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input type="hidden" name="seq" value=(seq);
                                        button type="submit" id={"rollback-" (seq)} { "回滚到此版本" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn store_config(
    c: &Shared,
    s: &Staff,
    target: ConfigTarget<'_>,
    text: &str,
    note: &str,
) -> anyhow::Result<()> {
    let now = now_secs();
    let client = c.backend.pool().get().await?;
    let seq: i64 = client
        .query_one(
            "INSERT INTO config_documents (scope, target, body, created_at, created_by, note)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            &[
                &target.scope(),
                &target.id(),
                &text,
                &now,
                &s.username,
                &note,
            ],
        )
        .await?
        .get(0);
    let detail = format!(
        "{} {} {}{seq} {note}: {}",
        target.scope(),
        target.id(),
        target.letter(),
        text.replace('\n', " ")
    );
    auth::audit(c.backend.pool(), &s.username, "remote_config", &detail, now).await
}

/// The page of a configuration with `draft` refused, or the kiosk's or
/// station's page after a change.
async fn config_answer(
    c: &Shared,
    s: &Staff,
    target: ConfigTarget<'_>,
    draft: Option<(&str, &str)>,
    saved: bool,
) -> Response {
    let view = async {
        let client = c.backend.pool().get().await?;
        config_view(&client, target).await
    }
    .await;
    match view {
        Ok(view) => page(
            "远程配置",
            Some(s),
            "/console/fleet",
            html! {
                @match target {
                    ConfigTarget::Kiosk(id) => { p { a href=(target.page()) { "返回终端 " (id) } } }
                    ConfigTarget::Station(code) => { p { a href="/console/fleet/stations" { "返回站点" } " · " a href={"/console/fleet?station=" (code)} { "本站终端" } } }
                }
                @if saved {
                    div.ok id="config-saved" { "配置已保存，本站终端下次联网时领取（约 1 分钟），在居民办完后生效。" }
                }
                (config_card(s, target, &view, draft))
            },
        )
        .into_response(),
        Err(e) => db_failure(e),
    }
}

async fn save_config_for(
    c: &Shared,
    s: &Staff,
    target: ConfigTarget<'_>,
    form: &HashMap<String, String>,
) -> Response {
    let text = form
        .get("text")
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default();
    if let Err(why) = check_remote_config(&text) {
        return config_answer(c, s, target, Some((&text, &why)), false).await;
    }
    match store_config(c, s, target, &text, "").await {
        Ok(()) => {
            axum::response::Redirect::to(&format!("{}?config=saved", target.page())).into_response()
        }
        Err(e) => db_failure(e),
    }
}

/// One click back: the chosen older text becomes the newest version.
async fn rollback_config_for(
    c: &Shared,
    s: &Staff,
    target: ConfigTarget<'_>,
    form: &HashMap<String, String>,
) -> Response {
    let Some(seq) = form.get("seq").and_then(|v| v.parse::<i64>().ok()) else {
        return super::failure(axum::http::StatusCode::BAD_REQUEST, "没有选择版本。");
    };
    let done = async {
        let client = c.backend.pool().get().await?;
        let Some(row) = client
            .query_opt(
                "SELECT body FROM config_documents WHERE seq = $1 AND scope = $2 AND target = $3",
                &[&seq, &target.scope(), &target.id()],
            )
            .await?
        else {
            return anyhow::Ok(false);
        };
        let body: String = row.get(0);
        let note = format!("回滚到 {}{seq}", target.letter());
        store_config(c, s, target, &body, &note).await?;
        Ok(true)
    }
    .await;
    match done {
        Ok(true) => {
            axum::response::Redirect::to(&format!("{}?config=saved", target.page())).into_response()
        }
        Ok(false) => super::failure(axum::http::StatusCode::NOT_FOUND, "没有这个配置版本。"),
        Err(e) => db_failure(e),
    }
}

pub async fn save_config(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(terminal): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => save_config_for(&c, &s, ConfigTarget::Kiosk(&terminal), &form).await,
        Err(r) => r,
    }
}

pub async fn rollback_config(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(terminal): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => rollback_config_for(&c, &s, ConfigTarget::Kiosk(&terminal), &form).await,
        Err(r) => r,
    }
}

/// A station's configuration page (every kiosk of the station).
pub async fn station_config(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Params,
) -> Response {
    let s = match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let saved = q.contains_key("config");
    config_answer(&c, &s, ConfigTarget::Station(&code), None, saved).await
}

pub async fn save_station_config(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => save_config_for(&c, &s, ConfigTarget::Station(&code), &form).await,
        Err(r) => r,
    }
}

pub async fn rollback_station_config(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => rollback_config_for(&c, &s, ConfigTarget::Station(&code), &form).await,
        Err(r) => r,
    }
}

/// Hours a command waits for an offline kiosk before it expires.
const COMMAND_HOURS: i64 = 24;

/// One kiosk: its state, its commands and its alerts' history.
pub async fn kiosk(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(terminal): Path<String>,
    Query(q): Params,
) -> Response {
    let s = match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = now_secs();
    let loaded = async {
        let client = c.backend.pool().get().await?;
        let after = offline_after(&client).await?;
        let row = kiosk_rows(&client, now, Some(&terminal))
            .await?
            .into_iter()
            .find(|k| k.terminal == terminal);
        let alerts = alert_rows(&client, Some(&terminal)).await?;
        let commands = command_rows(&client, &terminal).await?;
        let config = config_view(&client, ConfigTarget::Kiosk(&terminal)).await?;
        anyhow::Ok((after, row, alerts, commands, config))
    }
    .await;
    let (after, row, alerts, commands, config) = match loaded {
        Ok(v) => v,
        Err(e) => return db_failure(e),
    };
    let Some(k) = row else {
        return super::failure(
            axum::http::StatusCode::NOT_FOUND,
            "没有这台终端的心跳记录。",
        );
    };
    let all: Vec<&AlertRow> = alerts.iter().collect();
    page(
        &format!("终端 {}", k.terminal),
        Some(&s),
        "/console/fleet",
        html! {
            div.card {
                h2 { "终端 " (k.terminal) }
                table.kv id="kiosk" {
                    tr { td { "站点" } td { (k.station_name.as_deref().or(k.station_code.as_deref()).unwrap_or("未登记")) } }
                    tr { td { "状态" } td { @if k.online(now, after) { "在线" } @else { span.owed { "离线" } } "（最后心跳 " (ago(now - k.last_received_at)) "）" } }
                    tr { td { "设备" } td { (devices_cell(&k.devices)) } }
                    tr { td { "待上报" } td { (k.queue_depth) " 条" @if let Some(age) = k.oldest_pending_secs { "，最早一条已等 " (duration_words(age)) } } }
                    tr { td { "磁盘剩余" } td { (disk_words(k.free_disk_bytes, k.total_disk_bytes)) } }
                    tr { td { "程序版本" } td { (k.version) } }
                    tr {
                        td { "软件更新" }
                        td id="kiosk-update" {
                            @match &k.update {
                                Some((to, from, outcome, detail, at)) => {
                                    span class=[update_is_bad(outcome).then_some("owed")] {
                                        (from) " → " (to) "：" (outcome_title(outcome))
                                    }
                                    "（" (shown_time(*at)) "）"
                                    @if !detail.is_empty() { br; (detail) }
                                }
                                None => { "终端还没有报告过更新。" }
                            }
                        }
                    }
                    tr { td { "配置版本" } td { (k.config_version.as_deref().unwrap_or("—")) } }
                    tr { td { "办事指南版本" } td { (k.content_version.as_deref().unwrap_or("—")) } }
                    tr { td { "已运行" } td { (duration_words(k.uptime_secs)) "，24 小时内重启 " (k.restarts_24h) " 次" } }
                }
            }
            div.card {
                h2 { "远程指令" }
                @if let Some(kind) = q.get("sent") {
                    div.ok id="message" { "已发出指令：" (command_title(kind)) "。终端下次联网时领取并执行，" (COMMAND_HOURS) " 小时内有效。" }
                }
                form method="post" action={"/console/fleet/kiosks/" (k.terminal) "/commands"} id="command" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    @for (kind, title) in COMMAND_KINDS {
                        label { input type="radio" name="kind" value=(kind) id={"kind-" (kind)}; " " (title) }
                    }
                    " "
                    button type="submit" id="send-command" { "发送" }
                }
                table id="commands" {
                    tr { th { "指令" } th { "发出" } th { "人员" } th { "结果" } }
                    @for cmd in &commands {
                        tr data-command=(cmd.id) data-kind=(cmd.kind) {
                            td { (command_title(&cmd.kind)) }
                            td { (shown_time(cmd.issued_at)) }
                            td { (cmd.issued_by) }
                            td class="result" { (result_cell(cmd, now)) }
                        }
                    }
                }
            }
            @if q.contains_key("config") {
                div.ok id="config-saved" { "配置已保存，终端下次联网时领取（约 1 分钟），在居民办完后生效。" }
            }
            (config_card(&s, ConfigTarget::Kiosk(&k.terminal), &config, None))
            div.card { h2 { "告警记录" } (alerts_table("kiosk-alerts", &all, None)) }
        },
    )
    .into_response()
}

struct StationRow {
    code: String,
    name: String,
    address: String,
    hours: Option<String>,
    kiosks: i64,
    online: i64,
    channel: String,
    window: Option<(String, String)>,
}

async fn station_rows(
    client: &deadpool_postgres::Client,
    now: i64,
) -> anyhow::Result<Vec<StationRow>> {
    let after = offline_after(client).await?;
    Ok(client
        .query(
            "SELECT s.code, s.name, s.address, s.opening_hours,
                    count(k.terminal_id), count(k.terminal_id) FILTER (WHERE k.last_received_at >= $1),
                    s.channel, s.window_start, s.window_end
             FROM stations s LEFT JOIN kiosks k ON k.station_code = s.code
             GROUP BY s.code ORDER BY s.code",
            &[&(now - after)],
        )
        .await?
        .iter()
        .map(|r| StationRow {
            code: r.get(0),
            name: r.get(1),
            address: r.get(2),
            hours: r.get(3),
            kiosks: r.get(4),
            online: r.get(5),
            channel: r.get(6),
            window: match (r.get(7), r.get(8)) {
                (Some(start), Some(end)) => Some((start, end)),
                _ => None,
            },
        })
        .collect())
}

fn stations_page(
    s: &Staff,
    rows: &[StationRow],
    pin_set: bool,
    message: Option<Result<String, String>>,
) -> Response {
    page(
        "站点",
        Some(s),
        "/console/fleet/stations",
        html! {
            (super::pages::outcome_message(&message))
            table id="stations" {
                tr { th { "区划代码" } th { "站点" } th { "地址" } th { "营业时间" } th { "终端" } th { "软件更新" } th { "注册终端" } }
                @for st in rows {
                    tr data-station=(st.code) {
                        td { (st.code) }
                        td { a href={"/console/fleet?station=" (st.code)} { (st.name) } }
                        td { (st.address) }
                        td { (st.hours.as_deref().unwrap_or("24 小时")) }
                        td { (st.online) " / " (st.kiosks) " 台在线" br; a href={"/console/fleet/stations/" (st.code) "/config"} id={"config-" (st.code)} { "站点配置" } }
                        td {
                            form method="post" action={"/console/fleet/stations/" (st.code) "/updates"} id={"updates-" (st.code)} {
                                input type="hidden" name="csrf" value=(s.csrf);
                                (channel_select(&format!("channel-{}", st.code), &st.channel))
                                br; "维护时段 "
                                input name="window_start" id={"window-start-" (st.code)} size="5" placeholder="22:00"
                                    value=(st.window.as_ref().map(|w| w.0.as_str()).unwrap_or(""));
                                " 至 "
                                input name="window_end" id={"window-end-" (st.code)} size="5" placeholder="05:00"
                                    value=(st.window.as_ref().map(|w| w.1.as_str()).unwrap_or(""));
                                " "
                                button type="submit" id={"save-updates-" (st.code)} { "保存" }
                            }
                        }
                        td {
                            form method="post" action={"/console/fleet/stations/" (st.code) "/codes"} {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input name="count" value="1" size="3" id={"count-" (st.code)};
                                " 个 "
                                button type="submit" id={"codes-" (st.code)} { "生成注册码" }
                            }
                        }
                    }
                }
            }
            div.card style="margin-top:14px" {
                h2 { "终端管理员密码" }
                p { "新注册的终端使用这个密码进入管理模式（只保存其 Argon2id 哈希）。"
                    @if pin_set { "目前已设置。" } @else { span.owed { "目前未设置：新终端注册后管理模式不可用。" } } }
                form method="post" action="/console/fleet/admin-pin" id="admin-pin" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="pin" { "6 到 12 位数字" }
                    input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="new-password" size="14";
                    " "
                    button type="submit" id="set-pin" { "设置" }
                }
            }
            div.card style="margin-top:14px" {
                h2 { "新建站点" }
                form method="post" action="/console/fleet/stations" id="new-station" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    p { label for="name" { "站点名称" } input id="name" name="name" size="30" required; }
                    p { label for="code" { "区划代码（12 位）" } input id="code" name="code" size="14" pattern="[0-9]{12}" required; }
                    p { label for="address" { "地址" } input id="address" name="address" size="50"; }
                    p { label for="hours" { "营业时间（如 08:30-17:30，空为 24 小时）" } input id="hours" name="hours" size="14"; }
                    p { label for="channel" { "软件更新渠道" } (channel_select("channel", "stable")) }
                    p {
                        label for="window_start" { "维护时段（终端只在这段时间内安装更新，如 22:00 至 05:00；都空为居民办完即可安装）" }
                        input id="window_start" name="window_start" size="5";
                        " 至 "
                        input id="window_end" name="window_end" size="5";
                    }
                    p { button type="submit" id="create-station" { "新建" } }
                }
            }
        },
    )
    .into_response()
}

pub async fn stations(State(c): State<Shared>, headers: HeaderMap) -> Response {
    let s = match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    stations_reply(&c, &s, None).await
}

async fn stations_reply(
    c: &Shared,
    s: &Staff,
    message: Option<Result<String, String>>,
) -> Response {
    let loaded = async {
        let client = c.backend.pool().get().await?;
        let rows = station_rows(&client, now_secs()).await?;
        let pin_set = setting(&client, ADMIN_PIN_SETTING).await?.is_some();
        anyhow::Ok((rows, pin_set))
    }
    .await;
    match loaded {
        Ok((rows, pin_set)) => stations_page(s, &rows, pin_set, message),
        Err(e) => db_failure(e),
    }
}

/// The channel a station follows, as a drop-down.
fn channel_select(id: &str, current: &str) -> Markup {
    html! {
        select name="channel" id=(id) {
            @for channel in CHANNELS {
                option value=(channel) selected[*channel == current] {
                    (channel_title(channel))
                    @if *channel == "canary" { "（先试新版本）" }
                }
            }
        }
    }
}

/// A station's update fields checked: the channel, and the maintenance
/// window both empty or two different `HH:MM` times.
fn check_updates(
    channel: &str,
    start: &str,
    end: &str,
) -> Result<Option<(String, String)>, String> {
    if !CHANNELS.contains(&channel) {
        return Err("软件更新渠道只能是试点版或稳定版。".into());
    }
    match (start.is_empty(), end.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => {
            let window = bianmin_platform::api::MaintenanceWindow {
                start: start.to_string(),
                end: end.to_string(),
            };
            // Two digits each way, as kiosks and the contract read it.
            let shaped = |t: &str| t.len() == 5 && t.as_bytes()[2] == b':';
            if shaped(start) && shaped(end) && window.is_valid() {
                Ok(Some((window.start, window.end)))
            } else {
                Err("维护时段应为两个不同的时刻，格式如 22:00 至 05:00（可跨过午夜）。".into())
            }
        }
        _ => Err("维护时段要同时填写开始和结束，或都留空。".into()),
    }
}

pub async fn save_station_updates(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let channel = field("channel");
    let window = match check_updates(channel, field("window_start"), field("window_end")) {
        Ok(w) => w,
        Err(why) => return stations_reply(&c, &s, Some(Err(why))).await,
    };
    let (start, end) = match &window {
        Some((a, b)) => (Some(a.as_str()), Some(b.as_str())),
        None => (None, None),
    };
    let saved = async {
        let client = c.backend.pool().get().await?;
        let n = client
            .execute(
                "UPDATE stations SET channel = $2, window_start = $3, window_end = $4
                 WHERE code = $1",
                &[&code, &channel, &start, &end],
            )
            .await?;
        if n == 1 {
            let detail = format!(
                "{code} channel={channel} window={}",
                window
                    .as_ref()
                    .map_or("none".into(), |(a, b)| format!("{a}-{b}"))
            );
            auth::audit(
                c.backend.pool(),
                &s.username,
                "station_updates",
                &detail,
                now_secs(),
            )
            .await?;
        }
        anyhow::Ok(n == 1)
    }
    .await;
    match saved {
        Ok(true) => {
            let when = match &window {
                Some((a, b)) => format!("每天 {a} 至 {b} 安装"),
                None => "居民办完即可安装".to_string(),
            };
            let m = format!(
                "已保存：站点 {code} 跟随{}，{when}。",
                channel_title(channel)
            );
            stations_reply(&c, &s, Some(Ok(m))).await
        }
        Ok(false) => {
            stations_reply(&c, &s, Some(Err(format!("没有区划代码为 {code} 的站点。")))).await
        }
        Err(e) => db_failure(e),
    }
}

/// What is wrong with a new station's fields, in a sentence.
fn check_station(name: &str, code: &str, hours: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 60 {
        return Err("请填写站点名称（不超过 60 个字）。".into());
    }
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("区划代码应为 12 位数字。".into());
    }
    if !hours.is_empty() && parse_hours(hours).is_none() {
        return Err("营业时间格式应为 08:30-17:30。".into());
    }
    Ok(())
}

pub async fn create_station(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (name, code, address, hours) = (
        field("name"),
        field("code"),
        field("address"),
        field("hours"),
    );
    let channel = form
        .get("channel")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "stable".into());
    let now = now_secs();
    let outcome = async {
        let client = c.backend.pool().get().await?;
        let checked = check_station(&name, &code, &hours).and_then(|()| {
            check_updates(&channel, &field("window_start"), &field("window_end"))
        });
        anyhow::Ok(match checked {
            Err(why) => Err(why),
            Ok(window) => {
                let hours = (!hours.is_empty()).then_some(hours.as_str());
                let (start, end) = match &window {
                    Some((a, b)) => (Some(a.as_str()), Some(b.as_str())),
                    None => (None, None),
                };
                let added = client
                    .execute(
                        "INSERT INTO stations (code, name, address, opening_hours, created_at, created_by,
                             channel, window_start, window_end)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                        &[&code, &name, &address, &hours, &now, &s.username, &channel, &start, &end],
                    )
                    .await?;
                if added == 1 {
                    auth::audit(c.backend.pool(), &s.username, "station_created", &format!("{code} {name}"), now).await?;
                    Ok(format!("已新建站点：{name}（{code}）"))
                } else {
                    Err(format!("区划代码 {code} 已有站点。"))
                }
            }
        })
    }
    .await;
    match outcome {
        Ok(message) => stations_reply(&c, &s, Some(message)).await,
        Err(e) => db_failure(e),
    }
}

/// Whether a PIN is one a technician may set (the kiosk's own rules:
/// digits only, not one repeated digit, not a run).
fn check_pin(pin: &str) -> Result<(), &'static str> {
    let digits: Vec<u8> = pin.bytes().collect();
    if !(6..=12).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return Err("管理员密码应为 6 到 12 位数字。");
    }
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| i16::from(w[1]) - i16::from(w[0]))
        .collect();
    if steps.iter().all(|d| *d == 0)
        || steps.iter().all(|d| *d == 1)
        || steps.iter().all(|d| *d == -1)
    {
        return Err("管理员密码太容易猜（同一数字或连号），请换一个。");
    }
    Ok(())
}

pub async fn set_admin_pin(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pin = form.get("pin").map(String::as_str).unwrap_or("");
    if let Err(why) = check_pin(pin) {
        return stations_reply(&c, &s, Some(Err(why.to_string()))).await;
    }
    let saved = async {
        let hash = auth::hash_password(pin)?;
        let client = c.backend.pool().get().await?;
        client
            .execute(
                "INSERT INTO fleet_settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&ADMIN_PIN_SETTING, &hash],
            )
            .await?;
        auth::audit(
            c.backend.pool(),
            &s.username,
            "admin_pin_set",
            "terminal admin PIN",
            now_secs(),
        )
        .await
    }
    .await;
    match saved {
        Ok(()) => {
            let m = "已设置终端管理员密码：此后注册的终端使用它。已注册的终端不变。";
            stations_reply(&c, &s, Some(Ok(m.into()))).await
        }
        Err(e) => db_failure(e),
    }
}

/// The kiosk API's URL as kiosks are to reach it: configured, or the
/// console's own origin.
fn api_url(c: &Shared, headers: &HeaderMap) -> String {
    c.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let scheme = if c.secure_cookies { "https" } else { "http" };
        format!("{scheme}://{host}{}", bianmin_platform::api::API_PREFIX)
    })
}

fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// Make codes for a station and show them once, as a sheet to print: each
/// code as a QR code for the kiosk's scanner and as 12 letters to type.
pub async fn enrollment_codes(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let count = match form.get("count").map(|v| v.trim().parse::<usize>()) {
        Some(Ok(n)) if (1..=50).contains(&n) => n,
        _ => return stations_reply(&c, &s, Some(Err("注册码个数应为 1 到 50。".into()))).await,
    };
    let now = now_secs();
    let made = async {
        let client = c.backend.pool().get().await?;
        let Some(row) = client
            .query_opt(
                "SELECT name, address FROM stations WHERE code = $1",
                &[&code],
            )
            .await?
        else {
            return anyhow::Ok(None);
        };
        let codes = make_codes(&c.backend, &code, count, &s.username, now).await?;
        Ok(Some((
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            codes,
        )))
    }
    .await;
    let (name, address, codes) = match made {
        Ok(Some(v)) => v,
        Ok(None) => {
            return stations_reply(&c, &s, Some(Err(format!("没有区划代码为 {code} 的站点。"))))
                .await
        }
        Err(e) => return db_failure(e),
    };
    let url = api_url(&c, &headers);
    let until = shown_time(now + CODE_DAYS * 86_400);
    page(
        "注册码",
        Some(&s),
        "/console/fleet/stations",
        html! {
            style { "@media print{header,.noprint{display:none}} .code{display:inline-block;width:300px;margin:8px;padding:10px;border:1px dashed #57606a;text-align:center;background:#fff} .code b{font-family:monospace;font-size:22px;letter-spacing:2px}" }
            div.ok.noprint id="message" {
                "已为 " (name) " 生成 " (codes.len()) " 个注册码，只显示这一次，请现在打印。每个码只能注册一台终端，" (until) " 前有效。"
            }
            // No script in the console: the browser's own print (Ctrl+P)
            // prints the sheet; the print style leaves out everything else.
            p.noprint { "请用浏览器的打印（Ctrl+P）打印本页，只会印出注册码。 " a href="/console/fleet/stations" { "返回站点" } }
            div id="codes" {
                @for one in &codes {
                    div.code data-code=(grouped(one)) {
                        div { (name) }
                        div style="font-size:12px;color:#57606a" { (address) }
                        (PreEscaped(qr_svg(&format!("{QR_PREFIX}{one}:{url}"))))
                        div { b { (grouped(one)) } }
                        div style="font-size:12px" { "在终端注册页扫描上方二维码，或输入这 12 位注册码。" (until) " 前有效。" }
                    }
                }
            }
        },
    )
    .into_response()
}

async fn alerts_page(c: &Shared, s: &Staff, message: Option<Result<String, String>>) -> Response {
    let loaded = async {
        let client = c.backend.pool().get().await?;
        let rules: BTreeMap<String, (bool, i64)> = client
            .query("SELECT rule, enabled, threshold FROM alert_rules", &[])
            .await?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let webhook = setting(&client, WEBHOOK_SETTING).await?;
        let alerts = alert_rows(&client, None).await?;
        anyhow::Ok((rules, webhook, alerts))
    }
    .await;
    let (rules, webhook, alerts) = match loaded {
        Ok(v) => v,
        Err(e) => return db_failure(e),
    };
    let open: Vec<&AlertRow> = alerts.iter().filter(|a| a.closed_at.is_none()).collect();
    let closed: Vec<&AlertRow> = alerts.iter().filter(|a| a.closed_at.is_some()).collect();
    page(
        "告警",
        Some(s),
        "/console/alerts",
        html! {
            (super::pages::outcome_message(&message))
            div.card {
                h2 { "当前告警（" (open.len()) "）" }
                @if open.is_empty() { p id="no-open-alerts" { "没有未解除的告警。" } }
                @else { (alerts_table("open-alerts", &open, Some(&s.csrf))) }
            }
            div.card { h2 { "已解除" } (alerts_table("closed-alerts", &closed, None)) }
            div.card {
                h2 { "告警规则与推送" }
                form method="post" action="/console/alerts/rules" id="rules" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    table {
                        tr { th { "规则" } th { "启用" } th { "阈值" } }
                        @for (rule, title, unit) in RULES {
                            @let (enabled, threshold) = rules.get(*rule).copied().unwrap_or((false, 0));
                            tr {
                                td { (title) }
                                td { input type="checkbox" name={"enabled_" (rule)} id={"enabled_" (rule)} checked[enabled]; }
                                td {
                                    @if unit.is_empty() { "—" }
                                    @else {
                                        label for={"threshold_" (rule)} { (unit) }
                                        input name={"threshold_" (rule)} id={"threshold_" (rule)} value=(threshold) size="8";
                                    }
                                }
                            }
                        }
                    }
                    p {
                        label for="webhook" { "告警推送地址（HTTP POST，JSON）" }
                        input id="webhook" name="webhook" size="60" value=(webhook.unwrap_or_default());
                    }
                    p { button type="submit" id="save-rules" { "保存" } }
                }
            }
        },
    )
    .into_response()
}

pub async fn alerts(State(c): State<Shared>, headers: HeaderMap) -> Response {
    match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => alerts_page(&c, &s, None).await,
        Err(r) => r,
    }
}

/// A technician closes an alert no heartbeat closes, after looking at the
/// kiosk; audited.
pub async fn close_alert_by_hand(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let terminal = form.get("terminal").cloned().unwrap_or_default();
    let rule = form.get("rule").cloned().unwrap_or_default();
    if !CLOSED_BY_HAND.contains(&rule.as_str()) {
        return alerts_page(&c, &s, Some(Err("这种告警由终端的状态自动解除。".into()))).await;
    }
    let now = now_secs();
    let closed = async {
        let client = c.backend.pool().get().await?;
        let closed = crate::fleet::close_alert(&client, &terminal, &rule, now).await?;
        if closed {
            auth::audit(
                c.backend.pool(),
                &s.username,
                "alert_close",
                &format!("{terminal} {rule}"),
                now,
            )
            .await?;
        }
        anyhow::Ok(closed)
    }
    .await;
    match closed {
        Ok(true) => alerts_page(&c, &s, Some(Ok(format!("已解除终端 {terminal} 的告警。")))).await,
        Ok(false) => alerts_page(&c, &s, Some(Err("这条告警已经解除。".into()))).await,
        Err(e) => db_failure(e),
    }
}

/// Each rule's threshold within what makes sense for it.
fn threshold_range(rule: &str) -> Option<(i64, i64)> {
    match rule {
        "offline" => Some((60, 7 * 86_400)),
        "queue_stale" => Some((60, 30 * 86_400)),
        "disk_low" => Some((1, 90)),
        "restarts" => Some((1, 100)),
        _ => None,
    }
}

pub async fn save_rules(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut wanted = Vec::new();
    for (rule, title, _) in RULES {
        let enabled = form.contains_key(&format!("enabled_{rule}"));
        let threshold = match threshold_range(rule) {
            None => 0,
            Some((low, high)) => {
                let raw = form
                    .get(&format!("threshold_{rule}"))
                    .map(|v| v.trim())
                    .unwrap_or("");
                match raw.parse::<i64>() {
                    Ok(n) if (low..=high).contains(&n) => n,
                    _ => {
                        let why = format!("{title}的阈值应为 {low} 到 {high} 之间的整数。");
                        return alerts_page(&c, &s, Some(Err(why))).await;
                    }
                }
            }
        };
        wanted.push((*rule, enabled, threshold));
    }
    let webhook = form
        .get("webhook")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    if !webhook.is_empty() {
        if let Err(why) = check_webhook_url(&webhook) {
            return alerts_page(&c, &s, Some(Err(why))).await;
        }
    }
    let now = now_secs();
    let saved = async {
        let mut client = c.backend.pool().get().await?;
        let tx = client.transaction().await?;
        let mut changes = Vec::new();
        for (rule, enabled, threshold) in &wanted {
            let n = tx
                .execute(
                    "UPDATE alert_rules SET enabled = $2, threshold = $3
                     WHERE rule = $1 AND (enabled <> $2 OR threshold <> $3)",
                    &[rule, enabled, threshold],
                )
                .await?;
            if n == 1 {
                changes.push(format!(
                    "{rule}={}{}",
                    if *enabled { "on" } else { "off" },
                    if *threshold > 0 {
                        format!("/{threshold}")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        let before = setting(&tx, WEBHOOK_SETTING).await?.unwrap_or_default();
        if before != webhook {
            if webhook.is_empty() {
                tx.execute(
                    "DELETE FROM fleet_settings WHERE key = $1",
                    &[&WEBHOOK_SETTING],
                )
                .await?;
            } else {
                tx.execute(
                    "INSERT INTO fleet_settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&WEBHOOK_SETTING, &webhook],
                )
                .await?;
            }
            changes.push(format!("webhook={webhook}"));
        }
        tx.commit().await?;
        if !changes.is_empty() {
            auth::audit(
                c.backend.pool(),
                &s.username,
                "alert_rules",
                &changes.join(" "),
                now,
            )
            .await?;
        }
        anyhow::Ok(changes.len())
    }
    .await;
    match saved {
        Ok(0) => alerts_page(&c, &s, Some(Ok("没有改动。".into()))).await,
        Ok(n) => alerts_page(&c, &s, Some(Ok(format!("已保存 {n} 项改动。")))).await,
        Err(e) => db_failure(e),
    }
}
