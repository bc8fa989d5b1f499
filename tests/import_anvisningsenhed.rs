//! InsertAnvisningsEnhed through SOAP on SQLite (embedded) and PostgreSQL (distributed): field
//! rules, DAR (rule 2), CVR (rule 3), top-down creation (rule 5), cross-validation (rule 11), and
//! lookups that fail being retryable errors that write nothing.

use crate::common;

use common::cluster::{self, Running};
use common::{IMPORT, IMPORT_V1, xml_text, xml_texts};

struct Enhed<'a> {
    parent: &'a str,
    navn: &'a str,
    vej: &'a str,
    husnr: &'a str,
    post: &'a str,
    type3: i32,
    p: &'a str,
    email: &'a str,
    telefon: &'a str,
}

impl<'a> Enhed<'a> {
    fn new(parent: &'a str) -> Self {
        Enhed {
            parent,
            navn: "Egernet Børnehave",
            vej: "Amagerbrogade",
            husnr: "10",
            post: "2300",
            type3: 6011,
            p: "1012345678",
            email: "egernet@example.dk",
            telefon: "33123456",
        }
    }

    fn xml(&self) -> String {
        format!(
            "<d:anvisningsenhed><d:daginstitutionsNummer>{}</d:daginstitutionsNummer><d:EnhedsNavn>{}</d:EnhedsNavn>\
             <d:Adresse><d:vejNavn>{}</d:vejNavn><d:husNummer>{}</d:husNummer><d:postNummer>{}</d:postNummer>\
             </d:Adresse><d:InstType3>{}</d:InstType3>\
             <d:Email>{}</d:Email><d:TelefonNummer>{}</d:TelefonNummer><d:PNummer>{}</d:PNummer></d:anvisningsenhed>",
            self.parent, self.navn, self.vej, self.husnr, self.post, self.type3, self.email, self.telefon, self.p
        )
    }
}

fn svar(body: &str) -> Result<String, Vec<String>> {
    match xml_text(body, "status") {
        Some("OK") => Ok(xml_text(body, "nummer").unwrap_or_default().to_owned()),
        Some("FEJL") => Err(xml_texts(body, "kode").into_iter().map(str::to_owned).collect()),
        _ => panic!("not an ImportSvar: {body}"),
    }
}

async fn call(r: &Running, path: &str, op: &str, inner: &str) -> Result<String, Vec<String>> {
    let a = r.soap.call(path, op, inner).await;
    assert_eq!(a.status, 200, "{}", a.body);
    svar(&a.body)
}

async fn daginstitution(r: &Running, lovgrundlag: i32) -> String {
    daginstitution_in(r, lovgrundlag, 101).await
}

async fn daginstitution_in(r: &Running, lovgrundlag: i32, kommune: i32) -> String {
    let inner = format!(
        "<d:daginstitution><d:daginstitutionsNavn>Forælder</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
         <d:lovgrundlagKode>{lovgrundlag}</d:lovgrundlagKode><d:admKommuneKode>{kommune}</d:admKommuneKode></d:daginstitution>"
    );
    call(r, IMPORT, "InsertDaginstitution", &inner).await.expect("parent created")
}

async fn rules(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let parent = daginstitution(&r, 1).await;

    // Accepted: the register fills the address from DAR and the CVR number from the P-number.
    let n = call(&r, IMPORT, "InsertAnvisningsEnhed", &Enhed::new(&parent).xml()).await.expect("accepted");
    let stored = store.get_anvisningsenhed(&n).await.unwrap().expect("stored");
    assert_eq!(stored.data.daginstitutions_nummer, parent);
    assert_eq!(stored.cvr_nummer.as_deref(), Some("64942212"), "CVRNummer from the P-number");
    assert_eq!(stored.data.adresse.kommune_kode, 101, "kommuneKode from DAR");
    assert_eq!(stored.data.adresse.dar_adresse_id.as_deref(), Some("0a3f50a0-73b1-32b8-e044-0003ba298018"));
    assert_eq!((stored.data.adresse.geo_bredde, stored.data.adresse.geo_laengde), (Some(55.6648), Some(12.60135)));

    let closed = daginstitution(&r, 1).await;
    assert_eq!(
        call(
            &r,
            IMPORT,
            "DeleteDaginstitution",
            &format!("<d:daginstitutionsNummer>{closed}</d:daginstitutionsNummer>")
        )
        .await,
        Ok(closed.clone())
    );

    let before = store.count_units().await.unwrap();
    let cases: Vec<(&str, Enhed<'_>, Vec<&str>)> = vec![
        ("missing name", Enhed { navn: "", ..Enhed::new(&parent) }, vec!["DTR0101"]),
        ("unknown type", Enhed { type3: 9999, ..Enhed::new(&parent) }, vec!["DTR0104"]),
        ("P-number not 10 digits", Enhed { p: "123", ..Enhed::new(&parent) }, vec!["DTR0103"]),
        ("not an e-mail", Enhed { email: "ikke-en-mail", ..Enhed::new(&parent) }, vec!["DTR0103"]),
        ("phone too long", Enhed { telefon: "012345678901234567890", ..Enhed::new(&parent) }, vec!["DTR0102"]),
        ("address unknown to DAR", Enhed { husnr: "999", ..Enhed::new(&parent) }, vec!["DTR0402"]),
        ("P-number unknown to CVR", Enhed { p: "1000000001", ..Enhed::new(&parent) }, vec!["DTR0404"]),
        ("P-number ended in CVR", Enhed { p: "1099999999", ..Enhed::new(&parent) }, vec!["DTR0405"]),
        (
            "DAR and CVR both",
            Enhed { husnr: "999", p: "1000000001", ..Enhed::new(&parent) },
            vec!["DTR0402", "DTR0404"],
        ),
        ("parent unknown (top-down)", Enhed::new("G99997"), vec!["DTR0201"]),
        ("parent closed", Enhed::new(&closed), vec!["DTR0202"]),
        ("unlawful type under (1, 1)", Enhed { type3: 6013, ..Enhed::new(&parent) }, vec!["DTR0301"]),
    ];
    for (what, e, codes) in cases {
        assert_eq!(
            call(&r, IMPORT, "InsertAnvisningsEnhed", &e.xml()).await,
            Err(codes.iter().map(|c| c.to_string()).collect()),
            "{what}"
        );
        assert_eq!(store.count_units().await.unwrap(), before, "{what} wrote nothing");
    }
    let with_number = Enhed::new(&parent)
        .xml()
        .replace("<d:daginstitutionsNummer>", "<d:EnhedsNummer>G10001</d:EnhedsNummer><d:daginstitutionsNummer>");
    assert_eq!(call(&r, IMPORT, "InsertAnvisningsEnhed", &with_number).await, Err(vec!["DTR0105".to_owned()]));

    // A dry run runs DAR and CVR too, and writes nothing.
    let dry = format!("<d:InsertAnvisningsEnhed>{}</d:InsertAnvisningsEnhed>", Enhed::new(&parent).xml());
    assert_eq!(call(&r, IMPORT, "ValidateXmlAgainstSchema", &dry).await, Ok(String::new()));
    let dry_bad = format!(
        "<d:InsertAnvisningsEnhed>{}</d:InsertAnvisningsEnhed>",
        Enhed { p: "1099999999", ..Enhed::new(&parent) }.xml()
    );
    assert_eq!(call(&r, IMPORT, "ValidateXmlAgainstSchema", &dry_bad).await, Err(vec!["DTR0405".to_owned()]));
    assert_eq!(store.count_units().await.unwrap(), before);

    // The v1 rule set has no cross-validation.
    let v1 = call(&r, IMPORT_V1, "InsertAnvisningsEnhed", &Enhed { type3: 6013, ..Enhed::new(&parent) }.xml()).await;
    assert!(v1.is_ok(), "{v1:?}");
}

fn with_number(e: &Enhed<'_>, nummer: &str) -> String {
    e.xml().replace("<d:anvisningsenhed>", &format!("<d:anvisningsenhed><d:EnhedsNummer>{nummer}</d:EnhedsNummer>"))
}

fn move_xml(nummer: &str, til: &str) -> String {
    format!("<d:EnhedsNummer>{nummer}</d:EnhedsNummer><d:tilDaginstitutionsNummer>{til}</d:tilDaginstitutionsNummer>")
}

fn err(codes: &[&str]) -> Result<String, Vec<String>> {
    Err(codes.iter().map(|c| c.to_string()).collect())
}

/// Update, close and move of anvisningsenheder with rules 6, 7, 9, 10 and 11.
async fn lifecycle(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let (p, q) = (daginstitution(&r, 1).await, daginstitution(&r, 1).await);
    let other_kommune = daginstitution_in(&r, 1, 147).await;
    let dagpleje_only = daginstitution(&r, 5).await;
    let a = call(&r, IMPORT, "InsertAnvisningsEnhed", &Enhed::new(&p).xml()).await.unwrap();
    let b = call(&r, IMPORT, "InsertAnvisningsEnhed", &Enhed { type3: 6010, husnr: "11", ..Enhed::new(&p) }.xml())
        .await
        .unwrap();

    // Update: fields, address and P-number change; the register refreshes DAR and CVR data.
    let changed = Enhed { navn: "Egernet Vuggestue", husnr: "20", p: "1012345680", type3: 6010, ..Enhed::new(&p) };
    let r = &r;
    let upd = |inner: String| async move { call(r, IMPORT, "UpdateAnvisningsEnhed", &inner).await };
    assert_eq!(upd(with_number(&changed, &a) + "<d:forventetVersion>1</d:forventetVersion>").await, Ok(a.clone()));
    let s = store.get_anvisningsenhed(&a).await.unwrap().unwrap();
    assert_eq!(
        (s.data.navn.as_str(), s.data.adresse.hus_nummer.as_str(), s.register.version),
        ("Egernet Vuggestue", "20", 2)
    );
    assert_eq!(s.cvr_nummer.as_deref(), Some("11259979"), "CVRNummer follows the new P-number");
    let before = store.aendringer_siden(0, 100_000).await.unwrap().len();
    let refusals = vec![
        ("another parent", upd(with_number(&Enhed::new(&q), &a)).await, err(&["DTR0204"])),
        (
            "stale version",
            upd(with_number(&changed, &a) + "<d:forventetVersion>1</d:forventetVersion>").await,
            err(&["DTR0902"]),
        ),
        ("unlawful type", upd(with_number(&Enhed { type3: 6013, ..Enhed::new(&p) }, &a)).await, err(&["DTR0301"])),
        ("unknown address", upd(with_number(&Enhed { husnr: "999", ..Enhed::new(&p) }, &a)).await, err(&["DTR0402"])),
        ("unknown unit", upd(with_number(&Enhed::new(&p), "G99996")).await, err(&["DTR0201"])),
    ];
    for (what, got, want) in refusals {
        assert_eq!(got, want, "update: {what}");
    }
    let mv = |n: &str, til: &str| {
        let inner = move_xml(n, til);
        async move { call(r, IMPORT, "MoveAnvisningsEnhed", &inner).await }
    };
    assert_eq!(mv(&a, &other_kommune).await, err(&["DTR0206"]), "rule 9: only within one kommune");
    assert_eq!(mv(&a, &dagpleje_only).await, err(&["DTR0301"]), "rule 11 against the target");
    assert_eq!(mv(&a, "G99995").await, err(&["DTR0201"]));
    let dry = format!("<d:MoveAnvisningsEnhed>{}</d:MoveAnvisningsEnhed>", move_xml(&a, &other_kommune));
    assert_eq!(call(r, IMPORT, "ValidateXmlAgainstSchema", &dry).await, err(&["DTR0206"]));
    assert_eq!(store.aendringer_siden(0, 100_000).await.unwrap().len(), before, "refusals and dry runs wrote nothing");

    // Move, with its alternative address.
    let aktoer = crate::common::aktoer("t", "test");
    let alt = dtr_registry::model::AlternativAdresseData {
        enheds_nummer: a.clone(),
        navn: "Legepladsen".into(),
        adresse: dtr_registry::model::Adresse {
            vej_navn: "Amagerbrogade".into(),
            hus_nummer: "10B".into(),
            post_nummer: "2300".into(),
            post_distrikt: "København S".into(),
            kommune_kode: 101,
            ..Default::default()
        },
        ..Default::default()
    };
    let alt = store.insert_alternativ_adresse(&alt, None, &aktoer).await.unwrap();
    assert_eq!(mv(&a, &q).await, Ok(a.clone()));
    assert_eq!(store.get_anvisningsenhed(&a).await.unwrap().unwrap().data.daginstitutions_nummer, q);
    let changes = store.aendringer_siden(0, 100_000).await.unwrap();
    assert_eq!(changes.last().map(|c| (c.nummer.as_str(), c.handling.as_str())), Some((a.as_str(), "flyttet")));
    assert!(
        changes.iter().all(|c| c.nummer != alt.nummer || c.handling == "oprettet"),
        "the address moves along unchanged"
    );

    // Rule 6 is reported, not refused: p's last unit may move away (a merge), and the emptied
    // daginstitution can then be closed.
    assert_eq!(mv(&b, &q).await, Ok(b.clone()));
    let close_p = format!("<d:daginstitutionsNummer>{p}</d:daginstitutionsNummer>");
    assert_eq!(call(r, IMPORT, "DeleteDaginstitution", &close_p).await, Ok(p.clone()));
    let del = |n: &str| {
        let inner = format!("<d:EnhedsNummer>{n}</d:EnhedsNummer>");
        async move { call(r, IMPORT, "DeleteAnvisningsEnhed", &inner).await }
    };
    // Rule 7: a has an active alternative address.
    assert_eq!(del(&a).await, err(&["DTR0203"]));
    // Closing works for a unit that is neither; a closed unit is frozen.
    let c = call(r, IMPORT, "InsertAnvisningsEnhed", &Enhed { husnr: "21", ..Enhed::new(&q) }.xml()).await.unwrap();
    assert_eq!(del(&c).await, Ok(c.clone()));
    let closed = store.get_anvisningsenhed(&c).await.unwrap().unwrap();
    assert_eq!(closed.register.aktivitetsstatus, dtr_registry::model::Aktivitetsstatus::Nedlagt);
    assert!(closed.register.nedlagt_dato.is_some());
    assert_eq!(del(&c).await, err(&["DTR0202"]));
    assert_eq!(mv(&c, &p).await, err(&["DTR0202"]));
    assert_eq!(upd(with_number(&Enhed { husnr: "21", ..Enhed::new(&q) }, &c)).await, err(&["DTR0202"]));
}

fn alt_xml(nummer: Option<&str>, parent: &str, navn: &str, husnr: &str, p: Option<&str>) -> String {
    format!(
        "<d:alternativAdresse>{}<d:EnhedsNummer>{parent}</d:EnhedsNummer><d:alternativAdresseNavn>{navn}</d:alternativAdresseNavn>\
         <d:Adresse><d:vejNavn>Amagerbrogade</d:vejNavn><d:husNummer>{husnr}</d:husNummer><d:postNummer>2300</d:postNummer>\
         </d:Adresse>{}</d:alternativAdresse>",
        nummer.map(|n| format!("<d:alternativAdresseNummer>{n}</d:alternativAdresseNummer>")).unwrap_or_default(),
        p.map(|p| format!("<d:PNummer>{p}</d:PNummer>")).unwrap_or_default(),
    )
}

/// The alternative addresses: insert (CVR own or inherited), update, move within one kommune,
/// close; and rule 7 seen from the anvisningsenhed.
async fn alternativ_lifecycle(r: Running) {
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let r = &r;
    let p = daginstitution(r, 1).await;
    let a = call(r, IMPORT, "InsertAnvisningsEnhed", &Enhed::new(&p).xml()).await.unwrap();
    let b = call(r, IMPORT, "InsertAnvisningsEnhed", &Enhed { husnr: "11", ..Enhed::new(&p) }.xml()).await.unwrap();
    let other = daginstitution_in(r, 1, 147).await;
    let c_xml = Enhed { vej: "Falkoner Allé", husnr: "1", post: "2000", p: "1012345680", ..Enhed::new(&other) }.xml();
    let c = call(r, IMPORT, "InsertAnvisningsEnhed", &c_xml).await.expect("unit in Frederiksberg");

    let ins = |inner: String| async move { call(r, IMPORT, "InsertAlternativAdresse", &inner).await };
    let x = ins(alt_xml(None, &a, "Legepladsen", "10B", None)).await.expect("accepted");
    let stored = store.get_alternativ_adresse(&x).await.unwrap().unwrap();
    assert_eq!(stored.cvr_nummer.as_deref(), Some("64942212"), "inherited from the anvisningsenhed");
    assert!(stored.data.adresse.dar_adresse_id.is_some() && stored.data.adresse.geo_bredde.is_some(), "from DAR");
    let y = ins(alt_xml(None, &a, "Skovhuset", "20B", Some("1012345682"))).await.expect("accepted");
    assert_eq!(
        store.get_alternativ_adresse(&y).await.unwrap().unwrap().cvr_nummer.as_deref(),
        Some("29189854"),
        "own P-number"
    );

    let before = store.count_units().await.unwrap();
    let refusals = vec![
        ("missing name", alt_xml(None, &a, "", "10B", None), err(&["DTR0101"])),
        ("unknown address", alt_xml(None, &a, "X", "999", None), err(&["DTR0402"])),
        ("ended P-number", alt_xml(None, &a, "X", "10B", Some("1099999999")), err(&["DTR0405"])),
        ("unknown parent", alt_xml(None, "G99994", "X", "10B", None), err(&["DTR0201"])),
        ("number sent", alt_xml(Some("G10002"), &a, "X", "10B", None), err(&["DTR0105"])),
    ];
    for (what, inner, want) in refusals {
        assert_eq!(ins(inner).await, want, "insert: {what}");
    }
    assert_eq!(store.count_units().await.unwrap(), before);

    let upd = |inner: String| async move { call(r, IMPORT, "UpdateAlternativAdresse", &inner).await };
    assert_eq!(upd(alt_xml(Some(&x), &a, "Legepladsen Nord", "10B", None)).await, Ok(x.clone()));
    assert_eq!(store.get_alternativ_adresse(&x).await.unwrap().unwrap().data.navn, "Legepladsen Nord");
    assert_eq!(upd(alt_xml(Some(&x), &b, "Legepladsen", "10B", None)).await, err(&["DTR0204"]));
    assert_eq!(
        upd(alt_xml(Some(&x), &a, "Legepladsen", "10B", None) + "<d:forventetVersion>1</d:forventetVersion>").await,
        err(&["DTR0902"])
    );

    let mv = |n: &str, til: &str| {
        let inner = format!(
            "<d:alternativAdresseNummer>{n}</d:alternativAdresseNummer><d:tilEnhedsNummer>{til}</d:tilEnhedsNummer>"
        );
        async move { call(r, IMPORT, "MoveAlternativAdresse", &inner).await }
    };
    assert_eq!(mv(&x, &c).await, err(&["DTR0206"]), "only within one kommune");
    assert_eq!(mv(&x, "G99993").await, err(&["DTR0201"]));
    assert_eq!(mv(&x, &b).await, Ok(x.clone()));
    assert_eq!(store.get_alternativ_adresse(&x).await.unwrap().unwrap().data.enheds_nummer, b);

    // Rule 7 from the anvisningsenhed's side: a still has y.
    let del_enhed = call(r, IMPORT, "DeleteAnvisningsEnhed", &format!("<d:EnhedsNummer>{a}</d:EnhedsNummer>")).await;
    assert_eq!(del_enhed, err(&["DTR0203"]));

    let del = |n: &str| {
        let inner = format!("<d:alternativAdresseNummer>{n}</d:alternativAdresseNummer>");
        async move { call(r, IMPORT, "DeleteAlternativAdresse", &inner).await }
    };
    assert_eq!(del(&x).await, Ok(x.clone()));
    assert_eq!(
        store.get_alternativ_adresse(&x).await.unwrap().unwrap().register.aktivitetsstatus,
        dtr_registry::model::Aktivitetsstatus::Nedlagt
    );
    assert_eq!(del(&x).await, err(&["DTR0202"]));
    assert_eq!(mv(&x, &a).await, err(&["DTR0202"]));
    assert_eq!(upd(alt_xml(Some(&x), &b, "Igen", "10B", None)).await, err(&["DTR0202"]));

    // Dry runs write nothing.
    let n = store.aendringer_siden(0, 100_000).await.unwrap().len();
    let dry =
        format!("<d:InsertAlternativAdresse>{}</d:InsertAlternativAdresse>", alt_xml(None, &a, "Prøve", "10B", None));
    assert_eq!(call(r, IMPORT, "ValidateXmlAgainstSchema", &dry).await, Ok(String::new()));
    assert_eq!(store.aendringer_siden(0, 100_000).await.unwrap().len(), n);
}

#[tokio::test]
async fn alternativ_adresse_lifecycle_sqlite() {
    alternativ_lifecycle(cluster::embedded().await).await;
}

#[tokio::test]
async fn alternativ_adresse_lifecycle_postgres() {
    alternativ_lifecycle(cluster::distributed().await).await;
}

#[tokio::test]
async fn anvisningsenhed_lifecycle_sqlite() {
    lifecycle(cluster::embedded().await).await;
}

#[tokio::test]
async fn anvisningsenhed_lifecycle_postgres() {
    lifecycle(cluster::distributed().await).await;
}

#[tokio::test]
async fn anvisningsenhed_rules_sqlite() {
    rules(cluster::embedded().await).await;
}

#[tokio::test]
async fn anvisningsenhed_rules_postgres() {
    rules(cluster::distributed().await).await;
}

/// DAR and CVR that cannot be reached: a retryable error for each, and nothing written.
#[tokio::test]
async fn unreachable_lookups_are_retryable_errors() {
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let r = cluster::distributed_with(&[
        ("DTR_DAR_URL", closed.clone()),
        ("DTR_CVR_URL", closed),
        ("DTR_LOOKUP_TIMEOUT_MS", "500".to_owned()),
    ])
    .await;
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let parent = daginstitution(&r, 1).await;
    let before = store.count_units().await.unwrap();
    let got = call(&r, IMPORT, "InsertAnvisningsEnhed", &Enhed::new(&parent).xml()).await;
    assert_eq!(got, Err(vec!["DTR0401".to_owned(), "DTR0403".to_owned()]));
    assert_eq!(store.count_units().await.unwrap(), before);
}
