//! The service desk behind the resident's screens: what the UI asks of the
//! store, the printer and the platform during a journey, done on the tokio
//! runtime so the UI thread never waits on I/O. Requests go in through
//! [`DeskHandle::send`]; answers come back to the UI as [`DeskEvent`]s in the
//! `Inbox`.
//!
//! The order on submit is the product's promise: the application is committed
//! to the outbox first, and only a committed receipt number is ever printed.

use crate::core::application::Application;
use crate::core::evaluation::Evaluation;

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
    /// 办不成事反映: what the resident could not get done. → `FeedbackSaved`.
    Feedback {
        service_code: Option<String>,
        text: String,
    },
    /// The resident pressed 呼叫工作人员: a platform event through the outbox (no reply).
    CallStaff,
}

/// One application's state as the resident is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRow {
    pub receipt_no: String,
    pub service_name: String,
    /// Plain Chinese: 已受理 / 审核中 / 已办结 …, or 排队待上传 / 已送达平台 offline.
    pub state: String,
    /// When the state last changed, as shown ("2026-11-25 10:32").
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub id: String,
    pub title: String,
}

/// The answers, delivered to the UI thread through the `Inbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskEvent {
    Submitted {
        receipt_no: String,
        /// The QR payload printed on the receipt (and shown on screen).
        qr: String,
        /// False: the screen must show the receipt number and QR large.
        printed: bool,
        /// Why it did not print, in plain Chinese; empty when printed.
        printer_message: String,
    },
    /// Nothing was stored; the resident's sentence (disk full, store broken…).
    SubmitFailed(String),
    /// Ok, or the resident's sentence.
    Reprinted(Result<(), String>),
    Evaluated(Result<(), String>),
    Progress {
        /// True: states are the platform's own; false: from this terminal's outbox.
        live: bool,
        rows: Vec<ProgressRow>,
        /// A plain sentence above the list (offline, nothing found, …).
        message: String,
    },
    Documents {
        online: bool,
        /// Titles of the e-certificates the platform holds for the resident.
        certificates: Vec<String>,
        documents: Vec<DocumentRow>,
    },
    DocumentPrinted(Result<(), String>),
    FeedbackSaved(Result<(), String>),
}

/// Cheap to clone; sending never blocks the UI thread.
#[derive(Clone)]
pub struct DeskHandle {
    tx: tokio::sync::mpsc::UnboundedSender<DeskRequest>,
}

impl DeskHandle {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<DeskRequest>) -> DeskHandle {
        DeskHandle { tx }
    }

    /// Queue a request; dropped (with a log line) only if the desk has stopped.
    pub fn send(&self, request: DeskRequest) {
        if self.tx.send(request).is_err() {
            tracing::warn!("the desk has stopped; request dropped");
        }
    }
}
