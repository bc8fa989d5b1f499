//! `dtr demo-data` on SQLite and PostgreSQL: the stored synthetic register is whole (the nested
//! extract holds every unit once), a second run adds to it without reusing numbers, and its
//! change sequence replays to exactly the stored units. `dtr bench extract` writes its report.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use dtr_proto::export::GetAllRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use futures::StreamExt;

use dtr_registry::storage::{DagtilbudFilter, RegistryStore, Tilstand};

fn demo_data(db: &str, scale: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["demo-data", "--database-url", db, "--scale", scale])
        .output()
        .expect("dtr demo-data");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Every number in the nested extract, checked to appear once.
async fn extract_numbers(store: &dyn RegistryStore) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut s = store.stream_dagtilbud(DagtilbudFilter::Alle);
    while let Some(d) = s.next().await {
        let d = d.unwrap();
        assert!(seen.insert(d.daginstitution.nummer.clone()));
        for (a, adresser) in &d.anvisningsenheder {
            assert_eq!(a.data.daginstitutions_nummer, d.daginstitution.nummer);
            assert!(seen.insert(a.nummer.clone()));
            for l in adresser {
                assert_eq!(l.data.enheds_nummer, a.nummer);
                assert!(seen.insert(l.nummer.clone()), "{} twice", l.nummer);
            }
        }
    }
    seen
}

/// The change sequence replayed onto an empty copy equals the stored units.
async fn replay_equals_tables(store: &dyn RegistryStore) {
    let mut copy: BTreeMap<String, Tilstand> = BTreeMap::new();
    let mut from = 0;
    loop {
        let page = store.aendringer_med_tilstand(from, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.aendring.sekvensnummer;
        for a in page {
            copy.insert(a.aendring.nummer, a.tilstand);
        }
    }
    let mut tables: BTreeMap<String, Tilstand> = BTreeMap::new();
    let mut d = store.stream_daginstitutioner();
    while let Some(x) = d.next().await.transpose().unwrap() {
        tables.insert(x.nummer.clone(), Tilstand::Daginstitution(x));
    }
    let mut a = store.stream_anvisningsenheder();
    while let Some(x) = a.next().await.transpose().unwrap() {
        tables.insert(x.nummer.clone(), Tilstand::Anvisningsenhed(x));
    }
    let mut l = store.stream_alternative_adresser();
    while let Some(x) = l.next().await.transpose().unwrap() {
        tables.insert(x.nummer.clone(), Tilstand::AlternativAdresse(x));
    }
    assert_eq!(copy.len(), tables.len());
    assert!(copy == tables, "the replayed copy equals the stored units");
}

async fn whole_register(db: &str) {
    let printed = demo_data(db, "0.05");
    assert!(printed.contains("148 daginstitutioner"), "{printed}");
    let store = dtr_registry::storage::connect(db).await.unwrap();
    let (d, a, l) = store.count_units().await.unwrap();
    assert_eq!(d, 148);
    assert!(a > d && l > 0, "units {a}, addresses {l}");
    let numbers = extract_numbers(store.as_ref()).await;
    assert_eq!(numbers.len() as i64, d + a + l, "the nested extract holds every unit once");
    assert!(numbers.contains("G00000"), "an empty register numbers from G00000");
    replay_equals_tables(store.as_ref()).await;

    demo_data(db, "0.05");
    let (d2, a2, l2) = store.count_units().await.unwrap();
    assert_eq!(d2, 2 * d);
    assert_eq!(extract_numbers(store.as_ref()).await.len() as i64, d2 + a2 + l2, "no number reused");
}

#[tokio::test]
async fn demo_data_sqlite() {
    let (_dir, db) = common::fresh_sqlite_db();
    whole_register(&db).await;
}

#[tokio::test]
async fn demo_data_postgres() {
    whole_register(&common::fresh_postgres_db().await).await;
}

#[tokio::test]
async fn demo_data_refuses_a_scale_the_numbers_cannot_hold() {
    let (_dir, db) = common::fresh_sqlite_db();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["demo-data", "--database-url", &db, "--scale", "11"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 10"));
}

/// Runs `dtr bench <args> --out <file>` and returns the report it wrote.
fn bench_report(args: &[&str]) -> String {
    let dir = common::TempDir::new();
    let report = dir.path().join("report.md");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&report).unwrap()
}

#[tokio::test]
async fn bench_extract_writes_its_report() {
    let text = bench_report(&["extract", "--scales", "0.01,0.02", "--runs", "1"]);
    assert!(text.contains("| 0.01× |") && text.contains("| 0.02× |"), "{text}");
    assert!(text.contains("an extract adds a median of"), "{text}");
    assert!(text.contains("## Lookups from memory") && text.contains("Per unit remembered"), "{text}");
}

#[tokio::test]
async fn bench_write_writes_its_report() {
    let text = bench_report(&["write", "--scales", "0.01,0.02", "--inserts", "5"]);
    assert!(text.contains("| 0.01× |") && text.contains("| 0.02× |"), "{text}");
    assert!(text.contains("SOAP ÷ raw"), "{text}");
}

/// The lookup benchmark, run short in both modes: every row measured, the targets stated.
#[tokio::test]
async fn bench_lookup_writes_its_report() {
    let npm = std::env::var("DTR_TEST_BENCH_NPM").expect("DTR_TEST_BENCH_NPM: run the suite with scripts/test.sh");
    let pg = common::postgres_admin_url();
    let redis = common::redis_url();
    let text = bench_report(&[
        "lookup",
        "--seconds",
        "1",
        "--rounds",
        "1",
        "--held",
        "20",
        "--npm-dir",
        &npm,
        "--postgres-url",
        &pg,
        "--redis-url",
        &redis,
    ]);
    for mode in ["## embedded", "## distributed"] {
        assert!(text.contains(mode), "{text}");
    }
    for row in ["through the gateway", "direct gRPC call", "node `soap` server", "`/healthz`", "| gateway |"] {
        assert_eq!(text.matches(row).count(), 2, "{row} in both modes: {text}");
    }
    assert_eq!(text.matches("| via gateway ÷ direct gRPC |").count(), 2, "{text}");
}

/// A reader that hangs up part-way stops the export service's database read (it logs how far it
/// got), and the service goes on serving.
#[tokio::test]
async fn a_reader_that_hangs_up_stops_the_extract() {
    let dir = common::TempDir::new();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = format!("sqlite:{}", data.join("dtr.db").display());
    // The national size: its extract is far larger than what the sockets and the stream's
    // buffers can hold, so the service is still reading when the reader hangs up.
    demo_data(&db, "1");
    let port = common::free_port();
    let up = common::cluster::spawn_up("dtr-up", &data, port, dir.path()).await;
    let log = up.log();
    let line = log.lines().find(|l| l.trim_start().starts_with("gRPC:")).unwrap();
    let export_url = line.split_whitespace().skip_while(|w| *w != "export").nth(1).unwrap().to_owned();

    let admin =
        dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(data.join("pki")), dtr_trust::Part::Admin).unwrap();
    let mut client = ExportServiceClient::new(admin.connect(&export_url, dtr_trust::Part::Export).await.unwrap());
    let mut stream = client.get_all_dagtilbud(GetAllRequest {}).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some(), "the first record arrives");
    drop(stream);

    common::wait_until("the export service to stop reading", std::time::Duration::from_secs(20), || {
        let stopped = up.log().contains("extract stopped early: the reader went away");
        async move { stopped }
    })
    .await;
    let mut all = client.get_all_daginstitutioner(GetAllRequest {}).await.unwrap().into_inner();
    let mut n = 0;
    while all.message().await.unwrap().is_some() {
        n += 1;
    }
    assert!(n >= 885, "still serving whole extracts: {n}");
}
