//! ExportService lookups of anvisningsenheder and alternative addresses through SOAP on SQLite and PostgreSQL: the
//! `anvisningenhederExtend` shape with `_Tekst` companions and register fields, closed units
//! included, and answers that validate against the published schema.

use crate::common;

use common::cluster::{self, Running};
use common::{EXPORT, xml_text, xml_texts};

async fn ok(r: &Running, op: &str, inner: &str) -> String {
    common::import_ok(&r.soap, op, inner).await
}

fn enhed(parent: &str, husnr: &str, p: &str) -> String {
    format!(
        "<d:anvisningsenhed><d:daginstitutionsNummer>{parent}</d:daginstitutionsNummer><d:EnhedsNavn>Enhed {husnr}</d:EnhedsNavn>\
         <d:Adresse><d:vejNavn>Amagerbrogade</d:vejNavn><d:husNummer>{husnr}</d:husNummer><d:postNummer>2300</d:postNummer>\
         </d:Adresse><d:InstType3>6011</d:InstType3><d:PNummer>{p}</d:PNummer></d:anvisningsenhed>"
    )
}

fn schema_valid(body: &str, op: &str) {
    common::export_schema_valid(body, op)
}

async fn lookups(r: Running) {
    let daginst = "<d:daginstitution><d:daginstitutionsNavn>Opslag</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
         <d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>101</d:admKommuneKode></d:daginstitution>";
    let p = ok(&r, "InsertDaginstitution", daginst).await;
    let a = ok(&r, "InsertAnvisningsEnhed", &enhed(&p, "10", "1012345678")).await;
    let b = ok(&r, "InsertAnvisningsEnhed", &enhed(&p, "11", "1012345679")).await;
    ok(&r, "DeleteAnvisningsEnhed", &format!("<d:EnhedsNummer>{b}</d:EnhedsNummer>")).await;

    let get = |op: &'static str, param: &'static str, value: String| {
        let r = &r;
        async move {
            let a = r.soap.call(EXPORT, op, &format!("<d:{param}>{value}</d:{param}>")).await;
            assert_eq!(a.status, 200, "{op}: {}", a.body);
            schema_valid(&a.body, op);
            a.body
        }
    };

    let body = get("GetDaginstitutionByNummer", "DagInstitutionsNummer", p.clone()).await;
    assert_eq!(xml_text(&body, "daginstitutionsNavn"), Some("Opslag"));

    let body = get("GetAnvisningsEnhederByNummer", "enhedsNummer", a.clone()).await;
    assert_eq!(xml_texts(&body, "EnhedsNummer"), vec![a.as_str()]);
    assert_eq!(xml_text(&body, "daginstitutionsNummer"), Some(p.as_str()));
    assert_eq!(xml_text(&body, "kommuneKode_Tekst"), Some("København"));
    assert_eq!(xml_text(&body, "instType3_Tekst"), Some("Børnehave (3-5 år)"));
    assert_eq!(xml_text(&body, "CVRNummer"), Some("64942212"), "filled from the P-number");
    assert_eq!(xml_text(&body, "darAdresseId"), Some("0a3f50a0-73b1-32b8-e044-0003ba298018"));
    assert_eq!(xml_text(&body, "geoBredde"), Some("55.6648"));
    assert_eq!(xml_text(&body, "aktivitetsstatus"), Some("Aktiv"));

    let body = get("GetAnvisningsEnhederByPnummer", "pNummer", "1012345679".into()).await;
    assert_eq!(xml_texts(&body, "EnhedsNummer"), vec![b.as_str()], "closed units are exported");
    assert_eq!(xml_text(&body, "aktivitetsstatus"), Some("Nedlagt"));
    assert!(xml_text(&body, "nedlagtDato").is_some());

    let body = get("GetAnvisningsEnhederByDaginstitutionsnummer", "DagInstitutionsNummer", p.clone()).await;
    assert_eq!(xml_texts(&body, "EnhedsNummer"), vec![a.as_str(), b.as_str()]);

    let body = get("GetAnvisningsEnhederByCvrnummer", "cvrNummer", "64942212".into()).await;
    let numbers = xml_texts(&body, "EnhedsNummer");
    assert!(numbers.contains(&a.as_str()) && numbers.contains(&b.as_str()), "{numbers:?}");
    assert!(xml_texts(&body, "CVRNummer").iter().all(|c| *c == "64942212"));

    // Alternative addresses: CVRNummer inherited or from their own P-number.
    let alt = |navn: &str, husnr: &str, p_nummer: &str| {
        format!(
            "<d:alternativAdresse><d:EnhedsNummer>{a}</d:EnhedsNummer><d:alternativAdresseNavn>{navn}</d:alternativAdresseNavn>\
             <d:Adresse><d:vejNavn>Amagerbrogade</d:vejNavn><d:husNummer>{husnr}</d:husNummer><d:postNummer>2300</d:postNummer>\
             </d:Adresse>{p_nummer}</d:alternativAdresse>"
        )
    };
    let l1 = ok(&r, "InsertAlternativAdresse", &alt("Legepladsen", "10B", "")).await;
    let l2 = ok(&r, "InsertAlternativAdresse", &alt("Skovhuset", "20B", "<d:PNummer>1012345682</d:PNummer>")).await;
    let body = get("GetAlternativAdresserByNummer", "alternativAdresseNummer", l1.clone()).await;
    assert_eq!(xml_texts(&body, "alternativAdresseNummer"), vec![l1.as_str()]);
    assert_eq!(xml_text(&body, "EnhedsNummer"), Some(a.as_str()));
    assert_eq!(xml_text(&body, "CVRNummer"), Some("64942212"), "inherited");
    assert_eq!(xml_text(&body, "kommuneKode_Tekst"), Some("København"));
    let body = get("GetAlternativAdresserByAnvisningsenhedsnummer", "enhedsNummer", a.clone()).await;
    assert_eq!(xml_texts(&body, "alternativAdresseNummer"), vec![l1.as_str(), l2.as_str()]);
    let body = get("GetAlternativAdresserByPnummer", "pNummer", "1012345682".into()).await;
    assert_eq!(xml_texts(&body, "alternativAdresseNummer"), vec![l2.as_str()]);
    let body = get("GetAlternativAdresserByCvrnummer", "cvrNummer", "29189854".into()).await;
    assert!(xml_texts(&body, "alternativAdresseNummer").contains(&l2.as_str()), "{body}");

    // Without a P-number of its own an alternativ adresse has its unit's CVR number: it takes
    // the new unit's when moved, and follows its unit's when that changes; one with its own
    // P-number keeps its own.
    let by_cvr = |cvr: &'static str| {
        let get = &get;
        async move {
            let body = get("GetAlternativAdresserByCvrnummer", "cvrNummer", cvr.into()).await;
            xml_texts(&body, "alternativAdresseNummer").into_iter().map(str::to_owned).collect::<Vec<_>>()
        }
    };
    let c = ok(&r, "InsertAnvisningsEnhed", &enhed(&p, "20", "1012345680")).await;
    let mv = format!(
        "<d:alternativAdresseNummer>{l1}</d:alternativAdresseNummer><d:tilEnhedsNummer>{c}</d:tilEnhedsNummer>"
    );
    ok(&r, "MoveAlternativAdresse", &mv).await;
    assert!(by_cvr("11259979").await.contains(&l1), "moved: the new unit's CVR");
    assert!(!by_cvr("64942212").await.contains(&l1), "no longer the old unit's");
    let mv = format!(
        "<d:alternativAdresseNummer>{l2}</d:alternativAdresseNummer><d:tilEnhedsNummer>{c}</d:tilEnhedsNummer>"
    );
    ok(&r, "MoveAlternativAdresse", &mv).await;
    // Lookups by number are remembered until the register changes: looked up before a change,
    // then again at once after it is acknowledged, they answer the change.
    let enhed_by_nummer = || get("GetAnvisningsEnhederByNummer", "enhedsNummer", c.clone());
    let adresse_by_nummer = || get("GetAlternativAdresserByNummer", "alternativAdresseNummer", l1.clone());
    for _ in 0..2 {
        assert_eq!(xml_text(&enhed_by_nummer().await, "PNummer"), Some("1012345680"));
        assert_eq!(xml_text(&adresse_by_nummer().await, "CVRNummer"), Some("11259979"));
    }
    let changed = enhed(&p, "20", "1012345679")
        .replace("<d:anvisningsenhed>", &format!("<d:anvisningsenhed><d:EnhedsNummer>{c}</d:EnhedsNummer>"));
    ok(&r, "UpdateAnvisningsEnhed", &changed).await;
    assert_eq!(xml_text(&enhed_by_nummer().await, "PNummer"), Some("1012345679"), "the unit's change");
    assert_eq!(xml_text(&adresse_by_nummer().await, "CVRNummer"), Some("64942212"), "its unit's new CVR");
    assert!(by_cvr("64942212").await.contains(&l1), "follows its unit's new CVR");
    assert!(!by_cvr("11259979").await.contains(&l1));
    assert!(by_cvr("29189854").await.contains(&l2), "its own P-number's CVR stays");
    let hist = r.soap.call(EXPORT, "GetHistorik", &format!("<d:nummer>{l1}</d:nummer>")).await;
    assert_eq!(xml_texts(&hist.body, "handling"), vec!["oprettet", "flyttet", "aendret"], "each change a version");

    // The change feed, paged: strictly ordered, gap-free, ending where asking again yields nothing.
    let mut seen: Vec<i64> = Vec::new();
    let mut from = 0i64;
    loop {
        let page = r
            .soap
            .call(
                EXPORT,
                "GetAendringerSiden",
                &format!("<d:sekvensnummer>{from}</d:sekvensnummer><d:maxAntal>7</d:maxAntal>"),
            )
            .await;
        schema_valid(&page.body, "GetAendringerSiden");
        let numbers: Vec<i64> = xml_texts(&page.body, "sekvensnummer").iter().map(|n| n.parse().unwrap()).collect();
        assert!(numbers.len() <= 7);
        seen.extend(&numbers);
        from = xml_text(&page.body, "naesteSekvensnummer").unwrap().parse().unwrap();
        if xml_text(&page.body, "flere") == Some("false") {
            break;
        }
    }
    assert_eq!(seen, (1..=seen.len() as i64).collect::<Vec<_>>(), "every change once, in order");
    let again = r.soap.call(EXPORT, "GetAendringerSiden", &format!("<d:sekvensnummer>{from}</d:sekvensnummer>")).await;
    assert!(again.body.contains("<aendringer></aendringer>"), "{}", again.body);
    assert_eq!(xml_text(&again.body, "naesteSekvensnummer"), Some(from.to_string().as_str()));

    // History: every version of one unit, with its state.
    let hist = r.soap.call(EXPORT, "GetHistorik", &format!("<d:nummer>{b}</d:nummer>")).await;
    schema_valid(&hist.body, "GetHistorik");
    assert_eq!(xml_texts(&hist.body, "handling"), vec!["oprettet", "nedlagt"]);
    assert_eq!(xml_texts(&hist.body, "aktivitetsstatus"), vec!["Aktiv", "Nedlagt"]);
    let none = r.soap.call(EXPORT, "GetHistorik", "<d:nummer>G99985</d:nummer>").await;
    assert!(
        none.body.contains("<GetHistorikResponse xmlns=\"urn:dtr:export:v2\"></GetHistorikResponse>"),
        "{}",
        none.body
    );

    // Code tables, from the cache.
    let body = get("GetKodetabel", "navn", "kommuner".into()).await;
    assert_eq!(xml_text(&body, "navn"), Some("kommuner"));
    assert_eq!(body.matches("<tekst>").count(), 98, "the 98 kommuner");
    assert!(body.contains("<kode><kode>101</kode><tekst>København</tekst></kode>"));
    let all = r.soap.call(EXPORT, "GetAllKodetabeller", "").await;
    schema_valid(&all.body, "GetAllKodetabeller");
    assert_eq!(
        xml_texts(&all.body, "navn"),
        vec!["ejerform", "insttype3", "kommuner", "krydsvalidering", "lovgrundlag"]
    );
    // A client can learn which combinations are lawful, and on what legal basis.
    let body = get("GetKodetabel", "navn", "lovgrundlag".into()).await;
    assert!(
        body.contains("<kode><kode>1</kode><tekst>Kommunal daginstitution</tekst><hjemmel>Dagtilbudsloven § 19, stk. 2</hjemmel></kode>"),
        "{body}"
    );
    let body = get("GetKodetabel", "navn", "krydsvalidering".into()).await;
    assert!(
        body.contains("<kombination><ejerformKode>1</ejerformKode><lovgrundlagKode>1</lovgrundlagKode><instType3>6010</instType3></kombination>"),
        "{body}"
    );
    assert!(!body.contains("<kode>"), "the matrix is combinations, not codes");
    let unknown = r.soap.call(EXPORT, "GetKodetabel", "<d:navn>farver</d:navn>").await;
    assert_eq!(xml_text(&unknown.body, "ErrorCode"), Some("IPL000002"), "{}", unknown.body);
    assert!(unknown.body.contains("kommuner"), "the fault names the known tables");

    // Unknown values and values of the wrong shape: an empty list, not a fault.
    for (op, param, value) in [
        ("GetAnvisningsEnhederByNummer", "enhedsNummer", "G99988"),
        ("GetAnvisningsEnhederByNummer", "enhedsNummer", "abc"),
        ("GetAnvisningsEnhederByPnummer", "pNummer", "1000000009"),
        ("GetAnvisningsEnhederByCvrnummer", "cvrNummer", "12"),
        ("GetAnvisningsEnhederByDaginstitutionsnummer", "DagInstitutionsNummer", "G99987"),
        ("GetAlternativAdresserByNummer", "alternativAdresseNummer", "G99986"),
        ("GetAlternativAdresserByPnummer", "pNummer", "x"),
    ] {
        let body = get(op, param, value.into()).await;
        let empty = body.contains("<anvisningenhederExtend></anvisningenhederExtend>")
            || body.contains("<alternativadresserExtend></alternativadresserExtend>");
        assert!(empty, "{op} {value}: {body}");
    }
}

#[tokio::test]
async fn unit_lookups_sqlite() {
    lookups(cluster::embedded().await).await;
}

#[tokio::test]
async fn unit_lookups_postgres() {
    lookups(cluster::distributed().await).await;
}
