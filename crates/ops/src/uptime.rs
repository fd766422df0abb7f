//! How long the machine and the kiosk have been up, for the operations
//! screen and the heartbeat (a kiosk that restarts every hour is sick even
//! when each heartbeat looks healthy).

use bianmin_core::words::Words;
use std::time::{Duration, Instant};

/// Seconds since boot, from /proc/uptime; `None` where it is unreadable.
pub fn system_uptime() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    parse_proc_uptime(&text)
}

/// The first field of /proc/uptime ("12345.67 23456.78").
pub fn parse_proc_uptime(text: &str) -> Option<Duration> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The kiosk process's own clock, started once in `main`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessClock {
    started: Instant,
}

impl ProcessClock {
    pub fn start() -> ProcessClock {
        ProcessClock {
            started: Instant::now(),
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// "3 天 4 小时 5 分".
pub fn format_uptime(d: Duration) -> String {
    uptime_words(d).zh().to_string()
}

/// "3 天 4 小时 5 分" / "3 d 4 h 5 min" for the operations screen.
pub fn uptime_words(d: Duration) -> Words {
    let mins = d.as_secs() / 60;
    let (days, hours, mins) = (mins / 1440, (mins / 60) % 24, mins % 60);
    if days > 0 {
        Words::new(
            format!("{days} 天 {hours} 小时 {mins} 分"),
            format!("{days} d {hours} h {mins} min"),
        )
    } else if hours > 0 {
        Words::new(
            format!("{hours} 小时 {mins} 分"),
            format!("{hours} h {mins} min"),
        )
    } else {
        Words::new(format!("{mins} 分"), format!("{mins} min"))
    }
}
