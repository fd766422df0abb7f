//! What background work (devices, sync, the service desk) tells the UI
//! thread, and the [`Inbox`] it arrives in.

use bianmin_core::package::Package;
use bianmin_drivers::manager::DevicesStatus;
use bianmin_sync::Link;
use std::sync::Arc;

/// Something that happened off the UI thread and must show on screen.
#[derive(Debug, Clone)]
pub enum UiEvent {
    Link {
        link: Link,
        queue_depth: u64,
    },
    /// A verified content package; applied between sessions.
    Content(Box<Package>),
    /// Service codes this station applied for most, most first (本站常办).
    Popular(Vec<String>),
    /// An ID card was read; only the masked form ever reaches the screen.
    CardPresent {
        masked_name: String,
        masked_id: String,
    },
    CardRemoved,
    /// A card lies on the reader but could not be read: the resident's sentence.
    CardFailed(bianmin_core::words::Words),
    /// A receipt of this system was scanned; the UI asks the desk for its
    /// progress (answered as `Desk(DeskEvent::Progress)`).
    ReceiptScanned(String),
    /// A personal code (一码通, 电子身份证, 电子社保卡) was scanned: the UI
    /// asks the desk to have the platform verify it, tagged with its session.
    ServiceCodeScanned(Box<bianmin_desk::PersonalCode>),
    /// Something that is not a code this kiosk knows.
    UnknownCode,
    /// The physical call-staff button. The desk has already queued the
    /// `call_staff` event for the platform; the UI only shows that help is
    /// coming (and must not send `DeskRequest::CallStaff` again).
    CallStaff,
    Devices(Box<DevicesStatus>),
    /// The presence sensor saw someone arrive (`true`) or leave: a dimmed
    /// screen wakes for the arrival.
    Presence(bool),
    /// An answer of the service desk, tagged with the session that asked:
    /// the controller drops it if that session has ended.
    Desk(bianmin_desk::DeskAnswer),
    /// A kiosk with no identity: what became of the enrollment code a
    /// technician scanned.
    Enrollment(EnrollmentNews),
    /// A technician sent "restart": now if nobody is served, else when the
    /// resident's session ends.
    RestartRequested,
    /// The updater asks for a moment between residents to replace the
    /// software (`true`), or no longer needs it (`false`).
    UpdateHold(bool),
}

/// The steps of enrolling a kiosk, as its screen tells the technician.
#[derive(Debug, Clone)]
pub enum EnrollmentNews {
    /// A code was read and is being sent to the platform.
    Checking,
    /// Enrolled: the kiosk restarts with its new identity.
    Done {
        terminal_id: String,
        station_name: String,
    },
    /// Not a code, refused by the platform, or the platform away: why.
    Failed(bianmin_core::words::Words),
}

/// Events waiting for the UI thread.
pub type Inbox = crate::mailbox::Mailbox<UiEvent>;

impl Inbox {
    /// The desk's answers, delivered into this inbox.
    pub fn desk_answers(&self) -> bianmin_desk::DeskAnswers {
        let inbox = self.clone();
        Arc::new(move |answer| inbox.post(UiEvent::Desk(answer)))
    }
}
