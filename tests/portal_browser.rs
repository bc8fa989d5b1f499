//! The portal in a real browser (headless Chromium), as a person uses it: log in through the
//! form by its labels, land on the organisation's page, choose organisation, log out; every page
//! passes axe-core's WCAG 2.1 A/AA rules, and screenshots are kept in
//! `target/test-artifacts/portal/`.

use crate::common;

use dtr_proto::tilslutning::Rolle;

use common::browser::Browser;
use common::cluster::{self, Running};
use common::grpc::{person, som};
use common::smtp::SmtpServer;
use common::{IMPORT, free_port, payload, wait_until, xml_text};
use std::time::Duration;

#[tokio::test]
async fn a_provider_logs_in_and_out_in_a_browser() {
    let r = cluster::embedded().await;
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.pki.parent().unwrap().join("demo-credentials.json")).unwrap()).unwrap();
    let persons = creds["persons"].as_array().unwrap();
    let provider = persons.iter().find(|p| p["role"] == "Udbyderadministrator").unwrap();
    let portal = creds["portal_url"].as_str().unwrap().trim_end_matches('/').to_owned();
    let b = Browser::start().await;

    b.goto(&format!("{portal}/")).await;
    assert_eq!(b.path().await, "/log-paa", "not logged in: the login form");
    b.assert_accessible("Log på").await;
    b.screenshot("log-paa").await;

    b.fill("Brugernavn", provider["username"].as_str().unwrap()).await;
    b.fill("Adgangskode", "forkert").await;
    b.click_button("Log på").await;
    b.shows("Forkert brugernavn eller adgangskode.").await;
    b.assert_accessible("Log på, forkert adgangskode").await;
    b.screenshot("log-paa-fejl").await;

    b.fill("Adgangskode", provider["password"].as_str().unwrap()).await;
    b.click_button("Log på").await;
    b.arrives_at("/").await;
    let text = b.text().await;
    assert!(text.contains("Demo Pladsanvisning ApS") && text.contains("Demo pladsanvisningssystem"), "{text}");
    b.assert_accessible("Forside (udbyder)").await;
    b.screenshot("forside-udbyder").await;
    b.fits_phone("forside-udbyder").await;

    b.goto(&format!("{portal}/vaelg-organisation")).await;
    assert!(b.text().await.contains("Hvilken organisation handler du for?"));
    b.assert_accessible("Vælg organisation").await;
    b.screenshot("vaelg-organisation").await;
    b.fits_phone("vaelg-organisation").await;
    b.click_button("Fortsæt").await;
    b.arrives_at("/").await;

    b.click_button("Log ud").await;
    b.arrives_at("/log-paa").await;
    b.goto(&format!("{portal}/")).await;
    assert_eq!(b.path().await, "/log-paa", "logged out for good");
    b.client.clone().close().await.unwrap();
}

/// The whole path from persons' clicks to the gateway's decision: a provider creates a system
/// (its password shown once) and asks for the ImportService, the operator approves, the provider
/// asks kommune 101 and 147 for data access with a comment, 101 approves and 147 rejects with a
/// comment — then the system's SOAP insert in 101 succeeds and in 147 is refused.
async fn click_path(r: &Running, provider_org: &str, smtp: &SmtpServer, links: bool) {
    let portal = r.soap_base();
    let provider = person(r, "udbyder.person", provider_org, Rolle::Udbyderadministrator).await;
    let operator = person(r, "stil.person", "STIL", Rolle::Operatoer).await;
    let kbh = person(r, "kbh.person", "101", Rolle::Dataadgangsadministrator).await;
    let frb = person(r, "frb.person", "147", Rolle::Dataadgangsadministrator).await;

    let b = Browser::start().await;
    b.log_in(&portal, &provider.0, &provider.1).await;
    // The provider's notification recipient.
    b.follow("Notifikationer").await;
    b.fill("E-mailadresse", "drift@udbyder.example").await;
    b.click_button("Tilmeld email").await;
    b.shows("drift@udbyder.example er tilmeldt.").await;
    b.assert_accessible("Notifikationer").await;
    b.screenshot("notifikationer").await;
    b.goto(&format!("{portal}/")).await;
    b.follow("Nyt system").await;
    b.assert_accessible("Nyt system").await;
    b.fill("Systemets navn", "Browsersystemet").await;
    b.fill("Kontaktpersonens navn", "Pia Drift").await;
    b.fill("Kontaktpersonens e-mail", "pia@udbyder.example").await;
    b.fill("Kontaktpersonens telefon", "33 12 34 56").await;
    b.click_button("Opret system").await;
    b.shows("Gem adgangskoden nu").await;
    b.assert_accessible("Systemet er oprettet").await;
    b.screenshot("system-oprettet").await;
    let (system, brugernavn, adgangskode) =
        (b.text_of("system-id").await, b.text_of("brugernavn").await, b.text_of("adgangskode").await);
    assert!(adgangskode.len() >= 16, "{adgangskode}");

    b.goto(&format!("{portal}/")).await;
    b.shows("Pia Drift, pia@udbyder.example, 33 12 34 56").await;
    b.follow("Anmod om at bruge ny webservice").await;
    b.assert_accessible("Anmod om at bruge ny webservice").await;
    b.select("System", &system).await;
    b.check("ImportService").await;
    b.click_button("Send anmodning").await;
    b.arrives_at("/").await;
    b.shows("Anmodningen om ImportService er sendt til STIL.").await;
    b.log_out().await;

    b.log_in(&portal, &operator.0, &operator.1).await;
    b.shows(&system).await;
    b.assert_accessible("Forside (operatør)").await;
    b.screenshot("forside-operatoer").await;
    b.fits_phone("forside-operatoer").await;
    b.fill_in_row(&system, "kommentar", "Velkommen").await;
    b.click_in_row(&system, "Godkend").await;
    b.shows(&format!("Aftalen med Browsersystemet ({system}) er godkendt.")).await;
    b.log_out().await;

    b.log_in(&portal, &provider.0, &provider.1).await;
    b.follow("Anmod om dataadgang").await;
    b.assert_accessible("Anmod om dataadgang").await;
    b.select("System", &system).await;
    b.select("Webservice", "ImportService").await;
    b.fill("Dataejere", "101 147").await;
    b.fill("Kommentar (valgfri)", "Vi er pladsanvisning for jer").await;
    b.click_button("Send anmodning").await;
    b.shows("Anmodningen om dataadgang er sendt til 101, 147.").await;
    b.log_out().await;

    b.log_in(&portal, &kbh.0, &kbh.1).await;
    b.shows(&system).await;
    b.assert_accessible("Forside (kommune)").await;
    b.screenshot("forside-kommune").await;
    b.fits_phone("forside-kommune").await;
    // 101 answers everything waiting at once.
    b.fill("Kommentar til alle ventende", "Godkendt af 101").await;
    b.click_button("Godkend alle med status Venter").await;
    b.shows("1 ventende aftale(r) er godkendt.").await;
    b.follow("Aftaler og historik").await;
    b.follow("Godkendt").await;
    b.shows("Godkendt af 101").await;
    b.assert_accessible("Aftaler (godkendt)").await;
    b.screenshot("aftaler-godkendt").await;
    b.log_out().await;

    b.log_in(&portal, &frb.0, &frb.1).await;
    b.fill_in_row(&system, "kommentar", "Ikke vores institutioner").await;
    b.click_in_row(&system, "Afvis").await;
    b.shows(&format!("Aftalen med Browsersystemet ({system}) er afvist.")).await;
    // The history: who, when, from, to and the comment.
    b.follow("Aftaler og historik").await;
    b.follow("Afvist").await;
    let text = b.text().await;
    let hvem = [&format!("{} (147)", frb.0), &format!("{} ({provider_org})", provider.0)];
    for part in
        ["Venter", "Afvist", "Ikke vores institutioner", "Vi er pladsanvisning for jer", " UTC", hvem[0], hvem[1]]
    {
        assert!(text.contains(part), "{part} missing from the history:\n{text}");
    }
    assert!(!text.contains("Godkendt af 101"), "147 sees 101's agreement:\n{text}");
    b.log_out().await;

    // The provider sees its agreements per system and per data owner, by name.
    b.log_in(&portal, &provider.0, &provider.1).await;
    b.goto(&format!("{portal}/aftaler?status=GODKENDT")).await;
    b.shows(&format!("Browsersystemet ({system})")).await;
    b.check("Pr. dataejer").await;
    b.click_button("Vis").await;
    b.shows("Dataejer København Kommune (101)").await;
    b.assert_accessible("Aftaler pr. dataejer").await;
    b.screenshot("aftaler-pr-dataejer").await;
    b.fits_phone("aftaler-pr-dataejer").await;
    b.follow("Afvist").await;
    b.shows("Dataejer Frederiksberg Kommune (147)").await;
    b.log_out().await;
    b.client.clone().close().await.unwrap();

    // The operator sees those mails in the outbox.
    let b = Browser::start().await;
    b.log_in(&portal, &operator.0, &operator.1).await;
    b.follow("Udbakke").await;
    b.shows("drift@udbyder.example").await;
    b.assert_accessible("Udbakke").await;
    b.screenshot("udbakke").await;
    b.log_out().await;
    b.client.clone().close().await.unwrap();

    // The provider's recipient hears of both decisions, with a link to where it can see them.
    for (status, kommentar) in [("GODKENDT", "Godkendt af 101"), ("AFVIST", "Ikke vores institutioner")] {
        let subject = format!("dataaftale for ImportService er nu {status}");
        wait_until(&format!("a mail: {subject}"), Duration::from_secs(30), || {
            let found = mail_to(smtp, "drift@udbyder.example", &subject).is_some();
            async move { found }
        })
        .await;
        let mail = mail_to(smtp, "drift@udbyder.example", &subject).unwrap();
        assert!(mail.contains(&system) && mail.contains(kommentar), "{mail}");
        if links {
            assert!(mail.contains(&format!("{portal}/aftaler?status={status}")), "no link to the page: {mail}");
        }
    }

    // The gateway obeys at once: the new system writes in 101, not in 147.
    let soap = r.soap.with_login(&brugernavn, &adgangskode);
    let insert = |sted| payload::daginstitution(sted, "Klik-børnehaven");
    let in_101 = soap.call(IMPORT, "InsertDaginstitution", &insert(payload::KOEBENHAVN)).await;
    assert_eq!(xml_text(&in_101.body, "status"), Some("OK"), "{}", in_101.body);
    let in_147 = soap.call(IMPORT, "InsertDaginstitution", &insert(payload::FREDERIKSBERG)).await;
    assert_eq!(xml_text(&in_147.body, "ErrorCode"), Some("IPL000015"), "{}", in_147.body);

    // The provider renews the password: the new one works, the old one for the overlap.
    let b = Browser::start().await;
    b.log_in(&portal, &provider.0, &provider.1).await;
    b.click_in_row(&system, "Forny adgangskode").await;
    b.shows("Gem adgangskoden nu").await;
    b.assert_accessible("Ny adgangskode").await;
    let ny = b.text_of("adgangskode").await;
    assert_ne!(ny, adgangskode);
    // Passive systems are hidden until "Vis passive" is ticked.
    b.goto(&format!("{portal}/")).await;
    b.click_in_row(&system, "Gør systemet passivt").await;
    b.shows("passive system(er) er skjult.").await;
    assert!(!b.has_row(&system).await, "a passive system is hidden by default");
    b.check("Vis passive").await;
    b.click_button("Opdatér listen").await;
    b.shows_row(&system).await;
    b.assert_accessible("Systemer med passive").await;
    b.click_in_row(&system, "Aktivér systemet").await;
    b.shows(&system).await;
    b.log_out().await;
    let hello = |login: &common::Soap| {
        let login = login.clone();
        async move { login.call(IMPORT, "HelloWorld", "").await }
    };
    assert_eq!(hello(&r.soap.with_login(&brugernavn, &ny)).await.status, 200, "the new password");
    assert_eq!(hello(&soap).await.status, 200, "the old password during the overlap");

    // The operator blocks the system with a reason (every call refused), then lifts it.
    b.log_in(&portal, &operator.0, &operator.1).await;
    b.follow("Alle udbydersystemer: bloker og frigiv").await;
    b.assert_accessible("Alle udbydersystemer").await;
    b.fill(&format!("Årsag til blokering af {system}"), "Misbrug af dataadgang").await;
    b.click_in_row(&system, "Bloker").await;
    b.shows(&format!("Systemet {system} er blokeret.")).await;
    let blocked = hello(&soap).await;
    assert_eq!(xml_text(&blocked.body, "ErrorCode"), Some("IPL000011"), "{}", blocked.body);
    b.click_button(&format!("Frigiv {system}")).await;
    b.shows(&format!("Systemet {system} er frigivet.")).await;
    assert_eq!(hello(&soap).await.status, 200);
    // Its last use shows; among the systems unused for 12 months it is not.
    b.shows(&chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string()).await;
    b.check("Kun systemer, der ikke er brugt i 12 måneder").await;
    b.click_button("Opdatér listen").await;
    b.arrives_at("/systemer").await;
    b.shows("Alle udbydersystemer").await;
    wait_until("the filtered list", Duration::from_secs(10), || async { !b.has_row(&system).await }).await;
    b.log_out().await;
    b.client.clone().close().await.unwrap();

    // The history shows who decided, from and to what, and why.
    let list = dtr_proto::tilslutning::ListAftalerRequest { udbydersystem_id: system.clone(), ..Default::default() };
    let aftaler = r.tilslutning().await.list_dataaftaler(som("STIL", list)).await.unwrap().into_inner().aftaler;
    let afvist = aftaler.iter().find(|a| a.ejer_kode == "147").unwrap();
    let sidste = afvist.historik.last().unwrap();
    assert_eq!((sidste.aktoer.as_str(), sidste.kommentar.as_str()), ("147", "Ikke vores institutioner"));
    assert_eq!(sidste.person, frb.0, "the person who decided, by name");
    assert_eq!(afvist.historik[0].person, provider.0, "the person who asked");
}

/// The text of a received mail to `to` about `subject`.
fn mail_to(smtp: &SmtpServer, to: &str, subject: &str) -> Option<String> {
    smtp.received()
        .into_iter()
        .map(|m| (m.to.clone(), m.text()))
        .find(|(t, text)| t.iter().any(|t| t == to) && text.contains(subject))
        .map(|(_, text)| text)
}

#[tokio::test]
async fn from_a_persons_click_to_the_gateways_decision_embedded() {
    let port = free_port();
    let smtp = SmtpServer::start(port).await;
    let r = cluster::embedded_with(&[("DTR_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    click_path(&r, "DEMO01", &smtp, true).await;
}

#[tokio::test]
async fn from_a_persons_click_to_the_gateways_decision_distributed() {
    let port = free_port();
    let smtp = SmtpServer::start(port).await;
    let r = cluster::distributed_with(&[("DTR_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]).await;
    common::grpc::register_kommuner(&r).await;
    // The services start before the gateway's port is known, so mails point to the portal by
    // name only here.
    click_path(&r, "UDB1", &smtp, false).await;
}

/// The operator creates a person (password shown once) and gives roles that fit the
/// organisation; the person then logs in and acts for it. A role that does not fit is refused.
#[tokio::test]
async fn the_operator_creates_a_person_and_gives_a_role() {
    let r = cluster::embedded().await;
    let portal = r.soap_base();
    let operator = person(&r, "stil.admin", "STIL", Rolle::Operatoer).await;
    let b = Browser::start().await;
    b.log_in(&portal, &operator.0, &operator.1).await;
    b.follow("Personer og roller").await;
    b.fill("Brugernavn", "aarhus.admin").await;
    b.fill("Navn", "Aase Aarhus").await;
    b.click_button("Opret person").await;
    b.shows("Adgangskoden til aarhus.admin").await;
    let password = b.text_of("ny-adgangskode").await;
    b.assert_accessible("Personer og roller").await;
    b.screenshot("personer").await;

    b.fill("Organisation for aarhus.admin", "751").await;
    b.select("Rolle for aarhus.admin", "UDBYDERADMINISTRATOR").await;
    b.click_in_row("aarhus.admin", "Giv rolle").await;
    b.shows("rollen UDBYDERADMINISTRATOR kan ikke gives for organisationen 751").await;
    b.goto(&format!("{portal}/personer")).await;
    b.fill("Organisation for aarhus.admin", "751").await;
    b.select("Rolle for aarhus.admin", "DATAADGANGSADMINISTRATOR").await;
    b.click_in_row("aarhus.admin", "Giv rolle").await;
    b.shows("aarhus.admin har nu rollen Dataadgangsadministrator for 751.").await;

    // The providers' register: no self sign-up, STIL registers and can make one passive.
    b.goto(&format!("{portal}/udbydere")).await;
    b.fill("Kode", "NYUDB").await;
    b.fill("Navn", "Ny Leverandør ApS").await;
    b.fill("CVR-nummer", "12345678").await;
    b.click_button("Registrér leverandør").await;
    b.shows("Leverandøren Ny Leverandør ApS (NYUDB) er registreret.").await;
    b.assert_accessible("Leverandører").await;
    b.fill_in_row("NYUDB", "kommentar", "Ophørt").await;
    b.click_in_row("NYUDB", "Gør passiv").await;
    b.shows("NYUDB er gjort passiv.").await;
    b.click_in_row("NYUDB", "Aktivér").await;
    b.shows("NYUDB er aktiveret.").await;

    // The service catalogue: what each service is for, which operations need a data-access
    // agreement; the operator describes a new one, and providers see it when they ask.
    b.goto(&format!("{portal}/")).await;
    b.follow("Servicekatalog").await;
    b.shows("Operationer, der kræver dataaftale").await;
    b.shows("InsertDaginstitution").await;
    b.fill("Servicekode", "StatistikService").await;
    b.fill("Navn", "StatistikService").await;
    b.fill("Formål", "Statistik over dagtilbud").await;
    b.fill("Data, som servicen bærer", "Antal dagtilbud pr. kommune").await;
    b.fill("Operationer uden dataaftale", "HentTal").await;
    b.fill("Versioner", "v1").await;
    b.click_button("Gem i servicekataloget").await;
    b.shows("StatistikService er gemt i servicekataloget.").await;
    b.shows("Statistik over dagtilbud").await;
    b.assert_accessible("Servicekatalog").await;
    b.screenshot("servicekatalog").await;
    b.fits_phone("servicekatalog").await;
    b.fill("Servicekode", "Ugyldig kode").await;
    b.fill("Navn", "x").await;
    b.click_button("Gem i servicekataloget").await;
    b.shows("servicekode (bogstaver og cifre").await;
    b.assert_accessible("Det lykkedes ikke (fejlside)").await;
    b.screenshot("fejlside").await;
    b.log_out().await;

    b.log_in(&portal, "aarhus.admin", &password).await;
    b.shows("Aarhus Kommune").await;
    b.shows("Du handler som dataadgangsadministrator.").await;
    b.log_out().await;
    b.client.clone().close().await.unwrap();
}
