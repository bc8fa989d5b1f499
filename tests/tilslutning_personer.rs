//! Persons of the portal over gRPC, on SQLite (`dtr up`) and PostgreSQL (distributed): the
//! operator creates a local account (password shown once) and gives roles that fit the
//! organisation; the portal checks the password (unknown user and wrong password alike) and
//! reads the roles; nobody else may do either.

use crate::common;

use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{
    AuthenticatePersonRequest, CreatePersonRequest, GetPersonRequest, ListPersonerRequest, Rolle, SetRolleRequest,
};
use dtr_trust::Part;
use tonic::Code;

use common::cluster::{self, Running};
use common::grpc::som;

async fn scenario(r: Running, provider: &str) {
    let mut c = r.tilslutning().await;
    let portal = r.part(Part::Portal).connect(&r.tilslutning_url, Part::Tilslutning).await.unwrap();
    let mut as_portal = TilslutningServiceClient::new(portal);

    let ny = || CreatePersonRequest {
        brugernavn: "anne.udbyder".into(),
        navn: "Anne Andersen".into(),
        email: "anne@udbyder.example".into(),
    };
    assert_eq!(c.create_person(som("101", ny())).await.unwrap_err().code(), Code::PermissionDenied);
    let made = c.create_person(som("STIL", ny())).await.unwrap().into_inner();
    let (person, password) = (made.person.unwrap(), made.adgangskode);
    assert!(password.len() >= 16 && person.roller.is_empty());
    assert_eq!(c.create_person(som("STIL", ny())).await.unwrap_err().code(), Code::AlreadyExists);
    let bad = CreatePersonRequest { navn: "Ond\u{1b}".into(), brugernavn: "ond.person".into(), ..ny() };
    assert_eq!(c.create_person(som("STIL", bad)).await.unwrap_err().code(), Code::InvalidArgument);

    // Roles that fit the organisation, and not others.
    let rolle = |org: &str, rolle: Rolle, har: bool| SetRolleRequest {
        person_id: person.person_id.clone(),
        organisation_kode: org.into(),
        rolle: rolle as i32,
        har,
    };
    let p = c.set_rolle(som("STIL", rolle(provider, Rolle::Udbyderadministrator, true))).await.unwrap().into_inner();
    assert_eq!(p.roller.len(), 1);
    let p = c.set_rolle(som("STIL", rolle("101", Rolle::Dataadgangsadministrator, true))).await.unwrap().into_inner();
    assert_eq!(p.roller.len(), 2, "one login, several organisations");
    let wrong = c.set_rolle(som("STIL", rolle("101", Rolle::Udbyderadministrator, true))).await.unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument, "a kommune has no provider administrators");
    let wrong = c.set_rolle(som("STIL", rolle(provider, Rolle::Operatoer, true))).await.unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument, "the operator's roles are STIL's");
    let denied = c.set_rolle(som(provider, rolle(provider, Rolle::Udbyderadministrator, true))).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "a provider gives no roles");

    // The portal checks passwords: unknown user and wrong password answer alike.
    let login = |u: &str, pw: &str| AuthenticatePersonRequest { brugernavn: u.into(), adgangskode: pw.into() };
    let ok = as_portal.authenticate_person(login("anne.udbyder", &password)).await.unwrap().into_inner();
    assert!(ok.ok);
    let logged_in = ok.person.unwrap();
    assert_eq!(logged_in.person_id, person.person_id);
    let orgs: Vec<&str> = logged_in.roller.iter().map(|r| r.organisation_kode.as_str()).collect();
    assert!(orgs.contains(&provider) && orgs.contains(&"101"), "{orgs:?}");
    assert!(logged_in.roller.iter().all(|r| !r.organisation_navn.is_empty()));
    let wrong = as_portal.authenticate_person(login("anne.udbyder", "forkert")).await.unwrap().into_inner();
    let unknown = as_portal.authenticate_person(login("ingen.person", "forkert")).await.unwrap().into_inner();
    assert_eq!(wrong, unknown);
    assert!(!wrong.ok && wrong.person.is_none());

    // Taking a role shows at once.
    c.set_rolle(som("STIL", rolle("101", Rolle::Dataadgangsadministrator, false))).await.unwrap();
    let again = as_portal.get_person(GetPersonRequest { person_id: person.person_id.clone() }).await.unwrap();
    assert_eq!(again.into_inner().roller.len(), 1);

    // Only the portal asks these questions; only the operator lists persons.
    let gateway = r.part(Part::Gateway).connect(&r.tilslutning_url, Part::Tilslutning).await.unwrap();
    let s =
        TilslutningServiceClient::new(gateway).authenticate_person(login("anne.udbyder", &password)).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let s = c.get_person(som("101", GetPersonRequest { person_id: person.person_id.clone() })).await.unwrap_err();
    assert_eq!(s.code(), Code::PermissionDenied);
    let listed = c.list_personer(som("STIL", ListPersonerRequest::default())).await.unwrap().into_inner();
    assert!(listed.personer.iter().any(|p| p.brugernavn == "anne.udbyder"));
    assert_eq!(
        c.list_personer(som("101", ListPersonerRequest::default())).await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn persons_and_roles_embedded() {
    scenario(cluster::embedded().await, "DEMO01").await;
}

#[tokio::test]
async fn persons_and_roles_distributed() {
    let r = cluster::distributed().await;
    // The distributed seed registers the provider only; kommune 101 is registered as STIL does.
    let kommune = dtr_proto::tilslutning::Organisation {
        kode: "101".into(),
        navn: "København Kommune".into(),
        r#type: dtr_proto::tilslutning::OrganisationType::Kommune as i32,
        ..Default::default()
    };
    let req = dtr_proto::tilslutning::CreateOrganisationRequest { organisation: Some(kommune) };
    r.tilslutning().await.create_organisation(som("STIL", req)).await.unwrap();
    scenario(r, "UDB1").await;
}
