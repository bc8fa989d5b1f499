//! Calling the gRPC services directly, as the deployment's parts do: mutual TLS with a part's
//! certificate, every call signed. Persons act through the portal's credentials.

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_trust::SignedChannel;

pub type Tilslutning = TilslutningServiceClient<SignedChannel>;

/// A request made by a person acting for organisation `org` (STIL: the operator's staff).
pub fn som<T>(org: &str, msg: T) -> tonic::Request<T> {
    CallerContext::new(Principal::Person { id: format!("test@{org}"), organisation: org.to_owned() }).request(msg)
}

/// A person the operator creates over gRPC with one role; answers (username, password).
pub async fn person(
    r: &super::cluster::Running,
    brugernavn: &str,
    organisation: &str,
    rolle: dtr_proto::tilslutning::Rolle,
) -> (String, String) {
    use dtr_proto::tilslutning::{CreatePersonRequest, SetRolleRequest};
    let mut c = r.tilslutning().await;
    let req = CreatePersonRequest { brugernavn: brugernavn.into(), navn: brugernavn.into(), email: String::new() };
    let made = c.create_person(som("STIL", req)).await.unwrap().into_inner();
    let req = SetRolleRequest {
        person_id: made.person.unwrap().person_id,
        organisation_kode: organisation.into(),
        rolle: rolle as i32,
        har: true,
    };
    c.set_rolle(som("STIL", req)).await.unwrap();
    (brugernavn.to_owned(), made.adgangskode)
}

/// Registers kommuner 101 and 147 as organisations (the distributed seed has only the provider).
pub async fn register_kommuner(r: &super::cluster::Running) {
    for (kode, navn) in [("101", "København Kommune"), ("147", "Frederiksberg Kommune")] {
        let org = dtr_proto::tilslutning::Organisation {
            kode: kode.into(),
            navn: navn.into(),
            r#type: dtr_proto::tilslutning::OrganisationType::Kommune as i32,
            ..Default::default()
        };
        let req = dtr_proto::tilslutning::CreateOrganisationRequest { organisation: Some(org) };
        r.tilslutning().await.create_organisation(som("STIL", req)).await.unwrap();
    }
}
