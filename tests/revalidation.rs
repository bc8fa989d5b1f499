//! Rule 13 through `dtr revalidate`: DAR, CVR and rule 6 re-checked over every active unit, the
//! findings stored with their owner, and nothing in the register changed. SQLite and PostgreSQL.

use crate::common;

use std::collections::BTreeSet;

use dtr_registry::model::{Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};
use dtr_registry::storage::no_checks;

fn aktoer() -> Aktoer {
    Aktoer {
        system: "seed".into(),
        organisation: None,
        correlation_id: "seed".into(),
        operation: "test".into(),
        message_id: None,
    }
}

fn dag(kommune: i32) -> DaginstitutionData {
    DaginstitutionData {
        navn: format!("Kommune {kommune}"),
        ejerform_kode: 1,
        lovgrundlag_kode: 1,
        adm_kommune_kode: kommune,
        ejer_cvr_nummer: None,
    }
}

fn adresse(vej: &str, husnr: &str, post: &str) -> Adresse {
    Adresse { vej_navn: vej.into(), hus_nummer: husnr.into(), post_nummer: post.into(), ..Adresse::default() }
}

fn enhed(parent: &str, a: Adresse, p: &str) -> AnvisningsenhedData {
    AnvisningsenhedData {
        daginstitutions_nummer: parent.into(),
        navn: "Enhed".into(),
        adresse: a,
        inst_type3: 6011,
        p_nummer: p.into(),
        ..Default::default()
    }
}

/// Stores a unit directly, bypassing the rules (the test seeds problems on purpose).
async fn add_unit(
    store: &std::sync::Arc<dyn dtr_registry::storage::RegistryStore>,
    data: &AnvisningsenhedData,
) -> String {
    let stored = store.insert_anvisningsenhed(data, Some("64942212"), &aktoer(), &no_checks).await.unwrap();
    stored.done().unwrap().nummer
}

/// Seeds: one sound structure, an alternative address DAR does not know, a unit whose
/// production unit has ended, an active daginstitution without units, and a closed one.
async fn seed(url: &str) -> Vec<(String, String)> {
    let store = dtr_registry::storage::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let d1 = store.insert_daginstitution(&dag(101), &aktoer()).await.unwrap().nummer;
    let u1 = add_unit(&store, &enhed(&d1, adresse("Amagerbrogade", "10", "2300"), "1012345678")).await;
    let l1 = AlternativAdresseData {
        enheds_nummer: u1.clone(),
        navn: "Væk".into(),
        adresse: adresse("Amagerbrogade", "999", "2300"),
        ..Default::default()
    };
    let l1 = store.insert_alternativ_adresse(&l1, None, &aktoer()).await.unwrap().nummer;
    let d2 = store.insert_daginstitution(&dag(147), &aktoer()).await.unwrap().nummer;
    let u2 = add_unit(&store, &enhed(&d2, adresse("Falkoner Allé", "1", "2000"), "1099999999")).await;
    let d3 = store.insert_daginstitution(&dag(751), &aktoer()).await.unwrap().nummer;
    let d4 = store.insert_daginstitution(&dag(751), &aktoer()).await.unwrap().nummer;
    store.close_daginstitution(&d4, &aktoer(), &no_checks).await.unwrap().done().unwrap();
    vec![(l1, "DTR0402".into()), (u2, "DTR0405".into()), (d3, "DTR0501".into())]
}

fn revalidate(url: &str, extra: &[(&str, String)]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"));
    cmd.arg("revalidate").env("DTR_DATABASE_URL", url);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("dtr revalidate");
    assert!(out.status.success(), "dtr revalidate failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn findings_and_no_changes(url: &str) {
    let expected: BTreeSet<(String, String)> = seed(url).await.into_iter().collect();
    let store = dtr_registry::storage::connect(url).await.unwrap();
    let before = (store.count_units().await.unwrap(), store.aendringer_siden(0, 100_000).await.unwrap());

    let stdout = revalidate(url, &[]);
    assert!(stdout.contains("6 active units checked, 3 findings"), "{stdout}");
    let run = store.latest_revalidation().await.unwrap().expect("a stored run");
    assert_eq!(run.antal_enheder, 6, "the closed daginstitution is not checked");
    let got: BTreeSet<(String, String)> = run.fund.iter().map(|f| (f.nummer.clone(), f.kode.clone())).collect();
    assert_eq!(got, expected);
    let rule6 = run.fund.iter().find(|f| f.kode == "DTR0501").unwrap();
    assert_eq!(rule6.adm_kommune_kode, 751, "findings carry their owner");

    let after = (store.count_units().await.unwrap(), store.aendringer_siden(0, 100_000).await.unwrap());
    assert_eq!(after, before, "a re-validation changes nothing in the register");

    // DAR out of reach: every address is reported unchecked, never passed silently.
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let stdout = revalidate(url, &[("DTR_DAR_URL", closed), ("DTR_LOOKUP_TIMEOUT_MS", "300".into())]);
    assert!(stdout.contains("6 active units checked"), "{stdout}");
    let run = store.latest_revalidation().await.unwrap().unwrap();
    assert_eq!(run.fund.iter().filter(|f| f.kode == "DTR0401").count(), 3, "{:?}", run.fund);
    assert!(run.fund.iter().any(|f| f.kode == "DTR0405"), "CVR was still checked");
}

#[tokio::test]
async fn revalidation_sqlite() {
    let (_dir, url) = common::fresh_sqlite_db();
    findings_and_no_changes(&url).await;
}

#[tokio::test]
async fn revalidation_postgres() {
    findings_and_no_changes(&common::fresh_postgres_db().await).await;
}
