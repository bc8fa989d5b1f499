//! HTTP details SOAP clients depend on (docs/soap-edge.md point 9), over a raw TLS socket so nothing
//! is hidden by a client library: keep-alive (two calls on one connection), `Expect:
//! 100-continue` (as .NET sends it) answered with `100 Continue`, an announced oversized body
//! refused before it is sent, and HTTP/2 through ALPN.

use crate::common;

use std::sync::Arc;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use common::{EXPORT, cluster, xml_text};

const HELLO: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><d:HelloWorld xmlns:d="urn:dtr:export:v2"/></s:Body></s:Envelope>"#;

struct Conn {
    tls: TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(port: u16, cert_pem: &[u8], alpn: &[&[u8]]) -> Conn {
        dtr_gateway::tls::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        let mut pem = cert_pem;
        for cert in rustls_pemfile_certs(&mut pem) {
            roots.add(cert).unwrap();
        }
        let mut config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
        Conn { tls, buf: Vec::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// Reads one response: status, headers (lower-case names) and a Content-Length body.
    async fn response(&mut self) -> (u16, Vec<(String, String)>, String) {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                let mut lines = head.lines();
                let status: u16 = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let len: usize =
                    headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                while self.buf.len() < end + 4 + len {
                    self.fill().await;
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).into_owned();
                self.buf.drain(..end + 4 + len);
                return (status, headers, body);
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16384];
        let n = self.tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the gateway closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn rustls_pemfile_certs(pem: &mut &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
}

fn request_head(auth: &str, len: usize, extra: &str) -> String {
    format!(
        "POST {EXPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {len}\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn keep_alive_expect_continue_and_http2() {
    let r = cluster::embedded().await;
    let port: u16 = r.soap.base.rsplit(':').next().unwrap().parse().unwrap();
    let cert = std::fs::read(r.cert_path()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", r.soap.user, r.soap.password));

    // Keep-alive: two calls, one connection.
    let mut c = Conn::open(port, &cert, &[b"http/1.1"]).await;
    for n in 0..2 {
        c.send(format!("{}{HELLO}", request_head(&auth, HELLO.len(), "")).as_bytes()).await;
        let (status, _, body) = c.response().await;
        assert_eq!(status, 200, "call {n} on the same connection: {body}");
        assert!(body.contains("HelloWorldResponse"), "{body}");
    }

    // Expect: 100-continue: the gateway asks for the body, then answers.
    c.send(request_head(&auth, HELLO.len(), "Expect: 100-continue\r\n").as_bytes()).await;
    let (status, _, _) = c.response().await;
    assert_eq!(status, 100, "100 Continue before the body");
    c.send(HELLO.as_bytes()).await;
    let (status, _, body) = c.response().await;
    assert_eq!(status, 200, "{body}");

    // An announced oversized body: refused at once, before the client sends any of it.
    let mut c = Conn::open(port, &cert, &[b"http/1.1"]).await;
    c.send(request_head(&auth, 50 * 1024 * 1024, "Expect: 100-continue\r\n").as_bytes()).await;
    let (status, headers, body) = c.response().await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(xml_text(&body, "ErrorCode"), Some("IPL000006"));
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/xml")), "{headers:?}");

    // HTTP/2, chosen through ALPN.
    let h2 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = h2
        .post(format!("{}{EXPORT}", r.soap.base))
        .basic_auth(&r.soap.user, Some(&r.soap.password))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(HELLO)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("HelloWorldResponse"));
}

/// The WSDL (`?wsdl` in any case) imports its schema from `?xsd`, both addressed as the client
/// reached the gateway — over HTTP/1.1 (Host), HTTP/2 (`:authority`) or a proxy (X-Forwarded-*) —
/// and the schema validates the gateway's own answers (xmllint).
#[tokio::test]
async fn wsdl_and_schema_at_the_address_the_client_used() {
    let r = cluster::embedded().await;
    let cert = std::fs::read(r.cert_path()).unwrap();
    let client = |h2: bool| {
        let b = reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap());
        if h2 { b.http2_prior_knowledge() } else { b.http1_only() }.build().unwrap()
    };
    let url = format!("{}{EXPORT}?WSDL", r.soap.base);
    for h2 in [false, true] {
        let wsdl = client(h2).get(&url).send().await.unwrap().text().await.unwrap();
        assert!(wsdl.contains(&format!(r#"schemaLocation="{}{EXPORT}?xsd=1""#, r.soap.base)), "h2={h2}: {wsdl}");
        assert!(wsdl.contains(&format!(r#"<soap:address location="{}{EXPORT}"/>"#, r.soap.base)), "h2={h2}");
        assert!(wsdl.contains(&format!(r#"<soap12:address location="{}{EXPORT}"/>"#, r.soap.base)), "h2={h2}");
    }
    let forwarded = |http: reqwest::Client, url: String| async move {
        let request = http.get(url).header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "dtr.example.dk");
        request.send().await.unwrap().text().await.unwrap()
    };
    // A client's own X-Forwarded-* are ignored: no proxy is trusted unless configured.
    let spoofed = forwarded(client(false), url.clone()).await;
    assert!(!spoofed.contains("dtr.example.dk"), "{spoofed}");
    assert!(spoofed.contains(&format!(r#"<soap:address location="{}{EXPORT}"/>"#, r.soap.base)));

    // Behind a trusted proxy (here: loopback) they decide the addresses.
    let dir = common::TempDir::new();
    let (data, port) = (dir.path().join("data"), common::free_port());
    let trusting = [("DTR_TRUSTED_PROXIES", "127.0.0.1,::1".to_owned())];
    let _up = cluster::spawn_up_with("dtr-up-proxied", &data, port, dir.path(), &trusting).await;
    let its_cert = reqwest::Certificate::from_pem(&std::fs::read(data.join("tls/cert.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(its_cert).http1_only().build().unwrap();
    let proxied = forwarded(http, format!("https://127.0.0.1:{port}{EXPORT}?wsdl")).await;
    assert!(proxied.contains(r#"schemaLocation="https://dtr.example.dk/services/DTR/ExportService/v2?xsd=1""#));
    assert!(proxied.contains(r#"location="https://dtr.example.dk/services/DTR/ExportService/v2"/>"#));

    // The imported schema, as served, validates a real answer.
    let xsd = client(true).get(format!("{}{EXPORT}?xsd=1", r.soap.base)).send().await.unwrap().text().await.unwrap();
    let answer = r.soap.call(EXPORT, "GetKodetabel", "<d:navn>ejerform</d:navn>").await.body;
    common::schema_valid(&xsd, &answer, "GetKodetabel");
}
