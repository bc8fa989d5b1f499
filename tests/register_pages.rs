//! The register's public pages (the datastrukturoverblik) in a real browser, without login: search
//! by name, number, CVR number, P-number and kommune; a kommune's structure as a tree with closed
//! units marked; a unit's page with its fields, parents, children and versions — which follow the
//! SOAP writes at once. axe-core on every page, screenshots kept.

use crate::common;

use std::time::Duration;

use dtr_proto::tilslutning::{OrganisationType, Rolle};

use common::browser::Browser;
use common::cluster;
use common::grpc::{person, som};
use common::{IMPORT, wait_until, xml_text};

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

    // Every anvisningsenhed is an organisation of type DAGTILBUD in Tilslutning, kept in step
    // with the register (closed: passive), so its data access can be administered from the portal.
    let mut t = r.tilslutning().await;
    let org = |kode: &'static str| {
        let mut t = t.clone();
        async move {
            let req = dtr_proto::tilslutning::GetOrganisationRequest { kode: kode.into() };
            t.get_organisation(som("STIL", req)).await.ok().map(|o| o.into_inner())
        }
    };
    wait_until("G30003 to be followed as closed", Duration::from_secs(20), || async {
        org("G30003").await.is_some_and(|o| o.er_passiveret)
    })
    .await;
    let g30001 = org("G30001").await.expect("the unit is an organisation");
    assert_eq!(g30001.r#type(), OrganisationType::Dagtilbud);
    assert_eq!(
        (g30001.navn.as_str(), g30001.cvr.as_str(), g30001.pnr.as_str()),
        ("Børnehuset Solsikken Vuggestue", "64942212", "1020000001")
    );
    assert!(!g30001.er_passiveret);
    let admin = person(&r, "solsikken.admin", "G30001", Rolle::Dataadgangsadministrator).await;

    // The provider asks the unit, by its number, for data access; the unit's administrator approves.
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.pki.parent().unwrap().join("demo-credentials.json")).unwrap()).unwrap();
    let udbyder = creds["persons"].as_array().unwrap().iter().find(|p| p["role"] == "Udbyderadministrator").unwrap();
    b.log_in(&portal, udbyder["username"].as_str().unwrap(), udbyder["password"].as_str().unwrap()).await;
    b.follow("Anmod om dataadgang").await;
    b.select("System", "demo-system-1").await;
    b.select("Webservice", "ImportService").await;
    b.fill("Dataejere", "G30001").await;
    b.fill("Kommentar (valgfri)", "Pladsanvisning til vuggestuen").await;
    b.click_button("Send anmodning").await;
    b.shows("Anmodningen om dataadgang er sendt til G30001.").await;
    b.log_out().await;
    b.log_in(&portal, &admin.0, &admin.1).await;
    b.shows("Børnehuset Solsikken Vuggestue").await;
    b.fill_in_row("demo-system-1", "kommentar", "Velkommen").await;
    b.click_in_row("demo-system-1", "Godkend").await;
    b.shows("er godkendt.").await;
    let list = dtr_proto::tilslutning::ListAftalerRequest { ejer_kode: "G30001".into(), ..Default::default() };
    let aftaler = t.list_dataaftaler(som("STIL", list)).await.unwrap().into_inner().aftaler;
    assert_eq!(aftaler.len(), 1);
    assert_eq!(aftaler[0].aftale_status(), dtr_proto::tilslutning::AftaleStatus::Godkendt);
    assert_eq!(aftaler[0].ejer_navn, "Børnehuset Solsikken Vuggestue");
    b.client.clone().close().await.unwrap();
}

/// The periodic check's findings, shown to the owner's data-access administrator — not to others.
#[tokio::test]
async fn an_owner_sees_its_findings() {
    let r = cluster::embedded().await;
    let portal = r.soap_base();
    // A unit whose production unit has ended in CVR, stored past the rules on purpose.
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let data = dtr_registry::model::AnvisningsenhedData {
        daginstitutions_nummer: "G30004".into(),
        navn: "Lukket P-nummer".into(),
        adresse: dtr_registry::model::Adresse {
            vej_navn: "Amagerbrogade".into(),
            hus_nummer: "30".into(),
            post_nummer: "2300".into(),
            post_distrikt: "København S".into(),
            kommune_kode: 101,
            ..Default::default()
        },
        inst_type3: 6011,
        p_nummer: "1099999999".into(),
        ..Default::default()
    };
    let aktoer = crate::common::aktoer("test", "test");
    let stored = store.insert_anvisningsenhed(&data, Some("64942212"), &aktoer, &dtr_registry::storage::no_checks);
    let nummer = stored.await.unwrap().done().unwrap().nummer;
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["revalidate"])
        .env("DTR_DATABASE_URL", &r.db)
        .env("DTR_TILSLUTNING_URL", &r.tilslutning_url)
        .env("DTR_PKI_DIR", &r.pki)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("kontrolleret: "), "progress shown in a log");

    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.pki.parent().unwrap().join("demo-credentials.json")).unwrap()).unwrap();
    let login = |role: &str| {
        let p = creds["persons"].as_array().unwrap().iter().find(|p| p["role"] == role).unwrap();
        (p["username"].as_str().unwrap().to_owned(), p["password"].as_str().unwrap().to_owned())
    };
    let b = Browser::start().await;
    let (u, p) = login("Dataadgangsadministrator");
    b.log_in(&portal, &u, &p).await;
    b.follow("Registerfund").await;
    b.shows("Registerkontrollens fund for København Kommune").await;
    b.shows(&nummer).await;
    b.shows("DTR0405").await;
    b.assert_accessible("Registerfund").await;
    b.screenshot("registerfund").await;
    b.log_out().await;
    // A provider's person is no data owner: refused, by direct address too.
    let (u, p) = login("Udbyderadministrator");
    b.log_in(&portal, &u, &p).await;
    b.goto(&format!("{portal}/registerfund")).await;
    b.shows("Registerfund vises for dataejerens dataadgangsadministratorer.").await;
    b.client.clone().close().await.unwrap();
}

/// The back office: a Registeradministrator maintains the register by hand through exactly the
/// ImportService's rules — a refused change shows its code at the field, a valid one is audited
/// with the person — and no one else may.
#[tokio::test]
async fn the_back_office_keeps_the_rules() {
    let r = cluster::embedded().await;
    let portal = r.soap_base();
    let admin = person(&r, "register.admin", "STIL", Rolle::Registeradministrator).await;
    let b = Browser::start().await;
    b.log_in(&portal, &admin.0, &admin.1).await;
    b.follow("Backoffice: ret registerets enheder").await;
    b.fill("Find enhed (nummer)", "g30000").await;
    b.click_button("Find").await;
    b.arrives_at("/backoffice/G30000").await;
    b.shows("Ret daginstitution").await;

    // An unknown ejerform: the ImportService's code and message, at the field.
    b.fill("Ejerform (kode)", "9").await;
    b.click_button("Gem ændringer").await;
    b.shows("DTR0104").await;
    let at_field = b.text_of("ret-daginstitution-ejerformkode-fejl").await;
    assert!(at_field.contains("DTR0104") && at_field.contains("ejerformKode"), "{at_field}");
    b.assert_accessible("Backoffice, afvist ændring").await;
    b.screenshot("backoffice-fejl").await;
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    assert_eq!(store.get_daginstitution("G30000").await.unwrap().unwrap().data.ejerform_kode, 1, "nothing changed");

    // A valid change: written, and the audit names the person.
    b.fill("Ejerform (kode)", "1").await;
    b.fill("Navn", "Solsikken (rettet i backoffice)").await;
    b.click_button("Gem ændringer").await;
    b.shows("G30000 er rettet.").await;
    b.screenshot("backoffice").await;
    assert_eq!(store.get_daginstitution("G30000").await.unwrap().unwrap().data.navn, "Solsikken (rettet i backoffice)");
    let req = dtr_proto::tilslutning::ListPersonerRequest { soeg: "register.admin".into(), ..Default::default() };
    let id =
        r.tilslutning().await.list_personer(som("STIL", req)).await.unwrap().into_inner().personer[0].person_id.clone();
    let pool = dtr_migrations::sqlite_pool(&r.db).await.unwrap();
    let (system, operation): (String, String) =
        sqlx::query_as("SELECT system, operation FROM audit WHERE nummer = 'G30000' ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((system.as_str(), operation.as_str()), (format!("person:{id}").as_str(), "UpdateDaginstitution"));

    // A new anvisningsenhed under it: an address DAR does not know is refused at the street,
    // then a real one is created with its CVR number from the P-number.
    b.goto(&format!("{portal}/backoffice/G30000")).await;
    for (id, v) in [
        ("opret-anvisningsenhed-enhedsnavn", "Backoffice-enheden"),
        ("opret-anvisningsenhed-adresse-vejnavn", "Ukendt Vej"),
        ("opret-anvisningsenhed-adresse-husnummer", "1"),
        ("opret-anvisningsenhed-adresse-postnummer", "2300"),
        ("opret-anvisningsenhed-insttype3", "6011"),
        ("opret-anvisningsenhed-pnummer", "1012345678"),
    ] {
        b.client.find(fantoccini::Locator::Id(id)).await.unwrap().send_keys(v).await.unwrap();
    }
    b.click_button("Opret anvisningsenhed").await;
    b.shows("DTR0402").await;
    assert!(
        b.text_of("opret-anvisningsenhed-adresse-vejnavn-fejl").await.contains("DTR0402"),
        "DAR's answer at the street"
    );
    b.assert_accessible("Backoffice, afvist enhed").await;
    let street = b.client.find(fantoccini::Locator::Id("opret-anvisningsenhed-adresse-vejnavn")).await.unwrap();
    street.clear().await.unwrap();
    street.send_keys("Amagerbrogade").await.unwrap();
    b.click_button("Opret anvisningsenhed").await;
    b.shows("er oprettet.").await;
    b.shows("Ret anvisningsenhed").await;
    assert!(b.text().await.contains("Backoffice-enheden"));

    // Close an alternativ adresse; create a daginstitution.
    b.goto(&format!("{portal}/backoffice/G30002")).await;
    b.click_button("Luk G30002").await;
    b.shows("G30002 er lukket.").await;
    b.goto(&format!("{portal}/backoffice")).await;
    b.fill("Navn", "Ny fra backoffice").await;
    b.fill("Ejerform (kode)", "1").await;
    b.fill("Lovgrundlag (kode)", "1").await;
    b.fill("Administrerende kommune (kode)", "101").await;
    b.click_button("Opret daginstitution").await;
    b.shows("er oprettet.").await;
    b.assert_accessible("Backoffice").await;
    b.log_out().await;

    // Others may not: the operator's staff without the role, by page and by direct address.
    let operator = person(&r, "kun.operatoer", "STIL", Rolle::Operatoer).await;
    b.log_in(&portal, &operator.0, &operator.1).await;
    b.goto(&format!("{portal}/backoffice/G30000")).await;
    b.shows("Backoffice er for STIL's registeradministratorer.").await;
    b.client.clone().close().await.unwrap();
}
