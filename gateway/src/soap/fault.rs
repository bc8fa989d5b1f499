//! SOAP faults in the platform's shape: 1.1 `faultcode`/`faultstring`/`detail` (HTTP 500), 1.2
//! `Code`/`Reason`/`Detail` (HTTP 400 for Sender, 500 for Receiver), each with a
//! `ServiceFaultDetailer` detail carrying correlation id, time, error code and message.
//! Codes are catalogued in `docs/gateway-fejlkoder.md`.

use http::StatusCode;

use super::SoapVersion;
use super::xml::{XmlOut, envelope};

pub const FAULT_DETAIL_NS: &str = "urn:dtr:fault:v1";

/// Who is at fault: the caller (Sender/Client) or the server (Receiver/Server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Sender,
    Receiver,
    VersionMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Stable code, e.g. `IPL000002`.
    pub code: &'static str,
    /// Danish text for people; never internal error text.
    pub message: String,
    pub details: String,
}

impl Fault {
    pub fn new(kind: FaultKind, code: &'static str, message: impl Into<String>) -> Self {
        Fault { kind, code, message: message.into(), details: String::new() }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    pub fn http_status(&self, version: SoapVersion) -> StatusCode {
        // "Unavailable, nothing done, try again" is the one fault a client or proxy may retry
        // blindly: 503 with Retry-After says so in HTTP too (docs/gateway-fejlkoder.md).
        if self.code == crate::error::codes::UNAVAILABLE {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match (version, self.kind) {
            (SoapVersion::V12, FaultKind::Sender) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self, correlation_id: &str, timestamp: &str) -> String {
        let mut x = XmlOut::with_capacity(256);
        x.open_ns("ServiceFaultDetailer", FAULT_DETAIL_NS)
            .text("CorrelationID", correlation_id)
            .text("Timestamp", timestamp)
            .text("ErrorCode", self.code)
            .text("ErrorMessage", &self.message)
            .text("Details", &self.details)
            .close("ServiceFaultDetailer");
        x.finish()
    }

    /// The whole fault envelope.
    pub fn to_xml(&self, version: SoapVersion, correlation_id: &str, timestamp: &str) -> String {
        let detail = self.detail(correlation_id, timestamp);
        let mut x = XmlOut::with_capacity(512 + detail.len());
        x.open("soap:Fault");
        match version {
            SoapVersion::V11 => {
                let code = match self.kind {
                    FaultKind::Sender => "soap:Client",
                    FaultKind::Receiver => "soap:Server",
                    FaultKind::VersionMismatch => "soap:VersionMismatch",
                };
                x.text("faultcode", code).text("faultstring", &self.message);
                x.open("detail").raw(&detail).close("detail");
            }
            SoapVersion::V12 => {
                let code = match self.kind {
                    FaultKind::Sender => "soap:Sender",
                    FaultKind::Receiver => "soap:Receiver",
                    FaultKind::VersionMismatch => "soap:VersionMismatch",
                };
                x.open("soap:Code").text("soap:Value", code).close("soap:Code");
                x.open("soap:Reason").raw(r#"<soap:Text xml:lang="da">"#);
                x.raw(&super::xml::escape_text(&self.message)).raw("</soap:Text>").close("soap:Reason");
                x.open("soap:Detail").raw(&detail).close("soap:Detail");
            }
        }
        x.close("soap:Fault");
        envelope(version, &x.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_shapes() {
        let f = Fault::new(FaultKind::Sender, "IPL000002", "Skemafejl: <x>");
        let v11 = f.to_xml(SoapVersion::V11, "c-1", "2026-01-01T00:00:00Z");
        assert_eq!(
            v11,
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Skemafejl: &lt;x&gt;</faultstring><detail><ServiceFaultDetailer xmlns="urn:dtr:fault:v1"><CorrelationID>c-1</CorrelationID><Timestamp>2026-01-01T00:00:00Z</Timestamp><ErrorCode>IPL000002</ErrorCode><ErrorMessage>Skemafejl: &lt;x&gt;</ErrorMessage><Details></Details></ServiceFaultDetailer></detail></soap:Fault></soap:Body></soap:Envelope>"#
        );
        assert_eq!(f.http_status(SoapVersion::V11), StatusCode::INTERNAL_SERVER_ERROR);
        let v12 = f.to_xml(SoapVersion::V12, "c-1", "2026-01-01T00:00:00Z");
        assert!(v12.contains(r#"<soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="da">Skemafejl: &lt;x&gt;</soap:Text></soap:Reason>"#));
        assert_eq!(f.http_status(SoapVersion::V12), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn receiver_fault_shapes_exactly() {
        let f = Fault::new(FaultKind::Receiver, "IPL000001", "Intern fejl.");
        let detail = r#"<ServiceFaultDetailer xmlns="urn:dtr:fault:v1"><CorrelationID>c-2</CorrelationID><Timestamp>2026-01-01T00:00:00Z</Timestamp><ErrorCode>IPL000001</ErrorCode><ErrorMessage>Intern fejl.</ErrorMessage><Details></Details></ServiceFaultDetailer>"#;
        assert_eq!(
            f.to_xml(SoapVersion::V11, "c-2", "2026-01-01T00:00:00Z"),
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Intern fejl.</faultstring><detail>{detail}</detail></soap:Fault></soap:Body></soap:Envelope>"#
            )
        );
        assert_eq!(
            f.to_xml(SoapVersion::V12, "c-2", "2026-01-01T00:00:00Z"),
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="da">Intern fejl.</soap:Text></soap:Reason><soap:Detail>{detail}</soap:Detail></soap:Fault></soap:Body></soap:Envelope>"#
            )
        );
        assert_eq!(f.http_status(SoapVersion::V11), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(f.http_status(SoapVersion::V12), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
