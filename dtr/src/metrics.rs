//! Prometheus metrics of every process, on an ops listener of its own (plain HTTP, `GET
//! /metrics`), apart from the public HTTPS and the gRPC ports: `--metrics-addr`,
//! `DTR_METRICS_ADDR`, default `127.0.0.1:9464`, `off` for none. The names and what they count
//! are described here, once, and listed in `docs/operations.md`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dtr_telemetry::handles::Handles;
use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

#[derive(clap::Args, Clone, Debug)]
pub struct MetricsArgs {
    /// Address of the Prometheus metrics listener (plain HTTP, `GET /metrics`; keep it on a
    /// private network); `off` turns it off.
    #[arg(long, env = "DTR_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,
}

/// Latency buckets, in seconds: from a cached lookup to a deadline.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn describe() {
    describe_counter!(
        "dtr_soap_requests_total",
        "SOAP calls by service, operation and outcome (ok, a fault code, unauthenticated, locked_out)"
    );
    describe_histogram!(
        "dtr_soap_request_duration_seconds",
        metrics::Unit::Seconds,
        "SOAP call latency to the answer's first byte, by service and operation"
    );
    describe_counter!("dtr_auth_total", "Basic-auth outcomes at the gateway (ok, denied, locked_out, unavailable)");
    describe_counter!("dtr_lockouts_total", "(username, address) pairs locked out after repeated failed logins");
    describe_counter!(
        "dtr_cache_requests_total",
        "Cache reads by cache (logins, access, code_tables, lookups) and result (hit, miss, bypass: Redis unavailable)"
    );
    describe_counter!("dtr_extracts_total", "Full extracts served through the gateway, by operation");
    describe_counter!(
        "dtr_grpc_requests_total",
        "gRPC calls served, by service, method, status code and via (network, or local from a gateway in the same process)"
    );
    describe_histogram!(
        "dtr_grpc_request_duration_seconds",
        metrics::Unit::Seconds,
        "gRPC call latency to the response head, by service and method"
    );
    describe_gauge!("dtr_db_pool_connections", "Database connections by pool and state (idle, in_use)");
    describe_gauge!("dtr_db_pool_max_connections", "Largest size of each database pool");
    describe_gauge!("dtr_outbox_depth", "Notification mails waiting in the outbox");
    describe_counter!("dtr_outbox_sent_total", "Notification mails delivered");
    describe_counter!("dtr_outbox_failures_total", "Failed mail delivery attempts (each is retried later)");
    describe_gauge!("dtr_redis_up", "1 while the process has a checked Redis connection, by role");
    describe_counter!("dtr_redis_connects_total", "Redis (re)connections, by role");
    describe_counter!("dtr_tilslutning_changes_total", "Tilslutning changes announced to the gateways over Redis");
    describe_counter!(
        "dtr_tilslutning_change_announcements_failed_total",
        "Change announcements Redis did not take at once (retried in the background)"
    );
}

/// Installs the process's recorder (before anything records) and serves it; a taken or
/// malformed address is an error, `off` serves nothing (the metrics are still kept).
pub async fn start(args: &MetricsArgs) -> anyhow::Result<()> {
    let handle = install()?;
    let addr = args.metrics_addr.trim();
    if addr.eq_ignore_ascii_case("off") || addr.is_empty() {
        return Ok(());
    }
    let addr: SocketAddr = crate::parse_addr(addr).context("DTR_METRICS_ADDR")?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the metrics listener on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening (GET /metrics)");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()) }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}

fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()
        .context("installing the metrics recorder")?;
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Keeps the gauges of a database pool (and, for the tilslutning service, the outbox) current.
pub fn sample_pool(pool: &'static str, use_of: impl Fn() -> dtr_migrations::PoolUse + Send + 'static) {
    tokio::spawn(async move {
        loop {
            let u = use_of();
            metrics::gauge!("dtr_db_pool_connections", "pool" => pool, "state" => "idle").set(f64::from(u.idle));
            metrics::gauge!("dtr_db_pool_connections", "pool" => pool, "state" => "in_use")
                .set(f64::from(u.open.saturating_sub(u.idle)));
            metrics::gauge!("dtr_db_pool_max_connections", "pool" => pool).set(f64::from(u.max));
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

/// Keeps `dtr_outbox_depth` current.
pub fn sample_outbox(store: Arc<dyn dtr_tilslutning::store::TilslutningStore>) {
    tokio::spawn(async move {
        loop {
            if let Ok(depth) = store.count_pending_mail().await {
                metrics::gauge!("dtr_outbox_depth").set(depth as f64);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
}

/// A tower layer counting the gRPC calls a server answers (`dtr_grpc_requests_total`,
/// `dtr_grpc_request_duration_seconds`), by service, method, status and how the call came: `via`
/// `network`, or `local` from a gateway in the same process. The status is the one in the
/// response head: a stream that fails later counts as begun well.
#[derive(Clone, Copy)]
pub struct GrpcMetricsLayer {
    pub service: &'static str,
    pub via: &'static str,
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        let (service, via) = (self.service, self.via);
        // A service has a few dozen methods; a bound keeps made-up paths from growing the map.
        let methods = Handles::new(256, move |method: &String| MethodMetrics::new(service, via, method));
        GrpcMetrics { inner, methods: Arc::new(methods) }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    methods: Arc<Handles<String, Arc<MethodMetrics>>>,
}

/// One method's metrics: its latency, and its calls by status code (each made on the code's
/// first call, so that codes never seen are not listed).
struct MethodMetrics {
    service: &'static str,
    via: &'static str,
    method: String,
    duration: metrics::Histogram,
    calls: [std::sync::OnceLock<metrics::Counter>; CODES.len() + 2],
}

impl MethodMetrics {
    fn new(service: &'static str, via: &'static str, method: &str) -> Arc<Self> {
        let duration = metrics::histogram!(
            "dtr_grpc_request_duration_seconds", "service" => service, "method" => method.to_owned()
        );
        Arc::new(MethodMetrics { service, via, method: method.to_owned(), duration, calls: Default::default() })
    }

    fn record(&self, code: &'static str, took: Duration) {
        let i = match CODES.iter().position(|c| *c == code) {
            Some(i) => i,
            None if code == "transport" => CODES.len() + 1,
            None => CODES.len(),
        };
        let (service, via, method) = (self.service, self.via, &self.method);
        self.calls[i]
            .get_or_init(|| {
                metrics::counter!(
                    "dtr_grpc_requests_total", "service" => service, "method" => method.clone(), "code" => code, "via" => via
                )
            })
            .increment(1);
        self.duration.record(took.as_secs_f64());
    }
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let metrics = self.methods.get(req.uri().path().rsplit('/').next().unwrap_or_default());
        let started = Instant::now();
        let call = self.inner.call(req);
        Box::pin(async move {
            let result = call.await;
            let code = match &result {
                Ok(r) => r.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map_or("0", grpc_code),
                Err(_) => "transport",
            };
            metrics.record(code, started.elapsed());
            result
        })
    }
}

/// gRPC's status codes as label values.
const CODES: [&str; 17] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];

/// The status code as a fixed label value (any number outside gRPC's is "other").
fn grpc_code(v: &str) -> &'static str {
    CODES.iter().find(|c| **c == v).copied().unwrap_or("other")
}
