//! The back-office console (`/console`): server-rendered pages in Chinese
//! for a 1366×768 office screen, with a little CSS and no script.
//!
//! - 受理 clerks: the queue of applications, one application (form,
//!   materials and their states, the summary and 告知承诺 the resident
//!   signed under, the signature), and its steps 受理 → 补正 → 审核 → 办结 /
//!   不予受理, which are what the kiosk's progress query shows.
//! - Content authors: upload the county's sources (the catalogue
//!   spreadsheet, forms, bundles and texts in TOML), see every mistake by
//!   sheet, row and column, preview the built package's guides, publish it
//!   signed (by the platform's publisher key, or signed offline and pasted);
//!   publish a signed content package (verified against the publisher's key
//!   and checked before anything of it is served), roll back.
//! - County technicians: stations, every kiosk's live status (county and
//!   station views), alerts with their history, rules and webhook;
//!   software releases and their channels (版本发布).
//! - Supervisors: 好差评 by service and month with a chart, 差评 answered
//!   within the deadline, 办不成事 reports, CSV export, the audit trail.
//!
//! Every form carries the session's CSRF token; cookies are HttpOnly and
//! SameSite=Strict (and Secure when served over TLS).

pub mod auth;
mod authoring;
mod fleet;
mod pages;
mod releases;

use crate::db::PgBackend;
use auth::{Role, Staff, SESSION_COOKIE};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use bianmin_core::package::TrustedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// Days a supervisor has to answer a 差评 (核实整改).
pub const ANSWER_DEADLINE_DAYS: i64 = 15;

pub struct Console {
    pub backend: Arc<PgBackend>,
    /// Keys a content package must be signed with to be published.
    pub publishers: Vec<TrustedKey>,
    /// The county publisher's signing key, when this platform signs the
    /// packages authors build here from their sources; without it a built
    /// package is downloaded, signed offline and pasted back.
    pub content_signer: Option<ContentSigner>,
    /// Mark cookies Secure (the console is served over HTTPS).
    pub secure_cookies: bool,
    /// The kiosk API's URL printed in enrollment QR codes; by default the
    /// console's own origin.
    pub public_url: Option<String>,
}

/// The publisher's key file (`ed25519:BASE64` or `sm2:BASE64` of the
/// secret) and the key id the kiosks know it by.
#[derive(Clone)]
pub struct ContentSigner {
    key_id: String,
    key_file: zeroize::Zeroizing<String>,
}

impl ContentSigner {
    /// Refuses a key file that is not one (never echoing it).
    pub fn new(key_id: &str, key_file: &str) -> Result<ContentSigner, String> {
        bianmin_core::package::public_key_of(key_file).map_err(|e| e.to_string())?;
        Ok(ContentSigner {
            key_id: key_id.to_string(),
            key_file: zeroize::Zeroizing::new(key_file.trim().to_string()),
        })
    }

    /// The demo publisher (its secret is published on purpose: demo only).
    pub fn demo() -> ContentSigner {
        ContentSigner::new(
            bianmin_core::package::DEMO_KEY_ID,
            include_str!("../../../../config/content/demo-signing.key"),
        )
        .expect("the demo key file is valid")
    }

    /// `ed25519:…` / `sm2:…`: what kiosks must trust for its packages.
    pub fn public_key(&self) -> String {
        bianmin_core::package::public_key_of(&self.key_file).expect("checked when made")
    }

    pub(crate) fn sign(&self, package_text: &str) -> Result<String, String> {
        bianmin_core::package::sign(package_text, &self.key_id, &self.key_file)
            .map_err(|e| e.to_string())
    }
}

type Shared = Arc<Console>;

pub fn router(console: Console) -> Router {
    let shared = Arc::new(console);
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/login") }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/applications", get(pages::queue))
        .route("/console/applications/{receipt}", get(pages::application))
        .route("/console/applications/{receipt}/step", post(pages::step))
        .route("/console/evaluations", get(pages::evaluations))
        .route("/console/evaluations.csv", get(pages::evaluations_csv))
        .route(
            "/console/evaluations/{terminal}/{id}/answer",
            post(|s, h, p, f| pages::supervisor_note(pages::Note::EvaluationAnswer, s, h, p, f)),
        )
        .route(
            "/console/reports/{terminal}/{id}/follow-up",
            post(|s, h, p, f| pages::supervisor_note(pages::Note::ReportFollowUp, s, h, p, f)),
        )
        .route("/console/content", get(pages::content).post(pages::publish))
        .route("/console/content/rollback", post(pages::rollback))
        // Sources are a spreadsheet and three text files: a county's
        // catalogue of thousands of items runs to megabytes.
        .route(
            "/console/content/sources",
            post(authoring::upload_sources).layer(axum::extract::DefaultBodyLimit::max(32 << 20)),
        )
        .route("/console/content/drafts/{id}", get(authoring::draft))
        .route(
            "/console/content/drafts/{id}/package.json",
            get(authoring::draft_download),
        )
        .route(
            "/console/content/drafts/{id}/preview/{code}",
            get(authoring::draft_preview),
        )
        .route(
            "/console/content/drafts/{id}/publish",
            post(authoring::publish_draft),
        )
        .route("/console/content/preview/{code}", get(pages::preview))
        .route("/console/audit", get(pages::audit_page))
        .route("/console/fleet", get(fleet::county))
        .route("/console/fleet/kiosks/{terminal}", get(fleet::kiosk))
        .route(
            "/console/fleet/kiosks/{terminal}/commands",
            post(fleet::send_command),
        )
        .route("/console/fleet/commands/{id}", get(fleet::command_result))
        .route(
            "/console/fleet/kiosks/{terminal}/config",
            post(fleet::save_config),
        )
        .route(
            "/console/fleet/kiosks/{terminal}/config/rollback",
            post(fleet::rollback_config),
        )
        .route(
            "/console/fleet/stations",
            get(fleet::stations).post(fleet::create_station),
        )
        .route(
            "/console/fleet/stations/{code}/codes",
            post(fleet::enrollment_codes),
        )
        .route("/console/fleet/admin-pin", post(fleet::set_admin_pin))
        .route(
            "/console/fleet/stations/{code}/config",
            get(fleet::station_config).post(fleet::save_station_config),
        )
        .route(
            "/console/fleet/stations/{code}/config/rollback",
            post(fleet::rollback_station_config),
        )
        .route(
            "/console/fleet/stations/{code}/updates",
            post(fleet::save_station_updates),
        )
        .route("/console/releases", get(releases::releases))
        .route("/console/releases/promote", post(releases::promote))
        .route("/console/releases/auto", post(releases::save_auto))
        .route("/console/alerts", get(fleet::alerts))
        .route("/console/alerts/rules", post(fleet::save_rules))
        .route("/console/alerts/close", post(fleet::close_alert_by_hand))
        .with_state(shared)
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(c: &Console, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if c.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("ASCII cookie")
}

/// A page in answer to a failure: to staff in plain Chinese, detail in the
/// log only.
pub(crate) fn failure(status: StatusCode, sentence: &str) -> Response {
    (status, pages::message_page("出错了", sentence)).into_response()
}

pub(crate) fn db_failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: database");
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "数据库暂时无法访问，请稍后再试。",
    )
}

/// The signed-in member of staff, or the answer to give instead (sign in
/// first; this page is not for your role).
pub(crate) async fn staff(
    c: &Console,
    headers: &HeaderMap,
    roles: &[Role],
) -> Result<Staff, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(Redirect::to("/console/login").into_response());
    };
    match auth::session(c.backend.pool(), token, now_secs()).await {
        Ok(Some(s)) if roles.contains(&s.role) => Ok(s),
        Ok(Some(s)) => Err(failure(
            StatusCode::FORBIDDEN,
            &format!("您的角色（{}）不能使用这一页。", s.role.title()),
        )),
        Ok(None) => Err(Redirect::to("/console/login").into_response()),
        Err(e) => Err(db_failure(e)),
    }
}

/// For a POST: the member of staff, with the form's CSRF token checked.
pub(crate) async fn staff_posting(
    c: &Console,
    headers: &HeaderMap,
    roles: &[Role],
    form: &HashMap<String, String>,
) -> Result<Staff, Response> {
    let s = staff(c, headers, roles).await?;
    let posted = form.get("csrf").map(String::as_str).unwrap_or("");
    if !auth::csrf_matches(&s.csrf, posted) {
        let _ = auth::audit(
            c.backend.pool(),
            &s.username,
            "csrf_refused",
            "a form without its token",
            now_secs(),
        )
        .await;
        return Err(failure(
            StatusCode::FORBIDDEN,
            "表单已失效（缺少或错误的安全令牌），请返回重新打开页面后再提交。",
        ));
    }
    Ok(s)
}

/// The login form carries a token of its own (double-submit: the same
/// random value in a cookie and a hidden field), so a page elsewhere cannot
/// sign a browser in to an account of its choosing.
const LOGIN_COOKIE: &str = "bm_login";

async fn login_page(State(c): State<Shared>) -> Response {
    let token = auth::random_token();
    (
        [(
            header::SET_COOKIE,
            set_cookie(&c, LOGIN_COOKIE, &token, 1800),
        )],
        pages::login_page(&token, None),
    )
        .into_response()
}

async fn login(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let again = |why: &str| {
        let token = auth::random_token();
        (
            StatusCode::OK,
            [(
                header::SET_COOKIE,
                set_cookie(&c, LOGIN_COOKIE, &token, 1800),
            )],
            pages::login_page(&token, Some(why)),
        )
            .into_response()
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !auth::csrf_matches(expected, field("csrf")) {
        return again("登录页已过期，请重新输入。");
    }
    match auth::sign_in(
        c.backend.pool(),
        field("username").trim(),
        field("password"),
        now_secs(),
    )
    .await
    {
        Ok(Ok(token)) => {
            let role = match auth::session(c.backend.pool(), &token, now_secs()).await {
                Ok(Some(s)) => s.role,
                Ok(None) => return again("登录失败，请重试。"),
                Err(e) => return db_failure(e),
            };
            let mut r = Redirect::to(role.home()).into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&c, SESSION_COOKIE, &token, auth::SESSION_SECS),
            );
            r.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&c, LOGIN_COOKIE, "", 0));
            r
        }
        Ok(Err(auth::SignInError::Wrong)) => again("用户名或密码不正确。"),
        Ok(Err(auth::SignInError::Locked { minutes })) => again(&format!(
            "连续输错次数过多，账号已锁定，请{minutes}分钟后再试或联系管理员。"
        )),
        Err(e) => db_failure(e),
    }
}

async fn logout(
    State(c): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let roles = [
        Role::Clerk,
        Role::Author,
        Role::Supervisor,
        Role::Technician,
    ];
    let s = match staff_posting(&c, &headers, &roles, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = auth::sign_out(c.backend.pool(), token).await {
            return db_failure(e);
        }
    }
    let _ = auth::audit(c.backend.pool(), &s.username, "sign_out", "", now_secs()).await;
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&c, SESSION_COOKIE, "", 0));
    r
}

/// Query parameters of list pages.
pub(crate) type Params = Query<HashMap<String, String>>;
pub(crate) type Receipt = Path<String>;
