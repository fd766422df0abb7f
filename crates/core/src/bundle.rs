//! 一件事 bundles (一链办理): one life event spanning several catalogue items.
//!
//! A short progressive questionnaire (递进式问卷) decides which items apply to
//! this resident; then the forms of those items are merged into one form
//! (a semantic key is asked once) and their materials into one list
//! ("一张表单、一套材料").
//!
//! Merge rules, chosen so that the result does not depend on the order the
//! items come in, only on which items they are:
//! - **fields** are keyed by semantic key. Required if any item requires it;
//!   the largest `min_len` and the smallest `max_len` win (strictest
//!   validation), but `max_len` is never pushed below `min_len`, so the
//!   merged field can always be satisfied; a choice keeps only the choices
//!   every item accepts (all of them if that would leave none); `digits` if
//!   any item wants digits; kind, label and hint come from the variant with
//!   the strictest kind, then the lexically first label, so that the same
//!   items always give the same wording whatever their order.
//! - **materials** are keyed by their name as written in the catalogue
//!   (trimmed). Key if any item marks it key (it can then never be missing);
//!   replaceable by an e-certificate only if every item accepts the
//!   e-certificate (if one item wants the paper, the paper is needed);
//!   differing copies or notes are kept, distinct and sorted, joined by "；".
//! - every merged field and material records which items asked for it.
//! - order: fields are grouped by the part of the key before the dot in a
//!   fixed order (applicant first, then child, spouse, guardian …, unknown
//!   groups last by name), and within a group by key; materials key first,
//!   then by name. A stable order that needs no ranking between items.

use crate::catalogue::{Catalogue, Material, Service};
use crate::form::{FieldKind, FieldSpec, FormLibrary, FormSchema};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const BUNDLES_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCatalogue {
    pub schema: u32,
    #[serde(default)]
    pub demo_data: bool,
    pub bundles: Vec<Bundle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub summary: String,
    /// Every item the bundle can lead to, in the order they are handled.
    pub items: Vec<String>,
    /// Items that apply before any answer; answers add or remove others.
    pub base_items: Vec<String>,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_en: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help_en: String,
    pub options: Vec<AnswerOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub value: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label_en: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removes: Vec<String>,
    /// Follow-up questions this answer brings up; they come later in the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reveals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle list is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error(
        "bundle schema {found} is newer than this kiosk understands ({BUNDLES_SCHEMA_VERSION})"
    )]
    UnsupportedSchema { found: u32 },
    #[error("bundle list is inconsistent: {0}")]
    Inconsistent(String),
}

impl BundleCatalogue {
    /// Parse and check bundles against the catalogue they point into.
    pub fn from_json(text: &str, catalogue: &Catalogue) -> Result<BundleCatalogue, BundleError> {
        let doc: BundleCatalogue =
            serde_json::from_str(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
        doc.check(catalogue)?;
        Ok(doc)
    }

    /// Every consistency rule, against the catalogue the bundles point into.
    pub fn check(&self, catalogue: &Catalogue) -> Result<(), BundleError> {
        let doc = self;
        if doc.schema > BUNDLES_SCHEMA_VERSION {
            return Err(BundleError::UnsupportedSchema { found: doc.schema });
        }
        let mut ids = BTreeSet::new();
        for bundle in &doc.bundles {
            if !ids.insert(bundle.id.as_str()) {
                return Err(BundleError::Inconsistent(format!(
                    "bundle {} appears twice",
                    bundle.id
                )));
            }
            bundle.check(catalogue)?;
        }
        Ok(())
    }

    pub fn bundle(&self, id: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.id == id)
    }
}

/// The resident's answers, by question id; only the answers to questions
/// currently shown count.
pub type Answers = BTreeMap<String, String>;

/// Where the questionnaire stands after some answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionnaireState<'a> {
    /// The questions to show now, in order (answered and not).
    pub visible: Vec<&'a Question>,
    /// The first visible question without a valid answer; `None` when done.
    pub next: Option<&'a Question>,
    /// The items that apply given the answers so far, in bundle order.
    pub items: Vec<String>,
}

impl Bundle {
    fn check(&self, catalogue: &Catalogue) -> Result<(), BundleError> {
        let bad = |why: String| {
            Err(BundleError::Inconsistent(format!(
                "bundle {}: {why}",
                self.id
            )))
        };
        if self.items.len() < 2 {
            return bad("a bundle spans at least two items".into());
        }
        let items: BTreeSet<&str> = self.items.iter().map(String::as_str).collect();
        if items.len() != self.items.len() {
            return bad("an item is listed twice".into());
        }
        for code in &self.items {
            if catalogue.service(code).is_none() {
                return bad(format!("item {code} is not in the catalogue"));
            }
        }
        for code in &self.base_items {
            if !items.contains(code.as_str()) {
                return bad(format!("base item {code} is not one of its items"));
            }
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, q) in self.questions.iter().enumerate() {
            if seen.insert(q.id.as_str(), i).is_some() {
                return bad(format!("question {} appears twice", q.id));
            }
            if q.options.len() < 2 {
                return bad(format!("question {} needs at least two answers", q.id));
            }
        }
        let mut revealed = BTreeSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            let mut values = BTreeSet::new();
            for option in &q.options {
                if !values.insert(option.value.as_str()) {
                    return bad(format!("question {} lists {} twice", q.id, option.value));
                }
                for code in option.adds.iter().chain(&option.removes) {
                    if !items.contains(code.as_str()) {
                        return bad(format!(
                            "question {} names item {code} outside the bundle",
                            q.id
                        ));
                    }
                }
                for follow_up in &option.reveals {
                    // Only later questions may be revealed: the questionnaire
                    // then always ends, and is evaluated in one pass.
                    match seen.get(follow_up.as_str()) {
                        Some(&j) if j > i => {
                            revealed.insert(follow_up.as_str());
                        }
                        _ => {
                            return bad(format!(
                                "question {} reveals {follow_up}, which is not a later question",
                                q.id
                            ))
                        }
                    }
                }
            }
        }
        if self
            .questions
            .iter()
            .all(|q| revealed.contains(q.id.as_str()))
            && !self.questions.is_empty()
        {
            return bad("no question is shown first".into());
        }
        Ok(())
    }

    fn revealed_ids(&self) -> BTreeSet<&str> {
        self.questions
            .iter()
            .flat_map(|q| &q.options)
            .flat_map(|o| &o.reveals)
            .map(String::as_str)
            .collect()
    }

    /// Walk the questionnaire with the answers given so far.
    pub fn evaluate(&self, answers: &Answers) -> QuestionnaireState<'_> {
        let follow_ups = self.revealed_ids();
        let mut shown: BTreeSet<&str> = self
            .questions
            .iter()
            .map(|q| q.id.as_str())
            .filter(|id| !follow_ups.contains(id))
            .collect();
        let mut applying: BTreeSet<&str> = self.base_items.iter().map(String::as_str).collect();
        let mut visible = Vec::new();
        let mut next = None;
        // Questions only reveal later ones (checked on load), so one pass in
        // list order sees every reveal before the revealed question.
        for question in &self.questions {
            if !shown.contains(question.id.as_str()) {
                continue;
            }
            visible.push(question);
            let chosen = answers
                .get(&question.id)
                .and_then(|a| question.options.iter().find(|o| &o.value == a));
            match chosen {
                Some(option) => {
                    applying.extend(option.adds.iter().map(String::as_str));
                    for code in &option.removes {
                        applying.remove(code.as_str());
                    }
                    shown.extend(option.reveals.iter().map(String::as_str));
                }
                None => {
                    if next.is_none() {
                        next = Some(question);
                    }
                }
            }
        }
        let items = self
            .items
            .iter()
            .filter(|code| applying.contains(code.as_str()))
            .cloned()
            .collect();
        QuestionnaireState {
            visible,
            next,
            items,
        }
    }
}

// ---------------------------------------------------------------------------
// Merge

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedField {
    pub spec: FieldSpec,
    /// Service codes that ask for this field, sorted.
    pub asked_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedMaterial {
    pub material: Material,
    /// Service codes that ask for this material, sorted.
    pub asked_by: Vec<String>,
}

/// One form and one material list for the items that apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedForm {
    pub items: Vec<String>,
    pub fields: Vec<MergedField>,
    pub materials: Vec<MergedMaterial>,
}

impl MergedForm {
    /// The merged form as a plain schema, for validation and prefill.
    pub fn schema(&self) -> FormSchema {
        FormSchema {
            fields: self.fields.iter().map(|f| f.spec.clone()).collect(),
        }
    }

    pub fn material(&self, name: &str) -> Option<&MergedMaterial> {
        self.materials
            .iter()
            .find(|m| m.material.name == name.trim())
    }
}

/// What one item contributes to the merge.
#[derive(Debug, Clone, Copy)]
pub struct ItemForm<'a> {
    pub code: &'a str,
    pub schema: &'a FormSchema,
    pub materials: &'a [Material],
}

/// The forms of the items of a service list, from the library and catalogue.
/// Unknown codes are skipped: a bundle is checked against the catalogue on
/// load, so this only happens with a catalogue swapped underneath.
pub fn item_forms<'a>(
    codes: &[String],
    catalogue: &'a Catalogue,
    library: &'a FormLibrary,
) -> Vec<ItemForm<'a>> {
    codes
        .iter()
        .filter_map(|code| catalogue.service(code))
        .map(|service: &Service| ItemForm {
            code: &service.code,
            schema: library.schema_for(&service.code),
            materials: &service.materials,
        })
        .collect()
}

/// Merge the forms and materials of the items (see the module doc for rules).
/// An item listed twice counts once.
pub fn merge(items: &[ItemForm<'_>]) -> MergedForm {
    let mut fields: BTreeMap<&str, (Vec<&FieldSpec>, BTreeSet<&str>)> = BTreeMap::new();
    let mut materials: BTreeMap<String, (Vec<&Material>, BTreeSet<&str>)> = BTreeMap::new();
    let mut codes = BTreeSet::new();
    for item in items {
        if !codes.insert(item.code) {
            continue;
        }
        for spec in &item.schema.fields {
            let entry = fields.entry(spec.key.as_str()).or_default();
            entry.0.push(spec);
            entry.1.insert(item.code);
        }
        for material in item.materials {
            let name = material.name.trim().to_string();
            let entry = materials.entry(name).or_default();
            entry.0.push(material);
            entry.1.insert(item.code);
        }
    }
    let mut merged_fields: Vec<MergedField> = fields
        .into_values()
        .map(|(specs, asked_by)| MergedField {
            spec: merge_specs(&specs),
            asked_by: asked_by.into_iter().map(String::from).collect(),
        })
        .collect();
    merged_fields.sort_by(|a, b| field_order(&a.spec.key).cmp(&field_order(&b.spec.key)));
    let mut merged_materials: Vec<MergedMaterial> = materials
        .into_iter()
        .map(|(name, (variants, asked_by))| MergedMaterial {
            material: merge_materials(name, &variants),
            asked_by: asked_by.into_iter().map(String::from).collect(),
        })
        .collect();
    merged_materials.sort_by(|a, b| {
        b.material
            .key
            .cmp(&a.material.key)
            .then_with(|| a.material.name.cmp(&b.material.name))
    });
    MergedForm {
        items: codes.into_iter().map(String::from).collect(),
        fields: merged_fields,
        materials: merged_materials,
    }
}

/// Who the field is about decides where it goes on the form.
const GROUP_ORDER: [&str; 10] = [
    "applicant",
    "child",
    "spouse",
    "guardian",
    "disability",
    "retire",
    "household",
    "insurance",
    "bank",
    "delivery",
];

fn field_order(key: &str) -> (usize, &str, &str) {
    let group = key.split('.').next().unwrap_or(key);
    let rank = GROUP_ORDER
        .iter()
        .position(|g| *g == group)
        .unwrap_or(GROUP_ORDER.len());
    // The applicant's identity fields first, in the order of the card.
    let within = match key {
        "applicant.name" => "0",
        "applicant.id_number" => "1",
        "applicant.gender" => "2",
        "applicant.birth_date" => "3",
        "applicant.phone" => "4",
        "applicant.address" => "5",
        _ => key,
    };
    (rank, group, within)
}

fn kind_strictness(kind: FieldKind) -> u8 {
    // When two items disagree on the kind of a key (a data error the form
    // library cannot produce, but a merge must still answer), the kind with
    // the tighter validation wins.
    match kind {
        FieldKind::IdNumber => 0,
        FieldKind::Phone => 1,
        FieldKind::Date => 2,
        FieldKind::YesNo => 3,
        FieldKind::Choice => 4,
        FieldKind::Address => 5,
        FieldKind::Text => 6,
    }
}

fn merge_specs(specs: &[&FieldSpec]) -> FieldSpec {
    let first = specs
        .iter()
        .min_by(|a, b| {
            (kind_strictness(a.kind), &a.label, &a.hint).cmp(&(
                kind_strictness(b.kind),
                &b.label,
                &b.hint,
            ))
        })
        .expect("a merged field has at least one variant");
    let mut spec = (*first).clone();
    spec.required = specs.iter().any(|s| s.required);
    spec.digits = specs.iter().any(|s| s.digits);
    // Asked unconditionally if one item asks it so; otherwise when any
    // item's condition holds.
    spec.when = if specs.iter().any(|s| s.when.is_none()) {
        None
    } else {
        let mut distinct: Vec<crate::form::Condition> = Vec::new();
        for c in specs.iter().filter_map(|s| s.when.clone()) {
            if !distinct.contains(&c) {
                distinct.push(c);
            }
        }
        if distinct.len() == 1 {
            distinct.pop()
        } else {
            Some(crate::form::Condition::AnyOf(distinct))
        }
    };
    spec.min_len = specs.iter().filter_map(|s| s.min_len).max();
    spec.max_len = specs.iter().filter_map(|s| s.max_len).min();
    if let (Some(min), Some(max)) = (spec.min_len, spec.max_len) {
        spec.max_len = Some(max.max(min));
    }
    if spec.kind == FieldKind::Choice {
        let same_kind: Vec<&&FieldSpec> = specs
            .iter()
            .filter(|s| s.kind == FieldKind::Choice)
            .collect();
        let common: Vec<String> = spec
            .choices
            .iter()
            .filter(|c| same_kind.iter().all(|s| s.choices.contains(c)))
            .cloned()
            .collect();
        if !common.is_empty() {
            spec.choices = common;
        }
    }
    spec
}

fn merge_materials(name: String, variants: &[&Material]) -> Material {
    let joined = |pick: fn(&Material) -> &str| {
        let distinct: BTreeSet<&str> = variants
            .iter()
            .map(|m| pick(m).trim())
            .filter(|s| !s.is_empty())
            .collect();
        distinct.into_iter().collect::<Vec<_>>().join("；")
    };
    Material {
        name,
        copies: joined(|m| &m.copies),
        key: variants.iter().any(|m| m.key),
        e_cert: variants.iter().all(|m| m.e_cert),
        note: joined(|m| &m.note),
        // Owed once for every item: by the earliest of their times.
        owed_within_days: variants.iter().filter_map(|m| m.owed_within_days).min(),
        // A state is offered only if every item that lists states allows it
        // (the strictest wins, as for e_cert); items that list none follow
        // the rule of the flags and do not narrow it.
        states: {
            let mut lists = variants.iter().filter(|m| !m.states.is_empty());
            match lists.next() {
                None => Vec::new(),
                Some(first) => {
                    let rest: Vec<&&Material> = lists.collect();
                    first
                        .states
                        .iter()
                        .copied()
                        .filter(|s| rest.iter().all(|m| m.states.contains(s)))
                        .collect()
                }
            }
        },
    }
}

/// The whole path for a bundle: answers → applying items → merged form.
pub fn merged_for_answers(
    bundle: &Bundle,
    answers: &Answers,
    catalogue: &Catalogue,
    library: &FormLibrary,
) -> MergedForm {
    let state = bundle.evaluate(answers);
    merge(&item_forms(&state.items, catalogue, library))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixtures() -> (Catalogue, FormLibrary, BundleCatalogue) {
        let catalogue = Catalogue::demo();
        let bundles = BundleCatalogue::demo(&catalogue);
        (catalogue, FormLibrary::demo(), bundles)
    }

    fn answers(pairs: &[(&str, &str)]) -> Answers {
        pairs
            .iter()
            .map(|(q, a)| (q.to_string(), a.to_string()))
            .collect()
    }

    #[test]
    fn three_demo_bundles_over_several_items() {
        let (_, _, bundles) = fixtures();
        for id in ["newborn", "retirement", "disability"] {
            let bundle = bundles.bundle(id).unwrap_or_else(|| panic!("{id}"));
            assert!(bundle.items.len() >= 3, "{id}");
            assert!(bundle.name.ends_with("一件事"), "{id}");
        }
    }

    #[test]
    fn newborn_questionnaire_is_progressive() {
        let (catalogue, library, bundles) = fixtures();
        let bundle = bundles.bundle("newborn").unwrap();
        let start = bundle.evaluate(&Answers::new());
        assert_eq!(start.next.map(|q| q.id.as_str()), Some("hukou"));
        assert!(!start.visible.iter().any(|q| q.id == "sb_card"));
        assert_eq!(start.items, vec!["DEMO-HJ-001".to_string()]);

        let partial = bundle.evaluate(&answers(&[("hukou", "father"), ("medical", "yes")]));
        assert!(
            partial.visible.iter().any(|q| q.id == "sb_card"),
            "the follow-up is revealed"
        );
        assert_eq!(partial.next.map(|q| q.id.as_str()), Some("sb_card"));

        let done = answers(&[
            ("hukou", "father"),
            ("medical", "yes"),
            ("sb_card", "yes"),
            ("maternity", "yes"),
        ]);
        let state = bundle.evaluate(&done);
        assert!(state.next.is_none());
        assert_eq!(
            state.items,
            ["DEMO-HJ-001", "DEMO-YB-001", "DEMO-SB-001", "DEMO-YB-005"].map(String::from)
        );

        // Changing an earlier answer hides its follow-up and drops what the
        // follow-up's answer added, even though that answer is still stored.
        let mut changed = done.clone();
        changed.insert("medical".into(), "no".into());
        changed.insert("hukou".into(), "later".into());
        let state = bundle.evaluate(&changed);
        assert!(!state.visible.iter().any(|q| q.id == "sb_card"));
        assert_eq!(state.items, vec!["DEMO-YB-005".to_string()]);

        let merged = merged_for_answers(bundle, &done, &catalogue, &library);
        let keys: Vec<&str> = merged.fields.iter().map(|f| f.spec.key.as_str()).collect();
        assert_eq!(
            &keys[..3],
            &["applicant.name", "applicant.id_number", "applicant.gender"]
        );
        let name = merged
            .fields
            .iter()
            .find(|f| f.spec.key == "applicant.name")
            .unwrap();
        assert_eq!(name.asked_by.len(), 4, "asked by every item, shown once");
        let birth = merged
            .fields
            .iter()
            .find(|f| f.spec.key == "child.birth_date")
            .unwrap();
        assert_eq!(
            birth.asked_by,
            ["DEMO-HJ-001", "DEMO-YB-001", "DEMO-YB-005"].map(String::from)
        );
        let cert = merged.material("出生医学证明").unwrap();
        assert!(cert.material.key);
        assert_eq!(cert.asked_by.len(), 3);
    }

    #[test]
    fn stricter_settings_win_in_the_merge() {
        let (catalogue, library, bundles) = fixtures();
        let bundle = bundles.bundle("retirement").unwrap();
        let all = answers(&[
            ("fund", "yes"),
            ("residence", "elsewhere"),
            ("medical_abroad", "yes"),
            ("proof", "yes"),
        ]);
        let merged = merged_for_answers(bundle, &all, &catalogue, &library);
        let account = merged
            .fields
            .iter()
            .find(|f| f.spec.key == "bank.account")
            .unwrap();
        assert_eq!(
            account.spec.min_len,
            Some(16),
            "GJJ-003 wants at least 16 digits"
        );
        assert!(account.spec.digits && account.spec.required);

        let disability = bundles.bundle("disability").unwrap();
        let merged = merged_for_answers(
            disability,
            &answers(&[
                ("certificate", "renew"),
                ("low_income", "yes"),
                ("extreme", "no"),
                ("severe", "yes"),
                ("aid", "no"),
            ]),
            &catalogue,
            &library,
        );
        let cert_no = merged
            .fields
            .iter()
            .find(|f| f.spec.key == "disability.cert_no")
            .unwrap();
        assert!(
            cert_no.spec.required,
            "CL-002 requires it though CL-003/004 do not"
        );
        // 残疾人证 is an e-certificate for CL-003 and CL-004.
        let card = merged.material("残疾人证").unwrap();
        assert!(card.material.e_cert && card.material.key);
    }

    #[test]
    fn paper_is_needed_if_any_item_wants_paper() {
        let m = |e_cert, key| Material {
            name: " 户口簿 ".into(),
            copies: "原件".into(),
            key,
            e_cert,
            note: String::new(),
            states: Vec::new(),
            owed_within_days: None,
        };
        let schema = FormSchema { fields: vec![] };
        let a = [m(true, false)];
        let b = [m(false, true)];
        let merged = merge(&[
            ItemForm {
                code: "A",
                schema: &schema,
                materials: &a,
            },
            ItemForm {
                code: "B",
                schema: &schema,
                materials: &b,
            },
        ]);
        assert_eq!(merged.materials.len(), 1);
        let only = &merged.materials[0].material;
        assert_eq!(only.name, "户口簿");
        assert!(only.key && !only.e_cert);
        assert_eq!(only.copies, "原件");
    }

    #[test]
    fn bad_bundles_are_refused() {
        let catalogue = Catalogue::demo();
        let doc = |questions: &str| {
            format!(
                r#"{{"schema":1,"bundles":[{{"id":"b","name":"x","name_en":"x","summary":"",
                "items":["DEMO-HJ-001","DEMO-YB-001"],"base_items":[],"questions":[{questions}]}}]}}"#
            )
        };
        let ok = doc(
            r#"{"id":"a","text":"?","options":[{"value":"yes","label":"是","adds":["DEMO-HJ-001"]},{"value":"no","label":"否"}]}"#,
        );
        assert!(BundleCatalogue::from_json(&ok, &catalogue).is_ok());
        let outside = doc(
            r#"{"id":"a","text":"?","options":[{"value":"yes","label":"是","adds":["DEMO-SB-001"]},{"value":"no","label":"否"}]}"#,
        );
        let backwards = doc(
            r#"{"id":"a","text":"?","options":[{"value":"yes","label":"是"},{"value":"no","label":"否"}]},
               {"id":"b","text":"?","options":[{"value":"yes","label":"是","reveals":["a"]},{"value":"no","label":"否"}]}"#,
        );
        let one_option = doc(r#"{"id":"a","text":"?","options":[{"value":"yes","label":"是"}]}"#);
        for bad in [outside, backwards, one_option, "[]".into()] {
            assert!(
                BundleCatalogue::from_json(&bad, &catalogue).is_err(),
                "{bad}"
            );
        }
    }

    fn demo_codes() -> Vec<String> {
        Catalogue::demo()
            .services
            .iter()
            .map(|s| s.code.clone())
            .collect()
    }

    proptest! {
        #[test]
        fn merge_laws_hold_for_any_set_of_items(
            picks in proptest::sample::subsequence(demo_codes(), 0..8),
            seed in any::<u64>(),
        ) {
            let catalogue = Catalogue::demo();
            let library = FormLibrary::demo();
            let forms = item_forms(&picks, &catalogue, &library);
            let merged = merge(&forms);

            // Order-independent: any shuffle of the items gives the same result.
            let mut shuffled = forms.clone();
            let n = shuffled.len().max(1);
            for i in 0..shuffled.len() {
                shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n);
            }
            prop_assert_eq!(&merge(&shuffled), &merged);

            // Idempotent: merging the merge with itself changes nothing, and
            // listing the items twice changes nothing.
            let again_schema = merged.schema();
            let again_materials: Vec<Material> = merged.materials.iter().map(|m| m.material.clone()).collect();
            let remerged = merge(&[ItemForm { code: "MERGED", schema: &again_schema, materials: &again_materials }]);
            let specs = |m: &MergedForm| m.fields.iter().map(|f| f.spec.clone()).collect::<Vec<_>>();
            prop_assert_eq!(specs(&remerged), specs(&merged));
            let mats = |m: &MergedForm| m.materials.iter().map(|f| f.material.clone()).collect::<Vec<_>>();
            prop_assert_eq!(mats(&remerged), mats(&merged));
            let doubled: Vec<ItemForm> = forms.iter().chain(forms.iter()).copied().collect();
            prop_assert_eq!(&merge(&doubled), &merged);

            // No key asked twice; no material listed twice.
            let keys: BTreeSet<&str> = merged.fields.iter().map(|f| f.spec.key.as_str()).collect();
            prop_assert_eq!(keys.len(), merged.fields.len());
            let names: BTreeSet<&str> = merged.materials.iter().map(|m| m.material.name.as_str()).collect();
            prop_assert_eq!(names.len(), merged.materials.len());

            // Every field and material of every item is covered, at least
            // as strictly, and records who asked.
            for item in &forms {
                for spec in &item.schema.fields {
                    let field = merged.fields.iter().find(|f| f.spec.key == spec.key).unwrap();
                    prop_assert!(field.asked_by.iter().any(|c| c == item.code));
                    prop_assert!(field.spec.required || !spec.required);
                    prop_assert!(field.spec.min_len >= spec.min_len);
                }
                for material in item.materials {
                    let found = merged.material(&material.name).unwrap();
                    prop_assert!(found.asked_by.iter().any(|c| c == item.code));
                    prop_assert!(found.material.key || !material.key);
                    prop_assert!(material.e_cert || !found.material.e_cert);
                }
            }
        }

        #[test]
        fn questionnaires_stay_inside_the_bundle(
            which in 0usize..3,
            raw in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
        ) {
            let (_, _, bundles) = fixtures();
            let bundle = &bundles.bundles[which % bundles.bundles.len()];
            // Any answers at all, shown or not, valid or not.
            let answers: Answers = raw
                .iter()
                .map(|(q, o)| {
                    let question = &bundle.questions[q % bundle.questions.len()];
                    let value = question.options.get(o % (question.options.len() + 1))
                        .map_or_else(|| "nonsense".to_string(), |opt| opt.value.clone());
                    (question.id.clone(), value)
                })
                .collect();
            let state = bundle.evaluate(&answers);
            prop_assert!(state.items.iter().all(|c| bundle.items.contains(c)));
            prop_assert!(state.visible.len() <= bundle.questions.len());
            if let Some(next) = state.next {
                prop_assert!(state.visible.iter().any(|q| q.id == next.id));
            }
        }

        #[test]
        fn answering_every_shown_question_finishes_the_questionnaire(which in 0usize..3, choice in any::<u64>()) {
            let (_, _, bundles) = fixtures();
            let bundle = &bundles.bundles[which % bundles.bundles.len()];
            let mut answers = Answers::new();
            let mut steps = 0;
            while let Some(next) = bundle.evaluate(&answers).next {
                let option = &next.options[(choice as usize + steps) % next.options.len()];
                answers.insert(next.id.clone(), option.value.clone());
                steps += 1;
                prop_assert!(steps <= bundle.questions.len());
            }
        }
    }
}
