//! The SOAP scenario of the foundation slice, run against any running system: embedded or
//! distributed. `units` reads the database directly to prove refused writes changed nothing.

use super::{EXPORT, IMPORT, Soap, VALID_DAGINSTITUTION, xml_text};

pub async fn soap_slice<F, Fut>(soap: &Soap, units: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (i64, i64, i64)>,
{
    // HelloWorld on both services.
    for path in [IMPORT, EXPORT] {
        let a = soap.call(path, "HelloWorld", "").await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(xml_text(&a.body, "HelloWorldResult").unwrap().starts_with("Hello "), "{}", a.body);
        assert!(a.correlation_id.is_some(), "every answer carries a correlation id");
    }

    // Insert through the ImportService; the register issues the number.
    let a = soap.call(IMPORT, "InsertDaginstitution", VALID_DAGINSTITUTION).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(xml_text(&a.body, "status"), Some("OK"), "{}", a.body);
    let nummer = xml_text(&a.body, "nummer").expect("issued number").to_owned();
    assert!(nummer.starts_with('G') && nummer.len() == 6, "{nummer}");
    let before = units().await;

    // ... and read it back through the ExportService, from the database.
    let a = soap
        .call(
            EXPORT,
            "GetDaginstitutionByNummer",
            &format!("<d:DagInstitutionsNummer>{nummer}</d:DagInstitutionsNummer>"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(xml_text(&a.body, "daginstitutionsNummer"), Some(nummer.as_str()));
    assert_eq!(xml_text(&a.body, "daginstitutionsNavn"), Some("Skovbørnehaven Egern &amp; Co"));
    assert_eq!(xml_text(&a.body, "ejerformKode_Tekst"), Some("Kommunal"));
    assert_eq!(xml_text(&a.body, "admKommuneKode_Tekst"), Some("København"));
    assert_eq!(xml_text(&a.body, "aktivitetsstatus"), Some("Aktiv"));
    let a = soap
        .call(EXPORT, "GetDaginstitutionByNummer", "<d:DagInstitutionsNummer>G99998</d:DagInstitutionsNummer>")
        .await;
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("<daginstitutionerExtend></daginstitutionerExtend>"),
        "unknown number: empty list: {}",
        a.body
    );

    // SOAP 1.2 works the same way.
    let env12 = format!(
        r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><d:InsertDaginstitution xmlns:d="urn:dtr:import:v2">{VALID_DAGINSTITUTION}</d:InsertDaginstitution></env:Body></env:Envelope>"#
    );
    let a = soap.post_raw(IMPORT, "application/soap+xml; charset=utf-8", env12.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains(r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">"#));
    assert_eq!(xml_text(&a.body, "status"), Some("OK"));
    let before = (before.0 + 1, before.1, before.2);
    assert_eq!(units().await, before);

    // Wrong or missing credentials: 401 with a Basic challenge, nothing else.
    let a = soap.with_password("forkert").call(IMPORT, "InsertDaginstitution", VALID_DAGINSTITUTION).await;
    assert_eq!(a.status, 401);
    assert!(a.www_authenticate.as_deref().unwrap_or("").starts_with("Basic realm="), "{:?}", a.www_authenticate);
    assert_eq!(units().await, before, "an unauthenticated write changed nothing");

    // Bad input: a clear answer, and nothing changes.
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed XML", "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><d:InsertDaginstitution>".into(), 500, "IPL000002"),
        ("unknown operation", op_env("Bestil", ""), 500, "IPL000003"),
        ("not an integer", op_env("InsertDaginstitution", &VALID_DAGINSTITUTION.replace(">101<", ">abc<")), 500, "IPL000002"),
        ("missing container", op_env("InsertDaginstitution", ""), 500, "IPL000002"),
    ];
    for (what, body, status, code) in cases {
        let a = soap.post_raw(IMPORT, "text/xml; charset=utf-8", body).await;
        assert_eq!(a.status, status, "{what}: {}", a.body);
        assert_eq!(xml_text(&a.body, "ErrorCode"), Some(code), "{what}: {}", a.body);
        assert_eq!(xml_text(&a.body, "faultcode"), Some("soap:Client"), "{what}");
        assert_eq!(xml_text(&a.body, "CorrelationID"), a.correlation_id.as_deref(), "{what}");
        assert_eq!(units().await, before, "{what} changed nothing");
    }
    // SOAP 1.2 envelope announced as 1.1.
    let a = soap.post_raw(IMPORT, "text/xml; charset=utf-8", env12).await;
    assert_eq!(xml_text(&a.body, "ErrorCode"), Some("IPL000004"), "{}", a.body);
    assert_eq!(a.status, 400, "a SOAP 1.2 Sender fault is HTTP 400");
    assert_eq!(units().await, before);

    // Business-rule failures are answered in-band, every one, with stable codes.
    let missing = VALID_DAGINSTITUTION
        .replace("<d:daginstitutionsNavn>Skovbørnehaven Egern &amp; Co</d:daginstitutionsNavn>", "");
    let a =
        soap.call(IMPORT, "InsertDaginstitution", &missing.replace(">1</d:ejerformKode>", ">9</d:ejerformKode>")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(xml_text(&a.body, "status"), Some("FEJL"));
    assert_eq!(super::xml_texts(&a.body, "kode"), vec!["DTR0101", "DTR0104"], "{}", a.body);
    assert_eq!(super::xml_texts(&a.body, "felt"), vec!["daginstitutionsNavn", "ejerformKode"]);
    assert!(xml_text(&a.body, "nummer").is_none());
    assert_eq!(units().await, before, "a refused insert changed nothing");

    // The full extract streams what was written.
    let a = soap.call(EXPORT, "GetAllDagtilbud", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<dagtilbudsRegister><daginstitution>"), "{}", a.body);

    // The WSDL is served, with the address the client used.
    let w = soap.get(&format!("{IMPORT}?wsdl")).await;
    assert_eq!(w.status(), 200);
    let text = w.text().await.unwrap();
    assert!(text.contains(&format!(r#"<soap:address location="{}{IMPORT}"/>"#, soap.base)), "{text}");
    assert!(text.contains(r#"<wsdl:operation name="InsertDaginstitution">"#));
}

fn op_env(op: &str, inner: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><d:{op} xmlns:d="urn:dtr:import:v2">{inner}</d:{op}></soapenv:Body></soapenv:Envelope>"#
    )
}
