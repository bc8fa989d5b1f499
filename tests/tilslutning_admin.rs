//! `dtr admin` against a running system (`dtr up --demo`), as an operator uses it: register a
//! provider, see its system's waiting connection request, approve it (the system can call),
//! block and unblock the system (calls refused, then allowed), list agreements. The console finds
//! the running system and its own credential in the data directory; without that credential, or
//! with another deployment's, it gets nowhere.

use crate::common;

use dtr_proto::tilslutning::{CreateSystemRequest, RequestTilslutningRequest};

use common::grpc::som;
use common::{EXPORT, xml_text};
use common::{TempDir, cluster};

/// `dtr admin ARGS` in a shell that knows only the data directory of the running `dtr up`.
fn admin(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    admin_env(&[("DTR_DATA_DIR", data_dir.display().to_string())], args)
}

fn admin_env(env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .arg("admin")
        .args(args)
        .env_remove("DTR_TILSLUTNING_URL")
        .env_remove("DTR_PKI_DIR")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("dtr admin");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn operator_cli_against_a_running_system() {
    let r = cluster::embedded().await;
    let url = r.pki.parent().expect("the data directory").to_path_buf();

    // Without the operator's credential, or with another deployment's, nothing happens.
    let elsewhere = TempDir::new();
    let (ok, out) = admin(elsewhere.path(), &["tilslutninger"]);
    assert!(!ok && out.contains("no PKI in"), "{out}");
    let other_pki = elsewhere.path().join("pki");
    dtr_trust::PkiDir::new(&other_pki).init().unwrap();
    let foreign =
        [("DTR_PKI_DIR", other_pki.display().to_string()), ("DTR_TILSLUTNING_URL", r.tilslutning_url.clone())];
    let (ok, out) = admin_env(&foreign, &["organisation", "--kode", "EVIL01", "--navn", "Ond", "--type", "udbyder"]);
    assert!(!ok && !out.contains("registered"), "another CA's certificate gets no connection: {out}");

    let (ok, out) = admin(
        &url,
        &["organisation", "--kode", "NYUDB", "--navn", "Ny Leverandør ApS", "--type", "udbyder", "--cvr", "12345678"],
    );
    assert!(ok && out.contains("NYUDB"), "{out}");
    let (ok, out) = admin(&url, &["organisation", "--kode", "NYUDB", "--navn", "Igen", "--type", "udbyder"]);
    assert!(!ok && out.contains("findes allerede"), "{out}");
    let (ok, out) = admin(&url, &["organisation", "--kode", "FOR-LANG-KODE", "--navn", "X", "--type", "kommune"]);
    assert!(!ok && out.contains("kode skal være 1 til 6"), "{out}");

    // The new provider creates a system and asks for the ExportService.
    let mut c = r.tilslutning().await;
    let as_provider = |msg| som("NYUDB", msg);
    let made = c
        .create_system(as_provider(CreateSystemRequest {
            udbyder_kode: "NYUDB".into(),
            navn: "Nyt".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let made = made.into_inner();
    let (system, creds) = (made.system.unwrap(), made.credentials.unwrap());
    let req = RequestTilslutningRequest {
        udbydersystem_id: system.udbydersystem_id.clone(),
        servicekode: "ExportService".into(),
        kommentar: "læse registeret".into(),
    };
    let aftale = c.request_tilslutning(som("NYUDB", req)).await.unwrap().into_inner();
    let soap = r.soap.with_login(&creds.brugernavn, &creds.adgangskode);
    assert_eq!(xml_text(&soap.call(EXPORT, "HelloWorld", "").await.body, "ErrorCode"), Some("IPL000013"));

    // The operator sees it waiting and approves it.
    let (ok, out) = admin(&url, &["tilslutninger", "--status", "venter"]);
    assert!(ok && out.contains(&aftale.aftale_id) && out.contains("VENTER"), "{out}");
    let (ok, out) = admin(&url, &["beslut", &aftale.aftale_id, "godkend", "--kommentar", "ok"]);
    assert!(ok && out.contains("GODKENDT"), "{out}");
    assert_eq!(soap.call(EXPORT, "HelloWorld", "").await.status, 200);
    let (ok, out) = admin(&url, &["beslut", &aftale.aftale_id, "godkend"]);
    assert!(!ok && out.contains("GODKENDT til GODKENDT"), "a refused transition says why: {out}");

    // Block and unblock.
    let (ok, out) = admin(&url, &["bloker", &system.udbydersystem_id, "--aarsag", "misbrug"]);
    assert!(ok, "{out}");
    let refused = soap.call(EXPORT, "HelloWorld", "").await;
    assert_eq!(xml_text(&refused.body, "ErrorCode"), Some("IPL000011"));
    let (ok, out) = admin(&url, &["frigiv", &system.udbydersystem_id]);
    assert!(ok, "{out}");
    assert_eq!(soap.call(EXPORT, "HelloWorld", "").await.status, 200);

    // The demo system's data-access agreements.
    let (ok, out) = admin(&url, &["dataaftaler", "--ejer", "101"]);
    assert!(ok && out.contains("demo-system-1") && out.contains("GODKENDT"), "{out}");
}
