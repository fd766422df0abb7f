//! The application being put together in one session, from 我要办理 to
//! submit. Each method is one thing the resident did; each answers whether
//! it was accepted, and the views say what the screen shows next.

use crate::editor::{Editing, EditorView, NO_WORDS, YES_WORDS};
use crate::paging::{pages, turn};
use crate::signature::SignatureCapture;
use crate::Content;
use bianmin_core::application::{
    build_application, certificate_matches, offered_material_states, Application, Confirmation,
    DeliveryChoice, MaterialState, Subject,
};
use bianmin_core::bundle::{item_forms, merge, Answers, MergedField, MergedForm, Question};
use bianmin_core::catalogue::{Delivery, Service};
use bianmin_core::form::{validate_field, FieldKind, FieldSpec, FormValues, Identity, NO, YES};
use bianmin_core::words::{count_en, Words};
use std::collections::{BTreeMap, BTreeSet};

/// The signature pad's drawing area until the pad reports its own, on the
/// first touch (it depends on the theme and the panel).
const SIGNATURE_PAD: (f32, f32) = (720.0, 260.0);

/// The application being put together in this session.
pub struct Draft {
    subject: Subject,
    /// The catalogue's name of what is applied for: printed on the receipt.
    title: String,
    /// The catalogue's English name, shown in English mode when it has one.
    title_en: String,
    time_limit: String,
    /// Set for a 一件事 bundle: its id and the answers so far.
    bundle: Option<String>,
    answers: Answers,
    merged: MergedForm,
    values: FormValues,
    prefilled: BTreeSet<String>,
    /// Errors are shown only once the resident tried to go on (or edited the field).
    errors: BTreeMap<String, Words>,
    field_page: usize,
    editing: Option<Editing>,
    materials: BTreeMap<String, MaterialState>,
    material_page: usize,
    summary_page: usize,
    /// E-certificate titles the platform holds for this resident; `None`
    /// until it answered (or when offline: then e-certificates are 待核验).
    certificates: Option<Vec<String>>,
    delivery: Option<Delivery>,
    committed: bool,
    signature: SignatureCapture,
    submitting: bool,
    /// 代办: the declaration the agent signs under, after the commitment.
    proxy_declaration: Option<Words>,
}

/// The subject code of the 代办 step that asks whom the agent acts for.
pub const PRINCIPAL_CODE: &str = "_principal";

/// The named steps of a journey, in order. A 一件事 starts with its
/// questions; every journey ends by reviewing what will be submitted and
/// signing under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Questions,
    Form,
    Materials,
    Delivery,
    Review,
    Commitment,
}

impl Step {
    /// The step's short name on the step bar.
    pub fn name(self) -> Words {
        match self {
            Step::Questions => Words::fixed("回答问题", "Questions"),
            Step::Form => Words::fixed("填写信息", "Details"),
            Step::Materials => Words::fixed("申请材料", "Materials"),
            Step::Delivery => Words::fixed("结果送达", "Delivery"),
            Step::Review => Words::fixed("核对信息", "Check"),
            Step::Commitment => Words::fixed("签名确认", "Sign"),
        }
    }
}

/// One line of the summary the resident checks before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub label: Words,
    pub value: Words,
}

/// The questionnaire of a 一件事 as the screen shows it.
pub struct QuestionsView<'a> {
    pub title: String,
    /// The question to answer now; `None` when all are answered.
    pub next: Option<&'a Question>,
    /// "question：answer" of every question answered so far.
    pub answered: Vec<String>,
    /// The services the answers so far apply for.
    pub items: Vec<String>,
    /// How many questions show now (answers may bring up follow-ups).
    pub shown: usize,
}

/// One field of the form as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldView {
    pub key: String,
    pub label: String,
    /// The value, or 是 / 否 in the screen's language for a yes/no field.
    pub value: String,
    pub error: String,
    pub hint: String,
    pub required: bool,
    /// Filled from the ID card: the resident only has to confirm it.
    pub prefilled: bool,
}

/// What the desk needs to queue the application and print its receipt.
pub struct ReadyToSubmit {
    pub application: Application,
    pub title: String,
    pub time_limit: String,
}

/// A material still owed or to be checked, printed on the receipt screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub name: String,
    pub state: MaterialState,
}

/// How the screen words each way of providing a material.
pub fn material_choice_words(state: MaterialState) -> Words {
    match state {
        MaterialState::Provided => {
            Words::fixed("已带来，交给工作人员", "Brought it; I hand it to staff")
        }
        MaterialState::ECertFetched => Words::fixed("用电子证照", "Use the e-certificate"),
        MaterialState::PendingVerification => Words::fixed(
            "用电子证照（待核验）",
            "Use the e-certificate (to be verified)",
        ),
        MaterialState::Missing => Words::fixed("暂缺，容缺后补", "Not with me; I hand it in later"),
        MaterialState::Committed => Words::fixed("以告知承诺代替", "Replace it by my commitment"),
    }
}

impl Draft {
    fn new(subject: Subject, title: &str, title_en: &str, merged: MergedForm) -> Draft {
        let bundle = match &subject {
            Subject::Bundle { id, .. } => Some(id.clone()),
            Subject::Service { .. } => None,
        };
        Draft {
            subject,
            title: title.to_string(),
            title_en: title_en.to_string(),
            time_limit: String::new(),
            bundle,
            answers: Answers::new(),
            merged,
            values: FormValues::new(),
            prefilled: BTreeSet::new(),
            errors: BTreeMap::new(),
            field_page: 0,
            editing: None,
            materials: BTreeMap::new(),
            material_page: 0,
            summary_page: 0,
            certificates: None,
            delivery: None,
            committed: false,
            signature: SignatureCapture::new(SIGNATURE_PAD.0, SIGNATURE_PAD.1),
            submitting: false,
            proxy_declaration: None,
        }
    }

    /// 代办's first step: whom the agent acts for — name and ID number
    /// (typed, GB 11643-checked) and how they are related — on the form's
    /// own keyboards and checks.
    pub fn for_principal() -> Draft {
        let field = |key: &str, label: &str, label_en: &str, kind: FieldKind| FieldSpec {
            key: key.to_string(),
            label: label.to_string(),
            kind,
            required: true,
            min_len: None,
            max_len: None,
            choices: Vec::new(),
            digits: false,
            hint: String::new(),
            label_en: label_en.to_string(),
            hint_en: String::new(),
            prefill: None,
            when: None,
        };
        let mut name = field(
            "principal.name",
            "被代办人姓名",
            "Name of the person you act for",
            FieldKind::Text,
        );
        name.min_len = Some(2);
        name.max_len = Some(20);
        let id_number = field(
            "principal.id_number",
            "被代办人公民身份号码",
            "Their citizen ID number",
            FieldKind::IdNumber,
        );
        let mut relation = field(
            "principal.relation",
            "您是被代办人的",
            "You are their",
            FieldKind::Choice,
        );
        relation.choices = bianmin_core::application::RELATIONSHIPS
            .iter()
            .map(|r| r.to_string())
            .collect();
        let schema = bianmin_core::form::FormSchema {
            fields: vec![name, id_number, relation],
        };
        let merged = merge(&[bianmin_core::bundle::ItemForm {
            code: PRINCIPAL_CODE,
            schema: &schema,
            materials: &[],
        }]);
        Draft::new(
            Subject::Service {
                code: PRINCIPAL_CODE.to_string(),
            },
            "代办：被代办人信息",
            "Acting for someone: who they are",
            merged,
        )
    }

    /// This is 代办's first step (see [`Draft::for_principal`]).
    pub fn is_principal(&self) -> bool {
        self.subject_code() == PRINCIPAL_CODE
    }

    /// Whom the agent typed (name, number, and birth date and sex read from
    /// the number) and the relationship; `None` until the form checks.
    pub fn principal(&self) -> Option<(Identity, String)> {
        let name = self.value("principal.name")?;
        let id_number = self.value("principal.id_number")?;
        let relation = self.value("principal.relation")?.trim().to_string();
        if name.trim().chars().count() < 2 {
            return None;
        }
        let identity = Identity::from_number(
            name,
            id_number,
            "",
            bianmin_core::form::IdentitySource::Typed,
        )?;
        Some((identity, relation))
    }

    /// The applicant's card was read during 代办's first step: its name and
    /// number fill the step (the relationship is the agent's to say).
    pub fn name_principal(&mut self, name: &str, id_number: &str) {
        for (key, value) in [("principal.name", name), ("principal.id_number", id_number)] {
            self.values.set(key, value);
            self.prefilled.insert(key.to_string());
            self.errors.remove(key);
        }
    }

    /// 代办: the form's 监护人或代办人 fields come from the agent, and the
    /// agent signs `declaration` under the commitment.
    pub fn set_proxy(&mut self, agent: &Identity, relation: &str, declaration: Words) {
        for (key, value) in [
            ("guardian.name", agent.name.as_str()),
            ("guardian.id_number", agent.id_number.as_str()),
            ("guardian.relation", relation),
        ] {
            if self.spec(key).is_some() && self.values.get(key).is_none_or(str::is_empty) {
                self.values.set(key, value);
                self.prefilled.insert(key.to_string());
            }
        }
        self.proxy_declaration = Some(declaration);
    }

    /// 我要办理 on one service's guide; `None` for a code not in the catalogue.
    pub fn for_service(content: Content<'_>, code: &str) -> Option<Draft> {
        let service = content.catalogue.service(code)?;
        let merged = merge(&item_forms(
            std::slice::from_ref(&service.code),
            content.catalogue,
            content.forms,
        ));
        let mut draft = Draft::new(
            Subject::Service {
                code: service.code.clone(),
            },
            &service.name,
            &service.name_en,
            merged,
        );
        draft.time_limit = service.time_limit.clone();
        Some(draft)
    }

    /// 我要办理 on a 一件事: the questions come first.
    pub fn for_bundle(content: Content<'_>, id: &str) -> Option<Draft> {
        let bundle = content.bundles.bundle(id)?;
        Some(Draft::new(
            Subject::Bundle {
                id: bundle.id.clone(),
                items: Vec::new(),
            },
            &bundle.name,
            &bundle.name_en,
            merge(&[]),
        ))
    }

    pub fn is_bundle(&self) -> bool {
        self.bundle.is_some()
    }

    /// What is applied for, as the screen names it: the catalogue's English
    /// name in English mode when it gives one (the receipt keeps Chinese).
    pub fn shown_title(&self, english: bool) -> String {
        if english && !self.title_en.is_empty() {
            self.title_en.clone()
        } else {
            self.title.clone()
        }
    }

    pub fn time_limit(&self) -> &str {
        &self.time_limit
    }

    /// The service code, or the bundle id, the application is about.
    pub fn subject_code(&self) -> &str {
        match &self.subject {
            Subject::Service { code } => code,
            Subject::Bundle { id, .. } => id,
        }
    }

    /// The steps of this journey, in order.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::with_capacity(6);
        if self.is_bundle() {
            steps.push(Step::Questions);
        }
        steps.extend([
            Step::Form,
            Step::Materials,
            Step::Delivery,
            Step::Review,
            Step::Commitment,
        ]);
        steps
    }

    /// The number of `step` in this journey (1-based).
    pub fn step_number(&self, step: Step) -> usize {
        self.steps()
            .iter()
            .position(|s| *s == step)
            .map_or(1, |i| i + 1)
    }

    /// The step's title on the screen: where it is among all the steps,
    /// its name and what it holds ("第 2 步 / 共 5 步：申请材料（共 4 份）").
    pub fn step_words(&self, step: Step, content: Content<'_>) -> Words {
        let (number, total) = (self.step_number(step), self.steps().len());
        let name = step.name();
        let (detail_zh, detail_en) = match step {
            Step::Questions => match self.questions(content, false) {
                Some(q) if q.next.is_none() => (
                    "问卷完成，请确认要办的事项".to_string(),
                    "all answered; check the services".to_string(),
                ),
                // Answers may bring up follow-ups: the total is what shows now.
                Some(q) => (
                    format!("已答 {} 题，共 {} 题", q.answered.len(), q.shown),
                    format!("{} of {} answered", q.answered.len(), q.shown),
                ),
                None => (String::new(), String::new()),
            },
            Step::Form => {
                let (items, fields) = (self.merged.items.len(), self.merged.fields.len());
                if self.is_bundle() {
                    (
                        format!("{items} 个事项合并为一张表，共 {fields} 项"),
                        format!(
                            "{} in one form, {}",
                            count_en(items, "service", "services"),
                            count_en(fields, "entry", "entries")
                        ),
                    )
                } else {
                    (
                        format!("共 {fields} 项"),
                        count_en(fields, "entry", "entries"),
                    )
                }
            }
            Step::Materials => {
                let count = self.merged.materials.len();
                (format!("共 {count} 份"), format!("{count} in all"))
            }
            Step::Delivery => (
                "选择怎样拿到结果".to_string(),
                "how you receive the result".to_string(),
            ),
            Step::Review => (
                "请看一遍，有错点“返回”修改".to_string(),
                "read it through; tap Back to change anything".to_string(),
            ),
            Step::Commitment => {
                if self.commitment_needed(content) {
                    (
                        "告知承诺与签名".to_string(),
                        "commitment and signature".to_string(),
                    )
                } else {
                    ("在方框内签名".to_string(), "sign in the box".to_string())
                }
            }
        };
        Words::new(
            if detail_zh.is_empty() {
                format!("第 {number} 步 / 共 {total} 步：{}", name.zh())
            } else {
                format!(
                    "第 {number} 步 / 共 {total} 步：{}（{detail_zh}）",
                    name.zh()
                )
            },
            if detail_en.is_empty() {
                format!("Step {number} of {total}: {}", name.en())
            } else {
                format!("Step {number} of {total}: {} ({detail_en})", name.en())
            },
        )
    }

    // --- questionnaire ------------------------------------------------------------

    /// Where the questionnaire stands; `None` for a single service.
    pub fn questions<'c>(&self, content: Content<'c>, english: bool) -> Option<QuestionsView<'c>> {
        let bundle = content.bundles.bundle(self.bundle.as_deref()?)?;
        let evaluation = bundle.evaluate(&self.answers);
        let answered = evaluation
            .visible
            .iter()
            .filter_map(|q| {
                let value = self.answers.get(&q.id)?;
                let label = q.options.iter().find(|o| &o.value == value)?;
                Some(format!("{}：{}", q.text, label.label))
            })
            .collect();
        let items = evaluation
            .items
            .iter()
            .filter_map(|c| content.catalogue.service(c))
            .map(|s| s.display_name(english).to_string())
            .collect();
        Some(QuestionsView {
            shown: evaluation.visible.len(),
            title: self.shown_title(english),
            next: evaluation.next,
            answered,
            items,
        })
    }

    /// An answer to the question shown now; an answer to anything else, or
    /// not among its options, is ignored (`false`).
    pub fn answer(&mut self, content: Content<'_>, value: &str) -> bool {
        let Some(bundle) = self
            .bundle
            .as_deref()
            .and_then(|id| content.bundles.bundle(id))
        else {
            return false;
        };
        let Some(question) = bundle.evaluate(&self.answers).next else {
            return false;
        };
        if !question.options.iter().any(|o| o.value == value) {
            return false;
        }
        self.answers.insert(question.id.clone(), value.to_string());
        true
    }

    pub fn restart_questions(&mut self) {
        self.answers.clear();
    }

    /// 下一步 after the questions: the items that apply become one merged
    /// form. `false` while a question is open or nothing applies.
    pub fn finish_questions(&mut self, content: Content<'_>) -> bool {
        let Some(bundle) = self
            .bundle
            .as_deref()
            .and_then(|id| content.bundles.bundle(id))
        else {
            return false;
        };
        let evaluation = bundle.evaluate(&self.answers);
        if evaluation.next.is_some() || evaluation.items.is_empty() {
            return false;
        }
        self.merged = merge(&item_forms(
            &evaluation.items,
            content.catalogue,
            content.forms,
        ));
        // The longest time limit of the items is the bundle's.
        self.time_limit = evaluation
            .items
            .iter()
            .filter_map(|c| content.catalogue.service(c))
            .map(|s| s.time_limit.clone())
            .max_by_key(|t| {
                t.chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .parse::<u32>()
                    .unwrap_or(0)
            })
            .unwrap_or_default();
        self.subject = Subject::Bundle {
            id: bundle.id.clone(),
            items: evaluation.items.clone(),
        };
        true
    }

    // --- the form -------------------------------------------------------------------

    /// The form is about to show: prefill from the card, start materials
    /// where the resident needs to do least and offer the first delivery.
    pub fn prepare_form(&mut self, content: Content<'_>, identity: &Identity) {
        let schema = self.merged.schema();
        schema.prefill(&mut self.values, identity);
        self.prefilled = schema
            .fields
            .iter()
            .filter(|f| identity.value_for(&f.key).is_some())
            .map(|f| f.key.clone())
            .collect();
        self.field_page = 0;
        self.errors.clear();
        // An e-certificate is fetched (免证办); the rest must be said.
        self.materials = self
            .merged
            .materials
            .iter()
            .filter(|m| m.material.e_cert)
            .map(|m| (m.material.name.clone(), MaterialState::PendingVerification))
            .collect();
        self.delivery = self.offered_deliveries(content).first().copied();
        self.apply_certificates();
    }

    pub fn fields(&self) -> &[MergedField] {
        &self.merged.fields
    }

    pub fn field_page(&self) -> usize {
        self.field_page
    }

    pub fn turn_field_page(&mut self, step: i32, per_page: usize) {
        let count = pages(self.merged.fields.len(), per_page);
        self.field_page = turn(self.field_page, step, count);
    }

    /// How many fields must still be corrected (after the resident tried
    /// to go on).
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The sentence under the form while something must be corrected.
    pub fn form_message(&self) -> Words {
        let errors = self.errors.len();
        if errors == 0 {
            Words::fixed("", "")
        } else {
            Words::new(
                format!("还有 {errors} 项需要修改，请看标出的说明"),
                format!("Entries to correct: {errors}. See the notes beside them."),
            )
        }
    }

    pub fn field_view(&self, spec: &FieldSpec, english: bool) -> FieldView {
        let value = self.values.get(&spec.key).unwrap_or_default();
        let shown = match (spec.kind, value) {
            (FieldKind::YesNo, YES) => YES_WORDS.pick(english).to_string(),
            (FieldKind::YesNo, NO) => NO_WORDS.pick(english).to_string(),
            // Read back in the groups people say it in: 138 0013 8000.
            (FieldKind::Phone, _) => bianmin_core::phone::group(value),
            _ => value.to_string(),
        };
        FieldView {
            key: spec.key.clone(),
            label: spec.label.clone(),
            value: shown,
            error: self
                .errors
                .get(&spec.key)
                .map(|e| e.pick(english).to_string())
                .unwrap_or_default(),
            hint: spec.hint.clone(),
            required: spec.required,
            prefilled: self.prefilled.contains(&spec.key),
        }
    }

    /// The value of a field as entered (for the tests and the summary).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key)
    }

    /// 下一步 on the form: every field must pass. On failure the page with
    /// the first field to correct is shown.
    pub fn check_form(&mut self, per_page: usize) -> bool {
        let schema = self.merged.schema();
        self.errors = schema
            .validate(&self.values)
            .into_iter()
            .map(|e| (e.key, e.message))
            .collect();
        if let Some(first) = self.errors.keys().next() {
            if let Some(index) = self.merged.fields.iter().position(|f| &f.spec.key == first) {
                self.field_page = index / per_page.max(1);
            }
        }
        self.errors.is_empty()
    }

    // --- the field editor ---------------------------------------------------------

    fn spec(&self, key: &str) -> Option<&FieldSpec> {
        self.merged
            .fields
            .iter()
            .find(|f| f.spec.key == key)
            .map(|f| &f.spec)
    }

    /// A tap on a field opens its editor with the value so far.
    pub fn edit_field(&mut self, key: &str, candidates_per_page: usize) -> bool {
        let Some(spec) = self.spec(key) else {
            return false;
        };
        let key = spec.key.clone();
        let value = self.values.get(&key).unwrap_or_default().to_string();
        self.editing = Some(Editing::new(&key, value, candidates_per_page));
        true
    }

    pub fn is_editing(&self) -> bool {
        self.editing.is_some()
    }

    pub fn editor(&self) -> Option<EditorView> {
        let editing = self.editing.as_ref()?;
        Some(editing.view(self.spec(&editing.key)?))
    }

    /// The editing field as a form row (its label, hint and error).
    pub fn editing_field(&self, english: bool) -> Option<FieldView> {
        let editing = self.editing.as_ref()?;
        Some(self.field_view(self.spec(&editing.key)?, english))
    }

    fn with_editing(&mut self, f: impl FnOnce(&mut Editing, &FieldSpec)) {
        let Some(key) = self.editing.as_ref().map(|e| e.key.clone()) else {
            return;
        };
        let Some(spec) = self.spec(&key).cloned() else {
            return;
        };
        if let Some(editing) = self.editing.as_mut() {
            f(editing, &spec);
        }
    }

    pub fn editor_key(&mut self, key: &str) {
        self.with_editing(|editing, spec| editing.key(spec, key));
    }

    pub fn editor_backspace(&mut self) {
        self.with_editing(|editing, _| editing.backspace());
    }

    pub fn editor_pick(&mut self, index: usize) {
        self.with_editing(|editing, spec| editing.pick(spec, index));
    }

    pub fn editor_candidates(&mut self, step: i32) {
        self.with_editing(|editing, _| editing.turn_candidates(step));
    }

    /// A choice tapped: set and closed as 完成 would.
    pub fn editor_choose(&mut self, value: &str) -> bool {
        self.with_editing(|editing, spec| editing.choose(spec, value));
        self.editor_done()
    }

    /// 完成: keep the value if it is acceptable (`true`, the editor
    /// closes), else keep the editor open with the reason beside it.
    pub fn editor_done(&mut self) -> bool {
        let Some(key) = self.editing.as_ref().map(|e| e.key.clone()) else {
            return false;
        };
        let Some(spec) = self.spec(&key).cloned() else {
            return false;
        };
        let Some(editing) = self.editing.as_mut() else {
            return false;
        };
        editing.commit_letters();
        let value = editing.value.trim().to_string();
        match validate_field(&spec, Some(&value)) {
            Ok(()) => {
                if value.is_empty() {
                    self.values.remove(&spec.key);
                } else {
                    self.values.set(&spec.key, &value);
                }
                self.errors.remove(&spec.key);
                self.prefilled.remove(&spec.key);
                self.editing = None;
                true
            }
            Err(err) => {
                self.errors.insert(spec.key.clone(), err.message);
                false
            }
        }
    }

    pub fn editor_cancel(&mut self) {
        self.editing = None;
    }

    // --- materials --------------------------------------------------------------------

    pub fn materials(&self) -> &[bianmin_core::bundle::MergedMaterial] {
        &self.merged.materials
    }

    pub fn material_page(&self) -> usize {
        self.material_page
    }

    pub fn turn_material_page(&mut self, step: i32, per_page: usize) {
        let count = pages(self.merged.materials.len(), per_page);
        self.material_page = turn(self.material_page, step, count);
    }

    pub fn material_state(&self, name: &str) -> Option<MaterialState> {
        self.materials.get(name).copied()
    }

    /// The ways `name` may be provided. The core's rule decides; the
    /// screen words each with [`material_choice_words`].
    pub fn material_options(&self, content: Content<'_>, name: &str) -> Vec<MaterialState> {
        let Some(entry) = self.merged.material(name) else {
            return Vec::new();
        };
        let askers: Vec<&Service> = entry
            .asked_by
            .iter()
            .filter_map(|c| content.catalogue.service(c))
            .collect();
        offered_material_states(&entry.material, &askers, self.certificates.as_deref())
    }

    /// The resident chose how to provide `name`; a way the rule does not
    /// offer is refused (`false`). The two e-certificate states are one
    /// choice: the platform's answer decides which holds.
    pub fn set_material(
        &mut self,
        content: Content<'_>,
        name: &str,
        chosen: MaterialState,
    ) -> bool {
        let e_cert = |s: MaterialState| {
            matches!(
                s,
                MaterialState::ECertFetched | MaterialState::PendingVerification
            )
        };
        let Some(state) = self
            .material_options(content, name)
            .into_iter()
            .find(|s| *s == chosen || (e_cert(*s) && e_cert(chosen)))
        else {
            return false;
        };
        let Some(entry) = self.merged.material(name) else {
            return false;
        };
        self.materials.insert(entry.material.name.clone(), state);
        true
    }

    /// Materials without a chosen way yet.
    pub fn undecided_materials(&self) -> Vec<&str> {
        self.merged
            .materials
            .iter()
            .filter(|m| !self.materials.contains_key(&m.material.name))
            .map(|m| m.material.name.as_str())
            .collect()
    }

    /// The sentence under the materials while one is undecided.
    pub fn materials_message(&self) -> Words {
        let undecided = self.undecided_materials();
        let Some(first) = undecided.first() else {
            return Words::fixed("", "");
        };
        // Which one, by name: a count alone leaves the resident searching.
        if undecided.len() == 1 {
            Words::new(
                format!("「{first}」还没选提供方式"),
                format!("Say how you provide “{first}”"),
            )
        } else {
            Words::new(
                format!(
                    "还有 {} 份材料没选提供方式，先选「{first}」",
                    undecided.len()
                ),
                format!(
                    "Say how you provide {} more, first “{first}”",
                    count_en(undecided.len(), "material", "materials")
                ),
            )
        }
    }

    /// The page the first undecided material is on, if one is undecided.
    pub fn undecided_page(&self, per_page: usize) -> Option<usize> {
        self.merged
            .materials
            .iter()
            .position(|m| !self.materials.contains_key(&m.material.name))
            .map(|index| index / per_page.max(1))
    }

    /// 翻到没选的材料: show the page of the first undecided material.
    pub fn show_undecided(&mut self, per_page: usize) {
        if let Some(page) = self.undecided_page(per_page) {
            self.material_page = page;
        }
    }

    /// 下一步 on the materials: every material decided. On failure the
    /// page with the first undecided one is shown.
    pub fn check_materials(&mut self, per_page: usize) -> bool {
        let first = self
            .merged
            .materials
            .iter()
            .position(|m| !self.materials.contains_key(&m.material.name));
        match first {
            Some(index) => {
                self.material_page = index / per_page.max(1);
                false
            }
            None => true,
        }
    }

    /// What the platform holds for this resident (`None`: offline).
    pub fn set_certificates(&mut self, certificates: Option<Vec<String>>) {
        self.certificates = certificates;
        self.apply_certificates();
    }

    /// E-certificates the platform holds become 已调取; without an answer
    /// (offline) they stay 待核验 for the department to check.
    fn apply_certificates(&mut self) {
        let certificates = self.certificates.clone().unwrap_or_default();
        for (name, state) in self.materials.iter_mut() {
            if matches!(
                state,
                MaterialState::PendingVerification | MaterialState::ECertFetched
            ) {
                *state = if certificates.iter().any(|c| certificate_matches(c, name)) {
                    MaterialState::ECertFetched
                } else {
                    MaterialState::PendingVerification
                };
            }
        }
    }

    // --- delivery ---------------------------------------------------------------------

    fn services<'c>(&self, content: Content<'c>) -> Vec<&'c Service> {
        let codes: Vec<&String> = match &self.subject {
            Subject::Service { code } => vec![code],
            Subject::Bundle { items, .. } => items.iter().collect(),
        };
        codes
            .into_iter()
            .filter_map(|c| content.catalogue.service(c))
            .collect()
    }

    /// Ways of delivery at least one of the items offers, in a fixed order.
    pub fn offered_deliveries(&self, content: Content<'_>) -> Vec<Delivery> {
        let services = self.services(content);
        [Delivery::Station, Delivery::Mail, Delivery::Electronic]
            .into_iter()
            .filter(|d| services.iter().any(|s| s.delivery.contains(d)))
            .collect()
    }

    pub fn choose_delivery(&mut self, content: Content<'_>, delivery: Delivery) -> bool {
        let offered = self.offered_deliveries(content).contains(&delivery);
        if offered {
            self.delivery = Some(delivery);
        }
        offered
    }

    pub fn delivery(&self) -> Option<Delivery> {
        self.delivery
    }

    /// The mail address: the form's own if it asked, else the card's.
    pub fn mail_address(&self) -> String {
        self.values
            .get("delivery.address")
            .or_else(|| self.values.get("applicant.address"))
            .unwrap_or_default()
            .to_string()
    }

    // --- commitment, signature, submit ------------------------------------------------

    /// A 告知承诺 item applies, or a material is replaced by the commitment.
    pub fn commitment_needed(&self, content: Content<'_>) -> bool {
        self.proxy_declaration.is_some()
            || self.services(content).iter().any(|s| s.commitment)
            || self
                .materials
                .values()
                .any(|s| *s == MaterialState::Committed)
    }

    /// The 告知承诺 the resident signs under: the package's text for this
    /// service (or its `default`), after the line naming what is applied
    /// for; the kiosk's own wording only when a package gives none.
    pub fn commitment_text(&self, content: Content<'_>) -> Words {
        let published = content
            .commitments
            .get(self.subject_code())
            .or_else(|| content.commitments.get("default"));
        let (zh, en) = match published {
            Some(text) => (
                text.zh.clone(),
                if text.en.trim().is_empty() {
                    text.zh.clone()
                } else {
                    text.en.clone()
                },
            ),
            None => (
                "本人承诺：所填信息和所交材料真实、准确、完整；\
                 选择告知承诺或容缺后补的材料，将在办理时限内补交；\
                 如有虚假，愿意承担相应法律责任，并同意撤销办理结果。"
                    .to_string(),
                "I promise that the information and materials I give are true, accurate and \
                 complete; that materials I chose to replace by commitment or to hand in later \
                 will be handed in within the time limit; and that if anything is false I \
                 accept the legal consequences and agree that the result is revoked."
                    .to_string(),
            ),
        };
        let text = Words::new(
            format!("本人申请办理「{}」。{zh}", self.title),
            format!("I apply for “{}”. {en}", self.shown_title(true)),
        );
        match &self.proxy_declaration {
            Some(declaration) => text.then(declaration),
            None => text,
        }
    }

    pub fn toggle_commitment(&mut self) {
        self.committed = !self.committed;
    }

    pub fn committed(&self) -> bool {
        self.committed
    }

    pub fn signature_mut(&mut self) -> &mut SignatureCapture {
        &mut self.signature
    }

    pub fn signature(&self) -> &SignatureCapture {
        &self.signature
    }

    pub fn is_signed(&self) -> bool {
        self.signature.signature().is_meaningful()
    }

    pub fn submitting(&self) -> bool {
        self.submitting
    }

    /// The desk took the application (`true`) or gave it back (`false`).
    pub fn set_submitting(&mut self, submitting: bool) {
        self.submitting = submitting;
    }

    /// What the resident checks before signing (核对信息): the service,
    /// every answer on the form (ID numbers masked, phones grouped), each
    /// material and how it is provided, and the delivery.
    pub fn summary(&self, content: Content<'_>) -> Vec<SummaryLine> {
        let mut lines = Vec::new();
        let items: Vec<String> = self
            .services(content)
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let what = if self.is_bundle() && !items.is_empty() {
            let zh = format!("{}（含：{}）", self.title, items.join("、"));
            let en = format!("{} ({})", self.shown_title(true), items.join(", "));
            Words::new(zh, en)
        } else {
            Words::new(self.title.clone(), self.shown_title(true))
        };
        lines.push(SummaryLine {
            label: Words::fixed("办理事项", "Service"),
            value: what,
        });
        for field in &self.merged.fields {
            let spec = &field.spec;
            let Some(value) = self.values.get(&spec.key).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let shown = match spec.kind {
                FieldKind::IdNumber => {
                    let masked = bianmin_core::form::mask_id_number(value);
                    Words::new(masked.clone(), masked)
                }
                FieldKind::Phone => {
                    let grouped = bianmin_core::phone::group(value);
                    Words::new(grouped.clone(), grouped)
                }
                FieldKind::YesNo if value == YES => YES_WORDS,
                FieldKind::YesNo if value == NO => NO_WORDS,
                _ => Words::new(value.to_string(), value.to_string()),
            };
            lines.push(SummaryLine {
                label: Words::new(spec.label.clone(), spec.label.clone()),
                value: shown,
            });
        }
        for material in &self.merged.materials {
            let name = &material.material.name;
            let value = match self.materials.get(name) {
                Some(state) => Words::new(state.label_zh(), state.label_en()),
                None => Words::fixed("未选择", "Not chosen"),
            };
            lines.push(SummaryLine {
                label: Words::new(format!("材料：{name}"), format!("Material: {name}")),
                value,
            });
        }
        if let Some(delivery) = self.delivery {
            let value = match delivery {
                Delivery::Mail => {
                    let address = self.mail_address();
                    Words::new(
                        format!("{}，寄到 {address}", delivery.label_zh()),
                        format!("{}, to {address}", delivery.label_en()),
                    )
                }
                _ => Words::new(delivery.label_zh(), delivery.label_en()),
            };
            lines.push(SummaryLine {
                label: Words::fixed("结果送达", "Delivery"),
                value,
            });
        }
        lines
    }

    pub fn summary_page(&self) -> usize {
        self.summary_page
    }

    /// Turn the summary's pages; `i32::MIN` goes back to the first.
    pub fn turn_summary_page(&mut self, step: i32, per_page: usize) {
        let count = pages(self.summary_lines_count(), per_page);
        self.summary_page = turn(self.summary_page, step, count);
    }

    fn summary_lines_count(&self) -> usize {
        // The service line, each answered field, each material, the delivery.
        1 + self
            .merged
            .fields
            .iter()
            .filter(|f| {
                self.values
                    .get(&f.spec.key)
                    .is_some_and(|v| !v.trim().is_empty())
            })
            .count()
            + self.merged.materials.len()
            + usize::from(self.delivery.is_some())
    }

    /// What the record keeps of what the resident read before signing, in
    /// the record's language (Chinese).
    pub fn confirmation(&self, content: Content<'_>) -> Confirmation {
        Confirmation {
            summary: self
                .summary(content)
                .iter()
                .map(|line| format!("{}：{}", line.label.zh(), line.value.zh()))
                .collect(),
            commitment: self
                .commitment_needed(content)
                .then(|| self.commitment_text(content).zh().to_string()),
        }
    }

    /// 提交申请: the application as core builds it, or the resident's
    /// sentence saying what is missing.
    pub fn ready_to_submit(
        &self,
        content: Content<'_>,
        identity: &Identity,
        assisted_by: Option<String>,
    ) -> Result<ReadyToSubmit, Words> {
        let signature = self.signature.signature();
        if !signature.is_meaningful() {
            return Err(Words::fixed(
                "请先在方框内签名",
                "Please sign in the box first",
            ));
        }
        let delivery = match self.delivery {
            Some(Delivery::Mail) => DeliveryChoice::Mail {
                address: self.mail_address(),
            },
            Some(Delivery::Electronic) => DeliveryChoice::Electronic,
            _ => DeliveryChoice::Station,
        };
        build_application(
            bianmin_core::application::Draft {
                subject: self.subject.clone(),
                values: &self.values,
                identity,
                materials: &self.materials,
                delivery,
                commitment_accepted: self.committed,
                signature: Some(signature),
                assisted_by,
                confirmation: self.confirmation(content),
            },
            content.catalogue,
            content.forms,
        )
        .map(|application| ReadyToSubmit {
            application,
            title: self.title.clone(),
            time_limit: self.time_limit.clone(),
        })
        .map_err(|e| e.words())
    }

    /// Materials still owed or to be checked, for the receipt screen.
    pub fn owed(&self) -> Vec<Owed> {
        self.materials
            .iter()
            .filter(|(_, s)| s.outstanding())
            .map(|(name, state)| Owed {
                name: name.clone(),
                state: *state,
            })
            .collect()
    }
}
