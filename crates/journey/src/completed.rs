//! After submit: the receipt the resident holds, the 好差评 they give, and
//! the topics of 办不成事反映.

use crate::paging::{pages, turn};
use bianmin_core::evaluation::{Evaluation, LowReason, Satisfaction};
use bianmin_core::words::Words;
use std::collections::BTreeSet;

/// What the receipt screen and the rating are about.
pub struct Completed {
    receipt_no: String,
    service_code: String,
    rating: Option<Satisfaction>,
    reasons: BTreeSet<LowReason>,
    reason_page: usize,
    rated: bool,
}

/// The evaluation to send, once.
#[derive(Debug, Clone)]
pub struct RatingRequest {
    pub receipt_no: String,
    pub service_code: String,
    pub evaluation: Evaluation,
}

impl Completed {
    pub fn new(receipt_no: &str, service_code: &str) -> Completed {
        Completed {
            receipt_no: receipt_no.to_string(),
            service_code: service_code.to_string(),
            rating: None,
            reasons: BTreeSet::new(),
            reason_page: 0,
            rated: false,
        }
    }

    pub fn receipt_no(&self) -> &str {
        &self.receipt_no
    }

    pub fn rating(&self) -> Option<Satisfaction> {
        self.rating
    }

    pub fn reasons(&self) -> &BTreeSet<LowReason> {
        &self.reasons
    }

    pub fn reason_page(&self) -> usize {
        self.reason_page
    }

    /// Sent already: the rating is not sent twice.
    pub fn rated(&self) -> bool {
        self.rated
    }

    /// A level tapped. `true` when it asks why (不满意 and below) before
    /// it can be sent.
    pub fn rate(&mut self, level: Satisfaction) -> bool {
        self.rating = Some(level);
        self.reasons.clear();
        level.asks_reasons()
    }

    pub fn toggle_reason(&mut self, reason: LowReason) {
        if !self.reasons.remove(&reason) {
            self.reasons.insert(reason);
        }
    }

    pub fn turn_reason_page(&mut self, step: i32, per_page: usize) {
        let count = pages(LowReason::ALL.len(), per_page);
        self.reason_page = turn(self.reason_page, step, count);
    }

    /// 提交评价: the evaluation to send, once; `None` without a level, when
    /// sent already, or when core refuses it (a low level without reasons).
    pub fn submit_rating(&mut self) -> Option<RatingRequest> {
        if self.rated {
            return None;
        }
        let level = self.rating?;
        let reasons: Vec<LowReason> = self.reasons.iter().copied().collect();
        match Evaluation::new(&self.receipt_no, level, &reasons, None) {
            Ok(evaluation) => {
                self.rated = true;
                Some(RatingRequest {
                    receipt_no: self.receipt_no.clone(),
                    service_code: self.service_code.clone(),
                    evaluation,
                })
            }
            Err(err) => {
                tracing::warn!(%err, "evaluation refused");
                None
            }
        }
    }
}

/// One topic of 办不成事反映: its value on the screen and its words. The
/// Chinese goes to the platform whatever the screen's language.
pub type FeedbackTopic = (&'static str, Words);

/// Topics of 办不成事反映, said as a resident would.
pub static FEEDBACK_TOPICS: [FeedbackTopic; 6] = [
    (
        "not_found",
        Words::fixed("找不到要办的事项", "I cannot find the service I need"),
    ),
    (
        "cannot_apply_here",
        Words::fixed(
            "这个事项在终端上办不了",
            "This service cannot be done at the terminal",
        ),
    ),
    (
        "materials",
        Words::fixed(
            "材料要求太多或不清楚",
            "Too many materials, or unclear which",
        ),
    ),
    (
        "device",
        Words::fixed("设备出了问题", "Something is wrong with the terminal"),
    ),
    (
        "too_hard",
        Words::fixed(
            "操作太复杂，看不懂",
            "Too complicated; I do not understand it",
        ),
    ),
    ("other", Words::fixed("其他问题", "Something else")),
];

/// The topic with this value, if it is one.
pub fn feedback_topic(value: &str) -> Option<&'static Words> {
    FEEDBACK_TOPICS
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, words)| words)
}
