//! The service desk end to end: the real outbox, the reference platform on
//! loopback and the virtual receipt printer on a pseudo-terminal, answers
//! read from the `Inbox` as the UI reads them.

use bianmin_config::Config;
use bianmin_core::application::{
    Application, AppliedItem, Confirmation, DeliveryChoice, MaterialRecord, MaterialState, Point,
    Signature, Subject,
};
use bianmin_core::catalogue::Delivery as ItemDelivery;
use bianmin_core::evaluation::{Evaluation, LowReason, Satisfaction};
use bianmin_core::form::{FormValues, Identity};
use bianmin_desk::{self as desk, DeskDeps, DeskEvent, DeskHandle, DeskRequest, Submission};
use bianmin_drivers::demo::{DemoDevices, DemoTiming};
use bianmin_drivers::idcard::sim::demo_cards;
use bianmin_drivers::manager::{DeviceManager, DeviceStatus};
use bianmin_drivers::printer::Paper;
use bianmin_platform::api::{ApplicationWire, ErrorReportWire, EvaluationWire, RecordKind};
use bianmin_platform::client::{install_crypto_provider, PlatformClient};
use bianmin_platform_server::{ServerHandle, ServerOptions};
use bianmin_store::{RecordState, Store, StoreError};
use bianmin_sync::{self as sync, SyncHandle, SyncOptions};
use bianmin_testkit::*;
use bianmin_ui::events::{Inbox, UiEvent};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WITHIN: Duration = Duration::from_secs(20);

/// The simulated printer and reader behind a device manager.
struct Devices {
    sims: DemoDevices,
    manager: DeviceManager,
    _receipts: tempfile::TempDir,
}

impl Devices {
    async fn start() -> Devices {
        let receipts = tempfile::tempdir().unwrap();
        let sims = DemoDevices::start(receipts.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
        let mut manager = DeviceManager::start(sims.manager_config());
        let deadline = Instant::now() + WITHIN;
        while manager.status.borrow_and_update().printer != DeviceStatus::Ok {
            assert!(Instant::now() < deadline, "virtual printer not ready");
            let _ =
                tokio::time::timeout(Duration::from_millis(200), manager.status.changed()).await;
        }
        Devices {
            sims,
            manager,
            _receipts: receipts,
        }
    }

    fn receipts_dir(&self) -> &Path {
        &self.sims.receipts_dir
    }

    /// Text of every receipt printed so far.
    fn printed(&self) -> Vec<String> {
        self.sims
            .printer
            .device()
            .receipts
            .iter()
            .map(|r| r.text())
            .collect()
    }

    fn pngs(&self) -> Vec<PathBuf> {
        self.sims.printer.device().pngs.clone()
    }
}

/// One kiosk: its data directory, outbox, desk and the card slot.
struct Kiosk {
    config: Config,
    store: Store,
    inbox: Inbox,
    identity: Arc<Mutex<Option<Box<Identity>>>>,
    desk: DeskHandle,
    seen: Vec<DeskEvent>,
    _dir: Option<tempfile::TempDir>,
}

impl Kiosk {
    /// A kiosk whose platform is at `url` (which may not be listening).
    fn new(url: &str, devices: Option<&Devices>) -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        let mut kiosk = Kiosk::at(dir.path(), url, devices);
        kiosk._dir = Some(dir);
        kiosk
    }

    /// A kiosk on the data directory `data` (kept by the caller).
    fn at(data: &Path, url: &str, devices: Option<&Devices>) -> Kiosk {
        Kiosk::configured(data, url, devices, |_| {})
    }

    fn configured(
        data: &Path,
        url: &str,
        devices: Option<&Devices>,
        tweak: impl FnOnce(&mut Config),
    ) -> Kiosk {
        let mut config = config(data, url);
        tweak(&mut config);
        let store = Store::open(&config).unwrap();
        // As a kiosk that has reached its platform since it started: it
        // holds its look-up key (in memory) and can find residents here.
        store.set_lookup_key(&[0x4b; 32]);
        let inbox = Inbox::default();
        let identity = Arc::new(Mutex::new(None));
        let desk = desk::spawn(
            &tokio::runtime::Handle::current(),
            DeskDeps {
                store: Some(store.clone()),
                platform: Some(Arc::new(PlatformClient::from_config(&config).unwrap())),
                printer: devices.map(|d| d.manager.printer.clone()),
                identity: identity.clone(),
                answers: inbox.desk_answers(),
                station: config.station.name.clone(),
            },
        );
        Kiosk {
            config,
            store,
            inbox,
            identity,
            desk,
            seen: Vec::new(),
            _dir: None,
        }
    }

    fn sync(&self) -> SyncHandle {
        let client = Arc::new(PlatformClient::from_config(&self.config).unwrap());
        sync::spawn_with(
            client,
            self.store.clone(),
            SyncOptions::from_config(&self.config),
        )
        .0
    }

    fn place(&self, card: usize) {
        *self.identity.lock().unwrap() = Some(Box::new(resident(card)));
    }

    fn lift(&self) {
        *self.identity.lock().unwrap() = None;
    }

    /// Send `request` and wait for the first desk answer `found` accepts.
    async fn ask(
        &mut self,
        request: DeskRequest,
        what: &str,
        found: impl Fn(&DeskEvent) -> bool,
    ) -> DeskEvent {
        self.desk.send(request);
        self.wait(what, found).await
    }

    async fn wait(&mut self, what: &str, found: impl Fn(&DeskEvent) -> bool) -> DeskEvent {
        let deadline = Instant::now() + WITHIN;
        loop {
            for event in self.inbox.drain() {
                if let UiEvent::Desk(answer) = event {
                    self.seen.push(answer.event);
                }
            }
            if let Some(at) = self.seen.iter().position(&found) {
                return self.seen.remove(at);
            }
            assert!(Instant::now() < deadline, "no {what} within {WITHIN:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn submit(&mut self, application: Application) -> DeskEvent {
        let submission = Submission {
            application,
            title: "社会保障卡申领".into(),
            time_limit: "5个工作日".into(),
        };
        self.ask(
            DeskRequest::Submit(Box::new(submission)),
            "submission answer",
            |e| matches!(e, DeskEvent::Submitted { .. } | DeskEvent::SubmitFailed(_)),
        )
        .await
    }

    async fn progress(&mut self, request: DeskRequest) -> (bool, Vec<desk::ProgressRow>, String) {
        match self
            .ask(request, "progress", |e| {
                matches!(e, DeskEvent::Progress { .. })
            })
            .await
        {
            DeskEvent::Progress {
                live,
                rows,
                message,
            } => (live, rows, message.zh().to_string()),
            _ => unreachable!(),
        }
    }

    /// The record as the platform reads it: the outbox keeps the personal
    /// fields sealed to the platform's key (here the published demo key),
    /// which the kiosk cannot open; the platform's key can.
    fn record(&self, key: &str) -> serde_json::Value {
        let json = self.store.record_json(key).unwrap().expect("record body");
        let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let kind = self.store.find(key).unwrap().unwrap().kind;
        bianmin_platform::api::open_record(
            kind,
            &mut value,
            self.store.terminal_id(),
            &bianmin_platform::seal::OpeningKeys::demo(),
        )
        .unwrap();
        value
    }
}

fn resident(card: usize) -> Identity {
    let card = &demo_cards()[card];
    Identity {
        name: card.name.clone(),
        id_number: card.id_number.clone(),
        gender: "男".into(),
        birth_date: "1990-03-07".into(),
        address: card.address.clone(),
        source: bianmin_core::form::IdentitySource::IdCard,
    }
}

fn material(name: &str, key: bool, state: MaterialState) -> MaterialRecord {
    MaterialRecord {
        name: name.into(),
        key,
        state,
        asked_by: vec!["DEMO-SB-001".into()],
        // The guide gives owed materials 5 working days (补交时限).
        owed_within_days: (state == MaterialState::Missing).then_some(5),
    }
}

/// A 社会保障卡申领 with one material owed (容缺), one e-certificate to
/// verify, a commitment signed on the pad, delivered by post.
fn application(card: usize) -> Application {
    let mut fields = FormValues::new();
    fields.set("applicant.name", &demo_cards()[card].name);
    fields.set("applicant.phone", "13912345678");
    fields.set("bank.name", "演示银行");
    Application {
        subject: Subject::Service {
            code: "DEMO-SB-001".into(),
        },
        items: vec![AppliedItem {
            code: "DEMO-SB-001".into(),
            name: "社会保障卡申领".into(),
            delivery: ItemDelivery::Mail,
        }],
        identity: resident(card),
        fields,
        materials: vec![
            material("居民身份证", true, MaterialState::Provided),
            material("户口簿", false, MaterialState::PendingVerification),
            material("近期免冠照片", false, MaterialState::Missing),
            material("银行卡", false, MaterialState::Committed),
        ],
        delivery: DeliveryChoice::Mail {
            address: "演示省演示市演示路88号".into(),
        },
        commitment_accepted: true,
        signature: Some(Signature {
            width: 400,
            height: 160,
            strokes: vec![
                (0..40)
                    .map(|i| Point {
                        x: 40 + i * 8,
                        y: 80 + (i % 7) * 6 - 18,
                    })
                    .collect(),
                vec![Point { x: 300, y: 40 }],
            ],
        }),
        assisted_by: None,
        confirmation: Confirmation {
            summary: vec!["办理事项：高龄津贴申领".into(), "申请人：王*明".into()],
            commitment: Some("本人承诺：所填信息真实。".into()),
        },
        content_version: "demo-2026.12.1".into(),
        agent: None,
    }
}

/// A port on loopback with nobody listening (yet).
fn free_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn platform_at(addr: std::net::SocketAddr) -> ServerHandle {
    server_with(ServerOptions {
        bind: addr,
        ..ServerOptions::default()
    })
    .await
}

fn decode_qr(png: &Path) -> String {
    let image = image::open(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(
        grids.len(),
        1,
        "one QR code on the receipt {}",
        png.display()
    );
    grids[0].decode().unwrap().1
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_submission_prints_then_reaches_the_platform_once_with_live_progress() {
    let devices = Devices::start().await;
    let addr = free_port();
    let mut kiosk = Kiosk::new(&format!("http://{addr}/api/v1"), Some(&devices));
    let engine = kiosk.sync();

    // Offline: stored, numbered and printed all the same.
    let DeskEvent::Submitted {
        receipt_no,
        qr,
        printed,
        printer_message,
        ..
    } = kiosk.submit(application(0)).await
    else {
        panic!("not submitted: {:?}", kiosk.seen)
    };
    assert!(printed, "{printer_message:?}");
    assert!(printer_message.is_empty());
    assert_eq!(qr, receipt_no);
    let summary = kiosk.store.find(&receipt_no).unwrap().expect("stored");
    assert_eq!(summary.state, RecordState::Pending);

    // The sealed record is the wire application, mapped from the core one.
    let wire: ApplicationWire = serde_json::from_value(kiosk.record(&receipt_no)).unwrap();
    assert_eq!(wire.service_code, "DEMO-SB-001");
    assert_eq!(wire.applicant.id_number, demo_cards()[0].id_number);
    assert_eq!(wire.applicant.phone, "13912345678");
    assert_eq!(wire.form["bank.name"], "演示银行");
    assert_eq!(wire.form["_commitment"]["accepted"], true);
    // What the resident read before signing travels with the record.
    assert_eq!(
        wire.form["_confirmation"]["commitment"],
        "本人承诺：所填信息真实。"
    );
    assert_eq!(
        wire.form["_confirmation"]["summary"][0],
        "办理事项：高龄津贴申领"
    );
    // The content package it was made with travels too.
    assert_eq!(wire.form["_content_version"], "demo-2026.12.1");
    let states: Vec<String> = wire
        .materials
        .iter()
        .map(|m| {
            serde_json::to_value(m.state)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        ["provided", "e_cert_pending", "pending", "committed"]
    );
    // The owed photo is due 5 working days on, on the station's calendar.
    let due = bianmin_core::time::due_date(summary.created_at_ms, 5);
    assert_eq!(wire.materials[2].due.as_deref(), Some(due.as_str()));
    assert!(wire.materials[1].due.is_none() && wire.materials[3].due.is_none());
    assert_eq!(
        serde_json::to_value(&wire.delivery).unwrap(),
        serde_json::json!({"method": "post", "address": "演示省演示市演示路88号"})
    );
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(wire.signature_png.expect("signature stored"))
        .unwrap();
    let signature = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(signature.dimensions(), (400, 160));
    assert!(signature.pixels().any(|p| p.0[0] < 64), "dark strokes");
    assert_eq!(signature.get_pixel(5, 5).0[0], 255, "white paper");

    // The receipt: its QR decodes to the receipt number; what is owed is listed.
    wait_until("receipt PNG", || !devices.pngs().is_empty()).await;
    let pngs = devices.pngs();
    assert!(pngs[0].starts_with(devices.receipts_dir()));
    assert_eq!(decode_qr(&pngs[0]), receipt_no);
    // Wrapped lines are joined again: a sentence may break anywhere.
    let text: String = devices.printed().remove(0).split_whitespace().collect();
    assert!(text.contains("受理回执"), "{text}");
    assert!(text.contains(&receipt_no), "{text}");
    assert!(
        text.contains(&format!("近期免冠照片（容缺后补，请于{due}前补交）")),
        "{text}"
    );
    assert!(text.contains("户口簿（待核验）"), "{text}");
    assert!(
        !text.contains("银行卡"),
        "settled materials are not listed: {text}"
    );
    assert!(text.contains("5个工作日"), "{text}");
    assert!(text.contains("刷身份证"), "{text}");
    assert!(
        !text.contains(&demo_cards()[0].name),
        "no name on paper: {text}"
    );

    // Progress while the platform is down comes from this terminal's outbox.
    let (live, rows, message) = kiosk
        .progress(DeskRequest::ProgressByReceipt(receipt_no.clone()))
        .await;
    assert!(!live);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state.zh(), "排队待上传");
    assert_eq!(rows[0].service_name, "社会保障卡申领");
    assert!(message.contains("网络"), "{message}");

    // The platform comes up: the record goes out once and is acknowledged.
    let server = platform_at(addr).await;
    engine.sync_now();
    wait_until("acknowledged", || {
        kiosk.store.find(&receipt_no).unwrap().unwrap().state == RecordState::Acked
    })
    .await;
    assert_eq!(server.applications(), vec![(receipt_no.clone(), 1)]);

    let (live, rows, message) = kiosk
        .progress(DeskRequest::ProgressByReceipt(receipt_no.clone()))
        .await;
    assert!(live, "{message}");
    assert_eq!(rows[0].state.zh(), "平台已接收");
    assert_eq!(rows[0].receipt_no, receipt_no);

    // The platform moves it on; the desk shows the platform's own state.
    install_crypto_provider();
    let origin = server.base_url().trim_end_matches("/api/v1").to_string();
    let answer = reqwest::Client::new()
        .post(format!("{origin}/admin/progress"))
        .json(&serde_json::json!({"receipt_no": receipt_no, "status": "in_review"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let (live, rows, _) = kiosk
        .progress(DeskRequest::ProgressByReceipt(receipt_no.clone()))
        .await;
    assert!(live);
    assert_eq!(rows[0].state.zh(), "审核中");

    // A receipt the platform does not know and this terminal never took.
    let stranger = bianmin_store::receipt::format("T0009", "20261125", 7);
    let (live, rows, message) = kiosk
        .progress(DeskRequest::ProgressByReceipt(stranger))
        .await;
    assert!(live && rows.is_empty(), "{message}");
    assert!(message.contains("暂未查到"), "{message}");
    engine.shutdown().await;
    assert_eq!(server.applications(), vec![(receipt_no, 1)], "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_one_record_and_a_missing_printer_says_so() {
    let mut kiosk = Kiosk::new(&format!("http://{}/api/v1", free_port()), None);
    let mut bundle = application(0);
    bundle.subject = Subject::Bundle {
        id: "BUNDLE-BIRTH".into(),
        items: vec!["DEMO-HJ-001".into(), "DEMO-YB-001".into()],
    };
    bundle.items = vec![
        AppliedItem {
            code: "DEMO-HJ-001".into(),
            name: "出生登记".into(),
            delivery: ItemDelivery::Station,
        },
        AppliedItem {
            code: "DEMO-YB-001".into(),
            name: "新生儿参保登记".into(),
            delivery: ItemDelivery::Electronic,
        },
    ];
    bundle.delivery = DeliveryChoice::Station;
    let submission = Submission {
        application: bundle,
        title: "新生儿出生一件事".into(),
        time_limit: "10个工作日".into(),
    };
    let DeskEvent::Submitted {
        receipt_no,
        printed,
        printer_message,
        ..
    } = kiosk
        .ask(
            DeskRequest::Submit(Box::new(submission)),
            "submission",
            |e| matches!(e, DeskEvent::Submitted { .. } | DeskEvent::SubmitFailed(_)),
        )
        .await
    else {
        panic!("not submitted: {:?}", kiosk.seen)
    };
    assert!(!printed);
    assert!(
        printer_message.zh().contains("受理编号"),
        "{printer_message:?}"
    );
    // The screen may be in English: the desk words it in both languages.
    assert!(
        printer_message.en().contains("receipt number"),
        "{printer_message:?}"
    );
    assert_eq!(
        kiosk.store.application_keys().unwrap().len(),
        1,
        "one receipt"
    );
    let wire: ApplicationWire = serde_json::from_value(kiosk.record(&receipt_no)).unwrap();
    assert_eq!(wire.service_code, "BUNDLE-BIRTH");
    assert_eq!(wire.service_name, "新生儿出生一件事");
    let items: Vec<&str> = wire.form["_bundle"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["DEMO-HJ-001", "DEMO-YB-001"]);
    assert_eq!(
        serde_json::to_value(&wire.delivery).unwrap()["method"],
        "pickup"
    );

    // Reprinting without a printer: the same sentence, nothing else happens.
    let DeskEvent::Reprinted(answer) = kiosk
        .ask(
            DeskRequest::Reprint {
                receipt_no: receipt_no.clone(),
            },
            "reprint",
            |e| matches!(e, DeskEvent::Reprinted(_)),
        )
        .await
    else {
        unreachable!()
    };
    assert_eq!(answer, Err(printer_message));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_the_application_and_prints_nothing() {
    let devices = Devices::start().await;
    let mut kiosk = Kiosk::new(&format!("http://{}/api/v1", free_port()), Some(&devices));
    let pages: i64 = rusqlite::Connection::open(kiosk.store.db_path())
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    kiosk.store.debug_set_max_page_count(pages as u64).unwrap();
    let mut big = application(0);
    big.fields
        .set("applicant.note", &"很长的情况说明".repeat(3000));
    let answer = kiosk.submit(big).await;
    assert_eq!(
        answer,
        DeskEvent::SubmitFailed(StoreError::Full.resident_message())
    );
    assert!(kiosk.store.application_keys().unwrap().is_empty());
    assert_eq!(
        kiosk.store.stats().unwrap().pending,
        0,
        "nothing half-written"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        devices.printed().is_empty(),
        "no receipt for an unsaved application"
    );

    // Space comes back: the next one is taken.
    kiosk.store.debug_set_max_page_count(1_000_000).unwrap();
    assert!(matches!(
        kiosk.submit(application(0)).await,
        DeskEvent::Submitted { printed: true, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprint_after_a_restart_comes_from_the_store() {
    let devices = Devices::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/api/v1", free_port());
    let receipt_no = {
        let mut kiosk = Kiosk::at(dir.path(), &url, Some(&devices));
        // Made by a daughter for her father (代办).
        let mut made = application(0);
        made.agent = Some(bianmin_core::application::Agent {
            name: "李明".into(),
            id_number: "110101199003071235".into(),
            relationship: "子女".into(),
            source: Default::default(),
            declaration: "代办人声明：本人受其委托代为办理。".into(),
        });
        let DeskEvent::Submitted { receipt_no, .. } = kiosk.submit(made).await else {
            panic!("not submitted: {:?}", kiosk.seen)
        };
        receipt_no
    };
    // A new desk on the same outbox knows nothing of what was printed before.
    let mut kiosk = Kiosk::at(dir.path(), &url, Some(&devices));
    let answer = kiosk
        .ask(
            DeskRequest::Reprint {
                receipt_no: receipt_no.clone(),
            },
            "reprint",
            |e| matches!(e, DeskEvent::Reprinted(_)),
        )
        .await;
    assert_eq!(answer, DeskEvent::Reprinted(Ok(())));
    wait_until("two receipts", || devices.pngs().len() == 2).await;
    let printed = devices.printed();
    assert!(printed[1].contains("受理回执（补打）"), "{}", printed[1]);
    assert!(printed[1].contains(&receipt_no));
    // Wrapped lines joined again; the reprint keeps the owed photo's due day.
    let text: String = printed[1].split_whitespace().collect();
    for line in [
        "近期免冠照片（容缺后补，请于",
        "前补交）",
        "户口簿（待核验）",
        "社会保障卡申领",
        // The agent, masked, as on the first print.
        "代办，代办人：李*，子女",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert_eq!(decode_qr(&devices.pngs()[1]), receipt_no);

    let answer = kiosk
        .ask(
            DeskRequest::Reprint {
                receipt_no: bianmin_store::receipt::format("T0001", "20261125", 999),
            },
            "refused reprint",
            |e| matches!(e, DeskEvent::Reprinted(_)),
        )
        .await;
    assert!(matches!(answer, DeskEvent::Reprinted(Err(_))), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_feedback_and_staff_calls_go_through_the_outbox() {
    let server = server().await;
    let mut kiosk = Kiosk::new(server.base_url(), None);
    let DeskEvent::Submitted { receipt_no, .. } = kiosk.submit(application(0)).await else {
        panic!("not submitted")
    };
    let evaluation = Evaluation::new(
        &receipt_no,
        Satisfaction::Dissatisfied,
        &[LowReason::LongWait, LowReason::TooManySteps],
        Some("排队的人太多"),
    )
    .unwrap();
    let answer = kiosk
        .ask(
            DeskRequest::Evaluate {
                receipt_no: receipt_no.clone(),
                service_code: "DEMO-SB-001".into(),
                evaluation,
            },
            "evaluation answer",
            |e| matches!(e, DeskEvent::Evaluated(_)),
        )
        .await;
    assert_eq!(answer, DeskEvent::Evaluated(Ok(())));
    let answer = kiosk
        .ask(
            DeskRequest::Feedback {
                service_code: Some("DEMO-SB-001".into()),
                text: "想办居住证但找不到，回电139 1234 5678".into(),
                callback_phone: Some(desk::Private("13912345678".to_string().into())),
            },
            "feedback answer",
            |e| matches!(e, DeskEvent::FeedbackSaved(_)),
        )
        .await;
    assert_eq!(answer, DeskEvent::FeedbackSaved(Ok(())));
    kiosk.desk.send(DeskRequest::CallStaff);
    wait_until("staff call queued", || {
        kiosk.store.list(None, 10).unwrap().len() == 4
    })
    .await;

    let engine = kiosk.sync();
    wait_until("all delivered", || {
        kiosk.store.stats().unwrap().pending == 0 && server.stats().error_reports == 2
    })
    .await;
    drop(engine);
    let records = kiosk.store.list(None, 10).unwrap();
    let key = |kind: RecordKind| -> Vec<String> {
        records
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.key.clone())
            .collect()
    };
    let evaluation: EvaluationWire = serde_json::from_value(
        server
            .record(RecordKind::Evaluation, &key(RecordKind::Evaluation)[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(evaluation.receipt_no.as_deref(), Some(receipt_no.as_str()));
    assert_eq!(evaluation.level, 2);
    assert_eq!(
        evaluation.comment,
        "原因：操作步骤太多、等待时间太长；补充说明：排队的人太多"
    );
    let mut reports: Vec<ErrorReportWire> = key(RecordKind::ErrorReport)
        .iter()
        .map(|k| {
            serde_json::from_value(server.record(RecordKind::ErrorReport, k).unwrap()).unwrap()
        })
        .collect();
    reports.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(reports[0].kind, "cannot_get_done");
    assert_eq!(reports[0].service_code.as_deref(), Some("DEMO-SB-001"));
    assert!(
        reports[0].message.starts_with("想办居住证"),
        "{}",
        reports[0].message
    );
    assert!(
        !reports[0].message.contains("5678"),
        "{}",
        reports[0].message
    );
    assert_eq!(reports[1].kind, "call_staff");
    // The number left for a call back reaches the platform, sealed on the way.
    assert_eq!(reports[0].callback_phone.as_deref(), Some("13912345678"));
    assert!(reports[1].callback_phone.is_none());
    let kept = kiosk
        .store
        .record_json(&key(RecordKind::ErrorReport)[0])
        .unwrap()
        .expect("kept until retention ends");
    assert!(
        !String::from_utf8_lossy(&kept).contains("13912345678"),
        "the outbox keeps the number sealed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_listed_and_printed_for_the_card_on_the_reader() {
    let devices = Devices::start().await;
    let server = server().await;
    let mut kiosk = Kiosk::new(server.base_url(), Some(&devices));
    let documents = |e: &DeskEvent| matches!(e, DeskEvent::Documents { .. });
    let printed = |e: &DeskEvent| matches!(e, DeskEvent::DocumentPrinted(_));

    // No card: nothing to ask the platform about.
    let answer = kiosk
        .ask(DeskRequest::FetchDocuments, "documents", documents)
        .await;
    assert!(matches!(answer, DeskEvent::Documents { online: false, .. }));

    kiosk.place(0);
    let DeskEvent::Documents {
        online,
        certificates,
        documents: rows,
    } = kiosk
        .ask(DeskRequest::FetchDocuments, "documents", documents)
        .await
    else {
        unreachable!()
    };
    assert!(online);
    assert!(
        certificates.iter().any(|c| c.contains("居民身份证")),
        "{certificates:?}"
    );
    assert_eq!(rows.len(), 1);

    let answer = kiosk
        .ask(
            DeskRequest::PrintDocument {
                id: rows[0].id.clone(),
            },
            "document printed",
            printed,
        )
        .await;
    assert_eq!(answer, DeskEvent::DocumentPrinted(Ok(())));
    wait_until("document on paper", || devices.printed().len() == 1).await;
    let text = devices.printed().remove(0);
    assert!(text.contains(&rows[0].title), "{text}");
    assert!(text.contains(&rows[0].id), "{text}");
    assert!(!text.contains("受理编号"), "{text}");

    // Only what was listed for the card on the reader is printed.
    let answer = kiosk
        .ask(
            DeskRequest::PrintDocument {
                id: "DOC-SOMEONE-ELSE".into(),
            },
            "refusal",
            printed,
        )
        .await;
    assert!(matches!(answer, DeskEvent::DocumentPrinted(Err(_))));
    kiosk.place(1);
    let answer = kiosk
        .ask(
            DeskRequest::PrintDocument {
                id: rows[0].id.clone(),
            },
            "refusal after a card change",
            printed,
        )
        .await;
    assert!(matches!(answer, DeskEvent::DocumentPrinted(Err(_))));
    assert_eq!(devices.printed().len(), 1);

    // The platform unreachable: online = false, nothing listed.
    let mut offline = Kiosk::new(&format!("http://{}/api/v1", free_port()), None);
    offline.place(0);
    let answer = offline
        .ask(DeskRequest::FetchDocuments, "documents", documents)
        .await;
    assert_eq!(
        answer,
        DeskEvent::Documents {
            online: false,
            certificates: vec![],
            documents: vec![]
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_sees_their_own_applications_only() {
    let server = server().await;
    let mut kiosk = Kiosk::new(server.base_url(), None);
    let mut mine = Vec::new();
    for card in [0, 1, 0] {
        let DeskEvent::Submitted { receipt_no, .. } = kiosk.submit(application(card)).await else {
            panic!("not submitted")
        };
        if card == 0 {
            mine.push(receipt_no);
        }
    }
    mine.reverse(); // newest first

    let (live, rows, message) = kiosk.progress(DeskRequest::ProgressForResident).await;
    assert!(!live && rows.is_empty());
    assert!(message.contains("身份证"), "{message}");

    // Before upload: the platform does not know them yet.
    kiosk.place(0);
    let (_, rows, _) = kiosk.progress(DeskRequest::ProgressForResident).await;
    let receipts: Vec<&str> = rows.iter().map(|r| r.receipt_no.as_str()).collect();
    assert_eq!(
        receipts,
        mine.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        rows.iter().all(|r| r.state.zh() == "排队待上传"),
        "{rows:?}"
    );

    // Uploaded: live states from the platform.
    let engine = kiosk.sync();
    wait_until("uploaded", || {
        kiosk.store.stats().unwrap().pending_applications == 0
    })
    .await;
    drop(engine);
    let (live, rows, message) = kiosk.progress(DeskRequest::ProgressForResident).await;
    assert!(live, "{message}");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.state.zh() == "平台已接收"),
        "{rows:?}"
    );
    assert!(!message.contains("更早"), "{message}");

    kiosk.place(1);
    let (_, rows, _) = kiosk.progress(DeskRequest::ProgressForResident).await;
    assert_eq!(rows.len(), 1);
    assert!(!mine.contains(&rows[0].receipt_no));

    // After the retention period the records here lose their applicant;
    // the platform still lists them.
    kiosk.store.purge_expired(0).unwrap();
    kiosk.place(0);
    let (live, rows, _) = kiosk.progress(DeskRequest::ProgressForResident).await;
    assert!(live);
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Offline, only this terminal's records are left: it says so. (Shut
    // down and waited for: a dropped handle stops the server a moment
    // later, and a kept-alive connection could still be answered.)
    server.shutdown().await;
    let (live, rows, message) = kiosk.progress(DeskRequest::ProgressForResident).await;
    assert!(!live && rows.is_empty(), "{rows:?}");
    assert!(message.contains("更早的申请"), "{message}");
    kiosk.lift();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_by_card_lists_applications_made_at_another_terminal() {
    let server = server().await;
    let mut here = Kiosk::new(server.base_url(), None);
    let there_dir = tempfile::tempdir().unwrap();
    let mut there = Kiosk::configured(there_dir.path(), server.base_url(), None, |c| {
        c.station.terminal_id = bianmin_config::TerminalId("T0002".into());
    });
    let DeskEvent::Submitted {
        receipt_no: made_there,
        ..
    } = there.submit(application(0)).await
    else {
        panic!("not submitted")
    };
    let engine = there.sync();
    wait_until("uploaded at the other terminal", || {
        there.store.stats().unwrap().pending_applications == 0
    })
    .await;
    drop(engine);
    // One more here, not uploaded yet: the platform cannot know it.
    let DeskEvent::Submitted {
        receipt_no: made_here,
        ..
    } = here.submit(application(0)).await
    else {
        panic!("not submitted")
    };

    here.place(0);
    let (live, rows, message) = here.progress(DeskRequest::ProgressForResident).await;
    assert!(live, "{message}");
    assert!(message.contains("各便民服务站"), "{message}");
    let receipts: Vec<&str> = rows.iter().map(|r| r.receipt_no.as_str()).collect();
    assert_eq!(receipts, [made_here.as_str(), made_there.as_str()]);
    assert_eq!(rows[0].state.zh(), "排队待上传");
    assert_eq!(rows[1].state.zh(), "平台已接收");
    // Someone else sees none of them.
    here.place(1);
    let (_, rows, _) = here.progress(DeskRequest::ProgressForResident).await;
    assert!(rows.is_empty(), "{rows:?}");
}

/// What the desk answers to a scanned personal code.
async fn check_code(kiosk: &mut Kiosk, code: &str) -> Result<Box<Identity>, String> {
    let bianmin_core::personal_code::Parsed::Code { scheme, token } =
        bianmin_core::personal_code::parse(code)
    else {
        panic!("not a personal code: {code:?}")
    };
    let request = DeskRequest::VerifyCode(Box::new(desk::PersonalCode {
        scheme,
        token: zeroize::Zeroizing::new(token.to_string()),
    }));
    match kiosk
        .ask(request, "code check", |e| {
            matches!(e, DeskEvent::CodeChecked(_))
        })
        .await
    {
        DeskEvent::CodeChecked(checked) => checked.map_err(|w| w.zh().to_string()),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_code_identifies_once_and_its_application_says_so() {
    use bianmin_core::personal_code::Scheme;
    use bianmin_platform_server::identity::{demo_people, IssueCodeRequest};
    let server = server().await;
    let mut kiosk = Kiosk::new(server.base_url(), None);
    let issue = |person: i64, ttl_secs: i64| {
        server.issue_identity_code(IssueCodeRequest {
            person,
            scheme: Scheme::Ymtb,
            ttl_secs,
        })
    };
    let code = issue(1, 300).await.unwrap().code;
    let identity = check_code(&mut kiosk, &code).await.expect("verified");
    assert_eq!(identity.name, demo_people()[1].name);
    assert_eq!(identity.id_number, demo_people()[1].id_number);
    assert_eq!(identity.birth_date, "1968-11-02");
    assert_eq!(identity.gender, "男");
    assert_eq!(
        identity.source,
        bianmin_core::form::IdentitySource::Code(Scheme::Ymtb)
    );
    // Shown twice (a screenshot), expired, never issued: one sentence each.
    let again = check_code(&mut kiosk, &code).await.unwrap_err();
    assert!(
        again.contains("用过") && again.contains("刷身份证"),
        "{again}"
    );
    let old = issue(0, -5).await.unwrap().code;
    let expired = check_code(&mut kiosk, &old).await.unwrap_err();
    assert!(expired.contains("过期"), "{expired}");
    let forged = check_code(&mut kiosk, "YMTB:ForgedButWellFormed42")
        .await
        .unwrap_err();
    assert!(forged.contains("无法核验"), "{forged}");

    // The application made with it carries the code's identity, marked so.
    let mut made = application(0);
    made.identity = *identity;
    made.fields.set("applicant.name", demo_people()[1].name);
    let DeskEvent::Submitted { receipt_no, .. } = kiosk.submit(made).await else {
        panic!("not submitted")
    };
    let record = kiosk.record(&receipt_no);
    assert_eq!(record["applicant"]["identified_by"], "ymtb");
    assert_eq!(record["applicant"]["name"], demo_people()[1].name);
    let engine = kiosk.sync();
    wait_until("uploaded", || {
        kiosk.store.stats().unwrap().pending_applications == 0
    })
    .await;
    drop(engine);
    let stored = server
        .record(RecordKind::Application, &receipt_no)
        .expect("at the platform");
    assert_eq!(stored["applicant"]["identified_by"], "ymtb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_a_code_is_answered_with_use_your_card_within_five_seconds() {
    // Nobody listening.
    let mut kiosk = Kiosk::new(&format!("http://{}/api/v1", free_port()), None);
    let started = Instant::now();
    let said = check_code(&mut kiosk, "YMTB:AnyWellFormedToken1")
        .await
        .unwrap_err();
    assert!(said.contains("请刷身份证"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A platform that does not answer: the desk gives up in time.
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut kiosk = Kiosk::configured(dir.path(), server.base_url(), None, |c| {
        c.platform.request_timeout_secs = bianmin_config::Ranged(30);
    });
    server
        .faults()
        .inject(bianmin_platform_server::Fault::Slow { delay_ms: 15_000 }, 1);
    let started = Instant::now();
    let said = check_code(&mut kiosk, "YMTB:AnyWellFormedToken2")
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(said.contains("请刷身份证"), "{said}");
    assert!(
        took >= desk::CODE_TIMEOUT && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_platform_does_not_hold_the_resident_up() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    // The client would wait half a minute: the desk must not.
    let mut kiosk = Kiosk::configured(dir.path(), server.base_url(), None, |c| {
        c.platform.request_timeout_secs = bianmin_config::Ranged(30);
    });
    for _ in 0..2 {
        assert!(matches!(
            kiosk.submit(application(0)).await,
            DeskEvent::Submitted { .. }
        ));
    }
    kiosk.place(0);
    server
        .faults()
        .inject(bianmin_platform_server::Fault::Slow { delay_ms: 15_000 }, 2);
    let started = Instant::now();
    let (live, rows, message) = kiosk.progress(DeskRequest::ProgressForResident).await;
    let took = started.elapsed();
    assert!(
        took >= desk::LOOKUP_TIMEOUT && took < desk::LOOKUP_TIMEOUT + Duration::from_secs(2),
        "answered after {took:?}"
    );
    assert!(!live);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.state.zh() == "排队待上传"),
        "{rows:?}"
    );
    assert!(message.contains("网络"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_store_printer_or_platform_every_request_is_still_answered() {
    let inbox = Inbox::default();
    let identity = Arc::new(Mutex::new(Some(Box::new(resident(0)))));
    let desk = desk::spawn(
        &tokio::runtime::Handle::current(),
        DeskDeps {
            store: None,
            platform: None,
            printer: None,
            identity,
            answers: inbox.desk_answers(),
            station: "演示村便民服务站".into(),
        },
    );
    let receipt_no = bianmin_store::receipt::format("T0001", "20261125", 1);
    desk.send(DeskRequest::Submit(Box::new(Submission {
        application: application(0),
        title: "社会保障卡申领".into(),
        time_limit: String::new(),
    })));
    desk.send(DeskRequest::Reprint {
        receipt_no: receipt_no.clone(),
    });
    desk.send(DeskRequest::Evaluate {
        receipt_no: receipt_no.clone(),
        service_code: "DEMO-SB-001".into(),
        evaluation: Evaluation::new(&receipt_no, Satisfaction::Satisfied, &[], None).unwrap(),
    });
    desk.send(DeskRequest::Feedback {
        service_code: None,
        text: "找不到事项".into(),
        callback_phone: None,
    });
    desk.send(DeskRequest::CallStaff);
    desk.send(DeskRequest::ProgressByReceipt(receipt_no.clone()));
    desk.send(DeskRequest::ProgressForResident);
    desk.send(DeskRequest::FetchDocuments);
    desk.send(DeskRequest::PrintDocument { id: "DOC-1".into() });

    let mut answers = Vec::new();
    let deadline = Instant::now() + WITHIN;
    while answers.len() < 8 {
        answers.extend(inbox.drain().into_iter().filter_map(|e| match e {
            UiEvent::Desk(answer) => Some(answer.event),
            _ => None,
        }));
        assert!(Instant::now() < deadline, "answers so far: {answers:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for answer in &answers {
        match answer {
            DeskEvent::SubmitFailed(sentence) => {
                assert!(sentence.zh().contains("窗口"), "{sentence:?}")
            }
            DeskEvent::Reprinted(Err(sentence))
            | DeskEvent::Evaluated(Err(sentence))
            | DeskEvent::FeedbackSaved(Err(sentence))
            | DeskEvent::DocumentPrinted(Err(sentence)) => assert!(!sentence.is_empty()),
            DeskEvent::Progress {
                live: false,
                rows,
                message,
            } => assert!(rows.is_empty() && !message.is_empty()),
            DeskEvent::Documents { online: false, .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A store that breaks under any desk operation — here a look-up, not a
/// submission — says so with `StoreBroken` beside the answer, which the UI
/// turns into a sticky out-of-service page (tests/ui/out_of_service.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_broken_under_a_look_up_is_reported_as_fatal() {
    let mut kiosk = Kiosk::new(&format!("http://{}/api/v1", free_port()), None);
    kiosk.submit(application(0)).await;
    kiosk.place(0);
    // Another connection rewrites the outbox's schema into garbage and
    // bumps the schema version: the store's next statement re-reads the
    // schema and finds the database malformed (SQLITE_CORRUPT).
    let path = kiosk.config.store.data_dir.join(bianmin_store::DB_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA schema_version", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE TABLE outbox (' WHERE name = 'outbox';",
    )
    .unwrap();
    conn.pragma_update(None, "schema_version", version + 1)
        .unwrap();
    drop(conn);
    let broken = kiosk
        .ask(DeskRequest::ProgressForResident, "store broken", |e| {
            matches!(e, DeskEvent::StoreBroken { .. })
        })
        .await;
    let DeskEvent::StoreBroken { detail } = broken else {
        unreachable!()
    };
    assert!(detail.contains("损坏"), "{detail}");
    // The look-up itself is still answered, in the resident's words.
    let answer = kiosk
        .wait("progress", |e| matches!(e, DeskEvent::Progress { .. }))
        .await;
    let DeskEvent::Progress { rows, .. } = answer else {
        unreachable!()
    };
    assert!(rows.is_empty());
}
