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

mod load;
mod report;
mod systems;

use load::{grpc_load, hold, wrk, wrk_script};
use report::report;
use systems::{System, install_soap, pin, start_distributed, start_embedded, start_peer};

/// The peer's script, written next to its npm modules at run time.
const SOAP_PEER: &str = include_str!("../bench/soap_peer.js");
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
