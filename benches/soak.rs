//! Soak: 10,000 resident journeys pressed through the real screens in one
//! process, headless (Slint's testing backend with mock time), and what the
//! process holds at 0, 1,000 and 10,000 journeys: resident memory, open file
//! descriptors and threads. Target: RSS grows by less than 2 MB from 1,000
//! to 10,000 journeys; descriptors and threads stay constant.
//!
//! The mix, in turn: a single service applied for to the receipt and rated;
//! a 一件事 bundle through its questionnaire to the receipt; a journey
//! abandoned half-way with 首页; one left on the form until the idle time-out
//! ends it. The service desk answers on the spot (no disk, printer or
//! network): what is measured is the UI, the controller and the session,
//! which a kiosk keeps for weeks.
//!
//! Run: `cargo bench --bench soak` (release), or `cargo bench --bench soak --
//! 2000` for a shorter run. Figures go to BENCHMARKS.md.

use bianmin_config::Config;
use bianmin_core::form::Identity;
use bianmin_desk::{DeskAnswer, DeskEvent, DeskRequest, SessionId};
use bianmin_ui::controller::KioskHooks;
use bianmin_ui::events::{Inbox, UiEvent};
use bianmin_ui::{press, AppWindow, Journey, Kiosk, KioskController, Screen};
use slint::{ComponentHandle, Model};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The first demo card on the reader, and a desk that answers at once.
struct InstantDesk {
    answers: Inbox,
    receipts: Cell<u32>,
}

impl KioskHooks for InstantDesk {
    fn identity(&self) -> Option<Identity> {
        bianmin_drivers::idcard::sim::demo_cards()
            .first()
            .map(bianmin_ops::devices::core_identity)
    }

    fn desk(&self, session: SessionId, request: DeskRequest) {
        let answer = match request {
            DeskRequest::Submit(_) => {
                let seq = self.receipts.get() + 1;
                self.receipts.set(seq);
                let receipt_no = bianmin_store::receipt::format("T0001", "20261204", seq);
                DeskEvent::Submitted {
                    qr: receipt_no.clone(),
                    receipt_no,
                    printed: true,
                    printer_message: Default::default(),
                    due_dates: Default::default(),
                }
            }
            DeskRequest::Evaluate { .. } => DeskEvent::Evaluated(Ok(())),
            _ => return,
        };
        self.answers.post(UiEvent::Desk(DeskAnswer {
            session,
            event: answer,
        }));
    }
}

struct SoakKiosk {
    ui: AppWindow,
    controller: KioskController,
    desk: Rc<InstantDesk>,
}

impl SoakKiosk {
    fn step(&self, result: anyhow::Result<()>) {
        if let Err(e) = result {
            panic!("on {:?}: {e:#}", self.ui.global::<Kiosk>().get_screen());
        }
    }

    fn tap(&self, label: &str) {
        self.step(press::press(&self.ui, label));
    }

    /// What the desk answered reaches the screen, as the inbox timer would.
    fn deliver(&self) {
        for event in self.desk.answers.drain() {
            self.controller.handle(event);
        }
    }

    fn screen(&self) -> Screen {
        self.ui.global::<Kiosk>().get_screen()
    }

    fn identified(&self) {
        self.controller.set_resident("王*明 110101********1233");
    }

    /// Form → materials → delivery → commitment → signed → receipt.
    fn complete_form_to_receipt(&self) {
        self.step(press::fill_required(&self.ui));
        self.tap("下一步");
        self.step(press::provide_all_materials(&self.ui));
        self.tap("下一步");
        self.tap("下一步");
        self.tap("信息无误，去签名");
        let journey = self.ui.global::<Journey>();
        if journey.get_commitment_needed() && !journey.get_committed() {
            self.tap("本人已阅读，承诺以上内容属实");
        }
        self.step(press::sign(&self.ui));
        self.tap("提交申请");
        self.deliver();
        assert_eq!(self.screen(), Screen::Receipt);
    }

    fn single_service(&self) {
        self.identified();
        self.step(press::apply_for(&self.ui, "social-security", "DEMO-SB-001"));
        self.complete_form_to_receipt();
        self.tap("评价本次服务");
        // A good rating is saved at once; 完成 leaves.
        self.tap("非常满意");
        self.deliver();
        self.tap("完成");
        self.controller
            .end_session(bianmin_core::session::EndReason::Finished);
    }

    fn bundle(&self) {
        self.identified();
        self.tap("找服务");
        self.step(press::open_category(&self.ui, "bundles"));
        let bundle = self
            .ui
            .global::<Kiosk>()
            .get_services()
            .row_data(0)
            .expect("a bundle");
        self.tap(&bundle.name);
        self.tap("我要办理");
        let journey = self.ui.global::<Journey>();
        while !journey.get_questions_done() {
            let first = journey.get_question().options.row_data(0).unwrap();
            self.tap(&first.label);
        }
        self.tap("开始填写");
        self.complete_form_to_receipt();
        self.controller
            .end_session(bianmin_core::session::EndReason::Finished);
    }

    fn abandoned(&self) {
        self.identified();
        self.step(press::apply_for(&self.ui, "social-security", "DEMO-SB-001"));
        self.step(press::fill_required(&self.ui));
        self.tap("首页");
        assert_eq!(self.screen(), Screen::Attract);
    }

    fn timed_out(&self) {
        self.identified();
        self.step(press::apply_for(&self.ui, "social-security", "DEMO-SB-001"));
        let idle = Config::default().session.idle_timeout_secs.get();
        for _ in 0..idle + 30 {
            i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(1));
        }
        assert_eq!(self.screen(), Screen::Attract, "the idle time-out ended it");
    }
}

/// One line of /proc/self/status, in kB or a count.
fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn report(journeys: usize, started: Instant) -> (u64, usize, u64) {
    let (rss, fds, threads) = (status_field("VmRSS:"), open_fds(), status_field("Threads:"));
    println!(
        "journeys={journeys:>6} rss_kb={rss:>7} fds={fds:>3} threads={threads:>2} elapsed_s={:.1}",
        started.elapsed().as_secs_f64()
    );
    (rss, fds, threads)
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    bianmin_ui::audit::install_backend();
    let ui = AppWindow::new().expect("kiosk window");
    let controller = KioskController::new(
        &ui,
        Config::default(),
        bianmin_core::package::Package::demo(),
    );
    let desk = Rc::new(InstantDesk {
        answers: Inbox::default(),
        receipts: Cell::new(0),
    });
    controller.set_hooks(desk.clone());
    // The one-second ticks that drive the session's idle time-out.
    controller.start_ticking();
    ui.show().expect("shown");
    let kiosk = SoakKiosk {
        ui,
        controller,
        desk,
    };
    let started = Instant::now();
    let mut figures = vec![(0, report(0, started))];
    for n in 1..=total {
        match n % 4 {
            0 => kiosk.single_service(),
            1 => kiosk.bundle(),
            2 => kiosk.abandoned(),
            _ => kiosk.timed_out(),
        }
        if n == 1_000 || n == total || n % 2_500 == 0 {
            figures.push((n, report(n, started)));
        }
    }
    let at = |n: usize| figures.iter().find(|(k, _)| *k == n).map(|(_, f)| *f);
    if let (Some(a), Some(b)) = (at(1_000.min(total)), at(total)) {
        println!(
            "from {} to {total} journeys: rss {:+} kB (target < 2048), fds {:+}, threads {:+}",
            1_000.min(total),
            b.0 as i64 - a.0 as i64,
            b.1 as i64 - a.1 as i64,
            b.2 as i64 - a.2 as i64
        );
    }
}
