//! `bianmin demo`'s background services end to end, without a window: the
//! simulated devices on real pseudo-terminals and the embedded reference
//! platform on loopback, as the UI sees them through the inbox.

use bianmin::services::{self, Services};
use bianmin_config::Config;
use bianmin_desk::{DeskAnswer, DeskEvent, DeskRequest, SessionId};
use bianmin_store::receipt;
use bianmin_ui::events::UiEvent;
use std::time::{Duration, Instant};

/// Events seen but not yet asked for stay in `seen`, in order.
fn wait_for(
    services: &Services,
    seen: &mut Vec<UiEvent>,
    what: &str,
    mut found: impl FnMut(&UiEvent) -> bool,
) -> UiEvent {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        seen.extend(services.inbox.drain());
        if let Some(at) = seen.iter().position(&mut found) {
            return seen.remove(at);
        }
        assert!(Instant::now() < deadline, "no {what} within 15 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn demo_card_scan_and_platform_reach_the_ui_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    let services = services::start(&mut config, true);
    assert!(services.fault.is_none(), "{:?}", services.fault);
    assert!(config
        .platform
        .url
        .as_str()
        .starts_with("http://127.0.0.1:"));
    let devices = services.demo_devices.clone().expect("demo devices on ptys");
    let mut seen = Vec::new();

    // The sync engine reaches the embedded platform.
    wait_for(&services, &mut seen, "online link", |e| {
        matches!(
            e,
            UiEvent::Link {
                link: bianmin_sync::Link::Online,
                ..
            }
        )
    });

    // A card put down: only masked data reaches the UI, the identity stays behind.
    devices.place_card(0);
    let event = wait_for(&services, &mut seen, "card", |e| {
        matches!(e, UiEvent::CardPresent { .. })
    });
    let UiEvent::CardPresent {
        masked_name,
        masked_id,
    } = event
    else {
        unreachable!()
    };
    assert!(masked_name.contains('*'), "{masked_name}");
    assert!(masked_id.contains("********"), "{masked_id}");
    let held = services.identity.lock().unwrap();
    let identity = held.as_ref().expect("identity held for the session");
    assert!(!masked_id.contains(&identity.id_number[6..14]));
    drop(held);

    devices.lift_card();
    wait_for(&services, &mut seen, "card removal", |e| {
        matches!(e, UiEvent::CardRemoved)
    });
    assert!(
        services.identity.lock().unwrap().is_none(),
        "identity wiped on removal"
    );

    // A receipt of this system: recognised; the UI then asks the desk for
    // its progress, tagged with its session.
    let number = receipt::format("T0001", "20261125", 42);
    devices.scan(&number);
    wait_for(
        &services,
        &mut seen,
        "receipt",
        |e| matches!(e, UiEvent::ReceiptScanned(n) if *n == number),
    );
    services
        .desk
        .send_for(SessionId(7), DeskRequest::ProgressByReceipt(number.clone()));
    // The desk answers: the platform is up but has never seen this number.
    let progress = wait_for(&services, &mut seen, "progress", |e| {
        matches!(
            e,
            UiEvent::Desk(DeskAnswer {
                event: DeskEvent::Progress { .. },
                ..
            })
        )
    });
    let UiEvent::Desk(DeskAnswer {
        session,
        event:
            DeskEvent::Progress {
                live,
                rows,
                message,
            },
    }) = progress
    else {
        unreachable!()
    };
    assert_eq!(
        session,
        SessionId(7),
        "the answer carries the asking session"
    );
    assert!(live, "{message:?}");
    assert!(rows.is_empty());
    assert!(message.zh().contains("暂未查到"), "{message:?}");

    // A receipt-shaped number with a wrong check character, and plain junk.
    let mut forged = number.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    devices.scan(&forged);
    wait_for(&services, &mut seen, "refusal of a forged number", |e| {
        matches!(e, UiEvent::UnknownCode)
    });
    devices.scan("hello world");
    wait_for(&services, &mut seen, "refusal of junk", |e| {
        matches!(e, UiEvent::UnknownCode)
    });
}
