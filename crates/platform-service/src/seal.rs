//! Column-level sealing of what kiosks send: each record is stored as
//! AES-256-GCM (ring) — or, for a platform of the 国密 suite, SM4-GCM
//! (GB/T 32907, RustCrypto's `sm4` in the generic GCM of `aes-gcm`, as the
//! kiosk's sealing does) — under the platform's data key, bound to its row
//! (kind, terminal, id as associated data) so a sealed value cannot be
//! moved to another row unnoticed. The key id, stored beside each value,
//! names the algorithm (`aes256gcm:…`, `sm4gcm:…`), so keys can rotate and
//! both kinds of rows can live side by side.

use anyhow::{bail, Context as _};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;
/// GCM's tag, the same for both ciphers.
const TAG_LEN: usize = 16;

enum Cipher {
    Aes(Box<LessSafeKey>),
    Sm4(Box<Sm4Gcm>),
}

/// One data key: its id, cipher and look-up key.
struct OneKey {
    id: String,
    cipher: Cipher,
    /// Keys the residents' look-up hashes (HMAC-SHA256, or HMAC-SM3 beside
    /// SM4): derived from the data key, so the rows can be found by ID
    /// number without the number lying in the database.
    lookup: Zeroizing<[u8; 32]>,
}

/// The platform's data keys: the current one seals, every one opens, so a
/// key can be replaced while rows sealed under the old one are still read
/// (`bianmin-platform rekey` then seals them again under the current key,
/// after which the old one can go).
pub struct DataKey {
    current: OneKey,
    older: Vec<OneKey>,
    rng: SystemRandom,
}

/// What the look-up key is derived with (a label, not a secret).
const LOOKUP_LABEL: &[u8] = b"bianmin-platform resident lookup v1";

/// Bytes from hex digits, `len` of them.
fn key_bytes(text: &str, len: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if text.len() != len * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected {} hex digits", len * 2);
    }
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).context("hex")?;
    }
    Ok(bytes)
}

/// The id of a key: its algorithm and the start of its SHA-256.
fn key_id(algorithm: &str, bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    format!(
        "{algorithm}:{}",
        digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

impl DataKey {
    /// From a key file or `BIANMIN_PLATFORM_DATA_KEY`: one key a line, the
    /// first the current one, the others older keys still read (`#` starts
    /// a comment). A key is 64 hex digits for AES-256-GCM, or `sm4:` and 32
    /// hex digits for SM4-GCM (the 国密 suite).
    pub fn from_hex(text: &str) -> anyhow::Result<DataKey> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = OneKey::from_hex(line).with_context(|| format!("line {}", n + 1))?;
            if keys.iter().any(|k: &OneKey| k.id == key.id) {
                bail!("line {}: the same key twice", n + 1);
            }
            keys.push(key);
        }
        if keys.is_empty() {
            bail!("no data key: expected 64 hex digits, or sm4: and 32 hex digits");
        }
        let current = keys.remove(0);
        Ok(DataKey {
            current,
            older: keys,
            rng: SystemRandom::new(),
        })
    }

    /// A new random key (the demo's; a real platform keeps its key).
    pub fn generate() -> DataKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .expect("the system's random source");
        DataKey {
            current: OneKey::from_bytes(&bytes).expect("32 bytes"),
            older: Vec::new(),
            rng: SystemRandom::new(),
        }
    }

    /// The look-up hash of a resident's ID number under the current key.
    pub fn resident_key(&self, id_number: &str) -> Vec<u8> {
        self.current.resident_key(id_number)
    }

    /// Its look-up hashes under every key (rows not yet sealed again carry
    /// an older key's).
    pub fn resident_keys(&self, id_number: &str) -> Vec<Vec<u8>> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .map(|k| k.resident_key(id_number))
            .collect()
    }

    /// Names the current key (not secret): stored with each sealed value.
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// Sealed under the current key: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, row: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source");
        self.current.seal(nonce, row, plain)
    }

    /// The plain bytes under whichever key sealed them, or an error when
    /// the value was sealed for another row, under a key not in the file,
    /// or altered.
    pub fn open(&self, row: &str, sealed: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let mut last = None;
        for key in std::iter::once(&self.current).chain(&self.older) {
            match key.open(row, sealed) {
                Ok(plain) => return Ok(plain),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least the current key"))
    }
}

impl OneKey {
    fn from_hex(hex_text: &str) -> anyhow::Result<OneKey> {
        let text = hex_text.trim();
        if let Some(sm4_hex) = text.strip_prefix("sm4:") {
            let bytes = key_bytes(sm4_hex, 16)
                .context("an SM4 data key is sm4: and 32 hex digits (16 bytes)")?;
            use aes_gcm::aead::KeyInit as _;
            let cipher = Sm4Gcm::new_from_slice(&bytes).expect("16-byte SM4 key");
            return Ok(OneKey {
                id: key_id("sm4gcm", &bytes),
                cipher: Cipher::Sm4(Box::new(cipher)),
                lookup: Zeroizing::new(
                    bianmin_platform::seal::Suite::Gm.hmac(&bytes, LOOKUP_LABEL),
                ),
            });
        }
        let bytes = key_bytes(text, 32).context(
            "the data key must be 64 hex digits (32 bytes, AES-256), or sm4: and 32 hex digits",
        )?;
        let mut array = Zeroizing::new([0u8; 32]);
        array.copy_from_slice(&bytes);
        Self::from_bytes(&array)
    }

    fn from_bytes(bytes: &[u8; 32]) -> anyhow::Result<OneKey> {
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow::anyhow!("AES-256 key"))?,
        );
        Ok(OneKey {
            id: key_id("aes256gcm", bytes),
            cipher: Cipher::Aes(Box::new(key)),
            lookup: Zeroizing::new(bianmin_platform::seal::Suite::Intl.hmac(bytes, LOOKUP_LABEL)),
        })
    }

    /// The look-up hash of a resident's ID number (upper-cased, trimmed):
    /// equal numbers give equal hashes under one key, and nothing else
    /// about the number can be read from it.
    fn resident_key(&self, id_number: &str) -> Vec<u8> {
        let suite = match self.cipher {
            Cipher::Aes(_) => bianmin_platform::seal::Suite::Intl,
            Cipher::Sm4(_) => bianmin_platform::seal::Suite::Gm,
        };
        let normalised = id_number.trim().to_uppercase();
        suite
            .hmac(self.lookup.as_ref(), normalised.as_bytes())
            .to_vec()
    }

    /// nonce ‖ ciphertext ‖ tag.
    fn seal(&self, nonce: [u8; NONCE_LEN], row: &str, plain: &[u8]) -> Vec<u8> {
        let body = match &self.cipher {
            Cipher::Aes(key) => {
                let mut out = plain.to_vec();
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(row.as_bytes()),
                    &mut out,
                )
                .expect("AES-GCM seals any length we store");
                out
            }
            Cipher::Sm4(cipher) => {
                use aes_gcm::aead::{Aead as _, Payload};
                cipher
                    .encrypt(
                        (&nonce).into(),
                        Payload {
                            msg: plain,
                            aad: row.as_bytes(),
                        },
                    )
                    .expect("SM4-GCM seals any length we store")
            }
        };
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&body);
        sealed
    }

    fn open(&self, row: &str, sealed: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            bail!("sealed value too short");
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let refused = || anyhow::anyhow!("sealed value does not open with this key and row");
        match &self.cipher {
            Cipher::Aes(key) => {
                let nonce = Nonce::try_assume_unique_for_key(nonce).expect("NONCE_LEN bytes");
                let mut buf = Zeroizing::new(body.to_vec());
                let plain_len = key
                    .open_in_place(nonce, Aad::from(row.as_bytes()), buf.as_mut_slice())
                    .map_err(|_| refused())?
                    .len();
                buf.truncate(plain_len);
                Ok(buf)
            }
            Cipher::Sm4(cipher) => {
                use aes_gcm::aead::{Aead as _, Payload};
                let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("NONCE_LEN bytes");
                cipher
                    .decrypt(
                        (&nonce).into(),
                        Payload {
                            msg: body,
                            aad: row.as_bytes(),
                        },
                    )
                    .map(Zeroizing::new)
                    .map_err(|_| refused())
            }
        }
    }
}

/// The associated data binding a sealed record to its row.
pub fn row_of(kind: &str, terminal: &str, id: &str) -> String {
    format!("{kind}\u{1f}{terminal}\u{1f}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_in_its_row_under_its_key() {
        let key = DataKey::generate();
        let row = row_of("application", "T0001", "T0001-20261205-0001");
        let sealed = key.seal(&row, "张三 11010519491231002X".as_bytes());
        assert!(!String::from_utf8_lossy(&sealed).contains("张三"));
        assert_eq!(
            key.open(&row, &sealed).unwrap().as_slice(),
            "张三 11010519491231002X".as_bytes()
        );
        let other_row = row_of("application", "T0002", "T0001-20261205-0001");
        assert!(
            key.open(&other_row, &sealed).is_err(),
            "moved to another row"
        );
        assert!(
            DataKey::generate().open(&row, &sealed).is_err(),
            "another key"
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(&row, &altered).is_err(), "altered");
        assert!(key.open(&row, &sealed[..10]).is_err(), "truncated");
    }

    #[test]
    fn an_sm4_data_key_seals_rows_the_aes_key_cannot_open() {
        let sm4 = DataKey::from_hex(&format!("sm4:{}", "5a".repeat(16))).unwrap();
        assert!(sm4.id().starts_with("sm4gcm:"), "{}", sm4.id());
        let row = row_of("application", "T0001", "T0001-20261205-0001");
        let sealed = sm4.seal(&row, "张三 11010519491231002X".as_bytes());
        assert!(!String::from_utf8_lossy(&sealed).contains("张三"));
        assert_eq!(
            sm4.open(&row, &sealed).unwrap().as_slice(),
            "张三 11010519491231002X".as_bytes()
        );
        assert!(sm4
            .open(&row_of("application", "T0002", "x"), &sealed)
            .is_err());
        assert!(DataKey::from_hex(&"5a".repeat(32))
            .unwrap()
            .open(&row, &sealed)
            .is_err());
        let mut altered = sealed.clone();
        altered[NONCE_LEN] ^= 1;
        assert!(sm4.open(&row, &altered).is_err(), "altered");
        assert!(DataKey::from_hex("sm4:00").is_err());
    }

    /// A key file of several lines: the first seals, every one opens.
    #[test]
    fn a_key_file_holds_the_current_key_first_and_older_ones_after() {
        let (old, new) = ("ab".repeat(32), format!("sm4:{}", "cd".repeat(16)));
        let row = row_of("application", "T1", "A1");
        let sealed_old = DataKey::from_hex(&old).unwrap().seal(&row, b"old");
        let ring = DataKey::from_hex(&format!("# rotated 2026-12\n{new}\n\n{old}\n")).unwrap();
        assert!(ring.id().starts_with("sm4gcm:"), "the first line seals");
        assert_eq!(ring.open(&row, &sealed_old).unwrap().as_slice(), b"old");
        let sealed_new = ring.seal(&row, b"new");
        assert!(DataKey::from_hex(&old)
            .unwrap()
            .open(&row, &sealed_new)
            .is_err());
        assert_eq!(ring.resident_keys("11010519491231002X").len(), 2);
        assert_eq!(
            ring.resident_keys("11010519491231002X")[1],
            DataKey::from_hex(&old)
                .unwrap()
                .resident_key("11010519491231002X")
        );
        assert!(
            DataKey::from_hex(&format!("{old}\n{old}")).is_err(),
            "twice"
        );
        assert!(DataKey::from_hex("# only a comment\n").is_err());
        let bad = DataKey::from_hex(&format!("{new}\nnot-a-key"))
            .err()
            .unwrap();
        assert!(format!("{bad:#}").contains("line 2"), "{bad:#}");
    }

    #[test]
    fn keys_from_hex_are_checked() {
        assert!(DataKey::from_hex("00").is_err());
        assert!(DataKey::from_hex(&"zz".repeat(32)).is_err());
        let a = DataKey::from_hex(&"ab".repeat(32)).unwrap();
        let b = DataKey::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(a.id(), b.id());
        let row = row_of("evaluation", "T1", "E1");
        assert_eq!(b.open(&row, &a.seal(&row, b"x")).unwrap().as_slice(), b"x");
    }
}
