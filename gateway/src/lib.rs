//! The public edge of DTR: HTTPS, HTTP Basic Authentication, SOAP 1.1/1.2 ↔ gRPC, WSDL.
//! It holds no business rules and owns no tables: every answer comes from a service.

pub mod access;
pub mod auth;
pub mod csv_export;
pub mod decisions;
pub mod error;
pub mod lockout;
pub mod ops;
pub mod soap;
pub mod tls;
pub mod wsdl;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tonic::transport::Channel;
use tracing::Instrument;

use dtr_proto::context::{CallerContext, Regelsaet};
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;

use crate::error::GatewayError;
use crate::soap::{Limits, SoapVersion};

pub const IMPORT_PATH: &str = "/services/DTR/ImportService/v2";
pub const EXPORT_PATH: &str = "/services/DTR/ExportService/v2";
pub const IMPORT_V1_PATH: &str = "/services/DTR/ImportService/v1";
pub const EXPORT_V1_PATH: &str = "/services/DTR/ExportService/v1";
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// Longest a full extract may stream.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The SOAP services the gateway publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapService {
    Import,
    Export,
}

impl SoapService {
    pub fn name(self) -> &'static str {
        match self {
            SoapService::Import => "ImportService",
            SoapService::Export => "ExportService",
        }
    }
}

/// Versions of the published interface, live side by side. v1 differs from v2 only in skipping
/// the cross-validation (registry.md rule 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// One published SOAP endpoint: a service in one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub service: SoapService,
    pub version: ApiVersion,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint { service: SoapService::Import, version: ApiVersion::V2 },
        Endpoint { service: SoapService::Export, version: ApiVersion::V2 },
        Endpoint { service: SoapService::Import, version: ApiVersion::V1 },
        Endpoint { service: SoapService::Export, version: ApiVersion::V1 },
    ];

    pub fn path(self) -> &'static str {
        match (self.service, self.version) {
            (SoapService::Import, ApiVersion::V2) => IMPORT_PATH,
            (SoapService::Export, ApiVersion::V2) => EXPORT_PATH,
            (SoapService::Import, ApiVersion::V1) => IMPORT_V1_PATH,
            (SoapService::Export, ApiVersion::V1) => EXPORT_V1_PATH,
        }
    }

    /// The target namespace of the endpoint's messages.
    pub fn namespace(self) -> &'static str {
        match (self.service, self.version) {
            (SoapService::Import, ApiVersion::V2) => "urn:dtr:import:v2",
            (SoapService::Export, ApiVersion::V2) => "urn:dtr:export:v2",
            (SoapService::Import, ApiVersion::V1) => "urn:dtr:import:v1",
            (SoapService::Export, ApiVersion::V1) => "urn:dtr:export:v1",
        }
    }

    pub fn regelsaet(self) -> Regelsaet {
        match self.version {
            ApiVersion::V1 => Regelsaet::V1,
            ApiVersion::V2 => Regelsaet::V2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub import_url: String,
    pub export_url: String,
    pub tilslutning_url: String,
    /// Public base URL (`https://host:port`) for WSDL addresses; else taken from the request.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub limits: Limits,
    /// Longest a backend call may take.
    pub backend_timeout: Duration,
    /// Where the decision cache learns of tilslutning changes; `None` caches nothing.
    pub invalidation: decisions::Invalidation,
    /// Longest a cached decision lives even without a change message; zero caches nothing.
    pub decision_ttl: Duration,
    /// Redis for the lock-out counters shared by several gateways; else counted in process.
    pub redis_url: Option<String>,
    pub lockout: lockout::LockoutPolicy,
}

impl GatewayConfig {
    pub fn new(import_url: String, export_url: String, tilslutning_url: String) -> Self {
        GatewayConfig {
            import_url,
            export_url,
            tilslutning_url,
            public_url: None,
            max_body_bytes: 10 * 1024 * 1024,
            limits: Limits::default(),
            backend_timeout: Duration::from_secs(30),
            invalidation: decisions::Invalidation::None,
            decision_ttl: Duration::from_secs(5),
            redis_url: None,
            lockout: lockout::LockoutPolicy::default(),
        }
    }
}

/// gRPC clients of the services. Channels connect lazily and reconnect by themselves, so the
/// gateway starts before the services and recovers when one comes back.
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
        Ok(Clients {
            import: ImportServiceClient::new(channel(&cfg.import_url)?),
            export: ExportServiceClient::new(channel(&cfg.export_url)?),
            tilslutning: TilslutningServiceClient::new(channel(&cfg.tilslutning_url)?),
            timeout: cfg.backend_timeout,
        })
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

struct Inner {
    clients: Clients,
    config: GatewayConfig,
    decisions: Arc<decisions::DecisionCache>,
    lockout: lockout::Lockout,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Connects what the gateway needs besides the services (Redis for the lock-out counters;
    /// without it they are counted in process). The decision cache's subscription runs on its own
    /// task.
    pub async fn new(config: GatewayConfig) -> Result<Self, tonic::transport::Error> {
        let decisions = decisions::DecisionCache::new(config.invalidation.clone(), config.decision_ttl);
        let redis = match &config.redis_url {
            Some(url) => match lockout_redis(url).await {
                Ok(conn) => Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "Redis unreachable at start; lock-out counted in this process only");
                    None
                }
            },
            None => None,
        };
        let lockout = lockout::Lockout::new(config.lockout, redis);
        Ok(AppState(Arc::new(Inner { clients: Clients::new(&config)?, config, decisions, lockout })))
    }
}

/// The gateway's HTTP routes, without sockets (tests drive it with `tower::ServiceExt`).
pub fn app(state: AppState) -> Router {
    let mut router = Router::new().route("/healthz", get(|| async { "ok" })).route(
        "/csv/{file}",
        // Public: no login (registry.md §4).
        get(|state: State<AppState>, headers: HeaderMap, file: axum::extract::Path<String>| async move {
            let cid = correlation_id(&headers);
            let span = tracing::info_span!("csv", correlation_id = %cid, file = %file.0);
            csv_export::response(&state.0.0.clients, &file.0, &cid).instrument(span).await
        }),
    );
    for ep in Endpoint::ALL {
        router =
            router.route(
                ep.path(),
                get(
                    move |state: State<AppState>,
                          headers: HeaderMap,
                          uri: http::Uri,
                          q: Query<Vec<(String, String)>>| async move {
                        wsdl_response(&state, &headers, uri.authority(), &q, ep)
                    },
                )
                .post(move |state: State<AppState>, request: axum::extract::Request| async move {
                    handle_soap(state.0, ep, request).await
                }),
            );
    }
    router.with_state(state)
}

/// Serves `app` over HTTPS until `shutdown` resolves. `bound` learns the bound address (useful
/// with port 0).
pub async fn serve(
    addr: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    state: AppState,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    if let Some(tx) = bound {
        let h = handle.clone();
        tokio::spawn(async move {
            if let Some(a) = h.listening().await {
                let _ = tx.send(a);
            }
        });
    }
    axum_server::bind_rustls(addr, tls)
        .handle(handle)
        .serve(app(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
}

fn correlation_id(headers: &HeaderMap) -> String {
    // A caller's own id is kept if it is short and plain; otherwise we issue one.
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// `?wsdl` (any case) gives the WSDL, `?xsd` the schema it imports.
fn wsdl_response(
    state: &AppState,
    headers: &HeaderMap,
    authority: Option<&http::uri::Authority>,
    q: &[(String, String)],
    ep: Endpoint,
) -> Response {
    let asked = |name: &str| q.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let body = if asked("wsdl") {
        let base = state.0.config.public_url.clone().unwrap_or_else(|| base_url(headers, authority));
        wsdl::wsdl(ep, &format!("{}{}", base.trim_end_matches('/'), ep.path()))
    } else if asked("xsd") {
        wsdl::xsd(ep)
    } else {
        return (StatusCode::NOT_FOUND, "Hent WSDL med ?wsdl, eller send SOAP-kald med POST.").into_response();
    };
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// Scheme and host the client used (honouring a proxy's X-Forwarded-* headers). HTTP/2 has no
/// Host header: there the request's `:authority` tells.
fn base_url(headers: &HeaderMap, authority: Option<&http::uri::Authority>) -> String {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(|s| s.split(',').next().unwrap_or("").trim());
    let proto = h("x-forwarded-proto").filter(|p| *p == "http" || *p == "https").unwrap_or("https");
    let host = h("x-forwarded-host")
        .or_else(|| h("host"))
        .or_else(|| authority.map(http::uri::Authority::as_str))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

async fn handle_soap(state: AppState, ep: Endpoint, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    // The TCP peer: lock-outs are per (username, address).
    let ip = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let cid = correlation_id(&headers);
    let span = tracing::info_span!("soap", correlation_id = %cid, service = ep.service.name(), path = ep.path(),
        operation = tracing::field::Empty, system = tracing::field::Empty);
    let mut resp = async {
        let hinted =
            headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(SoapVersion::from_content_type);
        let caller = auth::Caller { headers: &headers, ip, correlation_id: &cid };
        let system = match auth::authenticate(&state.0.clients, &state.0.decisions, &state.0.lockout, &caller).await {
            Ok(s) => s,
            Err(auth::AuthError::Denied) => {
                tracing::info!("authentication refused");
                return unauthorized();
            }
            Err(auth::AuthError::LockedOut(left)) => {
                tracing::info!(client = ?ip, "login locked out after repeated failures");
                return locked_out(left);
            }
            Err(auth::AuthError::Backend(s)) => {
                return fault_response(hinted.unwrap_or(SoapVersion::V11), &GatewayError::Backend(s), &cid);
            }
        };
        tracing::Span::current().record("system", system.id.as_str());
        match soap_call(&state, ep, &headers, hinted, body, &system, &cid).await {
            Ok((version, ops::Answer::Xml(xml))) => {
                ([(header::CONTENT_TYPE, version.content_type())], soap::xml::envelope(version, &xml)).into_response()
            }
            Ok((version, ops::Answer::Stream(content))) => {
                ([(header::CONTENT_TYPE, version.content_type())], streamed_envelope(version, content)).into_response()
            }
            Err((version, e)) => fault_response(version, &e, &cid),
        }
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&cid) {
        resp.headers_mut().insert(CORRELATION_HEADER, v);
    }
    resp
}

/// A streamed answer in its envelope, as a chunked body. A backend failure part-way is logged
/// and breaks the body off (no terminating chunk), so the client cannot take it for complete.
fn streamed_envelope(version: SoapVersion, content: ops::XmlStream) -> axum::body::Body {
    use futures::StreamExt;
    let head = futures::stream::once(async move { Ok(Bytes::from(soap::xml::envelope_head(version))) });
    let tail = futures::stream::once(async { Ok(Bytes::from_static(soap::xml::ENVELOPE_TAIL.as_bytes())) });
    let span = tracing::Span::current();
    let content = content.inspect(move |part| {
        if let Err(e) = part {
            span.in_scope(|| tracing::warn!(error = %e, "streamed answer broken off"));
        }
    });
    axum::body::Body::from_stream(head.chain(content).chain(tail))
}

/// Parses, dispatches and answers one call. Errors carry the SOAP version to answer in.
async fn soap_call(
    state: &AppState,
    ep: Endpoint,
    headers: &HeaderMap,
    hinted: Option<SoapVersion>,
    body: axum::body::Body,
    system: &auth::System,
    cid: &str,
) -> Result<(SoapVersion, ops::Answer), (SoapVersion, GatewayError)> {
    let guess = hinted.unwrap_or(SoapVersion::V11);
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("ingen");
    if ct.trim_start().to_ascii_lowercase().starts_with("multipart/related") {
        return Err((
            guess,
            GatewayError::MediaType(
                "MTOM/XOP (multipart/related) understøttes ikke: send beskeden som almindelig SOAP (text/xml eller application/soap+xml).".into(),
            ),
        ));
    }
    let Some(hinted) = hinted else {
        return Err((
            guess,
            GatewayError::MediaType(format!(
                "Content-Type {ct:?} er ikke SOAP: brug text/xml (SOAP 1.1) eller application/soap+xml (SOAP 1.2)."
            )),
        ));
    };
    let body = soap::request::read_body(body, headers, state.0.config.max_body_bytes).await.map_err(|e| {
        let e = match e {
            soap::request::BodyError::TooLarge => GatewayError::TooLarge,
            soap::request::BodyError::Broken => GatewayError::Schema("beskeden blev afbrudt under overførslen".into()),
        };
        (guess, e)
    })?;
    let text = soap::request::decode_body(&body, ct).map_err(|e| (guess, GatewayError::MediaType(e.to_string())))?;
    let env = soap::parse(&text, &state.0.config.limits).map_err(|e| (guess, e.into()))?;
    let version = env.version;
    if version != hinted {
        return Err((
            version,
            GatewayError::MediaType(format!(
                "Content-Type passer ikke til SOAP-versionen i Envelope: brug {} til denne Envelope.",
                version.content_type().split(';').next().unwrap_or_default()
            )),
        ));
    }
    let op = env.operation;
    tracing::Span::current().record("operation", op.name.as_str());
    // Dispatch is on the Body; a given action must agree with it (no action spoofing).
    let action = match version {
        SoapVersion::V11 => headers.get("soapaction").and_then(|v| v.to_str().ok()),
        SoapVersion::V12 => soap::request::content_type_param(ct, "action"),
    };
    if let Some(named) = soap::request::action_operation(action)
        && named != op.name
    {
        let action = action.unwrap_or_default().chars().take(200).collect();
        return Err((version, GatewayError::ActionMismatch { action, operation: op.name.clone() }));
    }
    if op.ns.as_deref() != Some(ep.namespace()) {
        return Err((
            version,
            GatewayError::UnknownOperation(format!("{{{}}}{}", op.ns.as_deref().unwrap_or(""), op.name)),
        ));
    }
    let ctx = CallerContext {
        system: system.id.clone(),
        organisation: None,
        correlation_id: cid.to_owned(),
        regelsaet: ep.regelsaet(),
    };
    let clients = &state.0.clients;
    access::check(clients, &state.0.decisions, system, ep, &op, &ctx).await.map_err(|e| (version, e))?;
    let ns = ep.namespace();
    let result = match ep.service {
        SoapService::Import => ops::import::call(clients, &op, &ctx, ns).await.map(ops::Answer::Xml),
        SoapService::Export => ops::export::call(clients, &op, &ctx, ns).await,
    };
    result.map(|xml| (version, xml)).map_err(|e| (version, e))
}

async fn lockout_redis(url: &str) -> Result<redis::aio::ConnectionManager, redis::RedisError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    redis::aio::ConnectionManager::new_with_config(redis::Client::open(url)?, config).await
}

/// Too many failed logins of this username from this address. Unknown usernames are locked out
/// alike, so this says nothing about who exists.
fn locked_out(left: Duration) -> Response {
    let secs = left.as_secs() + 1;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
        format!("For mange mislykkede login-forsøg fra denne adresse. Prøv igen om {secs} sekunder."),
    )
        .into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, r#"Basic realm="DTR", charset="UTF-8""#)],
        "Adgang nægtet: angiv systemets brugernavn og adgangskode (HTTP Basic).",
    )
        .into_response()
}

fn fault_response(version: SoapVersion, e: &GatewayError, cid: &str) -> Response {
    let fault = e.to_fault();
    match e {
        GatewayError::Backend(s) => {
            tracing::warn!(code = ?s.code(), message = %s.message(), fault = fault.code, "backend call failed")
        }
        other => tracing::info!(error = %other, fault = fault.code, "request refused"),
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = fault.to_xml(version, cid, &now);
    (fault.http_status(version), [(header::CONTENT_TYPE, version.content_type())], body).into_response()
}
