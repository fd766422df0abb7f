//! The policy terms a resident meets on the screens (容缺受理, 免证办,
//! 告知承诺, 好差评 …), each with one line in plain words shown beside it
//! and a short explanation behind a tap. Written once, here; the screens
//! only pick them.

use crate::words::Words;

/// A term of government-service policy shown to residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Term {
    /// 容缺受理: non-key materials may follow later.
    Tolerant,
    /// 免证办: an e-certificate replaces the paper.
    ECertificate,
    /// 电子证照（待核验）: offline, the department checks the e-certificate later.
    PendingVerification,
    /// 告知承诺: a signed promise replaces a proof.
    Commitment,
    /// 必须提供: a key material with no replacement.
    KeyMaterial,
    /// 好差评: the national service rating.
    Rating,
    /// 办不成事反映: telling staff a service could not be done.
    CannotBeDone,
}

impl Term {
    pub const ALL: [Term; 7] = [
        Term::Tolerant,
        Term::ECertificate,
        Term::PendingVerification,
        Term::Commitment,
        Term::KeyMaterial,
        Term::Rating,
        Term::CannotBeDone,
    ];

    /// The term as the screens print it.
    pub fn name(self) -> Words {
        match self {
            Term::Tolerant => Words::fixed("容缺受理", "Apply now, hand in later"),
            Term::ECertificate => Words::fixed("免证办", "No paper certificate needed"),
            Term::PendingVerification => {
                Words::fixed("电子证照（待核验）", "E-certificate (to be checked)")
            }
            Term::Commitment => Words::fixed("告知承诺", "Commitment instead of proof"),
            Term::KeyMaterial => Words::fixed("必须提供", "Must be provided"),
            Term::Rating => Words::fixed("好差评", "Rate the service"),
            Term::CannotBeDone => Words::fixed("办不成事反映", "Report what could not be done"),
        }
    }

    /// One line in plain words, shown next to the term.
    pub fn plain(self) -> Words {
        match self {
            Term::Tolerant => Words::fixed(
                "没带齐也能先办，缺的材料在办结前补交",
                "Missing a paper? Apply now and hand it in before the case is closed",
            ),
            Term::ECertificate => Words::fixed(
                "不用带这份证件，工作人员从网上调取",
                "No need to bring it: staff fetch it online",
            ),
            Term::PendingVerification => Words::fixed(
                "现在没联网，部门事后在网上核对",
                "Offline now: the department checks it online later",
            ),
            Term::Commitment => Words::fixed(
                "签字保证属实，就不用交这份证明",
                "Sign that it is true and you need not bring the proof",
            ),
            Term::KeyMaterial => Words::fixed(
                "这份一定要有，不能后补",
                "This one is needed now; it cannot follow later",
            ),
            Term::Rating => Words::fixed(
                "给这次服务打个分，帮我们改进",
                "Score this service to help us improve it",
            ),
            Term::CannotBeDone => Words::fixed(
                "这里办不成时告诉我们，工作人员会跟进",
                "Tell us when you could not get it done; staff follow it up",
            ),
        }
    }

    /// What a tap on the term explains, in a few plain sentences.
    pub fn explain(self) -> Words {
        match self {
            Term::Tolerant => Words::fixed(
                "容缺受理：主要材料齐全、次要材料暂时没带的，可以先提交申请。回执上会写明还缺哪份，请在办理时限内交给工作人员或服务窗口。",
                "Apply now, hand in later: if the main papers are here and a minor one is missing, you can still apply. The receipt lists what is missing; hand it to staff or the service window within the time limit.",
            ),
            Term::ECertificate => Words::fixed(
                "免证办：这份证件部门可以在网上调取电子证照，您不用带纸质原件，也不用复印。",
                "No paper certificate needed: the department fetches this certificate online, so you need neither the original nor a copy.",
            ),
            Term::PendingVerification => Words::fixed(
                "电子证照（待核验）：终端现在没有联网，暂时取不到电子证照。申请照常提交，部门联网后核对；核对不上会通知您补交。",
                "E-certificate to be checked: the terminal is offline and cannot fetch it now. Your application goes ahead; the department checks it online later and tells you if anything is needed.",
            ),
            Term::Commitment => Words::fixed(
                "告知承诺：部门告诉您需要符合的条件，您签字承诺自己符合，就可以不交相关证明先办理。承诺不实要承担责任，办理结果也会被撤销。",
                "Commitment instead of proof: the department tells you the conditions; if you sign that you meet them, you need not bring the proof. A false promise has legal consequences and the result is revoked.",
            ),
            Term::KeyMaterial => Words::fixed(
                "必须提供：这份材料是办理的依据，不能容缺，也不能用承诺代替，请带来原件或用电子证照。",
                "Must be provided: the case rests on this paper, so it cannot follow later or be replaced by a promise. Bring the original or use the e-certificate.",
            ),
            Term::Rating => Words::fixed(
                "好差评：按国家规定，每次办事都可以评价。分为非常满意到非常不满意五档，不满意的可以说明原因，工作人员会回访整改。",
                "Rating: by national rules every service can be rated, from very satisfied to very dissatisfied. If you are not satisfied you can say why; staff follow it up.",
            ),
            Term::CannotBeDone => Words::fixed(
                "办不成事反映：在终端上找不到、办不了或看不懂时，选一个原因告诉我们，工作人员会联系您帮您办成。",
                "Report what could not be done: if you could not find, do or understand something here, pick a reason; staff will contact you and help.",
            ),
        }
    }

    /// The term with this id (its name in the UI contract), if it is one.
    pub fn from_id(id: &str) -> Option<Term> {
        Term::ALL.into_iter().find(|t| t.id() == id)
    }

    /// A stable id for the UI contract.
    pub fn id(self) -> &'static str {
        match self {
            Term::Tolerant => "tolerant",
            Term::ECertificate => "e-certificate",
            Term::PendingVerification => "pending-verification",
            Term::Commitment => "commitment",
            Term::KeyMaterial => "key-material",
            Term::Rating => "rating",
            Term::CannotBeDone => "cannot-be-done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_explained_in_both_languages() {
        for term in Term::ALL {
            for words in [term.name(), term.plain(), term.explain()] {
                assert!(!words.zh().is_empty() && !words.en().is_empty(), "{term:?}");
                assert!(!words.en().chars().any(|c| c > '\u{2fff}'), "{term:?}");
            }
            // The explanation starts with the term it explains.
            assert!(
                term.explain().zh().starts_with(term.name().zh()),
                "{term:?}"
            );
            assert_eq!(Term::from_id(term.id()), Some(term));
        }
        assert_eq!(Term::from_id("unknown"), None);
    }
}
