//! Login to the portal through a real OpenID provider (`oidc-provider`, started here), in the
//! embedded and the distributed mode: a person logs in with headless Chromium and gets the roles
//! the provider's claims grant; the claims are followed at every login beside the operator's own
//! role assignments; and the attacks on the flow are refused — a tampered `state`, a replayed
//! code (in the same browser and under a new attempt) and an ID token with a wrong `nonce`.

use crate::common;

use dtr_proto::tilslutning::{
    CreateOrganisationRequest, ListPersonerRequest, Organisation, OrganisationType, Rolle, SetRolleRequest,
};
use serde_json::json;

use common::browser::Browser;
use common::cluster::{self, Running};
use common::grpc::som;
use common::oidc::{CVR_CLAIM, Op, RIGHT};

/// The kommune the test's person administers, by the CVR number in the provider's claim.
const KOMMUNE: &str = "165";
const KOMMUNE_CVR: &str = "64502018";

fn accounts(anne_has_the_right: bool) -> serde_json::Value {
    let rettigheder = if anne_has_the_right { vec![RIGHT] } else { vec!["Noget andet"] };
    json!({
        "anne": { "name": "Anne Andersen", "email": "anne@albertslund.example",
                  CVR_CLAIM: KOMMUNE_CVR, "rettigheder": rettigheder },
        "bo": { "name": "Bo Bertelsen", CVR_CLAIM: [KOMMUNE_CVR], "rettigheder": ["Noget andet"] },
    })
}

async fn register_kommune(r: &Running) {
    let org = Organisation {
        kode: KOMMUNE.into(),
        navn: "Albertslund Kommune".into(),
        cvr: KOMMUNE_CVR.into(),
        r#type: OrganisationType::Kommune as i32,
        ..Default::default()
    };
    let req = CreateOrganisationRequest { organisation: Some(org) };
    r.tilslutning().await.create_organisation(som("STIL", req)).await.unwrap();
}

/// A browser without JavaScript at the HTTP level, for the attacks: one client for the portal and
/// one for the provider's own login pages, each keeping its cookies; the provider's redirects are
/// followed up to the moment it sends the browser back to the portal.
struct Flow {
    portal: reqwest::Client,
    op: reqwest::Client,
    base: String,
}

impl Flow {
    fn new(r: &Running, op: &Op) -> Flow {
        let cert = reqwest::Certificate::from_pem(&std::fs::read(&r.cert).unwrap()).unwrap();
        let portal = reqwest::Client::builder()
            .add_root_certificate(cert)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let op_port = op.port;
        let within_op =
            reqwest::redirect::Policy::custom(
                move |a| {
                    if a.url().port() == Some(op_port) { a.follow() } else { a.stop() }
                },
            );
        let op = reqwest::Client::builder().cookie_store(true).redirect(within_op).build().unwrap();
        Flow { portal, op, base: r.soap_base() }
    }

    /// Starts an attempt at the portal: the provider's authorization address it sends us to.
    async fn begin(&self) -> reqwest::Url {
        let resp = self.portal.get(format!("{}/log-paa/oidc", self.base)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "the portal sends the browser to the provider");
        let to = resp.headers()["location"].to_str().unwrap();
        let url = reqwest::Url::parse(to).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let has = |k: &str| q.iter().any(|(n, v)| n == k && !v.is_empty());
        assert!(has("state") && has("nonce") && has("code_challenge"), "state, nonce and PKCE: {to}");
        assert!(q.iter().any(|(n, v)| n == "code_challenge_method" && v == "S256"));
        url
    }

    /// Logs in as `login` at the provider; the address it sends the browser back to.
    async fn at_provider(&self, authorize: reqwest::Url, login: &str) -> reqwest::Url {
        let page = self.op.get(authorize).send().await.unwrap();
        let form_url = page.url().clone();
        let body = page.text().await.unwrap();
        let action = body.split("action=\"").nth(1).expect("the provider's login form").split('"').next().unwrap();
        let action = form_url.join(action).unwrap();
        let back = self
            .op
            .post(action)
            .form(&[("prompt", "login"), ("login", login), ("password", "hvad-som-helst")])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 303, "the provider sends the browser back");
        let to = back.headers()["location"].to_str().unwrap();
        assert!(to.starts_with(&format!("{}/log-paa/oidc/svar?", self.base)), "{to}");
        reqwest::Url::parse(to).unwrap()
    }

    /// The browser's return to the portal: its status and page.
    async fn back(&self, url: &reqwest::Url) -> (u16, String) {
        let resp = self.portal.get(url.clone()).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Whether this browser is logged in at the portal (the choice of organisation is only for
    /// persons logged in; anyone else is sent to the login page).
    async fn logged_in(&self) -> bool {
        let resp = self.portal.get(format!("{}/vaelg-organisation", self.base)).send().await.unwrap();
        resp.status() == 200
    }
}

fn with_param(url: &reqwest::Url, name: &str, value: &str) -> reqwest::Url {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), if k == name { value } else { v.as_str() })));
    out
}

fn param(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap()
}

const REFUSED: &str = "Log-in lykkedes ikke";

async fn oidc_people(r: &Running) -> Vec<dtr_proto::tilslutning::Person> {
    let req = ListPersonerRequest { soeg: "oidc:".into(), ..Default::default() };
    r.tilslutning().await.list_personer(som("STIL", req)).await.unwrap().into_inner().personer
}

async fn logs_in_and_refuses_attacks(r: &Running, op: &Op, mode: &str) {
    register_kommune(r).await;

    // A person logs in with a real browser: the login page offers the provider, the provider's
    // own login page takes over, and the portal receives the person with the kommune's role.
    let b = Browser::start().await;
    b.goto(&format!("{}/log-paa", r.soap_base())).await;
    b.assert_accessible(&format!("oidc-log-paa-{mode}")).await;
    b.screenshot(&format!("oidc-log-paa-{mode}")).await;
    b.follow("Log på med NemLog-in").await;
    b.shows("Sign-in").await;
    // The provider's development login page has no labels: its fields by name.
    for (name, text) in [("login", "anne"), ("password", "hvad-som-helst")] {
        let field = b.client.find(fantoccini::Locator::Css(&format!("input[name={name}]"))).await.unwrap();
        field.send_keys(text).await.unwrap();
    }
    b.click_button("Sign-in").await;
    b.arrives_at("/").await;
    b.shows("Anne Andersen").await;
    b.shows("handler for Albertslund Kommune").await;
    b.assert_accessible(&format!("oidc-forside-{mode}")).await;
    b.screenshot(&format!("oidc-forside-{mode}")).await;

    let people = oidc_people(r).await;
    assert_eq!(people.len(), 1, "{people:?}");
    let anne = &people[0];
    assert_eq!(anne.navn, "Anne Andersen");
    assert_eq!(anne.email, "anne@albertslund.example");
    assert_eq!(anne.roller.len(), 1);
    assert_eq!(
        (anne.roller[0].organisation_kode.as_str(), anne.roller[0].rolle()),
        (KOMMUNE, Rolle::Dataadgangsadministrator)
    );

    // The operator gives her one more role; a later login finds the same person with both, and
    // the "Vælg organisation" page offers both.
    let req = SetRolleRequest {
        person_id: anne.person_id.clone(),
        organisation_kode: "147".into(),
        rolle: Rolle::Dataadgangsadministrator as i32,
        har: true,
    };
    if mode == "distributed" {
        common::grpc::register_kommuner(r).await;
    }
    r.tilslutning().await.set_rolle(som("STIL", req)).await.unwrap();
    let flow = Flow::new(r, op);
    let back = flow.at_provider(flow.begin().await, "anne").await;
    let (status, page) = flow.back(&back).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/vaelg-organisation"), "two organisations: choose one: {page}");
    let people = oidc_people(r).await;
    assert_eq!(people.len(), 1, "the same person, not a new one");
    assert_eq!(people[0].roller.len(), 2, "{:?}", people[0].roller);

    // The provider withdraws the right: the claim's role goes at her next login, the operator's
    // stays.
    op.set_accounts(accounts(false));
    let flow = Flow::new(r, op);
    let back = flow.at_provider(flow.begin().await, "anne").await;
    assert_eq!(flow.back(&back).await.0, 200);
    let roller = &oidc_people(r).await[0].roller;
    assert_eq!(roller.len(), 1, "{roller:?}");
    assert_eq!(roller[0].organisation_kode, "147");
    op.set_accounts(accounts(true));

    // A person whose claims hold no right gets in, with no organisation to act for.
    let flow = Flow::new(r, op);
    let back = flow.at_provider(flow.begin().await, "bo").await;
    assert_eq!(flow.back(&back).await.0, 200);
    let people = oidc_people(r).await;
    let bo = people.iter().find(|p| p.navn == "Bo Bertelsen").expect("Bo is known now");
    assert!(bo.roller.is_empty(), "{:?}", bo.roller);

    // A tampered state: refused, nothing logged in, and the attempt is used up.
    let flow = Flow::new(r, op);
    let back = flow.at_provider(flow.begin().await, "anne").await;
    let (status, page) = flow.back(&with_param(&back, "state", "tampered-state")).await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains(REFUSED), "{page}");
    assert!(!flow.logged_in().await);
    let (status, _) = flow.back(&back).await;
    assert_eq!(status, 401, "the attempt is over once answered, even wrongly");
    assert!(!flow.logged_in().await);

    // A replayed code: in the same browser after a login…
    let flow = Flow::new(r, op);
    let back = flow.at_provider(flow.begin().await, "anne").await;
    assert_eq!(flow.back(&back).await.0, 200);
    assert!(flow.logged_in().await);
    let (status, page) = flow.back(&back).await;
    assert_eq!(status, 401, "{page}");
    // …and by someone else, who starts an attempt of their own and hands in the used code.
    let attacker = Flow::new(r, op);
    let own = attacker.begin().await;
    let stolen = with_param(&back, "state", &param(&own, "state"));
    let (status, page) = attacker.back(&stolen).await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains(REFUSED));
    assert!(!attacker.logged_in().await);

    // A wrong nonce: the provider is asked for a token with another nonce than the attempt's;
    // state and code are right, the ID token is signed, and it is refused for the nonce.
    let flow = Flow::new(r, op);
    let authorize = flow.begin().await;
    let back = flow.at_provider(with_param(&authorize, "nonce", "a-nonce-of-the-attackers"), "anne").await;
    let (status, page) = flow.back(&back).await;
    assert_eq!(status, 401, "{page}");
    assert!(!flow.logged_in().await);
    let logs: String = r.procs.iter().map(|p| p.log()).collect();
    assert!(logs.contains("Invalid nonce"), "the audit log names the reason");
    assert!(logs.contains("state does not match"), "the audit log names the reason");
    assert!(logs.contains("the provider refused the code"), "the replayed code was the provider's to refuse");

    // The provider's answer without any attempt, or with an error, logs nobody in.
    let (status, _) = Flow::new(r, op).back(&back).await;
    assert_eq!(status, 401);
    let flow = Flow::new(r, op);
    let authorize = flow.begin().await;
    let error = reqwest::Url::parse(&format!(
        "{}/log-paa/oidc/svar?error=access_denied&state={}",
        r.soap_base(),
        param(&authorize, "state")
    ))
    .unwrap();
    assert_eq!(flow.back(&error).await.0, 401);
    assert!(!flow.logged_in().await);
}

/// The provider, then the system with the provider configured: the provider must know the
/// portal's callback address, so the port is chosen first.
async fn provider_for(port: u16) -> Op {
    let callback = format!("https://127.0.0.1:{port}/log-paa/oidc/svar");
    Op::start(&callback, accounts(true)).await
}

#[tokio::test]
async fn oidc_login_embedded() {
    let port = common::free_port();
    let op = provider_for(port).await;
    let r = cluster::embedded_on(port, &op.portal_env()).await;
    logs_in_and_refuses_attacks(&r, &op, "embedded").await;
}

#[tokio::test]
async fn oidc_login_distributed() {
    let port = common::free_port();
    let op = provider_for(port).await;
    let mut env = op.portal_env();
    env.push(("DTR_PUBLIC_URL", format!("https://127.0.0.1:{port}")));
    let r = cluster::distributed_gateway_on(port, &[], &env).await;
    logs_in_and_refuses_attacks(&r, &op, "distributed").await;
    assert!(op.log().contains("op ready"));
}
