//! The portal's login over real HTTPS, as a browser without JavaScript uses it: the form, CSRF on
//! every form, wrong passwords and the lock-out, a new session at login, choosing an
//! organisation, pages that show only the chosen organisation's data, log-out — in the embedded
//! mode (demo persons, the portal beside SOAP) and the distributed one (persons the operator
//! creates over gRPC, the portal as its own process: `dtr portal`).

use crate::common;

use dtr_proto::tilslutning::{CreatePersonRequest, Rolle, SetRolleRequest};

use common::cluster::{self, Running};
use common::grpc::som;

/// A browser: keeps the session cookie, follows no redirects (the tests look at them).
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// The CSRF token of the page's (first) form.
    fn csrf(&self) -> String {
        let start = self.body.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + 19;
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// Where the portal is served: its base URL and its TLS certificate.
#[derive(Clone)]
struct Portal {
    base: String,
    cert: std::path::PathBuf,
}

impl Portal {
    /// Beside SOAP on the gateway's listener.
    fn beside_soap(r: &Running) -> Portal {
        Portal { base: r.soap_base(), cert: r.cert.clone() }
    }
}

impl Browser {
    fn new(p: &Portal) -> Browser {
        let cert = reqwest::Certificate::from_pem(&std::fs::read(&p.cert).unwrap()).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(cert)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http, base: p.base.clone(), cookie: None }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", format!("__Host-dtr_session={c}")),
            None => req,
        };
        let resp = req.send().await.unwrap();
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let value = v.strip_prefix("__Host-dtr_session=").unwrap().split(';').next().unwrap();
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let headers = resp.headers().clone();
        Page { status, location, headers, body: resp.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    async fn login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/log-paa").await;
        let csrf = form.csrf();
        self.post("/log-paa", &[("csrf", &csrf), ("brugernavn", user), ("adgangskode", password)]).await
    }
}

async fn scenario(r: &Running, portal: &Portal, provider: (&str, &str), kommune: (&str, &str)) {
    let mut b = Browser::new(portal);

    // The login form, as a person sees it.
    let form = b.get("/log-paa").await;
    assert_eq!(form.status, 200);
    for text in [
        r#"<label class="form-label" for="brugernavn">Brugernavn</label>"#,
        r#"for="adgangskode">Adgangskode</label>"#,
        ">Log på</button>",
    ] {
        assert!(form.body.contains(text), "{text} missing: {}", form.body);
    }
    let csp = form.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(form.headers.get("x-frame-options").unwrap(), "DENY");
    let anonymous = b.cookie.clone().expect("the login form has a session for its CSRF token");

    // Without its CSRF token the form does nothing; wrong passwords are told apart from nothing.
    let (user, password) = provider;
    let no_csrf = b.post("/log-paa", &[("brugernavn", user), ("adgangskode", password)]).await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    let wrong = b.login(user, "forkert").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Forkert brugernavn eller adgangskode."));
    let unknown = b.login("ingen-person", "forkert").await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("Forkert brugernavn eller adgangskode."));

    // The right password: a new session (the anonymous id is not reused), the provider's page.
    let ok = b.login(user, password).await;
    assert_eq!((ok.status, ok.location.as_deref()), (303, Some("/")), "{}", ok.body);
    assert_ne!(b.cookie.as_deref(), Some(anonymous.as_str()), "a login starts a new session");
    let front = b.get("/").await;
    assert_eq!(front.status, 200);
    assert!(front.body.contains("Udbydersystemer") && front.body.contains("udbyderadministrator"), "{}", front.body);
    assert_eq!(front.headers.get("cache-control").unwrap(), "no-store");

    // Acting for an organisation without a role is refused, by form and by forged form.
    let vaelg = b.get("/vaelg-organisation").await;
    let csrf = vaelg.csrf();
    let other = b.post("/vaelg-organisation", &[("csrf", &csrf), ("organisation", kommune.0)]).await;
    assert_eq!(other.status, 403, "{}", other.body);
    assert!(b.get("/").await.body.contains("Udbydersystemer"), "still acting for the provider");

    // Log-out needs the token too, then ends the session.
    let no = b.post("/log-ud", &[("csrf", "forkert")]).await;
    assert_eq!(no.status, 403);
    let kept = b.cookie.clone().unwrap();
    let out = b.post("/log-ud", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/log-paa")));
    b.cookie = Some(kept);
    let after = b.get("/").await;
    assert_eq!(after.location.as_deref(), Some("/log-paa"), "the old session id opens nothing");

    // A kommune's person sees its waiting requests, never a provider's systems.
    let mut k = Browser::new(portal);
    let ok = k.login(kommune.0, kommune.1).await;
    assert_eq!(ok.status, 303);
    let front = k.get("/").await;
    assert!(
        front.body.contains("Dataadgange, der venter") && !front.body.contains("Udbydersystemer"),
        "{}",
        front.body
    );

    // …nor changes another owner's agreement by posting to its address directly.
    let list = || dtr_proto::tilslutning::ListAftalerRequest { ejer_kode: "147".into(), ..Default::default() };
    let theirs = r.tilslutning().await.list_dataaftaler(som("STIL", list())).await.unwrap().into_inner().aftaler;
    let theirs = theirs.first().expect("147 has an agreement");
    let csrf = k.get("/").await.csrf();
    let url = format!("/dataadgange/{}/beslut", theirs.aftale_id);
    let forged = k.post(&url, &[("csrf", &csrf), ("til", "AFVIST"), ("kommentar", "ond")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let after = r.tilslutning().await.list_dataaftaler(som("STIL", list())).await.unwrap().into_inner().aftaler;
    assert_eq!(after.first().unwrap().aftale_status, theirs.aftale_status, "unchanged");
    let made = k.post("/systemer/nyt", &[("csrf", &csrf), ("navn", "Kommunens eget")]).await;
    assert!(made.status >= 400 && made.body.contains("ikke en registreret leverandør"), "{}", made.body);

    // A body that is not the form expected gets the Danish error page, and nothing happens.
    let garbled = k.post("/notifikationer/fjern", &[("csrf", &csrf), ("email", "a"), ("email", "b")]).await;
    let not_a_form = k.send(k.http.post(format!("{}/log-paa", k.base)).body("brugernavn=x")).await;
    for page in [&garbled, &not_a_form] {
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(
            page.body.contains("Formularen kunne ikke læses") && page.body.contains("lang=\"da\""),
            "{}",
            page.body
        );
    }

    // The lock-out: after the limit even the right password is refused for a while.
    let mut l = Browser::new(portal);
    for _ in 0..10 {
        l.login(user, "forkert").await;
    }
    let locked = l.login(user, password).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("For mange forkerte forsøg"));
}

#[tokio::test]
async fn portal_login_embedded() {
    let r = cluster::embedded().await;
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.pki.parent().unwrap().join("demo-credentials.json")).unwrap()).unwrap();
    let person = |role: &str| {
        let p = creds["persons"].as_array().unwrap().iter().find(|p| p["role"] == role).unwrap();
        (p["username"].as_str().unwrap().to_owned(), p["password"].as_str().unwrap().to_owned())
    };
    assert!(creds["portal_url"].as_str().unwrap().starts_with("https://"));
    let (u, p) = person("Udbyderadministrator");
    let (ku, kp) = person("Dataadgangsadministrator");
    assert_eq!(creds["persons"].as_array().unwrap().len(), 3);
    scenario(&r, &Portal::beside_soap(&r), (&u, &p), (&ku, &kp)).await;
}

#[tokio::test]
async fn portal_login_distributed() {
    let r = cluster::distributed().await;
    let mut c = r.tilslutning().await;
    let kommune = dtr_proto::tilslutning::Organisation {
        kode: "101".into(),
        navn: "København Kommune".into(),
        r#type: dtr_proto::tilslutning::OrganisationType::Kommune as i32,
        ..Default::default()
    };
    let req = dtr_proto::tilslutning::CreateOrganisationRequest { organisation: Some(kommune) };
    c.create_organisation(som("STIL", req)).await.unwrap();
    let person = |brugernavn: &'static str, org: &'static str, rolle: Rolle| {
        let mut c = c.clone();
        async move {
            let req =
                CreatePersonRequest { brugernavn: brugernavn.into(), navn: brugernavn.into(), email: String::new() };
            let made = c.create_person(som("STIL", req)).await.unwrap().into_inner();
            let id = made.person.unwrap().person_id;
            let req = SetRolleRequest { person_id: id, organisation_kode: org.into(), rolle: rolle as i32, har: true };
            c.set_rolle(som("STIL", req)).await.unwrap();
            made.adgangskode
        }
    };
    let p = person("udbyder.admin", "UDB1", Rolle::Udbyderadministrator).await;
    let k = person("kommune.admin", "101", Rolle::Dataadgangsadministrator).await;
    let portal = own_process(&r).await;
    scenario(&r, &portal.0, ("udbyder.admin", &p), ("kommune.admin", &k)).await;
}

/// `dtr portal` in front of the distributed services: its own HTTPS listener (a self-signed
/// certificate in its data directory), the portal's certificate from the deployment's PKI.
async fn own_process(r: &Running) -> (Portal, common::Proc, common::TempDir) {
    let dir = common::TempDir::new();
    let port = common::free_port();
    let base = format!("https://127.0.0.1:{port}");
    let env = [
        ("DTR_HTTPS_ADDR", format!("127.0.0.1:{port}")),
        ("DTR_TILSLUTNING_URL", r.tilslutning_url.clone()),
        ("DTR_EXPORT_URL", r.export_url.clone()),
        ("DTR_IMPORT_URL", r.import_url.clone()),
        ("DTR_PKI_DIR", r.pki.display().to_string()),
        ("DTR_DATA_DIR", dir.path().join("portal").display().to_string()),
    ];
    let proc = common::Proc::spawn("portal", &["portal"], &env, dir.path());
    common::wait_until("the portal to be healthy", common::START_LIMIT, || {
        let base = base.clone();
        async move {
            std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
                .args(["healthcheck", "portal", "--addr", &base])
                .output()
                .is_ok_and(|o| o.status.success())
        }
    })
    .await;
    // The line is written by a task of its own once the socket is bound, so it may follow the
    // first healthy answer by a moment.
    common::wait_until("the portal to log where it listens", std::time::Duration::from_secs(5), || {
        let logged = proc.log().contains("portal listening");
        async move { logged }
    })
    .await;
    (Portal { base, cert: dir.path().join("portal/tls/cert.pem") }, proc, dir)
}
