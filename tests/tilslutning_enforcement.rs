//! The gateway lets a call through only as the agreements allow (docs/tilslutning.md, steps 1–6), over
//! SOAP against the distributed system: one system walked through every state — no connection,
//! waiting, rejected, approved without data access, data access with another owner, waiting,
//! approved, revoked a moment ago, passive, blocked — each refusal with its fault code, a Danish
//! message naming what is missing, a durable access-log record under the caller's correlation
//! id, and nothing written. The demo's refused system shows the same in the embedded mode.

use crate::common;

use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::aendringer::Aendringer;
use dtr_tilslutning::model::AftaleStatus;
use dtr_tilslutning::store::NewSystem;

use common::cluster::{self, Running};
use common::{EXPORT, IMPORT, Soap, SoapAnswer, payload, xml_text, xml_texts};

const SYSTEM: &str = "sys-x";

async fn units(r: &Running) -> (i64, i64, i64) {
    dtr_registry::storage::connect(&r.db).await.unwrap().count_units().await.unwrap()
}

/// Asserts a refusal: the fault code, words of the message, HTTP 500 (SOAP 1.1 fault), the
/// access-log record under the answer's correlation id.
async fn refused(store: &dyn TilslutningStore, a: &SoapAnswer, code: &str, words: &[&str]) {
    assert_eq!(a.status, 500, "{}", a.body);
    assert_eq!(xml_text(&a.body, "ErrorCode"), Some(code), "{}", a.body);
    let message = xml_text(&a.body, "ErrorMessage").unwrap();
    for w in words {
        assert!(message.contains(w), "{message:?} names {w:?}");
    }
    let cid = a.correlation_id.as_deref().unwrap();
    let log = store.afvisninger(cid).await.unwrap();
    assert_eq!(log.len(), 1, "one access-log record for {cid}");
    assert_eq!(log[0].fejlkode, code);
    assert_eq!(log[0].system_id, SYSTEM);
}

async fn insert(x: &Soap) -> SoapAnswer {
    x.call(IMPORT, "InsertDaginstitution", &payload::daginstitution(payload::KOEBENHAVN, "Adgangsprøven")).await
}

async fn read(x: &Soap) -> SoapAnswer {
    x.call(EXPORT, "GetKodetabel", "<d:navn>ejerform</d:navn>").await
}

#[tokio::test]
async fn every_agreement_state_over_soap() {
    let r = cluster::distributed().await;
    let store = dtr_tilslutning::connect(&r.db).await.unwrap();
    let hash = dtr_tilslutning::credentials::hash_password("x-hemmelighed").unwrap();
    let s = NewSystem { id: SYSTEM, navn: "X", udbyder_kode: "UDB1", brugernavn: "x-bruger", password_hash: &hash };
    store.create_system(&s).await.unwrap();
    let x = r.soap.with_login("x-bruger", "x-hemmelighed");
    // The test changes the store directly and announces each change as the service does after
    // its own (tilslutning_systemer shows the service announcing), so the gateway's cached
    // decisions are dropped at once.
    let link = dtr_redislink::RedisLink::start(&common::redis_url(), "test", dtr_redislink::DEFAULT_BOUND).unwrap();
    assert!(link.wait_up(std::time::Duration::from_secs(5)).await, "redis reachable");
    let changes = Aendringer::Redis(link);
    let set_tilslutning = |service: &'static str, status| {
        let (store, changes) = (&store, &changes);
        async move {
            store.set_tilslutning(SYSTEM, service, status, "STIL".into(), "test").await.unwrap();
            changes.meld().await;
        }
    };
    let set_dataaftale = |ejer: &'static str, status| {
        let (store, changes) = (&store, &changes);
        async move {
            store.set_dataaftale(SYSTEM, "ImportService", ejer, status, ejer.into(), "test").await.unwrap();
            changes.meld().await;
        }
    };
    let set_system = |passiv: Option<bool>, blokeret: Option<(bool, &'static str)>| {
        let (store, changes) = (&store, &changes);
        async move {
            if let Some(p) = passiv {
                store.set_system_passiv(SYSTEM, p).await.unwrap();
            }
            if let Some((b, aarsag)) = blokeret {
                store.set_system_blokeret(SYSTEM, b, aarsag).await.unwrap();
            }
            changes.meld().await;
        }
    };
    let before = units(&r).await;

    // Step 3: the connection agreement.
    refused(store.as_ref(), &insert(&x).await, "IPL000012", &["ingen tilslutningsaftale", "ImportService"]).await;
    refused(store.as_ref(), &read(&x).await, "IPL000012", &["ExportService"]).await;
    set_tilslutning("ImportService", AftaleStatus::Venter).await;
    refused(store.as_ref(), &insert(&x).await, "IPL000013", &["afventer godkendelse"]).await;
    set_tilslutning("ImportService", AftaleStatus::Afvist).await;
    refused(store.as_ref(), &insert(&x).await, "IPL000014", &["afvist"]).await;
    set_tilslutning("ImportService", AftaleStatus::Godkendt).await;

    // Step 4: a data-access agreement with the owner the write concerns.
    refused(store.as_ref(), &insert(&x).await, "IPL000015", &["dataaftale med kommune 101", "ImportService"]).await;
    // …but a payload that names no owner at all (kommune 999 is in no code table) is answered
    // with its code-table error in band, before any question of agreements, and writes nothing.
    let ukendt = payload::Sted { kommune: 999, ..payload::KOEBENHAVN };
    let a = x.call(IMPORT, "InsertDaginstitution", &payload::daginstitution(ukendt, "Ingen kommune")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(xml_text(&a.body, "status"), Some("FEJL"), "{}", a.body);
    assert!(xml_texts(&a.body, "kode").contains(&"DTR0104"), "{}", a.body);
    assert!(store.afvisninger(a.correlation_id.as_deref().unwrap()).await.unwrap().is_empty(), "no access refusal");
    set_dataaftale("147", AftaleStatus::Godkendt).await;
    refused(store.as_ref(), &insert(&x).await, "IPL000015", &["kommune 101"]).await;
    set_dataaftale("101", AftaleStatus::Venter).await;
    refused(store.as_ref(), &insert(&x).await, "IPL000015", &["kommune 101 (afventer godkendelse)"]).await;
    assert_eq!(units(&r).await, before, "no refused write changed anything");

    set_dataaftale("101", AftaleStatus::Godkendt).await;
    let ok = insert(&x).await;
    assert_eq!(xml_text(&ok.body, "status"), Some("OK"), "{}", ok.body);
    let nummer = xml_text(&ok.body, "nummer").unwrap().to_owned();
    let after_insert = units(&r).await;

    // Revoked a moment ago: the next call is refused, an update of the owner's unit included.
    set_dataaftale("101", AftaleStatus::Afvist).await;
    let update = payload::daginstitution(payload::KOEBENHAVN, "Omdøbt").replace(
        "<d:daginstitutionsNavn>",
        &format!("<d:daginstitutionsNummer>{nummer}</d:daginstitutionsNummer><d:daginstitutionsNavn>"),
    );
    let a = x.call(IMPORT, "UpdateDaginstitution", &update).await;
    refused(store.as_ref(), &a, "IPL000015", &["kommune 101 (afvist)"]).await;
    let d = dtr_registry::storage::connect(&r.db).await.unwrap().get_daginstitution(&nummer).await.unwrap().unwrap();
    assert_eq!(d.data.navn, "Adgangsprøven", "the refused update changed nothing");
    assert_eq!(units(&r).await, after_insert);

    // Reads need the connection only.
    set_tilslutning("ExportService", AftaleStatus::Godkendt).await;
    assert_eq!(read(&x).await.status, 200);

    // Step 2: passive (the provider's switch) and blocked (the operator's, with a reason).
    set_system(Some(true), None).await;
    refused(store.as_ref(), &read(&x).await, "IPL000010", &["passivt"]).await;
    set_system(Some(false), None).await;
    assert_eq!(read(&x).await.status, 200);
    set_system(None, Some((true, "misbrug af fuldt udtræk"))).await;
    refused(store.as_ref(), &read(&x).await, "IPL000011", &["blokeret", "misbrug af fuldt udtræk"]).await;
    set_system(None, Some((false, ""))).await;
    assert_eq!(read(&x).await.status, 200);

    // SOAP 1.2: the same refusal as a Sender fault with HTTP 400.
    set_system(Some(true), None).await;
    let env12 = r#"<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:d="urn:dtr:export:v2"><env:Body><d:HelloWorld/></env:Body></env:Envelope>"#;
    let a = x.post_raw(EXPORT, "application/soap+xml; charset=utf-8", env12.into()).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(xml_text(&a.body, "ErrorCode"), Some("IPL000010"));
    assert!(a.body.contains("<env:Value>env:Sender</env:Value>") || a.body.contains("Sender"), "{}", a.body);

    // Step 1: wrong or missing credentials are 401, and logged too.
    let wrong = r.soap.with_login("x-bruger", "forkert").call(EXPORT, "HelloWorld", "").await;
    assert_eq!(wrong.status, 401);
    let log = store.afvisninger(wrong.correlation_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(
        log.iter().map(|l| (l.brugernavn.as_str(), l.fejlkode.as_str())).collect::<Vec<_>>(),
        vec![("x-bruger", "HTTP401")]
    );
    assert_eq!(units(&r).await, after_insert);
}

/// `dtr up --demo` writes a second system that has the connections but no data-access
/// agreement: its writes are refused, its reads allowed.
#[tokio::test]
async fn the_demo_refused_system_is_refused() {
    let r = cluster::embedded().await;
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.db.trim_start_matches("sqlite:").replace("dtr.db", "demo-credentials.json")).unwrap(),
    )
    .unwrap();
    let refused_system = &creds["refused_system"];
    let x =
        r.soap.with_login(refused_system["username"].as_str().unwrap(), refused_system["password"].as_str().unwrap());
    let before = units(&r).await;
    let a = insert(&x).await;
    assert_eq!(a.status, 500, "{}", a.body);
    assert_eq!(xml_text(&a.body, "ErrorCode"), Some("IPL000015"));
    assert_eq!(
        xml_text(&a.body, "ErrorMessage"),
        Some("Systemet har ingen godkendt dataaftale med kommune 101 (København Kommune) for ImportService.")
    );
    assert_eq!(units(&r).await, before);
    assert_eq!(read(&x).await.status, 200, "reading needs no data-access agreement");
    // The demo system itself may write.
    let ok = insert(&r.soap).await;
    assert_eq!(xml_text(&ok.body, "status"), Some("OK"), "{}", ok.body);
}

/// Step 5: full extracts per system per day. Over the limit: a fault, nothing served, logged;
/// lookups and other systems are not affected.
#[tokio::test]
async fn full_extracts_are_limited_per_system_per_day() {
    let r = cluster::distributed_with(&[("DTR_FULL_EXTRACTS_PER_DAY", "2".to_owned())]).await;
    let store = dtr_tilslutning::connect(&r.db).await.unwrap();
    for _ in 0..2 {
        let a = r.soap.call(EXPORT, "GetAllDaginstitutioner", "").await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let over = r.soap.call(EXPORT, "GetAllDagtilbud", "").await;
    assert_eq!(over.status, 500);
    assert_eq!(xml_text(&over.body, "ErrorCode"), Some("IPL000017"), "{}", over.body);
    assert!(xml_text(&over.body, "ErrorMessage").unwrap().contains("2 fulde udtræk i dag"));
    assert!(!over.body.contains("dagtilbudsRegister"), "nothing served");
    let log = store.afvisninger(over.correlation_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(log[0].fejlkode, "IPL000017");
    assert_eq!(r.soap.call(EXPORT, "GetKodetabel", "<d:navn>ejerform</d:navn>").await.status, 200, "lookups go on");

    // Another system has its own count.
    let hash = dtr_tilslutning::credentials::hash_password("y-hemmelighed").unwrap();
    let s = NewSystem { id: "sys-y", navn: "Y", udbyder_kode: "UDB1", brugernavn: "y-bruger", password_hash: &hash };
    store.create_system(&s).await.unwrap();
    store.set_tilslutning("sys-y", "ExportService", AftaleStatus::Godkendt, "STIL".into(), "").await.unwrap();
    let y = r.soap.with_login("y-bruger", "y-hemmelighed");
    assert_eq!(y.call(EXPORT, "GetAllAlternativAdresser", "").await.status, 200);
}
