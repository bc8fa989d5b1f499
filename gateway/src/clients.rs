//! gRPC clients of the three services, and the requests the gateway sends them.

use std::time::Duration;

use tonic::transport::Channel;

use dtr_trust::{Part, PartCredentials, SignedChannel};

use dtr_proto::context::CallerContext;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;

use crate::config::GatewayConfig;

/// Longest a full extract may stream.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Channels connect lazily and reconnect by themselves, so the gateway starts before the
/// services and recovers when one comes back.
#[derive(Clone)]
pub struct Clients {
    import: ImportServiceClient<SignedChannel>,
    export: ExportServiceClient<SignedChannel>,
    tilslutning: TilslutningServiceClient<SignedChannel>,
    timeout: Duration,
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
    pub fn new(cfg: &GatewayConfig) -> Result<Self, dtr_trust::TrustError> {
        let c = &cfg.credentials;
        Ok(Clients::from_channels(
            c,
            channel(c, &cfg.import_url, Part::Import)?,
            channel(c, &cfg.export_url, Part::Export)?,
            channel(c, &cfg.tilslutning_url, Part::Tilslutning)?,
            cfg.backend_timeout,
        ))
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
        Clients {
            import: ImportServiceClient::new(credentials.signed(import, Part::Import)),
            export: ExportServiceClient::new(credentials.signed(export, Part::Export)),
            tilslutning: TilslutningServiceClient::new(credentials.signed(tilslutning, Part::Tilslutning)),
            timeout,
        }
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

    /// A request for a full extract: the deadline covers the whole stream, which runs as fast as
    /// the client reads, so it is long; a client that hangs up ends it sooner.
    pub fn extract_request<T>(&self, ctx: &CallerContext, msg: T) -> tonic::Request<T> {
        let mut req = self.request(ctx, msg);
        req.set_timeout(EXTRACT_TIMEOUT.max(self.timeout));
        req
    }
}
