//! The README's examples, run as a reader would run them: the shell blocks of "A SOAP call with
//! curl" as one script, then the zeep client, in a directory whose `dtr-data` is a running
//! `dtr up --demo`, with `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` set as on machines that set
//! them. The only change to the text is the gateway's port (the suite runs many systems at once).

use crate::common::{self, cluster};

const README: &str = include_str!("../README.md");

/// The fenced blocks in `lang` between the heading `from` and the next heading of the same level.
fn blocks(from: &str, lang: &str) -> Vec<String> {
    let start = README.find(&format!("\n{from}\n")).unwrap_or_else(|| panic!("README has {from:?}"));
    let level = from.split(' ').next().unwrap();
    let rest = &README[start + from.len() + 2..];
    let end = rest.find(&format!("\n{level} ")).unwrap_or(rest.len());
    let section = &rest[..end];
    let mut out = Vec::new();
    let mut parts = section.split("```");
    parts.next();
    while let (Some(block), _) = (parts.next(), parts.next()) {
        if let Some(code) = block.strip_prefix(&format!("{lang}\n")) {
            out.push(code.to_owned());
        }
    }
    out
}

#[tokio::test]
async fn the_readme_examples_run_as_written() {
    let dir = common::TempDir::new();
    let data = dir.path().join("dtr-data");
    let port = common::free_port();
    let _up = cluster::spawn_up("dtr-up", &data, port, dir.path()).await;
    let here = |text: &str| text.replace("127.0.0.1:8443", &format!("127.0.0.1:{port}"));
    let system_bundle = "/etc/ssl/certs/ca-certificates.crt";

    let shell = blocks("## A SOAP call with curl", "sh");
    assert!(shell.len() >= 4, "the curl examples: {shell:?}");
    // As a reader runs them: in the directory with `dtr-data`, on a machine that sets the CA
    // bundles for Python's requests and for curl.
    let run = |program: &str, code: &str| {
        let out = std::process::Command::new(program)
            .args(["-c", code])
            .current_dir(dir.path())
            .env("REQUESTS_CA_BUNDLE", system_bundle)
            .env("CURL_CA_BUNDLE", system_bundle)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{program}: {said}\n{}", String::from_utf8_lossy(&out.stderr));
        said
    };
    let said = run("bash", &format!("set -e\n{}", here(&shell.join("\n"))));
    assert!(said.contains("<InsertDaginstitutionResponse"), "the insert is answered: {said}");
    assert!(said.contains("<status>OK</status>"), "and accepted: {said}");
    assert!(said.contains("<GetDaginstitutionByNummerResponse"), "the lookup: {said}");
    assert!(said.contains("</GetAllDagtilbudResponse>"), "the full extract, whole: {said}");
    let numbers = common::xml_texts(&said, "nummer");
    assert_eq!(numbers.len(), 3, "the insert and the write sent twice: {said}");
    assert_eq!(numbers[1], numbers[2], "a repeated MessageID answers the first write's number");
    assert_ne!(numbers[0], numbers[1], "another write, another number");
    let csv = std::fs::read_to_string(dir.path().join("samlet.csv")).expect("curl -O saved samlet.csv");
    assert!(csv.starts_with('\u{feff}'), "the CSV file");

    let python = blocks("### A client from the WSDL", "python");
    assert_eq!(python.len(), 1, "one zeep example");
    let py = std::env::var("DTR_TEST_PYTHON").expect("DTR_TEST_PYTHON: scripts/test.sh makes a venv with zeep");
    let said = run(&py, &here(&python[0]));
    assert!(said.contains("G30000"), "prints the institution: {said}");
}
