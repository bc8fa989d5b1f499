//! Enforcement steps 2–4 of docs/tilslutning.md for one SOAP call: the data owners the call concerns
//! (for writes, resolved by the import service from the request and the stored units), then the
//! tilslutning service's decision. The gateway holds no rule: it asks and obeys.

use dtr_proto::context::CallerContext;
use dtr_proto::import::dataejer;
use dtr_proto::import::validate_request::Operation as Write;
use dtr_proto::import::{ResolveDataejereRequest, ValidateRequest};
use dtr_proto::tilslutning::{CheckAccessRequest, Ejer, OrganisationType};

use crate::auth;
use crate::clients::Clients;
use crate::decisions::{AccessKey, DecisionCache};
use crate::error::GatewayError;
use crate::ops::Call;

/// Allows the call or answers why not.
pub async fn check(
    clients: &Clients,
    cache: &DecisionCache,
    system: &auth::System,
    call: &Call,
    ctx: &CallerContext,
) -> Result<(), GatewayError> {
    // The questions about access are the gateway's own (internal RPCs); the system is what
    // they are about, not who asks.
    let ctx = &ctx.as_part("gateway");
    let operation = call.operation();
    let ejere = match call.write() {
        Some(write) => owners(clients, ctx, write).await?,
        None => vec![],
    };
    let fuldt_udtraek = operation.is_full_extract();
    // Full extracts are counted against the day's limit on every call, so never cached.
    let key = (!fuldt_udtraek).then(|| AccessKey { system: system.id.clone(), operation, owners: owner_keys(&ejere) });
    if key.as_ref().is_some_and(|k| cache.allowed(k)) {
        tracing::debug!("access from the decision cache");
        return Ok(());
    }
    let ticket = cache.ticket();
    let req = CheckAccessRequest {
        udbydersystem_id: system.id.clone(),
        servicekode: operation.service().name().to_owned(),
        operation: operation.name().to_owned(),
        ejere,
        fuldt_udtraek,
    };
    let answer = clients.tilslutning().check_access(clients.request(ctx, req)).await;
    let answer = answer.map_err(GatewayError::Backend)?.into_inner();
    if !answer.tilladt {
        return Err(GatewayError::Refused { code: answer.fejlkode, message: answer.besked });
    }
    if let Some(key) = key {
        cache.put_allowed(ticket, key);
    }
    Ok(())
}

fn owner_keys(ejere: &[Ejer]) -> Vec<String> {
    let mut keys: Vec<String> = ejere.iter().map(|e| format!("{}:{}", e.r#type, e.kode)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The owners a write concerns, as the tilslutning service names them. Which units a write
/// touches and who owns them is the registry's rule (and needs its stored state for all but a
/// new daginstitution), so the import service answers, from the request already read.
async fn owners(clients: &Clients, ctx: &CallerContext, write: &Write) -> Result<Vec<Ejer>, GatewayError> {
    let req = ResolveDataejereRequest { operation: Some(ValidateRequest { operation: Some(write.clone()) }) };
    let answer = clients.import().resolve_dataejere(clients.request(ctx, req)).await;
    let owners = answer.map_err(GatewayError::Backend)?.into_inner().dataejere;
    Ok(owners
        .into_iter()
        .filter_map(|d| {
            let type_ = match d.r#type() {
                dataejer::Type::Kommune => OrganisationType::Kommune,
                dataejer::Type::PrivatEjer => OrganisationType::PrivatEjer,
                dataejer::Type::Unspecified => return None,
            };
            Some(Ejer { r#type: type_ as i32, kode: d.kode })
        })
        .collect())
}
