//! The admin hooks of a kiosk with devices: device tests through the
//! running device manager, saved device settings applied to it live, and
//! the restart.

use super::{AdminHooks, DeviceTest, TestReply};
use bianmin_admin::Change;
use bianmin_config::{Config, DevicesConfig};
use bianmin_core::form::Identity;
use bianmin_core::words::Words;
use bianmin_drivers::manager::{DeviceManager, DeviceStatus, PrinterHandle};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// What admin mode asks of the running devices. Tests go through the
/// running device manager (it holds the ports exclusively); saved device
/// settings move the devices at once.
pub struct DeviceHooks {
    pub devices: Option<Arc<DeviceManager>>,
    pub printer: Option<PrinterHandle>,
    pub identity: Arc<Mutex<Option<Box<Identity>>>>,
    pub runtime: tokio::runtime::Handle,
    /// The device settings the manager runs on (as the configuration says).
    pub running: RefCell<DevicesConfig>,
}

impl AdminHooks for DeviceHooks {
    /// Device settings are handed to the device manager, which restarts only
    /// the devices whose settings changed.
    fn apply(&self, config: &Config, changes: &[Change]) {
        let Some(devices) = &self.devices else {
            return;
        };
        let touched = |device: &str| {
            let prefix = format!("devices.{device}.");
            changes.iter().any(|c| c.key.starts_with(&prefix))
        };
        let moved = |device: &str| {
            let key = format!("devices.{device}.port");
            changes.iter().any(|c| c.key == key)
        };
        let mut wanted = bianmin_ops::devices::manager_config(config);
        // A baud or paper change keeps the port the device is on now: in
        // the demo that is a simulator's, not the one in the file.
        if touched("printer") {
            if let (false, Some(next), Some(now)) = (
                moved("printer"),
                wanted.printer.as_mut(),
                devices.printer_settings(),
            ) {
                next.port = now.port;
            }
            tracing::info!("printer settings applied");
            devices.reconfigure_printer(wanted.printer);
        }
        if touched("id_card") {
            if let (false, Some(next), Some(now)) = (
                moved("id_card"),
                wanted.id_card.as_mut(),
                devices.id_card_settings(),
            ) {
                next.port = now.port;
            }
            tracing::info!("ID card reader settings applied");
            devices.reconfigure_id_card(wanted.id_card);
        }
        if touched("scanner") {
            if let (false, Some(next), Some(now)) = (
                moved("scanner"),
                wanted.scanner.as_mut(),
                devices.scanner_settings(),
            ) {
                next.port = now.port;
            }
            tracing::info!("scanner settings applied");
            devices.reconfigure_scanner(wanted.scanner);
        }
        *self.running.borrow_mut() = config.devices.clone();
    }

    fn test(&self, test: DeviceTest, config: &Config, reply: TestReply) {
        let Some(devices) = self.devices.clone() else {
            return reply.send(Err(Words::fixed(
                "设备服务没有运行",
                "The device service is not running",
            )));
        };
        let status = devices.status.borrow().clone();
        // `what` names the device: (Chinese, English).
        let describe = |(zh, en): (&str, &str), s: &DeviceStatus| match s {
            DeviceStatus::Ok => Ok(Words::new(
                format!("{zh}已连接，工作正常"),
                format!("{en} connected and working"),
            )),
            DeviceStatus::Disabled => Err(Words::new(
                format!("{zh}未启用"),
                format!("{en} is disabled"),
            )),
            DeviceStatus::Starting => Err(Words::new(
                format!("{zh}正在连接，请稍后再试"),
                format!("{en} is connecting; try again shortly"),
            )),
            DeviceStatus::Degraded { reason, detail } => Err(Words::new(
                format!("{zh}：{}（{detail}）", reason.zh()),
                format!("{en}: {} ({detail})", reason.en()),
            )),
            DeviceStatus::Absent { detail } => Err(Words::new(
                format!("{zh}未连接：{detail}"),
                format!("{en} not connected: {detail}"),
            )),
        };
        let note = |port: &str, running: &str| {
            if port == running {
                Words::default()
            } else {
                Words::new(
                    format!("（测试的是正在使用的 {running}；新串口 {port} 保存后生效）"),
                    format!(
                        " (tested the port in use, {running}; the new port {port} takes effect once saved)"
                    ),
                )
            }
        };
        let edited = &config.devices;
        let running = self.running.borrow().clone();
        match test {
            DeviceTest::Led | DeviceTest::Buzzer => {
                if status.gpio == DeviceStatus::Disabled {
                    return reply.send(Err(Words::fixed(
                        "指示灯和蜂鸣器未启用（devices.gpio.enabled）",
                        "The LED and buzzer are disabled (devices.gpio.enabled)",
                    )));
                }
                let led = test == DeviceTest::Led;
                let set = move |d: &DeviceManager, on: bool| {
                    if led {
                        d.set_led(on)
                    } else {
                        d.set_buzzer(on)
                    }
                };
                set(&devices, true);
                slint::Timer::single_shot(std::time::Duration::from_secs(1), move || {
                    set(&devices, false)
                });
                reply.send(Ok(if led {
                    Words::fixed(
                        "指示灯已点亮 1 秒，请目视确认",
                        "The LED was lit for 1 s; check that you saw it",
                    )
                } else {
                    Words::fixed(
                        "蜂鸣器已响 1 秒，请确认听到",
                        "The buzzer sounded for 1 s; check that you heard it",
                    )
                }));
            }
            DeviceTest::ReadCard => {
                let card = self.identity.lock().ok().and_then(|slot| {
                    slot.as_ref()
                        .map(|c| bianmin_drivers::id_number::mask_name(&c.name))
                });
                reply.send(match card {
                    Some(name) => Ok(Words::new(
                        format!("读到身份证：{name}"),
                        format!("ID card read: {name}"),
                    )),
                    None => describe(("身份证读卡器", "The ID card reader"), &status.id_card).map(
                        |ok| {
                            let note = note(&edited.id_card.port, &running.id_card.port);
                            Words::new(
                                format!("{}；请放一张身份证后再按一次{}", ok.zh(), note.zh()),
                                format!(
                                    "{}; place an ID card and press again{}",
                                    ok.en(),
                                    note.en()
                                ),
                            )
                        },
                    ),
                });
            }
            DeviceTest::Scan => reply.send(
                describe(("扫码器", "The scanner"), &status.scanner).map(|ok| {
                    let note = note(&edited.scanner.port, &running.scanner.port);
                    Words::new(
                        format!(
                            "{}；扫描任意二维码，扫码器应发出提示音{}",
                            ok.zh(),
                            note.zh()
                        ),
                        format!(
                            "{}; scan any QR code and the scanner should beep{}",
                            ok.en(),
                            note.en()
                        ),
                    )
                }),
            ),
            DeviceTest::Print => {
                let Some(printer) = self.printer.clone() else {
                    return reply
                        .send(Err(Words::fixed("打印机未启用", "The printer is disabled")));
                };
                let paper = bianmin_drivers::printer::Paper::from_mm(running.printer.paper_mm.0);
                let note = note(&edited.printer.port, &running.printer.port);
                self.runtime.spawn(async move {
                    let receipt = bianmin_drivers::printer::receipt::test_receipt(paper);
                    // The printer's own details are English for technicians.
                    reply.send(match printer.print(receipt).await {
                        Ok(printed) => Ok(match printed.warning {
                            Some(w) => Words::new(
                                format!(
                                    "测试页已打印{}；注意：{}",
                                    note.zh(),
                                    w.technician_detail()
                                ),
                                format!(
                                    "Test page printed{}; note: {}",
                                    note.en(),
                                    w.technician_detail()
                                ),
                            ),
                            None => Words::new(
                                format!("测试页已打印{}", note.zh()),
                                format!("Test page printed{}", note.en()),
                            ),
                        }),
                        Err(err) => Err(Words::new(
                            format!("测试页没有打印：{err}"),
                            format!("The test page was not printed: {err}"),
                        )),
                    });
                });
            }
        }
    }

    /// systemd's `Restart=always` starts the kiosk again after any exit.
    fn restart(&self) {
        let _ = bianmin_ops::Notifier.stopping();
        tracing::info!("restart requested in admin mode");
        let _ = slint::quit_event_loop();
    }
}
