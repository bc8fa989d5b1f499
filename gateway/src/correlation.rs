//! Every answer carries a correlation id, and everything logged while serving it is in a span
//! that names it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderValue};
use tracing::Instrument;

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The request's correlation id, in the request's extensions for handlers and extractors.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// A caller's own id is kept if it is short and plain; otherwise we issue one.
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(dtr_proto::context::new_correlation_id)
}

/// Runs the rest of the request in `span(correlation id)` and returns the id in a header.
pub async fn run_in_span(mut req: Request, next: Next, span: impl FnOnce(&str) -> tracing::Span) -> Response {
    let cid = correlation_id(req.headers());
    req.extensions_mut().insert(CorrelationId(cid.clone()));
    let mut resp = next.run(req).instrument(span(&cid)).await;
    if let Ok(v) = HeaderValue::from_str(&cid) {
        resp.headers_mut().insert(CORRELATION_HEADER, v);
    }
    resp
}

/// The correlation id [`run_in_span`] put in the request, or a fresh one.
pub fn of(parts: &http::request::Parts) -> String {
    parts.extensions.get::<CorrelationId>().map(|c| c.0.clone()).unwrap_or_else(|| correlation_id(&parts.headers))
}
