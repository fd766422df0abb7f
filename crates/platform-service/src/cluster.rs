//! A throwaway PostgreSQL cluster in a temporary directory, for `demo` and
//! the tests: `initdb` + `pg_ctl` from Debian's `postgresql` package, run as
//! the `postgres` user when we are root (PostgreSQL refuses to run as root).
//!
//! The cluster listens on a Unix socket inside its own directory only (no
//! TCP port to collide with or to be reached from elsewhere) and trusts
//! that socket: only its owner (and root) can enter the directory.
//!
//! A watchdog (`sh`, outside this process) stops the cluster and removes the
//! directory when this process ends in any way — a panic, SIGKILL — so no
//! test leaves a postmaster behind.

use anyhow::{bail, Context as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The socket "port": any number works, the socket lives in our directory.
const PORT: u16 = 5432;

pub struct TempCluster {
    root: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    watchdog: Option<Child>,
}

/// Where Debian keeps the server programs (`/usr/lib/postgresql/<v>/bin`),
/// the newest version first; `pg_config --bindir` elsewhere.
pub fn server_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    bin.join("initdb").exists().then_some(bin)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl TempCluster {
    /// Create and start a cluster (about 2 s). Fails with a sentence naming
    /// the package when PostgreSQL is not installed.
    pub fn start() -> anyhow::Result<TempCluster> {
        let bin = server_bin_dir().context(
            "PostgreSQL is not installed (apt-get install postgresql): initdb was not found",
        )?;
        let as_postgres = is_root();
        let root = tempfile::Builder::new()
            .prefix("bianmin-pg-")
            .tempdir()
            .context("temporary directory for the cluster")?
            .keep();
        let cluster = TempCluster {
            root,
            bin,
            as_postgres,
            watchdog: None,
        };
        cluster.init()?;
        let mut cluster = cluster;
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        cluster.start_server()?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory of the cluster's Unix socket: `host` for a client.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    /// A key=value connection string for database `db` as the superuser.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.root.display(),
            PORT
        )
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, mut c: Command, what: &str) -> anyhow::Result<()> {
        let out = c
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("{what}: could not start"))?;
        if !out.status.success() {
            bail!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn init(&self) -> anyhow::Result<()> {
        if self.as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&self.root)
                .status()
                .context("chown the cluster directory")?;
            if !status.success() {
                bail!("cannot give {} to the postgres user", self.root.display());
            }
        }
        let mut c = self.command("initdb");
        c.arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"])
            .arg("--no-sync");
        self.run(c, "initdb")
    }

    /// Start (or start again after [`TempCluster::stop`]) the postmaster and
    /// wait until it accepts connections.
    pub fn start_server(&self) -> anyhow::Result<()> {
        let mut c = self.command("pg_ctl");
        // fsync off: a throwaway cluster never outlives a machine crash; a
        // stopped or killed postmaster loses nothing committed (synchronous
        // commit stays on).
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -p {PORT} -c fsync=off -c max_connections=200",
            self.root.display()
        );
        c.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]);
        self.run(c, "pg_ctl start")
    }

    /// Stop the postmaster at once (`-m immediate`: like a crash, for tests
    /// of a database that goes away mid-request).
    pub fn stop(&self) -> anyhow::Result<()> {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"]);
        self.run(c, "pg_ctl stop")
    }

    fn spawn_watchdog(&self) -> anyhow::Result<Child> {
        let stop = if self.as_postgres {
            "runuser -u postgres -- \"$PGBIN/pg_ctl\" -D \"$PGROOT/data\" -m immediate stop"
        } else {
            "\"$PGBIN/pg_ctl\" -D \"$PGROOT/data\" -m immediate stop"
        };
        let script = format!(
            "while kill -0 \"$OWNER\" 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf \"$PGROOT\""
        );
        Command::new("sh")
            .args(["-c", &script])
            .env("OWNER", std::process::id().to_string())
            .env("PGBIN", &self.bin)
            .env("PGROOT", &self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cluster watchdog")
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One cluster for the whole test process, started on first use; each test
/// takes a database of its own from it ([`TempCluster::fresh_database`]).
/// The watchdog removes it when the process ends.
pub fn shared() -> &'static TempCluster {
    static SHARED: std::sync::OnceLock<TempCluster> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| TempCluster::start().expect("a throwaway PostgreSQL cluster"))
}

impl TempCluster {
    /// Create an empty database and return its connection string.
    pub async fn fresh_database(&self) -> anyhow::Result<String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (client, conn) =
            tokio_postgres::connect(&self.conninfo("postgres"), tokio_postgres::NoTls)
                .await
                .context("connecting to the throwaway cluster")?;
        let conn = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        drop(client);
        let _ = conn.await;
        Ok(self.conninfo(&name))
    }
}
