//! Kiosk configuration: built-in defaults < system file (or `--config FILE`) <
//! environment variables for secrets.
//!
//! Every section refuses unknown keys, and every ranged value is a type that
//! checks its range while deserialising, so the TOML parser can point at the
//! exact line and column of the offending value.

/// Where the kiosk's and the reference platform's logs go (both binaries use it).
pub mod logging;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the kiosk looks for its configuration when no `--config` is given.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/bianmin/kiosk.toml";

/// The commented reference file; also what `Config::default()` must equal.
pub const REFERENCE_CONFIG: &str = include_str!("../../../config/kiosk.toml");

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub station: StationConfig,
    pub ui: UiConfig,
    pub session: SessionConfig,
    pub platform: PlatformConfig,
    pub store: StoreConfig,
    pub content: ContentConfig,
    pub devices: DevicesConfig,
    pub voice: VoiceConfig,
    pub logging: LoggingConfig,
    pub assist: AssistConfig,
    pub crypto: CryptoConfig,
}

/// Which family of algorithms protects the kiosk's data and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CryptoSuite {
    /// X25519/HPKE + ChaCha20-Poly1305, HMAC-SHA256, SHA-256.
    #[default]
    Intl,
    /// 国密: SM2 + SM4-GCM, HMAC-SM3, SM3 (for 密评, GB/T 39786).
    Gm,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoConfig {
    /// `intl` or `gm`; the platform's sealing key must be of the same suite
    /// (x25519 for intl, sm2 for gm).
    pub suite: CryptoSuite,
}

/// 帮办代办: the station clerks who may take over the keyboard for a resident.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssistConfig {
    pub staff: Vec<StaffMember>,
}

/// One clerk: a numeric staff id (typed on the keypad) and the Argon2id hash
/// of their PIN, never the PIN itself.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffMember {
    pub id: StaffId,
    pub pin_hash: PinHash,
}

impl std::fmt::Debug for StaffMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaffMember({})", self.id.0)
    }
}

/// 1–16 digits: clerks type it on the number pad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StaffId(pub String);

impl<'de> Deserialize<'de> for StaffId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(
                "a staff id of 1 to 16 digits, e.g. \"1001\"",
            ));
        }
        Ok(StaffId(text))
    }
}

/// An Argon2id PHC string (`bianmin config hash-pin` makes one).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PinHash(pub String);

impl<'de> Deserialize<'de> for PinHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if argon2::PasswordHash::new(&text).is_err() || !text.starts_with("$argon2id$") {
            return Err(serde::de::Error::custom(
                "an Argon2id hash made by `bianmin config hash-pin`, not the PIN itself",
            ));
        }
        Ok(PinHash(text))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StationConfig {
    /// Shown on the attract screen and printed on receipts.
    pub name: String,
    /// Administrative division code of the station (12 digits).
    pub code: Digits<12>,
    /// Unique id of this terminal in the province's fleet; part of every receipt number.
    pub terminal_id: TerminalId,
    /// The station's own phone, shown to residents when the terminal cannot
    /// serve them (暂停服务). Empty: the page sends them to the window and the
    /// 12345 hotline instead.
    pub phone: String,
    /// Production (residents use it) or test (bench, training, CI).
    pub mode: KioskMode,
    /// The station's time zone (IANA name): the screen clock, receipts,
    /// receipt numbers and progress use it, whatever the system's zone.
    pub time_zone: TimeZoneName,
}

/// What a kiosk is for; only a test kiosk may talk plain HTTP, to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KioskMode {
    #[default]
    Production,
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Normal,
    Large,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    /// The name Slint's bundled translations know this language by ("" = source language).
    pub fn slint_code(self) -> &'static str {
        match self {
            Language::Zh => "",
            Language::En => "en",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    pub theme: Theme,
    pub language: Language,
    /// Panel resolution the kiosk lays out for.
    pub width: Ranged<u32, 320, 7680>,
    pub height: Ranged<u32, 240, 4320>,
    /// Pixels per millimetre of the configured panel (a 15.6" 1920×1080 panel is ≈ 5.6).
    pub px_per_mm: RangedF<1, 40>,
    /// Seconds of stillness on the attract screen before it dims; 0 = never.
    pub dim_after_secs: Ranged<u32, 0, 86400>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds without a touch before the "继续办理" countdown appears (normal mode).
    pub idle_timeout_secs: Ranged<u32, 30, 3600>,
    /// The same for large-font mode: elderly residents get longer.
    pub idle_timeout_large_secs: Ranged<u32, 30, 3600>,
    /// How long the countdown overlay stays before the session is wiped (WCAG 2.2.1: ≥ 20 s).
    pub countdown_secs: Ranged<u32, 20, 300>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformConfig {
    /// Base URL of the provincial integrated government-service platform.
    pub url: HttpUrl,
    /// PEM file of the CA that signs the platform's certificate; empty = system roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds before a platform request is given up and retried later.
    pub request_timeout_secs: Ranged<u32, 1, 300>,
    /// Records sent per batch when draining the outbox.
    pub batch_size: Ranged<u32, 1, 1000>,
    /// Seconds between heartbeats.
    pub heartbeat_secs: Ranged<u32, 10, 86400>,
    /// Seconds between asking the platform for a technician's commands.
    pub command_poll_secs: Ranged<u32, 1, 3600>,
    /// First retry delay ceiling in milliseconds (doubles per failure, full jitter).
    pub retry_base_ms: Ranged<u32, 10, 60000>,
    /// Largest retry delay in seconds.
    pub retry_cap_secs: Ranged<u32, 1, 86400>,
    /// The platform's public key that personal fields are sealed to at
    /// enqueue (`x25519:BASE64` for the intl suite, `sm2:BASE64` for gm):
    /// the kiosk can seal with it, never open. Empty: the published demo
    /// key (demo and tests only; `config check` refuses it).
    pub seal_public_key: String,
    /// The id of that key, sent with every sealed record so the platform
    /// knows which of its private keys opens it (keys rotate).
    pub seal_key_id: String,
    /// The terminal's own Ed25519 key (PKCS#8), written with mode 0600 when
    /// the kiosk enrolled; requests are signed with it instead of a secret.
    pub key_file: Option<PathBuf>,
    /// `ed25519:BASE64` of the key the platform signs remote configurations
    /// with (told at enrollment); empty: remote configuration is refused.
    pub config_key: String,
    /// The terminal's signing secret. Never read from a file: only from the
    /// environment variable `BIANMIN_PLATFORM_SECRET`.
    #[serde(skip)]
    pub secret: Option<Secret>,
}

/// Whom the kiosk trusts to publish its content package.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// `ed25519:BASE64`, or `sm2:BASE64` (the SEC1 point) for a county on
    /// the 国密 suite; empty trusts nothing (no package is ever shown).
    pub public_key: String,
    /// The key id a package's signature must name; empty accepts any.
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory of the SQLite database, the key file and exported files.
    pub data_dir: PathBuf,
    /// Days a synced record keeps its personal fields before they are purged.
    pub retention_days: Ranged<u32, 0, 3650>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesConfig {
    pub id_card: SerialDevice,
    pub printer: PrinterConfig,
    pub scanner: ScannerConfig,
    pub gpio: GpioConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SerialDevice {
    pub enabled: bool,
    /// Serial device path; the udev rules give stable names such as /dev/bianmin-idcard.
    pub port: String,
    pub baud: Baud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PrinterEncoding {
    #[default]
    Gb18030,
    Utf8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrinterConfig {
    pub enabled: bool,
    pub port: String,
    pub baud: Baud,
    /// Paper width in millimetres: 58 (384 dots) or 80 (576 dots).
    pub paper_mm: PaperWidth,
    pub encoding: PrinterEncoding,
    /// Send FS & (Chinese character mode) before text; some printers need it.
    pub fs_and: bool,
    /// Use the printer's native QR command; false = print the QR as a raster image.
    pub native_qr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScanSuffix {
    #[default]
    Cr,
    Lf,
    Crlf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    pub enabled: bool,
    pub port: String,
    pub baud: Baud,
    pub suffix: ScanSuffix,
    /// Identical codes within this many milliseconds count as one scan.
    pub dedupe_ms: Ranged<u32, 0, 60000>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpioConfig {
    /// Only takes effect in builds with the `rpi` feature on a Raspberry Pi.
    pub enabled: bool,
    /// BCM pin numbers.
    pub presence_pin: Ranged<u8, 0, 27>,
    pub call_staff_pin: Ranged<u8, 0, 27>,
    pub led_pin: Ranged<u8, 0, 27>,
    pub buzzer_pin: Ranged<u8, 0, 27>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// Spoken guidance (语音导办). Without a sound device the kiosk stays silent.
    pub enabled: bool,
    /// Loudness 0–100 (espeak-ng amplitude is scaled from it).
    pub volume: Ranged<u32, 0, 100>,
    /// Words per minute; elderly listeners prefer slower speech.
    pub speed: Ranged<u32, 80, 300>,
    /// Play every screen's prompt automatically in normal mode too (large mode always does).
    pub auto_in_normal_mode: bool,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            enabled: true,
            volume: Ranged(80),
            speed: Ranged(140),
            auto_in_normal_mode: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// tracing filter, e.g. "info" or "bianmin=debug,info".
    pub filter: String,
}

impl Default for StationConfig {
    fn default() -> Self {
        StationConfig {
            name: "演示村便民服务站".into(),
            code: Digits("110101001001".into()),
            terminal_id: TerminalId("T0001".into()),
            phone: String::new(),
            mode: KioskMode::Production,
            time_zone: TimeZoneName("Asia/Shanghai".into()),
        }
    }
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            theme: Theme::Normal,
            language: Language::Zh,
            width: Ranged(1280),
            height: Ranged(800),
            px_per_mm: RangedF(5.6),
            dim_after_secs: Ranged(300),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_secs: Ranged(90),
            idle_timeout_large_secs: Ranged(180),
            countdown_secs: Ranged(30),
        }
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            url: HttpUrl("https://zwfw.example.gov.cn/api/v1".into()),
            ca_file: None,
            key_file: None,
            config_key: String::new(),
            request_timeout_secs: Ranged(15),
            batch_size: Ranged(50),
            heartbeat_secs: Ranged(300),
            command_poll_secs: Ranged(60),
            retry_base_ms: Ranged(1000),
            retry_cap_secs: Ranged(300),
            seal_public_key: String::new(),
            seal_key_id: String::new(),
            secret: None,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("/var/lib/bianmin"),
            retention_days: Ranged(7),
        }
    }
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            id_card: SerialDevice {
                enabled: true,
                port: "/dev/bianmin-idcard".into(),
                baud: Baud(115_200),
            },
            printer: PrinterConfig::default(),
            scanner: ScannerConfig::default(),
            gpio: GpioConfig::default(),
        }
    }
}

impl Default for SerialDevice {
    fn default() -> Self {
        SerialDevice {
            enabled: true,
            port: String::new(),
            baud: Baud(115_200),
        }
    }
}

impl Default for PrinterConfig {
    fn default() -> Self {
        PrinterConfig {
            enabled: true,
            port: "/dev/bianmin-printer".into(),
            baud: Baud(115_200),
            paper_mm: PaperWidth(80),
            encoding: PrinterEncoding::Gb18030,
            fs_and: false,
            native_qr: true,
        }
    }
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            enabled: true,
            port: "/dev/bianmin-scanner".into(),
            baud: Baud(9_600),
            suffix: ScanSuffix::Cr,
            dedupe_ms: Ranged(1500),
        }
    }
}

impl Default for GpioConfig {
    fn default() -> Self {
        GpioConfig {
            enabled: false,
            presence_pin: Ranged(17),
            call_staff_pin: Ranged(27),
            led_pin: Ranged(22),
            buzzer_pin: Ranged(23),
        }
    }
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            filter: "info".into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Checked value types. Each refuses a bad value during deserialisation, so the
// error carries the value's span.

/// An integer that must lie in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ranged<T, const MIN: i64, const MAX: i64>(pub T);

impl<T: Copy, const MIN: i64, const MAX: i64> Ranged<T, MIN, MAX> {
    pub fn get(&self) -> T {
        self.0
    }
}

impl<'de, T, const MIN: i64, const MAX: i64> Deserialize<'de> for Ranged<T, MIN, MAX>
where
    T: TryFrom<i64> + Copy,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        if !(MIN..=MAX).contains(&raw) {
            return Err(serde::de::Error::custom(format!(
                "expected a whole number from {MIN} to {MAX}, found {raw}"
            )));
        }
        T::try_from(raw)
            .map(Ranged)
            .map_err(|_| serde::de::Error::custom(format!("{raw} does not fit")))
    }
}

/// A decimal number that must lie in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct RangedF<const MIN: i64, const MAX: i64>(pub f64);

impl<const MIN: i64, const MAX: i64> RangedF<MIN, MAX> {
    pub fn get(&self) -> f64 {
        self.0
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for RangedF<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = f64::deserialize(d)?;
        if !(raw >= MIN as f64 && raw <= MAX as f64) {
            return Err(serde::de::Error::custom(format!(
                "expected a number from {MIN} to {MAX}, found {raw}"
            )));
        }
        Ok(RangedF(raw))
    }
}

/// A serial baud rate the kiosk's devices use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Baud(pub u32);

pub const BAUD_RATES: [u32; 7] = [4_800, 9_600, 19_200, 38_400, 57_600, 115_200, 230_400];

impl<'de> Deserialize<'de> for Baud {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        match BAUD_RATES.iter().find(|&&b| i64::from(b) == raw) {
            Some(&b) => Ok(Baud(b)),
            None => Err(serde::de::Error::custom(format!(
                "expected a baud rate, one of {BAUD_RATES:?}, found {raw}"
            ))),
        }
    }
}

/// Receipt paper width in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PaperWidth(pub u32);

impl PaperWidth {
    /// Printable dots per line at 203 dpi.
    pub fn dots(self) -> u32 {
        if self.0 == 58 {
            384
        } else {
            576
        }
    }
}

impl<'de> Deserialize<'de> for PaperWidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        match raw {
            58 | 80 => Ok(PaperWidth(raw as u32)),
            _ => Err(serde::de::Error::custom(format!(
                "expected paper width 58 or 80 (millimetres), found {raw}"
            ))),
        }
    }
}

/// A string of exactly N decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Digits<const N: usize>(pub String);

impl<'de, const N: usize> Deserialize<'de> for Digits<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.len() == N && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Digits(raw))
        } else {
            Err(serde::de::Error::custom(format!(
                "expected exactly {N} digits, found {raw:?}"
            )))
        }
    }
}

/// Terminal id: 1–16 upper-case letters and digits (it goes into receipt numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TerminalId(pub String);

impl TerminalId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TerminalId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let ok = (1..=16).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(TerminalId(raw))
        } else {
            Err(serde::de::Error::custom(format!(
                "expected 1 to 16 upper-case letters or digits, found {raw:?}"
            )))
        }
    }
}

/// An IANA time-zone name (`Asia/Shanghai`), checked against the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(pub String);

impl TimeZoneName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone itself; the name was checked while parsing.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.0.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        match raw.trim().parse::<chrono_tz::Tz>() {
            Ok(_) => Ok(TimeZoneName(raw.trim().to_string())),
            Err(_) => Err(serde::de::Error::custom(format!(
                "expected an IANA time-zone name such as \"Asia/Shanghai\", found {raw:?}"
            ))),
        }
    }
}

/// An http:// or https:// URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct HttpUrl(pub String);

impl HttpUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(HttpUrl(raw.trim_end_matches('/').to_string()))
            }
            _ => Err(serde::de::Error::custom(format!(
                "expected an http:// or https:// URL, found {raw:?}"
            ))),
        }
    }
}

/// A secret string that never prints itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

// ---------------------------------------------------------------------------
// Loading

/// A configuration file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the file: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    /// Parse a configuration text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|err| {
            let (line, column) = err
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Invalid {
                path: origin.to_string(),
                line,
                column,
                message: one_line(err.message()),
            }
        })
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Defaults, then the explicit file or the system file when it exists,
    /// then secrets from the environment.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match explicit {
            Some(path) => Config::from_file(path)?,
            None if Path::new(SYSTEM_CONFIG_PATH).exists() => {
                Config::from_file(Path::new(SYSTEM_CONFIG_PATH))?
            }
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok());
        // Enrollment, then the county's remote configuration (verified
        // before it was written), each over what came before.
        for file in [ENROLLED_FILE, REMOTE_FILE] {
            let path = config.store.data_dir.join(file);
            if path.exists() {
                config = config.overlay_file(&path)?;
            }
        }
        remove_secret_env();
        Ok(config)
    }

    /// This configuration with the file at `path` laid over it (the
    /// enrollment's identity, station and county settings): a key the file
    /// sets wins. The file is checked alone first, so its own mistakes are
    /// reported with its own lines; secrets stay as they were.
    pub fn overlay_file(&self, path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: origin.clone(),
            reason: e.to_string(),
        })?;
        Config::from_toml(&text, &origin)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.clone(),
            line: 1,
            column: 1,
            message,
        };
        let overlay: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let mut base = toml::Table::try_from(self).map_err(|e| invalid(e.to_string()))?;
        merge_tables(&mut base, overlay);
        let mut merged: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        merged.platform.secret = self.platform.secret.clone();
        Ok(merged)
    }

    /// What keeps this configuration from being used on a kiosk residents
    /// use (`bianmin config check`): each problem names its key and says, in
    /// Chinese then English, what is wrong and what to do. Empty when fine.
    pub fn deployment_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let url = self.platform.url.as_str();
        let test = self.station.mode == KioskMode::Test;
        if let Some(rest) = url.strip_prefix("http://") {
            let host = url_host(rest);
            if !is_loopback_host(host) {
                problems.push(Problem {
                    section: "platform",
                    key: "url",
                    message: format!(
                        "平台地址使用了不加密的 http://（主机 {host}）：居民的申请会以明文经过网络，终端不允许这样做。请改为省级平台提供的 https:// 地址，并设置 platform.ca_file。(plain http:// to another machine is refused; use the platform's https:// address)"
                    ),
                });
            } else if !test {
                problems.push(Problem {
                    section: "platform",
                    key: "url",
                    message: "平台地址是本机的 http:// 地址，只允许在测试终端上使用：测试、培训或开发用机请在 [station] 中设置 mode = \"test\"；居民使用的终端请改为省级平台的 https:// 地址。(loopback http:// is allowed only with station.mode = \"test\")".to_string(),
                });
            }
        }
        if !test && self.content.public_key.trim().is_empty() {
            problems.push(Problem {
                section: "content",
                key: "public_key",
                message: "未设置 content.public_key：终端只显示经发布方签名的内容包，没有公钥就不会显示任何事项（页面显示“本终端正在准备服务内容”）。请向省级平台索取内容包发布公钥（形如 ed25519:…），写入 [content] public_key。(a production kiosk needs the content publisher's key)".to_string(),
            });
        }
        let seal_key = self.platform.seal_public_key.trim();
        let wanted = match self.crypto.suite {
            CryptoSuite::Intl => "x25519:",
            CryptoSuite::Gm => "sm2:",
        };
        if seal_key.is_empty() {
            if !test {
                problems.push(Problem {
                    section: "platform",
                    key: "seal_public_key",
                    message: format!(
                        "未设置 platform.seal_public_key：居民的个人信息要用省级平台的公钥加密后才保存在终端上（终端自己无法解密，SD 卡被盗也读不出），没有它只能使用公开的演示密钥。请向省级平台索取公钥（形如 {wanted}…）及其编号，写入 [platform] seal_public_key 和 seal_key_id。(a production kiosk needs the platform's sealing key)"
                    ),
                });
            }
        } else if !seal_key.starts_with(wanted) {
            problems.push(Problem {
                section: "platform",
                key: "seal_public_key",
                message: format!(
                    "platform.seal_public_key 与 [crypto] suite = \"{}\" 不符：该算法套件需要 {wanted}… 形式的公钥。(the sealing key does not match the crypto suite)",
                    match self.crypto.suite {
                        CryptoSuite::Intl => "intl",
                        CryptoSuite::Gm => "gm",
                    }
                ),
            });
        } else if !test && DEMO_SEAL_PUBLIC_KEYS.contains(&seal_key) {
            problems.push(Problem {
                section: "platform",
                key: "seal_public_key",
                message: "platform.seal_public_key 是公开的演示密钥：其私钥随源代码公开，任何人都能解开用它加密的个人信息。请换成省级平台的公钥。(the published demo sealing key is refused on a production kiosk)".to_string(),
            });
        } else if self.platform.seal_key_id.trim().is_empty() {
            problems.push(Problem {
                section: "platform",
                key: "seal_key_id",
                message: "未设置 platform.seal_key_id：每条加密记录都带着公钥编号，平台据此选用私钥（密钥轮换时新旧并存）。请写入省级平台给出的公钥编号。(the sealing key needs its key id)".to_string(),
            });
        }
        if !test {
            match &self.platform.ca_file {
                None => problems.push(Problem {
                    section: "platform",
                    key: "ca_file",
                    message: "未设置 platform.ca_file：生产终端必须指定签发平台证书的 CA 证书文件（PEM 格式，向省级平台运维索取，例如放在 /etc/bianmin/platform-ca.pem），否则任何公共 CA 签发的证书都会被信任。请在 [platform] 中加入 ca_file = \"/etc/bianmin/platform-ca.pem\"。(a production kiosk needs platform.ca_file)".to_string(),
                }),
                Some(path) => {
                    let text = std::fs::read(path);
                    let has_cert = text
                        .as_ref()
                        .is_ok_and(|t| t.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----"));
                    if !has_cert {
                        let why = match &text {
                            Err(e) => format!("无法读取（{e}）"),
                            Ok(_) => "其中没有 PEM 证书（-----BEGIN CERTIFICATE-----）".to_string(),
                        };
                        problems.push(Problem {
                            section: "platform",
                            key: "ca_file",
                            message: format!(
                                "platform.ca_file 指向的文件 {} {why}：请放入省级平台提供的 CA 证书（PEM 格式）。(the CA file is missing or holds no certificate)",
                                path.display()
                            ),
                        });
                    }
                }
            }
        }
        problems
    }

    /// Secrets never live in the file; they come from the environment (or a
    /// systemd `EnvironmentFile=` readable by root only).
    /// [`Config::load`] then removes them from the process environment.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(secret) = get("BIANMIN_PLATFORM_SECRET").filter(|s| !s.is_empty()) {
            self.platform.secret = Some(Secret(secret));
        }
        if let Some(dir) = get("BIANMIN_DATA_DIR").filter(|s| !s.is_empty()) {
            self.store.data_dir = PathBuf::from(dir);
        }
    }

    /// Idle seconds before the countdown, for the theme in force.
    pub fn idle_timeout_secs(&self, large: bool) -> u32 {
        if large {
            self.session.idle_timeout_large_secs.get()
        } else {
            self.session.idle_timeout_secs.get()
        }
    }
}

/// The published demo sealing keys (`bianmin_platform::seal::SealingKey::demo`,
/// checked by that crate's tests): their private keys are public.
pub const DEMO_SEAL_PUBLIC_KEYS: &[&str] = &[DEMO_SEAL_INTL, DEMO_SEAL_GM];
pub const DEMO_SEAL_INTL: &str = "x25519:bDqdFw0TuLMF6ddQDAGID3hdFVlPt42YBSl0N8nYfFU=";
pub const DEMO_SEAL_GM: &str =
    "sm2:BAQolydrVA98PHF52gETVumaZ1DTIg/MjVqKy7hTD6VqThwXPpmfhyEwYGldVyOPlkT6INTFioTOy99p5zVlOMs=";

/// The enrollment's file in the data directory, laid over the
/// configuration file by [`Config::load`].
pub const ENROLLED_FILE: &str = "enrolled.toml";

/// The remote configuration the kiosk last accepted from the platform (a
/// signed `kiosk.toml` fragment), laid over `enrolled.toml`.
pub const REMOTE_FILE: &str = "remote.toml";

/// The first line of `remote.toml`, naming the version it holds.
pub const REMOTE_HEADER: &str = "# bianmin remote configuration ";

/// The version of the remote configuration in `data_dir`, if any.
pub fn remote_version(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(REMOTE_FILE)).ok()?;
    let first = text.lines().next()?;
    first
        .strip_prefix(REMOTE_HEADER)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `overlay`'s keys into `base`, tables merged key by key.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => {
                merge_tables(inner, more)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Variables that carry secrets into [`Config::apply_env`].
pub const SECRET_ENV_VARS: &[&str] = &["BIANMIN_PLATFORM_SECRET"];

/// Take the secrets out of the process environment once the configuration
/// holds them, so no program the kiosk starts (espeak-ng, aplay,
/// journalctl, …) inherits them. Call it while the process has one thread
/// (as `main` does, through [`Config::load`]): changing the environment
/// races with other threads reading it.
pub fn remove_secret_env() {
    for name in SECRET_ENV_VARS {
        std::env::remove_var(name);
    }
}

/// One reason a configuration must not go on a production kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Table and key it is about, to point at in the file.
    pub section: &'static str,
    pub key: &'static str,
    /// What is wrong and what to do, Chinese first.
    pub message: String,
}

impl Problem {
    /// `path:line:column: message`, at the key in `text` when it is there
    /// (else at its table, else at the top).
    pub fn located(&self, path: &str, text: &str) -> String {
        let (line, column) = key_position(text, self.section, self.key)
            .or_else(|| key_position(text, self.section, ""))
            .unwrap_or((1, 1));
        format!("{path}:{line}:{column}: {}", self.message)
    }
}

/// 1-based line and column of `key =` inside `[section]` (of the `[section]`
/// header itself when `key` is empty); a plain scan, enough for the flat
/// tables of kiosk.toml.
fn key_position(text: &str, section: &str, key: &str) -> Option<(usize, usize)> {
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            inside = trimmed.trim_end() == format!("[{section}]");
            if inside && key.is_empty() {
                return Some((n + 1, line.len() - trimmed.len() + 1));
            }
            continue;
        }
        if inside && !key.is_empty() {
            if let Some(rest) = trimmed.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return Some((n + 1, line.len() - trimmed.len() + 1));
                }
            }
        }
    }
    None
}

/// The host of `rest` (a URL after its `scheme://`), without port or
/// brackets: `127.0.0.1`, `::1`, `localhost`.
fn url_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// A host that can only be this machine.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether plain `http://` to `url` stays on this machine (the client
/// refuses it otherwise, whatever the mode).
pub fn is_loopback_url(url: &str) -> bool {
    match url.strip_prefix("http://") {
        Some(rest) => is_loopback_host(url_host(rest)),
        None => url.starts_with("https://"),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_file_equals_builtin_defaults() {
        let parsed = Config::from_toml(REFERENCE_CONFIG, "config/kiosk.toml").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_key_is_refused_with_line_and_column() {
        let text = "[station]\nname = \"x\"\ncolour = \"red\"\n";
        let err = Config::from_toml(text, "k.toml").unwrap_err();
        match &err {
            ConfigError::Invalid {
                line,
                column,
                message,
                ..
            } => {
                assert_eq!((*line, *column), (3, 1));
                assert!(message.contains("unknown field `colour`"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.to_string().contains('\n'));
    }

    #[test]
    fn wrong_type_is_refused_at_the_value() {
        let text = "[session]\nidle_timeout_secs = \"long\"\n";
        let err = Config::from_toml(text, "k.toml").unwrap_err();
        let ConfigError::Invalid { line, column, .. } = err else {
            panic!()
        };
        assert_eq!((line, column), (2, 21));
    }

    #[test]
    fn out_of_range_value_says_what_is_expected() {
        let text = "[session]\ncountdown_secs = 5\n";
        let err = Config::from_toml(text, "k.toml").unwrap_err().to_string();
        assert!(err.starts_with("k.toml:2:18: "), "{err}");
        assert!(err.contains("from 20 to 300"), "{err}");
    }

    #[test]
    fn bad_baud_and_paper_are_refused() {
        let err = Config::from_toml("[devices.printer]\nbaud = 1234\n", "k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("baud rate"), "{err}");
        let err = Config::from_toml("[devices.printer]\npaper_mm = 60\n", "k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("58 or 80"), "{err}");
    }

    #[test]
    fn secret_comes_from_environment_and_never_prints() {
        let mut config = Config::default();
        config.apply_env(|k| (k == "BIANMIN_PLATFORM_SECRET").then(|| "s3cret".to_string()));
        assert_eq!(config.platform.secret, Some(Secret("s3cret".into())));
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    fn production(url: &str, ca: Option<&str>) -> Config {
        let mut c = Config::default();
        c.platform.url = HttpUrl(url.into());
        c.platform.ca_file = ca.map(PathBuf::from);
        c.content.public_key = "ed25519:rGwo8RdtAeCNO9QFs9zwKGwYCEtv0lCxZ4DTOH/Hng0=".into();
        c.platform.seal_public_key = "x25519:3p8vK0eJm3ZrL9wHq6sQ1n2Tj4yBf5cXa7dU0iGkVhE=".into();
        c.platform.seal_key_id = "2026-01".into();
        c
    }

    #[test]
    fn production_needs_the_platforms_sealing_key_of_its_suite() {
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            ca.path(),
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let ok = production(
            "https://p.example/api/v1",
            Some(ca.path().to_str().unwrap()),
        );
        assert_eq!(ok.deployment_problems(), vec![]);
        let keys = |c: &Config| -> Vec<&'static str> {
            c.deployment_problems().iter().map(|p| p.key).collect()
        };
        let mut c = ok.clone();
        c.platform.seal_public_key.clear();
        assert_eq!(keys(&c), vec!["seal_public_key"]);
        c.station.mode = KioskMode::Test;
        assert!(keys(&c).is_empty(), "a test kiosk may use the demo key");
        let mut c = ok.clone();
        c.platform.seal_public_key = DEMO_SEAL_INTL.into();
        assert_eq!(keys(&c), vec!["seal_public_key"], "the published demo key");
        let mut c = ok.clone();
        c.crypto.suite = CryptoSuite::Gm;
        assert_eq!(keys(&c), vec!["seal_public_key"], "an x25519 key under gm");
        c.platform.seal_public_key = "sm2:BDm0ZyL8r2Qf3Kx9nWv7aHt1uJc5oEi4sPd6gYb0kMl2RqXw8zNh3TfVj7yCe1uAo5iKs9dGp2LbMn4QxWr6Zt8=".into();
        assert!(keys(&c).is_empty());
        let mut c = ok.clone();
        c.platform.seal_key_id.clear();
        assert_eq!(keys(&c), vec!["seal_key_id"]);
    }

    #[test]
    fn production_needs_the_content_publishers_key() {
        let mut c = production("https://p.example/api/v1", None);
        c.content.public_key.clear();
        assert!(c
            .deployment_problems()
            .iter()
            .any(|p| p.section == "content" && p.message.contains("content.public_key")));
    }

    #[test]
    fn plain_http_to_another_machine_is_refused_in_every_mode() {
        for mode in [KioskMode::Production, KioskMode::Test] {
            let mut c = production("http://zwfw.example.gov.cn/api/v1", None);
            c.station.mode = mode;
            let problems = c.deployment_problems();
            assert!(
                problems
                    .iter()
                    .any(|p| p.key == "url" && p.message.contains("不加密的 http://")),
                "{mode:?}: {problems:?}"
            );
        }
        for url in [
            "http://10.0.0.1:8700/api",
            "http://127.0.0.1.evil.example/",
            "http://[fe80::1]/",
        ] {
            let c = production(url, None);
            assert!(
                c.deployment_problems()
                    .iter()
                    .any(|p| p.message.contains("不加密")),
                "{url}"
            );
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn loopback_http_only_on_a_test_kiosk() {
        for url in [
            "http://127.0.0.1:8700/api/v1",
            "http://localhost/api",
            "http://[::1]:9/x",
        ] {
            assert!(is_loopback_url(url), "{url}");
            let c = production(url, None);
            let problems = c.deployment_problems();
            assert!(
                problems
                    .iter()
                    .any(|p| p.message.contains("mode = \"test\"")),
                "{url}: {problems:?}"
            );
            let mut c = c;
            c.station.mode = KioskMode::Test;
            assert_eq!(c.deployment_problems(), vec![], "{url}");
        }
    }

    #[test]
    fn production_needs_a_ca_file_that_holds_a_certificate() {
        let c = production("https://zwfw.example.gov.cn/api/v1", None);
        let problems = c.deployment_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.starts_with("未设置 platform.ca_file"));

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let c = production("https://p.example/api/v1", Some(ca.to_str().unwrap()));
        assert!(c.deployment_problems()[0].message.contains("无法读取"));
        std::fs::write(&ca, "not a certificate").unwrap();
        assert!(c.deployment_problems()[0].message.contains("没有 PEM 证书"));
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(c.deployment_problems(), vec![]);
    }

    #[test]
    fn problems_point_at_the_key() {
        let text = "[station]\nname = \"x\"\n\n[platform]\n  url = \"http://10.1.1.1/api\"\n";
        let c = Config::from_toml(text, "k.toml").unwrap();
        let lines: Vec<String> = c
            .deployment_problems()
            .iter()
            .map(|p| p.located("k.toml", text))
            .collect();
        assert!(
            lines[0].starts_with("k.toml:5:3: 平台地址使用了不加密的 http://"),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\u{0}\u{1}",
            "[[[",
            "station = 3",
            "[ui]\nwidth = -1",
            "a=\"\\",
        ] {
            assert!(Config::from_toml(text, "k").is_err());
        }
    }
}
