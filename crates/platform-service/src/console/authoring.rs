//! Content authors build a package here from the county's sources (issue
//! 17): the catalogue spreadsheet and the TOML files go through the same
//! authoring crate as `bianmin content build`; every mistake is listed with
//! its sheet, row and column; a package that builds is kept as a draft to
//! preview guide by guide, then signed with the platform's publisher key and
//! published — or, on a platform without that key, downloaded, signed
//! offline and pasted on the content page.

use super::auth::{Role, Staff};
use super::pages::{content_page, guide_page, page, publish_body};
use super::{db_failure, failure, now_secs, staff, staff_posting, Shared};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use bianmin_core::package::{self, Package};
use maud::html;
use std::collections::HashMap;

/// The upload's four files: form field, what authors call it.
const SOURCES: [(&str, &str); 4] = [
    ("catalogue", "事项目录表格"),
    ("forms", "表单"),
    ("bundles", "一件事"),
    ("header", "内容包说明"),
];

struct Draft {
    body: String,
    version: String,
    sources: String,
    built_at: i64,
    built_by: String,
}

async fn load_draft(c: &super::Console, id: i64) -> anyhow::Result<Option<Draft>> {
    let client = c.backend.pool().get().await?;
    Ok(client
        .query_opt(
            "SELECT body, version, sources, built_at, built_by FROM content_drafts WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| Draft {
            body: r.get(0),
            version: r.get(1),
            sources: r.get(2),
            built_at: r.get(3),
            built_by: r.get(4),
        }))
}

/// What went wrong, listed one per line with where it is.
fn mistakes_page(s: &Staff, mistakes: &[String]) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        page(
            "源文件有错",
            Some(s),
            "/console/content",
            html! {
                div.error id="message" { "源文件有错，没有生成内容包。请按下面所列逐条改正后重新上传。" }
                div.card {
                    ol id="source-errors" { @for m in mistakes { li { (m) } } }
                    p { a href="/console/content" { "← 返回办事指南发布" } }
                }
            },
        ),
    )
        .into_response()
}

pub async fn upload_sources(
    State(c): State<Shared>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    // Signed in before a byte of the upload is read.
    if let Err(r) = staff(&c, &headers, &[Role::Author]).await {
        return r;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "console: an upload broke off");
                        return failure(StatusCode::BAD_REQUEST, "上传没有完成，请重新上传。");
                    }
                };
                match file_name {
                    Some(file_name) => {
                        files.insert(name, (file_name, bytes.to_vec()));
                    }
                    None => {
                        fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "console: a malformed upload");
                return failure(
                    StatusCode::BAD_REQUEST,
                    "上传的内容不完整或过大（最多 32 MB），请重新上传。",
                );
            }
        }
    }
    let s = match staff_posting(&c, &headers, &[Role::Author], &fields).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut mistakes = Vec::new();
    for (field, title) in SOURCES {
        match files.get(field) {
            None => mistakes.push(format!("没有上传{title}文件")),
            Some((_, bytes)) if bytes.is_empty() => mistakes.push(format!("{title}文件是空的")),
            Some((name, bytes)) if field != "catalogue" && std::str::from_utf8(bytes).is_err() => {
                mistakes.push(format!("{name}：不是 UTF-8 编码的文本文件"))
            }
            Some(_) => {}
        }
    }
    if !mistakes.is_empty() {
        return mistakes_page(&s, &mistakes);
    }
    let file = |field: &str| &files[field];
    let text = |field: &str| std::str::from_utf8(&file(field).1).expect("checked above");
    let built = bianmin_content::build(&bianmin_content::Sources {
        header: (&file("header").0, text("header")),
        catalogue: (&file("catalogue").0, &file("catalogue").1),
        forms: (&file("forms").0, text("forms")),
        bundles: (&file("bundles").0, text("bundles")),
    });
    let body = match built {
        Ok(body) => body,
        Err(errors) => {
            let listed: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            return mistakes_page(&s, &listed);
        }
    };
    let version = package::check(&body).map(|p| p.version).unwrap_or_default();
    let sources = SOURCES
        .iter()
        .map(|(field, _)| file(field).0.as_str())
        .collect::<Vec<_>>()
        .join("、");
    let saved = async {
        let client = c.backend.pool().get().await?;
        let id: i64 = client
            .query_one(
                "INSERT INTO content_drafts (body, version, sources, built_at, built_by)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&body, &version, &sources, &now_secs(), &s.display_name],
            )
            .await?
            .get(0);
        super::auth::audit(
            c.backend.pool(),
            &s.username,
            "content_build",
            &version,
            now_secs(),
        )
        .await?;
        anyhow::Ok(id)
    }
    .await;
    match saved {
        Ok(id) => Redirect::to(&format!("/console/content/drafts/{id}")).into_response(),
        Err(e) => db_failure(e),
    }
}

/// The draft, opened as the kiosks will (its consistency was checked when
/// it was built; nothing of it is served before it is signed and published).
async fn draft_of(c: &super::Console, id: i64) -> Result<(Draft, Package), Response> {
    let draft = match load_draft(c, id).await {
        Ok(Some(d)) => d,
        Ok(None) => return Err(failure(StatusCode::NOT_FOUND, "没有这个草稿。")),
        Err(e) => return Err(db_failure(e)),
    };
    match package::check(&draft.body) {
        Ok(p) => Ok((draft, p)),
        Err(e) => Err(failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("草稿不能使用：{e}"),
        )),
    }
}

/// The stations a package may be published to, by code.
async fn stations(c: &super::Console) -> anyhow::Result<Vec<(String, String)>> {
    let client = c.backend.pool().get().await?;
    Ok(client
        .query("SELECT code, name FROM stations ORDER BY code", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

pub async fn draft(State(c): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let s = match staff(&c, &headers, &[Role::Author]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (draft, package) = match draft_of(&c, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let stations = match stations(&c).await {
        Ok(list) => list,
        Err(e) => return db_failure(e),
    };
    page(
        "内容包草稿",
        Some(&s),
        "/console/content",
        html! {
            div.ok id="message" { "源文件检查通过，已生成内容包草稿。请逐项预览，确认无误后发布。" }
            div.card {
                h2 { "草稿" }
                table.kv {
                    tr { td { "版本" } td id="draft-version" { (draft.version) } }
                    tr { td { "事项" } td { (package.catalogue.services.len()) " 个，分类 " (package.catalogue.categories.len()) " 个" } }
                    tr { td { "一件事" } td { (package.bundles.bundles.len()) " 个" } }
                    tr { td { "演示数据" } td { (if package.demo_data { "是" } else { "否" }) } }
                    tr { td { "站点选择" } td { @if package.stations.is_empty() { "各站点提供全部事项" } @else { (package.stations.len()) " 个站点各有所选事项，其余站点提供全部事项" } } }
                    tr { td { "源文件" } td { (draft.sources) } }
                    tr { td { "生成" } td { (super::pages::shown_time(draft.built_at)) "，" (draft.built_by) } }
                }
                @if c.content_signer.is_some() {
                    form method="post" action={ "/console/content/drafts/" (id) "/publish" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        p {
                            label { input type="radio" name="scope" value="all" id="scope-all" checked; " 发布到全部站点" }
                            label { input type="radio" name="scope" value="some" id="scope-some"; " 只发布到选中的站点（先在部分站点试用）：" }
                        }
                        p id="draft-stations" {
                            @for (code, name) in &stations {
                                label { input type="checkbox" name="station" value=(code) id={ "station-" (code) }; " " (name) "（" (code) "）" }
                            }
                            @if stations.is_empty() { "（还没有登记站点）" }
                        }
                        p { button type="submit" id="publish-draft" { "用发布密钥签名并发布" } }
                    }
                } @else {
                    p { "本平台没有配置发布密钥：请 " a id="download-draft" href={ "/console/content/drafts/" (id) "/package.json" } { "下载未签名的内容包" } "，由持有发布密钥的人用 bianmin content sign 签名后，粘贴到办事指南发布页发布。" }
                }
            }
            div.card {
                h2 { "逐项预览" }
                table id="draft-services" {
                    tr { th { "事项编码" } th { "名称" } th { "部门" } th { "预览" } }
                    @for svc in &package.catalogue.services {
                        tr { td { (svc.code) } td { (svc.name) } td { (svc.department) }
                             td { a href={ "/console/content/drafts/" (id) "/preview/" (svc.code) } { "预览" } } }
                    }
                }
            }
        },
    )
    .into_response()
}

pub async fn draft_download(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = staff(&c, &headers, &[Role::Author]).await {
        return r;
    }
    let (draft, _) = match draft_of(&c, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    (
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"content-draft-{id}.json\""),
            ),
        ],
        draft.body,
    )
        .into_response()
}

pub async fn draft_preview(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path((id, code)): Path<(i64, String)>,
) -> Response {
    let s = match staff(&c, &headers, &[Role::Author]).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (_, package) = match draft_of(&c, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    guide_page(
        &s,
        &package,
        &code,
        &format!("/console/content/drafts/{id}"),
    )
}

pub async fn publish_draft(
    State(c): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    // Pairs, not a map: every ticked station arrives as its own `station`.
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> Response {
    let form: HashMap<String, String> = pairs.iter().cloned().collect();
    let stations: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "station")
        .map(|(_, v)| v.clone())
        .collect();
    let to_some = form.get("scope").is_some_and(|v| v == "some");
    let s = match staff_posting(&c, &headers, &[Role::Author], &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(signer) = &c.content_signer else {
        return failure(
            StatusCode::CONFLICT,
            "本平台没有配置发布密钥，请下载草稿签名后粘贴发布。",
        );
    };
    let (draft, _) = match draft_of(&c, id).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let outcome = match signer.sign(&draft.body) {
        Ok(signed) => {
            let scope = to_some.then_some(stations.as_slice());
            publish_body(&c, &s, signed.as_bytes(), "content_publish", scope).await
        }
        Err(e) => {
            tracing::error!(error = %e, "console: signing a draft");
            Err("签名失败，未发布：请技术人员检查发布密钥。".to_string())
        }
    };
    let versions = super::pages::content_versions(&c).await.unwrap_or_default();
    let current = super::pages::current_package(&c).await;
    content_page(&s, &versions, current.as_ref(), Some(outcome)).into_response()
}
