//! `dtr up`: every service in one process on embedded defaults — SQLite in the data directory,
//! in-process cache, a self-signed certificate — still talking gRPC to each other over loopback,
//! with mutual TLS and signed calls from a PKI it keeps in `<data dir>/pki`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::demo;
use crate::grpc::{self, GatewayArgs, ServiceArgs, Which};

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the SQLite database, the TLS certificate and the demo credentials are kept.
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    pub data_dir: PathBuf,
    /// Address of the HTTPS gateway.
    #[arg(long, env = "DTR_HTTPS_ADDR", default_value = "127.0.0.1:8443")]
    pub https_addr: String,
    /// Addresses of reverse proxies whose X-Forwarded-Host/-Proto are believed (comma-separated).
    #[arg(long, env = "DTR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Create demo data and a demo system (first run), and print its credentials.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub lookups: grpc::LookupArgs,
    /// Hours between periodic re-validations of the register (rule 13); 0 turns them off.
    #[arg(long, env = "DTR_REVALIDATE_EVERY_HOURS", default_value_t = 720)]
    pub revalidate_every_hours: u64,
    #[command(flatten)]
    pub tilslutning: grpc::TilslutningArgs,
    /// Longest the gateway keeps a cached authentication or access decision, in milliseconds;
    /// changes clear it at once anyway. 0 turns the decision cache off.
    #[arg(long, env = "DTR_DECISION_CACHE_MS", default_value_t = 5000)]
    pub decision_cache_ms: u64,
    /// Failed logins of one username from one address that lock that pair out; 0 = no lock-out.
    #[arg(long, env = "DTR_LOCKOUT_FAILURES", default_value_t = 10)]
    pub lockout_failures: u32,
    /// How long a lock-out lasts, counted from the first failure, in seconds.
    #[arg(long, env = "DTR_LOCKOUT_SECONDS", default_value_t = 300)]
    pub lockout_seconds: u64,
    #[command(flatten)]
    pub portal: crate::portal::PortalSettings,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    #[command(flatten)]
    pub deadlines: grpc::DeadlineArgs,
    /// For `dtr bench trust` only: the gRPC hops in plain text (still on loopback, tokens still
    /// checked), to measure what mutual TLS costs.
    #[arg(long, hide = true)]
    pub bench_plaintext_grpc: bool,
    /// For benchmarks only: the gateway calls the services over loopback TCP (mutual TLS, or
    /// plain text with `--bench-plaintext-grpc`) as the distributed mode does, instead of in
    /// process.
    #[arg(long, hide = true)]
    pub bench_network_grpc: bool,
}

/// The data directory holds the register, credentials and the TLS key: only its owner may enter
/// it, and the database file (whose journal files SQLite creates with the same rights) is the
/// owner's alone, also in a directory made before this rule.
fn private_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
        let db = dir.join("dtr.db");
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&db);
        file.and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)))
            .with_context(|| format!("restricting {}", db.display()))?;
    }
    Ok(())
}

/// The three services' in-process stacks, as each hands its own over once it has started.
async fn local_services(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(Which, dtr_trust::LocalService)>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<dtr_trust::LocalServices> {
    let (mut import, mut export, mut tilslutning) = (None, None, None);
    while import.is_none() || export.is_none() || tilslutning.is_none() {
        tokio::select! {
            got = rx.recv() => match got {
                Some((Which::Import, s)) => import = Some(s),
                Some((Which::Export, s)) => export = Some(s),
                Some((Which::Tilslutning, s)) => tilslutning = Some(s),
                None => bail!("a service stopped during start-up"),
            },
            Some(r) = tasks.join_next() => {
                r??;
                bail!("a service stopped during start-up");
            }
        }
    }
    match (import, export, tilslutning) {
        (Some(import), Some(export), Some(tilslutning)) => Ok(dtr_trust::LocalServices { import, export, tilslutning }),
        _ => bail!("a service did not start"),
    }
}

/// Longest the services may take to stop once the gateway has.
const SERVICES_STOP: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves once the stop flag is raised.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

pub async fn run(a: UpArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr");
    crate::metrics::start(&a.metrics).await?;
    private_data_dir(&a.data_dir)?;
    let db = format!("sqlite:{}", a.data_dir.join("dtr.db").display());
    grpc::migrate_all(&db).await?;
    let demo_login = if a.demo { Some(demo::ensure(&db, &a.data_dir).await?) } else { None };
    let pki = crate::pki::PkiArgs { pki_dir: a.data_dir.join("pki") };
    let created = pki.dir().init().context("creating the PKI")?;
    if !created.is_empty() {
        tracing::info!(dir = %pki.pki_dir.display(), files = created.len(), "created the deployment's PKI");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut urls = Vec::new();
    let cache = std::sync::Arc::new(dtr_registry::cache::CodeTableCache::in_process());
    let (changes, _) = tokio::sync::broadcast::channel(16);
    // The import service raises it on every write; the export service reads from memory while
    // it stands (read-your-writes in one process).
    let generation = std::sync::Arc::new(dtr_registry::opslag::Generation::default());
    // Each service hands its guarded stack over; the gateway calls it without a socket.
    let (local_tx, mut local_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let scheme = if a.bench_plaintext_grpc { "http" } else { "https" };
        urls.push(format!("{scheme}://{}", listener.local_addr()?));
        listeners.push(listener);
    }
    // Mails link to the portal on this process's own listener, unless a public address is set.
    let mut tilslutning_args = a.tilslutning.clone();
    if tilslutning_args.portal_url.is_none() && !a.https_addr.ends_with(":0") {
        tilslutning_args.portal_url = Some(format!("https://{}", a.https_addr));
    }
    let portal_url = tilslutning_args.portal_url.clone();
    for (which, listener) in [Which::Import, Which::Export, Which::Tilslutning].into_iter().zip(listeners) {
        let args = ServiceArgs {
            grpc_addr: None,
            database_url: db.clone(),
            redis: crate::grpc::RedisArgs::default(),
            metrics: a.metrics.clone(),
            lookups: a.lookups.clone(),
            revalidate_every_hours: a.revalidate_every_hours,
            tilslutning_url: Some(urls[2].clone()),
            export_url: Some(urls[1].clone()),
            shared_cache: Some(cache.clone()),
            shared_changes: Some(changes.clone()),
            local: (!a.bench_network_grpc).then(|| local_tx.clone()),
            shared_generation: Some(generation.clone()),
            tilslutning: tilslutning_args.clone(),
            pki: pki.clone(),
            bench_plaintext: a.bench_plaintext_grpc,
        };
        let stop = stopped(stop_rx.clone());
        tasks.spawn(async move { grpc::serve(which, listener, &args, stop).await.with_context(|| which.name()) });
    }
    drop(local_tx);
    let local = if a.bench_network_grpc { None } else { Some(local_services(&mut local_rx, &mut tasks).await?) };
    // The provider sends the browser back to the portal's own address, unless told otherwise.
    let mut portal = a.portal.clone();
    if portal.oidc.oidc_redirect_url.is_none() {
        portal.oidc.oidc_redirect_url = portal_url.as_ref().map(|u| format!("{u}/log-paa/oidc/svar"));
    }
    let gw = GatewayArgs {
        https_addr: a.https_addr.clone(),
        import_url: urls[0].clone(),
        export_url: urls[1].clone(),
        tilslutning_url: urls[2].clone(),
        pki: pki.clone(),
        bench_plaintext: a.bench_plaintext_grpc,
        tls_cert: None,
        tls_key: None,
        data_dir: a.data_dir.clone(),
        public_url: None,
        trusted_proxies: a.trusted_proxies.clone(),
        max_body_bytes: 10 * 1024 * 1024,
        redis: crate::grpc::RedisArgs::default(),
        metrics: a.metrics.clone(),
        deadlines: a.deadlines.clone(),
        decision_cache_ms: a.decision_cache_ms,
        shared_changes: Some(changes),
        local,
        xml_limits: Default::default(),
        lockout_failures: a.lockout_failures,
        lockout_seconds: a.lockout_seconds,
        portal,
    };
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    // The gateway stops first (it finishes the calls in flight, which need the services), then
    // the services.
    let (gateway_stop_tx, gateway_stop_rx) = watch::channel(false);
    let stop = stopped(gateway_stop_rx);
    let mut gateway =
        tokio::spawn(async move { grpc::start_gateway(&gw, Some(bound_tx), stop).await.context("gateway") });

    let bound = tokio::select! {
        b = bound_rx => b.context("the gateway did not start")?,
        r = &mut gateway => {
            r??;
            bail!("the gateway stopped during start-up");
        }
        Some(r) = tasks.join_next() => {
            r??;
            bail!("a service stopped during start-up");
        }
    };
    let host = if bound.ip().is_unspecified() { "localhost".to_owned() } else { bound.to_string() };
    let host = if bound.ip().is_unspecified() { format!("{host}:{}", bound.port()) } else { host };
    let import_wsdl = format!("https://{host}{}?wsdl", dtr_gateway::IMPORT_PATH);
    let export_wsdl = format!("https://{host}{}?wsdl", dtr_gateway::EXPORT_PATH);
    println!("DTR is running (embedded mode; data in {})", a.data_dir.display());
    println!("  ImportService WSDL: {import_wsdl}");
    println!("  ExportService WSDL: {export_wsdl}");
    println!("  Portal: https://{host}/");
    println!("  gRPC: import {}  export {}  tilslutning {}", urls[0], urls[1], urls[2]);
    println!("  mutual TLS and signed calls: PKI in {} (`dtr admin` finds both)", pki.pki_dir.display());
    let endpoints =
        crate::admin::Endpoints { import: urls[0].clone(), export: urls[1].clone(), tilslutning: urls[2].clone() };
    let endpoints_file = a.data_dir.join(crate::admin::Endpoints::FILE);
    std::fs::write(&endpoints_file, serde_json::to_vec_pretty(&endpoints)?)
        .with_context(|| format!("writing {}", endpoints_file.display()))?;
    if let Some(logins) = demo_login {
        let portal_url = format!("https://{host}/");
        let file = demo::write_credentials(&a.data_dir, &logins, &import_wsdl, &export_wsdl, &portal_url)?;
        println!("Demo system: username {}  password {}", logins.system.username, logins.system.password);
        println!(
            "Refused demo system (connections, no data-access agreement): username {}  password {}",
            logins.refused.username, logins.refused.password
        );
        println!("Demo persons of the portal:");
        for p in &logins.persons {
            println!("  {} for {}: username {}  password {}", p.role, p.organisation, p.username, p.password);
        }
        println!("  (also in {})", file.display());
    }
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        _ = crate::shutdown_signal() => {}
        r = &mut gateway => {
            let _ = stop_tx.send(true);
            r??;
            bail!("the gateway stopped unexpectedly");
        }
        Some(r) = tasks.join_next() => {
            let _ = gateway_stop_tx.send(true);
            let _ = stop_tx.send(true);
            r??;
            bail!("a service stopped unexpectedly");
        }
    }
    tracing::info!("stopping: the gateway takes no new connections and finishes calls in flight (10 s at most)");
    let _ = gateway_stop_tx.send(true);
    gateway.await??;
    let _ = stop_tx.send(true);
    let services = async {
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        Ok::<_, anyhow::Error>(())
    };
    match tokio::time::timeout(SERVICES_STOP, services).await {
        Ok(r) => r?,
        Err(_) => tracing::warn!("the services did not stop within {SERVICES_STOP:?}; exiting all the same"),
    }
    tracing::info!("stopped");
    Ok(())
}
