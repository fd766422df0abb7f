//! The journey's screens behind the `Journey` global: 一件事 questionnaire,
//! the (merged) form with its keyboards, materials, delivery, 告知承诺 and
//! signature, submit through the desk, the receipt, 好差评, progress, 自助打印
//! and 办不成事反映.
//!
//! [`JourneyController`] owns the application being put together (a
//! `bianmin_journey::Draft`, the pure model every rule and choice lives in)
//! and the one just submitted; it turns taps into model calls and the model
//! into view models. What belongs to the kiosk as a whole — navigation, the
//! session, the identity on the reader, the desk — it asks the shell
//! ([`KioskController`]) for, passed in on every call, so neither holds the
//! other.

use super::KioskController;
use crate::{
    AppWindow, ChoiceRow, DeliveryRow, DeliveryWay, DocumentItem, Editor, FieldRow,
    Journey as JourneyGlobal, MaterialOption, MaterialRow, MaterialWay, ProgressItem, QuestionRow,
    Screen, SummaryRow,
};
use bianmin_core::application::MaterialState;
use bianmin_core::catalogue::Delivery;
use bianmin_core::evaluation::{LowReason, Satisfaction};
use bianmin_core::form::Identity;
use bianmin_core::session::EndReason;
use bianmin_core::words::Words;
use bianmin_desk::{DeskEvent, DeskRequest, Submission};
use bianmin_journey::paging::PageWindow;
use bianmin_journey::signature::SignatureCapture;
use bianmin_journey::{
    material_choice_words, Completed, Content, Draft, EditorKind, FieldView, Step, FEEDBACK_TOPICS,
};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::rc::Rc;

/// The application journey of one session. Cheap to clone: clones share it.
#[derive(Clone)]
pub(super) struct JourneyController {
    ui: slint::Weak<AppWindow>,
    state: Rc<RefCell<JourneyState>>,
}

#[derive(Default)]
struct JourneyState {
    /// The application being put together, and the one just submitted.
    draft: Option<Draft>,
    completed: Option<Completed>,
    /// 我要办理 pressed before the card was read: resumed when it is
    /// (`true`: for someone else, 代办).
    pending_apply: Option<(String, bool)>,
    /// 代办: the agent, identified at the terminal, and whom they act for
    /// once typed.
    proxy: Option<Proxy>,
    /// 办不成事反映: the topic chosen (value, words) and the digits of the
    /// number to call back on, typed so far.
    feedback_topic: Option<(String, Words)>,
    feedback_phone: zeroize::Zeroizing<String>,
}

/// 代办 in progress: the service asked for, the agent (card or code), and
/// the applicant once the first step named them.
struct Proxy {
    code: String,
    agent: Identity,
    /// The applicant's own card, when it was put on the reader.
    principal_card: Option<Identity>,
    /// The applicant, the relationship, and the declaration signed.
    principal: Option<(Identity, String, Words)>,
}

/// Rows per page of each paged part of the journey, (large, standard) theme.
#[derive(Clone, Copy)]
struct PerPage(usize, usize);

impl PerPage {
    const FIELDS: PerPage = PerPage(4, 6);
    const CANDIDATES: PerPage = PerPage(3, 5);
    // Each option carries its plain words: two cards fit a page.
    const MATERIALS: PerPage = PerPage(1, 2);
    const SUMMARY: PerPage = PerPage(4, 7);
    const REASONS: PerPage = PerPage(4, 8);

    fn of(self, large: bool) -> usize {
        if large {
            self.0
        } else {
            self.1
        }
    }
}

impl JourneyController {
    pub(super) fn new(ui: &AppWindow) -> JourneyController {
        JourneyController {
            ui: ui.as_weak(),
            state: Rc::new(RefCell::new(JourneyState::default())),
        }
    }

    fn global<R>(&self, f: impl FnOnce(&JourneyGlobal<'_>) -> R) -> R {
        let ui = self
            .ui
            .upgrade()
            .expect("the window outlives its controller");
        let journey = ui.global::<JourneyGlobal>();
        f(&journey)
    }

    /// Run `f` on the draft with the session's content; `None` without a draft.
    fn with_draft<R>(
        &self,
        shell: &KioskController,
        f: impl FnOnce(Content<'_>, &mut Draft) -> R,
    ) -> Option<R> {
        let shell_state = shell.state.borrow();
        let content = Content {
            catalogue: &shell_state.catalogue,
            forms: &shell_state.forms,
            bundles: &shell_state.bundles,
            commitments: &shell_state.commitments,
        };
        let mut state = self.state.borrow_mut();
        state.draft.as_mut().map(|draft| f(content, draft))
    }

    fn with_completed<R>(&self, f: impl FnOnce(&mut Completed) -> R) -> Option<R> {
        self.state.borrow_mut().completed.as_mut().map(f)
    }

    pub(super) fn wire(&self, shell: &KioskController, ui: &AppWindow) {
        let j = ui.global::<JourneyGlobal>();
        macro_rules! on {
            ($callback:ident, |$this:ident, $shell:ident $(, $arg:ident)*| $body:expr) => {{
                let $this = self.clone();
                let $shell = shell.clone();
                j.$callback(move |$($arg),*| $body);
            }};
        }
        on!(on_answer, |this, shell, value| this.answer(&shell, &value));
        on!(on_restart_questions, |this, shell| this
            .restart_questions(&shell));
        on!(on_questions_next, |this, shell| this.questions_next(&shell));
        on!(on_page_fields, |this, shell, step| this
            .page_fields(&shell, step));
        on!(on_edit_field, |this, shell, key| this
            .edit_field(&shell, &key));
        on!(on_form_next, |this, shell| this.form_next(&shell));
        on!(on_editor_key, |this, shell, key| this
            .edit(&shell, |d| d.editor_key(&key)));
        on!(on_editor_backspace, |this, shell| this
            .edit(&shell, Draft::editor_backspace));
        on!(on_editor_pick, |this, shell, i| this
            .edit(&shell, |d| d.editor_pick(i.max(0) as usize)));
        on!(on_editor_candidates, |this, shell, step| this
            .edit(&shell, |d| d.editor_candidates(step)));
        on!(on_editor_choose, |this, shell, value| this.close_editor(
            &shell,
            |d| {
                d.editor_choose(&value);
            }
        ));
        on!(on_editor_done, |this, shell| this.close_editor(
            &shell,
            |d| {
                d.editor_done();
            }
        ));
        on!(on_editor_cancel, |this, shell| this
            .close_editor(&shell, Draft::editor_cancel));
        on!(on_ask_staff, |_this, shell| {
            shell.desk(DeskRequest::CallStaff);
            shell.call_staff();
            shell.open_assist();
        });
        on!(on_page_materials, |this, shell, step| this
            .page_materials(&shell, step));
        on!(on_show_undecided, |this, shell| {
            let per_page = PerPage::MATERIALS.of(shell.large());
            this.with_draft(&shell, |_, d| d.show_undecided(per_page));
            this.refresh_materials(&shell);
        });
        on!(on_set_material, |this, shell, name, way| this
            .set_material(&shell, &name, way));
        on!(on_materials_next, |this, shell| this.materials_next(&shell));
        on!(on_choose_delivery, |this, shell, way| this
            .choose_delivery(&shell, way));
        on!(on_delivery_next, |this, shell| this.delivery_next(&shell));
        on!(on_page_summary, |this, shell, step| {
            let per_page = PerPage::SUMMARY.of(shell.large());
            this.with_draft(&shell, |_, d| d.turn_summary_page(step, per_page));
            this.refresh_review(&shell);
        });
        on!(on_review_next, |this, shell| {
            this.refresh_commitment(&shell);
            shell.navigate(Screen::Commitment);
        });
        on!(on_toggle_commitment, |this, shell| {
            this.with_draft(&shell, |_, d| d.toggle_commitment());
            this.refresh_commitment(&shell);
        });
        on!(on_sign_start, |this, shell, x, y, width, height| this.sign(
            &shell,
            |s| {
                s.resize(width, height);
                s.start(x, y);
            }
        ));
        on!(on_sign_move, |this, shell, x, y| this.sign(&shell, |s| {
            s.extend(x, y);
        }));
        on!(on_sign_end, |this, shell| this.sign(&shell, |s| s.end()));
        on!(on_sign_clear, |this, shell| this
            .sign(&shell, |s| s.clear()));
        on!(on_submit, |this, shell| this.submit(&shell));
        on!(on_reprint, |this, shell| this.reprint(&shell));
        on!(on_to_rating, |this, shell| {
            this.refresh_rating(&shell);
            shell.navigate(Screen::Rating);
        });
        on!(on_rate, |this, shell, level| this.rate(&shell, &level));
        on!(on_toggle_reason, |this, shell, reason| this
            .toggle_reason(&shell, &reason));
        on!(on_page_reasons, |this, shell, step| {
            let per_page = PerPage::REASONS.of(shell.large());
            this.with_completed(|c| c.turn_reason_page(step, per_page));
            this.refresh_rating(&shell);
        });
        on!(on_rating_submit, |this, shell| this.rating_submit(&shell));
        // Skipping is one tap and ends the session: the resident is done.
        on!(on_rating_skip, |_this, shell| shell
            .end_session(EndReason::Finished));
        on!(on_open_documents, |this, shell| this.open_documents(&shell));
        on!(on_print_document, |_this, shell, id| {
            shell.show_notice(&shell.tr("正在打印，请稍候……", "Printing…"));
            shell.desk(DeskRequest::PrintDocument { id: id.to_string() });
        });
        on!(on_open_feedback, |this, shell| this.open_feedback(&shell));
        on!(on_send_feedback, |this, shell, topic| this
            .choose_feedback_topic(&shell, &topic));
        on!(on_feedback_key, |this, shell, key| this
            .feedback_key(&shell, &key));
        on!(on_feedback_backspace, |this, shell| this
            .feedback_backspace(&shell));
        on!(on_submit_feedback, |this, shell, with_phone| this
            .submit_feedback(&shell, with_phone));
    }

    // --- starting -------------------------------------------------------------

    /// 我要办理 on a guide: a service code, or `bundle:ID` for a 一件事.
    pub(super) fn begin(&self, shell: &KioskController, code: &str) {
        // For oneself: whatever 代办 was started before is over.
        self.state.borrow_mut().proxy = None;
        let identity = shell.state.borrow().hooks.identity();
        let Some(identity) = identity.filter(|i| i.check().is_ok()) else {
            self.state.borrow_mut().pending_apply = Some((code.to_string(), false));
            shell.start_identify();
            shell.show_notice(&shell.tr(
                "办理前请先刷身份证确认身份，读卡后会自动回到这里",
                "Please identify with your ID card first; you will come straight back here",
            ));
            return;
        };
        let draft = Self::draft_for(shell, code);
        let Some(draft) = draft else { return };
        let is_bundle = draft.is_bundle();
        {
            let mut state = self.state.borrow_mut();
            state.draft = Some(draft);
            state.completed = None;
        }
        shell.desk(DeskRequest::FetchDocuments);
        if is_bundle {
            self.refresh_questions(shell);
            shell.navigate(Screen::Questions);
        } else {
            self.with_draft(shell, |content, d| d.prepare_form(content, &identity));
            self.refresh_form(shell);
            shell.navigate(Screen::Form);
        }
    }

    /// A new draft for a service code, or `bundle:ID` for a 一件事.
    fn draft_for(shell: &KioskController, code: &str) -> Option<Draft> {
        let shell_state = shell.state.borrow();
        let content = Content {
            catalogue: &shell_state.catalogue,
            forms: &shell_state.forms,
            bundles: &shell_state.bundles,
            commitments: &shell_state.commitments,
        };
        match code.strip_prefix(super::BUNDLE_PREFIX) {
            Some(id) => Draft::for_bundle(content, id),
            None => Draft::for_service(content, code),
        }
    }

    /// The card was read while an application waited for it.
    pub(super) fn resume_pending_apply(&self, shell: &KioskController) -> bool {
        let pending = self.state.borrow_mut().pending_apply.take();
        match pending {
            Some((code, false)) => {
                self.begin(shell, &code);
                true
            }
            Some((code, true)) => {
                self.begin_proxy(shell, &code);
                true
            }
            None => false,
        }
    }

    /// 为家人或他人代办 on a guide: the agent identifies (card or code),
    /// then names whom they act for; the form that follows is prefilled
    /// with that person's data and the agent signs a 代办 declaration.
    pub(super) fn begin_proxy(&self, shell: &KioskController, code: &str) {
        let agent = shell.state.borrow().hooks.identity();
        let Some(agent) = agent.filter(|i| i.check().is_ok()) else {
            self.state.borrow_mut().pending_apply = Some((code.to_string(), true));
            shell.start_identify();
            shell.show_notice(&shell.tr(
                "代办前请代办人先刷身份证（或扫码）确认身份，之后会回到这里",
                "The person acting first identifies with their ID card (or a code); you will come straight back here",
            ));
            return;
        };
        let today = station_today();
        if bianmin_core::application::age_on(&agent.birth_date, today)
            .is_some_and(|age| age < bianmin_core::application::ADULT_AGE)
        {
            shell.show_notice(&shell.tr(
                "未满18周岁不能为他人代办，请由成年家属来办理。",
                "You must be 18 or older to act for someone else; please ask an adult family member.",
            ));
            return;
        }
        {
            let mut state = self.state.borrow_mut();
            state.proxy = Some(Proxy {
                code: code.to_string(),
                agent,
                principal_card: None,
                principal: None,
            });
            state.draft = Some(Draft::for_principal());
            state.completed = None;
        }
        self.refresh_form(shell);
        shell.navigate(Screen::Form);
        shell.show_notice(&shell.tr(
            "被代办人带了身份证的，请先取走您的身份证，再把他（她）的身份证放在读卡区；没带的，请输入他（她）的姓名和身份证号。",
            "If they brought their ID card, lift yours and put theirs on the reader; if not, type their name and ID number.",
        ));
    }

    /// 代办's first step is on screen (a card put down is the applicant's,
    /// a card lifted is the agent's making room).
    pub(super) fn on_principal_step(&self, shell: &KioskController) -> bool {
        shell.kiosk(|k| k.get_screen()) == Screen::Form
            && self.state.borrow().proxy.is_some()
            && self
                .state
                .borrow()
                .draft
                .as_ref()
                .is_some_and(Draft::is_principal)
    }

    /// The applicant's card on the reader during 代办's first step: their
    /// name and number fill it; the agent says how they are related.
    pub(super) fn principal_card(&self, shell: &KioskController) {
        let card = shell.state.borrow().hooks.identity();
        let Some(card) = card.filter(|c| c.check().is_ok()) else {
            return;
        };
        let agent_id = self
            .state
            .borrow()
            .proxy
            .as_ref()
            .map(|p| p.agent.id_number.clone())
            .unwrap_or_default();
        if card.id_number.eq_ignore_ascii_case(&agent_id) {
            shell.show_notice(&shell.tr(
                "这是您本人的身份证。请放被代办人的身份证，或者输入他（她）的姓名和身份证号。",
                "This is your own card. Put down the card of the person you act for, or type their name and number.",
            ));
            return;
        }
        let masked = bianmin_core::id_number::mask_name(&card.name);
        self.with_draft(shell, |_, d| d.name_principal(&card.name, &card.id_number));
        if let Some(proxy) = self.state.borrow_mut().proxy.as_mut() {
            proxy.principal_card = Some(card);
        }
        self.refresh_form(shell);
        shell.show_notice(&shell.tr(
            &format!(
                "已读取被代办人{masked}的身份证。请选择您是他（她）的什么人，然后按“下一步”。"
            ),
            &format!("{masked}'s card is read. Choose how you are related, then press Next."),
        ));
    }

    /// The 代办 first step is filled: check who it names, then the
    /// service's own form, prefilled with their data.
    fn principal_named(&self, shell: &KioskController) {
        let named = self.with_draft(shell, |_, d| d.principal()).flatten();
        let Some((typed, relation)) = named else {
            return;
        };
        // Their card, when it was read and still names the same person,
        // says more than the typed number (address) and is marked so.
        let principal = self
            .state
            .borrow()
            .proxy
            .as_ref()
            .and_then(|p| p.principal_card.clone())
            .filter(|card| card.id_number.eq_ignore_ascii_case(&typed.id_number))
            .unwrap_or(typed);
        let today = station_today();
        let (code, agent) = {
            let state = self.state.borrow();
            let Some(proxy) = state.proxy.as_ref() else {
                return;
            };
            (proxy.code.clone(), proxy.agent.clone())
        };
        if let Some(refusal) =
            bianmin_core::application::agent_refusal(&agent, &principal, &relation, today)
        {
            let message = shell.pick(&refusal);
            self.global(|j| j.set_form_message(message.as_str().into()));
            shell.say(&message);
            return;
        }
        let draft = Self::draft_for(shell, &code);
        let Some(draft) = draft else { return };
        let is_bundle = draft.is_bundle();
        let declaration = Words::new(
            format!(
                "代办人声明：本人{}（{}）作为被代办人{}的{relation}，受其委托代为办理，已取得其同意；所填信息由本人核对，如有虚假愿承担相应责任。",
                bianmin_core::id_number::mask_name(&agent.name),
                bianmin_core::id_number::mask_id(&agent.id_number),
                bianmin_core::id_number::mask_name(&principal.name),
            ),
            format!(
                "Agent's declaration: I, {} ({}), act as the {relation} of {} with their consent; I checked what is entered and answer for it.",
                bianmin_core::id_number::mask_name(&agent.name),
                bianmin_core::id_number::mask_id(&agent.id_number),
                bianmin_core::id_number::mask_name(&principal.name),
            ),
        );
        {
            let mut state = self.state.borrow_mut();
            state.draft = Some(draft);
            if let Some(proxy) = state.proxy.as_mut() {
                proxy.principal = Some((principal.clone(), relation.clone(), declaration.clone()));
            }
        }
        if is_bundle {
            self.with_draft(shell, |_, d| d.set_proxy(&agent, &relation, declaration));
            self.refresh_questions(shell);
            shell.navigate(Screen::Questions);
        } else {
            self.with_draft(shell, |content, d| {
                d.prepare_form(content, &principal);
                d.set_proxy(&agent, &relation, declaration);
            });
            self.refresh_form(shell);
        }
        shell.show_notice(&shell.tr(
            &format!(
                "为{}代办：下面的表格已按被代办人的信息填好，请核对。",
                bianmin_core::id_number::mask_name(&principal.name)
            ),
            &format!(
                "Acting for {}: the form is filled in with their details; please check them.",
                bianmin_core::id_number::mask_name(&principal.name)
            ),
        ));
    }

    /// 代办's agent, relationship and declaration, once the applicant is named.
    fn proxy_parts(&self) -> Option<(Identity, String, Words)> {
        let state = self.state.borrow();
        let proxy = state.proxy.as_ref()?;
        let (_, relation, declaration) = proxy.principal.as_ref()?;
        Some((proxy.agent.clone(), relation.clone(), declaration.clone()))
    }

    /// Who applies: in 代办 the person named, else the card's (or code's).
    fn applicant_identity(&self, shell: &KioskController) -> Option<Identity> {
        if let Some(proxy) = self.state.borrow().proxy.as_ref() {
            return proxy.principal.as_ref().map(|(p, _, _)| p.clone());
        }
        shell.state.borrow().hooks.identity()
    }

    /// Forget an application waiting for the card (the resident went elsewhere).
    pub(super) fn forget_pending_apply(&self) {
        self.state.borrow_mut().pending_apply = None;
    }

    // --- questionnaire ----------------------------------------------------------

    fn answer(&self, shell: &KioskController, value: &str) {
        if self.with_draft(shell, |content, d| d.answer(content, value)) == Some(true) {
            self.refresh_questions(shell);
        }
    }

    fn restart_questions(&self, shell: &KioskController) {
        self.with_draft(shell, |_, d| d.restart_questions());
        self.refresh_questions(shell);
    }

    fn questions_next(&self, shell: &KioskController) {
        let identity = self.applicant_identity(shell);
        let Some(identity) = identity else {
            shell.end_session(EndReason::CardRemoved);
            return;
        };
        let proxy = self.proxy_parts();
        let finished = self.with_draft(shell, |content, d| {
            let finished = d.finish_questions(content);
            if finished {
                d.prepare_form(content, &identity);
                if let Some((agent, relation, declaration)) = proxy {
                    d.set_proxy(&agent, &relation, declaration);
                }
            }
            finished
        });
        if finished == Some(true) {
            self.refresh_form(shell);
            shell.navigate(Screen::Form);
        }
    }

    fn refresh_questions(&self, shell: &KioskController) {
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            let view = d.questions(content, english)?;
            let question = view.next.map(|q| QuestionRow {
                id: q.id.as_str().into(),
                text: q.text.as_str().into(),
                help: q.help.as_str().into(),
                options: choices(
                    q.options
                        .iter()
                        .map(|o| (o.value.clone(), o.label.clone(), false)),
                ),
            });
            let step = d.step_words(Step::Questions, content);
            Some((
                view.title,
                question,
                view.answered,
                view.items,
                view.next.is_none(),
                step,
            ))
        });
        let Some(Some((title, question, answered, items, done, step))) = view else {
            return;
        };
        self.show_step(shell, Step::Questions, &step);
        self.global(|j| {
            j.set_title(title.into());
            j.set_question(question.unwrap_or_default());
            j.set_questions_done(done);
            j.set_answers(super::strings(answered));
            j.set_items(super::strings(items));
        });
    }

    // --- the form ----------------------------------------------------------------

    fn page_fields(&self, shell: &KioskController, step: i32) {
        let per_page = PerPage::FIELDS.of(shell.large());
        self.with_draft(shell, |_, d| d.turn_field_page(step, per_page));
        self.refresh_form(shell);
    }

    fn refresh_form(&self, shell: &KioskController) {
        let per_page = PerPage::FIELDS.of(shell.large());
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            let window = PageWindow::of(d.fields().len(), d.field_page(), per_page);
            let rows: Vec<FieldRow> = window
                .items(d.fields())
                .map(|f| field_row(d.field_view(&f.spec, english)))
                .collect();
            (
                d.shown_title(english),
                rows,
                window,
                d.form_message(),
                d.step_words(Step::Form, content),
            )
        });
        let Some((title, rows, window, message, step)) = view else {
            return;
        };
        self.show_step(shell, Step::Form, &step);
        self.global(|j| {
            j.set_title(title.into());
            j.set_fields(ModelRc::new(VecModel::from(rows)));
            j.set_field_page(window.page as i32);
            j.set_field_pages(window.pages as i32);
            j.set_form_message(message.pick(english).into());
        });
        self.refresh_editor(shell);
    }

    fn edit_field(&self, shell: &KioskController, key: &str) {
        let per_page = PerPage::CANDIDATES.of(shell.large());
        self.with_draft(shell, |_, d| d.edit_field(key, per_page));
        self.refresh_editor(shell);
    }

    /// A key in the open editor: only the editor changes.
    fn edit(&self, shell: &KioskController, f: impl FnOnce(&mut Draft)) {
        self.with_draft(shell, |_, d| f(d));
        self.refresh_editor(shell);
    }

    /// 完成, a choice, or 取消: the form shows the outcome.
    fn close_editor(&self, shell: &KioskController, f: impl FnOnce(&mut Draft)) {
        self.with_draft(shell, |_, d| f(d));
        self.refresh_form(shell);
    }

    fn refresh_editor(&self, shell: &KioskController) {
        let english = shell.english();
        let view = self
            .with_draft(shell, |_, d| Some((d.editor()?, d.editing_field(english)?)))
            .flatten();
        self.global(|j| match view {
            Some((editor, field)) => {
                j.set_editing_field(field_row(field.clone()));
                let shown = shown_end(&editor.value, &editor.composing, shell.large());
                j.set_editing_shown(shown.into());
                j.set_editing_value(editor.value.into());
                j.set_editing_error(field.error.into());
                j.set_editor(match editor.kind {
                    EditorKind::Keypad => Editor::Keypad,
                    EditorKind::Pinyin => Editor::Pinyin,
                    EditorKind::Choice => Editor::Choice,
                });
                j.set_keypad_x(editor.keypad_x);
                j.set_editing_choices(choices(
                    editor
                        .choices
                        .into_iter()
                        .map(|(value, label, on)| (value, label.pick(english).to_string(), on)),
                ));
                j.set_composing(editor.composing.into());
                j.set_candidates(super::strings(editor.candidates));
                j.set_candidates_previous(editor.candidates_previous);
                j.set_candidates_next(editor.candidates_next);
                j.set_editing(true);
            }
            None => clear_editor(j),
        });
    }

    /// 下一步 on the form: every field must pass; say which do not.
    fn form_next(&self, shell: &KioskController) {
        let per_page = PerPage::FIELDS.of(shell.large());
        let Some(ok) = self.with_draft(shell, |_, d| d.check_form(per_page)) else {
            return;
        };
        self.refresh_form(shell);
        let principal_step = self
            .with_draft(shell, |_, d| d.is_principal())
            .unwrap_or(false);
        if ok && principal_step {
            self.principal_named(shell);
        } else if ok {
            self.refresh_materials(shell);
            shell.navigate(Screen::Materials);
        } else if shell.speaks_automatically() {
            let message = self.global(|j| j.get_form_message());
            shell.say(&message);
        }
    }

    // --- materials and delivery ----------------------------------------------------

    fn page_materials(&self, shell: &KioskController, step: i32) {
        let per_page = PerPage::MATERIALS.of(shell.large());
        self.with_draft(shell, |_, d| d.turn_material_page(step, per_page));
        self.refresh_materials(shell);
    }

    fn set_material(&self, shell: &KioskController, name: &str, way: MaterialWay) {
        let chosen = match way {
            MaterialWay::Provided => MaterialState::Provided,
            MaterialWay::ECertificate => MaterialState::ECertFetched,
            MaterialWay::Missing => MaterialState::Missing,
            MaterialWay::Committed => MaterialState::Committed,
        };
        if self.with_draft(shell, |content, d| d.set_material(content, name, chosen)) == Some(true)
        {
            self.refresh_materials(shell);
        }
    }

    fn refresh_materials(&self, shell: &KioskController) {
        let per_page = PerPage::MATERIALS.of(shell.large());
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            let window = PageWindow::of(d.materials().len(), d.material_page(), per_page);
            let rows: Vec<MaterialRow> = window
                .items(d.materials())
                .map(|m| {
                    let name = &m.material.name;
                    let chosen = d.material_state(name);
                    let options: Vec<MaterialOption> = d
                        .material_options(content, name)
                        .into_iter()
                        .map(|state| MaterialOption {
                            way: material_way(state),
                            label: material_choice_words(state).pick(english).into(),
                            plain: material_plain_words(state)
                                .map(|w| w.pick(english).to_string())
                                .unwrap_or_default()
                                .into(),
                            selected: Some(state) == chosen,
                        })
                        .collect();
                    MaterialRow {
                        name: name.as_str().into(),
                        copies: m.material.copies.as_str().into(),
                        key: m.material.key,
                        note: m.material.note.as_str().into(),
                        options: ModelRc::new(VecModel::from(options)),
                        state_label: match chosen {
                            Some(s) if english => s.label_en().into(),
                            Some(s) => s.label_zh().into(),
                            None => Words::fixed("请选择", "Please choose").pick(english).into(),
                        },
                    }
                })
                .collect();
            let elsewhere = d
                .undecided_page(per_page)
                .is_some_and(|page| page != window.page);
            (
                rows,
                window,
                d.materials_message(),
                d.step_words(Step::Materials, content),
                elsewhere,
            )
        });
        let Some((rows, window, message, step, elsewhere)) = view else {
            return;
        };
        self.show_step(shell, Step::Materials, &step);
        self.global(|j| {
            j.set_undecided_elsewhere(elsewhere);
            j.set_materials(ModelRc::new(VecModel::from(rows)));
            j.set_material_page(window.page as i32);
            j.set_material_pages(window.pages as i32);
            j.set_materials_message(message.pick(english).into());
        });
    }

    fn materials_next(&self, shell: &KioskController) {
        let per_page = PerPage::MATERIALS.of(shell.large());
        let Some(ok) = self.with_draft(shell, |_, d| d.check_materials(per_page)) else {
            return;
        };
        if ok {
            self.refresh_delivery(shell);
            shell.navigate(Screen::Delivery);
        } else {
            self.refresh_materials(shell);
            if shell.speaks_automatically() {
                let message = self.global(|j| j.get_materials_message());
                shell.say(&message);
            }
        }
    }

    fn choose_delivery(&self, shell: &KioskController, way: DeliveryWay) {
        let chosen = match way {
            DeliveryWay::Station => Delivery::Station,
            DeliveryWay::Mail => Delivery::Mail,
            DeliveryWay::Electronic => Delivery::Electronic,
        };
        self.with_draft(shell, |content, d| d.choose_delivery(content, chosen));
        self.refresh_delivery(shell);
    }

    fn refresh_delivery(&self, shell: &KioskController) {
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            let rows: Vec<DeliveryRow> = d
                .offered_deliveries(content)
                .iter()
                .map(|way| DeliveryRow {
                    way: delivery_way(*way),
                    label: if english {
                        way.label_en()
                    } else {
                        way.label_zh()
                    }
                    .into(),
                    selected: d.delivery() == Some(*way),
                })
                .collect();
            (
                rows,
                d.mail_address(),
                d.step_words(Step::Delivery, content),
            )
        });
        let Some((rows, address, step)) = view else {
            return;
        };
        self.show_step(shell, Step::Delivery, &step);
        self.global(|j| {
            j.set_deliveries(ModelRc::new(VecModel::from(rows)));
            j.set_mail_address(address.into());
        });
    }

    fn delivery_next(&self, shell: &KioskController) {
        if self.with_draft(shell, |_, d| d.delivery().is_some()) == Some(true) {
            self.with_draft(shell, |_, d| d.turn_summary_page(i32::MIN, 1));
            self.refresh_review(shell);
            shell.navigate(Screen::Review);
        }
    }

    /// 核对信息: the summary, a page at a time.
    fn refresh_review(&self, shell: &KioskController) {
        let per_page = PerPage::SUMMARY.of(shell.large());
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            let lines = d.summary(content);
            let window = PageWindow::of(lines.len(), d.summary_page(), per_page);
            let rows: Vec<SummaryRow> = window
                .items(&lines)
                .map(|line| SummaryRow {
                    label: line.label.pick(english).into(),
                    value: line.value.pick(english).into(),
                })
                .collect();
            (rows, window, d.step_words(Step::Review, content))
        });
        let Some((rows, window, step)) = view else {
            return;
        };
        self.show_step(shell, Step::Review, &step);
        self.global(|j| {
            j.set_summary(ModelRc::new(VecModel::from(rows)));
            j.set_summary_page(window.page as i32);
            j.set_summary_pages(window.pages as i32);
        });
    }

    /// What 朗读 says on the review and signature screens beyond their
    /// prompt: the whole summary, or the commitment the resident signs under.
    pub(super) fn spoken(&self, shell: &KioskController, screen: Screen) -> Option<String> {
        let english = shell.english();
        self.with_draft(shell, |content, d| match screen {
            Screen::Review => Some(
                d.summary(content)
                    .iter()
                    .map(|line| {
                        format!("{}：{}", line.label.pick(english), line.value.pick(english))
                    })
                    .collect::<Vec<_>>()
                    .join("。"),
            ),
            Screen::Commitment if d.commitment_needed(content) => {
                Some(d.commitment_text(content).pick(english).to_string())
            }
            _ => None,
        })
        .flatten()
    }

    /// The step bar: this journey's steps by name, `step` marked, and the
    /// step's title.
    fn show_step(&self, shell: &KioskController, step: Step, title: &Words) {
        let english = shell.english();
        let steps = self.with_draft(shell, |_, d| d.steps()).unwrap_or_default();
        let index = steps.iter().position(|s| *s == step).unwrap_or(0);
        let names: Vec<String> = steps
            .iter()
            .map(|s| s.name().pick(english).to_string())
            .collect();
        let title = title.pick(english).to_string();
        self.global(|j| {
            j.set_step(title.into());
            j.set_step_names(super::strings(names));
            j.set_step_index(index as i32);
        });
    }

    // --- commitment, signature, submit -------------------------------------------

    fn sign(&self, shell: &KioskController, f: impl FnOnce(&mut SignatureCapture)) {
        let view = self.with_draft(shell, |_, d| {
            f(d.signature_mut());
            (d.signature().path_commands(), d.is_signed())
        });
        let Some((ink, signed)) = view else {
            return;
        };
        self.global(|j| {
            j.set_ink(ink.into());
            j.set_signed(signed);
        });
    }

    fn refresh_commitment(&self, shell: &KioskController) {
        let english = shell.english();
        let view = self.with_draft(shell, |content, d| {
            (
                d.commitment_needed(content),
                d.commitment_text(content),
                d.committed(),
                d.step_words(Step::Commitment, content),
            )
        });
        let Some((needed, text, committed, step)) = view else {
            return;
        };
        self.show_step(shell, Step::Commitment, &step);
        self.global(|j| {
            j.set_commitment_needed(needed);
            j.set_commitment_text(text.pick(english).into());
            j.set_committed(committed);
        });
    }

    fn submit(&self, shell: &KioskController) {
        let identity = self.applicant_identity(shell);
        let Some(identity) = identity else {
            let message = shell.tr(
                "读不到身份证，请把身份证放回感应区后再提交",
                "The ID card cannot be read. Please put it back on the reader, then submit",
            );
            self.global(|j| j.set_submit_message(message.into()));
            return;
        };
        let assisted_by = shell.state.borrow().assisted_by.clone();
        let outcome = self.with_draft(shell, |content, d| {
            if d.submitting() {
                return None;
            }
            let ready = d.ready_to_submit(content, &identity, assisted_by);
            if ready.is_ok() {
                d.set_submitting(true);
            }
            Some(ready)
        });
        match outcome.flatten() {
            None => {}
            Some(Ok(ready)) => {
                self.global(|j| {
                    j.set_submitting(true);
                    j.set_submit_message(SharedString::new());
                });
                let mut application = ready.application;
                application.content_version = shell.content_version();
                application.agent = self.proxy_parts().map(|(agent, relation, declaration)| {
                    bianmin_core::application::Agent {
                        name: agent.name.clone(),
                        id_number: agent.id_number.clone(),
                        relationship: relation,
                        source: agent.source,
                        declaration: declaration.zh().to_string(),
                    }
                });
                shell.desk(DeskRequest::Submit(Box::new(Submission {
                    application,
                    title: ready.title,
                    time_limit: ready.time_limit,
                })));
            }
            Some(Err(message)) => {
                let message = shell.pick(&message);
                self.global(|j| j.set_submit_message(message.as_str().into()));
                if shell.speaks_automatically() {
                    shell.say(&message);
                }
            }
        }
    }

    // --- answers from the desk -----------------------------------------------------

    pub(super) fn on_desk(&self, shell: &KioskController, event: DeskEvent) {
        match event {
            DeskEvent::Submitted {
                receipt_no,
                qr,
                printed,
                printer_message,
                due_dates,
            } => self.on_submitted(
                shell,
                &receipt_no,
                &qr,
                printed,
                &printer_message,
                &due_dates,
            ),
            DeskEvent::SubmitFailed(message) => {
                let message = shell.pick(&message);
                self.with_draft(shell, |_, d| d.set_submitting(false));
                self.global(|j| {
                    j.set_submitting(false);
                    j.set_submit_message(message.as_str().into());
                });
                shell.say(&message);
            }
            DeskEvent::Reprinted(result) | DeskEvent::DocumentPrinted(result) => {
                let printed = result.is_ok();
                let message = match result {
                    Ok(()) => shell.tr("已打印，请取走", "Printed; please take it"),
                    Err(message) => shell.pick(&message),
                };
                if shell.kiosk(|k| k.get_screen()) == Screen::Receipt {
                    self.global(|j| {
                        j.set_printed(printed);
                        j.set_receipt_message(message.as_str().into());
                    });
                } else {
                    shell.show_notice(&message);
                }
            }
            DeskEvent::Evaluated(result) => {
                if let Err(message) = result {
                    shell.show_notice(&shell.pick(&message));
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
                        state: shell.pick(&r.state).into(),
                        updated: r.updated.into(),
                    })
                    .collect();
                let message = shell.pick(&message);
                self.global(|j| {
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
                let held = online.then(|| certificates.clone());
                self.with_draft(shell, |_, d| d.set_certificates(held));
                if shell.kiosk(|k| k.get_screen()) == Screen::Materials {
                    self.refresh_materials(shell);
                }
                let message = if !online {
                    shell.tr(
                        "网络未连接，暂时不能调取电子证照和打印材料。",
                        "Not connected: e-certificates cannot be fetched nor documents printed now.",
                    )
                } else if documents.is_empty() {
                    shell.tr(
                        "平台上暂时没有您可以打印的材料。",
                        "The platform has no documents for you to print yet.",
                    )
                } else {
                    shell.tr("点材料名称即可打印。", "Tap a document's name to print it.")
                };
                let rows: Vec<DocumentItem> = documents
                    .into_iter()
                    .map(|d| DocumentItem {
                        id: d.id.into(),
                        title: d.title.into(),
                    })
                    .collect();
                self.global(|j| {
                    j.set_certificates(super::strings(certificates));
                    j.set_documents(ModelRc::new(VecModel::from(rows)));
                    j.set_documents_message(message.into());
                });
            }
            DeskEvent::FeedbackSaved(result) => {
                let message = match result {
                    Ok(()) => shell.tr(
                        "已记录您的反映，工作人员会跟进。谢谢您！",
                        "Your report is recorded and staff will follow it up. Thank you!",
                    ),
                    Err(message) => shell.pick(&message),
                };
                self.global(|j| j.set_feedback_message(message.as_str().into()));
                shell.say(&message);
            }
            // The shell takes the kiosk out of service before a journey
            // hears of it.
            // The shell handles these before the journey sees them.
            DeskEvent::StoreBroken { .. }
            | DeskEvent::CodeChecked(_)
            | DeskEvent::StationView(_) => {}
        }
    }

    fn on_submitted(
        &self,
        shell: &KioskController,
        receipt_no: &str,
        qr: &str,
        printed: bool,
        printer_message: &Words,
        due_dates: &std::collections::BTreeMap<String, String>,
    ) {
        let english = shell.english();
        let Some(draft) = self.state.borrow_mut().draft.take() else {
            return;
        };
        let owed: Vec<String> = draft
            .owed()
            .into_iter()
            .map(|o| match (english, due_dates.get(&o.name)) {
                (true, None) => format!("{}: {}", o.name, o.state.label_en()),
                (true, Some(day)) => {
                    format!("{}: {}, due by {day}", o.name, o.state.label_en())
                }
                (false, None) => format!("{}：{}", o.name, o.state.label_zh()),
                (false, Some(day)) => {
                    format!("{}：{}，请于{day}前补交", o.name, o.state.label_zh())
                }
            })
            .collect();
        self.state.borrow_mut().completed = Some(Completed::new(receipt_no, draft.subject_code()));
        let message = if printed {
            shell.tr(
                "回执已打印，请取走。凭回执二维码可查询办理进度。",
                "Your receipt is printed; please take it.",
            )
        } else {
            // Staff are called by the shell as this lands (controller.rs).
            shell.pick(&printer_message.clone().then(&Words::fixed(
                "已为您呼叫工作人员补打回执，请在终端前稍候。也可以用手机拍下回执编号和二维码。",
                "Staff have been called to reprint your receipt; please wait here. You can also photograph the receipt number and QR code.",
            )))
        };
        let qr_image = qr_image(qr);
        self.global(|j| {
            j.set_submitting(false);
            j.set_title(draft.shown_title(english).into());
            j.set_time_limit(draft.time_limit().into());
            j.set_owed(super::strings(owed));
            j.set_receipt_no(receipt_no.into());
            j.set_receipt_qr(qr_image);
            j.set_printed(printed);
            j.set_receipt_message(message.as_str().into());
        });
        // The form is done with: nobody goes back into a submitted application.
        shell.state.borrow_mut().back_stack.clear();
        shell.navigate(Screen::Receipt);
    }

    fn reprint(&self, shell: &KioskController) {
        let receipt = self.with_completed(|c| c.receipt_no().to_string());
        if let Some(receipt_no) = receipt {
            let message = shell.tr("正在打印……", "Printing…");
            self.global(|j| j.set_receipt_message(message.into()));
            shell.desk(DeskRequest::Reprint { receipt_no });
        }
    }

    // --- 好差评 ----------------------------------------------------------------------

    fn rate(&self, shell: &KioskController, value: &str) {
        let Some(level) = Satisfaction::ALL
            .iter()
            .copied()
            .find(|s| s.score().to_string() == value)
        else {
            return;
        };
        match self.with_completed(|c| c.rate(level)) {
            Some(true) => self.refresh_rating(shell),
            Some(false) => self.rating_submit(shell),
            None => {}
        }
    }

    fn toggle_reason(&self, shell: &KioskController, value: &str) {
        if let Some(reason) = LowReason::ALL
            .iter()
            .copied()
            .find(|r| reason_value(*r) == value)
        {
            self.with_completed(|c| c.toggle_reason(reason));
        }
        self.refresh_rating(shell);
    }

    fn rating_submit(&self, shell: &KioskController) {
        if let Some(Some(rating)) = self.with_completed(Completed::submit_rating) {
            shell.desk(DeskRequest::Evaluate {
                receipt_no: rating.receipt_no,
                service_code: rating.service_code,
                evaluation: rating.evaluation,
            });
        }
        self.refresh_rating(shell);
    }

    fn refresh_rating(&self, shell: &KioskController) {
        let per_page = PerPage::REASONS.of(shell.large());
        let english = shell.english();
        let view = self.with_completed(|completed| {
            let levels: Vec<(String, String, bool)> = Satisfaction::ALL
                .iter()
                .map(|s| {
                    (
                        s.score().to_string(),
                        if english { s.label_en() } else { s.label_zh() }.to_string(),
                        completed.rating() == Some(*s),
                    )
                })
                .collect();
            let window = PageWindow::of(LowReason::ALL.len(), completed.reason_page(), per_page);
            let reasons: Vec<(String, String, bool)> = window
                .items(&LowReason::ALL)
                .map(|r| {
                    (
                        reason_value(*r),
                        if english { r.label_en() } else { r.label_zh() }.to_string(),
                        completed.reasons().contains(r),
                    )
                })
                .collect();
            let asks = completed.rating().is_some_and(|r| r.asks_reasons());
            let chosen = completed
                .rating()
                .map(|s| if english { s.label_en() } else { s.label_zh() })
                .unwrap_or_default();
            (levels, reasons, window, asks, completed.rated(), chosen)
        });
        let Some((levels, reasons, window, asks, rated, chosen)) = view else {
            return;
        };
        self.global(|j| {
            j.set_rating_label(chosen.into());
            j.set_levels(choices(levels));
            j.set_reasons(choices(reasons));
            j.set_reason_page(window.page as i32);
            j.set_reason_pages(window.pages as i32);
            j.set_rating(if asks { 1 } else { 0 });
            j.set_rated(rated);
        });
    }

    // --- progress, documents, feedback -------------------------------------------------

    /// 查进度: with a card down, the resident's own applications at once.
    pub(super) fn open_progress(&self, shell: &KioskController) {
        let identified = !shell.state.borrow().resident_masked.is_empty();
        self.global(|j| {
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(identified);
        });
        shell.navigate(Screen::Progress);
        if identified {
            shell.desk(DeskRequest::ProgressForResident);
        }
    }

    /// A receipt's QR was scanned anywhere: show its progress. The UI asks
    /// the desk (not the scanner's forwarder) so the answer carries this
    /// session's tag and is dropped if the resident has gone by then.
    pub(super) fn progress_for_receipt(&self, shell: &KioskController, receipt_no: String) {
        self.global(|j| {
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(true);
        });
        if shell.kiosk(|k| k.get_screen()) != Screen::Progress {
            shell.navigate(Screen::Progress);
        }
        shell.desk(DeskRequest::ProgressByReceipt(receipt_no));
    }

    fn open_documents(&self, shell: &KioskController) {
        let identified = !shell.state.borrow().resident_masked.is_empty();
        if !identified {
            self.forget_pending_apply();
            shell.start_identify();
            shell.show_notice(&shell.tr(
                "自助打印前请先刷身份证",
                "Please identify with your ID card before printing",
            ));
            return;
        }
        let message = shell.tr(
            "正在向平台查询您的材料……",
            "Asking the platform for your documents…",
        );
        self.global(|j| {
            j.set_documents(ModelRc::default());
            j.set_certificates(ModelRc::default());
            j.set_documents_message(message.into());
        });
        shell.navigate(Screen::Documents);
        shell.desk(DeskRequest::FetchDocuments);
    }

    /// The topics of 办不成事反映: the package's, else the kiosk's own.
    fn topics(shell: &KioskController) -> Vec<(String, Words)> {
        let state = shell.state.borrow();
        if state.feedback_topics.is_empty() {
            FEEDBACK_TOPICS
                .iter()
                .map(|(value, words)| (value.to_string(), words.clone()))
                .collect()
        } else {
            state
                .feedback_topics
                .iter()
                .map(|t| (t.value.clone(), t.text.words()))
                .collect()
        }
    }

    fn feedback_topics(shell: &KioskController, chosen: &str) -> ModelRc<ChoiceRow> {
        let english = shell.english();
        choices(Self::topics(shell).into_iter().map(|(value, label)| {
            let selected = value == chosen;
            (value, label.pick(english).to_string(), selected)
        }))
    }

    fn open_feedback(&self, shell: &KioskController) {
        let topics = Self::feedback_topics(shell, "");
        {
            let mut state = self.state.borrow_mut();
            state.feedback_topic = None;
            state.feedback_phone = Default::default();
        }
        self.global(|j| {
            j.set_feedback_topics(topics);
            j.set_feedback_message(SharedString::new());
            j.set_feedback_topic(SharedString::new());
            j.set_feedback_phone(SharedString::new());
            j.set_feedback_phone_ok(false);
            j.set_feedback_done(false);
        });
        shell.navigate(Screen::Feedback);
    }

    /// A topic is chosen: next, the number to call back on (optional).
    fn choose_feedback_topic(&self, shell: &KioskController, topic: &str) {
        let Some((value, label)) = Self::topics(shell).into_iter().find(|(v, _)| v == topic) else {
            return;
        };
        let topics = Self::feedback_topics(shell, topic);
        let shown = label.pick(shell.english()).to_string();
        self.state.borrow_mut().feedback_topic = Some((value, label));
        self.global(|j| {
            j.set_feedback_topics(topics);
            j.set_feedback_topic(shown.into());
        });
    }

    /// Longest number typed: a mobile is 11 digits, a landline with its
    /// area code at most 12.
    const PHONE_DIGITS_MAX: usize = 12;

    fn feedback_key(&self, shell: &KioskController, key: &str) {
        shell.activity();
        {
            let mut state = self.state.borrow_mut();
            if key.len() == 1
                && key.bytes().all(|b| b.is_ascii_digit())
                && state.feedback_phone.len() < Self::PHONE_DIGITS_MAX
            {
                state.feedback_phone.push_str(key);
            }
        }
        self.show_feedback_phone();
    }

    fn feedback_backspace(&self, shell: &KioskController) {
        shell.activity();
        self.state.borrow_mut().feedback_phone.pop();
        self.show_feedback_phone();
    }

    fn show_feedback_phone(&self) {
        let (shown, ok) = {
            let state = self.state.borrow();
            let digits = state.feedback_phone.as_str();
            (
                bianmin_core::phone::group(digits),
                bianmin_core::form::is_phone(digits),
            )
        };
        self.global(|j| {
            j.set_feedback_phone(shown.into());
            j.set_feedback_phone_ok(ok);
        });
    }

    /// The report goes to the outbox: which service, what went wrong and,
    /// when the resident left one, the number to call back on.
    fn submit_feedback(&self, shell: &KioskController, with_phone: bool) {
        let (topic, phone) = {
            let mut state = self.state.borrow_mut();
            let phone = std::mem::take(&mut state.feedback_phone);
            (state.feedback_topic.take(), phone)
        };
        let Some((_, label)) = topic else {
            return;
        };
        let callback_phone = (with_phone && bianmin_core::form::is_phone(&phone))
            .then(|| bianmin_desk::Private(phone));
        let service_code = shell.state.borrow().guide_code.clone();
        let recording = shell.tr("正在记录……", "Recording…");
        self.global(|j| {
            j.set_feedback_message(recording.into());
            j.set_feedback_phone(SharedString::new());
            j.set_feedback_phone_ok(false);
            j.set_feedback_done(true);
        });
        // The platform's staff read Chinese, whatever the screen showed.
        shell.desk(DeskRequest::Feedback {
            service_code,
            text: label.zh().to_string(),
            callback_phone,
        });
    }

    /// The session ended: the draft, the receipt and every view model that
    /// could show them are emptied.
    pub(super) fn wipe(&self) {
        *self.state.borrow_mut() = JourneyState::default();
        self.global(|j| {
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
            j.set_rating_label(SharedString::new());
            j.set_rated(false);
            j.set_reasons(ModelRc::default());
            j.set_progress(ModelRc::default());
            j.set_progress_message(SharedString::new());
            j.set_progress_waiting(false);
            j.set_certificates(ModelRc::default());
            j.set_documents(ModelRc::default());
            j.set_documents_message(SharedString::new());
            j.set_feedback_message(SharedString::new());
            j.set_feedback_topic(SharedString::new());
            j.set_feedback_phone(SharedString::new());
            j.set_feedback_phone_ok(false);
            j.set_feedback_done(false);
            j.set_step_names(ModelRc::default());
            j.set_step_index(0);
            j.set_summary(ModelRc::default());
            j.set_summary_page(0);
            j.set_summary_pages(1);
        });
    }
}

/// The value being edited as its field shows it: the end, with the pinyin
/// being composed, cut at the start (marked …) when longer than a line of
/// the editor holds in this theme.
fn shown_end(value: &str, composing: &str, large: bool) -> String {
    // Wide characters per line of the editor's title-size font.
    let fits = if large { 19 } else { 30 };
    let mut text = value.to_string();
    if !composing.is_empty() {
        text.push(' ');
        text.push_str(composing);
    }
    // Latin letters and digits take about half a wide character.
    let width = |c: &char| if c.is_ascii() { 1 } else { 2 };
    let total: usize = text.chars().map(|c| width(&c)).sum();
    if total <= fits * 2 {
        return text;
    }
    let mut kept = Vec::new();
    let mut used = 2; // the leading …
    for c in text.chars().rev() {
        used += width(&c);
        if used > fits * 2 {
            break;
        }
        kept.push(c);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

fn clear_editor(j: &JourneyGlobal<'_>) {
    j.set_editing(false);
    j.set_editing_shown(SharedString::new());
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

fn field_row(field: FieldView) -> FieldRow {
    FieldRow {
        key: field.key.into(),
        label: field.label.into(),
        value: field.value.into(),
        error: field.error.into(),
        hint: field.hint.into(),
        required: field.required,
        prefilled: field.prefilled,
    }
}

/// The policy term behind a way of providing a material, in plain words.
fn material_plain_words(state: MaterialState) -> Option<Words> {
    use bianmin_core::glossary::Term;
    match state {
        MaterialState::Provided => None,
        MaterialState::ECertFetched => Some(Term::ECertificate.plain()),
        MaterialState::PendingVerification => Some(Term::PendingVerification.plain()),
        MaterialState::Missing => Some(Term::Tolerant.plain()),
        MaterialState::Committed => Some(Term::Commitment.plain()),
    }
}

fn material_way(state: MaterialState) -> MaterialWay {
    match state {
        MaterialState::Provided => MaterialWay::Provided,
        MaterialState::ECertFetched | MaterialState::PendingVerification => {
            MaterialWay::ECertificate
        }
        MaterialState::Missing => MaterialWay::Missing,
        MaterialState::Committed => MaterialWay::Committed,
    }
}

fn delivery_way(delivery: Delivery) -> DeliveryWay {
    match delivery {
        Delivery::Station => DeliveryWay::Station,
        Delivery::Mail => DeliveryWay::Mail,
        Delivery::Electronic => DeliveryWay::Electronic,
    }
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

/// Today on the station's calendar (ages of agents and applicants).
fn station_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&bianmin_core::time::station_zone())
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::shown_end;

    #[test]
    fn a_long_value_shows_its_end_with_the_letters_composing() {
        let address = "北京市东城区示例路88号院3号楼2单元101室";
        assert_eq!(shown_end("张三", "", true), "张三");
        let shown = shown_end(address, "zhang", true);
        assert!(shown.starts_with('…'), "{shown}");
        assert!(shown.ends_with("101室 zhang"), "{shown}");
        // A wider editor in the standard theme shows it all.
        assert_eq!(shown_end(address, "", false), address);
    }
}
