//! ExportService full extracts, name search and incremental sync, on SQLite (embedded) and
//! PostgreSQL (distributed), through SOAP and gRPC:
//! - the nested `dagtilbudsRegister` and the three flat extracts, streamed in a chunked body,
//!   schema-valid, consistent with each other and with the database;
//! - name search ignoring case (Unicode: "æble" finds "Æblehaven"), wildcards taken literally;
//! - every ExportService operation through gRPC;
//! - a consumer that replays `GetAendringerSiden` onto an empty copy ends with exactly what a
//!   full extract holds.

use crate::common;

use std::collections::BTreeMap;

use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::export::{
    AendringerRequest, CvrnummerRequest, GetAllRequest, HelloWorldRequest, KodetabelRequest, KommuneRequest,
    NavnRequest, NummerRequest, PnummerRequest,
};
use dtr_proto::registry::aendring::Tilstand;
use dtr_proto::registry::{AlternativAdresseExtend, AnvisningsenhedExtend, DaginstitutionExtend};

use common::cluster::{self, Running};
use common::payload;
use common::{EXPORT, export_schema_valid, import_ok, xml_text, xml_texts};

/// What the test creates: two daginstitutioner in København, units, alternative addresses.
struct Fixture {
    d1: String,
    d2: String,
    a1: String,
    a2: String,
    l1: String,
    l2: String,
}

fn daginstitution(navn: &str) -> String {
    payload::daginstitution(payload::KOEBENHAVN, navn)
}

fn enhed(parent: &str, navn: &str, husnr: &str, p: &str) -> String {
    payload::enhed(payload::KOEBENHAVN, parent, navn, husnr, p)
}

fn alternativ(parent: &str, navn: &str, husnr: &str) -> String {
    payload::alternativ(payload::KOEBENHAVN, parent, navn, husnr)
}

async fn fixture(r: &Running) -> Fixture {
    let s = &r.soap;
    let d1 = import_ok(s, "InsertDaginstitution", &daginstitution("Æblehaven Udtræk")).await;
    let d2 = import_ok(s, "InsertDaginstitution", &daginstitution("Pærehaven Udtræk")).await;
    let a1 = import_ok(s, "InsertAnvisningsEnhed", &enhed(&d1, "Æblegården Vuggestue", "10", "1012345678")).await;
    let a2 = import_ok(s, "InsertAnvisningsEnhed", &enhed(&d1, "Æblegården Børnehave", "11", "1012345679")).await;
    let l1 = import_ok(s, "InsertAlternativAdresse", &alternativ(&a1, "Æbleskoven", "10B")).await;
    let l2 = import_ok(s, "InsertAlternativAdresse", &alternativ(&a1, "Frugthaven 100%_", "20B")).await;
    import_ok(s, "DeleteAnvisningsEnhed", &format!("<d:EnhedsNummer>{a2}</d:EnhedsNummer>")).await;
    Fixture { d1, d2, a1, a2, l1, l2 }
}

async fn soap_export(r: &Running, op: &str, inner: &str) -> String {
    let a = r.soap.call(EXPORT, op, inner).await;
    assert_eq!(a.status, 200, "{op}: {}", a.body);
    export_schema_valid(&a.body, op);
    a.body
}

/// The text between the first `<{start}>` and the following `</{end}>`.
fn between<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
    let i = xml.find(start).unwrap_or_else(|| panic!("{start} in {xml}"));
    let j = xml[i..].find(end).unwrap_or_else(|| panic!("{end} after {start}")) + i;
    &xml[i..j]
}

async fn soap_extracts(r: &Running, f: &Fixture) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let (n_d, n_a, n_l) = store.count_units().await.unwrap();

    // One dagtilbud, nested: the daginstitution, its units (the closed one too), each unit's
    // alternative addresses inside it.
    let one = soap_export(
        r,
        "GetDagtilbudByDagInstitutionsNummer",
        &format!("<d:DagInstitutionsNummer>{}</d:DagInstitutionsNummer>", f.d1),
    )
    .await;
    assert_eq!(xml_texts(&one, "daginstitutionsNavn"), vec!["Æblehaven Udtræk"]);
    assert_eq!(one.matches("<anvisningsenhed>").count(), 2, "{one}");
    let unit1 = between(&one, &format!("<EnhedsNummer>{}</EnhedsNummer>", f.a1), "</anvisningsenhed>");
    assert_eq!(xml_texts(unit1, "alternativAdresseNummer"), vec![f.l1.as_str(), f.l2.as_str()]);
    let unit2 = between(&one, &format!("<EnhedsNummer>{}</EnhedsNummer>", f.a2), "</anvisningsenhed>");
    assert_eq!(xml_text(unit2, "aktivitetsstatus"), Some("Nedlagt"), "closed units are exported");
    assert_eq!(xml_text(&one, "admKommuneKode_Tekst"), Some("København"));
    assert_eq!(xml_text(unit1, "instType3_Tekst"), Some("Børnehave (3-5 år)"));

    // The whole register, streamed in a chunked body; the same units as the flat extracts and
    // the database.
    let all = r.soap.call(EXPORT, "GetAllDagtilbud", "").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.transfer_encoding.as_deref(), Some("chunked"), "a full extract is streamed");
    export_schema_valid(&all.body, "GetAllDagtilbud");
    assert_eq!(all.body.matches("<daginstitution>").count() as i64, n_d);
    assert_eq!(all.body.matches("<anvisningsenhed>").count() as i64, n_a);
    assert_eq!(all.body.matches("<alternativAdresse>").count() as i64, n_l);
    assert!(all.body.contains(unit1), "the nested extract holds the same unit");
    let flat_d = soap_export(r, "GetAllDaginstitutioner", "").await;
    let flat_a = soap_export(r, "GetAllAnvisningsEnheder", "").await;
    let flat_l = soap_export(r, "GetAllAlternativAdresser", "").await;
    assert_eq!(flat_d.matches("<daginstitution>").count() as i64, n_d);
    assert_eq!(flat_a.matches("<anvisningsenhed>").count() as i64, n_a);
    assert_eq!(flat_l.matches("<alternativAdresse>").count() as i64, n_l);
    let numbers = xml_texts(&flat_d, "daginstitutionsNummer");
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "ordered by number");

    // By administrative kommune: only that kommune's, all of them.
    let kbh = soap_export(r, "GetDagtilbudByAdmKommuneNummer", "<d:AdmkommuneNummer>101</d:AdmkommuneNummer>").await;
    let kommuner = xml_texts(&kbh, "admKommuneKode");
    assert!(kommuner.iter().all(|k| *k == "101"), "{kommuner:?}");
    let in_kbh = flat_d.split("</daginstitution>").filter(|d| d.contains("<admKommuneKode>101<")).count();
    assert_eq!(kommuner.len(), in_kbh);
    let kbh_numbers = xml_texts(&kbh, "daginstitutionsNummer");
    assert!(kbh_numbers.contains(&f.d1.as_str()) && kbh_numbers.contains(&f.d2.as_str()));

    // Nothing there: an empty register element, not a fault.
    for (op, inner) in [
        ("GetDagtilbudByAdmKommuneNummer", "<d:AdmkommuneNummer>999</d:AdmkommuneNummer>"),
        ("GetDagtilbudByDagInstitutionsNummer", "<d:DagInstitutionsNummer>G99999</d:DagInstitutionsNummer>"),
        ("GetDagtilbudByDagInstitutionsNummer", "<d:DagInstitutionsNummer>abc</d:DagInstitutionsNummer>"),
    ] {
        let body = soap_export(r, op, inner).await;
        assert!(body.contains("<dagtilbudsRegister></dagtilbudsRegister>"), "{op} {inner}: {body}");
    }
    let bad =
        r.soap.call(EXPORT, "GetDagtilbudByAdmKommuneNummer", "<d:AdmkommuneNummer>abc</d:AdmkommuneNummer>").await;
    assert_eq!(xml_text(&bad.body, "ErrorCode"), Some("IPL000002"), "{}", bad.body);

    // Name search: substring, any case, Unicode letters folded; % and _ are plain characters.
    let navn = |op: &'static str, part: &'static str| async move {
        soap_export(r, op, &format!("<d:partOfName>{part}</d:partOfName>")).await
    };
    let found = navn("GetDaginstitutionByNavn", "æblehaven").await;
    assert_eq!(xml_texts(&found, "daginstitutionsNummer"), vec![f.d1.as_str()]);
    let found = navn("GetDaginstitutionByNavn", "HAVEN UDTRÆK").await;
    assert_eq!(xml_texts(&found, "daginstitutionsNummer"), vec![f.d1.as_str(), f.d2.as_str()]);
    let found = navn("GetAnvisningsEnhederByNavn", "ÆBLEGÅRDEN").await;
    assert_eq!(xml_texts(&found, "EnhedsNummer"), vec![f.a1.as_str(), f.a2.as_str()]);
    let found = navn("GetAlternativAdresserByNavn", "æbleskov").await;
    assert_eq!(xml_texts(&found, "alternativAdresseNummer"), vec![f.l1.as_str()]);
    let found = navn("GetAlternativAdresserByNavn", "100%_").await;
    assert_eq!(xml_texts(&found, "alternativAdresseNummer"), vec![f.l2.as_str()]);
    for (op, part) in [
        ("GetDaginstitutionByNavn", "%"),
        ("GetDaginstitutionByNavn", ""),
        ("GetAnvisningsEnhederByNavn", "_"),
        ("GetAlternativAdresserByNavn", "findes ikke"),
    ] {
        let body = navn(op, part).await;
        let empty = ["daginstitutionerExtend", "anvisningenhederExtend", "alternativadresserExtend"]
            .iter()
            .any(|c| body.contains(&format!("<{c}></{c}>")));
        assert!(empty, "{op} {part:?}: {body}");
    }
}

async fn grpc_client(r: &Running) -> ExportServiceClient<dtr_trust::SignedChannel> {
    // A reader over gRPC, as the admin console reads (mutual TLS, signed calls).
    let channel = r.part(dtr_trust::Part::Admin).connect(&r.export_url, dtr_trust::Part::Export).await;
    ExportServiceClient::new(channel.expect("export gRPC"))
}

async fn collect<T>(s: tonic::Response<tonic::Streaming<T>>) -> Vec<T> {
    let mut s = s.into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.message().await.expect("stream item") {
        out.push(m);
    }
    out
}

/// Every ExportService operation through gRPC.
async fn grpc_operations(r: &Running, f: &Fixture) {
    let mut c = grpc_client(r).await;
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let (n_d, n_a, n_l) = store.count_units().await.unwrap();
    let nr = |n: &str| NummerRequest { nummer: n.to_owned() };

    assert!(c.hello_world(HelloWorldRequest {}).await.unwrap().into_inner().message.starts_with("Hello "));

    let all = collect(c.get_all_dagtilbud(GetAllRequest {}).await.unwrap()).await;
    assert_eq!(all.len() as i64, n_d);
    assert_eq!(all.iter().map(|d| d.anvisningsenheder.len() as i64).sum::<i64>(), n_a);
    let one = collect(c.get_dagtilbud_by_dag_institutions_nummer(nr(&f.d1)).await.unwrap()).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].anvisningsenheder.len(), 2);
    assert_eq!(one[0].anvisningsenheder[0].alternative_adresser.len(), 2);
    assert!(all.contains(&one[0]));
    let none =
        collect(c.get_dagtilbud_by_adm_kommune_nummer(KommuneRequest { adm_kommune_nummer: 999 }).await.unwrap());
    assert!(none.await.is_empty());
    let kbh = collect(c.get_dagtilbud_by_adm_kommune_nummer(KommuneRequest { adm_kommune_nummer: 101 }).await.unwrap());
    assert!(kbh.await.iter().any(|d| d == &one[0]));

    assert_eq!(collect(c.get_all_daginstitutioner(GetAllRequest {}).await.unwrap()).await.len() as i64, n_d);
    assert_eq!(collect(c.get_all_anvisnings_enheder(GetAllRequest {}).await.unwrap()).await.len() as i64, n_a);
    assert_eq!(collect(c.get_all_alternativ_adresser(GetAllRequest {}).await.unwrap()).await.len() as i64, n_l);

    let d = c.get_daginstitution_by_nummer(nr(&f.d1)).await.unwrap().into_inner().daginstitutioner;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].adm_kommune_kode_tekst, "København");
    assert!(c.get_daginstitution_by_nummer(nr("G99999")).await.unwrap().into_inner().daginstitutioner.is_empty());
    let by_navn = |p: &str| NavnRequest { part_of_name: p.to_owned() };
    let d = c.get_daginstitution_by_navn(by_navn("pærehaven")).await.unwrap().into_inner().daginstitutioner;
    assert_eq!(
        d.iter().map(|d| d.daginstitution.as_ref().unwrap().daginstitutions_nummer.as_str()).collect::<Vec<_>>(),
        vec![f.d2.as_str()]
    );

    let enheder = |r: tonic::Response<dtr_proto::export::AnvisningsenhederExtend>| -> Vec<String> {
        r.into_inner().anvisningsenheder.into_iter().map(|a| a.anvisningsenhed.unwrap().enheds_nummer).collect()
    };
    assert_eq!(enheder(c.get_anvisnings_enheder_by_nummer(nr(&f.a1)).await.unwrap()), vec![f.a1.clone()]);
    let by_p = c.get_anvisnings_enheder_by_pnummer(PnummerRequest { p_nummer: "1012345679".into() }).await.unwrap();
    assert!(enheder(by_p).contains(&f.a2));
    let by_cvr = c.get_anvisnings_enheder_by_cvrnummer(CvrnummerRequest { cvr_nummer: "64942212".into() }).await;
    assert!(enheder(by_cvr.unwrap()).contains(&f.a1));
    let by_navn_a = c.get_anvisnings_enheder_by_navn(by_navn("vuggestue")).await.unwrap();
    assert!(enheder(by_navn_a).contains(&f.a1));
    let by_parent = c.get_anvisnings_enheder_by_daginstitutionsnummer(nr(&f.d1)).await.unwrap();
    assert_eq!(enheder(by_parent), vec![f.a1.clone(), f.a2.clone()]);
    assert!(enheder(c.get_anvisnings_enheder_by_nummer(nr("G99999")).await.unwrap()).is_empty());

    let adresser = |r: tonic::Response<dtr_proto::export::AlternativAdresserExtend>| -> Vec<String> {
        r.into_inner()
            .alternative_adresser
            .into_iter()
            .map(|a| a.alternativ_adresse.unwrap().alternativ_adresse_nummer)
            .collect()
    };
    assert_eq!(adresser(c.get_alternativ_adresser_by_nummer(nr(&f.l1)).await.unwrap()), vec![f.l1.clone()]);
    let by_parent = c.get_alternativ_adresser_by_anvisningsenhedsnummer(nr(&f.a1)).await.unwrap();
    assert_eq!(adresser(by_parent), vec![f.l1.clone(), f.l2.clone()]);
    let by_cvr = c.get_alternativ_adresser_by_cvrnummer(CvrnummerRequest { cvr_nummer: "64942212".into() }).await;
    assert!(adresser(by_cvr.unwrap()).contains(&f.l1));
    let by_p = c.get_alternativ_adresser_by_pnummer(PnummerRequest { p_nummer: "1012345678".into() }).await.unwrap();
    assert!(adresser(by_p).is_empty(), "these addresses have no P-number of their own");
    assert_eq!(adresser(c.get_alternativ_adresser_by_navn(by_navn("FRUGT")).await.unwrap()), vec![f.l2.clone()]);

    let k = c.get_kodetabel(KodetabelRequest { navn: "kommuner".into() }).await.unwrap().into_inner();
    assert_eq!(k.koder.len(), 98);
    let unknown = c.get_kodetabel(KodetabelRequest { navn: "farver".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        c.get_all_kodetabeller(GetAllRequest {}).await.unwrap().into_inner().kodetabeller.len(),
        5,
        "with the matrix"
    );

    let page = c.get_aendringer_siden(AendringerRequest { sekvensnummer: 0, max_antal: 3 }).await.unwrap().into_inner();
    assert_eq!(page.aendringer.len(), 3);
    assert!(page.flere);
    assert_eq!(page.naeste_sekvensnummer, page.aendringer[2].sekvensnummer);
    let hist = c.get_historik(nr(&f.a2)).await.unwrap().into_inner().versioner;
    assert_eq!(hist.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
}

/// A consumer's copy: unit → its latest exported state.
#[derive(Debug, Default, PartialEq)]
struct Copy {
    daginstitutioner: BTreeMap<String, DaginstitutionExtend>,
    anvisningsenheder: BTreeMap<String, AnvisningsenhedExtend>,
    alternative_adresser: BTreeMap<String, AlternativAdresseExtend>,
}

/// Applies every change after `from` to `copy` and returns where to ask from next time.
async fn sync(c: &mut ExportServiceClient<dtr_trust::SignedChannel>, copy: &mut Copy, mut from: i64) -> i64 {
    loop {
        let page = c.get_aendringer_siden(AendringerRequest { sekvensnummer: from, max_antal: 4 }).await.unwrap();
        let page = page.into_inner();
        for a in page.aendringer {
            assert!(a.sekvensnummer > from, "in order");
            from = a.sekvensnummer;
            match a.tilstand.expect("state") {
                Tilstand::Daginstitution(d) => copy.daginstitutioner.insert(a.nummer, d).map(|_| ()),
                Tilstand::Anvisningsenhed(u) => copy.anvisningsenheder.insert(a.nummer, u).map(|_| ()),
                Tilstand::AlternativAdresse(l) => copy.alternative_adresser.insert(a.nummer, l).map(|_| ()),
            };
        }
        assert_eq!(page.naeste_sekvensnummer, from);
        if !page.flere {
            return from;
        }
    }
}

async fn full_extract(c: &mut ExportServiceClient<dtr_trust::SignedChannel>) -> Copy {
    let nummer_d = |d: &DaginstitutionExtend| d.daginstitution.as_ref().unwrap().daginstitutions_nummer.clone();
    let nummer_a = |a: &AnvisningsenhedExtend| a.anvisningsenhed.as_ref().unwrap().enheds_nummer.clone();
    let nummer_l =
        |l: &AlternativAdresseExtend| l.alternativ_adresse.as_ref().unwrap().alternativ_adresse_nummer.clone();
    Copy {
        daginstitutioner: collect(c.get_all_daginstitutioner(GetAllRequest {}).await.unwrap())
            .await
            .into_iter()
            .map(|d| (nummer_d(&d), d))
            .collect(),
        anvisningsenheder: collect(c.get_all_anvisnings_enheder(GetAllRequest {}).await.unwrap())
            .await
            .into_iter()
            .map(|a| (nummer_a(&a), a))
            .collect(),
        alternative_adresser: collect(c.get_all_alternativ_adresser(GetAllRequest {}).await.unwrap())
            .await
            .into_iter()
            .map(|l| (nummer_l(&l), l))
            .collect(),
    }
}

/// Sync from zero, more writes of every kind, sync again from where it stopped: the copy equals
/// a full extract, field for field (versions and timestamps included).
async fn sync_replay(r: &Running, f: &Fixture) {
    let mut c = grpc_client(r).await;
    let mut copy = Copy::default();
    let from = sync(&mut c, &mut copy, 0).await;
    assert_eq!(copy, full_extract(&mut c).await, "after the first sync");

    let s = &r.soap;
    let renamed = daginstitution("Æblehaven Omdøbt").replace(
        "<d:daginstitutionsNavn>",
        &format!("<d:daginstitutionsNummer>{}</d:daginstitutionsNummer><d:daginstitutionsNavn>", f.d1),
    );
    import_ok(s, "UpdateDaginstitution", &renamed).await;
    let a3 = import_ok(s, "InsertAnvisningsEnhed", &enhed(&f.d2, "Pæregården", "20", "1012345678")).await;
    import_ok(
        s,
        "MoveAnvisningsEnhed",
        &format!(
            "<d:EnhedsNummer>{}</d:EnhedsNummer><d:tilDaginstitutionsNummer>{}</d:tilDaginstitutionsNummer>",
            f.a1, f.d2
        ),
    )
    .await;
    import_ok(
        s,
        "MoveAlternativAdresse",
        &format!(
            "<d:alternativAdresseNummer>{}</d:alternativAdresseNummer><d:tilEnhedsNummer>{a3}</d:tilEnhedsNummer>",
            f.l1
        ),
    )
    .await;
    import_ok(
        s,
        "DeleteAlternativAdresse",
        &format!("<d:alternativAdresseNummer>{}</d:alternativAdresseNummer>", f.l2),
    )
    .await;

    let end = sync(&mut c, &mut copy, from).await;
    assert!(end > from);
    let extract = full_extract(&mut c).await;
    assert_eq!(copy, extract, "the replayed copy equals a full extract");
    assert_eq!(
        extract.daginstitutioner[&f.d1].daginstitution.as_ref().unwrap().daginstitutions_navn,
        "Æblehaven Omdøbt"
    );
    assert_eq!(extract.anvisningsenheder[&f.a1].anvisningsenhed.as_ref().unwrap().daginstitutions_nummer, f.d2);
    assert_eq!(sync(&mut c, &mut copy, end).await, end, "nothing new");
}

/// The public CSV files: no login, BOM, `;`, header row, a row per unit, quoting where needed.
async fn csv_files(r: &Running, f: &Fixture) {
    // A name a spreadsheet would run as a formula: the public files must show it as text.
    let formula = r#"=HYPERLINK("http://evil.example/x","Klik")"#;
    let d_formula =
        import_ok(&r.soap, "InsertDaginstitution", &payload::daginstitution(payload::KOEBENHAVN, formula)).await;
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let (n_d, n_a, n_l) = store.count_units().await.unwrap();
    let fetch = |file: &'static str| async move {
        let resp = r.soap.get(&format!("/csv/{file}")).await; // no credentials sent
        assert_eq!(resp.status(), 200, "{file}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, "text/csv; charset=utf-8");
        let bytes = resp.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{file} starts with a BOM");
        let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
        let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert!(rows.iter().all(|row| row.len() == header.len()), "{file}: every row has every column");
        (header, rows)
    };
    let col = |header: &[String], name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}"));

    let (h, rows) = fetch("daginstitution.csv").await;
    assert_eq!(&h[..4], ["daginstitutionsNummer", "daginstitutionsNavn", "ejerformKode", "ejerformKode_Tekst"]);
    assert_eq!(rows.len() as i64, n_d);
    let d1 = rows.iter().find(|row| row[0] == f.d1).expect("D1");
    assert_eq!(d1[col(&h, "daginstitutionsNavn")], "Æblehaven Udtræk");
    assert_eq!(d1[col(&h, "admKommuneKode_Tekst")], "København");
    assert_eq!(d1[col(&h, "aktivitetsstatus")], "Aktiv");
    let neutralised = rows.iter().find(|row| row[0] == d_formula).expect("the formula-named institution");
    assert_eq!(neutralised[col(&h, "daginstitutionsNavn")], format!("'{formula}"), "shown as text, not run");

    let (h, rows) = fetch("anvisningsenhed.csv").await;
    assert_eq!(&h[..3], ["anvisningsenhedsNummer", "daginstitutionsNummer", "anvisningsenhedsNavn"]);
    assert!(h.contains(&"byNavn".to_owned()) && !h.contains(&"postDistrikt".to_owned()), "{h:?}");
    assert_eq!(rows.len() as i64, n_a);
    assert!(h.contains(&"instType3_Tekst".to_owned()) && h.contains(&"kommuneKode_Tekst".to_owned()), "{h:?}");
    let a2 = rows.iter().find(|row| row[0] == f.a2).expect("A2");
    assert_eq!(a2[col(&h, "aktivitetsstatus")], "Nedlagt", "closed units are in the public export");
    assert!(!a2[col(&h, "nedlagtDato")].is_empty());

    let (h, rows) = fetch("alternativadresse.csv").await;
    assert_eq!(&h[..2], ["alternativAdresseNummer", "anvisningsenhedsNummer"]);
    assert_eq!(rows.len() as i64, n_l);
    let l2 = rows.iter().find(|row| row[0] == f.l2).expect("L2");
    assert_eq!(l2[col(&h, "alternativAdresseNavn")], "Frugthaven 100%_");

    // The combined file: a row per unit of every level, the level named.
    let (h, rows) = fetch("samlet.csv").await;
    let of_type = |t: &str| rows.iter().filter(|row| row[col(&h, "dagtilbudsType")] == t).count() as i64;
    assert_eq!(
        (of_type("daginstitution"), of_type("anvisningsenhed"), of_type("alternativAdresse")),
        (n_d, n_a, n_l),
        "one row per unit of every level"
    );
    assert_eq!(rows.len() as i64, n_d + n_a + n_l);
    let a1 = rows.iter().find(|row| row[col(&h, "anvisningsenhedsNummer")] == f.a1 && row[0] == "anvisningsenhed");
    let a1 = a1.expect("A1");
    assert_eq!(a1[col(&h, "daginstitutionsNummer")], f.d1);
    assert_eq!(a1[col(&h, "admKommuneKode_Tekst")], "København", "the daginstitution's fields on its unit's row");
    let under_a1 =
        rows.iter().filter(|row| row[0] == "alternativAdresse" && row[col(&h, "anvisningsenhedsNummer")] == f.a1);
    assert_eq!(under_a1.count(), 2, "A1's two alternative addresses, each a row");
    assert!(rows.iter().any(|row| row[0] == "daginstitution" && row[col(&h, "daginstitutionsNummer")] == f.d2));

    // As public code reads the real file: strip the BOM, split on `;`, keep the active
    // anvisningsenheder, parse the coordinates with a decimal comma — the same units at the same
    // places as the SOAP extract.
    let raw = r.soap.get("/csv/samlet.csv").await.text().await.unwrap();
    let mut lines = raw.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (typ, status, nummer, bredde, laengde) =
        (at("dagtilbudsType"), at("aktivitetsstatus"), at("anvisningsenhedsNummer"), at("geoBredde"), at("geoLaengde"));
    for name in [
        "dagtilbudsNavn",
        "cvrNummer",
        "kommuneKode_Tekst",
        "admKommuneKode_Tekst",
        "vejNavn",
        "husNummer",
        "postNummer",
        "byNavn",
        "supplerendeBynavn",
        "email",
        "telefonNummer",
        "instType3",
        "instType3_Tekst",
        "ejerformKode",
    ] {
        at(name);
    }
    let grad = |s: &str| s.replace(',', ".").parse::<f64>().unwrap_or_else(|_| panic!("a coordinate: {s:?}"));
    let mut from_csv: Vec<(String, f64, f64)> = lines
        .map(|l| l.split(';').collect::<Vec<_>>())
        .filter(|c| c[typ] == "anvisningsenhed" && c[status] == "Aktiv")
        .map(|c| (c[nummer].to_owned(), grad(c[bredde]), grad(c[laengde])))
        .collect();
    from_csv.sort_by(|a, b| a.0.cmp(&b.0));
    let flat = soap_export(r, "GetAllAnvisningsEnheder", "").await;
    let mut from_soap: Vec<(String, f64, f64)> = flat
        .split("</anvisningsenhed>")
        .filter(|u| u.contains("<aktivitetsstatus>Aktiv<"))
        .map(|u| {
            let t = |n: &str| xml_text(u, n).unwrap_or_else(|| panic!("{n} in {u}"));
            (t("EnhedsNummer").to_owned(), t("geoBredde").parse().unwrap(), t("geoLaengde").parse().unwrap())
        })
        .collect();
    from_soap.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!from_csv.is_empty());
    assert_eq!(from_csv, from_soap, "the CSV's active anvisningsenheder and coordinates are the extract's");

    let missing = r.soap.get("/csv/hemmelig.csv").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("samlet.csv"), "names the files there are");
}

async fn scenario(r: Running) {
    let f = fixture(&r).await;
    csv_files(&r, &f).await;
    soap_extracts(&r, &f).await;
    grpc_operations(&r, &f).await;
    sync_replay(&r, &f).await;
}

#[tokio::test]
async fn extracts_search_and_sync_sqlite() {
    scenario(cluster::embedded().await).await;
}

#[tokio::test]
async fn extracts_search_and_sync_postgres() {
    scenario(cluster::distributed().await).await;
}
