//! Starting the system for tests: embedded (`dtr up --demo`, SQLite) or distributed (four
//! processes on PostgreSQL and Redis).

use dtr_tilslutning::model::{AftaleStatus, Organisation, OrganisationType};
use dtr_tilslutning::store::NewSystem;

use super::{Proc, Soap, TempDir, free_port, wait_until};

pub struct Cluster {
    pub _dir: TempDir,
    /// The deployment's PKI, made with `dtr pki init`.
    pub pki: std::path::PathBuf,
    pub db: String,
    pub import: u16,
    pub export: u16,
    pub tilslutning: u16,
    pub procs: Vec<Proc>,
}

/// Migrates a fresh database with `dtr migrate`, then starts the three gRPC services.
pub async fn start_services() -> Cluster {
    start_services_with(&[]).await
}

pub async fn start_services_with(extra_env: &[(&str, String)]) -> Cluster {
    start_services_on(super::fresh_postgres_db().await, extra_env).await
}

/// Like [`start_services_with`], on the empty database `db`.
pub async fn start_services_on(db: String, extra_env: &[(&str, String)]) -> Cluster {
    let dir = TempDir::new();
    let pki = dir.path().join("pki");
    let init = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["pki", "init", "--pki-dir", pki.to_str().unwrap()])
        .output()
        .expect("dtr pki init");
    assert!(init.status.success(), "dtr pki init: {}", String::from_utf8_lossy(&init.stderr));
    let migrate = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["migrate"])
        .env("DTR_DATABASE_URL", &db)
        .output()
        .expect("dtr migrate");
    assert!(migrate.status.success(), "dtr migrate: {}", String::from_utf8_lossy(&migrate.stderr));
    let (import, export, tilslutning) = (free_port(), free_port(), free_port());
    let mut c = Cluster { _dir: dir, pki, db, import, export, tilslutning, procs: Vec::new() };
    for name in ["import", "export", "tilslutning"] {
        let p = spawn_service(&c, name, extra_env);
        c.procs.push(p);
    }
    for (i, name) in ["import", "export", "tilslutning"].into_iter().enumerate() {
        wait_until(&format!("{name} to be healthy"), super::START_LIMIT, || {
            // A service that exited will never be healthy: say why at once.
            c.procs[i].assert_running();
            let healthy = c.healthy(name);
            async move { healthy }
        })
        .await;
    }
    c
}

/// Starts one of the cluster's services (`import`, `export`, `tilslutning`) on its port.
pub fn spawn_service(c: &Cluster, name: &str, extra_env: &[(&str, String)]) -> Proc {
    let settings = vec![
        ("DTR_DATABASE_URL", c.db.clone()),
        ("DTR_REDIS_URL", super::redis_url()),
        ("DTR_GRPC_ADDR", format!("127.0.0.1:{}", c.port(name))),
        ("DTR_PKI_DIR", c.pki.display().to_string()),
        // The tilslutning service follows the register through the export service.
        ("DTR_EXPORT_URL", format!("https://127.0.0.1:{}", c.export)),
    ];
    // The export service reads its settings from a config file, the others from the environment.
    let env = if name == "export" {
        let file = c._dir.path().join("export.env");
        let lines: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        std::fs::write(&file, format!("# export service\n{}\n", lines.join("\n"))).unwrap();
        vec![("DTR_CONFIG", file.display().to_string())]
    } else {
        settings
    };
    let env: Vec<_> = env.into_iter().chain(extra_env.iter().cloned()).collect();
    Proc::spawn(name, &[name], &env, c._dir.path())
}

impl Cluster {
    pub fn port(&self, service: &str) -> u16 {
        match service {
            "import" => self.import,
            "export" => self.export,
            "tilslutning" => self.tilslutning,
            other => panic!("no service {other}"),
        }
    }

    /// Whether `dtr healthcheck` finds the service serving.
    pub fn healthy(&self, service: &str) -> bool {
        let addr = format!("https://127.0.0.1:{}", self.port(service));
        std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
            .args(["healthcheck", service, "--addr", &addr, "--pki-dir", &self.pki.display().to_string()])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }
}

/// A system with credentials and approved agreements, created directly in the database.
pub async fn seed_system(db: &str, username: &str, password: &str) {
    let store = dtr_tilslutning::connect(db).await.unwrap();
    store
        .upsert_organisation(&Organisation {
            kode: "UDB1".into(),
            navn: "Testleverandør".into(),
            cvr: "29189854".into(),
            pnr: String::new(),
            type_: OrganisationType::Udbyder,
        })
        .await
        .unwrap();
    let hash = dtr_tilslutning::credentials::hash_password(password).unwrap();
    store
        .create_system(&NewSystem {
            id: "sys-e2e",
            navn: "E2E",
            udbyder_kode: "UDB1",
            brugernavn: username,
            password_hash: &hash,
        })
        .await
        .unwrap();
    for s in dtr_demo_services() {
        store.upsert_service(&s).await.unwrap();
        store.set_tilslutning("sys-e2e", &s.servicekode, AftaleStatus::Godkendt, "STIL".into(), "").await.unwrap();
    }
    // Data-access agreements with every kommune and with the tests' private owner.
    for line in include_str!("../../data/kommuner.csv").lines().skip(1) {
        let kode = line.split(';').next().unwrap();
        store.set_dataaftale("sys-e2e", "ImportService", kode, AftaleStatus::Godkendt, kode.into(), "").await.unwrap();
    }
    store
        .upsert_organisation(&Organisation {
            kode: "PE0001".into(),
            navn: "Privatinstitutioner ApS".into(),
            cvr: "29189854".into(),
            pnr: String::new(),
            type_: OrganisationType::PrivatEjer,
        })
        .await
        .unwrap();
    store
        .set_dataaftale("sys-e2e", "ImportService", "PE0001", AftaleStatus::Godkendt, "PE0001".into(), "")
        .await
        .unwrap();
}

fn dtr_demo_services() -> Vec<dtr_tilslutning::model::ServiceDef> {
    ["ImportService", "ExportService"]
        .into_iter()
        .map(|s| dtr_tilslutning::model::ServiceDef {
            servicekode: s.into(),
            navn: s.into(),
            beskrivelse: String::new(),
            formaal: String::new(),
            data: String::new(),
            operationer: vec![],
            versioner: vec!["v2".into()],
        })
        .collect()
}

/// Starts the gateway in front of `c` and waits until `dtr healthcheck gateway` passes.
pub async fn start_gateway(c: &mut Cluster, extra_env: &[(&str, String)]) -> Soap {
    start_gateway_on(c, free_port(), extra_env).await
}

/// Like [`start_gateway`], on a port chosen beforehand.
pub async fn start_gateway_on(c: &mut Cluster, gw_port: u16, extra_env: &[(&str, String)]) -> Soap {
    let base = spawn_gateway_on(c, gw_port, extra_env).await;
    let cert = std::fs::read(c._dir.path().join("gw/tls/cert.pem")).unwrap();
    seed_system(&c.db, "e2e-bruger", "e2e-hemmelighed").await;
    Soap::new(&base, &cert, "e2e-bruger", "e2e-hemmelighed")
}

/// Starts one more gateway in front of the cluster's services (its certificate is the first
/// gateway's, in `gw/tls/`); returns its base URL.
pub async fn spawn_gateway(c: &mut Cluster, extra_env: &[(&str, String)]) -> String {
    spawn_gateway_on(c, free_port(), extra_env).await
}

/// Like [`spawn_gateway`], on a port chosen beforehand.
pub async fn spawn_gateway_on(c: &mut Cluster, gw_port: u16, extra_env: &[(&str, String)]) -> String {
    let p = gateway_proc(c, gw_port, extra_env);
    c.procs.push(p);
    let base = format!("https://127.0.0.1:{gw_port}");
    wait_until("the gateway to be healthy", super::START_LIMIT, || {
        let base = base.clone();
        async move {
            std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
                .args(["healthcheck", "gateway", "--addr", &base])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        }
    })
    .await;
    base
}

/// Starts a gateway in front of the cluster's services on `gw_port`, without waiting for it.
pub fn gateway_proc(c: &Cluster, gw_port: u16, extra_env: &[(&str, String)]) -> Proc {
    let env = vec![
        ("DTR_HTTPS_ADDR", format!("127.0.0.1:{gw_port}")),
        ("DTR_IMPORT_URL", format!("https://127.0.0.1:{}", c.import)),
        ("DTR_EXPORT_URL", format!("https://127.0.0.1:{}", c.export)),
        ("DTR_TILSLUTNING_URL", format!("https://127.0.0.1:{}", c.tilslutning)),
        ("DTR_PKI_DIR", c.pki.display().to_string()),
        ("DTR_DATA_DIR", c._dir.path().join("gw").display().to_string()),
        ("DTR_REDIS_URL", super::redis_url()),
    ];
    let env: Vec<_> = env.into_iter().chain(extra_env.iter().cloned()).collect();
    Proc::spawn(&format!("gateway-{gw_port}"), &["gateway"], &env, c._dir.path())
}

/// A running system with a SOAP client, its database URL and the services' gRPC addresses.
pub struct Running {
    pub soap: Soap,
    pub db: String,
    pub import_url: String,
    pub export_url: String,
    pub tilslutning_url: String,
    pub procs: Vec<Proc>,
    /// The gateway's certificate (PEM).
    pub cert: std::path::PathBuf,
    /// The deployment's PKI directory.
    pub pki: std::path::PathBuf,
    _dir: TempDir,
}

impl Running {
    pub fn cert_path(&self) -> &std::path::Path {
        &self.cert
    }

    /// The gateway's (and the portal's) base URL, `https://127.0.0.1:PORT`.
    pub fn soap_base(&self) -> String {
        self.soap.base.clone()
    }

    /// Credentials of one of the deployment's parts, for tests that call the services as it.
    pub fn part(&self, part: dtr_trust::Part) -> dtr_trust::PartCredentials {
        dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(&self.pki), part).expect("the part's credentials")
    }

    /// A tilslutning client as the portal: persons act through it (see [`super::grpc::som`]).
    pub async fn tilslutning(&self) -> super::grpc::Tilslutning {
        let portal = self.part(dtr_trust::Part::Portal);
        let channel = portal.connect(&self.tilslutning_url, dtr_trust::Part::Tilslutning).await;
        super::grpc::Tilslutning::new(channel.expect("the tilslutning service"))
    }
}

/// The gRPC address `dtr up` printed for `service` ("  gRPC: import http://… export http://…").
fn printed_grpc_url(log: &str, service: &str) -> String {
    let line = log.lines().find(|l| l.trim_start().starts_with("gRPC:")).expect("dtr up prints the gRPC addresses");
    let mut words = line.split_whitespace();
    words.find(|w| *w == service).expect("service named");
    words.next().expect("its address").to_owned()
}

/// Runs `dtr up --demo` on `data` with the gateway on `port` (logs in `log_dir`) and waits until
/// it says it is ready.
pub async fn spawn_up(name: &str, data: &std::path::Path, port: u16, log_dir: &std::path::Path) -> Proc {
    spawn_up_with(name, data, port, log_dir, &[]).await
}

/// Like [`spawn_up`], with extra environment.
pub async fn spawn_up_with(
    name: &str,
    data: &std::path::Path,
    port: u16,
    log_dir: &std::path::Path,
    env: &[(&str, String)],
) -> Proc {
    let up = Proc::spawn(
        name,
        &["up", "--demo", "--data-dir", data.to_str().unwrap(), "--https-addr", &format!("127.0.0.1:{port}")],
        env,
        log_dir,
    );
    wait_until(&format!("{name} to start"), super::START_LIMIT, || {
        let ready = up.log().contains("Press Ctrl-C to stop.");
        async move { ready }
    })
    .await;
    up
}

/// A SOAP client of a `dtr up --demo` on `data` with its gateway on `port`, as the demo system.
pub fn demo_soap(data: &std::path::Path, port: u16) -> Soap {
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-credentials.json")).unwrap()).unwrap();
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let (user, password) = (creds["username"].as_str().unwrap(), creds["password"].as_str().unwrap());
    Soap::new(&format!("https://127.0.0.1:{port}"), &cert, user, password)
}

/// `dtr up --demo` in a fresh data directory: SQLite, everything in one process.
pub async fn embedded() -> Running {
    embedded_with(&[]).await
}

/// Like [`embedded`], with extra environment for `dtr up`.
pub async fn embedded_with(env: &[(&str, String)]) -> Running {
    embedded_on(free_port(), env).await
}

/// Like [`embedded_with`], with the gateway on a port chosen beforehand.
pub async fn embedded_on(port: u16, env: &[(&str, String)]) -> Running {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let up = spawn_up_with("dtr-up", &data, port, dir.path(), env).await;
    let soap = demo_soap(&data, port);
    let db = format!("sqlite:{}", data.join("dtr.db").display());
    let log = up.log();
    let (import_url, export_url) = (printed_grpc_url(&log, "import"), printed_grpc_url(&log, "export"));
    let tilslutning_url = printed_grpc_url(&log, "tilslutning");
    let cert = data.join("tls/cert.pem");
    let pki = data.join("pki");
    Running { soap, db, import_url, export_url, tilslutning_url, procs: vec![up], cert, pki, _dir: dir }
}

/// The four services as separate processes on a fresh PostgreSQL database and Redis.
pub async fn distributed() -> Running {
    distributed_with(&[]).await
}

/// Like [`distributed`], with extra environment for the three services.
pub async fn distributed_with(extra_env: &[(&str, String)]) -> Running {
    distributed_gateway_on(free_port(), extra_env, &[]).await
}

/// Like [`distributed_with`], with the gateway on a port chosen beforehand and its own extra
/// environment.
pub async fn distributed_gateway_on(
    gw_port: u16,
    service_env: &[(&str, String)],
    gateway_env: &[(&str, String)],
) -> Running {
    let mut c = start_services_with(service_env).await;
    let soap = start_gateway_on(&mut c, gw_port, gateway_env).await;
    let url = |port: u16| format!("https://127.0.0.1:{port}");
    let (import_url, export_url, tilslutning_url) = (url(c.import), url(c.export), url(c.tilslutning));
    let cert = c._dir.path().join("gw/tls/cert.pem");
    let pki = c.pki.clone();
    Running { soap, db: c.db, import_url, export_url, tilslutning_url, procs: c.procs, cert, pki, _dir: c._dir }
}
