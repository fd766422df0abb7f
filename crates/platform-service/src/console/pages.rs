//! The console's pages and the handlers behind them.

use super::auth::{self, Role, Staff};
use super::{db_failure, failure, now_secs, staff, staff_posting, Params, Receipt, Shared};
use crate::db::publish_on;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bianmin_core::id_number::{mask_address, mask_id, mask_name};
use bianmin_platform_server::{Backend as _, Doc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::{BTreeMap, HashMap};

const STYLE: &str = "
body{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC',sans-serif;margin:0;background:#f4f6f8;color:#1b1f24;font-size:15px}
header{background:#0b4f8a;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:24px}
header h1{font-size:18px;margin:0}header nav a{color:#fff;margin-right:16px;text-decoration:none}
header nav a.on{border-bottom:3px solid #ffd24d;font-weight:bold}
header .who{margin-left:auto}header form{display:inline}
main{padding:16px 24px;max-width:1300px}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6}
.card{background:#fff;border:1px solid #d0d7de;padding:12px 16px;margin-bottom:14px}
.card h2{font-size:16px;margin:0 0 8px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;background:#e6eef7}
.owed{color:#a4000f;font-weight:bold}.error{background:#fde8e8;border:1px solid #a4000f;padding:8px 12px;margin-bottom:12px}
.ok{background:#e7f6ea;border:1px solid #1a7f37;padding:8px 12px;margin-bottom:12px}
button,input[type=submit]{background:#0b4f8a;color:#fff;border:0;padding:6px 16px;font-size:15px;cursor:pointer}
textarea{width:100%;font-family:monospace}label{margin-right:12px}
.kv td:first-child{width:160px;color:#57606a}
main a.on{font-weight:bold;text-decoration:none;border-bottom:3px solid #0b4f8a}
";

/// What a form post did, at the top of the page it comes back to:
/// `Ok` in green, `Err` in red, both with the id tests read (`message`).
pub(crate) fn outcome_message(message: &Option<Result<String, String>>) -> Markup {
    html! {
        @match message {
            Some(Ok(m)) => { div.ok id="message" { (m) } }
            Some(Err(m)) => { div.error id="message" { (m) } }
            None => {}
        }
    }
}

pub(crate) fn page(title: &str, who: Option<&Staff>, current: &str, body: Markup) -> Html<String> {
    Html(html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { (title) " · 便民服务平台" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "便民服务平台 · 管理后台" }
                    @if let Some(s) = who {
                        nav {
                            @for (role, href, label) in [
                                (Role::Clerk, "/console/applications", "申请受理"),
                                (Role::Author, "/console/content", "办事指南发布"),
                                (Role::Supervisor, "/console/evaluations", "好差评"),
                                (Role::Supervisor, "/console/audit", "操作记录"),
                                (Role::Technician, "/console/fleet", "终端状态"),
                                (Role::Technician, "/console/fleet/stations", "站点"),
                                (Role::Technician, "/console/alerts", "告警"),
                                (Role::Technician, "/console/releases", "版本发布"),
                            ] {
                                @if s.role == role {
                                    a href=(href) class=[(current == href).then_some("on")] { (label) }
                                }
                            }
                        }
                        span.who {
                            (s.display_name) "（" (s.role.title()) "） "
                            form method="post" action="/console/logout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" id="logout" { "退出" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
    .into_string())
}

pub fn message_page(title: &str, sentence: &str) -> Html<String> {
    page(
        title,
        None,
        "",
        html! { div.error { (sentence) } p { a href="/console/login" { "返回登录" } } },
    )
}

pub fn login_page(csrf: &str, error: Option<&str>) -> Html<String> {
    page(
        "登录",
        None,
        "",
        html! {
            div.card style="max-width:420px;margin:60px auto" {
                h2 { "工作人员登录" }
                @if let Some(e) = error { div.error id="login-error" { (e) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    p { label for="username" { "用户名" } input id="username" name="username" autocomplete="username" required; }
                    p { label for="password" { "密码" } input id="password" name="password" type="password" autocomplete="current-password" required; }
                    p { button type="submit" id="sign-in" { "登录" } }
                }
            }
        },
    )
}

/// A status code in the words of the console (the kiosk has its own).
pub fn status_title(status: &str) -> &'static str {
    match status {
        "submitted" => "已提交",
        "received" => "待受理",
        "accepted" => "已受理",
        "need_materials" => "待补正",
        "in_review" => "审核中",
        "completed" => "已办结",
        "rejected" => "不予受理",
        _ => "处理中",
    }
}

/// The clerk's steps: (action, label, new status, needs a note, from which
/// statuses it may be taken).
pub const STEPS: &[(&str, &str, &str, bool, &[&str])] = &[
    (
        "accept",
        "受理",
        "accepted",
        false,
        &["submitted", "received", "need_materials"],
    ),
    (
        "correct",
        "补正（告知申请人缺什么）",
        "need_materials",
        true,
        &["received", "accepted", "in_review"],
    ),
    ("review", "送审核", "in_review", false, &["accepted"]),
    ("complete", "办结", "completed", false, &["in_review"]),
    (
        "refuse",
        "不予受理",
        "rejected",
        true,
        &["received", "accepted", "in_review", "need_materials"],
    ),
];

fn material_state(state: &str) -> (&'static str, bool) {
    match state {
        "provided" => ("已提交原件", false),
        "e_cert" => ("电子证照（已调取）", false),
        "e_cert_pending" => ("电子证照（待核验）", false),
        "pending" => ("容缺后补", true),
        "committed" => ("告知承诺", false),
        _ => ("未知", false),
    }
}

/// How the kiosk knew who someone is, for the clerk.
fn identified_by(how: &str) -> &'static str {
    match how {
        "ymtb" => "一码通（平台核验）",
        "eid" => "电子身份证（平台核验）",
        "essc" => "电子社保卡（平台核验）",
        "typed" => "代办人输入，已校验号码，未核验本人",
        _ => "身份证（终端读卡）",
    }
}

pub(crate) fn shown_time(secs: i64) -> String {
    bianmin_core::time::rfc3339(secs * 1000)
        .replace('T', " ")
        .chars()
        .take(16)
        .collect()
}

/// The applications' queue with each one's current status.
struct QueueRow {
    receipt: String,
    terminal: String,
    /// The terminal's station (enrolled, else from its heartbeats) and its
    /// name where the station is registered.
    station: Option<String>,
    station_name: Option<String>,
    service_code: String,
    service: String,
    received_at: i64,
    status: String,
    owed: usize,
}

async fn queue_rows(c: &super::Console) -> anyhow::Result<Vec<QueueRow>> {
    let client = c.backend.pool().get().await?;
    let rows = client
        .query(
            "SELECT r.id, r.terminal_id, r.facts, r.received_at,
                    COALESCE((SELECT p.status FROM progress p WHERE p.receipt_no = r.id
                              ORDER BY p.seq DESC LIMIT 1), 'received'),
                    at_station.code, st.name
             FROM records r
             LEFT JOIN LATERAL (
                 SELECT COALESCE(
                     (SELECT t.station_code FROM terminals t WHERE t.terminal_id = r.terminal_id),
                     (SELECT k.station_code FROM kiosks k WHERE k.terminal_id = r.terminal_id)) AS code
             ) AS at_station ON true
             LEFT JOIN stations st ON st.code = at_station.code
             WHERE r.kind = 'application'
             ORDER BY r.received_at DESC, r.id LIMIT 500",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let facts: serde_json::Value = r.get(2);
            QueueRow {
                receipt: r.get(0),
                terminal: r.get(1),
                station: r.get(5),
                station_name: r.get(6),
                service_code: facts["service_code"].as_str().unwrap_or("").to_string(),
                service: facts["service_name"].as_str().unwrap_or("").to_string(),
                received_at: r.get(3),
                status: r.get(4),
                owed: facts["materials"]
                    .as_array()
                    .map(|m| m.iter().filter(|m| m["state"] == "pending").count())
                    .unwrap_or(0),
            }
        })
        .collect())
}

pub async fn queue(State(c): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = match staff(&c, &headers, &[Role::Clerk]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rows = match queue_rows(&c).await {
        Ok(rows) => rows,
        Err(e) => return db_failure(e),
    };
    let wanted = q.get("status").map(String::as_str).unwrap_or("open");
    // Empty: every station, every service.
    let station = q.get("station").map(String::as_str).unwrap_or("");
    let service = q.get("service").map(String::as_str).unwrap_or("");
    let open = |st: &str| !matches!(st, "completed" | "rejected");
    let shown: Vec<&QueueRow> = rows
        .iter()
        .filter(|r| match wanted {
            "all" => true,
            "open" => open(&r.status),
            other => r.status == other,
        })
        .filter(|r| station.is_empty() || r.station.as_deref() == Some(station))
        .filter(|r| service.is_empty() || r.service_code == service)
        .collect();
    // The choices: the stations and services the queue holds.
    let stations: BTreeMap<&str, &str> = rows
        .iter()
        .filter_map(|r| {
            let code = r.station.as_deref()?;
            Some((code, r.station_name.as_deref().unwrap_or(code)))
        })
        .collect();
    let services: BTreeMap<&str, &str> = rows
        .iter()
        .filter(|r| !r.service_code.is_empty())
        .map(|r| (r.service_code.as_str(), r.service.as_str()))
        .collect();
    page(
        "申请受理",
        Some(&s),
        "/console/applications",
        html! {
            div.card {
                h2 { "待处理的申请（" (shown.len()) "件）" }
                form method="get" {
                    label { "状态 " select name="status" {
                        @for (v, t) in [("open", "未办结"), ("received", "待受理"), ("accepted", "已受理"), ("need_materials", "待补正"), ("in_review", "审核中"), ("completed", "已办结"), ("rejected", "不予受理"), ("all", "全部")] {
                            option value=(v) selected[wanted == v] { (t) }
                        }
                    } }
                    label { "站点 " select name="station" id="filter-station" {
                        option value="" selected[station.is_empty()] { "全部站点" }
                        @for (code, name) in &stations {
                            option value=(code) selected[station == *code] { (name) }
                        }
                    } }
                    label { "事项 " select name="service" id="filter-service" {
                        option value="" selected[service.is_empty()] { "全部事项" }
                        @for (code, name) in &services {
                            option value=(code) selected[service == *code] { (name) }
                        }
                    } }
                    button type="submit" id="filter" { "筛选" }
                }
            }
            table id="queue" {
                tr { th { "受理编号" } th { "事项" } th { "站点" } th { "终端" } th { "平台接收时间" } th { "状态" } th { "容缺待补" } }
                @for r in &shown {
                    tr {
                        td { a href={ "/console/applications/" (r.receipt) } { (r.receipt) } }
                        td { (r.service) }
                        td { (r.station_name.as_deref().or(r.station.as_deref()).unwrap_or("—")) }
                        td { (r.terminal) }
                        td { (shown_time(r.received_at)) }
                        td { span.status { (status_title(&r.status)) } }
                        td { @if r.owed > 0 { span.owed { (r.owed) "份" } } @else { "—" } }
                    }
                }
            }
        },
    )
    .into_response()
}

struct Opened {
    terminal: String,
    received_at: i64,
    body: serde_json::Value,
    steps: Vec<(i64, String, String, Option<String>)>,
}

async fn open_application(c: &super::Console, receipt: &str) -> anyhow::Result<Option<Opened>> {
    let client = c.backend.pool().get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT terminal_id, sealed, received_at FROM records
             WHERE kind = 'application' AND id = $1 ORDER BY received_at LIMIT 1",
            &[&receipt],
        )
        .await?
    else {
        return Ok(None);
    };
    let terminal: String = row.get(0);
    let sealed: Vec<u8> = row.get(1);
    let body = c
        .backend
        .open_record("application", &terminal, receipt, &sealed)
        .ok_or_else(|| anyhow::anyhow!("application {receipt} does not open with the data key"))?;
    let steps = client
        .query(
            "SELECT at, status, note, actor FROM progress WHERE receipt_no = $1 ORDER BY seq",
            &[&receipt],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    Ok(Some(Opened {
        terminal,
        received_at: row.get(2),
        body,
        steps,
    }))
}

pub async fn application(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(receipt): Receipt,
) -> Response {
    let s = match staff(&c, &headers, &[Role::Clerk]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let opened = match open_application(&c, &receipt).await {
        Ok(Some(o)) => o,
        Ok(None) => return failure(StatusCode::NOT_FOUND, "没有这个受理编号的申请。"),
        Err(e) => return db_failure(e),
    };
    let _ = auth::audit(
        c.backend.pool(),
        &s.username,
        "open_application",
        &receipt,
        now_secs(),
    )
    .await;
    let app = &opened.body;
    let text = |p: &str| {
        app.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let status = opened
        .steps
        .last()
        .map(|s| s.1.clone())
        .unwrap_or_else(|| "received".into());
    let confirmation = &app["form"]["_confirmation"];
    let form_fields: Vec<(String, String)> = app["form"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let allowed: Vec<_> = STEPS
        .iter()
        .filter(|st| st.4.contains(&status.as_str()))
        .collect();
    let delivery = match app.pointer("/delivery/method").and_then(|v| v.as_str()) {
        Some("post") => format!("邮寄到 {}", mask_address(&text("/delivery/address"))),
        Some("electronic") => "电子送达".into(),
        _ => "窗口领取".into(),
    };
    page(
        &receipt,
        Some(&s),
        "/console/applications",
        html! {
            p { a href="/console/applications" { "← 返回列表" } }
            div.card {
                h2 { "申请 " (receipt) " " span.status id="current-status" { (status_title(&status)) } }
                table.kv {
                    tr { td { "事项" } td { (text("/service_name")) "（" (text("/service_code")) "）" } }
                    tr { td { "终端" } td { (opened.terminal) } }
                    tr { td { "提交时间" } td { (text("/created_at")) } }
                    tr { td { "平台接收" } td { (shown_time(opened.received_at)) } }
                    tr { td { "帮办人员" } td { (text("/assisted_by")) } }
                    tr { td { "送达方式" } td { (delivery) } }
                }
            }
            div.card {
                h2 { "申请人" }
                table.kv {
                    tr { td { "姓名" } td { (mask_name(&text("/applicant/name"))) } }
                    tr { td { "身份证号" } td { (mask_id(&text("/applicant/id_number"))) } }
                    tr { td { "联系电话" } td { (bianmin_core::form::mask_phone(&text("/applicant/phone"))) } }
                    tr { td { "身份核验" } td { (identified_by(&text("/applicant/identified_by"))) } }
                }
            }
            @if app.get("agent").is_some_and(|a| !a.is_null()) {
                div.card id="agent" {
                    h2 { "代办" }
                    table.kv {
                        tr { td { "代办人" } td { (mask_name(&text("/agent/name"))) } }
                        tr { td { "代办人身份证号" } td { (mask_id(&text("/agent/id_number"))) } }
                        tr { td { "与申请人关系" } td { "申请人的" (text("/agent/relationship")) } }
                        tr { td { "代办人身份核验" } td { (identified_by(&text("/agent/identified_by"))) } }
                        tr { td { "代办人声明" } td { (text("/agent/declaration")) } }
                    }
                }
            }
            div.card {
                h2 { "表单" }
                table.kv { @for (k, v) in &form_fields { tr { td { (k) } td { (v) } } } }
            }
            div.card {
                h2 { "材料" }
                table id="materials" {
                    tr { th { "材料" } th { "提供方式" } }
                    @for m in app["materials"].as_array().into_iter().flatten() {
                        @let (state, owed) = material_state(m["state"].as_str().unwrap_or(""));
                        // The day the kiosk promised on the receipt, when the guide set one.
                        @let due = m["due"].as_str().map(|d| format!("（请于{d}前补交）")).unwrap_or_default();
                        tr { td { (m["name"].as_str().unwrap_or("")) } td { @if owed { span.owed { (state) (due) } } @else { (state) } } }
                    }
                }
            }
            div.card {
                h2 { "申请人核对并签名确认的内容" }
                @for line in confirmation["summary"].as_array().into_iter().flatten() {
                    div { (line.as_str().unwrap_or("")) }
                }
                @if let Some(commitment) = confirmation["commitment"].as_str() {
                    h2 style="margin-top:10px" { "告知承诺书" }
                    div id="commitment" style="white-space:pre-wrap" { (commitment) }
                }
                @if let Some(png) = app["signature_png"].as_str() {
                    h2 style="margin-top:10px" { "签名" }
                    img alt="申请人签名" style="border:1px solid #d0d7de;max-height:140px" src={ "data:image/png;base64," (png) };
                }
            }
            div.card {
                h2 { "办理进度" }
                table id="steps" {
                    tr { th { "时间" } th { "状态" } th { "说明" } th { "经办" } }
                    tr { td { (shown_time(opened.received_at)) } td { "平台已接收" } td { "" } td { "" } }
                    @for (at, st, note, actor) in &opened.steps {
                        tr { td { (shown_time(*at)) } td { (status_title(st)) } td { (note) } td { (actor.clone().unwrap_or_default()) } }
                    }
                }
            }
            @if !allowed.is_empty() {
                div.card {
                    h2 { "办理" }
                    form method="post" action={ "/console/applications/" (receipt) "/step" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        p { @for (action, label, _, _, _) in &allowed {
                            label { input type="radio" name="action" value=(action) required; " " (label) }
                        } }
                        p { "说明（补正、不予受理时必填，会显示给申请人）" br; textarea name="note" id="note" rows="3" {} }
                        button type="submit" id="do-step" { "提交" }
                    }
                }
            }
        },
    )
    .into_response()
}

pub async fn step(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(receipt): Receipt,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, &[Role::Clerk], &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let opened = match open_application(&c, &receipt).await {
        Ok(Some(o)) => o,
        Ok(None) => return failure(StatusCode::NOT_FOUND, "没有这个受理编号的申请。"),
        Err(e) => return db_failure(e),
    };
    let status = opened
        .steps
        .last()
        .map(|s| s.1.clone())
        .unwrap_or_else(|| "received".into());
    let action = form.get("action").map(String::as_str).unwrap_or("");
    let note = form.get("note").map(|n| n.trim()).unwrap_or("");
    let Some(&(_, label, next, needs_note, from)) = STEPS.iter().find(|st| st.0 == action) else {
        return failure(StatusCode::BAD_REQUEST, "请选择一个办理步骤。");
    };
    if !from.contains(&status.as_str()) {
        return failure(
            StatusCode::CONFLICT,
            &format!("这件申请现在是“{}”，不能“{label}”。", status_title(&status)),
        );
    }
    if needs_note && note.is_empty() {
        return failure(
            StatusCode::BAD_REQUEST,
            &format!("“{label}”需要写明原因或缺少的材料。"),
        );
    }
    let note: String = note.chars().take(500).collect();
    let result = async {
        let client = c.backend.pool().get().await?;
        client
            .execute(
                "INSERT INTO progress (receipt_no, at, status, note, actor) VALUES ($1, $2, $3, $4, $5)",
                &[&receipt, &now_secs(), &next, &note, &s.display_name],
            )
            .await?;
        auth::audit(c.backend.pool(), &s.username, "application_step", &format!("{receipt} {next}"), now_secs()).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/console/applications/{receipt}")).into_response(),
        Err(e) => db_failure(e),
    }
}

/// 好差评 of one month: per service, counts per level.
struct Evaluation {
    terminal: String,
    id: String,
    service: String,
    level: i64,
    comment: String,
    created_at: String,
    received_at: i64,
    answer: Option<(String, String, i64)>,
}

async fn evaluations_of(c: &super::Console, month: &str) -> anyhow::Result<Vec<Evaluation>> {
    let client = c.backend.pool().get().await?;
    let rows = client
        .query(
            "SELECT r.terminal_id, r.id, r.facts, r.received_at, a.note, a.answered_by, a.answered_at
             FROM records r LEFT JOIN evaluation_answers a
                 ON a.terminal_id = r.terminal_id AND a.id = r.id
             WHERE r.kind = 'evaluation' AND r.facts->>'created_at' LIKE $1
             ORDER BY r.received_at DESC",
            &[&format!("{month}%")],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let facts: serde_json::Value = r.get(2);
            let note: Option<String> = r.get(4);
            Evaluation {
                terminal: r.get(0),
                id: r.get(1),
                service: facts["service_code"].as_str().unwrap_or("").into(),
                level: facts["level"].as_i64().unwrap_or(0),
                comment: facts["comment"].as_str().unwrap_or("").into(),
                created_at: facts["created_at"].as_str().unwrap_or("").into(),
                received_at: r.get(3),
                answer: note.map(|n| (n, r.get(5), r.get(6))),
            }
        })
        .collect())
}

const LEVELS: [(i64, &str); 5] = [
    (5, "非常满意"),
    (4, "满意"),
    (3, "基本满意"),
    (2, "不满意"),
    (1, "非常不满意"),
];

fn month_of(q: &HashMap<String, String>) -> String {
    q.get("month")
        .filter(|m| {
            m.len() == 7
                && m.as_bytes()[4] == b'-'
                && m.chars().filter(|c| c.is_ascii_digit()).count() == 6
        })
        .cloned()
        .unwrap_or_else(|| bianmin_core::time::rfc3339(now_secs() * 1000)[..7].to_string())
}

/// A bar chart of counts per level, drawn on the server as SVG.
fn level_chart(counts: &[(i64, &str, usize)]) -> Markup {
    let max = counts.iter().map(|c| c.2).max().unwrap_or(0).max(1);
    let (w, h, bar) = (520, 220, 70);
    html! {
        svg id="level-chart" width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="各评价等级的数量" {
            @for (i, (level, label, n)) in counts.iter().enumerate() {
                @let x = 30 + i * 98;
                @let bh = n * 150 / max;
                @let colour = if *level <= 2 { "#c62828" } else { "#0b4f8a" };
                rect x=(x) y=(180 - bh) width=(bar) height=(bh) fill=(colour) {}
                text x=(x + bar / 2) y=(172 - bh) text-anchor="middle" font-size="14" { (n) }
                text x=(x + bar / 2) y="202" text-anchor="middle" font-size="13" { (label) }
            }
            line x1="20" y1="180" x2=(w - 10) y2="180" stroke="#57606a" {}
        }
    }
}

pub async fn evaluations(
    State(c): State<Shared>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let s = match staff(&c, &headers, &[Role::Supervisor]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let month = month_of(&q);
    let evaluations = match evaluations_of(&c, &month).await {
        Ok(e) => e,
        Err(e) => return db_failure(e),
    };
    let reports = match cannot_get_done(&c).await {
        Ok(r) => r,
        Err(e) => return db_failure(e),
    };
    let counts: Vec<(i64, &str, usize)> = LEVELS
        .iter()
        .map(|(l, t)| (*l, *t, evaluations.iter().filter(|e| e.level == *l).count()))
        .collect();
    let mut by_service: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for e in &evaluations {
        by_service.entry(&e.service).or_default()[e.level.clamp(0, 5) as usize] += 1;
    }
    let bad: Vec<&Evaluation> = evaluations.iter().filter(|e| e.level <= 2).collect();
    let deadline = super::ANSWER_DEADLINE_DAYS * 86_400;
    let in_time = bad
        .iter()
        .filter(|e| {
            e.answer
                .as_ref()
                .is_some_and(|a| a.2 - e.received_at <= deadline)
        })
        .count();
    page(
        "好差评",
        Some(&s),
        "/console/evaluations",
        html! {
            div.card {
                h2 { "好差评统计 " (month) }
                form method="get" {
                    label { "月份 " input name="month" type="month" value=(month); }
                    button type="submit" { "查看" }
                    " " a id="csv" href={ "/console/evaluations.csv?month=" (month) } { "导出CSV" }
                }
                p id="totals" { "评价共" (evaluations.len()) "条，差评" (bad.len()) "条，差评按期整改"
                    (in_time) "条（" (if bad.is_empty() { "—".to_string() } else { format!("{}%", in_time * 100 / bad.len()) }) "，期限"
                    (super::ANSWER_DEADLINE_DAYS) "天）" }
                (level_chart(&counts))
            }
            div.card {
                h2 { "按事项" }
                table id="by-service" {
                    tr { th { "事项编码" } @for (_, t) in LEVELS { th { (t) } } th { "合计" } }
                    @for (service, n) in &by_service {
                        tr { td { (service) } @for (l, _) in LEVELS { td { (n[l as usize]) } } td { (n.iter().sum::<usize>()) } }
                    }
                }
            }
            div.card {
                h2 { "差评核实整改" }
                table id="bad" {
                    tr { th { "时间" } th { "事项" } th { "等级" } th { "意见" } th { "整改情况" } }
                    @for e in &bad {
                        tr {
                            td { (e.created_at.replace('T', " ").chars().take(16).collect::<String>()) }
                            td { (e.service) }
                            td { (LEVELS.iter().find(|l| l.0 == e.level).map(|l| l.1).unwrap_or("")) }
                            td { (e.comment) }
                            td {
                                @if let Some((note, by, at)) = &e.answer {
                                    (note) "（" (by) "，" (shown_time(*at)) "）"
                                } @else {
                                    form method="post" action={ "/console/evaluations/" (e.terminal) "/" (e.id) "/answer" } {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input type="hidden" name="month" value=(month);
                                        input name="note" placeholder="核实与整改情况" required;
                                        " " button type="submit" { "提交整改" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "办不成事反映（最近200条，已跟进" (reports.iter().filter(|r| r.followed_up.is_some()).count()) "条）" }
                table id="reports" {
                    tr { th { "时间" } th { "终端" } th { "事项" } th { "内容" } th { "回访电话" } th { "跟进" } }
                    @for r in &reports {
                        tr {
                            td { (r.at) } td { (r.terminal) } td { (r.service) } td { (r.message) }
                            td { (r.callback_phone.as_deref().unwrap_or("未留")) }
                            td {
                                @match &r.followed_up {
                                    Some((note, by, at)) => { (note) "（" (by) "，" (shown_time(*at)) "）" }
                                    None => {
                                        form method="post" action={ "/console/reports/" (r.terminal) "/" (r.id) "/follow-up" } {
                                            input type="hidden" name="csrf" value=(s.csrf);
                                            input type="hidden" name="month" value=(month);
                                            input type="text" name="note" placeholder="回访和处理情况" maxlength="500" required;
                                            button type="submit" { "记录跟进" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// One 办不成事 report as the supervisor reads it.
struct Report {
    at: String,
    terminal: String,
    id: String,
    service: String,
    /// What the resident said (masked by the kiosk before sending).
    message: String,
    /// The number they left to be called back on, opened with the data key:
    /// the supervisor calls it, so it is shown whole.
    callback_phone: Option<String>,
    /// The follow-up: note, who, when.
    followed_up: Option<(String, String, i64)>,
}

async fn cannot_get_done(c: &super::Console) -> anyhow::Result<Vec<Report>> {
    let client = c.backend.pool().get().await?;
    let rows = client
        .query(
            "SELECT r.terminal_id, r.id, r.sealed, r.facts, f.note, f.answered_by, f.answered_at
             FROM records r
             LEFT JOIN report_followups f ON f.terminal_id = r.terminal_id AND f.id = r.id
             WHERE r.kind = 'error_report' AND r.facts->>'kind' = 'cannot_get_done'
             ORDER BY r.received_at DESC LIMIT 200",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (terminal, id): (String, String) = (r.get(0), r.get(1));
            let sealed: Vec<u8> = r.get(2);
            let facts: serde_json::Value = r.get(3);
            let body = c
                .backend
                .open_record("error_report", &terminal, &id, &sealed);
            let field = |name: &str| {
                body.as_ref()
                    .and_then(|b| b[name].as_str())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let note: Option<String> = r.get(4);
            Report {
                at: facts["at"]
                    .as_str()
                    .unwrap_or("")
                    .replace('T', " ")
                    .chars()
                    .take(16)
                    .collect(),
                service: facts["service_code"].as_str().unwrap_or("").to_string(),
                message: field("message").unwrap_or_default(),
                callback_phone: field("callback_phone"),
                followed_up: note.map(|n| (n, r.get(5), r.get(6))),
                terminal,
                id,
            }
        })
        .collect())
}

pub async fn evaluations_csv(
    State(c): State<Shared>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Err(r) = staff(&c, &headers, &[Role::Supervisor]).await {
        return r;
    }
    let month = month_of(&q);
    let evaluations = match evaluations_of(&c, &month).await {
        Ok(e) => e,
        Err(e) => return db_failure(e),
    };
    let mut csv = String::from("月份,事项编码,非常满意,满意,基本满意,不满意,非常不满意,合计\n");
    let mut by_service: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for e in &evaluations {
        by_service.entry(&e.service).or_default()[e.level.clamp(0, 5) as usize] += 1;
    }
    for (service, n) in by_service {
        // A code is the county's text: quote it so a comma cannot shift columns.
        csv.push_str(&format!(
            "{month},\"{}\",{},{},{},{},{},{}\n",
            service.replace('"', "\"\""),
            n[5],
            n[4],
            n[3],
            n[2],
            n[1],
            n.iter().sum::<usize>()
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"evaluations-{month}.csv\""),
            ),
        ],
        // A BOM, so a spreadsheet opens the Chinese headers as UTF-8.
        format!("\u{feff}{csv}"),
    )
        .into_response()
}

/// What a supervisor writes under a kiosk's record, once: the answer to a
/// 差评 (核实整改), or the follow-up of a 办不成事 report (whom they called
/// back, what was done).
#[derive(Clone, Copy)]
pub enum Note {
    EvaluationAnswer,
    ReportFollowUp,
}

impl Note {
    /// Inserts terminal, id, note, who, when; a second note is ignored.
    fn insert(self) -> &'static str {
        match self {
            Note::EvaluationAnswer => {
                "INSERT INTO evaluation_answers (terminal_id, id, note, answered_by, answered_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            }
            Note::ReportFollowUp => {
                "INSERT INTO report_followups (terminal_id, id, note, answered_by, answered_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            }
        }
    }

    fn action(self) -> &'static str {
        match self {
            Note::EvaluationAnswer => "evaluation_answer",
            Note::ReportFollowUp => "report_followup",
        }
    }

    fn when_empty(self) -> &'static str {
        match self {
            Note::EvaluationAnswer => "请写明核实与整改情况。",
            Note::ReportFollowUp => "请写明回访和处理情况。",
        }
    }
}

/// Record a supervisor's note on a kiosk's record, audit it, and go back to
/// the 好差评 page.
pub async fn supervisor_note(
    note_kind: Note,
    State(c): State<Shared>,
    headers: HeaderMap,
    Path((terminal, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, &[Role::Supervisor], &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let note: String = form
        .get("note")
        .map(|n| n.trim())
        .unwrap_or("")
        .chars()
        .take(500)
        .collect();
    if note.is_empty() {
        return failure(StatusCode::BAD_REQUEST, note_kind.when_empty());
    }
    let result = async {
        let client = c.backend.pool().get().await?;
        client
            .execute(
                note_kind.insert(),
                &[&terminal, &id, &note, &s.display_name, &now_secs()],
            )
            .await?;
        auth::audit(
            c.backend.pool(),
            &s.username,
            note_kind.action(),
            &format!("{terminal} {id}"),
            now_secs(),
        )
        .await
    }
    .await;
    let month = form.get("month").cloned().unwrap_or_default();
    match result {
        Ok(()) => Redirect::to(&format!("/console/evaluations?month={month}")).into_response(),
        Err(e) => db_failure(e),
    }
}

/// One publication: its number, version, when, by whom, and to which
/// stations (None: all).
pub(crate) type ContentVersion = (i64, String, i64, String, Option<Vec<String>>);

pub(crate) async fn content_versions(c: &super::Console) -> anyhow::Result<Vec<ContentVersion>> {
    let client = c.backend.pool().get().await?;
    Ok(client
        .query(
            "SELECT seq, version, published_at, published_by, stations FROM content_versions ORDER BY seq DESC LIMIT 20",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}

/// The package being served, opened (the platform checks what it serves
/// with the same keys the kiosks trust).
pub(crate) async fn current_package(c: &super::Console) -> Option<bianmin_core::package::Package> {
    let published = c.backend.published(Doc::ContentPackage).await.ok()??;
    bianmin_core::package::open(&published.body, &c.publishers).ok()
}

pub(crate) fn content_page(
    s: &Staff,
    versions: &[ContentVersion],
    current: Option<&bianmin_core::package::Package>,
    outcome: Option<Result<String, String>>,
) -> Html<String> {
    page(
        "办事指南发布",
        Some(s),
        "/console/content",
        html! {
            @match &outcome {
                Some(Ok(m)) => div.ok id="outcome" { (m) },
                Some(Err(e)) => div.error id="outcome" { (e) },
                None => {},
            }
            div.card {
                h2 { "从源文件生成内容包" }
                p { "上传本县编辑的源文件：事项目录表格（.xlsx，工作表 目录、分类、事项、材料）、表单（.toml）、一件事（.toml）和内容包说明（package.toml）。平台逐项检查，有错会指出在哪个工作表第几行第几列（或第几行第几列）；通过后可逐项预览，再签名发布。可用 bianmin content export 把正在发布的内容包导出成源文件作为起点。" }
                form method="post" action="/console/content/sources" enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    table.kv {
                        tr { td { "事项目录表格" } td { input type="file" name="catalogue" id="src-catalogue" accept=".xlsx" required; } }
                        tr { td { "表单" } td { input type="file" name="forms" id="src-forms" accept=".toml" required; } }
                        tr { td { "一件事" } td { input type="file" name="bundles" id="src-bundles" accept=".toml" required; } }
                        tr { td { "内容包说明" } td { input type="file" name="header" id="src-header" accept=".toml" required; } }
                    }
                    p { button type="submit" id="build-sources" { "检查并生成" } }
                }
            }
            div.card {
                h2 { "发布记录" }
                @if versions.is_empty() { p { "还没有在本后台发布过内容包（正在发布的是平台启动时载入的）。" } }
                table id="versions" {
                    tr { th { "序号" } th { "版本" } th { "发布时间" } th { "发布人" } th { "发布范围" } }
                    @for (seq, v, at, by, stations) in versions {
                        tr { td { (seq) } td { (v) } td { (shown_time(*at)) } td { (by) }
                             td { @match stations { Some(list) => { (list.join("、")) }, None => { "全部站点" } } } }
                    }
                }
                @let to_all: Vec<&ContentVersion> = versions.iter().filter(|v| v.4.is_none()).collect();
                @if to_all.len() >= 2 {
                    form method="post" action="/console/content/rollback" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        p { button type="submit" id="rollback" { "全部站点回退到上一版本（" (to_all[1].1) "）" } }
                    }
                }
            }
            div.card {
                h2 { "发布新的内容包" }
                p { "粘贴发布人已签名的内容包（bianmin content build 生成的 .signed.json）。平台先核验签名并检查一致性，通过后才发布给各终端；终端在下一位居民开始时换用。" }
                form method="post" action="/console/content" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    textarea name="package" id="package" rows="8" required {}
                    p { button type="submit" id="publish" { "核验并发布" } }
                }
            }
            div.card {
                h2 { "正在发布的内容包" }
                @if let Some(p) = current {
                    p id="current-version" { "版本 " (p.version) "，事项" (p.catalogue.services.len()) "个，一件事" (p.bundles.bundles.len()) "个" }
                    table id="services" {
                        tr { th { "事项编码" } th { "名称" } th { "部门" } th { "预览" } }
                        @for svc in p.catalogue.services.iter().take(100) {
                            tr { td { (svc.code) } td { (svc.name) } td { (svc.department) }
                                 td { a href={ "/console/content/preview/" (svc.code) } { "预览" } } }
                        }
                    }
                } @else { p { "尚未发布内容包。" } }
            }
        },
    )
}

pub async fn content(State(c): State<Shared>, headers: HeaderMap) -> Response {
    let s = match staff(&c, &headers, &[Role::Author]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let versions = match content_versions(&c).await {
        Ok(v) => v,
        Err(e) => return db_failure(e),
    };
    let current = current_package(&c).await;
    content_page(&s, &versions, current.as_ref(), None).into_response()
}

/// Verify, check and publish a package; record who published which version.
/// Verify, check and publish a package — to every station (`stations`
/// None), or to those listed only (their terminals are served it; the
/// others keep theirs); record who published which version where.
pub(crate) async fn publish_body(
    c: &super::Console,
    s: &Staff,
    body: &[u8],
    action: &str,
    stations: Option<&[String]>,
) -> Result<String, String> {
    let package =
        bianmin_core::package::open(body, &c.publishers).map_err(|e| format!("未发布：{e}"))?;
    if let Some(list) = stations {
        if list.is_empty() {
            return Err("未发布：请至少选择一个站点，或选择发布到全部站点。".into());
        }
        if let Some(bad) = list
            .iter()
            .find(|code| code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("未发布：站点编码「{bad}」不是 12 位数字。"));
        }
    }
    let result = async {
        let client = c.backend.pool().get().await?;
        client
            .execute(
                "INSERT INTO content_versions (version, body, published_at, published_by, stations) VALUES ($1, $2, $3, $4, $5)",
                &[&package.version, &body, &now_secs(), &s.display_name, &stations],
            )
            .await?;
        if stations.is_none() {
            publish_on(&client, Doc::ContentPackage, body).await?;
        }
        let detail = match stations {
            Some(list) => format!("{} → {}", package.version, list.join(",")),
            None => package.version.clone(),
        };
        auth::audit(c.backend.pool(), &s.username, action, &detail, now_secs()).await
    }
    .await;
    result
        .map(|()| match stations {
            Some(list) => format!(
                "已发布版本 {} 到 {} 个站点（{}），这些站点的终端下次同步后在下一位居民开始时换用；其他站点不变。",
                package.version,
                list.len(),
                list.join("、")
            ),
            None => format!(
                "已发布版本 {}，各终端下次同步后在下一位居民开始时换用。",
                package.version
            ),
        })
        .map_err(|e: anyhow::Error| {
            tracing::error!(error = %e, "console: publishing");
            "数据库暂时无法访问，未发布，请稍后再试。".to_string()
        })
}

pub async fn publish(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, &[Role::Author], &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = form.get("package").map(|p| p.trim()).unwrap_or("");
    let outcome = publish_body(&c, &s, body.as_bytes(), "content_publish", None).await;
    let versions = content_versions(&c).await.unwrap_or_default();
    let current = current_package(&c).await;
    content_page(&s, &versions, current.as_ref(), Some(outcome)).into_response()
}

pub async fn rollback(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, &[Role::Author], &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let previous = async {
        let client = c.backend.pool().get().await?;
        let rows = client
            .query(
                "SELECT body FROM content_versions WHERE stations IS NULL ORDER BY seq DESC LIMIT 2",
                &[],
            )
            .await?;
        anyhow::Ok(rows.get(1).map(|r| r.get::<_, Vec<u8>>(0)))
    }
    .await;
    let outcome = match previous {
        Ok(Some(body)) => publish_body(&c, &s, &body, "content_rollback", None).await,
        Ok(None) => Err("没有可回退的上一版本。".to_string()),
        Err(e) => return db_failure(e),
    };
    let versions = content_versions(&c).await.unwrap_or_default();
    let current = current_package(&c).await;
    content_page(&s, &versions, current.as_ref(), Some(outcome)).into_response()
}

pub async fn preview(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let s = match staff(&c, &headers, &[Role::Author]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(package) = current_package(&c).await else {
        return failure(StatusCode::NOT_FOUND, "尚未发布内容包。");
    };
    guide_page(&s, &package, &code, "/console/content")
}

/// A guide of `package` as the kiosk shows it, with a way back to `back`.
pub(crate) fn guide_page(
    s: &Staff,
    package: &bianmin_core::package::Package,
    code: &str,
    back: &str,
) -> Response {
    let Some(svc) = package.catalogue.services.iter().find(|x| x.code == code) else {
        return failure(StatusCode::NOT_FOUND, "内容包里没有这个事项。");
    };
    page(
        &svc.name,
        Some(s),
        "/console/content",
        html! {
            p { a href=(back) { "← 返回" } }
            div.card style="max-width:800px" id="guide" {
                h2 { (svc.name) }
                p { (svc.summary) }
                table.kv {
                    @if !svc.item_code.is_empty() { tr { td { "事项编码" } td { (svc.item_code) } } }
                    tr { td { "办理部门" } td { (svc.department) } }
                    tr { td { "承诺时限" } td { (svc.time_limit) } }
                    @if !svc.legal_time_limit.is_empty() { tr { td { "法定时限" } td { (svc.legal_time_limit) } } }
                    tr { td { "收费" } td { (svc.fee) } }
                    tr { td { "告知承诺" } td { (if svc.commitment { "可以" } else { "不适用" }) } }
                    tr { td { "容缺受理" } td { (if svc.tolerant { "可以" } else { "不适用" }) } }
                    @if !svc.place.is_empty() { tr { td { "办理地点" } td { (svc.place) } } }
                    @if !svc.hours.is_empty() { tr { td { "办理时间" } td { (svc.hours) } } }
                    @if !svc.consult_phone.is_empty() { tr { td { "咨询电话" } td { (svc.consult_phone) } } }
                    @if !svc.complaint_phone.is_empty() { tr { td { "投诉电话" } td { (svc.complaint_phone) } } }
                    @if let Some(v) = svc.visits { tr { td { "到现场次数" } td { (v) } } }
                }
                h2 style="margin-top:10px" { "申请条件" }
                ul { @for c in &svc.conditions { li { (c) } } }
                h2 { "所需材料" }
                table { tr { th { "材料" } th { "份数" } th { "说明" } }
                    @for m in &svc.materials { tr { td { (m.name) @if m.key { "（关键材料）" } } td { (m.copies) } td { (m.note) } } } }
                @if !svc.process.is_empty() {
                    h2 style="margin-top:10px" { "办理流程" }
                    ol { @for step in &svc.process { li { (step) } } }
                }
                h2 style="margin-top:10px" { "设定依据" }
                ul { @for b in &svc.basis { li { (b) } } }
            }
        },
    )
    .into_response()
}

pub async fn audit_page(State(c): State<Shared>, headers: HeaderMap) -> Response {
    let s = match staff(&c, &headers, &[Role::Supervisor]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rows = async {
        let client = c.backend.pool().get().await?;
        anyhow::Ok(
            client
                .query("SELECT at, actor, action, detail FROM console_audit ORDER BY seq DESC LIMIT 200", &[])
                .await?
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1), r.get::<_, String>(2), r.get::<_, String>(3)))
                .collect::<Vec<_>>(),
        )
    }
    .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return db_failure(e),
    };
    page(
        "操作记录",
        Some(&s),
        "/console/audit",
        html! {
            table id="audit" {
                tr { th { "时间" } th { "人员" } th { "操作" } th { "对象" } }
                @for (at, actor, action, detail) in &rows { tr { td { (shown_time(*at)) } td { (actor) } td { (action) } td { (detail) } } }
            }
        },
    )
    .into_response()
}
