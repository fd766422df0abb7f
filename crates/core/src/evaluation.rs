//! 好差评: the resident's rating of a completed service, bound to its
//! receipt number. Never forced: the UI offers skipping with one tap, and a
//! skipped rating simply produces no record.

use serde::{Deserialize, Serialize};

/// The five national levels, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    VerySatisfied,
    Satisfied,
    Basic,
    Dissatisfied,
    VeryDissatisfied,
}

impl Satisfaction {
    pub const ALL: [Satisfaction; 5] = [
        Satisfaction::VerySatisfied,
        Satisfaction::Satisfied,
        Satisfaction::Basic,
        Satisfaction::Dissatisfied,
        Satisfaction::VeryDissatisfied,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Satisfaction::VerySatisfied => "非常满意",
            Satisfaction::Satisfied => "满意",
            Satisfaction::Basic => "基本满意",
            Satisfaction::Dissatisfied => "不满意",
            Satisfaction::VeryDissatisfied => "非常不满意",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Satisfaction::VerySatisfied => "Very satisfied",
            Satisfaction::Satisfied => "Satisfied",
            Satisfaction::Basic => "Fairly satisfied",
            Satisfaction::Dissatisfied => "Dissatisfied",
            Satisfaction::VeryDissatisfied => "Very dissatisfied",
        }
    }

    /// 5 for 非常满意 down to 1 for 非常不满意, as the platform counts.
    pub fn score(self) -> u8 {
        match self {
            Satisfaction::VerySatisfied => 5,
            Satisfaction::Satisfied => 4,
            Satisfaction::Basic => 3,
            Satisfaction::Dissatisfied => 2,
            Satisfaction::VeryDissatisfied => 1,
        }
    }

    /// The two lowest ask why (差评 must be followed up by the department).
    pub fn asks_reasons(self) -> bool {
        matches!(
            self,
            Satisfaction::Dissatisfied | Satisfaction::VeryDissatisfied
        )
    }
}

/// Why a resident was not satisfied; the platform's 差评 categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LowReason {
    TooManySteps,
    MaterialsUnclear,
    LongWait,
    DeviceProblem,
    HardToRead,
    StaffAttitude,
    ResultUnsatisfactory,
    Other,
}

impl LowReason {
    pub const ALL: [LowReason; 8] = [
        LowReason::TooManySteps,
        LowReason::MaterialsUnclear,
        LowReason::LongWait,
        LowReason::DeviceProblem,
        LowReason::HardToRead,
        LowReason::StaffAttitude,
        LowReason::ResultUnsatisfactory,
        LowReason::Other,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            LowReason::TooManySteps => "操作步骤太多",
            LowReason::MaterialsUnclear => "材料要求说得不清楚",
            LowReason::LongWait => "等待时间太长",
            LowReason::DeviceProblem => "设备出了故障",
            LowReason::HardToRead => "屏幕上的字看不清",
            LowReason::StaffAttitude => "工作人员服务不到位",
            LowReason::ResultUnsatisfactory => "没有办成想办的事",
            LowReason::Other => "其他",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            LowReason::TooManySteps => "Too many steps",
            LowReason::MaterialsUnclear => "Unclear what materials were needed",
            LowReason::LongWait => "Waited too long",
            LowReason::DeviceProblem => "The terminal had a fault",
            LowReason::HardToRead => "Hard to read the screen",
            LowReason::StaffAttitude => "Staff did not help well",
            LowReason::ResultUnsatisfactory => "Could not get it done",
            LowReason::Other => "Something else",
        }
    }
}

/// Longest note accepted, in characters.
pub const NOTE_MAX_CHARS: usize = 200;

/// A rating bound to a receipt, ready for the outbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub receipt_no: String,
    pub level: Satisfaction,
    pub reasons: Vec<LowReason>,
    /// Free text: may hold personal data, so Debug never shows it.
    pub note: Option<String>,
}

impl std::fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("receipt_no", &self.receipt_no)
            .field("level", &self.level)
            .field("reasons", &self.reasons)
            .field("note", &self.note.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluationError {
    #[error("评价需要对应一张受理回执")]
    NoReceipt,
    #[error("只有“不满意”和“非常不满意”需要选择原因")]
    ReasonsNotAsked,
    #[error("补充说明最多{NOTE_MAX_CHARS}个字")]
    NoteTooLong,
}

impl Evaluation {
    /// Reasons are sorted and deduplicated; a blank note is no note.
    pub fn new(
        receipt_no: &str,
        level: Satisfaction,
        reasons: &[LowReason],
        note: Option<&str>,
    ) -> Result<Evaluation, EvaluationError> {
        let receipt_no = receipt_no.trim();
        if receipt_no.is_empty() {
            return Err(EvaluationError::NoReceipt);
        }
        if !level.asks_reasons() && !reasons.is_empty() {
            return Err(EvaluationError::ReasonsNotAsked);
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS) {
            return Err(EvaluationError::NoteTooLong);
        }
        let mut reasons = reasons.to_vec();
        reasons.sort();
        reasons.dedup();
        Ok(Evaluation {
            receipt_no: receipt_no.to_string(),
            level,
            reasons,
            note: note.map(String::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_levels_with_reasons_only_for_the_two_lowest() {
        let labels: Vec<&str> = Satisfaction::ALL.iter().map(|s| s.label_zh()).collect();
        assert_eq!(
            labels,
            ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
        );
        let asking: Vec<bool> = Satisfaction::ALL.iter().map(|s| s.asks_reasons()).collect();
        assert_eq!(asking, [false, false, false, true, true]);
        assert_eq!(Satisfaction::ALL.map(Satisfaction::score), [5, 4, 3, 2, 1]);
    }

    #[test]
    fn evaluations_are_checked() {
        let ok = Evaluation::new(
            " R-1 ",
            Satisfaction::VeryDissatisfied,
            &[
                LowReason::LongWait,
                LowReason::TooManySteps,
                LowReason::LongWait,
            ],
            Some("  "),
        )
        .unwrap();
        assert_eq!(ok.receipt_no, "R-1");
        assert_eq!(ok.reasons, [LowReason::TooManySteps, LowReason::LongWait]);
        assert_eq!(ok.note, None);
        assert_eq!(
            Evaluation::new("R-1", Satisfaction::Satisfied, &[LowReason::Other], None),
            Err(EvaluationError::ReasonsNotAsked)
        );
        assert_eq!(
            Evaluation::new("", Satisfaction::Satisfied, &[], None),
            Err(EvaluationError::NoReceipt)
        );
        let long = "长".repeat(NOTE_MAX_CHARS + 1);
        assert_eq!(
            Evaluation::new("R", Satisfaction::Dissatisfied, &[], Some(&long)),
            Err(EvaluationError::NoteTooLong)
        );
        let json = serde_json::to_string(&ok).unwrap();
        assert!(json.contains("very_dissatisfied"));
        assert_eq!(serde_json::from_str::<Evaluation>(&json).unwrap(), ok);
        assert!(LowReason::ALL
            .iter()
            .all(|r| !r.label_zh().is_empty() && r.label_en().is_ascii()));
        let noted =
            Evaluation::new("R", Satisfaction::Dissatisfied, &[], Some("我叫张三")).unwrap();
        assert!(!format!("{noted:?}").contains("张三"));
    }
}
