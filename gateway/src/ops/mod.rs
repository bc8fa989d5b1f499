//! SOAP operation ↔ gRPC call mapping, one module per service. Transport only: no rules here,
//! just reading fields, calling the service and writing its answer. A request is read once into
//! a typed [`Call`]; the access check and the dispatch both work on that.

pub mod export;
pub mod import;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

use crate::clients::Clients;
use crate::endpoint::Endpoint;
use crate::error::GatewayError;
use crate::operation::Operation;
use crate::soap::Element;
use crate::soap::xml::XmlOut;
use dtr_proto::context::CallerContext;
use dtr_proto::import::validate_request::Operation as Write;

pub use export::ExportCall;
pub use import::ImportCall;

/// A SOAP request read into its operation and parameters.
#[derive(Debug, Clone)]
pub enum Call {
    Import(ImportCall),
    Export(ExportCall),
}

impl Call {
    /// Reads the Body's operation element, which must be in the endpoint's namespace and name
    /// one of its service's operations.
    pub fn parse(ep: Endpoint, e: &Element) -> Result<Call, GatewayError> {
        if e.ns.as_deref() != Some(ep.namespace()) {
            return Err(GatewayError::UnknownOperation(format!("{{{}}}{}", e.ns.as_deref().unwrap_or(""), e.name)));
        }
        match Operation::from_name(ep.service, &e.name) {
            Some(Operation::Import(op)) => ImportCall::parse(op, e).map(Call::Import),
            Some(Operation::Export(op)) => ExportCall::parse(op, e).map(Call::Export),
            None => Err(GatewayError::UnknownOperation(e.name.clone())),
        }
    }

    pub fn operation(&self) -> Operation {
        match self {
            Call::Import(c) => Operation::Import(c.operation()),
            Call::Export(c) => Operation::Export(c.operation),
        }
    }

    /// Whether the call changes the register (a dry run does not).
    pub fn is_write(&self) -> bool {
        matches!(self, Call::Import(ImportCall::Write(_)))
    }

    /// The write, for a call that changes the register.
    pub fn write(&self) -> Option<&Write> {
        match self {
            Call::Import(c) => c.write(),
            Call::Export(_) => None,
        }
    }

    /// Sends the call to its service; the answer is written in the endpoint's namespace `ns`.
    pub async fn send(self, clients: &Clients, ctx: &CallerContext, ns: &str) -> Result<Answer, GatewayError> {
        match self {
            Call::Import(c) => import::call(clients, c, ctx, ns).await.map(Answer::Xml),
            Call::Export(c) => export::call(clients, &c, ctx, ns).await,
        }
    }
}

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

/// `<{op}Response><{op}Result>…</{op}Result></{op}Response>`, as HelloWorld and GetXMLSchema
/// answer.
pub(crate) fn single_result(op: &str, ns: &str, value: &str) -> String {
    let (response, result) = (format!("{op}Response"), format!("{op}Result"));
    let mut x = XmlOut::with_capacity(value.len() + 256);
    x.open_ns(&response, ns).text(&result, value).close(&response);
    x.finish()
}
