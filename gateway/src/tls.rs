//! TLS for the public edge: the operator's certificate, or a self-signed one generated once and
//! kept in the data directory (the embedded default).

use std::path::{Path, PathBuf};

use axum_server::tls_rustls::RustlsConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS files {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("could not generate a self-signed certificate: {0}")]
    Generate(String),
}

/// Uses ring as rustls' crypto provider (once per process; later calls are no-ops).
pub fn install_crypto_provider() {
    dtr_trust::install_rustls_provider();
}

/// Loads `cert`/`key`, or the self-signed pair in `data_dir/tls/`, creating it if missing.
pub async fn rustls_config(cert: Option<&Path>, key: Option<&Path>, data_dir: &Path) -> Result<RustlsConfig, TlsError> {
    install_crypto_provider();
    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
        _ => ensure_self_signed(&data_dir.join("tls"))?,
    };
    RustlsConfig::from_pem_file(&cert, &key).await.map_err(|e| TlsError::Io(cert, e))
}

fn ensure_self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(dir).map_err(|e| TlsError::Io(dir.to_path_buf(), e))?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key, ck.signing_key.serialize_pem().as_bytes()).map_err(|e| TlsError::Io(key.clone(), e))?;
    std::fs::write(&cert, ck.cert.pem()).map_err(|e| TlsError::Io(cert.clone(), e))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok((cert, key))
}

/// Writes a file only its owner can read, also when it exists already with wider rights.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    dtr_trust::pki::write_private_io(path, data)
}
