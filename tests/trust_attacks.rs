//! The trust findings replayed through real sockets, in the embedded and the distributed mode:
//! each attack is refused, and the legitimate flow beside it still works (docs/security.md).
//!
//! - gRPC without a certificate gets no connection; a certificate without a token, a token for
//!   another service, an expired one, one signed by another key, or one carried over another
//!   part's connection is `UNAUTHENTICATED`;
//! - the forged-identity attacks of the findings (acting as STIL, a kommune or a system with
//!   unsigned metadata, creating providers and systems, rotating passwords, approving one's own
//!   agreements, the internal RPCs) are refused, and lists show only what the caller may see;
//! - control characters are refused in every writable text field through SOAP 1.1, 1.2 and gRPC,
//!   and one planted straight into the database never breaks an answer.

use crate::common;

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::import::{InsertAnvisningsEnhedRequest, InsertDaginstitutionRequest, SaetKodeRequest};
use dtr_proto::registry::{Adresse, Anvisningsenhed, Daginstitution};
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{
    AuthenticateRequest, BlockSystemRequest, CheckAccessRequest, CreateOrganisationRequest, CreateSystemRequest,
    ListAftalerRequest, ListOrganisationerRequest, ListServicesRequest, ListSystemsRequest, MeldRegisterfundRequest,
    Notifikationsmodtager, Organisation, OrganisationType, RotateCredentialsRequest,
};
use dtr_trust::{Minter, Part, PartCredentials, PkiDir, TlsMaterial};
use tonic::Code;
use tonic::metadata::MetadataValue;

use common::cluster::{self, Running};
use common::grpc::som;
use common::{EXPORT, IMPORT, payload, xml_text};

/// The stable code of a refusal.
fn fejlkode(s: &tonic::Status) -> &str {
    s.metadata().get("x-dtr-fejlkode").and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn daginstitution(navn: &str) -> Daginstitution {
    Daginstitution {
        daginstitutions_navn: navn.into(),
        ejerform_kode: 1,
        lovgrundlag_kode: 1,
        adm_kommune_kode: 101,
        ..Default::default()
    }
}

/// A request carrying only what an attacker can send: unsigned identity metadata.
fn forged<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert("x-dtr-system", MetadataValue::from_static("demo-system-1"));
    req.metadata_mut().insert("x-dtr-organisation", MetadataValue::from_static("STIL"));
    req
}

async fn attacks(r: Running) {
    let pki = PkiDir::new(&r.pki);
    let gateway_tls = TlsMaterial::part(&pki, Part::Gateway).unwrap();

    // --- No certificate: no connection ---
    let plain = tonic::transport::Endpoint::from_shared(r.import_url.replace("https://", "http://")).unwrap();
    let refused = match plain.connect().await {
        Err(_) => true,
        Ok(channel) => ImportServiceClient::new(channel)
            .insert_daginstitution(forged(InsertDaginstitutionRequest { daginstitution: Some(daginstitution("X")) }))
            .await
            .is_err(),
    };
    assert!(refused, "plain-text gRPC is answered");
    let ca_only = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(pki.ca_cert()).unwrap()))
        .domain_name(Part::Import.dns_name());
    let no_cert = tonic::transport::Endpoint::from_shared(r.import_url.clone()).unwrap().tls_config(ca_only).unwrap();
    let refused = match no_cert.connect().await {
        Err(_) => true,
        Ok(channel) => {
            ImportServiceClient::new(channel).hello_world(dtr_proto::import::HelloWorldRequest {}).await.is_err()
        }
    };
    assert!(refused, "TLS without a client certificate is answered");
    let other_ca = common::TempDir::new();
    let foreign = PkiDir::new(other_ca.path());
    foreign.init().unwrap();
    let foreign_gateway = PartCredentials::load(&foreign, Part::Gateway).unwrap();
    let reached = match foreign_gateway.connect(&r.import_url, Part::Import).await {
        Err(_) => false,
        Ok(channel) => {
            ImportServiceClient::new(channel).hello_world(dtr_proto::import::HelloWorldRequest {}).await.is_ok()
        }
    };
    assert!(!reached, "a certificate of another CA is accepted");

    // --- A valid certificate but no token, or a bad one ---
    let raw = gateway_tls.endpoint(&r.import_url, Part::Import).unwrap().connect().await.unwrap();
    let mut unsigned = ImportServiceClient::new(raw.clone());
    let insert = || InsertDaginstitutionRequest { daginstitution: Some(daginstitution("Uden tegn")) };
    let s = unsigned.insert_daginstitution(forged(insert())).await.unwrap_err();
    assert_eq!((s.code(), fejlkode(&s)), (Code::Unauthenticated, "TRU0001"), "{s:?}");

    let system = Principal::System { id: "demo-system-1".into(), udbyder: "DEMO01".into() };
    let gateway_minter = Minter::load(&pki, Part::Gateway).unwrap();
    let with_token = |token: String| {
        let mut req = tonic::Request::new(insert());
        req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        req
    };
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let bad_tokens = [
        ("another audience", gateway_minter.token(&system, Part::Export).unwrap()),
        ("expired", gateway_minter.mint_with(&system, Part::Import, now() - 600, dtr_trust::token::LIFETIME).unwrap()),
        ("another key", Minter::ephemeral(Part::Gateway).token(&system, Part::Import).unwrap()),
        ("not a token", "eyJhbGciOiJub25lIn0.e30.".to_owned()),
    ];
    for (what, token) in bad_tokens {
        let s = unsigned.insert_daginstitution(with_token(token)).await.unwrap_err();
        assert_eq!((s.code(), fejlkode(&s)), (Code::Unauthenticated, "TRU0002"), "{what}: {s:?}");
    }
    // The gateway's genuine token, carried over the portal's connection.
    let portal_tls = TlsMaterial::part(&pki, Part::Portal).unwrap();
    let portal_raw = portal_tls.endpoint(&r.import_url, Part::Import).unwrap().connect().await.unwrap();
    let s = ImportServiceClient::new(portal_raw)
        .insert_daginstitution(with_token(gateway_minter.token(&system, Part::Import).unwrap()))
        .await
        .unwrap_err();
    assert_eq!((s.code(), fejlkode(&s)), (Code::Unauthenticated, "TRU0003"), "{s:?}");

    // --- The forged identities of the findings ---
    let portal = r.part(Part::Portal);
    let gateway = r.part(Part::Gateway);
    let import_url = r.import_url.clone();
    let mut t_portal =
        TilslutningServiceClient::new(portal.connect(&r.tilslutning_url, Part::Tilslutning).await.unwrap());
    let mut t_gateway =
        TilslutningServiceClient::new(gateway.connect(&r.tilslutning_url, Part::Tilslutning).await.unwrap());
    let mut i_gateway = ImportServiceClient::new(gateway.connect(&import_url, Part::Import).await.unwrap());

    // Creating a provider "as STIL" with unsigned metadata, and as a system through the gateway.
    let evil = || CreateOrganisationRequest {
        organisation: Some(Organisation {
            kode: "EVIL01".into(),
            navn: "Ond".into(),
            r#type: OrganisationType::Udbyder as i32,
            ..Default::default()
        }),
    };
    let s = t_portal.create_organisation(forged(evil())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "the portal itself is no one: {s:?}");
    let as_system = CallerContext::new(system.clone());
    let s = t_gateway.create_organisation(as_system.request(evil())).await.unwrap_err();
    assert_eq!((s.code(), fejlkode(&s)), (Code::PermissionDenied, "TRU0004"));
    let s = t_portal.create_organisation(som("101", evil())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "a kommune is not the operator");
    // A kommune's person cannot create systems for a provider, nor rotate its passwords.
    let s = t_portal
        .create_system(som(
            "101",
            CreateSystemRequest { udbyder_kode: "DEMO".into(), navn: "Ond".into(), ..Default::default() },
        ))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let rotate = || RotateCredentialsRequest { udbydersystem_id: "demo-system-1".into() };
    let s = t_portal.rotate_credentials(som("101", rotate())).await.unwrap_err();
    assert_ne!(s.code(), Code::Ok);
    let s = t_gateway.rotate_credentials(as_system.request(rotate())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "a system cannot rotate through the gateway's channel");

    // Blocking a system, another organisation's recipients, the directory: not for just anyone.
    let block = || BlockSystemRequest { udbydersystem_id: "demo-system-1".into(), aarsag: "ond".into() };
    let s = t_portal.block_system(som("101", block())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "a kommune blocks a system");
    let s = t_gateway.block_system(as_system.request(block())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "a system blocks a system");
    let phishing = Notifikationsmodtager { organisation_kode: "101".into(), email: "ond@evil.example".into() };
    let s = t_portal.add_notifikationsmodtager(som("147", phishing)).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "147 adds a recipient to 101");
    let s = t_portal.list_organisationer(forged(ListOrganisationerRequest::default())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "the directory for unsigned metadata");
    let s = t_portal.list_services(forged(ListServicesRequest::default())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "the catalogue for unsigned metadata");

    // The internal RPCs admit only their parts.
    let s = t_portal
        .authenticate(som("STIL", AuthenticateRequest { brugernavn: "demo-system".into(), adgangskode: "x".into() }))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "password guessing around the gateway's lock-out");
    let check = CheckAccessRequest {
        udbydersystem_id: "demo-refused-1".into(),
        servicekode: "ExportService".into(),
        operation: "GetAllDaginstitutioner".into(),
        fuldt_udtraek: true,
        ..Default::default()
    };
    let s = t_portal.check_access(som("STIL", check)).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "burning another system's extract quota");
    let s = t_portal.meld_registerfund(som("101", MeldRegisterfundRequest::default())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "queueing mails with a phishing link");
    let s = t_gateway.meld_registerfund(MeldRegisterfundRequest::default()).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "the gateway hands no findings over");
    let kode = || SaetKodeRequest { navn: "insttype3".into(), kode: 6011, tekst: "Forfalsket".into() };
    let s = i_gateway.saet_kode(kode()).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "changing a code table as the gateway");
    let s = i_gateway.saet_kode(as_system.request(kode())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied, "changing a code table as a system");
    let table = r.soap.call(EXPORT, "GetKodetabel", "<d:navn>insttype3</d:navn>").await.body;
    assert!(table.contains("<kode>6011</kode>") && !table.contains("Forfalsket"), "{table}");

    // Lists show only what the caller is a party to.
    let all = ListAftalerRequest::default;
    let kommune_sees = t_portal.list_tilslutninger(som("101", all())).await.unwrap().into_inner().aftaler;
    assert!(kommune_sees.is_empty(), "a kommune is party to no connection agreement: {kommune_sees:?}");
    let stil_sees = t_portal.list_tilslutninger(som("STIL", all())).await.unwrap().into_inner().aftaler;
    assert!(!stil_sees.is_empty(), "the operator sees every connection agreement");
    let data_101 = t_portal.list_dataaftaler(som("101", all())).await.unwrap().into_inner().aftaler;
    assert!(!data_101.is_empty() && data_101.iter().all(|a| a.ejer_kode == "101"), "{data_101:?}");
    let data_147 = t_portal
        .list_dataaftaler(som("147", ListAftalerRequest { ejer_kode: "101".into(), ..all() }))
        .await
        .unwrap()
        .into_inner()
        .aftaler;
    assert!(data_147.is_empty(), "kommune 147 reads 101's agreements: {data_147:?}");
    let s = t_gateway.list_dataaftaler(as_system.request(all())).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let systems = t_portal.list_systems(som("101", ListSystemsRequest::default())).await.unwrap().into_inner();
    assert!(systems.systems.is_empty(), "a kommune lists no provider's systems");

    // --- Beside it, the legitimate flow: a SOAP write, audited with the provider ---
    let a = r.soap.call(IMPORT, "InsertDaginstitution", &payload::daginstitution(payload::KOEBENHAVN, "Tillid")).await;
    assert_eq!(xml_text(&a.body, "status"), Some("OK"), "{}", a.body);
    let nummer = xml_text(&a.body, "nummer").unwrap().to_owned();
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let audit = store.audit_by_correlation(a.correlation_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].organisation.as_deref().is_some_and(|o| !o.is_empty()), "the provider is audited: {audit:?}");

    // --- Control characters: refused on every path in ---
    let bad_names = ["Ond&#x1b;navn", "Ond&#x1;navn", "Ond&#x7f;navn", "Ond&#xFFFE;navn"];
    for bad in bad_names {
        let a = r.soap.call(IMPORT, "InsertDaginstitution", &payload::daginstitution(payload::KOEBENHAVN, bad)).await;
        assert!(refused_in_band_or_fault(&a.body), "SOAP 1.1 {bad}: {}", a.body);
    }
    let soap12 = |inner: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="urn:dtr:import:v2"><s:Body><d:InsertDaginstitution>{inner}</d:InsertDaginstitution></s:Body></s:Envelope>"#
        )
    };
    for bad in ["Ond&#x1b;navn", "Ond\u{1b}navn", "Ond\u{0}navn"] {
        let body = soap12(&payload::daginstitution(payload::KOEBENHAVN, bad));
        let a = r.soap.post_raw(IMPORT, "application/soap+xml; charset=utf-8", body).await;
        assert!(refused_in_band_or_fault(&a.body), "SOAP 1.2 {bad:?}: {}", a.body);
    }
    // Every text field of an anvisningsenhed through gRPC, as the gateway sends a system's write.
    let evil = |s: &str| format!("Ond\u{1b}{s}");
    let enhed = Anvisningsenhed {
        daginstitutions_nummer: nummer.clone(),
        enheds_navn: evil("navn"),
        adresse: Some(Adresse {
            vej_navn: evil("vej"),
            hus_nummer: "10\u{1}".into(),
            etage: Some(evil("etage")),
            doer: Some(evil("dør")),
            post_nummer: "2300".into(),
            post_distrikt: evil("by"),
            supplerende_bynavn: Some(evil("sup")),
            ..Default::default()
        }),
        inst_type3: 6011,
        email: Some("ond\u{1b}@x.dk".into()),
        telefon_nummer: Some("12\u{7f}".into()),
        p_nummer: "1012345678".into(),
        ..Default::default()
    };
    let svar = i_gateway
        .insert_anvisnings_enhed(as_system.request(InsertAnvisningsEnhedRequest { anvisningsenhed: Some(enhed) }))
        .await
        .unwrap()
        .into_inner();
    assert!(!svar.ok);
    let felter: Vec<&str> = svar.fejl.iter().filter(|f| f.kode == "DTR0106").map(|f| f.felt.as_str()).collect();
    for felt in [
        "EnhedsNavn",
        "Adresse.vejNavn",
        "Adresse.husNummer",
        "Adresse.etage",
        "Adresse.doer",
        "Adresse.postDistrikt",
        "Adresse.supplerendeBynavn",
        "Email",
        "TelefonNummer",
    ] {
        assert!(felter.contains(&felt), "{felt} not refused through gRPC: {:?}", svar.fejl);
    }

    // --- …and one planted in the database never breaks an answer ---
    plant(&r.db, &nummer, "Plantet\u{1b}\u{1}\u{7f}navn").await;
    for (op, inner) in [
        ("GetDaginstitutionByNummer", format!("<d:DagInstitutionsNummer>{nummer}</d:DagInstitutionsNummer>")),
        ("GetDagtilbudByAdmKommuneNummer", "<d:AdmkommuneNummer>101</d:AdmkommuneNummer>".to_owned()),
        ("GetAllDaginstitutioner", String::new()),
    ] {
        let a = r.soap.call(EXPORT, op, &inner).await;
        assert_eq!(a.status, 200, "{op}: {}", a.body);
        common::export_schema_valid(&a.body, op);
        if op == "GetDaginstitutionByNummer" {
            assert!(a.body.contains("Plantet\u{FFFD}\u{FFFD}\u{FFFD}navn"), "{}", a.body);
        }
    }
    let csv = r.soap.get("/csv/daginstitution.csv").await.text().await.unwrap();
    assert!(!csv.contains('\u{1b}') && csv.contains("Plantet\u{FFFD}"), "the CSV carries it raw");
}

/// Refused either in the ImportSvar (`DTR0106` on the name) or as a client fault for XML that is
/// not well-formed; never written.
fn refused_in_band_or_fault(body: &str) -> bool {
    let in_band = xml_text(body, "status") == Some("FEJL") && body.contains("DTR0106");
    let fault = body.contains("Fault>") && !body.contains("<status>OK</status>");
    in_band || fault
}

/// Writes `navn` into a stored daginstitution straight through SQL, past every rule.
async fn plant(db: &str, nummer: &str, navn: &str) {
    use sqlx::Connection;
    if db.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(db).await.unwrap();
        sqlx::query("UPDATE daginstitution SET navn = $1 WHERE nummer = $2")
            .bind(navn)
            .bind(nummer)
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(db).await.unwrap();
        sqlx::query("UPDATE daginstitution SET navn = ?1 WHERE nummer = ?2")
            .bind(navn)
            .bind(nummer)
            .execute(&mut c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn attacks_are_refused_embedded() {
    attacks(cluster::embedded().await).await;
}

#[tokio::test]
async fn attacks_are_refused_distributed() {
    attacks(cluster::distributed().await).await;
}
