//! The deployment's PKI in one directory: a CA, a certificate and a token-signing key for each
//! part, and client certificates for internal consumers. `dtr pki init` (and `dtr up` by itself)
//! creates what is missing and never replaces what exists, so it is safe to run at every start.
//!
//! ```text
//! ca.pem  ca.key                          the deployment CA (the key signs certificates only)
//! <part>.pem  <part>.key                  TLS certificate of gateway, import, export, …
//! <part>.token.key  <part>.token.pub      Ed25519 key that signs the part's caller tokens
//! consumers/<name>.pem  <name>.key        client certificates of internal consumers
//! ```
//!
//! Identities are DNS names in the certificates' subjectAltName: `<part>.dtr.internal` and
//! `<name>.consumer.dtr.internal`. A client checks that the server it reached carries the name
//! of the part it meant to reach, whatever address it used.

use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::TrustError;

/// The DNS suffix of every identity in the deployment's certificates.
pub const DOMAIN: &str = "dtr.internal";

/// The deployment's own parts: each has a certificate and a token key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Gateway,
    Import,
    Export,
    Tilslutning,
    Portal,
    Admin,
}

impl Part {
    pub const ALL: [Part; 6] =
        [Part::Gateway, Part::Import, Part::Export, Part::Tilslutning, Part::Portal, Part::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Part::Gateway => "gateway",
            Part::Import => "import",
            Part::Export => "export",
            Part::Tilslutning => "tilslutning",
            Part::Portal => "portal",
            Part::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The name in the part's certificate, which clients check.
    pub fn dns_name(self) -> String {
        format!("{}.{DOMAIN}", self.name())
    }
}

/// Who is at the other end of a mutual-TLS connection, read from its (CA-verified) certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Part(Part),
    Consumer(String),
}

impl Peer {
    /// The peer named by a certificate's DNS name, if it is one of ours.
    pub fn from_dns_name(name: &str) -> Option<Peer> {
        let local = name.strip_suffix(DOMAIN)?.strip_suffix('.')?;
        match local.strip_suffix(".consumer") {
            Some(consumer) if valid_consumer_name(consumer) => Some(Peer::Consumer(consumer.to_owned())),
            Some(_) => None,
            None => Part::from_name(local).map(Peer::Part),
        }
    }
}

/// Consumer names are DNS labels: lower-case letters, digits and hyphens, 1–40 characters.
pub fn valid_consumer_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The PKI directory and the names of the files in it.
#[derive(Debug, Clone)]
pub struct PkiDir {
    dir: PathBuf,
}

impl PkiDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PkiDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    pub fn cert(&self, part: Part) -> PathBuf {
        self.dir.join(format!("{}.pem", part.name()))
    }

    pub fn key(&self, part: Part) -> PathBuf {
        self.dir.join(format!("{}.key", part.name()))
    }

    pub fn token_key(&self, part: Part) -> PathBuf {
        self.dir.join(format!("{}.token.key", part.name()))
    }

    pub fn token_pub(&self, part: Part) -> PathBuf {
        self.dir.join(format!("{}.token.pub", part.name()))
    }

    pub fn consumer_cert(&self, name: &str) -> PathBuf {
        self.dir.join("consumers").join(format!("{name}.pem"))
    }

    pub fn consumer_key(&self, name: &str) -> PathBuf {
        self.dir.join("consumers").join(format!("{name}.key"))
    }

    /// Creates the CA, the parts' certificates and token keys that are missing; answers the
    /// files it wrote. Existing files are kept.
    pub fn init(&self) -> Result<Vec<PathBuf>, TrustError> {
        private_dir(&self.dir)?;
        let mut written = Vec::new();
        let ca_key = if self.ca_cert().exists() && self.ca_key().exists() {
            read_key(&self.ca_key())?
        } else {
            let key = KeyPair::generate().map_err(generate)?;
            let cert = ca_params().self_signed(&key).map_err(generate)?;
            write_private(&self.ca_key(), key.serialize_pem().as_bytes())?;
            write_public(&self.ca_cert(), cert.pem().as_bytes())?;
            written.extend([self.ca_key(), self.ca_cert()]);
            key
        };
        let issuer = Issuer::new(ca_params(), ca_key);
        for part in Part::ALL {
            if !(self.cert(part).exists() && self.key(part).exists()) {
                self.issue(&issuer, &part.dns_name(), part.name(), &self.cert(part), &self.key(part), true)?;
                written.extend([self.cert(part), self.key(part)]);
            }
            if !(self.token_key(part).exists() && self.token_pub(part).exists()) {
                let (private, public) = crate::token::generate_key()?;
                write_private(&self.token_key(part), private.as_bytes())?;
                write_public(&self.token_pub(part), public.as_bytes())?;
                written.extend([self.token_key(part), self.token_pub(part)]);
            }
        }
        Ok(written)
    }

    /// Issues (or re-issues) the client certificate of internal consumer `name`.
    pub fn issue_consumer(&self, name: &str) -> Result<(PathBuf, PathBuf), TrustError> {
        if !valid_consumer_name(name) {
            return Err(TrustError::Invalid(format!(
                "consumer name {name:?}: use 1-40 lower-case letters, digits and hyphens"
            )));
        }
        let issuer = Issuer::new(ca_params(), read_key(&self.ca_key())?);
        private_dir(&self.dir.join("consumers"))?;
        let (cert, key) = (self.consumer_cert(name), self.consumer_key(name));
        self.issue(&issuer, &format!("{name}.consumer.{DOMAIN}"), name, &cert, &key, false)?;
        Ok((cert, key))
    }

    fn issue(
        &self,
        issuer: &Issuer<'_, KeyPair>,
        dns_name: &str,
        common_name: &str,
        cert_path: &Path,
        key_path: &Path,
        server: bool,
    ) -> Result<(), TrustError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.distinguished_name.push(DnType::OrganizationName, "Dagtilbudsregisteret");
        let san = dns_name.try_into().map_err(|_| TrustError::Invalid(format!("not a DNS name: {dns_name}")))?;
        params.subject_alt_names = vec![SanType::DnsName(san)];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if server {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(2 * 365);
        let key = KeyPair::generate().map_err(generate)?;
        let cert = params.signed_by(&key, issuer).map_err(generate)?;
        write_private(key_path, key.serialize_pem().as_bytes())?;
        write_public(cert_path, cert.pem().as_bytes())?;
        Ok(())
    }
}

/// The CA's parameters; rebuilt the same each time so the CA key can sign again later.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "DTR deployment CA");
    params.distinguished_name.push(DnType::OrganizationName, "Dagtilbudsregisteret");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(10 * 365);
    params
}

fn generate(e: rcgen::Error) -> TrustError {
    TrustError::Generate(e.to_string())
}

fn read_key(path: &Path) -> Result<KeyPair, TrustError> {
    let pem = std::fs::read_to_string(path).map_err(|e| TrustError::io(path, e))?;
    KeyPair::from_pem(&pem).map_err(|e| TrustError::Invalid(format!("{}: {e}", path.display())))
}

/// Reads a file of the PKI.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TrustError> {
    std::fs::read(path).map_err(|e| TrustError::io(path, e))
}

/// A directory only its owner may enter.
fn private_dir(dir: &Path) -> Result<(), TrustError> {
    std::fs::create_dir_all(dir).map_err(|e| TrustError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| TrustError::io(dir, e))?;
    }
    Ok(())
}

fn write_public(path: &Path, data: &[u8]) -> Result<(), TrustError> {
    std::fs::write(path, data).map_err(|e| TrustError::io(path, e))
}

/// Writes a file only its owner can read, also when it exists already with wider rights.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), TrustError> {
    write_private_io(path, data).map_err(|e| TrustError::io(path, e))
}

/// [`write_private`] with the plain I/O error.
pub fn write_private_io(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(data)
}

/// Base64 of raw bytes, as the token public keys are stored.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_named_by_their_dns_names() {
        assert_eq!(Peer::from_dns_name("gateway.dtr.internal"), Some(Peer::Part(Part::Gateway)));
        assert_eq!(Peer::from_dns_name("bi-udtraek.consumer.dtr.internal"), Some(Peer::Consumer("bi-udtraek".into())));
        assert_eq!(Peer::from_dns_name("evil.dtr.internal"), None);
        assert_eq!(Peer::from_dns_name("gateway.dtr.internal.evil.example"), None);
        assert_eq!(Peer::from_dns_name("Bad_Name.consumer.dtr.internal"), None);
        assert_eq!(Peer::from_dns_name("dtr.internal"), None);
    }

    #[test]
    fn init_creates_owner_only_keys_and_keeps_what_exists() {
        let dir = std::env::temp_dir().join(format!("dtr-pki-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pki = PkiDir::new(&dir);
        let first = pki.init().unwrap();
        assert!(first.contains(&pki.ca_cert()) && first.contains(&pki.token_key(Part::Admin)));
        let ca = std::fs::read(pki.ca_cert()).unwrap();
        assert!(pki.init().unwrap().is_empty(), "a second run writes nothing");
        assert_eq!(std::fs::read(pki.ca_cert()).unwrap(), ca);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&pki.ca_key()), 0o600);
            assert_eq!(mode(&pki.key(Part::Import)), 0o600);
            assert_eq!(mode(&pki.token_key(Part::Gateway)), 0o600);
        }
        let (cert, _) = pki.issue_consumer("bi-udtraek").unwrap();
        let der = crate::tls::first_cert_der(&read(&cert).unwrap()).unwrap();
        assert_eq!(crate::tls::peer_of(&der), Some(Peer::Consumer("bi-udtraek".into())));
        assert!(pki.issue_consumer("../x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
