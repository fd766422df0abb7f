//! The application journey without screens: whole journeys through the
//! model with the demo content, as the screens drive it.

use bianmin_core::application::MaterialState;
use bianmin_core::catalogue::Delivery;
use bianmin_core::evaluation::{LowReason, Satisfaction};
use bianmin_core::form::Identity;
use bianmin_core::package::Package;
use bianmin_journey::{Completed, Content, Draft, EditorKind, Step};

/// 居住证申领: 告知承诺 and 容缺, two key materials, station or mail.
const PERMIT: &str = "DEMO-HJ-003";
const ID_CARD: &str = "居民身份证";
const RESIDENCE_PROOF: &str = "居住证明";
const JOB_PROOF: &str = "就业或就读证明";
const PHOTO: &str = "近期白底免冠照片";

/// The demo content package, as `bianmin demo` serves it.
struct Demo {
    package: Package,
}

impl Demo {
    fn new() -> Demo {
        Demo {
            package: Package::demo(),
        }
    }

    fn content(&self) -> Content<'_> {
        Content {
            catalogue: &self.package.catalogue,
            forms: &self.package.forms,
            bundles: &self.package.bundles,
            commitments: &self.package.commitments,
        }
    }
}

/// GB 11643's own worked example, with what the card says of her.
fn resident() -> Identity {
    Identity {
        name: "李秀英".into(),
        id_number: "11010519491231002X".into(),
        gender: "女".into(),
        birth_date: "1949-12-31".into(),
        address: "演示县城关镇人民路12号".into(),
        source: bianmin_core::form::IdentitySource::IdCard,
    }
}

fn type_into(draft: &mut Draft, key: &str, text: &str) {
    assert!(draft.edit_field(key, 5), "{key} is on the form");
    for c in text.chars() {
        draft.editor_key(&c.to_string());
    }
}

fn sign(draft: &mut Draft) {
    let pad = draft.signature_mut();
    pad.start(40.0, 60.0);
    for i in 0..40 {
        pad.extend(40.0 + i as f32 * 8.0, 60.0 + (i % 7) as f32 * 9.0);
    }
    pad.end();
}

#[test]
fn a_single_service_from_the_form_to_a_submittable_application() {
    let demo = Demo::new();
    let content = demo.content();
    let mut draft = Draft::for_service(content, PERMIT).unwrap();
    assert!(!draft.is_bundle());
    assert_eq!(draft.step_number(Step::Form), 1);
    assert_eq!(draft.step_number(Step::Review), 4);
    assert_eq!(draft.step_number(Step::Commitment), 5);

    // The card fills what it knows; the phone is the resident's to type.
    draft.prepare_form(content, &resident());
    assert_eq!(draft.value("applicant.name"), Some("李秀英"));
    assert!(
        draft
            .field_view(&draft.fields()[0].spec.clone(), false)
            .prefilled
    );
    assert!(!draft.check_form(6), "no phone yet");
    assert_eq!(draft.error_count(), 1);
    assert!(draft.form_message().zh().contains("1 项"));
    type_into(&mut draft, "applicant.phone", "13800138000");
    assert_eq!(draft.editor().unwrap().kind, EditorKind::Keypad);
    assert!(draft.editor_done());
    assert!(draft.check_form(6));
    assert!(draft.form_message().is_empty());

    // Materials: the ID card is an e-certificate, fetched once the
    // platform says it holds one; key materials are never 容缺 or 承诺.
    assert_eq!(
        draft.material_state(ID_CARD),
        Some(MaterialState::PendingVerification)
    );
    draft.set_certificates(Some(vec![ID_CARD.to_string()]));
    assert_eq!(
        draft.material_state(ID_CARD),
        Some(MaterialState::ECertFetched)
    );
    let key_options = draft.material_options(content, RESIDENCE_PROOF);
    assert!(!key_options.contains(&MaterialState::Missing));
    assert!(!key_options.contains(&MaterialState::Committed));
    assert!(!draft.set_material(content, RESIDENCE_PROOF, MaterialState::Missing));
    assert!(draft.set_material(content, RESIDENCE_PROOF, MaterialState::Provided));
    let options = draft.material_options(content, JOB_PROOF);
    assert!(
        options.contains(&MaterialState::Missing) && options.contains(&MaterialState::Committed)
    );
    assert!(draft.set_material(content, JOB_PROOF, MaterialState::Committed));
    assert!(!draft.check_materials(1), "the photo is undecided");
    let photo_at = draft
        .materials()
        .iter()
        .position(|m| m.material.name == PHOTO)
        .unwrap();
    assert_eq!(
        draft.material_page(),
        photo_at,
        "the page of the undecided photo"
    );
    assert_eq!(draft.undecided_materials(), vec![PHOTO]);
    // The message names the material, and the page it is on can be shown.
    assert_eq!(
        draft.materials_message().zh(),
        format!("「{PHOTO}」还没选提供方式")
    );
    draft.turn_material_page(-9, 1);
    draft.show_undecided(1);
    assert_eq!(draft.material_page(), photo_at);
    assert!(draft.set_material(content, PHOTO, MaterialState::Missing));
    assert!(draft.check_materials(1));

    // Delivery: only what the service offers.
    assert_eq!(
        draft.offered_deliveries(content),
        vec![Delivery::Station, Delivery::Mail]
    );
    assert!(!draft.choose_delivery(content, Delivery::Electronic));
    assert!(draft.choose_delivery(content, Delivery::Mail));
    assert_eq!(draft.mail_address(), "演示县城关镇人民路12号");

    // 告知承诺 and signature, in that order of complaint.
    assert!(draft.commitment_needed(content));
    assert_eq!(
        draft.step_words(Step::Commitment, content).zh(),
        "第 5 步 / 共 5 步：签名确认（告知承诺与签名）"
    );
    assert!(draft.commitment_text(content).zh().contains("居住证申领"));
    let unsigned = draft.ready_to_submit(content, &resident(), None);
    assert_eq!(unsigned.err().unwrap().zh(), "请先在方框内签名");
    sign(&mut draft);
    assert!(draft.is_signed());
    assert!(draft.ready_to_submit(content, &resident(), None).is_err());
    draft.toggle_commitment();
    let ready = draft
        .ready_to_submit(content, &resident(), Some("clerk-7".into()))
        .unwrap();
    assert_eq!(ready.title, "居住证申领");
    // What the resident read before signing goes into the record: the
    // summary (ID number masked) and the commitment text.
    let confirmation = &ready.application.confirmation;
    assert_eq!(confirmation.summary[0], "办理事项：居住证申领");
    assert!(confirmation
        .summary
        .iter()
        .any(|l| l == "联系电话：138 0013 8000"));
    assert!(confirmation
        .summary
        .iter()
        .any(|l| l == &format!("材料：{JOB_PROOF}：告知承诺")));
    assert!(!confirmation.summary.iter().any(|l| l.contains("19491231")));
    assert_eq!(
        confirmation.commitment.as_deref(),
        Some(draft.commitment_text(content).zh())
    );
    assert_eq!(ready.time_limit, "15个工作日");
    let states: Vec<MaterialState> = ready
        .application
        .materials
        .iter()
        .map(|m| m.state)
        .collect();
    assert!(states.contains(&MaterialState::Committed));
    assert!(states.contains(&MaterialState::Missing));
    let owed: Vec<String> = draft.owed().into_iter().map(|o| o.name).collect();
    assert_eq!(owed, vec![PHOTO.to_string()]);
}

#[test]
fn a_bundle_asks_its_questions_before_one_merged_form() {
    let demo = Demo::new();
    let content = demo.content();
    let mut draft = Draft::for_bundle(content, "newborn").unwrap();
    assert!(draft.is_bundle());
    assert_eq!(draft.step_number(Step::Questions), 1);
    assert_eq!(draft.step_number(Step::Form), 2);
    assert_eq!(draft.step_number(Step::Commitment), 6);
    assert!(!draft.answer(content, "not-an-option"));
    assert!(!draft.finish_questions(content), "questions are open");
    let mut answered = 0;
    while let Some(next) = draft.questions(content, false).unwrap().next {
        let first = next.options[0].value.clone();
        assert!(draft.answer(content, &first));
        answered += 1;
        let step = draft.step_words(Step::Questions, content);
        let open = draft.questions(content, false).unwrap().next.is_some();
        assert!(
            !open || step.zh().contains(&format!("已答 {answered} 题")),
            "{}",
            step.zh()
        );
    }
    assert!(draft
        .step_words(Step::Questions, content)
        .zh()
        .contains("问卷完成"));
    let items = draft.questions(content, false).unwrap().items;
    assert!(items.len() >= 2, "{items:?}");
    assert!(draft.finish_questions(content));
    draft.prepare_form(content, &resident());
    assert!(draft
        .step_words(Step::Form, content)
        .zh()
        .contains("个事项合并为一张表"));
    assert!(!draft.fields().is_empty());
    draft.restart_questions();
    assert_eq!(draft.questions(content, false).unwrap().answered.len(), 0);
}

#[test]
fn the_field_editor_keeps_to_each_keyboard() {
    let demo = Demo::new();
    let content = demo.content();
    let mut draft = Draft::for_bundle(content, "newborn").unwrap();
    while let Some(next) = draft.questions(content, false).unwrap().next {
        let first = next.options[0].value.clone();
        draft.answer(content, &first);
    }
    assert!(draft.finish_questions(content));
    draft.prepare_form(content, &resident());

    // A date: eight digits, dashes put in, letters ignored.
    type_into(&mut draft, "child.birth_date", "2026a1104");
    assert_eq!(draft.editor().unwrap().value, "2026-11-04");
    draft.editor_backspace();
    assert_eq!(draft.editor().unwrap().value, "2026-11-0");
    draft.editor_cancel();
    assert!(!draft.is_editing());
    assert_eq!(
        draft.value("child.birth_date"),
        None,
        "cancel keeps nothing"
    );

    // Pinyin: letters compose, a pick commits hanzi.
    type_into(&mut draft, "child.name", "wang");
    let editor = draft.editor().unwrap();
    assert_eq!(editor.kind, EditorKind::Pinyin);
    assert_eq!(editor.composing, "wang");
    assert!(!editor.candidates.is_empty());
    draft.editor_pick(0);
    let editor = draft.editor().unwrap();
    assert!(editor.composing.is_empty());
    assert_eq!(editor.value.chars().count(), 1, "{}", editor.value);
    // One character is too short for a name: the editor stays open and says why.
    assert!(!draft.editor_done());
    assert!(draft.is_editing());
    assert!(!draft.editing_field(false).unwrap().error.is_empty());

    // A choice: only the schema's choices are taken.
    assert!(draft.edit_field("child.gender", 5));
    assert_eq!(draft.editor().unwrap().kind, EditorKind::Choice);
    assert!(!draft.editor_choose("unknown"), "a value not offered");
    assert!(draft.editor_choose("女"));
    assert_eq!(draft.value("child.gender"), Some("女"));
}

#[test]
fn a_rating_is_sent_once_and_low_ones_ask_why() {
    let mut completed = Completed::new("T0001-20261204-0001", PERMIT);
    assert!(completed.submit_rating().is_none(), "no level yet");
    assert!(completed.rate(Satisfaction::Dissatisfied));
    completed.toggle_reason(LowReason::ALL[0]);
    completed.toggle_reason(LowReason::ALL[1]);
    completed.toggle_reason(LowReason::ALL[0]);
    assert_eq!(completed.reasons().len(), 1);
    // Changing the level forgets the reasons given for the old one.
    assert!(!completed.rate(Satisfaction::VerySatisfied));
    assert!(completed.reasons().is_empty());
    let sent = completed.submit_rating().unwrap();
    assert_eq!(sent.service_code, PERMIT);
    assert_eq!(sent.receipt_no, "T0001-20261204-0001");
    assert!(completed.rated());
    assert!(completed.submit_rating().is_none(), "sent once");
}

/// 代办: the first step names the applicant (typed, checked); the form of a
/// service with 监护人或代办人 fields takes them from the agent; the agent
/// signs a declaration under the commitment, which 代办 always asks for.
#[test]
fn an_agent_names_the_applicant_and_fills_the_guardian_fields_from_their_own_card() {
    let demo = Demo::new();
    let mut first = Draft::for_principal();
    assert!(first.is_principal());
    assert!(first.principal().is_none(), "nothing typed yet");
    // Two syllables picked from the pinyin keyboard's candidates.
    for syllable in ["wang", "xiu"] {
        for c in syllable.chars() {
            if !first.is_editing() {
                assert!(first.edit_field("principal.name", 5));
            }
            first.editor_key(&c.to_string());
        }
        first.editor_pick(0);
    }
    assert!(first.editor_done(), "a two-character name");
    type_into(&mut first, "principal.id_number", "11010519491231002X");
    assert!(first.editor_done());
    assert!(first.edit_field("principal.relation", 5));
    assert!(first.editor_choose("子女"));
    assert!(first.check_form(6));
    let (principal, relation) = first.principal().expect("named");
    assert_eq!(principal.birth_date, "1949-12-31");
    assert_eq!(principal.gender, "女");
    assert_eq!(relation, "子女");

    // 残疾人两项补贴 asks for the 监护人或代办人: the agent is it.
    let mut form =
        Draft::for_service(demo.content(), "DEMO-CL-004").expect("in the demo catalogue");
    form.prepare_form(demo.content(), &principal);
    assert_eq!(
        form.value("applicant.id_number"),
        Some("11010519491231002X")
    );
    let agent = Identity {
        name: "李明".into(),
        id_number: "110101199003071235".into(),
        gender: "男".into(),
        birth_date: "1990-03-07".into(),
        address: String::new(),
        source: bianmin_core::form::IdentitySource::IdCard,
    };
    let declaration = bianmin_core::words::Words::fixed("代办人声明：测试。", "Agent: test.");
    form.set_proxy(&agent, &relation, declaration);
    assert_eq!(form.value("guardian.name"), Some("李明"));
    assert_eq!(form.value("guardian.id_number"), Some("110101199003071235"));
    assert_eq!(form.value("guardian.relation"), Some("子女"));
    assert!(form.commitment_needed(demo.content()));
    assert!(form
        .commitment_text(demo.content())
        .zh()
        .ends_with("代办人声明：测试。"));
}
