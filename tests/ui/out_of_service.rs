//! Out of service stays out of service: a broken store (at start, or found
//! by any desk operation) keeps the page up through card placements, scans
//! and session ends. And an answer of the desk that comes after the
//! session that asked has ended is never drawn for the next resident.

use super::support::{kiosk, pressed, screen, tap};
use bianmin::services;
use bianmin_config::Config;
use bianmin_core::form::Identity;
use bianmin_core::session::EndReason;
use bianmin_desk::{DeskAnswer, DeskEvent, DeskRequest, ProgressRow, SessionId};
use bianmin_ui::controller::KioskHooks;
use bianmin_ui::events::UiEvent;
use bianmin_ui::{press, AppWindow, Journey, Kiosk, KioskController, Screen};
use slint::{ComponentHandle, Model};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Hand what the services reported to the UI until `seen` accepts one.
fn pump_until(
    services: &services::Services,
    controller: &KioskController,
    what: &str,
    seen: impl Fn(&UiEvent) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut found = false;
        for event in services.inbox.drain() {
            found |= seen(&event);
            controller.handle(event);
        }
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "no {what} within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_store_broken_at_start_keeps_the_kiosk_out_of_service_through_card_and_scan() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    // What an SD card with a damaged database looks like.
    std::fs::write(
        dir.path().join(bianmin_store::DB_FILE),
        b"NOT A DATABASE!! and some more bytes than its header",
    )
    .unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    let services = services::start(&mut config, true);
    let fault = services.fault.clone().expect("a store that cannot open");
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(
        &ui,
        config.clone(),
        services
            .content
            .clone()
            .unwrap_or_else(bianmin_core::package::Package::demo),
    );
    controller.set_hooks(bianmin::app::kiosk_hooks(&services));
    ui.show().unwrap();
    // As `run` does with a fault from the services.
    controller.out_of_service(&fault);
    assert_eq!(screen(&ui), Screen::OutOfService);

    let devices = services.demo_devices.as_ref().expect("demo devices");
    devices.place_card(0);
    pump_until(&services, &controller, "card", |e| {
        matches!(e, UiEvent::CardPresent { .. })
    });
    assert_eq!(screen(&ui), Screen::OutOfService, "a card opens nothing");
    assert!(ui.global::<Kiosk>().get_resident().is_empty());

    devices.scan(&bianmin_store::receipt::format("T0001", "20261125", 42));
    pump_until(&services, &controller, "scan", |e| {
        matches!(e, UiEvent::ReceiptScanned(_))
    });
    assert_eq!(screen(&ui), Screen::OutOfService, "a scan opens nothing");

    // The page's one button still works.
    tap(&ui, "呼叫工作人员");
    assert!(!ui.global::<Kiosk>().get_notice().is_empty());

    devices.lift_card();
    pump_until(&services, &controller, "card removal", |e| {
        matches!(e, UiEvent::CardRemoved)
    });
    controller.end_session(EndReason::Finished);
    assert_eq!(screen(&ui), Screen::OutOfService, "a session end neither");
    drop(services);
}

#[test]
fn a_store_that_breaks_mid_journey_takes_the_kiosk_out_of_service_for_good() {
    let (ui, controller) = kiosk();
    pressed(press::find_service(&ui, "social-security", "DEMO-SB-001"));
    assert_eq!(screen(&ui), Screen::Guide);
    // Any desk operation that finds the store broken says so beside its answer.
    controller.handle(UiEvent::Desk(DeskAnswer {
        session: SessionId::NONE,
        event: DeskEvent::StoreBroken {
            detail: "the database is corrupted: file is not a database".into(),
        },
    }));
    assert_eq!(screen(&ui), Screen::OutOfService);
    assert!(!ui.global::<Kiosk>().get_fault_code().is_empty());

    // The next resident puts a card down and scans a receipt: still out of service.
    controller.handle(UiEvent::CardPresent {
        masked_name: "张*".into(),
        masked_id: "11**************1X".into(),
    });
    assert_eq!(screen(&ui), Screen::OutOfService);
    assert!(ui.global::<Kiosk>().get_resident().is_empty());
    controller.handle(UiEvent::ReceiptScanned(bianmin_store::receipt::format(
        "T0001", "20261125", 42,
    )));
    assert_eq!(screen(&ui), Screen::OutOfService);
    controller.end_session(EndReason::TimedOut);
    assert_eq!(screen(&ui), Screen::OutOfService);
    // A content package opens a kiosk that waited for one, not a broken one.
    controller.set_content(bianmin_core::package::Package::demo());
    assert_eq!(screen(&ui), Screen::OutOfService);
}

/// Records what the UI asks of the desk, with the session that asked.
#[derive(Default)]
struct Desk(RefCell<Vec<(SessionId, DeskRequest)>>);

impl KioskHooks for Desk {
    fn identity(&self) -> Option<Identity> {
        bianmin_drivers::idcard::sim::demo_cards()
            .first()
            .map(bianmin_ops::devices::core_identity)
    }
    fn desk(&self, session: SessionId, request: DeskRequest) {
        self.0.borrow_mut().push((session, request));
    }
}

fn card_down(controller: &KioskController, ui: &AppWindow, name: &str) {
    controller.handle(UiEvent::CardPresent {
        masked_name: name.into(),
        masked_id: "11**************1X".into(),
    });
    tap(ui, "知道了");
}

/// The session of the last progress look-up the UI asked for.
fn progress_asked(desk: &Desk) -> SessionId {
    desk.0
        .borrow()
        .iter()
        .rev()
        .find(|(_, r)| matches!(r, DeskRequest::ProgressForResident))
        .map(|(s, _)| *s)
        .expect("progress asked of the desk")
}

fn progress_of(receipt: &str) -> DeskEvent {
    DeskEvent::Progress {
        live: true,
        rows: vec![ProgressRow {
            receipt_no: receipt.into(),
            service_name: "社会保障卡申领".into(),
            state: bianmin_desk::local_state_words(bianmin_store::RecordState::Acked),
            updated: "2026-11-25 10:32".into(),
        }],
        message: Default::default(),
    }
}

#[test]
fn a_desk_answer_after_its_session_ended_is_not_drawn_for_the_next_resident() {
    let (ui, controller) = kiosk();
    let desk = Rc::new(Desk::default());
    controller.set_hooks(desk.clone());
    let first_receipt = bianmin_store::receipt::format("T0001", "20261125", 1);
    let second_receipt = bianmin_store::receipt::format("T0001", "20261125", 2);

    // The first resident asks for their progress and lifts the card before
    // the platform answers.
    card_down(&controller, &ui, "张*");
    tap(&ui, "查进度");
    let first = progress_asked(&desk);
    controller.handle(UiEvent::CardRemoved);
    assert_eq!(screen(&ui), Screen::Attract);

    // The next resident does the same.
    card_down(&controller, &ui, "李*");
    tap(&ui, "查进度");
    let second = progress_asked(&desk);
    assert_ne!(first, second, "each session tags its requests");

    // The first resident's answer arrives late: dropped.
    controller.handle(UiEvent::Desk(DeskAnswer {
        session: first,
        event: progress_of(&first_receipt),
    }));
    let journey = ui.global::<Journey>();
    assert_eq!(journey.get_progress().row_count(), 0);
    assert!(
        journey.get_progress_waiting(),
        "still waiting for their own"
    );
    // So is a late receipt of the first session: no receipt screen for the second.
    controller.handle(UiEvent::Desk(DeskAnswer {
        session: first,
        event: DeskEvent::Submitted {
            receipt_no: first_receipt.clone(),
            qr: first_receipt.clone(),
            printed: false,
            printer_message: Default::default(),
            due_dates: Default::default(),
        },
    }));
    assert_eq!(screen(&ui), Screen::Progress);

    // Their own answer is drawn.
    controller.handle(UiEvent::Desk(DeskAnswer {
        session: second,
        event: progress_of(&second_receipt),
    }));
    let rows = journey.get_progress();
    assert_eq!(rows.row_count(), 1);
    assert_eq!(rows.row_data(0).unwrap().receipt.as_str(), second_receipt);
    assert!(!journey.get_progress_waiting());
}
