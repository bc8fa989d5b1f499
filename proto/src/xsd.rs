//! The XML Schemas of the SOAP payloads: contracts like the .proto files. The gateway puts them
//! in its WSDLs; the ImportService answers GetXMLSchema with them.

const IMPORT: &str = include_str!("../xsd/import.xsd");
const EXPORT: &str = include_str!("../xsd/export.xsd");
const NS_PLACEHOLDER: &str = "__NS__";

/// The ImportService payload schema with target namespace `ns`.
pub fn import(ns: &str) -> String {
    IMPORT.replace(NS_PLACEHOLDER, ns)
}

/// The ExportService payload schema with target namespace `ns`.
pub fn export(ns: &str) -> String {
    EXPORT.replace(NS_PLACEHOLDER, ns)
}

/// The ImportService namespace of a rule set version (`v1` or `v2`).
pub fn import_namespace(version: crate::context::Regelsaet) -> &'static str {
    match version {
        crate::context::Regelsaet::V1 => "urn:dtr:import:v1",
        crate::context::Regelsaet::V2 => "urn:dtr:import:v2",
    }
}
