//! `bianmin walkthrough`: one resident's whole journey in demo mode, a PNG
//! per step, rendered without a display. The same services `bianmin demo`
//! runs (simulated devices on pseudo-terminals, the embedded reference
//! platform); only the window is software-rendered, and every step is a
//! press of what the resident sees (`press`) or a device the resident uses.

use anyhow::Context;
use bianmin_config::Config;
use bianmin_ui::headless::{save_png, HeadlessWindow};
use bianmin_ui::press;
use bianmin_ui::{AppWindow, Journey, Kiosk, KioskController, Screen};
use slint::{ComponentHandle, Model};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Walk<'a> {
    window: HeadlessWindow,
    ui: AppWindow,
    controller: KioskController,
    services: &'a crate::services::Services,
    out: &'a Path,
    written: Vec<PathBuf>,
    /// The services reported the card lifted.
    card_removed: Cell<bool>,
    /// Words broken across two lines, by shot: the run fails on any
    /// (after writing every PNG, so they can be looked at).
    broken: Vec<String>,
}

impl Walk<'_> {
    fn shot(&mut self, name: &str) -> anyhow::Result<()> {
        let path = self
            .out
            .join(format!("{:02}-{name}.png", self.written.len() + 1));
        save_png(&self.window.render(), &path)?;
        self.written.push(path);
        self.broken.extend(
            bianmin_ui::audit::broken_words(&self.ui)
                .into_iter()
                .map(|problem| format!("{name}: {problem}")),
        );
        Ok(())
    }

    /// The paper receipt as the virtual printer rendered it, beside the screens.
    fn keep_printed_receipt(&mut self, receipts: &Path) -> anyhow::Result<()> {
        let newest = std::fs::read_dir(receipts)
            .with_context(|| format!("no printed receipts in {}", receipts.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .context("the virtual printer rendered no receipt")?;
        let path = self
            .out
            .join(format!("{:02}-printed-receipt.png", self.written.len() + 1));
        std::fs::copy(&newest, &path)
            .with_context(|| format!("cannot copy the printed receipt to {}", path.display()))?;
        self.written.push(path);
        Ok(())
    }

    /// One clock: the screen's clock and the time printed on the receipt
    /// (as the desk prints it, from the stored record) side by side in
    /// `times.txt`, whatever the system's zone.
    fn note_times(&mut self, config: &Config, receipt: &str) -> anyhow::Result<()> {
        self.controller.tick();
        let clock = self.ui.global::<Kiosk>().get_clock().to_string();
        let store = bianmin_store::Store::open(config).context("the walkthrough's store")?;
        let record = store
            .find(receipt)
            .context("the receipt's record")?
            .context("the receipt is not in the outbox")?;
        let printed = bianmin_desk::shown_time_ms(record.created_at_ms);
        let path = self.out.join("times.txt");
        std::fs::write(
            &path,
            format!("screen-clock {clock}\nreceipt-time {printed}\n"),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Hand the services' reports to the UI until `done`, as the inbox timer would.
    fn pump_until(&self, what: &str, done: impl Fn(&Walk<'_>) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for event in self.services.inbox.drain() {
                if matches!(event, bianmin_ui::events::UiEvent::CardRemoved) {
                    self.card_removed.set(true);
                }
                self.controller.handle(event);
            }
            if done(self) {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("the walkthrough stopped: {what} did not happen within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn screen(&self) -> Screen {
        self.ui.global::<Kiosk>().get_screen()
    }
}

/// Walk the journey and return the PNGs written, in order.
pub fn run(mut config: Config, out: &Path, large: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // A scratch store: the walkthrough's resident is the demo card, and
    // nothing of it should outlive the run.
    let data = std::env::temp_dir().join(format!("bianmin-walkthrough-{}", std::process::id()));
    config.store.data_dir = data.clone();
    let result = walk_through(config, out, large);
    if let Err(err) = std::fs::remove_dir_all(&data) {
        tracing::debug!(%err, "scratch data directory not removed");
    }
    result
}

fn walk_through(mut config: Config, out: &Path, large: bool) -> anyhow::Result<Vec<PathBuf>> {
    let services = crate::services::start(&mut config, true);
    if let Some(fault) = &services.fault {
        anyhow::bail!("the demo services did not start: {fault}");
    }
    let devices = services
        .demo_devices
        .clone()
        .context("the simulated devices did not start")?;
    let window = HeadlessWindow::install()?;
    window.set_size(config.ui.width.get(), config.ui.height.get());
    let ui = AppWindow::new().context("cannot create the kiosk window")?;
    let controller = KioskController::new(
        &ui,
        config.clone(),
        services
            .content
            .clone()
            .unwrap_or_else(bianmin_core::package::Package::demo),
    );
    controller.set_hooks(crate::app::kiosk_hooks(&services));
    controller.set_large(large);
    ui.show().context("cannot show the kiosk window")?;
    let mut walk = Walk {
        window,
        ui,
        controller,
        services: &services,
        out,
        written: Vec::new(),
        card_removed: Cell::new(false),
        broken: Vec::new(),
    };

    let ui = walk.ui.clone_strong();
    let journey = ui.global::<Journey>();
    walk.pump_until("the platform link", |w| {
        w.ui.global::<Kiosk>().get_network() == bianmin_ui::NetworkState::Online
    })?;
    walk.shot("attract")?;
    press::press(&ui, "刷身份证")?;
    walk.shot("identify")?;
    devices.place_card(0);
    walk.pump_until("the card", |w| {
        !w.ui.global::<Kiosk>().get_resident().is_empty()
    })?;
    press::press(&ui, "知道了")?;
    walk.shot("card-read")?;

    // 找服务 has no 搜索: the resident goes back to the start (首页 ends the
    // session; the demo reader lets go of the card) and puts the card down
    // again there, where 搜索 is.
    walk.card_removed.set(false);
    press::press(&ui, "首页")?;
    walk.pump_until("the card lifted", |w| {
        w.ui.global::<Kiosk>().get_resident().is_empty() && w.card_removed.get()
    })?;
    devices.place_card(0);
    walk.pump_until("the card again", |w| {
        !w.ui.global::<Kiosk>().get_resident().is_empty()
    })?;
    press::press(&ui, "知道了")?;
    // 居住证申领 by its initials: a 告知承诺 service, so the walkthrough
    // shows the commitment text the resident signs under.
    press::search(&ui, "jzz")?;
    walk.shot("search-jzz")?;
    let first = ui
        .global::<Kiosk>()
        .get_search_results()
        .iter()
        .find(|s| s.name == "居住证申领")
        .context("`jzz` did not find 居住证申领")?;
    press::press(&ui, &first.name)?;
    walk.shot("guide")?;
    press::press(&ui, "我要办理")?;
    walk.shot("form-prefilled")?;
    press::edit_field(&ui, "applicant.phone")?;
    press::type_keys(&ui, "13812345678")?;
    walk.shot("form-keypad")?;
    press::press(&ui, "完成")?;
    press::fill_required(&ui)?;
    press::press(&ui, "下一步")?;
    walk.shot("materials")?;
    press::provide_all_materials(&ui)?;
    press::press(&ui, "下一步")?;
    walk.shot("delivery")?;
    press::press(&ui, "下一步")?;
    walk.shot("review")?;
    press::press(&ui, "信息无误，去签名")?;
    if journey.get_commitment_needed() {
        press::press(&ui, "本人已阅读，承诺以上内容属实")?;
    }
    press::sign(&ui)?;
    walk.shot("signed")?;
    press::press(&ui, "提交申请")?;
    walk.pump_until("the receipt", |w| w.screen() == Screen::Receipt)?;
    walk.shot("receipt")?;
    let receipt = journey.get_receipt_no().to_string();
    walk.keep_printed_receipt(&config.store.data_dir.join("receipts"))?;
    walk.note_times(&config, &receipt)?;
    press::press(&ui, "评价本次服务")?;
    walk.shot("rating")?;
    let very_satisfied = bianmin_core::evaluation::Satisfaction::VerySatisfied;
    press::choose(
        &ui,
        &journey.get_levels(),
        &very_satisfied.score().to_string(),
    )?;
    walk.shot("rated")?;
    devices.scan(&receipt);
    walk.pump_until("the progress", |w| {
        w.screen() == Screen::Progress && w.ui.global::<Journey>().get_progress().row_count() > 0
    })?;
    walk.shot("progress")?;
    devices.lift_card();
    walk.pump_until("the end of the session", |w| w.screen() == Screen::Attract)?;
    walk.shot("session-ended")?;
    let written = std::mem::take(&mut walk.written);
    let broken = std::mem::take(&mut walk.broken);
    drop(walk);
    if !broken.is_empty() {
        anyhow::bail!(
            "words broken across two lines (the PNGs are in {}):\n{}",
            out.display(),
            broken.join("\n")
        );
    }
    Ok(written)
}
