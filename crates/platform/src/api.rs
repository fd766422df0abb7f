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
    /// How the terminal knew who applies: the card on its reader, or a
    /// personal code this platform verified (`POST /identity/verify`).
    #[serde(default)]
    pub identified_by: IdentifiedBy,
}

/// How an applicant was identified at the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifiedBy {
    /// The ID card on the reader.
    #[default]
    IdCard,
    /// The province's 一码通 code.
    Ymtb,
    /// 电子身份证 (CTID).
    Eid,
    /// 电子社保卡.
    Essc,
    /// Typed by the agent who applied for them (代办): the number is
    /// GB 11643-checked, the person not verified.
    Typed,
}

impl From<bianmin_core::form::IdentitySource> for IdentifiedBy {
    fn from(source: bianmin_core::form::IdentitySource) -> IdentifiedBy {
        use bianmin_core::form::IdentitySource;
        use bianmin_core::personal_code::Scheme;
        match source {
            IdentitySource::IdCard => IdentifiedBy::IdCard,
            IdentitySource::Code(Scheme::Ymtb) => IdentifiedBy::Ymtb,
            IdentitySource::Code(Scheme::Eid) => IdentifiedBy::Eid,
            IdentitySource::Code(Scheme::Essc) => IdentifiedBy::Essc,
            IdentitySource::Typed => IdentifiedBy::Typed,
        }
    }
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
    /// A `pending` (容缺) material is owed by this day (`YYYY-MM-DD`, the
    /// station's calendar), when the guide sets a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
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
    /// 代办: who applied for the applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentWire>,
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
    /// 代办: the agent's name masked and what they are to the applicant, so
    /// a receipt reprinted after a restart still says who applied (the
    /// agent's own fields are sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_masked_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_relationship: Option<String>,
    #[serde(default)]
    pub materials: Vec<Material>,
    pub delivery_method: DeliveryMethod,
    pub sealed: seal::Envelope,
}

/// 代办: who applied for the applicant, as identified at the terminal.
/// Personal data: sealed with the applicant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentWire {
    pub name: String,
    pub id_number: String,
    /// 父母 / 配偶 / 子女 / 其他亲属 / 受委托人: what the agent is to the applicant.
    pub relationship: String,
    #[serde(default)]
    pub identified_by: IdentifiedBy,
    /// The 代办 declaration signed on the pad (the record's signature).
    #[serde(default)]
    pub declaration: String,
}

impl std::fmt::Debug for AgentWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentWire({}, ***)", self.relationship)
    }
}

/// The fields of an application sealed to the platform's key: the JSON
/// object inside [`SealedApplicationWire::sealed`].
#[derive(Serialize, Deserialize)]
pub struct PersonalFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentWire>,
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
        RecordKind::Application => &["applicant", "agent", "form", "delivery", "signature_png"],
        RecordKind::Evaluation => &["comment"],
        RecordKind::ErrorReport => &["message", "callback_phone"],
        RecordKind::Heartbeat => &[],
    }
}

/// Fields of the kiosk's clear part that the platform's record does not
/// keep once the sealed fields are opened (they repeat them, masked).
pub fn kiosk_only_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Application => &[
            "masked_name",
            "agent_masked_name",
            "agent_relationship",
            "delivery_method",
        ],
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

/// Where a kiosk enrolls (below the API prefix; unsigned: the one-time
/// code is the credential).
pub const ENROLLMENTS_PATH: &str = "/enrollments";

/// What a kiosk sends to enroll: the code a technician printed, and the
/// public half of the key pair it generated (the private half never
/// leaves it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentRequest {
    /// 12 characters, with or without the dashes of the printed sheet.
    pub code: String,
    /// `ed25519`.
    pub algorithm: String,
    /// The raw public key, base64.
    pub public_key: String,
    /// The terminal this one replaces (a swapped machine keeps the
    /// station's place; the old key stops working).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// What the platform answers an accepted enrollment with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub terminal_id: String,
    pub station_code: String,
    pub station_name: String,
    #[serde(default)]
    pub station_address: String,
    /// The kiosk API's base URL the kiosk uses from now on.
    pub platform_url: String,
    /// PEM of the CA the platform's certificate must chain to (pinned);
    /// absent where the platform is reached on loopback (demo, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// `ed25519:BASE64` of the county's content-package publisher.
    pub content_public_key: String,
    /// Configuration for this kiosk (a `kiosk.toml` fragment): what the
    /// county set for the station, without identity or URLs.
    #[serde(default)]
    pub config_toml: String,
    /// Argon2id PHC string of the technicians' admin PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_pin_hash: Option<String>,
    /// `ed25519:BASE64` of the key the platform signs configurations with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_public_key: Option<String>,
}

/// Where a kiosk picks up the commands a technician sent it (signed).
pub const COMMANDS_PATH: &str = "/commands";

/// The commands a technician may send a kiosk from the console: (kind,
/// title in the console).
pub const COMMAND_KINDS: &[(&str, &str)] = &[
    ("sync_now", "立即同步"),
    ("self_test", "设备自检"),
    ("print_test_page", "打印测试页"),
    ("collect_logs", "收集日志"),
    ("restart", "重新启动（在居民办完之后）"),
];

/// One command for the kiosk that polls (`GET /commands`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCommand {
    pub id: String,
    /// One of [`COMMAND_KINDS`]; a kiosk answers an unknown one with a
    /// failure, never silence.
    pub kind: String,
    pub issued_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommandList {
    pub commands: Vec<RemoteCommand>,
}

/// What became of a command (`POST /commands/{id}/result`): the message
/// in words for the technician (a self-test's findings, the masked logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    pub ok: bool,
    pub message: String,
}

/// Where a kiosk fetches the configuration the county set for it (signed
/// request, conditional GET on the version).
pub const CONFIG_PATH: &str = "/config";

/// A configuration document for one kiosk (a `kiosk.toml` fragment),
/// signed by the platform's configuration key: the kiosk verifies it
/// against `platform.config_key` before anything of it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteConfig {
    pub version: String,
    pub toml: String,
    /// Lower-case hex Ed25519 over [`RemoteConfig::signed_bytes`].
    pub signature: String,
}

impl RemoteConfig {
    /// What the signature covers: the version and the text, so neither can
    /// be swapped for another's.
    pub fn signed_bytes(version: &str, toml: &str) -> Vec<u8> {
        format!("bianmin-config\n{version}\n{toml}").into_bytes()
    }
}

/// What the kiosk did with a configuration version (`POST /config/result`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigResult {
    pub version: String,
    pub ok: bool,
    /// Applied (when), or exactly why it was refused.
    pub message: String,
}

/// Keys a remote configuration may not set: the kiosk's identity and where
/// it keeps its data come from enrollment and the installed file only.
pub const REMOTE_CONFIG_FORBIDDEN: &[&str] = &[
    "station.terminal_id",
    "station.code",
    "station.mode",
    "platform.key_file",
    "platform.config_key",
    "store.data_dir",
    // Whom personal data is sealed to, and in which suite: a configuration
    // signed by the console must not be able to redirect sealing to a key
    // someone else holds (the county's security officer changes these on
    // the terminal, never remotely).
    "platform.seal_public_key",
    "platform.seal_key_id",
    "crypto.suite",
];

/// Where a kiosk asks which software its station should run (`GET /update`)
/// and says how an installation went (`POST /update/result`).
pub const UPDATE_PATH: &str = "/update";

/// What the platform offers a kiosk (`GET /update`): the channel of its
/// station, the newest version published there, and the station's
/// maintenance window. The package itself comes from the platform's signed
/// APT repository (`{platform url}/apt`, suite = channel), verified by apt
/// against the archive key the kiosk pins — never by this answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOffer {
    /// `canary` or `stable`.
    pub channel: String,
    /// The Debian version the channel holds; `None` when nothing was
    /// published to it yet.
    pub version: Option<String>,
    /// Installations only inside this daily window (station time,
    /// `HH:MM`); `None`: any time between residents.
    pub window: Option<MaintenanceWindow>,
}

/// A daily window in the station's time zone; `start > end` crosses
/// midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub start: String,
    pub end: String,
}

impl MaintenanceWindow {
    /// Minutes after midnight of `HH:MM`.
    fn minutes(text: &str) -> Option<u32> {
        let (h, m) = text.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }

    /// Whether both ends are valid `HH:MM` and differ.
    pub fn is_valid(&self) -> bool {
        matches!((Self::minutes(&self.start), Self::minutes(&self.end)), (Some(a), Some(b)) if a != b)
    }

    /// Whether `minute_of_day` (station time) falls inside the window; an
    /// invalid window never opens.
    pub fn contains(&self, minute_of_day: u32) -> bool {
        match (Self::minutes(&self.start), Self::minutes(&self.end)) {
            (Some(a), Some(b)) if a < b => (a..b).contains(&minute_of_day),
            (Some(a), Some(b)) if a > b => minute_of_day >= a || minute_of_day < b,
            _ => false,
        }
    }
}

/// How an installation went (`POST /update/result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// Downloaded, waiting for the window or a moment between residents.
    Downloaded,
    /// Installed and healthy (READY and the self-check within the limit).
    Healthy,
    /// Installed, unhealthy, and the previous version reinstalled.
    RolledBack,
    /// Not installed: download, signature, disk or apt failed; the kiosk
    /// runs what it ran.
    Failed,
}

/// One report of the updater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// The version that ran before.
    pub from: String,
    /// The version tried.
    pub to: String,
    pub outcome: UpdateOutcome,
    /// In words: what happened, or exactly why it failed.
    pub detail: String,
}

/// Longest command result the platform keeps (collected logs included).
pub const MAX_COMMAND_RESULT: usize = 256 * 1024;

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
    /// The station (区划代码) the kiosk is configured for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_code: Option<String>,
    /// Age of the oldest record still waiting in the outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_secs: Option<u64>,
    /// Size of the data directory's file system (free space as a share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_disk_bytes: Option<u64>,
    /// Version of the remote configuration in force (`remote.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<String>,
    /// Version of the content package serving residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// Why the last content package pulled was refused (the previous one
    /// keeps serving), until a good one is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_refused: Option<String>,
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
    /// The log's last lines as written (up to 20, oldest first; JSON lines
    /// with `at` and `prev`): the platform checks that they go on from the
    /// head it holds, so a line it has seen cannot be rewritten unnoticed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<String>,
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
    /// A 办不成事 report whose resident left a number and agreed to be
    /// called back about it. Personal data: sealed with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_phone: Option<String>,
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

/// `POST /identity/verify`: a personal code a resident showed the terminal.
pub const IDENTITY_VERIFY_PATH: &str = "/identity/verify";

/// Body of `POST /identity/verify`: the code's scheme and its token (the
/// text after the prefix). The token is a one-time secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVerification {
    pub scheme: bianmin_core::personal_code::Scheme,
    pub token: String,
}

impl std::fmt::Debug for CodeVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeVerification({:?}, ***)", self.scheme)
    }
}

/// The answer of `POST /identity/verify`: who the code stands for, as the
/// issuer vouched. The code is spent by this answer (one-time use).
/// Personal data: never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    pub scheme: bianmin_core::personal_code::Scheme,
    pub name: String,
    pub id_number: String,
    /// Household address, when the issuer gives it.
    #[serde(default)]
    pub address: String,
    /// What the issuer checked: `name`, `id_number`, and `face` when the
    /// code was issued after a live face check on the resident's phone.
    pub verified: Vec<String>,
    /// When the code stopped (or stops) being valid, RFC 3339.
    pub code_expires_at: String,
}

impl std::fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VerifiedIdentity({:?}, verified {:?}, ***)",
            self.scheme, self.verified
        )
    }
}

/// `POST /residents/applications`: every application of one resident, at
/// any terminal, newest first (the ID number in a [`ResidentQuery`] body).
pub const RESIDENT_APPLICATIONS_PATH: &str = "/residents/applications";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentApplications {
    pub applications: Vec<Progress>,
}

/// `GET /terminal/follow-ups`: what the signing terminal's station must
/// call back about — its residents' 办不成事 reports and 差评 of the last
/// [`FOLLOW_UP_DAYS`] days, newest first, opened by the platform for the
/// station's clerk (the kiosk cannot open what it sealed).
pub const FOLLOW_UPS_PATH: &str = "/terminal/follow-ups";

/// `GET`: the signing terminal's key for the keyed hashes of ID numbers in
/// its outbox. The kiosk keeps it in memory only, so nothing on its SD card
/// lets a guessed ID number be checked against those hashes.
pub const LOOKUP_KEY_PATH: &str = "/terminal/lookup-key";

/// The answer of [`LOOKUP_KEY_PATH`]: 32 random bytes, base64, the same for
/// one terminal every time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupKey {
    pub key: String,
}
/// How far back follow-ups reach.
pub const FOLLOW_UP_DAYS: i64 = 7;
/// An evaluation at or below this level is a 差评 that needs a call back.
pub const LOW_RATING_MAX: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FollowUps {
    pub reports: Vec<FollowUpReport>,
    pub low_ratings: Vec<LowRating>,
}

/// A 办不成事 report as the clerk reads it. Personal data (the number):
/// never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpReport {
    pub id: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_phone: Option<String>,
}

impl std::fmt::Debug for FollowUpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FollowUpReport({}, ***)", self.id)
    }
}

/// A 差评 (level at most [`LOW_RATING_MAX`]) as the clerk reads it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowRating {
    pub id: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_no: Option<String>,
    pub service_code: String,
    pub level: u8,
    #[serde(default)]
    pub comment: String,
}

impl std::fmt::Debug for LowRating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LowRating({}, level {})", self.id, self.level)
    }
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
