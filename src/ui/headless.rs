//! Rendering screens to pixels without a display or GPU: Slint's software
//! renderer into a buffer. Used by `bianmin screens`, the start-up probe and
//! the UI audit.

use super::{AppWindow, KioskController, Screen};
use crate::config::{Config, Language};
use crate::core::catalogue::Catalogue;
use anyhow::Context;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize, Rgb8Pixel, SharedPixelBuffer};
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
    pub reach: fn(&KioskController),
}

/// Every screen of the kiosk, each reached through the same controller calls
/// a tap would make.
pub fn all_screens() -> Vec<ScreenShot> {
    vec![
        ScreenShot {
            name: "attract",
            reach: |_| {},
        },
        ScreenShot {
            name: "catalogue",
            reach: |c| c.open_catalogue(),
        },
        ScreenShot {
            name: "service-list",
            reach: |c| {
                c.open_catalogue();
                c.open_category("social-security");
            },
        },
        ScreenShot {
            name: "guide",
            reach: |c| {
                c.open_catalogue();
                c.open_category("social-security");
                c.open_service("DEMO-SB-001");
            },
        },
        ScreenShot {
            name: "search",
            reach: |c| {
                c.open_search();
                c.set_search("sbk".into());
            },
        },
        ScreenShot {
            name: "identify",
            reach: |c| c.navigate(Screen::Identify),
        },
        ScreenShot {
            name: "scan",
            reach: |c| c.navigate(Screen::Scan),
        },
        ScreenShot {
            name: "progress",
            reach: |c| c.navigate(Screen::Progress),
        },
        ScreenShot {
            name: "bundle-questions",
            reach: |c| {
                c.open_service("bundle:newborn");
                c.apply("bundle:newborn");
            },
        },
        ScreenShot {
            name: "form",
            reach: |c| {
                c.open_service("DEMO-SB-001");
                c.apply("DEMO-SB-001");
            },
        },
        ScreenShot {
            name: "form-keypad",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.journey_edit_field("applicant.phone");
                c.journey_key("138");
            },
        },
        ScreenShot {
            name: "form-pinyin",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.journey_edit_field("applicant.address");
                c.journey_key("zhang");
            },
        },
        ScreenShot {
            name: "materials",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.journey_fill_required();
                c.journey_form_next();
            },
        },
        ScreenShot {
            name: "commitment",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.journey_fill_required();
                c.journey_form_next();
                c.journey_provide_all_materials();
                c.journey_materials_next();
                c.journey_delivery_next();
            },
        },
        ScreenShot {
            name: "receipt-unprinted",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.handle(crate::services::UiEvent::Desk(
                    crate::desk::DeskEvent::Submitted {
                        receipt_no: sample_receipt(),
                        qr: sample_receipt(),
                        printed: false,
                        printer_message: crate::core::words::Words::fixed(
                            "打印机缺纸。",
                            "The printer is out of paper.",
                        ),
                    },
                ));
            },
        },
        ScreenShot {
            name: "rating",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.handle(crate::services::UiEvent::Desk(
                    crate::desk::DeskEvent::Submitted {
                        receipt_no: sample_receipt(),
                        qr: sample_receipt(),
                        printed: true,
                        printer_message: Default::default(),
                    },
                ));
                c.journey_to_rating();
            },
        },
        ScreenShot {
            name: "rating-reasons",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.handle(crate::services::UiEvent::Desk(
                    crate::desk::DeskEvent::Submitted {
                        receipt_no: sample_receipt(),
                        qr: sample_receipt(),
                        printed: true,
                        printer_message: Default::default(),
                    },
                ));
                c.journey_to_rating();
                c.journey_rate(crate::core::evaluation::Satisfaction::Dissatisfied);
            },
        },
        ScreenShot {
            name: "progress-list",
            reach: |c| {
                c.navigate(Screen::Progress);
                c.handle(crate::services::UiEvent::Desk(
                    crate::desk::DeskEvent::Progress {
                        live: false,
                        rows: vec![crate::desk::ProgressRow {
                            receipt_no: sample_receipt(),
                            // A name of the demo catalogue: the record keeps the
                            // catalogue's name, which no language switch changes.
                            service_name: "城乡居民养老保险参保登记".into(),
                            state: crate::desk::local_state_words(
                                crate::store::RecordState::Pending,
                            ),
                            updated: "2026-11-25 10:32".into(),
                        }],
                        message: crate::core::words::Words::fixed(
                            "网络未连接，下面是本终端记录的状态，联网后会自动上报。",
                            "Not connected: these are the states this terminal recorded; they are reported once online.",
                        ),
                    },
                ));
            },
        },
        ScreenShot {
            name: "assist-sign-in",
            reach: |c| {
                c.apply("DEMO-SB-001");
                c.open_assist();
            },
        },
        ScreenShot {
            name: "feedback",
            reach: |c| c.journey_open_feedback(),
        },
        ScreenShot {
            name: "idle-timeout",
            reach: |c| {
                c.open_catalogue();
                c.force_countdown();
            },
        },
        ScreenShot {
            name: "notice",
            // As the physical call-staff button reports itself.
            reach: |c| c.handle(crate::services::UiEvent::CallStaff),
        },
        ScreenShot {
            name: "out-of-service",
            reach: |c| {
                c.out_of_service(
                    "/etc/bianmin/kiosk.toml:12:15: expected a whole number from 30 to 3600, found 5",
                )
            },
        },
        // Technician admin mode, over whatever the resident saw.
        ScreenShot {
            name: "admin-pin",
            reach: |c| admin_preview(c, AdminPage::Pin, PreviewDetail::Choices),
        },
        ScreenShot {
            name: "admin-settings",
            reach: |c| admin_preview(c, AdminPage::Settings, PreviewDetail::Choices),
        },
        ScreenShot {
            name: "admin-keyboard",
            reach: |c| admin_preview(c, AdminPage::Settings, PreviewDetail::Keyboard),
        },
        ScreenShot {
            name: "admin-operations",
            reach: |c| admin_preview(c, AdminPage::Operations, PreviewDetail::Choices),
        },
    ]
}

use super::admin::PreviewDetail;
use super::AdminPage;

fn admin_preview(c: &KioskController, page: AdminPage, detail: PreviewDetail) {
    super::admin::preview(&c.window(), page, detail);
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
    let controller = KioskController::new(&ui, config, Catalogue::demo());
    controller.set_hooks(Rc::new(SampleResident));
    ui.show().context("cannot show the kiosk window")?;
    let mut written = Vec::new();
    for &large in themes {
        for screen in all_screens() {
            controller.end_session(crate::core::session::EndReason::Finished);
            super::admin::close_preview(&ui);
            controller.set_large(large);
            (screen.reach)(&controller);
            // The same picture at any hour: the live clock made the pictures
            // (and the OCR test reading them) depend on when they were taken.
            ui.global::<super::Kiosk>()
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
    controller.end_session(crate::core::session::EndReason::Finished);
    ui.hide().ok();
    Ok(written)
}

/// The time the header shows in `bianmin screens`.
pub const SCREENSHOT_CLOCK: &str = "09:30";

/// Screens of a journey need a resident: the first demo card, as if it lay
/// on the reader. Nothing is stored or sent.
pub struct SampleResident;

impl super::controller::KioskHooks for SampleResident {
    fn identity(&self) -> Option<crate::core::form::Identity> {
        bianmin_drivers::idcard::sim::demo_cards()
            .first()
            .map(crate::devices::core_identity)
    }
}

/// A well-formed receipt number for screens that show one.
fn sample_receipt() -> String {
    crate::store::receipt::format("T0001", "20261125", 42)
}
