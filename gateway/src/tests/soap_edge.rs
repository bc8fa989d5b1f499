//! Authentication refusals, fault shapes and dispatch of the SOAP edge, through `app()`.

use axum::body::Body;
use base64::Engine;
use http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::fakes::{self, PASSWORD, REFUSAL_CODE, USER};
use crate::endpoint::{EXPORT_PATH, Endpoint, IMPORT_PATH};
use crate::operation::{ExportOperation, ImportOperation};
use crate::{app, wsdl};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const EXPORT_NS: &str = "urn:dtr:export:v2";
const IMPORT_NS: &str = "urn:dtr:import:v2";

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    /// The `ErrorCode` of a fault's `ServiceFaultDetailer`.
    fn error_code(&self) -> &str {
        let start = self.body.find("<ErrorCode>").map(|i| i + "<ErrorCode>".len()).unwrap_or(0);
        let end = self.body[start..].find('<').map(|i| start + i).unwrap_or(start);
        &self.body[start..end]
    }
}

/// A SOAP 1.1 or 1.2 envelope around `body`.
fn envelope(soap_ns: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{soap_ns}"><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// Posts `xml` with the given extra headers and reads the whole answer.
async fn post(path: &str, headers: &[(&str, &str)], xml: String) -> (Answer, fakes::Log) {
    let (state, log) = fakes::state().await;
    let mut req = Request::post(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app(state).oneshot(req.body(Body::from(xml)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (Answer { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }, log)
}

/// An authenticated SOAP 1.1 call of `op` with `content` inside its element.
async fn call11(path: &str, ns: &str, op: &str, content: &str) -> (Answer, fakes::Log) {
    let auth = basic(USER, PASSWORD);
    let xml = envelope(SOAP11, &format!(r#"<{op} xmlns="{ns}">{content}</{op}>"#));
    post(path, &[(header::CONTENT_TYPE.as_str(), "text/xml; charset=utf-8"), ("authorization", &auth)], xml).await
}

#[tokio::test]
async fn no_credentials_get_a_basic_challenge_and_reach_no_service() {
    let hello = ExportOperation::HelloWorld.name();
    let xml = envelope(SOAP11, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#));
    let (a, log) = post(EXPORT_PATH, &[("content-type", "text/xml")], xml).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic realm="));
    assert!(log.lines().is_empty(), "{:?}", log.lines());
}

#[tokio::test]
async fn a_wrong_password_is_refused_like_no_password() {
    let hello = ExportOperation::HelloWorld.name();
    let xml = envelope(SOAP11, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#));
    let auth = basic(USER, "forkert");
    let (a, log) = post(EXPORT_PATH, &[("content-type", "text/xml"), ("authorization", &auth)], xml).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(log.lines(), [format!("Authenticate {USER} false")]);
}

#[tokio::test]
async fn hello_world_is_dispatched_to_the_export_service_and_keeps_the_correlation_id() {
    let hello = ExportOperation::HelloWorld.name();
    let auth = basic(USER, PASSWORD);
    let xml = envelope(SOAP11, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#));
    let headers = [("content-type", "text/xml"), ("authorization", auth.as_str()), ("x-correlation-id", "test-123")];
    let (a, log) = post(EXPORT_PATH, &headers, xml).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/xml; charset=utf-8");
    assert_eq!(a.headers["x-correlation-id"], "test-123");
    assert!(a.body.contains(&format!("<{hello}Result>Hello fake</{hello}Result>")), "{}", a.body);
    assert_eq!(
        log.lines(),
        [
            format!("Authenticate {USER} true"),
            format!("CheckAccess ExportService {hello} [] extract=false"),
            hello.into()
        ]
    );
}

#[tokio::test]
async fn a_lookup_sends_its_parameter_and_writes_the_published_fields() {
    let op = ExportOperation::GetDaginstitutionByNummer.name();
    let (a, log) = call11(EXPORT_PATH, EXPORT_NS, op, "<DagInstitutionsNummer> G10001 </DagInstitutionsNummer>").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("<daginstitutionsNummer>G10001</daginstitutionsNummer>"), "{}", a.body);
    assert!(a.body.contains("<ejerformKode_Tekst>Kommunal</ejerformKode_Tekst>"), "{}", a.body);
    assert!(log.lines().contains(&format!("{op} G10001")), "{:?}", log.lines());
}

#[tokio::test]
async fn a_write_is_read_once_and_its_owners_checked_before_it_is_sent() {
    let op = ImportOperation::InsertDaginstitution.name();
    let auth = basic(USER, PASSWORD);
    let content = "<daginstitution><daginstitutionsNavn>Solsikken</daginstitutionsNavn><ejerformKode>1</ejerformKode>\
        <lovgrundlagKode>1</lovgrundlagKode><admKommuneKode>101</admKommuneKode></daginstitution>";
    let xml = envelope(SOAP12, &format!(r#"<{op} xmlns="{IMPORT_NS}">{content}</{op}>"#));
    let (a, log) = post(IMPORT_PATH, &[("content-type", "application/soap+xml"), ("authorization", &auth)], xml).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/soap+xml; charset=utf-8");
    assert!(a.body.contains("<ImportSvar><status>OK</status><nummer>G30000</nummer></ImportSvar>"), "{}", a.body);
    assert_eq!(
        log.lines()[1..],
        [
            "ResolveDataejere kommune 101".to_owned(),
            format!(r#"CheckAccess ImportService {op} ["101"] extract=false"#),
            format!("{op} Solsikken"),
        ]
    );
}

#[tokio::test]
async fn a_full_extract_is_streamed_and_counted_as_one() {
    let op = ExportOperation::GetAllDagtilbud.name();
    let (a, log) = call11(EXPORT_PATH, EXPORT_NS, op, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body.matches("<daginstitution>").count(), 3, "{}", a.body);
    assert!(a.body.ends_with("</soap:Envelope>"), "{}", a.body);
    assert!(log.lines().contains(&format!("CheckAccess ExportService {op} [] extract=true")), "{:?}", log.lines());
}

/// Each broken request gets its fault: HTTP status, SOAP fault code and the stable ErrorCode.
#[tokio::test]
async fn fault_shapes() {
    let auth = basic(USER, PASSWORD);
    let hello = ExportOperation::HelloWorld.name();
    let lookup = ExportOperation::GetDaginstitutionByNummer.name();
    let refused = fakes::REFUSED_OPERATION.name();
    struct Case {
        what: &'static str,
        content_type: &'static str,
        soap_action: Option<String>,
        xml: String,
        status: StatusCode,
        fault_code: &'static str,
        error_code: &'static str,
    }
    let cases = [
        Case {
            what: "SOAP 1.1, not well-formed",
            content_type: "text/xml",
            soap_action: None,
            xml: envelope(SOAP11, "<Broken>"),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            fault_code: "<faultcode>soap:Client</faultcode>",
            error_code: "IPL000002",
        },
        Case {
            what: "SOAP 1.2, an operation the service does not have",
            content_type: "application/soap+xml",
            soap_action: None,
            xml: envelope(
                SOAP12,
                &format!(r#"<{} xmlns="{EXPORT_NS}"/>"#, ImportOperation::InsertDaginstitution.name()),
            ),
            status: StatusCode::BAD_REQUEST,
            fault_code: "<soap:Value>soap:Sender</soap:Value>",
            error_code: "IPL000003",
        },
        Case {
            what: "an operation in another namespace",
            content_type: "text/xml",
            soap_action: None,
            xml: envelope(SOAP11, &format!(r#"<{hello} xmlns="{IMPORT_NS}"/>"#)),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            fault_code: "<faultcode>soap:Client</faultcode>",
            error_code: "IPL000003",
        },
        Case {
            what: "SOAPAction naming another operation than the Body",
            content_type: "text/xml",
            soap_action: Some(format!("\"{EXPORT_NS}/{lookup}\"")),
            xml: envelope(SOAP11, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#)),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            fault_code: "<faultcode>soap:Client</faultcode>",
            error_code: "IPL000008",
        },
        Case {
            what: "a SOAP 1.2 envelope sent as text/xml",
            content_type: "text/xml",
            soap_action: None,
            xml: envelope(SOAP12, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#)),
            status: StatusCode::BAD_REQUEST,
            fault_code: "<soap:Value>soap:Sender</soap:Value>",
            error_code: "IPL000004",
        },
        Case {
            what: "a media type that is not SOAP",
            content_type: "application/json",
            soap_action: None,
            xml: "{}".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            fault_code: "<faultcode>soap:Client</faultcode>",
            error_code: "IPL000004",
        },
        Case {
            what: "refused by the agreements",
            content_type: "application/soap+xml",
            soap_action: None,
            xml: envelope(SOAP12, &format!(r#"<{refused} xmlns="{EXPORT_NS}"><nummer>G1</nummer></{refused}>"#)),
            status: StatusCode::BAD_REQUEST,
            fault_code: "<soap:Value>soap:Sender</soap:Value>",
            error_code: REFUSAL_CODE,
        },
        Case {
            what: "the service behind is unavailable",
            content_type: "text/xml",
            soap_action: None,
            xml: envelope(
                SOAP11,
                &format!(
                    r#"<{lookup} xmlns="{EXPORT_NS}"><DagInstitutionsNummer>NEDE</DagInstitutionsNummer></{lookup}>"#
                ),
            ),
            // "Nothing done, try again": 503 with Retry-After, also for SOAP 1.1.
            status: StatusCode::SERVICE_UNAVAILABLE,
            fault_code: "<faultcode>soap:Server</faultcode>",
            error_code: "IPL000005",
        },
    ];
    for case in cases {
        let mut headers = vec![("content-type", case.content_type), ("authorization", auth.as_str())];
        if let Some(action) = &case.soap_action {
            headers.push(("soapaction", action));
        }
        let (a, _) = post(EXPORT_PATH, &headers, case.xml).await;
        assert_eq!(a.status, case.status, "{}: {}", case.what, a.body);
        assert!(a.body.contains(case.fault_code), "{}: {}", case.what, a.body);
        assert_eq!(a.error_code(), case.error_code, "{}: {}", case.what, a.body);
        assert!(!a.body.contains("10.0.0.7"), "{}: internal text leaked: {}", case.what, a.body);
        assert!(a.headers.contains_key("x-correlation-id"), "{}", case.what);
        assert_eq!(
            a.headers.contains_key("retry-after"),
            case.status == StatusCode::SERVICE_UNAVAILABLE,
            "{}: Retry-After exactly on 503",
            case.what
        );
    }
}

/// Every answer carries HSTS and nosniff; SOAP answers, refusals included, may not be cached;
/// the public WSDL may.
#[tokio::test]
async fn security_headers() {
    let hello = ExportOperation::HelloWorld.name();
    let xml = envelope(SOAP11, &format!(r#"<{hello} xmlns="{EXPORT_NS}"/>"#));
    let auth = basic(USER, PASSWORD);
    let (ok, _) = post(EXPORT_PATH, &[("content-type", "text/xml"), ("authorization", &auth)], xml.clone()).await;
    let (refused, _) = post(EXPORT_PATH, &[("content-type", "text/xml")], xml).await;
    assert_eq!((ok.status, refused.status), (StatusCode::OK, StatusCode::UNAUTHORIZED));
    for a in [&ok, &refused] {
        assert_eq!(a.headers[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
        assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    }
    let (state, _) = fakes::state().await;
    let req = Request::get(format!("{EXPORT_PATH}?wsdl")).body(Body::empty()).unwrap();
    let wsdl = app(state).oneshot(req).await.unwrap();
    assert_eq!(wsdl.status(), StatusCode::OK);
    assert_eq!(wsdl.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(wsdl.headers().contains_key(header::STRICT_TRANSPORT_SECURITY));
    assert!(!wsdl.headers().contains_key(header::CACHE_CONTROL), "the WSDL is public");
}

/// X-Forwarded-* decide the WSDL's addresses only when a trusted proxy sends them.
#[tokio::test]
async fn forwarded_headers_count_only_from_a_trusted_proxy() {
    let wsdl = |trusted: Vec<std::net::IpAddr>, peer: &str| {
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        async move {
            let (state, _) = fakes::state_with(|c| c.trusted_proxies = trusted).await;
            let mut req = Request::get(format!("{EXPORT_PATH}?wsdl"))
                .header(header::HOST, "gateway.internal:8443")
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-host", "dtr.example.dk")
                .body(Body::empty())
                .unwrap();
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let resp = app(state).oneshot(req).await.unwrap();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    let proxy = "10.1.2.3".parse().unwrap();
    let trusted = wsdl(vec![proxy], "10.1.2.3:40000").await;
    assert!(trusted.contains(&format!(r#"location="https://dtr.example.dk{EXPORT_PATH}""#)), "{trusted}");
    let spoofed = wsdl(vec![proxy], "192.0.2.7:40000").await;
    assert!(spoofed.contains(&format!(r#"location="https://gateway.internal:8443{EXPORT_PATH}""#)), "{spoofed}");
    assert!(!spoofed.contains("dtr.example.dk"), "a client's own X-Forwarded-Host is ignored");
    let none = wsdl(vec![], "10.1.2.3:40000").await;
    assert!(!none.contains("dtr.example.dk"), "no proxy is trusted unless configured");
}

/// The schema a WSDL imports declares a request and a response element for every operation the
/// WSDL lists, in every endpoint.
#[test]
fn every_operation_has_its_elements_in_the_schema() {
    for ep in Endpoint::ALL {
        let xsd = wsdl::xsd(ep);
        for op in ep.service.operations() {
            let name = op.name();
            assert!(xsd.contains(&format!(r#"name="{name}""#)), "{ep:?}: {name}");
            assert!(xsd.contains(&format!(r#"name="{name}Response""#)), "{ep:?}: {name}Response");
        }
    }
}

/// A SOAP 1.1 HelloWorld to the export endpoint as the fake system with `password`.
fn hello(password: &str) -> Request<Body> {
    Request::post(EXPORT_PATH)
        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .header(header::AUTHORIZATION, basic(USER, password))
        .body(Body::from(envelope(SOAP11, &format!(r#"<e:HelloWorld xmlns:e="{EXPORT_NS}"/>"#))))
        .unwrap()
}

/// A locked-out (user, address) pair is refused even with the right password while a success
/// with that password is still remembered (trust finding: the cache was asked first).
#[tokio::test]
async fn lock_out_comes_before_a_remembered_login() {
    let (state, log, _keep) = fakes::remembering_state(|cfg| {
        cfg.lockout = crate::lockout::LockoutPolicy { max_failures: 3, period: std::time::Duration::from_secs(300) };
    })
    .await;
    let app = app(state);
    assert_eq!(app.clone().oneshot(hello(PASSWORD)).await.unwrap().status(), StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(app.clone().oneshot(hello("forkert")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let logins_before = log.lines().iter().filter(|c| c.starts_with("Authenticate")).count();
    let locked = app.clone().oneshot(hello(PASSWORD)).await.unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "the remembered success does not open the lock");
    let logins_after = log.lines().iter().filter(|c| c.starts_with("Authenticate")).count();
    assert_eq!(logins_after, logins_before, "a locked pair is not even asked about");
}

/// When a remembered login runs out, a busy system's connections all miss at once: one
/// Authenticate (two argon2id hashes in the tilslutning service) answers them all, instead of
/// one each stalling every request (seen as a p99 of ~90 ms every 5 s in `dtr bench lookup`).
#[tokio::test]
async fn concurrent_callers_with_one_login_cost_one_authenticate() {
    let (state, log, _keep) = fakes::remembering_state(|_| {}).await;
    let app = app(state);
    let calls: Vec<_> = (0..16).map(|_| tokio::spawn(app.clone().oneshot(hello(PASSWORD)))).collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    let logins = log.lines().iter().filter(|c| c.starts_with("Authenticate")).count();
    assert_eq!(logins, 1, "one check for sixteen concurrent callers: {:?}", log.lines());
}
