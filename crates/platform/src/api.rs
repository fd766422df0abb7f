//! Types of the platform API (docs/platform-api.yaml), shared by the kiosk's
//! client and the reference server. Field names are the wire names.

use crate::seal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Path prefix of every API route on the reference server; a kiosk's
/// `platform.url` is `{origin}/api/v1`.
pub const API_PREFIX: &str = "/api/v1";

pub const HDR_TERMINAL: &str = "x-terminal-id";
pub const HDR_TIMESTAMP: &str = "x-timestamp";
pub const HDR_SIGNATURE: &str = "x-signature";

/// The resident as identified at the terminal. Personal data: encrypted at
/// rest, sent only over TLS, never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Applicant {
    pub name: String,
    pub id_number: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
}

impl std::fmt::Debug for Applicant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Applicant(***)")
    }
}

/// State of one required material (申请材料).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterialState {
    /// Handed in or scanned at the terminal.
    Provided,
    /// Taken from the resident's e-certificates (免证办).
    ECert,
    /// 待核验: to be taken from the resident's e-certificates, which could not
    /// be fetched at the terminal (offline). The platform verifies it; the
    /// resident owes nothing unless that fails.
    ECertPending,
    /// Missing, accepted under 容缺受理 (to be supplied later).
    Pending,
    /// Replaced by the resident's written commitment (告知承诺制).
    Committed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub name: String,
    pub state: MaterialState,
}

/// How the result reaches the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Delivery {
    /// Collected at the station window (窗口领取).
    #[default]
    Pickup,
    /// Posted (邮寄); the address is personal data.
    Post { address: String },
    /// Electronic result only (电子证照).
    Electronic,
}

/// One application as sent to the platform (`POST /applications/batch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationWire {
    pub receipt_no: String,
    pub terminal_id: String,
    pub service_code: String,
    pub service_name: String,
    /// RFC 3339 with offset, time the terminal took the application.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assisted_by: Option<String>,
    pub applicant: Applicant,
    #[serde(default)]
    pub form: serde_json::Value,
    #[serde(default)]
    pub materials: Vec<Material>,
    #[serde(default)]
    pub delivery: Delivery,
    /// PNG of the handwritten signature, base64 (standard alphabet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_png: Option<String>,
}

/// How the result reaches the resident, without the address: what a kiosk
/// keeps in clear of [`Delivery`] (the receipt's next step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    Pickup,
    Post,
    Electronic,
}

impl From<&Delivery> for DeliveryMethod {
    fn from(delivery: &Delivery) -> Self {
        match delivery {
            Delivery::Pickup => DeliveryMethod::Pickup,
            Delivery::Post { .. } => DeliveryMethod::Post,
            Delivery::Electronic => DeliveryMethod::Electronic,
        }
    }
}

/// An application as a kiosk stores and sends it: what the kiosk itself
/// must read stays in clear (receipt number, service, time, the clerk,
/// the masked name, the materials' states, how the result is delivered);
/// the personal fields ([`PersonalFields`]) are sealed to the platform's
/// public key in `sealed`, which the kiosk cannot open. The platform opens
/// it into an [`ApplicationWire`] (see [`open_record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedApplicationWire {
    pub receipt_no: String,
    pub terminal_id: String,
    pub service_code: String,
    pub service_name: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assisted_by: Option<String>,
    /// The applicant's name masked (张*, 欧**娜) for the clerk's view.
    pub masked_name: String,
    #[serde(default)]
    pub materials: Vec<Material>,
    pub delivery_method: DeliveryMethod,
    pub sealed: seal::Envelope,
}

/// The fields of an application sealed to the platform's key: the JSON
/// object inside [`SealedApplicationWire::sealed`].
#[derive(Serialize, Deserialize)]
pub struct PersonalFields {
    pub applicant: Applicant,
    #[serde(default)]
    pub form: serde_json::Value,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_png: Option<String>,
}

/// Fields of a record that the platform opens from its `sealed` envelope,
/// by kind: the kiosk keeps none of them in clear.
pub fn sealed_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Application => &["applicant", "form", "delivery", "signature_png"],
        RecordKind::Evaluation => &["comment"],
        RecordKind::ErrorReport => &["message"],
        RecordKind::Heartbeat => &[],
    }
}

/// Fields of the kiosk's clear part that the platform's record does not
/// keep once the sealed fields are opened (they repeat them, masked).
pub fn kiosk_only_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Application => &["masked_name", "delivery_method"],
        _ => &[],
    }
}

/// A 好差评 evaluation (`POST /evaluations/batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationWire {
    /// Idempotency key: `EV-{terminal}-{YYYYMMDD}-{seq}`.
    pub id: String,
    pub terminal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_no: Option<String>,
    pub service_code: String,
    /// 1 非常不满意 … 5 非常满意.
    pub level: u8,
    #[serde(default)]
    pub comment: String,
    pub created_at: String,
}

/// Terminal health (`POST /heartbeats/batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatWire {
    pub id: String,
    pub terminal_id: String,
    pub at: String,
    /// `ok`, `degraded` or `out_of_service`.
    pub status: String,
    /// Device name → state in plain words (e.g. `printer` → `paper_out`).
    #[serde(default)]
    pub devices: BTreeMap<String, String>,
    pub queue_depth: u64,
    pub free_disk_bytes: u64,
    pub version: String,
    pub uptime_secs: u64,
    /// Where the terminal's hash-chained admin audit log stands: the
    /// platform keeps it, so a log cut or rewritten on the terminal later no
    /// longer matches what was reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHead>,
}

/// The head of a terminal's admin audit log as a heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Lower-case hex SHA-256 of the last line (the chain's head).
    pub head: String,
    /// Lines in the log, over the files still kept.
    pub length: u64,
    /// The terminal's own verification found the chain unbroken.
    pub intact: bool,
}

/// A problem report: 办不成事 from a resident, or a terminal fault
/// (`POST /error-reports/batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReportWire {
    pub id: String,
    pub terminal_id: String,
    pub at: String,
    /// `cannot_get_done` (办不成事), `terminal_fault`, or `call_staff` (a
    /// resident asked for help at the terminal).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Stored by the platform now.
    Accepted,
    /// The platform already had this id (stored earlier): also an acknowledgement.
    Duplicate,
    /// Invalid; will never be accepted as it is. `reason` says why.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// The record's idempotency key (receipt number for applications).
    pub id: String,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Answer to every batch upload: one result per record, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub results: Vec<RecordResult>,
}

/// The four outbox record kinds and their batch endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Application,
    Evaluation,
    Heartbeat,
    ErrorReport,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Application,
        RecordKind::Evaluation,
        RecordKind::ErrorReport,
        RecordKind::Heartbeat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Application => "application",
            RecordKind::Evaluation => "evaluation",
            RecordKind::Heartbeat => "heartbeat",
            RecordKind::ErrorReport => "error_report",
        }
    }

    pub fn parse(text: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Path below the API base URL.
    pub fn batch_path(self) -> &'static str {
        match self {
            RecordKind::Application => "/applications/batch",
            RecordKind::Evaluation => "/evaluations/batch",
            RecordKind::Heartbeat => "/heartbeats/batch",
            RecordKind::ErrorReport => "/error-reports/batch",
        }
    }

    /// Name of the array in the batch request body.
    pub fn list_key(self) -> &'static str {
        match self {
            RecordKind::Application => "applications",
            RecordKind::Evaluation => "evaluations",
            RecordKind::Heartbeat => "heartbeats",
            RecordKind::ErrorReport => "error_reports",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressStep {
    pub at: String,
    pub status: String,
    #[serde(default)]
    pub note: String,
}

/// `GET /applications/{receipt_no}/progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub receipt_no: String,
    pub service_code: String,
    pub service_name: String,
    /// `received`, `in_review`, `need_materials`, `approved`, `rejected`, `completed`.
    pub status: String,
    pub updated_at: String,
    pub steps: Vec<ProgressStep>,
}

/// `POST /residents/documents` request: the ID number travels in the body so
/// it never appears in a URL or an access log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentQuery {
    pub id_number: String,
}

impl std::fmt::Debug for ResidentQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResidentQuery(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ECertificate {
    pub id: String,
    pub title: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub id: String,
    pub title: String,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentDocuments {
    pub certificates: Vec<ECertificate>,
    pub documents: Vec<DocumentRef>,
}

/// `GET /documents/{id}`: a printable document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintableDocument {
    pub id: String,
    pub title: String,
    /// `text/plain; charset=utf-8` for the reference server.
    pub content_type: String,
    pub content_base64: String,
}

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// `bad_signature`, `clock_skew`, `unknown_terminal`, `bad_request`,
    /// `not_found`, `unavailable`, `rate_limited`, `internal`.
    pub code: String,
    pub message: String,
    /// Server time (unix seconds), sent with `clock_skew` so a terminal whose
    /// clock is wrong can tell by how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
}

/// Seal `fields` (serialised as one JSON object) for record `id` of `kind`.
/// The JSON is written into a zeroized buffer, not left in freed memory.
pub fn seal_fields(
    key: &seal::SealingKey,
    kind: RecordKind,
    terminal_id: &str,
    id: &str,
    fields: &impl Serialize,
) -> seal::Envelope {
    let mut json = zeroize::Zeroizing::new(Vec::with_capacity(2048));
    serde_json::to_writer(&mut *json, fields).expect("sealed fields serialise");
    key.seal(&seal::record_aad(kind.as_str(), terminal_id, id), &json)
}

/// What the platform does with a record as it arrives: when it carries a
/// `sealed` envelope, open it with `keys` (bound to kind, the signing
/// terminal and the record's id) and put the sealed fields back in place of
/// the kiosk's clear repeats, so the record becomes the platform's full view
/// (an [`crate::api::ApplicationWire`] for an application). A record
/// without `sealed` (older kiosks) is left as it is. `Ok(true)` when it was
/// sealed. The error says why, never what was inside.
pub fn open_record(
    kind: RecordKind,
    item: &mut serde_json::Value,
    terminal_id: &str,
    keys: &seal::OpeningKeys,
) -> Result<bool, String> {
    let Some(record) = item.as_object_mut() else {
        return Ok(false);
    };
    let Some(sealed) = record.remove("sealed") else {
        return Ok(false);
    };
    let envelope: seal::Envelope = serde_json::from_value(sealed)
        .map_err(|_| "sealed: not an envelope (alg, kid, enc, ct)".to_string())?;
    let id_field = if kind == RecordKind::Application {
        "receipt_no"
    } else {
        "id"
    };
    let id = record
        .get(id_field)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let plain = keys
        .open(
            &envelope,
            &seal::record_aad(kind.as_str(), terminal_id, &id),
        )
        .map_err(|e| format!("个人信息密文无法解开 (sealed fields: {e})"))?;
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&plain)
        .map_err(|_| "sealed fields are not a JSON object".to_string())?;
    let allowed = sealed_fields(kind);
    for (name, value) in fields {
        if !allowed.contains(&name.as_str()) {
            return Err(format!("sealed field {name:?} is not one of {allowed:?}"));
        }
        record.insert(name, value);
    }
    for name in kiosk_only_fields(kind) {
        record.remove(*name);
    }
    Ok(true)
}
