//! The tilslutning service: organisations, providers' systems and their credentials, the service
//! catalogue, connection and data-access agreements, and the access decisions the gateway asks.

pub mod adgang;
pub mod aendringer;
pub mod aftaler;
pub mod credentials;
pub mod error;
pub mod grpc;
pub mod livscyklus;
pub mod model;
pub mod notifikation;
pub mod organisationer;
pub mod personer;
pub mod service;
pub mod side;
pub mod store;
pub mod systemer;

pub use error::TilslutningError;
pub use grpc::TilslutningGrpc;
pub use service::Tilslutning;
pub use store::TilslutningStore;

/// The store at `url`, with the service's own mail texts.
pub async fn connect(url: &str) -> Result<std::sync::Arc<dyn TilslutningStore>, store::StoreError> {
    store::connect(url, notifikation::TEKSTER).await
}
