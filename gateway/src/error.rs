//! The gateway's one error type and its one mapping to a SOAP fault. Codes are stable and
//! catalogued in `docs/gateway-fejlkoder.md`.

use dtr_proto::afvisning::Afvisningskode;

use crate::soap::{Fault, FaultKind, ParseError};

pub mod codes {
    /// Internal error in the gateway or a service.
    pub const INTERNAL: &str = "IPL000001";
    /// The request is not well-formed or does not follow the schema.
    pub const SCHEMA: &str = "IPL000002";
    /// The Body names an operation the service does not have.
    pub const UNKNOWN_OPERATION: &str = "IPL000003";
    /// Content-Type and envelope version do not match, or the media type is not SOAP.
    pub const MEDIA_TYPE: &str = "IPL000004";
    /// A service behind the gateway cannot be reached; retry later.
    pub const UNAVAILABLE: &str = "IPL000005";
    /// The request is larger than the gateway accepts.
    pub const TOO_LARGE: &str = "IPL000006";
    /// The operation exists but is not available yet in this version of the system.
    pub const NOT_AVAILABLE: &str = "IPL000007";
    /// The SOAPAction (or SOAP 1.2 `action`) names another operation than the Body.
    pub const ACTION_MISMATCH: &str = "IPL000008";
    /// A write was sent but its answer was lost (the service failed or timed out mid-call): it
    /// may have been committed. Retry with the same WS-Addressing MessageID.
    pub const OUTCOME_UNKNOWN: &str = "IPL000009";
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A field or element breaks the schema; the message names it (Danish).
    #[error("{0}")]
    Schema(String),
    #[error("ukendt operation {0}")]
    UnknownOperation(String),
    #[error("{0}")]
    MediaType(String),
    #[error("request body too large")]
    TooLarge,
    #[error("SOAPAction {action:?} does not match the operation {operation}")]
    ActionMismatch { action: String, operation: String },
    /// A backend call failed; the status is logged, never shown.
    #[error("backend: {0}")]
    Backend(tonic::Status),
    /// A write was sent and no answer came back: it may have been committed.
    #[error("write outcome unknown: {0}")]
    OutcomeUnknown(tonic::Status),
    /// The agreements do not allow the call: the tilslutning service's code and Danish message.
    #[error("refused ({code}): {message}")]
    Refused { code: String, message: String },
}

impl GatewayError {
    pub fn to_fault(&self) -> Fault {
        use GatewayError::*;
        match self {
            Parse(ParseError::VersionMismatch(_)) => {
                Fault::new(FaultKind::VersionMismatch, codes::MEDIA_TYPE, format!("Forkert SOAP-version: {self}"))
            }
            Parse(e) => Fault::new(FaultKind::Sender, codes::SCHEMA, format!("Beskeden kan ikke læses: {e}")),
            Schema(m) => Fault::new(FaultKind::Sender, codes::SCHEMA, format!("Beskeden følger ikke skemaet: {m}")),
            UnknownOperation(op) => Fault::new(
                FaultKind::Sender,
                codes::UNKNOWN_OPERATION,
                format!("Servicen har ingen operation ved navn {op}."),
            ),
            MediaType(m) => Fault::new(FaultKind::Sender, codes::MEDIA_TYPE, m.clone()),
            TooLarge => Fault::new(FaultKind::Sender, codes::TOO_LARGE, "Beskeden er for stor."),
            ActionMismatch { action, operation } => Fault::new(
                FaultKind::Sender,
                codes::ACTION_MISMATCH,
                format!(
                    "SOAPAction {action:?} passer ikke til operationen {operation} i Body; udelad den eller angiv den rigtige."
                ),
            ),
            Backend(status) => backend_fault(status),
            OutcomeUnknown(_) => Fault::new(
                FaultKind::Receiver,
                codes::OUTCOME_UNKNOWN,
                "Svaret på skrivningen gik tabt: den kan være gennemført. Send den igen med samme wsa:MessageID; så gennemføres den højst én gang.",
            ),
            // Access refusals (steps 2–5 of docs/tilslutning.md) keep the tilslutning service's code.
            Refused { code, message } => match Afvisningskode::fra_kode(code) {
                Some(code) => Fault::new(FaultKind::Sender, code.kode(), message.clone()),
                None => Fault::new(
                    FaultKind::Receiver,
                    codes::INTERNAL,
                    "Der opstod en intern fejl. Kontakt registerets drift.",
                ),
            },
        }
    }
}

/// The metadata an import service's failure carries to say whether the write was made:
/// `ikke-skrevet` (nothing written) or `uvist` (the commit's outcome is unknown).
pub const UDFALD: &str = "x-dtr-udfald";

impl GatewayError {
    /// A failed write call: "nothing written" only where the import service says so; a lost
    /// answer (transport failure, deadline, a crash mid-call) may hide a commit.
    pub fn of_write(status: tonic::Status) -> GatewayError {
        use tonic::Code::*;
        let udfald = status.metadata().get(UDFALD).and_then(|v| v.to_str().ok());
        match (udfald, status.code()) {
            (Some("ikke-skrevet"), _) => GatewayError::Backend(status),
            (Some("uvist"), _) | (None, Unavailable | DeadlineExceeded | Cancelled | Unknown | Internal) => {
                GatewayError::OutcomeUnknown(status)
            }
            _ => GatewayError::Backend(status),
        }
    }
}

/// Whether the status was made on this side from a broken connection (it carries the transport
/// error as its source) rather than answered by the service.
fn from_transport(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
}

fn backend_fault(status: &tonic::Status) -> Fault {
    use tonic::Code::*;
    if from_transport(status) && matches!(status.code(), Unknown | Internal) {
        // The connection broke (the service died mid-call): nothing was done by this read.
        return Fault::new(
            FaultKind::Receiver,
            codes::UNAVAILABLE,
            "Tjenesten er midlertidigt utilgængelig. Prøv igen om lidt.",
        );
    }
    match status.code() {
        Unavailable | DeadlineExceeded | Cancelled | ResourceExhausted => Fault::new(
            FaultKind::Receiver,
            codes::UNAVAILABLE,
            "Tjenesten er midlertidigt utilgængelig. Prøv igen om lidt.",
        ),
        Unimplemented => Fault::new(
            FaultKind::Receiver,
            codes::NOT_AVAILABLE,
            "Operationen er endnu ikke tilgængelig i denne version af registeret.",
        ),
        // Our services word InvalidArgument messages for callers.
        InvalidArgument => Fault::new(FaultKind::Sender, codes::SCHEMA, status.message().to_owned()),
        _ => Fault::new(FaultKind::Receiver, codes::INTERNAL, "Der opstod en intern fejl. Kontakt registerets drift."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(mut s: tonic::Status, udfald: &'static str) -> tonic::Status {
        s.metadata_mut().insert(UDFALD, tonic::metadata::MetadataValue::from_static(udfald));
        s
    }

    fn code_of(e: GatewayError) -> &'static str {
        e.to_fault().code
    }

    #[test]
    fn a_write_is_unknown_unless_the_service_says_it_was_not_made() {
        use tonic::Status;
        let written_maybe = [
            Status::unavailable("transport error"),
            Status::deadline_exceeded("deadline"),
            Status::cancelled("cancelled"),
            Status::unknown("h2 protocol error"),
            Status::internal("stream reset"),
            marked(Status::unavailable("commit lost"), "uvist"),
        ];
        for s in written_maybe {
            assert_eq!(code_of(GatewayError::of_write(s.clone())), codes::OUTCOME_UNKNOWN, "{s:?}");
        }
        let not_written = marked(Status::unavailable("database down"), "ikke-skrevet");
        assert_eq!(code_of(GatewayError::of_write(not_written)), codes::UNAVAILABLE);
        let internal = marked(Status::internal("storage"), "ikke-skrevet");
        assert_eq!(code_of(GatewayError::of_write(internal)), codes::INTERNAL);
        let bad = Status::invalid_argument("felt mangler");
        assert_eq!(code_of(GatewayError::of_write(bad)), codes::SCHEMA, "the service's own refusal stays itself");
    }

    #[test]
    fn only_unavailable_is_http_503() {
        use crate::soap::SoapVersion;
        let unavailable = GatewayError::Backend(tonic::Status::unavailable("x")).to_fault();
        assert_eq!(unavailable.http_status(SoapVersion::V11), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.http_status(SoapVersion::V12), http::StatusCode::SERVICE_UNAVAILABLE);
        let unknown = GatewayError::OutcomeUnknown(tonic::Status::unavailable("x")).to_fault();
        assert_eq!(unknown.http_status(SoapVersion::V11), http::StatusCode::INTERNAL_SERVER_ERROR);
        let internal = GatewayError::Backend(tonic::Status::internal("x")).to_fault();
        assert_eq!(
            (internal.code, internal.http_status(SoapVersion::V12)),
            (codes::INTERNAL, http::StatusCode::INTERNAL_SERVER_ERROR)
        );
    }
}
