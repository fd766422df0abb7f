//! Request signing: HMAC-SHA256 with the terminal's secret over
//!
//! ```text
//! METHOD \n PATH_AND_QUERY \n TERMINAL_ID \n TIMESTAMP \n NONCE \n hex(SHA-256(body))
//! ```
//!
//! sent as `X-Terminal-Id`, `X-Timestamp` (unix seconds), `X-Nonce` (32
//! lower-case hex digits, fresh for every request), `X-Content-SHA256` (the
//! body's hash, lower-case hex) and `X-Signature` (lower-case hex). The path
//! is the full request path as on the request line (with the `/api/v1`
//! prefix and any query).
//!
//! Why each part is there:
//! - the terminal id: a signature made for one terminal cannot be presented
//!   under another's id, even where two terminals shared a secret;
//! - the nonce: the server remembers the nonces it accepted for as long as
//!   the timestamp is acceptable (±[`MAX_SKEW_SECS`]), so a captured request
//!   cannot be replayed within that window;
//! - the body hash as a header: the server checks the signature from the
//!   headers alone, before it reads a byte of the body, and only then reads
//!   the body (bounded) and compares its hash with the signed one.
//!
//! In the 国密 suite (`[crypto] suite = "gm"`) the same canonical string is
//! signed with HMAC-SM3 and the body's hash is SM3: the request then carries
//! `X-Signature-Alg: HMAC-SM3` and `X-Content-SM3` instead of
//! `X-Content-SHA256`. A server accepts either form from any terminal; both
//! need the terminal's secret.
//!
//! An enrolled kiosk signs the same canonical string with its own key pair,
//! made at enrollment in its suite: Ed25519 over the SHA-256 body hash
//! (`X-Signature-Alg: ed25519`, [`Credential::Key`]), or in the 国密 suite an
//! SM2 signature (GB/T 32918.2, SM3 with the signer's Z value, the default
//! distinguishing id `1234567812345678` of GB/T 35276) over the SM3 body hash
//! (`X-Signature-Alg: SM2-SM3`, `X-Content-SM3`, [`Credential::Sm2`]). The
//! platform keeps only the public key; an algorithm named in the header
//! that the stored key does not belong to fails to verify.

use crate::seal::Suite;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Header naming how a request is signed: absent for HMAC-SHA256 with the
/// terminal's secret, [`ALG_HMAC_SM3`] for HMAC-SM3 with the same secret (the
/// 国密 suite), [`ALG_ED25519`] for the terminal's own enrolled key.
pub const HDR_SIGNATURE_ALG: &str = "x-signature-alg";
/// `X-Signature-Alg` of the 国密 suite.
pub const ALG_HMAC_SM3: &str = "HMAC-SM3";
/// Header carrying `hex(SM3(body))` in the 国密 suite.
pub const HDR_CONTENT_SM3: &str = "x-content-sm3";

/// The body's hash in `suite`: SHA-256 or SM3, lower-case hex.
pub fn body_hash_in(suite: Suite, body: &[u8]) -> String {
    hex::encode(suite.hash(body))
}

/// The header carrying the body's hash in `suite`.
pub fn content_hash_header(suite: Suite) -> &'static str {
    match suite {
        Suite::Intl => HDR_CONTENT_SHA256,
        Suite::Gm => HDR_CONTENT_SM3,
    }
}

/// Default largest accepted difference between terminal and server clocks.
pub const MAX_SKEW_SECS: i64 = 300;

/// Header carrying the request's nonce.
pub const HDR_NONCE: &str = "x-nonce";
/// Header carrying `hex(SHA-256(body))`.
pub const HDR_CONTENT_SHA256: &str = "x-content-sha256";

pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The string the signature is made over.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    terminal_id: &str,
    timestamp: i64,
    nonce: &str,
    body_sha256_hex: &str,
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        terminal_id,
        timestamp,
        nonce,
        body_sha256_hex
    )
}

/// What one request is signed over (the body as its hash).
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub terminal_id: &'a str,
    pub timestamp: i64,
    pub nonce: &'a str,
    pub body_sha256_hex: &'a str,
}

impl Signed<'_> {
    fn mac(&self, secret: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(
            canonical(
                self.method,
                self.path_and_query,
                self.terminal_id,
                self.timestamp,
                self.nonce,
                self.body_sha256_hex,
            )
            .as_bytes(),
        );
        mac
    }

    /// Lower-case hex HMAC-SHA256.
    pub fn sign(&self, secret: &[u8]) -> String {
        hex::encode(self.mac(secret).finalize().into_bytes())
    }

    fn canonical(&self) -> String {
        canonical(
            self.method,
            self.path_and_query,
            self.terminal_id,
            self.timestamp,
            self.nonce,
            self.body_sha256_hex,
        )
    }

    /// Lower-case hex HMAC-SHA256 or HMAC-SM3 (the body hash given must be
    /// the suite's).
    pub fn sign_in(&self, suite: Suite, secret: &[u8]) -> String {
        match suite {
            Suite::Intl => self.sign(secret),
            Suite::Gm => hex::encode(Suite::Gm.hmac(secret, self.canonical().as_bytes())),
        }
    }

    /// Constant-time check of a hex signature made in `suite`.
    pub fn verify_in(&self, suite: Suite, secret: &[u8], signature_hex: &str) -> bool {
        match suite {
            Suite::Intl => self.verify(secret, signature_hex),
            Suite::Gm => {
                use hmac13::{KeyInit as _, Mac as _};
                let Ok(sig) = hex::decode(signature_hex) else {
                    return false;
                };
                let mut mac = hmac13::Hmac::<sm3::Sm3>::new_from_slice(secret)
                    .expect("HMAC takes any key length");
                mac.update(self.canonical().as_bytes());
                mac.verify_slice(&sig).is_ok()
            }
        }
    }

    /// Constant-time check of a hex signature.
    pub fn verify(&self, secret: &[u8], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex) else {
            return false;
        };
        self.mac(secret).verify_slice(&sig).is_ok()
    }
}

/// `X-Signature-Alg` of a request signed with the terminal's own key (an
/// enrolled kiosk: the platform holds only its public key).
pub const ALG_ED25519: &str = "ed25519";
/// `X-Signature-Alg` of an enrolled kiosk of the 国密 suite: SM2 with SM3.
pub const ALG_SM2: &str = "SM2-SM3";
/// The distinguishing id in SM2 signatures (GB/T 35276's default).
pub const SM2_DISTID: &str = "1234567812345678";

/// Whether `key` is a public key of `algorithm` as enrollment takes it:
/// Ed25519 as 32 raw bytes, SM2 as an SEC1 point on the curve.
pub fn public_key_is_valid(algorithm: &str, key: &[u8]) -> bool {
    match algorithm {
        ALG_ED25519 => key.len() == 32,
        ALG_SM2 => sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, key).is_ok(),
        _ => false,
    }
}

impl Signed<'_> {
    /// Lower-case hex SM2 signature (r ‖ s, 64 bytes) of the canonical string.
    pub fn sign_sm2(&self, key: &sm2::dsa::SigningKey) -> String {
        use sm2::dsa::signature::Signer as _;
        let signature: sm2::dsa::Signature = key.sign(self.canonical().as_bytes());
        hex::encode(signature.to_bytes())
    }

    /// Check a hex SM2 signature against an SEC1-encoded public key.
    pub fn verify_sm2(&self, public_key: &[u8], signature_hex: &str) -> bool {
        use sm2::dsa::signature::Verifier as _;
        let Ok(key) = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, public_key) else {
            return false;
        };
        let Some(signature) = hex::decode(signature_hex)
            .ok()
            .and_then(|b| sm2::dsa::Signature::try_from(b.as_slice()).ok())
        else {
            return false;
        };
        key.verify(self.canonical().as_bytes(), &signature).is_ok()
    }
}

impl Signed<'_> {
    /// Lower-case hex Ed25519 signature of the canonical string.
    pub fn sign_ed25519(&self, key: &ring::signature::Ed25519KeyPair) -> String {
        hex::encode(key.sign(self.canonical().as_bytes()).as_ref())
    }

    /// Check a hex Ed25519 signature against a raw 32-byte public key.
    pub fn verify_ed25519(&self, public_key: &[u8], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex) else {
            return false;
        };
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
            .verify(self.canonical().as_bytes(), &sig)
            .is_ok()
    }
}

/// What a terminal signs its requests with.
pub enum Credential {
    /// The shared secret, from the environment: HMAC-SHA256 or, in the 国密
    /// suite, HMAC-SM3 (the suite is chosen per request, see
    /// [`Credential::headers`]).
    Secret(zeroize::Zeroizing<Vec<u8>>),
    /// Its own Ed25519 key, generated on the kiosk at enrollment.
    Key(Box<ring::signature::Ed25519KeyPair>),
    /// Its own SM2 key (the 国密 suite), generated on the kiosk at enrollment.
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl Credential {
    /// A key from its PKCS#8 document (the enrolled kiosk's key file):
    /// Ed25519, or SM2 (its OID 1.2.156.10197.1.301 in the document).
    pub fn from_pkcs8(der: &[u8]) -> Result<Credential, String> {
        use sm2::pkcs8::DecodePrivateKey as _;
        if let Ok(key) = ring::signature::Ed25519KeyPair::from_pkcs8(der) {
            return Ok(Credential::Key(Box::new(key)));
        }
        let secret = sm2::SecretKey::from_pkcs8_der(der)
            .map_err(|e| format!("neither an Ed25519 nor an SM2 PKCS#8 key: {e}"))?;
        sm2::dsa::SigningKey::new(SM2_DISTID, &secret)
            .map(|k| Credential::Sm2(Box::new(k)))
            .map_err(|e| format!("not a usable SM2 key: {e}"))
    }

    /// A fresh key pair of `suite` from the operating system's generator:
    /// the PKCS#8 document to keep (secret), the public key to send (raw
    /// Ed25519, or SEC1 uncompressed SM2) and its algorithm's name.
    pub fn generate_in(suite: Suite) -> (zeroize::Zeroizing<Vec<u8>>, Vec<u8>, &'static str) {
        match suite {
            Suite::Intl => {
                let (der, public) = Credential::generate();
                (der, public, ALG_ED25519)
            }
            Suite::Gm => {
                use sm2::pkcs8::EncodePrivateKey as _;
                let secret = loop {
                    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
                    use ring::rand::SecureRandom as _;
                    ring::rand::SystemRandom::new()
                        .fill(&mut *bytes)
                        .expect("the operating system's random generator works");
                    // Out of range (≥ n or 0) with probability about 2^-32.
                    if let Ok(k) = sm2::SecretKey::from_slice(&*bytes) {
                        break k;
                    }
                };
                let der = secret.to_pkcs8_der().expect("an SM2 key encodes as PKCS#8");
                let public = secret.public_key().to_sec1_bytes().to_vec();
                (
                    zeroize::Zeroizing::new(der.as_bytes().to_vec()),
                    public,
                    ALG_SM2,
                )
            }
        }
    }

    /// A fresh key pair from the operating system's generator: the PKCS#8
    /// document to keep (secret) and the raw public key to send.
    pub fn generate() -> (zeroize::Zeroizing<Vec<u8>>, Vec<u8>) {
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("the operating system's random generator works");
        let der = zeroize::Zeroizing::new(doc.as_ref().to_vec());
        let public = ring::signature::Ed25519KeyPair::from_pkcs8(&der)
            .expect("a key ring generated parses")
            .public_key()
            .as_ref()
            .to_vec();
        (der, public)
    }

    /// Every signing header of one request, with a fresh nonce. `suite`
    /// chooses the HMAC of a shared secret (HMAC-SHA256 over a SHA-256 body
    /// hash, or HMAC-SM3 over an SM3 body hash); an enrolled key signs in
    /// its own algorithm (Ed25519 over the SHA-256, SM2 over the SM3 body
    /// hash), which enrollment chose by the suite.
    pub fn headers(
        &self,
        suite: Suite,
        method: &str,
        path_and_query: &str,
        terminal_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        match self {
            Credential::Secret(secret) => headers_in(
                suite,
                secret,
                method,
                path_and_query,
                terminal_id,
                timestamp,
                body,
            ),
            Credential::Key(key) => key_signed(
                Suite::Intl,
                ALG_ED25519,
                (method, path_and_query, terminal_id, timestamp, body),
                |signed| signed.sign_ed25519(key),
            ),
            Credential::Sm2(key) => key_signed(
                Suite::Gm,
                ALG_SM2,
                (method, path_and_query, terminal_id, timestamp, body),
                |signed| signed.sign_sm2(key),
            ),
        }
    }
}

/// The headers of a request signed with an enrolled kiosk's own key: the
/// body hashed in `suite` (SHA-256 for Ed25519, SM3 for SM2), `algorithm`
/// named, `sign` applied to the canonical string.
fn key_signed(
    suite: Suite,
    algorithm: &str,
    (method, path_and_query, terminal_id, timestamp, body): (&str, &str, &str, i64, &[u8]),
    sign: impl FnOnce(&Signed<'_>) -> String,
) -> Vec<(&'static str, String)> {
    let nonce = new_nonce();
    let hash = body_hash_in(suite, body);
    let signature = sign(&Signed {
        method,
        path_and_query,
        terminal_id,
        timestamp,
        nonce: &nonce,
        body_sha256_hex: &hash,
    });
    vec![
        (crate::api::HDR_TERMINAL, terminal_id.to_string()),
        (crate::api::HDR_TIMESTAMP, timestamp.to_string()),
        (HDR_NONCE, nonce),
        (content_hash_header(suite), hash),
        (HDR_SIGNATURE_ALG, algorithm.to_string()),
        (crate::api::HDR_SIGNATURE, signature),
    ]
}

/// A fresh nonce: 16 bytes from the operating system's generator, as hex.
pub fn new_nonce() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator works");
    hex::encode(bytes)
}

/// A nonce as the server accepts it: 32 to 64 lower-case hex digits.
pub fn is_valid_nonce(nonce: &str) -> bool {
    (32..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A SHA-256 as the server accepts it: 64 lower-case hex digits.
pub fn is_valid_sha256_hex(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every signing header of one request with a fresh nonce, for clients
/// other than [`crate::client::PlatformClient`] (benchmarks, tests, tools).
pub fn headers(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    terminal_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    headers_in(
        Suite::Intl,
        secret,
        method,
        path_and_query,
        terminal_id,
        timestamp,
        body,
    )
}

/// [`headers`] in `suite`: HMAC-SM3 over an SM3 body hash for `gm`, with
/// `X-Signature-Alg: HMAC-SM3` and `X-Content-SM3`.
pub fn headers_in(
    suite: Suite,
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    terminal_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let nonce = new_nonce();
    let hash = body_hash_in(suite, body);
    let signature = Signed {
        method,
        path_and_query,
        terminal_id,
        timestamp,
        nonce: &nonce,
        body_sha256_hex: &hash,
    }
    .sign_in(suite, secret);
    let mut headers = vec![
        (crate::api::HDR_TERMINAL, terminal_id.to_string()),
        (crate::api::HDR_TIMESTAMP, timestamp.to_string()),
        (HDR_NONCE, nonce),
        (content_hash_header(suite), hash),
        (crate::api::HDR_SIGNATURE, signature),
    ];
    if suite == Suite::Gm {
        headers.push((HDR_SIGNATURE_ALG, ALG_HMAC_SM3.to_string()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ed25519_signature_covers_every_part_and_only_its_key_verifies() {
        let (der, public) = Credential::generate();
        let Credential::Key(key) = Credential::from_pkcs8(&der).unwrap() else {
            unreachable!()
        };
        let nonce = "0123456789abcdef0123456789abcdef";
        let hash = body_hash(b"{}");
        let base = signed(nonce, &hash);
        let sig = base.sign_ed25519(&key);
        assert!(base.verify_ed25519(&public, &sig));
        let other = Signed {
            terminal_id: "T0002",
            ..base
        };
        assert!(!other.verify_ed25519(&public, &sig));
        let (_, stranger) = Credential::generate();
        assert!(!base.verify_ed25519(&stranger, &sig));
        assert!(!base.verify_ed25519(&public, "zz"));
        assert!(Credential::from_pkcs8(b"not a key").is_err());
    }

    #[test]
    fn a_secret_signs_in_its_suite_and_an_ed25519_key_signs_ed25519_in_both() {
        let alg = |h: &[(&'static str, String)]| {
            h.iter()
                .find(|(n, _)| *n == HDR_SIGNATURE_ALG)
                .map(|(_, v)| v.clone())
        };
        let has = |h: &[(&'static str, String)], name: &str| h.iter().any(|(n, _)| *n == name);
        let secret = Credential::Secret(zeroize::Zeroizing::new(b"k".to_vec()));
        let intl = secret.headers(Suite::Intl, "POST", "/p", "T0001", 1, b"{}");
        assert_eq!(alg(&intl), None);
        assert!(has(&intl, HDR_CONTENT_SHA256));
        let gm = secret.headers(Suite::Gm, "POST", "/p", "T0001", 1, b"{}");
        assert_eq!(alg(&gm).as_deref(), Some(ALG_HMAC_SM3));
        assert!(has(&gm, HDR_CONTENT_SM3) && !has(&gm, HDR_CONTENT_SHA256));
        let (der, _) = Credential::generate();
        let key = Credential::from_pkcs8(&der).unwrap();
        for suite in [Suite::Intl, Suite::Gm] {
            let h = key.headers(suite, "POST", "/p", "T0001", 1, b"{}");
            assert_eq!(alg(&h).as_deref(), Some(ALG_ED25519), "{suite:?}");
            assert!(has(&h, HDR_CONTENT_SHA256) && !has(&h, HDR_CONTENT_SM3));
        }
    }

    #[test]
    fn an_sm2_key_signs_over_the_sm3_hash_and_only_its_public_key_verifies() {
        let (der, public, alg) = Credential::generate_in(Suite::Gm);
        assert_eq!(alg, ALG_SM2);
        assert_eq!(public.len(), 65, "SEC1 uncompressed");
        let key = Credential::from_pkcs8(&der).unwrap();
        assert!(matches!(key, Credential::Sm2(_)));
        let h = key.headers(Suite::Intl, "POST", "/api/v1/x", "T0001", 7, b"{}");
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get(HDR_SIGNATURE_ALG), ALG_SM2, "whatever the suite asked");
        assert_eq!(get(HDR_CONTENT_SM3), body_hash_in(Suite::Gm, b"{}"));
        let nonce = get(HDR_NONCE);
        let hash = get(HDR_CONTENT_SM3);
        let signed = Signed {
            method: "POST",
            path_and_query: "/api/v1/x",
            terminal_id: "T0001",
            timestamp: 7,
            nonce: &nonce,
            body_sha256_hex: &hash,
        };
        let sig = get(crate::api::HDR_SIGNATURE);
        assert!(signed.verify_sm2(&public, &sig));
        // Another terminal id, another key, an Ed25519 key, a bad signature.
        let other = Signed {
            terminal_id: "T0002",
            ..signed
        };
        assert!(!other.verify_sm2(&public, &sig));
        let (_, stranger, _) = Credential::generate_in(Suite::Gm);
        assert!(!signed.verify_sm2(&stranger, &sig));
        let (_, ed, _) = Credential::generate_in(Suite::Intl);
        assert!(!signed.verify_sm2(&ed, &sig));
        assert!(!signed.verify_ed25519(&ed, &sig));
        assert!(!signed.verify_sm2(&public, "00"));
    }

    fn signed<'a>(nonce: &'a str, hash: &'a str) -> Signed<'a> {
        Signed {
            method: "post",
            path_and_query: "/api/v1/applications/batch",
            terminal_id: "T0001",
            timestamp: 1_700_000_000,
            nonce,
            body_sha256_hex: hash,
        }
    }

    #[test]
    fn every_part_is_signed() {
        let nonce = "0123456789abcdef0123456789abcdef";
        let hash = body_hash(b"{}");
        let base = signed(nonce, &hash);
        let s = base.sign(b"k");
        assert_eq!(s.len(), 64);
        assert!(base.verify(b"k", &s));
        assert!(
            Signed {
                method: "POST",
                ..base
            }
            .verify(b"k", &s),
            "method is upper-cased"
        );
        let other_hash = body_hash(b"{ }");
        let other_nonce = "0123456789abcdef0123456789abcdee";
        for changed in [
            Signed {
                timestamp: 1_700_000_001,
                ..base
            },
            Signed {
                body_sha256_hex: &other_hash,
                ..base
            },
            Signed {
                path_and_query: "/api/v1/evaluations/batch",
                ..base
            },
            Signed {
                terminal_id: "T0002",
                ..base
            },
            Signed {
                nonce: other_nonce,
                ..base
            },
            Signed {
                method: "GET",
                ..base
            },
        ] {
            assert!(!changed.verify(b"k", &s), "{changed:?}");
        }
        assert!(!base.verify(b"j", &s), "another secret");
        assert!(!base.verify(b"k", "zz"));
    }

    #[test]
    fn canonical_string_is_as_documented() {
        assert_eq!(
            canonical("get", "/api/v1/catalogue", "T0001", 17, "ab", "e3"),
            "GET\n/api/v1/catalogue\nT0001\n17\nab\ne3"
        );
    }

    #[test]
    fn nonces_are_fresh_and_well_formed() {
        let a = new_nonce();
        let b = new_nonce();
        assert_ne!(a, b);
        assert!(is_valid_nonce(&a), "{a}");
        assert!(!is_valid_nonce("short"));
        assert!(!is_valid_nonce(&"A".repeat(32)), "lower-case only");
        assert!(is_valid_sha256_hex(&body_hash(b"")));
        assert!(!is_valid_sha256_hex("e3b0"));
    }

    #[test]
    fn hmac_sm3_signs_every_part_and_differs_from_hmac_sha256() {
        let nonce = "0123456789abcdef0123456789abcdef";
        let hash = body_hash_in(Suite::Gm, b"{}");
        assert_ne!(hash, body_hash(b"{}"));
        let base = signed(nonce, &hash);
        let s = base.sign_in(Suite::Gm, b"k");
        assert_eq!(s.len(), 64);
        assert!(base.verify_in(Suite::Gm, b"k", &s));
        assert!(!base.verify_in(Suite::Intl, b"k", &s), "not an HMAC-SHA256");
        assert!(!base.verify_in(Suite::Gm, b"j", &s), "another secret");
        let changed = Signed {
            terminal_id: "T0002",
            ..base
        };
        assert!(!changed.verify_in(Suite::Gm, b"k", &s));
        let headers = headers_in(Suite::Gm, b"k", "POST", "/p", "T0001", 1, b"{}");
        assert!(headers.contains(&(HDR_SIGNATURE_ALG, ALG_HMAC_SM3.to_string())));
        assert!(headers
            .iter()
            .any(|(h, v)| *h == HDR_CONTENT_SM3 && *v == hash));
    }

    #[test]
    fn rfc4231_case_2() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
