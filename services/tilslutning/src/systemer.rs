//! Providers' systems over gRPC: created by the provider with credentials the server generates
//! and shows once (argon2id hash stored), renamed, made passive/active by the provider, blocked
//! and unblocked with a reason by the operator, deleted (its agreements end), listed, and
//! credentials rotated with an overlap in which old and new password both work.

use chrono::{Duration, Utc};
use tonic::Status;

use dtr_proto::tilslutning as pb;

use crate::aftaler::internal;
use crate::credentials;
use crate::livscyklus::OPERATOER;
use crate::model::{OrganisationType, SystemInfo};
use crate::side;
use crate::store::{NewSystem, TilslutningStore};

/// **[decision]** After a rotation the old password keeps working this long.
pub const ROTATION_OVERLAP: Duration = Duration::days(7);
const MAX_NAVN: usize = 100;

pub fn system_pb(s: &SystemInfo) -> pb::System {
    pb::System {
        udbydersystem_id: s.id.clone(),
        navn: s.navn.clone(),
        udbyder_kode: s.udbyder_kode.clone(),
        passiv: s.passiv,
        blokeret: s.blokeret,
        blokeret_aarsag: s.blokeret_aarsag.clone(),
        slettet: s.slettet,
        brugernavn: s.brugernavn.clone(),
    }
}

fn navn(n: &str) -> Result<&str, Status> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > MAX_NAVN {
        return Err(Status::invalid_argument(format!("systemets navn skal være 1 til {MAX_NAVN} tegn")));
    }
    Ok(n)
}

async fn hash(password: &str) -> Result<String, Status> {
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || credentials::hash_password(&p)).await.map_err(internal)?.map_err(internal)
}

/// The system, if the acting organisation is its provider (or `operator_ok` and the operator).
async fn eget(store: &dyn TilslutningStore, aktoer: &str, id: &str, operator_ok: bool) -> Result<SystemInfo, Status> {
    let s = store.get_system(id).await.map_err(internal)?.filter(|s| !s.slettet);
    let s = s.ok_or_else(|| Status::not_found(format!("systemet {id} findes ikke")))?;
    if s.udbyder_kode == aktoer || (operator_ok && aktoer == OPERATOER) {
        Ok(s)
    } else {
        Err(Status::permission_denied("kun systemets egen leverandør kan det"))
    }
}

async fn hent(store: &dyn TilslutningStore, id: &str) -> Result<pb::System, Status> {
    let s = store.get_system(id).await.map_err(internal)?;
    s.map(|s| system_pb(&s)).ok_or_else(|| Status::not_found(format!("systemet {id} findes ikke")))
}

pub async fn create(
    store: &dyn TilslutningStore,
    aktoer: &str,
    r: &pb::CreateSystemRequest,
) -> Result<pb::CreateSystemResponse, Status> {
    if r.udbyder_kode != aktoer && aktoer != OPERATOER {
        return Err(Status::permission_denied("en leverandør opretter kun sine egne systemer"));
    }
    if store.organisation_type(&r.udbyder_kode).await.map_err(internal)? != Some(OrganisationType::Udbyder) {
        return Err(Status::failed_precondition(format!("{} er ikke en registreret leverandør", r.udbyder_kode)));
    }
    let navn = navn(&r.navn)?;
    let id = uuid::Uuid::new_v4().to_string();
    let brugernavn = format!("{}-{}", r.udbyder_kode.to_lowercase(), &id[..8]);
    let password = credentials::generate_password();
    let hash = hash(&password).await?;
    let s = NewSystem { id: &id, navn, udbyder_kode: &r.udbyder_kode, brugernavn: &brugernavn, password_hash: &hash };
    store.create_system(&s).await.map_err(internal)?;
    Ok(pb::CreateSystemResponse {
        system: Some(hent(store, &id).await?),
        credentials: Some(pb::Credentials { brugernavn, adgangskode: password, gammel_udloeber: None }),
    })
}

pub async fn rename(
    store: &dyn TilslutningStore,
    aktoer: &str,
    r: &pb::RenameSystemRequest,
) -> Result<pb::System, Status> {
    eget(store, aktoer, &r.udbydersystem_id, false).await?;
    store.rename_system(&r.udbydersystem_id, navn(&r.navn)?).await.map_err(internal)?;
    hent(store, &r.udbydersystem_id).await
}

pub async fn set_passiv(
    store: &dyn TilslutningStore,
    aktoer: &str,
    r: &pb::SetSystemPassivRequest,
) -> Result<pb::System, Status> {
    eget(store, aktoer, &r.udbydersystem_id, false).await?;
    store.set_system_passiv(&r.udbydersystem_id, r.passiv).await.map_err(internal)?;
    hent(store, &r.udbydersystem_id).await
}

/// Block (`Some(reason)`) or unblock (`None`): the operator only.
pub async fn set_blokeret(
    store: &dyn TilslutningStore,
    aktoer: &str,
    id: &str,
    aarsag: Option<&str>,
) -> Result<pb::System, Status> {
    if aktoer != OPERATOER {
        return Err(Status::permission_denied("kun STIL kan blokere og frigive systemer"));
    }
    if let Some(a) = aarsag
        && a.trim().is_empty()
    {
        return Err(Status::invalid_argument("angiv årsagen til blokeringen"));
    }
    let s = store.get_system(id).await.map_err(internal)?.filter(|s| !s.slettet);
    s.ok_or_else(|| Status::not_found(format!("systemet {id} findes ikke")))?;
    store.set_system_blokeret(id, aarsag.is_some(), aarsag.unwrap_or("").trim()).await.map_err(internal)?;
    hent(store, id).await
}

pub async fn delete(store: &dyn TilslutningStore, aktoer: &str, id: &str) -> Result<pb::System, Status> {
    eget(store, aktoer, id, true).await?;
    store.delete_system(id, aktoer).await.map_err(internal)?;
    hent(store, id).await
}

pub async fn rotate(store: &dyn TilslutningStore, aktoer: &str, id: &str) -> Result<pb::Credentials, Status> {
    let s = eget(store, aktoer, id, false).await?;
    let password = credentials::generate_password();
    let hash = hash(&password).await?;
    let udloeber = Utc::now() + ROTATION_OVERLAP;
    store.rotate_credentials(id, &hash, udloeber).await.map_err(internal)?;
    Ok(pb::Credentials {
        brugernavn: s.brugernavn,
        adgangskode: password,
        gammel_udloeber: Some(prost_types::Timestamp { seconds: udloeber.timestamp(), nanos: 0 }),
    })
}

pub async fn list(
    store: &dyn TilslutningStore,
    aktoer: &str,
    r: &pb::ListSystemsRequest,
) -> Result<pb::ListSystemsResponse, Status> {
    // A provider sees its own systems; the operator everyone's.
    let udbyder = if aktoer == OPERATOER {
        (!r.udbyder_kode.is_empty()).then_some(r.udbyder_kode.as_str())
    } else {
        Some(aktoer)
    };
    let size = side::stoerrelse(&r.side, "systemer")?;
    let efter = side::token(&r.side);
    let mut page =
        store.list_systems(udbyder, r.soeg.trim(), r.med_slettede, &efter, size + 1).await.map_err(internal)?;
    let naeste_side = side::klip(&mut page, size, |s| s.id.clone());
    Ok(pb::ListSystemsResponse { systems: page.iter().map(system_pb).collect(), naeste_side })
}
