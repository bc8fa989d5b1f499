//! Code tables through the cache: a change made through the import service (`dtr admin
//! kodetabel`, another process) is served by the export service on the next read — through
//! Redis in the distributed mode, through the shared in-process cache in `dtr up` — and when
//! Redis is down the export service still answers from the database.

use crate::common;

use std::time::Duration;

use common::cluster::{self, Running};
use common::{EXPORT, Proc, TempDir, free_port, wait_until};

/// The text of code `kode` as GetKodetabel answers it over SOAP.
async fn tekst(r: &Running, tabel: &str, kode: i32) -> String {
    let a = r.soap.call(EXPORT, "GetKodetabel", &format!("<d:navn>{tabel}</d:navn>")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let open = format!("<kode><kode>{kode}</kode><tekst>");
    let start = a.body.find(&open).expect("the code") + open.len();
    let end = a.body[start..].find("</tekst>").unwrap() + start;
    a.body[start..end].to_owned()
}

/// `dtr admin kodetabel` against the import service; returns (success, stdout + stderr).
fn admin_kodetabel(r: &Running, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["admin", "kodetabel", "--import-url", &r.import_url, "--pki-dir", r.pki.to_str().unwrap()])
        .args(args)
        .output()
        .expect("dtr admin");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn redis_version(url: &str) -> Option<i64> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("GET").arg("dtr:kodetabeller:v2:version").query_async(&mut conn).await.ok()?
}

/// A change made through the import service is seen by the export service's next read.
async fn change_is_seen(r: &Running) {
    assert_eq!(tekst(r, "insttype3", 6011).await, "Børnehave (3-5 år)");
    let (ok, out) = admin_kodetabel(r, &["insttype3", "6011", "Børnehave (3-6 år)"]);
    assert!(ok, "{out}");
    assert_eq!(tekst(r, "insttype3", 6011).await, "Børnehave (3-6 år)", "the next read sees the change");
    let (ok, out) = admin_kodetabel(r, &["insttype3", "6099", "Udeinstitution"]);
    assert!(ok, "{out}");
    assert_eq!(tekst(r, "insttype3", 6099).await, "Udeinstitution", "a new code");

    // Refused changes say why and change nothing.
    let (ok, out) = admin_kodetabel(r, &["farver", "1", "Rød"]);
    assert!(!ok && out.contains("DTR0104") && out.contains("kommuner"), "{out}");
    let (ok, out) = admin_kodetabel(r, &["insttype3", "6011", "  "]);
    assert!(!ok && out.contains("DTR0101"), "{out}");
    assert_eq!(tekst(r, "insttype3", 6011).await, "Børnehave (3-6 år)");
}

/// The change goes through a Redis of this test's own: other tests share the test Redis, and a
/// changed table published there would reach them.
#[tokio::test]
async fn code_table_change_reaches_export_through_redis() {
    let dir = TempDir::new();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let _redis = start_redis(port, &dir);
    wait_for_redis(&url).await;
    let r = cluster::distributed_with(&[("DTR_REDIS_URL", url.clone())]).await;
    tekst(&r, "kommuner", 101).await;
    let before = redis_version(&url).await.expect("the export service filled Redis");
    change_is_seen(&r).await;
    let after = redis_version(&url).await.unwrap();
    assert!(after > before, "the change was published to Redis with a higher version ({before} → {after})");
}

#[tokio::test]
async fn code_table_change_reaches_export_in_process() {
    change_is_seen(&cluster::embedded().await).await;
}

fn start_redis(port: u16, dir: &TempDir) -> Proc {
    let args = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    Proc::spawn_program("redis-server", &format!("redis-{port}"), &args, &[], dir.path())
}

async fn wait_for_redis(url: &str) {
    wait_until("redis to answer", Duration::from_secs(20), || async move {
        let Ok(client) = redis::Client::open(url) else { return false };
        client.get_multiplexed_async_connection().await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn export_answers_while_redis_is_down() {
    let dir = TempDir::new();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let mut redis = start_redis(port, &dir);
    wait_for_redis(&url).await;
    let r = cluster::distributed_with(&[("DTR_REDIS_URL", url.clone())]).await;
    assert_eq!(tekst(&r, "kommuner", 101).await, "København");
    assert!(redis_version(&url).await.is_some(), "cached in this test's Redis");

    redis.kill();
    assert!(redis_version(&url).await.is_none(), "Redis is down");
    assert_eq!(tekst(&r, "kommuner", 101).await, "København", "answered from the database");
    let extract = r.soap.call(EXPORT, "GetAllDaginstitutioner", "").await;
    assert_eq!(extract.status, 200, "{}", extract.body);
    // A change while Redis is down is committed and read from the database.
    let (ok, out) = admin_kodetabel(&r, &["kommuner", "101", "Københavns Kommune"]);
    assert!(ok, "{out}");
    assert_eq!(tekst(&r, "kommuner", 101).await, "Københavns Kommune");

    // Redis back (empty): the cache fills again and answers stay right.
    let _redis = start_redis(port, &dir);
    wait_for_redis(&url).await;
    assert_eq!(tekst(&r, "kommuner", 101).await, "Københavns Kommune");
    wait_until("the cache to fill again", Duration::from_secs(20), || {
        let url = url.clone();
        async move { redis_version(&url).await.is_some() }
    })
    .await;
    assert_eq!(tekst(&r, "kommuner", 101).await, "Københavns Kommune");
}
