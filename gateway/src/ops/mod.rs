//! SOAP operation ↔ gRPC call mapping, one module per service. Transport only: no rules here,
//! just reading fields, calling the service and writing its answer.

pub mod export;
pub mod import;

use crate::error::GatewayError;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// Text of an optional child element.
pub(crate) fn opt_text<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.child(name).map(|c| c.text.trim())
}

/// Text of a child element; absent means empty (the service reports missing required fields).
pub(crate) fn text(e: &Element, name: &str) -> String {
    opt_text(e, name).unwrap_or_default().to_owned()
}

/// An integer child element; absent or empty means 0 (missing), anything else must be a number.
pub(crate) fn int(e: &Element, name: &str) -> Result<i32, GatewayError> {
    match opt_text(e, name) {
        None | Some("") => Ok(0),
        Some(v) => {
            v.parse().map_err(|_| GatewayError::Schema(format!("feltet {name} skal være et heltal, ikke {v:?}")))
        }
    }
}

/// An optional 64-bit integer child element.
pub(crate) fn opt_i64(e: &Element, name: &str) -> Result<Option<i64>, GatewayError> {
    match opt_text(e, name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| GatewayError::Schema(format!("feltet {name} skal være et heltal, ikke {v:?}"))),
    }
}

/// A required container element.
pub(crate) fn required<'a>(e: &'a Element, name: &str) -> Result<&'a Element, GatewayError> {
    e.child(name).ok_or_else(|| GatewayError::Schema(format!("elementet {name} mangler i {}", e.name)))
}

/// `<HelloWorldResponse><HelloWorldResult>…</HelloWorldResult></HelloWorldResponse>`
pub(crate) fn hello_world_response(ns: &str, message: &str) -> String {
    let mut x = XmlOut::default();
    x.open_ns("HelloWorldResponse", ns).text("HelloWorldResult", message).close("HelloWorldResponse");
    x.finish()
}
