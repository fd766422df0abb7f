//! Commands a county technician sends from the console: the kiosk asks the
//! platform for them every `platform.command_poll_secs` (each is handed out
//! once), carries each out and reports the result in words: sync now, a
//! device self-test, a test page on the receipt printer, the logs (masked
//! as the USB export is), a restart between residents. An unknown command
//! is answered as such, never left without an answer.

use bianmin_config::Config;
use bianmin_drivers::manager::{DeviceManager, DeviceStatus, PrinterHandle};
use bianmin_platform::api::{CommandResult, ConfigResult, RemoteCommand, RemoteConfig};
use bianmin_platform::client::PlatformClient;
use bianmin_store::Store;
use bianmin_ui::events::{Inbox, UiEvent};
use std::sync::Arc;
use std::time::Duration;

/// What the commands act on.
pub struct Remote {
    pub client: Arc<PlatformClient>,
    pub wake_sync: Arc<tokio::sync::Notify>,
    pub store: Option<Store>,
    pub devices: Option<Arc<DeviceManager>>,
    pub printer: Option<PrinterHandle>,
    pub config: Config,
    pub inbox: Inbox,
}

/// Poll for commands and configuration on the current runtime until it
/// shuts down.
pub fn spawn(remote: Remote) {
    let every = Duration::from_secs(u64::from(remote.config.platform.command_poll_secs.get()));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut config = RemoteConfigState {
            held: bianmin_config::remote_version(&remote.config.store.data_dir),
            refused: None,
            restarting: false,
        };
        loop {
            tick.tick().await;
            remote.check_config(&mut config).await;
            let commands = match remote.client.commands().await {
                Ok(c) => c,
                Err(err) => {
                    tracing::debug!(%err, "no commands fetched (offline?)");
                    continue;
                }
            };
            for command in commands {
                tracing::info!(id = %command.id, kind = %command.kind, "technician's command");
                let result = remote.carry_out(&command).await;
                remote.report(&command, &result).await;
            }
        }
    });
}

fn status_words(name: &str, status: &DeviceStatus) -> String {
    match status {
        DeviceStatus::Ok => format!("{name}：正常"),
        DeviceStatus::Disabled => format!("{name}：未启用"),
        DeviceStatus::Starting => format!("{name}：正在连接"),
        DeviceStatus::Degraded { reason, detail } => {
            format!("{name}：{}（{detail}）", reason.zh())
        }
        DeviceStatus::Absent { detail } => format!("{name}：未连接（{detail}）"),
    }
}

/// The remote configuration as the poller knows it.
struct RemoteConfigState {
    /// The version in `remote.toml` (asked with `If-None-Match`).
    held: Option<String>,
    /// A version refused once is not refused (and reported) again.
    refused: Option<String>,
    /// A version was accepted; the kiosk restarts between residents.
    restarting: bool,
}

/// Why a remote configuration cannot be used, for the technician.
fn verify(key: &str, doc: &RemoteConfig) -> Result<(), String> {
    use base64::Engine as _;
    let Some(encoded) = key.strip_prefix("ed25519:") else {
        return Err("本终端没有平台配置公钥（platform.config_key），不接受远程配置".into());
    };
    let public = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "platform.config_key 不是有效的公钥".to_string())?;
    let signature = (0..doc.signature.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(doc.signature.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "签名格式不对".to_string())?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(
            &RemoteConfig::signed_bytes(&doc.version, &doc.toml),
            &signature,
        )
        .map_err(|_| "签名与平台配置公钥不符，已拒收".to_string())
}

impl Remote {
    /// Fetch the configuration set for this kiosk; a new version is
    /// verified, checked as `bianmin config check` checks, kept as
    /// `remote.toml` and applied by a restart between residents.
    async fn check_config(&self, state: &mut RemoteConfigState) {
        if state.restarting {
            return;
        }
        let doc = match self.client.remote_config(state.held.as_deref()).await {
            Ok(Some(doc)) => doc,
            Ok(None) => return,
            Err(err) => {
                tracing::debug!(%err, "no configuration fetched");
                return;
            }
        };
        if state.refused.as_deref() == Some(doc.version.as_str()) {
            return;
        }
        let outcome = self.accept_config(&doc);
        let result = match &outcome {
            Ok(()) => ConfigResult {
                version: doc.version.clone(),
                ok: true,
                message: "已保存，在居民办完后重新启动生效".into(),
            },
            Err(why) => ConfigResult {
                version: doc.version.clone(),
                ok: false,
                message: why.clone(),
            },
        };
        match outcome {
            Ok(()) => {
                tracing::info!(version = %doc.version, "remote configuration accepted; restarting between residents");
                state.held = Some(doc.version.clone());
                state.restarting = true;
                self.inbox.post(UiEvent::RestartRequested);
            }
            Err(why) => {
                tracing::warn!(version = %doc.version, %why, "remote configuration refused");
                state.refused = Some(doc.version.clone());
            }
        }
        if let Err(err) = self.client.config_result(&result).await {
            tracing::warn!(%err, "configuration result not reported");
        }
    }

    fn accept_config(&self, doc: &RemoteConfig) -> Result<(), String> {
        verify(&self.config.platform.config_key, doc)?;
        let table: toml::Table =
            toml::from_str(&doc.toml).map_err(|e| format!("配置格式错误：{e}"))?;
        for key in bianmin_platform::api::REMOTE_CONFIG_FORBIDDEN {
            let (section, name) = key.split_once('.').unwrap_or((key, ""));
            if table
                .get(section)
                .and_then(|v| v.as_table())
                .is_some_and(|t| t.contains_key(name))
            {
                return Err(format!("{key} 不能远程设置"));
            }
        }
        let dir = &self.config.store.data_dir;
        let text = format!(
            "{}{}\n{}",
            bianmin_config::REMOTE_HEADER,
            doc.version,
            doc.toml
        );
        let staged = dir.join("remote.toml.new");
        bianmin_fs::write_atomic(&staged, text.as_bytes(), 0o644, None)
            .map_err(|e| format!("无法保存配置：{e}"))?;
        // The whole configuration it would make: every range and rule, and
        // nothing a production kiosk may not run with.
        let checked = self
            .config
            .overlay_file(&staged)
            .map_err(|e| format!("配置不合格：{e}"));
        let merged = match checked {
            Ok(m) => m,
            Err(why) => {
                let _ = std::fs::remove_file(&staged);
                return Err(why);
            }
        };
        let before: Vec<String> = self
            .config
            .deployment_problems()
            .iter()
            .map(|p| p.key.to_string())
            .collect();
        if let Some(p) = merged
            .deployment_problems()
            .into_iter()
            .find(|p| !before.contains(&p.key.to_string()))
        {
            let _ = std::fs::remove_file(&staged);
            return Err(format!("{}.{}：{}", p.section, p.key, p.message));
        }
        std::fs::rename(&staged, dir.join(bianmin_config::REMOTE_FILE))
            .map_err(|e| format!("无法保存配置：{e}"))
    }

    async fn carry_out(&self, command: &RemoteCommand) -> CommandResult {
        let done = |ok: bool, message: String| CommandResult { ok, message };
        match command.kind.as_str() {
            "sync_now" => {
                self.wake_sync.notify_one();
                let pending = self
                    .store
                    .as_ref()
                    .and_then(|s| s.stats().ok())
                    .map(|q| q.pending)
                    .unwrap_or(0);
                done(true, format!("已开始同步，待上报 {pending} 条"))
            }
            "self_test" => self.self_test().await,
            "print_test_page" => match &self.printer {
                None => done(false, "打印机未启用".into()),
                Some(printer) => {
                    let paper = bianmin_drivers::printer::Paper::from_mm(
                        self.config.devices.printer.paper_mm.0,
                    );
                    let receipt = bianmin_drivers::printer::receipt::test_receipt(paper);
                    match printer.print(receipt).await {
                        Ok(printed) => match printed.warning {
                            Some(w) => done(
                                true,
                                format!("测试页已打印；注意：{}", w.technician_detail()),
                            ),
                            None => done(true, "测试页已打印".into()),
                        },
                        Err(err) => done(false, format!("测试页没有打印：{err}")),
                    }
                }
            },
            "collect_logs" => self.collect_logs().await,
            "restart" => {
                self.inbox.post(UiEvent::RestartRequested);
                done(true, "将重新启动（若有居民正在办理，在其办完后）".into())
            }
            other => done(
                false,
                format!("本终端不认识这个指令（{other}），请升级终端程序"),
            ),
        }
    }

    async fn self_test(&self) -> CommandResult {
        let mut lines = Vec::new();
        let mut ok = true;
        match &self.devices {
            Some(devices) => {
                let status = devices.status.borrow().clone();
                for (name, s) in [
                    ("身份证读卡器", &status.id_card),
                    ("打印机", &status.printer),
                    ("扫码器", &status.scanner),
                    ("人体感应/指示灯", &status.gpio),
                ] {
                    ok &= matches!(s, DeviceStatus::Ok | DeviceStatus::Disabled);
                    lines.push(status_words(name, s));
                }
            }
            None => {
                ok = false;
                lines.push("设备服务没有运行".into());
            }
        }
        match self.store.clone() {
            Some(store) => {
                let checked = tokio::task::spawn_blocking(move || {
                    store.integrity_check().map(|()| store.stats())
                })
                .await;
                match checked {
                    Ok(Ok(Ok(q))) => lines.push(format!(
                        "待上报队列：完好，待上报 {} 条，暂存 {} 条",
                        q.pending, q.parked
                    )),
                    Ok(Ok(Err(e))) | Ok(Err(e)) => {
                        ok = false;
                        lines.push(format!("待上报队列：{e}"));
                    }
                    Err(e) => {
                        ok = false;
                        lines.push(format!("待上报队列：检查中断（{e}）"));
                    }
                }
            }
            None => {
                ok = false;
                lines.push("待上报队列：无法打开".into());
            }
        }
        if let Ok(space) = bianmin_fs::disk_space(&self.config.store.data_dir) {
            lines.push(format!(
                "磁盘：剩余 {:.1} GB / 共 {:.1} GB",
                space.free_bytes as f64 / 1e9,
                space.total_bytes as f64 / 1e9
            ));
        }
        CommandResult {
            ok,
            message: lines.join("；"),
        }
    }

    /// The journal and status, masked as the USB export is; sent as the
    /// result (bounded by the platform), nothing left on the kiosk.
    async fn collect_logs(&self) -> CommandResult {
        let terminal = self.config.station.terminal_id.as_str().to_string();
        let status = self.self_test().await.message;
        let dir = self.config.store.data_dir.join("remote-logs");
        let outcome = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let path = bianmin_ops::export::export_logs(
                &dir,
                &bianmin_ops::export::LogExport {
                    terminal_id: &terminal,
                    status: &status,
                    audit_files: &[],
                    journal_lines: 2000,
                },
            )?;
            let text = std::fs::read_to_string(&path);
            let _ = std::fs::remove_file(&path);
            text
        })
        .await;
        match outcome {
            Ok(Ok(text)) => CommandResult {
                ok: true,
                message: text,
            },
            Ok(Err(e)) => CommandResult {
                ok: false,
                message: format!("日志没有收集到：{e}"),
            },
            Err(e) => CommandResult {
                ok: false,
                message: format!("日志收集中断：{e}"),
            },
        }
    }

    /// Report a result, retried a few times (the link may drop just then);
    /// a result that cannot be reported shows as "已送达" in the console.
    async fn report(&self, command: &RemoteCommand, result: &CommandResult) {
        for attempt in 0..5u32 {
            match self.client.command_result(&command.id, result).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(id = %command.id, %err, attempt, "command result not reported");
                    tokio::time::sleep(Duration::from_secs(2u64 << attempt)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use ring::signature::KeyPair as _;

    fn key() -> (ring::signature::Ed25519KeyPair, String) {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let public = format!(
            "ed25519:{}",
            base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref())
        );
        (pair, public)
    }

    fn signed(pair: &ring::signature::Ed25519KeyPair, version: &str, toml: &str) -> RemoteConfig {
        let sig = pair.sign(&RemoteConfig::signed_bytes(version, toml));
        RemoteConfig {
            version: version.into(),
            toml: toml.into(),
            signature: sig.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    #[test]
    fn only_the_platforms_key_over_this_very_text_and_version_is_accepted() {
        let (pair, public) = key();
        let doc = signed(&pair, "c3", "[session]\nidle_timeout_secs = 90\n");
        assert!(verify(&public, &doc).is_ok());
        let (_, stranger) = key();
        assert!(verify(&stranger, &doc).unwrap_err().contains("不符"));
        let tampered = RemoteConfig {
            toml: "[session]\nidle_timeout_secs = 31\n".into(),
            ..doc.clone()
        };
        assert!(verify(&public, &tampered).is_err());
        let replayed = RemoteConfig {
            version: "c4".into(),
            ..doc.clone()
        };
        assert!(verify(&public, &replayed).is_err());
        assert!(verify("", &doc).unwrap_err().contains("config_key"));
    }
}
