//! The gateway's HTTP routes and the HTTPS server around them.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode, header};

use dtr_proto::context::{CallerContext, Principal};

use crate::correlation::{self, CorrelationId};
use crate::endpoint::Endpoint;
use crate::pipeline::{self, Authenticated, SoapFault, SoapRequest};
use crate::state::AppState;
use crate::{access, csv_export, wsdl};

/// The gateway's HTTP routes, without sockets (tests drive it with `tower::ServiceExt::oneshot`).
pub fn app(state: AppState) -> Router {
    let csv = csv.layer(middleware::from_fn(|req: Request, next: Next| {
        correlation::run_in_span(req, next, |cid| tracing::info_span!("csv", correlation_id = %cid))
    }));
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        // Public: no login (docs/registry.md §4).
        .route("/csv/{file}", get(csv));
    for ep in Endpoint::ALL {
        let max_body = state.config.max_body_bytes;
        let soap = soap
            .layer(middleware::from_fn(move |req: Request, next: Next| pipeline::soap_span(ep, max_body, req, next)));
        let wsdl = move |state: State<AppState>, parts: http::request::Parts, q: Query<Vec<(String, String)>>| async move {
            wsdl_response(&state, &parts, &q, ep)
        };
        router = router.route(ep.path(), get(wsdl).post(soap));
    }
    router.layer(middleware::map_response(security_headers)).with_state(state)
}

/// Every answer: HTTPS only from now on (the gateway serves nothing over plain HTTP), and no
/// content-type sniffing. SOAP answers also forbid caching (`pipeline::soap_span`).
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::STRICT_TRANSPORT_SECURITY, http::HeaderValue::from_static("max-age=31536000"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    resp
}

/// Serves `app` — and `beside` it, on the same listener, e.g. the portal — over HTTPS until
/// `shutdown` resolves. `bound` learns the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    state: AppState,
    beside: Router,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(addr, tls, app(state).merge(beside), bound, shutdown).await
}

/// Serves `router` over HTTPS until `shutdown` resolves (in-flight requests get 10 seconds).
/// `bound` learns the bound address once the socket is bound.
pub async fn serve_router(
    addr: SocketAddr,
    tls: axum_server::tls_rustls::RustlsConfig,
    router: Router,
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
    // TCP_NODELAY: an answer's last small write must not wait for the client's delayed ACK.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(axum_server::accept::NoDelayAcceptor);
    axum_server::bind(addr)
        .acceptor(acceptor)
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// One SOAP call: the caller is authenticated and the request parsed by the extractors; here
/// access is decided and the call sent to its service.
async fn soap(
    State(state): State<AppState>,
    Authenticated(system): Authenticated,
    request: SoapRequest,
) -> Result<Response, SoapFault> {
    let SoapRequest { endpoint, version, call, correlation_id, message_id } = request;
    let ctx = CallerContext {
        principal: Principal::System { id: system.id.clone(), udbyder: system.udbyder_kode.clone() },
        correlation_id: correlation_id.clone(),
        regelsaet: endpoint.regelsaet(),
        // Only writes are retried by key; a read is safe to repeat anyway.
        message_id: if call.is_write() { message_id } else { None },
    };
    let fault = |error| SoapFault { version, error, correlation_id: correlation_id.clone() };
    access::check(&state.clients, &state.decisions, &system, &call, &ctx).await.map_err(&fault)?;
    let answer = call.send(&state.clients, &ctx, endpoint.namespace()).await.map_err(&fault)?;
    Ok(pipeline::answer(version, answer))
}

/// Ready to serve: every service answers its health check within a second. 503 names those that
/// do not (docker-compose and load balancers route by this; `/healthz` only says the process lives).
/// Redis is a cache: without it the gateway serves (degraded) and says so on a second line.
async fn readyz(State(state): State<AppState>) -> Response {
    let missing = state.clients.not_ready(Duration::from_secs(1)).await;
    let redis = match &state.config.redis {
        None => "",
        Some(link) if link.is_up() && state.decisions.is_subscribed() => "\nredis: forbundet",
        Some(_) => "\nredis: ikke forbundet (kører uden delt cache)",
    };
    if missing.is_empty() {
        (StatusCode::OK, format!("klar{redis}")).into_response()
    } else {
        let text = format!("ikke klar: {} svarer ikke{redis}", missing.join(", "));
        (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
    }
}

async fn csv(
    State(state): State<AppState>,
    axum::Extension(cid): axum::Extension<CorrelationId>,
    Path(file): Path<String>,
) -> Response {
    csv_export::response(&state.clients, &file, &cid.0).await
}

/// `?wsdl` (any case) gives the WSDL, `?xsd` the schema it imports.
fn wsdl_response(state: &AppState, parts: &http::request::Parts, q: &[(String, String)], ep: Endpoint) -> Response {
    let asked = |name: &str| q.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let body = if asked("wsdl") {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        let proxied = peer.is_some_and(|ip| state.config.trusted_proxies.contains(&ip));
        let base =
            state.config.public_url.clone().unwrap_or_else(|| base_url(&parts.headers, parts.uri.authority(), proxied));
        wsdl::wsdl(ep, &format!("{}{}", base.trim_end_matches('/'), ep.path()))
    } else if asked("xsd") {
        wsdl::xsd(ep)
    } else {
        return (StatusCode::NOT_FOUND, "Hent WSDL med ?wsdl, eller send SOAP-kald med POST.").into_response();
    };
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// Scheme and host the client used. A trusted proxy's X-Forwarded-* headers count (`proxied`);
/// anyone else's are ignored, so a client cannot point the WSDL's addresses elsewhere. HTTP/2 has
/// no Host header: there the request's `:authority` tells.
fn base_url(headers: &HeaderMap, authority: Option<&http::uri::Authority>, proxied: bool) -> String {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(|s| s.split(',').next().unwrap_or("").trim());
    let forwarded = |k: &str| if proxied { h(k) } else { None };
    let proto = forwarded("x-forwarded-proto").filter(|p| *p == "http" || *p == "https").unwrap_or("https");
    let host = forwarded("x-forwarded-host")
        .or_else(|| h("host"))
        .or_else(|| authority.map(http::uri::Authority::as_str))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}
