//! Rendering screens to pixels without a display or GPU: Slint's software
//! renderer into a buffer. Used by `bianmin screens`, the start-up probe and
//! the UI audit.

use crate::{press, AppWindow, KioskController};
use anyhow::Context;
use bianmin_config::{Config, Language};
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, Model, PhysicalSize, Rgb8Pixel, SharedPixelBuffer};
use std::path::Path;
use std::rc::Rc;

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    started: std::time::Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// A window that draws into memory.
pub struct HeadlessWindow {
    window: Rc<MinimalSoftwareWindow>,
}

impl HeadlessWindow {
    /// Installs the headless platform for this thread; call before creating
    /// any component. Fails if another platform is already installed.
    pub fn install() -> anyhow::Result<HeadlessWindow> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            started: std::time::Instant::now(),
        }))
        .map_err(|e| anyhow::anyhow!("cannot install the headless renderer: {e}"))?;
        Ok(HeadlessWindow { window })
    }

    pub fn set_size(&self, width: u32, height: u32) {
        self.window.set_size(PhysicalSize::new(width, height));
    }

    /// Draw the current state of the UI.
    pub fn render(&self) -> SharedPixelBuffer<Rgb8Pixel> {
        slint::platform::update_timers_and_animations();
        let size = self.window.size();
        let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(size.width, size.height);
        self.window.request_redraw();
        let stride = size.width as usize;
        self.window.draw_if_needed(|renderer| {
            renderer.render(buffer.make_mut_slice(), stride);
        });
        buffer
    }
}

pub fn save_png(buffer: &SharedPixelBuffer<Rgb8Pixel>, path: &Path) -> anyhow::Result<()> {
    let image =
        image::RgbImage::from_raw(buffer.width(), buffer.height(), buffer.as_bytes().to_vec())
            .context("pixel buffer has the wrong size")?;
    image
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// One screen as a resident would reach it, for rendering and auditing.
pub struct ScreenShot {
    pub name: &'static str,
    /// From the start screen with the sample resident's card (not yet
    /// read): the buttons a resident presses, and what the services would
    /// answer. Fails if a step cannot be pressed.
    pub reach: fn(&AppWindow, &KioskController) -> anyhow::Result<()>,
}

/// The guide the journey screens apply for: 社会保障卡申领.
const SAMPLE_CATEGORY: &str = "social-security";
const SAMPLE_SERVICE: &str = "DEMO-SB-001";

/// Every screen of the kiosk, each reached by pressing what a resident
/// presses (`press`); the services' answers (a stored application, progress)
/// and what is not a resident's doing (time passing, a broken configuration,
/// the technician's mode) are handed to the controller as they would be.
pub fn all_screens() -> Vec<ScreenShot> {
    vec![
        ScreenShot {
            name: "attract",
            reach: |_, _| Ok(()),
        },
        ScreenShot {
            name: "catalogue",
            reach: |ui, _| press::press(ui, "找服务"),
        },
        ScreenShot {
            name: "service-list",
            reach: |ui, _| {
                press::press(ui, "找服务")?;
                press::open_category(ui, SAMPLE_CATEGORY)
            },
        },
        ScreenShot {
            name: "guide",
            reach: |ui, _| press::find_service(ui, SAMPLE_CATEGORY, SAMPLE_SERVICE),
        },
        ScreenShot {
            name: "search",
            reach: |ui, _| press::search(ui, "sbk"),
        },
        ScreenShot {
            name: "identify",
            reach: |ui, _| press::press(ui, "刷身份证"),
        },
        ScreenShot {
            name: "scan",
            reach: |ui, _| press::press(ui, "扫码"),
        },
        ScreenShot {
            name: "progress",
            reach: |ui, _| press::press(ui, "查进度"),
        },
        ScreenShot {
            name: "bundle-questions",
            reach: |ui, _| {
                press::find_service(ui, "bundles", "bundle:newborn")?;
                press::press(ui, "我要办理")
            },
        },
        ScreenShot {
            name: "form",
            reach: |ui, _| apply(ui),
        },
        ScreenShot {
            name: "form-keypad",
            reach: |ui, _| {
                apply(ui)?;
                press::edit_field(ui, "applicant.phone")?;
                press::type_keys(ui, "138")
            },
        },
        ScreenShot {
            name: "form-pinyin",
            reach: |ui, _| {
                apply(ui)?;
                press::edit_field(ui, "applicant.address")?;
                press::type_keys(ui, "zhang")
            },
        },
        ScreenShot {
            name: "materials",
            reach: |ui, _| {
                apply(ui)?;
                press::fill_required(ui)?;
                press::press(ui, "下一步")
            },
        },
        ScreenShot {
            name: "review",
            reach: |ui, _| to_review(ui),
        },
        ScreenShot {
            name: "commitment",
            reach: |ui, _| {
                to_review(ui)?;
                press::press(ui, "信息无误，去签名")
            },
        },
        ScreenShot {
            name: "printer-out-of-paper",
            reach: |ui, c| {
                apply(ui)?;
                c.handle(submitted(
                    c,
                    false,
                    bianmin_core::words::Words::fixed(
                        "打印机缺纸。",
                        "The printer is out of paper.",
                    ),
                ));
                Ok(())
            },
        },
        ScreenShot {
            name: "rating",
            reach: |ui, c| {
                apply(ui)?;
                c.handle(submitted(c, true, Default::default()));
                press::press(ui, "评价本次服务")
            },
        },
        ScreenShot {
            name: "rating-reasons",
            reach: |ui, c| {
                apply(ui)?;
                c.handle(submitted(c, true, Default::default()));
                press::press(ui, "评价本次服务")?;
                let dissatisfied = bianmin_core::evaluation::Satisfaction::Dissatisfied;
                let levels = ui.global::<crate::Journey>().get_levels();
                press::choose(ui, &levels, &dissatisfied.score().to_string())
            },
        },
        ScreenShot {
            name: "progress-list",
            reach: |ui, c| {
                press::press(ui, "查进度")?;
                c.handle(desk_answer(
                    c,
                    bianmin_desk::DeskEvent::Progress {
                        live: false,
                        rows: vec![bianmin_desk::ProgressRow {
                            receipt_no: sample_receipt(),
                            // A name of the demo catalogue: the record keeps the
                            // catalogue's name, which no language switch changes.
                            service_name: "城乡居民养老保险参保登记".into(),
                            state: bianmin_desk::local_state_words(
                                bianmin_store::RecordState::Pending,
                            ),
                            updated: "2026-11-25 10:32".into(),
                        }],
                        message: bianmin_core::words::Words::fixed(
                            "网络未连接，下面是本终端记录的状态，联网后会自动上报。",
                            "Not connected: these are the states this terminal recorded; they are reported once online.",
                        ),
                    },
                ));
                Ok(())
            },
        },
        ScreenShot {
            name: "assist-without-clerks",
            // 请工作人员帮我输入 is on the pinyin keyboard: the clerk's sign-in
            // opens over the keyboard and the "staff called" notice. The
            // default configuration registers no clerk: the overlay offers
            // only 呼叫工作人员.
            reach: |ui, _| {
                apply(ui)?;
                press::edit_field(ui, "applicant.address")?;
                press::press(ui, "请工作人员帮我输入")
            },
        },
        ScreenShot {
            name: "feedback",
            reach: |ui, _| {
                press::press(ui, "查进度")?;
                press::press(ui, "办不成事反映")
            },
        },
        ScreenShot {
            name: "station",
            // After the clerk's sign-in (its overlay has a screenshot of
            // its own): a day with an owed photo and two follow-ups.
            reach: |_, c| {
                c.open_station("1001");
                c.station_answered(sample_station_view());
                Ok(())
            },
        },
        ScreenShot {
            name: "feedback-callback",
            reach: |ui, _| {
                press::press(ui, "查进度")?;
                press::press(ui, "办不成事反映")?;
                // The first topic, in whichever language the screen shows.
                let topics = ui.global::<crate::Journey>().get_feedback_topics();
                let first = topics
                    .row_data(0)
                    .ok_or_else(|| anyhow::anyhow!("no feedback topics"))?;
                press::press(ui, &first.label)?;
                press::type_keys(ui, "13912345678")
            },
        },
        ScreenShot {
            name: "idle-timeout",
            reach: |ui, c| {
                press::press(ui, "找服务")?;
                c.force_countdown();
                Ok(())
            },
        },
        ScreenShot {
            name: "notice",
            reach: |ui, _| press::press(ui, "呼叫工作人员"),
        },
        ScreenShot {
            name: "out-of-service",
            reach: |_, c| {
                c.preview_out_of_service(
                    "/etc/bianmin/kiosk.toml:12:15: expected a whole number from 30 to 3600, found 5",
                );
                Ok(())
            },
        },
        ScreenShot {
            name: "enrollment",
            reach: |_, c| {
                c.preview_enrollment(None);
                Ok(())
            },
        },
        ScreenShot {
            name: "enrollment-keypad",
            reach: |_, c| {
                c.preview_enrollment(Some("ABCD-23"));
                Ok(())
            },
        },
        // Technician admin mode, over whatever the resident saw.
        ScreenShot {
            name: "admin-pin",
            reach: |_, c| admin_preview(c, AdminPage::Pin, PreviewDetail::Choices),
        },
        ScreenShot {
            name: "admin-settings",
            reach: |_, c| admin_preview(c, AdminPage::Settings, PreviewDetail::Choices),
        },
        ScreenShot {
            name: "admin-keyboard",
            reach: |_, c| admin_preview(c, AdminPage::Settings, PreviewDetail::Keyboard),
        },
        ScreenShot {
            name: "admin-operations",
            reach: |_, c| admin_preview(c, AdminPage::Operations, PreviewDetail::Choices),
        },
    ]
}

/// 找服务 → 社会保障 → 社会保障卡申领 → 我要办理: the form.
/// From a fresh application to 核对信息: the form filled, every material
/// brought, the delivery offered first.
fn to_review(ui: &AppWindow) -> anyhow::Result<()> {
    apply(ui)?;
    press::fill_required(ui)?;
    press::press(ui, "下一步")?;
    press::provide_all_materials(ui)?;
    press::press(ui, "下一步")?;
    press::press(ui, "下一步")
}

fn apply(ui: &AppWindow) -> anyhow::Result<()> {
    press::apply_for(ui, SAMPLE_CATEGORY, SAMPLE_SERVICE)
}

/// An answer of the desk to the session on screen.
fn desk_answer(c: &KioskController, event: bianmin_desk::DeskEvent) -> crate::events::UiEvent {
    crate::events::UiEvent::Desk(bianmin_desk::DeskAnswer {
        session: c.session_id(),
        event,
    })
}

/// What the service desk reports once the application is stored.
fn submitted(
    c: &KioskController,
    printed: bool,
    printer_message: bianmin_core::words::Words,
) -> crate::events::UiEvent {
    desk_answer(
        c,
        bianmin_desk::DeskEvent::Submitted {
            receipt_no: sample_receipt(),
            qr: sample_receipt(),
            printed,
            printer_message,
            due_dates: Default::default(),
        },
    )
}

use crate::admin::PreviewDetail;
use crate::AdminPage;

fn admin_preview(
    c: &KioskController,
    page: AdminPage,
    detail: PreviewDetail,
) -> anyhow::Result<()> {
    crate::admin::preview(&c.window(), page, detail);
    Ok(())
}

/// Render every screen in the given themes to `out/<screen>-<theme>.png`.
pub fn render_all(
    config: &Config,
    out: &Path,
    themes: &[bool],
    size: (u32, u32),
    language: Language,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let window = HeadlessWindow::install()?;
    window.set_size(size.0, size.1);
    let ui = AppWindow::new().context("cannot create the kiosk window")?;
    let mut config = config.clone();
    config.ui.language = language;
    let controller = KioskController::new(&ui, config, bianmin_core::package::Package::demo());
    controller.set_hooks(Rc::new(SampleResident));
    ui.show().context("cannot show the kiosk window")?;
    let mut written = Vec::new();
    for &large in themes {
        for screen in all_screens() {
            controller.end_session(bianmin_core::session::EndReason::Finished);
            crate::admin::close_preview(&ui);
            controller.set_large(large);
            (screen.reach)(&ui, &controller)
                .with_context(|| format!("cannot reach the {} screen", screen.name))?;
            // The same picture at any hour: the live clock made the pictures
            // (and the OCR test reading them) depend on when they were taken.
            ui.global::<crate::Kiosk>()
                .set_clock(SCREENSHOT_CLOCK.into());
            let path = out.join(format!(
                "{}-{}.png",
                screen.name,
                if large { "large" } else { "normal" }
            ));
            save_png(&window.render(), &path)?;
            written.push(path);
        }
    }
    controller.end_session(bianmin_core::session::EndReason::Finished);
    ui.hide().ok();
    Ok(written)
}

/// The time the header shows in `bianmin screens`.
pub const SCREENSHOT_CLOCK: &str = "09:30";

/// Screens of a journey need a resident: the first demo card, as if it lay
/// on the reader. Nothing is stored or sent.
pub struct SampleResident;

impl crate::controller::KioskHooks for SampleResident {
    fn identity(&self) -> Option<bianmin_core::form::Identity> {
        bianmin_drivers::idcard::sim::demo_cards()
            .first()
            .map(bianmin_ops::devices::core_identity)
    }
}

/// A station's day as the desk would answer it.
fn sample_station_view() -> bianmin_desk::StationView {
    use bianmin_desk::{FollowUpReport, LowRating};
    // The sample resident's name (a demo card's), masked.
    let masked = bianmin_drivers::idcard::sim::demo_cards()
        .first()
        .map(|c| bianmin_core::id_number::mask_name(&c.name))
        .unwrap_or_default();
    let app = |seq: u32, time: &str, name: &str, owed: Vec<bianmin_desk::OwedMaterial>| {
        bianmin_desk::StationApplication {
            receipt_no: bianmin_store::receipt::format("T0001", "20261125", seq),
            service_name: "社会保障卡申领".into(),
            masked_name: name.into(),
            time: time.into(),
            owed,
            to_collect: vec!["居民身份证".into()],
            delivered: seq.is_multiple_of(2),
        }
    };
    bianmin_desk::StationView {
        applications: vec![
            app(
                42,
                "10:32",
                &masked,
                vec![bianmin_desk::OwedMaterial {
                    name: "近期一寸白底免冠照片".into(),
                    state: bianmin_core::words::Words::new(
                        bianmin_core::application::MaterialState::Missing.label_zh(),
                        bianmin_core::application::MaterialState::Missing.label_en(),
                    ),
                    due: Some("2026-12-02".into()),
                }],
            ),
            app(43, "11:05", &masked, Vec::new()),
            app(44, "14:20", &masked, Vec::new()),
            app(45, "15:48", &masked, Vec::new()),
        ],
        reports: vec![FollowUpReport {
            id: "ER-T0001-20261125-000003".into(),
            at: "2026-11-25T10:40:00+08:00".into(),
            service_code: Some("DEMO-SB-001".into()),
            message: "找不到要办的事项".into(),
            callback_phone: Some("13912345678".into()),
        }],
        low_ratings: vec![LowRating {
            id: "EV-T0001-20261125-000002".into(),
            at: "2026-11-25T11:20:00+08:00".into(),
            receipt_no: Some(bianmin_store::receipt::format("T0001", "20261125", 43)),
            service_code: "DEMO-SB-001".into(),
            level: 2,
            comment: "排队的人太多".into(),
        }],
        online: true,
    }
}

/// A well-formed receipt number for screens that show one.
fn sample_receipt() -> String {
    bianmin_store::receipt::format("T0001", "20261125", 42)
}
