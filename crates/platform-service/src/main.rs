//! `bianmin-platform`: the convenience-centre platform over PostgreSQL.
//!
//! ```text
//! bianmin-platform demo                      # throwaway cluster, demo data, loopback
//! bianmin-platform serve --database 'host=/run/postgresql dbname=bianmin' \
//!     --data-key-file /etc/bianmin-platform/data.key --terminals-file /etc/bianmin-platform/terminals
//! bianmin-platform migrate --database …
//! bianmin-platform new-apt-key --gnupg-home /etc/bianmin-platform/apt-gnupg
//! bianmin-platform release add bianmin_0.90.2_arm64.deb --database … \
//!     --apt-dir /var/lib/bianmin-platform/apt --apt-gnupg-home /etc/bianmin-platform/apt-gnupg
//! ```
//!
//! Secrets never come from the command line: the database URL may carry a
//! password, so it is also read from `BIANMIN_PLATFORM_DATABASE`; the data
//! key from `--data-key-file` (mode 600) or `BIANMIN_PLATFORM_DATA_KEY`;
//! terminal secrets as for the reference server.

use anyhow::Context as _;
use bianmin_core::package::TrustedKey;
use bianmin_platform_server::secrets::{parse_terminals, read_private, take_env};
use bianmin_platform_server::{Doc, ServerOptions, TlsOptions};
use bianmin_platform_service::console;
use bianmin_platform_service::console::auth::{upsert_staff, Role};
use bianmin_platform_service::fleet::{EnrollOptions, FleetOptions};
use bianmin_platform_service::updates::{self, KeyAlgorithm};
use bianmin_platform_service::{
    cluster, db, publish_if_missing, seed_demo_staff, DataKey, ServiceOptions,
};
use clap::{Parser, Subcommand};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The demo's shared terminal secret: public, like the demo kiosk's, and
/// refused by `serve`.
pub const DEMO_SECRET: &str = "bianmin-demo-secret";

#[derive(Debug, Parser)]
#[command(
    name = "bianmin-platform",
    version,
    about = "The convenience-centre platform: the kiosk API over PostgreSQL"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once at start: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Start a throwaway PostgreSQL cluster, seed demo data and serve on loopback.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
    },
    /// Serve the kiosk API from a PostgreSQL database.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// Connection string (libpq key=value or postgresql:// URL); also
        /// BIANMIN_PLATFORM_DATABASE, which keeps a password off the command line.
        #[arg(long)]
        database: Option<String>,
        /// 64 hex digits (AES-256-GCM), or `sm4:` and 32 hex digits (SM4-GCM,
        /// the 国密 suite); readable by the owner only; also BIANMIN_PLATFORM_DATA_KEY.
        /// Several lines while a key is replaced: the first seals, all open
        /// (then `rekey`, then drop the old lines).
        #[arg(long, value_name = "FILE")]
        data_key_file: Option<PathBuf>,
        /// `ID=SECRET` lines, readable by the owner only.
        #[arg(long, value_name = "FILE")]
        terminals_file: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Database connections of this instance.
        #[arg(long, default_value_t = 16)]
        pool_size: usize,
        /// Published as the catalogue when the database has none yet.
        #[arg(long)]
        catalogue: Option<PathBuf>,
        /// The content publisher's public key (`ed25519:BASE64`, as in the
        /// kiosks' `[content] public_key`): the console publishes only
        /// packages signed with it.
        #[arg(long)]
        publisher_key: String,
        /// The publisher key's id (`[content] key_id`).
        #[arg(long, default_value = "")]
        publisher_key_id: String,
        /// The publisher's secret key file (`ed25519:BASE64` or
        /// `sm2:BASE64`, mode 600): with it the console signs the packages
        /// authors build from their sources; without it they download the
        /// built package, sign it offline (`bianmin content sign`) and paste
        /// it. Its public half must be --publisher-key.
        #[arg(long, value_name = "FILE")]
        publisher_signing_key_file: Option<PathBuf>,
        /// Serve POST /admin/faults (test rigs only): refused unless the
        /// service listens on loopback.
        #[arg(long)]
        allow_fault_injection: bool,
        /// The private keys that open residents' personal fields sealed by
        /// the kiosks (`KID=x25519:BASE64` / `KID=sm2:BASE64` lines, mode
        /// 600); also BIANMIN_PLATFORM_SEAL_KEYS. Make one with
        /// `bianmin-reference-platform --generate-seal-key FILE`.
        #[arg(long, value_name = "FILE")]
        seal_keys_file: Option<PathBuf>,
        /// The kiosk API's URL as kiosks reach it (printed in enrollment
        /// QR codes, told to enrolling kiosks); default: the Host they used.
        #[arg(long)]
        public_url: Option<String>,
        /// PEM of the CA that signed this service's certificate, pinned by
        /// every kiosk that enrolls.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// The key remote configurations are signed with (`new-config-key`);
        /// every instance the same. Without it a fresh key is made, and
        /// kiosks enrolled now refuse configurations after a restart.
        #[arg(long, value_name = "FILE")]
        config_key_file: Option<PathBuf>,
        /// The signed APT repository kiosks update from, served at
        /// `{kiosk API URL}/apt` (a directory every instance shares).
        /// Without it the platform distributes no software.
        #[arg(long, value_name = "DIR", requires = "apt_gnupg_home")]
        apt_dir: Option<PathBuf>,
        /// The GnuPG home holding the repository's one signing key
        /// (`new-apt-key`).
        #[arg(long, value_name = "DIR", requires = "apt_dir")]
        apt_gnupg_home: Option<PathBuf>,
    },
    /// Make the APT repository's signing key (no passphrase, no expiry) in
    /// a new GnuPG home, and export its public half there as
    /// archive-key.gpg (for the kiosks' `signed-by=`) and archive-key.asc.
    NewAptKey {
        #[arg(long, value_name = "DIR")]
        gnupg_home: PathBuf,
        /// ed25519 or rsa3072.
        #[arg(long, default_value = "ed25519")]
        algorithm: String,
    },
    /// Software releases in the APT repository.
    Release {
        #[command(subcommand)]
        action: ReleaseAction,
    },
    /// Add a member of staff (or reset one's password and role); the
    /// password is read from BIANMIN_PLATFORM_STAFF_PASSWORD or standard input.
    AddStaff {
        #[arg(long)]
        database: Option<String>,
        #[arg(long)]
        username: String,
        /// The name shown in the console and the audit trail.
        #[arg(long)]
        name: String,
        /// clerk (受理), author (content), supervisor (好差评) or technician
        /// (stations, kiosks, alerts).
        #[arg(long)]
        role: String,
    },
    /// Make the key remote configurations are signed with (Ed25519,
    /// PKCS#8, mode 0600); give it to every instance with
    /// `serve --config-key-file`.
    NewConfigKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write PNGs of the console's main pages (a throwaway cluster with
    /// demo data, headless Chromium at 1366×768).
    Screenshots {
        #[arg(long)]
        out: PathBuf,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[arg(long)]
        database: Option<String>,
    },
    /// Seal every record kept under an older data key again under the
    /// current one (the first line of the key file); afterwards the older
    /// lines can be removed. Safe beside serving instances.
    Rekey {
        #[arg(long)]
        database: Option<String>,
        #[arg(long, value_name = "FILE")]
        data_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseAction {
    /// Publish a .deb of the package bianmin to the canary channel (a
    /// technician promotes it to stable in the console).
    Add {
        file: PathBuf,
        #[arg(long)]
        database: Option<String>,
        #[arg(long, value_name = "DIR")]
        apt_dir: PathBuf,
        #[arg(long, value_name = "DIR")]
        apt_gnupg_home: PathBuf,
    },
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

fn database(flag: Option<String>) -> anyhow::Result<String> {
    flag.or_else(|| take_env("BIANMIN_PLATFORM_DATABASE")).context(
        "no database: give --database or set BIANMIN_PLATFORM_DATABASE (e.g. 'host=/run/postgresql dbname=bianmin')",
    )
}

fn run(args: Args) -> anyhow::Result<()> {
    bianmin_config::logging::init("info");
    match args.command {
        Command::Demo { listen } => demo(listen),
        Command::NewConfigKey { out } => {
            let rng = ring::rand::SystemRandom::new();
            let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|e| anyhow::anyhow!("key generation: {e}"))?;
            if out.exists() {
                anyhow::bail!("{} exists; it is not replaced", out.display());
            }
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)?
                .write_all(doc.as_ref())?;
            let key = bianmin_platform_service::fleet::ConfigKey::from_pkcs8(doc.as_ref())?;
            println!("{}: kiosks verify with {}", out.display(), key.public());
            Ok(())
        }
        Command::Screenshots { out } => {
            std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
            let cluster = cluster::TempCluster::start()?;
            let rt = tokio::runtime::Runtime::new()?;
            let written = rt.block_on(bianmin_platform_service::screenshots::write_all(
                &cluster, &out,
            ))?;
            for path in written {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::AddStaff {
            database: flag,
            username,
            name,
            role,
        } => {
            let conninfo = database(flag)?;
            let role =
                Role::parse(&role).context("--role is clerk, author, supervisor or technician")?;
            let password = match take_env("BIANMIN_PLATFORM_STAFF_PASSWORD") {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let pool = db::pool(&conninfo, 1)?;
                db::migrate(&pool).await?;
                upsert_staff(&pool, &username, &name, role, &password).await?;
                println!("{username} ({}) can sign in", role.title());
                Ok(())
            })
        }
        Command::NewAptKey {
            gnupg_home,
            algorithm,
        } => {
            let algorithm =
                KeyAlgorithm::parse(&algorithm).context("--algorithm is ed25519 or rsa3072")?;
            let rt = tokio::runtime::Runtime::new()?;
            let fingerprint = rt.block_on(updates::new_key(&gnupg_home, algorithm))?;
            println!(
                "signing key {fingerprint} in {home}; kiosks pin {home}/archive-key.gpg",
                home = gnupg_home.display()
            );
            Ok(())
        }
        Command::Release {
            action:
                ReleaseAction::Add {
                    file,
                    database: flag,
                    apt_dir,
                    apt_gnupg_home,
                },
        } => {
            let conninfo = database(flag)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let pool = db::pool(&conninfo, 2)?;
                db::migrate(&pool).await?;
                let repo = updates::AptRepo::open(&apt_dir, &apt_gnupg_home).await?;
                let now = chrono::Utc::now().timestamp();
                match updates::add_release(&pool, &repo, &file, "cli", now).await? {
                    Ok(updates::Added::Release(info)) => {
                        println!(
                            "{} {} ({}) is in canary",
                            info.package, info.version, info.architecture
                        )
                    }
                    Ok(updates::Added::Architecture(info)) => println!(
                        "{} {} ({}) added to the channels that hold {}",
                        info.package, info.version, info.architecture, info.version
                    ),
                    Ok(updates::Added::AlreadyThere(info)) => println!(
                        "{} {} ({}) was already published; nothing changed",
                        info.package, info.version, info.architecture
                    ),
                    Err(why) => anyhow::bail!("{why}"),
                }
                Ok(())
            })
        }
        Command::Rekey {
            database: flag,
            data_key_file,
        } => {
            let conninfo = database(flag)?;
            let data_key = Arc::new(DataKey::from_hex(&data_key_text(
                data_key_file.as_deref(),
            )?)?);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let pool = db::pool(&conninfo, 2)?;
                db::migrate(&pool).await?;
                let backend =
                    bianmin_platform_service::PgBackend::new(pool, data_key.clone(), &conninfo);
                let n = backend.rekey(500).await?;
                println!(
                    "{n} records sealed again under {} or given their look-up hash; older keys can now leave the key file",
                    data_key.id()
                );
                Ok(())
            })
        }
        Command::Migrate { database: flag } => {
            let conninfo = database(flag)?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let pool = db::pool(&conninfo, 1)?;
                let applied = db::migrate(&pool).await?;
                println!("migrations applied: {applied:?}");
                Ok(())
            })
        }
        Command::Serve {
            listen,
            database: flag,
            data_key_file,
            terminals_file,
            admin_token_file,
            tls_cert,
            tls_key,
            pool_size,
            catalogue,
            publisher_key,
            publisher_key_id,
            publisher_signing_key_file,
            allow_fault_injection,
            seal_keys_file,
            public_url,
            ca_file,
            config_key_file,
            apt_dir,
            apt_gnupg_home,
        } => {
            if allow_fault_injection && !listen.ip().is_loopback() {
                anyhow::bail!(
                    "--allow-fault-injection is for test rigs: it is refused on {listen} (not loopback)"
                );
            }
            let publisher = TrustedKey::parse(&publisher_key, &publisher_key_id)
                .map_err(|e| anyhow::anyhow!("--publisher-key: {e}"))?;
            let content_signer = match &publisher_signing_key_file {
                Some(path) => {
                    let key_id = if publisher_key_id.is_empty() {
                        bianmin_core::package::DEMO_KEY_ID
                    } else {
                        &publisher_key_id
                    };
                    let signer = console::ContentSigner::new(key_id, &read_private(path)?)
                        .map_err(|e| anyhow::anyhow!("--publisher-signing-key-file: {e}"))?;
                    if signer.public_key() != publisher_key.trim() {
                        anyhow::bail!("--publisher-signing-key-file is not the secret half of --publisher-key: the console would publish packages no kiosk trusts");
                    }
                    Some(signer)
                }
                None => None,
            };
            let conninfo = database(flag)?;
            let data_key = Arc::new(DataKey::from_hex(&data_key_text(
                data_key_file.as_deref(),
            )?)?);
            let opening_keys = bianmin_platform_server::secrets::seal_keys(seal_keys_file.as_deref())?
                .context("no sealing keys: give --seal-keys-file FILE (KID=x25519:… or KID=sm2:… lines, mode 600) or set BIANMIN_PLATFORM_SEAL_KEYS")?;
            if opening_keys.has_demo_key() {
                anyhow::bail!("the published demo sealing key is refused outside `demo`");
            }
            let secrets = match &terminals_file {
                Some(path) => parse_terminals(&read_private(path)?)
                    .with_context(|| path.display().to_string())?,
                None => HashMap::new(),
            };
            let shared_secret = take_env("BIANMIN_PLATFORM_SECRET");
            if shared_secret.as_deref() == Some(DEMO_SECRET) {
                anyhow::bail!("the demo's public secret is refused outside `demo`");
            }
            if secrets.is_empty() && shared_secret.is_none() {
                eprintln!(
                    "no terminal secrets (--terminals-file or BIANMIN_PLATFORM_SECRET): only enrolled kiosks, signing with their own keys, can sync"
                );
            }
            let config_key = match &config_key_file {
                Some(path) => {
                    let der = std::fs::read(path).with_context(|| path.display().to_string())?;
                    bianmin_platform_service::fleet::ConfigKey::from_pkcs8(&der)
                        .with_context(|| path.display().to_string())?
                }
                None => {
                    eprintln!("no --config-key-file: remote configurations are signed with a key made now, which kiosks enrolled now will not know after a restart");
                    bianmin_platform_service::fleet::ConfigKey::generate()
                }
            };
            let ca_pem = match &ca_file {
                Some(path) => Some(
                    std::fs::read_to_string(path).with_context(|| path.display().to_string())?,
                ),
                None => None,
            };
            let admin_token = match &admin_token_file {
                Some(path) => {
                    Some(read_private(path)?.trim().to_string()).filter(|t| !t.is_empty())
                }
                None => None,
            }
            .or_else(|| take_env("BIANMIN_PLATFORM_ADMIN_TOKEN"));
            let tls = match (&tls_cert, &tls_key) {
                (Some(c), Some(k)) => Some(TlsOptions {
                    cert_chain_pem: std::fs::read(c).with_context(|| c.display().to_string())?,
                    key_pem: std::fs::read(k).with_context(|| k.display().to_string())?,
                }),
                _ => None,
            };
            let seed = match &catalogue {
                Some(p) => Some(std::fs::read(p).with_context(|| p.display().to_string())?),
                None => None,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let apt = match (&apt_dir, &apt_gnupg_home) {
                    (Some(dir), Some(home)) => {
                        Some(Arc::new(updates::AptRepo::open(dir, home).await?))
                    }
                    _ => None,
                };
                let service = bianmin_platform_service::spawn(ServiceOptions {
                    fleet: FleetOptions {
                        enroll: EnrollOptions {
                            public_url,
                            ca_pem,
                            content_public_key: publisher_key.clone(),
                            config_public_key: None,
                        },
                        config_key: Arc::new(config_key),
                        apt,
                        ..FleetOptions::default()
                    },
                    conninfo,
                    data_key,
                    pool_size,
                    publishers: vec![publisher],
                    content_signer,
                    server: ServerOptions {
                        bind: listen,
                        secrets,
                        shared_secret,
                        tls,
                        admin_token,
                        fault_injection: allow_fault_injection,
                        opening_keys: Arc::new(opening_keys),
                        ..ServerOptions::default()
                    },
                })
                .await?;
                if let Some(body) = seed {
                    publish_if_missing(&service.backend, Doc::Catalogue, body).await?;
                }
                println!("platform API at {}", service.handle.base_url());
                tokio::signal::ctrl_c().await?;
                service.handle.shutdown().await;
                Ok(())
            })
        }
    }
}

/// The data key file's text (owner-only), or BIANMIN_PLATFORM_DATA_KEY.
fn data_key_text(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    match file {
        Some(path) => read_private(path),
        None => take_env("BIANMIN_PLATFORM_DATA_KEY").context(
            "no data key: give --data-key-file FILE (64 hex digits, or sm4: and 32 hex digits; mode 600) or set BIANMIN_PLATFORM_DATA_KEY",
        ),
    }
}

fn demo(listen: SocketAddr) -> anyhow::Result<()> {
    println!("starting a throwaway PostgreSQL cluster…");
    let cluster = cluster::TempCluster::start()?;
    // The demo's own signing key and an empty repository, thrown away
    // with the cluster.
    let apt_temp = tempfile::tempdir()?;
    let apt_home = apt_temp.path().join("gnupg");
    let apt_dir = apt_temp.path().join("apt");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        updates::new_key(&apt_home, KeyAlgorithm::Ed25519).await?;
        let apt = Arc::new(updates::AptRepo::open(&apt_dir, &apt_home).await?);
        let conninfo = cluster.fresh_database().await?;
        let service = bianmin_platform_service::spawn(ServiceOptions {
            fleet: FleetOptions {
                enroll: EnrollOptions {
                    content_public_key: bianmin_core::package::DEMO_PUBLIC_KEY.into(),
                    ..EnrollOptions::default()
                },
                apt: Some(apt),
                ..FleetOptions::default()
            },
            conninfo,
            data_key: Arc::new(DataKey::generate()),
            pool_size: 8,
            publishers: vec![TrustedKey::demo()],
            content_signer: Some(console::ContentSigner::demo()),
            server: ServerOptions {
                bind: listen,
                shared_secret: Some(DEMO_SECRET.into()),
                ..ServerOptions::default()
            },
        })
        .await?;
        publish_if_missing(
            &service.backend,
            Doc::Catalogue,
            bianmin_core::catalogue::Catalogue::demo_json().into_bytes(),
        )
        .await?;
        publish_if_missing(
            &service.backend,
            Doc::ContentPackage,
            bianmin_core::package::DEMO_PACKAGE_JSON.as_bytes().to_vec(),
        )
        .await?;
        seed_demo_staff(&service.backend).await?;
        bianmin_platform_service::seed_demo_station(&service.backend).await?;
        let handle = service.handle;
        println!("platform API at {}", handle.base_url());
        println!("console: http://{}/console/login", handle.addr());
        for (username, _, role, password) in bianmin_platform_service::DEMO_STAFF {
            println!("  {}: {username} / {password}", role.title());
        }
        println!(
            "database: {} (removed on exit)",
            cluster.socket_dir().display()
        );
        println!("terminal secret (demo, public): {DEMO_SECRET}");
        println!(
            "APT repository: {}/apt (key {}; `release add --apt-dir {} --apt-gnupg-home {}`)",
            handle.base_url(),
            apt_home.join("archive-key.gpg").display(),
            apt_dir.display(),
            apt_home.display()
        );
        tokio::signal::ctrl_c().await?;
        handle.shutdown().await;
        updates::stop_agent(&apt_home);
        drop(cluster);
        drop(apt_temp);
        Ok(())
    })
}
