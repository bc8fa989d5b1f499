//! The published SOAP endpoints: a service in a version, at a path, in a namespace.

use dtr_proto::context::Regelsaet;

pub use dtr_proto::operation::SoapService;

pub const IMPORT_PATH: &str = "/services/DTR/ImportService/v2";
pub const EXPORT_PATH: &str = "/services/DTR/ExportService/v2";
pub const IMPORT_V1_PATH: &str = "/services/DTR/ImportService/v1";
pub const EXPORT_V1_PATH: &str = "/services/DTR/ExportService/v1";

/// Versions of the published interface, live side by side. v1 differs from v2 only in skipping
/// the cross-validation (docs/registry.md rule 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V2,
}

/// One published SOAP endpoint: a service in one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub service: SoapService,
    pub version: ApiVersion,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint { service: SoapService::Import, version: ApiVersion::V2 },
        Endpoint { service: SoapService::Export, version: ApiVersion::V2 },
        Endpoint { service: SoapService::Import, version: ApiVersion::V1 },
        Endpoint { service: SoapService::Export, version: ApiVersion::V1 },
    ];

    pub fn path(self) -> &'static str {
        match (self.service, self.version) {
            (SoapService::Import, ApiVersion::V2) => IMPORT_PATH,
            (SoapService::Export, ApiVersion::V2) => EXPORT_PATH,
            (SoapService::Import, ApiVersion::V1) => IMPORT_V1_PATH,
            (SoapService::Export, ApiVersion::V1) => EXPORT_V1_PATH,
        }
    }

    /// The target namespace of the endpoint's messages.
    pub fn namespace(self) -> &'static str {
        match (self.service, self.version) {
            (SoapService::Import, ApiVersion::V2) => "urn:dtr:import:v2",
            (SoapService::Export, ApiVersion::V2) => "urn:dtr:export:v2",
            (SoapService::Import, ApiVersion::V1) => "urn:dtr:import:v1",
            (SoapService::Export, ApiVersion::V1) => "urn:dtr:export:v1",
        }
    }

    pub fn regelsaet(self) -> Regelsaet {
        match self.version {
            ApiVersion::V1 => Regelsaet::V1,
            ApiVersion::V2 => Regelsaet::V2,
        }
    }
}
