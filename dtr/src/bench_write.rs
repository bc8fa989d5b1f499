//! `dtr bench write`: the write path (docs/quality.md, docs/bench/write.md). SOAP
//! `InsertDaginstitution` through the gateway with every rule on — Basic Auth, the data owner's
//! agreement (`ResolveDataejere`, `CheckAccess`), the field rules and code tables, a number from
//! the register's series, the version, change-sequence and audit records, one transaction each —
//! against a raw `INSERT` of the same row into the same database, one transaction each; at 1× and
//! 10× the national register, so a step that grows with the register shows as a falling rate.
//!
//! Use a release build: `cargo run --release -p dtr -- bench write`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bench::{start_server_with, wait_quiet};

#[derive(clap::Args)]
pub struct WriteArgs {
    /// Scales to measure, relative to the national register.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    scales: Vec<f64>,
    /// Inserts per measurement (one client, one after the other).
    #[arg(long, default_value_t = 300)]
    inserts: usize,
    /// Where the report goes (Markdown).
    #[arg(long, default_value = "docs/bench/write.md")]
    out: PathBuf,
}

struct Measured {
    scale: f64,
    units: u64,
    soap: Duration,
    raw: Duration,
}

pub async fn run(a: WriteArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for scale in &a.scales {
        let dir = std::env::temp_dir().join(format!("dtr-bench-write-{}-{scale}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        println!("scale {scale}: generating the register…");
        let r = measure(&dir, *scale, a.inserts.max(1)).await.with_context(|| format!("scale {scale}"));
        let _ = std::fs::remove_dir_all(&dir);
        results.push(r?);
    }
    let report = report(&results, a.inserts);
    crate::bench::write_report(&a.out, &report)
}

/// The inner XML of one insert (a kommunal daginstitution of a demo kommune).
fn insert_body(i: usize) -> String {
    format!(
        "<d:daginstitution><d:daginstitutionsNavn>Målebørnehuset {i}</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
         <d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>101</d:admKommuneKode></d:daginstitution>"
    )
}

async fn measure(dir: &Path, scale: f64, inserts: usize) -> anyhow::Result<Measured> {
    let db = format!("sqlite:{}", dir.join("dtr.db").display());
    crate::grpc::migrate_all(&db).await?;
    let store = dtr_registry::storage::connect(&db).await?;
    crate::demodata::load(store.as_ref(), scale, 1, |_, _| {}).await?;
    let (d, a, l) = store.count_units().await?;
    drop(store);

    let server = start_server_with(dir, &[], &[])?;
    wait_quiet(server.child.id()).await;
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("demo-credentials.json"))?)?;
    let cert = reqwest::Certificate::from_pem(&std::fs::read(dir.join("tls/cert.pem"))?)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().add_root_certificate(cert).build()?;
    let url = format!("{}{}", server.base, dtr_gateway::IMPORT_PATH);
    let (user, password) = (creds["username"].as_str().unwrap_or(""), creds["password"].as_str());
    let call = |i: usize| {
        let envelope = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="urn:dtr:import:v2"><soapenv:Body><d:InsertDaginstitution>{}</d:InsertDaginstitution></soapenv:Body></soapenv:Envelope>"#,
            insert_body(i)
        );
        let req =
            http.post(&url).basic_auth(user, password).header("Content-Type", "text/xml; charset=utf-8").body(envelope);
        async move {
            let text = req.send().await?.error_for_status()?.text().await?;
            if !text.contains(">OK<") {
                anyhow::bail!("the insert was not accepted: {text}");
            }
            anyhow::Ok(())
        }
    };
    // Warm-up: logins and agreements remembered, statements prepared.
    let soap = timed(inserts, call).await?;
    drop(server);

    // The same rows, raw: one INSERT per transaction into the same database, its own numbers.
    let pool = dtr_migrations::sqlite_pool(&db).await?;
    let raw_insert = |n: usize| {
        let pool = pool.clone();
        async move {
            let now = chrono::Utc::now();
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query(
                "INSERT INTO daginstitution (nummer, navn, ejerform_kode, lovgrundlag_kode, adm_kommune_kode, \
                 ejer_cvr_nummer, aktivitetsstatus, oprettet_dato, senest_aendret, nedlagt_dato, version) \
                 VALUES ($1, $2, 1, 1, 101, NULL, 'Aktiv', $3, $3, NULL, 1)",
            )
            .bind(format!("R{n:06}"))
            .bind(format!("Målebørnehuset {n}"))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            anyhow::Ok(())
        }
    };
    let raw = timed(inserts, raw_insert).await?;
    Ok(Measured { scale, units: (d + a + l) as u64, soap, raw })
}

fn report(results: &[Measured], inserts: usize) -> String {
    let per_s = |d: Duration| inserts as f64 / d.as_secs_f64().max(1e-9);
    let mut r = String::new();
    r.push_str("# Benchmark: the write path\n\n");
    r.push_str("Reproduce: `cargo run --release -p dtr -- bench write` (writes this file).\n\n");
    r.push_str(&format!(
        "`dtr up --demo` on SQLite as a child process, on a synthetic register from `dtr demo-data`; {inserts} \
         inserts per measurement from one client, one after the other, after 10 not counted. Both columns come from \
         the same run on the same database file; absolute numbers vary with the machine, compare the ratios.\n\n\
         - **SOAP insert**: `InsertDaginstitution` through the gateway with every rule on — HTTPS, Basic Auth, the \
         data owner's agreement (`ResolveDataejere`, `CheckAccess`), field rules and code tables, a number from the \
         register's series, the version, change-sequence and audit records, one transaction each.\n\
         - **raw insert**: `INSERT INTO daginstitution` of the same row, one transaction each (`BEGIN IMMEDIATE`, the \
         register's own locking), through the same pool settings, no gateway and no rules.\n\n"
    ));
    r.push_str("| scale | units in the register | SOAP insert | raw insert | SOAP ÷ raw |\n|---|---|---|---|---|\n");
    for x in results {
        r.push_str(&format!(
            "| {}× | {} | {:.0}/s | {:.0}/s | {:.3} |\n",
            x.scale,
            x.units,
            per_s(x.soap),
            per_s(x.raw),
            per_s(x.soap) / per_s(x.raw)
        ));
    }
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && results.len() > 1
    {
        r.push_str(&format!(
            "\nA SOAP insert at {}× runs at {:.2}× its rate at {}× ({:.1}× the register): no step grows with the size \
             of the register when this stays near 1.\n",
            large.scale,
            per_s(large.soap) / per_s(small.soap),
            small.scale,
            large.units as f64 / small.units.max(1) as f64
        ));
    }
    r.push_str(
        "\nTarget (docs/quality.md): report the ratio; no quadratic step. A raw insert does a fraction of the work \
         (one row against a row, its version, a change-sequence entry, an audit record and the idempotence key, \
         after two calls to other services), so the ratio says what the rules and the records cost, not how far \
         from a limit the path is.\n",
    );
    r
}

/// The time `n` calls of `insert` take one after another (numbered from 1000), after 10 not
/// counted (numbered from 0).
async fn timed<F, Fut>(n: usize, insert: F) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for i in 0..10 {
        insert(i).await?;
    }
    let started = Instant::now();
    for i in 0..n {
        insert(1000 + i).await?;
    }
    Ok(started.elapsed())
}
