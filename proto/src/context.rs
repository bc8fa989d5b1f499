//! Who calls and in which context. The identity ([`Principal`]) is never read from plain
//! metadata: an edge that verified it mints a signed token, and the service's guard (crate
//! `dtr-trust`) checks the token and puts the principal into the request's extensions. Only the
//! correlation id and the rule set travel as plain metadata; neither grants anything.

use tonic::metadata::{MetadataMap, MetadataValue};

pub const CORRELATION_ID: &str = "x-correlation-id";
pub const REGELSAET: &str = "x-dtr-regelsaet";
/// The WS-Addressing MessageID of a SOAP write, the key of a safe retry; it counts only together
/// with the verified system, so it grants nothing.
pub const MESSAGE_ID: &str = "x-dtr-message-id";

/// The organisation kode of the operator (STIL): what an operator acts as.
pub const OPERATOER: &str = "STIL";

/// Which rule set a write follows: v1 skips the cross-validation (rule 11), v2 applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Regelsaet {
    V1,
    #[default]
    V2,
}

impl Regelsaet {
    pub fn as_str(self) -> &'static str {
        match self {
            Regelsaet::V1 => "v1",
            Regelsaet::V2 => "v2",
        }
    }
}

/// A verified identity: who a call is made by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A vendor's system, proven by its password at the SOAP gateway; acts for its provider.
    System { id: String, udbyder: String },
    /// A person logged in at the portal, acting for the organisation they chose.
    Person { id: String, organisation: String },
    /// The operator (STIL) at the admin console.
    Operator { id: String },
    /// One of the deployment's own parts (gateway, import, export, tilslutning, portal, admin)
    /// acting for itself.
    Service(String),
    /// An internal consumer that reads over gRPC, named by its client certificate.
    Consumer(String),
}

impl Principal {
    /// The organisation this principal acts for: a system's provider, a person's chosen
    /// organisation, the operator's STIL; parts and consumers act for none.
    pub fn organisation(&self) -> Option<&str> {
        match self {
            Principal::System { udbyder, .. } => Some(udbyder),
            Principal::Person { organisation, .. } => Some(organisation),
            Principal::Operator { .. } => Some(OPERATOER),
            Principal::Service(_) | Principal::Consumer(_) => None,
        }
    }

    /// A short name for logs and the audit: the system id, the person, `operator:<id>`, the part.
    pub fn label(&self) -> String {
        match self {
            Principal::System { id, .. } => id.clone(),
            Principal::Person { id, .. } => format!("person:{id}"),
            Principal::Operator { id } => format!("operator:{id}"),
            Principal::Service(name) => format!("service:{name}"),
            Principal::Consumer(name) => format!("consumer:{name}"),
        }
    }

    /// The kind, as it is named in tokens and authorisation tables.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::System { .. } => "system",
            Principal::Person { .. } => "person",
            Principal::Operator { .. } => "operator",
            Principal::Service(_) => "service",
            Principal::Consumer(_) => "consumer",
        }
    }
}

/// Who is calling and the call's context, as far as the services need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerContext {
    pub principal: Principal,
    pub correlation_id: String,
    pub regelsaet: Regelsaet,
    /// The request's WS-Addressing MessageID, if it had one (writes only).
    pub message_id: Option<String>,
}

impl CallerContext {
    /// A context for `principal` with a fresh correlation id and the current rule set.
    pub fn new(principal: Principal) -> Self {
        CallerContext { principal, correlation_id: new_correlation_id(), regelsaet: Regelsaet::V2, message_id: None }
    }

    /// The context of a request the service's guard has let through: the verified principal
    /// from its extensions, the correlation id and rule set from metadata (a missing correlation
    /// id gets a fresh one). `None` when no guard ran, which a service must refuse.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<Self> {
        let principal = request.extensions().get::<Principal>()?.clone();
        let md = request.metadata();
        let get = |k: &str| md.get(k).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty());
        Some(CallerContext {
            principal,
            correlation_id: get(CORRELATION_ID).map(str::to_owned).unwrap_or_else(new_correlation_id),
            regelsaet: match get(REGELSAET) {
                Some("v1") => Regelsaet::V1,
                _ => Regelsaet::V2,
            },
            message_id: get(MESSAGE_ID).map(str::to_owned),
        })
    }

    /// [`CallerContext::of`] as a gRPC answer: a request without a verified principal is
    /// `UNAUTHENTICATED`.
    pub fn required<T>(request: &tonic::Request<T>) -> Result<Self, tonic::Status> {
        Self::of(request).ok_or_else(|| tonic::Status::unauthenticated("kaldet er ikke godkendt"))
    }

    /// The same call's context (correlation id, rule set) with `part` of the deployment acting
    /// for itself: for the internal questions an edge asks on a caller's behalf.
    pub fn as_part(&self, part: &str) -> Self {
        CallerContext { principal: Principal::Service(part.to_owned()), ..self.clone() }
    }

    /// A label of the caller for logs and the audit.
    pub fn system(&self) -> String {
        self.principal.label()
    }

    pub fn organisation(&self) -> Option<&str> {
        self.principal.organisation()
    }

    /// Wraps a message in a request for this context: the principal rides in the request's
    /// extensions, where the signing interceptor (`dtr-trust`) turns it into a token; it never
    /// leaves the process as plain metadata.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        self.write_to(req.metadata_mut());
        req.extensions_mut().insert(self.principal.clone());
        req
    }

    /// Writes the correlation id and rule set into outgoing metadata (the identity goes in the
    /// token, which `dtr-trust` adds).
    pub fn write_to(&self, md: &mut MetadataMap) {
        if let Ok(v) = MetadataValue::try_from(self.correlation_id.as_str()) {
            md.insert(CORRELATION_ID, v);
        }
        md.insert(REGELSAET, MetadataValue::from_static(self.regelsaet.as_str()));
        if let Some(v) = self.message_id.as_deref().and_then(|id| MetadataValue::try_from(id).ok()) {
            md.insert(MESSAGE_ID, v);
        }
    }
}

/// A fresh correlation id: a random (v4) UUID from the thread's generator, which costs no
/// system call per request (`Uuid::new_v4` asks the kernel each time).
pub fn new_correlation_id() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_comes_from_the_guarded_extensions_and_metadata() {
        let ctx = CallerContext {
            principal: Principal::System { id: "sys-1".into(), udbyder: "UDB1".into() },
            message_id: None,
            correlation_id: "c-1".into(),
            regelsaet: Regelsaet::V1,
        };
        let mut req = tonic::Request::new(());
        ctx.write_to(req.metadata_mut());
        assert_eq!(CallerContext::of(&req), None, "no guard, no context");
        req.extensions_mut().insert(ctx.principal.clone());
        assert_eq!(CallerContext::of(&req), Some(ctx));
    }

    #[test]
    fn unsigned_identity_metadata_is_ignored() {
        let mut req = tonic::Request::new(());
        req.metadata_mut().insert("x-dtr-system", MetadataValue::from_static("demo-system"));
        req.metadata_mut().insert("x-dtr-organisation", MetadataValue::from_static("STIL"));
        assert!(CallerContext::required(&req).is_err());
    }

    #[test]
    fn organisations_follow_the_kind() {
        assert_eq!(Principal::Operator { id: "admin".into() }.organisation(), Some(OPERATOER));
        assert_eq!(Principal::Service("import".into()).organisation(), None);
        assert_eq!(Principal::Consumer("bi".into()).organisation(), None);
    }
}
