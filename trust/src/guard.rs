//! The guard in front of each gRPC service: it learns who calls (the peer's certificate, the
//! signed token), looks the RPC up in the service's authorisation table, and lets the call
//! through with the verified [`Principal`] in its extensions — or answers it itself with
//! `UNAUTHENTICATED` / `PERMISSION_DENIED` and a stable code, and logs the refusal for the audit.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use dtr_proto::context::{OPERATOER, Principal};

use crate::pki::{Part, Peer};
use crate::token::Verifier;

/// The metadata key of a refusal's stable code (the same key the services use).
pub const FEJLKODE: &str = "x-dtr-fejlkode";
/// The header that carries the token: `authorization: Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";

/// Refusals of the guard, each with its stable code (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// TRU0001: no token, and the certificate alone names no one who may call without one.
    NoToken,
    /// TRU0002: a token that is expired, for another service, badly signed or unreadable.
    BadToken,
    /// TRU0003: the token was issued by another part than the one connected.
    WrongPeer,
    /// TRU0004: the caller is known but may not call this RPC.
    NotAllowed,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoToken => "TRU0001",
            Refusal::BadToken => "TRU0002",
            Refusal::WrongPeer => "TRU0003",
            Refusal::NotAllowed => "TRU0004",
        }
    }

    fn status(self, message: &str) -> tonic::Status {
        let mut status = match self {
            Refusal::NotAllowed => tonic::Status::permission_denied(message),
            _ => tonic::Status::unauthenticated(message),
        };
        status.metadata_mut().insert(FEJLKODE, tonic::metadata::MetadataValue::from_static(self.code()));
        status
    }
}

/// Who may call one RPC. The service's own rules (own organisation, own systems) come on top.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rule {
    pub systems: bool,
    pub persons: bool,
    /// The operator: at the admin console, or a person acting for STIL in the portal.
    pub operator: bool,
    pub consumers: bool,
    /// Parts that may call it acting for themselves.
    pub parts: &'static [Part],
}

impl Rule {
    /// Systems (through the gateway), persons (through the portal) and the operator.
    pub const PEOPLE_AND_SYSTEMS: Rule =
        Rule { systems: true, persons: true, operator: true, consumers: false, parts: &[] };
    /// Persons acting for an organisation and the operator.
    pub const PEOPLE: Rule = Rule { systems: false, persons: true, operator: true, consumers: false, parts: &[] };
    pub const OPERATOR: Rule = Rule { systems: false, persons: false, operator: true, consumers: false, parts: &[] };
    /// Every verified caller: reading the public register.
    pub const ANY: Rule = Rule {
        systems: true,
        persons: true,
        operator: true,
        consumers: true,
        parts: &[Part::Gateway, Part::Portal, Part::Import, Part::Export, Part::Tilslutning, Part::Admin],
    };

    /// Only the given parts, for themselves: the internal RPCs.
    pub const fn internal(parts: &'static [Part]) -> Rule {
        Rule { systems: false, persons: false, operator: false, consumers: false, parts }
    }

    pub const fn and_operator(self) -> Rule {
        Rule { operator: true, ..self }
    }

    pub fn admits(&self, p: &Principal) -> bool {
        match p {
            Principal::System { .. } => self.systems,
            // The operator's staff act in the portal as persons of STIL.
            Principal::Person { organisation, .. } => self.persons || (self.operator && organisation == OPERATOER),
            Principal::Operator { .. } => self.operator,
            Principal::Consumer(_) => self.consumers,
            Principal::Service(name) => self.parts.iter().any(|part| part.name() == name),
        }
    }
}

/// A service's authorisation table: the rule of an RPC by its method name; `None` (an RPC the
/// table does not know) is refused.
pub type Policy = fn(&str) -> Option<Rule>;

/// The guard of one service.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<GuardInner>,
}

struct GuardInner {
    verifier: Verifier,
    policy: Policy,
    /// Peers by their certificate (DER), so a certificate is parsed once, not on every call.
    peers: std::sync::Mutex<std::collections::HashMap<Box<[u8]>, Option<Peer>>>,
}

/// Certificates remembered at most; the map starts afresh when full.
const PEERS_MAX: usize = 1024;

impl Guard {
    pub fn new(verifier: Verifier, policy: Policy) -> Self {
        Guard { inner: Arc::new(GuardInner { verifier, policy, peers: Default::default() }) }
    }

    /// The peer a request's connection shows, from the TLS connection info tonic records in the
    /// request's extensions (the certificate is CA-verified by then).
    fn peer<B>(&self, req: &http::Request<B>) -> Option<Peer> {
        let certs = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?.peer_certs()?;
        let der: &[u8] = certs.first()?.as_ref();
        if let Ok(peers) = self.inner.peers.lock()
            && let Some(peer) = peers.get(der)
        {
            return peer.clone();
        }
        let peer = crate::tls::peer_of(der);
        if let Ok(mut peers) = self.inner.peers.lock() {
            if peers.len() >= PEERS_MAX {
                peers.clear();
            }
            peers.insert(der.into(), peer.clone());
        }
        peer
    }

    /// Wraps a generated tonic server.
    pub fn protect<S>(&self, service: S) -> Guarded<S> {
        Guarded { guard: self.clone(), inner: service }
    }

    /// Who calls `method`, if they may: from the peer certificate (`None` only on a plain-text
    /// test server) and the bearer token.
    pub fn admit(&self, method: &str, peer: Option<&Peer>, bearer: Option<&str>) -> Result<Principal, tonic::Status> {
        let principal = match (bearer, peer) {
            (Some(token), _) => {
                let (principal, issuer) = self
                    .inner
                    .verifier
                    .verify(token)
                    .map_err(|e| refuse(Refusal::BadToken, method, peer, &e.to_string()))?;
                if let Some(peer) = peer
                    && *peer != Peer::Part(issuer)
                {
                    return Err(refuse(Refusal::WrongPeer, method, Some(peer), "adgangstegnet tilhører en anden part"));
                }
                principal
            }
            (None, Some(Peer::Consumer(name))) => Principal::Consumer(name.clone()),
            (None, _) => return Err(refuse(Refusal::NoToken, method, peer, "kaldet mangler et adgangstegn")),
        };
        match (self.inner.policy)(method) {
            Some(rule) if rule.admits(&principal) => Ok(principal),
            _ => {
                tracing::warn!(
                    target: "audit",
                    method,
                    caller = %principal.label(),
                    code = Refusal::NotAllowed.code(),
                    "call refused: not allowed"
                );
                Err(Refusal::NotAllowed.status("kalderen må ikke bruge denne operation"))
            }
        }
    }
}

fn refuse(refusal: Refusal, method: &str, peer: Option<&Peer>, why: &str) -> tonic::Status {
    tracing::warn!(target: "audit", method, peer = ?peer, code = refusal.code(), why, "call refused: not authenticated");
    refusal.status(why)
}

fn bearer<B>(req: &http::Request<B>) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// A tonic server behind its guard.
#[derive(Clone)]
pub struct Guarded<S> {
    guard: Guard,
    inner: S,
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Guarded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let method = req.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
        let peer = self.guard.peer(&req);
        match self.guard.admit(&method, peer.as_ref(), bearer(&req)) {
            Ok(principal) => {
                req.extensions_mut().insert(principal);
                // The clone that was made ready serves this call; the fresh one waits for the next.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                ready.call(req).boxed()
            }
            Err(status) => futures::future::ready(Ok(status.into_http())).boxed(),
        }
    }
}
