//! Who may call each RPC of the ImportService (docs/security.md). Writes come from systems
//! through the gateway, which has checked their agreements, or from the operator; the owner
//! question of a write and the code tables are internal.

use dtr_trust::{Part, Rule};

pub fn policy(method: &str) -> Option<Rule> {
    Some(match method {
        "HelloWorld" | "GetXMLSchema" | "ValidateXmlAgainstSchema" => Rule::ANY,
        "InsertDaginstitution"
        | "UpdateDaginstitution"
        | "DeleteDaginstitution"
        | "InsertAnvisningsEnhed"
        | "UpdateAnvisningsEnhed"
        | "DeleteAnvisningsEnhed"
        | "InsertAlternativAdresse"
        | "UpdateAlternativAdresse"
        | "DeleteAlternativAdresse"
        | "MoveAnvisningsEnhed"
        | "MoveAlternativAdresse" => Rule { systems: true, operator: true, ..Rule::default() },
        "ResolveDataejere" => Rule::internal(&[Part::Gateway]),
        "SaetKode" => Rule::OPERATOR,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtr_proto::context::Principal;

    #[test]
    fn every_rpc_has_a_rule_and_internal_ones_admit_only_their_callers() {
        let rpcs = dtr_proto::rpc_names("dtr.import.v1.ImportService");
        assert!(rpcs.len() > 10);
        for m in rpcs {
            assert!(policy(&m).is_some(), "{m} has no rule");
        }
        let system = Principal::System { id: "s".into(), udbyder: "U".into() };
        let gateway = Principal::Service("gateway".into());
        let consumer = Principal::Consumer("bi".into());
        assert!(policy("InsertDaginstitution").unwrap().admits(&system));
        assert!(!policy("InsertDaginstitution").unwrap().admits(&consumer));
        assert!(policy("ResolveDataejere").unwrap().admits(&gateway));
        assert!(!policy("ResolveDataejere").unwrap().admits(&system));
        assert!(!policy("SaetKode").unwrap().admits(&system));
        assert!(!policy("SaetKode").unwrap().admits(&gateway));
        assert!(policy("NoSuchRpc").is_none());
    }
}
