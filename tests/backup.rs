//! `dtr backup` of a running embedded register under write load, and `dtr restore`: the copy is
//! one moment of the source (its change sequence exactly the source's first changes, SQLite's
//! integrity check passing), and a `dtr up` on the restored register serves its units.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{EXPORT, IMPORT, Proc, Soap, TempDir, free_port, payload, wait_until, xml_text};

fn dtr(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dtr")).args(args).output().expect("dtr runs")
}

async fn sequence(db: &str, max: i64) -> Vec<(i64, String, i64)> {
    let pool = dtr_migrations::sqlite_pool(db).await.unwrap();
    sqlx::query_as(
        "SELECT sekvensnummer, nummer, version FROM aendring WHERE sekvensnummer <= $1 ORDER BY sekvensnummer",
    )
    .bind(max)
    .fetch_all(&pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_backup_under_write_load_restores_and_serves() {
    let r = common::cluster::embedded().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (soap, stop) = (r.soap.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let a = soap
                    .call(
                        IMPORT,
                        "InsertDaginstitution",
                        &payload::daginstitution(payload::KOEBENHAVN, &format!("Under last {n}")),
                    )
                    .await;
                assert_eq!(xml_text(&a.body, "status"), Some("OK"), "{}", a.body);
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let dir = TempDir::new();
    let file = dir.path().join("kopi.db");
    let backup = dtr(&["backup", file.to_str().unwrap(), "--database-url", &r.db]);
    let out = String::from_utf8_lossy(&backup.stdout).to_string();
    assert!(backup.status.success(), "{out}{}", String::from_utf8_lossy(&backup.stderr));
    assert!(out.contains("integrity ok"), "{out}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written >= 3, "written while the copy was taken: {written}");
    assert!(!dtr(&["backup", file.to_str().unwrap(), "--database-url", &r.db]).status.success(), "never over a file");

    // One moment of the source: the copy's change sequence is exactly the source's beginning.
    let copy_db = format!("sqlite:{}", file.display());
    let copied = sequence(&copy_db, i64::MAX).await;
    let source = sequence(&r.db, copied.len() as i64).await;
    assert_eq!(copied, source, "a prefix of the source, nothing torn");
    assert!(sequence(&r.db, i64::MAX).await.len() > copied.len(), "the writes went on after the copy");

    // Restored and served.
    let data = dir.path().join("restored");
    let restore = dtr(&["restore", file.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let again = dtr(&["restore", file.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing register is not replaced without --force");
    let port = free_port();
    let up = Proc::spawn(
        "restored",
        &["up", "--data-dir", data.to_str().unwrap(), "--https-addr", &format!("127.0.0.1:{port}")],
        &[],
        dir.path(),
    );
    wait_until("the restored register to serve", common::START_LIMIT, || {
        let ready = up.log().contains("Press Ctrl-C to stop.");
        async move { ready }
    })
    .await;
    let cert = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let soap = Soap::new(&format!("https://127.0.0.1:{port}"), &cert, &r.soap.user, &r.soap.password);
    let all = soap.call(EXPORT, "GetAllDaginstitutioner", "").await;
    assert_eq!(all.status, 200, "{}", all.body);
    let pool = dtr_migrations::sqlite_pool(&copy_db).await.unwrap();
    let in_copy: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM daginstitution").fetch_one(&pool).await.unwrap();
    assert_eq!(all.body.matches("<daginstitution>").count() as i64, in_copy, "the restored register serves the copy");
}
