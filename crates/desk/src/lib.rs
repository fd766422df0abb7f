//! The service desk behind the resident's screens: what the UI asks of the
//! store, the printer and the platform during a journey, done on the tokio
//! runtime so the UI thread never waits on I/O. Requests go in through
//! [`DeskHandle::send_for`], tagged with the [`SessionId`] that asked;
//! answers come back as [`DeskAnswer`]s carrying the same tag through the
//! [`DeskAnswers`] sink the caller hands in (the services pass them to the
//! UI, which drops an answer whose session has ended).
//!
//! The order on submit is the product's promise: the application is committed
//! to the outbox first, and only a committed receipt number is ever printed.

pub mod signature;

use bianmin_core::application::{Application, DeliveryChoice, MaterialState, Signature, Subject};
use bianmin_core::catalogue::Catalogue;
use bianmin_core::evaluation::Evaluation;
use bianmin_core::form::Identity;
use bianmin_core::words::Words;
use bianmin_drivers::manager::PrinterHandle;
use bianmin_drivers::printer::{self as paper, PrintError, PrinterState};
use bianmin_platform::api::{self as wire, Applicant, Delivery, DeliveryMethod, Material};
use bianmin_platform::client::{CodeCheckError, CodeRefusal, PlatformClient, PlatformError};
use bianmin_store::{
    self as store, NewApplication, NewErrorReport, NewEvaluation, RecordState, RecordSummary,
    Store, StoreError,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

/// What the journey hands over on submit.
pub struct Submission {
    pub application: Application,
    /// Service (or 一件事 bundle) name as printed on the receipt.
    pub title: String,
    /// 承诺时限, as the guide states it ("5个工作日").
    pub time_limit: String,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Submission({:?})", self.application.subject)
    }
}

/// Asked by the UI thread; answered with a [`DeskEvent`].
#[derive(Debug)]
pub enum DeskRequest {
    /// Commit to the outbox, then print the 受理回执. → `Submitted` / `SubmitFailed`.
    Submit(Box<Submission>),
    /// Print a receipt again (the clerk's reprint, or after paper was loaded). → `Reprinted`.
    Reprint { receipt_no: String },
    /// 好差评 bound to a receipt. → `Evaluated`.
    Evaluate {
        receipt_no: String,
        service_code: String,
        evaluation: Evaluation,
    },
    /// Progress of one receipt (scanned or typed). → `Progress`.
    ProgressByReceipt(String),
    /// Progress of every application of the resident whose card is on the reader. → `Progress`.
    ProgressForResident,
    /// The resident's e-certificates and printable documents (免证办, 自助打印). → `Documents`.
    FetchDocuments,
    /// Print one of the platform's documents on the receipt printer. → `DocumentPrinted`.
    PrintDocument { id: String },
    /// 办不成事反映: what the resident could not get done, at which service,
    /// and the number they agreed to be called back on. → `FeedbackSaved`.
    Feedback {
        service_code: Option<String>,
        text: String,
        callback_phone: Option<Private>,
    },
    /// The resident pressed 呼叫工作人员: a platform event through the outbox (no reply).
    CallStaff,
    /// A personal code (一码通办) was scanned: the platform says whom it
    /// stands for (and spends it). → `CodeChecked`.
    VerifyCode(Box<PersonalCode>),
    /// 自助打印 of a guide: its text on the receipt printer. →
    /// `DocumentPrinted`.
    PrintGuide {
        title: String,
        body: String,
        /// The service's code, printed at the foot.
        reference: String,
    },
    /// The station clerk's view: today's applications at this terminal
    /// (from the outbox) and what to call back about (from the platform).
    /// → `StationView`.
    StationView,
}

/// One of today's applications as the station clerk sees it: masked, with
/// what is owed (and by when) and what was handed in on paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationApplication {
    pub receipt_no: String,
    pub service_name: String,
    /// 张*丰: the full name and number are never on this screen.
    pub masked_name: String,
    /// "10:32", the station's time.
    pub time: String,
    /// Materials still owed or to be checked, each with its due day when set.
    pub owed: Vec<OwedMaterial>,
    /// Materials handed in at the station: the clerk collects the paper.
    pub to_collect: Vec<String>,
    /// Delivered to the platform (else still in this terminal's outbox).
    pub delivered: bool,
}

pub use bianmin_platform::api::{FollowUpReport, LowRating};

/// A material the resident still owes (容缺) or that is still to be
/// checked (待核验), for the clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedMaterial {
    pub name: String,
    /// 容缺后补 / 待核验, in both languages.
    pub state: Words,
    /// `YYYY-MM-DD`, when the guide sets a 补交时限.
    pub due: Option<String>,
}

/// What the station clerk's view shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StationView {
    pub applications: Vec<StationApplication>,
    pub reports: Vec<wire::FollowUpReport>,
    pub low_ratings: Vec<wire::LowRating>,
    /// The platform answered: reports and ratings are its current list.
    pub online: bool,
}

/// Personal text a request carries (a phone number): wiped when dropped,
/// never printed by Debug.
#[derive(Clone)]
pub struct Private(pub Zeroizing<String>);

impl std::fmt::Debug for Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Private(***)")
    }
}

/// A scanned personal code: its scheme and its token, a one-time secret
/// (wiped from memory when dropped, never printed).
#[derive(Clone)]
pub struct PersonalCode {
    pub scheme: bianmin_core::personal_code::Scheme,
    pub token: Zeroizing<String>,
}

impl std::fmt::Debug for PersonalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonalCode({:?}, ***)", self.scheme)
    }
}

/// One application's state as the resident is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRow {
    pub receipt_no: String,
    pub service_name: String,
    /// In plain words: 已受理 / 审核中 / 已办结 …, or 排队待上传 / 已送达平台 offline.
    pub state: Words,
    /// When the state last changed, as shown ("2026-11-25 10:32").
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub id: String,
    pub title: String,
}

/// The answers, delivered to the UI thread through the `Inbox`. The desk
/// does not know the screen's language: what the resident is told comes as
/// [`Words`] and the UI picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskEvent {
    Submitted {
        receipt_no: String,
        /// The QR payload printed on the receipt (and shown on screen).
        qr: String,
        /// False: the screen must show the receipt number and QR large.
        printed: bool,
        /// Why it did not print, in plain words; empty when printed.
        printer_message: Words,
        /// Material name → the day (`YYYY-MM-DD`) a 容缺 material is owed
        /// by, as printed; materials without a 补交时限 are not in it.
        due_dates: std::collections::BTreeMap<String, String>,
    },
    /// Nothing was stored; the resident's sentence (disk full, store broken…).
    SubmitFailed(Words),
    /// Ok, or the resident's sentence.
    Reprinted(Result<(), Words>),
    Evaluated(Result<(), Words>),
    Progress {
        /// True: states are the platform's own; false: from this terminal's outbox.
        live: bool,
        rows: Vec<ProgressRow>,
        /// A plain sentence above the list (offline, nothing found, …).
        message: Words,
    },
    Documents {
        online: bool,
        /// Titles of the e-certificates the platform holds for the resident.
        certificates: Vec<String>,
        documents: Vec<DocumentRow>,
    },
    DocumentPrinted(Result<(), Words>),
    FeedbackSaved(Result<(), Words>),
    /// Whom a scanned personal code stands for, as the platform vouched;
    /// or the resident's one sentence on why not and what to do instead.
    CodeChecked(Result<Box<Identity>, Words>),
    StationView(Box<StationView>),
    /// The store failed in a way only a technician can repair (corrupt
    /// database, unusable key): the kiosk must go out of service and stay
    /// there. Sent besides the answer of the request that found it, under
    /// [`SessionId::NONE`]: it concerns every session. `detail` is the
    /// technician's (no personal data: the store's own error text).
    StoreBroken {
        detail: String,
    },
}

impl DeskEvent {
    /// The kind of answer, for the log (never its content).
    pub fn kind(&self) -> &'static str {
        match self {
            DeskEvent::Submitted { .. } => "submitted",
            DeskEvent::SubmitFailed(_) => "submit_failed",
            DeskEvent::Reprinted(_) => "reprinted",
            DeskEvent::Evaluated(_) => "evaluated",
            DeskEvent::Progress { .. } => "progress",
            DeskEvent::Documents { .. } => "documents",
            DeskEvent::DocumentPrinted(_) => "document_printed",
            DeskEvent::FeedbackSaved(_) => "feedback_saved",
            DeskEvent::CodeChecked(_) => "code_checked",
            DeskEvent::StationView(_) => "station_view",
            DeskEvent::StoreBroken { .. } => "store_broken",
        }
    }
}

/// Which resident's session asked. The desk hands it back with the answer:
/// a look-up or a print can finish after the resident walked away, and the
/// UI must not draw it on the next resident's screen. `SessionId::NONE`
/// tags requests no session made (the physical call-staff button, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl SessionId {
    pub const NONE: SessionId = SessionId(0);
}

/// One answer of the desk and the session whose request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskAnswer {
    pub session: SessionId,
    pub event: DeskEvent,
}

/// Cheap to clone; sending never blocks the UI thread.
#[derive(Clone)]
pub struct DeskHandle {
    tx: tokio::sync::mpsc::UnboundedSender<(SessionId, DeskRequest)>,
}

impl DeskHandle {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<(SessionId, DeskRequest)>) -> DeskHandle {
        DeskHandle { tx }
    }

    /// Queue a request no resident's session made (its answer carries
    /// [`SessionId::NONE`]).
    pub fn send(&self, request: DeskRequest) {
        self.send_for(SessionId::NONE, request);
    }

    /// Queue a request of `session`; dropped (with a log line) only if the
    /// desk has stopped.
    pub fn send_for(&self, session: SessionId, request: DeskRequest) {
        if self.tx.send((session, request)).is_err() {
            tracing::warn!("the desk has stopped; request dropped");
        }
    }
}

/// Title of the receipt printed on submission.
pub const RECEIPT_TITLE: &str = "受理回执";
/// Title of a receipt printed again, so staff can tell the copy.
pub const REPRINT_TITLE: &str = "受理回执（补打）";
/// How a resident checks progress, printed on every receipt.
pub const PROGRESS_HINT: &str = "扫描回执二维码或刷身份证，在便民自助终端查询办理进度";
/// Longest wait for the platform while a resident watches the screen; the
/// client's own time-out is set for uploads and may be much longer.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest 办不成事 text sent, in characters.
pub const FEEDBACK_MAX_CHARS: usize = 200;
/// Most applications listed for one resident.
pub const RESIDENT_ROWS_MAX: usize = 20;
/// Receipts kept in memory for a quick reprint (no personal data on them).
const RECENT_RECEIPTS: usize = 32;

const NO_STORE: Words = Words::fixed(
    "本机暂停受理申请，请到窗口办理或联系工作人员。",
    "This terminal is not taking applications now. Please go to a service window or ask staff.",
);
const SAVE_FAILED: Words = Words::fixed(
    "未能保存，请稍后再试或联系工作人员。",
    "This did not work. Please try again later or ask staff.",
);
/// The platform cannot be reached for a document now.
const DOCUMENT_OFFLINE: Words = Words::fixed(
    "网络暂时连不上，现在不能打印文件，请稍后再试。",
    "The network is down, so documents cannot be printed now. Please try again later.",
);
/// Neither the platform nor this terminal could look the resident up.
const CANNOT_LOOK_UP: Words = Words::fixed(
    "本机暂时无法查询，请到服务窗口咨询。",
    "This terminal cannot look this up now. Please ask at a service window.",
);
/// Offline since the kiosk started: it has no look-up key to find anyone's
/// records by ID number (the key is never kept on the card).
const NOT_SEARCHABLE_YET: Words = Words::fixed(
    "网络暂时连不上，本终端现在还不能按身份证查找记录。请稍后再试，或到服务窗口查询。",
    "The network is unreachable, and this terminal cannot search its records by ID number yet. Please try again later or ask at a service window.",
);
const STALE_RECORDS: Words = Words::fixed(
    "网络暂时连不上，以下是本终端保存的记录，状态可能不是最新。",
    "The network is down. These are the records kept on this terminal; their state may be out of date.",
);

/// Records of the outbox looked through for today's applications (newest
/// first): a busy station's day is a few hundred.
const STATION_SCAN: usize = 2000;

/// The clear part of a stored application the station view reads.
#[derive(serde::Deserialize, Default)]
struct ClearApplication {
    #[serde(default)]
    masked_name: String,
    #[serde(default)]
    materials: Vec<Material>,
}

/// Longest wait for the platform to vouch for a personal code: the
/// resident stands at the screen, and offline the card must be offered at
/// once.
pub const CODE_TIMEOUT: Duration = Duration::from_secs(4);
const CODE_OFFLINE: Words = Words::fixed(
    "网络暂时连不上，现在无法核验电子证码，请刷身份证办理。",
    "The network is down, so the code cannot be checked now. Please use your ID card.",
);

/// The resident's sentence for a code the platform refused.
fn code_refusal_words(why: CodeRefusal) -> Words {
    match why {
        CodeRefusal::Expired => Words::fixed(
            "这个码已过期，请在手机上刷新后再扫，或刷身份证办理。",
            "This code has expired. Refresh it on your phone and scan again, or use your ID card.",
        ),
        CodeRefusal::Used => Words::fixed(
            "这个码已经用过了，请在手机上刷新出新码再扫，或刷身份证办理。",
            "This code was used before. Refresh it on your phone and scan the new one, or use your ID card.",
        ),
        CodeRefusal::Unknown | CodeRefusal::Malformed => Words::fixed(
            "这个码无法核验，请确认是本省的一码通、电子身份证或电子社保卡，或刷身份证办理。",
            "This code cannot be verified. Show your one-code pass, e-ID or e-social-security card of this province, or use your ID card.",
        ),
    }
}

/// The identity a verified code stands for: name and number as vouched,
/// sex and birth date read from the (checked) number, marked as coming
/// from the code. `None` when the number fails its check.
pub fn identity_of_verified(verified: &wire::VerifiedIdentity) -> Option<Box<Identity>> {
    Identity::from_number(
        &verified.name,
        &verified.id_number,
        &verified.address,
        bianmin_core::form::IdentitySource::Code(verified.scheme),
    )
    .map(Box::new)
}

/// Receives each answer of the desk, on whichever thread produced it.
pub type DeskAnswers = Arc<dyn Fn(DeskAnswer) + Send + Sync>;

/// What the desk works with; every part may be missing (no disk, no
/// printer, no platform secret) and the desk then answers with the
/// resident's sentence instead.
pub struct DeskDeps {
    pub store: Option<Store>,
    pub platform: Option<Arc<PlatformClient>>,
    pub printer: Option<PrinterHandle>,
    /// The card on the reader (filled and wiped by the device forwarder).
    pub identity: Arc<Mutex<Option<Box<Identity>>>>,
    /// Where the desk's answers go (the services hand them to the UI thread);
    /// the desk itself knows nothing of the UI.
    pub answers: DeskAnswers,
    /// Station name printed on receipts and documents.
    pub station: String,
}

/// Start the desk on `runtime`.
pub fn spawn(runtime: &tokio::runtime::Handle, deps: DeskDeps) -> DeskHandle {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let desk = Arc::new(Desk {
        deps,
        recent: Mutex::new(VecDeque::new()),
        documents: Mutex::new(None),
    });
    runtime.spawn(async move {
        while let Some((session, request)) = rx.recv().await {
            desk.clone().handle(session, request).await;
        }
    });
    DeskHandle::new(tx)
}

struct Desk {
    deps: DeskDeps,
    /// Receipts printed this run, newest last.
    recent: Mutex<VecDeque<paper::Receipt>>,
    /// The documents last listed: (hash of the card's ID number, ids). Only
    /// these may be printed, and only while that card is on the reader.
    documents: Mutex<Option<(String, Vec<String>)>>,
}

impl Desk {
    async fn handle(self: Arc<Self>, session: SessionId, request: DeskRequest) {
        match request {
            // Writes and receipts go one at a time, in the order asked: an
            // evaluation or reprint always finds its application stored.
            DeskRequest::Submit(submission) => {
                let answer = self.submit(*submission).await;
                self.answer(session, answer);
            }
            DeskRequest::Reprint { receipt_no } => {
                let answer = self.reprint(&receipt_no).await;
                self.answer(session, DeskEvent::Reprinted(answer));
            }
            DeskRequest::Evaluate {
                receipt_no,
                service_code,
                evaluation,
            } => {
                let answer = self.evaluate(receipt_no, service_code, &evaluation).await;
                self.answer(session, DeskEvent::Evaluated(answer));
            }
            DeskRequest::Feedback {
                service_code,
                text,
                callback_phone,
            } => {
                let phone = callback_phone.map(|p| p.0.to_string());
                let answer = self.feedback(service_code, &text, phone).await;
                self.answer(session, DeskEvent::FeedbackSaved(answer));
            }
            DeskRequest::CallStaff => self.call_staff().await,
            // Look-ups wait on the network: they run beside the queue so a
            // slow platform never holds up a submission.
            DeskRequest::ProgressByReceipt(receipt_no) => {
                tokio::spawn(async move {
                    let answer = self.progress_by_receipt(&receipt_no).await;
                    self.answer(session, answer);
                });
            }
            DeskRequest::ProgressForResident => {
                tokio::spawn(async move {
                    let answer = self.progress_for_resident().await;
                    self.answer(session, answer);
                });
            }
            DeskRequest::FetchDocuments => {
                tokio::spawn(async move {
                    let answer = self.fetch_documents().await;
                    self.answer(session, answer);
                });
            }
            DeskRequest::PrintDocument { id } => {
                tokio::spawn(async move {
                    let answer = self.print_document(&id).await;
                    self.answer(session, DeskEvent::DocumentPrinted(answer));
                });
            }
            DeskRequest::VerifyCode(code) => {
                tokio::spawn(async move {
                    let answer = self.verify_code(&code).await;
                    self.answer(session, DeskEvent::CodeChecked(answer));
                });
            }
            DeskRequest::PrintGuide {
                title,
                body,
                reference,
            } => {
                let answer = self.print_guide(title, body, reference).await;
                self.answer(session, DeskEvent::DocumentPrinted(answer));
            }
            DeskRequest::StationView => {
                tokio::spawn(async move {
                    let answer = self.station_view().await;
                    self.answer(session, DeskEvent::StationView(Box::new(answer)));
                });
            }
        }
    }

    fn answer(&self, session: SessionId, event: DeskEvent) {
        (self.deps.answers)(DeskAnswer { session, event });
    }

    /// Run a blocking store call off the async workers; `None` without a store.
    /// The look-up key, asked of the platform now when this terminal has
    /// not had it since it started (the sync engine asks too, each round).
    async fn ensure_lookup_key(&self) {
        let Some(client) = self.deps.platform.as_ref() else {
            return;
        };
        if !matches!(
            self.with_store(|s| Ok(s.has_lookup_key())).await,
            Some(Ok(false))
        ) {
            return;
        }
        // Short: the resident waits for it, and the look-ups that follow
        // have their own deadline.
        const KEY_TIMEOUT: Duration = Duration::from_secs(2);
        if let Ok(Ok(key)) = tokio::time::timeout(KEY_TIMEOUT, client.lookup_key()).await {
            let _ = self
                .with_store(move |s| {
                    s.set_lookup_key(&key);
                    Ok(())
                })
                .await;
        }
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> store::Result<T> + Send + 'static,
    ) -> Option<store::Result<T>> {
        let store = self.deps.store.clone()?;
        let result = tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|err| Err(StoreError::Io(format!("store task failed: {err}"))));
        // Every desk operation goes through here: a store that broke
        // under any of them takes the kiosk out of service, not only a
        // submission.
        if let Err(err) = &result {
            if err.is_fatal() {
                tracing::error!(%err, "the store is broken; the kiosk goes out of service");
                self.answer(
                    SessionId::NONE,
                    DeskEvent::StoreBroken {
                        detail: err.to_string(),
                    },
                );
            }
        }
        Some(result)
    }

    async fn submit(&self, submission: Submission) -> DeskEvent {
        let Submission {
            application,
            title,
            time_limit,
        } = submission;
        // One clock for the record's due dates and the receipt's lines.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let due_dates: std::collections::BTreeMap<String, String> = application
            .outstanding_materials()
            .filter_map(|m| {
                owed_by(m.state, m.owed_within_days, now_ms).map(|day| (m.name.clone(), day))
            })
            .collect();
        let outstanding: Vec<String> = application
            .outstanding_materials()
            .map(|m| {
                let due = owed_by(m.state, m.owed_within_days, now_ms);
                outstanding_line(&m.name, m.state.label_zh(), due.as_deref())
            })
            .collect();
        let service_name = receipt_service_name(&application, &title);
        let next_step = bianmin_core::application::next_step(
            application.delivery.delivery(),
            &time_limit,
            !outstanding.is_empty(),
        )
        .zh()
        .to_string();
        let content_version = application.content_version.clone();
        // Rendering the signature and sealing the record are CPU work; both
        // happen with the blocking store call.
        let stored = self
            .with_store(move |store| {
                let record = new_application(&application, &title, now_ms);
                drop(application);
                store.enqueue_application(record)
            })
            .await;
        let receipt = match stored {
            None => return DeskEvent::SubmitFailed(NO_STORE),
            Some(Err(err)) => {
                tracing::error!(%err, "application not stored; nothing was written");
                return DeskEvent::SubmitFailed(err.resident_message());
            }
            Some(Ok(receipt)) => receipt,
        };
        tracing::info!(receipt = %receipt.receipt_no, "application stored");
        let slip = paper::Receipt {
            title: RECEIPT_TITLE.into(),
            station: self.deps.station.clone(),
            time: shown_time_ms(receipt.created_at_ms),
            receipt_number: receipt.receipt_no.clone(),
            service_name,
            materials: outstanding,
            next_step,
            note: with_content_version(receipt_note(&time_limit), &content_version),
            qr: receipt.receipt_no.clone(),
        };
        self.remember(&slip);
        let (printed, printer_message) = match self.print(slip).await {
            Ok(()) => (true, Words::default()),
            Err(message) => (false, message),
        };
        DeskEvent::Submitted {
            qr: receipt.receipt_no.clone(),
            receipt_no: receipt.receipt_no,
            printed,
            printer_message,
            due_dates,
        }
    }

    fn remember(&self, slip: &paper::Receipt) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.retain(|r| r.receipt_number != slip.receipt_number);
            if recent.len() >= RECENT_RECEIPTS {
                recent.pop_front();
            }
            recent.push_back(slip.clone());
        }
    }

    async fn print(&self, slip: paper::Receipt) -> Result<(), Words> {
        let Some(printer) = &self.deps.printer else {
            return Err(no_printer());
        };
        match printer.print(slip).await {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(%err, "receipt not printed");
                Err(err.resident_message())
            }
        }
    }

    async fn reprint(&self, receipt_no: &str) -> Result<(), Words> {
        let receipt_no = receipt_no.trim().to_string();
        let cached = self.recent.lock().ok().and_then(|recent| {
            recent
                .iter()
                .find(|r| r.receipt_number == receipt_no)
                .cloned()
        });
        let mut slip = match cached {
            Some(slip) => slip,
            None => self.receipt_from_store(&receipt_no).await?,
        };
        slip.title = REPRINT_TITLE.into();
        self.print(slip).await
    }

    /// Rebuild a receipt from the sealed record (after a restart).
    async fn receipt_from_store(&self, receipt_no: &str) -> Result<paper::Receipt, Words> {
        if !store::receipt::is_valid(receipt_no) {
            return Err(Words::fixed(
                "受理编号不正确，请核对后重试。",
                "This receipt number is not valid. Please check it and try again.",
            ));
        }
        let key = receipt_no.to_string();
        let found = self
            .with_store(move |store| {
                let json = store.record_json(&key)?;
                // The catalogue in use: the content package's (verified
                // before it was stored), else an older catalogue document.
                let catalogue = store
                    .content_package(bianmin_store::PackageSlot::Current)
                    .ok()
                    .flatten()
                    .and_then(|p| {
                        bianmin_core::package::document_of(&String::from_utf8_lossy(&p.body)).ok()
                    })
                    .map(|doc| doc.catalogue)
                    .or_else(|| {
                        store
                            .catalogue()
                            .ok()
                            .flatten()
                            .and_then(|c| Catalogue::from_json(&c.body).ok())
                    });
                Ok((json, catalogue))
            })
            .await;
        let (json, catalogue) = match found {
            None => return Err(NO_STORE),
            Some(Err(StoreError::NotFound(_))) => {
                return Err(Words::fixed(
                    "本终端没有这张回执的记录，请核对受理编号，或到服务窗口补打。",
                    "This terminal has no record of this receipt. Please check the number, or have it reprinted at a service window.",
                ))
            }
            Some(Err(err)) => {
                tracing::warn!(%err, "receipt record unreadable");
                return Err(SAVE_FAILED);
            }
            Some(Ok(found)) => found,
        };
        let Some(json) = json else {
            return Err(Words::fixed(
                "这张回执的记录已超过本机保存期限，请到服务窗口或政务服务平台查询。",
                "This terminal no longer keeps the record of this receipt. Please ask at a service window or on the government service platform.",
            ));
        };
        let record: StoredApplication = serde_json::from_slice(&json).map_err(|_| {
            Words::fixed(
                "这张回执的记录无法读取，请到服务窗口补打。",
                "The record of this receipt cannot be read. Please have it reprinted at a service window.",
            )
        })?;
        // No catalogue at all: the receipt goes without a time limit rather
        // than one from demo data.
        let time_limit = catalogue
            .as_ref()
            .and_then(|c| c.service(&record.service_code))
            .map(|s| s.time_limit.clone())
            .unwrap_or_default();
        let materials: Vec<String> = record
            .materials
            .iter()
            .filter_map(|m| {
                wire_outstanding_words(m.state)
                    .map(|w| outstanding_line(&m.name, w, m.due.as_deref()))
            })
            .collect();
        let next_step = record
            .delivery_method
            .map(|delivery| {
                use bianmin_core::catalogue::Delivery as Way;
                let way = match delivery {
                    DeliveryMethod::Pickup => Way::Station,
                    DeliveryMethod::Post => Way::Mail,
                    DeliveryMethod::Electronic => Way::Electronic,
                };
                bianmin_core::application::next_step(way, &time_limit, !materials.is_empty())
                    .zh()
                    .to_string()
            })
            .unwrap_or_default();
        Ok(paper::Receipt {
            title: RECEIPT_TITLE.into(),
            station: self.deps.station.clone(),
            time: shown_time_rfc3339(&record.created_at),
            receipt_number: receipt_no.to_string(),
            service_name: match (&record.agent_masked_name, &record.agent_relationship) {
                (Some(agent), Some(relationship)) => {
                    with_agent(record.service_name.clone(), agent, relationship)
                }
                _ => record.service_name.clone(),
            },
            materials,
            next_step,
            note: receipt_note(&time_limit),
            qr: receipt_no.to_string(),
        })
    }

    async fn evaluate(
        &self,
        receipt_no: String,
        service_code: String,
        evaluation: &Evaluation,
    ) -> Result<(), Words> {
        let record = NewEvaluation {
            receipt_no: Some(receipt_no),
            service_code,
            level: evaluation.level.score(),
            comment: evaluation_comment(evaluation),
        };
        match self.with_store(move |s| s.enqueue_evaluation(record)).await {
            None => Err(NO_STORE),
            Some(Ok(_)) => Ok(()),
            Some(Err(err)) => {
                tracing::warn!(%err, "evaluation not stored");
                Err(Words::new(
                    format!("评价{}", SAVE_FAILED.zh()),
                    "Your rating could not be saved. Please try again later or ask staff.",
                ))
            }
        }
    }

    async fn feedback(
        &self,
        service_code: Option<String>,
        text: &str,
        callback_phone: Option<String>,
    ) -> Result<(), Words> {
        // Only a number that is one: anything else is left out, never sent.
        let callback_phone = callback_phone
            .map(|p| p.trim().to_string())
            .filter(|p| bianmin_core::form::is_phone(p));
        let report = NewErrorReport {
            kind: "cannot_get_done".into(),
            service_code,
            message: bounded_feedback(text),
            callback_phone,
        };
        match self
            .with_store(move |s| s.enqueue_error_report(report))
            .await
        {
            None => Err(NO_STORE),
            Some(Ok(_)) => Ok(()),
            Some(Err(err)) => {
                tracing::warn!(%err, "feedback not stored");
                Err(Words::new(
                    format!("反映内容{}", SAVE_FAILED.zh()),
                    "Your report could not be saved. Please try again later or ask staff.",
                ))
            }
        }
    }

    async fn call_staff(&self) {
        let report = NewErrorReport {
            kind: "call_staff".into(),
            service_code: None,
            message: "居民在自助终端呼叫工作人员".into(),
            callback_phone: None,
        };
        match self
            .with_store(move |s| s.enqueue_error_report(report))
            .await
        {
            Some(Ok(_)) => tracing::info!("call for staff queued for the platform"),
            Some(Err(err)) => tracing::warn!(%err, "call for staff not queued"),
            None => tracing::warn!("call for staff not queued: no outbox"),
        }
    }

    async fn progress_by_receipt(&self, receipt_no: &str) -> DeskEvent {
        let receipt_no = receipt_no.trim();
        if !store::receipt::is_valid(receipt_no) {
            return DeskEvent::Progress {
                live: false,
                rows: Vec::new(),
                message: Words::fixed(
                    "这不是本系统的受理编号，请核对回执后重试。",
                    "This is not a receipt number of this system. Please check the receipt and try again.",
                ),
            };
        }
        let live = self.live_progress(receipt_no).await;
        if let Lookup::Found(row) = live {
            return DeskEvent::Progress {
                live: true,
                rows: vec![row],
                message: Words::default(),
            };
        }
        let key = receipt_no.to_string();
        let local = self
            .with_store(move |s| s.find(&key))
            .await
            .and_then(Result::ok)
            .flatten()
            .filter(|r| r.kind == wire::RecordKind::Application);
        match (live, local) {
            (Lookup::Unknown, Some(record)) => DeskEvent::Progress {
                live: false,
                message: match record.state {
                    RecordState::Pending => Words::fixed(
                        "平台还没有收到这份申请：它保存在本终端，联网后会自动上传。",
                        "The platform has not received this application yet: it is kept on this terminal and uploads by itself once online.",
                    ),
                    RecordState::Acked => Words::fixed(
                        "平台暂未给出办理进度，以下是本终端的记录。",
                        "The platform has not reported progress yet. This is the record on this terminal.",
                    ),
                    RecordState::Parked => Words::fixed(
                        "平台退回了这份申请，请联系工作人员处理。",
                        "The platform returned this application. Please ask staff.",
                    ),
                },
                rows: vec![local_row(&record)],
            },
            (Lookup::Unknown, None) => DeskEvent::Progress {
                live: true,
                rows: Vec::new(),
                message: Words::fixed(
                    "平台上暂未查到这个受理编号。如果刚在其他终端提交，请稍后再查，或到服务窗口咨询。",
                    "The platform does not know this receipt number yet. If you just applied at another terminal, check again later or ask at a service window.",
                ),
            },
            (_, Some(record)) => DeskEvent::Progress {
                live: false,
                rows: vec![local_row(&record)],
                message: STALE_RECORDS,
            },
            (_, None) => DeskEvent::Progress {
                live: false,
                rows: Vec::new(),
                message: Words::fixed(
                    "网络暂时连不上，本终端也没有这张回执的记录，请稍后再查或到服务窗口咨询。",
                    "The network is down and this terminal has no record of this receipt. Please check again later or ask at a service window.",
                ),
            },
        }
    }

    async fn live_progress(&self, receipt_no: &str) -> Lookup {
        match &self.deps.platform {
            Some(client) => lookup(client, receipt_no).await,
            None => Lookup::Unreachable,
        }
    }

    /// The ID number of the card on the reader, if any.
    fn card_id_number(&self) -> Option<Zeroizing<String>> {
        let slot = self.deps.identity.lock().ok()?;
        slot.as_ref()
            .map(|card| Zeroizing::new(card.id_number.clone()))
            .filter(|id| !id.trim().is_empty())
    }

    /// Whom a scanned personal code stands for. The platform spends the
    /// code; offline, or refused, the resident is told in one sentence to
    /// use the card instead — within [`CODE_TIMEOUT`], whatever the network.
    async fn verify_code(&self, code: &PersonalCode) -> Result<Box<Identity>, Words> {
        let Some(client) = &self.deps.platform else {
            return Err(CODE_OFFLINE);
        };
        let asked = tokio::time::timeout(
            CODE_TIMEOUT,
            client.verify_identity_code(code.scheme, &code.token),
        )
        .await;
        let verified = match asked {
            Ok(Ok(verified)) => verified,
            Ok(Err(CodeCheckError::Refused(why))) => {
                tracing::info!(scheme = code.scheme.as_str(), reason = ?why, "personal code refused");
                return Err(code_refusal_words(why));
            }
            Ok(Err(CodeCheckError::Unreachable(err))) => {
                tracing::info!(%err, "personal code not verified: platform unreachable");
                return Err(CODE_OFFLINE);
            }
            Err(_) => {
                tracing::info!("personal code not verified: the platform did not answer in time");
                return Err(CODE_OFFLINE);
            }
        };
        identity_of_verified(&verified).ok_or_else(|| {
            tracing::warn!("the platform vouched for an ID number that fails its check");
            code_refusal_words(CodeRefusal::Unknown)
        })
    }

    /// Today's applications at this terminal, read from the outbox's clear
    /// part (masked name, materials, due days: nothing sealed is opened),
    /// and the follow-ups the platform holds for this terminal.
    async fn station_view(&self) -> StationView {
        use chrono::TimeZone as _;
        let zone = store::station_zone();
        let today = chrono::Utc::now().with_timezone(&zone).date_naive();
        let applications = self
            .with_store(move |s| {
                let mut rows = Vec::new();
                for record in s.list(None, STATION_SCAN)? {
                    if record.kind != wire::RecordKind::Application {
                        continue;
                    }
                    let Some(at) = zone.timestamp_millis_opt(record.created_at_ms).single() else {
                        continue;
                    };
                    if at.date_naive() != today {
                        continue;
                    }
                    let clear: ClearApplication = s
                        .record_json(&record.key)?
                        .and_then(|json| serde_json::from_slice(&json).ok())
                        .unwrap_or_default();
                    rows.push(StationApplication {
                        receipt_no: record.key.clone(),
                        service_name: record.service_name.clone().unwrap_or_default(),
                        masked_name: clear.masked_name,
                        time: at.format("%H:%M").to_string(),
                        owed: clear
                            .materials
                            .iter()
                            .filter_map(|m| {
                                let state = match m.state {
                                    wire::MaterialState::Pending => MaterialState::Missing,
                                    wire::MaterialState::ECertPending => {
                                        MaterialState::PendingVerification
                                    }
                                    _ => return None,
                                };
                                Some(OwedMaterial {
                                    name: m.name.clone(),
                                    state: Words::new(state.label_zh(), state.label_en()),
                                    due: m.due.clone(),
                                })
                            })
                            .collect(),
                        to_collect: clear
                            .materials
                            .iter()
                            .filter(|m| m.state == wire::MaterialState::Provided)
                            .map(|m| m.name.clone())
                            .collect(),
                        delivered: record.state == RecordState::Acked,
                    });
                }
                Ok::<_, StoreError>(rows)
            })
            .await;
        let applications = match applications {
            Some(Ok(rows)) => rows,
            Some(Err(err)) => {
                tracing::warn!(%err, "station view: the outbox could not be read");
                Vec::new()
            }
            None => Vec::new(),
        };
        let follow_ups = match &self.deps.platform {
            Some(client) => tokio::time::timeout(LOOKUP_TIMEOUT, client.follow_ups())
                .await
                .ok()
                .and_then(|r| {
                    r.map_err(|err| tracing::info!(%err, "follow-ups not fetched"))
                        .ok()
                }),
            None => None,
        };
        let online = follow_ups.is_some();
        let follow_ups = follow_ups.unwrap_or_default();
        StationView {
            applications,
            reports: follow_ups.reports,
            low_ratings: follow_ups.low_ratings,
            online,
        }
    }

    async fn progress_for_resident(&self) -> DeskEvent {
        let Some(id_number) = self.card_id_number() else {
            return DeskEvent::Progress {
                live: false,
                rows: Vec::new(),
                message: Words::fixed(
                    "请把身份证放在读卡区，再查询您的申请。",
                    "Please place your ID card on the reader to look up your applications.",
                ),
            };
        };
        // The platform knows the applications of every station; this
        // terminal only its own. Asked first, within one deadline.
        let mut ask_each_receipt = true;
        if let Some(client) = &self.deps.platform {
            match tokio::time::timeout(LOOKUP_TIMEOUT, client.resident_applications(&id_number))
                .await
            {
                Ok(Ok(found)) => return self.progress_everywhere(found, id_number).await,
                // A platform without the look-up still answers receipts.
                Ok(Err(PlatformError::NotFound | PlatformError::Refused { .. })) => {}
                Ok(Err(err)) => {
                    tracing::info!(%err, "resident's applications: platform unreachable");
                    ask_each_receipt = false;
                }
                Err(_) => {
                    tracing::info!("resident's applications: no answer in time");
                    ask_each_receipt = false;
                }
            }
        }
        self.progress_here(id_number, ask_each_receipt).await
    }

    /// The platform's list of the resident's applications, with the ones
    /// still waiting in this terminal's outbox added (the platform cannot
    /// know those yet).
    async fn progress_everywhere(
        &self,
        found: wire::ResidentApplications,
        id_number: Zeroizing<String>,
    ) -> DeskEvent {
        let mut rows: Vec<ProgressRow> = found.applications.iter().map(platform_row).collect();
        self.ensure_lookup_key().await;
        let local = self
            .with_store(move |s| s.applications_of(&id_number, RESIDENT_ROWS_MAX))
            .await;
        let mut waiting = Vec::new();
        if let Some(Ok(local)) = local {
            for record in &local.records {
                if !rows.iter().any(|r| r.receipt_no == record.key) {
                    waiting.push(local_row(record));
                }
            }
        }
        // Not uploaded yet means newer than anything the platform has.
        waiting.append(&mut rows);
        let mut rows = waiting;
        rows.truncate(RESIDENT_ROWS_MAX);
        let message = if rows.is_empty() {
            Words::fixed(
                "没有查到您的申请记录。",
                "No applications of yours were found.",
            )
        } else {
            Words::fixed(
                "以下是您在各便民服务站提交的申请，最新的在前。",
                "These are the applications you made at any service station, newest first.",
            )
        };
        DeskEvent::Progress {
            live: true,
            rows,
            message,
        }
    }

    /// This terminal's own records of the resident, each asked of the
    /// platform by receipt when `ask_each_receipt` (else shown as kept here).
    async fn progress_here(
        &self,
        id_number: Zeroizing<String>,
        ask_each_receipt: bool,
    ) -> DeskEvent {
        self.ensure_lookup_key().await;
        let found = self
            .with_store(move |s| s.applications_of(&id_number, RESIDENT_ROWS_MAX))
            .await;
        let found = match found {
            None => {
                return DeskEvent::Progress {
                    live: false,
                    rows: Vec::new(),
                    message: CANNOT_LOOK_UP,
                }
            }
            Some(Err(err)) => {
                tracing::warn!(%err, "resident's applications unreadable");
                return DeskEvent::Progress {
                    live: false,
                    rows: Vec::new(),
                    message: CANNOT_LOOK_UP,
                };
            }
            Some(Ok(found)) => found,
        };
        let mut answers: Vec<Option<Lookup>> = found.records.iter().map(|_| None).collect();
        if let Some(client) = self.deps.platform.as_ref().filter(|_| ask_each_receipt) {
            let mut lookups = tokio::task::JoinSet::new();
            for (i, record) in found.records.iter().enumerate() {
                let (client, key) = (client.clone(), record.key.clone());
                lookups.spawn(async move { (i, lookup(&client, &key).await) });
            }
            // One deadline for the whole list, whatever the network does;
            // what has not answered by then is shown from this terminal.
            let deadline = tokio::time::Instant::now() + LOOKUP_TIMEOUT;
            while let Ok(Some(joined)) =
                tokio::time::timeout_at(deadline, lookups.join_next()).await
            {
                if let Ok((i, answer)) = joined {
                    answers[i] = Some(answer);
                }
            }
        }
        let reachable = answers
            .iter()
            .all(|a| matches!(a, Some(Lookup::Found(_) | Lookup::Unknown)));
        let rows: Vec<ProgressRow> = found
            .records
            .iter()
            .zip(answers)
            .map(|(record, answer)| match answer {
                Some(Lookup::Found(row)) => row,
                _ => local_row(record),
            })
            .collect();
        let mut message = if rows.is_empty() && found.unsearchable {
            NOT_SEARCHABLE_YET
        } else if rows.is_empty() {
            Words::fixed(
                "本终端没有您的申请记录。",
                "This terminal has no record of applications of yours.",
            )
        } else if reachable {
            Words::fixed(
                "以下是您在本终端提交的申请。",
                "These are the applications you made at this terminal.",
            )
        } else {
            STALE_RECORDS
        };
        if found.purged > 0 {
            message = message.then(&Words::fixed(
                "更早的申请本机已不再保存，请到服务窗口或政务服务平台查询。",
                "Earlier applications are no longer kept here; please ask at a service window or on the government service platform.",
            ));
        }
        DeskEvent::Progress {
            live: reachable && !rows.is_empty(),
            rows,
            message,
        }
    }

    async fn fetch_documents(&self) -> DeskEvent {
        let offline = DeskEvent::Documents {
            online: false,
            certificates: Vec::new(),
            documents: Vec::new(),
        };
        let (Some(client), Some(id_number)) = (&self.deps.platform, self.card_id_number()) else {
            return offline;
        };
        match tokio::time::timeout(LOOKUP_TIMEOUT, client.resident_documents(&id_number)).await {
            Ok(Ok(found)) => {
                let documents: Vec<DocumentRow> = found
                    .documents
                    .into_iter()
                    .map(|d| DocumentRow {
                        id: d.id,
                        title: d.title,
                    })
                    .collect();
                if let Ok(mut allowed) = self.documents.lock() {
                    *allowed = Some((
                        card_tag(&id_number),
                        documents.iter().map(|d| d.id.clone()).collect(),
                    ));
                }
                DeskEvent::Documents {
                    online: true,
                    certificates: found.certificates.into_iter().map(|c| c.title).collect(),
                    documents,
                }
            }
            // The platform answered: it holds nothing for this resident.
            Ok(Err(PlatformError::NotFound)) => DeskEvent::Documents {
                online: true,
                certificates: Vec::new(),
                documents: Vec::new(),
            },
            Ok(Err(err)) => {
                tracing::info!(%err, "document look-up failed");
                offline
            }
            Err(_) => {
                tracing::info!("document look-up timed out");
                offline
            }
        }
    }

    /// A guide on paper: nothing personal in it, so no card is asked for.
    async fn print_guide(
        &self,
        title: String,
        body: String,
        reference: String,
    ) -> Result<(), Words> {
        let Some(printer) = &self.deps.printer else {
            return Err(no_printer());
        };
        let sheet = paper::Document {
            title: format!("办事指南：{title}"),
            station: self.deps.station.clone(),
            time: shown_time_ms(store::now_ms()),
            body,
            reference,
        };
        match printer.print_document(sheet).await {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(%err, "guide not printed");
                Err(document_print_message(&err))
            }
        }
    }

    async fn print_document(&self, id: &str) -> Result<(), Words> {
        let listed = match (self.card_id_number(), self.documents.lock()) {
            (Some(card), Ok(allowed)) => allowed
                .as_ref()
                .is_some_and(|(tag, ids)| *tag == card_tag(&card) && ids.iter().any(|i| i == id)),
            _ => false,
        };
        if !listed {
            return Err(Words::fixed(
                "请先刷身份证，查询您可以打印的文件。",
                "Please use your ID card first to see the documents you can print.",
            ));
        }
        let Some(client) = &self.deps.platform else {
            return Err(DOCUMENT_OFFLINE);
        };
        let document = match tokio::time::timeout(LOOKUP_TIMEOUT, client.document(id)).await {
            Ok(Ok(document)) => document,
            Ok(Err(PlatformError::NotFound)) => {
                return Err(Words::fixed(
                    "平台上已没有这份文件，请到服务窗口咨询。",
                    "The platform no longer has this document. Please ask at a service window.",
                ))
            }
            Ok(Err(err)) => {
                tracing::info!(%err, "document fetch failed");
                return Err(DOCUMENT_OFFLINE);
            }
            Err(_) => return Err(DOCUMENT_OFFLINE),
        };
        let body = document_text(&document).ok_or(Words::fixed(
            "这份文件需要到服务窗口打印。",
            "This document has to be printed at a service window.",
        ))?;
        let Some(printer) = &self.deps.printer else {
            return Err(no_printer());
        };
        let sheet = paper::Document {
            title: document.title,
            station: self.deps.station.clone(),
            time: shown_time_ms(store::now_ms()),
            body: body.to_string(),
            reference: document.id,
        };
        match printer.print_document(sheet).await {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(%err, "document not printed");
                Err(document_print_message(&err))
            }
        }
    }
}

/// One receipt's progress from the platform, within [`LOOKUP_TIMEOUT`].
async fn lookup(client: &PlatformClient, receipt_no: &str) -> Lookup {
    match tokio::time::timeout(LOOKUP_TIMEOUT, client.progress(receipt_no)).await {
        Ok(Ok(progress)) => Lookup::Found(platform_row(&progress)),
        Ok(Err(PlatformError::NotFound)) => Lookup::Unknown,
        Ok(Err(err)) => {
            tracing::info!(%err, "progress look-up failed");
            Lookup::Unreachable
        }
        Err(_) => {
            tracing::info!("progress look-up timed out");
            Lookup::Unreachable
        }
    }
}

enum Lookup {
    Found(ProgressRow),
    /// The platform answered that it does not know the receipt.
    Unknown,
    /// No answer (no platform configured, network down, time-out).
    Unreachable,
}

/// The fields a reprint needs from a sealed application; the applicant is
/// skipped, never copied out of the decrypted buffer.
#[derive(serde::Deserialize)]
struct StoredApplication {
    service_code: String,
    service_name: String,
    created_at: String,
    #[serde(default)]
    materials: Vec<Material>,
    /// How the result reaches the resident (the address is sealed to the
    /// platform; the kiosk keeps only the method).
    #[serde(default)]
    delivery_method: Option<DeliveryMethod>,
    /// 代办: the agent masked and their relationship (kept in clear).
    #[serde(default)]
    agent_masked_name: Option<String>,
    #[serde(default)]
    agent_relationship: Option<String>,
}

fn no_printer() -> Words {
    PrintError::NotReady(PrinterState::Disconnected).resident_message()
}

fn document_print_message(err: &PrintError) -> Words {
    match err.state() {
        PrinterState::PaperEnd => Words::fixed(
            "打印机缺纸，文件没有打印，请联系工作人员。",
            "The printer is out of paper; the document was not printed. Please ask staff.",
        ),
        _ => Words::fixed(
            "打印机暂时不能使用，文件没有打印，请稍后再试或联系工作人员。",
            "The printer is not working; the document was not printed. Please try again later or ask staff.",
        ),
    }
}

/// A short, non-reversible tag of an ID number, to tell whether the card on
/// the reader is still the one whose documents were listed.
fn card_tag(id_number: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        id_number.trim().to_ascii_uppercase().as_bytes(),
    ))
}

/// The text of a plain-text document; `None` for anything else.
fn document_text(document: &wire::PrintableDocument) -> Option<Zeroizing<String>> {
    use base64::Engine as _;
    if !document
        .content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("text/plain")
    {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(document.content_base64.trim())
        .ok()?;
    String::from_utf8(bytes).ok().map(Zeroizing::new)
}

/// The receipt's name of what was applied for.
fn receipt_service_name(application: &Application, title: &str) -> String {
    let name = plain_service_name(application, title);
    match &application.agent {
        Some(agent) => with_agent(
            name,
            &bianmin_core::id_number::mask_name(&agent.name),
            &agent.relationship,
        ),
        None => name,
    }
}

/// 代办: the receipt says so, with whom (masked) and what they are to the
/// applicant — printed and reprinted alike.
fn with_agent(name: String, masked_agent: &str, relationship: &str) -> String {
    format!("{name}（代办，代办人：{masked_agent}，{relationship}）")
}

fn plain_service_name(application: &Application, title: &str) -> String {
    if !title.trim().is_empty() {
        return title.trim().to_string();
    }
    match &application.subject {
        Subject::Service { code } => application
            .items
            .first()
            .map(|i| i.name.clone())
            .unwrap_or_else(|| code.clone()),
        Subject::Bundle { id, .. } => id.clone(),
    }
}

/// The outbox record of an application. A 一件事 bundle is one record (one
/// receipt): its code and name are the bundle's, and the form carries the
/// chosen items under `_bundle` (a key no form field can have: field keys
/// are lowercase words joined by dots).
pub fn new_application(application: &Application, title: &str, now_ms: i64) -> NewApplication {
    let (service_code, service_name) = match &application.subject {
        Subject::Service { code } => (
            code.clone(),
            application
                .items
                .first()
                .map(|i| i.name.clone())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| plain_service_name(application, title)),
        ),
        Subject::Bundle { id, .. } => (id.clone(), plain_service_name(application, title)),
    };
    let fields = &application.fields;
    let mut form = serde_json::Map::new();
    for key in fields.keys() {
        if let Some(value) = fields.get(key) {
            form.insert(
                key.to_string(),
                serde_json::Value::String(value.to_string()),
            );
        }
    }
    if let Subject::Bundle { id, .. } = &application.subject {
        form.insert(
            "_bundle".into(),
            serde_json::json!({ "id": id, "items": application.items }),
        );
    }
    if application.commitment_accepted {
        form.insert(
            "_commitment".into(),
            serde_json::json!({ "accepted": true, "signed": application.signature.is_some() }),
        );
    }
    if !application.content_version.is_empty() {
        // Which 办事指南 and forms the resident saw: the clerk judges the
        // application by those, not by a newer package.
        form.insert(
            "_content_version".into(),
            serde_json::Value::String(application.content_version.clone()),
        );
    }
    let confirmation = &application.confirmation;
    if !confirmation.summary.is_empty() || confirmation.commitment.is_some() {
        // What the resident read before signing, for the clerk who checks it.
        form.insert(
            "_confirmation".into(),
            serde_json::json!({
                "summary": confirmation.summary,
                "commitment": confirmation.commitment,
            }),
        );
    }
    let identity = &application.identity;
    let field = |key: &str| fields.get(key).map(str::trim).filter(|v| !v.is_empty());
    NewApplication {
        service_code,
        service_name,
        assisted_by: application.assisted_by.clone(),
        applicant: Applicant {
            // The card, not the form, says who applies.
            name: identity.name.clone(),
            id_number: identity.id_number.clone(),
            phone: field("applicant.phone").unwrap_or_default().to_string(),
            address: field("applicant.address")
                .unwrap_or(identity.address.as_str())
                .to_string(),
            identified_by: identity.source.into(),
        },
        agent: application.agent.as_ref().map(|a| wire::AgentWire {
            name: a.name.clone(),
            id_number: a.id_number.clone(),
            relationship: a.relationship.clone(),
            identified_by: a.source.into(),
            declaration: a.declaration.clone(),
        }),
        form: serde_json::Value::Object(form),
        materials: application
            .materials
            .iter()
            .map(|m| Material {
                name: m.name.clone(),
                state: wire_state(m.state),
                due: owed_by(m.state, m.owed_within_days, now_ms),
            })
            .collect(),
        delivery: match &application.delivery {
            DeliveryChoice::Station => Delivery::Pickup,
            DeliveryChoice::Mail { address } => Delivery::Post {
                address: address.clone(),
            },
            DeliveryChoice::Electronic => Delivery::Electronic,
        },
        signature_png: application.signature.as_ref().and_then(signature_png),
    }
}

/// The platform's word for a material's state.
pub fn wire_state(state: MaterialState) -> wire::MaterialState {
    match state {
        MaterialState::Provided => wire::MaterialState::Provided,
        MaterialState::ECertFetched => wire::MaterialState::ECert,
        MaterialState::PendingVerification => wire::MaterialState::ECertPending,
        MaterialState::Missing => wire::MaterialState::Pending,
        MaterialState::Committed => wire::MaterialState::Committed,
    }
}

/// The receipt's words for a material the resident still owes or that is
/// still to be checked; `None` for a settled one.
fn wire_outstanding_words(state: wire::MaterialState) -> Option<&'static str> {
    match state {
        wire::MaterialState::Pending => Some(MaterialState::Missing.label_zh()),
        wire::MaterialState::ECertPending => Some(MaterialState::PendingVerification.label_zh()),
        wire::MaterialState::Provided
        | wire::MaterialState::ECert
        | wire::MaterialState::Committed => None,
    }
}

/// A material owed on the receipt, with the day it is due when there is one.
fn outstanding_line(name: &str, words: &str, due: Option<&str>) -> String {
    match due {
        Some(day) => format!("{name}（{words}，请于{day}前补交）"),
        None => format!("{name}（{words}）"),
    }
}

/// The day a 容缺 material is owed by (`YYYY-MM-DD`), when the guide sets
/// its 补交时限; other states owe nothing by a date.
fn owed_by(state: MaterialState, within_days: Option<u16>, now_ms: i64) -> Option<String> {
    (state == MaterialState::Missing)
        .then_some(within_days)
        .flatten()
        .map(|days| bianmin_core::time::due_date(now_ms, days))
        .filter(|day| !day.is_empty())
}

/// The receipt's small print names the content package the application was
/// made with, so a dispute about what the guide said can be settled.
fn with_content_version(note: String, version: &str) -> String {
    if version.trim().is_empty() {
        note
    } else {
        format!("{note}办事指南版本：{}。", version.trim())
    }
}

fn receipt_note(time_limit: &str) -> String {
    let time_limit = time_limit.trim();
    if time_limit.is_empty() {
        format!("{PROGRESS_HINT}。")
    } else {
        format!("办理时限：{time_limit}。{PROGRESS_HINT}。")
    }
}

/// 好差评 reasons in words, then the resident's note: the wire has one comment.
pub fn evaluation_comment(evaluation: &Evaluation) -> String {
    let mut parts = Vec::new();
    if !evaluation.reasons.is_empty() {
        let reasons: Vec<&str> = evaluation.reasons.iter().map(|r| r.label_zh()).collect();
        parts.push(format!("原因：{}", reasons.join("、")));
    }
    if let Some(note) = evaluation.note.as_deref().filter(|n| !n.trim().is_empty()) {
        parts.push(format!("补充说明：{}", note.trim()));
    }
    parts.join("；")
}

/// 办不成事 text as sent: one line of at most [`FEEDBACK_MAX_CHARS`]
/// characters, no control characters, and any run of seven or more digits (a phone or ID
/// number typed "so someone calls back") replaced, since the report is
/// not sealed against staff reading it.
pub fn bounded_feedback(text: &str) -> String {
    const HIDDEN: &str = "［号码已隐去］";
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |out: &mut String, digits: &mut String| {
        // Separators after the last digit belong to the text, not the number.
        let end = digits
            .rfind(|c: char| c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        if digits[..end].chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str(HIDDEN);
            out.push_str(&digits[end..]);
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.trim().chars() {
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        };
        if c.is_ascii_digit() || (matches!(c, 'X' | 'x') && !digits.is_empty()) {
            digits.push(c);
            continue;
        }
        // Spaces and dashes inside a number ("139 1234 5678") keep it one number.
        if matches!(c, ' ' | '-') && !digits.is_empty() {
            digits.push(c);
            continue;
        }
        flush(&mut out, &mut digits);
        out.push(if c.is_control() { ' ' } else { c });
    }
    flush(&mut out, &mut digits);
    // One line for the report: runs of blanks become one space.
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    out.chars().take(FEEDBACK_MAX_CHARS).collect()
}

/// The platform's status in the resident's words.
pub fn status_words(status: &str) -> Words {
    match status {
        "submitted" => Words::fixed("已提交", "Submitted"),
        "received" => Words::fixed("平台已接收", "Received"),
        "accepted" => Words::fixed("已受理", "Accepted"),
        "in_review" => Words::fixed("审核中", "Under review"),
        "need_materials" => Words::fixed("需要补充材料", "More materials needed"),
        "approved" => Words::fixed("已通过", "Approved"),
        "rejected" => Words::fixed("未通过", "Not approved"),
        "completed" => Words::fixed("已办结", "Completed"),
        _ => Words::fixed("处理中", "In progress"),
    }
}

/// This terminal's outbox state in the resident's words.
pub fn local_state_words(state: RecordState) -> Words {
    match state {
        RecordState::Pending => Words::fixed("排队待上传", "Waiting to upload"),
        RecordState::Acked => Words::fixed("已送达平台", "Delivered to the platform"),
        RecordState::Parked => Words::fixed(
            "平台退回，请联系工作人员",
            "Returned by the platform; please ask staff",
        ),
    }
}

fn platform_row(progress: &wire::Progress) -> ProgressRow {
    ProgressRow {
        receipt_no: progress.receipt_no.clone(),
        service_name: progress.service_name.clone(),
        state: status_words(&progress.status),
        updated: shown_time_rfc3339(&progress.updated_at),
    }
}

fn local_row(record: &RecordSummary) -> ProgressRow {
    ProgressRow {
        receipt_no: record.key.clone(),
        service_name: record.service_name.clone().unwrap_or_default(),
        state: local_state_words(record.state),
        updated: shown_time_ms(record.created_at_ms),
    }
}

/// "2026-11-25 10:32", the station's time.
pub fn shown_time_ms(ms: i64) -> String {
    use chrono::TimeZone;
    store::station_zone()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn shown_time_rfc3339(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&store::station_zone())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| text.to_string())
}

/// Largest signature image stored, in pixels a side: a pad reporting a
/// silly size must not make a huge record.
const SIGNATURE_MAX_SIDE: u32 = 2000;

/// The handwritten signature as a PNG: dark strokes on white, the pad's
/// size, drawn the way the pad showed it. `None` for an empty pad or one of
/// impossible size.
pub fn signature_png(signature: &Signature) -> Option<Vec<u8>> {
    let (width, height) = (signature.width, signature.height);
    if width == 0 || height == 0 || width > SIGNATURE_MAX_SIDE || height > SIGNATURE_MAX_SIDE {
        return None;
    }
    if signature.strokes.iter().all(Vec::is_empty) {
        return None;
    }
    crate::signature::render_png(signature).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_core::application::Point;
    use bianmin_core::evaluation::{LowReason, Satisfaction};

    #[test]
    fn feedback_is_bounded_and_carries_no_numbers_of_people() {
        assert_eq!(
            bounded_feedback(
                "  找不到居住证办理，电话 139 1234 5678 \n 身份证11010519491231002X  "
            ),
            "找不到居住证办理，电话 ［号码已隐去］ 身份证［号码已隐去］"
        );
        // Full-width digits are numbers too; short numbers (a floor, a count) stay.
        assert_eq!(
            bounded_feedback("３楼窗口说要１３９１２３４５６７８"),
            "3楼窗口说要［号码已隐去］"
        );
        assert_eq!(bounded_feedback("排了2个小时"), "排了2个小时");
        assert_eq!(bounded_feedback("a\u{1b}b"), "a b");
        let long = bounded_feedback(&"长".repeat(FEEDBACK_MAX_CHARS * 2));
        assert_eq!(long.chars().count(), FEEDBACK_MAX_CHARS);
    }

    #[test]
    fn evaluation_comments_put_reasons_in_words() {
        let low = Evaluation::new(
            "R",
            Satisfaction::VeryDissatisfied,
            &[LowReason::DeviceProblem],
            Some(" 打印机没纸 "),
        )
        .unwrap();
        assert_eq!(
            evaluation_comment(&low),
            "原因：设备出了故障；补充说明：打印机没纸"
        );
        let high = Evaluation::new("R", Satisfaction::VerySatisfied, &[], None).unwrap();
        assert_eq!(evaluation_comment(&high), "");
    }

    #[test]
    fn material_states_keep_owed_and_to_verify_apart() {
        assert_eq!(
            wire_state(MaterialState::PendingVerification),
            wire::MaterialState::ECertPending
        );
        assert_eq!(
            wire_state(MaterialState::Missing),
            wire::MaterialState::Pending
        );
        for state in [
            MaterialState::Provided,
            MaterialState::ECertFetched,
            MaterialState::PendingVerification,
            MaterialState::Missing,
            MaterialState::Committed,
        ] {
            // A reprint lists exactly what the first print listed.
            assert_eq!(
                wire_outstanding_words(wire_state(state)),
                state.outstanding().then(|| state.label_zh())
            );
        }
    }

    #[test]
    fn states_in_words() {
        assert_eq!(status_words("in_review").zh(), "审核中");
        assert_eq!(status_words("in_review").en(), "Under review");
        assert_eq!(status_words("something_new").zh(), "处理中");
        assert_eq!(local_state_words(RecordState::Pending).zh(), "排队待上传");
        assert_eq!(
            shown_time_rfc3339("2026-11-25T02:32:00Z"),
            "2026-11-25 10:32"
        );
        assert_eq!(shown_time_rfc3339("garbled"), "garbled");
        assert_eq!(receipt_note(""), format!("{PROGRESS_HINT}。"));
    }

    #[test]
    fn signatures_render_dark_on_white() {
        let signature = Signature {
            width: 200,
            height: 100,
            strokes: vec![
                vec![Point { x: 10, y: 50 }, Point { x: 190, y: 50 }],
                vec![Point { x: 100, y: 80 }],
            ],
        };
        let png = signature_png(&signature).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(image.dimensions(), (200, 100));
        assert!(image.get_pixel(100, 50).0[0] < 64, "on the stroke");
        assert!(image.get_pixel(100, 80).0[0] < 64, "a tap is a dot");
        assert_eq!(image.get_pixel(100, 20).0[0], 255, "paper stays white");

        let empty = Signature {
            width: 200,
            height: 100,
            strokes: vec![],
        };
        assert_eq!(signature_png(&empty), None);
        let mut huge = signature.clone();
        huge.width = 100_000;
        assert_eq!(signature_png(&huge), None);
    }
}
