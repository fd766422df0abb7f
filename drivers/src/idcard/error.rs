//! What can go wrong reading a card, with a sentence for the resident and a
//! detail for the technician (neither ever contains personal data).

use bianmin_core::words::Words;

/// A SAM status word 3 that is not success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamStatus {
    ChecksumRejected,
    LengthRejected,
    CommandRejected,
    NotPermitted,
    Unrecognised,
    CardFailedSamAuth,
    SamFailedCardAuth,
    VerificationError,
    UnknownCardType,
    ReadFailed,
    RandomFailed,
    SamSelfTestFailed,
    SamNotAuthorised,
    NoCard,
    SelectFailed,
    ItemEmpty,
    Other(u8),
}

impl SamStatus {
    /// `None` for the two success codes (90, 9F).
    pub fn from_sw3(sw3: u8) -> Option<SamStatus> {
        Some(match sw3 {
            0x90 | 0x9F => return None,
            0x10 => SamStatus::ChecksumRejected,
            0x11 => SamStatus::LengthRejected,
            0x21 => SamStatus::CommandRejected,
            0x23 => SamStatus::NotPermitted,
            0x24 => SamStatus::Unrecognised,
            0x31 => SamStatus::CardFailedSamAuth,
            0x32 => SamStatus::SamFailedCardAuth,
            0x33 => SamStatus::VerificationError,
            0x40 => SamStatus::UnknownCardType,
            0x41 => SamStatus::ReadFailed,
            0x47 => SamStatus::RandomFailed,
            0x60 => SamStatus::SamSelfTestFailed,
            0x66 => SamStatus::SamNotAuthorised,
            0x80 => SamStatus::NoCard,
            0x81 => SamStatus::SelectFailed,
            0x91 => SamStatus::ItemEmpty,
            other => SamStatus::Other(other),
        })
    }

    pub fn sw3(self) -> u8 {
        match self {
            SamStatus::ChecksumRejected => 0x10,
            SamStatus::LengthRejected => 0x11,
            SamStatus::CommandRejected => 0x21,
            SamStatus::NotPermitted => 0x23,
            SamStatus::Unrecognised => 0x24,
            SamStatus::CardFailedSamAuth => 0x31,
            SamStatus::SamFailedCardAuth => 0x32,
            SamStatus::VerificationError => 0x33,
            SamStatus::UnknownCardType => 0x40,
            SamStatus::ReadFailed => 0x41,
            SamStatus::RandomFailed => 0x47,
            SamStatus::SamSelfTestFailed => 0x60,
            SamStatus::SamNotAuthorised => 0x66,
            SamStatus::NoCard => 0x80,
            SamStatus::SelectFailed => 0x81,
            SamStatus::ItemEmpty => 0x91,
            SamStatus::Other(c) => c,
        }
    }

    /// True when the fault lies with the reader, not with how the card lies.
    pub fn is_reader_fault(self) -> bool {
        matches!(
            self,
            SamStatus::ChecksumRejected
                | SamStatus::LengthRejected
                | SamStatus::CommandRejected
                | SamStatus::NotPermitted
                | SamStatus::Unrecognised
                | SamStatus::RandomFailed
                | SamStatus::SamSelfTestFailed
                | SamStatus::SamNotAuthorised
                | SamStatus::Other(_)
        )
    }

    fn english(self) -> &'static str {
        match self {
            SamStatus::ChecksumRejected => "SAM rejected the frame checksum",
            SamStatus::LengthRejected => "SAM rejected the frame length",
            SamStatus::CommandRejected => "SAM does not know the command",
            SamStatus::NotPermitted => "command not permitted",
            SamStatus::Unrecognised => "unrecognised error",
            SamStatus::CardFailedSamAuth => "card failed to authenticate the SAM",
            SamStatus::SamFailedCardAuth => "SAM failed to authenticate the card",
            SamStatus::VerificationError => "verification error",
            SamStatus::UnknownCardType => "unknown card type",
            SamStatus::ReadFailed => "read failed",
            SamStatus::RandomFailed => "get-random failed",
            SamStatus::SamSelfTestFailed => "SAM self-test failed",
            SamStatus::SamNotAuthorised => "SAM not authorised",
            SamStatus::NoCard => "no card found",
            SamStatus::SelectFailed => "card select failed",
            SamStatus::ItemEmpty => "item empty on card",
            SamStatus::Other(_) => "undocumented status",
        }
    }
}

/// Why a card could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("SAM status {:02X}: {}", .0.sw3(), .0.english())]
    Sam(SamStatus),
    #[error("no reply from the reader within {0} ms")]
    Timeout(u64),
    #[error("reader answered with frames that fail the checksum, {0} times")]
    Checksum(u32),
    #[error("reader answered something that is not a GA/T 467 reply ({0})")]
    Malformed(&'static str),
    /// The card's number fails GB 11643: reported, never trusted.
    #[error("the number on the card fails the GB 11643 check ({0})")]
    InvalidIdNumber(crate::id_number::IdNumberError),
    #[error("serial link lost: {0}")]
    Io(String),
}

impl CardError {
    /// One plain sentence for the resident's screen.
    pub fn resident_message(&self) -> Words {
        match self {
            CardError::Sam(SamStatus::NoCard) => Words::fixed(
                "请将身份证放在感应区",
                "Please place your ID card on the reader",
            ),
            CardError::Sam(SamStatus::SelectFailed) => Words::fixed(
                "请将身份证平放在感应区，不要移动",
                "Please lay your ID card flat on the reader and keep it still",
            ),
            CardError::Sam(
                SamStatus::ReadFailed
                | SamStatus::CardFailedSamAuth
                | SamStatus::SamFailedCardAuth
                | SamStatus::VerificationError,
            ) => Words::fixed(
                "读卡没有成功，请拿起身份证后重新放好",
                "The card was not read. Lift it and place it again",
            ),
            CardError::Sam(SamStatus::UnknownCardType) => Words::fixed(
                "无法识别这张卡，请使用居民身份证或居住证",
                "This card is not recognised. Please use a resident ID card or residence permit",
            ),
            CardError::Sam(SamStatus::ItemEmpty) | CardError::InvalidIdNumber(_) => Words::fixed(
                "这张证件无法核验，请到窗口办理",
                "This card cannot be verified. Please go to a service window",
            ),
            CardError::Sam(_)
            | CardError::Timeout(_)
            | CardError::Checksum(_)
            | CardError::Malformed(_)
            | CardError::Io(_) => Words::fixed(
                "读卡器暂时无法使用，请联系工作人员或扫码办理",
                "The card reader is not working. Please ask staff, or scan a code instead",
            ),
        }
    }

    /// A line for the technician and the log; never contains card data.
    pub fn technician_detail(&self) -> String {
        self.to_string()
    }

    /// True when the device itself is at fault (the device manager counts
    /// these towards "degraded"); false for card handling problems.
    pub fn is_device_fault(&self) -> bool {
        match self {
            CardError::Sam(s) => s.is_reader_fault(),
            CardError::InvalidIdNumber(_) => false,
            CardError::Timeout(_)
            | CardError::Checksum(_)
            | CardError::Malformed(_)
            | CardError::Io(_) => true,
        }
    }

    /// The link is gone (unplugged, closed): reconnect rather than retry.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, CardError::Io(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_round_trips() {
        for code in [
            0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32, 0x33, 0x40, 0x41, 0x47, 0x60, 0x66, 0x80,
            0x81, 0x91,
        ] {
            let status = SamStatus::from_sw3(code).unwrap();
            assert!(!matches!(status, SamStatus::Other(_)), "{code:02X}");
            assert_eq!(status.sw3(), code);
            let err = CardError::Sam(status);
            assert!(!err.resident_message().is_empty());
            assert!(err.technician_detail().contains(&format!("{code:02X}")));
        }
        assert_eq!(SamStatus::from_sw3(0x90), None);
        assert_eq!(SamStatus::from_sw3(0x9F), None);
        assert_eq!(
            CardError::Sam(SamStatus::NoCard).resident_message().zh(),
            "请将身份证放在感应区"
        );
    }
}
