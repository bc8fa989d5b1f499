//! Who may call each RPC of the tilslutning service (docs/security.md). The facade's own rules
//! (a provider acts on its own systems, an owner decides its own agreements, the operator on
//! all) come on top; lists show only what the caller is a party to.

use dtr_trust::{Part, Rule};

pub fn policy(method: &str) -> Option<Rule> {
    Some(match method {
        // The gateway's questions while it serves a SOAP call.
        "Authenticate" | "CheckAccess" => Rule::internal(&[Part::Gateway]),
        // The portal's questions while a person logs in and chooses an organisation.
        "AuthenticatePerson" | "AuthenticateOidcPerson" | "GetPerson" => Rule::internal(&[Part::Portal]),
        // The import service's re-validation hands its findings over; the operator may too
        // (`dtr revalidate`).
        "MeldRegisterfund" => Rule::internal(&[Part::Import]).and_operator(),
        // The operator's own tasks.
        "CreateOrganisation"
        | "SetOrganisationPassiv"
        | "BlockSystem"
        | "UnblockSystem"
        | "UpsertService"
        | "DecideTilslutning"
        | "CreatePerson"
        | "SetRolle"
        | "ListPersoner"
        | "ListUdbakke" => Rule::OPERATOR,
        // What persons do for their organisation in the portal, and the operator for anyone.
        "GetOrganisation"
        | "ListOrganisationer"
        | "CreateSystem"
        | "RenameSystem"
        | "SetSystemPassiv"
        | "DeleteSystem"
        | "ListSystems"
        | "RotateCredentials"
        | "ListServices"
        | "RequestTilslutning"
        | "ListTilslutninger"
        | "RequestDataaftaler"
        | "DecideDataaftale"
        | "BulkDecideDataaftaler"
        | "ListDataaftaler"
        | "AddNotifikationsmodtager"
        | "RemoveNotifikationsmodtager"
        | "ListNotifikationsmodtagere" => Rule::PEOPLE,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtr_proto::context::Principal;

    #[test]
    fn every_rpc_has_a_rule_and_the_internal_ones_admit_only_their_parts() {
        let rpcs = dtr_proto::rpc_names("dtr.tilslutning.v1.TilslutningService");
        assert!(rpcs.len() > 20);
        for m in &rpcs {
            assert!(policy(m).is_some(), "{m} has no rule");
        }
        let gateway = Principal::Service("gateway".into());
        let import = Principal::Service("import".into());
        let system = Principal::System { id: "s".into(), udbyder: "U".into() };
        let person = Principal::Person { id: "p".into(), organisation: "101".into() };
        let consumer = Principal::Consumer("bi".into());
        let portal = Principal::Service("portal".into());
        for internal in ["AuthenticatePerson", "AuthenticateOidcPerson", "GetPerson"] {
            let rule = policy(internal).unwrap();
            assert!(rule.admits(&portal));
            for other in [&gateway, &system, &person, &consumer] {
                assert!(!rule.admits(other), "{internal} admits {other:?}");
            }
        }
        for internal in ["Authenticate", "CheckAccess"] {
            let rule = policy(internal).unwrap();
            assert!(rule.admits(&gateway));
            for other in [&import, &system, &person, &consumer] {
                assert!(!rule.admits(other), "{internal} admits {other:?}");
            }
        }
        assert!(policy("MeldRegisterfund").unwrap().admits(&import));
        assert!(!policy("MeldRegisterfund").unwrap().admits(&gateway));
        for m in &rpcs {
            assert!(!policy(m).unwrap().admits(&system), "a system may not call {m} directly");
            assert!(!policy(m).unwrap().admits(&consumer), "a consumer may not call {m}");
        }
        assert!(!policy("CreateOrganisation").unwrap().admits(&person));
    }
}
