//! `dtr bench lookup`: the SOAP lookup `GetDaginstitutionByNummer` against what bounds it,
//! measured side by side in one run (docs/quality.md, docs/bench/lookup.md):
//!
//! 1. through the gateway: HTTPS, Basic Auth, SOAP, gRPC to the export service, the register;
//! 2. the same lookup as a direct gRPC call to the export service (mutual TLS, admin token);
//! 3. a node `soap` server answering the same operation from memory over HTTPS + Basic Auth
//!    (`bench/soap_peer.js`, started here; npm's `soap` is installed on first use);
//! 4. the gateway's `/healthz` over the same TLS stack (a fixed answer).
//!
//! The serving processes run on CPU 0 and the load generator (`wrk`, and this process for the
//! gRPC row) on CPU 1, with the same number of keep-alive connections; rounds of every row are
//! interleaved and the medians reported, with p50/p99 latency. Then 1,000 keep-alive
//! connections are held open to the gateway and to the peer, and the memory they cost is read
//! from `/proc`. Both run modes: `dtr up --demo` on SQLite, and each service its own process on
//! PostgreSQL and Redis (`--postgres-url`, `--redis-url`).
//!
//! Use a release build: `cargo run --release -p dtr -- bench lookup`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dtr_proto::export::NummerRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bench_trust::median;

/// The peer's script, written next to its npm modules at run time.
const SOAP_PEER: &str = include_str!("bench/soap_peer.js");
/// The npm package the peer is built on, at a fixed version.
const SOAP_PACKAGE: &str = "soap@1.13.0";
/// The unit every row looks up (a demo daginstitution).
const NUMMER: &str = "G30000";
/// The CPU the serving processes run on; the load generator runs on the other.
const SERVER_CPU: &str = "0";
const LOAD_CPU: &str = "1";

#[derive(clap::Args)]
pub struct LookupArgs {
    /// Seconds per round of one row.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Rounds per row (interleaved); medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Keep-alive connections held open to measure what they cost in memory.
    #[arg(long, default_value_t = 1000)]
    held: usize,
    /// PostgreSQL server (an admin URL; the bench creates and drops a database of its own) for
    /// the distributed mode; without it only the embedded mode is measured.
    #[arg(long, env = "DTR_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Redis for the distributed mode.
    #[arg(long, env = "DTR_BENCH_REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// Which run modes to measure.
    #[arg(long, value_delimiter = ',', default_value = "embedded,distributed")]
    modes: Vec<String>,
    /// Starts the first mode's system, prints how to reach it and waits for Ctrl-C, for a
    /// profiler or a load generator by hand; measures nothing.
    #[arg(long)]
    serve_only: bool,
    /// Where npm's `soap` is installed for the peer.
    #[arg(long, default_value = "target/bench-npm")]
    npm_dir: PathBuf,
    /// Where the report goes (Markdown).
    #[arg(long, default_value = "docs/bench/lookup.md")]
    out: PathBuf,
}

/// One row's measurement: requests per second and latency quantiles in milliseconds.
#[derive(Clone, Copy, Default)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Row {
    Gateway,
    Grpc,
    Peer,
    Healthz,
}

const ROWS: [Row; 4] = [Row::Gateway, Row::Grpc, Row::Peer, Row::Healthz];

impl Row {
    fn label(self) -> &'static str {
        match self {
            Row::Gateway => {
                "SOAP `GetDaginstitutionByNummer` through the gateway (HTTPS, Basic Auth, SOAP, gRPC, the register)"
            }
            Row::Grpc => "the same lookup as a direct gRPC call to the export service (mutual TLS)",
            Row::Peer => "a node `soap` server answering the same operation from memory over HTTPS + Basic Auth",
            Row::Healthz => "the gateway's own `/healthz` over the same TLS stack (fixed answer)",
        }
    }
}

/// What a mode's run found.
struct ModeResult {
    name: &'static str,
    setup: String,
    rounds: Vec<[Sample; 4]>,
    /// (what, idle RSS KiB, RSS with the connections held KiB)
    held: Vec<(&'static str, u64, u64)>,
    held_count: usize,
}

impl ModeResult {
    fn median(&self, row: usize) -> Sample {
        let mut rps: Vec<f64> = self.rounds.iter().map(|r| r[row].rps).collect();
        let mut p50: Vec<f64> = self.rounds.iter().map(|r| r[row].p50_ms).collect();
        let mut p99: Vec<f64> = self.rounds.iter().map(|r| r[row].p99_ms).collect();
        Sample { rps: median(&mut rps), p50_ms: median(&mut p50), p99_ms: median(&mut p99) }
    }
}

/// A running system under test: its processes (stopped when dropped) and how to reach it.
struct System {
    procs: Vec<Child>,
    /// The process whose memory the held connections cost (the gateway, or `dtr up`).
    gateway_pid: u32,
    base: String,
    export_grpc: String,
    pki: PathBuf,
    tls_dir: PathBuf,
    user: String,
    password: String,
    /// Run when dropped, after the processes stop (drops the bench's database).
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for System {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
        if let Some(c) = self.cleanup.take() {
            c();
        }
    }
}

pub async fn run(a: LookupArgs) -> anyhow::Result<()> {
    for (tool, package) in [("taskset", "util-linux"), ("wrk", "wrk"), ("node", "nodejs"), ("npm", "npm")] {
        if Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
            bail!("`{tool}` is needed (Debian package {package})");
        }
    }
    if std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) < 2 {
        bail!("the benchmark pins the server and the load generator to two different CPUs; this machine has one");
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // This process generates the gRPC load: on the load generator's CPU, all its threads.
    pin(std::process::id(), LOAD_CPU, true)?;
    let soap_module = install_soap(&a.npm_dir)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work = std::env::temp_dir().join(format!("dtr-bench-lookup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    if a.serve_only {
        let s = match (a.modes.first().map(String::as_str), &a.postgres_url) {
            (Some("distributed"), Some(pg)) => start_distributed(&work.join("distributed"), pg, &a.redis_url).await?,
            _ => start_embedded(&work.join("embedded"))?,
        };
        std::fs::write(work.join("lookup.lua"), wrk_script(&s.user, &s.password))?;
        println!("gateway {} (pid {}), export gRPC {}", s.base, s.gateway_pid, s.export_grpc);
        println!(
            "load: taskset -c {LOAD_CPU} wrk -t1 -c{} -d10s --latency -s {} {}{}",
            a.connections,
            work.join("lookup.lua").display(),
            s.base,
            dtr_gateway::EXPORT_PATH
        );
        // Stopped by Ctrl-C or a plain `kill`: either way the system goes down with it.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        return Ok(());
    }
    let mut results = Vec::new();
    if a.modes.iter().any(|m| m == "embedded") {
        let embedded = start_embedded(&work.join("embedded"))?;
        let setup = "`dtr up --demo` on SQLite, one process";
        results.push(measure("embedded", setup, &embedded, &a, &soap_module, &work).await?);
    }
    match &a.postgres_url {
        _ if !a.modes.iter().any(|m| m == "distributed") => {}
        Some(pg) => {
            let distributed = start_distributed(&work.join("distributed"), pg, &a.redis_url).await?;
            let setup = "each service its own process (`dtr import`, `export`, `tilslutning`, `gateway`) on PostgreSQL and Redis";
            results.push(measure("distributed", setup, &distributed, &a, &soap_module, &work).await?);
        }
        None => println!("distributed mode skipped: give --postgres-url (or DTR_BENCH_POSTGRES_URL)"),
    }
    let _ = std::fs::remove_dir_all(&work);
    let report = report(&results, &a, cpus);
    crate::bench::write_report(&a.out, &report)
}

/// `taskset`: `pid` (and with `all`, every thread of it) on `cpu`.
fn pin(pid: u32, cpu: &str, all: bool) -> anyhow::Result<()> {
    let mut c = Command::new("taskset");
    if all {
        c.arg("-a");
    }
    let ok = c.args(["-cp", cpu, &pid.to_string()]).stdout(Stdio::null()).status()?.success();
    if !ok {
        bail!("taskset could not pin process {pid} to CPU {cpu}");
    }
    Ok(())
}

/// npm's `soap` under `dir`, installed if missing; the path `require` takes.
fn install_soap(dir: &Path) -> anyhow::Result<PathBuf> {
    let module = dir.join("node_modules/soap");
    if !module.join("package.json").exists() {
        println!("installing {SOAP_PACKAGE} into {} for the comparison peer…", dir.display());
        std::fs::create_dir_all(dir)?;
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .arg(SOAP_PACKAGE)
            .status()
            .context("npm")?
            .success();
        if !ok {
            bail!("npm install {SOAP_PACKAGE} failed");
        }
    }
    Ok(std::fs::canonicalize(module)?)
}

/// The `dtr` binary on the server's CPU.
fn dtr_on_server_cpu() -> anyhow::Result<Command> {
    let mut c = Command::new("taskset");
    c.args(["-c", SERVER_CPU]).arg(std::env::current_exe()?);
    Ok(c)
}

fn start_embedded(dir: &Path) -> anyhow::Result<System> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = dtr_on_server_cpu()?;
    cmd.args(["up", "--demo", "--data-dir"]).arg(dir).args(["--https-addr", "127.0.0.1:0"]);
    let server = crate::bench::start_command(cmd)?;
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json"))?)?;
    let mut server = server;
    let child = std::mem::replace(&mut server.child, Command::new("true").spawn()?);
    Ok(System {
        gateway_pid: child.id(),
        procs: vec![child],
        base: server.base.clone(),
        export_grpc: server.export_grpc.clone(),
        pki: dir.join("pki"),
        tls_dir: dir.join("tls"),
        user: creds["username"].as_str().unwrap_or_default().to_owned(),
        password: creds["password"].as_str().unwrap_or_default().to_owned(),
        cleanup: None,
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Each service its own `dtr` process on the server's CPU, on a fresh database of the bench's
/// own on `pg` and on Redis.
async fn start_distributed(dir: &Path, pg: &str, redis: &str) -> anyhow::Result<System> {
    std::fs::create_dir_all(dir)?;
    let name = format!("dtr_bench_lookup_{}", std::process::id());
    let admin = sqlx::PgPool::connect(pg).await.context("the PostgreSQL server")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
    let mut db_url = reqwest::Url::parse(pg).context("--postgres-url")?;
    db_url.set_path(&name);
    let db = db_url.to_string();
    let cleanup_admin = pg.to_owned();
    let cleanup: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(p) = sqlx::PgPool::connect(&cleanup_admin).await {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                .execute(&p)
                                .await;
                    }
                });
            }
        })
        .join();
    });

    crate::grpc::migrate_all(&db).await?;
    let pki = dir.join("pki");
    let ok = Command::new(std::env::current_exe()?).args(["pki", "init", "--pki-dir"]).arg(&pki).status()?.success();
    if !ok {
        bail!("dtr pki init failed");
    }
    let logins = crate::demo::ensure(&db, dir).await.context("demo systems and register")?;
    let (import, export, tilslutning, https) = (free_port()?, free_port()?, free_port()?, free_port()?);
    // Each process's warnings go to a log of its own, kept after the run.
    let logs = std::path::absolute("target/bench-lookup-logs")?;
    std::fs::create_dir_all(&logs)?;
    let common = |cmd: &mut Command, name: &str| -> anyhow::Result<()> {
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        cmd.env("DTR_DATABASE_URL", &db)
            .env("DTR_REDIS_URL", redis)
            .env("DTR_PKI_DIR", &pki)
            .env("DTR_METRICS_ADDR", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        Ok(())
    };
    let mut procs = Vec::new();
    for (service, port) in [("import", import), ("export", export), ("tilslutning", tilslutning)] {
        let mut cmd = dtr_on_server_cpu()?;
        cmd.arg(service).env("DTR_GRPC_ADDR", format!("127.0.0.1:{port}"));
        cmd.env("DTR_EXPORT_URL", format!("https://127.0.0.1:{export}"));
        common(&mut cmd, service)?;
        procs.push(cmd.spawn().with_context(|| format!("starting dtr {service}"))?);
    }
    let mut cmd = dtr_on_server_cpu()?;
    cmd.arg("gateway")
        .env("DTR_HTTPS_ADDR", format!("127.0.0.1:{https}"))
        .env("DTR_IMPORT_URL", format!("https://127.0.0.1:{import}"))
        .env("DTR_EXPORT_URL", format!("https://127.0.0.1:{export}"))
        .env("DTR_TILSLUTNING_URL", format!("https://127.0.0.1:{tilslutning}"))
        .env("DTR_DATA_DIR", dir.join("gw"));
    common(&mut cmd, "gateway")?;
    let gateway = cmd.spawn().context("starting dtr gateway")?;
    let gateway_pid = gateway.id();
    procs.push(gateway);
    let system = System {
        procs,
        gateway_pid,
        base: format!("https://127.0.0.1:{https}"),
        export_grpc: format!("https://127.0.0.1:{export}"),
        pki: pki.clone(),
        tls_dir: dir.join("gw/tls"),
        user: logins.system.username.clone(),
        password: logins.system.password.clone(),
        cleanup: Some(cleanup),
    };
    let exe = std::env::current_exe()?;
    let checks = [
        ("import", system_url(import)),
        ("export", system_url(export)),
        ("tilslutning", system_url(tilslutning)),
        ("gateway", system.base.clone()),
    ];
    for (what, url) in checks {
        let started = Instant::now();
        loop {
            let mut c = Command::new(&exe);
            c.args(["healthcheck", what, "--addr", &url]);
            if what != "gateway" {
                c.arg("--pki-dir").arg(&pki);
            }
            if c.output().is_ok_and(|o| o.status.success()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("dtr {what} did not become healthy");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(system)
}

fn system_url(port: u16) -> String {
    format!("https://127.0.0.1:{port}")
}

/// The SOAP request of the lookup.
fn lookup_envelope() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="urn:dtr:export:v2"><soapenv:Body><d:GetDaginstitutionByNummer><d:DagInstitutionsNummer>{NUMMER}</d:DagInstitutionsNummer></d:GetDaginstitutionByNummer></soapenv:Body></soapenv:Envelope>"#
    )
}

/// The node peer, on the server's CPU, answering what the gateway answered for the lookup.
struct Peer {
    child: Child,
    base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_peer(s: &System, http: &reqwest::Client, soap_module: &Path, work: &Path) -> anyhow::Result<Peer> {
    let body = http
        .post(format!("{}{}", s.base, dtr_gateway::EXPORT_PATH))
        .basic_auth(&s.user, Some(&s.password))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(lookup_envelope())
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let (Some(start), Some(end)) = (body.find("<soap:Body>"), body.rfind("</soap:Body>")) else {
        bail!("the gateway's answer has no SOAP Body: {body}");
    };
    let inner = &body[start + "<soap:Body>".len()..end];
    let inner =
        inner.find('>').and_then(|open| inner.rfind("</").map(|close| &inner[open + 1..close])).unwrap_or(inner);
    if !inner.contains(NUMMER) {
        bail!("the gateway did not find {NUMMER}: {body}");
    }
    std::fs::write(work.join("answer.xml"), inner)?;
    std::fs::write(work.join("soap_peer.js"), SOAP_PEER)?;
    let port = free_port()?;
    let mut child = Command::new("taskset")
        .args(["-c", SERVER_CPU, "node", "--expose-gc"])
        .arg(work.join("soap_peer.js"))
        .arg(port.to_string())
        .arg(s.tls_dir.join("cert.pem"))
        .arg(s.tls_dir.join("key.pem"))
        .arg(work.join("answer.xml"))
        .args([&s.user, &s.password])
        .env("DTR_BENCH_SOAP_MODULE", soap_module)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the node soap peer")?;
    let stdout = child.stdout.take().context("peer stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    if !line.contains("listening") {
        let _ = child.kill();
        bail!("the node soap peer did not start: {line}");
    }
    let peer = Peer { child, base: format!("https://127.0.0.1:{port}") };
    // The peer answers the operation, and only with the right password.
    let url = format!("{}{}", peer.base, dtr_gateway::EXPORT_PATH);
    let ok = http.post(&url).basic_auth(&s.user, Some(&s.password)).body(lookup_envelope()).send().await?;
    let (status, text) = (ok.status(), ok.text().await?);
    if !status.is_success() || !text.contains(NUMMER) {
        bail!("the node soap peer's answer ({status}): {text}");
    }
    let refused = http.post(&url).basic_auth(&s.user, Some("forkert")).body(lookup_envelope()).send().await?;
    if refused.status() != 401 {
        bail!("the node soap peer let a wrong password through ({})", refused.status());
    }
    Ok(peer)
}

async fn measure(
    name: &'static str,
    setup: &str,
    s: &System,
    a: &LookupArgs,
    soap_module: &Path,
    work: &Path,
) -> anyhow::Result<ModeResult> {
    println!("{name}: measuring…");
    // Start-up work (the tilslutning service following the register, the first registry check)
    // must be over before any row is measured.
    for p in &s.procs {
        crate::bench::wait_quiet(p.id()).await;
    }
    let cert = reqwest::Certificate::from_pem(&std::fs::read(s.tls_dir.join("cert.pem"))?)?;
    let http = reqwest::Client::builder().add_root_certificate(cert).http1_only().build()?;
    let peer = start_peer(s, &http, soap_module, work).await?;
    let script = work.join(format!("{name}-lookup.lua"));
    std::fs::write(&script, wrk_script(&s.user, &s.password))?;
    let soap_url = format!("{}{}", s.base, dtr_gateway::EXPORT_PATH);
    let peer_url = format!("{}{}", peer.base, dtr_gateway::EXPORT_PATH);
    let healthz = format!("{}/healthz", s.base);
    let admin = dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(&s.pki), dtr_trust::Part::Admin)?;
    let mut grpc = Vec::new();
    for _ in 0..a.connections {
        grpc.push(ExportServiceClient::new(admin.connect(&s.export_grpc, dtr_trust::Part::Export).await?));
    }

    let run_row = |row: Row, seconds: u64| {
        let (script, soap_url, peer_url, healthz, grpc) =
            (script.clone(), soap_url.clone(), peer_url.clone(), healthz.clone(), grpc.clone());
        let connections = a.connections;
        async move {
            match row {
                Row::Gateway => wrk(&soap_url, Some(&script), connections, seconds),
                Row::Peer => wrk(&peer_url, Some(&script), connections, seconds),
                Row::Healthz => wrk(&healthz, None, connections, seconds),
                Row::Grpc => grpc_load(grpc, seconds).await,
            }
        }
    };
    // Warm-up: every row once, briefly, not counted.
    for row in ROWS {
        run_row(row, 2).await?;
    }
    let mut rounds = Vec::new();
    for round in 0..a.rounds {
        let mut r = [Sample::default(); 4];
        for (i, row) in ROWS.into_iter().enumerate() {
            r[i] = run_row(row, a.seconds).await?;
            println!("  round {}: {:>8.0}/s p99 {:.2} ms — {}", round + 1, r[i].rps, r[i].p99_ms, row.label());
        }
        rounds.push(r);
    }

    let mut held = Vec::new();
    for (what, base, pid) in
        [("gateway", s.base.as_str(), s.gateway_pid), ("node soap peer", peer.base.as_str(), peer.child.id())]
    {
        // The node peer collects its garbage first (SIGUSR2); the gateway has none.
        let settled = || async move {
            if pid != s.gateway_pid {
                let _ = Command::new("kill").args(["-USR2", &pid.to_string()]).status();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            crate::bench::proc_kb(pid, "VmRSS:")
        };
        let idle = settled().await;
        let conns = hold(base, a.held, &s.tls_dir.join("cert.pem"), &s.user, &s.password).await?;
        let holding = settled().await;
        drop(conns);
        held.push((what, idle, holding));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(ModeResult { name, setup: setup.to_owned(), rounds, held, held_count: a.held })
}

/// wrk's Lua script: the lookup as a POST with Basic Auth.
fn wrk_script(user: &str, password: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let body = lookup_envelope().replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "wrk.method = \"POST\"\nwrk.body = \"{body}\"\nwrk.headers[\"Content-Type\"] = \"text/xml; charset=utf-8\"\n\
         wrk.headers[\"SOAPAction\"] = \"urn:dtr:export:v2/GetDaginstitutionByNummer\"\n\
         wrk.headers[\"Authorization\"] = \"Basic {auth}\"\n"
    )
}

/// One round of wrk on the load generator's CPU.
fn wrk(url: &str, script: Option<&Path>, connections: usize, seconds: u64) -> anyhow::Result<Sample> {
    let mut c = Command::new("taskset");
    c.args(["-c", LOAD_CPU, "wrk", "-t1", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s");
    if let Some(s) = script {
        c.arg("-s").arg(s);
    }
    let out = c.arg(url).output().context("wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk {url}: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx") || l.contains("Socket errors")) {
        bail!("wrk {url}: {line}\n{text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk's output: {text}"))?;
    let quantile = |q: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(q))
            .and_then(|v| wrk_ms(v.trim()))
            .with_context(|| format!("wrk's {q} latency: {text}"))
    };
    Ok(Sample { rps, p50_ms: quantile("50%")?, p99_ms: quantile("99%")? })
}

/// A wrk duration (`812.00us`, `1.23ms`, `1.01s`) in milliseconds.
fn wrk_ms(v: &str) -> Option<f64> {
    let (n, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    n.parse::<f64>().ok().map(|n| n * factor)
}

/// One round of direct gRPC lookups: one client per connection, each one call at a time.
async fn grpc_load(
    clients: Vec<ExportServiceClient<dtr_trust::SignedChannel>>,
    seconds: u64,
) -> anyhow::Result<Sample> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::with_capacity(100_000);
            while Instant::now() < until {
                let t = Instant::now();
                let found = c.get_daginstitution_by_nummer(NummerRequest { nummer: NUMMER.into() }).await?;
                if found.get_ref().daginstitutioner.is_empty() {
                    bail!("the export service did not find {NUMMER}");
                }
                micros.push(t.elapsed().as_micros() as u32);
            }
            Ok::<_, anyhow::Error>(micros)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let q = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    Ok(Sample { rps: all.len() as f64 / elapsed, p50_ms: q(0.5) as f64 / 1e3, p99_ms: q(0.99) as f64 / 1e3 })
}

/// Opens `n` TLS connections to `base`, each with one keep-alive request answered, and keeps
/// them open.
async fn hold(
    base: &str,
    n: usize,
    cert: &Path,
    user: &str,
    password: &str,
) -> anyhow::Result<Vec<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    use base64::Engine;
    let url = reqwest::Url::parse(base)?;
    let addr = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(443));
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&std::fs::read(cert)?)? {
        roots.add(c)?;
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\n\r\n");
    let name = rustls::pki_types::ServerName::try_from("localhost")?.to_owned();
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let tcp = tokio::net::TcpStream::connect(&addr).await.with_context(|| format!("connection {i}"))?;
        let mut tls = connector.connect(name.clone(), tcp).await.with_context(|| format!("TLS of connection {i}"))?;
        tls.write_all(request.as_bytes()).await?;
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        // The answer is small: its head and body arrive together.
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let k = tls.read(&mut buf).await?;
            if k == 0 {
                bail!("connection {i} closed before answering");
            }
            got.extend_from_slice(&buf[..k]);
        }
        if !got.starts_with(b"HTTP/1.1 200") {
            bail!("connection {i}: {}", String::from_utf8_lossy(&got));
        }
        held.push(tls);
    }
    Ok(held)
}

/// The certificates of a PEM file.
fn rustls_pemfile_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    Ok(rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?)
}

fn report(results: &[ModeResult], a: &LookupArgs, cpus: usize) -> String {
    let mut r = String::new();
    r.push_str("# Benchmark: the SOAP lookup against what bounds it\n\n");
    r.push_str("Reproduce: `cargo run --release -p dtr -- bench lookup --postgres-url postgres://…` (writes this file; without `--postgres-url` only the embedded mode).\n\n");
    r.push_str(&format!(
        "Machine: {} CPUs. The serving processes are pinned to CPU {SERVER_CPU} and the load generator to CPU {LOAD_CPU} \
         (`taskset`): `wrk` for the HTTPS rows, this benchmark's own tonic client for the gRPC row, {} keep-alive \
         connections each; {} interleaved rounds of {} s per row after a warm-up, medians reported. Every row looks \
         up the same daginstitution ({NUMMER}). Absolute numbers vary with the machine; compare the ratios. \
         Where a target is not met, docs/bench/lookup-profile.md shows where the time goes (CPU profiles of \
         both modes under this load).\n\n",
        cpus,
        a.connections,
        a.rounds,
        a.seconds
    ));
    for m in results {
        let med: Vec<Sample> = (0..4).map(|i| m.median(i)).collect();
        r.push_str(&format!("## {} — {}\n\n", m.name, m.setup));
        r.push_str("| target | req/s (median) | p50 | p99 | SOAP lookup via gateway ÷ target | rounds (req/s) |\n|---|---|---|---|---|---|\n");
        for (i, row) in ROWS.into_iter().enumerate() {
            let ratio = if i == 0 { "—".to_owned() } else { format!("**{:.2}**", med[0].rps / med[i].rps) };
            let rounds: Vec<String> = m.rounds.iter().map(|x| format!("{:.0}", x[i].rps)).collect();
            r.push_str(&format!(
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {ratio} | {} |\n",
                row.label(),
                med[i].rps,
                med[i].p50_ms,
                med[i].p99_ms,
                rounds.join(", ")
            ));
        }
        let targets = [
            ("via gateway ÷ direct gRPC", med[0].rps / med[1].rps, 0.8),
            ("via gateway ÷ node soap peer", med[0].rps / med[2].rps, 2.0),
            ("via gateway ÷ fixed answer", med[0].rps / med[3].rps, 0.25),
        ];
        r.push_str("\n| target (docs/quality.md) | ratio | wanted | met |\n|---|---|---|---|\n");
        for (what, ratio, want) in targets {
            r.push_str(&format!(
                "| {what} | {ratio:.2} | ≥ {want} | {} |\n",
                if ratio >= want { "yes" } else { "**no**" }
            ));
        }
        let p99 = med[0].p99_ms / med[1].p99_ms.max(1e-9);
        r.push_str(&format!(
            "| p99 via gateway ÷ p99 of direct gRPC | {p99:.2} | ≤ 2 | {} |\n",
            if p99 <= 2.0 { "yes" } else { "**no**" }
        ));
        r.push_str(&format!(
            "\n{} keep-alive HTTPS connections held open (each after one answered request; resident memory read after the node peer collected its garbage):\n\n| process | RSS idle | RSS holding them | per connection |\n|---|---|---|---|\n",
            m.held_count
        ));
        for (what, idle, holding) in &m.held {
            r.push_str(&format!(
                "| {what} | {:.1} MiB | {:.1} MiB | {:.1} KiB |\n",
                *idle as f64 / 1024.0,
                *holding as f64 / 1024.0,
                (*holding as f64 - *idle as f64) / m.held_count.max(1) as f64
            ));
        }
        r.push('\n');
    }
    r
}
