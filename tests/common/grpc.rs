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
