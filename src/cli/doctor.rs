//! `bianmin doctor`: one table of what is fine and what is not.

use super::check::Check;
use bianmin_config::Config;
use std::process::ExitCode;

pub fn run(config: &Config) -> ExitCode {
    let mut checks = vec![Check {
        name: "config".into(),
        ok: true,
        critical: true,
        detail: format!(
            "station {} / terminal {}",
            config.station.name,
            config.station.terminal_id.as_str()
        ),
    }];
    checks.push(voice_check(config));
    checks.extend(super::device::doctor_checks(config));
    checks.extend(super::queue::doctor_checks(config));
    print_table(&checks);
    if checks.iter().any(|c| c.critical && !c.ok) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_table(checks: &[Check]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in checks {
        let mark = match (check.ok, check.critical) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "warn",
        };
        println!("{mark}  {:width$}  {}", check.name, check.detail);
    }
}

/// Voice guidance is wanted but not critical: a silent kiosk still serves.
fn voice_check(config: &Config) -> Check {
    let problem = if !config.voice.enabled {
        Some("disabled in the configuration".to_string())
    } else if !bianmin_ui::voice::espeak_available() {
        Some("espeak-ng is not installed: the kiosk runs silently".to_string())
    } else {
        bianmin_ui::voice::sound_device_problem().map(|p| format!("{p}: the kiosk runs silently"))
    };
    Check {
        name: "voice".into(),
        ok: problem.is_none(),
        critical: false,
        detail: problem.unwrap_or_else(|| "espeak-ng and a sound card are present".into()),
    }
}
