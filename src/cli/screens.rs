//! `bianmin screens` and `bianmin audit-ui`: every screen rendered headless
//! to PNGs, and measured against the elder-friendly rules.

use super::{AuditArgs, LangArg, ScreensArgs, ThemeArg};
use bianmin_config::{Config, Language};
use bianmin_ui::headless;
use std::process::ExitCode;

/// `bianmin screens`.
pub fn render_screens(config: &Config, args: &ScreensArgs) -> anyhow::Result<()> {
    let themes = ThemeArg::selection(args.theme);
    let language = match args.lang {
        LangArg::Zh => Language::Zh,
        LangArg::En => Language::En,
    };
    let written = headless::render_all(config, &args.out, &themes, args.size, language)?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(())
}

/// `bianmin audit-ui`: one line per screen, the problems under it; fails if any.
pub fn audit_ui(config: &Config, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let px_per_mm = config.ui.px_per_mm.get() as f32;
    println!(
        "panel: {}×{} px at {px_per_mm} px/mm (set ui.px_per_mm); 60 dp = {:.0} px",
        args.size.0,
        args.size.1,
        60.0 * bianmin_ui::audit::MM_PER_DP * px_per_mm
    );
    let audits =
        bianmin_ui::audit::audit_all(&ThemeArg::selection(args.theme), args.size, px_per_mm)?;
    let mut failed = 0;
    for audit in &audits {
        let theme = if audit.large { "large" } else { "normal" };
        let status = if audit.problems.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!(
            "{status} {:<16} {theme:<6} {} targets ({} choices), {} texts, smallest text {:.0} px high",
            audit.screen,
            audit.targets.len(),
            audit.choices(),
            audit.texts.len(),
            audit.smallest_text_height()
        );
        for problem in &audit.problems {
            println!("       - {problem}");
        }
        if args.verbose {
            for target in &audit.targets {
                println!(
                    "       target {:?} {:.0}×{:.0}",
                    target.label, target.width, target.height
                );
            }
            for text in &audit.texts {
                let contrast = text
                    .contrast
                    .map(|c| format!("{c:.1}:1"))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "       text {:?} h={:.0} contrast {contrast}",
                    text.label, text.height
                );
            }
        }
        failed += usize::from(!audit.problems.is_empty());
    }
    if failed == 0 {
        println!("all {} screens pass", audits.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} screens fail", audits.len());
        Ok(ExitCode::FAILURE)
    }
}
