//! Enrollment of a kiosk with no identity: a technician scans the code the
//! county's console printed (or types its 12 letters with `bianmin enroll`).
//! The kiosk generates its own Ed25519 key pair here — the private half is
//! written with mode 0600 and never leaves it — sends the public half with
//! the code, and writes what the platform answers as `enrolled.toml` in the
//! data directory, laid over the configuration file at the next start:
//! terminal id, station, platform URL and pinned CA, the content
//! publisher's key. The technicians' admin PIN hash becomes the admin PIN.

use base64::Engine as _;
use bianmin_config::{Config, ENROLLED_FILE};
use bianmin_core::words::Words;
use bianmin_platform::api::{Enrollment, EnrollmentRequest};
use bianmin_platform::client::PlatformError;
use bianmin_platform::sign::Credential;
use std::path::{Path, PathBuf};

/// What the console's QR code starts with: then the code, a colon and the
/// kiosk API's URL.
pub const QR_PREFIX: &str = "BMENROLL1:";
/// The terminal's private key in the data directory.
pub const KEY_FILE: &str = "terminal.key";
/// The platform's CA, pinned at enrollment.
pub const CA_FILE: &str = "platform-ca.pem";

/// A code read from the scanner or typed, with the platform's URL when the
/// QR code carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollCode {
    pub code: String,
    pub platform_url: Option<String>,
}

/// An enrollment QR code (`BMENROLL1:CODE:URL`) or the 12 letters alone
/// (dashes and spaces allowed); `None` for anything else.
pub fn parse_code(text: &str) -> Option<EnrollCode> {
    let text = text.trim();
    let (code, url) = match text.strip_prefix(QR_PREFIX) {
        Some(rest) => match rest.split_once(':') {
            Some((code, url)) if url.starts_with("http") => (code, Some(url.to_string())),
            _ => (rest, None),
        },
        None => (text, None),
    };
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let letters = code.len() == 12
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    letters.then_some(EnrollCode {
        code,
        platform_url: url,
    })
}

/// Whether this kiosk has an identity to sign with: enrolled (its key) or
/// given a secret by hand.
pub fn has_identity(config: &Config) -> bool {
    config
        .platform
        .key_file
        .as_ref()
        .is_some_and(|p| p.exists())
        || config.platform.secret.is_some()
}

/// Why enrollment did not happen, for the technician at the kiosk.
#[derive(Debug)]
pub enum EnrollError {
    /// The platform refused the code (its sentence).
    Refused(String),
    /// The platform cannot be reached or answered oddly; try again.
    Unreachable(String),
    /// The kiosk could not write its identity (disk full, read-only).
    Storage(String),
}

impl EnrollError {
    pub fn words(&self) -> Words {
        match self {
            EnrollError::Refused(why) => Words::new(why.clone(), format!("Refused: {why}")),
            EnrollError::Unreachable(why) => Words::new(
                format!("连不上平台，请检查网络后重新扫描（{why}）"),
                format!("The platform cannot be reached; check the network and scan again ({why})"),
            ),
            EnrollError::Storage(why) => Words::new(
                format!("终端无法保存注册信息（{why}），请联系技术支持"),
                format!("The kiosk cannot store its enrollment ({why})"),
            ),
        }
    }
}

/// What the kiosk now is.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub terminal_id: String,
    pub station_name: String,
    /// The file laid over the configuration from the next start.
    pub file: PathBuf,
}

/// Enroll with `code`: generate the key pair, ask the platform, write the
/// identity. Nothing is written unless the platform accepted. `replaces`:
/// the terminal id of a machine this one replaces at the same station.
pub async fn enroll(
    config: &Config,
    code: &EnrollCode,
    replaces: Option<&str>,
) -> Result<Enrolled, EnrollError> {
    let mut platform = config.platform.clone();
    if let Some(url) = &code.platform_url {
        platform.url = bianmin_config::HttpUrl(url.clone());
    }
    // The key pair in the kiosk's suite: Ed25519, or SM2 for 国密.
    let suite = match config.crypto.suite {
        bianmin_config::CryptoSuite::Intl => bianmin_platform::seal::Suite::Intl,
        bianmin_config::CryptoSuite::Gm => bianmin_platform::seal::Suite::Gm,
    };
    let (private, public, algorithm) = Credential::generate_in(suite);
    let request = EnrollmentRequest {
        code: code.code.clone(),
        algorithm: algorithm.into(),
        public_key: base64::engine::general_purpose::STANDARD.encode(&public),
        replaces: replaces.map(str::to_string),
    };
    let enrollment = match bianmin_platform::client::enroll(&platform, &request).await {
        Ok(e) => e,
        Err(PlatformError::Refused { reason, .. }) => return Err(EnrollError::Refused(reason)),
        Err(e) => return Err(EnrollError::Unreachable(e.to_string())),
    };
    write_identity(&config.store.data_dir, &enrollment, &private)
        .map_err(|e| EnrollError::Storage(e.to_string()))?;
    tracing::info!(terminal = %enrollment.terminal_id, "enrolled");
    Ok(Enrolled {
        terminal_id: enrollment.terminal_id,
        station_name: enrollment.station_name,
        file: config.store.data_dir.join(ENROLLED_FILE),
    })
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Write the key (0600), the CA, the admin PIN and `enrolled.toml` — the
/// last one last, so a kiosk that stops half way is still not enrolled.
pub fn write_identity(
    data_dir: &Path,
    enrollment: &Enrollment,
    private_key: &[u8],
) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let key_path = data_dir.join(KEY_FILE);
    bianmin_fs::write_atomic(&key_path, private_key, 0o600, None)?;
    let mut platform = format!(
        "[platform]\nurl = {}\nkey_file = {}\n",
        toml_string(&enrollment.platform_url),
        toml_string(&key_path.display().to_string())
    );
    if let Some(key) = &enrollment.config_public_key {
        platform.push_str(&format!("config_key = {}\n", toml_string(key)));
    }
    if let Some(pem) = &enrollment.ca_pem {
        let ca_path = data_dir.join(CA_FILE);
        bianmin_fs::write_atomic(&ca_path, pem.as_bytes(), 0o644, None)?;
        platform.push_str(&format!(
            "ca_file = {}\n",
            toml_string(&ca_path.display().to_string())
        ));
    }
    if let Some(hash) = &enrollment.admin_pin_hash {
        bianmin_admin::pin::AdminGate::provision(data_dir, hash)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    let text = format!(
        "# Written when this kiosk enrolled with the platform; laid over\n\
         # kiosk.toml. Delete it (and {KEY_FILE}) to enroll again.\n\
         {county}\n\
         [station]\nterminal_id = {terminal}\ncode = {code}\nname = {name}\n\n\
         {platform}\n\
         [content]\npublic_key = {content}\n",
        county = enrollment.config_toml,
        terminal = toml_string(&enrollment.terminal_id),
        code = toml_string(&enrollment.station_code),
        name = toml_string(&enrollment.station_name),
        content = toml_string(&enrollment.content_public_key),
    );
    // The platform's answer must make a configuration before it is kept.
    Config::from_toml(&text, ENROLLED_FILE)
        .map_err(|e| std::io::Error::other(format!("the platform's answer: {e}")))?;
    bianmin_fs::write_atomic(&data_dir.join(ENROLLED_FILE), text.as_bytes(), 0o644, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scanned_or_typed_code_is_read_and_anything_else_is_not() {
        let scanned = parse_code("BMENROLL1:K7Q2M9XD4RTB:http://127.0.0.1:8080/api/v1").unwrap();
        assert_eq!(scanned.code, "K7Q2M9XD4RTB");
        assert_eq!(
            scanned.platform_url.as_deref(),
            Some("http://127.0.0.1:8080/api/v1")
        );
        let typed = parse_code("k7q2-m9xd-4rtb").unwrap();
        assert_eq!(typed.code, "K7Q2M9XD4RTB");
        assert_eq!(typed.platform_url, None);
        assert_eq!(parse_code("T0001-20261204-0001"), None);
        assert_eq!(parse_code("https://example.gov.cn"), None);
    }

    #[test]
    fn the_identity_is_written_so_the_next_start_signs_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (private, _) = Credential::generate();
        let enrollment = Enrollment {
            terminal_id: "T11010100100101".into(),
            station_code: "110101001001".into(),
            station_name: "城关镇便民服务站".into(),
            station_address: String::new(),
            platform_url: "https://zwfw.example.gov.cn/api/v1".into(),
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into()),
            content_public_key: bianmin_core::package::DEMO_PUBLIC_KEY.into(),
            config_toml: String::new(),
            admin_pin_hash: None,
            config_public_key: None,
        };
        write_identity(dir.path(), &enrollment, &private).unwrap();
        let mut base = Config::default();
        base.store.data_dir = dir.path().to_path_buf();
        let config = base.overlay_file(&dir.path().join(ENROLLED_FILE)).unwrap();
        assert_eq!(config.station.terminal_id.as_str(), "T11010100100101");
        assert_eq!(config.station.name, "城关镇便民服务站");
        assert!(has_identity(&config));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is the owner's alone");
        let ca = config.platform.ca_file.clone().expect("the CA is pinned");
        assert_eq!(
            std::fs::read_to_string(ca).unwrap(),
            enrollment.ca_pem.clone().unwrap()
        );
        // On loopback without a CA, the key alone makes a client.
        let dir = tempfile::tempdir().unwrap();
        let loopback = Enrollment {
            platform_url: "http://127.0.0.1:9/api/v1".into(),
            ca_pem: None,
            ..enrollment
        };
        write_identity(dir.path(), &loopback, &private).unwrap();
        let config = Config::default()
            .overlay_file(&dir.path().join(ENROLLED_FILE))
            .unwrap();
        assert!(bianmin_platform::client::PlatformClient::from_config(&config).is_ok());
    }
}
