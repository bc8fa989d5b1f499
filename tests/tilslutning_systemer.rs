//! Providers' systems over gRPC on PostgreSQL and SQLite, checked through SOAP: created with
//! server-generated credentials shown once, renamed, passive/active, blocked and unblocked by
//! STIL with a reason, credentials rotated with an overlap, listed with paging, deleted (its
//! agreements end, its login stops).

use crate::common;
use common::grpc::som;

use dtr_proto::tilslutning::{
    AftaleStatus, BlockSystemRequest, CreateSystemRequest, DecideRequest, DeleteSystemRequest, ListAftalerRequest,
    ListSystemsRequest, RenameSystemRequest, RequestTilslutningRequest, RotateCredentialsRequest,
    SetOrganisationPassivRequest, SetSystemPassivRequest, Side, UnblockSystemRequest,
};

use common::cluster::{self, Running};
use common::{EXPORT, xml_text};

async fn scenario(r: Running, provider: &str) {
    let mut c = r.tilslutning().await;
    let create = |udbyder: &str, navn: &str| CreateSystemRequest {
        udbyder_kode: udbyder.into(),
        navn: navn.into(),
        ..Default::default()
    };

    // Only a registered provider creates, and only its own systems.
    assert_eq!(
        c.create_system(som("ANDEN", create(provider, "X"))).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        c.create_system(som("101", create("101", "X"))).await.unwrap_err().code(),
        tonic::Code::FailedPrecondition
    );
    assert_eq!(
        c.create_system(som(provider, create(provider, "  "))).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    let made = c.create_system(som(provider, create(provider, "Nyt system"))).await.unwrap().into_inner();
    let (system, creds) = (made.system.unwrap(), made.credentials.unwrap());
    assert!(creds.adgangskode.len() >= 20, "a generated password");
    assert_eq!(system.brugernavn, creds.brugernavn);
    let id = system.udbydersystem_id.clone();

    // Connect it to the ExportService and call over SOAP with the generated credentials.
    let t = c
        .request_tilslutning(som(
            provider,
            RequestTilslutningRequest {
                udbydersystem_id: id.clone(),
                servicekode: "ExportService".into(),
                kommentar: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    c.decide_tilslutning(som(
        "STIL",
        DecideRequest { aftale_id: t.aftale_id.clone(), til: AftaleStatus::Godkendt as i32, kommentar: String::new() },
    ))
    .await
    .unwrap();
    let soap = r.soap.with_login(&creds.brugernavn, &creds.adgangskode);
    let hello = || soap.call(EXPORT, "HelloWorld", "");
    assert_eq!(hello().await.status, 200);
    assert_eq!(hello().await.status, 200, "answered from the gateway's decision cache");

    // Its last use is recorded (a day, not a write per call), so STIL can find the systems
    // unused for 12 months: this one is not among them, a never-used one is.
    let idle = c.create_system(som(provider, create(provider, "Ubrugt"))).await.unwrap().into_inner().system.unwrap();
    let list = |kun_ubrugte: bool| ListSystemsRequest { kun_ubrugte, ..Default::default() };
    let all = c.list_systems(som("STIL", list(false))).await.unwrap().into_inner().systems;
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let used = all.iter().find(|s| s.udbydersystem_id == id).unwrap();
    assert_eq!(used.sidst_brugt, today);
    assert_eq!(all.iter().find(|s| s.udbydersystem_id == idle.udbydersystem_id).unwrap().sidst_brugt, "");
    let unused: Vec<String> = c
        .list_systems(som("STIL", list(true)))
        .await
        .unwrap()
        .into_inner()
        .systems
        .into_iter()
        .map(|s| s.udbydersystem_id)
        .collect();
    assert!(unused.contains(&idle.udbydersystem_id) && !unused.contains(&id), "{unused:?}");

    // STIL closes the connection: the very next call is refused, though the gateway had cached
    // the approval; reopened, the next call passes.
    let decide =
        |til: AftaleStatus| DecideRequest { aftale_id: t.aftale_id.clone(), til: til as i32, kommentar: "x".into() };
    c.decide_tilslutning(som("STIL", decide(AftaleStatus::Afvist))).await.unwrap();
    assert_eq!(xml_text(&hello().await.body, "ErrorCode"), Some("IPL000014"));
    c.decide_tilslutning(som("STIL", decide(AftaleStatus::Godkendt))).await.unwrap();
    assert_eq!(hello().await.status, 200);

    // STIL makes the provider passive: all its systems are refused until it is active again.
    let org_passiv =
        |p: bool| SetOrganisationPassivRequest { kode: provider.into(), passiv: p, kommentar: "ophørt".into() };
    c.set_organisation_passiv(som("STIL", org_passiv(true))).await.unwrap();
    let refused = hello().await;
    assert_eq!(xml_text(&refused.body, "ErrorCode"), Some("IPL000010"));
    assert!(refused.body.contains("Leverandøren"), "{}", refused.body);
    c.set_organisation_passiv(som("STIL", org_passiv(false))).await.unwrap();
    assert_eq!(hello().await.status, 200);

    let renamed = c
        .rename_system(som(provider, RenameSystemRequest { udbydersystem_id: id.clone(), navn: "Omdøbt".into() }))
        .await
        .unwrap();
    assert_eq!(renamed.into_inner().navn, "Omdøbt");

    // Passive: the provider's switch.
    let passiv = |p: bool| SetSystemPassivRequest { udbydersystem_id: id.clone(), passiv: p };
    assert_eq!(
        c.set_system_passiv(som("ANDEN", passiv(true))).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    assert!(c.set_system_passiv(som(provider, passiv(true))).await.unwrap().into_inner().passiv);
    assert_eq!(xml_text(&hello().await.body, "ErrorCode"), Some("IPL000010"));
    c.set_system_passiv(som(provider, passiv(false))).await.unwrap();
    assert_eq!(hello().await.status, 200);

    // Blocked: STIL's, with a reason.
    let block = |aarsag: &str| BlockSystemRequest { udbydersystem_id: id.clone(), aarsag: aarsag.into() };
    assert_eq!(c.block_system(som(provider, block("x"))).await.unwrap_err().code(), tonic::Code::PermissionDenied);
    assert_eq!(c.block_system(som("STIL", block(" "))).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    let b = c.block_system(som("STIL", block("ubrugt i 12 måneder"))).await.unwrap().into_inner();
    assert!(b.blokeret && b.blokeret_aarsag == "ubrugt i 12 måneder");
    let refused = hello().await;
    assert_eq!(xml_text(&refused.body, "ErrorCode"), Some("IPL000011"));
    assert!(refused.body.contains("ubrugt i 12 måneder"));
    c.unblock_system(som("STIL", UnblockSystemRequest { udbydersystem_id: id.clone(), kommentar: String::new() }))
        .await
        .unwrap();
    assert_eq!(hello().await.status, 200);

    // Rotation: the new password works at once, the old one until the overlap ends.
    let rotated = c
        .rotate_credentials(som(provider, RotateCredentialsRequest { udbydersystem_id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.adgangskode, creds.adgangskode);
    let end = rotated.gammel_udloeber.unwrap().seconds;
    let days = (end - chrono::Utc::now().timestamp()) as f64 / 86400.0;
    assert!((6.9..7.1).contains(&days), "overlap of 7 days, not {days}");
    let new_soap = r.soap.with_login(&creds.brugernavn, &rotated.adgangskode);
    assert_eq!(new_soap.call(EXPORT, "HelloWorld", "").await.status, 200);
    assert_eq!(hello().await.status, 200, "the old password works during the overlap");
    // End the overlap now (as if the week had passed): the old password stops, the new one works.
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    if r.db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&r.db).await.unwrap();
        sqlx::query("UPDATE credential SET udloeber = $1 WHERE udloeber IS NOT NULL")
            .bind(past)
            .execute(&pool)
            .await
            .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(&r.db).await.unwrap();
        sqlx::query("UPDATE credential SET udloeber = $1 WHERE udloeber IS NOT NULL")
            .bind(past)
            .execute(&pool)
            .await
            .unwrap();
    }
    // A change behind the service's back is not announced: a rename stands in for the time that
    // passed, clearing the gateway's cached logins (which otherwise end with the overlap itself).
    c.rename_system(som(provider, RenameSystemRequest { udbydersystem_id: id.clone(), navn: "Omdøbt".into() }))
        .await
        .unwrap();
    assert_eq!(hello().await.status, 401, "the old password has stopped");
    assert_eq!(new_soap.call(EXPORT, "HelloWorld", "").await.status, 200);

    // Listing: own systems only, a page at a time.
    let second = c.create_system(som(provider, create(provider, "Andet"))).await.unwrap().into_inner().system.unwrap();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListSystemsRequest { side: Some(Side { stoerrelse: 1, token: token.clone() }), ..Default::default() };
        let page = c.list_systems(som(provider, req)).await.unwrap().into_inner();
        assert!(page.systems.len() <= 1);
        assert!(page.systems.iter().all(|s| s.udbyder_kode == provider));
        seen.extend(page.systems.into_iter().map(|s| s.udbydersystem_id));
        if page.naeste_side.is_empty() {
            break;
        }
        token = page.naeste_side;
    }
    assert!(seen.contains(&id) && seen.contains(&second.udbydersystem_id), "{seen:?}");
    let found = c
        .list_systems(som(provider, ListSystemsRequest { soeg: "OMDØBT".into(), ..Default::default() }))
        .await
        .unwrap();
    assert_eq!(
        found.into_inner().systems.iter().map(|s| s.udbydersystem_id.clone()).collect::<Vec<_>>(),
        vec![id.clone()]
    );

    // Delete: its agreements end, its login stops, it is listed only on request.
    let deleted = c
        .delete_system(som(provider, DeleteSystemRequest { udbydersystem_id: id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.slettet);
    assert_eq!(new_soap.call(EXPORT, "HelloWorld", "").await.status, 401);
    let aftaler = c
        .list_tilslutninger(som(
            "STIL",
            ListAftalerRequest { udbydersystem_id: id.clone(), med_slettede: true, ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .aftaler;
    assert_eq!(aftaler.len(), 1);
    assert_eq!(aftaler[0].status(), AftaleStatus::Slettet);
    assert_eq!(aftaler[0].historik.last().unwrap().kommentar, "systemet er slettet");
    let listed = c.list_systems(som(provider, ListSystemsRequest::default())).await.unwrap().into_inner().systems;
    assert!(!listed.iter().any(|s| s.udbydersystem_id == id));
    let all =
        c.list_systems(som(provider, ListSystemsRequest { med_slettede: true, ..Default::default() })).await.unwrap();
    assert!(all.into_inner().systems.iter().any(|s| s.udbydersystem_id == id));
    assert_eq!(
        c.rename_system(som(provider, RenameSystemRequest { udbydersystem_id: id.clone(), navn: "Igen".into() }))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
}

#[tokio::test]
async fn systems_postgres() {
    scenario(cluster::distributed().await, "UDB1").await;
}

#[tokio::test]
async fn systems_sqlite() {
    scenario(cluster::embedded().await, "DEMO01").await;
}
