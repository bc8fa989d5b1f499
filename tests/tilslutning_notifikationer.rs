//! Notifications through a real SMTP server the test starts: each event reaches the
//! organisation concerned (a connection request STIL, its decision the provider, a data-access
//! request the owner, its decision the provider, a block the provider), written to the outbox with
//! the change; with the mail server down nothing is lost, and the outbox delivers when it is back.

mod common;

use std::time::Duration;

use dtr_proto::context::CallerContext;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{
    AftaleStatus, BlockSystemRequest, CreateOrganisationRequest, CreateSystemRequest, DecideRequest,
    ListNotifikationsmodtagereRequest, Notifikationsmodtager, Organisation, OrganisationType,
    RequestDataaftalerRequest, RequestTilslutningRequest, UnblockSystemRequest,
};

use common::smtp::SmtpServer;
use common::{cluster, free_port, wait_until};

fn som<T>(org: &str, msg: T) -> tonic::Request<T> {
    let mut ctx = CallerContext::internal("test");
    ctx.organisation = Some(org.to_owned());
    ctx.request(msg)
}

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
    let mut c = TilslutningServiceClient::connect(r.tilslutning_url.clone()).await.unwrap();

    for (kode, navn, t) in [
        ("STIL", "Styrelsen for It og Læring", OrganisationType::Udbyder),
        ("101", "København Kommune", OrganisationType::Kommune),
    ] {
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
        .create_system(som("UDB1", CreateSystemRequest { udbyder_kode: "UDB1".into(), navn: "Mailsystem".into() }))
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
}
