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

use std::path::Path;
use std::sync::Arc;

use dtr_proto::context::{CallerContext, Principal};
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

pub use guard::{Guard, Guarded, Policy, Refusal, Rule};
pub use pki::{Part, Peer, PkiDir};
pub use tls::TlsMaterial;
pub use token::{Minter, Verifier};

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
        let token = self.minter.token(principal, audience)?;
        let value = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| TrustError::Invalid("token is not header text".into()))?;
        req.metadata_mut().insert(guard::AUTHORIZATION, value);
        Ok(())
    }

    /// A request to `audience` made for `ctx`: its token, correlation id and rule set.
    pub fn request<T>(&self, ctx: &CallerContext, audience: Part, msg: T) -> Result<tonic::Request<T>, TrustError> {
        let mut req = tonic::Request::new(msg);
        ctx.write_to(req.metadata_mut());
        self.authorize(&mut req, &ctx.principal, audience)?;
        Ok(req)
    }

    /// A request to `audience` made by this part for itself.
    pub fn own_request<T>(&self, audience: Part, msg: T) -> Result<tonic::Request<T>, TrustError> {
        self.request(&CallerContext::new(self.own_principal()), audience, msg)
    }
}

/// What a gRPC server of `part` needs: the TLS settings that demand a client certificate, and
/// the guard with the service's table.
pub fn server(pki: &PkiDir, part: Part, policy: Policy) -> Result<(tonic::transport::ServerTlsConfig, Guard), TrustError> {
    let tls = TlsMaterial::part(pki, part)?.server();
    Ok((tls, Guard::new(Verifier::load(pki, part)?, policy)))
}
