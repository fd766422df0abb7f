//! The heartbeat a terminal sends to the platform through the outbox, so a
//! province sees every terminal's state. Plain data: the sync layer signs and
//! sends it like any other record. It never contains personal data: counts,
//! states and sizes only.

use super::disk::{DiskLevel, DiskSpace, DiskThresholds};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Ok,
    /// Configured but not answering (unplugged, wrong port).
    Absent,
    /// Answering with an error (cover open, cutter jam, SAM fault).
    Error,
    /// Turned off in the configuration.
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperState {
    Ok,
    /// The near-end sensor tripped: a few metres left; send someone soon.
    NearEnd,
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    /// "id_card", "printer", "scanner", "gpio".
    pub device: String,
    pub state: DeviceState,
    /// Printers only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub paper: Option<PaperState>,
    /// A short technical reason ("cover open", "ENOENT"), never personal data.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl DeviceHealth {
    pub fn new(device: &str, state: DeviceState) -> DeviceHealth {
        DeviceHealth {
            device: device.into(),
            state,
            paper: None,
            detail: None,
        }
    }

    pub fn with_paper(mut self, paper: PaperState) -> DeviceHealth {
        self.paper = Some(paper);
        self
    }

    pub fn with_detail(mut self, detail: &str) -> DeviceHealth {
        self.detail = Some(detail.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskReport {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub level: DiskLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub terminal_id: String,
    pub station_code: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The kiosk's version (CARGO_PKG_VERSION).
    pub version: String,
    pub uptime_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub system_uptime_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disk: Option<DiskReport>,
    /// Records waiting in the outbox (this heartbeat not counted).
    pub queue_depth: u64,
    /// Age of the oldest record still waiting.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oldest_pending_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_sync_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub catalogue_version: Option<String>,
    pub devices: Vec<DeviceHealth>,
    /// Machine-readable problems for the province's dashboard, derived from
    /// the fields above: "disk_low", "disk_critical", "paper_near_end",
    /// "paper_out", "device_absent:printer", "device_error:id_card".
    pub warnings: Vec<String>,
    /// The admin audit log's head hash and length (sent so the platform
    /// holds a copy the terminal cannot rewrite).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub audit: Option<bianmin_store::AuditHead>,
}

impl Heartbeat {
    /// A heartbeat with identity and time; add the rest with the setters and
    /// finish with `finish`, which derives `warnings`.
    pub fn new(
        terminal_id: &str,
        station_code: &str,
        at: SystemTime,
        uptime: Duration,
    ) -> Heartbeat {
        Heartbeat {
            terminal_id: terminal_id.into(),
            station_code: station_code.into(),
            at: chrono::DateTime::<chrono::Utc>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_secs: uptime.as_secs(),
            system_uptime_secs: None,
            disk: None,
            queue_depth: 0,
            oldest_pending_secs: None,
            last_sync_at: None,
            catalogue_version: None,
            devices: Vec::new(),
            warnings: Vec::new(),
            audit: None,
        }
    }

    /// The audit log's chain as [`bianmin_admin::audit_log::AuditLog::verify`]
    /// found it; nothing when the log is empty.
    pub fn audit(mut self, report: &bianmin_admin::audit_log::ChainReport) -> Heartbeat {
        self.audit = report.head.as_ref().map(|head| bianmin_store::AuditHead {
            head: head.clone(),
            length: report.lines as u64,
            intact: report.is_intact(),
            recent: report.recent.clone(),
        });
        self
    }

    pub fn disk(mut self, space: DiskSpace, thresholds: &DiskThresholds) -> Heartbeat {
        self.disk = Some(DiskReport {
            free_bytes: space.free_bytes,
            total_bytes: space.total_bytes,
            level: thresholds.level(space),
        });
        self
    }

    pub fn queue(mut self, depth: u64, oldest_pending: Option<Duration>) -> Heartbeat {
        self.queue_depth = depth;
        self.oldest_pending_secs = oldest_pending.map(|d| d.as_secs());
        self
    }

    pub fn device(mut self, health: DeviceHealth) -> Heartbeat {
        self.devices.push(health);
        self
    }

    /// Derive `warnings` from the fields.
    pub fn finish(mut self) -> Heartbeat {
        let mut warnings = Vec::new();
        match self.disk.map(|d| d.level) {
            Some(DiskLevel::Low) => warnings.push("disk_low".to_string()),
            Some(DiskLevel::Critical) => warnings.push("disk_critical".to_string()),
            _ => {}
        }
        for d in &self.devices {
            match d.state {
                DeviceState::Absent => warnings.push(format!("device_absent:{}", d.device)),
                DeviceState::Error => warnings.push(format!("device_error:{}", d.device)),
                DeviceState::Ok | DeviceState::Disabled => {}
            }
            match d.paper {
                Some(PaperState::NearEnd) => warnings.push("paper_near_end".into()),
                Some(PaperState::Out) => warnings.push("paper_out".into()),
                _ => {}
            }
        }
        if self.audit.as_ref().is_some_and(|a| !a.intact) {
            warnings.push("audit_log_broken".into());
        }
        self.warnings = warnings;
        self
    }

    /// The outbox record (`store::NewHeartbeat`, sent as `HeartbeatWire`).
    /// The wire format has a status and a device → state map, so the richer
    /// fields are folded in: paper near-end/out replaces the printer's "ok",
    /// and the disk level appears as the pseudo-device "disk". Queue depth and
    /// free bytes are filled in by the store itself when it enqueues.
    pub fn to_outbox(&self) -> bianmin_store::NewHeartbeat {
        let mut devices = std::collections::BTreeMap::new();
        for d in &self.devices {
            let state = match (d.state, d.paper) {
                (DeviceState::Ok, Some(PaperState::NearEnd)) => "paper_near_end",
                (DeviceState::Ok, Some(PaperState::Out)) => "paper_out",
                (DeviceState::Ok, _) => "ok",
                (DeviceState::Absent, _) => "absent",
                (DeviceState::Error, _) => "error",
                (DeviceState::Disabled, _) => "disabled",
            };
            devices.insert(d.device.clone(), state.to_string());
        }
        if let Some(disk) = self.disk {
            let level = match disk.level {
                DiskLevel::Ok => "ok",
                DiskLevel::Low => "low",
                DiskLevel::Critical => "critical",
            };
            devices.insert("disk".into(), level.into());
        }
        bianmin_store::NewHeartbeat {
            status: if self.warnings.is_empty() {
                "ok".into()
            } else {
                "degraded".into()
            },
            devices,
            version: self.version.clone(),
            uptime_secs: self.uptime_secs,
            station_code: Some(self.station_code.clone()).filter(|c| !c.is_empty()),
            audit: self.audit.clone(),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and enums always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}
