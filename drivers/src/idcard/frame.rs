//! GA/T 467 frames, sans-IO: commands to bytes, and a decoder that takes bytes
//! in arbitrary chunks and yields frames, resynchronising on the preamble.

/// Every frame starts with these five bytes.
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];
/// Preamble plus the two length bytes.
pub const HEADER_LEN: usize = 7;
/// The largest LEN this decoder accepts. A 30 10 reply with a full
/// fingerprint block is about 2.3 KiB; anything far beyond is garbage that
/// happened to contain the preamble.
pub const MAX_LEN: usize = 4096;

/// Host commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ResetSam,
    SamStatus,
    ReadSamId,
    FindCard,
    SelectCard,
    /// Text and photo (30 01).
    ReadText,
    /// Text, photo and fingerprint (30 10).
    ReadTextAndFingerprint,
}

impl Command {
    pub fn code(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::ReadSamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadText => (0x30, 0x01),
            Command::ReadTextAndFingerprint => (0x30, 0x10),
        }
    }

    pub fn from_code(cmd: u8, para: u8) -> Option<Command> {
        [
            Command::ResetSam,
            Command::SamStatus,
            Command::ReadSamId,
            Command::FindCard,
            Command::SelectCard,
            Command::ReadText,
            Command::ReadTextAndFingerprint,
        ]
        .into_iter()
        .find(|c| c.code() == (cmd, para))
    }

    /// The complete frame for this command.
    pub fn encode(self) -> Vec<u8> {
        let (cmd, para) = self.code();
        encode_frame(&[cmd, para])
    }
}

/// Wrap a frame body (CMD PARA data, or SW1 SW2 SW3 data) in preamble,
/// length and checksum. Bodies longer than `MAX_LEN - 1` are a programming
/// error of the caller and are truncated rather than sent with a wrong LEN.
pub fn encode_frame(body: &[u8]) -> Vec<u8> {
    let body = &body[..body.len().min(MAX_LEN - 1)];
    let len = (body.len() + 1) as u16;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 1);
    out.extend_from_slice(&PREAMBLE);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    let chk = out[PREAMBLE.len()..].iter().fold(0u8, |acc, b| acc ^ b);
    out.push(chk);
    out
}

/// A reply from the SAM: status words and data.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub sw1: u8,
    pub sw2: u8,
    pub sw3: u8,
    pub data: Vec<u8>,
}

// Replies carry the card's text and photo: never print the data.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reply {{ sw: {:02X} {:02X} {:02X}, data: {} bytes }}",
            self.sw1,
            self.sw2,
            self.sw3,
            self.data.len()
        )
    }
}

impl Reply {
    pub fn new(sw3: u8, data: Vec<u8>) -> Reply {
        Reply {
            sw1: 0,
            sw2: 0,
            sw3,
            data,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(3 + self.data.len());
        body.extend_from_slice(&[self.sw1, self.sw2, self.sw3]);
        body.extend_from_slice(&self.data);
        encode_frame(&body)
    }

    /// Interpret a frame body as a reply; a body shorter than the three
    /// status words is malformed.
    pub fn from_body(body: &[u8]) -> Option<Reply> {
        match body {
            [sw1, sw2, sw3, data @ ..] => Some(Reply {
                sw1: *sw1,
                sw2: *sw2,
                sw3: *sw3,
                data: data.to_vec(),
            }),
            _ => None,
        }
    }
}

/// What the decoder found that was not a good frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame checksum mismatch: computed {computed:02X}, received {received:02X}")]
    Checksum { computed: u8, received: u8 },
}

/// Incremental frame decoder. Feed bytes with [`FrameDecoder::push`], take
/// frames with [`FrameDecoder::next_frame`]. Bytes before a preamble are
/// counted in [`FrameDecoder::discarded`] and dropped.
#[derive(Debug, Default, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    discarded: u64,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes thrown away while looking for a preamble (garbage, line noise,
    /// the remains of a corrupted frame).
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Bytes waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    fn drop_front(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// The next complete frame's body (everything between LEN and CHK), an
    /// error for a complete frame with a bad checksum, or `None` when more
    /// bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        loop {
            match find_preamble(&self.buf) {
                Some(0) => {}
                Some(start) => {
                    self.discarded += start as u64;
                    self.drop_front(start);
                }
                None => {
                    // Keep a tail that might be the start of a preamble.
                    let keep = partial_preamble_suffix(&self.buf);
                    let drop = self.buf.len() - keep;
                    self.discarded += drop as u64;
                    self.drop_front(drop);
                    return None;
                }
            }
            if self.buf.len() < HEADER_LEN {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[5], self.buf[6]]));
            if len == 0 || len > MAX_LEN {
                // A preamble inside garbage: skip its first byte and look again.
                self.discarded += 1;
                self.drop_front(1);
                continue;
            }
            if self.buf.len() < HEADER_LEN + len {
                return None;
            }
            let end = HEADER_LEN + len;
            let computed = self.buf[5..end - 1].iter().fold(0u8, |acc, b| acc ^ b);
            let received = self.buf[end - 1];
            if computed != received {
                // Skip only the preamble, not LEN bytes: if the "frame" was
                // garbage, a real frame may start inside what LEN covered.
                self.discarded += PREAMBLE.len() as u64;
                self.drop_front(PREAMBLE.len());
                return Some(Err(FrameError::Checksum { computed, received }));
            }
            let body = self.buf[HEADER_LEN..end - 1].to_vec();
            self.drop_front(end);
            return Some(Ok(body));
        }
    }
}

fn find_preamble(buf: &[u8]) -> Option<usize> {
    buf.windows(PREAMBLE.len()).position(|w| w == PREAMBLE)
}

/// Length of the longest suffix of `buf` that is a proper prefix of the preamble.
fn partial_preamble_suffix(buf: &[u8]) -> usize {
    (1..PREAMBLE.len())
        .rev()
        .find(|&n| buf.len() >= n && buf[buf.len() - n..] == PREAMBLE[..n])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn command_frames_match_the_protocol_table() {
        let table = [
            (Command::ResetSam, "AA AA AA 96 69 00 03 10 FF EC"),
            (Command::SamStatus, "AA AA AA 96 69 00 03 11 FF ED"),
            (Command::ReadSamId, "AA AA AA 96 69 00 03 12 FF EE"),
            (Command::FindCard, "AA AA AA 96 69 00 03 20 01 22"),
            (Command::SelectCard, "AA AA AA 96 69 00 03 20 02 21"),
            (Command::ReadText, "AA AA AA 96 69 00 03 30 01 32"),
            (
                Command::ReadTextAndFingerprint,
                "AA AA AA 96 69 00 03 30 10 23",
            ),
        ];
        for (cmd, bytes) in table {
            assert_eq!(cmd.encode(), hex(bytes), "{cmd:?}");
        }
    }

    #[test]
    fn reply_frames_match_the_protocol_table() {
        assert_eq!(
            Reply::new(0x90, vec![]).encode(),
            hex("AA AA AA 96 69 00 04 00 00 90 94")
        );
        assert_eq!(
            Reply::new(0x9F, vec![0; 4]).encode(),
            hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
        );
        assert_eq!(
            Reply::new(0x80, vec![]).encode(),
            hex("AA AA AA 96 69 00 04 00 00 80 84")
        );
        assert_eq!(
            Reply::new(0x81, vec![]).encode(),
            hex("AA AA AA 96 69 00 04 00 00 81 85")
        );
        let mut data = vec![0x01, 0x00, 0x04, 0x00];
        data.resize(4 + 256 + 1024, 0x20);
        let read = Reply::new(0x90, data).encode();
        assert_eq!(read.len(), 1295);
        assert_eq!(&read[5..7], &[0x05, 0x08]);
    }

    #[test]
    fn garbage_and_false_preambles_are_skipped() {
        let mut dec = FrameDecoder::new();
        let mut input = hex("00 AA AA 96 AA AA AA 96 69 FF FF 12");
        input.extend(Reply::new(0x90, vec![]).encode());
        dec.push(&input);
        let body = dec.next_frame().unwrap().unwrap();
        assert_eq!(body, vec![0, 0, 0x90]);
        assert!(dec.next_frame().is_none());
        assert!(dec.discarded() > 0);
    }

    #[test]
    fn bad_checksum_is_reported_then_next_frame_decodes() {
        let mut bad = Reply::new(0x90, vec![]).encode();
        *bad.last_mut().unwrap() ^= 0xFF;
        let mut dec = FrameDecoder::new();
        dec.push(&bad);
        dec.push(&Reply::new(0x80, vec![]).encode());
        assert!(matches!(
            dec.next_frame(),
            Some(Err(FrameError::Checksum { .. }))
        ));
        assert_eq!(dec.next_frame(), Some(Ok(vec![0, 0, 0x80])));
    }
}
