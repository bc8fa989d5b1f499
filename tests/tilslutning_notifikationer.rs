//! Notifications through a real SMTP server the test starts: each event reaches the
//! organisation concerned (a connection request STIL, its decision the provider, a data-access
//! request the owner, its decision the provider, a block the provider), written to the outbox with
//! the change; with the mail server down nothing is lost, and the outbox delivers when it is back.
//! The periodic registry check's findings reach the owner.

use crate::common;
use common::grpc::som;

use std::time::Duration;

use dtr_proto::tilslutning::{
    AftaleStatus, BlockSystemRequest, CreateOrganisationRequest, CreateSystemRequest, DecideRequest,
    ListNotifikationsmodtagereRequest, Notifikationsmodtager, Organisation, OrganisationType,
    RequestDataaftalerRequest, RequestTilslutningRequest, UnblockSystemRequest,
};

use common::smtp::SmtpServer;
use common::{cluster, free_port, wait_until};

/// Waits for a mail to `to` whose text contains `subject`.
async fn arrives(smtp: &SmtpServer, to: &str, subject: &str) {
    wait_until(&format!("a mail to {to}: {subject}"), Duration::from_secs(30), || {
        let found = smtp.received().iter().any(|m| m.to.iter().any(|t| t == to) && m.data.contains(subject));
        async move { found }
    })
    .await;
}

#[tokio::test]
async fn each_event_mails_the_organisation_concerned_and_survives_an_outage() {
    let port = free_port();
    let smtp = SmtpServer::start(port).await;
    let r = cluster::distributed_with(&[("DTR_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    let mut c = r.tilslutning().await;

    // STIL is registered by the migrations.
    for (kode, navn, t) in [("101", "København Kommune", OrganisationType::Kommune)] {
        let org = Organisation { kode: kode.into(), navn: navn.into(), r#type: t as i32, ..Default::default() };
        c.create_organisation(som("STIL", CreateOrganisationRequest { organisation: Some(org) })).await.unwrap();
    }
    for (org, email) in
        [("STIL", "drift@stil.example"), ("UDB1", "support@udbyder.example"), ("101", "dagtilbud@kk.example")]
    {
        c.add_notifikationsmodtager(som(
            org,
            Notifikationsmodtager { organisation_kode: org.into(), email: email.into() },
        ))
        .await
        .unwrap();
    }
    let bad = c
        .add_notifikationsmodtager(som(
            "101",
            Notifikationsmodtager { organisation_kode: "101".into(), email: "ikke en adresse".into() },
        ))
        .await;
    assert_eq!(bad.unwrap_err().code(), tonic::Code::InvalidArgument);
    let other = c
        .add_notifikationsmodtager(som(
            "UDB1",
            Notifikationsmodtager { organisation_kode: "101".into(), email: "x@y.example".into() },
        ))
        .await;
    assert_eq!(other.unwrap_err().code(), tonic::Code::PermissionDenied);
    let listed = c
        .list_notifikationsmodtagere(som("101", ListNotifikationsmodtagereRequest { organisation_kode: "101".into() }))
        .await
        .unwrap();
    assert_eq!(listed.into_inner().modtagere.len(), 1);

    let system = c
        .create_system(som(
            "UDB1",
            CreateSystemRequest { udbyder_kode: "UDB1".into(), navn: "Mailsystem".into(), ..Default::default() },
        ))
        .await
        .unwrap()
        .into_inner()
        .system
        .unwrap()
        .udbydersystem_id;

    let t = c
        .request_tilslutning(som(
            "UDB1",
            RequestTilslutningRequest {
                udbydersystem_id: system.clone(),
                servicekode: "ImportService".into(),
                kommentar: "tak".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    arrives(&smtp, "drift@stil.example", "ny anmodning om tilslutningsaftale").await;
    c.decide_tilslutning(som(
        "STIL",
        DecideRequest { aftale_id: t.aftale_id, til: AftaleStatus::Godkendt as i32, kommentar: "velkommen".into() },
    ))
    .await
    .unwrap();
    arrives(&smtp, "support@udbyder.example", "tilslutningsaftale for ImportService er nu GODKENDT").await;

    let d = c
        .request_dataaftaler(som(
            "UDB1",
            RequestDataaftalerRequest {
                udbydersystem_id: system.clone(),
                servicekode: "ImportService".into(),
                ejer_koder: vec!["101".into()],
                kommentar: "pladsanvisning".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .dataaftaler;
    arrives(&smtp, "dagtilbud@kk.example", "ny anmodning om dataaftale").await;
    c.decide_dataaftale(som(
        "101",
        DecideRequest {
            aftale_id: d[0].aftale_id.clone(),
            til: AftaleStatus::Afvist as i32,
            kommentar: "mangler databehandleraftale".into(),
        },
    ))
    .await
    .unwrap();
    arrives(&smtp, "support@udbyder.example", "dataaftale for ImportService er nu AFVIST").await;
    assert!(
        smtp.received().iter().any(|m| m.data.contains("mangler databehandleraftale")),
        "the comment is in the mail"
    );

    c.block_system(som("STIL", BlockSystemRequest { udbydersystem_id: system.clone(), aarsag: "misbrug".into() }))
        .await
        .unwrap();
    arrives(&smtp, "support@udbyder.example", "er blokeret").await;

    // The mail server goes down: the change is made, the mail waits and is retried.
    let before = smtp.received().len();
    smtp.stop().await;
    c.unblock_system(som("STIL", UnblockSystemRequest { udbydersystem_id: system.clone(), kommentar: String::new() }))
        .await
        .unwrap();
    let store = dtr_tilslutning::connect(&r.db).await.unwrap();
    wait_until("a failed delivery attempt", Duration::from_secs(30), || {
        let store = store.clone();
        async move { store.pending_mail().await.unwrap().iter().any(|m| m.forsoeg >= 1) }
    })
    .await;
    assert_eq!(store.pending_mail().await.unwrap().len(), 1, "the unblock mail waits in the outbox");

    // Back again: the outbox delivers.
    let smtp = SmtpServer::start(port).await;
    arrives(&smtp, "support@udbyder.example", "er frigivet").await;
    wait_until("the outbox to empty", Duration::from_secs(10), || {
        let store = store.clone();
        async move { store.pending_mail().await.unwrap().is_empty() }
    })
    .await;
    assert!(before >= 5);

    // The periodic registry check finds a problem with a unit of kommune 101 (an active
    // daginstitution without units): the owner is mailed its findings, once per run.
    let registry = dtr_registry::storage::connect(&r.db).await.unwrap();
    let aktoer = crate::common::aktoer("seed", "test");
    let data = dtr_registry::model::DaginstitutionData {
        navn: "Uden enheder".into(),
        ejerform_kode: 1,
        lovgrundlag_kode: 1,
        adm_kommune_kode: 101,
        ejer_cvr_nummer: None,
    };
    let nummer = registry.insert_daginstitution(&data, &aktoer).await.unwrap().nummer;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .arg("revalidate")
        .env("DTR_DATABASE_URL", &r.db)
        .env("DTR_TILSLUTNING_URL", &r.tilslutning_url)
        .env("DTR_PKI_DIR", &r.pki)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("findings mailed to 1 owners"), "{stdout}");
    arrives(&smtp, "dagtilbud@kk.example", "registerkontrollen har fundet 1 forhold").await;
    let mail = smtp.received().into_iter().rev().find(|m| m.data.contains("registerkontrollen")).unwrap();
    assert!(mail.data.contains(&nummer) && mail.data.contains("DTR0501"), "{}", mail.data);

    // Handing the same run over again (a retry) sends nothing new.
    let run = registry.latest_revalidation().await.unwrap().unwrap();
    let again = dtr_proto::tilslutning::MeldRegisterfundRequest {
        koersel_id: run.id,
        fund: vec![dtr_proto::tilslutning::Registerfund {
            ejer: Some(dtr_proto::tilslutning::Ejer { r#type: OrganisationType::Kommune as i32, kode: "101".into() }),
            enhedstype: "daginstitution".into(),
            nummer: nummer.clone(),
            kode: "DTR0501".into(),
            besked: "x".into(),
        }],
    };
    // As the import service hands findings over: its own certificate and token.
    let import =
        r.part(dtr_trust::Part::Import).connect(&r.tilslutning_url, dtr_trust::Part::Tilslutning).await.unwrap();
    let mut as_import = dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient::new(import);
    let meldt = as_import.meld_registerfund(again).await.unwrap();
    assert_eq!(meldt.into_inner().ejere_meldt, 0);
}

/// Mail through a relay that demands STARTTLS and a login (`smtp://user:pw@host?tls=required`,
/// its CA from `DTR_SMTP_CA_FILE`): delivered as that user; with a wrong password nothing is sent
/// and the mail stays in the outbox.
#[tokio::test]
async fn mail_through_starttls_with_a_login() {
    use common::smtp::Secure;
    use dtr_tilslutning::model::{Dataejer, Organisation as Org, OrganisationType as OrgType};
    use dtr_tilslutning::notifikation::{Smtp, deliver_forever, registerfund};

    let (_dir, url) = common::fresh_sqlite_db();
    let store = dtr_tilslutning::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let org = Org {
        kode: "101".into(),
        navn: "København".into(),
        cvr: String::new(),
        pnr: String::new(),
        type_: OrgType::Kommune,
    };
    store.create_organisation(&org).await.unwrap();
    store.add_modtager("101", "dagtilbud@kk.example").await.unwrap();
    let (secure, ca_pem) = Secure::self_signed("relay-bruger", "relay-hemmelighed");
    let ca = _dir.path().join("relay-ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();

    // A wrong password: refused by the relay, kept in the outbox.
    let port = free_port();
    let relay = SmtpServer::start_with(port, Some(secure.clone())).await;
    let fund = |nummer: &str| dtr_tilslutning::notifikation::Registerfund {
        enhedstype: "daginstitution".into(),
        nummer: nummer.into(),
        kode: "DTR0501".into(),
        besked: "ingen enheder".into(),
    };
    store.meld_registerfund(1, &[(Dataejer::Kommune("101".into()), registerfund(1, &[fund("G00001")]))]).await.unwrap();
    let smtp = |password: &str| Smtp {
        url: format!("smtp://relay-bruger:{password}@127.0.0.1:{port}?tls=required"),
        afsender: "DTR <dtr@example.dk>".into(),
        ca_file: Some(ca.clone()),
        portal_url: None,
    };
    let worker = tokio::spawn(deliver_forever(store.clone(), smtp("forkert")));
    wait_until("a refused delivery attempt", Duration::from_secs(30), || {
        let store = store.clone();
        async move { store.pending_mail().await.unwrap().iter().any(|m| m.forsoeg >= 1) }
    })
    .await;
    worker.abort();
    assert!(relay.received().is_empty(), "nothing delivered with a wrong password");

    // The right one: delivered over TLS as the relay user (the waiting mail is retried on its
    // backoff; a second mail goes at once).
    store.meld_registerfund(2, &[(Dataejer::Kommune("101".into()), registerfund(2, &[fund("G00002")]))]).await.unwrap();
    let worker = tokio::spawn(deliver_forever(store.clone(), smtp("relay-hemmelighed")));
    arrives(&relay, "dagtilbud@kk.example", "G00002").await;
    let mail = relay.received().into_iter().find(|m| m.data.contains("G00002")).unwrap();
    assert_eq!(mail.user.as_deref(), Some("relay-bruger"));
    worker.abort();
}
