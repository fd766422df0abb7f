//! The 256-byte text block (UCS-2 little-endian, space padded) and the
//! identity it describes, for the resident card and the J / I / Y types.

use super::tables::{ethnicity_name, Gender};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Size of the text block.
pub const TEXT_LEN: usize = 256;
/// Size of the WLT photo.
pub const PHOTO_LEN: usize = 1024;
/// Byte offset of the card-type character.
const KIND_OFFSET: usize = 248;

/// Which document the card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    /// 居民身份证.
    Resident,
    /// `J`: 港澳台居民居住证.
    HkMacaoTaiwan,
    /// `I`: 外国人永久居留身份证, layout before 2023.
    ForeignerOld,
    /// `Y`: 外国人永久居留身份证, 2023 layout.
    Foreigner2023,
}

impl CardKind {
    pub fn label(self) -> &'static str {
        match self {
            CardKind::Resident => "居民身份证",
            CardKind::HkMacaoTaiwan => "港澳台居民居住证",
            CardKind::ForeignerOld => "外国人永久居留身份证（旧版）",
            CardKind::Foreigner2023 => "外国人永久居留身份证",
        }
    }

    /// Whether the number on this card follows GB 11643 (18 characters with
    /// a MOD 11-2 check character). The old foreigner card uses a 15-character
    /// number of its own.
    pub fn has_gb11643_number(self) -> bool {
        !matches!(self, CardKind::ForeignerOld)
    }
}

/// Everything read from one card. Wiped from memory when dropped; its Debug
/// output shows only the card kind and sizes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Identity {
    #[zeroize(skip)]
    pub kind: CardKind,
    /// Chinese name (may be empty on foreigner cards).
    pub name: String,
    /// English name (foreigner cards).
    pub name_en: String,
    pub gender_code: u8,
    /// GB 3304 code; 0 when the card has none.
    pub ethnicity_code: u8,
    /// YYYYMMDD.
    pub birth: String,
    pub address: String,
    /// 18-character number (resident, J, Y) or permanent-residence number (I).
    pub id_number: String,
    /// Issuing authority (I: authority code).
    pub authority: String,
    pub valid_from: String,
    /// YYYYMMDD or 长期.
    pub valid_until: String,
    /// J: 通行证号码.
    pub pass_number: String,
    /// J: 签发次数.
    pub issue_count: String,
    /// I, Y: ISO 3166-1 alpha-3.
    pub nationality: String,
    /// I: card version.
    pub card_version: String,
    /// Y: 换证次数.
    pub renewals: String,
    /// WLT-compressed photo, opaque: no open decoder exists.
    pub photo: Vec<u8>,
    /// Fingerprint block from a 30 10 read, opaque.
    pub fingerprint: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("kind", &self.kind)
            .field("photo_bytes", &self.photo.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    pub fn empty(kind: CardKind) -> Identity {
        Identity {
            kind,
            name: String::new(),
            name_en: String::new(),
            gender_code: 0,
            ethnicity_code: 0,
            birth: String::new(),
            address: String::new(),
            id_number: String::new(),
            authority: String::new(),
            valid_from: String::new(),
            valid_until: String::new(),
            pass_number: String::new(),
            issue_count: String::new(),
            nationality: String::new(),
            card_version: String::new(),
            renewals: String::new(),
            photo: Vec::new(),
            fingerprint: Vec::new(),
        }
    }

    pub fn gender(&self) -> Gender {
        Gender::from_code(self.gender_code)
    }

    pub fn ethnicity(&self) -> Option<&'static str> {
        ethnicity_name(self.ethnicity_code)
    }

    /// The name to greet the holder with: Chinese if present, else English.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.name_en
        } else {
            &self.name
        }
    }
}

/// The text block could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("text block has {0} bytes, expected {TEXT_LEN}")]
    Length(usize),
}

/// Decode UCS-2LE, dropping the padding (spaces and NULs) at both ends.
/// Unpaired surrogates become U+FFFD rather than failing the whole card.
fn ucs2(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .trim_matches(|c: char| c == ' ' || c == '\0' || c == '\u{3000}')
        .to_string()
}

fn digits(text: &str) -> u8 {
    let t = text.trim();
    if !t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<u16>().map(|v| v.min(255) as u8).unwrap_or(0)
    } else {
        0
    }
}

/// Decode a text block. Never panics; a block of the wrong length is refused.
pub fn decode_text_block(block: &[u8]) -> Result<Identity, TextError> {
    if block.len() != TEXT_LEN {
        return Err(TextError::Length(block.len()));
    }
    let f = |offset: usize, len: usize| ucs2(&block[offset..offset + len]);
    let kind = match u16::from_le_bytes([block[KIND_OFFSET], block[KIND_OFFSET + 1]]) {
        0x4A => CardKind::HkMacaoTaiwan,
        0x49 => CardKind::ForeignerOld,
        0x59 => CardKind::Foreigner2023,
        _ => CardKind::Resident,
    };
    let mut id = Identity::empty(kind);
    match kind {
        CardKind::Resident | CardKind::HkMacaoTaiwan => {
            id.name = f(0, 30);
            id.gender_code = digits(&f(30, 2));
            id.ethnicity_code = digits(&f(32, 4));
            id.birth = f(36, 16);
            id.address = f(52, 70);
            id.id_number = f(122, 36);
            id.authority = f(158, 30);
            id.valid_from = f(188, 16);
            id.valid_until = f(204, 16);
            if kind == CardKind::HkMacaoTaiwan {
                id.ethnicity_code = 0;
                id.pass_number = f(220, 18);
                id.issue_count = f(238, 4);
            }
        }
        CardKind::ForeignerOld => {
            id.name_en = f(0, 120);
            id.gender_code = digits(&f(120, 2));
            id.id_number = f(122, 30);
            id.nationality = f(152, 6);
            id.name = f(158, 30);
            id.valid_from = f(188, 16);
            id.valid_until = f(204, 16);
            id.birth = f(220, 16);
            id.card_version = f(236, 4);
            id.authority = f(240, 8);
        }
        CardKind::Foreigner2023 => {
            id.name = f(0, 30);
            id.gender_code = digits(&f(30, 2));
            id.renewals = f(32, 4);
            id.birth = f(36, 16);
            // The English name continues in the reserved area; the first part
            // is not trimmed on its own, or a space at the join would vanish.
            let raw = |range: std::ops::Range<usize>| -> String {
                char::decode_utf16(
                    block[range]
                        .chunks_exact(2)
                        .map(|p| u16::from_le_bytes([p[0], p[1]])),
                )
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
            };
            id.name_en = format!("{}{}", raw(52..122), raw(220..242))
                .trim_matches(|c: char| c == ' ' || c == '\0')
                .to_string();
            id.id_number = f(122, 36);
            id.valid_from = f(188, 16);
            id.valid_until = f(204, 16);
            id.nationality = f(242, 6);
        }
    }
    Ok(id)
}

/// Write `text` into `block[offset..offset+len]` as UCS-2LE, truncated to
/// whole characters; the rest of the field stays space-padded.
fn put(block: &mut [u8; TEXT_LEN], offset: usize, len: usize, text: &str) {
    let mut at = offset;
    for unit in text.encode_utf16() {
        if at + 2 > offset + len {
            break;
        }
        block[at..at + 2].copy_from_slice(&unit.to_le_bytes());
        at += 2;
    }
}

/// Encode an identity as the card's text block (used by the simulator and
/// by tests; the inverse of [`decode_text_block`] for fields that fit).
pub fn encode_text_block(id: &Identity) -> [u8; TEXT_LEN] {
    let mut block = [0u8; TEXT_LEN];
    for pair in block.chunks_exact_mut(2) {
        pair.copy_from_slice(&[0x20, 0x00]);
    }
    let code = |c: u8, width: usize| format!("{c:0width$}");
    match id.kind {
        CardKind::Resident | CardKind::HkMacaoTaiwan => {
            put(&mut block, 0, 30, &id.name);
            put(&mut block, 30, 2, &code(id.gender_code, 1));
            if id.kind == CardKind::Resident {
                put(&mut block, 32, 4, &code(id.ethnicity_code, 2));
            }
            put(&mut block, 36, 16, &id.birth);
            put(&mut block, 52, 70, &id.address);
            put(&mut block, 122, 36, &id.id_number);
            put(&mut block, 158, 30, &id.authority);
            put(&mut block, 188, 16, &id.valid_from);
            put(&mut block, 204, 16, &id.valid_until);
            if id.kind == CardKind::HkMacaoTaiwan {
                put(&mut block, 220, 18, &id.pass_number);
                put(&mut block, 238, 4, &id.issue_count);
                put(&mut block, KIND_OFFSET, 2, "J");
            }
        }
        CardKind::ForeignerOld => {
            put(&mut block, 0, 120, &id.name_en);
            put(&mut block, 120, 2, &code(id.gender_code, 1));
            put(&mut block, 122, 30, &id.id_number);
            put(&mut block, 152, 6, &id.nationality);
            put(&mut block, 158, 30, &id.name);
            put(&mut block, 188, 16, &id.valid_from);
            put(&mut block, 204, 16, &id.valid_until);
            put(&mut block, 220, 16, &id.birth);
            put(&mut block, 236, 4, &id.card_version);
            put(&mut block, 240, 8, &id.authority);
            put(&mut block, KIND_OFFSET, 2, "I");
        }
        CardKind::Foreigner2023 => {
            put(&mut block, 0, 30, &id.name);
            put(&mut block, 30, 2, &code(id.gender_code, 1));
            put(&mut block, 32, 4, &id.renewals);
            put(&mut block, 36, 16, &id.birth);
            let units: Vec<char> = id.name_en.chars().collect();
            let split = units.len().min(35);
            let head: String = units[..split].iter().collect();
            let tail: String = units[split..].iter().collect();
            put(&mut block, 52, 70, &head);
            put(&mut block, 220, 22, &tail);
            put(&mut block, 122, 36, &id.id_number);
            put(&mut block, 188, 16, &id.valid_from);
            put(&mut block, 204, 16, &id.valid_until);
            put(&mut block, 242, 6, &id.nationality);
            put(&mut block, KIND_OFFSET, 2, "Y");
        }
    }
    block
}

/// The payload of a successful read reply, split into text, photo and
/// (for 30 10) fingerprint. Tolerates both two and three length fields.
pub fn split_read_payload(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let be = |i: usize| usize::from(u16::from_be_bytes([data[i], data[i + 1]]));
    if data.len() >= 4 {
        let (t, p) = (be(0), be(2));
        if 4 + t + p == data.len() {
            return Some((&data[4..4 + t], &data[4 + t..], &[]));
        }
    }
    if data.len() >= 6 {
        let (t, p, fp) = (be(0), be(2), be(4));
        if 6 + t + p + fp == data.len() {
            let text = &data[6..6 + t];
            let photo = &data[6 + t..6 + t + p];
            return Some((text, photo, &data[6 + t + p..]));
        }
    }
    None
}

/// The payload of a read reply for this identity (inverse of
/// [`split_read_payload`]); the fingerprint block is included when `with_fp`.
pub fn build_read_payload(id: &Identity, with_fp: bool) -> Vec<u8> {
    let text = encode_text_block(id);
    let mut photo = id.photo.clone();
    photo.resize(PHOTO_LEN, 0);
    let mut out = Vec::with_capacity(6 + TEXT_LEN + PHOTO_LEN + id.fingerprint.len());
    out.extend_from_slice(&(TEXT_LEN as u16).to_be_bytes());
    out.extend_from_slice(&(PHOTO_LEN as u16).to_be_bytes());
    if with_fp {
        out.extend_from_slice(&(id.fingerprint.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&text);
    out.extend_from_slice(&photo);
    if with_fp {
        out.extend_from_slice(&id.fingerprint);
    }
    photo.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_layout_offsets() {
        let mut id = Identity::empty(CardKind::Resident);
        id.name = "张三".into();
        id.gender_code = 1;
        id.ethnicity_code = 1;
        id.id_number = "11010519491231002X".into();
        id.valid_until = "长期".into();
        let block = encode_text_block(&id);
        assert_eq!(&block[0..4], &[0x20, 0x5F, 0x09, 0x4E]); // 张 U+5F20, 三 U+4E09
        assert_eq!(&block[30..32], b"1\0");
        assert_eq!(&block[32..36], b"0\x001\0");
        assert_eq!(&block[122..124], b"1\0");
        assert_eq!(&block[248..250], b" \0");
        let back = decode_text_block(&block).unwrap();
        assert_eq!(back, id);
        assert_eq!(back.ethnicity(), Some("汉"));
        assert!(!format!("{back:?}").contains("张"));
    }

    #[test]
    fn kind_character() {
        for (kind, ch) in [
            (CardKind::HkMacaoTaiwan, b'J'),
            (CardKind::ForeignerOld, b'I'),
            (CardKind::Foreigner2023, b'Y'),
        ] {
            let block = encode_text_block(&Identity::empty(kind));
            assert_eq!(block[248], ch);
            assert_eq!(decode_text_block(&block).unwrap().kind, kind);
        }
    }

    #[test]
    fn payload_split_tolerates_fingerprint_lengths() {
        let id = Identity::empty(CardKind::Resident);
        let two = build_read_payload(&id, false);
        assert_eq!(two.len(), 4 + 256 + 1024);
        let (t, p, fp) = split_read_payload(&two).unwrap();
        assert_eq!((t.len(), p.len(), fp.len()), (256, 1024, 0));
        let mut with = id.clone();
        with.fingerprint = vec![7; 1024];
        let three = build_read_payload(&with, true);
        let (t, p, fp) = split_read_payload(&three).unwrap();
        assert_eq!((t.len(), p.len(), fp.len()), (256, 1024, 1024));
        assert!(split_read_payload(&[1, 2, 3]).is_none());
    }
}
