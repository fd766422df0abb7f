//! Sealing personal fields to the platform's public key, so a kiosk cannot
//! read back what it stores (a stolen SD card reveals nobody), and the
//! keyed hashes a kiosk looks residents up with.
//!
//! Two suites (`[crypto] suite`):
//!
//! | suite | sealing | keyed hash |
//! |---|---|---|
//! | `intl` | HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 | HMAC-SHA256 |
//! | `gm` | SM2 public-key encryption (GB/T 32918.4, C1C3C2) of a fresh SM4 key, SM4-GCM (GB/T 32907) | HMAC-SM3 (GB/T 32905) |
//!
//! A sealed value travels as an [`Envelope`]: the algorithm, the id of the
//! platform key it was sealed to (keys rotate: the platform keeps old
//! private keys until nothing sealed to them is pending), the encapsulated
//! key and the ciphertext. The associated data binds it to its record
//! ([`record_aad`]): a sealed block moved to another record does not open.
//!
//! Keys as text: public `x25519:BASE64` (32 bytes) or `sm2:BASE64` (65-byte
//! uncompressed SEC1 point); private `x25519:BASE64` / `sm2:BASE64` (32
//! bytes). The platform's private keys come as `KID=KEY` lines.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hpke::{Deserializable as _, Kem as _, Serializable as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::ChaCha20Poly1305;
type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;

/// HPKE `info`: names the protocol, so a key pair used elsewhere cannot be
/// made to open these.
const HPKE_INFO: &[u8] = b"bianmin sealed personal fields v1";
/// Envelope `alg` of the international suite.
pub const ALG_HPKE: &str = "hpke-x25519-sha256-chacha20poly1305";
/// Envelope `alg` of the 国密 suite.
pub const ALG_SM2: &str = "sm2-sm4-gcm";
/// Id of the published demo key pair (demo, tests). `config check` refuses it.
pub const DEMO_KID: &str = "demo";
const DEMO_IKM: &[u8] = b"bianmin published demo platform key: never for production";

/// Which algorithms protect a kiosk's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// X25519/HPKE, ChaCha20-Poly1305, SHA-256.
    #[default]
    Intl,
    /// 国密: SM2, SM4, SM3.
    Gm,
}

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Intl => "intl",
            Suite::Gm => "gm",
        }
    }

    pub fn parse(text: &str) -> Option<Suite> {
        match text {
            "intl" => Some(Suite::Intl),
            "gm" => Some(Suite::Gm),
            _ => None,
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            Suite::Intl => "x25519",
            Suite::Gm => "sm2",
        }
    }

    /// HMAC-SHA256 or HMAC-SM3 of `message` under `key`.
    pub fn hmac(self, key: &[u8], message: &[u8]) -> [u8; 32] {
        match self {
            Suite::Intl => {
                use hmac::Mac as _;
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
                    .expect("HMAC takes any key length");
                mac.update(message);
                mac.finalize().into_bytes().into()
            }
            Suite::Gm => {
                use hmac13::{KeyInit as _, Mac as _};
                let mut mac = hmac13::Hmac::<sm3::Sm3>::new_from_slice(key)
                    .expect("HMAC takes any key length");
                mac.update(message);
                let out = mac.finalize().into_bytes();
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&out);
                bytes
            }
        }
    }

    /// SHA-256 or SM3.
    pub fn hash(self, message: &[u8]) -> [u8; 32] {
        match self {
            Suite::Intl => {
                use sha2::Digest as _;
                sha2::Sha256::digest(message).into()
            }
            Suite::Gm => {
                use sm3::Digest as _;
                let out = sm3::Sm3::digest(message);
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&out);
                bytes
            }
        }
    }
}

/// A value sealed to one platform key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// [`ALG_HPKE`] or [`ALG_SM2`].
    pub alg: String,
    /// Id of the platform key it was sealed to.
    pub kid: String,
    /// Base64: the HPKE encapsulated key, or the SM2 ciphertext of the SM4 key.
    pub enc: String,
    /// Base64: the ciphertext with its tag (SM4-GCM: the 12-byte nonce first).
    pub ct: String,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Envelope({}, {})", self.alg, self.kid)
    }
}

/// What binds a sealed value to its record: kind (`application`, …),
/// terminal and id.
pub fn record_aad(kind: &str, terminal_id: &str, id: &str) -> Vec<u8> {
    format!("bianmin-sealed-v1\n{kind}\n{terminal_id}\n{id}").into_bytes()
}

#[derive(Clone)]
enum Public {
    X25519(<Kem as hpke::Kem>::PublicKey),
    Sm2(sm2::pke::EncryptingKey),
}

/// The platform's public key as a kiosk holds it: it can seal, never open.
#[derive(Clone)]
pub struct SealingKey {
    kid: String,
    key: Public,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({}, {})", self.suite().as_str(), self.kid)
    }
}

fn split_key(text: &str) -> Result<(Suite, Vec<u8>), String> {
    let (alg, b64) = text
        .trim()
        .split_once(':')
        .ok_or("expected x25519:BASE64 or sm2:BASE64")?;
    let suite = match alg {
        "x25519" => Suite::Intl,
        "sm2" => Suite::Gm,
        other => return Err(format!("unknown key type {other:?} (x25519 or sm2)")),
    };
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| "the key is not base64".to_string())?;
    Ok((suite, bytes))
}

impl SealingKey {
    /// `x25519:BASE64` or `sm2:BASE64`, under key id `kid`.
    pub fn parse(text: &str, kid: &str) -> Result<SealingKey, String> {
        let kid = kid.trim();
        if kid.is_empty() || kid.len() > 64 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the key id must be 1 to 64 printable ASCII characters".into());
        }
        let (suite, bytes) = split_key(text)?;
        let key = match suite {
            Suite::Intl => Public::X25519(
                <Kem as hpke::Kem>::PublicKey::from_bytes(&bytes)
                    .map_err(|_| "not an X25519 public key (32 bytes)".to_string())?,
            ),
            Suite::Gm => Public::Sm2(
                sm2::pke::EncryptingKey::from_sec1_bytes(&bytes)
                    .map_err(|_| "not an SM2 public key (SEC1 point)".to_string())?,
            ),
        };
        Ok(SealingKey {
            kid: kid.to_string(),
            key,
        })
    }

    /// The published demo key of `suite` (demo, tests; never production).
    pub fn demo(suite: Suite) -> SealingKey {
        OpeningKey::demo(suite).sealing_key()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn suite(&self) -> Suite {
        match self.key {
            Public::X25519(_) => Suite::Intl,
            Public::Sm2(_) => Suite::Gm,
        }
    }

    /// The published demo key of either suite.
    pub fn is_demo(&self) -> bool {
        self.to_text() == SealingKey::demo(self.suite()).to_text()
    }

    /// `x25519:BASE64` / `sm2:BASE64`.
    pub fn to_text(&self) -> String {
        let bytes = match &self.key {
            Public::X25519(pk) => pk.to_bytes().to_vec(),
            Public::Sm2(pk) => pk.to_sec1_bytes().to_vec(),
        };
        format!("{}:{}", self.suite().key_prefix(), B64.encode(bytes))
    }

    /// Seal `plaintext` so that only the holder of the private key opens it.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Envelope {
        let (alg, enc, ct) = match &self.key {
            Public::X25519(pk) => {
                let (encapped, ct) = hpke::single_shot_seal::<HpkeAead, Kdf, Kem>(
                    &hpke::OpModeS::Base,
                    pk,
                    HPKE_INFO,
                    plaintext,
                    aad,
                )
                .expect("HPKE sealing fails only without an OS random generator");
                (ALG_HPKE, encapped.to_bytes().to_vec(), ct)
            }
            Public::Sm2(pk) => {
                use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
                use getrandom::rand_core::TryRng as _;
                let mut rng = getrandom::SysRng;
                // A fresh SM4 key per value: SM2 encrypts it, SM4-GCM the data.
                let mut key = Zeroizing::new([0u8; 16]);
                let mut nonce = [0u8; 12];
                rng.try_fill_bytes(&mut *key)
                    .and_then(|()| rng.try_fill_bytes(&mut nonce))
                    .expect("the operating system's random generator works");
                let enc = pk
                    .encrypt(&mut rng, &*key)
                    .expect("SM2 encryption of 16 bytes cannot fail with a working RNG");
                let cipher = Sm4Gcm::new_from_slice(&*key).expect("16-byte SM4 key");
                let sealed = cipher
                    .encrypt(
                        (&nonce).into(),
                        Payload {
                            msg: plaintext,
                            aad,
                        },
                    )
                    .expect("SM4-GCM encryption of in-memory data cannot fail");
                let mut ct = Vec::with_capacity(12 + sealed.len());
                ct.extend_from_slice(&nonce);
                ct.extend_from_slice(&sealed);
                (ALG_SM2, enc, ct)
            }
        };
        Envelope {
            alg: alg.into(),
            kid: self.kid.clone(),
            enc: B64.encode(enc),
            ct: B64.encode(ct),
        }
    }
}

enum Private {
    X25519(<Kem as hpke::Kem>::PrivateKey),
    Sm2(sm2::pke::DecryptingKey),
}

/// One of the platform's private keys.
pub struct OpeningKey {
    kid: String,
    key: Private,
}

impl std::fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OpeningKey({}, ***)", self.kid)
    }
}

impl OpeningKey {
    /// `x25519:BASE64` or `sm2:BASE64` (32 secret bytes). Errors never
    /// show the key.
    pub fn parse(text: &str, kid: &str) -> Result<OpeningKey, String> {
        let (suite, bytes) = split_key(text)?;
        let bytes = Zeroizing::new(bytes);
        let key = match suite {
            Suite::Intl => Private::X25519(
                <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes)
                    .map_err(|_| "not an X25519 private key (32 bytes)".to_string())?,
            ),
            Suite::Gm => Private::Sm2(
                sm2::pke::DecryptingKey::from_slice(&bytes)
                    .map_err(|_| "not an SM2 private key (32 bytes)".to_string())?,
            ),
        };
        Ok(OpeningKey {
            kid: kid.trim().to_string(),
            key,
        })
    }

    /// A new key pair of `suite` from the operating system's generator.
    pub fn generate(suite: Suite, kid: &str) -> OpeningKey {
        let key = match suite {
            Suite::Intl => Private::X25519(Kem::gen_keypair().0),
            Suite::Gm => loop {
                let mut bytes = Zeroizing::new([0u8; 32]);
                use getrandom::rand_core::TryRng as _;
                getrandom::SysRng
                    .try_fill_bytes(&mut *bytes)
                    .expect("the operating system's random generator works");
                // Out of range (≥ n or 0) with probability about 2^-32: draw again.
                if let Ok(k) = sm2::pke::DecryptingKey::from_slice(&*bytes) {
                    break Private::Sm2(k);
                }
            },
        };
        OpeningKey {
            kid: kid.to_string(),
            key,
        }
    }

    /// The published demo key of `suite`, derived from a public string.
    pub fn demo(suite: Suite) -> OpeningKey {
        let key = match suite {
            Suite::Intl => Private::X25519(Kem::derive_keypair(DEMO_IKM).0),
            Suite::Gm => Private::Sm2(
                sm2::pke::DecryptingKey::from_slice(&Suite::Gm.hash(DEMO_IKM))
                    .expect("the demo scalar is in range"),
            ),
        };
        OpeningKey {
            kid: DEMO_KID.into(),
            key,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching public key, for the kiosks' configuration.
    pub fn sealing_key(&self) -> SealingKey {
        let key = match &self.key {
            Private::X25519(sk) => Public::X25519(Kem::sk_to_pk(sk)),
            Private::Sm2(sk) => Public::Sm2(sk.encrypting_key().clone()),
        };
        SealingKey {
            kid: self.kid.clone(),
            key,
        }
    }

    /// `x25519:BASE64` / `sm2:BASE64` of the secret (for the key file only).
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        let (prefix, bytes) = match &self.key {
            Private::X25519(sk) => ("x25519", Zeroizing::new(sk.to_bytes().to_vec())),
            Private::Sm2(sk) => ("sm2", Zeroizing::new(sk.to_bytes().to_vec())),
        };
        Zeroizing::new(format!("{prefix}:{}", B64.encode(&*bytes)))
    }

    fn open(&self, envelope: &Envelope, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let enc = B64
            .decode(&envelope.enc)
            .map_err(|_| OpenError::Malformed)?;
        let ct = B64.decode(&envelope.ct).map_err(|_| OpenError::Malformed)?;
        match (&self.key, envelope.alg.as_str()) {
            (Private::X25519(sk), ALG_HPKE) => {
                let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc)
                    .map_err(|_| OpenError::Malformed)?;
                hpke::single_shot_open::<HpkeAead, Kdf, Kem>(
                    &hpke::OpModeR::Base,
                    sk,
                    &encapped,
                    HPKE_INFO,
                    &ct,
                    aad,
                )
                .map(Zeroizing::new)
                .map_err(|_| OpenError::Damaged)
            }
            (Private::Sm2(sk), ALG_SM2) => {
                use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
                let key = Zeroizing::new(sk.decrypt(&enc).map_err(|_| OpenError::Damaged)?);
                if key.len() != 16 || ct.len() < 12 + 16 {
                    return Err(OpenError::Damaged);
                }
                let cipher = Sm4Gcm::new_from_slice(&key).map_err(|_| OpenError::Damaged)?;
                let (nonce, body) = ct.split_at(12);
                let nonce: &[u8; 12] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
                cipher
                    .decrypt(nonce.into(), Payload { msg: body, aad })
                    .map(Zeroizing::new)
                    .map_err(|_| OpenError::Damaged)
            }
            _ => Err(OpenError::WrongAlgorithm(
                envelope.alg.chars().take(64).collect(),
            )),
        }
    }
}

/// Why a sealed value did not open. Never carries any of its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed to key id {0:?}, which this platform does not hold")]
    UnknownKey(String),
    #[error("sealed with {0:?}, which key of this id is not for")]
    WrongAlgorithm(String),
    #[error("the sealed block is not base64")]
    Malformed,
    #[error("the sealed block does not open: damaged, or bound to another record")]
    Damaged,
}

/// The platform's private keys, by id: the current one and those kept
/// until nothing sealed to them is still on its way.
#[derive(Debug, Default)]
pub struct OpeningKeys {
    keys: Vec<OpeningKey>,
}

impl OpeningKeys {
    pub fn new(keys: Vec<OpeningKey>) -> OpeningKeys {
        OpeningKeys { keys }
    }

    /// The published demo keys of both suites (demo and tests).
    pub fn demo() -> OpeningKeys {
        OpeningKeys::new(vec![
            OpeningKey::demo(Suite::Intl),
            OpeningKey::demo(Suite::Gm),
        ])
    }

    /// `KID=x25519:BASE64` / `KID=sm2:BASE64` lines; blank lines and `#`
    /// comments skipped. Errors name the line, never a key. A key id may
    /// appear twice (one key of each suite).
    pub fn parse(text: &str) -> Result<OpeningKeys, String> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kid, key) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected KID=x25519:BASE64", n + 1))?;
            let key =
                OpeningKey::parse(key, kid).map_err(|why| format!("line {}: {why}", n + 1))?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("no key: expected KID=x25519:BASE64 or KID=sm2:BASE64 lines".into());
        }
        Ok(OpeningKeys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Holds one of the published demo keys.
    pub fn has_demo_key(&self) -> bool {
        self.keys.iter().any(|k| k.sealing_key().is_demo())
    }

    pub fn keys(&self) -> &[OpeningKey] {
        &self.keys
    }

    /// Open `envelope` with the key it names.
    pub fn open(&self, envelope: &Envelope, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let mut named = self
            .keys
            .iter()
            .filter(|k| k.kid == envelope.kid)
            .peekable();
        if named.peek().is_none() {
            return Err(OpenError::UnknownKey(
                envelope.kid.chars().take(64).collect(),
            ));
        }
        let mut last = OpenError::Damaged;
        for key in named {
            match key.open(envelope, aad) {
                Ok(plain) => return Ok(plain),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_suites_seal_and_open_bound_to_their_record() {
        for suite in [Suite::Intl, Suite::Gm] {
            let private = OpeningKey::generate(suite, "k1");
            let public = SealingKey::parse(&private.sealing_key().to_text(), "k1").unwrap();
            assert_eq!(public.suite(), suite);
            let keys = OpeningKeys::new(vec![private]);
            let aad = record_aad("application", "T0001", "BM1-T0001-20260101-000001");
            let env = public.seal(&aad, "张三 110101199003077777".as_bytes());
            assert!(!env.ct.contains("110101"), "{suite:?}");
            assert_eq!(
                &keys.open(&env, &aad).unwrap()[..],
                "张三 110101199003077777".as_bytes()
            );
            let other = record_aad("application", "T0001", "BM1-T0001-20260101-000002");
            assert_eq!(keys.open(&env, &other), Err(OpenError::Damaged));
            let mut moved = env.clone();
            moved.kid = "k2".into();
            assert!(matches!(
                keys.open(&moved, &aad),
                Err(OpenError::UnknownKey(_))
            ));
            let mut cut = env.clone();
            cut.ct = B64.encode(&B64.decode(&env.ct).unwrap()[..10]);
            assert!(keys.open(&cut, &aad).is_err());
            cut.ct = "not base64!".into();
            assert_eq!(keys.open(&cut, &aad), Err(OpenError::Malformed));
            // Sealing twice gives two ciphertexts (fresh ephemeral key each time).
            assert_ne!(public.seal(&aad, b"x").ct, public.seal(&aad, b"x").ct);
        }
    }

    #[test]
    fn keys_round_trip_as_text_and_a_key_of_the_other_suite_does_not_open() {
        let intl = OpeningKey::generate(Suite::Intl, "k");
        let gm = OpeningKey::generate(Suite::Gm, "k");
        let text = format!(
            "# platform keys\nk={}\n\nk={}\n",
            &*intl.to_secret_text(),
            &*gm.to_secret_text()
        );
        let keys = OpeningKeys::parse(&text).unwrap();
        let aad = b"a";
        for public in [intl.sealing_key(), gm.sealing_key()] {
            let env = public.seal(aad, b"secret");
            assert_eq!(&keys.open(&env, aad).unwrap()[..], b"secret");
        }
        let only_intl =
            OpeningKeys::new(vec![OpeningKey::parse(&intl.to_secret_text(), "k").unwrap()]);
        let env = gm.sealing_key().seal(aad, b"secret");
        assert!(matches!(
            only_intl.open(&env, aad),
            Err(OpenError::WrongAlgorithm(_))
        ));
        let err = OpeningKeys::parse("k=x25519:AAAA\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(OpeningKeys::parse("# nothing\n").is_err());
        assert!(SealingKey::parse("rsa:AAAA", "k").is_err());
        assert!(SealingKey::parse(&intl.sealing_key().to_text(), "").is_err());
    }

    #[test]
    fn the_demo_keys_are_the_ones_config_check_refuses() {
        assert_eq!(
            SealingKey::demo(Suite::Intl).to_text(),
            bianmin_config::DEMO_SEAL_INTL
        );
        assert_eq!(
            SealingKey::demo(Suite::Gm).to_text(),
            bianmin_config::DEMO_SEAL_GM
        );
    }

    #[test]
    fn the_demo_keys_are_recognised() {
        for suite in [Suite::Intl, Suite::Gm] {
            assert!(SealingKey::demo(suite).is_demo());
            assert!(!OpeningKey::generate(suite, "k").sealing_key().is_demo());
        }
        assert!(OpeningKeys::demo().has_demo_key());
    }

    #[test]
    fn keyed_hashes_differ_by_key_and_suite() {
        let a = Suite::Intl.hmac(b"k1", b"110101199003077777");
        assert_ne!(a, Suite::Intl.hmac(b"k2", b"110101199003077777"));
        assert_ne!(a, Suite::Gm.hmac(b"k1", b"110101199003077777"));
        // RFC 4231 case 2.
        assert_eq!(
            hex::encode(Suite::Intl.hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
