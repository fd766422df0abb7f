//! 版本发布, for technicians: the releases in the APT repository with
//! their channels, how many kiosks run each and how their installations
//! went, promotion to stable by hand, and the hours after which the fleet
//! watch promotes a healthy release by itself.

use super::auth::{self, Role, Staff};
use super::pages::{page, shown_time};
use super::{db_failure, now_secs, staff, staff_posting, Shared};
use crate::fleet::setting;
use crate::updates::{self, outcome_title, upstream_of, AUTO_PROMOTE_SETTING};
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::{BTreeMap, HashMap};

const TECHNICIAN: &[Role] = &[Role::Technician];

/// The longest automatic-promotion wait a technician may set (30 days).
const MAX_AUTO_HOURS: i64 = 720;

struct ReleaseRow {
    version: String,
    architectures: Vec<String>,
    added_at: i64,
    added_by: String,
    canary_since: Option<i64>,
    stable_since: Option<i64>,
    promoted_by: Option<String>,
    /// Kiosks whose heartbeat says they run it.
    running: i64,
    /// Kiosks whose latest report is about it, by outcome.
    outcomes: BTreeMap<String, i64>,
}

async fn release_rows(client: &deadpool_postgres::Client) -> anyhow::Result<Vec<ReleaseRow>> {
    let running: HashMap<String, i64> = client
        .query("SELECT version, count(*) FROM kiosks GROUP BY version", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut outcomes: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for r in client
        .query(
            "SELECT update_version, update_outcome, count(*) FROM kiosks
             WHERE update_version IS NOT NULL GROUP BY 1, 2",
            &[],
        )
        .await?
    {
        outcomes
            .entry(r.get(0))
            .or_default()
            .insert(r.get(1), r.get(2));
    }
    let rows = client
        .query(
            "SELECT r.version, r.added_at, r.added_by, r.canary_since, r.stable_since,
                    r.promoted_by,
                    (SELECT string_agg(architecture, ' ' ORDER BY architecture)
                     FROM release_files f WHERE f.version = r.version)
             FROM releases r ORDER BY r.rank DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let version: String = r.get(0);
            // A heartbeat names the program's version ("0.90.2"), the
            // repository the package's ("0.90.2-1").
            let upstream = upstream_of(&version);
            let mut count = running.get(&version).copied().unwrap_or(0);
            if upstream != version {
                count += running.get(upstream).copied().unwrap_or(0);
            }
            ReleaseRow {
                outcomes: outcomes.remove(&version).unwrap_or_default(),
                version,
                added_at: r.get(1),
                added_by: r.get(2),
                canary_since: r.get(3),
                stable_since: r.get(4),
                promoted_by: r.get(5),
                architectures: r
                    .get::<_, Option<String>>(6)
                    .map(|s| s.split(' ').map(str::to_string).collect())
                    .unwrap_or_default(),
                running: count,
            }
        })
        .collect())
}

/// How many stations follow each channel.
async fn station_channels(
    client: &deadpool_postgres::Client,
) -> anyhow::Result<BTreeMap<String, i64>> {
    Ok(client
        .query(
            "SELECT channel, count(*) FROM stations GROUP BY channel",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

async fn releases_page(c: &Shared, s: &Staff, message: Option<Result<String, String>>) -> Response {
    let loaded = async {
        let client = c.backend.pool().get().await?;
        let rows = release_rows(&client).await?;
        let auto = setting(&client, AUTO_PROMOTE_SETTING).await?;
        let channels = station_channels(&client).await?;
        anyhow::Ok((rows, auto, channels))
    }
    .await;
    let (rows, auto, channels) = match loaded {
        Ok(v) => v,
        Err(e) => return db_failure(e),
    };
    let served = c.backend.apt().is_some();
    page(
        "版本发布",
        Some(s),
        "/console/releases",
        html! {
            (super::pages::outcome_message(&message))
            div.card {
                h2 { "终端程序版本" }
                @if served {
                    p {
                        "新版本先发到" b { "试点版" } "（"
                        (channels.get("canary").copied().unwrap_or(0)) " 个试点站点），确认运行正常后推广到"
                        b { "稳定版" } "（其余 " (channels.get("stable").copied().unwrap_or(0)) " 个站点）。"
                        "终端在站点的维护时段内自动安装，不正常时自动回滚到原版本。"
                    }
                    p { "发布新版本：在平台服务器上运行 " code { "bianmin-platform release add 安装包.deb" } "。" }
                } @else {
                    p.owed id="no-repository" { "本平台没有配置软件仓库（serve --apt-dir），终端不从这里更新。" }
                }
                @if rows.is_empty() {
                    p id="no-releases" { "还没有发布过版本。" }
                } @else {
                    table id="releases" {
                        tr {
                            th { "版本" } th { "架构" } th { "发布" } th { "试点版" } th { "稳定版" }
                            th { "正在运行" } th { "安装结果" } th { "" }
                        }
                        @for r in &rows {
                            tr data-version=(r.version) {
                                td { b { (r.version) } }
                                td { (r.architectures.join("、")) }
                                td { (shown_time(r.added_at)) br; (r.added_by) }
                                td { @match r.canary_since { Some(t) => { "自 " (shown_time(t)) } None => { "—" } } }
                                td class="stable" {
                                    @match (r.stable_since, &r.promoted_by) {
                                        (Some(t), Some(by)) if by == "auto" => { "自 " (shown_time(t)) br; "自动推广" }
                                        (Some(t), Some(by)) => { "自 " (shown_time(t)) br; (by) " 推广" }
                                        (Some(t), None) => { "自 " (shown_time(t)) }
                                        (None, _) => { "—" }
                                    }
                                }
                                td { (r.running) " 台" }
                                td class="outcomes" {
                                    @if r.outcomes.is_empty() { "—" }
                                    @for (outcome, n) in &r.outcomes {
                                        @let bad = matches!(outcome.as_str(), "rolled_back" | "failed");
                                        span class=[bad.then_some("owed")] { (outcome_title(outcome)) " " (n) " 台" }
                                        br;
                                    }
                                }
                                td {
                                    @if served && r.canary_since.is_some() && r.stable_since.is_none() {
                                        form method="post" action="/console/releases/promote" {
                                            input type="hidden" name="csrf" value=(s.csrf);
                                            input type="hidden" name="version" value=(r.version);
                                            button type="submit" id={"promote-" (r.version)} { "推广到稳定版" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.card style="margin-top:14px" {
                h2 { "自动推广" }
                p {
                    "试点版中的版本满设定的小时数，且至少有一台终端报告运行正常、没有终端回滚过，就自动推广到稳定版。"
                    @match &auto { Some(h) => { "目前：" (h) " 小时后自动推广。" } None => { "目前关闭，只能手动推广。" } }
                }
                form method="post" action="/console/releases/auto" id="auto-promote" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="hours" { "正常运行满（小时，1 到 " (MAX_AUTO_HOURS) "；空为关闭）" }
                    input id="hours" name="hours" size="6" value=(auto.clone().unwrap_or_default());
                    " "
                    button type="submit" id="save-auto" { "保存" }
                }
            }
        },
    )
    .into_response()
}

pub async fn releases(State(c): State<Shared>, headers: HeaderMap) -> Response {
    match staff(&c, &headers, TECHNICIAN).await {
        Ok(s) => releases_page(&c, &s, None).await,
        Err(r) => r,
    }
}

pub async fn promote(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(repo) = c.backend.apt() else {
        let why = "本平台没有配置软件仓库，不能推广。".to_string();
        return releases_page(&c, &s, Some(Err(why))).await;
    };
    let version = form.get("version").map(String::as_str).unwrap_or("");
    match updates::promote(c.backend.pool(), repo, version, &s.username, now_secs()).await {
        Ok(true) => {
            let m =
                format!("已把 {version} 推广到稳定版：稳定版站点的终端在各自的维护时段内安装。");
            releases_page(&c, &s, Some(Ok(m))).await
        }
        Ok(false) => {
            let why = format!("{version} 不在试点版中，或已在稳定版。");
            releases_page(&c, &s, Some(Err(why))).await
        }
        Err(e) => db_failure(e),
    }
}

pub async fn save_auto(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = match staff_posting(&c, &headers, TECHNICIAN, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let raw = form.get("hours").map(|v| v.trim()).unwrap_or("");
    let hours = if raw.is_empty() {
        None
    } else {
        match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_AUTO_HOURS).contains(&n) => Some(n),
            _ => {
                let why =
                    format!("自动推广的小时数应为 1 到 {MAX_AUTO_HOURS} 之间的整数，或留空关闭。");
                return releases_page(&c, &s, Some(Err(why))).await;
            }
        }
    };
    let saved = async {
        let client = c.backend.pool().get().await?;
        match hours {
            Some(h) => {
                client
                    .execute(
                        "INSERT INTO fleet_settings (key, value) VALUES ($1, $2)
                         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        &[&AUTO_PROMOTE_SETTING, &h.to_string()],
                    )
                    .await?;
            }
            None => {
                client
                    .execute(
                        "DELETE FROM fleet_settings WHERE key = $1",
                        &[&AUTO_PROMOTE_SETTING],
                    )
                    .await?;
            }
        }
        let detail = hours.map_or("off".to_string(), |h| format!("{h} h"));
        auth::audit(
            c.backend.pool(),
            &s.username,
            "auto_promote",
            &detail,
            now_secs(),
        )
        .await
    }
    .await;
    match saved {
        Ok(()) => {
            let m = match hours {
                Some(h) => format!("已保存：试点版中正常运行满 {h} 小时的版本自动推广到稳定版。"),
                None => "已关闭自动推广。".to_string(),
            };
            releases_page(&c, &s, Some(Ok(m))).await
        }
        Err(e) => db_failure(e),
    }
}
