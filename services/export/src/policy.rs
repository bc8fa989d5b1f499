//! Who may call each RPC of the ExportService (docs/security.md). The register is public data:
//! every verified caller may read it — systems through the gateway, persons, the operator, the
//! deployment's parts and internal consumers with a certificate. Unverified callers never reach it.

use std::sync::LazyLock;

use dtr_trust::Rule;

static RPCS: LazyLock<Vec<String>> = LazyLock::new(|| dtr_proto::rpc_names("dtr.export.v1.ExportService"));

pub fn policy(method: &str) -> Option<Rule> {
    match method {
        // An owner's findings are for its people (through the portal) and the operator.
        "GetRegisterfund" => Some(Rule::internal(&[dtr_trust::Part::Portal]).and_operator()),
        m => RPCS.iter().any(|r| r == m).then_some(Rule::ANY),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_read_is_open_to_verified_callers_and_nothing_else_is_known() {
        assert!(super::RPCS.len() > 20);
        assert!(super::policy("GetDaginstitutionByNummer").is_some());
        assert!(super::policy("InsertDaginstitution").is_none());
        use dtr_proto::context::Principal;
        let fund = super::policy("GetRegisterfund").unwrap();
        assert!(fund.admits(&Principal::Service("portal".into())));
        assert!(!fund.admits(&Principal::System { id: "s".into(), udbyder: "u".into() }), "not systems");
        assert!(!fund.admits(&Principal::Consumer("bi".into())), "not consumers");
    }
}
