//! Sealing personal fields to the platform's public key, so a kiosk cannot
//! read back what it stores (a stolen SD card reveals nobody), and the
//! keyed hashes a kiosk looks residents up with.
//!
//! Two suites (`[crypto] suite`):
//!
//! | suite | sealing | keyed hash |
//! |---|---|---|
//! | `intl` | HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256; a 32-byte epoch key from the HPKE exporter; ChaCha20-Poly1305 | HMAC-SHA256 |
//! | `gm` | SM2 public-key encryption (GB/T 32918.4, C1C3C2) of a random SM4 epoch key, SM4-GCM (GB/T 32907) | HMAC-SM3 (GB/T 32905) |
//!
//! A sealed value travels as an [`Envelope`]: the algorithm, the id of the
//! platform key it was sealed to (keys rotate: the platform keeps old
//! private keys until nothing sealed to them is pending), the encapsulated
//! key and the ciphertext. The associated data binds it to its record
//! ([`record_aad`]): a sealed block moved to another record does not open.
//!
//! **Epochs** (KEM-DEM with a cached data key). One public-key operation
//! per sealed value cost more than the fsync'd insert it sits beside, so a
//! [`SealingKey`] draws a random symmetric *epoch key*, encapsulates it to
//! the platform's key once, and seals many values under it, each with a
//! fresh random 96-bit nonce; all of them carry the same `enc`. The epoch
//! key lives only in the kiosk's memory (zeroized when replaced or
//! dropped), never on disk: a stolen card holds only `enc`, which only the
//! platform's private key opens. It is replaced at process start, after
//! [`EPOCH_MAX_VALUES`] values and after [`EPOCH_MAX_AGE`]. The platform
//! ([`OpeningKey`]) keeps a bounded cache of the epoch keys it has opened,
//! so it too does one public-key operation per epoch rather than per value.
//! Envelopes of the older single-shot HPKE format ([`ALG_HPKE`]) still open.
//!
//! Keys as text: public `x25519:BASE64` (32 bytes) or `sm2:BASE64` (65-byte
//! uncompressed SEC1 point); private `x25519:BASE64` / `sm2:BASE64` (32
//! bytes). The platform's private keys come as `KID=KEY` lines.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hpke::{Deserializable as _, Kem as _, Serializable as _};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use zeroize::Zeroizing;

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::ChaCha20Poly1305;
type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>;
type EpochAead = chacha20poly1305::ChaCha20Poly1305;

/// HPKE `info`: names the protocol, so a key pair used elsewhere cannot be
/// made to open these.
const HPKE_INFO: &[u8] = b"bianmin sealed personal fields v1";
/// Envelope `alg` of the international suite before epochs: HPKE
/// single-shot, one encapsulation per value. Still opened (records sealed
/// by a kiosk before its upgrade may be pending); no longer sealed.
pub const ALG_HPKE: &str = "hpke-x25519-sha256-chacha20poly1305";
/// Envelope `alg` of the international suite: `enc` is an HPKE base-mode
/// encapsulation; the epoch key is 32 bytes of its exporter under
/// [`HPKE_EXPORT_CONTEXT`]; `ct` is a 12-byte random nonce followed by
/// ChaCha20-Poly1305 under that key.
pub const ALG_HPKE_EPOCH: &str = "hpke-x25519-sha256-export-chacha20poly1305";
/// Envelope `alg` of the 国密 suite: `enc` is the SM2 ciphertext of a
/// 16-byte SM4 key, `ct` a 12-byte random nonce followed by SM4-GCM. The
/// same format whether the SM4 key is used once or for a whole epoch.
pub const ALG_SM2: &str = "sm2-sm4-gcm";
/// HPKE exporter context of the epoch key of [`ALG_HPKE_EPOCH`].
pub const HPKE_EXPORT_CONTEXT: &[u8] = b"bianmin sealed personal fields epoch key v1";
/// Values sealed under one epoch key before a new one is drawn. With random
/// 96-bit nonces the chance of a repeated nonce under one key is about
/// n²/2⁹⁷ (below 2⁻⁷³ at 4,096), and GCM's and ChaCha20-Poly1305's limits
/// are in the billions of messages: the bound is not about the ciphers. It
/// limits how much one epoch key covers — what an attacker who read a live
/// kiosk's memory could open — to at most this many values (a kiosk takes
/// a few hundred applications a day), while a public-key operation every
/// 4,096 values costs nothing measurable.
pub const EPOCH_MAX_VALUES: u32 = 4096;
/// Age after which an epoch key is replaced, however few values it sealed:
/// the values of an idle kiosk are not sealed for days under the key in its
/// memory. One public-key operation an hour is nothing.
pub const EPOCH_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Epoch keys an [`OpeningKey`] keeps opened (each 16 or 32 bytes with its
/// `enc`): enough for the kiosks draining at once, each sending a batch of
/// one epoch at a time; the oldest is forgotten (zeroized) when full.
const OPENED_EPOCHS_MAX: usize = 512;
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
    /// [`ALG_HPKE_EPOCH`], [`ALG_SM2`] or (older kiosks) [`ALG_HPKE`].
    pub alg: String,
    /// Id of the platform key it was sealed to.
    pub kid: String,
    /// Base64: the HPKE encapsulated key, or the SM2 ciphertext of the SM4
    /// key; the same for every value of one epoch.
    pub enc: String,
    /// Base64: the ciphertext with its tag (epoch algs and SM4-GCM: the
    /// 12-byte nonce first).
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
/// Clones share the current epoch (one epoch key per process, not per
/// clone); a key parsed or derived anew starts its own.
#[derive(Clone)]
pub struct SealingKey {
    kid: String,
    key: Public,
    epoch: Arc<Mutex<Option<Epoch>>>,
}

/// The current epoch of a [`SealingKey`]: in memory only.
struct Epoch {
    alg: &'static str,
    /// Base64 of the encapsulation, as it goes into every envelope.
    enc: String,
    /// 32 bytes (ChaCha20-Poly1305) or 16 (SM4); zeroized on drop.
    key: Zeroizing<Vec<u8>>,
    sealed: u32,
    born: Instant,
}

impl Epoch {
    /// Due for replacement at `now`.
    fn spent(&self, now: Instant) -> bool {
        self.sealed >= EPOCH_MAX_VALUES || now.saturating_duration_since(self.born) >= EPOCH_MAX_AGE
    }
}

/// `nonce || AEAD(key, nonce, plaintext, aad)` with a random 12-byte nonce.
fn aead_seal<C>(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8>
where
    C: KeyInit + Aead + AeadCore<NonceSize = U12>,
{
    use getrandom::rand_core::TryRng as _;
    let mut nonce = [0u8; 12];
    getrandom::SysRng
        .try_fill_bytes(&mut nonce)
        .expect("the operating system's random generator works");
    let cipher = C::new_from_slice(key).expect("an epoch key of the cipher's length");
    let sealed = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AEAD encryption of in-memory data cannot fail");
    let mut ct = Vec::with_capacity(12 + sealed.len());
    ct.extend_from_slice(&nonce);
    ct.extend_from_slice(&sealed);
    ct
}

/// The inverse of [`aead_seal`].
fn aead_open<C>(key: &[u8], aad: &[u8], ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError>
where
    C: KeyInit + Aead + AeadCore<NonceSize = U12>,
{
    if ct.len() < 12 + 16 {
        return Err(OpenError::Damaged);
    }
    let cipher = C::new_from_slice(key).map_err(|_| OpenError::Damaged)?;
    let (nonce, body) = ct.split_at(12);
    let nonce: &[u8; 12] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
    cipher
        .decrypt(nonce.into(), Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Damaged)
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
        Ok(SealingKey::new(kid.to_string(), key))
    }

    fn new(kid: String, key: Public) -> SealingKey {
        SealingKey {
            kid,
            key,
            epoch: Arc::new(Mutex::new(None)),
        }
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

    /// Seal `plaintext` so that only the holder of the private key opens
    /// it: under the current epoch key (drawn and encapsulated first when
    /// there is none or it is spent), with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Envelope {
        let (alg, enc, key) = self.epoch_key();
        let ct = match alg {
            ALG_SM2 => aead_seal::<Sm4Gcm>(&key, aad, plaintext),
            _ => aead_seal::<EpochAead>(&key, aad, plaintext),
        };
        Envelope {
            alg: alg.into(),
            kid: self.kid.clone(),
            enc,
            ct: B64.encode(ct),
        }
    }

    /// The current epoch's alg, `enc` and a copy of its key (zeroized on
    /// drop), counting one more value sealed under it.
    fn epoch_key(&self) -> (&'static str, String, Zeroizing<Vec<u8>>) {
        // A panic elsewhere while holding the lock leaves either the old
        // epoch or a new one whole: the state is usable.
        let mut current = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_none_or(|e| e.spent(Instant::now())) {
            // The old key is zeroized as it is dropped here.
            *current = Some(self.new_epoch());
        }
        let epoch = current.as_mut().expect("just set");
        epoch.sealed += 1;
        (
            epoch.alg,
            epoch.enc.clone(),
            Zeroizing::new(epoch.key.to_vec()),
        )
    }

    /// A fresh epoch: the one public-key operation.
    fn new_epoch(&self) -> Epoch {
        let (alg, enc, key) = match &self.key {
            Public::X25519(pk) => {
                let (encapped, ctx) =
                    hpke::setup_sender::<HpkeAead, Kdf, Kem>(&hpke::OpModeS::Base, pk, HPKE_INFO)
                        .expect("HPKE encapsulation fails only without an OS random generator");
                let mut key = Zeroizing::new(vec![0u8; 32]);
                ctx.export(HPKE_EXPORT_CONTEXT, &mut key)
                    .expect("32 bytes are within the HPKE exporter's limit");
                (ALG_HPKE_EPOCH, encapped.to_bytes().to_vec(), key)
            }
            Public::Sm2(pk) => {
                use getrandom::rand_core::TryRng as _;
                let mut rng = getrandom::SysRng;
                let mut key = Zeroizing::new(vec![0u8; 16]);
                rng.try_fill_bytes(&mut key)
                    .expect("the operating system's random generator works");
                let enc = pk
                    .encrypt(&mut rng, &key)
                    .expect("SM2 encryption of 16 bytes cannot fail with a working RNG");
                (ALG_SM2, enc, key)
            }
        };
        Epoch {
            alg,
            enc: B64.encode(enc),
            key,
            sealed: 0,
            born: Instant::now(),
        }
    }
}

enum Private {
    X25519(<Kem as hpke::Kem>::PrivateKey),
    Sm2(sm2::pke::DecryptingKey),
}

/// One of the platform's private keys, with the epoch keys it has opened.
pub struct OpeningKey {
    kid: String,
    key: Private,
    opened: Mutex<OpenedEpochs>,
}

/// Epoch keys already opened, by alg and `enc` bytes, the oldest forgotten
/// first. Only keys that opened a value are kept, so envelopes with made-up
/// `enc`s cannot push the real ones out. The keys sit in their own heap
/// buffers (they stay put as the map grows) and are zeroized when dropped.
#[derive(Default)]
struct OpenedEpochs {
    keys: HashMap<(&'static str, Vec<u8>), Zeroizing<Vec<u8>>>,
    order: VecDeque<(&'static str, Vec<u8>)>,
}

impl OpenedEpochs {
    fn get(&self, alg: &'static str, enc: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.keys
            .get(&(alg, enc.to_vec()))
            .map(|k| Zeroizing::new(k.to_vec()))
    }

    fn insert(&mut self, alg: &'static str, enc: &[u8], key: &[u8]) {
        let id = (alg, enc.to_vec());
        if self.keys.contains_key(&id) {
            return;
        }
        while self.keys.len() >= OPENED_EPOCHS_MAX {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.keys.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.keys.insert(id, Zeroizing::new(key.to_vec()));
    }
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
        Ok(OpeningKey::new(kid.trim().to_string(), key))
    }

    fn new(kid: String, key: Private) -> OpeningKey {
        OpeningKey {
            kid,
            key,
            opened: Mutex::new(OpenedEpochs::default()),
        }
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
        OpeningKey::new(kid.to_string(), key)
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
        OpeningKey::new(DEMO_KID.into(), key)
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
        SealingKey::new(self.kid.clone(), key)
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
            // The older format: one encapsulation per value, nothing to keep.
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
            (Private::X25519(sk), ALG_HPKE_EPOCH) => self.open_epoch(
                ALG_HPKE_EPOCH,
                &enc,
                || {
                    let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc)
                        .map_err(|_| OpenError::Malformed)?;
                    let ctx = hpke::setup_receiver::<HpkeAead, Kdf, Kem>(
                        &hpke::OpModeR::Base,
                        sk,
                        &encapped,
                        HPKE_INFO,
                    )
                    .map_err(|_| OpenError::Damaged)?;
                    let mut key = Zeroizing::new(vec![0u8; 32]);
                    ctx.export(HPKE_EXPORT_CONTEXT, &mut key)
                        .map_err(|_| OpenError::Damaged)?;
                    Ok(key)
                },
                |key| aead_open::<EpochAead>(key, aad, &ct),
            ),
            (Private::Sm2(sk), ALG_SM2) => self.open_epoch(
                ALG_SM2,
                &enc,
                || {
                    let key = Zeroizing::new(sk.decrypt(&enc).map_err(|_| OpenError::Damaged)?);
                    if key.len() != 16 {
                        return Err(OpenError::Damaged);
                    }
                    Ok(key)
                },
                |key| aead_open::<Sm4Gcm>(key, aad, &ct),
            ),
            _ => Err(OpenError::WrongAlgorithm(
                envelope.alg.chars().take(64).collect(),
            )),
        }
    }

    /// Open with the epoch key of (`alg`, `enc`): from the cache, or
    /// `decapsulate`d (the public-key operation) and kept once it opened a
    /// value. The lock is not held across the public-key operation.
    fn open_epoch(
        &self,
        alg: &'static str,
        enc: &[u8],
        decapsulate: impl FnOnce() -> Result<Zeroizing<Vec<u8>>, OpenError>,
        open: impl FnOnce(&[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError>,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let cached = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(alg, enc);
        if let Some(key) = cached {
            return open(&key);
        }
        let key = decapsulate()?;
        let plain = open(&key)?;
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(alg, enc, &key);
        Ok(plain)
    }

    /// Epoch keys currently kept (tests).
    #[cfg(test)]
    fn opened_epochs(&self) -> usize {
        self.opened.lock().unwrap().keys.len()
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
            // Sealing twice gives two ciphertexts (a fresh nonce each time).
            assert_ne!(public.seal(&aad, b"x").ct, public.seal(&aad, b"x").ct);
        }
    }

    fn aad_of(i: usize) -> Vec<u8> {
        record_aad(
            "application",
            "T0001",
            &format!("BM1-T0001-20261205-{i:06}"),
        )
    }

    #[test]
    fn values_of_one_epoch_share_enc_and_each_opens_with_one_decapsulation() {
        for suite in [Suite::Intl, Suite::Gm] {
            let private = OpeningKey::generate(suite, "k1");
            let public = private.sealing_key();
            let shared = public.clone();
            let envs: Vec<Envelope> = (0..20)
                .map(|i| {
                    // Clones (as the store's threads hold them) share the epoch.
                    let key = if i % 2 == 0 { &public } else { &shared };
                    key.seal(&aad_of(i), format!("居民{i}").as_bytes())
                })
                .collect();
            let alg = match suite {
                Suite::Intl => ALG_HPKE_EPOCH,
                Suite::Gm => ALG_SM2,
            };
            assert!(envs.iter().all(|e| e.alg == alg && e.enc == envs[0].enc));
            let nonces: std::collections::HashSet<Vec<u8>> = envs
                .iter()
                .map(|e| B64.decode(&e.ct).unwrap()[..12].to_vec())
                .collect();
            assert_eq!(nonces.len(), envs.len(), "a fresh nonce for every value");
            let keys = OpeningKeys::new(vec![private]);
            for (i, env) in envs.iter().enumerate() {
                assert_eq!(
                    &keys.open(env, &aad_of(i)).unwrap()[..],
                    format!("居民{i}").as_bytes()
                );
            }
            assert_eq!(keys.keys()[0].opened_epochs(), 1, "{suite:?}");
            // A key parsed anew (a restarted kiosk) starts its own epoch.
            let restarted = SealingKey::parse(&public.to_text(), "k1").unwrap();
            let later = restarted.seal(&aad_of(99), b"x");
            assert_ne!(later.enc, envs[0].enc);
            assert_eq!(&keys.open(&later, &aad_of(99)).unwrap()[..], b"x");
            assert_eq!(keys.keys()[0].opened_epochs(), 2);
        }
    }

    #[test]
    fn the_epoch_rotates_after_its_count_and_its_age() {
        for suite in [Suite::Intl, Suite::Gm] {
            let private = OpeningKey::generate(suite, "k1");
            let public = private.sealing_key();
            let first = public.seal(&aad_of(0), b"v");
            for i in 1..EPOCH_MAX_VALUES as usize {
                assert_eq!(public.seal(&aad_of(i), b"v").enc, first.enc);
            }
            let next = public.seal(&aad_of(0), b"v");
            assert_ne!(
                next.enc, first.enc,
                "{suite:?}: a new epoch after the count"
            );
            let keys = OpeningKeys::new(vec![private]);
            assert_eq!(&keys.open(&first, &aad_of(0)).unwrap()[..], b"v");
            assert_eq!(&keys.open(&next, &aad_of(0)).unwrap()[..], b"v");
        }
        let public = SealingKey::demo(Suite::Intl);
        public.seal(b"a", b"v");
        let guard = public.epoch.lock().unwrap();
        let epoch = guard.as_ref().unwrap();
        assert!(!epoch.spent(epoch.born + EPOCH_MAX_AGE / 2));
        assert!(epoch.spent(epoch.born + EPOCH_MAX_AGE));
    }

    #[test]
    fn envelopes_of_the_older_single_shot_format_still_open() {
        let private = OpeningKey::generate(Suite::Intl, "k1");
        let Public::X25519(pk) = &private.sealing_key().key else {
            unreachable!()
        };
        let aad = aad_of(1);
        let (encapped, ct) = hpke::single_shot_seal::<HpkeAead, Kdf, Kem>(
            &hpke::OpModeS::Base,
            pk,
            HPKE_INFO,
            b"sealed before the upgrade",
            &aad,
        )
        .unwrap();
        let old = Envelope {
            alg: ALG_HPKE.into(),
            kid: "k1".into(),
            enc: B64.encode(encapped.to_bytes()),
            ct: B64.encode(ct),
        };
        let keys = OpeningKeys::new(vec![private]);
        assert_eq!(
            &keys.open(&old, &aad).unwrap()[..],
            b"sealed before the upgrade"
        );
        assert_eq!(keys.open(&old, &aad_of(2)), Err(OpenError::Damaged));
        // Read as the other format, neither opens.
        let mut as_epoch = old.clone();
        as_epoch.alg = ALG_HPKE_EPOCH.into();
        assert_eq!(keys.open(&as_epoch, &aad), Err(OpenError::Damaged));
        let new = keys.keys()[0].sealing_key().seal(&aad, b"after");
        let mut as_old = new.clone();
        as_old.alg = ALG_HPKE.into();
        assert_eq!(keys.open(&as_old, &aad), Err(OpenError::Damaged));
        assert_eq!(
            keys.keys()[0].opened_epochs(),
            0,
            "nothing kept for failures"
        );
        assert_eq!(&keys.open(&new, &aad).unwrap()[..], b"after");
    }

    #[test]
    fn moved_tampered_or_misnamed_values_are_refused_also_with_the_epoch_key_kept() {
        for suite in [Suite::Intl, Suite::Gm] {
            let private = OpeningKey::generate(suite, "k1");
            let public = private.sealing_key();
            let keys = OpeningKeys::new(vec![private]);
            let a = public.seal(&aad_of(1), b"first");
            let b = public.seal(&aad_of(2), b"second");
            // The epoch key is kept after the first opens.
            assert_eq!(&keys.open(&a, &aad_of(1)).unwrap()[..], b"first");
            assert_eq!(keys.keys()[0].opened_epochs(), 1);
            // b's block put in a's record (same epoch, same enc): refused.
            let mut moved = a.clone();
            moved.ct = b.ct.clone();
            assert_eq!(keys.open(&moved, &aad_of(1)), Err(OpenError::Damaged));
            // Any flipped byte of ct (nonce, body or tag): refused.
            let ct = B64.decode(&b.ct).unwrap();
            for at in [0, 12, ct.len() - 1] {
                let mut bad = ct.clone();
                bad[at] ^= 1;
                let mut tampered = b.clone();
                tampered.ct = B64.encode(bad);
                assert_eq!(keys.open(&tampered, &aad_of(2)), Err(OpenError::Damaged));
            }
            // A flipped byte of enc: another (or no) epoch key, refused.
            let mut enc = B64.decode(&b.enc).unwrap();
            let last = enc.len() - 1;
            enc[last] ^= 1;
            let mut tampered = b.clone();
            tampered.enc = B64.encode(enc);
            assert!(keys.open(&tampered, &aad_of(2)).is_err());
            // Another key id, another alg: refused.
            let mut wrong = b.clone();
            wrong.kid = "k2".into();
            assert!(matches!(
                keys.open(&wrong, &aad_of(2)),
                Err(OpenError::UnknownKey(_))
            ));
            wrong = b.clone();
            wrong.alg = match suite {
                Suite::Intl => ALG_SM2.into(),
                Suite::Gm => ALG_HPKE_EPOCH.into(),
            };
            assert!(matches!(
                keys.open(&wrong, &aad_of(2)),
                Err(OpenError::WrongAlgorithm(_))
            ));
            assert_eq!(&keys.open(&b, &aad_of(2)).unwrap()[..], b"second");
            assert_eq!(keys.keys()[0].opened_epochs(), 1);
        }
    }

    #[test]
    fn the_opened_epoch_keys_are_bounded_oldest_first() {
        let mut opened = OpenedEpochs::default();
        for i in 0..OPENED_EPOCHS_MAX + 10 {
            opened.insert(ALG_SM2, &i.to_be_bytes(), &[i as u8; 16]);
        }
        assert_eq!(opened.keys.len(), OPENED_EPOCHS_MAX);
        assert_eq!(opened.order.len(), OPENED_EPOCHS_MAX);
        assert!(opened.get(ALG_SM2, &0usize.to_be_bytes()).is_none());
        assert!(opened.get(ALG_HPKE_EPOCH, &20usize.to_be_bytes()).is_none());
        assert_eq!(
            &opened.get(ALG_SM2, &20usize.to_be_bytes()).unwrap()[..],
            &[20u8; 16]
        );
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
