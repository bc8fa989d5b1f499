//! `dtr healthcheck SERVICE`: exit 0 when the service answers its health check.

use std::time::Duration;

use anyhow::{Context, bail};
use dtr_trust::{Part, TlsMaterial};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Target {
    Gateway,
    Portal,
    Import,
    Export,
    Tilslutning,
}

#[derive(clap::Args)]
pub struct HealthcheckArgs {
    pub service: Target,
    /// Where the service listens (https://host:port).
    #[arg(long)]
    pub addr: Option<String>,
    /// Gateway: ask whether it can serve (`/readyz`: every service answers), not only whether it
    /// lives (`/healthz`).
    #[arg(long)]
    pub ready: bool,
    /// A gRPC service is asked over mutual TLS with its own certificate from here.
    #[command(flatten)]
    pub pki: crate::pki::PkiArgs,
}

pub async fn run(a: HealthcheckArgs) -> anyhow::Result<()> {
    let (default, grpc_name) = match a.service {
        Target::Gateway | Target::Portal => ("https://127.0.0.1:8443", None),
        Target::Import => ("https://127.0.0.1:50051", Some((Part::Import, "dtr.import.v1.ImportService"))),
        Target::Export => ("https://127.0.0.1:50052", Some((Part::Export, "dtr.export.v1.ExportService"))),
        Target::Tilslutning => {
            ("https://127.0.0.1:50053", Some((Part::Tilslutning, "dtr.tilslutning.v1.TilslutningService")))
        }
    };
    let addr = a.addr.as_deref().unwrap_or(default);
    match grpc_name {
        Some((part, name)) => grpc(&a.pki, part, addr, name).await,
        None => gateway(addr, if a.ready { "readyz" } else { "healthz" }).await,
    }
}

async fn grpc(pki: &crate::pki::PkiArgs, part: Part, addr: &str, service: &str) -> anyhow::Result<()> {
    let tls = TlsMaterial::part(&pki.existing()?, part).context("the service's certificate")?;
    let channel = tls
        .endpoint(addr, part)?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let resp = client
        .check(tonic_health::pb::HealthCheckRequest { service: service.to_owned() })
        .await
        .context("health check")?
        .into_inner();
    if resp.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
        println!("{service}: SERVING");
        Ok(())
    } else {
        bail!("{service}: not serving (status {})", resp.status)
    }
}

async fn gateway(addr: &str, path: &str) -> anyhow::Result<()> {
    dtr_gateway::tls::install_crypto_provider();
    // The health check runs next to the gateway, often with its self-signed certificate.
    let client =
        reqwest::Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(3)).build()?;
    let resp = client.get(format!("{}/{path}", addr.trim_end_matches('/'))).send().await?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        println!("gateway: {text}");
        Ok(())
    } else {
        bail!("gateway: HTTP {status}: {text}")
    }
}
