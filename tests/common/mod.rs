//! Shared test support: throwaway databases, free ports, child processes that die with the test,
//! and a SOAP client over real HTTPS.
#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod faults;
pub mod grpc;
pub mod metrics;
pub mod oidc;
pub mod payload;
pub mod scenario;
pub mod smtp;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The PostgreSQL server the test command started (an admin URL to its `postgres` database).
pub fn postgres_admin_url() -> String {
    std::env::var("DTR_TEST_POSTGRES_URL").expect(
        "DTR_TEST_POSTGRES_URL is not set: run the suite with scripts/test.sh, which starts PostgreSQL and Redis",
    )
}

pub fn redis_url() -> String {
    std::env::var("DTR_TEST_REDIS_URL")
        .expect("DTR_TEST_REDIS_URL is not set: run the suite with scripts/test.sh, which starts PostgreSQL and Redis")
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub async fn fresh_postgres_db() -> String {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let name = format!("dtr_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// A fresh SQLite database file in a new temporary directory (kept alive by the returned guard).
pub fn fresh_sqlite_db() -> (TempDir, String) {
    let dir = TempDir::new();
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    (dir, url)
}

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("dtr-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on, for a process the test starts. Taken below Linux's ephemeral range
/// (32768–60999): a port from there could be taken by any outgoing connection between this pick
/// and the process binding it. Each port is handed out once per test run.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const LAST: u32 = 32_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = NEXT.compare_exchange(0, FIRST + (std::process::id() % 400) * 25, Ordering::SeqCst, Ordering::SeqCst);
    for _ in FIRST..LAST {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = FIRST + (port - FIRST) % (LAST - FIRST);
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port between {FIRST} and {LAST}");
}

/// A child process killed when the test ends, however it ends.
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Runs the `dtr` binary with `args`.
    /// Runs `dtr` with `args`; its metrics listener is off unless `env` sets DTR_METRICS_ADDR
    /// (many processes run at once here, and the default address is one).
    pub fn spawn(name: &str, args: &[&str], env: &[(&str, String)], log_dir: &Path) -> Proc {
        let mut all = vec![("DTR_METRICS_ADDR", "off".to_owned())];
        all.extend(env.iter().cloned());
        Proc::spawn_program(env!("CARGO_BIN_EXE_dtr"), name, args, &all, log_dir)
    }

    /// Runs any program (a Redis server for outage tests, say) with its output in `log_dir`.
    pub fn spawn_program(program: &str, name: &str, args: &[&str], env: &[(&str, String)], log_dir: &Path) -> Proc {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        Proc { name: name.to_owned(), child, log }
    }

    /// A process started elsewhere (as another user, say), logging to `log`.
    pub fn adopt(name: &str, child: Child, log: PathBuf) -> Proc {
        Proc { name: name.to_owned(), child, log }
    }

    /// The exit status, once the process has exited.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to exit (after a signal sent to it).
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.name, self.log());
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Peak resident memory of a process, in MiB.
pub fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
    kb.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// Starts a process's peak resident memory afresh from its current size (Linux).
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// How long a process the tests start may take to become ready before the test gives up. Only a
/// guard against a hang: on a loaded 2-core machine, with the whole suite in one binary, a start
/// beside a heavy test can take a minute.
pub const START_LIMIT: Duration = Duration::from_secs(180);

/// Polls `check` until it succeeds or `timeout` passes; panics with `what` otherwise.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A SOAP client over HTTPS that trusts exactly the gateway's certificate.
#[derive(Clone)]
pub struct Soap {
    pub base: String,
    http: reqwest::Client,
    pub user: String,
    pub password: String,
}

pub struct SoapAnswer {
    pub status: u16,
    pub body: String,
    pub correlation_id: Option<String>,
    pub www_authenticate: Option<String>,
    pub transfer_encoding: Option<String>,
    pub retry_after: Option<String>,
}

pub const IMPORT: &str = "/services/DTR/ImportService/v2";
pub const EXPORT: &str = "/services/DTR/ExportService/v2";
pub const IMPORT_V1: &str = "/services/DTR/ImportService/v1";
pub const EXPORT_V1: &str = "/services/DTR/ExportService/v1";

impl Soap {
    pub fn new(base: &str, cert_pem: &[u8], user: &str, password: &str) -> Soap {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = reqwest::Certificate::from_pem(cert_pem).expect("gateway certificate");
        // HTTP/1.1, as most SOAP toolkits speak it (HTTP/2 has its own test in soap_http).
        let http = reqwest::Client::builder()
            .http1_only()
            .add_root_certificate(cert)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Soap { base: base.to_owned(), http, user: user.to_owned(), password: password.to_owned() }
    }

    /// The same client logging in as another system.
    pub fn with_login(&self, user: &str, password: &str) -> Soap {
        Soap { base: self.base.clone(), http: self.http.clone(), user: user.to_owned(), password: password.to_owned() }
    }

    pub fn with_password(&self, password: &str) -> Soap {
        Soap {
            base: self.base.clone(),
            http: self.http.clone(),
            user: self.user.clone(),
            password: password.to_owned(),
        }
    }

    /// A GET that may fail (nothing listening yet).
    pub async fn try_get(&self, path: &str) -> Option<reqwest::Response> {
        self.http.get(format!("{}{path}", self.base)).send().await.ok()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }

    /// Posts a raw body as SOAP 1.1.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: String) -> SoapAnswer {
        self.post_bytes(path, &[("Content-Type", content_type)], body.into_bytes()).await
    }

    /// Posts raw bytes with the given headers.
    pub async fn post_bytes(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> SoapAnswer {
        let mut req =
            self.http.post(format!("{}{path}", self.base)).basic_auth(&self.user, Some(&self.password)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("POST");
        let header = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let correlation_id = header("x-correlation-id");
        let www_authenticate = header("www-authenticate");
        let transfer_encoding = header("transfer-encoding");
        let retry_after = header("retry-after");
        let status = resp.status().as_u16();
        let body = resp.text().await.expect("body");
        SoapAnswer { status, body, correlation_id, www_authenticate, transfer_encoding, retry_after }
    }

    /// Calls `op` of the service at `path` with SOAP 1.1; `inner` is the operation's content.
    pub async fn call(&self, path: &str, op: &str, inner: &str) -> SoapAnswer {
        self.call_with_header(path, op, inner, "").await
    }

    /// Like [`Soap::call`], `None` when the connection fails (the server died).
    pub async fn try_call(&self, path: &str, op: &str, inner: &str) -> Option<SoapAnswer> {
        let body = self.envelope(path, op, inner, "");
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(body);
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.text().await.ok()?;
        Some(SoapAnswer {
            status,
            body,
            correlation_id: None,
            www_authenticate: None,
            transfer_encoding: None,
            retry_after: None,
        })
    }

    /// Like [`Soap::call`], with `header` as the content of the envelope's Header.
    pub async fn call_with_header(&self, path: &str, op: &str, inner: &str, header: &str) -> SoapAnswer {
        let body = self.envelope(path, op, inner, header);
        self.post_raw(path, "text/xml; charset=utf-8", body).await
    }

    fn envelope(&self, path: &str, op: &str, inner: &str, header: &str) -> String {
        let ns = match path {
            IMPORT => "urn:dtr:import:v2",
            EXPORT => "urn:dtr:export:v2",
            IMPORT_V1 => "urn:dtr:import:v1",
            EXPORT_V1 => "urn:dtr:export:v1",
            other => panic!("no SOAP endpoint at {other}"),
        };
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="{ns}"><soapenv:Header>{header}</soapenv:Header><soapenv:Body><d:{op}>{inner}</d:{op}></soapenv:Body></soapenv:Envelope>"#
        )
    }
}

/// The text of the first `<name>…</name>` in `xml` (answers are small and flat enough).
pub fn xml_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// All texts of `<name>…</name>` in order.
pub fn xml_texts<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(t) = xml_text(rest, name) {
        out.push(t);
        let idx = rest.find(&format!("</{name}>")).unwrap_or(rest.len() - 1) + name.len() + 3;
        rest = &rest[idx..];
    }
    out
}

/// Calls an ImportService operation that must succeed and returns the number it answers.
pub async fn import_ok(soap: &Soap, op: &str, inner: &str) -> String {
    let a = soap.call(IMPORT, op, inner).await;
    assert_eq!(xml_text(&a.body, "status"), Some("OK"), "{op}: {}", a.body);
    xml_text(&a.body, "nummer").unwrap_or_default().to_owned()
}

/// Validates the Body content of an ExportService answer against the published schema (xmllint).
pub fn export_schema_valid(body: &str, op: &str) {
    schema_valid(&dtr_proto::xsd::export("urn:dtr:export:v2"), body, op);
}

/// Validates the Body content of an answer to `op` against the schema `xsd` (xmllint).
pub fn schema_valid(xsd_text: &str, body: &str, op: &str) {
    let start = body.find(&format!("<{op}Response")).expect("response element");
    let end = body.find(&format!("</{op}Response>")).expect("response end") + op.len() + 11;
    let dir = TempDir::new();
    let (xsd, doc) = (dir.path().join("export.xsd"), dir.path().join("answer.xml"));
    std::fs::write(&xsd, xsd_text).unwrap();
    std::fs::write(&doc, &body[start..end]).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&doc)
        .output()
        .expect("xmllint (Debian: libxml2-utils; scripts/test.sh installs it)");
    assert!(out.status.success(), "{op} answer is schema-valid: {}", String::from_utf8_lossy(&out.stderr));
}

pub const VALID_DAGINSTITUTION: &str = "<d:daginstitution><d:daginstitutionsNavn>Skovbørnehaven Egern &amp; Co</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode><d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>101</d:admKommuneKode></d:daginstitution>";

/// Who a test writes as when it writes straight through the store (a writer outside the
/// services): `system` in operation `operation`, its correlation id the system's name.
pub fn aktoer(system: &str, operation: &str) -> dtr_registry::model::Aktoer {
    dtr_registry::model::Aktoer {
        system: system.into(),
        organisation: None,
        correlation_id: system.into(),
        operation: operation.into(),
        message_id: None,
    }
}
