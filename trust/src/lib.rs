//! Trust between the deployment's parts (docs/security.md): no part acts on an identity it has
//! not verified.
//!
//! - [`pki`]: the deployment CA, the parts' certificates and token keys, consumers' certificates;
//! - [`tls`]: mutual TLS for every gRPC hop;
//! - [`token`]: short-lived Ed25519-signed caller tokens, minted by the edge that verified an
//!   identity and checked by the service for signature, audience and expiry;
//! - [`guard`]: the per-service guard that turns certificate + token into a verified
//!   [`Principal`] and applies the service's per-RPC table.

pub mod guard;
pub mod pki;
pub mod tls;
pub mod token;
pub mod transport;

use std::path::Path;
use std::sync::Arc;

use dtr_proto::context::Principal;
use tonic::transport::Endpoint;

pub use guard::{Guard, Guarded, Policy, Refusal, Rule};
pub use pki::{Part, Peer, PkiDir};
pub use tls::TlsMaterial;
pub use token::{Minter, Verifier};
pub use transport::{LocalService, LocalServices, Transport};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("could not generate {0}")]
    Generate(String),
}

impl TrustError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        TrustError::Io(path.display().to_string(), e)
    }
}

/// Uses ring as rustls' crypto provider (once per process; later calls are no-ops).
pub fn install_rustls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What a part needs to call the others: its certificate (none on a plain-text test setup) and
/// its token key.
#[derive(Clone)]
pub struct PartCredentials {
    part: Part,
    tls: Option<TlsMaterial>,
    minter: Arc<Minter>,
}

impl std::fmt::Debug for PartCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartCredentials").field("part", &self.part).field("tls", &self.tls.is_some()).finish()
    }
}

impl PartCredentials {
    pub fn load(pki: &PkiDir, part: Part) -> Result<Self, TrustError> {
        Ok(PartCredentials {
            part,
            tls: Some(TlsMaterial::part(pki, part)?),
            minter: Arc::new(Minter::load(pki, part)?),
        })
    }

    /// Plain-text channels and a key no service trusts: only for tests whose services are
    /// in-process fakes that check nothing.
    pub fn plaintext_for_tests(part: Part) -> Self {
        PartCredentials { part, tls: None, minter: Arc::new(Minter::ephemeral(part)) }
    }

    pub fn part(&self) -> Part {
        self.part
    }

    /// The same token key over plain-text channels: only for `dtr bench trust`, which measures
    /// what mutual TLS costs (`dtr up --bench-plaintext-grpc`, loopback only).
    pub fn without_tls(self) -> Self {
        PartCredentials { tls: None, ..self }
    }

    /// The principal of this part acting for itself.
    pub fn own_principal(&self) -> Principal {
        Principal::Service(self.part.name().to_owned())
    }

    /// An endpoint for `target` at `url`: mutual TLS, unless this is a plain-text test setup.
    pub fn endpoint(&self, url: &str, target: Part) -> Result<Endpoint, TrustError> {
        match &self.tls {
            Some(tls) => tls.endpoint(url, target),
            None => Endpoint::from_shared(url.to_owned()).map_err(|e| TrustError::Invalid(format!("{url}: {e}"))),
        }
    }

    /// Puts a token naming `principal` for `audience` on a request.
    pub fn authorize<T>(
        &self,
        req: &mut tonic::Request<T>,
        principal: &Principal,
        audience: Part,
    ) -> Result<(), TrustError> {
        let value = self.minter.bearer(principal, audience)?;
        req.metadata_mut().insert(guard::AUTHORIZATION, value);
        Ok(())
    }
}

/// What a gRPC server of `part` needs: the TLS settings that demand a client certificate, and
/// the guard with the service's table.
pub fn server(
    pki: &PkiDir,
    part: Part,
    policy: Policy,
) -> Result<(tonic::transport::ServerTlsConfig, Guard), TrustError> {
    let tls = TlsMaterial::part(pki, part)?.server();
    Ok((tls, Guard::new(Verifier::load(pki, part)?, policy)))
}

/// Signs each outgoing call to one service: the principal the request carries in its
/// extensions (see [`CallerContext::request`]), or this part itself when it carries none.
#[derive(Clone)]
pub struct Signing {
    credentials: PartCredentials,
    audience: Part,
}

impl tonic::service::Interceptor for Signing {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let minter = &self.credentials.minter;
        let bearer = match req.extensions().get::<Principal>() {
            Some(principal) => minter.bearer(principal, self.audience),
            None => minter.bearer(&self.credentials.own_principal(), self.audience),
        };
        let bearer = bearer.map_err(|e| {
            tracing::error!(error = %e, "could not sign a call");
            tonic::Status::internal("kaldet kunne ikke underskrives")
        })?;
        req.metadata_mut().insert(guard::AUTHORIZATION, bearer);
        Ok(req)
    }
}

/// A channel whose calls are signed for one service.
pub type SignedChannel = tonic::service::interceptor::InterceptedService<Transport, Signing>;

impl PartCredentials {
    /// Signs every call over `channel` for `audience`.
    pub fn signed(&self, channel: tonic::transport::Channel, audience: Part) -> SignedChannel {
        self.signed_over(Transport::Net(channel), audience)
    }

    /// Signs every call for `audience`, over the network or into a service in this process.
    pub fn signed_over(&self, transport: Transport, audience: Part) -> SignedChannel {
        tonic::service::interceptor::InterceptedService::new(transport, Signing { credentials: self.clone(), audience })
    }

    /// Connects to `audience` at `url` (mutual TLS) with every call signed.
    pub async fn connect(&self, url: &str, audience: Part) -> Result<SignedChannel, TrustError> {
        let channel =
            self.endpoint(url, audience)?.connect_timeout(std::time::Duration::from_secs(5)).connect().await.map_err(
                |e| TrustError::Invalid(format!("could not reach the {} service at {url}: {e}", audience.name())),
            )?;
        Ok(self.signed(channel, audience))
    }
}
