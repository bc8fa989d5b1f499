//! The portal in a real browser (headless Chromium), as a person uses it: log in through the
//! form by its labels, land on the organisation's page, choose organisation, log out; every page
//! passes axe-core's WCAG 2.1 A/AA rules, and screenshots are kept in
//! `target/test-artifacts/portal/`.

use crate::common;

use common::browser::Browser;
use common::cluster;

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

    b.goto(&format!("{portal}/vaelg-organisation")).await;
    assert!(b.text().await.contains("Hvilken organisation handler du for?"));
    b.assert_accessible("Vælg organisation").await;
    b.screenshot("vaelg-organisation").await;
    b.click_button("Fortsæt").await;
    b.arrives_at("/").await;

    b.click_button("Log ud").await;
    b.arrives_at("/log-paa").await;
    b.goto(&format!("{portal}/")).await;
    assert_eq!(b.path().await, "/log-paa", "logged out for good");
    b.client.clone().close().await.unwrap();
}
