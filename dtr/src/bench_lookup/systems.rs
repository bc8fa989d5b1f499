//! The systems the lookup benchmark measures: `dtr up`, or each service its own process, on the
//! server's CPU; and the node `soap` peer beside them.

use super::*;

/// A running system under test: its processes (stopped when dropped) and how to reach it.
pub(super) struct System {
    pub(super) procs: Vec<Child>,
    /// The process whose memory the held connections cost (the gateway, or `dtr up`).
    pub(super) gateway_pid: u32,
    pub(super) base: String,
    pub(super) export_grpc: String,
    pub(super) pki: PathBuf,
    pub(super) tls_dir: PathBuf,
    pub(super) user: String,
    pub(super) password: String,
    /// Run when dropped, after the processes stop (drops the bench's database).
    pub(super) cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for System {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
        if let Some(c) = self.cleanup.take() {
            c();
        }
    }
}

/// `taskset`: `pid` (and with `all`, every thread of it) on `cpu`.
pub(super) fn pin(pid: u32, cpu: &str, all: bool) -> anyhow::Result<()> {
    let mut c = Command::new("taskset");
    if all {
        c.arg("-a");
    }
    let ok = c.args(["-cp", cpu, &pid.to_string()]).stdout(Stdio::null()).status()?.success();
    if !ok {
        bail!("taskset could not pin process {pid} to CPU {cpu}");
    }
    Ok(())
}

/// npm's `soap` under `dir`, installed if missing; the path `require` takes.
pub(super) fn install_soap(dir: &Path) -> anyhow::Result<PathBuf> {
    let module = dir.join("node_modules/soap");
    if !module.join("package.json").exists() {
        println!("installing {SOAP_PACKAGE} into {} for the comparison peer…", dir.display());
        std::fs::create_dir_all(dir)?;
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .arg(SOAP_PACKAGE)
            .status()
            .context("npm")?
            .success();
        if !ok {
            bail!("npm install {SOAP_PACKAGE} failed");
        }
    }
    Ok(std::fs::canonicalize(module)?)
}

/// The `dtr` binary on the server's CPU.
pub(super) fn dtr_on_server_cpu() -> anyhow::Result<Command> {
    let mut c = Command::new("taskset");
    c.args(["-c", SERVER_CPU]).arg(std::env::current_exe()?);
    Ok(c)
}

pub(super) fn start_embedded(dir: &Path) -> anyhow::Result<System> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = dtr_on_server_cpu()?;
    cmd.args(["up", "--demo", "--data-dir"]).arg(dir).args(["--https-addr", "127.0.0.1:0"]);
    let server = crate::bench::start_command(cmd)?;
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json"))?)?;
    let mut server = server;
    let child = std::mem::replace(&mut server.child, Command::new("true").spawn()?);
    Ok(System {
        gateway_pid: child.id(),
        procs: vec![child],
        base: server.base.clone(),
        export_grpc: server.export_grpc.clone(),
        pki: dir.join("pki"),
        tls_dir: dir.join("tls"),
        user: creds["username"].as_str().unwrap_or_default().to_owned(),
        password: creds["password"].as_str().unwrap_or_default().to_owned(),
        cleanup: None,
    })
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Each service its own `dtr` process on the server's CPU, on a fresh database of the bench's
/// own on `pg` and on Redis.
pub(super) async fn start_distributed(dir: &Path, pg: &str, redis: &str) -> anyhow::Result<System> {
    std::fs::create_dir_all(dir)?;
    let name = format!("dtr_bench_lookup_{}", std::process::id());
    let admin = sqlx::PgPool::connect(pg).await.context("the PostgreSQL server")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
    let mut db_url = reqwest::Url::parse(pg).context("--postgres-url")?;
    db_url.set_path(&name);
    let db = db_url.to_string();
    let cleanup_admin = pg.to_owned();
    let cleanup: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(p) = sqlx::PgPool::connect(&cleanup_admin).await {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                .execute(&p)
                                .await;
                    }
                });
            }
        })
        .join();
    });

    crate::grpc::migrate_all(&db).await?;
    let pki = dir.join("pki");
    let ok = Command::new(std::env::current_exe()?).args(["pki", "init", "--pki-dir"]).arg(&pki).status()?.success();
    if !ok {
        bail!("dtr pki init failed");
    }
    let logins = crate::demo::ensure(&db, dir).await.context("demo systems and register")?;
    let (import, export, tilslutning, https) = (free_port()?, free_port()?, free_port()?, free_port()?);
    // Each process's warnings go to a log of its own, kept after the run.
    let logs = std::path::absolute("target/bench-lookup-logs")?;
    std::fs::create_dir_all(&logs)?;
    let common = |cmd: &mut Command, name: &str| -> anyhow::Result<()> {
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        cmd.env("DTR_DATABASE_URL", &db)
            .env("DTR_REDIS_URL", redis)
            .env("DTR_PKI_DIR", &pki)
            .env("DTR_METRICS_ADDR", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        Ok(())
    };
    let mut procs = Vec::new();
    for (service, port) in [("import", import), ("export", export), ("tilslutning", tilslutning)] {
        let mut cmd = dtr_on_server_cpu()?;
        cmd.arg(service).env("DTR_GRPC_ADDR", format!("127.0.0.1:{port}"));
        cmd.env("DTR_EXPORT_URL", format!("https://127.0.0.1:{export}"));
        common(&mut cmd, service)?;
        procs.push(cmd.spawn().with_context(|| format!("starting dtr {service}"))?);
    }
    let mut cmd = dtr_on_server_cpu()?;
    cmd.arg("gateway")
        .env("DTR_HTTPS_ADDR", format!("127.0.0.1:{https}"))
        .env("DTR_IMPORT_URL", format!("https://127.0.0.1:{import}"))
        .env("DTR_EXPORT_URL", format!("https://127.0.0.1:{export}"))
        .env("DTR_TILSLUTNING_URL", format!("https://127.0.0.1:{tilslutning}"))
        .env("DTR_DATA_DIR", dir.join("gw"));
    common(&mut cmd, "gateway")?;
    let gateway = cmd.spawn().context("starting dtr gateway")?;
    let gateway_pid = gateway.id();
    procs.push(gateway);
    let system = System {
        procs,
        gateway_pid,
        base: format!("https://127.0.0.1:{https}"),
        export_grpc: format!("https://127.0.0.1:{export}"),
        pki: pki.clone(),
        tls_dir: dir.join("gw/tls"),
        user: logins.system.username.clone(),
        password: logins.system.password.clone(),
        cleanup: Some(cleanup),
    };
    let exe = std::env::current_exe()?;
    let checks = [
        ("import", system_url(import)),
        ("export", system_url(export)),
        ("tilslutning", system_url(tilslutning)),
        ("gateway", system.base.clone()),
    ];
    for (what, url) in checks {
        let started = Instant::now();
        loop {
            let mut c = Command::new(&exe);
            c.args(["healthcheck", what, "--addr", &url]);
            if what != "gateway" {
                c.arg("--pki-dir").arg(&pki);
            }
            if c.output().is_ok_and(|o| o.status.success()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("dtr {what} did not become healthy");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(system)
}

pub(super) fn system_url(port: u16) -> String {
    format!("https://127.0.0.1:{port}")
}

/// The SOAP request of the lookup.
pub(super) fn lookup_envelope() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="urn:dtr:export:v2"><soapenv:Body><d:GetDaginstitutionByNummer><d:DagInstitutionsNummer>{NUMMER}</d:DagInstitutionsNummer></d:GetDaginstitutionByNummer></soapenv:Body></soapenv:Envelope>"#
    )
}

/// The node peer, on the server's CPU, answering what the gateway answered for the lookup.
pub(super) struct Peer {
    pub(super) child: Child,
    pub(super) base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) async fn start_peer(
    s: &System,
    http: &reqwest::Client,
    soap_module: &Path,
    work: &Path,
) -> anyhow::Result<Peer> {
    let body = http
        .post(format!("{}{}", s.base, dtr_gateway::EXPORT_PATH))
        .basic_auth(&s.user, Some(&s.password))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(lookup_envelope())
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let (Some(start), Some(end)) = (body.find("<soap:Body>"), body.rfind("</soap:Body>")) else {
        bail!("the gateway's answer has no SOAP Body: {body}");
    };
    let inner = &body[start + "<soap:Body>".len()..end];
    let inner =
        inner.find('>').and_then(|open| inner.rfind("</").map(|close| &inner[open + 1..close])).unwrap_or(inner);
    if !inner.contains(NUMMER) {
        bail!("the gateway did not find {NUMMER}: {body}");
    }
    std::fs::write(work.join("answer.xml"), inner)?;
    std::fs::write(work.join("soap_peer.js"), SOAP_PEER)?;
    let port = free_port()?;
    let mut child = Command::new("taskset")
        .args(["-c", SERVER_CPU, "node", "--expose-gc"])
        .arg(work.join("soap_peer.js"))
        .arg(port.to_string())
        .arg(s.tls_dir.join("cert.pem"))
        .arg(s.tls_dir.join("key.pem"))
        .arg(work.join("answer.xml"))
        .args([&s.user, &s.password])
        .env("DTR_BENCH_SOAP_MODULE", soap_module)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the node soap peer")?;
    let stdout = child.stdout.take().context("peer stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    if !line.contains("listening") {
        let _ = child.kill();
        bail!("the node soap peer did not start: {line}");
    }
    let peer = Peer { child, base: format!("https://127.0.0.1:{port}") };
    // The peer answers the operation, and only with the right password.
    let url = format!("{}{}", peer.base, dtr_gateway::EXPORT_PATH);
    let ok = http.post(&url).basic_auth(&s.user, Some(&s.password)).body(lookup_envelope()).send().await?;
    let (status, text) = (ok.status(), ok.text().await?);
    if !status.is_success() || !text.contains(NUMMER) {
        bail!("the node soap peer's answer ({status}): {text}");
    }
    let refused = http.post(&url).basic_auth(&s.user, Some("forkert")).body(lookup_envelope()).send().await?;
    if refused.status() != 401 {
        bail!("the node soap peer let a wrong password through ({})", refused.status());
    }
    Ok(peer)
}
