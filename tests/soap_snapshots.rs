//! Snapshots of the exact bytes the gateway answers (docs/soap-edge.md points 3 and 4): a response
//! of each operation kind and the fault shapes a client meets, against `dtr up --demo` (its demo
//! data is the same on every run). Only what differs between runs by nature is replaced before
//! comparing: correlation ids, timestamps. The snapshots are in `tests/snapshots/soap/`; after a
//! deliberate change, rewrite them with `DTR_UPDATE_SNAPSHOTS=1` and review the diff.

use crate::common;

use common::{EXPORT, IMPORT, SoapAnswer, cluster, payload};

const S11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const S12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Replaces what differs by nature between runs: the text of `CorrelationID` and `Timestamp`,
/// and every ISO 8601 date-time.
fn normalize(xml: &str) -> String {
    let mut out = xml.to_owned();
    for tag in ["CorrelationID", "Timestamp"] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        if let (Some(a), Some(b)) = (out.find(&open), out.find(&close)) {
            out.replace_range(a + open.len()..b, &format!("{{{tag}}}"));
        }
    }
    let bytes = out.as_bytes();
    let mut result = String::with_capacity(out.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = datetime_at(&bytes[i..]) {
            result.push_str("{tid}");
            i += len;
        } else {
            let ch = out[i..].chars().next().unwrap();
            result.push(ch);
            i += ch.len_utf8();
        }
    }
    result
}

/// Length of an ISO 8601 date-time (`2026-12-01T23:17:14`, optional fraction and zone) at the
/// start of `b`.
fn datetime_at(b: &[u8]) -> Option<usize> {
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (c, s) in b.iter().zip(shape) {
        let ok = if *s == b'd' { c.is_ascii_digit() } else { c == s };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    match b.get(n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') if b.len() >= n + 6 && b[n + 3] == b':' => n += 6,
        _ => {}
    }
    Some(n)
}

fn check(name: &str, a: &SoapAnswer) {
    let got = format!("HTTP {}\n{}\n", a.status, normalize(&a.body));
    let file = format!("{}/../tests/snapshots/soap/{name}.xml", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("DTR_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&file).parent().unwrap()).unwrap();
        std::fs::write(&file, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|_| panic!("no snapshot {file}: run with DTR_UPDATE_SNAPSHOTS=1 and review it"));
    assert_eq!(got, want, "{name} differs from its snapshot");
}

fn envelope(ns: &str, service: &str, op: &str, inner: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{ns}" xmlns:d="urn:dtr:{service}:v2"><s:Body><d:{op}>{inner}</d:{op}></s:Body></s:Envelope>"#
    )
}

#[tokio::test]
async fn answers_and_faults_match_their_snapshots() {
    let r = cluster::embedded().await;
    let s = &r.soap;

    // One of each operation kind.
    check("export-helloworld", &s.call(EXPORT, "HelloWorld", "").await);
    check("export-kodetabel", &s.call(EXPORT, "GetKodetabel", "<d:navn>ejerform</d:navn>").await);
    let nummer = "<d:DagInstitutionsNummer>G30000</d:DagInstitutionsNummer>";
    check("export-lookup-one", &s.call(EXPORT, "GetDaginstitutionByNummer", nummer).await);
    check("export-lookup-list", &s.call(EXPORT, "GetAnvisningsEnhederByDaginstitutionsnummer", nummer).await);
    check("export-extract-streamed", &s.call(EXPORT, "GetDagtilbudByDagInstitutionsNummer", nummer).await);
    let insert = payload::daginstitution(payload::KOEBENHAVN, "Snapshot-børnehaven");
    check("import-ok", &s.call(IMPORT, "InsertDaginstitution", &insert).await);
    let ugyldig =
        payload::daginstitution(payload::KOEBENHAVN, "Ugyldig").replace(">1</d:ejerformKode>", ">9</d:ejerformKode>");
    check("import-rule-error", &s.call(IMPORT, "InsertDaginstitution", &ugyldig).await);

    // Fault shapes.
    let xml = "text/xml; charset=utf-8";
    let soap12 = "application/soap+xml; charset=utf-8";
    let truncated = |ns| envelope(ns, "export", "HelloWorld", "").replace("</s:Body></s:Envelope>", "");
    check("fault-11-sender", &s.post_raw(EXPORT, xml, truncated(S11)).await);
    check("fault-12-sender", &s.post_raw(EXPORT, soap12, truncated(S12)).await);
    let wrong_ns = envelope("urn:ikke-soap", "export", "HelloWorld", "");
    check("fault-11-versionmismatch", &s.post_raw(EXPORT, xml, wrong_ns.clone()).await);
    check("fault-12-versionmismatch", &s.post_raw(EXPORT, soap12, wrong_ns).await);
    let unknown = envelope(S12, "export", "GetAltMuligt", "");
    check("fault-12-unknown-operation", &s.post_raw(EXPORT, soap12, unknown).await);
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(r.cert_path().parent().unwrap().parent().unwrap().join("demo-credentials.json")).unwrap(),
    )
    .unwrap();
    let refused = &creds["refused_system"];
    let x = s.with_login(refused["username"].as_str().unwrap(), refused["password"].as_str().unwrap());
    check("fault-11-refused", &x.call(IMPORT, "InsertDaginstitution", &insert).await);
}

#[test]
fn normalizing_keeps_all_but_ids_and_times() {
    assert_eq!(
        normalize(
            "<CorrelationID>abc</CorrelationID><Timestamp>x</Timestamp><a>2026-12-01T23:17:14Z</a><b>2026-12-01T23:17:14.123+01:00</b><c>2026-12-01</c>"
        ),
        "<CorrelationID>{CorrelationID}</CorrelationID><Timestamp>{Timestamp}</Timestamp><a>{tid}</a><b>{tid}</b><c>2026-12-01</c>"
    );
}
