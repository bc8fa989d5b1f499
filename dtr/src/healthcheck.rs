//! `dtr healthcheck SERVICE`: exit 0 when the service answers its health check.

use std::time::Duration;

use anyhow::{Context, bail};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Target {
    Gateway,
    Import,
    Export,
    Tilslutning,
}

#[derive(clap::Args)]
pub struct HealthcheckArgs {
    pub service: Target,
    /// Where the service listens (gRPC: http://host:port; gateway: https://host:port).
    #[arg(long)]
    pub addr: Option<String>,
}

pub async fn run(a: HealthcheckArgs) -> anyhow::Result<()> {
    let (default, grpc_name) = match a.service {
        Target::Gateway => ("https://127.0.0.1:8443", None),
        Target::Import => ("http://127.0.0.1:50051", Some("dtr.import.v1.ImportService")),
        Target::Export => ("http://127.0.0.1:50052", Some("dtr.export.v1.ExportService")),
        Target::Tilslutning => ("http://127.0.0.1:50053", Some("dtr.tilslutning.v1.TilslutningService")),
    };
    let addr = a.addr.as_deref().unwrap_or(default);
    match grpc_name {
        Some(name) => grpc(addr, name).await,
        None => gateway(addr).await,
    }
}

async fn grpc(addr: &str, service: &str) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(addr.to_owned())?
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

async fn gateway(addr: &str) -> anyhow::Result<()> {
    dtr_gateway::tls::install_crypto_provider();
    // The health check runs next to the gateway, often with its self-signed certificate.
    let client =
        reqwest::Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(3)).build()?;
    let resp = client.get(format!("{}/healthz", addr.trim_end_matches('/'))).send().await?;
    if resp.status().is_success() {
        println!("gateway: ok");
        Ok(())
    } else {
        bail!("gateway: HTTP {}", resp.status())
    }
}
