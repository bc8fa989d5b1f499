//! The register (Dagtilbudsregisteret): domain model, rules, code tables and storage, shared by
//! the import (write) and export (read) services. Knows nothing of XML or gRPC; SQL lives only in
//! `storage`.

pub mod cache;
pub mod codes;
pub mod demodata;
pub mod error;
pub mod laesere;
pub mod legacy;
pub mod lookup;
pub mod model;
pub mod numbers;
pub mod opslag;
pub mod ownership;
pub mod revalidation;
pub mod rules;
pub mod service;
pub mod storage;

pub use error::{Fejl, FejlKode, RegistryError};
pub use service::Registry;
