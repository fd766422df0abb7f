//! A GA/T 467 reader simulator: answers the SAM commands on a pty with the
//! exact frames of `shared/protocols.md`, holds fictional demo cards, and can
//! misbehave on request.

use super::frame::{encode_frame, Command, FrameDecoder, Reply};
use super::text::{build_read_payload, CardKind, Identity, PHOTO_LEN};
use crate::id_number::check_character;
use crate::pty::{Outbox, SimDevice, SimHandle};
use std::time::Duration;

/// Fault switches; any combination may be on.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Extra delay before every reply.
    pub slow: Option<Duration>,
    /// Deliver replies in 1–9 byte pieces.
    pub fragments: bool,
    /// Corrupt the checksum of this many next replies (`u32::MAX`: always).
    pub bad_checksum: u32,
    /// Say "no card" even with a card in the field.
    pub no_card: bool,
    /// The card is lifted while the SAM reads it: read fails, card gone.
    pub lift_during_read: bool,
    /// Line noise before each reply, including a false preamble.
    pub garbage_before: bool,
    /// Answer nothing at all (a hung SAM).
    pub silent: bool,
}

/// The simulated reader.
pub struct IdCardSim {
    /// The card lying in the field, if any.
    pub card: Option<Identity>,
    pub faults: Faults,
    /// SAM processing time for a read (real readers: about 1 s in total).
    pub sam_delay: Duration,
    decoder: FrameDecoder,
    selected: bool,
    seed: u64,
    /// Commands received (tests use it to check the bus is not flooded).
    pub commands: u64,
    pub reads: u64,
}

impl Default for IdCardSim {
    fn default() -> Self {
        IdCardSim::new()
    }
}

impl IdCardSim {
    pub fn new() -> IdCardSim {
        IdCardSim {
            card: None,
            faults: Faults::default(),
            sam_delay: Duration::ZERO,
            decoder: FrameDecoder::new(),
            selected: false,
            seed: 0x9E37_79B9_7F4A_7C15,
            commands: 0,
            reads: 0,
        }
    }

    /// Start on a new pty. `baud` paces replies at that line rate.
    pub fn start(self, baud: Option<u32>) -> std::io::Result<SimHandle<IdCardSim>> {
        SimHandle::start(self, "idcard", baud)
    }

    pub fn place(&mut self, card: Identity) {
        self.card = Some(card);
        self.selected = false;
    }

    pub fn lift(&mut self) {
        self.card = None;
        self.selected = false;
    }

    fn reply(&mut self, sw3: u8, data: Vec<u8>, delay: Duration, out: &mut Outbox) {
        if self.faults.silent {
            return;
        }
        let mut frame = Reply::new(sw3, data).encode();
        if self.faults.bad_checksum > 0 {
            if self.faults.bad_checksum != u32::MAX {
                self.faults.bad_checksum -= 1;
            }
            if let Some(last) = frame.last_mut() {
                *last ^= 0x5A;
            }
        }
        let delay = delay + self.faults.slow.unwrap_or_default();
        if self.faults.garbage_before {
            out.send_after(
                delay,
                vec![
                    0x00, 0xFF, 0xAA, 0xAA, 0x96, 0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF, 0x13,
                ],
            );
        }
        if self.faults.fragments {
            self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            out.send_fragmented(delay, &frame, Duration::from_micros(300), self.seed);
        } else {
            out.send_after(delay, frame);
        }
    }

    fn handle(&mut self, body: &[u8], out: &mut Outbox) {
        self.commands += 1;
        let Some(command) = body
            .get(..2)
            .and_then(|cp| Command::from_code(cp[0], cp[1]))
        else {
            self.reply(0x21, vec![], Duration::ZERO, out);
            return;
        };
        let card_here = self.card.is_some() && !self.faults.no_card;
        match command {
            Command::ResetSam | Command::SamStatus => self.reply(0x90, vec![], Duration::ZERO, out),
            Command::ReadSamId => {
                self.reply(0x90, b"SIMULATED-SAM-01".to_vec(), Duration::ZERO, out)
            }
            Command::FindCard if card_here => self.reply(0x9F, vec![0; 4], Duration::ZERO, out),
            Command::FindCard => self.reply(0x80, vec![], Duration::ZERO, out),
            Command::SelectCard if card_here => {
                self.selected = true;
                self.reply(0x90, vec![0; 8], Duration::ZERO, out)
            }
            Command::SelectCard => self.reply(0x81, vec![], Duration::ZERO, out),
            Command::ReadText | Command::ReadTextAndFingerprint => {
                self.reads += 1;
                if self.faults.lift_during_read && card_here {
                    self.lift();
                    self.reply(0x41, vec![], self.sam_delay / 2, out);
                    return;
                }
                match (&self.card, self.selected && card_here) {
                    (Some(card), true) => {
                        let with_fp = command == Command::ReadTextAndFingerprint;
                        let payload = build_read_payload(card, with_fp);
                        self.reply(0x90, payload, self.sam_delay, out);
                    }
                    _ => self.reply(0x41, vec![], Duration::ZERO, out),
                }
            }
        }
    }
}

impl SimDevice for IdCardSim {
    fn on_input(&mut self, bytes: &[u8], out: &mut Outbox) {
        self.decoder.push(bytes);
        while let Some(frame) = self.decoder.next_frame() {
            match frame {
                Ok(body) => self.handle(&body, out),
                Err(_) => self.reply(0x10, vec![], Duration::ZERO, out),
            }
        }
    }

    fn on_unplug(&mut self) {
        self.decoder.clear();
        self.selected = false;
    }
}

/// A valid 18-character number from its first 17 digits.
pub fn with_check(first17: &str) -> String {
    let check = check_character(first17).unwrap_or('0');
    format!("{first17}{check}")
}

fn fake_photo(seed: u8) -> Vec<u8> {
    // Not a WLT image (nobody can decode those here); only the size matters.
    (0..PHOTO_LEN)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Fictional demo cards, one of each kind plus two more residents; every
/// number carries a correct GB 11643 check character.
pub fn demo_cards() -> Vec<Identity> {
    let mut cards = Vec::new();

    let mut c = Identity::empty(CardKind::Resident);
    c.name = "王小明".into();
    c.gender_code = 1;
    c.ethnicity_code = 1;
    c.birth = "19900307".into();
    c.address = "北京市东城区示例路88号院3号楼2单元101室".into();
    c.id_number = with_check("11010119900307123");
    c.authority = "北京市公安局东城分局".into();
    c.valid_from = "20200101".into();
    c.valid_until = "20400101".into();
    c.photo = fake_photo(1);
    cards.push(c);

    let mut c = Identity::empty(CardKind::Resident);
    c.name = "李秀英".into();
    c.gender_code = 2;
    c.ethnicity_code = 3;
    c.birth = "19450612".into();
    c.address = "宁夏回族自治区银川市兴庆区演示巷12号".into();
    c.id_number = with_check("64010419450612002");
    c.authority = "银川市公安局兴庆区分局".into();
    c.valid_from = "20100612".into();
    c.valid_until = "长期".into();
    c.photo = fake_photo(2);
    cards.push(c);

    let mut c = Identity::empty(CardKind::Resident);
    c.name = "阿依古丽·买买提".into();
    c.gender_code = 2;
    c.ethnicity_code = 5;
    c.birth = "19880815".into();
    c.address = "新疆维吾尔自治区乌鲁木齐市天山区样例路6号".into();
    c.id_number = with_check("65010219880815004");
    c.authority = "乌鲁木齐市公安局天山区分局".into();
    c.valid_from = "20180815".into();
    c.valid_until = "20380815".into();
    c.photo = fake_photo(3);
    cards.push(c);

    let mut c = Identity::empty(CardKind::HkMacaoTaiwan);
    c.name = "陈大文".into();
    c.gender_code = 1;
    c.birth = "19850520".into();
    c.address = "广东省深圳市福田区演示大道100号".into();
    c.id_number = with_check("81000019850520001");
    c.authority = "深圳市公安局".into();
    c.valid_from = "20230101".into();
    c.valid_until = "20280101".into();
    c.pass_number = "H01234567".into();
    c.issue_count = "01".into();
    c.photo = fake_photo(4);
    cards.push(c);

    let mut c = Identity::empty(CardKind::ForeignerOld);
    c.name_en = "SMITH, JOHN EXAMPLE".into();
    c.name = "史约翰".into();
    c.gender_code = 1;
    c.id_number = "USA110085051201".into();
    c.nationality = "USA".into();
    c.birth = "19850512".into();
    c.valid_from = "20150101".into();
    c.valid_until = "20250101".into();
    c.card_version = "02".into();
    c.authority = "1500".into();
    c.photo = fake_photo(5);
    cards.push(c);

    let mut c = Identity::empty(CardKind::Foreigner2023);
    c.name = "玛丽".into();
    c.name_en = "MARTIN, MARIE CLAIRE ELISABETH DUBOIS-LEFEBVRE".into();
    c.gender_code = 2;
    c.renewals = "00".into();
    c.birth = "19920304".into();
    c.id_number = with_check("91125019920304002");
    c.valid_from = "20240101".into();
    c.valid_until = "20340101".into();
    c.nationality = "FRA".into();
    c.photo = fake_photo(6);
    cards.push(c);

    cards
}

/// A resident card whose number fails the check (to test that it is refused).
pub fn forged_card() -> Identity {
    let mut c = demo_cards().swap_remove(0);
    let last = if c.id_number.ends_with('0') { '1' } else { '0' };
    c.id_number.pop();
    c.id_number.push(last);
    c
}

/// A raw frame as the simulator would send it, for tests of odd replies.
pub fn raw_reply(sw3: u8, data: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, sw3];
    body.extend_from_slice(data);
    encode_frame(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_number::validate;

    #[test]
    fn demo_numbers_are_valid_and_sex_matches() {
        for card in demo_cards() {
            if card.kind.has_gb11643_number() {
                let v = validate(&card.id_number).unwrap();
                let male = card.gender_code == 1;
                assert_eq!(v.sex == crate::id_number::SexDigit::Male, male);
                assert_eq!(
                    card.birth,
                    format!("{:04}{:02}{:02}", v.birth_year, v.birth_month, v.birth_day)
                );
            }
        }
        assert!(validate(&forged_card().id_number).is_err());
    }
}
