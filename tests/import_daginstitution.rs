//! The ImportService's daginstitution operations through SOAP, on SQLite (embedded) and
//! PostgreSQL (distributed): every rule's refusal with its code, the accepted case, and that a
//! refused write changed nothing.

use crate::common;

use std::sync::Arc;

use common::cluster::{self, Running};
use common::{EXPORT, IMPORT, IMPORT_V1, xml_text, xml_texts};
use dtr_registry::model::{Adresse, Aktoer, AnvisningsenhedData};
use dtr_registry::storage::{RegistryStore, no_checks};

fn fields(
    nummer: Option<&str>,
    navn: &str,
    ejerform: i32,
    lovgrundlag: i32,
    kommune: i32,
    cvr: Option<&str>,
) -> String {
    format!(
        "<d:daginstitution>{}<d:daginstitutionsNavn>{navn}</d:daginstitutionsNavn><d:ejerformKode>{ejerform}</d:ejerformKode>\
         <d:lovgrundlagKode>{lovgrundlag}</d:lovgrundlagKode><d:admKommuneKode>{kommune}</d:admKommuneKode>{}</d:daginstitution>",
        nummer.map(|n| format!("<d:daginstitutionsNummer>{n}</d:daginstitutionsNummer>")).unwrap_or_default(),
        cvr.map(|c| format!("<d:ejerCvrNummer>{c}</d:ejerCvrNummer>")).unwrap_or_default(),
    )
}

/// Asserts an ImportSvar: `Ok(number)` or `Err(codes)`.
fn svar(body: &str) -> Result<String, Vec<String>> {
    match xml_text(body, "status") {
        Some("OK") => Ok(xml_text(body, "nummer").unwrap_or_default().to_owned()),
        Some("FEJL") => Err(xml_texts(body, "kode").into_iter().map(str::to_owned).collect()),
        _ => panic!("not an ImportSvar: {body}"),
    }
}

/// (name, aktivitetsstatus, version, nedlagtDato present) as the ExportService shows it.
async fn exported(r: &Running, nummer: &str) -> (String, String, i64, bool) {
    let a = r
        .soap
        .call(
            EXPORT,
            "GetDaginstitutionByNummer",
            &format!("<d:DagInstitutionsNummer>{nummer}</d:DagInstitutionsNummer>"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    (
        xml_text(&a.body, "daginstitutionsNavn").expect("found").to_owned(),
        xml_text(&a.body, "aktivitetsstatus").unwrap().to_owned(),
        xml_text(&a.body, "version").unwrap().parse().unwrap(),
        xml_text(&a.body, "nedlagtDato").is_some(),
    )
}

async fn insert(r: &Running, navn: &str) -> String {
    let a = r.soap.call(IMPORT, "InsertDaginstitution", &fields(None, navn, 1, 1, 101, None)).await;
    svar(&a.body).expect("insert accepted")
}

async fn update(r: &Running, inner: String) -> Result<String, Vec<String>> {
    let a = r.soap.call(IMPORT, "UpdateDaginstitution", &inner).await;
    assert_eq!(a.status, 200, "{}", a.body);
    svar(&a.body)
}

async fn delete(r: &Running, nummer: &str) -> Result<String, Vec<String>> {
    let a = r
        .soap
        .call(IMPORT, "DeleteDaginstitution", &format!("<d:daginstitutionsNummer>{nummer}</d:daginstitutionsNummer>"))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    svar(&a.body)
}

async fn add_child(store: &Arc<dyn RegistryStore>, parent: &str, inst_type3: i32) -> String {
    let data = AnvisningsenhedData {
        daginstitutions_nummer: parent.into(),
        navn: "Testenhed".into(),
        adresse: Adresse {
            vej_navn: "Amagerbrogade".into(),
            hus_nummer: "1".into(),
            post_nummer: "2300".into(),
            post_distrikt: "København S".into(),
            kommune_kode: 101,
            ..Adresse::default()
        },
        inst_type3,
        p_nummer: "1012345678".into(),
        ..AnvisningsenhedData::default()
    };
    let aktoer = Aktoer {
        system: "test".into(),
        organisation: None,
        correlation_id: "child".into(),
        operation: "test".into(),
        message_id: None,
    };
    store.insert_anvisningsenhed(&data, None, &aktoer, &no_checks).await.unwrap().done().unwrap().nummer
}

async fn rules(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let a = insert(&r, "Solstrålen").await;
    assert_eq!(exported(&r, &a).await, ("Solstrålen".into(), "Aktiv".into(), 1, false));

    // Accepted update with the expected version; the version goes up.
    let ok = update(
        &r,
        fields(Some(&a), "Solstrålen og Månen", 1, 1, 101, None) + "<d:forventetVersion>1</d:forventetVersion>",
    )
    .await;
    assert_eq!(ok, Ok(a.clone()));
    assert_eq!(exported(&r, &a).await, ("Solstrålen og Månen".into(), "Aktiv".into(), 2, false));

    // Each refusal: its code, and nothing changed.
    let before = store.count_units().await.unwrap();
    let refusals: Vec<(&str, String, &str)> = vec![
        (
            "stale version",
            fields(Some(&a), "X", 1, 1, 101, None) + "<d:forventetVersion>1</d:forventetVersion>",
            "DTR0902",
        ),
        ("unknown code", fields(Some(&a), "X", 1, 99, 101, None), "DTR0104"),
        ("missing name", fields(Some(&a), "", 1, 1, 101, None), "DTR0101"),
        ("too long name", fields(Some(&a), &"x".repeat(133), 1, 1, 101, None), "DTR0102"),
        ("unknown number", fields(Some("G99990"), "X", 1, 1, 101, None), "DTR0201"),
        ("no number", fields(None, "X", 1, 1, 101, None), "DTR0201"),
        ("private without owner CVR", fields(Some(&a), "X", 3, 4, 101, None), "DTR0101"),
        ("owner CVR failing modulus 11", fields(Some(&a), "X", 3, 4, 101, Some("29189855")), "DTR0103"),
    ];
    for (what, inner, code) in refusals {
        let got = update(&r, inner).await;
        assert_eq!(got, Err(vec![code.to_owned()]), "{what}");
        assert_eq!(
            exported(&r, &a).await,
            ("Solstrålen og Månen".into(), "Aktiv".into(), 2, false),
            "{what} changed nothing"
        );
    }
    let sent_number = r.soap.call(IMPORT, "InsertDaginstitution", &fields(Some("G12345"), "Y", 1, 1, 101, None)).await;
    assert_eq!(svar(&sent_number.body), Err(vec!["DTR0105".to_owned()]), "a caller cannot choose the number");
    assert_eq!(store.count_units().await.unwrap(), before);

    // Rule 10: ownership, legal basis and kommune may change (here: to a private owner).
    let private = update(&r, fields(Some(&a), "Solstrålen Privat", 3, 4, 147, Some("29189854"))).await;
    assert_eq!(private, Ok(a.clone()));
    let back = update(&r, fields(Some(&a), "Solstrålen og Månen", 1, 1, 101, None)).await;
    assert_eq!(back, Ok(a.clone()));

    // Rule 11 (v2): the new (ejerform, lovgrundlag) must fit every active anvisningsenhed.
    let child = add_child(&store, &a, 6010).await;
    let got = update(&r, fields(Some(&a), "Solstrålen og Månen", 1, 5, 101, None)).await;
    assert_eq!(got, Err(vec!["DTR0301".to_owned()]), "lovgrundlag 5 allows only dagpleje, {child} is a vuggestue");
    assert_eq!(exported(&r, &a).await.2, 4, "refused: still version 4");

    // ValidateXmlAgainstSchema runs the same checks and writes nothing.
    let changes_before = store.aendringer_siden(0, 100_000).await.unwrap().len();
    let units_before = store.count_units().await.unwrap();
    let dry = |inner: String| {
        let soap = &r.soap;
        async move {
            let a = soap.call(IMPORT, "ValidateXmlAgainstSchema", &inner).await;
            assert_eq!(a.status, 200, "{}", a.body);
            svar(&a.body)
        }
    };
    let wrap = |op: &str, inner: String| format!("<d:{op}>{inner}</d:{op}>");
    assert_eq!(dry(wrap("InsertDaginstitution", fields(None, "Prøvehuset", 1, 1, 101, None))).await, Ok(String::new()));
    assert_eq!(
        dry(wrap("InsertDaginstitution", fields(Some("G10001"), "", 1, 99, 101, None))).await,
        Err(vec!["DTR0105".to_owned(), "DTR0101".to_owned(), "DTR0104".to_owned()])
    );
    assert_eq!(dry(wrap("UpdateDaginstitution", fields(Some(&a), "Prøve", 1, 1, 101, None))).await, Ok(a.clone()));
    assert_eq!(
        dry(wrap("UpdateDaginstitution", fields(Some(&a), "Prøve", 1, 5, 101, None))).await,
        Err(vec!["DTR0301".to_owned()])
    );
    assert_eq!(
        dry(wrap(
            "UpdateDaginstitution",
            fields(Some(&a), "Prøve", 1, 1, 101, None) + "<d:forventetVersion>1</d:forventetVersion>"
        ))
        .await,
        Err(vec!["DTR0902".to_owned()])
    );
    assert_eq!(
        dry(wrap("DeleteDaginstitution", format!("<d:daginstitutionsNummer>{a}</d:daginstitutionsNummer>"))).await,
        Err(vec!["DTR0203".to_owned()])
    );
    assert_eq!(store.aendringer_siden(0, 100_000).await.unwrap().len(), changes_before, "a dry run writes nothing");
    assert_eq!(store.count_units().await.unwrap(), units_before);
    let unknown = r.soap.call(IMPORT, "ValidateXmlAgainstSchema", "<d:Bestil/>").await;
    assert_eq!(xml_text(&unknown.body, "ErrorCode"), Some("IPL000003"), "{}", unknown.body);

    // Rule 7: no cascading delete.
    assert_eq!(delete(&r, &a).await, Err(vec!["DTR0203".to_owned()]));
    assert_eq!(exported(&r, &a).await.1, "Aktiv");

    // The v1 endpoint serves the same operation without the cross-validation.
    let v1 =
        r.soap.call(IMPORT_V1, "UpdateDaginstitution", &fields(Some(&a), "Solstrålen og Månen", 1, 5, 101, None)).await;
    assert_eq!(v1.status, 200, "{}", v1.body);
    assert!(v1.body.contains(r#"<UpdateDaginstitutionResponse xmlns="urn:dtr:import:v1">"#), "{}", v1.body);
    assert_eq!(svar(&v1.body), Ok(a.clone()));
    assert_eq!(exported(&r, &a).await.2, 5);
    let wsdl = r.soap.get(&format!("{IMPORT_V1}?wsdl")).await.text().await.unwrap();
    assert!(wsdl.contains(r#"targetNamespace="urn:dtr:import:v1""#));
    assert!(wsdl.contains(&format!(r#"location="{}{IMPORT_V1}""#, r.soap.base)));

    // Rule 8: delete means close; the unit stays, is exported as Nedlagt, and is frozen.
    let b = insert(&r, "Lukkehuset").await;
    assert_eq!(delete(&r, &b).await, Ok(b.clone()));
    assert_eq!(exported(&r, &b).await, ("Lukkehuset".into(), "Nedlagt".into(), 2, true));
    assert_eq!(update(&r, fields(Some(&b), "Genåbnet", 1, 1, 101, None)).await, Err(vec!["DTR0202".to_owned()]));
    assert_eq!(delete(&r, &b).await, Err(vec!["DTR0202".to_owned()]));
    assert_eq!(delete(&r, "G99991").await, Err(vec!["DTR0201".to_owned()]));
    assert_eq!(exported(&r, &b).await, ("Lukkehuset".into(), "Nedlagt".into(), 2, true));

    // Rule 4: not checked on purpose — a second daginstitution with the same name is accepted.
    let twin = insert(&r, "Lukkehuset").await;
    assert_ne!(twin, b);

    // Rule 12: a closed number is never issued again.
    let c = insert(&r, "Efterfølgeren").await;
    assert!(c > b, "{c} after {b}");

    // Every accepted write is in the change sequence with its action.
    let changes = store.aendringer_siden(0, 10_000).await.unwrap();
    let of =
        |n: &str| changes.iter().filter(|c| c.nummer == n).map(|c| (c.version, c.handling.clone())).collect::<Vec<_>>();
    assert_eq!(of(&b), vec![(1, "oprettet".to_owned()), (2, "nedlagt".to_owned())]);
    assert_eq!(of(&a).len(), 5, "created and changed four times; the refusals left nothing");
}

/// Many parallel updates of one unit: every acknowledged update is in the history, none lost.
async fn concurrent_updates(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let n = insert(&r, "Myretuen").await;
    let r = Arc::new(r);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let r = r.clone();
        let n = n.clone();
        tasks.push(tokio::spawn(async move {
            update(&r, fields(Some(&n), &format!("Myretuen {i}"), 1, 1, 101, None)).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(n.clone()), "every parallel update is acknowledged");
    }
    let versions: Vec<i64> =
        store.aendringer_siden(0, 10_000).await.unwrap().iter().filter(|c| c.nummer == n).map(|c| c.version).collect();
    assert_eq!(versions, (1..=13).collect::<Vec<_>>(), "one version per acknowledged write, in order");
    let (navn, status, version, _) = exported(&r, &n).await;
    assert_eq!((status.as_str(), version), ("Aktiv", 13));
    assert!(navn.starts_with("Myretuen "), "{navn}");
}

#[tokio::test]
async fn daginstitution_rules_sqlite() {
    rules(cluster::embedded().await).await;
}

#[tokio::test]
async fn daginstitution_rules_postgres() {
    rules(cluster::distributed().await).await;
}

#[tokio::test]
async fn concurrent_updates_sqlite() {
    concurrent_updates(cluster::embedded().await).await;
}

#[tokio::test]
async fn concurrent_updates_postgres() {
    concurrent_updates(cluster::distributed().await).await;
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Runs `xmllint --noout --schema xsd doc`; true when the document is valid.
fn xmllint_valid(xsd: &std::path::Path, doc: &std::path::Path) -> bool {
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(doc)
        .output()
        .expect("xmllint is needed (Debian: libxml2-utils); scripts/test.sh installs it");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("failed to compile"), "the schema itself must compile: {err}");
    out.status.success()
}

/// GetXMLSchema answers an XSD that compiles, that the payloads the service accepts validate
/// against, and that rejects a payload the service refuses as a schema error.
#[tokio::test]
async fn get_xml_schema_validates_accepted_payloads() {
    let r = cluster::embedded().await;
    let dir = common::TempDir::new();
    for (path, ns) in [(IMPORT, "urn:dtr:import:v2"), (IMPORT_V1, "urn:dtr:import:v1")] {
        let a = r.soap.call(path, "GetXMLSchema", "").await;
        assert_eq!(a.status, 200, "{}", a.body);
        let xsd = unescape(xml_text(&a.body, "GetXMLSchemaResult").expect("schema text"));
        assert!(xsd.contains(&format!(r#"targetNamespace="{ns}""#)), "{xsd}");
        let xsd_file = dir.path().join("import.xsd");
        std::fs::write(&xsd_file, &xsd).unwrap();

        let payloads = [
            ("InsertDaginstitution", fields(None, "Skovbørnehaven Egern &amp; Co", 1, 1, 101, None), true),
            ("InsertDaginstitution", fields(None, "Privat", 3, 4, 101, Some("29189854")), true),
            (
                "UpdateDaginstitution",
                fields(Some("G30000"), "Nyt navn", 2, 2, 147, None) + "<d:forventetVersion>3</d:forventetVersion>",
                true,
            ),
            ("DeleteDaginstitution", "<d:daginstitutionsNummer>G30000</d:daginstitutionsNummer>".to_owned(), true),
            (
                "ValidateXmlAgainstSchema",
                "<d:DeleteDaginstitution><d:daginstitutionsNummer>G30000</d:daginstitutionsNummer></d:DeleteDaginstitution>"
                    .to_owned(),
                true,
            ),
            ("HelloWorld", String::new(), true),
            (
                "InsertAnvisningsEnhed",
                "<d:anvisningsenhed><d:daginstitutionsNummer>G30000</d:daginstitutionsNummer><d:EnhedsNavn>E</d:EnhedsNavn>\
                 <d:Adresse><d:darAdresseId>0a3f50a0-73b1-32b8-e044-0003ba298018</d:darAdresseId></d:Adresse>\
                 <d:InstType3>6011</d:InstType3><d:PNummer>1012345678</d:PNummer></d:anvisningsenhed>"
                    .to_owned(),
                true,
            ),
            (
                "InsertAnvisningsEnhed",
                "<d:anvisningsenhed><d:daginstitutionsNummer>G30000</d:daginstitutionsNummer><d:EnhedsNavn>E</d:EnhedsNavn>\
                 <d:Adresse/><d:InstType3>6011</d:InstType3><d:PNummer>123</d:PNummer></d:anvisningsenhed>"
                    .to_owned(),
                false,
            ),
            // Not a number where the schema wants one: the gateway refuses it too (IPL000002).
            ("InsertDaginstitution", fields(None, "X", 1, 1, 101, None).replace(">101<", ">abc<"), false),
            ("InsertDaginstitution", fields(None, &"x".repeat(133), 1, 1, 101, None), false),
        ];
        for (op, inner, valid) in payloads {
            let doc = format!(r#"<d:{op} xmlns:d="{ns}">{inner}</d:{op}>"#);
            let doc_file = dir.path().join("payload.xml");
            std::fs::write(&doc_file, &doc).unwrap();
            assert_eq!(xmllint_valid(&xsd_file, &doc_file), valid, "{path} {op}: {doc}");
            if valid && op == "InsertDaginstitution" {
                let a = r.soap.call(path, op, &inner).await;
                assert_eq!(svar(&a.body).map(|_| ()), Ok(()), "the service accepts what the schema accepts");
            }
        }
    }
    // The import WSDLs describe every ImportService operation (docs/registry.md §4).
    for path in [IMPORT, IMPORT_V1] {
        let text = r.soap.get(&format!("{path}?wsdl")).await.text().await.unwrap();
        for op in [
            "HelloWorld",
            "GetXMLSchema",
            "ValidateXmlAgainstSchema",
            "InsertDaginstitution",
            "UpdateDaginstitution",
            "DeleteDaginstitution",
            "InsertAnvisningsEnhed",
            "UpdateAnvisningsEnhed",
            "DeleteAnvisningsEnhed",
            "InsertAlternativAdresse",
            "UpdateAlternativAdresse",
            "DeleteAlternativAdresse",
            "MoveAnvisningsEnhed",
            "MoveAlternativAdresse",
        ] {
            assert!(text.contains(&format!(r#"<wsdl:operation name="{op}">"#)), "{path}?wsdl lacks {op}");
        }
    }

    // The WSDLs are well-formed XML.
    for path in [IMPORT, EXPORT, IMPORT_V1, common::EXPORT_V1] {
        let text = r.soap.get(&format!("{path}?wsdl")).await.text().await.unwrap();
        let f = dir.path().join("service.wsdl");
        std::fs::write(&f, text).unwrap();
        let ok = std::process::Command::new("xmllint").arg("--noout").arg(&f).status().unwrap().success();
        assert!(ok, "{path}?wsdl is well-formed");
    }
}
