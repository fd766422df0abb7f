//! `bianmin-platform`: the reference platform server (docs/platform-api.yaml)
//! as a stand-alone program, for a station without the real platform or a
//! developer's machine.
//!
//! ```text
//! BIANMIN_PLATFORM_SECRET=… bianmin-platform --listen 127.0.0.1:8700 \
//!     --catalogue config/catalogue/demo-catalogue.json --db platform.sqlite3
//! ```

use bianmin_platform_server::{self as server, ServerOptions, TlsOptions};
use clap::Parser;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "bianmin-platform",
    version,
    about = "Reference implementation of the platform API the kiosk talks to"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// SQLite file of received records (created if missing).
    #[arg(long, default_value = "bianmin-platform.sqlite3")]
    db: PathBuf,
    /// Catalogue document served by GET /catalogue.
    #[arg(long, default_value = "config/catalogue/demo-catalogue.json")]
    catalogue: PathBuf,
    /// PEM certificate chain for HTTPS (with --tls-key); plain HTTP without.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A terminal and its secret, `ID=SECRET`; repeatable. Terminals not
    /// listed use BIANMIN_PLATFORM_SECRET when it is set.
    #[arg(long = "terminal", value_name = "ID=SECRET")]
    terminals: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bianmin-platform: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    bianmin_config::logging::init("info");
    let catalogue = std::fs::read(&args.catalogue)
        .with_context(|| format!("catalogue {}", args.catalogue.display()))?;
    serde_json::from_slice::<serde_json::Value>(&catalogue)
        .with_context(|| format!("catalogue {} is not JSON", args.catalogue.display()))?;
    let mut secrets = HashMap::new();
    for t in &args.terminals {
        let (id, secret) = t
            .split_once('=')
            .with_context(|| format!("--terminal {t:?}: expected ID=SECRET"))?;
        secrets.insert(id.to_string(), secret.to_string());
    }
    let shared_secret = std::env::var("BIANMIN_PLATFORM_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    if secrets.is_empty() && shared_secret.is_none() {
        anyhow::bail!(
            "no terminal secrets: give --terminal ID=SECRET or set BIANMIN_PLATFORM_SECRET"
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(TlsOptions {
            cert_chain_pem: std::fs::read(c).with_context(|| c.display().to_string())?,
            key_pem: std::fs::read(k).with_context(|| k.display().to_string())?,
        }),
        _ => None,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let handle = server::spawn(ServerOptions {
            bind: args.listen,
            db_path: Some(args.db.clone()),
            catalogue,
            secrets,
            shared_secret,
            tls,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot serve on {}", args.listen))?;
        println!("platform API at {}", handle.base_url());
        println!(
            "faults: POST http://{}/admin/faults, stats: GET /admin/stats",
            handle.addr()
        );
        tokio::signal::ctrl_c().await?;
        handle.shutdown().await;
        Ok(())
    })
}
