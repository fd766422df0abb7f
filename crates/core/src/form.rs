//! Schema-driven application forms (表单), the resident identity read from the
//! ID card, the GB 11643 ID-number check, field validation with messages in
//! plain Chinese (and English for the screen's English mode), and masking
//! for display.
//!
//! Every field carries a *semantic key* (`applicant.phone`, `child.name` …):
//! the same key asked by several items of a 一件事 bundle is asked once, and
//! the ID card prefills the keys it knows (表单预填).

use crate::words::Words;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The form-library schema this build understands.
pub const FORMS_SCHEMA_VERSION: u32 = 1;

/// Canonical values of a yes/no field; the UI shows 是 / 否.
pub const YES: &str = "yes";
pub const NO: &str = "no";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Phone,
    IdNumber,
    /// `YYYY-MM-DD`.
    Date,
    Choice,
    Address,
    YesNo,
}

impl FieldKind {
    /// Which keyboard the UI should offer: digits need no pinyin keyboard.
    pub fn numeric_keypad(self) -> bool {
        matches!(
            self,
            FieldKind::Phone | FieldKind::IdNumber | FieldKind::Date
        )
    }
}

/// One field as the resident sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// In characters, not bytes: 张三 is two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Digits only (bank account, certificate numbers): numeric keypad.
    #[serde(default)]
    pub digits: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    /// English wording where the package gives it; the Chinese otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_en: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint_en: String,
    /// What the ID card fills in (one of `PREFILL_KEYS`); by default the
    /// field's own key when the card knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<String>,
    /// Asked only when this holds (guardian fields for a minor …); always
    /// asked when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

impl FieldSpec {
    pub fn numeric_keypad(&self) -> bool {
        self.digits || self.kind.numeric_keypad()
    }

    /// Whether the field is asked of this resident.
    pub fn applies(&self, context: &ConditionContext<'_>) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(context))
    }
}

/// The identity attributes the ID card can fill in (表单预填).
pub const PREFILL_KEYS: &[&str] = &[
    "applicant.name",
    "applicant.id_number",
    "applicant.gender",
    "applicant.birth_date",
    "applicant.address",
    "delivery.address",
];

/// When a conditional field is asked. JSON: `{"applicant_under": 16}`,
/// `{"answer": {"question": "agent", "is": ["yes"]}}`, `{"any_of": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The applicant is younger than this many whole years.
    ApplicantUnder(u32),
    /// A questionnaire answer of the 一件事 bundle is one of these values.
    Answer {
        question: String,
        is: Vec<String>,
    },
    AnyOf(Vec<Condition>),
}

/// What a condition may look at: nothing else about the resident.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConditionContext<'a> {
    /// Whole years, from the card or the birth date typed; `None` if unknown.
    pub applicant_age: Option<u32>,
    pub answers: Option<&'a BTreeMap<String, String>>,
}

impl Condition {
    /// Whether it holds. An age not known yet counts as holding: asking one
    /// field too many is mended by the resident, one too few by a refusal.
    pub fn holds(&self, context: &ConditionContext<'_>) -> bool {
        match self {
            Condition::ApplicantUnder(years) => context.applicant_age.is_none_or(|a| a < *years),
            Condition::Answer { question, is } => context
                .answers
                .and_then(|a| a.get(question))
                .is_some_and(|given| is.contains(given)),
            Condition::AnyOf(list) => list.iter().any(|c| c.holds(context)),
        }
    }

    /// The question ids it refers to (checked against the bundles).
    pub fn questions(&self) -> Vec<&str> {
        match self {
            Condition::ApplicantUnder(_) => Vec::new(),
            Condition::Answer { question, .. } => vec![question.as_str()],
            Condition::AnyOf(list) => list.iter().flat_map(Condition::questions).collect(),
        }
    }
}

/// The fields one service asks for, in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormSchema {
    pub fields: Vec<FieldSpec>,
}

impl FormSchema {
    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// Every problem of every field, in field order; empty means valid.
    pub fn validate(&self, values: &FormValues) -> Vec<FieldError> {
        self.fields
            .iter()
            .filter_map(|spec| validate_field(spec, values.get(&spec.key)).err())
            .collect()
    }

    /// The fields asked of this resident, in order.
    pub fn applying<'s>(&'s self, context: &ConditionContext<'_>) -> Vec<&'s FieldSpec> {
        self.fields.iter().filter(|f| f.applies(context)).collect()
    }

    /// Like `validate`, for the fields that apply only: a field not asked
    /// cannot be missing.
    pub fn validate_in(
        &self,
        values: &FormValues,
        context: &ConditionContext<'_>,
    ) -> Vec<FieldError> {
        self.applying(context)
            .into_iter()
            .filter_map(|spec| validate_field(spec, values.get(&spec.key)).err())
            .collect()
    }

    /// Fill the fields the ID card knows, leaving anything the resident
    /// already typed untouched.
    pub fn prefill(&self, values: &mut FormValues, identity: &Identity) {
        for spec in &self.fields {
            if values.get(&spec.key).is_some_and(|v| !v.trim().is_empty()) {
                continue;
            }
            let source = spec.prefill.as_deref().unwrap_or(&spec.key);
            if let Some(value) = identity.value_for(source) {
                values.set(&spec.key, value);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The form library (config/forms/*.json)

/// A field as listed for a service: its key alone, or its key with the
/// stricter or looser settings this service needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldRef {
    Key(String),
    Override(FieldOverride),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverride {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// A field of the shared dictionary, as written in the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub label: String,
    pub kind: FieldKind,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digits: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_en: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// The form library as written (config/forms/*.json and the `forms` part of
/// a content package): a shared field dictionary and each service's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormsSource {
    pub schema: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo_data: bool,
    pub fields: BTreeMap<String, FieldDef>,
    pub default: Vec<FieldRef>,
    pub services: BTreeMap<String, Vec<FieldRef>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormsError {
    #[error("the form library is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error(
        "form library schema {found} is newer than this kiosk understands ({FORMS_SCHEMA_VERSION})"
    )]
    UnsupportedSchema { found: u32 },
    #[error("form library is inconsistent: {0}")]
    Inconsistent(String),
}

/// Every service's form, resolved from the shared field dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct FormLibrary {
    default: FormSchema,
    services: BTreeMap<String, FormSchema>,
}

impl FormLibrary {
    /// Parse and check a form library; a document that fails is never used.
    pub fn from_json(text: &str) -> Result<FormLibrary, FormsError> {
        let doc: FormsSource =
            serde_json::from_str(text).map_err(|e| FormsError::Malformed(e.to_string()))?;
        FormLibrary::from_source(&doc)
    }

    /// Resolve and check a parsed form library.
    pub fn from_source(doc: &FormsSource) -> Result<FormLibrary, FormsError> {
        if doc.schema > FORMS_SCHEMA_VERSION {
            return Err(FormsError::UnsupportedSchema { found: doc.schema });
        }
        for (key, def) in &doc.fields {
            check_def(key, def)?;
        }
        let default = resolve(&doc.fields, "default", &doc.default)?;
        let mut services = BTreeMap::new();
        for (code, refs) in &doc.services {
            services.insert(code.clone(), resolve(&doc.fields, code, refs)?);
        }
        Ok(FormLibrary { default, services })
    }

    /// The form of a service; services without their own get the default form.
    pub fn schema_for(&self, service_code: &str) -> &FormSchema {
        self.services.get(service_code).unwrap_or(&self.default)
    }

    pub fn has_own_schema(&self, service_code: &str) -> bool {
        self.services.contains_key(service_code)
    }

    pub fn default_schema(&self) -> &FormSchema {
        &self.default
    }

    pub fn service_codes(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

fn check_def(key: &str, def: &FieldDef) -> Result<(), FormsError> {
    let bad = |why: &str| Err(FormsError::Inconsistent(format!("field {key}: {why}")));
    if !is_semantic_key(key) {
        return bad("a key is lowercase words joined by dots, like applicant.name");
    }
    if let Some(prefill) = &def.prefill {
        if !PREFILL_KEYS.contains(&prefill.as_str()) {
            return bad("its prefill key is not one the ID card fills in");
        }
    }
    if def.label.trim().is_empty() {
        return bad("no label");
    }
    if let (Some(min), Some(max)) = (def.min_len, def.max_len) {
        if min > max {
            return bad("min_len is above max_len");
        }
    }
    match def.kind {
        FieldKind::Choice if def.choices.len() < 2 => bad("a choice needs at least two choices"),
        FieldKind::Choice => {
            let distinct: BTreeSet<&String> = def.choices.iter().collect();
            if distinct.len() != def.choices.len() {
                bad("a choice is listed twice")
            } else {
                Ok(())
            }
        }
        _ if !def.choices.is_empty() => bad("only a choice field has choices"),
        _ => Ok(()),
    }
}

fn is_semantic_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').count() >= 2
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

fn resolve(
    defs: &BTreeMap<String, FieldDef>,
    form: &str,
    refs: &[FieldRef],
) -> Result<FormSchema, FormsError> {
    let mut seen = BTreeSet::new();
    let mut fields = Vec::with_capacity(refs.len());
    for field_ref in refs {
        let (key, over) = match field_ref {
            FieldRef::Key(key) => (key, None),
            FieldRef::Override(o) => (&o.key, Some(o)),
        };
        let def = defs.get(key).ok_or_else(|| {
            FormsError::Inconsistent(format!("form {form} names unknown field {key}"))
        })?;
        if !seen.insert(key.clone()) {
            return Err(FormsError::Inconsistent(format!(
                "form {form} lists field {key} twice"
            )));
        }
        let mut spec = FieldSpec {
            key: key.clone(),
            label: def.label.clone(),
            kind: def.kind,
            required: def.required,
            min_len: def.min_len,
            max_len: def.max_len,
            choices: def.choices.clone(),
            digits: def.digits,
            hint: def.hint.clone(),
            label_en: def.label_en.clone(),
            hint_en: def.hint_en.clone(),
            prefill: def.prefill.clone(),
            when: def.when.clone(),
        };
        if let Some(o) = over {
            if let Some(required) = o.required {
                spec.required = required;
            }
            if o.min_len.is_some() {
                spec.min_len = o.min_len;
            }
            if o.max_len.is_some() {
                spec.max_len = o.max_len;
            }
            if let Some(label) = &o.label {
                spec.label = label.clone();
                // An English label of the dictionary says the other words.
                spec.label_en.clear();
            }
            if let Some(label_en) = &o.label_en {
                spec.label_en = label_en.clone();
            }
            if o.when.is_some() {
                spec.when = o.when.clone();
            }
            if let (Some(min), Some(max)) = (spec.min_len, spec.max_len) {
                if min > max {
                    return Err(FormsError::Inconsistent(format!(
                        "form {form}: field {key} has min_len above max_len"
                    )));
                }
            }
        }
        fields.push(spec);
    }
    Ok(FormSchema { fields })
}

// ---------------------------------------------------------------------------
// Values

/// What the resident entered, by semantic key. Wiped on drop: a form is
/// resident data and must not outlive the session in freed memory either.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FormValues(BTreeMap<String, String>);

impl FormValues {
    pub fn new() -> FormValues {
        FormValues::default()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        if let Some(old) = self.0.get_mut(key) {
            old.zeroize();
            old.push_str(value);
        } else {
            self.0.insert(key.to_string(), value.to_string());
        }
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(mut old) = self.0.remove(key) {
            old.zeroize();
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keep only the given keys (what the final form asked for), so answers
    /// to fields of items that no longer apply are not submitted.
    pub fn retain_keys<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        let keep: BTreeSet<&str> = keys.into_iter().collect();
        let drop: Vec<String> = self
            .0
            .keys()
            .filter(|k| !keep.contains(k.as_str()))
            .cloned()
            .collect();
        for key in drop {
            self.remove(&key);
        }
    }
}

impl Drop for FormValues {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            value.zeroize();
        }
    }
}

impl fmt::Debug for FormValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are schema names, never resident data; values are.
        f.debug_struct("FormValues")
            .field("keys", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Identity

/// The resident as read from the 2nd-generation ID card (or an e-ID).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Identity {
    pub name: String,
    pub id_number: String,
    /// 男 / 女 as printed on the card.
    pub gender: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub address: String,
    /// How the kiosk knows who this is: the card on the reader, or a
    /// personal code the platform verified (recorded with the application).
    #[zeroize(skip)]
    #[serde(default)]
    pub source: IdentitySource,
}

/// How the resident was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// The ID card on the reader.
    #[default]
    IdCard,
    /// A personal code (一码通办) the platform verified.
    Code(crate::personal_code::Scheme),
    /// Typed by an agent acting for the applicant (代办): the number passed
    /// its GB 11643 check, nobody vouched for the person.
    Typed,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity { <redacted> }")
    }
}

impl Identity {
    /// A person known by name and number only (a verified code, or typed
    /// by an agent): sex and birth date are read from the number, which
    /// must pass its GB 11643 check. `None` when it does not, or the name
    /// is empty.
    pub fn from_number(
        name: &str,
        id_number: &str,
        address: &str,
        source: IdentitySource,
    ) -> Option<Identity> {
        use crate::id_number::{validate, SexDigit};
        let id_number = id_number.trim().to_uppercase();
        let valid = validate(&id_number).ok()?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        Some(Identity {
            name: name.to_string(),
            id_number,
            gender: match valid.sex {
                SexDigit::Male => "男",
                SexDigit::Female => "女",
            }
            .to_string(),
            birth_date: format!(
                "{:04}-{:02}-{:02}",
                valid.birth_year, valid.birth_month, valid.birth_day
            ),
            address: address.to_string(),
            source,
        })
    }

    /// The value the card gives for a semantic key, if any.
    pub fn value_for(&self, key: &str) -> Option<&str> {
        let value = match key {
            "applicant.name" => &self.name,
            "applicant.id_number" => &self.id_number,
            "applicant.gender" => &self.gender,
            "applicant.birth_date" => &self.birth_date,
            // The card's address is the household address; mail goes there
            // unless the resident changes it.
            "applicant.address" | "delivery.address" => &self.address,
            _ => return None,
        };
        (!value.trim().is_empty()).then_some(value.as_str())
    }

    /// Whether the number passes GB 11643: a misread card does not, and
    /// must not bind a session.
    pub fn check(&self) -> Result<IdNumberInfo, IdNumberError> {
        check_id_number(&self.id_number)
    }

    /// The name as shown on screen while the card is down: 张*三.
    pub fn masked_name(&self) -> String {
        mask_name(&self.name)
    }

    /// 110101********1234.
    pub fn masked_id_number(&self) -> String {
        mask_id_number(&self.id_number)
    }
}

// ---------------------------------------------------------------------------
// GB 11643 citizen ID number: the arithmetic lives in the drivers crate (the
// card reader checks what it reads); this layer words the errors for the
// resident and adds what the form needs from the number.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdNumberError {
    Length,
    Characters,
    Region,
    BirthDate,
    CheckCharacter,
}

impl IdNumberError {
    /// What the resident is told under the field.
    pub fn words(self) -> Words {
        match self {
            IdNumberError::Length => Words::fixed(
                "公民身份号码应为18位",
                "A citizen ID number has 18 characters",
            ),
            IdNumberError::Characters => Words::fixed(
                "公民身份号码前17位应为数字，最后一位为数字或X",
                "An ID number is 17 digits, then a digit or X",
            ),
            IdNumberError::Region => Words::fixed(
                "公民身份号码前6位地区码不正确",
                "The first 6 digits (the region) of this ID number are not valid",
            ),
            IdNumberError::BirthDate => Words::fixed(
                "公民身份号码中的出生日期不正确",
                "The date of birth in this ID number is not valid",
            ),
            IdNumberError::CheckCharacter => Words::fixed(
                "公民身份号码校验位不正确，请核对后重新输入",
                "The last character of this ID number does not match; please check it",
            ),
        }
    }
}

/// In Chinese, the source language.
impl fmt::Display for IdNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words().zh())
    }
}

impl std::error::Error for IdNumberError {}

/// What an 18-character citizen ID number says about its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdNumberInfo {
    pub birth: chrono::NaiveDate,
    pub male: bool,
}

/// Check a citizen ID number (GB 11643-1999): 18 characters, a real birth
/// date from 1900 on, and the check character. A lowercase x is accepted
/// for X.
pub fn check_id_number(text: &str) -> Result<IdNumberInfo, IdNumberError> {
    use crate::id_number::{validate, IdNumberError as Raw, SexDigit};
    let text = text.trim();
    let valid = validate(text).map_err(|e| match e {
        // Full-width digits are 18 characters, just not the right ones.
        Raw::Length(18) => IdNumberError::Characters,
        Raw::Length(_) => IdNumberError::Length,
        Raw::NotDigit { .. } | Raw::BadLastCharacter => IdNumberError::Characters,
        Raw::BadRegion => IdNumberError::Region,
        Raw::BadBirthDate => IdNumberError::BirthDate,
        Raw::BadCheckCharacter => IdNumberError::CheckCharacter,
    })?;
    let birth = chrono::NaiveDate::from_ymd_opt(
        i32::from(valid.birth_year),
        u32::from(valid.birth_month),
        u32::from(valid.birth_day),
    )
    .filter(|d| chrono::Datelike::year(d) >= 1900)
    .ok_or(IdNumberError::BirthDate)?;
    Ok(IdNumberInfo {
        birth,
        male: valid.sex == SexDigit::Male,
    })
}

// ---------------------------------------------------------------------------
// Validation

/// A problem with one field, worded for the resident, shown next to it.
/// The field's label is the form library's and stays as it gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub key: String,
    pub message: Words,
}

/// Check one value against its field. `None` and blank are the same: empty.
pub fn validate_field(spec: &FieldSpec, value: Option<&str>) -> Result<(), FieldError> {
    let fail = |message: Words| {
        Err(FieldError {
            key: spec.key.clone(),
            message,
        })
    };
    let label = &spec.label;
    let value = value.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return if spec.required {
            fail(match spec.kind {
                FieldKind::Choice | FieldKind::YesNo => {
                    Words::new(format!("请选择{label}"), format!("Please choose: {label}"))
                }
                _ => Words::new(format!("请填写{label}"), format!("Please fill in: {label}")),
            })
        } else {
            Ok(())
        };
    }
    let length = value.chars().count() as u32;
    if let Some(min) = spec.min_len {
        if length < min {
            return fail(Words::new(
                format!("{label}至少需要{min}个字"),
                format!("{label}: at least {min} characters"),
            ));
        }
    }
    if let Some(max) = spec.max_len {
        if length > max {
            return fail(Words::new(
                format!("{label}最多{max}个字"),
                format!("{label}: at most {max} characters"),
            ));
        }
    }
    if spec.digits && !value.chars().all(|c| c.is_ascii_digit()) {
        return fail(Words::new(
            format!("{label}只能填写数字"),
            format!("{label}: digits only"),
        ));
    }
    match spec.kind {
        FieldKind::Text | FieldKind::Address => {
            if value.chars().any(char::is_control) {
                return fail(Words::new(
                    format!("{label}含有无法识别的字符"),
                    format!("{label}: contains characters that cannot be read"),
                ));
            }
        }
        FieldKind::Phone => {
            if !is_phone(value) {
                return fail(Words::fixed(
                    "请填写11位手机号码，或带区号的固定电话（如 010-12345678）",
                    "Please give an 11-digit mobile number, or a landline with its area code (such as 010-12345678)",
                ));
            }
        }
        FieldKind::IdNumber => {
            if let Err(e) = check_id_number(value) {
                return fail(e.words());
            }
        }
        FieldKind::Date => {
            if parse_date(value).is_none() {
                return fail(Words::new(
                    format!("{label}应为有效日期，如 2024-03-01"),
                    format!("{label}: a real date, such as 2024-03-01"),
                ));
            }
        }
        FieldKind::Choice => {
            if !spec.choices.iter().any(|c| c == value) {
                return fail(Words::new(
                    format!("请从列出的选项中选择{label}"),
                    format!("{label}: please pick one of the options listed"),
                ));
            }
        }
        FieldKind::YesNo => {
            if value != YES && value != NO {
                return fail(Words::new(
                    format!("请选择“是”或“否”：{label}"),
                    format!("Please choose “Yes” or “No”: {label}"),
                ));
            }
        }
    }
    Ok(())
}

/// `YYYY-MM-DD`, a real calendar date from 1900 on.
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let part = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &text[r];
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    chrono::NaiveDate::from_ymd_opt(part(0..4)? as i32, part(5..7)?, part(8..10)?)
        .filter(|d| chrono::Datelike::year(d) >= 1900)
}

/// A mainland mobile number (1[3-9] and nine digits) or a landline with its
/// area code (0 + 2–3 digits, optional dash, 7–8 digits, optional extension).
pub fn is_phone(text: &str) -> bool {
    let text = text.trim();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let b = text.as_bytes();
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && all_digits(text) {
        return true;
    }
    if let Some((area, rest)) = text.split_once(['-', ' ']) {
        let (number, extension) = match rest.split_once('-') {
            Some((n, e)) => (n, Some(e)),
            None => (rest, None),
        };
        return area.starts_with('0')
            && (3..=4).contains(&area.len())
            && all_digits(area)
            && (7..=8).contains(&number.len())
            && all_digits(number)
            && !number.starts_with('0')
            && extension.is_none_or(|e| all_digits(e) && e.len() <= 6);
    }
    // Without a dash: area code and number run together (0 + 9–11 digits).
    text.starts_with('0')
        && !text.starts_with("00")
        && (10..=12).contains(&text.len())
        && all_digits(text)
}

// ---------------------------------------------------------------------------
// Masking for display

/// 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜: one rule for the whole
/// kiosk, so it lives with the ID-card reader that first shows a name.
pub use crate::id_number::mask_name;

/// Keep the region code and the last four: 110101********1234. Anything
/// not 18 characters long keeps at most its last four.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() == 18 {
        let mut out: String = chars[..6].iter().collect();
        out.push_str("********");
        out.extend(&chars[14..]);
        out
    } else {
        mask_keep(&chars, 0, 4)
    }
}

/// 13812345678 → 138****5678.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    if chars.len() == 11 {
        mask_keep(&chars, 3, 4)
    } else {
        mask_keep(&chars, 0, 4)
    }
}

fn mask_keep(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a valid ID number from its first 17 digits.
    pub(crate) fn with_check(first17: &str) -> String {
        let check = crate::id_number::check_character(first17).unwrap();
        format!("{first17}{check}")
    }

    pub(crate) fn demo_identity() -> Identity {
        Identity {
            name: "张三丰".into(),
            id_number: with_check("11010119900307123"),
            gender: "男".into(),
            birth_date: "1990-03-07".into(),
            address: "北京市东城区景山前街4号".into(),
            source: IdentitySource::IdCard,
        }
    }

    #[test]
    fn known_id_numbers_pass_and_altered_ones_fail() {
        // The standard's own worked example.
        let info = check_id_number("11010519491231002X").unwrap();
        assert_eq!(
            info.birth,
            chrono::NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert!(!info.male);
        assert!(check_id_number("11010519491231002x").is_ok());
        assert_eq!(
            check_id_number("110105194912310021"),
            Err(IdNumberError::CheckCharacter)
        );
        assert_eq!(
            check_id_number("1101051949123100"),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            check_id_number("11010519491231002Y"),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            check_id_number(&with_check("11010519490230002")),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            check_id_number("１１０１０５１９４９１２３１００２Ｘ"),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            check_id_number(&with_check("01010519491231002")),
            Err(IdNumberError::Region)
        );
        assert_eq!(
            check_id_number(&with_check("11010518991231002")),
            Err(IdNumberError::BirthDate),
            "born before 1900"
        );
    }

    #[test]
    fn phones() {
        for ok in [
            "13812345678",
            "19912345678",
            "010-12345678",
            "0571-8765432",
            "0571 87654321",
            "01012345678",
            "010-12345678-123",
        ] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "10-1234567",
            "010-0123456",
            "abc",
            "",
            "010-",
            "0010123456",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
    }

    #[test]
    fn masks() {
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_id_number("110101199003071234"), "110101********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("12"), "**");
    }

    #[test]
    fn identity_debug_and_serialised_form_are_distinct() {
        let identity = demo_identity();
        let debug = format!("{identity:?}");
        assert!(!debug.contains("张") && !debug.contains("1101"), "{debug}");
        let mut values = FormValues::new();
        values.set("applicant.name", "张三丰");
        let debug = format!("{values:?}");
        assert!(
            debug.contains("applicant.name") && !debug.contains("张"),
            "{debug}"
        );
    }

    #[test]
    fn demo_library_loads_and_every_form_is_prefilled_from_the_card() {
        let library = FormLibrary::demo();
        let catalogue = crate::catalogue::Catalogue::demo();
        for code in library.service_codes() {
            assert!(
                catalogue.service(code).is_some(),
                "{code} is not in the catalogue"
            );
        }
        let identity = demo_identity();
        for service in &catalogue.services {
            let schema = library.schema_for(&service.code);
            assert!(schema.field("applicant.name").is_some(), "{}", service.code);
            let mut values = FormValues::new();
            schema.prefill(&mut values, &identity);
            assert_eq!(values.get("applicant.name"), Some("张三丰"));
            assert_eq!(
                values.get("applicant.id_number"),
                Some(identity.id_number.as_str())
            );
        }
        let default = library.default_schema();
        let mut values = FormValues::new();
        default.prefill(&mut values, &identity);
        let errors = default.validate(&values);
        assert!(
            errors.iter().all(|e| e.key == "applicant.phone"),
            "{errors:?}"
        );
        values.set("applicant.phone", "13812345678");
        assert!(default.validate(&values).is_empty());
    }

    #[test]
    fn wiping_an_identity_leaves_nothing() {
        let mut identity = demo_identity();
        assert!(identity.check().is_ok());
        identity.zeroize();
        assert_eq!(identity, Identity::default());
        assert!(identity.check().is_err());
        let mut values = FormValues::new();
        values.set("applicant.name", "张三丰");
        values.set("applicant.name", "李四");
        assert_eq!(values.get("applicant.name"), Some("李四"));
        values.retain_keys(["applicant.phone"]);
        assert!(values.is_empty());
    }

    #[test]
    fn prefill_keeps_what_the_resident_typed() {
        let library = FormLibrary::demo();
        let schema = library.default_schema();
        let mut values = FormValues::new();
        values.set("applicant.address", "现住址");
        schema.prefill(&mut values, &demo_identity());
        assert_eq!(values.get("applicant.address"), Some("现住址"));
    }

    #[test]
    fn messages_are_plain_chinese_next_to_the_field() {
        let spec = |kind, required| FieldSpec {
            key: "x.y".into(),
            label: "联系电话".into(),
            kind,
            required,
            min_len: None,
            max_len: None,
            choices: vec!["男".into(), "女".into()],
            digits: false,
            hint: String::new(),
            label_en: String::new(),
            hint_en: String::new(),
            prefill: None,
            when: None,
        };
        let err = validate_field(&spec(FieldKind::Phone, true), None).unwrap_err();
        assert_eq!(err.message.zh(), "请填写联系电话");
        // English keeps the form's own label: it is the form library's word.
        assert_eq!(err.message.en(), "Please fill in: 联系电话");
        assert_eq!(err.key, "x.y");
        assert!(validate_field(&spec(FieldKind::Phone, false), Some("  ")).is_ok());
        let err = validate_field(&spec(FieldKind::Phone, true), Some("123")).unwrap_err();
        assert!(err.message.zh().contains("手机号码"));
        assert!(err.message.en().contains("mobile number"));
        let err = validate_field(&spec(FieldKind::Choice, true), None).unwrap_err();
        assert_eq!(err.message.zh(), "请选择联系电话");
        assert!(validate_field(&spec(FieldKind::Choice, true), Some("女")).is_ok());
        assert!(validate_field(&spec(FieldKind::Choice, true), Some("未知")).is_err());
        assert!(validate_field(&spec(FieldKind::Date, true), Some("2023-02-29")).is_err());
        assert!(validate_field(&spec(FieldKind::Date, true), Some("2024-02-29")).is_ok());
        assert!(validate_field(&spec(FieldKind::YesNo, true), Some(YES)).is_ok());
        assert!(validate_field(&spec(FieldKind::YesNo, true), Some("maybe")).is_err());
        let mut name = spec(FieldKind::Text, true);
        name.min_len = Some(2);
        name.max_len = Some(4);
        assert!(validate_field(&name, Some("张"))
            .unwrap_err()
            .message
            .zh()
            .contains("至少"));
        assert!(validate_field(&name, Some("张三丰")).is_ok());
        assert!(validate_field(&name, Some("张三丰一二"))
            .unwrap_err()
            .message
            .zh()
            .contains("最多"));
        let mut account = spec(FieldKind::Text, true);
        account.digits = true;
        assert!(validate_field(&account, Some("6222a")).is_err());
    }

    #[test]
    fn bad_libraries_are_refused() {
        assert!(matches!(
            FormLibrary::from_json("{"),
            Err(FormsError::Malformed(_))
        ));
        let unknown = r#"{"schema":1,"fields":{},"default":["applicant.name"],"services":{}}"#;
        assert!(matches!(
            FormLibrary::from_json(unknown),
            Err(FormsError::Inconsistent(_))
        ));
        let twice = r#"{"schema":1,"fields":{"applicant.name":{"label":"姓名","kind":"text"}},
            "default":["applicant.name","applicant.name"],"services":{}}"#;
        assert!(matches!(
            FormLibrary::from_json(twice),
            Err(FormsError::Inconsistent(_))
        ));
        let no_choices = r#"{"schema":1,"fields":{"a.b":{"label":"x","kind":"choice"}},"default":[],"services":{}}"#;
        assert!(matches!(
            FormLibrary::from_json(no_choices),
            Err(FormsError::Inconsistent(_))
        ));
        let newer = r#"{"schema":99,"fields":{},"default":[],"services":{}}"#;
        assert!(matches!(
            FormLibrary::from_json(newer),
            Err(FormsError::UnsupportedSchema { found: 99 })
        ));
    }

    proptest! {
        #[test]
        fn any_seventeen_digits_with_their_check_character_pass_when_the_date_is_real(
            region in 110000u32..660000, days in 0i64..40000, seq in 0u32..1000,
        ) {
            let birth = chrono::NaiveDate::from_ymd_opt(1910, 1, 1).unwrap() + chrono::Duration::days(days);
            let first17 = format!("{region:06}{}{seq:03}", birth.format("%Y%m%d"));
            let id = with_check(&first17);
            let info = check_id_number(&id).unwrap();
            prop_assert_eq!(info.birth, birth);
            // Any single changed digit is caught by MOD 11-2.
            let pos = (seq as usize) % 17;
            let mut chars: Vec<char> = id.chars().collect();
            let old = chars[pos].to_digit(10).unwrap();
            chars[pos] = char::from_digit((old + 1 + seq % 9) % 10, 10).unwrap();
            let altered: String = chars.into_iter().collect();
            prop_assert!(check_id_number(&altered).is_err());
        }

        #[test]
        fn checks_and_masks_never_panic(text in "\\PC{0,30}") {
            let _ = check_id_number(&text);
            let _ = is_phone(&text);
            let _ = parse_date(&text);
            let masked = mask_id_number(&text);
            prop_assert_eq!(masked.chars().count(), text.trim().chars().count());
            let _ = mask_name(&text);
            let _ = mask_phone(&text);
        }

        #[test]
        fn mobile_numbers_pass(second in 3u8..=9, rest in "[0-9]{9}") {
            let phone = format!("1{second}{rest}");
            prop_assert!(is_phone(&phone));
            prop_assert!(mask_phone(&phone).contains("****"));
        }
    }
}

#[cfg(test)]
mod condition_tests {
    use super::*;

    #[test]
    fn guardian_fields_follow_age_or_an_answer() {
        let minor = Condition::ApplicantUnder(16);
        let agent = Condition::Answer {
            question: "agent".into(),
            is: vec!["yes".into()],
        };
        let either = Condition::AnyOf(vec![minor.clone(), agent.clone()]);
        let mut answers = BTreeMap::new();
        let adult = ConditionContext {
            applicant_age: Some(40),
            answers: Some(&answers),
        };
        assert!(!minor.holds(&adult) && !either.holds(&adult));
        let child = ConditionContext {
            applicant_age: Some(9),
            answers: None,
        };
        assert!(minor.holds(&child) && either.holds(&child) && !agent.holds(&child));
        // Not known yet: asked rather than silently skipped.
        assert!(minor.holds(&ConditionContext::default()));
        answers.insert("agent".to_string(), "yes".to_string());
        let helped = ConditionContext {
            applicant_age: Some(40),
            answers: Some(&answers),
        };
        assert!(either.holds(&helped));
        let json =
            r#"{"any_of":[{"applicant_under":16},{"answer":{"question":"agent","is":["yes"]}}]}"#;
        assert_eq!(serde_json::from_str::<Condition>(json).unwrap(), either);
    }
}
