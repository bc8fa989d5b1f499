//! Mutual TLS for the gRPC hops: servers demand a client certificate from the deployment CA,
//! clients check that the server is the part they meant to reach.

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::TrustError;
use crate::pki::{Part, Peer, PkiDir, read};

/// A certificate and its key, with the CA that both ends trust.
#[derive(Clone)]
pub struct TlsMaterial {
    ca: Certificate,
    identity: Identity,
}

impl TlsMaterial {
    /// The material of one of the deployment's parts.
    pub fn part(pki: &PkiDir, part: Part) -> Result<Self, TrustError> {
        Self::files(pki, &pki.cert(part), &pki.key(part))
    }

    /// The material of internal consumer `name`.
    pub fn consumer(pki: &PkiDir, name: &str) -> Result<Self, TrustError> {
        Self::files(pki, &pki.consumer_cert(name), &pki.consumer_key(name))
    }

    fn files(pki: &PkiDir, cert: &std::path::Path, key: &std::path::Path) -> Result<Self, TrustError> {
        crate::install_rustls_provider();
        Ok(TlsMaterial {
            ca: Certificate::from_pem(read(&pki.ca_cert())?),
            identity: Identity::from_pem(read(cert)?, read(key)?),
        })
    }

    /// A server that accepts only clients with a certificate from the CA.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(self.identity.clone()).client_ca_root(self.ca.clone())
    }

    /// A client of `target` that shows this certificate and accepts only `target`'s.
    pub fn client(&self, target: Part) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(target.dns_name())
    }

    /// An endpoint for `url` over mutual TLS to `target`. `http://` addresses are taken as
    /// `https://` (the scheme is what makes tonic use TLS), so older settings keep working.
    pub fn endpoint(&self, url: &str, target: Part) -> Result<Endpoint, TrustError> {
        let url = match url.strip_prefix("http://") {
            Some(rest) => format!("https://{rest}"),
            None => url.to_owned(),
        };
        Endpoint::from_shared(url.clone())
            .and_then(|e| e.tls_config(self.client(target)))
            .map_err(|e| TrustError::Invalid(format!("{url}: {e}")))
    }
}

/// The first certificate of a PEM file, as DER.
#[cfg(test)]
pub(crate) fn first_cert_der(pem: &[u8]) -> Option<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).next()?.ok().map(|c| c.to_vec())
}

/// The peer a (CA-verified) certificate names.
pub fn peer_of(der: &[u8]) -> Option<Peer> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        GeneralName::DNSName(name) => Peer::from_dns_name(name),
        _ => None,
    })
}
