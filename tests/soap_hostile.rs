//! The hostile corpus (docs/soap-edge.md points 1, 2, 6, 7, 9): every malformed or hostile request in
//! `tests/corpus/soap/` and the large generated ones gets a clean SOAP fault with the right code
//! and HTTP status, the gateway keeps answering a normal request after each, and its memory stays
//! bounded. Against `dtr up` (one process, so its peak memory is the gateway's bound too).

use crate::common;

use common::cluster;
use common::{EXPORT, Soap, peak_mib, xml_text};

const S11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../tests/corpus/soap/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="{S11}"><s:Body><d:HelloWorld xmlns:d="urn:dtr:export:v2">{inner}</d:HelloWorld></s:Body></s:Envelope>"#
    )
}

struct Case {
    name: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
    status: u16,
    /// The fault's ErrorCode, or `None` for a normal answer.
    code: Option<&'static str>,
}

fn case(name: &'static str, ct: &'static str, body: Vec<u8>, status: u16, code: Option<&'static str>) -> Case {
    Case { name, headers: vec![("Content-Type", ct)], body, status, code }
}

const XML: &str = "text/xml; charset=utf-8";
const XML_BARE: &str = "text/xml";

fn cases() -> Vec<Case> {
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    // Short distinct names (four letters) keep a million of them under the 10 MiB body limit.
    let name = |mut i: usize| {
        let mut n = String::new();
        for _ in 0..4 {
            n.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
        }
        n
    };
    let attrs: String = (0..1_000_000).map(|i| format!(" {}=\"\"", name(i))).collect();
    let many_attributes = format!(
        r#"<s:Envelope xmlns:s="{S11}"><s:Body><d:HelloWorld xmlns:d="urn:dtr:export:v2"{attrs}/></s:Body></s:Envelope>"#
    );
    let with_action = |name, action| {
        let mut c = case(name, XML, corpus("soap11-hello.xml"), 200, None);
        c.headers.push(("SOAPAction", action));
        c
    };
    let mut v = vec![
        case("DOCTYPE with an internal entity", XML, corpus("doctype-internal-entity.xml"), 500, Some("IPL000002")),
        case(
            "DOCTYPE with an external entity (XXE)",
            XML,
            corpus("doctype-external-entity.xml"),
            500,
            Some("IPL000002"),
        ),
        case("billion laughs", XML, corpus("billion-laughs.xml"), 500, Some("IPL000002")),
        case("foreign processing instruction", XML, corpus("processing-instruction.xml"), 500, Some("IPL000002")),
        case("truncated document", XML, corpus("truncated.xml"), 500, Some("IPL000002")),
        case("wrong envelope namespace", XML, corpus("wrong-envelope-namespace.xml"), 500, Some("IPL000004")),
        case(
            "SOAP 1.1 body with a 1.2 content type",
            "application/soap+xml; charset=utf-8",
            corpus("soap11-hello.xml"),
            500,
            Some("IPL000004"),
        ),
        case("UTF-8 with a BOM", XML, corpus("bom-utf8.xml"), 200, None),
        case("ISO-8859-1 by its declaration", XML_BARE, corpus("latin1.xml"), 200, None),
        case("ISO-8859-1 bytes sent as UTF-8", XML, corpus("latin1-sent-as-utf8.xml"), 500, Some("IPL000004")),
        case("UTF-16", XML_BARE, corpus("bom-utf16.xml"), 500, Some("IPL000004")),
        case("unsupported charset", "text/xml; charset=shift_jis", corpus("soap11-hello.xml"), 500, Some("IPL000004")),
        case(
            "MTOM",
            "multipart/related; type=\"application/xop+xml\"; boundary=x; start-info=\"text/xml\"",
            b"--x\r\nContent-Type: application/xop+xml\r\n\r\n<s:Envelope/>\r\n--x--".to_vec(),
            500,
            Some("IPL000004"),
        ),
        case("10,000-deep nesting", XML, envelope(&deep).into_bytes(), 500, Some("IPL000002")),
        case("10 MB text node", XML, envelope(&"x".repeat(10_000_000)).into_bytes(), 500, Some("IPL000002")),
        case("1 million attributes", XML, many_attributes.into_bytes(), 500, Some("IPL000002")),
        case(
            "50 MB body",
            XML,
            envelope(&"<x>y</x>".repeat(50 * 1024 * 1024 / 8)).into_bytes(),
            500,
            Some("IPL000006"),
        ),
    ];
    v.push(with_action("SOAPAction naming the operation", "\"urn:dtr:export:v2/HelloWorld\""));
    v.push(with_action("empty SOAPAction", "\"\""));
    let mut spoofed = with_action("SOAPAction naming another operation", "\"urn:dtr:export:v2/GetAllDagtilbud\"");
    spoofed.status = 500;
    spoofed.code = Some("IPL000008");
    v.push(spoofed);
    let mut v12 = case(
        "SOAP 1.2 action naming another operation",
        "application/soap+xml; charset=utf-8; action=\"urn:dtr:export:v2/GetAllDagtilbud\"",
        envelope("").replace(S11, "http://www.w3.org/2003/05/soap-envelope").into_bytes(),
        400,
        Some("IPL000008"),
    );
    v12.headers.truncate(1);
    v.push(v12);
    v
}

async fn still_serving(soap: &Soap, after: &str) {
    let a = soap.call(EXPORT, "HelloWorld", "").await;
    assert_eq!(a.status, 200, "a normal request after {after}: {}", a.body);
}

#[tokio::test]
async fn hostile_corpus_gets_clean_faults_and_the_gateway_keeps_serving() {
    let r = cluster::embedded().await;
    let pid = r.procs[0].pid();
    still_serving(&r.soap, "start-up").await;
    let before = peak_mib(pid);
    for c in cases() {
        let size = c.body.len();
        let a = r.soap.post_bytes(EXPORT, &c.headers, c.body).await;
        assert_eq!(a.status, c.status, "{} ({size} bytes): {}", c.name, a.body.chars().take(600).collect::<String>());
        assert_eq!(
            xml_text(&a.body, "ErrorCode"),
            c.code,
            "{}: {}",
            c.name,
            a.body.chars().take(600).collect::<String>()
        );
        if c.code.is_some() {
            assert!(a.body.contains("ServiceFaultDetailer"), "{}: a SOAP fault: {}", c.name, a.body);
            assert!(!a.body.contains("root:"), "{}: no file contents leak", c.name);
        }
        still_serving(&r.soap, c.name).await;
    }
    let after = peak_mib(pid);
    // The largest case is cut off at the 10 MiB body limit; nothing is built from it beyond that.
    assert!(after < before + 200, "peak memory grew from {before} MiB to {after} MiB");
}
