//! What operators rely on: the Prometheus metrics (checked by Prometheus's own `promtool`, and
//! moving as traffic flows) and graceful shutdown.

use std::time::Duration;

use crate::common::metrics::{scrape, value};
use crate::common::{self, EXPORT, cluster};

/// `promtool`: `DTR_TEST_PROMTOOL` (the test command sets it) or the one on the PATH.
fn promtool() -> String {
    std::env::var("DTR_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into())
}

/// Runs `promtool check metrics` on an exposition; panics with its complaints.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian: prometheus; scripts/test.sh installs it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn metrics_pass_promtool_and_move_with_traffic() {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let r = cluster::embedded_with(&[("DTR_METRICS_ADDR", addr.clone())]).await;
    let lookup = "<d:DagInstitutionsNummer>G30000</d:DagInstitutionsNummer>";
    assert_eq!(r.soap.call(EXPORT, "GetDaginstitutionByNummer", lookup).await.status, 200);
    let before = scrape(&addr).await;
    promtool_accepts(&before);

    for _ in 0..3 {
        assert_eq!(r.soap.call(EXPORT, "GetDaginstitutionByNummer", lookup).await.status, 200);
    }
    let refused = r.soap.with_password("forkert").call(EXPORT, "GetDaginstitutionByNummer", lookup).await;
    assert_eq!(refused.status, 401);
    let extract = r.soap.call(EXPORT, "GetAllDaginstitutioner", "").await;
    assert_eq!(extract.status, 200);
    // The pool gauges are sampled every 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let after = scrape(&addr).await;
    promtool_accepts(&after);

    let moved = |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    let soap_ok = ["service=\"ExportService\"", "operation=\"GetDaginstitutionByNummer\"", "outcome=\"ok\""];
    assert_eq!(moved("dtr_soap_requests_total", &soap_ok), 3.0, "SOAP calls by operation and outcome");
    let unauth = ["operation=\"unknown\"", "outcome=\"unauthenticated\""];
    assert_eq!(moved("dtr_soap_requests_total", &unauth), 1.0, "a refused login is a SOAP outcome too");
    assert!(moved("dtr_soap_request_duration_seconds_count", &soap_ok[..2]) >= 3.0, "latency histogram");
    assert!(after.contains("dtr_soap_request_duration_seconds_bucket{"), "with buckets");
    assert_eq!(moved("dtr_auth_total", &["outcome=\"denied\""]), 1.0, "authentication outcomes");
    assert!(moved("dtr_auth_total", &["outcome=\"ok\""]) >= 4.0);
    assert!(moved("dtr_cache_requests_total", &["cache=\"logins\"", "result=\"hit\""]) >= 3.0, "decision cache hits");
    assert!(moved("dtr_cache_requests_total", &["cache=\"code_tables\""]) >= 3.0, "code-table cache reads");
    assert!(moved("dtr_cache_requests_total", &["cache=\"lookups\"", "result=\"hit\""]) >= 3.0, "lookups from memory");
    let grpc = ["service=\"export\"", "method=\"GetDaginstitutionByNummer\"", "code=\"0\""];
    assert!(moved("dtr_grpc_requests_total", &grpc) >= 3.0, "gRPC calls per service");
    // Under `dtr up` the gateway calls its services in process: no socket, no TLS, no HTTP/2.
    assert!(moved("dtr_grpc_requests_total", &[grpc[0], grpc[1], "via=\"local\""]) >= 3.0, "in process");
    let network = [grpc[0], grpc[1], "via=\"network\""];
    assert_eq!(value(&after, "dtr_grpc_requests_total", &network), 0.0, "no lookup went over the network");
    assert_eq!(moved("dtr_extracts_total", &["operation=\"GetAllDaginstitutioner\""]), 1.0, "extracts served");
    assert!(value(&after, "dtr_db_pool_max_connections", &["pool=\"export\""]) > 0.0, "database pool use");
    assert!(after.contains("dtr_db_pool_connections{"), "pool connections by state");
    assert!(after.contains("dtr_outbox_depth"), "outbox depth");
}

/// SIGTERM: the gateway stops taking connections, lets a call in flight finish, and the process
/// exits by itself within its bound.
#[tokio::test]
async fn sigterm_finishes_calls_in_flight_then_exits() {
    let mut r = cluster::embedded().await;
    let soap = r.soap.clone();
    // A full extract in flight while the signal arrives.
    let in_flight = tokio::spawn(async move { soap.call(EXPORT, "GetAllDagtilbud", "").await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let started = std::time::Instant::now();
    common::faults::signal(r.procs[0].pid(), "TERM");
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the call in flight is answered: {}", &answer.body[..200.min(answer.body.len())]);
    assert!(answer.body.contains("</GetAllDagtilbudResponse>"), "in full");
    loop {
        if let Some(status) = r.procs[0].try_exit() {
            assert!(status.success(), "a clean exit: {status}\n{}", r.procs[0].log());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "exits within its bound\n{}", r.procs[0].log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(r.soap.try_get("/healthz").await.is_none(), "no longer takes connections");
}

/// Every metric the Grafana dashboard in `deploy/` asks for is one the processes describe.
#[test]
fn the_dashboard_shows_metrics_that_exist() {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../deploy/grafana/dashboards/dtr.json")).expect("valid JSON");
    let described = include_str!("../dtr/src/metrics.rs");
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("dtr_") {
                    let name = format!("dtr_{}", name.trim_end_matches("_bucket"));
                    assert!(described.contains(&format!("\"{name}\"")), "{name} ({}) is not a metric", panel["title"]);
                    asked += 1;
                }
            }
        }
    }
    assert!(asked > 15, "the dashboard shows the metrics");
}
