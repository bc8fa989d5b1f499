//! End to end in the embedded mode: `dtr up --demo` as a user runs it, SOAP over real HTTPS with
//! the demo credentials, through the gateway, gRPC and the services into SQLite.

use crate::common;

use common::cluster::spawn_up;
use common::{Soap, TempDir, free_port, scenario};

#[tokio::test]
async fn embedded_up_demo_serves_soap_end_to_end() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let port = free_port();
    let mut up = spawn_up("dtr-up", &data, port, dir.path()).await;
    let creds_file = data.join("demo-credentials.json");
    up.assert_running();

    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds_file).unwrap()).unwrap();
    let base = format!("https://127.0.0.1:{port}");
    assert_eq!(creds["import_wsdl"], format!("{base}/services/DTR/ImportService/v2?wsdl"));
    assert_eq!(creds["export_wsdl"], format!("{base}/services/DTR/ExportService/v2?wsdl"));
    let log = up.log();
    assert!(log.contains(creds["password"].as_str().unwrap()), "the password is printed");

    // Secrets and data are readable by their owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "the data directory");
        for file in ["dtr.db", "demo-credentials.json", "tls/key.pem"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    }

    let cert = std::fs::read(data.join("tls/cert.pem")).expect("self-signed certificate kept in the data dir");
    let soap = Soap::new(&base, &cert, creds["username"].as_str().unwrap(), creds["password"].as_str().unwrap());

    // Demo data is there: København's first institution.
    let a = soap
        .call(common::EXPORT, "GetDaginstitutionByNummer", "<d:DagInstitutionsNummer>G30000</d:DagInstitutionsNummer>")
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(common::xml_text(&a.body, "admKommuneKode"), Some("101"));

    let db = format!("sqlite:{}", data.join("dtr.db").display());
    let store = dtr_registry::storage::connect(&db).await.unwrap();
    let (d, a, l) = store.count_units().await.unwrap();
    assert_eq!(
        (d, a, l),
        (9, 18, 9),
        "three kommuner × three institutions, two units each, one address per institution"
    );

    scenario::soap_slice(&soap, || {
        let s = store.clone();
        async move { s.count_units().await.unwrap() }
    })
    .await;
    up.assert_running();

    // A second start reuses the data and the credentials.
    up.kill();
    let port2 = free_port();
    let _up2 = spawn_up("dtr-up-again", &data, port2, dir.path()).await;
    let soap2 = Soap::new(
        &format!("https://127.0.0.1:{port2}"),
        &cert,
        creds["username"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    let a = soap2.call(common::IMPORT, "HelloWorld", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(store.count_units().await.unwrap().1, 18, "demo data not created twice");
}

/// A second gateway on a port already taken fails with the reason and never claims to listen;
/// the first one says it listens only once its socket is bound.
#[tokio::test]
async fn listening_is_said_only_once_bound() {
    let r = common::cluster::embedded().await;
    assert!(r.procs[0].log().contains("gateway listening"), "the running one says so");
    let port = r.soap_base().rsplit(':').next().unwrap().to_owned();
    let dir = TempDir::new();
    let env = [
        ("DTR_HTTPS_ADDR", format!("127.0.0.1:{port}")),
        ("DTR_PKI_DIR", r.pki.display().to_string()),
        ("DTR_DATA_DIR", dir.path().join("gw").display().to_string()),
        ("DTR_METRICS_ADDR", "off".to_owned()),
    ];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .arg("gateway")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("in use"), "the reason: {log}");
    assert!(!log.contains("gateway listening"), "never claimed: {log}");
}
