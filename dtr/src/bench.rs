//! `dtr bench extract`: the full extract `GetAllDagtilbud` at 1× and 10× the national register
//! (docs/quality.md), measured side by side in one run on this machine:
//! - through the whole stack: HTTPS, Basic Auth, SOAP, gRPC stream, SQLite cursor (`dtr up`
//!   as a child process, so its memory is its own);
//! - straight from the export service over gRPC;
//! - the cost of just serializing the same records to SOAP XML in a tight loop (the limit).
//!
//! It reports throughput as ratios to that limit and the serving process's peak memory, 10×
//! against 1×. Use a release build: `cargo run --release -p dtr -- bench extract`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use dtr_gateway::soap::xml::XmlOut;
use dtr_proto::export::GetAllRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::registry::Dagtilbud;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Full extract (GetAllDagtilbud) at each scale; writes a report.
    Extract {
        /// Scales to measure, relative to the national register.
        #[arg(long, value_delimiter = ',', default_value = "1,10")]
        scales: Vec<f64>,
        /// Timed runs per measurement; the best is reported (the machine is shared).
        #[arg(long, default_value_t = 5)]
        runs: u32,
        /// Where the report goes (Markdown).
        #[arg(long, default_value = "docs/bench/extract.md")]
        out: PathBuf,
    },
    /// What trust costs: wrong-password timing by kind of user, and the SOAP lookup with and
    /// without mutual TLS between the parts; writes a report.
    Trust(crate::bench_trust::TrustArgs),
    /// The SOAP lookup against a direct gRPC call, a node `soap` server answering from memory
    /// and a fixed answer, in both run modes; writes a report.
    Lookup(crate::bench_lookup::LookupArgs),
    /// A SOAP insert with every rule on against a raw insert into the same database, at 1× and
    /// 10×; writes a report.
    Write(crate::bench_write::WriteArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let (scales, runs, out) = match cmd {
        BenchCommand::Extract { scales, runs, out } => (scales, runs, out),
        BenchCommand::Trust(a) => return crate::bench_trust::run(a).await,
        BenchCommand::Lookup(a) => return crate::bench_lookup::run(a).await,
        BenchCommand::Write(a) => return crate::bench_write::run(a).await,
    };
    let mut results = Vec::new();
    for scale in scales {
        println!("scale {scale}: generating the register…");
        results.push(measure(scale, runs.max(1)).await.with_context(|| format!("scale {scale}"))?);
    }
    let report = report(&results, runs);
    crate::bench::write_report(&out, &report)
}

/// Writes a benchmark's report to `out` (making its folder) and shows it.
pub(crate) fn write_report(out: &Path, report: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, report).with_context(|| format!("writing {}", out.display()))?;
    println!("{report}");
    println!("report written to {}", out.display());
    Ok(())
}

struct Result1 {
    scale: f64,
    units: u64,
    bytes: u64,
    soap: Duration,
    grpc: Duration,
    cursor: Duration,
    read_serialize: Duration,
    serialize: Duration,
    rss_idle_kb: u64,
    /// The serving process's peak during each counted extract (SOAP runs, then gRPC runs).
    peaks: Vec<u64>,
    /// What each counted extract added to the process's memory at its start.
    added: Vec<u64>,
    /// Every unit looked up by number once: how many, and the server's RSS before and after.
    lookups: LookupMemory,
}

/// What remembering lookups costs: every unit looked up by number once through gRPC, so that
/// the export service holds them all in memory (`opslag`), with the server's resident memory
/// before and after (each read once it has settled).
#[derive(Default)]
struct LookupMemory {
    entries: u64,
    before_kb: u64,
    after_kb: u64,
}

impl LookupMemory {
    fn bytes_per_entry(&self) -> f64 {
        self.after_kb.saturating_sub(self.before_kb) as f64 * 1024.0 / self.entries.max(1) as f64
    }
}

/// Which lookup by number a unit takes.
#[derive(Clone, Copy)]
enum Kind {
    Daginstitution,
    Anvisningsenhed,
    AlternativAdresse,
}

/// The number of every unit in the register, read through the store in this process.
async fn unit_numbers(
    store: &dyn dtr_registry::storage::RegistryStore,
    codes: &dtr_registry::codes::CodeTables,
) -> anyhow::Result<Vec<(Kind, String)>> {
    let mut numbers = Vec::new();
    let mut s = store.stream_dagtilbud(dtr_registry::storage::DagtilbudFilter::Alle);
    while let Some(d) = futures::StreamExt::next(&mut s).await {
        let d = dtr_export::dagtilbud(d?, codes);
        let inst = d.daginstitution.as_ref().and_then(|x| x.daginstitution.as_ref());
        numbers.extend(inst.map(|i| (Kind::Daginstitution, i.daginstitutions_nummer.clone())));
        for a in &d.anvisningsenheder {
            let enhed = a.anvisningsenhed.as_ref().and_then(|x| x.anvisningsenhed.as_ref());
            numbers.extend(enhed.map(|e| (Kind::Anvisningsenhed, e.enheds_nummer.clone())));
            for l in &a.alternative_adresser {
                let adresse = l.alternativ_adresse.as_ref();
                numbers.extend(adresse.map(|l| (Kind::AlternativAdresse, l.alternativ_adresse_nummer.clone())));
            }
        }
    }
    Ok(numbers)
}

/// The direct gRPC reader: the admin console (mutual TLS with the admin certificate).
async fn export_client(dir: &Path, server: &Server) -> anyhow::Result<ExportServiceClient<dtr_trust::SignedChannel>> {
    let admin = dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(dir.join("pki")), dtr_trust::Part::Admin)?;
    let channel = admin.connect(&server.export_grpc, dtr_trust::Part::Export).await?;
    Ok(ExportServiceClient::new(channel).max_decoding_message_size(64 << 20))
}

/// Looks every unit up by number once (16 callers at a time) on a server of its own, in two
/// halves, and reads what the second half added to the server's resident memory. The allocator
/// keeps freed pages for reuse, and start-up work leaves them: the first half fills those, so
/// only the second half's growth shows what remembered units cost. This server also returns
/// wholly freed pages at once (`MIMALLOC_PURGE_DELAY=0`).
async fn remember_every_unit(
    dir: &Path,
    store: &dyn dtr_registry::storage::RegistryStore,
    numbers: &[(Kind, String)],
) -> anyhow::Result<LookupMemory> {
    let server = start_server_with(dir, &[], &[("MIMALLOC_PURGE_DELAY", "0")])?;
    let pid = server.child.id();
    let client = export_client(dir, &server).await?;
    wait_quiet(pid).await;
    let sequence = store.latest_sekvensnummer().await?;
    let (first, second) = numbers.split_at(numbers.len() / 2);
    look_up(&client, first).await?;
    wait_quiet(pid).await;
    let before_kb = proc_kb(pid, "VmRSS:");
    look_up(&client, second).await?;
    wait_quiet(pid).await;
    if store.latest_sekvensnummer().await? != sequence {
        bail!("the register changed while its units were being remembered; nothing to measure");
    }
    Ok(LookupMemory { entries: second.len() as u64, before_kb, after_kb: proc_kb(pid, "VmRSS:") })
}

/// Each of `numbers` looked up once, by 16 callers.
async fn look_up(
    client: &ExportServiceClient<dtr_trust::SignedChannel>,
    numbers: &[(Kind, String)],
) -> anyhow::Result<()> {
    use dtr_proto::export::NummerRequest;
    let share = numbers.len().div_ceil(16).max(1);
    let mut callers = Vec::new();
    for part in numbers.chunks(share).map(<[_]>::to_vec) {
        let mut c = client.clone();
        callers.push(tokio::spawn(async move {
            for (kind, nummer) in part {
                let req = NummerRequest { nummer };
                match kind {
                    Kind::Daginstitution => drop(c.get_daginstitution_by_nummer(req).await?),
                    Kind::Anvisningsenhed => drop(c.get_anvisnings_enheder_by_nummer(req).await?),
                    Kind::AlternativAdresse => drop(c.get_alternativ_adresser_by_nummer(req).await?),
                }
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for c in callers {
        c.await??;
    }
    Ok(())
}

impl Result1 {
    /// The median of the runs' peaks, in kB.
    fn peak_kb(&self) -> u64 {
        median_kb(&self.peaks)
    }

    /// The median of what the runs added, in kB.
    fn added_kb(&self) -> u64 {
        median_kb(&self.added)
    }
}

fn median_kb(v: &[u64]) -> u64 {
    let mut p = v.to_vec();
    p.sort_unstable();
    p.get(p.len() / 2).copied().unwrap_or(0)
}

/// `median MB (min–max)` of kB figures.
fn mb_range(v: &[u64]) -> String {
    let mb = |k: u64| k as f64 / 1024.0;
    format!(
        "{:.1} MB ({:.1}–{:.1})",
        mb(median_kb(v)),
        mb(v.iter().min().copied().unwrap_or(0)),
        mb(v.iter().max().copied().unwrap_or(0))
    )
}

/// A `dtr up` child process, stopped when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) export_grpc: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &Path) -> anyhow::Result<Server> {
    start_server_with(data, &[], &[])
}

/// `dtr up --demo` on `data` with extra arguments and environment.
pub(crate) fn start_server_with(data: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Server> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["up", "--demo", "--data-dir"]).arg(data).args(["--https-addr", "127.0.0.1:0"]).args(args);
    cmd.envs(env.iter().copied());
    start_command(cmd)
}

/// Runs a prepared `dtr up` command and waits until it says where it listens.
pub(crate) fn start_command(mut cmd: Command) -> anyhow::Result<Server> {
    let mut child = cmd
        .env("DTR_METRICS_ADDR", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting dtr up")?;
    let stdout = child.stdout.take().context("stdout")?;
    let (mut base, mut export_grpc) = (None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(url) = line.trim().strip_prefix("ExportService WSDL: ") {
            base = url.split("/services/").next().map(str::to_owned);
        }
        if let Some(rest) = line.trim().strip_prefix("gRPC:") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            export_grpc =
                words.iter().position(|w| *w == "export").and_then(|i| words.get(i + 1)).map(|s| (*s).to_owned());
        }
        if line.contains("Press Ctrl-C to stop.") {
            break;
        }
    }
    let (Some(base), Some(export_grpc)) = (base, export_grpc) else {
        let _ = child.kill();
        bail!("dtr up did not report its addresses");
    };
    Ok(Server { child, base, export_grpc })
}

/// Waits until process `pid` uses under 5 % of a CPU over a second (at most three minutes).
pub(crate) async fn wait_quiet(pid: u32) {
    let ticks = || -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
                let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
                Some(rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0)
    };
    let started = Instant::now();
    let mut before = ticks();
    while started.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = ticks();
        // Clock ticks are hundredths of a second: under 5 in a second is under 5 %.
        if now.saturating_sub(before) < 5 {
            return;
        }
        before = now;
    }
    println!("the server did not settle within three minutes; measuring anyway");
}

/// A field of /proc/<pid>/status in kB (VmRSS, VmHWM).
pub(crate) fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn measure(scale: f64, runs: u32) -> anyhow::Result<Result1> {
    let dir = std::env::temp_dir().join(format!("dtr-bench-{}-{scale}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = measure_in(&dir, scale, runs).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure_in(dir: &Path, scale: f64, runs: u32) -> anyhow::Result<Result1> {
    let db = format!("sqlite:{}", dir.join("dtr.db").display());
    crate::grpc::migrate_all(&db).await?;
    let store = dtr_registry::storage::connect(&db).await?;
    crate::demodata::load(store.as_ref(), scale, 1, |_, _| {}).await?;
    drop(store);

    let server = start_server(dir)?;
    let pid = server.child.id();
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json"))?)?;
    let cert = reqwest::Certificate::from_pem(&std::fs::read(dir.join("tls/cert.pem"))?)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().add_root_certificate(cert).build()?;
    let store = dtr_registry::storage::connect(&db).await?;
    let (d, a, l) = store.count_units().await?;
    let units = (d + a + l) as u64;
    // Start-up work must be over before anything is measured: on a fresh register the
    // tilslutning service catches up on the whole change sequence (every anvisningsenhed becomes
    // an organisation), which at 10× takes tens of seconds and overlapped the extracts of earlier
    // runs of this benchmark, doubling the peak at random.
    wait_quiet(pid).await;
    let rss_idle_kb = proc_kb(pid, "VmRSS:");
    let mut client = export_client(dir, &server).await?;
    // Each counted run's peak (VmHWM, started afresh before it), so it measures that extract.
    let reset_peak = || {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        proc_kb(pid, "VmRSS:")
    };
    // What each extract adds to what the process already held (peak − RSS at its start):
    // memory the process keeps from start-up work (below) is not the extract's.
    let mut added = Vec::new();
    let mut peaks = Vec::new();

    let envelope = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="urn:dtr:export:v2"><soapenv:Body><d:GetAllDagtilbud/></soapenv:Body></soapenv:Envelope>"#;
    let url = format!("{}{}", server.base, dtr_gateway::EXPORT_PATH);
    let (user, password) = (creds["username"].as_str().unwrap_or(""), creds["password"].as_str());
    let mut soap = Duration::MAX;
    let mut bytes = 0u64;
    for _ in 0..=runs {
        // The first run warms caches and is not counted.
        let at_start = reset_peak();
        let started = Instant::now();
        let mut resp = http
            .post(&url)
            .basic_auth(user, password)
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(envelope)
            .send()
            .await?
            .error_for_status()?;
        let mut n = 0u64;
        while let Some(chunk) = resp.chunk().await? {
            n += chunk.len() as u64;
        }
        let took = started.elapsed();
        if bytes != 0 {
            soap = soap.min(took);
            peaks.push(proc_kb(pid, "VmHWM:"));
            added.push(proc_kb(pid, "VmHWM:").saturating_sub(at_start));
        }
        bytes = n;
    }

    let mut grpc = Duration::MAX;
    let mut records: Vec<Dagtilbud> = Vec::new();
    for run in 0..=runs {
        let at_start = reset_peak();
        let started = Instant::now();
        let mut stream = client.get_all_dagtilbud(GetAllRequest {}).await?.into_inner();
        let mut got = Vec::new();
        while let Some(d) = stream.message().await? {
            if run == 0 {
                got.push(d);
            }
        }
        if run == 0 {
            records = got;
        } else {
            grpc = grpc.min(started.elapsed());
            peaks.push(proc_kb(pid, "VmHWM:"));
            added.push(proc_kb(pid, "VmHWM:").saturating_sub(at_start));
        }
    }
    drop(server);
    let codes = store.load_code_tables().await?;
    let lookups = remember_every_unit(dir, store.as_ref(), &unit_numbers(store.as_ref(), &codes).await?).await?;

    // The database alone: the same statement through the store, in this process.
    let mut cursor = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        let mut s = store.stream_dagtilbud(dtr_registry::storage::DagtilbudFilter::Alle);
        let mut n = 0usize;
        while let Some(d) = futures::StreamExt::next(&mut s).await {
            n += d?.anvisningsenheder.len();
        }
        std::hint::black_box(n);
        cursor = cursor.min(started.elapsed());
    }

    // Reading and serializing the same rows in a tight loop, in one process: no gRPC, no HTTP,
    // no TLS. The full stack is measured against this.
    let mut read_serialize = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        let mut s = store.stream_dagtilbud(dtr_registry::storage::DagtilbudFilter::Alle);
        let mut x = XmlOut::with_capacity(72 * 1024);
        let mut out = 0usize;
        while let Some(d) = futures::StreamExt::next(&mut s).await {
            dtr_gateway::ops::export::dagtilbud(&mut x, &dtr_export::dagtilbud(d?, &codes));
            if x.len() >= 64 * 1024 {
                out += std::hint::black_box(x.take()).len();
            }
        }
        std::hint::black_box(out + x.finish().len());
        read_serialize = read_serialize.min(started.elapsed());
    }

    // The limit: the same records serialized by the gateway's writer, handed off in chunks as
    // the streamed answer does.
    let mut serialize = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        let mut x = XmlOut::with_capacity(72 * 1024);
        let mut out = 0usize;
        for d in &records {
            dtr_gateway::ops::export::dagtilbud(&mut x, d);
            if x.len() >= 64 * 1024 {
                out += std::hint::black_box(x.take()).len();
            }
        }
        out += x.finish().len();
        std::hint::black_box(out);
        serialize = serialize.min(started.elapsed());
    }
    Ok(Result1 {
        scale,
        units,
        bytes,
        soap,
        grpc,
        cursor,
        read_serialize,
        serialize,
        rss_idle_kb,
        peaks,
        added,
        lookups,
    })
}

fn per_s(units: u64, d: Duration) -> f64 {
    units as f64 / d.as_secs_f64().max(1e-9)
}

fn report(results: &[Result1], runs: u32) -> String {
    let mut r = String::new();
    r.push_str("# Benchmark: full extract `GetAllDagtilbud`\n\n");
    r.push_str("Reproduce: `cargo run --release -p dtr -- bench extract` (writes this file).\n\n");
    r.push_str(&format!(
        "Machine: {} CPU(s), shared; best of {runs} timed runs after one warm-up; SQLite (`dtr up --demo` as a child \
         process) on a synthetic register from `dtr demo-data`. Throughput is units (daginstitutioner + \
         anvisningsenheder + alternative addresses) per second; absolute numbers vary with the machine, the ratios \
         are what to compare. All columns come from the same run.\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    ));
    r.push_str("- **SOAP**: `GetAllDagtilbud` through the gateway (HTTPS, Basic Auth with argon2id, SOAP, gRPC stream, SQLite cursor), read by an HTTP client.\n");
    r.push_str("- **gRPC**: the same extract straight from the export service.\n");
    r.push_str("- **read + serialize**: the same rows read through the store and serialized to the same SOAP XML in a tight loop in one process (no gRPC, HTTP or TLS) — the baseline of the quality target.\n");
    r.push_str("- **serialize only**: the records already in memory, serialized in a tight loop.\n");
    r.push_str(
        "- **peak RSS**: the serving process's peak resident memory during one extract (`VmHWM`, reset before each counted run, SOAP and gRPC alike), measured only once the server has settled after start-up; the median of the runs, with their range. **Added** is that peak less the resident memory when the extract began: the extract's own memory.\n\n",
    );
    r.push_str("| scale | units | answer | SOAP | gRPC | read + serialize | serialize only | SOAP ÷ read + serialize | SOAP ÷ serialize only | gRPC ÷ read + serialize | server RSS idle | server peak RSS per extract, median (range) | added by the extract (peak − RSS at its start) |\n");
    r.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for x in results {
        let (soap, grpc) = (per_s(x.units, x.soap), per_s(x.units, x.grpc));
        let (rs, ser) = (per_s(x.units, x.read_serialize), per_s(x.units, x.serialize));
        r.push_str(&format!(
            "| {}× | {} | {:.1} MB | {soap:.0}/s | {grpc:.0}/s | {rs:.0}/s | {ser:.0}/s | {:.2} | {:.2} | {:.2} | {:.1} MB | {} | {} |\n",
            x.scale,
            x.units,
            x.bytes as f64 / 1e6,
            soap / rs,
            soap / ser,
            grpc / rs,
            x.rss_idle_kb as f64 / 1024.0,
            mb_range(&x.peaks),
            mb_range(&x.added),
        ));
    }
    r.push_str("\nThe database cursor alone (the store's stream, no serializing) ran at ");
    let cursors: Vec<String> =
        results.iter().map(|x| format!("{:.0}/s at {}×", per_s(x.units, x.cursor), x.scale)).collect();
    r.push_str(&cursors.join(", "));
    r.push_str(".\n");
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && results.len() > 1
    {
        let memory = large.peak_kb() as f64 / small.peak_kb().max(1) as f64;
        let data = large.units as f64 / small.units.max(1) as f64;
        let mb = |k: u64| k as f64 / 1024.0;
        r.push_str(&format!(
            "\nFor {data:.1}× the data ({:.1} MB of answer against {:.1} MB), an extract adds a median of **{:.1} MB** \
             to the serving process at {}× and **{:.1} MB** at {}×; the process's peak during an extract is \
             {memory:.2}× that at {}× (it includes what start-up work left resident, see below). Single runs can \
             add more (the range) when the allocator has just returned pages it then takes back.\n",
            large.bytes as f64 / 1e6,
            small.bytes as f64 / 1e6,
            mb(small.added_kb()),
            small.scale,
            mb(large.added_kb()),
            large.scale,
            small.scale
        ));
    }
    r.push_str(
        "\n**Why earlier runs disagreed on memory** (1.09× in one report, 2.07× in a re-run of the same build): on a \
         freshly generated register the tilslutning service, in the same `dtr up` process, catches up on the whole \
         change sequence at start-up (every anvisningsenhed becomes an organisation; 98,000 changes at 10×, tens of \
         seconds), and whether that overlapped the measured extracts was a matter of timing. Its allocations, not the \
         extract's, doubled the peak; the extract's own buffers are bounded (4 batches of 64 records between the \
         database task and the export stream, HTTP/2 windows, 64 KiB XML chunks). The benchmark now waits until the \
         server has settled (under 5 % of a CPU for a second) and reports each extract's peak and what it added. \
         What start-up work (that catch-up, and the registry check's first run over every unit) leaves resident \
         shows in the idle figure at 10×: the allocator keeps freed pages mapped for reuse, and they count in \
         RSS until the kernel needs them.\n",
    );
    r.push_str("\nTargets (docs/quality.md): the full extract at 1× and at 10× at least 0.6× serializing the same rows in a tight loop; peak memory flat as data grows.\n");
    r.push_str(
        "\n**[decision]** \"Serializing the same rows in a tight loop\" is read as *read + serialize*: reading the rows \
         through the store and serializing them in one process, the work no extract can avoid. Against records already \
         in memory (*serialize only*) every path is far slower, because reading the database dominates (see the cursor \
         figure). On this shared machine the figures move by about ±20% between invocations; compare ratios within one \
         report.\n",
    );
    r.push_str(
        "\n## Lookups from memory\n\nEvery unit looked up by number once through gRPC \
         (`GetDaginstitutionByNummer`, `GetAnvisningsEnhederByNummer`, `GetAlternativAdresserByNummer`; 16 callers), \
         so that the export service remembers each (docs/architecture.md, *Lookups from memory*), on a server of its \
         own, in two halves. The allocator keeps pages that start-up work freed and reuses them, so the first half's \
         growth says little; the second half's growth, read once the server has settled, is what remembered units \
         cost. The register did not change meanwhile (checked).\n\n\
         | scale | units | RSS before the second half | after | added | per unit remembered | the whole register at that rate |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for x in results {
        let l = &x.lookups;
        r.push_str(&format!(
            "| {}× | {} | {:.1} MB | {:.1} MB | {:.1} MB | {:.0} bytes | {:.1} MB |\n",
            x.scale,
            x.units,
            l.before_kb as f64 / 1024.0,
            l.after_kb as f64 / 1024.0,
            l.after_kb.saturating_sub(l.before_kb) as f64 / 1024.0,
            l.bytes_per_entry(),
            l.bytes_per_entry() * x.units as f64 / (1024.0 * 1024.0)
        ));
    }
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && results.len() > 1
    {
        let (a, b) = (small.lookups.bytes_per_entry(), large.lookups.bytes_per_entry());
        let ratio = b / a.max(1.0);
        let verdict = if ratio <= 1.25 {
            "the memory grows with the register, not faster"
        } else {
            "**more per unit as the register grows**"
        };
        r.push_str(&format!(
            "\nPer unit remembered: {a:.0} bytes at {}×, {b:.0} bytes at {}× ({ratio:.2}×): {verdict}. It has a \
             ceiling besides (200,000 entries per kind of lookup) and is dropped whenever the register changes.\n",
            small.scale, large.scale,
        ));
    }
    r
}
