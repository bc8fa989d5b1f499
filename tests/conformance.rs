//! Storage conformance: the same suite against SQLite and PostgreSQL, for the registry and the
//! tilslutning stores.

use crate::common;

use std::sync::Arc;

use dtr_registry::codes;
use dtr_registry::model::{Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};
use dtr_registry::storage::{RegistryStore, StoreError, no_checks};
use dtr_tilslutning::model::{AftaleStatus, Organisation, OrganisationType, ServiceDef};
use dtr_tilslutning::store::NewSystem;

fn aktoer(cid: &str) -> Aktoer {
    Aktoer {
        system: "sys-test".into(),
        organisation: Some("101".into()),
        correlation_id: cid.into(),
        operation: format!("op-{cid}"),
        message_id: None,
    }
}

fn daginstitution(navn: &str) -> DaginstitutionData {
    DaginstitutionData {
        navn: navn.into(),
        ejerform_kode: 3,
        lovgrundlag_kode: 4,
        adm_kommune_kode: 147,
        ejer_cvr_nummer: Some("29189854".into()),
    }
}

fn adresse() -> Adresse {
    Adresse {
        vej_navn: "Falkoner Allé".into(),
        hus_nummer: "1".into(),
        etage: Some("st".into()),
        post_nummer: "2000".into(),
        post_distrikt: "Frederiksberg".into(),
        kommune_kode: 147,
        geo_bredde: Some(55.68),
        geo_laengde: Some(12.53),
        ..Adresse::default()
    }
}

async fn raw_exec(url: &str, sql: &'static str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
}

async fn registry_suite(url: &str) {
    let store: Arc<dyn RegistryStore> = dtr_registry::storage::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrations are idempotent");
    store.ping().await.unwrap();

    // Code tables are seeded from the project's data files.
    let t = store.load_code_tables().await.unwrap();
    assert_eq!(t.tabeller[codes::KOMMUNER].koder.len(), 98);
    assert_eq!(t.tekst(codes::KOMMUNER, 101), Some("København"));
    assert_eq!(t.tekst(codes::EJERFORM, 4), Some("Udliciteret"));
    assert!(t.contains(codes::INSTTYPE3, 6014));
    assert!(t.krydsvalidering.contains(&(1, 1, 6010)));
    assert!(t.version >= 4);
    // The version alone, without loading the tables, and it rises with every change.
    assert_eq!(store.code_tables_version().await.unwrap(), t.version);
    assert!(store.saet_kode(codes::INSTTYPE3, 6099, "Udeinstitution (konformitet)").await.unwrap());
    let changed = store.load_code_tables().await.unwrap();
    assert!(changed.version > t.version);
    assert_eq!(store.code_tables_version().await.unwrap(), changed.version);

    // Numbers are issued from G30000, in order, one series for all levels.
    let d = store.insert_daginstitution(&daginstitution("Privatinstitutionen Mejsen"), &aktoer("c-1")).await.unwrap();
    assert_eq!(d.nummer, "G30000");
    assert_eq!(d.register.version, 1);
    let got = store.get_daginstitution("G30000").await.unwrap().expect("stored");
    assert_eq!(got.data, daginstitution("Privatinstitutionen Mejsen"));
    assert_eq!(got.register.aktivitetsstatus, dtr_registry::model::Aktivitetsstatus::Aktiv);
    assert!(got.register.nedlagt_dato.is_none());
    assert!(store.get_daginstitution("G39999").await.unwrap().is_none());

    let a = store
        .insert_anvisningsenhed(
            &AnvisningsenhedData {
                daginstitutions_nummer: d.nummer.clone(),
                navn: "Mejsen Børnehave".into(),
                adresse: adresse(),
                inst_type3: 6011,
                email: Some("mejsen@example.invalid".into()),
                telefon_nummer: None,
                p_nummer: "1012345678".into(),
            },
            Some("29189854"),
            &aktoer("c-2"),
            &no_checks,
        )
        .await
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(a.nummer, "G30001");
    assert_eq!(a.cvr_nummer.as_deref(), Some("29189854"));
    let l = store
        .insert_alternativ_adresse(
            &AlternativAdresseData {
                enheds_nummer: a.nummer.clone(),
                navn: "Mejsen Skovhus".into(),
                adresse: adresse(),
                ..AlternativAdresseData::default()
            },
            None,
            &aktoer("c-3"),
        )
        .await
        .unwrap();
    assert_eq!(l.nummer, "G30002");

    // A unit under a parent that does not exist is refused and issues no number.
    let orphan = AnvisningsenhedData {
        daginstitutions_nummer: "G10000".into(),
        navn: "Forældreløs".into(),
        adresse: adresse(),
        inst_type3: 6011,
        p_nummer: "1012345679".into(),
        ..AnvisningsenhedData::default()
    };
    assert!(matches!(
        store.insert_anvisningsenhed(&orphan, None, &aktoer("c-x"), &no_checks).await,
        Err(StoreError::Database(_))
    ));
    assert_eq!(store.count_units().await.unwrap(), (1, 1, 1));
    let next = store.insert_daginstitution(&daginstitution("Næste"), &aktoer("c-4")).await.unwrap();
    assert_eq!(next.nummer, "G30003", "a refused write consumed no number");

    // The change sequence records every write in order; audit names who and which call.
    let all = store.aendringer_siden(0, 100).await.unwrap();
    let seq: Vec<_> = all.iter().map(|c| (c.sekvensnummer, c.nummer.as_str(), c.handling.as_str())).collect();
    assert_eq!(
        seq,
        vec![
            (1, "G30000", "oprettet"),
            (2, "G30001", "oprettet"),
            (3, "G30002", "oprettet"),
            (4, "G30003", "oprettet")
        ]
    );
    assert_eq!(all[1].enhedstype, "anvisningsenhed");
    let tail = store.aendringer_siden(2, 1).await.unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].sekvensnummer, 3);
    let audit = store.audit_by_correlation("c-2").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].system, "sys-test");
    assert_eq!(audit[0].organisation.as_deref(), Some("101"));
    assert_eq!(audit[0].operation, "op-c-2", "the audit names the operation the caller gave");
    assert_eq!(audit[0].nummer.as_deref(), Some("G30001"));
    assert!(store.audit_by_correlation("c-x").await.unwrap().is_empty(), "refused write left no audit");

    // Concurrent writers get distinct numbers and a gap-free sequence.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.insert_daginstitution(&daginstitution(&format!("Parallel {i}")), &aktoer("par")).await.unwrap().nummer
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 16);
    let seqs: Vec<i64> = store.aendringer_siden(4, 100).await.unwrap().iter().map(|c| c.sekvensnummer).collect();
    assert_eq!(seqs, (5..=20).collect::<Vec<_>>());

    // Safe retries: a WS-Addressing MessageID is a key per system for 24 hours, decided in the
    // write transaction.
    let keyed_as = |system: &str, id: &str, aftryk: &str| Aktoer {
        system: system.into(),
        message_id: Some(dtr_registry::model::MessageId { id: id.into(), aftryk: aftryk.into() }),
        ..aktoer("retry")
    };
    let keyed = |system: &str, id: &str| keyed_as(system, id, "f1");
    let first = store.insert_daginstitution(&daginstitution("Nøglen"), &keyed("sys-a", "urn:uuid:1")).await.unwrap();
    match store.insert_daginstitution(&daginstitution("Nøglen"), &keyed("sys-a", "urn:uuid:1")).await {
        Err(StoreError::AlreadyDone { nummer }) => assert_eq!(nummer, first.nummer, "the first write's answer"),
        other => panic!("a repeated MessageID writes nothing: {other:?}"),
    }
    // The same key for another request (other content, or another operation) is refused, never
    // answered with the first write's number.
    match store.insert_daginstitution(&daginstitution("Nøglen 2"), &keyed_as("sys-a", "urn:uuid:1", "f2")).await {
        Err(StoreError::MessageIdReused { operation }) => assert_eq!(operation, "op-retry"),
        other => panic!("a reused MessageID is refused: {other:?}"),
    }
    let other_op = Aktoer { operation: "op-other".into(), ..keyed("sys-a", "urn:uuid:1") };
    assert!(matches!(
        store.insert_daginstitution(&daginstitution("Nøglen"), &other_op).await,
        Err(StoreError::MessageIdReused { .. })
    ));
    let theirs = store.insert_daginstitution(&daginstitution("Nøglen"), &keyed("sys-b", "urn:uuid:1")).await.unwrap();
    assert_ne!(theirs.nummer, first.nummer, "another system's MessageID is its own");
    raw_exec(url, "UPDATE idempotens SET tidspunkt = '2000-01-01 00:00:00+00:00'").await;
    let later = store.insert_daginstitution(&daginstitution("Nøglen"), &keyed("sys-a", "urn:uuid:1")).await.unwrap();
    assert_ne!(later.nummer, first.nummer, "after 24 hours the key is let go");

    // Running out of the series is a clear error, never a wrap.
    raw_exec(url, "UPDATE taeller SET vaerdi = 99999 WHERE navn = 'nummer'").await;
    let last = store.insert_daginstitution(&daginstitution("Sidste"), &aktoer("end")).await.unwrap();
    assert_eq!(last.nummer, "G99999");
    assert!(matches!(
        store.insert_daginstitution(&daginstitution("For mange"), &aktoer("end")).await,
        Err(StoreError::NumbersExhausted)
    ));
}

async fn tilslutning_suite(url: &str) {
    let store = dtr_tilslutning::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrations are idempotent");
    store.ping().await.unwrap();
    let org = |kode: &str, type_| Organisation {
        kode: kode.into(),
        navn: format!("Org {kode}"),
        cvr: "29189854".into(),
        pnr: String::new(),
        type_,
    };
    store.upsert_organisation(&org("UDB1", OrganisationType::Udbyder)).await.unwrap();
    store.upsert_organisation(&org("UDB1", OrganisationType::Udbyder)).await.expect("upsert twice");
    store.upsert_organisation(&org("101", OrganisationType::Kommune)).await.unwrap();
    let service = ServiceDef {
        servicekode: "ImportService".into(),
        navn: "ImportService".into(),
        beskrivelse: "test".into(),
        formaal: "at teste".into(),
        data: "testdata".into(),
        operationer: vec![("HelloWorld".into(), false), ("InsertDaginstitution".into(), true)],
        versioner: vec!["v2".into()],
    };
    store.upsert_service(&service).await.unwrap();
    store.upsert_service(&service).await.expect("upsert twice");
    let listed = store.list_services().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].formaal.as_str(), listed[0].data.as_str()),
        ("at teste", "testdata"),
        "purpose and data kept"
    );
    assert_eq!(listed[0].operationer.len(), 2);

    let hash = dtr_tilslutning::credentials::hash_password("hemmeligt").unwrap();
    let sys =
        NewSystem { id: "sys-1", navn: "System 1", udbyder_kode: "UDB1", brugernavn: "bruger1", password_hash: &hash };
    store.create_system(&sys).await.unwrap();
    assert!(store.create_system(&sys).await.is_err(), "usernames are unique");
    let login = store.login("bruger1").await.unwrap().expect("known user");
    assert_eq!(login.system_id, "sys-1");
    assert_eq!(login.udbyder_kode, "UDB1");
    assert_eq!(login.hashes, vec![hash]);
    assert!(store.login("ukendt").await.unwrap().is_none());

    // One live agreement per system × service (× owner); each change lands in its history.
    let t1 = store
        .set_tilslutning("sys-1", "ImportService", AftaleStatus::Venter, "UDB1".into(), "anmodning")
        .await
        .unwrap();
    let t2 =
        store.set_tilslutning("sys-1", "ImportService", AftaleStatus::Godkendt, "STIL".into(), "ok").await.unwrap();
    assert_eq!(t1, t2);
    let d1 =
        store.set_dataaftale("sys-1", "ImportService", "101", AftaleStatus::Venter, "UDB1".into(), "").await.unwrap();
    let d2 =
        store.set_dataaftale("sys-1", "ImportService", "101", AftaleStatus::Godkendt, "101".into(), "").await.unwrap();
    assert_eq!(d1, d2);
    let d3 =
        store.set_dataaftale("sys-1", "ImportService", "147", AftaleStatus::Venter, "UDB1".into(), "").await.unwrap();
    assert_ne!(d1, d3);
}

#[tokio::test]
async fn registry_store_sqlite() {
    let (_dir, url) = common::fresh_sqlite_db();
    registry_suite(&url).await;
}

#[tokio::test]
async fn registry_store_postgres() {
    registry_suite(&common::fresh_postgres_db().await).await;
}

#[tokio::test]
async fn tilslutning_store_sqlite() {
    let (_dir, url) = common::fresh_sqlite_db();
    tilslutning_suite(&url).await;
}

#[tokio::test]
async fn tilslutning_store_postgres() {
    tilslutning_suite(&common::fresh_postgres_db().await).await;
}

#[tokio::test]
async fn both_schemas_share_one_database() {
    let (_dir, url) = common::fresh_sqlite_db();
    dtr_registry::storage::connect(&url).await.unwrap().migrate().await.unwrap();
    dtr_tilslutning::connect(&url).await.unwrap().migrate().await.unwrap();
    // Each schema keeps its own migrations table, so running either again is still a no-op.
    dtr_registry::storage::connect(&url).await.unwrap().migrate().await.unwrap();
    dtr_tilslutning::connect(&url).await.unwrap().migrate().await.unwrap();
}
