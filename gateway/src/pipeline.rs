//! The SOAP pipeline as axum extractors: an authenticated caller, then a parsed request. Each
//! rejection is already the answer the caller gets (401, 429, or a SOAP fault), so the handler
//! only decides access and dispatches.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dtr_telemetry::handles::Handles;
use http::request::Parts;
use http::{StatusCode, header};

use crate::auth::{self, AuthError};
use crate::correlation;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::ops::{self, Call};
use crate::soap::{self, SoapVersion};
use crate::state::AppState;

/// Puts the endpoint in the request and runs it in a `soap` span. A SOAP answer holds a
/// caller's data (or a refusal of it): no cache may keep it. Counts the call in the metrics
/// (`dtr_soap_requests_total`, `dtr_soap_request_duration_seconds`; a streamed answer's time is
/// its time to the first byte).
pub async fn soap_span(ep: Endpoint, max_body: usize, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let operation = OperationSlot::default();
    let (mut parts, body) = req.into_parts();
    let body = BodySlot::new(body);
    parts.extensions.insert(ep);
    parts.extensions.insert(operation.clone());
    parts.extensions.insert(body.clone());
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let mut resp = correlation::run_in_span(req, next, |cid| {
        tracing::info_span!("soap", correlation_id = %cid, service = ep.service.name(), path = ep.path(),
            operation = tracing::field::Empty, system = tracing::field::Empty)
    })
    .await;
    resp.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    if let Some(unread) = body.take() {
        // Refused before its body was read (401, 429): read the body to its end first, so an
        // HTTP/2 client still sending it gets the answer, not a reset stream.
        let _ =
            tokio::time::timeout(DRAIN_TIME, soap::request::read_body(unread, &http::HeaderMap::new(), max_body)).await;
    }
    let outcome = match resp.status() {
        http::StatusCode::UNAUTHORIZED => "unauthenticated",
        http::StatusCode::TOO_MANY_REQUESTS => "locked_out",
        _ => resp.extensions().get::<FaultCode>().map_or("ok", |c| c.0),
    };
    let op = operation.0.get().copied().unwrap_or("unknown");
    let service = ep.service.name();
    SOAP_CALLS.get(&(service, op, outcome)).increment(1);
    SOAP_DURATIONS.get(&(service, op)).record(started.elapsed().as_secs_f64());
    resp
}

// Every label is one of our constants (services, operations, outcomes): a few hundred at most.
static SOAP_CALLS: LazyLock<Handles<(&str, &str, &str), metrics::Counter>> = LazyLock::new(|| {
    Handles::new(
        4096,
        |&(service, op, outcome)| metrics::counter!("dtr_soap_requests_total", "service" => service, "operation" => op, "outcome" => outcome),
    )
});
static SOAP_DURATIONS: LazyLock<Handles<(&str, &str), metrics::Histogram>> = LazyLock::new(|| {
    Handles::new(
        1024,
        |&(service, op)| metrics::histogram!("dtr_soap_request_duration_seconds", "service" => service, "operation" => op),
    )
});
static AUTH_OUTCOMES: LazyLock<Handles<&str, metrics::Counter>> =
    LazyLock::new(|| Handles::new(16, |&outcome| metrics::counter!("dtr_auth_total", "outcome" => outcome)));

/// Longest a refused request's unread body is read before the answer goes out.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// The request body, kept aside so that a request refused before reading it can still be read
/// to its end; [`SoapRequest`] takes it.
#[derive(Clone)]
pub struct BodySlot(std::sync::Arc<std::sync::Mutex<Option<axum::body::Body>>>);

impl BodySlot {
    fn new(body: axum::body::Body) -> Self {
        BodySlot(std::sync::Arc::new(std::sync::Mutex::new(Some(body))))
    }

    fn take(&self) -> Option<axum::body::Body> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Where the request's parser leaves the operation's name for the metrics.
#[derive(Clone, Default)]
pub struct OperationSlot(std::sync::Arc<std::sync::OnceLock<&'static str>>);

/// The fault code an answer carries, for the metrics.
#[derive(Clone, Copy)]
pub struct FaultCode(pub &'static str);

/// A SOAP fault as the answer, in the SOAP version to answer in.
#[derive(Debug)]
pub struct SoapFault {
    pub version: SoapVersion,
    pub error: GatewayError,
    pub correlation_id: String,
}

impl IntoResponse for SoapFault {
    fn into_response(self) -> Response {
        let fault = self.error.to_fault();
        match &self.error {
            GatewayError::Backend(s) => {
                tracing::warn!(code = ?s.code(), message = %s.message(), fault = fault.code, "backend call failed")
            }
            GatewayError::OutcomeUnknown(s) => {
                tracing::error!(code = ?s.code(), message = %s.message(), fault = fault.code, "a write's outcome is unknown")
            }
            other => tracing::info!(error = %other, fault = fault.code, "request refused"),
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let body = fault.to_xml(self.version, &self.correlation_id, &now);
        let status = fault.http_status(self.version);
        let mut response = (status, [(header::CONTENT_TYPE, self.version.content_type())], body).into_response();
        response.extensions_mut().insert(FaultCode(fault.code));
        if status == http::StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        }
        response
    }
}

/// The SOAP version the Content-Type announces, if any.
fn hinted_version(headers: &http::HeaderMap) -> Option<SoapVersion> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(SoapVersion::from_content_type)
}

/// A calling system that proved who it is with HTTP Basic credentials.
#[derive(Debug, Clone)]
pub struct Authenticated(pub auth::System);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let cid = correlation::of(parts);
        // The TCP peer: lock-outs are per (username, address).
        let ip: Option<IpAddr> = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let caller = auth::Caller { headers: &parts.headers, ip, correlation_id: &cid };
        match auth::authenticate(&state.clients, &state.decisions, &state.lockout, &caller).await {
            Ok(system) => {
                tracing::Span::current().record("system", system.id.as_str());
                AUTH_OUTCOMES.get(&"ok").increment(1);
                Ok(Authenticated(system))
            }
            Err(AuthError::Denied) => {
                tracing::info!("authentication refused");
                AUTH_OUTCOMES.get(&"denied").increment(1);
                Err(unauthorized())
            }
            Err(AuthError::LockedOut(left)) => {
                tracing::info!(client = ?ip, "login locked out after repeated failures");
                AUTH_OUTCOMES.get(&"locked_out").increment(1);
                Err(locked_out(left))
            }
            Err(AuthError::Backend(s)) => {
                AUTH_OUTCOMES.get(&"unavailable").increment(1);
                let version = hinted_version(&parts.headers).unwrap_or(SoapVersion::V11);
                Err(SoapFault { version, error: GatewayError::Backend(s), correlation_id: cid }.into_response())
            }
        }
    }
}

/// Longest WS-Addressing MessageID kept as a retry key.
const MAX_MESSAGE_ID: usize = 256;

/// A SOAP request read, within its limits, into a typed call for the endpoint it was sent to.
#[derive(Debug)]
pub struct SoapRequest {
    pub endpoint: Endpoint,
    pub version: SoapVersion,
    pub call: Call,
    pub correlation_id: String,
    /// The Header's WS-Addressing MessageID: the key of a safe retry of a write.
    pub message_id: Option<String>,
}

impl SoapRequest {
    pub fn fault(&self, error: GatewayError) -> SoapFault {
        SoapFault { version: self.version, error, correlation_id: self.correlation_id.clone() }
    }
}

impl FromRequest<AppState> for SoapRequest {
    type Rejection = SoapFault;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, SoapFault> {
        let (parts, body) = req.into_parts();
        let body = parts.extensions.get::<BodySlot>().and_then(BodySlot::take).unwrap_or(body);
        let correlation_id = correlation::of(&parts);
        let hinted = hinted_version(&parts.headers);
        let fault = |version, error| SoapFault { version, error, correlation_id: correlation_id.clone() };
        let guess = hinted.unwrap_or(SoapVersion::V11);
        let Some(endpoint) = parts.extensions.get::<Endpoint>().copied() else {
            return Err(fault(guess, GatewayError::Schema("ingen SOAP-tjeneste på denne adresse".into())));
        };
        let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("ingen");
        if ct.trim_start().to_ascii_lowercase().starts_with("multipart/related") {
            return Err(fault(
                guess,
                GatewayError::MediaType(
                    "MTOM/XOP (multipart/related) understøttes ikke: send beskeden som almindelig SOAP (text/xml eller application/soap+xml).".into(),
                ),
            ));
        }
        let Some(hinted) = hinted else {
            return Err(fault(
                guess,
                GatewayError::MediaType(format!(
                    "Content-Type {ct:?} er ikke SOAP: brug text/xml (SOAP 1.1) eller application/soap+xml (SOAP 1.2)."
                )),
            ));
        };
        let body: Bytes =
            soap::request::read_body(body, &parts.headers, state.config.max_body_bytes).await.map_err(|e| {
                let e = match e {
                    soap::request::BodyError::TooLarge => GatewayError::TooLarge,
                    soap::request::BodyError::Broken => {
                        GatewayError::Schema("beskeden blev afbrudt under overførslen".into())
                    }
                };
                fault(guess, e)
            })?;
        let text =
            soap::request::decode_body(&body, ct).map_err(|e| fault(guess, GatewayError::MediaType(e.to_string())))?;
        let env = soap::parse(&text, &state.config.limits).map_err(|e| fault(guess, e.into()))?;
        let version = env.version;
        let message_id = env.message_id;
        if let Some(id) = &message_id
            && (id.len() > MAX_MESSAGE_ID || !id.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(fault(
                version,
                GatewayError::Schema(format!(
                    "wsa:MessageID skal være en URI på højst {MAX_MESSAGE_ID} tegn uden mellemrum (f.eks. urn:uuid:…)."
                )),
            ));
        }
        if version != hinted {
            return Err(fault(
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
            SoapVersion::V11 => parts.headers.get("soapaction").and_then(|v| v.to_str().ok()),
            SoapVersion::V12 => soap::request::content_type_param(ct, "action"),
        };
        if let Some(named) = soap::request::action_operation(action)
            && named != op.name
        {
            let action = action.unwrap_or_default().chars().take(200).collect();
            return Err(fault(version, GatewayError::ActionMismatch { action, operation: op.name.clone() }));
        }
        let call = Call::parse(endpoint, &op).map_err(|e| fault(version, e))?;
        if let Some(slot) = parts.extensions.get::<OperationSlot>() {
            let _ = slot.0.set(call.operation().name());
        }
        Ok(SoapRequest { endpoint, version, call, correlation_id, message_id })
    }
}

/// An answer in its envelope.
pub fn answer(version: SoapVersion, answer: ops::Answer) -> Response {
    let ct = [(header::CONTENT_TYPE, version.content_type())];
    match answer {
        ops::Answer::Xml(xml) => (ct, axum::body::Body::new(soap::xml::Enveloped::new(version, xml))).into_response(),
        ops::Answer::Stream(content) => (ct, streamed_envelope(version, content)).into_response(),
    }
}

/// A streamed answer in its envelope, as a chunked body. A backend failure part-way is logged
/// and breaks the body off (no terminating chunk), so the client cannot take it for complete.
fn streamed_envelope(version: SoapVersion, content: ops::XmlStream) -> axum::body::Body {
    use futures::StreamExt;
    let head =
        futures::stream::once(async move { Ok(Bytes::from_static(soap::xml::envelope_head(version).as_bytes())) });
    let tail = futures::stream::once(async { Ok(Bytes::from_static(soap::xml::ENVELOPE_TAIL.as_bytes())) });
    let span = tracing::Span::current();
    let content = content.inspect(move |part| {
        if let Err(e) = part {
            span.in_scope(|| tracing::warn!(error = %e, "streamed answer broken off"));
        }
    });
    axum::body::Body::from_stream(head.chain(content).chain(tail))
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
