//! The register's public pages (the datastrukturoverblik) in a real browser, without login: search
//! by name, number, CVR number, P-number and kommune; a kommune's structure as a tree with closed
//! units marked; a unit's page with its fields, parents, children and versions — which follow the
//! SOAP writes at once. axe-core on every page, screenshots kept.

use crate::common;

use common::browser::Browser;
use common::cluster;
use common::{IMPORT, xml_text};

#[tokio::test]
async fn the_register_for_everyone() {
    let r = cluster::embedded().await;
    let portal = r.soap_base();
    let b = Browser::start().await;

    // The overview: a search field and every kommune, no login.
    b.goto(&format!("{portal}/soeg")).await;
    b.shows("Datastrukturoverblik").await;
    b.shows("København (101)").await;
    b.assert_accessible("Datastrukturoverblik").await;
    b.screenshot("register-soeg").await;

    // By name: every level that matches.
    b.fill("Søg i registeret", "Solsikken").await;
    b.click_button("Søg").await;
    b.shows("Resultater for »Solsikken«").await;
    let text = b.text().await;
    for part in [
        "Børnehuset Solsikken (København) (G30000)",
        "Børnehuset Solsikken Vuggestue",
        "Børnehuset Solsikken Legepladsen",
    ] {
        assert!(text.contains(part), "{part} missing:\n{text}");
    }
    b.assert_accessible("Søgeresultat").await;
    b.screenshot("register-soegeresultat").await;

    // The daginstitution's page: its fields with code texts, its units, its versions.
    b.follow("Børnehuset Solsikken (København) (G30000)").await;
    b.arrives_at("/dagtilbud/G30000").await;
    b.shows("Kommunal (1)").await;
    for part in [
        "Kommunal daginstitution (1)",
        "København (101)",
        "Anvisningsenheder",
        "Vuggestue (0-2 år)",
        "Versioner",
        "Oprettet",
    ] {
        b.shows(part).await;
    }
    b.assert_accessible("Daginstitution").await;
    b.screenshot("register-daginstitution").await;

    // A change through SOAP is a new version on the page at once; a closed unit is marked.
    let update = "<d:daginstitution><d:daginstitutionsNummer>G30000</d:daginstitutionsNummer>\
        <d:daginstitutionsNavn>Solsikken Omdøbt</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
        <d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>101</d:admKommuneKode></d:daginstitution>";
    let a = r.soap.call(IMPORT, "UpdateDaginstitution", update).await;
    assert_eq!(xml_text(&a.body, "status"), Some("OK"), "{}", a.body);
    let closed = r.soap.call(IMPORT, "DeleteAnvisningsEnhed", "<d:EnhedsNummer>G30003</d:EnhedsNummer>").await;
    assert_eq!(xml_text(&closed.body, "status"), Some("OK"), "{}", closed.body);
    b.goto(&format!("{portal}/dagtilbud/G30000")).await;
    b.shows("Solsikken Omdøbt").await;
    b.shows("Ændret").await;
    assert!(b.text().await.contains("(nedlagt)"), "the closed unit is marked");

    // A unit's page: its parent, its alternative address, its place.
    b.goto(&format!("{portal}/dagtilbud/G30001")).await;
    for part in [
        "Anvisningsenhed G30001",
        "Daginstitution: Solsikken Omdøbt (G30000)",
        "Amagerbrogade 10, 2300 København S",
        "Alternative adresser",
        "Legepladsen",
        "64942212",
    ] {
        b.shows(part).await;
    }
    b.assert_accessible("Anvisningsenhed").await;
    b.screenshot("register-anvisningsenhed").await;
    b.fits_phone("register-anvisningsenhed").await;

    // The kommune's whole structure as a tree, closed units marked.
    b.goto(&format!("{portal}/kommune/101")).await;
    b.shows("Dagtilbud i København (101)").await;
    let tree = b.text().await;
    for part in [
        "Solsikken Omdøbt (G30000)",
        "Børnehuset Solsikken Vuggestue (G30001)",
        "Børnehuset Solsikken Legepladsen",
        "(nedlagt)",
        "Troldehøjen",
    ] {
        assert!(tree.contains(part), "{part} missing from the tree:\n{tree}");
    }
    assert!(!tree.contains("(Frederiksberg)"), "only the kommune's own");
    let nested = b.client.find(fantoccini::Locator::Css("ul.enheder > li > ul > li > ul > li")).await;
    assert!(nested.is_ok(), "daginstitution → anvisningsenhed → alternativ adresse, nested");
    b.assert_accessible("Kommunens struktur").await;
    b.screenshot("register-kommune").await;
    b.fits_phone("register-kommune").await;

    // By CVR number, P-number, number and kommune.
    for (q, expect) in [
        ("64942212", "Børnehuset Solsikken Vuggestue"),
        ("1020000001", "Børnehuset Solsikken Vuggestue"),
        ("g30002", "Legepladsen"),
        ("101", "København (101)"),
        ("frederiks", "Frederiksberg (147)"),
    ] {
        b.goto(&format!("{portal}/soeg?q={q}")).await;
        b.shows(expect).await;
    }
    b.goto(&format!("{portal}/soeg?q=intet-matcher-dette")).await;
    b.shows("Ingen dagtilbud eller kommuner matcher.").await;

    // Unknown and malformed addresses are a Danish 404, not an error.
    for path in ["/dagtilbud/G99999", "/dagtilbud/%3Cscript%3E", "/kommune/999", "/kommune/abc"] {
        let resp = r.soap.get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.text().await.unwrap().contains("findes ikke i registeret"), "{path}");
    }
    b.client.clone().close().await.unwrap();
}
