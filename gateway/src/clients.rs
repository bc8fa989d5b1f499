//! gRPC clients of the three services, and the requests the gateway sends them.

use std::time::Duration;

use tonic::transport::Channel;

use dtr_trust::{Part, PartCredentials, SignedChannel, Transport};
use tonic_health::pb::health_client::HealthClient;

use dtr_proto::context::CallerContext;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;

use crate::config::GatewayConfig;

/// Channels connect lazily and reconnect by themselves, so the gateway starts before the
/// services and recovers when one comes back.
#[derive(Clone)]
pub struct Clients {
    import: ImportServiceClient<SignedChannel>,
    export: ExportServiceClient<SignedChannel>,
    tilslutning: TilslutningServiceClient<SignedChannel>,
    /// Each service's standard health check, for the gateway's readiness.
    health: [(&'static str, &'static str, HealthClient<SignedChannel>); 3],
    timeout: Duration,
    stream_idle: Duration,
}

/// The next record of a streamed answer, or "deadline exceeded" when none comes within `idle`:
/// a stream has no total deadline (it runs as fast as the client reads) but may not stall.
pub async fn next_record<T>(stream: &mut tonic::Streaming<T>, idle: Duration) -> Result<Option<T>, tonic::Status> {
    match tokio::time::timeout(idle, stream.message()).await {
        Ok(r) => r,
        Err(_) => Err(tonic::Status::deadline_exceeded("the service sent nothing within the stream's idle deadline")),
    }
}

/// A mutual-TLS channel to `target`.
fn channel(credentials: &PartCredentials, url: &str, target: Part) -> Result<Channel, dtr_trust::TrustError> {
    Ok(credentials
        .endpoint(url, target)?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        // Full extracts stream megabytes: HTTP/2's default 64 KiB window would stall the
        // sender on every window update.
        .initial_stream_window_size(Some(2 << 20))
        .initial_connection_window_size(Some(4 << 20))
        .connect_lazy())
}

impl Clients {
    /// Clients of the services at the configured addresses, or — when they run in this process
    /// (`cfg.local`) — straight into their guarded services, with no socket between.
    pub fn new(cfg: &GatewayConfig) -> Result<Self, dtr_trust::TrustError> {
        let c = &cfg.credentials;
        let (import, export, tilslutning) = match &cfg.local {
            Some(l) => (
                Transport::Local(l.import.clone()),
                Transport::Local(l.export.clone()),
                Transport::Local(l.tilslutning.clone()),
            ),
            None => (
                Transport::Net(channel(c, &cfg.import_url, Part::Import)?),
                Transport::Net(channel(c, &cfg.export_url, Part::Export)?),
                Transport::Net(channel(c, &cfg.tilslutning_url, Part::Tilslutning)?),
            ),
        };
        Ok(Clients::from_transports(c, import, export, tilslutning, cfg.backend_timeout)
            .with_stream_idle(cfg.stream_idle_timeout))
    }

    /// Clients over channels made elsewhere (in-memory ones in tests); every call is signed
    /// with `credentials` for its service.
    pub fn from_channels(
        credentials: &PartCredentials,
        import: Channel,
        export: Channel,
        tilslutning: Channel,
        timeout: Duration,
    ) -> Self {
        let net = Transport::Net;
        Self::from_transports(credentials, net(import), net(export), net(tilslutning), timeout)
    }

    fn from_transports(
        credentials: &PartCredentials,
        import: Transport,
        export: Transport,
        tilslutning: Transport,
        timeout: Duration,
    ) -> Self {
        let (import, export, tilslutning) = (
            credentials.signed_over(import, Part::Import),
            credentials.signed_over(export, Part::Export),
            credentials.signed_over(tilslutning, Part::Tilslutning),
        );
        Clients {
            health: [
                ("import", "dtr.import.v1.ImportService", HealthClient::new(import.clone())),
                ("export", "dtr.export.v1.ExportService", HealthClient::new(export.clone())),
                ("tilslutning", "dtr.tilslutning.v1.TilslutningService", HealthClient::new(tilslutning.clone())),
            ],
            import: ImportServiceClient::new(import),
            export: ExportServiceClient::new(export),
            tilslutning: TilslutningServiceClient::new(tilslutning),
            timeout,
            stream_idle: Duration::from_secs(10),
        }
    }

    /// Longest a streamed answer may go without a record.
    pub fn with_stream_idle(mut self, idle: Duration) -> Self {
        self.stream_idle = idle;
        self
    }

    pub fn stream_idle(&self) -> Duration {
        self.stream_idle
    }

    /// The services that do not answer their health check as serving within `within`.
    pub async fn not_ready(&self, within: Duration) -> Vec<&'static str> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        let checks = self.health.iter().map(|(name, service, client)| {
            let mut client = client.clone();
            let mut req = tonic::Request::new(HealthCheckRequest { service: (*service).to_owned() });
            req.set_timeout(within);
            async move {
                let ok = tokio::time::timeout(within, client.check(req))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .is_some_and(|r| r.into_inner().status() == ServingStatus::Serving);
                (!ok).then_some(*name)
            }
        });
        futures::future::join_all(checks).await.into_iter().flatten().collect()
    }

    pub fn import(&self) -> ImportServiceClient<SignedChannel> {
        self.import.clone()
    }

    pub fn export(&self) -> ExportServiceClient<SignedChannel> {
        self.export.clone()
    }

    pub fn tilslutning(&self) -> TilslutningServiceClient<SignedChannel> {
        self.tilslutning.clone()
    }

    /// A request carrying the caller context (whose principal the channel signs), the trace
    /// context and the deadline.
    pub fn request<T>(&self, ctx: &CallerContext, msg: T) -> tonic::Request<T> {
        let mut req = ctx.request(msg);
        dtr_telemetry::inject_trace_context(req.metadata_mut());
        req.set_timeout(self.timeout);
        req
    }

    /// A request for a full extract. Its deadline bounds only the wait for the stream to open
    /// (gRPC deadlines cover the response's head); the records then come under the idle
    /// deadline of [`next_record`], as fast as the client reads.
    pub fn extract_request<T>(&self, ctx: &CallerContext, msg: T) -> tonic::Request<T> {
        self.request(ctx, msg)
    }
}
