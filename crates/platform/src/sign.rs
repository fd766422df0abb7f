//! Request signing: HMAC-SHA256 with the terminal's secret over
//!
//! ```text
//! METHOD \n PATH_AND_QUERY \n TIMESTAMP \n hex(SHA-256(body))
//! ```
//!
//! sent as `X-Terminal-Id`, `X-Timestamp` (unix seconds) and `X-Signature`
//! (lower-case hex). The path is the full request path as on the request
//! line (with the `/api/v1` prefix and any query).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Default largest accepted difference between terminal and server clocks.
pub const MAX_SKEW_SECS: i64 = 300;

pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

pub fn canonical(method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp,
        body_hash(body)
    )
}

pub fn sign(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(canonical(method, path_and_query, timestamp, body).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
    signature_hex: &str,
) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(canonical(method, path_and_query, timestamp, body).as_bytes());
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify() {
        let s = sign(
            b"k",
            "post",
            "/api/v1/applications/batch",
            1_700_000_000,
            b"{}",
        );
        assert_eq!(s.len(), 64);
        assert!(verify(
            b"k",
            "POST",
            "/api/v1/applications/batch",
            1_700_000_000,
            b"{}",
            &s
        ));
        assert!(!verify(
            b"k",
            "POST",
            "/api/v1/applications/batch",
            1_700_000_001,
            b"{}",
            &s
        ));
        assert!(!verify(
            b"k",
            "POST",
            "/api/v1/applications/batch",
            1_700_000_000,
            b"{ }",
            &s
        ));
        assert!(!verify(
            b"j",
            "POST",
            "/api/v1/applications/batch",
            1_700_000_000,
            b"{}",
            &s
        ));
        assert!(!verify(
            b"k",
            "POST",
            "/api/v1/evaluations/batch",
            1_700_000_000,
            b"{}",
            &s
        ));
        assert!(!verify(b"k", "POST", "/x", 1, b"", "zz"));
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
