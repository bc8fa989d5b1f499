//! gRPC clients of the three services, and the requests the gateway sends them.

use std::time::Duration;

use tonic::transport::Channel;

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
    import: ImportServiceClient<Channel>,
    export: ExportServiceClient<Channel>,
    tilslutning: TilslutningServiceClient<Channel>,
    timeout: Duration,
}

fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        // Full extracts stream megabytes: HTTP/2's default 64 KiB window would stall the
        // sender on every window update.
        .initial_stream_window_size(Some(2 << 20))
        .initial_connection_window_size(Some(4 << 20))
        .connect_lazy())
}

impl Clients {
    pub fn new(cfg: &GatewayConfig) -> Result<Self, tonic::transport::Error> {
        Ok(Clients::from_channels(
            channel(&cfg.import_url)?,
            channel(&cfg.export_url)?,
            channel(&cfg.tilslutning_url)?,
            cfg.backend_timeout,
        ))
    }

    /// Clients over channels made elsewhere (in-memory ones in tests).
    pub fn from_channels(import: Channel, export: Channel, tilslutning: Channel, timeout: Duration) -> Self {
        Clients {
            import: ImportServiceClient::new(import),
            export: ExportServiceClient::new(export),
            tilslutning: TilslutningServiceClient::new(tilslutning),
            timeout,
        }
    }

    pub fn import(&self) -> ImportServiceClient<Channel> {
        self.import.clone()
    }

    pub fn export(&self) -> ExportServiceClient<Channel> {
        self.export.clone()
    }

    pub fn tilslutning(&self) -> TilslutningServiceClient<Channel> {
        self.tilslutning.clone()
    }

    /// A request carrying the caller context, the trace context and the deadline.
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
