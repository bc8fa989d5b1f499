//! `dtr`: runs the DTR services — each alone (what docker-compose uses) or all in one process
//! (`dtr up`) — plus migrations, health checks and admin tasks.

mod admin;
mod backup;
mod bench;
mod bench_lookup;
mod bench_trust;
mod bench_write;
mod catalogue;
mod config;
mod demo;
mod demodata;
mod fremdrift;
mod grpc;
mod healthcheck;
mod legacy;
mod metrics;
mod pki;
mod portal;
mod registerfoelger;
mod registerfund;
mod up;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc, also in place of `malloc` for C code (the `override` feature), so SQLite's copies of
/// every value read go through it too: the extracts allocate and free many small values on
/// several threads at once, which glibc's allocator serialises on its arena locks and keeps
/// returning to the kernel (docs/bench/extract.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dtr", version, about = "Dagtilbudsregisteret: register, agreements and SOAP gateway")]
struct Cli {
    /// Optional config file of `DTR_…=value` lines; real environment variables win.
    #[arg(long, env = "DTR_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process on embedded defaults: SQLite, in-process cache, self-signed TLS.
    Up(up::UpArgs),
    /// The public HTTPS/SOAP gateway alone (with the portal beside it at `/`).
    Gateway(grpc::GatewayArgs),
    /// The portal alone, on its own HTTPS listener.
    Portal(portal::PortalArgs),
    /// The gRPC ImportService alone.
    Import(grpc::ServiceArgs),
    /// The gRPC ExportService alone.
    Export(grpc::ServiceArgs),
    /// The gRPC tilslutning service alone.
    Tilslutning(grpc::ServiceArgs),
    /// Applies the database migrations (registry and tilslutning schemas) and exits.
    Migrate {
        #[arg(long, env = "DTR_DATABASE_URL")]
        database_url: String,
    },
    /// Re-checks DAR, CVR and rule 6 over every active unit once and stores the findings
    /// (registry rule 13; the import service also runs it on a schedule). Changes nothing else.
    Revalidate(grpc::RevalidateArgs),
    /// Loads the units created before the register, with their own numbers, from a CSV in the
    /// public file format (samlet.csv's columns): the ImportService's rules, all or nothing.
    ImportLegacy(legacy::ImportLegacyArgs),
    /// A consistent copy of a running embedded (SQLite) register.
    Backup(backup::BackupArgs),
    /// Puts a copy made by `dtr backup` back (checked first; stop `dtr up` before).
    Restore(backup::RestoreArgs),
    /// Exits 0 when the named service answers its health check.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Fills a database with a synthetic register in the real proportions (tests, benchmarks).
    DemoData(demodata::DemoDataArgs),
    /// Benchmarks that write a report (use a release build).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Operator tasks against a running system.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The deployment's CA, certificates and token keys (mutual TLS and signed calls between
    /// the parts).
    #[command(subcommand)]
    Pki(pki::PkiCommand),
}

fn main() -> std::process::ExitCode {
    // The config file only fills variables the environment does not set; it must be read
    // before clap looks at the environment.
    if let Err(e) = config::load_from_args() {
        eprintln!("dtr: {e}");
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    let _ = &cli.config;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dtr: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Up(a) => up::run(a).await,
            Command::Gateway(a) => grpc::run_gateway(a).await,
            Command::Portal(a) => portal::run(a).await,
            Command::Import(a) => grpc::run_alone(grpc::Which::Import, a).await,
            Command::Export(a) => grpc::run_alone(grpc::Which::Export, a).await,
            Command::Tilslutning(a) => grpc::run_alone(grpc::Which::Tilslutning, a).await,
            Command::Migrate { database_url } => {
                let _t = dtr_telemetry::init("dtr-migrate");
                grpc::migrate_all(&database_url).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Revalidate(a) => grpc::run_revalidate(a).await,
            Command::ImportLegacy(a) => legacy::run(a).await,
            Command::Backup(a) => backup::backup(a).await,
            Command::Restore(a) => backup::restore(a).await,
            Command::Healthcheck(a) => healthcheck::run(a).await,
            Command::Admin(c) => admin::run(c).await,
            Command::Pki(c) => pki::run(c),
            Command::DemoData(a) => demodata::run(a).await,
            Command::Bench(c) => bench::run(c).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dtr: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub fn parse_addr(s: &str) -> anyhow::Result<SocketAddr> {
    s.parse().map_err(|_| anyhow::anyhow!("not a socket address (host:port): {s}"))
}
