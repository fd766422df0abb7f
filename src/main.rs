use bianmin::cli::{self, Cli, Command, ConfigCommand};
use bianmin_config::{Config, REFERENCE_CONFIG};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bianmin: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Content tools work on files alone, never on a kiosk's configuration.
    if let Command::Content(command) = &cli.command {
        return cli::content::run(command);
    }
    // `config check` must judge the file it is given, never fall back.
    if let Command::Config(command) = &cli.command {
        return Ok(match command {
            ConfigCommand::Check { file } => match Config::from_file(file) {
                Ok(config) => {
                    let problems = config.deployment_problems();
                    if problems.is_empty() {
                        println!("{}: ok", file.display());
                        ExitCode::SUCCESS
                    } else {
                        let text = std::fs::read_to_string(file).unwrap_or_default();
                        for problem in problems {
                            eprintln!("{}", problem.located(&file.display().to_string(), &text));
                        }
                        ExitCode::FAILURE
                    }
                }
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            },
            ConfigCommand::SetAdminPin => {
                // The data directory comes from the configuration (and
                // BIANMIN_DATA_DIR), as for the kiosk itself.
                let config = match Config::load(cli.config.as_deref()) {
                    Ok(config) => config,
                    Err(err) => {
                        eprintln!("{err}");
                        return Ok(ExitCode::FAILURE);
                    }
                };
                let mut pin = zeroize::Zeroizing::new(String::new());
                let provisioned = std::io::stdin()
                    .read_line(&mut pin)
                    .map_err(|e| bianmin_admin::AdminError::Storage {
                        detail: format!("cannot read the PIN from standard input: {e}"),
                    })
                    .and_then(|_| {
                        bianmin_admin::AdminGate::provision(&config.store.data_dir, pin.trim())
                    });
                match provisioned {
                    Ok(_) => {
                        println!(
                            "管理员 PIN 已设置 (admin PIN set): {}",
                            config
                                .store
                                .data_dir
                                .join(bianmin_admin::pin::PIN_FILE)
                                .display()
                        );
                        ExitCode::SUCCESS
                    }
                    Err(err) => {
                        eprintln!("bianmin: {err}");
                        ExitCode::FAILURE
                    }
                }
            }
            ConfigCommand::Defaults => {
                print!("{REFERENCE_CONFIG}");
                ExitCode::SUCCESS
            }
            ConfigCommand::HashPin => {
                let mut pin = zeroize::Zeroizing::new(String::new());
                match std::io::stdin()
                    .read_line(&mut pin)
                    .map_err(|e| bianmin_admin::AdminError::Storage {
                        detail: format!("cannot read the PIN from standard input: {e}"),
                    })
                    .and_then(|_| bianmin_admin::staff::hash(pin.trim()))
                {
                    Ok(hash) => {
                        println!("{hash}");
                        ExitCode::SUCCESS
                    }
                    Err(err) => {
                        eprintln!("bianmin: {err}");
                        ExitCode::FAILURE
                    }
                }
            }
        });
    }

    // Everything else runs on a configuration; a broken one is reported but
    // `run` still lights the screen with the out-of-service page.
    let loaded = Config::load(cli.config.as_deref());
    let log_filter = loaded
        .as_ref()
        .map(|c| c.logging.filter.clone())
        .unwrap_or_else(|_| "info".into());
    bianmin_config::logging::init(&log_filter);
    // One clock for people: the screen, receipts and progress all use the
    // station's zone, whatever the system's is.
    if let Ok(config) = &loaded {
        bianmin_core::time::set_station_zone(config.station.time_zone.zone());
    }

    match cli.command {
        Command::Run => {
            // A save interrupted by a power cut leaves a temp file beside the config.
            let path = cli
                .config
                .clone()
                .unwrap_or_else(|| bianmin_config::SYSTEM_CONFIG_PATH.into());
            let _ = bianmin_admin::ConfigStore::new(path).clean_stale_temps();
            Ok(bianmin::app::run_kiosk(loaded))
        }
        Command::Demo(args) => {
            let config = loaded.unwrap_or_else(|err| {
                tracing::warn!(%err, "configuration unusable; demo runs on built-in defaults");
                Config::default()
            });
            if args.startup_probe {
                return bianmin::app::startup_probe(config);
            }
            Ok(bianmin::app::run_demo(config, args.large))
        }
        Command::Screens(args) => {
            let config = loaded.unwrap_or_default();
            bianmin::cli::screens::render_screens(&config, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Walkthrough(args) => {
            let paths =
                bianmin::walkthrough::run(loaded.unwrap_or_default(), &args.out, args.large)?;
            for path in paths {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::AuditUi(args) => {
            bianmin::cli::screens::audit_ui(&loaded.unwrap_or_default(), &args)
        }
        Command::Config(_) => unreachable!("handled above"),
        Command::Device(command) => cli::device::run(command, &loaded?),
        Command::Queue(command) => cli::queue::run(command, &loaded?),
        Command::Sync(args) => cli::queue::sync(args, &loaded?),
        Command::Doctor => Ok(cli::doctor::run(&loaded?)),
        Command::Enroll {
            code,
            url,
            replaces,
        } => Ok(enroll(&loaded?, &code, url, replaces)),
        Command::Content(_) => unreachable!("handled above"),
    }
}

/// `bianmin enroll`: the technician's way without a scanner.
fn enroll(config: &Config, code: &str, url: Option<String>, replaces: Option<String>) -> ExitCode {
    use bianmin_ops::enroll;
    let Some(mut code) = enroll::parse_code(code) else {
        eprintln!("注册码应为 12 位字母和数字 (an enrollment code has 12 letters and digits)");
        return ExitCode::FAILURE;
    };
    if url.is_some() {
        code.platform_url = url;
    }
    if enroll::has_identity(config) {
        eprintln!(
            "本终端已注册为 {}；如要重新注册，请先删除数据目录中的 {} 和 {} (already enrolled)",
            config.station.terminal_id.as_str(),
            bianmin_config::ENROLLED_FILE,
            enroll::KEY_FILE
        );
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("bianmin: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(enroll::enroll(config, &code, replaces.as_deref())) {
        Ok(done) => {
            println!(
                "注册成功：终端 {}，站点 {}。请重新启动终端（systemctl restart bianmin）。\n(enrolled as {}; written to {})",
                done.terminal_id,
                done.station_name,
                done.terminal_id,
                done.file.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}", err.words().zh());
            ExitCode::FAILURE
        }
    }
}
