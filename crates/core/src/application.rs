//! The application record (申请) handed to the outbox: built only when
//! everything the rules demand is there, so the outbox never holds an
//! application the platform must refuse.
//!
//! Material rules, per merged material (one service is a bundle of one):
//! - a **key** material must be provided, fetched as an e-certificate, or
//!   pending verification (待核验: an e-certificate that could not be fetched
//!   offline); it can never be missing nor replaced by a commitment;
//! - **missing** (容缺受理) is allowed for a non-key material only if every
//!   item asking for it allows 容缺;
//! - **committed** (告知承诺) is allowed for a non-key material only if every
//!   item asking for it is a 告知承诺 item;
//! - **e-certificate fetched / pending** only where the merged material
//!   accepts an e-certificate;
//! - any 告知承诺 item among the applying items needs the commitment
//!   accepted and signed on the screen.

use crate::bundle::{item_forms, merge, MergedForm};
use crate::catalogue::{Catalogue, Delivery, Material, Service};
use crate::form::{FieldError, FormLibrary, FormValues, Identity};
use crate::words::Words;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

// Defined beside the catalogue's materials (a package lists the states a
// material allows), so the catalogue need not import this module back.
pub use crate::catalogue::MaterialState;

impl MaterialState {
    pub fn label_zh(self) -> &'static str {
        match self {
            MaterialState::Provided => "已提交",
            MaterialState::ECertFetched => "已调取电子证照",
            MaterialState::PendingVerification => "待核验",
            MaterialState::Missing => "容缺后补",
            MaterialState::Committed => "告知承诺",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            MaterialState::Provided => "Handed in",
            MaterialState::ECertFetched => "E-certificate fetched",
            MaterialState::PendingVerification => "To be verified",
            MaterialState::Missing => "To follow later",
            MaterialState::Committed => "Replaced by your commitment",
        }
    }

    /// Still owed by the resident or to be checked: printed on the receipt.
    pub fn outstanding(self) -> bool {
        matches!(
            self,
            MaterialState::Missing | MaterialState::PendingVerification
        )
    }
}

/// The one rule of which states a merged material may take (the module's
/// material rules): what the screen offers and what the builder accepts.
/// `askers` are the applying services that ask for the material.
pub fn check_material_state(
    material: &Material,
    askers: &[&Service],
    state: MaterialState,
) -> Result<(), ApplicationError> {
    // A material nobody applying asks for allows nothing beyond handing it in.
    let all_askers =
        |rule: fn(&Service) -> bool| !askers.is_empty() && askers.iter().all(|s| rule(s));
    // The content package may narrow what the flags allow for a material
    // (never widen it); handing it in is always possible. Listing either
    // e-certificate state allows both: whether it is fetched now or checked
    // later depends on the link, not on the content.
    let listed = |s: MaterialState| {
        material.states.is_empty()
            || material.states.contains(&s)
            || (matches!(
                s,
                MaterialState::ECertFetched | MaterialState::PendingVerification
            ) && material.states.iter().any(|m| {
                matches!(
                    m,
                    MaterialState::ECertFetched | MaterialState::PendingVerification
                )
            }))
    };
    match state {
        MaterialState::ECertFetched | MaterialState::PendingVerification if !listed(state) => {
            Err(ApplicationError::ECertNotAccepted(material.name.clone()))
        }
        MaterialState::Missing if !listed(state) => Err(ApplicationError::ToleranceNotAllowed {
            material: material.name.clone(),
        }),
        MaterialState::Committed if !listed(state) => Err(ApplicationError::CommitmentNotAllowed {
            material: material.name.clone(),
        }),
        MaterialState::Provided => Ok(()),
        MaterialState::ECertFetched | MaterialState::PendingVerification if !material.e_cert => {
            Err(ApplicationError::ECertNotAccepted(material.name.clone()))
        }
        MaterialState::ECertFetched | MaterialState::PendingVerification => Ok(()),
        MaterialState::Missing if material.key => {
            Err(ApplicationError::KeyMaterialMissing(material.name.clone()))
        }
        MaterialState::Missing if !all_askers(|s| s.tolerant) => {
            Err(ApplicationError::ToleranceNotAllowed {
                material: material.name.clone(),
            })
        }
        MaterialState::Missing => Ok(()),
        MaterialState::Committed if material.key || !all_askers(|s| s.commitment) => {
            Err(ApplicationError::CommitmentNotAllowed {
                material: material.name.clone(),
            })
        }
        MaterialState::Committed => Ok(()),
    }
}

/// The states a resident may choose for a material, in the order the
/// screen offers them. An e-certificate is offered as fetched when the
/// platform holds a matching one (`certificates`: the titles it holds, `None`
/// while unknown or offline), else as pending verification (待核验).
pub fn offered_material_states(
    material: &Material,
    askers: &[&Service],
    certificates: Option<&[String]>,
) -> Vec<MaterialState> {
    let fetched = certificates.is_some_and(|titles| {
        titles
            .iter()
            .any(|t| certificate_matches(t, &material.name))
    });
    let e_cert = if fetched {
        MaterialState::ECertFetched
    } else {
        MaterialState::PendingVerification
    };
    [
        MaterialState::Provided,
        e_cert,
        MaterialState::Missing,
        MaterialState::Committed,
    ]
    .into_iter()
    .filter(|&state| check_material_state(material, askers, state).is_ok())
    .collect()
}

/// A platform e-certificate stands for a material when either name contains
/// the other (居民户口簿 / 户口簿).
pub fn certificate_matches(title: &str, material: &str) -> bool {
    let title = title.trim();
    let material = material.trim();
    !title.is_empty()
        && !material.is_empty()
        && (title.contains(material) || material.contains(title))
}

/// How the result reaches the resident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(tag = "way", rename_all = "snake_case")]
pub enum DeliveryChoice {
    Station,
    Mail { address: String },
    Electronic,
}

impl DeliveryChoice {
    pub fn delivery(&self) -> Delivery {
        match self {
            DeliveryChoice::Station => Delivery::Station,
            DeliveryChoice::Mail { .. } => Delivery::Mail,
            DeliveryChoice::Electronic => Delivery::Electronic,
        }
    }
}

impl fmt::Debug for DeliveryChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address is personal; the way is not.
        write!(f, "DeliveryChoice::{:?}", self.delivery())
    }
}

/// A point on the signature pad, in pad pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// A signature drawn on the touchscreen: one polyline per finger stroke.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Signature {
    pub width: u32,
    pub height: u32,
    pub strokes: Vec<Vec<Point>>,
}

impl Signature {
    /// A tap or an empty pad is not a signature.
    pub fn is_meaningful(&self) -> bool {
        let points: usize = self.strokes.iter().map(Vec::len).sum();
        points >= 2
            && self.strokes.iter().all(|s| {
                s.iter().all(|p| {
                    p.x >= 0
                        && p.y >= 0
                        && (p.x as u32) <= self.width
                        && (p.y as u32) <= self.height
                })
            })
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature {{ strokes: {} }}", self.strokes.len())
    }
}

/// What is being applied for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    Service {
        code: String,
    },
    /// A 一件事 bundle with the items the questionnaire chose.
    Bundle {
        id: String,
        items: Vec<String>,
    },
}

/// What the resident read on the 核对信息 and signature screens before
/// signing, kept with the record so the clerk sees what the resident saw.
/// In Chinese, whatever the screen's language (the record's language).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Confirmation {
    /// The summary as "label：value" lines.
    #[serde(default)]
    pub summary: Vec<String>,
    /// The 告知承诺 text signed under, when the application needed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

impl fmt::Debug for Confirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The summary holds personal data: only its shape is shown.
        f.debug_struct("Confirmation")
            .field("summary_lines", &self.summary.len())
            .field("commitment", &self.commitment.is_some())
            .finish()
    }
}

/// Everything gathered on the screens, before the rules are checked.
pub struct Draft<'a> {
    pub subject: Subject,
    pub values: &'a FormValues,
    pub identity: &'a Identity,
    /// By material name as in the (merged) material list.
    pub materials: &'a BTreeMap<String, MaterialState>,
    pub delivery: DeliveryChoice,
    /// The resident tapped "本人承诺" on the commitment text.
    pub commitment_accepted: bool,
    pub signature: Option<Signature>,
    /// 帮办: the staff member who helped, if any.
    pub assisted_by: Option<String>,
    /// What the resident confirmed before signing.
    pub confirmation: Confirmation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedItem {
    pub code: String,
    pub name: String,
    /// The chosen delivery if this item offers it, else its own first one.
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialRecord {
    pub name: String,
    pub key: bool,
    pub state: MaterialState,
    pub asked_by: Vec<String>,
    /// The guide's 补交时限 in working days (see `catalogue::Material`).
    #[serde(default)]
    pub owed_within_days: Option<u16>,
}

/// A validated application, ready for the outbox. Holds personal data:
/// Debug shows only its shape.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub subject: Subject,
    pub items: Vec<AppliedItem>,
    pub identity: Identity,
    pub fields: FormValues,
    pub materials: Vec<MaterialRecord>,
    pub delivery: DeliveryChoice,
    pub commitment_accepted: bool,
    pub signature: Option<Signature>,
    pub assisted_by: Option<String>,
    /// What the resident read before signing (older records have none).
    #[serde(default)]
    pub confirmation: Confirmation,
    /// Version of the content package the application was made with.
    #[serde(default)]
    pub content_version: String,
    /// 代办: who applied for the applicant (`identity`), and how they are
    /// related. `None` when the applicant applied in person.
    #[serde(default)]
    pub agent: Option<Agent>,
}

/// The 代办人: identified at the terminal by card or verified code, acting
/// for the applicant. Personal data: Debug shows only the relationship.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Agent {
    pub name: String,
    pub id_number: String,
    /// 配偶 / 子女 / 父母 / 其他亲属 / 受委托人: what the agent is to the applicant.
    pub relationship: String,
    #[zeroize(skip)]
    #[serde(default)]
    pub source: crate::form::IdentitySource,
    /// The 代办 declaration the agent signed under (Chinese, as shown).
    pub declaration: String,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Agent({}, ***)", self.relationship)
    }
}

/// What an agent may be to the applicant (the forms' guardian.relation).
pub const RELATIONSHIPS: [&str; 5] = ["父母", "配偶", "子女", "其他亲属", "受委托人"];

/// Whole years between `birth_date` (`YYYY-MM-DD`) and `today`; `None`
/// when the date does not parse.
pub fn age_on(birth_date: &str, today: chrono::NaiveDate) -> Option<u32> {
    use chrono::Datelike as _;
    let birth = chrono::NaiveDate::parse_from_str(birth_date, "%Y-%m-%d").ok()?;
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Why this agent may not act for this applicant, in one sentence; `None`
/// when they may. `today` is the station's date.
pub fn agent_refusal(
    agent: &Identity,
    principal: &Identity,
    relationship: &str,
    today: chrono::NaiveDate,
) -> Option<Words> {
    if agent
        .id_number
        .trim()
        .eq_ignore_ascii_case(principal.id_number.trim())
    {
        return Some(Words::fixed(
            "被代办人不能是您本人。为自己办理请按“我要办理”。",
            "You cannot act for yourself. To apply for yourself, press Apply.",
        ));
    }
    if age_on(&agent.birth_date, today).is_some_and(|age| age < ADULT_AGE) {
        return Some(Words::fixed(
            "未满18周岁不能为他人代办，请由成年家属来办理。",
            "You must be 18 or older to act for someone else; please ask an adult family member.",
        ));
    }
    if !RELATIONSHIPS.contains(&relationship) {
        return Some(Words::fixed(
            "请选择您与被代办人的关系。",
            "Please choose how you are related to the person you act for.",
        ));
    }
    let minor = age_on(&principal.birth_date, today).is_some_and(|age| age < ADULT_AGE);
    if minor && !matches!(relationship, "父母" | "其他亲属") {
        return Some(Words::fixed(
            "被代办人未满18周岁，须由父母或其他监护人代办。",
            "The person is under 18: a parent or other guardian must act for them.",
        ));
    }
    None
}

/// Age of majority (民法典 第十七条).
pub const ADULT_AGE: u32 = 18;

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("subject", &self.subject)
            .field("items", &self.items.len())
            .field("fields", &self.fields.len())
            .field("materials", &self.materials.len())
            .field("delivery", &self.delivery)
            .field("assisted", &self.assisted_by.is_some())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Materials still owed or to be verified: 受理回执 lists them.
    pub fn outstanding_materials(&self) -> impl Iterator<Item = &MaterialRecord> {
        self.materials.iter().filter(|m| m.state.outstanding())
    }
}

/// Why an application cannot be built yet; worded for the resident by
/// [`ApplicationError::words`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationError {
    UnknownService(String),
    UnknownBundle(String),
    NothingToApply,
    InvalidIdentity,
    InvalidForm(Vec<FieldError>),
    KeyMaterialMissing(String),
    MaterialUndecided(String),
    UnknownMaterial(String),
    ToleranceNotAllowed { material: String },
    CommitmentNotAllowed { material: String },
    ECertNotAccepted(String),
    CommitmentNotAccepted,
    SignatureMissing,
    DeliveryNotOffered,
    MailAddressMissing,
    InvalidStaffId,
}

impl ApplicationError {
    /// What the resident is told. Material and service names are the
    /// catalogue's and stay as it gives them.
    pub fn words(&self) -> Words {
        use ApplicationError as E;
        match self {
            E::UnknownService(code) => Words::new(
                format!("没有找到这个事项：{code}"),
                format!("This service was not found: {code}"),
            ),
            E::UnknownBundle(id) => Words::new(
                format!("没有找到这件事：{id}"),
                format!("This bundle was not found: {id}"),
            ),
            E::NothingToApply => Words::fixed(
                "这件事没有需要办理的事项",
                "Nothing in this bundle needs applying for",
            ),
            E::InvalidIdentity => Words::fixed(
                "身份证件信息无法识别，请重新读卡",
                "The ID card could not be read properly; please place it again",
            ),
            E::InvalidForm(errors) => Words::new(
                format!("表单还有{}处需要修改", errors.len()),
                format!("Entries of the form to correct: {}", errors.len()),
            ),
            E::KeyMaterialMissing(name) => Words::new(
                format!("缺少必要材料“{name}”，不能容缺受理"),
                format!("“{name}” is required and cannot follow later"),
            ),
            E::MaterialUndecided(name) => Words::new(
                format!("材料“{name}”还没有确认提交方式"),
                format!("Choose how you provide “{name}”"),
            ),
            E::UnknownMaterial(name) => Words::new(
                format!("材料“{name}”不在本次办理的材料清单中"),
                format!("“{name}” is not on the list of materials for this application"),
            ),
            E::ToleranceNotAllowed { material } => Words::new(
                format!("“{material}”所属事项不支持容缺受理"),
                format!("“{material}” cannot follow later for this service"),
            ),
            E::CommitmentNotAllowed { material } => Words::new(
                format!("“{material}”不能以告知承诺代替"),
                format!("“{material}” cannot be replaced by a commitment"),
            ),
            E::ECertNotAccepted(name) => Words::new(
                format!("“{name}”不能使用电子证照代替"),
                format!("“{name}” cannot be replaced by an e-certificate"),
            ),
            E::CommitmentNotAccepted => Words::fixed(
                "本事项实行告知承诺制，请阅读承诺书并确认“本人承诺”",
                "This service works by commitment: please read it and tap “I commit”",
            ),
            E::SignatureMissing => Words::fixed(
                "请在屏幕上签名确认承诺",
                "Please sign on the screen to confirm",
            ),
            E::DeliveryNotOffered => Words::fixed(
                "所选事项都不支持这种领取方式",
                "None of the chosen services offers this way of delivery",
            ),
            E::MailAddressMissing => {
                Words::fixed("请填写邮寄地址", "Please give a mailing address")
            }
            E::InvalidStaffId => Words::fixed(
                "工作人员工号格式不正确",
                "The staff number is not in the right form",
            ),
        }
    }
}

/// In Chinese, the source language (logs and callers without a screen).
impl fmt::Display for ApplicationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words().zh())
    }
}

impl std::error::Error for ApplicationError {}

/// Build the application for one service or a bundle's chosen items.
pub fn build_application(
    draft: Draft<'_>,
    catalogue: &Catalogue,
    library: &FormLibrary,
) -> Result<Application, ApplicationError> {
    let codes: Vec<String> = match &draft.subject {
        Subject::Service { code } => vec![code.clone()],
        Subject::Bundle { items, .. } => items.clone(),
    };
    if codes.is_empty() {
        return Err(ApplicationError::NothingToApply);
    }
    let services: Vec<&Service> = codes
        .iter()
        .map(|code| {
            catalogue
                .service(code)
                .ok_or_else(|| ApplicationError::UnknownService(code.clone()))
        })
        .collect::<Result<_, _>>()?;
    let merged: MergedForm = merge(&item_forms(&codes, catalogue, library));

    if draft.identity.check().is_err() || draft.identity.name.trim().is_empty() {
        return Err(ApplicationError::InvalidIdentity);
    }
    let errors = merged.schema().validate(draft.values);
    if !errors.is_empty() {
        return Err(ApplicationError::InvalidForm(errors));
    }

    let by_code: BTreeMap<&str, &Service> =
        services.iter().map(|s| (s.code.as_str(), *s)).collect();
    for name in draft.materials.keys() {
        if merged.material(name).is_none() {
            return Err(ApplicationError::UnknownMaterial(name.clone()));
        }
    }
    let mut records = Vec::with_capacity(merged.materials.len());
    for entry in &merged.materials {
        let material = &entry.material;
        let askers: Vec<&Service> = entry
            .asked_by
            .iter()
            .filter_map(|c| by_code.get(c.as_str()).copied())
            .collect();
        let state = *draft
            .materials
            .get(&material.name)
            .ok_or_else(|| ApplicationError::MaterialUndecided(material.name.clone()))?;
        check_material_state(material, &askers, state)?;
        records.push(MaterialRecord {
            name: material.name.clone(),
            key: material.key,
            state,
            asked_by: entry.asked_by.clone(),
            owed_within_days: material.owed_within_days,
        });
    }

    let needs_commitment = services.iter().any(|s| s.commitment)
        || records.iter().any(|r| r.state == MaterialState::Committed);
    if needs_commitment {
        if !draft.commitment_accepted {
            return Err(ApplicationError::CommitmentNotAccepted);
        }
        if !draft
            .signature
            .as_ref()
            .is_some_and(Signature::is_meaningful)
        {
            return Err(ApplicationError::SignatureMissing);
        }
    }

    let chosen = draft.delivery.delivery();
    if !services.iter().any(|s| s.delivery.contains(&chosen)) {
        return Err(ApplicationError::DeliveryNotOffered);
    }
    if let DeliveryChoice::Mail { address } = &draft.delivery {
        if address.trim().chars().count() < 5 {
            return Err(ApplicationError::MailAddressMissing);
        }
    }
    let items = services
        .iter()
        .map(|s| AppliedItem {
            code: s.code.clone(),
            name: s.name.clone(),
            delivery: if s.delivery.contains(&chosen) {
                chosen
            } else {
                s.delivery.first().copied().unwrap_or(Delivery::Electronic)
            },
        })
        .collect();

    let assisted_by = match draft.assisted_by {
        Some(id) => {
            let id = id.trim().to_string();
            if id.is_empty()
                || id.len() > 32
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ApplicationError::InvalidStaffId);
            }
            Some(id)
        }
        None => None,
    };

    // Only what the final form asked for is submitted: answers typed for an
    // item the questionnaire later dropped stay behind and are wiped.
    let mut fields = draft.values.clone();
    fields.retain_keys(merged.fields.iter().map(|f| f.spec.key.as_str()));

    let mut confirmation = draft.confirmation;
    if !needs_commitment {
        // No 告知承诺 was signed: none is recorded as if it had been.
        confirmation.commitment = None;
    }
    Ok(Application {
        confirmation,
        // Set by the kiosk, which knows the package on screen.
        content_version: String::new(),
        agent: None,
        subject: draft.subject,
        items,
        identity: draft.identity.clone(),
        fields,
        materials: records,
        delivery: draft.delivery,
        commitment_accepted: needs_commitment && draft.commitment_accepted,
        signature: if needs_commitment {
            draft.signature
        } else {
            None
        },
        assisted_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{merged_for_answers, Answers, BundleCatalogue};
    use crate::form::tests::demo_identity;
    use proptest::prelude::*;

    #[test]
    fn the_screen_offers_exactly_the_states_the_builder_accepts() {
        let catalogue = Catalogue::demo();
        let all = [
            MaterialState::Provided,
            MaterialState::ECertFetched,
            MaterialState::PendingVerification,
            MaterialState::Missing,
            MaterialState::Committed,
        ];
        let (mut tolerated, mut committed) = (0, 0);
        for service in &catalogue.services {
            for material in &service.materials {
                let askers = [service];
                let offered = offered_material_states(material, &askers, None);
                for state in all {
                    let accepted = check_material_state(material, &askers, state).is_ok();
                    // Offline the e-certificate is offered as pending; fetched
                    // is accepted too (a certificate fetched earlier).
                    let expected = offered.contains(&state)
                        || (state == MaterialState::ECertFetched
                            && offered.contains(&MaterialState::PendingVerification));
                    assert_eq!(
                        accepted, expected,
                        "{} {}: {state:?}",
                        service.code, material.name
                    );
                }
                tolerated += usize::from(offered.contains(&MaterialState::Missing));
                committed += usize::from(offered.contains(&MaterialState::Committed));
                assert!(!material.key || !offered.contains(&MaterialState::Missing));
            }
        }
        assert!(
            tolerated > 0 && committed > 0,
            "the demo exercises 容缺 and 告知承诺"
        );
    }

    #[test]
    fn a_held_certificate_is_offered_as_fetched_and_nobody_asking_allows_nothing_more() {
        let material = Material {
            name: "户口簿".into(),
            copies: "1".into(),
            key: false,
            e_cert: true,
            note: String::new(),
            states: Vec::new(),
            owed_within_days: None,
        };
        let held = vec!["居民户口簿".to_string()];
        let offered = offered_material_states(&material, &[], Some(&held));
        assert_eq!(
            offered,
            [MaterialState::Provided, MaterialState::ECertFetched],
            "no applying service asks: no 容缺, no 告知承诺"
        );
    }

    fn fixtures() -> (Catalogue, FormLibrary) {
        (Catalogue::demo(), FormLibrary::demo())
    }

    fn signature() -> Signature {
        Signature {
            width: 400,
            height: 200,
            strokes: vec![vec![Point { x: 10, y: 10 }, Point { x: 100, y: 80 }]],
        }
    }

    fn filled(code: &str, catalogue: &Catalogue, library: &FormLibrary) -> FormValues {
        let merged = merge(&item_forms(&[code.to_string()], catalogue, library));
        fill(&merged)
    }

    /// Prefill from the card, then answer the rest plausibly.
    fn fill(merged: &MergedForm) -> FormValues {
        let mut values = FormValues::new();
        let schema = merged.schema();
        schema.prefill(&mut values, &demo_identity());
        for spec in &schema.fields {
            if values.get(&spec.key).is_some() {
                continue;
            }
            let value = match spec.kind {
                crate::form::FieldKind::Phone => "13812345678".to_string(),
                crate::form::FieldKind::IdNumber => {
                    crate::form::tests::with_check("32010219851111002")
                }
                crate::form::FieldKind::Date => "2024-05-01".into(),
                crate::form::FieldKind::Choice => spec.choices[0].clone(),
                crate::form::FieldKind::YesNo => "yes".into(),
                _ if spec.digits => "6".repeat(
                    spec.min_len
                        .unwrap_or(1)
                        .max(16)
                        .min(spec.max_len.unwrap_or(99)) as usize,
                ),
                _ => "测".repeat(
                    spec.min_len
                        .unwrap_or(2)
                        .max(6)
                        .min(spec.max_len.unwrap_or(99)) as usize,
                ),
            };
            values.set(&spec.key, &value);
        }
        values
    }

    fn all_provided(merged: &MergedForm) -> BTreeMap<String, MaterialState> {
        merged
            .materials
            .iter()
            .map(|m| (m.material.name.clone(), MaterialState::Provided))
            .collect()
    }

    fn draft<'a>(
        code: &str,
        values: &'a FormValues,
        identity: &'a Identity,
        materials: &'a BTreeMap<String, MaterialState>,
    ) -> Draft<'a> {
        Draft {
            subject: Subject::Service { code: code.into() },
            values,
            identity,
            materials,
            delivery: DeliveryChoice::Station,
            commitment_accepted: false,
            signature: None,
            assisted_by: None,
            confirmation: Confirmation::default(),
        }
    }

    #[test]
    fn social_security_card_with_photo_missing_under_tolerance() {
        let (catalogue, library) = fixtures();
        let identity = demo_identity();
        let values = filled("DEMO-SB-001", &catalogue, &library);
        let merged = merge(&item_forms(&["DEMO-SB-001".into()], &catalogue, &library));
        let mut materials = all_provided(&merged);
        materials.insert("近期一寸白底免冠照片".into(), MaterialState::Missing);
        materials.insert("居民身份证".into(), MaterialState::ECertFetched);
        let mut d = draft("DEMO-SB-001", &values, &identity, &materials);
        d.delivery = DeliveryChoice::Mail {
            address: identity.address.clone(),
        };
        d.assisted_by = Some("staff-007".into());
        let app = build_application(d, &catalogue, &library).unwrap();
        assert_eq!(app.items[0].delivery, Delivery::Mail);
        let owed: Vec<&str> = app
            .outstanding_materials()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(owed, ["近期一寸白底免冠照片"]);
        assert!(app.signature.is_none());
        let debug = format!("{app:?}");
        assert!(
            !debug.contains("张三丰") && !debug.contains("景山"),
            "{debug}"
        );
        let json = serde_json::to_string(&app).unwrap();
        let back: Application = serde_json::from_str(&json).unwrap();
        assert_eq!(back, app);
    }

    #[test]
    fn refusals() {
        let (catalogue, library) = fixtures();
        let identity = demo_identity();

        // A key material can never be missing.
        let values = filled("DEMO-SB-001", &catalogue, &library);
        let merged = merge(&item_forms(&["DEMO-SB-001".into()], &catalogue, &library));
        let mut materials = all_provided(&merged);
        materials.insert("居民身份证".into(), MaterialState::Missing);
        let err = build_application(
            draft("DEMO-SB-001", &values, &identity, &materials),
            &catalogue,
            &library,
        );
        assert_eq!(
            err.unwrap_err(),
            ApplicationError::KeyMaterialMissing("居民身份证".into())
        );

        // 容缺 on a service that does not allow it (SB-002 is not tolerant;
        // BDC-002 is, so use a non-key material of a non-tolerant service: HJ-004 has none,
        // SW-002's 缴税凭证 is non-key and SW-002 is not tolerant).
        let values = filled("DEMO-SW-002", &catalogue, &library);
        let merged = merge(&item_forms(&["DEMO-SW-002".into()], &catalogue, &library));
        let mut materials = all_provided(&merged);
        materials.insert("缴税凭证或缴款书号码".into(), MaterialState::Missing);
        let err = build_application(
            draft("DEMO-SW-002", &values, &identity, &materials),
            &catalogue,
            &library,
        );
        assert!(
            matches!(err, Err(ApplicationError::ToleranceNotAllowed { .. })),
            "{err:?}"
        );

        // A commitment service without the commitment, then without a signature.
        let values = filled("DEMO-YB-002", &catalogue, &library);
        let merged = merge(&item_forms(&["DEMO-YB-002".into()], &catalogue, &library));
        let materials = all_provided(&merged);
        let mut d = draft("DEMO-YB-002", &values, &identity, &materials);
        d.delivery = DeliveryChoice::Electronic;
        let err = build_application(d, &catalogue, &library);
        assert_eq!(err.unwrap_err(), ApplicationError::CommitmentNotAccepted);
        let mut d = draft("DEMO-YB-002", &values, &identity, &materials);
        d.delivery = DeliveryChoice::Electronic;
        d.commitment_accepted = true;
        d.signature = Some(Signature {
            width: 10,
            height: 10,
            strokes: vec![vec![Point { x: 1, y: 1 }]],
        });
        assert_eq!(
            build_application(d, &catalogue, &library).unwrap_err(),
            ApplicationError::SignatureMissing
        );
        let mut d = draft("DEMO-YB-002", &values, &identity, &materials);
        d.delivery = DeliveryChoice::Electronic;
        d.commitment_accepted = true;
        d.signature = Some(signature());
        let app = build_application(d, &catalogue, &library).unwrap();
        assert!(app.commitment_accepted && app.signature.is_some());

        // Delivery not offered: YB-002 is electronic only.
        let mut d = draft("DEMO-YB-002", &values, &identity, &materials);
        d.commitment_accepted = true;
        d.signature = Some(signature());
        assert_eq!(
            build_application(d, &catalogue, &library).unwrap_err(),
            ApplicationError::DeliveryNotOffered
        );

        // An invalid form lists every problem.
        let mut broken = values.clone();
        broken.set("applicant.phone", "123");
        let err = build_application(
            draft("DEMO-YB-002", &broken, &identity, &materials),
            &catalogue,
            &library,
        );
        match err {
            Err(ApplicationError::InvalidForm(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].key, "applicant.phone");
            }
            other => panic!("{other:?}"),
        }

        // Undecided and unknown materials.
        let mut partial = materials.clone();
        partial.remove("异地居住证明");
        let err = build_application(
            draft("DEMO-YB-002", &values, &identity, &partial),
            &catalogue,
            &library,
        );
        assert!(matches!(err, Err(ApplicationError::MaterialUndecided(_))));
        let mut extra = materials.clone();
        extra.insert("不存在的材料".into(), MaterialState::Provided);
        let err = build_application(
            draft("DEMO-YB-002", &values, &identity, &extra),
            &catalogue,
            &library,
        );
        assert!(matches!(err, Err(ApplicationError::UnknownMaterial(_))));

        // E-certificate for a paper-only material.
        let mut paper = materials.clone();
        paper.insert("转诊转院证明".into(), MaterialState::PendingVerification);
        let err = build_application(
            draft("DEMO-YB-002", &values, &identity, &paper),
            &catalogue,
            &library,
        );
        assert!(matches!(err, Err(ApplicationError::ECertNotAccepted(_))));

        // A bad card.
        let mut bad = demo_identity();
        bad.id_number = "110101199003071230".into();
        let err = build_application(
            draft("DEMO-YB-002", &values, &bad, &materials),
            &catalogue,
            &library,
        );
        assert_eq!(err.unwrap_err(), ApplicationError::InvalidIdentity);
    }

    #[test]
    fn newborn_bundle_end_to_end_offline() {
        let (catalogue, library) = fixtures();
        let bundles = BundleCatalogue::demo(&catalogue);
        let bundle = bundles.bundle("newborn").unwrap();
        let answers: Answers = [
            ("hukou", "mother"),
            ("medical", "yes"),
            ("sb_card", "yes"),
            ("maternity", "yes"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let merged = merged_for_answers(bundle, &answers, &catalogue, &library);
        let mut values = fill(&merged);
        // A field left over from an earlier choice is not submitted.
        values.set("retire.date", "2020-01-01");
        let identity = demo_identity();
        // Offline: every e-certificate is 待核验, the rest provided; the
        // photo (non-key, SB-001 is tolerant) is owed.
        let mut materials: BTreeMap<String, MaterialState> = merged
            .materials
            .iter()
            .map(|m| {
                let state = if m.material.e_cert {
                    MaterialState::PendingVerification
                } else {
                    MaterialState::Provided
                };
                (m.material.name.clone(), state)
            })
            .collect();
        materials.insert("近期一寸白底免冠照片".into(), MaterialState::Missing);
        let state = bundle.evaluate(&answers);
        let d = Draft {
            subject: Subject::Bundle {
                id: bundle.id.clone(),
                items: state.items.clone(),
            },
            values: &values,
            identity: &identity,
            materials: &materials,
            delivery: DeliveryChoice::Station,
            commitment_accepted: true,
            signature: Some(signature()),
            assisted_by: None,
            confirmation: Confirmation::default(),
        };
        let app = build_application(d, &catalogue, &library).unwrap();
        assert_eq!(app.items.len(), 4);
        // Station for those that offer it, electronic for the registrations.
        let ways: Vec<Delivery> = app.items.iter().map(|i| i.delivery).collect();
        assert_eq!(
            ways,
            [
                Delivery::Station,
                Delivery::Electronic,
                Delivery::Station,
                Delivery::Electronic
            ]
        );
        assert!(app.fields.get("retire.date").is_none());
        assert!(app.commitment_accepted, "YB-005 is a 告知承诺 item");
        assert!(app.outstanding_materials().count() >= 2);
    }

    proptest! {
        #[test]
        fn a_built_application_never_has_a_key_material_missing(
            code_index in 0usize..40,
            states in proptest::collection::vec(0u8..5, 8),
            accepted in any::<bool>(),
        ) {
            let (catalogue, library) = fixtures();
            let service = &catalogue.services[code_index % catalogue.services.len()];
            let merged = merge(&item_forms(std::slice::from_ref(&service.code), &catalogue, &library));
            let values = fill(&merged);
            let identity = demo_identity();
            let materials: BTreeMap<String, MaterialState> = merged
                .materials
                .iter()
                .zip(states.iter().cycle())
                .map(|(m, s)| {
                    let state = [MaterialState::Provided, MaterialState::ECertFetched,
                        MaterialState::PendingVerification, MaterialState::Missing,
                        MaterialState::Committed][*s as usize];
                    (m.material.name.clone(), state)
                })
                .collect();
            let d = Draft {
                subject: Subject::Service { code: service.code.clone() },
                values: &values,
                identity: &identity,
                materials: &materials,
                delivery: if service.delivery.contains(&Delivery::Station) { DeliveryChoice::Station } else { DeliveryChoice::Electronic },
                commitment_accepted: accepted,
                signature: accepted.then(signature),
                assisted_by: None,
                confirmation: Confirmation::default(),
            };
            if let Ok(app) = build_application(d, &catalogue, &library) {
                for record in &app.materials {
                    prop_assert!(!(record.key && matches!(record.state, MaterialState::Missing | MaterialState::Committed)));
                    if record.state == MaterialState::Missing { prop_assert!(service.tolerant); }
                    if record.state == MaterialState::Committed { prop_assert!(service.commitment); }
                }
                if service.commitment { prop_assert!(app.commitment_accepted); }
            }
        }
    }
}

/// What happens after the receipt, in one sentence without the "下一步："
/// heading: where the result comes from (the chosen delivery), by when (the
/// service's time limit, as the guide states it), and first any material
/// still owed. Printed on the receipt and shown on screen, so a resident
/// leaves knowing what to do. (Derived here until the content carries its
/// own wording per service.)
pub fn next_step(delivery: Delivery, time_limit: &str, owes_materials: bool) -> Words {
    let time_limit = time_limit.trim();
    let (zh_when, en_when) = if time_limit.is_empty() {
        ("办好后".to_string(), "Once it is done".to_string())
    } else {
        (
            format!("办理时限：{time_limit}；办好后"),
            format!("Time limit: {time_limit}. Once it is done"),
        )
    };
    let (zh, en) = match delivery {
        Delivery::Station => (
            format!("{zh_when}，请带身份证和本回执到本服务站领取结果。"),
            format!("{en_when}, collect the result at this station; bring your ID card and this receipt."),
        ),
        Delivery::Mail => (
            format!("{zh_when}，结果免费邮寄到您填写的地址，不用再跑。"),
            format!("{en_when}, the result is mailed free to the address you gave; no need to come back."),
        ),
        Delivery::Electronic => (
            format!("{zh_when}，刷身份证在本终端查看或打印结果。"),
            format!("{en_when}, read your ID card at this terminal to see or print the result."),
        ),
    };
    if owes_materials {
        Words::new(
            format!("先把上面列出的材料交到服务窗口；{zh}"),
            format!("First hand the materials listed above in at the service window. {en}"),
        )
    } else {
        Words::new(zh, en)
    }
}

#[cfg(test)]
mod next_step_tests {
    use super::*;

    #[test]
    fn next_step_names_the_way_the_time_and_what_is_owed() {
        let station = next_step(Delivery::Station, "5个工作日", false);
        assert_eq!(
            station.zh(),
            "办理时限：5个工作日；办好后，请带身份证和本回执到本服务站领取结果。"
        );
        assert!(station
            .en()
            .starts_with("Time limit: 5个工作日. Once it is done"));
        let mail = next_step(Delivery::Mail, "", true);
        assert!(mail
            .zh()
            .starts_with("先把上面列出的材料交到服务窗口；办好后"));
        assert!(mail.zh().contains("邮寄"));
        assert!(next_step(Delivery::Electronic, "1个工作日", false)
            .zh()
            .contains("刷身份证在本终端"));
    }
}

#[cfg(test)]
mod agent_tests {
    use super::*;
    use crate::form::tests::{demo_identity, with_check};

    fn person(first17: &str, birth_date: &str) -> Identity {
        let mut p = demo_identity();
        p.id_number = with_check(first17);
        p.birth_date = birth_date.into();
        p
    }

    #[test]
    fn ages_count_whole_years_on_the_station_date() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(age_on("2008-12-05", day(2026, 12, 5)), Some(18));
        assert_eq!(age_on("2008-12-06", day(2026, 12, 5)), Some(17));
        assert_eq!(age_on("not a date", day(2026, 12, 5)), None);
    }

    #[test]
    fn who_may_act_for_whom() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let adult = person("11010119800101123", "1980-01-01");
        let elder = person("11010119450101123", "1945-01-01");
        let child = person("11010120150101123", "2015-01-01");
        let teen = person("11010120100101123", "2010-01-01");
        assert!(agent_refusal(&adult, &elder, "子女", today).is_none());
        assert!(agent_refusal(&adult, &child, "父母", today).is_none());
        assert!(agent_refusal(&adult, &child, "其他亲属", today).is_none());
        let said = |r: Option<Words>| r.map(|w| w.zh().to_string()).unwrap_or_default();
        assert!(said(agent_refusal(&adult, &adult, "子女", today)).contains("本人"));
        assert!(said(agent_refusal(&teen, &elder, "子女", today)).contains("未满18周岁"));
        assert!(said(agent_refusal(&adult, &child, "受委托人", today)).contains("监护人"));
        assert!(said(agent_refusal(&adult, &elder, "朋友", today)).contains("关系"));
    }
}
