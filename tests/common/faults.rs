//! Real Redis and PostgreSQL servers of a test's own, which the test stops, kills and freezes
//! (the shared ones of the test command serve every other test and must not be touched).

use std::path::PathBuf;
use std::time::Duration;

use super::{Proc, TempDir, free_port, wait_until};

/// Sends `signal` (`STOP`, `CONT`, `KILL`, `INT`) to a process.
pub fn signal(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status();
    assert!(ok.is_ok_and(|s| s.success()), "kill -{signal} {pid}");
}

/// A Redis server on a port of its own; not started until [`OwnRedis::start`].
pub struct OwnRedis {
    pub port: u16,
    pub url: String,
    dir: TempDir,
    proc: Option<Proc>,
}

impl OwnRedis {
    /// A port for Redis, with nothing listening on it yet.
    pub fn reserved() -> Self {
        let port = free_port();
        OwnRedis { port, url: format!("redis://127.0.0.1:{port}/"), dir: TempDir::new(), proc: None }
    }

    pub async fn started() -> Self {
        let mut r = Self::reserved();
        r.start().await;
        r
    }

    /// Starts (or starts again) an empty Redis on the port and waits until it answers.
    pub async fn start(&mut self) {
        let port = self.port.to_string();
        let args = ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        self.proc = Some(Proc::spawn_program("redis-server", &format!("redis-{port}"), &args, &[], self.dir.path()));
        let url = self.url.clone();
        wait_until("redis to answer", Duration::from_secs(20), || {
            let url = url.clone();
            async move {
                let Ok(client) = redis::Client::open(url) else { return false };
                client.get_multiplexed_async_connection().await.is_ok()
            }
        })
        .await;
    }

    fn pid(&self) -> u32 {
        self.proc.as_ref().expect("redis running").pid()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// SIGSTOP: the port still accepts connections, nothing answers.
    pub fn freeze(&self) {
        signal(self.pid(), "STOP");
    }

    pub fn thaw(&self) {
        signal(self.pid(), "CONT");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(p) = &self.proc {
            signal(p.pid(), "CONT");
        }
    }
}

/// A PostgreSQL server of the test's own (initdb in a temporary directory), which can be
/// stopped and started again on the same port.
pub struct OwnPostgres {
    pub port: u16,
    dir: TempDir,
    bin: PathBuf,
    proc: Option<Proc>,
}

/// The directory with `initdb` and `postgres`: `DTR_TEST_PGBIN` (the test command sets it), or
/// Debian's newest.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("DTR_TEST_PGBIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL's initdb (DTR_TEST_PGBIN, or Debian's postgresql package)")
}

/// PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
fn postgres_user() -> Option<(u32, u32)> {
    let root = std::process::Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
    let mut f = line.split(':').skip(2);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

fn as_postgres(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = postgres_user() {
        cmd.uid(uid).gid(gid);
    }
}

impl OwnPostgres {
    pub async fn started() -> Self {
        let dir = TempDir::new();
        if let Some((uid, gid)) = postgres_user() {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the data directory");
        }
        let bin = pg_bin();
        let mut initdb = std::process::Command::new(bin.join("initdb"));
        initdb.args(["-D", dir.path().join("pg").to_str().unwrap(), "-A", "trust", "-U", "postgres"]);
        as_postgres(&mut initdb);
        let out = initdb.output().expect("initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let mut pg = OwnPostgres { port: free_port(), dir, bin, proc: None };
        pg.start().await;
        pg
    }

    /// The admin URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub async fn start(&mut self) {
        let log = self.dir.path().join(format!("postgres-{}.log", self.port));
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let mut cmd = std::process::Command::new(self.bin.join("postgres"));
        let port = self.port.to_string();
        let data = self.dir.path().join("pg");
        let sockets = self.dir.path().to_str().unwrap().to_owned();
        cmd.args(["-D", data.to_str().unwrap(), "-p", &port, "-k", &sockets])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=100"])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        as_postgres(&mut cmd);
        let child = cmd.spawn().expect("postgres");
        self.proc = Some(Proc::adopt("postgres", child, log));
        let url = self.url();
        wait_until("postgres to accept connections", Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                use sqlx::Connection;
                sqlx::PgConnection::connect(&url).await.is_ok()
            }
        })
        .await;
    }

    /// A fast shutdown (SIGINT): connections are cut, the server exits.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            signal(p.pid(), "INT");
            p.wait();
        }
    }

    /// A fresh database on this server; its URL.
    pub async fn fresh_db(&self) -> String {
        use sqlx::Connection;
        let name = format!("dtr_fault_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&self.url()).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}
