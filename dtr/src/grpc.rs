//! Running the services: each gRPC service with health and reflection, and the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::transport::Server;

use dtr_proto::export::export_service_server::ExportServiceServer;
use dtr_proto::import::import_service_server::ImportServiceServer;
use dtr_proto::tilslutning::tilslutning_service_server::TilslutningServiceServer;
use dtr_registry::Registry;
use dtr_registry::cache::CodeTableCache;
use dtr_registry::service::Lookups;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Import,
    Export,
    Tilslutning,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Import => "import",
            Which::Export => "export",
            Which::Tilslutning => "tilslutning",
        }
    }

    pub fn part(self) -> dtr_trust::Part {
        match self {
            Which::Import => dtr_trust::Part::Import,
            Which::Export => dtr_trust::Part::Export,
            Which::Tilslutning => dtr_trust::Part::Tilslutning,
        }
    }

    fn default_addr(self) -> &'static str {
        match self {
            Which::Import => "0.0.0.0:50051",
            Which::Export => "0.0.0.0:50052",
            Which::Tilslutning => "0.0.0.0:50053",
        }
    }
}

/// Settings of the tilslutning service (also taken by `dtr up`).
#[derive(clap::Args, Clone)]
pub struct TilslutningArgs {
    /// Full extracts (GetAll…) each system may make per day (UTC); 0 = no limit.
    #[arg(long, env = "DTR_FULL_EXTRACTS_PER_DAY", default_value_t = 24)]
    pub full_extracts_per_day: u32,
    /// The mail server notifications go through: `smtp://[user:pw@]host[:port][?tls=required]`
    /// or `smtps://…`; unset: mails wait in the outbox.
    #[arg(long, env = "DTR_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// PEM file with the CA of the mail server's certificate (a private relay).
    #[arg(long, env = "DTR_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Sender address of notifications.
    #[arg(long, env = "DTR_SMTP_FROM", default_value = "DTR <dtr@localhost>")]
    pub smtp_from: String,
    /// The portal's public base URL (https://tilslutning.example.dk), which notification mails
    /// link to; `dtr up` uses its own.
    #[arg(long, env = "DTR_PORTAL_URL")]
    pub portal_url: Option<String>,
}

/// Redis, which is a cache and never a dependency: a process starts and serves without it.
#[derive(clap::Args, Clone)]
pub struct RedisArgs {
    /// Redis (`redis://host:port/`): code tables, change announcements and lock-out counters
    /// shared between processes; unset: each process keeps its own.
    #[arg(long, env = "DTR_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Longest a call waits on Redis, in milliseconds, before it falls back (database, service,
    /// in-process counter) and the connection is reopened in the background.
    #[arg(long, env = "DTR_REDIS_TIMEOUT_MS", default_value_t = 50)]
    pub redis_timeout_ms: u64,
}

impl Default for RedisArgs {
    fn default() -> Self {
        RedisArgs { redis_url: None, redis_timeout_ms: 50 }
    }
}

impl RedisArgs {
    /// A link kept in the background, or `None` without a URL; fails only on a malformed URL.
    pub fn link(&self, role: &'static str) -> anyhow::Result<Option<dtr_redislink::RedisLink>> {
        let bound = std::time::Duration::from_millis(self.redis_timeout_ms.max(1));
        self.redis_url
            .as_deref()
            .map(|url| dtr_redislink::RedisLink::start(url, role, bound).context("DTR_REDIS_URL"))
            .transpose()
    }
}

/// How long the gateway waits on a service before it answers "try again" (IPL000005) — or, for a
/// write whose answer was lost, "outcome unknown" (IPL000009).
#[derive(clap::Args, Clone)]
pub struct DeadlineArgs {
    /// Deadline of each call to a service, in milliseconds (for a full extract: until it starts).
    #[arg(long, env = "DTR_BACKEND_TIMEOUT_MS", default_value_t = 5000)]
    pub backend_timeout_ms: u64,
    /// Longest a full extract may go without a record from the export service, in milliseconds.
    #[arg(long, env = "DTR_STREAM_IDLE_TIMEOUT_MS", default_value_t = 10_000)]
    pub stream_idle_timeout_ms: u64,
}

#[derive(clap::Args, Clone)]
pub struct ServiceArgs {
    /// Address the gRPC server listens on (default: import :50051, export :50052, tilslutning :50053).
    #[arg(long, env = "DTR_GRPC_ADDR")]
    pub grpc_addr: Option<String>,
    /// `postgres://…` or `sqlite:…`.
    #[arg(long, env = "DTR_DATABASE_URL")]
    pub database_url: String,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    #[command(flatten)]
    pub lookups: LookupArgs,
    /// Import service: hours between periodic re-validations (rule 13); 0 turns them off.
    #[arg(long, env = "DTR_REVALIDATE_EVERY_HOURS", default_value_t = 720)]
    pub revalidate_every_hours: u64,
    /// Import service: the tilslutning service, which mails each owner the re-validation's
    /// findings; unset: findings are only stored.
    #[arg(long, env = "DTR_TILSLUTNING_URL")]
    pub tilslutning_url: Option<String>,
    /// Tilslutning service: the export service, whose change sequence it follows to keep the
    /// register's anvisningsenheder as DAGTILBUD organisations; unset: it does not follow.
    #[arg(long, env = "DTR_EXPORT_URL")]
    pub export_url: Option<String>,
    #[command(flatten)]
    pub tilslutning: TilslutningArgs,
    #[command(flatten)]
    pub pki: crate::pki::PkiArgs,
    /// `dtr bench trust` only (through `dtr up`, on loopback): plain-text gRPC, to measure what
    /// mutual TLS costs. The guard still checks every token.
    #[arg(skip)]
    pub bench_plaintext: bool,
    /// `dtr up` hands import and export one in-process code-table cache, so a change made
    /// through the import service is seen by the export service at once.
    #[arg(skip)]
    pub shared_cache: Option<Arc<CodeTableCache>>,
    /// `dtr up` hands the tilslutning service and the gateway one in-process change channel, so
    /// the gateway's cached decisions are dropped at once.
    #[arg(skip)]
    pub shared_changes: Option<tokio::sync::broadcast::Sender<()>>,
    /// `dtr up`: the register's generation, raised by the import service's writes; the export
    /// service answers lookups by number from memory while it stands.
    #[arg(skip)]
    pub shared_generation: Option<Arc<dtr_registry::opslag::Generation>>,
    /// `dtr up`: where the service hands its guarded stack to the gateway in the same process,
    /// which then calls it without a socket.
    #[arg(skip)]
    pub local: Option<tokio::sync::mpsc::UnboundedSender<(Which, dtr_trust::LocalService)>>,
}

#[derive(clap::Args, Clone)]
pub struct RevalidateArgs {
    #[arg(long, env = "DTR_DATABASE_URL")]
    pub database_url: String,
    /// The tilslutning service, which mails each owner its findings; unset: only stored.
    #[arg(long, env = "DTR_TILSLUTNING_URL")]
    pub tilslutning_url: Option<String>,
    #[command(flatten)]
    pub lookups: LookupArgs,
    /// Findings are handed over as the operator: the admin certificate and key.
    #[command(flatten)]
    pub pki: crate::pki::PkiArgs,
}

pub async fn run_revalidate(a: RevalidateArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr-revalidate");
    let store = dtr_registry::storage::connect(&a.database_url).await.context("registry database")?;
    store.migrate().await.context("registry migrations")?;
    let registry = Registry::new(store, Arc::new(CodeTableCache::in_process()), a.lookups.build()?);
    // Every unit counted, closed ones too: the bar ends a little short of a register with many.
    let (dag, enh, alt) = registry.store().count_units().await.context("counting the units")?;
    let fremdrift = crate::fremdrift::Fremdrift::new("kontrolleret", (dag + enh + alt) as u64);
    let report = registry.revalidate_med_fremdrift(&|n| fremdrift.skridt(n)).await.context("re-validation")?;
    fremdrift.slut();
    println!(
        "re-validation {}: {} active units checked, {} findings",
        report.koersel_id,
        report.antal_enheder,
        report.fund.len()
    );
    for f in &report.fund {
        println!("  {} {} (kommune {}): {} {}", f.enhedstype.as_str(), f.nummer, f.adm_kommune_kode, f.kode, f.besked);
    }
    if let Some(url) = &a.tilslutning_url {
        let operator = crate::admin::Operator::load(&a.pki.existing()?)?;
        let owners = crate::registerfund::hand_over(&operator.credentials, &operator.principal, url, &report).await?;
        println!("findings mailed to {owners} owners");
    }
    Ok(())
}

/// Runs the re-validation when the last run is older than `every`, checking once an hour.
async fn revalidation_schedule(
    registry: Registry,
    every: std::time::Duration,
    tilslutning: Option<(String, dtr_trust::PartCredentials)>,
) {
    loop {
        let due = match registry.store().latest_revalidation().await {
            Ok(Some(last)) => {
                chrono::Utc::now() - last.startet >= chrono::Duration::from_std(every).unwrap_or_default()
            }
            Ok(None) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the last re-validation");
                false
            }
        };
        if due {
            match registry.revalidate().await {
                Ok(report) => {
                    if let Some((url, credentials)) = &tilslutning
                        && let Err(e) =
                            crate::registerfund::hand_over(credentials, &credentials.own_principal(), url, &report)
                                .await
                    {
                        tracing::warn!(error = %e, koersel_id = report.koersel_id, "re-validation findings not mailed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "scheduled re-validation failed; trying again later"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// Where the import rules look addresses (DAR) and P-numbers (CVR) up.
#[derive(clap::Args, Clone, Default)]
pub struct LookupArgs {
    /// Base URL of DAWA/DAR's address lookup (e.g. https://api.dataforsyningen.dk); local
    /// reference data when unset.
    #[arg(long, env = "DTR_DAR_URL")]
    pub dar_url: Option<String>,
    /// Base URL of the CVR distribution API; local reference data when unset.
    #[arg(long, env = "DTR_CVR_URL")]
    pub cvr_url: Option<String>,
    #[arg(long, env = "DTR_CVR_USER")]
    pub cvr_user: Option<String>,
    #[arg(long, env = "DTR_CVR_PASSWORD", hide_env_values = true)]
    pub cvr_password: Option<String>,
    /// Directory with dar.csv and cvr.csv; the shipped demo set when unset.
    #[arg(long, env = "DTR_REFERENCE_DIR")]
    pub reference_dir: Option<PathBuf>,
    /// How long a DAR or CVR lookup may take, in milliseconds.
    #[arg(long, env = "DTR_LOOKUP_TIMEOUT_MS", default_value_t = 5000)]
    pub lookup_timeout_ms: u64,
}

impl LookupArgs {
    pub fn build(&self) -> anyhow::Result<Lookups> {
        use dtr_registry::lookup::http::{CvrClient, DawaClient};
        use dtr_registry::lookup::local::LocalReference;
        let timeout = std::time::Duration::from_millis(self.lookup_timeout_ms);
        let local = match &self.reference_dir {
            Some(dir) => LocalReference::from_dir(dir)?,
            None => LocalReference::demo()?,
        };
        let local = Arc::new(local);
        let dar: Arc<dyn dtr_registry::lookup::Dar> = match &self.dar_url {
            Some(url) => Arc::new(DawaClient::new(url, timeout)?),
            None => local.clone(),
        };
        let credentials = self.cvr_user.clone().zip(self.cvr_password.clone());
        let cvr: Arc<dyn dtr_registry::lookup::Cvr> = match &self.cvr_url {
            Some(url) => Arc::new(CvrClient::new(url, timeout, credentials)?),
            None => local,
        };
        Ok(Lookups { dar, cvr })
    }
}

#[derive(clap::Args, Clone)]
pub struct GatewayArgs {
    #[arg(long, env = "DTR_HTTPS_ADDR", default_value = "0.0.0.0:8443")]
    pub https_addr: String,
    #[arg(long, env = "DTR_IMPORT_URL", default_value = "https://127.0.0.1:50051")]
    pub import_url: String,
    #[arg(long, env = "DTR_EXPORT_URL", default_value = "https://127.0.0.1:50052")]
    pub export_url: String,
    #[arg(long, env = "DTR_TILSLUTNING_URL", default_value = "https://127.0.0.1:50053")]
    pub tilslutning_url: String,
    #[command(flatten)]
    pub pki: crate::pki::PkiArgs,
    /// See `ServiceArgs::bench_plaintext`.
    #[arg(skip)]
    pub bench_plaintext: bool,
    /// PEM certificate chain; with --tls-key. Without them a self-signed pair is kept in --data-dir.
    #[arg(long, env = "DTR_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, env = "DTR_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    pub data_dir: PathBuf,
    /// Public base URL for WSDL addresses (e.g. https://dtr.example.dk); else from each request.
    #[arg(long, env = "DTR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Addresses of reverse proxies whose X-Forwarded-Host/-Proto are believed (comma-separated);
    /// anyone else's are ignored.
    #[arg(long, env = "DTR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Largest request body in bytes.
    #[arg(long, env = "DTR_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Redis through which the tilslutning service announces changes; without it (and outside
    /// `dtr up`) the gateway caches no decisions and asks on every call.
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    #[command(flatten)]
    pub deadlines: DeadlineArgs,
    /// Longest a cached authentication or access decision lives, in milliseconds, even if no
    /// change is announced; 0 turns the decision cache off.
    #[arg(long, env = "DTR_DECISION_CACHE_MS", default_value_t = 5000)]
    pub decision_cache_ms: u64,
    #[arg(skip)]
    pub shared_changes: Option<tokio::sync::broadcast::Sender<()>>,
    /// `dtr up`: the services in this process, called without a socket.
    #[arg(skip)]
    pub local: Option<dtr_trust::LocalServices>,
    #[command(flatten)]
    pub xml_limits: XmlLimitArgs,
    /// Failed logins of one username from one address that lock that pair out; 0 = no lock-out.
    #[arg(long, env = "DTR_LOCKOUT_FAILURES", default_value_t = 10)]
    pub lockout_failures: u32,
    /// How long a lock-out lasts, counted from the first failure, in seconds.
    #[arg(long, env = "DTR_LOCKOUT_SECONDS", default_value_t = 300)]
    pub lockout_seconds: u64,
    #[command(flatten)]
    pub portal: crate::portal::PortalSettings,
}

/// Limits the gateway's SOAP parser enforces while it reads a request.
#[derive(clap::Args, Clone)]
pub struct XmlLimitArgs {
    /// Deepest element nesting.
    #[arg(long, env = "DTR_XML_MAX_DEPTH", default_value_t = 64)]
    pub xml_max_depth: usize,
    /// Most elements in one request.
    #[arg(long, env = "DTR_XML_MAX_ELEMENTS", default_value_t = 10_000)]
    pub xml_max_elements: usize,
    /// Longest text of one element, in bytes.
    #[arg(long, env = "DTR_XML_MAX_TEXT_BYTES", default_value_t = 64 * 1024)]
    pub xml_max_text_bytes: usize,
    /// Most attributes (namespace declarations included) on one element.
    #[arg(long, env = "DTR_XML_MAX_ATTRIBUTES", default_value_t = 64)]
    pub xml_max_attributes: usize,
    /// Longest attribute value, in bytes.
    #[arg(long, env = "DTR_XML_MAX_ATTRIBUTE_BYTES", default_value_t = 4096)]
    pub xml_max_attribute_bytes: usize,
}

impl XmlLimitArgs {
    fn limits(&self) -> dtr_gateway::soap::Limits {
        dtr_gateway::soap::Limits {
            max_depth: self.xml_max_depth,
            max_elements: self.xml_max_elements,
            max_text_bytes: self.xml_max_text_bytes,
            max_attributes: self.xml_max_attributes,
            max_attribute_bytes: self.xml_max_attribute_bytes,
        }
    }
}

impl Default for XmlLimitArgs {
    fn default() -> Self {
        let l = dtr_gateway::soap::Limits::default();
        XmlLimitArgs {
            xml_max_depth: l.max_depth,
            xml_max_elements: l.max_elements,
            xml_max_text_bytes: l.max_text_bytes,
            xml_max_attributes: l.max_attributes,
            xml_max_attribute_bytes: l.max_attribute_bytes,
        }
    }
}

/// gRPC reflection advertising exactly what this server serves: v1, and v1alpha for Python's
/// reflection client.
fn reflection(
    which: Which,
) -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
    tonic_reflection::server::v1alpha::ServerReflectionServer<impl tonic_reflection::server::v1alpha::ServerReflection>,
)> {
    let own = match which {
        Which::Import => "dtr.import.v1.ImportService",
        Which::Export => "dtr.export.v1.ExportService",
        Which::Tilslutning => "dtr.tilslutning.v1.TilslutningService",
    };
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dtr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(own)
            .with_service_name("grpc.health.v1.Health")
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

pub async fn migrate_all(database_url: &str) -> anyhow::Result<()> {
    let registry = dtr_registry::storage::connect(database_url).await.context("registry database")?;
    registry.migrate().await.context("registry migrations")?;
    let tilslutning = dtr_tilslutning::connect(database_url).await.context("tilslutning database")?;
    tilslutning.migrate().await.context("tilslutning migrations")?;
    crate::catalogue::seed(tilslutning.as_ref()).await.context("service catalogue")?;
    Ok(())
}

/// Serves one gRPC service, with health and reflection, on `listener` until `shutdown`.
pub async fn serve(
    which: Which,
    listener: TcpListener,
    args: &ServiceArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let (reflection_v1, reflection_v1alpha) = reflection(which)?;
    // Only the deployment's own parts and consumers with a certificate from its CA connect;
    // the guard then checks every call's token against the service's table.
    let pki = args.pki.existing()?;
    let policy: dtr_trust::Policy = match which {
        Which::Import => dtr_import::policy::policy,
        Which::Export => dtr_export::policy::policy,
        Which::Tilslutning => dtr_tilslutning::grpc::policy::policy,
    };
    let (tls, guard) = dtr_trust::server(&pki, which.part(), policy).context("certificates")?;
    let mut builder = Server::builder();
    if args.bench_plaintext {
        tracing::warn!(service = which.name(), "plain-text gRPC for a benchmark: no mutual TLS");
    } else {
        builder = builder.tls_config(tls)?;
    }
    let mut router = builder
        .trace_fn(dtr_telemetry::grpc_server_span)
        .layer(crate::metrics::GrpcMetricsLayer { service: which.name(), via: "network" })
        .add_service(health.clone())
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    match which {
        Which::Import | Which::Export => {
            let store = dtr_registry::storage::connect(&args.database_url).await.context("registry database")?;
            store.migrate().await.context("registry migrations")?;
            let cache = match (&args.shared_cache, args.redis.link(which.name())?) {
                (Some(shared), _) => shared.clone(),
                (None, Some(link)) => Arc::new(CodeTableCache::redis(link)),
                (None, None) => Arc::new(CodeTableCache::in_process()),
            };
            let pool = store.clone();
            crate::metrics::sample_pool(which.name(), move || pool.pool_use());
            let mut registry = Registry::new(store.clone(), cache, args.lookups.build()?);
            if let Some(generation) = &args.shared_generation {
                registry = match which {
                    Which::Import => registry.announcing_writes(generation.clone()),
                    _ => {
                        // Writers outside this process are noticed by the change sequence.
                        let follow = dtr_registry::opslag::follow_change_sequence(store, generation.clone());
                        tokio::spawn(follow);
                        registry.with_lookups_in_memory(generation.clone())
                    }
                };
            } else if store.holds_reader_leases() {
                // Each service its own process: export instances answer lookups from memory
                // under a reader's lease, and writes wait for the leased readers.
                registry = match which {
                    Which::Import => registry.waiting_for_readers(),
                    _ => {
                        let generation = Arc::new(dtr_registry::opslag::Generation::leased());
                        tokio::spawn(dtr_registry::laesere::hold_lease(store, generation.clone()));
                        registry.with_lookups_in_memory(generation)
                    }
                };
            }
            if which == Which::Import {
                if args.revalidate_every_hours > 0 {
                    let every = std::time::Duration::from_secs(args.revalidate_every_hours * 3600);
                    let tilslutning = match &args.tilslutning_url {
                        Some(url) => {
                            Some((url.clone(), dtr_trust::PartCredentials::load(&pki, dtr_trust::Part::Import)?))
                        }
                        None => None,
                    };
                    tokio::spawn(revalidation_schedule(registry.clone(), every, tilslutning));
                }
                let store = registry.store().clone();
                follow_database::<ImportServiceServer<dtr_import::ImportGrpc>, _>(reporter.clone(), move || {
                    let store = store.clone();
                    async move { store.ping().await.is_ok() }
                });
                let service = guard.protect(ImportServiceServer::new(dtr_import::ImportGrpc::new(registry)));
                hand_over(args, which, tonic::service::Routes::new(health).add_service(service.clone()));
                router = router.add_service(service);
            } else {
                let store = registry.store().clone();
                follow_database::<ExportServiceServer<dtr_export::ExportGrpc>, _>(reporter.clone(), move || {
                    let store = store.clone();
                    async move { store.ping().await.is_ok() }
                });
                let service = guard.protect(ExportServiceServer::new(dtr_export::ExportGrpc::new(registry)));
                hand_over(args, which, tonic::service::Routes::new(health).add_service(service.clone()));
                router = router.add_service(service);
            }
        }
        Which::Tilslutning => {
            let store = dtr_tilslutning::connect(&args.database_url).await.context("tilslutning database")?;
            store.migrate().await.context("tilslutning migrations")?;
            let pool = store.clone();
            crate::metrics::sample_pool("tilslutning", move || pool.pool_use());
            crate::metrics::sample_outbox(store.clone());
            if let Some(url) = &args.export_url {
                let mut credentials = dtr_trust::PartCredentials::load(&pki, dtr_trust::Part::Tilslutning)?;
                if args.bench_plaintext {
                    credentials = credentials.without_tls();
                }
                tokio::spawn(crate::registerfoelger::foelg(store.clone(), url.clone(), credentials));
            }
            if let Some(url) = &args.tilslutning.smtp_url {
                let afsender = args.tilslutning.smtp_from.clone();
                let ca_file = args.tilslutning.smtp_ca_file.clone();
                let portal_url = args.tilslutning.portal_url.clone();
                let smtp = dtr_tilslutning::notifikation::Smtp { url: url.clone(), afsender, ca_file, portal_url };
                tokio::spawn(dtr_tilslutning::notifikation::deliver_forever(store.clone(), smtp));
            }
            use dtr_tilslutning::aendringer::Aendringer;
            let aendringer = match (&args.shared_changes, args.redis.link("tilslutning")?) {
                (Some(tx), _) => Aendringer::Lokal(tx.clone()),
                (None, Some(link)) => Aendringer::Redis(link),
                (None, None) => Aendringer::Ingen,
            };
            let pinged = store.clone();
            follow_database::<TilslutningServiceServer<dtr_tilslutning::TilslutningGrpc>, _>(
                reporter.clone(),
                move || {
                    let store = pinged.clone();
                    async move { store.ping().await.is_ok() }
                },
            );
            let service = dtr_tilslutning::TilslutningGrpc::new(store, args.tilslutning.full_extracts_per_day)
                .med_aendringer(aendringer);
            let service = guard.protect(TilslutningServiceServer::new(service));
            hand_over(args, which, tonic::service::Routes::new(health).add_service(service.clone()));
            router = router.add_service(service);
        }
    }
    tracing::info!(service = which.name(), addr = %listener.local_addr()?, "gRPC service listening");
    // TCP_NODELAY, as tonic's own listener sets it: HTTP/2 writes a call's frames as they come,
    // and with Nagle's algorithm a small last frame waits for the peer's delayed ACK (tens of
    // milliseconds on a lookup that takes one).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    router.serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}

/// Hands the service's routes (its guarded service and its health) to a gateway in this process,
/// with what the network server puts around them: the call's span and the metrics.
fn hand_over(args: &ServiceArgs, which: Which, routes: tonic::service::Routes) {
    let Some(to) = &args.local else { return };
    let stack = tower::ServiceBuilder::new()
        .layer(crate::metrics::GrpcMetricsLayer { service: which.name(), via: "local" })
        .service(Traced(routes.prepare()));
    let _ = to.send((which, dtr_trust::LocalService::new(stack)));
}

/// Runs each in-process call in the span the network server's `trace_fn` would give it.
#[derive(Clone)]
struct Traced<S>(S);

impl<S, B> tower::Service<http::Request<B>> for Traced<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use futures::FutureExt;
        use tracing::Instrument;
        let span = dtr_telemetry::grpc_server_span(&req);
        self.0.call(req).instrument(span).boxed()
    }
}

/// Keeps the service's health status in step with its database: SERVING while a ping answers
/// within a second (checked every second), NOT_SERVING otherwise, so readiness (the gateway's
/// `/readyz`, docker-compose) says what cannot serve.
fn follow_database<S, F>(reporter: tonic_health::server::HealthReporter, ping: impl Fn() -> F + Send + 'static)
where
    S: tonic::server::NamedService,
    F: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut was = None;
        loop {
            let up = tokio::time::timeout(std::time::Duration::from_secs(1), ping()).await.unwrap_or(false);
            if was != Some(up) {
                if up {
                    reporter.set_serving::<S>().await;
                } else {
                    tracing::warn!(service = S::NAME, "database does not answer: health NOT_SERVING");
                    reporter.set_not_serving::<S>().await;
                }
                was = Some(up);
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

pub async fn run_alone(which: Which, args: ServiceArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init(&format!("dtr-{}", which.name()));
    crate::metrics::start(&args.metrics).await?;
    let addr = crate::parse_addr(args.grpc_addr.as_deref().unwrap_or(which.default_addr()))?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    // On SIGTERM the server takes no new calls and lets those in flight finish; a stream still
    // running after the bound is broken off (its client sees no clean end) and the process exits.
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        crate::shutdown_signal().await;
        tracing::info!(service = which.name(), "stopping: finishing calls in flight");
        let _ = stopping_tx.send(());
    };
    let bound = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_BOUND).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = serve(which, listener, &args, signal) => r,
        _ = bound => {
            tracing::warn!(service = which.name(), "calls still in flight after {SHUTDOWN_BOUND:?}; exiting");
            Ok(())
        }
    }
}

/// Longest a stopping service waits for its calls in flight.
const SHUTDOWN_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn start_gateway(
    args: &GatewayArgs,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = crate::parse_addr(&args.https_addr)?;
    let tls = dtr_gateway::tls::rustls_config(args.tls_cert.as_deref(), args.tls_key.as_deref(), &args.data_dir)
        .await
        .context("TLS")?;
    let mut credentials = dtr_trust::PartCredentials::load(&args.pki.existing()?, dtr_trust::Part::Gateway)
        .context("the gateway's certificate and token key")?;
    if args.bench_plaintext {
        credentials = credentials.without_tls();
    }
    let mut cfg = dtr_gateway::GatewayConfig::new(
        args.import_url.clone(),
        args.export_url.clone(),
        args.tilslutning_url.clone(),
        credentials,
    );
    cfg.public_url = args.public_url.clone();
    cfg.trusted_proxies = args.trusted_proxies.clone();
    cfg.max_body_bytes = args.max_body_bytes;
    cfg.decision_ttl = std::time::Duration::from_millis(args.decision_cache_ms);
    cfg.backend_timeout = std::time::Duration::from_millis(args.deadlines.backend_timeout_ms.max(1));
    cfg.stream_idle_timeout = std::time::Duration::from_millis(args.deadlines.stream_idle_timeout_ms.max(1));
    cfg.limits = args.xml_limits.limits();
    let redis = args.redis.link("gateway")?;
    cfg.invalidation = match (&args.shared_changes, &redis) {
        (Some(tx), _) => dtr_gateway::decisions::Invalidation::Local(tx.clone()),
        (None, Some(link)) => dtr_gateway::decisions::Invalidation::Redis(link.clone()),
        (None, None) => dtr_gateway::decisions::Invalidation::None,
    };
    cfg.redis = redis;
    cfg.local = args.local.clone();
    cfg.lockout = dtr_gateway::lockout::LockoutPolicy {
        max_failures: args.lockout_failures,
        period: std::time::Duration::from_secs(args.lockout_seconds),
    };
    let state = dtr_gateway::AppState::new(cfg).await.context("service addresses")?;
    let portal = portal_router(args)?;
    // "Listening" only once the socket is bound: a second instance on a taken port says nothing
    // of the kind before it fails.
    let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    tokio::spawn(async move {
        if let Ok(a) = rx.await {
            tracing::info!(addr = %a, "gateway listening (HTTPS)");
            if let Some(bound) = bound {
                let _ = bound.send(a);
            }
        }
    });
    dtr_gateway::serve(addr, tls, state, portal, Some(tx), shutdown).await.with_context(|| format!("serving on {addr}"))
}

/// The portal, served beside the SOAP endpoints on the gateway's listener at `/`.
fn portal_router(args: &GatewayArgs) -> anyhow::Result<axum::Router> {
    let lockout = dtr_gateway::lockout::LockoutPolicy {
        max_failures: args.lockout_failures,
        period: std::time::Duration::from_secs(args.lockout_seconds),
    };
    let pki = args.pki.existing()?;
    let at = crate::portal::Where {
        tilslutning_url: &args.tilslutning_url,
        export_url: &args.export_url,
        import_url: &args.import_url,
        public_url: args.public_url.as_deref(),
    };
    args.portal.router(&pki, at, lockout, args.bench_plaintext)
}

pub async fn run_gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr-gateway");
    crate::metrics::start(&args.metrics).await?;
    start_gateway(&args, None, crate::shutdown_signal()).await
}
