//! Basic Auth as docs/soap-edge.md point 10 asks: failed logins locked out per (username, client IP),
//! shared by two gateways through Redis, unknown users alike, and the lock-out ending by itself;
//! a repeated login runs no argon2; a changed password stops the old one at once, with no cache
//! to invalidate.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use dtr_proto::tilslutning::tilslutning_service_server::TilslutningServiceServer;
use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::model::AftaleStatus;
use dtr_tilslutning::store::NewSystem;

use common::cluster;
use common::{EXPORT, Soap, wait_until};

/// A system of its own (a fresh username, so counters of earlier runs in a shared Redis do not
/// matter) connected to the ExportService.
async fn own_system(store: &dyn TilslutningStore, password: &str) -> String {
    let id = format!("sys-{}", uuid::Uuid::new_v4().simple());
    let brugernavn = format!("bruger-{}", &id[4..16]);
    let hash = dtr_tilslutning::credentials::hash_password(password).unwrap();
    let s = NewSystem { id: &id, navn: "Lås", udbyder_kode: "UDB1", brugernavn: &brugernavn, password_hash: &hash };
    store.create_system(&s).await.unwrap();
    store.set_tilslutning(&id, "ExportService", AftaleStatus::Godkendt, "STIL".into(), "").await.unwrap();
    brugernavn
}

async fn hello(soap: &Soap) -> common::SoapAnswer {
    soap.call(EXPORT, "HelloWorld", "").await
}

#[tokio::test]
async fn failed_logins_lock_out_the_pair_on_every_gateway_until_the_period_ends() {
    let lockout = [("DTR_LOCKOUT_FAILURES", "3".to_owned()), ("DTR_LOCKOUT_SECONDS", "3".to_owned())];
    let mut c = cluster::start_services().await;
    let first = cluster::start_gateway(&mut c, &lockout).await;
    let second_base = cluster::spawn_gateway(&mut c, &lockout).await;
    let cert = std::fs::read(c._dir.path().join("gw/tls/cert.pem")).unwrap();
    let second = Soap::new(&second_base, &cert, "e2e-bruger", "e2e-hemmelighed");
    let store = dtr_tilslutning::connect(&c.db).await.unwrap();
    let user = own_system(store.as_ref(), "rigtig").await;

    // The right password first, remembered by both gateways: a lock-out must refuse it all
    // the same (a remembered login passes without reading the lock-out counters, so every
    // lock-out drops remembered logins on every gateway before it is answered).
    for gw in [&first, &second] {
        assert_eq!(hello(&gw.with_login(&user, "rigtig")).await.status, 200);
        assert_eq!(hello(&gw.with_login(&user, "rigtig")).await.status, 200);
    }
    // Three wrong passwords, spread over both gateways; the last on the first gateway, so the
    // second hears of the lock-out only through Redis.
    for (n, gw) in [&second, &first, &first].into_iter().enumerate() {
        let a = hello(&gw.with_login(&user, &format!("forkert{n}"))).await;
        assert_eq!(a.status, 401, "failure {n}");
    }
    // Now the right password is refused too, on both gateways, with a time to wait.
    for gw in [&second, &first] {
        let a = hello(&gw.with_login(&user, "rigtig")).await;
        assert_eq!(a.status, 429, "{}", a.body);
        let wait: u64 = a.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=4).contains(&wait), "Retry-After {wait}");
        assert!(a.body.contains("For mange mislykkede"), "{}", a.body);
    }
    // Over HTTP/2 too, with a body still on its way when the answer is decided: every POST gets
    // its 429, none a reset stream (curl, whose HTTP/2 reports a stream reset as an error).
    let dir = common::TempDir::new();
    let (ca, body) = (dir.path().join("ca.pem"), dir.path().join("body.xml"));
    std::fs::write(&ca, &cert).unwrap();
    let padding = " ".repeat(300 * 1024);
    std::fs::write(
        &body,
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{padding}<d:HelloWorld xmlns:d="urn:dtr:export:v2"/></s:Body></s:Envelope>"#
        ),
    )
    .unwrap();
    for n in 0..30 {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "--cacert"])
            .arg(&ca)
            .args(["-u", &format!("{user}:rigtig"), "-H", "content-type: text/xml; charset=utf-8", "--data-binary"])
            .arg(format!("@{}", body.display()))
            .arg(format!("{}{EXPORT}", first.base))
            .output()
            .expect("curl");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "HTTP/2 POST {n}: {said} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(said, "2 429", "HTTP/2 POST {n}");
    }
    // Only that pair: another system from the same address goes on.
    assert_eq!(hello(&first).await.status, 200);

    // An unknown username is locked out exactly alike (no user enumeration).
    let ukendt = format!("ukendt-{}", uuid::Uuid::new_v4().simple());
    for _ in 0..3 {
        assert_eq!(hello(&first.with_login(&ukendt, "x")).await.status, 401);
    }
    assert_eq!(hello(&first.with_login(&ukendt, "x")).await.status, 429);

    // The lock-out ends by itself, and the right password works again.
    let soap = first.with_login(&user, "rigtig");
    wait_until("the lock-out to end", Duration::from_secs(20), || {
        let soap = soap.clone();
        async move { hello(&soap).await.status == 200 }
    })
    .await;
    assert_eq!(hello(&second.with_login(&user, "rigtig")).await.status, 200);
}

/// The tilslutning service in this process, so the test can count its argon2 runs, behind a
/// gateway whose decision cache is off (every login reaches the service).
#[tokio::test]
async fn a_repeated_login_runs_no_argon2_and_a_changed_password_stops_at_once() {
    let mut c = cluster::start_services().await;
    let store = dtr_tilslutning::connect(&c.db).await.unwrap();
    cluster::seed_system(&c.db, "e2e-bruger", "e2e-hemmelighed").await;
    let user = own_system(store.as_ref(), "gammel").await;

    let service = Arc::new(dtr_tilslutning::TilslutningGrpc::new(store.clone(), 0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Served as `dtr tilslutning` serves it: mutual TLS and the guard with its table.
    let pki = dtr_trust::PkiDir::new(&c.pki);
    let policy = dtr_tilslutning::grpc::policy::policy;
    let (tls, guard) = dtr_trust::server(&pki, dtr_trust::Part::Tilslutning, policy).unwrap();
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(guard.protect(TilslutningServiceServer::from_arc(service.clone())))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    c.tilslutning = addr.port();
    let base = cluster::spawn_gateway(&mut c, &[("DTR_DECISION_CACHE_MS", "0".to_owned())]).await;
    let cert = std::fs::read(c._dir.path().join("gw/tls/cert.pem")).unwrap();
    let soap = Soap::new(&base, &cert, &user, "gammel");

    let runs = || service.argon2_koersler();
    assert_eq!(hello(&soap).await.status, 200);
    let after_first = runs();
    assert!(after_first >= 1, "the first login is checked with argon2");
    for _ in 0..3 {
        assert_eq!(hello(&soap).await.status, 200);
    }
    assert_eq!(runs(), after_first, "repeated logins are answered from the service's memory");

    // The password changes in the store, announced to nobody: the old one stops at once, since
    // the remembered check was keyed by the stored hash.
    let new_hash = dtr_tilslutning::credentials::hash_password("ny").unwrap();
    let sql = "UPDATE credential SET hash = $1 WHERE system_id = (SELECT id FROM udbydersystem WHERE brugernavn = $2)";
    let pool = sqlx::PgPool::connect(&c.db).await.unwrap();
    sqlx::query(sql).bind(&new_hash).bind(&user).execute(&pool).await.unwrap();
    assert_eq!(hello(&soap).await.status, 401, "the old password stopped at once");
    assert_eq!(hello(&soap.with_password("ny")).await.status, 200);
}

/// A flood of logins with unknown usernames (each one a full argon2 run of 19 MiB) waits for its
/// turn instead of exhausting memory: before the bound, 24 at once took `dtr up` from 84 to
/// 397 MB. The bound stated here: 50 at once grow its peak by less than 100 MiB.
#[tokio::test]
async fn fifty_concurrent_bogus_logins_keep_memory_bounded() {
    let r = cluster::embedded().await;
    let pid = r.procs[0].pid();
    assert_eq!(hello(&r.soap).await.status, 200);
    common::reset_peak(pid);
    let before = common::peak_mib(pid);
    let attempts = (0..50).map(|i| {
        let soap = r.soap.with_login(&format!("ukendt-{i}-{}", uuid::Uuid::new_v4().simple()), "forkert");
        async move { hello(&soap).await.status }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let after = common::peak_mib(pid);
    assert!(after < before + 100, "peak memory grew from {before} MiB to {after} MiB");
    assert_eq!(hello(&r.soap).await.status, 200, "and it goes on serving");
}
