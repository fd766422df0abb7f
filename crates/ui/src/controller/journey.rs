//! The resident's journey behind the `Journey` global: 一件事 questionnaire,
//! the (merged) form with its keyboards, materials, delivery, 告知承诺 and
//! signature, submit through the desk, the receipt, 好差评, progress, 自助打印
//! and 办不成事反映. Every rule is core's; this only keeps the screens in step.

use super::{pages, strings, turn, KioskController, PageWindow};
use crate::typing::{Backspace, PinyinComposer};
use crate::{
    ChoiceRow, DeliveryRow, DeliveryWay, DocumentItem, Editor, FieldRow, Journey as JourneyGlobal,
    MaterialRow, ProgressItem, QuestionRow, Screen,
};
use bianmin_core::application::{
    build_application, certificate_matches, offered_material_states, DeliveryChoice, MaterialState,
    Signature, Subject,
};
use bianmin_core::bundle::{item_forms, merge, Answers, MergedForm};
use bianmin_core::catalogue::Delivery;
use bianmin_core::evaluation::{Evaluation, LowReason, Satisfaction};
use bianmin_core::form::{validate_field, FieldKind, FieldSpec, FormValues, Identity, NO, YES};
use bianmin_core::words::{count_en, Words};
use bianmin_desk::signature::SignatureCapture;
use bianmin_desk::{DeskEvent, DeskRequest, Submission};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::collections::{BTreeMap, BTreeSet};

/// Longest value a field editor accepts, whatever the schema says: a bound
/// on what a stuck key can produce.
const MAX_FIELD_CHARS: usize = 120;

/// The signature pad's drawing area until the pad reports its own, on the
/// first touch (it depends on the theme and the panel).
const SIGNATURE_PAD: (f32, f32) = (720.0, 260.0);

/// What the resident is doing in the field editor.
struct Editing {
    key: String,
    value: String,
    composer: PinyinComposer,
}

/// The application being put together in this session.
pub(super) struct Draft {
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
    /// E-certificate titles the platform holds for this resident; `None`
    /// until it answered (or when offline: then e-certificates are 待核验).
    certificates: Option<Vec<String>>,
    delivery: Option<Delivery>,
    committed: bool,
    signature: SignatureCapture,
    submitting: bool,
}

impl Draft {
    /// What is applied for, as the screen names it: the catalogue's English
    /// name in English mode when it gives one (the receipt keeps Chinese).
    fn shown_title(&self, english: bool) -> String {
        if english && !self.title_en.is_empty() {
            self.title_en.clone()
        } else {
            self.title.clone()
        }
    }
}

/// What the receipt screen and the rating are about.
pub(super) struct Completed {
    receipt_no: String,
    service_code: String,
    rating: Option<Satisfaction>,
    reasons: BTreeSet<LowReason>,
    reason_page: usize,
    rated: bool,
}

/// Topics of 办不成事反映, said as a resident would. The Chinese goes to
/// the platform whatever the screen's language.
static FEEDBACK_TOPICS: [(&str, Words); 6] = [
    (
        "not_found",
        Words::fixed("找不到要办的事项", "I cannot find the service I need"),
    ),
    (
        "cannot_apply_here",
        Words::fixed(
            "这个事项在终端上办不了",
            "This service cannot be done at the terminal",
        ),
    ),
    (
        "materials",
        Words::fixed(
            "材料要求太多或不清楚",
            "Too many materials, or unclear which",
        ),
    ),
    (
        "device",
        Words::fixed("设备出了问题", "Something is wrong with the terminal"),
    ),
    (
        "too_hard",
        Words::fixed(
            "操作太复杂，看不懂",
            "Too complicated; I do not understand it",
        ),
    ),
    ("other", Words::fixed("其他问题", "Something else")),
];

/// 是 / 否 of a yes/no field.
const YES_WORDS: Words = Words::fixed("是", "Yes");
const NO_WORDS: Words = Words::fixed("否", "No");

impl KioskController {
    fn journey<R>(&self, f: impl FnOnce(&JourneyGlobal<'_>) -> R) -> R {
        let ui = self.ui();
        let journey = ui.global::<JourneyGlobal>();
        f(&journey)
    }

    pub(super) fn wire_journey(&self, ui: &crate::AppWindow) {
        let j = ui.global::<JourneyGlobal>();
        let this = self.clone();
        j.on_answer(move |value| this.answer(&value));
        let this = self.clone();
        j.on_restart_questions(move || this.restart_questions());
        let this = self.clone();
        j.on_questions_next(move || this.questions_next());
        let this = self.clone();
        j.on_page_fields(move |step| this.page_fields(step));
        let this = self.clone();
        j.on_edit_field(move |key| this.edit_field(&key));
        let this = self.clone();
        j.on_form_next(move || this.form_next());
        let this = self.clone();
        j.on_editor_key(move |key| this.editor_key(&key));
        let this = self.clone();
        j.on_editor_backspace(move || this.editor_backspace());
        let this = self.clone();
        j.on_editor_pick(move |i| this.editor_pick(i));
        let this = self.clone();
        j.on_editor_candidates(move |step| this.editor_candidates(step));
        let this = self.clone();
        j.on_editor_choose(move |value| this.editor_choose(&value));
        let this = self.clone();
        j.on_editor_done(move || this.editor_done());
        let this = self.clone();
        j.on_editor_cancel(move || this.editor_cancel());
        let this = self.clone();
        j.on_ask_staff(move || this.ask_staff());
        let this = self.clone();
        j.on_page_materials(move |step| this.page_materials(step));
        let this = self.clone();
        j.on_set_material(move |name, state| this.set_material(&name, &state));
        let this = self.clone();
        j.on_materials_next(move || this.materials_next());
        let this = self.clone();
        j.on_choose_delivery(move |way| this.choose_delivery(way));
        let this = self.clone();
        j.on_delivery_next(move || this.delivery_next());
        let this = self.clone();
        j.on_toggle_commitment(move || this.toggle_commitment());
        let this = self.clone();
        j.on_sign_start(move |x, y, width, height| {
            this.sign(|s| {
                s.resize(width, height);
                s.start(x, y);
            })
        });
        let this = self.clone();
        j.on_sign_move(move |x, y| {
            this.sign(|s| {
                s.extend(x, y);
            })
        });
        let this = self.clone();
        j.on_sign_end(move || this.sign(|s| s.end()));
        let this = self.clone();
        j.on_sign_clear(move || this.sign(|s| s.clear()));
        let this = self.clone();
        j.on_submit(move || this.submit());
        let this = self.clone();
        j.on_reprint(move || this.reprint());
        let this = self.clone();
        j.on_to_rating(move || this.to_rating());
        let this = self.clone();
        j.on_rate(move |level| this.rate(&level));
        let this = self.clone();
        j.on_toggle_reason(move |reason| this.toggle_reason(&reason));
        let this = self.clone();
        j.on_page_reasons(move |step| this.page_reasons(step));
        let this = self.clone();
        j.on_rating_submit(move || this.rating_submit());
        let this = self.clone();
        j.on_rating_skip(move || this.rating_skip());
        let this = self.clone();
        j.on_open_documents(move || this.open_documents());
        let this = self.clone();
        j.on_print_document(move |id| this.print_document(&id));
        let this = self.clone();
        j.on_open_feedback(move || this.open_feedback());
        let this = self.clone();
        j.on_send_feedback(move |topic| this.send_feedback(&topic));
    }

    fn desk(&self, request: DeskRequest) {
        let hooks = self.state.borrow().hooks.clone();
        hooks.desk(request);
    }

    // --- starting -------------------------------------------------------------

    /// 我要办理 on a guide: a service code, or `bundle:ID` for a 一件事.
    pub(super) fn begin_application(&self, code: &str) {
        let identity = {
            let state = self.state.borrow();
            state.hooks.identity()
        };
        let Some(identity) = identity.filter(|i| i.check().is_ok()) else {
            self.state.borrow_mut().pending_apply = Some(code.to_string());
            self.start_identify();
            self.show_notice(&self.tr(
                "办理前请先刷身份证确认身份，读卡后会自动回到这里",
                "Please identify with your ID card first; you will come straight back here",
            ));
            return;
        };
        let draft = {
            let state = self.state.borrow();
            if let Some(id) = code.strip_prefix(super::BUNDLE_PREFIX) {
                state.bundles.bundle(id).map(|bundle| Draft {
                    subject: Subject::Bundle {
                        id: bundle.id.clone(),
                        items: Vec::new(),
                    },
                    title: bundle.name.clone(),
                    title_en: bundle.name_en.clone(),
                    time_limit: String::new(),
                    bundle: Some(bundle.id.clone()),
                    answers: Answers::new(),
                    merged: merge(&[]),
                    values: FormValues::new(),
                    prefilled: BTreeSet::new(),
                    errors: BTreeMap::new(),
                    field_page: 0,
                    editing: None,
                    materials: BTreeMap::new(),
                    material_page: 0,
                    certificates: None,
                    delivery: None,
                    committed: false,
                    signature: SignatureCapture::new(SIGNATURE_PAD.0, SIGNATURE_PAD.1),
                    submitting: false,
                })
            } else {
                state.catalogue.service(code).map(|service| Draft {
                    subject: Subject::Service {
                        code: service.code.clone(),
                    },
                    title: service.name.clone(),
                    title_en: service.name_en.clone(),
                    time_limit: service.time_limit.clone(),
                    bundle: None,
                    answers: Answers::new(),
                    merged: merge(&item_forms(
                        std::slice::from_ref(&service.code),
                        &state.catalogue,
                        &state.forms,
                    )),
                    values: FormValues::new(),
                    prefilled: BTreeSet::new(),
                    errors: BTreeMap::new(),
                    field_page: 0,
                    editing: None,
                    materials: BTreeMap::new(),
                    material_page: 0,
                    certificates: None,
                    delivery: None,
                    committed: false,
                    signature: SignatureCapture::new(SIGNATURE_PAD.0, SIGNATURE_PAD.1),
                    submitting: false,
                })
            }
        };
        let Some(draft) = draft else { return };
        let is_bundle = draft.bundle.is_some();
        self.state.borrow_mut().draft = Some(draft);
        self.state.borrow_mut().completed = None;
        self.desk(DeskRequest::FetchDocuments);
        if is_bundle {
            self.refresh_questions();
            self.navigate(Screen::Questions);
        } else {
            self.prepare_form(&identity);
            self.navigate(Screen::Form);
        }
    }

    /// The card was read while an application waited for it.
    pub(super) fn resume_pending_apply(&self) -> bool {
        let pending = self.state.borrow_mut().pending_apply.take();
        match pending {
            Some(code) => {
                self.begin_application(&code);
                true
            }
            None => false,
        }
    }

    // --- questionnaire ----------------------------------------------------------

    fn answer(&self, value: &str) {
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let Some(bundle) = draft
                .bundle
                .as_deref()
                .and_then(|id| state.bundles.bundle(id))
            else {
                return;
            };
            let evaluation = bundle.evaluate(&draft.answers);
            let Some(question) = evaluation.next else {
                return;
            };
            if !question.options.iter().any(|o| o.value == value) {
                return;
            }
            draft.answers.insert(question.id.clone(), value.to_string());
        }
        self.refresh_questions();
    }

    fn restart_questions(&self) {
        if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
            draft.answers.clear();
        }
        self.refresh_questions();
    }

    fn questions_next(&self) {
        let identity = self.state.borrow().hooks.identity();
        let Some(identity) = identity else {
            self.end_session(bianmin_core::session::EndReason::CardRemoved);
            return;
        };
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let Some(bundle) = draft
                .bundle
                .as_deref()
                .and_then(|id| state.bundles.bundle(id))
            else {
                return;
            };
            let evaluation = bundle.evaluate(&draft.answers);
            if evaluation.next.is_some() || evaluation.items.is_empty() {
                return;
            }
            draft.merged = merge(&item_forms(
                &evaluation.items,
                &state.catalogue,
                &state.forms,
            ));
            draft.time_limit = evaluation
                .items
                .iter()
                .filter_map(|c| state.catalogue.service(c))
                .map(|s| s.time_limit.clone())
                .max_by_key(|t| {
                    t.chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                        .parse::<u32>()
                        .unwrap_or(0)
                })
                .unwrap_or_default();
            draft.subject = Subject::Bundle {
                id: bundle.id.clone(),
                items: evaluation.items.clone(),
            };
        }
        self.prepare_form(&identity);
        self.navigate(Screen::Form);
    }

    fn refresh_questions(&self) {
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            let Some(bundle) = draft
                .bundle
                .as_deref()
                .and_then(|id| state.bundles.bundle(id))
            else {
                return;
            };
            let evaluation = bundle.evaluate(&draft.answers);
            let answered: Vec<String> = evaluation
                .visible
                .iter()
                .filter_map(|q| {
                    let value = draft.answers.get(&q.id)?;
                    let label = q.options.iter().find(|o| &o.value == value)?;
                    Some(format!("{}：{}", q.text, label.label))
                })
                .collect();
            let question = evaluation.next.map(|q| QuestionRow {
                id: q.id.as_str().into(),
                text: q.text.as_str().into(),
                help: q.help.as_str().into(),
                options: choices(
                    q.options
                        .iter()
                        .map(|o| (o.value.clone(), o.label.clone(), false)),
                ),
            });
            let items: Vec<String> = evaluation
                .items
                .iter()
                .filter_map(|c| state.catalogue.service(c))
                .map(|s| s.display_name(english).to_string())
                .collect();
            let done = evaluation.next.is_none();
            let step = if done {
                self.tr(
                    "第 1 步：问卷完成，请确认要办的事项",
                    "Step 1: questions done; check the services",
                )
            } else {
                self.tr(
                    &format!("第 1 步：回答问题（已答 {} 题）", answered.len()),
                    &format!("Step 1: questions ({} answered)", answered.len()),
                )
            };
            let title = if english && !bundle.name_en.is_empty() {
                &bundle.name_en
            } else {
                &bundle.name
            };
            (title.clone(), question, answered, items, done, step)
        };
        let (title, question, answered, items, done, step) = view;
        self.journey(|j| {
            j.set_title(title.into());
            j.set_step(step.into());
            j.set_question(question.unwrap_or_default());
            j.set_questions_done(done);
            j.set_answers(strings(answered));
            j.set_items(strings(items));
        });
    }

    // --- the form ----------------------------------------------------------------

    fn prepare_form(&self, identity: &Identity) {
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let catalogue = &state.catalogue;
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let schema = draft.merged.schema();
            schema.prefill(&mut draft.values, identity);
            draft.prefilled = schema
                .fields
                .iter()
                .filter(|f| identity.value_for(&f.key).is_some())
                .map(|f| f.key.clone())
                .collect();
            draft.field_page = 0;
            draft.errors.clear();
            // Materials start where the resident needs to do least: an
            // e-certificate is fetched (免证办); the rest must be said.
            draft.materials = draft
                .merged
                .materials
                .iter()
                .filter(|m| m.material.e_cert)
                .map(|m| (m.material.name.clone(), MaterialState::PendingVerification))
                .collect();
            let offered = offered_deliveries(&state_catalogue_services(catalogue, &draft.subject));
            draft.delivery = offered.first().copied();
        }
        self.apply_certificates();
        self.refresh_form();
    }

    fn fields_per_page(&self) -> usize {
        if self.large() {
            4
        } else {
            6
        }
    }

    fn page_fields(&self, step: i32) {
        let per_page = self.fields_per_page();
        if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
            let count = pages(draft.merged.fields.len(), per_page);
            draft.field_page = turn(draft.field_page, step, count);
        }
        self.refresh_form();
    }

    fn refresh_form(&self) {
        let per_page = self.fields_per_page();
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            let window = PageWindow::of(draft.merged.fields.len(), draft.field_page, per_page);
            let (page, page_count) = (window.page, window.pages);
            let rows: Vec<FieldRow> = window
                .items(&draft.merged.fields)
                .map(|f| field_row(&f.spec, draft, english))
                .collect();
            let errors = draft.errors.len();
            let message = if errors == 0 {
                String::new()
            } else {
                self.tr(
                    &format!("还有 {errors} 项需要修改，请看标出的说明"),
                    &format!("Entries to correct: {errors}. See the notes beside them."),
                )
            };
            let (items, fields) = (draft.merged.items.len(), draft.merged.fields.len());
            let step = if draft.bundle.is_some() {
                self.tr(
                    &format!("第 2 步：填写信息（{items} 个事项合并为一张表，共 {fields} 项）"),
                    &format!(
                        "Step 2: your details ({} in one form, {})",
                        count_en(items, "service", "services"),
                        count_en(fields, "entry", "entries")
                    ),
                )
            } else {
                self.tr(
                    &format!("第 1 步：填写信息（共 {fields} 项）"),
                    &format!(
                        "Step 1: your details ({})",
                        count_en(fields, "entry", "entries")
                    ),
                )
            };
            (
                draft.shown_title(english),
                rows,
                page,
                page_count,
                message,
                step,
            )
        };
        let (title, rows, page, page_count, message, step) = view;
        self.journey(|j| {
            j.set_title(title.into());
            j.set_step(step.into());
            j.set_fields(ModelRc::new(VecModel::from(rows)));
            j.set_field_page(page as i32);
            j.set_field_pages(page_count as i32);
            j.set_form_message(message.into());
        });
        self.refresh_editor();
    }

    fn edit_field(&self, key: &str) {
        let per_page = if self.large() { 3 } else { 5 };
        {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let Some(spec) = draft.merged.schema().field(key).cloned() else {
                return;
            };
            let value = draft.values.get(key).unwrap_or_default().to_string();
            draft.editing = Some(Editing {
                key: spec.key.clone(),
                value,
                composer: PinyinComposer::new(per_page),
            });
        }
        self.refresh_editor();
    }

    fn with_editing(&self, f: impl FnOnce(&mut Editing, &FieldSpec)) {
        {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let Some(editing) = draft.editing.as_mut() else {
                return;
            };
            let Some(spec) = draft
                .merged
                .fields
                .iter()
                .find(|f| f.spec.key == editing.key)
                .map(|f| f.spec.clone())
            else {
                return;
            };
            f(editing, &spec);
        }
        self.refresh_editor();
    }

    fn editor_key(&self, key: &str) {
        self.with_editing(|editing, spec| {
            let limit = spec
                .max_len
                .map(|m| m as usize)
                .unwrap_or(MAX_FIELD_CHARS)
                .min(MAX_FIELD_CHARS);
            if spec.kind == FieldKind::Date {
                // Eight digits on the keypad; the dashes are put in for the resident.
                let mut digits: String =
                    editing.value.chars().filter(char::is_ascii_digit).collect();
                for c in key.chars().filter(char::is_ascii_digit) {
                    if digits.len() < 8 {
                        digits.push(c);
                    }
                }
                editing.value = dashed_date(&digits);
            } else if spec.numeric_keypad() {
                let accepted = key
                    .chars()
                    .all(|c| c.is_ascii_digit() || (c == 'X' && spec.kind == FieldKind::IdNumber));
                if accepted && editing.value.chars().count() < limit {
                    editing.value.push_str(key);
                }
            } else {
                for c in key.chars() {
                    if c.is_ascii_digit() {
                        // House numbers and certificate numbers: a digit ends
                        // the pinyin being composed, which stays as typed.
                        commit_letters(editing);
                        if editing.value.chars().count() < limit {
                            editing.value.push(c);
                        }
                    } else {
                        editing.composer.letter(c);
                    }
                }
            }
        });
    }

    fn editor_backspace(&self) {
        self.with_editing(|editing, _| {
            if editing.composer.backspace() == Backspace::DeleteCommitted {
                editing.value.pop();
                if editing.value.ends_with('-') {
                    editing.value.pop();
                }
            }
        });
    }

    fn editor_pick(&self, index: i32) {
        self.with_editing(|editing, spec| {
            let limit = spec.max_len.map(|m| m as usize).unwrap_or(MAX_FIELD_CHARS);
            if let Some(text) = editing.composer.pick(index.max(0) as usize) {
                if editing.value.chars().count() + text.chars().count() <= limit {
                    editing.value.push_str(&text);
                }
            }
        });
    }

    fn editor_candidates(&self, step: i32) {
        self.with_editing(|editing, _| {
            if step < 0 {
                editing.composer.previous_page();
            } else {
                editing.composer.next_page();
            }
        });
    }

    fn editor_choose(&self, value: &str) {
        self.with_editing(|editing, spec| {
            let valid = match spec.kind {
                FieldKind::YesNo => value == YES || value == NO,
                _ => spec.choices.iter().any(|c| c == value),
            };
            if valid {
                editing.value = value.to_string();
            }
        });
        self.editor_done();
    }

    /// 完成: keep the value if it is acceptable, else say why next to it.
    fn editor_done(&self) {
        {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let Some(editing) = draft.editing.as_mut() else {
                return;
            };
            let Some(spec) = draft
                .merged
                .fields
                .iter()
                .find(|f| f.spec.key == editing.key)
                .map(|f| f.spec.clone())
            else {
                return;
            };
            // Like Enter on any IME: letters not turned into hanzi stay as
            // typed (the letter in a certificate number).
            commit_letters(editing);
            let value = editing.value.trim().to_string();
            match validate_field(&spec, Some(&value)) {
                Ok(()) => {
                    if value.is_empty() {
                        draft.values.remove(&spec.key);
                    } else {
                        draft.values.set(&spec.key, &value);
                    }
                    draft.errors.remove(&spec.key);
                    draft.prefilled.remove(&spec.key);
                    draft.editing = None;
                }
                Err(err) => {
                    draft.errors.insert(spec.key.clone(), err.message);
                }
            }
        }
        self.refresh_form();
    }

    fn editor_cancel(&self) {
        if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
            draft.editing = None;
        }
        self.refresh_form();
    }

    /// 请工作人员帮我输入: call a clerk to the terminal and let them sign in
    /// to type for the resident (帮办).
    fn ask_staff(&self) {
        let hooks = self.state.borrow().hooks.clone();
        hooks.desk(DeskRequest::CallStaff);
        self.call_staff();
        self.open_assist();
    }

    fn refresh_editor(&self) {
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let draft = state.draft.as_ref();
            draft.and_then(|draft| {
                let editing = draft.editing.as_ref()?;
                let spec = draft
                    .merged
                    .fields
                    .iter()
                    .find(|f| f.spec.key == editing.key)?;
                let spec = &spec.spec;
                let editor = if matches!(spec.kind, FieldKind::Choice | FieldKind::YesNo) {
                    Editor::Choice
                } else if spec.numeric_keypad() {
                    Editor::Keypad
                } else {
                    Editor::Pinyin
                };
                let options: Vec<(String, String, bool)> = match spec.kind {
                    FieldKind::YesNo => vec![
                        (
                            YES.to_string(),
                            YES_WORDS.pick(english).to_string(),
                            editing.value == YES,
                        ),
                        (
                            NO.to_string(),
                            NO_WORDS.pick(english).to_string(),
                            editing.value == NO,
                        ),
                    ],
                    _ => spec
                        .choices
                        .iter()
                        .map(|c| (c.clone(), c.clone(), &editing.value == c))
                        .collect(),
                };
                Some((
                    field_row(spec, draft, english),
                    editing.value.clone(),
                    draft
                        .errors
                        .get(&spec.key)
                        .map(|e| e.pick(english).to_string())
                        .unwrap_or_default(),
                    editor,
                    spec.kind == FieldKind::IdNumber,
                    options,
                    editing.composer.composing().to_string(),
                    editing.composer.page(),
                    editing.composer.has_previous(),
                    editing.composer.has_next(),
                ))
            })
        };
        self.journey(|j| match view {
            Some((row, value, error, editor, x, options, composing, candidates, prev, next)) => {
                j.set_editing_field(row);
                j.set_editing_value(value.into());
                j.set_editing_error(error.into());
                j.set_editor(editor);
                j.set_keypad_x(x);
                j.set_editing_choices(choices(options));
                j.set_composing(composing.into());
                j.set_candidates(strings(candidates));
                j.set_candidates_previous(prev);
                j.set_candidates_next(next);
                j.set_editing(true);
            }
            None => clear_editor(j),
        });
    }

    /// 下一步 on the form: every field must pass; say which do not.
    fn form_next(&self) {
        let per_page = self.fields_per_page();
        let ok = {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let schema = draft.merged.schema();
            draft.errors = schema
                .validate(&draft.values)
                .into_iter()
                .map(|e| (e.key, e.message))
                .collect();
            if let Some(first) = draft.errors.keys().next() {
                if let Some(index) = draft
                    .merged
                    .fields
                    .iter()
                    .position(|f| &f.spec.key == first)
                {
                    draft.field_page = index / per_page;
                }
            }
            draft.errors.is_empty()
        };
        self.refresh_form();
        if ok {
            self.refresh_materials();
            self.navigate(Screen::Materials);
        } else if self.speaks_automatically() {
            let message = self.journey(|j| j.get_form_message());
            self.say(&message);
        }
    }

    // --- materials and delivery ----------------------------------------------------

    fn materials_per_page(&self) -> usize {
        if self.large() {
            1
        } else {
            3
        }
    }

    fn page_materials(&self, step: i32) {
        let per_page = self.materials_per_page();
        if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
            let count = pages(draft.merged.materials.len(), per_page);
            draft.material_page = turn(draft.material_page, step, count);
        }
        self.refresh_materials();
    }

    fn set_material(&self, name: &str, state_value: &str) {
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let allowed = material_options(draft, &state.catalogue, name);
            let Some(chosen) = allowed
                .into_iter()
                .find(|(value, _, _)| *value == state_value)
                .map(|(_, _, s)| s)
            else {
                return;
            };
            draft.materials.insert(name.to_string(), chosen);
        }
        self.refresh_materials();
    }

    fn refresh_materials(&self) {
        let per_page = self.materials_per_page();
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            let window =
                PageWindow::of(draft.merged.materials.len(), draft.material_page, per_page);
            let (page, page_count) = (window.page, window.pages);
            let rows: Vec<MaterialRow> = window
                .items(&draft.merged.materials)
                .map(|m| {
                    let chosen = draft.materials.get(&m.material.name).copied();
                    let options = material_options(draft, &state.catalogue, &m.material.name);
                    MaterialRow {
                        name: m.material.name.as_str().into(),
                        copies: m.material.copies.as_str().into(),
                        key: m.material.key,
                        note: m.material.note.as_str().into(),
                        options: choices(options.into_iter().map(|(value, label, s)| {
                            (
                                value.to_string(),
                                label.pick(english).to_string(),
                                Some(s) == chosen,
                            )
                        })),
                        state_label: match chosen {
                            Some(s) if english => s.label_en().into(),
                            Some(s) => s.label_zh().into(),
                            None => Words::fixed("请选择", "Please choose").pick(english).into(),
                        },
                    }
                })
                .collect();
            let undecided = draft
                .merged
                .materials
                .iter()
                .filter(|m| !draft.materials.contains_key(&m.material.name))
                .count();
            let message = if undecided > 0 {
                self.tr(
                    &format!("还有 {undecided} 份材料没选提供方式"),
                    &format!(
                        "Say how you provide {} more",
                        count_en(undecided, "material", "materials")
                    ),
                )
            } else {
                String::new()
            };
            let number = if draft.bundle.is_some() { 3 } else { 2 };
            let count = draft.merged.materials.len();
            let step = self.tr(
                &format!("第 {number} 步：申请材料（共 {count} 份）"),
                &format!("Step {number}: materials ({count} in all)"),
            );
            (rows, page, page_count, message, step)
        };
        let (rows, page, page_count, message, step) = view;
        self.journey(|j| {
            j.set_step(step.into());
            j.set_materials(ModelRc::new(VecModel::from(rows)));
            j.set_material_page(page as i32);
            j.set_material_pages(page_count as i32);
            j.set_materials_message(message.into());
        });
    }

    fn materials_next(&self) {
        let undecided = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            draft
                .merged
                .materials
                .iter()
                .position(|m| !draft.materials.contains_key(&m.material.name))
        };
        match undecided {
            Some(index) => {
                let per_page = self.materials_per_page();
                if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
                    draft.material_page = index / per_page;
                }
                self.refresh_materials();
                if self.speaks_automatically() {
                    let message = self.journey(|j| j.get_materials_message());
                    self.say(&message);
                }
            }
            None => {
                self.refresh_delivery();
                self.navigate(Screen::Delivery);
            }
        }
    }

    fn choose_delivery(&self, way: DeliveryWay) {
        let chosen = match way {
            DeliveryWay::Station => Delivery::Station,
            DeliveryWay::Mail => Delivery::Mail,
            DeliveryWay::Electronic => Delivery::Electronic,
        };
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            let offered =
                offered_deliveries(&state_catalogue_services(&state.catalogue, &draft.subject));
            if offered.contains(&chosen) {
                draft.delivery = Some(chosen);
            }
        }
        self.refresh_delivery();
    }

    fn refresh_delivery(&self) {
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            let offered =
                offered_deliveries(&state_catalogue_services(&state.catalogue, &draft.subject));
            let rows: Vec<DeliveryRow> = offered
                .iter()
                .map(|d| DeliveryRow {
                    way: delivery_way(*d),
                    label: if english { d.label_en() } else { d.label_zh() }.into(),
                    selected: draft.delivery == Some(*d),
                })
                .collect();
            let number = if draft.bundle.is_some() { 4 } else { 3 };
            let step = self.tr(
                &format!("第 {number} 步：结果送达"),
                &format!("Step {number}: how you receive the result"),
            );
            (rows, mail_address(draft), step)
        };
        let (rows, address, step) = view;
        self.journey(|j| {
            j.set_step(step.into());
            j.set_deliveries(ModelRc::new(VecModel::from(rows)));
            j.set_mail_address(address.into());
        });
    }

    fn delivery_next(&self) {
        let ready = self
            .state
            .borrow()
            .draft
            .as_ref()
            .is_some_and(|d| d.delivery.is_some());
        if !ready {
            return;
        }
        self.refresh_commitment();
        self.navigate(Screen::Commitment);
    }

    // --- commitment, signature, submit -------------------------------------------

    fn toggle_commitment(&self) {
        if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
            draft.committed = !draft.committed;
        }
        self.refresh_commitment();
    }

    fn sign(&self, f: impl FnOnce(&mut SignatureCapture)) {
        let ink = {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.as_mut() else {
                return;
            };
            f(&mut draft.signature);
            draft.signature.path_commands()
        };
        let signed = self
            .state
            .borrow()
            .draft
            .as_ref()
            .is_some_and(|d| d.signature.signature().is_meaningful());
        self.journey(|j| {
            j.set_ink(ink.into());
            j.set_signed(signed);
        });
    }

    fn refresh_commitment(&self) {
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            let services = state_catalogue_services(&state.catalogue, &draft.subject);
            let needed = services.iter().any(|s| s.commitment)
                || draft
                    .materials
                    .values()
                    .any(|s| *s == MaterialState::Committed);
            let text = self.tr(
                &format!(
                    "本人申请办理「{}」，承诺：所填信息和所交材料真实、准确、完整；\
                     选择告知承诺或容缺后补的材料，将在办理时限内补交；\
                     如有虚假，愿意承担相应法律责任，并同意撤销办理结果。",
                    draft.title
                ),
                &format!(
                    "I apply for “{}” and promise that the information and materials I give \
                     are true, accurate and complete; that materials I chose to replace by \
                     commitment or to hand in later will be handed in within the time limit; \
                     and that if anything is false I accept the legal consequences and agree \
                     that the result is revoked.",
                    draft.shown_title(english)
                ),
            );
            let number = if draft.bundle.is_some() { 5 } else { 4 };
            let step = if needed {
                self.tr(
                    &format!("第 {number} 步：告知承诺与签名"),
                    &format!("Step {number}: commitment and signature"),
                )
            } else {
                self.tr(
                    &format!("第 {number} 步：签名确认"),
                    &format!("Step {number}: sign to confirm"),
                )
            };
            (needed, text, draft.committed, step)
        };
        let (needed, text, committed, step) = view;
        self.journey(|j| {
            j.set_step(step.into());
            j.set_commitment_needed(needed);
            j.set_commitment_text(text.into());
            j.set_committed(committed);
        });
    }

    fn submit(&self) {
        let identity = self.state.borrow().hooks.identity();
        let Some(identity) = identity else {
            let message = self.tr(
                "读不到身份证，请把身份证放回感应区后再提交",
                "The ID card cannot be read. Please put it back on the reader, then submit",
            );
            self.journey(|j| j.set_submit_message(message.into()));
            return;
        };
        let outcome = {
            let state = self.state.borrow();
            let Some(draft) = state.draft.as_ref() else {
                return;
            };
            if draft.submitting {
                return;
            }
            let signature: Signature = draft.signature.signature();
            if !signature.is_meaningful() {
                Err(Words::fixed(
                    "请先在方框内签名",
                    "Please sign in the box first",
                ))
            } else {
                let delivery = match draft.delivery {
                    Some(Delivery::Mail) => DeliveryChoice::Mail {
                        address: mail_address(draft),
                    },
                    Some(Delivery::Electronic) => DeliveryChoice::Electronic,
                    _ => DeliveryChoice::Station,
                };
                build_application(
                    bianmin_core::application::Draft {
                        subject: draft.subject.clone(),
                        values: &draft.values,
                        identity: &identity,
                        materials: &draft.materials,
                        delivery,
                        commitment_accepted: draft.committed,
                        signature: Some(signature),
                        assisted_by: state.assisted_by.clone(),
                    },
                    &state.catalogue,
                    &state.forms,
                )
                .map(|application| Submission {
                    application,
                    title: draft.title.clone(),
                    time_limit: draft.time_limit.clone(),
                })
                .map_err(|e| e.words())
            }
        };
        match outcome {
            Ok(submission) => {
                if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
                    draft.submitting = true;
                }
                self.journey(|j| {
                    j.set_submitting(true);
                    j.set_submit_message(SharedString::new());
                });
                self.desk(DeskRequest::Submit(Box::new(submission)));
            }
            Err(message) => {
                let message = self.pick(&message);
                self.journey(|j| j.set_submit_message(message.as_str().into()));
                if self.speaks_automatically() {
                    self.say(&message);
                }
            }
        }
    }

    // --- answers from the desk -----------------------------------------------------

    pub(super) fn on_desk(&self, event: DeskEvent) {
        match event {
            DeskEvent::Submitted {
                receipt_no,
                qr,
                printed,
                printer_message,
            } => self.on_submitted(&receipt_no, &qr, printed, &printer_message),
            DeskEvent::SubmitFailed(message) => {
                let message = self.pick(&message);
                if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
                    draft.submitting = false;
                }
                self.journey(|j| {
                    j.set_submitting(false);
                    j.set_submit_message(message.as_str().into());
                });
                self.say(&message);
            }
            DeskEvent::Reprinted(result) | DeskEvent::DocumentPrinted(result) => {
                let message = match result {
                    Ok(()) => self.tr("已打印，请取走", "Printed; please take it"),
                    Err(message) => self.pick(&message),
                };
                if self.kiosk(|k| k.get_screen()) == Screen::Receipt {
                    let printed = !message.is_empty();
                    self.journey(|j| {
                        j.set_printed(printed);
                        j.set_receipt_message(message.as_str().into());
                    });
                } else {
                    self.show_notice(&message);
                }
            }
            DeskEvent::Evaluated(result) => {
                if let Err(message) = result {
                    self.show_notice(&self.pick(&message));
                }
            }
            DeskEvent::Progress {
                live,
                rows,
                message,
            } => {
                let items: Vec<ProgressItem> = rows
                    .into_iter()
                    .map(|r| ProgressItem {
                        receipt: r.receipt_no.into(),
                        service: r.service_name.into(),
                        state: self.pick(&r.state).into(),
                        updated: r.updated.into(),
                    })
                    .collect();
                let message = self.pick(&message);
                self.journey(|j| {
                    j.set_progress(ModelRc::new(VecModel::from(items)));
                    j.set_progress_live(live);
                    j.set_progress_message(message.into());
                    j.set_progress_waiting(false);
                });
            }
            DeskEvent::Documents {
                online,
                certificates,
                documents,
            } => {
                if let Some(draft) = self.state.borrow_mut().draft.as_mut() {
                    draft.certificates = online.then(|| certificates.clone());
                }
                self.apply_certificates();
                let message = if !online {
                    self.tr(
                        "网络未连接，暂时不能调取电子证照和打印材料。",
                        "Not connected: e-certificates cannot be fetched nor documents printed now.",
                    )
                } else if documents.is_empty() {
                    self.tr(
                        "平台上暂时没有您可以打印的材料。",
                        "The platform has no documents for you to print yet.",
                    )
                } else {
                    self.tr("点材料名称即可打印。", "Tap a document's name to print it.")
                };
                let rows: Vec<DocumentItem> = documents
                    .into_iter()
                    .map(|d| DocumentItem {
                        id: d.id.into(),
                        title: d.title.into(),
                    })
                    .collect();
                self.journey(|j| {
                    j.set_certificates(strings(certificates));
                    j.set_documents(ModelRc::new(VecModel::from(rows)));
                    j.set_documents_message(message.into());
                });
            }
            DeskEvent::FeedbackSaved(result) => {
                let message = match result {
                    Ok(()) => self.tr(
                        "已记录您的反映，工作人员会跟进。谢谢您！",
                        "Your report is recorded and staff will follow it up. Thank you!",
                    ),
                    Err(message) => self.pick(&message),
                };
                self.journey(|j| j.set_feedback_message(message.as_str().into()));
                self.say(&message);
            }
        }
    }

    /// E-certificates the platform holds become 已调取; without an answer
    /// (offline) they stay 待核验 for the department to check.
    fn apply_certificates(&self) {
        let mut state = self.state.borrow_mut();
        let Some(draft) = state.draft.as_mut() else {
            return;
        };
        let certificates = draft.certificates.clone().unwrap_or_default();
        for (name, state) in draft.materials.iter_mut() {
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
        drop(state);
        if self.kiosk(|k| k.get_screen()) == Screen::Materials {
            self.refresh_materials();
        }
    }

    fn on_submitted(&self, receipt_no: &str, qr: &str, printed: bool, printer_message: &Words) {
        let english = self.english();
        let (title, time_limit, owed, service_code) = {
            let mut state = self.state.borrow_mut();
            let Some(draft) = state.draft.take() else {
                return;
            };
            let owed: Vec<String> = draft
                .materials
                .iter()
                .filter(|(_, s)| s.outstanding())
                .map(|(name, s)| {
                    if english {
                        format!("{name}: {}", s.label_en())
                    } else {
                        format!("{name}：{}", s.label_zh())
                    }
                })
                .collect();
            let code = match &draft.subject {
                Subject::Service { code } => code.clone(),
                Subject::Bundle { id, .. } => id.clone(),
            };
            (
                draft.shown_title(english),
                draft.time_limit.clone(),
                owed,
                code,
            )
        };
        self.state.borrow_mut().completed = Some(Completed {
            receipt_no: receipt_no.to_string(),
            service_code,
            rating: None,
            reasons: BTreeSet::new(),
            reason_page: 0,
            rated: false,
        });
        let message = if printed {
            self.tr(
                "回执已打印，请取走。凭回执二维码可查询办理进度。",
                "Your receipt is printed; please take it.",
            )
        } else {
            self.pick(&printer_message.clone().then(&Words::fixed(
                "请用手机拍下本页的回执编号和二维码，或请工作人员稍后补打。",
                "Take a photo of the receipt number and QR code on this page, or ask staff to reprint it later.",
            )))
        };
        let qr_image = qr_image(qr);
        self.journey(|j| {
            j.set_submitting(false);
            j.set_title(title.into());
            j.set_time_limit(time_limit.into());
            j.set_owed(strings(owed));
            j.set_receipt_no(receipt_no.into());
            j.set_receipt_qr(qr_image);
            j.set_printed(printed);
            j.set_receipt_message(message.as_str().into());
        });
        // The form is done with: nobody goes back into a submitted application.
        self.state.borrow_mut().back_stack.clear();
        self.navigate(Screen::Receipt);
    }

    fn reprint(&self) {
        let receipt = self
            .state
            .borrow()
            .completed
            .as_ref()
            .map(|c| c.receipt_no.clone());
        if let Some(receipt_no) = receipt {
            let message = self.tr("正在打印……", "Printing…");
            self.journey(|j| j.set_receipt_message(message.into()));
            self.desk(DeskRequest::Reprint { receipt_no });
        }
    }

    // --- 好差评 ----------------------------------------------------------------------

    fn to_rating(&self) {
        self.refresh_rating();
        self.navigate(Screen::Rating);
    }

    fn rate(&self, value: &str) {
        let Some(level) = Satisfaction::ALL
            .iter()
            .copied()
            .find(|s| s.score().to_string() == value)
        else {
            return;
        };
        {
            let mut state = self.state.borrow_mut();
            let Some(completed) = state.completed.as_mut() else {
                return;
            };
            completed.rating = Some(level);
            completed.reasons.clear();
        }
        if level.asks_reasons() {
            self.refresh_rating();
        } else {
            self.rating_submit();
        }
    }

    fn toggle_reason(&self, value: &str) {
        if let Some(completed) = self.state.borrow_mut().completed.as_mut() {
            if let Some(reason) = LowReason::ALL
                .iter()
                .copied()
                .find(|r| reason_value(*r) == value)
            {
                if !completed.reasons.remove(&reason) {
                    completed.reasons.insert(reason);
                }
            }
        }
        self.refresh_rating();
    }

    fn reasons_per_page(&self) -> usize {
        if self.large() {
            4
        } else {
            8
        }
    }

    fn page_reasons(&self, step: i32) {
        let per_page = self.reasons_per_page();
        if let Some(completed) = self.state.borrow_mut().completed.as_mut() {
            let count = pages(LowReason::ALL.len(), per_page);
            completed.reason_page = turn(completed.reason_page, step, count);
        }
        self.refresh_rating();
    }

    fn rating_submit(&self) {
        let request = {
            let mut state = self.state.borrow_mut();
            let Some(completed) = state.completed.as_mut() else {
                return;
            };
            let Some(level) = completed.rating else {
                return;
            };
            let reasons: Vec<LowReason> = completed.reasons.iter().copied().collect();
            match Evaluation::new(&completed.receipt_no, level, &reasons, None) {
                Ok(evaluation) => {
                    completed.rated = true;
                    Some(DeskRequest::Evaluate {
                        receipt_no: completed.receipt_no.clone(),
                        service_code: completed.service_code.clone(),
                        evaluation,
                    })
                }
                Err(err) => {
                    tracing::warn!(%err, "evaluation refused");
                    None
                }
            }
        };
        if let Some(request) = request {
            self.desk(request);
        }
        self.refresh_rating();
    }

    /// Skipping is one tap and ends the session: the resident is done.
    fn rating_skip(&self) {
        self.end_session(bianmin_core::session::EndReason::Finished);
    }

    fn refresh_rating(&self) {
        let per_page = self.reasons_per_page();
        let english = self.english();
        let view = {
            let state = self.state.borrow();
            let Some(completed) = state.completed.as_ref() else {
                return;
            };
            let levels: Vec<(String, String, bool)> = Satisfaction::ALL
                .iter()
                .map(|s| {
                    (
                        s.score().to_string(),
                        if english { s.label_en() } else { s.label_zh() }.to_string(),
                        completed.rating == Some(*s),
                    )
                })
                .collect();
            let window = PageWindow::of(LowReason::ALL.len(), completed.reason_page, per_page);
            let (page, page_count) = (window.page, window.pages);
            let reasons: Vec<(String, String, bool)> = window
                .items(&LowReason::ALL)
                .map(|r| {
                    (
                        reason_value(*r),
                        if english { r.label_en() } else { r.label_zh() }.to_string(),
                        completed.reasons.contains(r),
                    )
                })
                .collect();
            let asks = completed.rating.is_some_and(|r| r.asks_reasons());
            (levels, reasons, page, page_count, asks, completed.rated)
        };
        let (levels, reasons, page, page_count, asks, rated) = view;
        self.journey(|j| {
            j.set_levels(choices(levels));
            j.set_reasons(choices(reasons));
            j.set_reason_page(page as i32);
            j.set_reason_pages(page_count as i32);
            j.set_rating(if asks { 1 } else { 0 });
            j.set_rated(rated);
        });
    }

    // --- progress, documents, feedback -------------------------------------------------

    /// 查进度: with a card down, the resident's own applications at once.
    pub(super) fn open_progress(&self) {
        let identified = !self.state.borrow().resident_masked.is_empty();
        self.journey(|j| {
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(identified);
        });
        self.navigate(Screen::Progress);
        if identified {
            self.desk(DeskRequest::ProgressForResident);
        }
    }

    /// A receipt's QR was scanned anywhere: show its progress (the desk is
    /// already looking it up).
    pub(super) fn progress_for_receipt(&self) {
        self.journey(|j| {
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(true);
        });
        if self.kiosk(|k| k.get_screen()) != Screen::Progress {
            self.navigate(Screen::Progress);
        }
    }

    fn open_documents(&self) {
        let identified = !self.state.borrow().resident_masked.is_empty();
        if !identified {
            self.state.borrow_mut().pending_apply = None;
            self.start_identify();
            self.show_notice(&self.tr(
                "自助打印前请先刷身份证",
                "Please identify with your ID card before printing",
            ));
            return;
        }
        let message = self.tr(
            "正在向平台查询您的材料……",
            "Asking the platform for your documents…",
        );
        self.journey(|j| {
            j.set_documents(ModelRc::default());
            j.set_certificates(ModelRc::default());
            j.set_documents_message(message.into());
        });
        self.navigate(Screen::Documents);
        self.desk(DeskRequest::FetchDocuments);
    }

    fn print_document(&self, id: &str) {
        self.show_notice(&self.tr("正在打印，请稍候……", "Printing…"));
        self.desk(DeskRequest::PrintDocument { id: id.to_string() });
    }

    fn open_feedback(&self) {
        let english = self.english();
        let topics: Vec<(String, String, bool)> = FEEDBACK_TOPICS
            .iter()
            .map(|(value, label)| (value.to_string(), label.pick(english).to_string(), false))
            .collect();
        self.journey(|j| {
            j.set_feedback_topics(choices(topics));
            j.set_feedback_message(SharedString::new());
        });
        self.navigate(Screen::Feedback);
    }

    fn send_feedback(&self, topic: &str) {
        let Some((_, label)) = FEEDBACK_TOPICS.iter().find(|(value, _)| *value == topic) else {
            return;
        };
        let english = self.english();
        let service_code = self.state.borrow().guide_code.clone();
        let topics: Vec<(String, String, bool)> = FEEDBACK_TOPICS
            .iter()
            .map(|(value, l)| {
                (
                    value.to_string(),
                    l.pick(english).to_string(),
                    *value == topic,
                )
            })
            .collect();
        let recording = self.tr("正在记录……", "Recording…");
        self.journey(|j| {
            j.set_feedback_topics(choices(topics));
            j.set_feedback_message(recording.into());
        });
        // The platform's staff read Chinese, whatever the screen showed.
        self.desk(DeskRequest::Feedback {
            service_code,
            text: label.zh().to_string(),
        });
    }

    /// The journey's view models, emptied at the end of a session.
    pub(super) fn wipe_journey(&self) {
        {
            let mut state = self.state.borrow_mut();
            state.draft = None;
            state.completed = None;
            state.pending_apply = None;
            state.assisted_by = None;
        }
        self.journey(|j| {
            j.set_title(SharedString::new());
            j.set_step(SharedString::new());
            j.set_question(QuestionRow::default());
            j.set_questions_done(false);
            j.set_answers(ModelRc::default());
            j.set_items(ModelRc::default());
            j.set_fields(ModelRc::default());
            j.set_field_page(0);
            j.set_field_pages(1);
            j.set_form_message(SharedString::new());
            clear_editor(j);
            j.set_materials(ModelRc::default());
            j.set_materials_message(SharedString::new());
            j.set_deliveries(ModelRc::default());
            j.set_mail_address(SharedString::new());
            j.set_commitment_text(SharedString::new());
            j.set_committed(false);
            j.set_ink(SharedString::new());
            j.set_signed(false);
            j.set_submit_message(SharedString::new());
            j.set_submitting(false);
            j.set_receipt_no(SharedString::new());
            j.set_receipt_qr(slint::Image::default());
            j.set_printed(false);
            j.set_receipt_message(SharedString::new());
            j.set_owed(ModelRc::default());
            j.set_time_limit(SharedString::new());
            j.set_rating(0);
            j.set_rated(false);
            j.set_reasons(ModelRc::default());
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(false);
            j.set_certificates(ModelRc::default());
            j.set_documents(ModelRc::default());
            j.set_documents_message(SharedString::new());
            j.set_feedback_message(SharedString::new());
        });
    }
}

/// Letters still being composed go into the value as typed, upper case
/// (codes on certificates are written so).
fn commit_letters(editing: &mut Editing) {
    let letters = editing.composer.composing().to_ascii_uppercase();
    if !letters.is_empty() {
        editing.value.push_str(&letters);
        editing.composer.clear();
    }
}

/// 20240301 → 2024-03-01, and partial input likewise (2024-03).
fn dashed_date(digits: &str) -> String {
    let mut out = String::with_capacity(10);
    for (i, c) in digits.chars().enumerate() {
        if i == 4 || i == 6 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

fn clear_editor(j: &JourneyGlobal<'_>) {
    j.set_editing(false);
    j.set_editing_field(FieldRow::default());
    j.set_editing_value(SharedString::new());
    j.set_editing_error(SharedString::new());
    j.set_editor(Editor::None);
    j.set_editing_choices(ModelRc::default());
    j.set_composing(SharedString::new());
    j.set_candidates(ModelRc::default());
    j.set_candidates_previous(false);
    j.set_candidates_next(false);
}

fn choices(rows: impl IntoIterator<Item = (String, String, bool)>) -> ModelRc<ChoiceRow> {
    ModelRc::new(VecModel::from(
        rows.into_iter()
            .map(|(value, label, selected)| ChoiceRow {
                value: value.into(),
                label: label.into(),
                selected,
            })
            .collect::<Vec<_>>(),
    ))
}

fn field_row(spec: &FieldSpec, draft: &Draft, english: bool) -> FieldRow {
    let value = draft.values.get(&spec.key).unwrap_or_default();
    let shown = match (spec.kind, value) {
        (FieldKind::YesNo, YES) => YES_WORDS.pick(english).to_string(),
        (FieldKind::YesNo, NO) => NO_WORDS.pick(english).to_string(),
        _ => value.to_string(),
    };
    FieldRow {
        key: spec.key.as_str().into(),
        label: spec.label.as_str().into(),
        value: shown.into(),
        error: draft
            .errors
            .get(&spec.key)
            .map(|e| e.pick(english))
            .unwrap_or_default()
            .into(),
        hint: spec.hint.as_str().into(),
        required: spec.required,
        prefilled: draft.prefilled.contains(&spec.key),
    }
}

fn state_catalogue_services<'a>(
    catalogue: &'a bianmin_core::catalogue::Catalogue,
    subject: &Subject,
) -> Vec<&'a bianmin_core::catalogue::Service> {
    let codes: Vec<&String> = match subject {
        Subject::Service { code } => vec![code],
        Subject::Bundle { items, .. } => items.iter().collect(),
    };
    codes
        .into_iter()
        .filter_map(|c| catalogue.service(c))
        .collect()
}

/// Ways of delivery at least one of the items offers, in a fixed order.
fn offered_deliveries(services: &[&bianmin_core::catalogue::Service]) -> Vec<Delivery> {
    [Delivery::Station, Delivery::Mail, Delivery::Electronic]
        .into_iter()
        .filter(|d| services.iter().any(|s| s.delivery.contains(d)))
        .collect()
}

fn delivery_way(delivery: Delivery) -> DeliveryWay {
    match delivery {
        Delivery::Station => DeliveryWay::Station,
        Delivery::Mail => DeliveryWay::Mail,
        Delivery::Electronic => DeliveryWay::Electronic,
    }
}

/// The mail address: the form's own if it asked, else the card's.
fn mail_address(draft: &Draft) -> String {
    draft
        .values
        .get("delivery.address")
        .or_else(|| draft.values.get("applicant.address"))
        .unwrap_or_default()
        .to_string()
}

/// The ways a material may be provided, as (value, label, state).
fn material_options(
    draft: &Draft,
    catalogue: &bianmin_core::catalogue::Catalogue,
    name: &str,
) -> Vec<(&'static str, Words, MaterialState)> {
    let Some(entry) = draft.merged.material(name) else {
        return Vec::new();
    };
    let askers: Vec<&bianmin_core::catalogue::Service> = entry
        .asked_by
        .iter()
        .filter_map(|c| catalogue.service(c))
        .collect();
    // The core's rule decides; the screen only words each state.
    offered_material_states(&entry.material, &askers, draft.certificates.as_deref())
        .into_iter()
        .map(|state| match state {
            MaterialState::Provided => (
                "provided",
                Words::fixed("已带来，交给工作人员", "Brought it; I hand it to staff"),
                state,
            ),
            MaterialState::ECertFetched => (
                "ecert",
                Words::fixed("用电子证照", "Use the e-certificate"),
                state,
            ),
            MaterialState::PendingVerification => (
                "ecert",
                Words::fixed(
                    "用电子证照（待核验）",
                    "Use the e-certificate (to be verified)",
                ),
                state,
            ),
            MaterialState::Missing => (
                "missing",
                Words::fixed("暂缺，容缺后补", "Not with me; I hand it in later"),
                state,
            ),
            MaterialState::Committed => (
                "committed",
                Words::fixed("以告知承诺代替", "Replace it by my commitment"),
                state,
            ),
        })
        .collect()
}

fn reason_value(reason: LowReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The receipt's QR as an image for the screen: dark modules on white,
/// each module several pixels so a phone can photograph it.
fn qr_image(payload: &str) -> slint::Image {
    let Ok(code) = qrcode::QrCode::new(payload.as_bytes()) else {
        return slint::Image::default();
    };
    const SCALE: u32 = 8;
    const QUIET: u32 = 4;
    let modules = code.width() as u32;
    let side = (modules + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut buffer = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(side, side);
    let pixels = buffer.make_mut_slice();
    for y in 0..side {
        for x in 0..side {
            let mx = (x / SCALE).checked_sub(QUIET);
            let my = (y / SCALE).checked_sub(QUIET);
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < modules && my < modules => {
                    colors[(my * modules + mx) as usize] == qrcode::Color::Dark
                }
                _ => false,
            };
            let v = if dark { 0 } else { 255 };
            pixels[(y * side + x) as usize] = slint::Rgb8Pixel { r: v, g: v, b: v };
        }
    }
    slint::Image::from_rgb8(buffer)
}
