//! Caller context carried in gRPC metadata: who calls (system), on whose behalf (organisation),
//! the correlation id and which rule set applies. The gateway sets it; internal callers may too.

use tonic::metadata::{MetadataMap, MetadataValue};

pub const SYSTEM: &str = "x-dtr-system";
pub const ORGANISATION: &str = "x-dtr-organisation";
pub const CORRELATION_ID: &str = "x-correlation-id";
pub const REGELSAET: &str = "x-dtr-regelsaet";

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

/// Who is calling, as far as the services need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerContext {
    /// The calling system (udbydersystem id), or an internal caller's name.
    pub system: String,
    /// The organisation the system acts for, if any.
    pub organisation: Option<String>,
    pub correlation_id: String,
    pub regelsaet: Regelsaet,
}

impl CallerContext {
    /// A context for an internal caller (CLI, jobs) with a fresh correlation id.
    pub fn internal(system: &str) -> Self {
        CallerContext {
            system: system.to_owned(),
            organisation: None,
            correlation_id: uuid::Uuid::new_v4().to_string(),
            regelsaet: Regelsaet::V2,
        }
    }

    /// Reads the context from metadata; a missing system is `unknown`, a missing correlation id
    /// gets a fresh one, so an internal caller that sets nothing is still traceable.
    pub fn from_metadata(md: &MetadataMap) -> Self {
        let get = |k: &str| md.get(k).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty());
        CallerContext {
            system: get(SYSTEM).unwrap_or("unknown").to_owned(),
            organisation: get(ORGANISATION).map(str::to_owned),
            correlation_id: get(CORRELATION_ID).map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            regelsaet: match get(REGELSAET) {
                Some("v1") => Regelsaet::V1,
                _ => Regelsaet::V2,
            },
        }
    }

    /// Writes the context into outgoing metadata. Values that are not valid header text are
    /// left out rather than failing the call.
    pub fn write_to(&self, md: &mut MetadataMap) {
        let mut put = |k: &'static str, v: &str| {
            if let Ok(v) = MetadataValue::try_from(v) {
                md.insert(k, v);
            }
        };
        put(SYSTEM, &self.system);
        if let Some(org) = &self.organisation {
            put(ORGANISATION, org);
        }
        put(CORRELATION_ID, &self.correlation_id);
        put(REGELSAET, self.regelsaet.as_str());
    }

    /// Wraps a message in a request carrying this context.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        self.write_to(req.metadata_mut());
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_round_trips_through_metadata() {
        let ctx = CallerContext {
            system: "sys-1".into(),
            organisation: Some("101".into()),
            correlation_id: "c-1".into(),
            regelsaet: Regelsaet::V1,
        };
        let mut md = MetadataMap::new();
        ctx.write_to(&mut md);
        assert_eq!(CallerContext::from_metadata(&md), ctx);
    }

    #[test]
    fn missing_values_get_defaults() {
        let ctx = CallerContext::from_metadata(&MetadataMap::new());
        assert_eq!(ctx.system, "unknown");
        assert_eq!(ctx.regelsaet, Regelsaet::V2);
        assert!(!ctx.correlation_id.is_empty());
    }
}
