//! The older sealing at rest, kept only to move existing records over:
//! ChaCha20-Poly1305 with a 256-bit key from a 0600 key file in the data
//! directory (readable by the service user, so whoever held the SD card held
//! the key). Personal fields are now sealed to the platform's public key at
//! enqueue (`bianmin_platform::seal`); a store that finds this key file
//! reseals the records it opens and deletes the file ([`destroy_key_file`]).
//! No new key file is ever created by the store.
//! Each sealed value is `0x02 || nonce (12 bytes, random) || ciphertext+tag`,
//! with the record's idempotency key (receipt number) as associated data, so
//! a ciphertext cannot be moved to another row.
//!
//! The cipher is ring's, whose ChaCha20-Poly1305 is hand-written assembly on
//! both x86-64 and ARM: about 4× faster than the RustCrypto crate, which
//! matters because every record is sealed once and opened at least once on
//! a small board. Random 96-bit nonces are safe for up to about 2^32 values
//! under one key; a terminal seals a few million in its life.
//!
//! Values sealed before (`nonce (24 bytes) || XChaCha20-Poly1305`) still
//! open, and exports keep that documented format (`docs/platform-api.yaml`).

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, AeadInPlace, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use zeroize::Zeroizing;

pub const KEY_FILE: &str = "outbox.key";
/// The export format's (and older records') XChaCha20 nonce.
const XNONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// First byte of a value sealed with [`Sealer::seal`].
const FORMAT_2: u8 = 0x02;
const NONCE_LEN: usize = ring::aead::NONCE_LEN;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {reason}")]
    Io { path: String, reason: String },
    #[error(
        "key file {path} is missing but the database exists: its records cannot be read without it"
    )]
    Missing { path: String },
    #[error("key file {path} is not 32 bytes: refusing to use it")]
    BadLength { path: String },
    #[error("key file {path} is readable by others (mode {mode:o}); it must be 0600")]
    Permissions { path: String, mode: u32 },
    #[error("平台公钥不可用 (the platform's sealing key: {0})")]
    Platform(String),
}

/// Overwrite the older key file with zeros, sync, and remove it (the
/// filesystem may keep old blocks; the key's bytes are at least not left in
/// the file's place). Nothing to do when it is absent.
pub fn destroy_key_file(dir: &Path) -> Result<(), KeyError> {
    use std::io::Write as _;
    let path = dir.join(KEY_FILE);
    let io = |e: std::io::Error| KeyError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(mut file) => {
            let len = file.metadata().map_err(io)?.len() as usize;
            file.write_all(&vec![0u8; len]).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    }
    std::fs::remove_file(&path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The outbox cipher. Cloning shares nothing mutable.
#[derive(Clone)]
pub struct Sealer {
    cipher: std::sync::Arc<ring::aead::LessSafeKey>,
    export_cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// The key in `dir/outbox.key` if there is one (records sealed with it
    /// remain to be resealed); never creates it.
    pub fn load_existing(dir: &Path) -> Result<Option<Sealer>, KeyError> {
        if !dir.join(KEY_FILE).exists() {
            return Ok(None);
        }
        Sealer::load_or_create(dir, false).map(Some)
    }

    /// Load the key from `dir/outbox.key`, creating it (mode 0600) when
    /// absent and `may_create` (the database does not exist yet). Creation
    /// writes a temporary file, fsyncs it and renames it into place, so a
    /// power cut never leaves a short key behind.
    pub fn load_or_create(dir: &Path, may_create: bool) -> Result<Sealer, KeyError> {
        let path = dir.join(KEY_FILE);
        let shown = path.display().to_string();
        let io = |e: std::io::Error| KeyError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let key: Zeroizing<Vec<u8>> = match std::fs::File::open(&path) {
            Ok(mut file) => {
                let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(KeyError::Permissions { path: shown, mode });
                }
                let mut buf = Zeroizing::new(Vec::new());
                file.read_to_end(&mut buf).map_err(io)?;
                buf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                bianmin_fs::write_atomic(&path, &key, 0o600, None).map_err(io)?;
                Zeroizing::new(key.to_vec())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::Missing { path: shown })
            }
            Err(e) => return Err(io(e)),
        };
        if key.len() != 32 {
            return Err(KeyError::BadLength { path: shown });
        }
        let cipher = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key)
            .map_err(|_| KeyError::BadLength { path: shown })?;
        Ok(Sealer {
            cipher: std::sync::Arc::new(ring::aead::LessSafeKey::new(cipher)),
            export_cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// Seal a value for the database.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        // Encrypted where it will be stored: one allocation, and no second
        // buffer holding the ciphertext to copy across.
        let head = 1 + NONCE_LEN;
        let mut out = Vec::with_capacity(head + plaintext.len() + TAG_LEN);
        out.push(FORMAT_2);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(aad.as_bytes()),
                &mut out[head..],
            )
            .expect("ChaCha20-Poly1305 sealing fails only beyond 256 GB");
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// `None` when the value was tampered with or sealed under another key.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        // An older value's random nonce may begin with the format byte too:
        // its tag then fails here and it opens as what it is below.
        if sealed.first() == Some(&FORMAT_2) && sealed.len() >= 1 + NONCE_LEN + TAG_LEN {
            let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
            let mut buf = Zeroizing::new(ct.to_vec());
            let opened = self.cipher.open_in_place(
                ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?,
                ring::aead::Aad::from(aad.as_bytes()),
                &mut buf,
            );
            if let Ok(plain) = opened {
                let len = plain.len();
                buf.truncate(len);
                return Some(buf);
            }
        }
        self.open_export(aad, sealed)
    }

    /// Seal in the export format: `nonce (24 bytes) || XChaCha20-Poly1305`.
    pub fn seal_export(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(XNONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .export_cipher
            .encrypt_in_place_detached(&nonce, aad.as_bytes(), &mut out[XNONCE_LEN..])
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory data");
        out.extend_from_slice(&tag);
        out
    }

    /// Open the export format (also what records were sealed with before).
    pub fn open_export(&self, aad: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < XNONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(XNONCE_LEN);
        self.export_cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load_or_create(dir.path(), true).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = a.seal("BM1-X", b"110101199003077777");
        let b = Sealer::load_or_create(dir.path(), true).unwrap();
        assert_eq!(
            &b.open("BM1-X", &sealed).unwrap()[..],
            b"110101199003077777"
        );
        assert!(b.open("BM1-Y", &sealed).is_none(), "aad binds the row");
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(
            Sealer::load_or_create(dir.path(), false),
            Err(KeyError::Missing { .. })
        ));
    }

    #[test]
    fn values_sealed_in_the_older_format_still_open() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path(), true).unwrap();
        let current = sealer.seal("BM1-X", b"110101199003077777");
        assert_eq!(current[0], FORMAT_2);
        assert_eq!(current.len(), 1 + 12 + 18 + 16);
        // Older values: exhaust the nonce's first byte, including the
        // format byte, which must fall back to the older cipher.
        let mut first_bytes = std::collections::HashSet::new();
        while first_bytes.len() < 256 {
            let older = sealer.seal_export("BM1-X", b"110101199003077777");
            if first_bytes.insert(older[0]) {
                assert_eq!(
                    &sealer.open("BM1-X", &older).unwrap()[..],
                    b"110101199003077777"
                );
                assert!(sealer.open("BM1-Y", &older).is_none());
            }
        }
        let mut tampered = current.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open("BM1-X", &tampered).is_none());
        assert!(sealer.open("BM1-X", &current[..20]).is_none());
        assert!(sealer.open("BM1-X", &[FORMAT_2]).is_none());
        assert!(
            sealer.open_export("BM1-X", &current).is_none(),
            "exports keep their own format"
        );
    }

    #[test]
    fn loose_permissions_refused() {
        let dir = tempfile::tempdir().unwrap();
        Sealer::load_or_create(dir.path(), true).unwrap();
        let p = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Sealer::load_or_create(dir.path(), true),
            Err(KeyError::Permissions { .. })
        ));
    }
}
