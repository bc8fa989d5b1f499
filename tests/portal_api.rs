//! The portal's JSON API, exercised by following its OpenAPI document as served
//! (`/api/openapi.json`): every documented operation exists, answers only a person with a role
//! for the organisation named, and answers only with a documented status; then the agreement
//! path is walked by operationId — the same one the pages offer — and a person of one
//! organisation cannot decide another's agreement through it.

use crate::common;

use serde_json::{Value, json};

use common::cluster::{self, Running};
use common::grpc::som;

struct Api {
    http: reqwest::Client,
    base: String,
    doc: Value,
}

struct Svar {
    status: u16,
    body: Value,
    www_authenticate: Option<String>,
}

impl Api {
    async fn new(r: &Running) -> Api {
        let cert = reqwest::Certificate::from_pem(&std::fs::read(&r.cert).unwrap()).unwrap();
        let http = reqwest::Client::builder().add_root_certificate(cert).build().unwrap();
        let base = r.soap_base();
        let doc: Value = http.get(format!("{base}/api/openapi.json")).send().await.unwrap().json().await.unwrap();
        Api { http, base, doc }
    }

    /// Every documented operation: (operationId, method, path).
    fn operations(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((op["operationId"].as_str().unwrap().to_owned(), method.clone(), path.clone()));
            }
        }
        out
    }

    fn operation(&self, id: &str) -> (String, String, Value) {
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op["operationId"] == id {
                    return (method.clone(), path.clone(), op.clone());
                }
            }
        }
        panic!("operation {id} is not in the OpenAPI document");
    }

    /// Calls operation `id` as `who` for `org`, with path parameter `param` and `body` (else the
    /// documented example); checks the status is one the document lists.
    async fn call(&self, id: &str, who: Option<(&str, &str)>, org: &str, param: &str, body: Option<Value>) -> Svar {
        let (method, path, op) = self.operation(id);
        let url = format!("{}{}", self.base, path.replace("{id}", param));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self.http.request(method, url).header("Dtr-Organisation", org);
        if let Some((u, p)) = who {
            req = req.basic_auth(u, Some(p));
        }
        let example = op["requestBody"]["content"]["application/json"]["example"].clone();
        let body = body.or((!example.is_null()).then_some(example));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let www_authenticate = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            op["responses"].get(status.to_string()).is_some(),
            "{id} answered {status}, which is not documented: {body}"
        );
        Svar { status, body, www_authenticate }
    }
}

async fn scenario(r: &Running, provider: (&str, &str, &str), kommune: (&str, &str), operator: (&str, &str)) {
    let api = Api::new(r).await;
    let (p_user, p_pw, p_org) = provider;
    let p = Some((p_user, p_pw));
    let k = Some(kommune);
    let o = Some(operator);

    // Every documented operation exists and is closed to strangers and to the wrong organisation.
    let operations = api.operations();
    assert!(operations.len() >= 15, "{operations:?}");
    for (id, _, _) in &operations {
        let none = api.call(id, None, p_org, "x", None).await;
        assert_eq!(none.status, 401, "{id} without a login");
        assert!(none.www_authenticate.is_some_and(|h| h.starts_with("Basic")));
        let other = api.call(id, p, "147", "x", None).await;
        assert_eq!(other.status, 403, "{id} for an organisation without a role: {}", other.body);
        assert!(other.body["fejl"].as_str().is_some_and(|f| !f.is_empty()));
    }

    // A body that is not JSON of the kind expected: 400 with the reason in Danish — for a
    // stranger, 401 first.
    let garbled = |who: Option<(&str, &str)>| {
        let mut req = api.http.post(format!("{}/api/systemer", api.base)).header("Dtr-Organisation", p_org);
        if let Some((u, pw)) = who {
            req = req.basic_auth(u, Some(pw));
        }
        req.header("content-type", "application/json").body("{\"navn\": 7")
    };
    let resp = garbled(p).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["fejl"].as_str().is_some_and(|f| f.starts_with("Kroppen er ikke gyldig")), "{body}");
    assert_eq!(garbled(None).send().await.unwrap().status(), 401);

    // A wrong password counts toward the lock-out, like the login form's.
    let wrong = api.call("listSystemer", Some((p_user, "forkert")), p_org, "", None).await;
    assert_eq!(wrong.status, 401);

    // The agreement path, by operationId.
    let body = json!({ "navn": "API-systemet", "kontakt_navn": "Pia Drift", "kontakt_email": "pia@udbyder.example" });
    let made = api.call("opretSystem", p, p_org, "", Some(body)).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["system"]["kontaktperson"]["email"], "pia@udbyder.example");
    let bad = json!({ "navn": "Forkert", "kontakt_email": "ikke en adresse" });
    assert_eq!(api.call("opretSystem", p, p_org, "", Some(bad)).await.status, 400, "a bad contact e-mail");
    let system = made.body["system"]["system_id"].as_str().unwrap().to_owned();
    assert!(made.body["adgangskode"].as_str().unwrap().len() >= 16);
    let listed = api.call("listSystemer", p, p_org, "", None).await;
    assert!(listed.body["systemer"].as_array().unwrap().iter().any(|s| s["system_id"] == system));
    let asked = api
        .call("anmodTilslutning", p, p_org, "", Some(json!({ "system_id": system, "services": ["ImportService"] })))
        .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let tilslutning = asked.body["aftaler"][0]["aftale_id"].as_str().unwrap().to_owned();
    let denied = api.call("beslutTilslutning", p, p_org, &tilslutning, None).await;
    assert_eq!(denied.status, 403, "a provider approves its own request: {}", denied.body);
    let approved = api.call("beslutTilslutning", o, "STIL", &tilslutning, None).await;
    assert_eq!(approved.body["status"], "GODKENDT", "{}", approved.body);

    let body = json!({ "system_id": system, "service": "ImportService", "ejere": ["101"], "kommentar": "via API" });
    let asked = api.call("anmodDataadgang", p, p_org, "", Some(body)).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let waiting = api.call("listAftaler", k, "101", "", None).await;
    assert!(
        waiting.body["dataaftaler"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["system_id"] == system && a["status"] == "VENTER")
    );
    let bulk =
        api.call("beslutAlleVentende", k, "101", "", Some(json!({ "til": "GODKENDT", "kommentar": "robot" }))).await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    assert!(!bulk.body["besluttet"].as_array().unwrap().is_empty());
    let seen = api.call("listAftaler", p, p_org, "", None).await;
    let aftale =
        seen.body["dataaftaler"].as_array().unwrap().iter().find(|a| a["system_id"] == system).unwrap().clone();
    let last = aftale["historik"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["aktoer"].as_str(), last["til"].as_str(), last["kommentar"].as_str()),
        (Some("101"), Some("GODKENDT"), Some("robot"))
    );

    // A kommune's person cannot decide another owner's agreement through the API.
    let list = dtr_proto::tilslutning::ListAftalerRequest { ejer_kode: "147".into(), ..Default::default() };
    let theirs = r.tilslutning().await.list_dataaftaler(som("STIL", list)).await.unwrap().into_inner().aftaler;
    let theirs = &theirs.first().expect("147 has an agreement").aftale_id;
    let forged = api.call("beslutDataadgang", k, "101", theirs, Some(json!({ "til": "AFVIST" }))).await;
    assert_eq!(forged.status, 403, "{}", forged.body);

    // Recipients, the password, passive, blocking.
    let added = api.call("tilmeldModtager", p, p_org, "", None).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let listed = api.call("listModtagere", p, p_org, "", None).await;
    assert_eq!(listed.body["modtagere"], json!(["drift@example.dk"]));
    assert_eq!(api.call("fjernModtager", p, p_org, "", None).await.status, 200);
    let renewed = api.call("fornyAdgangskode", p, p_org, &system, None).await;
    assert!(renewed.body["gammel_udloeber"].is_string(), "{}", renewed.body);
    assert_eq!(api.call("saetPassiv", p, p_org, &system, None).await.body["passiv"], true);
    let blocked = api.call("blokerSystem", o, "STIL", &system, None).await;
    assert_eq!(blocked.body["blokeret"], true, "{}", blocked.body);
    assert_eq!(api.call("blokerSystem", p, p_org, &system, None).await.status, 403, "a provider blocks nothing");
    assert_eq!(api.call("frigivSystem", o, "STIL", &system, None).await.body["blokeret"], false);
    assert_eq!(api.call("hentOrganisation", k, "101", "", None).await.body["kode"], "101");
    assert_eq!(api.call("listUdbakke", p, p_org, "", None).await.status, 403, "only the operator sees the outbox");
    assert!(api.call("listUdbakke", o, "STIL", "", None).await.body["mails"].is_array());

    // The operator's catalogue, persons and providers, by the same rules as the pages.
    assert_eq!(api.call("gemService", p, p_org, "", None).await.status, 403, "only STIL keeps the catalogue");
    let saved = api.call("gemService", o, "STIL", "", None).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let catalogue = api.call("listServices", p, p_org, "", None).await;
    let statistik =
        catalogue.body["services"].as_array().unwrap().iter().find(|s| s["servicekode"] == "StatistikService");
    assert_eq!(statistik.expect("the new service is listed")["formaal"], "Statistik");
    let import = catalogue.body["services"].as_array().unwrap().iter().find(|s| s["servicekode"] == "ImportService");
    assert!(
        import.is_some_and(|s| s["operationer"].as_array().unwrap().iter().any(|o| o["kraever_dataaftale"] == true))
    );
    let bad = json!({ "servicekode": "Ugyldig kode!", "navn": "x" });
    assert_eq!(api.call("gemService", o, "STIL", "", Some(bad)).await.status, 400);

    assert_eq!(api.call("opretPerson", p, p_org, "", None).await.status, 403, "only STIL creates persons");
    let made = api.call("opretPerson", o, "STIL", "", None).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let (ny, ny_pw) = (made.body["person"]["brugernavn"].as_str().unwrap(), made.body["adgangskode"].as_str().unwrap());
    let id = made.body["person"]["person_id"].as_str().unwrap();
    let given = api.call("saetRolle", o, "STIL", id, None).await;
    assert_eq!(given.body["roller"][0]["rolle"], "DATAADGANGSADMINISTRATOR", "{}", given.body);
    assert_eq!(api.call("hentOrganisation", Some((ny, ny_pw)), "101", "", None).await.body["kode"], "101");
    assert!(api.call("listPersoner", o, "STIL", "", None).await.body["personer"].as_array().unwrap().len() >= 2);
    assert_eq!(api.call("listPersoner", k, "101", "", None).await.status, 403);

    let made = api.call("opretUdbyder", o, "STIL", "", None).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(api.call("opretUdbyder", o, "STIL", "", None).await.status, 409, "registered twice");
    assert_eq!(api.call("saetUdbyderPassiv", o, "STIL", "NYUDB", None).await.body["passiv"], true);
    let listed = api.call("listUdbydere", o, "STIL", "", None).await;
    assert!(
        listed.body["udbydere"].as_array().unwrap().iter().any(|u| u["kode"] == "NYUDB" && u["kommentar"] == "Ophørt")
    );
    // The directory is every person's (a provider looks owners up), the operator's comment is not.
    let seen = api.call("listUdbydere", p, p_org, "", None).await;
    let nyudb = seen.body["udbydere"].as_array().unwrap().iter().find(|u| u["kode"] == "NYUDB").unwrap().clone();
    assert_eq!(nyudb["passiv"], true);
    assert!(nyudb.get("kommentar").is_none_or(|k| k == ""), "{nyudb}");
}

#[tokio::test]
async fn the_api_follows_its_openapi_document_embedded() {
    let r = cluster::embedded().await;
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.pki.parent().unwrap().join("demo-credentials.json")).unwrap()).unwrap();
    let person = |role: &str| {
        let p = creds["persons"].as_array().unwrap().iter().find(|p| p["role"] == role).unwrap();
        (p["username"].as_str().unwrap().to_owned(), p["password"].as_str().unwrap().to_owned())
    };
    let (pu, pp) = person("Udbyderadministrator");
    let (ku, kp) = person("Dataadgangsadministrator");
    let (ou, op) = person("Operatør");
    scenario(&r, (&pu, &pp, "DEMO01"), (&ku, &kp), (&ou, &op)).await;
}

#[tokio::test]
async fn the_api_follows_its_openapi_document_distributed() {
    use dtr_proto::tilslutning::Rolle;
    let r = cluster::distributed().await;
    common::grpc::register_kommuner(&r).await;
    let (pu, pp) = common::grpc::person(&r, "api.udbyder", "UDB1", Rolle::Udbyderadministrator).await;
    let (ku, kp) = common::grpc::person(&r, "api.kommune", "101", Rolle::Dataadgangsadministrator).await;
    let (ou, op) = common::grpc::person(&r, "api.stil", "STIL", Rolle::Operatoer).await;
    scenario(&r, (&pu, &pp, "UDB1"), (&ku, &kp), (&ou, &op)).await;
}
