//! The device manager: one task per configured device. Each task opens its
//! port, watches health, reconnects with exponential back-off after an
//! unplug or a silence, and publishes its status; a missing device never
//! holds up the others.
//!
//! Out of it come a `watch` channel of [`DevicesStatus`], an `mpsc` channel
//! of [`DeviceEvent`]s, and a [`PrinterHandle`] to print through.
//!
//! A serial device can be moved to another port or baud rate while the
//! kiosk runs ([`DeviceManager::reconfigure_printer`] and its siblings): its
//! task is stopped and started afresh on the same channels, so receivers and
//! printer handles held elsewhere keep working.

use crate::gpio::{GpioEvent, GpioOutputs, GpioPins, SimGpio};
use crate::idcard::{CardEvent, IdCardReader, PollConfig};
use crate::printer::{
    Document, EscPosPrinter, Layout, PrintError, Printed, PrinterState, PrinterStatus, Receipt,
};
use crate::scanner::{ScanEvent, Scanner, Suffix};
use bianmin_core::words::Words;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

/// Health of one device, as the kiosk shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceStatus {
    /// Not configured (disabled in the configuration).
    #[default]
    Disabled,
    /// Configured, not reachable yet (at start-up, before the first open).
    Starting,
    Ok,
    /// Works in part or needs attention soon. `reason` is plain words for
    /// screens, in both languages; `detail` is for the technician.
    Degraded {
        reason: Words,
        detail: String,
    },
    /// Not there (unplugged, wrong path, switched off); being retried.
    Absent {
        detail: String,
    },
}

impl DeviceStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, DeviceStatus::Ok)
    }

    pub fn label(&self) -> &'static str {
        match self {
            DeviceStatus::Disabled => "disabled",
            DeviceStatus::Starting => "starting",
            DeviceStatus::Ok => "ok",
            DeviceStatus::Degraded { .. } => "degraded",
            DeviceStatus::Absent { .. } => "absent",
        }
    }
}

/// Status of every device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevicesStatus {
    pub id_card: DeviceStatus,
    pub printer: DeviceStatus,
    pub scanner: DeviceStatus,
    pub gpio: DeviceStatus,
}

/// Everything the devices report, in one stream.
#[derive(Debug)]
pub enum DeviceEvent {
    Card(CardEvent),
    Scan(ScanEvent),
    Gpio(GpioEvent),
}

/// Exponential back-off between reconnection attempts.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max)
    }
}

#[derive(Debug, Clone)]
pub struct SerialSettings {
    pub port: String,
    pub baud: u32,
}

#[derive(Debug, Clone)]
pub struct PrinterSettings {
    pub port: String,
    pub baud: u32,
    pub layout: Layout,
    /// How often the idle printer's status is checked.
    pub health_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct ScannerSettings {
    pub port: String,
    pub baud: u32,
    pub suffix: Suffix,
    pub dedupe: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpioMode {
    Disabled,
    /// Simulated inputs, driven through [`DeviceManager::sim_gpio`].
    Simulated,
    /// rppal on a Raspberry Pi (needs the `rpi` feature; otherwise reported absent).
    Rpi(GpioPins),
}

/// Which devices to run, and how.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub id_card: Option<SerialSettings>,
    pub printer: Option<PrinterSettings>,
    pub scanner: Option<ScannerSettings>,
    pub gpio: GpioMode,
    pub poll: PollConfig,
    pub backoff: Backoff,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            id_card: None,
            printer: None,
            scanner: None,
            gpio: GpioMode::Disabled,
            poll: PollConfig::default(),
            backoff: Backoff::default(),
        }
    }
}

enum PrinterRequest {
    Print(Box<Receipt>, oneshot::Sender<Result<Printed, PrintError>>),
    Document(Box<Document>, oneshot::Sender<Result<Printed, PrintError>>),
    Status(oneshot::Sender<PrinterStatus>),
}

/// Prints through the manager's printer task. Cheap to clone.
#[derive(Clone)]
pub struct PrinterHandle {
    tx: Option<mpsc::Sender<PrinterRequest>>,
}

impl PrinterHandle {
    /// Print a receipt; `Ok` only when the printer's status after printing is clean.
    pub async fn print(&self, receipt: Receipt) -> Result<Printed, PrintError> {
        let Some(tx) = &self.tx else {
            return Err(PrintError::NotReady(PrinterState::Disconnected));
        };
        let (reply, rx) = oneshot::channel();
        if tx
            .send(PrinterRequest::Print(Box::new(receipt), reply))
            .await
            .is_err()
        {
            return Err(PrintError::NotReady(PrinterState::Disconnected));
        }
        rx.await
            .unwrap_or(Err(PrintError::NotReady(PrinterState::Disconnected)))
    }

    /// Print a plain-text document; `Ok` only when the printer's status after printing is clean.
    pub async fn print_document(&self, document: Document) -> Result<Printed, PrintError> {
        let Some(tx) = &self.tx else {
            return Err(PrintError::NotReady(PrinterState::Disconnected));
        };
        let (reply, rx) = oneshot::channel();
        if tx
            .send(PrinterRequest::Document(Box::new(document), reply))
            .await
            .is_err()
        {
            return Err(PrintError::NotReady(PrinterState::Disconnected));
        }
        rx.await
            .unwrap_or(Err(PrintError::NotReady(PrinterState::Disconnected)))
    }

    /// Ask the printer now.
    pub async fn status(&self) -> PrinterState {
        let Some(tx) = &self.tx else {
            return PrinterState::Disconnected;
        };
        let (reply, rx) = oneshot::channel();
        if tx.send(PrinterRequest::Status(reply)).await.is_err() {
            return PrinterState::Disconnected;
        }
        rx.await
            .map(|s| s.state)
            .unwrap_or(PrinterState::Disconnected)
    }
}

/// The running devices. Dropping it stops every task.
pub struct DeviceManager {
    pub status: watch::Receiver<DevicesStatus>,
    pub events: mpsc::Receiver<DeviceEvent>,
    pub printer: PrinterHandle,
    sim_gpio: Option<SimGpio>,
    /// The LED and buzzer; for rppal this also holds the input pins, whose
    /// interrupts live exactly as long as the manager.
    outputs: std::sync::Mutex<Option<Box<dyn GpioOutputs>>>,
    /// Notify this when the presence sensor fires (done internally too):
    /// the card poller returns to its fast pace.
    pub wake: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
    serial: std::sync::Mutex<SerialTasks>,
    shared: Shared,
}

/// What a restarted device task is given again.
#[derive(Clone)]
struct Shared {
    runtime: tokio::runtime::Handle,
    status: Arc<watch::Sender<DevicesStatus>>,
    events: mpsc::Sender<DeviceEvent>,
    wake: Arc<Notify>,
    poll: PollConfig,
    backoff: Backoff,
    /// The printer task's requests. Shared so that a restarted task serves
    /// the same queue: the senders in every `PrinterHandle` stay valid.
    printer_requests: Arc<tokio::sync::Mutex<mpsc::Receiver<PrinterRequest>>>,
}

/// The serial devices' tasks with the settings each runs on.
#[derive(Default)]
struct SerialTasks {
    id_card: Running<SerialSettings>,
    printer: Running<PrinterSettings>,
    scanner: Running<ScannerSettings>,
}

struct Running<S> {
    settings: Option<S>,
    task: Option<JoinHandle<()>>,
}

impl<S> Default for Running<S> {
    fn default() -> Self {
        Running {
            settings: None,
            task: None,
        }
    }
}

impl<S> Running<S> {
    /// Stop the running task and start `task` once it has really ended, so
    /// the old task neither holds the port nor overwrites the new status.
    fn replace<F>(&mut self, shared: &Shared, settings: Option<S>, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let old = self.task.take();
        if let Some(old) = &old {
            old.abort();
        }
        self.settings = settings;
        self.task = Some(shared.runtime.spawn(async move {
            if let Some(old) = old {
                let _ = old.await;
            }
            task.await
        }));
    }
}

impl Drop for DeviceManager {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let mut serial = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        for task in [
            serial.id_card.task.take(),
            serial.printer.task.take(),
            serial.scanner.task.take(),
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
        }
    }
}

impl DeviceManager {
    /// Start a task for every configured device (inside a tokio runtime).
    pub fn start(config: ManagerConfig) -> DeviceManager {
        let initial = DevicesStatus {
            id_card: status_if(config.id_card.is_some()),
            printer: status_if(config.printer.is_some()),
            scanner: status_if(config.scanner.is_some()),
            gpio: status_if(config.gpio != GpioMode::Disabled),
        };
        let (status_tx, status) = watch::channel(initial);
        let status_tx = Arc::new(status_tx);
        let (events_tx, events) = mpsc::channel(64);
        let wake = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        // A channel even without a printer, so that a printer enabled later
        // is reached through the handles already given out.
        let (printer_tx, printer_rx) = mpsc::channel(8);
        let shared = Shared {
            runtime: tokio::runtime::Handle::current(),
            status: status_tx.clone(),
            events: events_tx.clone(),
            wake: wake.clone(),
            poll: config.poll,
            backoff: config.backoff,
            printer_requests: Arc::new(tokio::sync::Mutex::new(printer_rx)),
        };
        let mut serial = SerialTasks::default();
        start_id_card(&mut serial, &shared, config.id_card.clone());
        start_printer(&mut serial, &shared, config.printer.clone());
        start_scanner(&mut serial, &shared, config.scanner.clone());
        let printer = PrinterHandle {
            tx: Some(printer_tx),
        };
        let (gpio_tx, mut gpio_rx) = mpsc::channel::<GpioEvent>(16);
        let mut sim_gpio = None;
        let outputs: Option<Box<dyn GpioOutputs>> = match config.gpio {
            GpioMode::Disabled => None,
            GpioMode::Simulated => {
                let sim = SimGpio::new(gpio_tx.clone());
                sim_gpio = Some(sim.clone());
                set(&status_tx, |s| s.gpio = DeviceStatus::Ok);
                Some(Box::new(sim))
            }
            GpioMode::Rpi(pins) => open_rpi(pins, gpio_tx.clone(), &status_tx),
        };
        {
            let (events_tx, wake) = (events_tx.clone(), wake.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(event) = gpio_rx.recv().await {
                    if matches!(event, GpioEvent::Presence { present: true, .. }) {
                        wake.notify_one();
                    }
                    if events_tx.send(DeviceEvent::Gpio(event)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        DeviceManager {
            status,
            events,
            printer,
            sim_gpio,
            outputs: std::sync::Mutex::new(outputs),
            wake,
            tasks,
            serial: std::sync::Mutex::new(serial),
            shared,
        }
    }

    /// Move the ID card reader to other settings (`None` switches it off),
    /// without a restart. Callable from any thread.
    pub fn reconfigure_id_card(&self, settings: Option<SerialSettings>) {
        start_id_card(&mut self.serial(), &self.shared, settings);
    }

    /// Move the printer to other settings (`None` switches it off). Every
    /// [`PrinterHandle`] keeps working; a print under way when this is
    /// called fails as if the printer had been unplugged.
    pub fn reconfigure_printer(&self, settings: Option<PrinterSettings>) {
        start_printer(&mut self.serial(), &self.shared, settings);
    }

    /// Move the scanner to other settings (`None` switches it off).
    pub fn reconfigure_scanner(&self, settings: Option<ScannerSettings>) {
        start_scanner(&mut self.serial(), &self.shared, settings);
    }

    /// The settings the reader runs on now.
    pub fn id_card_settings(&self) -> Option<SerialSettings> {
        self.serial().id_card.settings.clone()
    }

    /// The settings the printer runs on now.
    pub fn printer_settings(&self) -> Option<PrinterSettings> {
        self.serial().printer.settings.clone()
    }

    /// The settings the scanner runs on now.
    pub fn scanner_settings(&self) -> Option<ScannerSettings> {
        self.serial().scanner.settings.clone()
    }

    fn serial(&self) -> std::sync::MutexGuard<'_, SerialTasks> {
        self.serial.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The simulated GPIO (when configured) to press buttons in the demo.
    pub fn sim_gpio(&self) -> Option<SimGpio> {
        self.sim_gpio.clone()
    }

    /// Switch the status LED; a no-op without GPIO.
    pub fn set_led(&self, on: bool) {
        self.with_outputs(|o| o.set_led(on));
    }

    /// Switch the buzzer; a no-op without GPIO.
    pub fn set_buzzer(&self, on: bool) {
        self.with_outputs(|o| o.set_buzzer(on));
    }

    fn with_outputs(
        &self,
        f: impl FnOnce(&mut dyn GpioOutputs) -> Result<(), crate::gpio::GpioError>,
    ) {
        let mut guard = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(outputs) = guard.as_mut() {
            if let Err(e) = f(outputs.as_mut()) {
                tracing::warn!(%e, "GPIO output failed");
            }
        }
    }
}

fn start_id_card(serial: &mut SerialTasks, shared: &Shared, settings: Option<SerialSettings>) {
    let sh = shared.clone();
    let run = settings.clone();
    serial.id_card.replace(shared, settings, async move {
        set(&sh.status, |s| s.id_card = status_if(run.is_some()));
        if let Some(settings) = run {
            id_card_task(settings, sh.poll, sh.backoff, sh.status, sh.events, sh.wake).await;
        }
    });
}

fn start_printer(serial: &mut SerialTasks, shared: &Shared, settings: Option<PrinterSettings>) {
    let sh = shared.clone();
    let run = settings.clone();
    serial.printer.replace(shared, settings, async move {
        set(&sh.status, |s| s.printer = status_if(run.is_some()));
        let mut requests = sh.printer_requests.lock().await;
        match run {
            Some(settings) => printer_task(settings, sh.backoff, sh.status, &mut requests).await,
            None => refuse_prints(&mut requests).await,
        }
    });
}

fn start_scanner(serial: &mut SerialTasks, shared: &Shared, settings: Option<ScannerSettings>) {
    let sh = shared.clone();
    let run = settings.clone();
    serial.scanner.replace(shared, settings, async move {
        set(&sh.status, |s| s.scanner = status_if(run.is_some()));
        if let Some(settings) = run {
            scanner_task(settings, sh.backoff, sh.status, sh.events).await;
        }
    });
}

/// No printer configured: every request is answered at once.
async fn refuse_prints(requests: &mut mpsc::Receiver<PrinterRequest>) {
    while let Some(request) = requests.recv().await {
        refuse(request);
    }
}

fn refuse(request: PrinterRequest) {
    match request {
        PrinterRequest::Print(_, reply) | PrinterRequest::Document(_, reply) => {
            let _ = reply.send(Err(PrintError::NotReady(PrinterState::Disconnected)));
        }
        PrinterRequest::Status(reply) => {
            let _ = reply.send(PrinterStatus {
                state: PrinterState::Disconnected,
                raw: Default::default(),
                garbage: 0,
            });
        }
    }
}

fn status_if(configured: bool) -> DeviceStatus {
    if configured {
        DeviceStatus::Starting
    } else {
        DeviceStatus::Disabled
    }
}

fn set(tx: &watch::Sender<DevicesStatus>, f: impl FnOnce(&mut DevicesStatus)) {
    tx.send_if_modified(|s| {
        let before = s.clone();
        f(s);
        *s != before
    });
}

#[cfg(feature = "rpi")]
fn open_rpi(
    pins: GpioPins,
    tx: mpsc::Sender<GpioEvent>,
    status: &watch::Sender<DevicesStatus>,
) -> Option<Box<dyn GpioOutputs>> {
    match crate::gpio::RpiGpio::open(pins, tx) {
        Ok(gpio) => {
            set(status, |s| s.gpio = DeviceStatus::Ok);
            Some(Box::new(gpio))
        }
        Err(e) => {
            set(status, |s| {
                s.gpio = DeviceStatus::Absent {
                    detail: e.to_string(),
                }
            });
            None
        }
    }
}

#[cfg(not(feature = "rpi"))]
fn open_rpi(
    _pins: GpioPins,
    _tx: mpsc::Sender<GpioEvent>,
    status: &watch::Sender<DevicesStatus>,
) -> Option<Box<dyn GpioOutputs>> {
    set(status, |s| {
        s.gpio = DeviceStatus::Absent {
            detail: "this build has no Raspberry Pi GPIO support (feature `rpi`)".into(),
        }
    });
    None
}

async fn id_card_task(
    settings: SerialSettings,
    poll: PollConfig,
    backoff: Backoff,
    status: Arc<watch::Sender<DevicesStatus>>,
    events: mpsc::Sender<DeviceEvent>,
    wake: Arc<Notify>,
) {
    let mut delay = backoff.initial;
    loop {
        match IdCardReader::open(&settings.port, settings.baud) {
            Err(e) => set(&status, |s| {
                s.id_card = DeviceStatus::Absent {
                    detail: e.to_string(),
                }
            }),
            Ok(mut reader) => match reader.sam_status().await {
                Err(e) => set(&status, |s| {
                    s.id_card = DeviceStatus::Degraded {
                        reason: READER_SILENT,
                        detail: e.technician_detail(),
                    }
                }),
                Ok(()) => {
                    set(&status, |s| s.id_card = DeviceStatus::Ok);
                    delay = backoff.initial;
                    let (tx, mut rx) = mpsc::channel(4);
                    let forward = {
                        let events = events.clone();
                        tokio::spawn(async move {
                            while let Some(e) = rx.recv().await {
                                if events.send(DeviceEvent::Card(e)).await.is_err() {
                                    break;
                                }
                            }
                        })
                    };
                    let err = reader.poll_cards(poll, tx, Some(wake.clone())).await;
                    let _ = forward.await;
                    if events.is_closed() {
                        return;
                    }
                    tracing::warn!(detail = %err.technician_detail(), "ID card reader lost");
                    if err.is_disconnect() {
                        set(&status, |s| {
                            s.id_card = DeviceStatus::Absent {
                                detail: err.technician_detail(),
                            }
                        });
                    } else {
                        set(&status, |s| {
                            s.id_card = DeviceStatus::Degraded {
                                reason: READER_SILENT,
                                detail: err.technician_detail(),
                            }
                        });
                    }
                }
            },
        }
        tokio::time::sleep(delay).await;
        delay = backoff.next(delay);
    }
}

const READER_SILENT: Words = Words::fixed("读卡器没有响应", "The card reader does not answer");

fn printer_status(state: PrinterState) -> DeviceStatus {
    let degraded = |reason: Words| DeviceStatus::Degraded {
        reason,
        detail: state.technician_detail().into(),
    };
    match state {
        PrinterState::Ok => DeviceStatus::Ok,
        PrinterState::PaperNearEnd => {
            degraded(Words::fixed("打印纸快用完了", "Paper is running out"))
        }
        PrinterState::PaperEnd => degraded(Words::fixed("打印机缺纸", "Out of paper")),
        PrinterState::CoverOpen => degraded(Words::fixed("打印机盖没有关好", "The cover is open")),
        PrinterState::Offline => degraded(Words::fixed("打印机故障", "Printer fault")),
        PrinterState::Disconnected => DeviceStatus::Absent {
            detail: state.technician_detail().into(),
        },
    }
}

async fn printer_task(
    settings: PrinterSettings,
    backoff: Backoff,
    status: Arc<watch::Sender<DevicesStatus>>,
    requests: &mut mpsc::Receiver<PrinterRequest>,
) {
    let mut delay = backoff.initial;
    loop {
        let mut printer = match EscPosPrinter::open(&settings.port, settings.baud, settings.layout)
        {
            Ok(p) => p,
            Err(e) => {
                set(&status, |s| {
                    s.printer = DeviceStatus::Absent {
                        detail: e.to_string(),
                    }
                });
                // Keep answering requests while absent, so no caller waits for a back-off.
                let sleep = tokio::time::sleep(delay);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        req = requests.recv() => match req {
                            None => return,
                            Some(request) => refuse(request),
                        }
                    }
                }
                delay = backoff.next(delay);
                continue;
            }
        };
        delay = backoff.initial;
        let mut ticker = tokio::time::interval(settings.health_interval);
        loop {
            let state = tokio::select! {
                _ = ticker.tick() => printer.status().await.state,
                req = requests.recv() => match req {
                    None => return,
                    Some(PrinterRequest::Status(reply)) => {
                        let st = printer.status().await;
                        let _ = reply.send(st);
                        st.state
                    }
                    Some(PrinterRequest::Print(receipt, reply)) => {
                        let result = printer.print_receipt(&receipt).await;
                        let state = match &result {
                            Ok(p) => p.warning.unwrap_or(PrinterState::Ok),
                            Err(e) => e.state(),
                        };
                        let _ = reply.send(result);
                        state
                    }
                    Some(PrinterRequest::Document(document, reply)) => {
                        let result = printer.print_document(&document).await;
                        let state = match &result {
                            Ok(p) => p.warning.unwrap_or(PrinterState::Ok),
                            Err(e) => e.state(),
                        };
                        let _ = reply.send(result);
                        state
                    }
                }
            };
            set(&status, |s| s.printer = printer_status(state));
            if state == PrinterState::Disconnected {
                break;
            }
        }
        tokio::time::sleep(delay).await;
    }
}

async fn scanner_task(
    settings: ScannerSettings,
    backoff: Backoff,
    status: Arc<watch::Sender<DevicesStatus>>,
    events: mpsc::Sender<DeviceEvent>,
) {
    let mut delay = backoff.initial;
    loop {
        match Scanner::open(
            &settings.port,
            settings.baud,
            settings.suffix,
            settings.dedupe,
        ) {
            Err(e) => set(&status, |s| {
                s.scanner = DeviceStatus::Absent {
                    detail: e.to_string(),
                }
            }),
            Ok(mut scanner) => {
                // A serial scanner has no status query: an open port is "ok".
                set(&status, |s| s.scanner = DeviceStatus::Ok);
                delay = backoff.initial;
                loop {
                    match scanner.next_event().await {
                        Ok(event) => {
                            if events.send(DeviceEvent::Scan(event)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            set(&status, |s| {
                                s.scanner = DeviceStatus::Absent {
                                    detail: e.to_string(),
                                }
                            });
                            break;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = backoff.next(delay);
    }
}
