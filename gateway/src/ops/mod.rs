//! SOAP operation ↔ gRPC call mapping, one module per service. Transport only: no rules here,
//! just reading fields, calling the service and writing its answer.

pub mod export;
pub mod import;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

use crate::error::GatewayError;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// The body content of an answer, in pieces, as the service streams it. An error part-way ends
/// the HTTP body without its last chunk, so the client sees a broken answer, never a short one.
pub type XmlStream = Pin<Box<dyn Stream<Item = Result<Bytes, GatewayError>> + Send>>;

/// What an operation answers: the whole body content, or a stream of it (full extracts).
pub enum Answer {
    Xml(String),
    Stream(XmlStream),
}

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
