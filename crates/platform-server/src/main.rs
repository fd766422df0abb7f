//! `bianmin-reference-platform`: the reference platform server (docs/platform-api.yaml)
//! as a stand-alone program, for a station without the real platform or a
//! developer's machine.
//!
//! ```text
//! bianmin-reference-platform --listen 127.0.0.1:8700 --terminals-file /etc/bianmin-platform/terminals \
//!     --db platform.sqlite3
//! ```
//!
//! Secrets never come from the command line (any local user can read a
//! process's arguments in `/proc/PID/cmdline` and `ps`): terminal secrets
//! come from `--terminals-file` (lines `ID=SECRET`, readable by its owner
//! only) or, for one secret shared by every terminal (a demo), from
//! `BIANMIN_PLATFORM_SECRET`; the admin token from `--admin-token-file` or
//! `BIANMIN_PLATFORM_ADMIN_TOKEN`; the private keys that open residents'
//! sealed personal fields from `--seal-keys-file` or
//! `BIANMIN_PLATFORM_SEAL_KEYS` (without either, the published demo keys,
//! with a warning). The variables are removed from the environment once
//! read. `--generate-seal-key FILE --suite intl|gm --kid KID` makes a new
//! key pair: the private key into FILE (0600), the public one printed for
//! the kiosks' `[platform] seal_public_key`.

use bianmin_platform_server::secrets::{parse_terminals, read_private, take_env};
use bianmin_platform_server::{self as server, ServerOptions, TlsOptions};
use clap::Parser;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "bianmin-reference-platform",
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
    /// Catalogue document served by GET /catalogue (default: the demo
    /// content package's catalogue).
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// PEM certificate chain for HTTPS (with --tls-key); plain HTTP without.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// File of terminals and their secrets, one `ID=SECRET` a line (`#`
    /// comments); must not be readable by group or others. Terminals not
    /// listed use BIANMIN_PLATFORM_SECRET when it is set.
    #[arg(long, value_name = "FILE")]
    terminals_file: Option<PathBuf>,
    /// Removed: secrets on the command line are readable by every local
    /// user. Kept only to say so instead of a bare "unknown argument".
    #[arg(long = "terminal", value_name = "ID=SECRET", hide = true)]
    terminals: Vec<String>,
    /// File holding the token `/admin/*` requires (`Authorization: Bearer
    /// TOKEN`) from any address; also BIANMIN_PLATFORM_ADMIN_TOKEN. Without
    /// a token `/admin/*` answers loopback clients only.
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Open connections at most; more are closed at once.
    #[arg(long, default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// File of the private keys that open what kiosks sealed to the
    /// platform (`KID=x25519:BASE64` / `KID=sm2:BASE64` lines, owner-only);
    /// also BIANMIN_PLATFORM_SEAL_KEYS.
    #[arg(long, value_name = "FILE")]
    seal_keys_file: Option<PathBuf>,
    /// Write a new sealing key pair's private key to FILE (0600) and print
    /// the public key for the kiosks, then exit.
    #[arg(long, value_name = "FILE")]
    generate_seal_key: Option<PathBuf>,
    /// Suite of the generated key: intl (X25519) or gm (SM2).
    #[arg(long, default_value = "intl", requires = "generate_seal_key")]
    suite: String,
    /// Id of the generated key (kiosks send it with every sealed record).
    #[arg(long, requires = "generate_seal_key")]
    kid: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bianmin-reference-platform: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if !args.terminals.is_empty() {
        anyhow::bail!(
            "--terminal ID=SECRET is no longer accepted (every local user can read a command line); put the lines in a file readable only by you and give --terminals-file FILE"
        );
    }
    if let Some(path) = &args.generate_seal_key {
        let suite = bianmin_platform::seal::Suite::parse(&args.suite)
            .with_context(|| format!("--suite {:?}: intl or gm", args.suite))?;
        let kid = args
            .kid
            .clone()
            .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m").to_string());
        let public = server::secrets::generate_seal_key(path, suite, &kid)?;
        println!(
            "# private key written to {} (keep it on the platform only)",
            path.display()
        );
        println!("# for the kiosks' configuration:");
        println!("[crypto]\nsuite = \"{}\"", suite.as_str());
        println!(
            "[platform]\nseal_public_key = \"{}\"\nseal_key_id = \"{kid}\"",
            public.to_text()
        );
        return Ok(());
    }
    bianmin_config::logging::init("info");
    let opening_keys = match server::secrets::seal_keys(args.seal_keys_file.as_deref())? {
        Some(keys) => keys,
        None => {
            eprintln!(
                "bianmin-reference-platform: no --seal-keys-file: opening sealed records with the published demo keys (never for residents' data)"
            );
            bianmin_platform::seal::OpeningKeys::demo()
        }
    };
    let catalogue = match &args.catalogue {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("catalogue {}", path.display()))?;
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .with_context(|| format!("catalogue {} is not JSON", path.display()))?;
            bytes
        }
        None => bianmin_core::catalogue::Catalogue::demo_json().into_bytes(),
    };
    let secrets = match &args.terminals_file {
        Some(path) => {
            parse_terminals(&read_private(path)?).with_context(|| format!("{}", path.display()))?
        }
        None => HashMap::new(),
    };
    let shared_secret = take_env("BIANMIN_PLATFORM_SECRET");
    if secrets.is_empty() && shared_secret.is_none() {
        anyhow::bail!(
            "no terminal secrets: give --terminals-file FILE (ID=SECRET lines) or set BIANMIN_PLATFORM_SECRET"
        );
    }
    let admin_token = match &args.admin_token_file {
        Some(path) => Some(read_private(path)?.trim().to_string()).filter(|t| !t.is_empty()),
        None => None,
    }
    .or_else(|| take_env("BIANMIN_PLATFORM_ADMIN_TOKEN"));
    if admin_token.is_none() && !args.listen.ip().is_loopback() {
        eprintln!(
            "bianmin-reference-platform: no admin token: /admin/* answers loopback clients only"
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
            admin_token,
            max_connections: args.max_connections,
            opening_keys: std::sync::Arc::new(opening_keys),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_on_the_command_line_are_refused() {
        let args = Args::try_parse_from(["bianmin-reference-platform", "--terminal", "T0001=abc"])
            .unwrap();
        let err = run(args).unwrap_err().to_string();
        assert!(err.contains("--terminals-file"), "{err}");
    }
}
