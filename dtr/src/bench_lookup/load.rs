//! Load generators: `wrk` for the HTTPS rows, a tonic client for the gRPC row, and connections
//! held open to weigh what they cost.

use super::systems::lookup_envelope;
use super::*;

/// wrk's Lua script: the lookup as a POST with Basic Auth.
pub(super) fn wrk_script(user: &str, password: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let body = lookup_envelope().replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "wrk.method = \"POST\"\nwrk.body = \"{body}\"\nwrk.headers[\"Content-Type\"] = \"text/xml; charset=utf-8\"\n\
         wrk.headers[\"SOAPAction\"] = \"urn:dtr:export:v2/GetDaginstitutionByNummer\"\n\
         wrk.headers[\"Authorization\"] = \"Basic {auth}\"\n"
    )
}

/// One round of wrk on the load generator's CPU.
pub(super) fn wrk(url: &str, script: Option<&Path>, connections: usize, seconds: u64) -> anyhow::Result<Sample> {
    let mut c = Command::new("taskset");
    c.args(["-c", LOAD_CPU, "wrk", "-t1", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s");
    if let Some(s) = script {
        c.arg("-s").arg(s);
    }
    let out = c.arg(url).output().context("wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk {url}: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx") || l.contains("Socket errors")) {
        bail!("wrk {url}: {line}\n{text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("wrk's output: {text}"))?;
    let quantile = |q: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(q))
            .and_then(|v| wrk_ms(v.trim()))
            .with_context(|| format!("wrk's {q} latency: {text}"))
    };
    Ok(Sample { rps, p50_ms: quantile("50%")?, p99_ms: quantile("99%")? })
}

/// A wrk duration (`812.00us`, `1.23ms`, `1.01s`) in milliseconds.
pub(super) fn wrk_ms(v: &str) -> Option<f64> {
    let (n, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    n.parse::<f64>().ok().map(|n| n * factor)
}

/// One round of direct gRPC lookups: one client per connection, each one call at a time.
pub(super) async fn grpc_load(
    clients: Vec<ExportServiceClient<dtr_trust::SignedChannel>>,
    seconds: u64,
) -> anyhow::Result<Sample> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::with_capacity(100_000);
            while Instant::now() < until {
                let t = Instant::now();
                let found = c.get_daginstitution_by_nummer(NummerRequest { nummer: NUMMER.into() }).await?;
                if found.get_ref().daginstitutioner.is_empty() {
                    bail!("the export service did not find {NUMMER}");
                }
                micros.push(t.elapsed().as_micros() as u32);
            }
            Ok::<_, anyhow::Error>(micros)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let q = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    Ok(Sample { rps: all.len() as f64 / elapsed, p50_ms: q(0.5) as f64 / 1e3, p99_ms: q(0.99) as f64 / 1e3 })
}

/// Opens `n` TLS connections to `base`, each with one keep-alive request answered, and keeps
/// them open.
pub(super) async fn hold(
    base: &str,
    n: usize,
    cert: &Path,
    user: &str,
    password: &str,
) -> anyhow::Result<Vec<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    use base64::Engine;
    let url = reqwest::Url::parse(base)?;
    let addr = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(443));
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&std::fs::read(cert)?)? {
        roots.add(c)?;
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\n\r\n");
    let name = rustls::pki_types::ServerName::try_from("localhost")?.to_owned();
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let tcp = tokio::net::TcpStream::connect(&addr).await.with_context(|| format!("connection {i}"))?;
        let mut tls = connector.connect(name.clone(), tcp).await.with_context(|| format!("TLS of connection {i}"))?;
        tls.write_all(request.as_bytes()).await?;
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        // The answer is small: its head and body arrive together.
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let k = tls.read(&mut buf).await?;
            if k == 0 {
                bail!("connection {i} closed before answering");
            }
            got.extend_from_slice(&buf[..k]);
        }
        if !got.starts_with(b"HTTP/1.1 200") {
            bail!("connection {i}: {}", String::from_utf8_lossy(&got));
        }
        held.push(tls);
    }
    Ok(held)
}

/// The certificates of a PEM file.
pub(super) fn rustls_pemfile_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    Ok(rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?)
}
