//! A kommune's structure built top-down, reorganised, and closed bottom-up through SOAP: closed
//! numbers are never issued again and refused writes change nothing. On SQLite and PostgreSQL.

use crate::common;

use common::cluster::{self, Running};
use common::payload;
use common::{IMPORT, xml_text, xml_texts};

async fn call(r: &Running, op: &str, inner: &str) -> Result<String, Vec<String>> {
    let a = r.soap.call(IMPORT, op, inner).await;
    assert_eq!(a.status, 200, "{op}: {}", a.body);
    match xml_text(&a.body, "status") {
        Some("OK") => Ok(xml_text(&a.body, "nummer").unwrap_or_default().to_owned()),
        _ => Err(xml_texts(&a.body, "kode").into_iter().map(str::to_owned).collect()),
    }
}

fn daginstitution(navn: &str) -> String {
    payload::daginstitution(payload::AARHUS, navn)
}

fn enhed(parent: &str, navn: &str, husnr: &str, p: &str) -> String {
    payload::enhed(payload::AARHUS, parent, navn, husnr, p)
}

fn alternativ(parent: &str, navn: &str, husnr: &str) -> String {
    payload::alternativ(payload::AARHUS, parent, navn, husnr)
}

async fn sequence(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let mut issued = Vec::new();
    let mut ok = |n: Result<String, Vec<String>>, what: &str| {
        let n = n.unwrap_or_else(|e| panic!("{what}: {e:?}"));
        issued.push(n.clone());
        n
    };

    // Top-down: two clusters, three units, two extra addresses. Bottom-up creation is refused.
    assert_eq!(
        call(&r, "InsertAnvisningsEnhed", &enhed("G99992", "Foran", "10", "1020000013")).await,
        Err(vec!["DTR0201".into()])
    );
    let nord = ok(call(&r, "InsertDaginstitution", &daginstitution("Område Nord")).await, "nord");
    let syd = ok(call(&r, "InsertDaginstitution", &daginstitution("Område Syd")).await, "syd");
    let n1 = ok(call(&r, "InsertAnvisningsEnhed", &enhed(&nord, "Nord 1", "10", "1020000013")).await, "n1");
    let n2 = ok(call(&r, "InsertAnvisningsEnhed", &enhed(&nord, "Nord 2", "11", "1020000014")).await, "n2");
    let s1 = ok(call(&r, "InsertAnvisningsEnhed", &enhed(&syd, "Syd 1", "20", "1020000015")).await, "s1");
    let l1 = ok(call(&r, "InsertAlternativAdresse", &alternativ(&n2, "Nord 2 Skov", "10B")).await, "l1");
    let l2 = ok(call(&r, "InsertAlternativAdresse", &alternativ(&s1, "Syd 1 Strand", "20B")).await, "l2");

    // Reorganise: n2 (with l1) moves to syd; l2 moves to n1.
    let mv = |n: &str, til: &str| {
        format!("<d:EnhedsNummer>{n}</d:EnhedsNummer><d:tilDaginstitutionsNummer>{til}</d:tilDaginstitutionsNummer>")
    };
    let mv_alt = |n: &str, til: &str| {
        format!(
            "<d:alternativAdresseNummer>{n}</d:alternativAdresseNummer><d:tilEnhedsNummer>{til}</d:tilEnhedsNummer>"
        )
    };
    assert_eq!(call(&r, "MoveAnvisningsEnhed", &mv(&n2, &syd)).await, Ok(n2.clone()));
    assert_eq!(call(&r, "MoveAlternativAdresse", &mv_alt(&l2, &n1)).await, Ok(l2.clone()));
    assert_eq!(
        store.get_alternativ_adresse(&l1).await.unwrap().unwrap().data.enheds_nummer,
        n2,
        "l1 went along with n2"
    );
    assert_eq!(store.get_anvisningsenhed(&n2).await.unwrap().unwrap().data.daginstitutions_nummer, syd);

    // Refused writes on the way change nothing.
    let snapshot = (store.count_units().await.unwrap(), store.aendringer_siden(0, 100_000).await.unwrap().len());
    let close = |op: &str, felt: &str, n: &str| (op.to_owned(), format!("<d:{felt}>{n}</d:{felt}>"));
    let refused = [
        (close("DeleteDaginstitution", "daginstitutionsNummer", &syd), "DTR0203"),
        (close("DeleteAnvisningsEnhed", "EnhedsNummer", &n1), "DTR0203"),
        (close("DeleteDaginstitution", "daginstitutionsNummer", "G99991"), "DTR0201"),
    ];
    for ((op, inner), code) in refused {
        assert_eq!(call(&r, &op, &inner).await, Err(vec![code.to_owned()]), "{op}");
    }
    let other_kommune = "<d:daginstitution><d:daginstitutionsNavn>Ude</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
        <d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>101</d:admKommuneKode></d:daginstitution>";
    let ude = ok(call(&r, "InsertDaginstitution", other_kommune).await, "ude");
    let snapshot = (snapshot.0.0 + 1, snapshot.0.1, snapshot.0.2);
    assert_eq!(call(&r, "MoveAnvisningsEnhed", &mv(&n1, &ude)).await, Err(vec!["DTR0206".into()]));
    let now = store.count_units().await.unwrap();
    assert_eq!(now, snapshot, "refused writes changed nothing");

    // Bottom-up: the addresses, then the units, then the clusters.
    for (op, felt, n) in [
        ("DeleteAlternativAdresse", "alternativAdresseNummer", &l1),
        ("DeleteAlternativAdresse", "alternativAdresseNummer", &l2),
        ("DeleteAnvisningsEnhed", "EnhedsNummer", &n1),
        ("DeleteAnvisningsEnhed", "EnhedsNummer", &n2),
        ("DeleteAnvisningsEnhed", "EnhedsNummer", &s1),
        ("DeleteDaginstitution", "daginstitutionsNummer", &nord),
        ("DeleteDaginstitution", "daginstitutionsNummer", &syd),
    ] {
        assert_eq!(call(&r, op, &format!("<d:{felt}>{n}</d:{felt}>")).await, Ok(n.clone()), "{op} {n}");
    }
    assert_eq!(
        call(&r, "InsertAnvisningsEnhed", &enhed(&nord, "Sent", "21", "1020000016")).await,
        Err(vec!["DTR0202".into()])
    );
    for n in [&nord, &syd] {
        let d = store.get_daginstitution(n).await.unwrap().unwrap();
        assert_eq!(d.register.aktivitetsstatus, dtr_registry::model::Aktivitetsstatus::Nedlagt, "{n} closed, kept");
    }

    // Closed numbers are never issued again.
    let ny = ok(call(&r, "InsertDaginstitution", &daginstitution("Område Ny")).await, "ny");
    let fresh = ok(call(&r, "InsertAnvisningsEnhed", &enhed(&ny, "Ny 1", "30", "1020000017")).await, "fresh");
    let fresh_alt = ok(call(&r, "InsertAlternativAdresse", &alternativ(&fresh, "Ny 1 Have", "30B")).await, "fresh alt");
    let mut all = issued.clone();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), issued.len(), "every number issued once: {issued:?}");
    let changes = store.aendringer_siden(0, 100_000).await.unwrap();
    for closed in [&l1, &l2, &n1, &n2, &s1, &nord, &syd] {
        assert!([&ny, &fresh, &fresh_alt].iter().all(|f| f.as_str() > closed.as_str()), "{closed} not reused");
        let created = changes.iter().filter(|c| &c.nummer == closed && c.handling == "oprettet").count();
        assert_eq!(created, 1, "{closed} created once");
    }
}

#[tokio::test]
async fn kommune_structure_sequence_sqlite() {
    sequence(cluster::embedded().await).await;
}

#[tokio::test]
async fn kommune_structure_sequence_postgres() {
    sequence(cluster::distributed().await).await;
}
