//! The content package (内容包): everything a resident reads or fills that is
//! not the kiosk's own chrome — the catalogue with its guides, the forms, the
//! 一件事 bundles with their questionnaires, the per-service 告知承诺 texts and
//! the feedback topics — as one versioned document the platform publishes
//! (同源发布), signed by the publisher, and checked whole before any of it is
//! shown. Described for authors in `docs/content-package.schema.json`.
//!
//! Two layers:
//! - the **package document** (`PackageDocument`): plain JSON, written by
//!   `build` in one canonical form (the same sources give the same bytes);
//! - the **signed envelope** (`SignedEnvelope`): the document's exact text as a
//!   string, the algorithm, the key id and the signature over those bytes.
//!   Signing the text as transported (not a re-serialisation) means no
//!   canonical-JSON rule has to agree between publisher and kiosk.
//!
//! Pure: the caller reads files and the network; this module sees bytes.

use crate::bundle::BundleCatalogue;
use crate::catalogue::{Capability, Catalogue};
use crate::form::{FormLibrary, FormsSource};
use crate::words::Words;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub const PACKAGE_FORMAT: &str = "bianmin-content";
pub const SIGNED_FORMAT: &str = "bianmin-signed-content";
/// The package schema this build understands.
pub const PACKAGE_SCHEMA_VERSION: u32 = 1;
/// The publisher's signature algorithms: Ed25519, or SM2 (GB/T 32918.2,
/// SM3 with the signer's Z value, distinguishing id `1234567812345678`) for
/// a county on the 国密 suite. The envelope names which.
pub const ED25519: &str = "ed25519";
pub const SM2: &str = "sm2";
/// The distinguishing id in SM2 signatures (GB/T 35276's default).
const SM2_DISTID: &str = "1234567812345678";

/// The signed demo package, built by `bianmin content build config` from the
/// demo sources and signed with the demo key. For `demo`, `screens` and tests
/// only: production kiosks trust no demo key.
pub const DEMO_PACKAGE_JSON: &str = include_str!("../../../config/content/demo-package.json");
/// The demo publisher's public key (its secret half is in
/// `config/content/demo-signing.key`, published on purpose: demo only).
pub const DEMO_PUBLIC_KEY: &str = "ed25519:rGwo8RdtAeCNO9QFs9zwKGwYCEtv0lCxZ4DTOH/Hng0=";
pub const DEMO_KEY_ID: &str = "demo";

/// One text as a resident reads it: Chinese always, English where given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub zh: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub en: String,
}

impl Text {
    /// The English where the package gives it, the Chinese otherwise.
    pub fn words(&self) -> Words {
        let en = if self.en.trim().is_empty() {
            self.zh.clone()
        } else {
            self.en.clone()
        };
        Words::new(self.zh.clone(), en)
    }
}

/// A topic of 办不成事反映.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub value: String,
    pub text: Text,
}

/// The package as written: what `build` produces and the envelope carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageDocument {
    pub format: String,
    pub schema: u32,
    pub version: String,
    #[serde(default)]
    pub demo_data: bool,
    /// 告知承诺 texts by service code; `default` for the others.
    pub commitments: BTreeMap<String, Text>,
    pub feedback_topics: Vec<Topic>,
    pub catalogue: Catalogue,
    pub forms: FormsSource,
    pub bundles: BundleCatalogue,
    /// Per-station selection: a station (by its 12-digit code) offers only
    /// these items; a station not listed offers them all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stations: BTreeMap<String, Vec<String>>,
}

/// The package header the authors write (`content/package.toml` in the
/// sources): everything that is not catalogue, forms or bundles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageHeader {
    pub version: String,
    #[serde(default)]
    pub demo_data: bool,
    pub commitments: BTreeMap<String, Text>,
    pub feedback_topics: Vec<Topic>,
    /// Which items each station offers (see [`PackageDocument::stations`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stations: BTreeMap<String, Vec<String>>,
}

/// A checked package, ready to be shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub version: String,
    pub demo_data: bool,
    pub catalogue: Catalogue,
    pub forms: FormLibrary,
    pub bundles: BundleCatalogue,
    pub commitments: BTreeMap<String, Text>,
    pub feedback_topics: Vec<Topic>,
    /// Which items each station offers; see [`Package::for_station`].
    pub stations: BTreeMap<String, Vec<String>>,
}

/// What travels: the package text and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnvelope {
    pub format: String,
    pub algorithm: String,
    pub key_id: String,
    /// Standard base64 of the signature over `package`'s UTF-8 bytes.
    pub signature: String,
    /// The package document's exact text.
    pub package: String,
}

/// Why a package was refused, for the technician (doctor, log, heartbeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageError {
    /// Not a signed content package at all (or not JSON).
    Envelope(String),
    UnknownAlgorithm(String),
    /// No trusted key of this algorithm and key id.
    UntrustedKey {
        algorithm: String,
        key_id: String,
    },
    /// The signature does not verify: altered, or signed by another key.
    BadSignature {
        key_id: String,
    },
    Malformed(String),
    UnsupportedSchema {
        found: u32,
    },
    Inconsistent(String),
    /// A service promises what this terminal cannot do.
    Promises {
        service: String,
        capability: Capability,
    },
    /// The key file given to `sign` is not one.
    BadKey(String),
}

impl PackageError {
    /// Chinese first, then English, as the doctor's table shows reasons.
    pub fn words(&self) -> Words {
        use PackageError as E;
        match self {
            E::Envelope(why) => Words::new(
                format!("不是签名的内容包：{why}"),
                format!("not a signed content package: {why}"),
            ),
            E::UnknownAlgorithm(a) => Words::new(
                format!("内容包的签名算法 {a} 本终端不支持"),
                format!("the package is signed with {a}, which this terminal does not verify"),
            ),
            E::UntrustedKey { algorithm, key_id } => Words::new(
                format!("内容包由未配置的密钥签名（{algorithm} {key_id}），请在 [content] public_key 配置发布方公钥"),
                format!("the package is signed by a key this terminal does not trust ({algorithm} {key_id}); set the publisher's key in [content] public_key"),
            ),
            E::BadSignature { key_id } => Words::new(
                format!("内容包签名校验失败（密钥 {key_id}）：内容被改动或由其他密钥签名"),
                format!("the package signature does not verify (key {key_id}): altered, or signed by another key"),
            ),
            E::Malformed(why) => Words::new(
                format!("内容包格式错误：{why}"),
                format!("the package is malformed: {why}"),
            ),
            E::UnsupportedSchema { found } => Words::new(
                format!("内容包版本 {found} 高于本终端支持的 {PACKAGE_SCHEMA_VERSION}，请升级终端软件"),
                format!("package schema {found} is newer than this terminal understands ({PACKAGE_SCHEMA_VERSION})"),
            ),
            E::Inconsistent(why) => Words::new(
                format!("内容包不一致：{why}"),
                format!("the package is inconsistent: {why}"),
            ),
            E::Promises { service, capability } => Words::new(
                format!("事项 {service} 需要{}，本终端没有", capability.label_zh()),
                format!("service {service} needs a {}, which this terminal lacks", capability.label_en()),
            ),
            E::BadKey(why) => Words::new(
                format!("签名密钥文件无效：{why}"),
                format!("the signing key file is not valid: {why}"),
            ),
        }
    }
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.words();
        write!(f, "{} ({})", words.zh(), words.en())
    }
}

impl std::error::Error for PackageError {}

/// A publisher's public key the kiosk trusts: `ed25519:BASE64` (32 bytes)
/// or `sm2:BASE64` (the SEC1 point, 65 bytes uncompressed).
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub algorithm: String,
    /// The envelope's `key_id` it answers to; empty accepts any id (the
    /// signature still has to verify).
    pub key_id: String,
    key: PublicKey,
}

#[derive(Clone)]
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    /// The key and its SEC1 bytes (what two keys are compared by).
    Sm2(Box<sm2::dsa::VerifyingKey>, Vec<u8>),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        match (self, other) {
            (PublicKey::Ed25519(a), PublicKey::Ed25519(b)) => a == b,
            (PublicKey::Sm2(_, a), PublicKey::Sm2(_, b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKey({} {})", self.algorithm, self.key_id)
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `ALGORITHM:BASE64` → the algorithm and the bytes.
fn split_key(text: &str) -> Result<(&str, Vec<u8>), String> {
    let (algorithm, body) = text
        .trim()
        .split_once(':')
        .ok_or("expected ALGORITHM:BASE64, like ed25519:… or sm2:…")?;
    if algorithm != ED25519 && algorithm != SM2 {
        return Err(format!(
            "unknown algorithm {algorithm} ({ED25519} or {SM2})"
        ));
    }
    let bytes = b64()
        .decode(body.trim())
        .map_err(|_| "the key is not base64".to_string())?;
    Ok((algorithm, bytes))
}

/// A secret key file's 32 bytes (Ed25519 seed or SM2 scalar).
fn secret_of(key_file: &str) -> Result<(&str, zeroize::Zeroizing<[u8; 32]>), PackageError> {
    let (algorithm, bytes) = split_key(key_file).map_err(PackageError::BadKey)?;
    let bytes = zeroize::Zeroizing::new(bytes);
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| PackageError::BadKey(format!("a {algorithm} secret key is 32 bytes")))?;
    Ok((algorithm, zeroize::Zeroizing::new(seed)))
}

fn sm2_signing(scalar: &[u8; 32]) -> Result<sm2::dsa::SigningKey, PackageError> {
    sm2::dsa::SigningKey::from_slice(SM2_DISTID, scalar)
        .map_err(|_| PackageError::BadKey("not a valid SM2 secret key".into()))
}

impl TrustedKey {
    pub fn parse(text: &str, key_id: &str) -> Result<TrustedKey, String> {
        let (algorithm, bytes) = split_key(text)?;
        let key = if algorithm == SM2 {
            let key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, &bytes)
                .map_err(|_| "not a valid SM2 public key (a SEC1 point)".to_string())?;
            PublicKey::Sm2(Box::new(key), bytes)
        } else {
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "an ed25519 key is 32 bytes".to_string())?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| "not a valid ed25519 public key".to_string())?;
            PublicKey::Ed25519(key)
        };
        Ok(TrustedKey {
            algorithm: algorithm.to_string(),
            key_id: key_id.to_string(),
            key,
        })
    }

    /// The demo publisher's key (demo mode and tests).
    pub fn demo() -> TrustedKey {
        TrustedKey::parse(DEMO_PUBLIC_KEY, DEMO_KEY_ID).expect("the demo key parses")
    }

    /// Whether `signature` (base64) over `message` verifies with this key.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                // verify_strict: refuses the malleable and small-order edge cases.
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            PublicKey::Sm2(key, _) => {
                use sm2::dsa::signature::Verifier as _;
                sm2::dsa::Signature::try_from(signature)
                    .is_ok_and(|sig| key.verify(message, &sig).is_ok())
            }
        }
    }
}

/// The public key (`ed25519:BASE64` or `sm2:BASE64`) of a signing key file.
pub fn public_key_of(key_file: &str) -> Result<String, PackageError> {
    let (algorithm, seed) = secret_of(key_file)?;
    if algorithm == SM2 {
        let signing = sm2_signing(&seed)?;
        let point = signing.verifying_key().to_sec1_bytes();
        return Ok(format!("{SM2}:{}", b64().encode(point)));
    }
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(format!(
        "{ED25519}:{}",
        b64().encode(signing.verifying_key().as_bytes())
    ))
}

/// Sign a package text with a key file (`ed25519:BASE64` of the 32-byte
/// secret seed, or `sm2:BASE64` of the 32-byte SM2 secret scalar). Both
/// signatures are deterministic (Ed25519 by design, SM2 with RFC 6979
/// nonces), so the same package and key give the same signed bytes
/// (`content build` is reproducible).
pub fn sign(package_text: &str, key_id: &str, key_file: &str) -> Result<String, PackageError> {
    let (algorithm, seed) = secret_of(key_file)?;
    let signature = if algorithm == SM2 {
        use sm2::dsa::signature::Signer as _;
        let signature: sm2::dsa::Signature = sm2_signing(&seed)?.sign(package_text.as_bytes());
        signature.to_bytes().to_vec()
    } else {
        use ed25519_dalek::Signer;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        signing.sign(package_text.as_bytes()).to_bytes().to_vec()
    };
    let envelope = SignedEnvelope {
        format: SIGNED_FORMAT.into(),
        algorithm: algorithm.into(),
        key_id: key_id.into(),
        signature: b64().encode(signature),
        package: package_text.into(),
    };
    Ok(to_canonical(&envelope))
}

fn to_canonical<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("plain data serialises");
    text.push('\n');
    text
}

/// Verify the signature, then check the package; refused whole on any
/// failure. Nothing of a refused package is returned.
pub fn open(signed: &[u8], trusted: &[TrustedKey]) -> Result<Package, PackageError> {
    let envelope: SignedEnvelope =
        serde_json::from_slice(signed).map_err(|e| PackageError::Envelope(e.to_string()))?;
    if envelope.format != SIGNED_FORMAT {
        return Err(PackageError::Envelope(format!(
            "format is {:?}, expected {SIGNED_FORMAT}",
            envelope.format
        )));
    }
    if envelope.algorithm != ED25519 && envelope.algorithm != SM2 {
        return Err(PackageError::UnknownAlgorithm(envelope.algorithm));
    }
    let untrusted = || PackageError::UntrustedKey {
        algorithm: envelope.algorithm.clone(),
        key_id: envelope.key_id.clone(),
    };
    let candidates: Vec<&TrustedKey> = trusted
        .iter()
        .filter(|k| k.algorithm == envelope.algorithm)
        .filter(|k| k.key_id.is_empty() || k.key_id == envelope.key_id)
        .collect();
    if candidates.is_empty() {
        return Err(untrusted());
    }
    let bad = || PackageError::BadSignature {
        key_id: envelope.key_id.clone(),
    };
    let bytes = b64().decode(&envelope.signature).map_err(|_| bad())?;
    if !candidates
        .iter()
        .any(|k| k.verifies(envelope.package.as_bytes(), &bytes))
    {
        return Err(bad());
    }
    check(&envelope.package)
}

/// Parse and check a package text (no signature): `content check` on an
/// unsigned build, and the second half of `open`.
pub fn check(package_text: &str) -> Result<Package, PackageError> {
    let doc: PackageDocument =
        serde_json::from_str(package_text).map_err(|e| PackageError::Malformed(e.to_string()))?;
    check_document(doc)
}

/// Every consistency rule of a package document.
pub fn check_document(doc: PackageDocument) -> Result<Package, PackageError> {
    let bad = |why: String| Err(PackageError::Inconsistent(why));
    if doc.format != PACKAGE_FORMAT {
        return Err(PackageError::Malformed(format!(
            "format is {:?}, expected {PACKAGE_FORMAT}",
            doc.format
        )));
    }
    if doc.schema > PACKAGE_SCHEMA_VERSION {
        return Err(PackageError::UnsupportedSchema { found: doc.schema });
    }
    if doc.version.trim().is_empty() {
        return bad("the package has no version".into());
    }
    if doc.catalogue.schema > crate::catalogue::SCHEMA_VERSION {
        return Err(PackageError::UnsupportedSchema {
            found: doc.catalogue.schema,
        });
    }
    doc.catalogue
        .check()
        .map_err(|e| PackageError::Inconsistent(e.to_string()))?;
    let catalogue = &doc.catalogue;
    for category in &catalogue.categories {
        if !has_chinese(&category.name) {
            return bad(format!("category {} has no Chinese name", category.code));
        }
    }
    for service in &catalogue.services {
        let code = &service.code;
        for (what, text) in [("name", &service.name), ("summary", &service.summary)] {
            if !has_chinese(text) {
                return bad(format!("service {code}: its {what} has no Chinese"));
            }
        }
        let mut materials = BTreeSet::new();
        for material in &service.materials {
            if !has_chinese(&material.name) {
                return bad(format!("service {code}: a material has no Chinese name"));
            }
            if !materials.insert(material.name.trim()) {
                return bad(format!(
                    "service {code}: material {} is listed twice",
                    material.name
                ));
            }
            for &state in &material.states {
                if let Err(err) =
                    crate::application::check_material_state(material, &[service], state)
                {
                    return bad(format!(
                        "service {code}: material {} allows a state its flags forbid ({})",
                        material.name,
                        err.words().en()
                    ));
                }
            }
        }
    }
    // Forms: every form belongs to a service of the catalogue, every field
    // key and prefill key is known, every label has Chinese.
    let forms = FormLibrary::from_source(&doc.forms)
        .map_err(|e| PackageError::Inconsistent(e.to_string()))?;
    for code in doc.forms.services.keys() {
        if catalogue.service(code).is_none() {
            return bad(format!("form {code} is for a service not in the catalogue"));
        }
    }
    for (key, def) in &doc.forms.fields {
        if !has_chinese(&def.label) {
            return bad(format!("field {key} has no Chinese label"));
        }
    }
    // Bundles: items exist, questions well formed, texts in Chinese.
    doc.bundles
        .check(catalogue)
        .map_err(|e| PackageError::Inconsistent(e.to_string()))?;
    let mut question_answers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for bundle in &doc.bundles.bundles {
        if catalogue.service(&bundle.id).is_some() {
            return bad(format!("bundle {} has the code of a service", bundle.id));
        }
        if !has_chinese(&bundle.name) {
            return bad(format!("bundle {} has no Chinese name", bundle.id));
        }
        for q in &bundle.questions {
            if !has_chinese(&q.text) {
                return bad(format!(
                    "bundle {}: question {} has no Chinese",
                    bundle.id, q.id
                ));
            }
            let values = question_answers.entry(q.id.as_str()).or_default();
            for o in &q.options {
                if !has_chinese(&o.label) {
                    return bad(format!(
                        "bundle {}: an answer of {} has no Chinese",
                        bundle.id, q.id
                    ));
                }
                values.insert(o.value.as_str());
            }
        }
    }
    // Conditional fields may only look at questions that exist, and at
    // answers those questions can give.
    let all_conditions = doc
        .forms
        .fields
        .iter()
        .filter_map(|(k, d)| d.when.as_ref().map(|c| (k.as_str(), c)))
        .chain(
            doc.forms
                .services
                .values()
                .flatten()
                .filter_map(|r| match r {
                    crate::form::FieldRef::Override(o) => {
                        o.when.as_ref().map(|c| (o.key.as_str(), c))
                    }
                    crate::form::FieldRef::Key(_) => None,
                }),
        );
    for (key, condition) in all_conditions {
        check_condition(key, condition, &question_answers)?;
    }
    for (code, text) in &doc.commitments {
        if code != "default" && catalogue.service(code).is_none() {
            return bad(format!(
                "commitment text for {code}, which is not in the catalogue"
            ));
        }
        if !has_chinese(&text.zh) {
            return bad(format!("commitment text for {code} has no Chinese"));
        }
    }
    for (station, codes) in &doc.stations {
        if station.len() != 12 || !station.bytes().all(|b| b.is_ascii_digit()) {
            return bad(format!(
                "station {station:?} is not a 12-digit station code"
            ));
        }
        if codes.is_empty() {
            return bad(format!("station {station} offers no item"));
        }
        for code in codes {
            if catalogue.service(code).is_none() {
                return bad(format!(
                    "station {station} offers {code}, which is not in the catalogue"
                ));
            }
        }
    }
    let mut topics = BTreeSet::new();
    for topic in &doc.feedback_topics {
        if !topics.insert(topic.value.as_str()) {
            return bad(format!("feedback topic {} appears twice", topic.value));
        }
        if !has_chinese(&topic.text.zh) {
            return bad(format!("feedback topic {} has no Chinese", topic.value));
        }
    }
    Ok(Package {
        version: doc.version,
        demo_data: doc.demo_data,
        forms,
        bundles: doc.bundles,
        catalogue: doc.catalogue,
        commitments: doc.commitments,
        feedback_topics: doc.feedback_topics,
        stations: doc.stations,
    })
}

fn check_condition(
    key: &str,
    condition: &crate::form::Condition,
    questions: &BTreeMap<&str, BTreeSet<&str>>,
) -> Result<(), PackageError> {
    use crate::form::Condition as C;
    match condition {
        C::ApplicantUnder(_) => Ok(()),
        C::Answer { question, is } => {
            let Some(values) = questions.get(question.as_str()) else {
                return Err(PackageError::Inconsistent(format!(
                    "field {key} depends on question {question}, which no bundle asks"
                )));
            };
            match is.iter().find(|v| !values.contains(v.as_str())) {
                Some(v) => Err(PackageError::Inconsistent(format!(
                    "field {key} depends on answer {v} to {question}, which it cannot give"
                ))),
                None if is.is_empty() => Err(PackageError::Inconsistent(format!(
                    "field {key} depends on no answer of {question}"
                ))),
                None => Ok(()),
            }
        }
        C::AnyOf(list) if list.is_empty() => Err(PackageError::Inconsistent(format!(
            "field {key} has an empty any_of"
        ))),
        C::AnyOf(list) => list
            .iter()
            .try_for_each(|c| check_condition(key, c, questions)),
    }
}

/// At least one Han character: "every text has Chinese".
pub fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
    })
}

/// Assemble the package document from its parts (the authoring crate reads
/// them from the county's spreadsheet and text files), check it, and write it
/// in its one canonical form (pretty JSON, fields in declaration order, maps
/// sorted, a final newline): the same sources give the same bytes.
pub fn assemble(
    header: PackageHeader,
    catalogue: Catalogue,
    forms: FormsSource,
    bundles: BundleCatalogue,
) -> Result<String, PackageError> {
    let doc = PackageDocument {
        format: PACKAGE_FORMAT.into(),
        schema: PACKAGE_SCHEMA_VERSION,
        version: header.version,
        demo_data: header.demo_data,
        commitments: header.commitments,
        feedback_topics: header.feedback_topics,
        catalogue,
        forms,
        bundles,
        stations: header.stations,
    };
    let text = to_canonical(&doc);
    check(&text)?;
    Ok(text)
}

/// The document inside a package file, signed or not, without verifying
/// the signature: for authors taking a published package back to its
/// sources (`content export`), never for showing it to residents.
pub fn document_of(text: &str) -> Result<PackageDocument, PackageError> {
    let inner = match serde_json::from_str::<SignedEnvelope>(text) {
        Ok(envelope) if envelope.format == SIGNED_FORMAT => envelope.package,
        _ => text.to_string(),
    };
    serde_json::from_str(&inner).map_err(|e| PackageError::Malformed(e.to_string()))
}

impl PackageDocument {
    /// The document split back into what authors edit.
    pub fn into_parts(self) -> (PackageHeader, Catalogue, FormsSource, BundleCatalogue) {
        let header = PackageHeader {
            version: self.version,
            demo_data: self.demo_data,
            commitments: self.commitments,
            feedback_topics: self.feedback_topics,
            stations: self.stations,
        };
        (header, self.catalogue, self.forms, self.bundles)
    }
}

/// Services of the package that need a capability the terminal lacks.
pub fn missing_capabilities(catalogue: &Catalogue, has: &[Capability]) -> Vec<PackageError> {
    catalogue
        .services
        .iter()
        .flat_map(|s| {
            s.needs
                .iter()
                .filter(|c| !has.contains(c))
                .map(|&capability| PackageError::Promises {
                    service: s.code.clone(),
                    capability,
                })
        })
        .collect()
}

// The demo content's parts, from the signed demo package (here rather than
// in their own modules, which the package module already imports).
impl Catalogue {
    /// The demo content package's catalogue (demo, screens, tests).
    pub fn demo() -> Catalogue {
        Package::demo().catalogue
    }

    /// The demo catalogue as the platform serves it (`GET /catalogue`).
    pub fn demo_json() -> String {
        serde_json::to_string_pretty(&Catalogue::demo()).expect("plain data serialises")
    }
}

impl FormLibrary {
    /// The demo content package's forms.
    pub fn demo() -> FormLibrary {
        Package::demo().forms
    }
}

impl BundleCatalogue {
    /// The demo content package's bundles, checked against `catalogue`.
    pub fn demo(catalogue: &Catalogue) -> BundleCatalogue {
        let bundles = Package::demo().bundles;
        bundles
            .check(catalogue)
            .expect("the shipped demo bundles fit the demo catalogue");
        bundles
    }
}

impl Package {
    /// The demo package (demo mode, screens, tests).
    pub fn demo() -> Package {
        // Verified and parsed once per process: demo screens and tests ask
        // for it (or its catalogue, forms, bundles) many times.
        static DEMO: std::sync::OnceLock<Package> = std::sync::OnceLock::new();
        DEMO.get_or_init(|| {
            open(DEMO_PACKAGE_JSON.as_bytes(), &[TrustedKey::demo()])
                .expect("the shipped demo package verifies with the demo key")
        })
        .clone()
    }

    /// No content at all: what a kiosk holds while it has no valid package
    /// (it shows the out-of-service page, never demo items).
    pub fn empty() -> Package {
        let forms = FormsSource {
            schema: crate::form::FORMS_SCHEMA_VERSION,
            demo_data: false,
            fields: BTreeMap::new(),
            default: Vec::new(),
            services: BTreeMap::new(),
        };
        Package {
            version: String::new(),
            demo_data: false,
            catalogue: Catalogue {
                schema: crate::catalogue::SCHEMA_VERSION,
                version: String::new(),
                demo_data: false,
                notice: String::new(),
                categories: Vec::new(),
                services: Vec::new(),
            },
            forms: FormLibrary::from_source(&forms).expect("an empty library is valid"),
            bundles: BundleCatalogue {
                schema: crate::bundle::BUNDLES_SCHEMA_VERSION,
                demo_data: false,
                bundles: Vec::new(),
            },
            commitments: BTreeMap::new(),
            feedback_topics: Vec::new(),
            stations: BTreeMap::new(),
        }
    }

    /// What `station` (its 12-digit code) offers: the items the package
    /// lists for it, the 一件事 bundles all of whose items it offers, and
    /// the categories that still hold an item; everything for a station the
    /// package does not list.
    pub fn for_station(mut self, station: &str) -> Package {
        let Some(offered) = self.stations.get(station) else {
            return self;
        };
        let offered: BTreeSet<&str> = offered.iter().map(String::as_str).collect();
        self.catalogue
            .services
            .retain(|s| offered.contains(s.code.as_str()));
        let services = &self.catalogue.services;
        self.bundles
            .bundles
            .retain(|b| b.items.iter().all(|i| offered.contains(i.as_str())));
        self.catalogue
            .categories
            .retain(|c| services.iter().any(|s| s.category == c.code));
        self
    }

    /// The 告知承诺 text of a service: its own, else the package's default.
    pub fn commitment(&self, service_code: &str) -> Option<&Text> {
        self.commitments
            .get(service_code)
            .or_else(|| self.commitments.get("default"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO_KEY_FILE: &str = include_str!("../../../config/content/demo-signing.key");

    /// The demo package's document, assembled again from its parts.
    fn demo_built() -> String {
        let doc = document_of(DEMO_PACKAGE_JSON).unwrap();
        let (header, catalogue, forms, bundles) = doc.into_parts();
        assemble(header, catalogue, forms, bundles).unwrap()
    }

    /// A station offers what the package lists for it (bundles only when it
    /// offers all their items, categories only when they still hold one);
    /// a station not listed offers everything; a list naming an unknown
    /// item or a malformed station code is refused.
    #[test]
    fn each_station_offers_its_selection() {
        let built = demo_built();
        let mut doc: serde_json::Value = serde_json::from_str(&built).unwrap();
        doc["stations"] = serde_json::json!({"110101001001": ["DEMO-SB-001", "DEMO-HJ-003"]});
        let package = check(&doc.to_string()).expect("a consistent selection");
        let all = package.catalogue.services.len();
        let village = package.clone().for_station("110101001001");
        let codes: Vec<&str> = village
            .catalogue
            .services
            .iter()
            .map(|s| s.code.as_str())
            .collect();
        assert_eq!(codes, ["DEMO-SB-001", "DEMO-HJ-003"]);
        assert!(village.catalogue.categories.len() <= 2);
        assert!(village
            .bundles
            .bundles
            .iter()
            .all(|b| b.items.iter().all(|i| codes.contains(&i.as_str()))));
        assert_eq!(
            package.for_station("999999999999").catalogue.services.len(),
            all
        );
        doc["stations"] = serde_json::json!({"110101001001": ["NO-SUCH-ITEM"]});
        assert!(matches!(
            check(&doc.to_string()),
            Err(PackageError::Inconsistent(why)) if why.contains("NO-SUCH-ITEM")
        ));
        doc["stations"] = serde_json::json!({"station-1": ["DEMO-SB-001"]});
        assert!(check(&doc.to_string()).is_err());
    }

    fn envelope(text: &str) -> SignedEnvelope {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn the_demo_package_is_canonical_and_signed_by_the_demo_key() {
        // Its parts assembled again give the same bytes (the sources in
        // `config/` are checked against it by bianmin-content's tests).
        let signed = sign(&demo_built(), DEMO_KEY_ID, DEMO_KEY_FILE).unwrap();
        assert!(
            signed == DEMO_PACKAGE_JSON,
            "config/content/demo-package.json is not canonical: rebuild it with `bianmin content build config`"
        );
        assert_eq!(public_key_of(DEMO_KEY_FILE).unwrap(), DEMO_PUBLIC_KEY);
        let package = Package::demo();
        assert!(package.demo_data);
        assert!(package.commitment("no-such-code").is_some());
        assert!(!package.feedback_topics.is_empty());
    }

    /// The demo content promises only what the terminal does: it has no
    /// camera, no face check and takes no payment (issue 14).
    #[test]
    fn the_demo_content_promises_only_what_the_terminal_does() {
        let package = Package::demo();
        let text = serde_json::to_string(&package.catalogue).unwrap();
        for promise in [
            "终端现场拍照",
            "终端或窗口现场拍照",
            "刷脸",
            "人脸识别",
            "扫码或刷社保卡付款",
            "输入家人身份证号",
        ] {
            assert!(
                !text.contains(promise),
                "the demo content promises {promise}"
            );
        }
    }

    #[test]
    fn one_changed_byte_is_refused() {
        let mut bytes = DEMO_PACKAGE_JSON.as_bytes().to_vec();
        // A byte inside the package text, not the envelope's syntax.
        let at = DEMO_PACKAGE_JSON.find("社会保障卡").unwrap();
        bytes[at + 2] ^= 0x01;
        let err = open(&bytes, &[TrustedKey::demo()]).unwrap_err();
        assert!(
            matches!(
                err,
                PackageError::BadSignature { .. } | PackageError::Envelope(_)
            ),
            "{err:?}"
        );
        // The same change, kept valid UTF-8 and JSON: a different character.
        let tampered = DEMO_PACKAGE_JSON.replacen("社会保障卡", "社会保障咔", 1);
        assert!(matches!(
            open(tampered.as_bytes(), &[TrustedKey::demo()]),
            Err(PackageError::BadSignature { .. })
        ));
    }

    #[test]
    fn another_key_is_refused_and_says_so() {
        let other = "ed25519:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
        let text = envelope(DEMO_PACKAGE_JSON).package;
        let signed = sign(&text, DEMO_KEY_ID, other).unwrap();
        let err = open(signed.as_bytes(), &[TrustedKey::demo()]).unwrap_err();
        assert!(matches!(err, PackageError::BadSignature { .. }));
        assert!(err.to_string().contains("签名校验失败"));
        // Signed right, but with a key id the terminal does not know.
        let signed = sign(&text, "county-2027", DEMO_KEY_FILE).unwrap();
        assert!(matches!(
            open(signed.as_bytes(), &[TrustedKey::demo()]),
            Err(PackageError::UntrustedKey { .. })
        ));
        // No key configured: nothing is trusted.
        assert!(matches!(
            open(DEMO_PACKAGE_JSON.as_bytes(), &[]),
            Err(PackageError::UntrustedKey { .. })
        ));
        let mut rsa = envelope(DEMO_PACKAGE_JSON);
        rsa.algorithm = "rsa".into();
        assert!(matches!(
            open(&serde_json::to_vec(&rsa).unwrap(), &[TrustedKey::demo()]),
            Err(PackageError::UnknownAlgorithm(_))
        ));
    }

    /// A county on the 国密 suite signs with SM2: its key verifies the
    /// package, the same signature under an Ed25519 trust or another SM2 key
    /// does not, and the build is reproducible (RFC 6979 nonces).
    #[test]
    fn an_sm2_signed_package_opens_with_its_key_only() {
        let key_file = "sm2:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
        let other_file = "sm2:IB8eHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
        let public = public_key_of(key_file).unwrap();
        assert!(public.starts_with("sm2:"), "{public}");
        let trusted = TrustedKey::parse(&public, "county-gm").unwrap();
        let text = envelope(DEMO_PACKAGE_JSON).package;
        let signed = sign(&text, "county-gm", key_file).unwrap();
        assert_eq!(signed, sign(&text, "county-gm", key_file).unwrap());
        assert!(signed.contains("\"algorithm\": \"sm2\""), "{signed}");
        let package = open(signed.as_bytes(), std::slice::from_ref(&trusted)).unwrap();
        assert!(!package.catalogue.services.is_empty());
        // Only an Ed25519 key trusted: nothing to verify an SM2 signature.
        assert!(matches!(
            open(signed.as_bytes(), &[TrustedKey::demo()]),
            Err(PackageError::UntrustedKey { .. })
        ));
        let stranger = TrustedKey::parse(&public_key_of(other_file).unwrap(), "county-gm").unwrap();
        assert!(matches!(
            open(signed.as_bytes(), &[stranger]),
            Err(PackageError::BadSignature { .. })
        ));
        // A changed package under the right key.
        let tampered = signed.replacen("DEMO-SB-001", "DEMO-SB-009", 1);
        assert!(open(tampered.as_bytes(), &[trusted]).is_err());
        assert!(TrustedKey::parse("sm2:AAAA", "x").is_err());
    }

    fn signed_with(change: impl FnOnce(&mut serde_json::Value)) -> Result<Package, PackageError> {
        let mut doc: serde_json::Value =
            serde_json::from_str(&envelope(DEMO_PACKAGE_JSON).package).unwrap();
        change(&mut doc);
        let text = to_canonical(&doc);
        let signed = sign(&text, DEMO_KEY_ID, DEMO_KEY_FILE).unwrap();
        open(signed.as_bytes(), &[TrustedKey::demo()])
    }

    #[test]
    fn inconsistent_packages_are_refused_with_the_reason() {
        type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "not in the catalogue",
                Box::new(|d| d["bundles"]["bundles"][0]["items"][0] = "NOWHERE-1".into()),
            ),
            (
                "appears twice",
                Box::new(|d| {
                    let first = d["catalogue"]["services"][0].clone();
                    d["catalogue"]["services"]
                        .as_array_mut()
                        .unwrap()
                        .push(first);
                }),
            ),
            (
                "form NOWHERE-2",
                Box::new(|d| {
                    d["forms"]["services"]["NOWHERE-2"] = serde_json::json!(["applicant.name"])
                }),
            ),
            (
                "prefill key",
                Box::new(|d| {
                    d["forms"]["fields"]["applicant.name"]["prefill"] = "card.photo".into()
                }),
            ),
            (
                "no Chinese",
                Box::new(|d| d["catalogue"]["services"][0]["name"] = "Social security card".into()),
            ),
            (
                "which no bundle asks",
                Box::new(|d| {
                    d["forms"]["fields"]["guardian.name"]["when"] =
                        serde_json::json!({"answer": {"question": "nobody", "is": ["yes"]}})
                }),
            ),
            (
                "commitment text for NOWHERE-3",
                Box::new(|d| d["commitments"]["NOWHERE-3"] = serde_json::json!({"zh": "承诺"})),
            ),
        ];
        for (reason, change) in cases {
            let err = signed_with(change).unwrap_err();
            assert!(
                matches!(err, PackageError::Inconsistent(_)),
                "{reason}: {err:?}"
            );
            assert!(err.to_string().contains(reason), "{reason}: {err}");
        }
        assert!(matches!(
            signed_with(|d| d["schema"] = 99.into()),
            Err(PackageError::UnsupportedSchema { found: 99 })
        ));
    }

    #[test]
    fn promises_the_terminal_cannot_keep_are_named() {
        let mut package = Package::demo();
        assert!(
            missing_capabilities(&package.catalogue, &[]).is_empty()
                || package
                    .catalogue
                    .services
                    .iter()
                    .any(|s| !s.needs.is_empty())
        );
        package.catalogue.services[0].needs = vec![Capability::Camera];
        let missing = missing_capabilities(&package.catalogue, &[Capability::Printer]);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].to_string().contains("摄像头"));
    }

    #[test]
    fn a_package_file_gives_its_document_signed_or_not() {
        let signed = document_of(DEMO_PACKAGE_JSON).unwrap();
        let bare = document_of(&envelope(DEMO_PACKAGE_JSON).package).unwrap();
        assert_eq!(signed, bare);
        assert!(matches!(
            document_of("{\"format\": 1}"),
            Err(PackageError::Malformed(_))
        ));
    }

    #[test]
    fn bad_input_never_panics() {
        for bytes in [&b""[..], b"{}", b"[1,2]", b"\xff\xfe", b"{\"format\":1}"] {
            assert!(open(bytes, &[TrustedKey::demo()]).is_err());
        }
        assert!(TrustedKey::parse("ed25519:abc", "").is_err());
        assert!(TrustedKey::parse("rsa:AAAA", "").is_err());
    }
}
