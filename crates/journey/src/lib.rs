//! The resident's application journey as a pure model, without screens: a
//! [`Draft`] from 我要办理 to submit (一件事 questions, the merged form and its
//! keyboards, materials, delivery, 告知承诺 and signature), the numbered
//! steps it goes through, and the [`Completed`] application with its 好差评.
//! Every rule is core's; this keeps the resident's choices and says what
//! the next step may be. The UI (`bianmin-ui`) shows it and sends the
//! desk what it produces; tests drive it directly.

mod completed;
mod draft;
mod editor;
pub mod paging;
pub mod signature;
pub mod typing;

pub use completed::{feedback_topic, Completed, FeedbackTopic, RatingRequest, FEEDBACK_TOPICS};
pub use draft::{
    material_choice_words, Draft, FieldView, Owed, QuestionsView, ReadyToSubmit, Step, SummaryLine,
};
pub use editor::{EditorKind, EditorView};

use bianmin_core::bundle::BundleCatalogue;
use bianmin_core::catalogue::Catalogue;
use bianmin_core::form::FormLibrary;
use bianmin_core::package::Text;
use std::collections::BTreeMap;

/// What the journey reads and never changes: the catalogue with its guides,
/// the forms and the 一件事 bundles in force for this session.
#[derive(Clone, Copy)]
pub struct Content<'a> {
    pub catalogue: &'a Catalogue,
    pub forms: &'a FormLibrary,
    pub bundles: &'a BundleCatalogue,
    /// 告知承诺 texts by service code, with a `default` (the package's).
    pub commitments: &'a BTreeMap<String, Text>,
}
