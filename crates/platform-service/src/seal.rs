//! Column-level sealing of what kiosks send: each record is stored as
//! AES-256-GCM ciphertext under the platform's data key (ring), bound to its
//! row (kind, terminal, id as associated data) so a sealed value cannot be
//! moved to another row unnoticed. The key id is stored beside it so keys
//! can be rotated.
//!
//! AES-256-GCM until the 国密 suite of the security issue lands; the key id
//! names the algorithm's key, so SM4-GCM rows can live beside these.

use anyhow::{bail, Context as _};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

pub struct DataKey {
    id: String,
    key: LessSafeKey,
    rng: SystemRandom,
}

impl DataKey {
    /// From 64 hex digits (a key file or `BIANMIN_PLATFORM_DATA_KEY`).
    pub fn from_hex(hex_text: &str) -> anyhow::Result<DataKey> {
        let text = hex_text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("the data key must be 64 hex digits (32 bytes)");
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).context("hex")?;
        }
        Self::from_bytes(&bytes)
    }

    /// A new random key (the demo's; a real platform keeps its key).
    pub fn generate() -> DataKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .expect("the system's random source");
        Self::from_bytes(&bytes).expect("32 bytes")
    }

    fn from_bytes(bytes: &[u8; 32]) -> anyhow::Result<DataKey> {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let id = format!(
            "aes256gcm:{}",
            digest.as_ref()[..4]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow::anyhow!("AES-256 key"))?,
        );
        Ok(DataKey {
            id,
            key,
            rng: SystemRandom::new(),
        })
    }

    /// Names the key (not secret): stored with each sealed value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, row: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut out = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut out,
            )
            .expect("AES-GCM seals any length we store");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// The plain bytes, or an error when the value was sealed for another
    /// row, under another key, or altered.
    pub fn open(&self, row: &str, sealed: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            bail!("sealed value too short");
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("NONCE_LEN bytes");
        let mut buf = Zeroizing::new(body.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(row.as_bytes()), buf.as_mut_slice())
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key and row"))?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
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
