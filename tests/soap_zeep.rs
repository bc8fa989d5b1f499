//! A client generated from the WSDLs by another ecosystem's toolkit (Python's zeep, installed by
//! scripts/test.sh into `target/zeep-venv`) reads, writes and meets a fault through the gateway.

use crate::common;

use common::cluster;

#[tokio::test]
async fn zeep_generates_a_working_client_from_the_wsdls() {
    let python = std::env::var("DTR_TEST_PYTHON")
        .expect("DTR_TEST_PYTHON is not set: run the suite with scripts/test.sh, which installs zeep");
    let r = cluster::embedded().await;
    let script = format!("{}/../tests/zeep/client.py", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(&r.soap.base)
        .arg(&r.soap.user)
        .arg(&r.soap.password)
        .arg(r.cert_path())
        // Only the gateway's certificate: no CA bundle or proxy from the environment.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .output()
        .await
        .expect("run the zeep client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "zeep client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "export v2 hello True",
            "export v1 hello True",
            "kodetabel ejerform 4",
            "daginstitution G30000 101",
            "dagtilbud 1 2",
            "insert OK True",
            "fault True",
        ]
    );
}
