//! The gRPC contracts of the DTR services (generated from `proto/dtr/*.proto`) and the caller
//! context that travels with every call in gRPC metadata.

pub mod afvisning;
pub mod context;
pub mod operation;
pub mod tekst;
pub mod xsd;

/// Generated code, nested as the proto packages are (`dtr.registry.v1` → `dtr::registry::v1`).
#[allow(clippy::all, clippy::pedantic, rust_2018_idioms, missing_docs)]
pub mod dtr {
    pub mod registry {
        pub mod v1 {
            tonic::include_proto!("dtr.registry.v1");
        }
    }
    pub mod import {
        pub mod v1 {
            tonic::include_proto!("dtr.import.v1");
        }
    }
    pub mod export {
        pub mod v1 {
            tonic::include_proto!("dtr.export.v1");
        }
    }
    pub mod tilslutning {
        pub mod v1 {
            tonic::include_proto!("dtr.tilslutning.v1");
        }
    }
}

pub use dtr::export::v1 as export;
pub use dtr::import::v1 as import;
pub use dtr::registry::v1 as registry;
pub use dtr::tilslutning::v1 as tilslutning;

/// Redis pub/sub channel on which the tilslutning service announces a change that access
/// decisions rest on; gateways drop their cached decisions when a message arrives.
pub const TILSLUTNING_AENDRET_KANAL: &str = "dtr:tilslutning:aendret";

/// Redis pub/sub channel on which each gateway confirms a change message (by repeating its
/// payload) once it has dropped its cached decisions; the announcer waits for them.
pub const TILSLUTNING_KVITTERING_KANAL: &str = "dtr:tilslutning:kvitteret";

/// Encoded `FileDescriptorSet` of all contracts, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dtr_descriptor.bin"));

/// The RPC names of a service (`dtr.import.v1.ImportService`), from the contracts: lets each
/// service check that its authorisation table covers every RPC.
pub fn rpc_names(service: &str) -> Vec<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("the built-in descriptor set");
    let mut names = Vec::new();
    for file in &set.file {
        for s in &file.service {
            if format!("{}.{}", file.package(), s.name()) == service {
                names.extend(s.method.iter().map(|m| m.name().to_owned()));
            }
        }
    }
    names
}
