//! The public edge of DTR: HTTPS, HTTP Basic Authentication, SOAP 1.1/1.2 ↔ gRPC, WSDL.
//! It holds no business rules and owns no tables: every answer comes from a service.
//!
//! A SOAP call goes `router` → `pipeline` (authenticate, then read the request into a typed
//! `ops::Call`) → `access` (owners and the tilslutning service's decision) → `ops` (the gRPC
//! call and the answer's XML). `docs/architecture.md` has the whole map.

pub mod access;
pub mod auth;
pub mod clients;
pub mod config;
pub mod correlation;
pub mod csv_export;
pub mod decisions;
pub mod endpoint;
pub mod error;
pub mod lockout;
pub mod ops;
pub mod pipeline;
pub mod router;
pub mod soap;
pub mod state;
pub mod tls;
pub mod wsdl;

#[cfg(test)]
mod tests;

pub use clients::Clients;
pub use config::GatewayConfig;
pub use correlation::CORRELATION_HEADER;
/// The published operations, defined in the contract crate.
pub use dtr_proto::operation;
pub use endpoint::{ApiVersion, EXPORT_PATH, EXPORT_V1_PATH, Endpoint, IMPORT_PATH, IMPORT_V1_PATH, SoapService};
pub use operation::{ExportOperation, ImportOperation, Operation};
pub use router::{app, serve, serve_router};
pub use state::AppState;
