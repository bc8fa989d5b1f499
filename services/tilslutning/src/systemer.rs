//! Providers' systems: created by the provider with credentials the server generates and shows
//! once (argon2id hash stored), renamed, made passive/active by the provider, blocked and
//! unblocked with a reason by the operator, deleted (its agreements end), listed, and credentials
//! rotated with an overlap in which old and new password both work.

use chrono::{DateTime, Duration, Utc};

use crate::credentials;
use crate::error::{Result, TilslutningError};
use crate::livscyklus::OPERATOER;
use crate::model::{Hvem, Kontaktperson, OrganisationType, SystemInfo};
use crate::side::{self, Side};
use crate::store::{NewSystem, TilslutningStore};

/// **[decision]** After a rotation the old password keeps working this long.
pub const ROTATION_OVERLAP: Duration = Duration::days(7);
const MAX_NAVN: usize = 100;

/// A system's login, shown once when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Legitimation {
    pub brugernavn: String,
    pub adgangskode: String,
    /// After a rotation: when the old password stops working.
    pub gammel_udloeber: Option<DateTime<Utc>>,
}

/// Which systems a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct SystemSoegning {
    /// The operator may name a provider (empty: everyone's); a provider sees its own.
    pub udbyder_kode: String,
    pub soeg: String,
    pub med_slettede: bool,
    /// Only systems unused for [`UBRUGT_MAANEDER`] months (the operator blocks those).
    pub kun_ubrugte: bool,
    pub side: Side,
}

/// A system not used for this many months may be blocked by the operator (docs/tilslutning.md).
pub const UBRUGT_MAANEDER: u32 = 12;

/// The first day a system must have been used on not to count as unused, `today` counted.
pub fn ubrugt_graense(today: chrono::NaiveDate) -> String {
    let graense = today.checked_sub_months(chrono::Months::new(UBRUGT_MAANEDER)).unwrap_or(today);
    graense.format("%Y-%m-%d").to_string()
}

fn storage(e: crate::store::StoreError) -> TilslutningError {
    TilslutningError::storage(e)
}

fn ikke_fundet(id: &str) -> TilslutningError {
    TilslutningError::NotFound(format!("systemet {id} findes ikke"))
}

fn navn(n: &str) -> Result<&str> {
    let n = crate::error::tekst("systemets navn", n.trim())?;
    if n.is_empty() || n.chars().count() > MAX_NAVN {
        return Err(TilslutningError::Invalid(format!("systemets navn skal være 1 til {MAX_NAVN} tegn")));
    }
    Ok(n)
}

async fn hash(password: &str) -> Result<String> {
    let p = password.to_owned();
    tokio::task::spawn_blocking(move || credentials::hash_password(&p))
        .await
        .map_err(|e| TilslutningError::Storage(e.to_string()))?
        .map_err(|e| TilslutningError::Storage(e.to_string()))
}

/// The system, if the acting organisation is its provider (or `operator_ok` and the operator).
async fn eget(store: &dyn TilslutningStore, aktoer: &str, id: &str, operator_ok: bool) -> Result<SystemInfo> {
    let s = store.get_system(id).await.map_err(storage)?.filter(|s| !s.slettet);
    let s = s.ok_or_else(|| ikke_fundet(id))?;
    if s.udbyder_kode == aktoer || (operator_ok && aktoer == OPERATOER) {
        Ok(s)
    } else {
        Err(TilslutningError::Forbidden("kun systemets egen leverandør kan det".into()))
    }
}

async fn hent(store: &dyn TilslutningStore, id: &str) -> Result<SystemInfo> {
    store.get_system(id).await.map_err(storage)?.ok_or_else(|| ikke_fundet(id))
}

/// The contact person, checked: each field optional, at most 200 characters, text the register
/// can publish, the e-mail an address.
fn kontakt(k: &Kontaktperson) -> Result<Kontaktperson> {
    let k = Kontaktperson {
        navn: k.navn.trim().to_owned(),
        email: k.email.trim().to_owned(),
        telefon: k.telefon.trim().to_owned(),
    };
    for (felt, v) in [
        ("kontaktpersonens navn", &k.navn),
        ("kontaktpersonens e-mail", &k.email),
        ("kontaktpersonens telefon", &k.telefon),
    ] {
        crate::error::tekst(felt, v)?;
        if v.chars().count() > 200 {
            return Err(TilslutningError::Invalid(format!("{felt} må højst være 200 tegn")));
        }
    }
    if !k.email.is_empty() && k.email.parse::<lettre::Address>().is_err() {
        return Err(TilslutningError::Invalid(format!("{:?} er ikke en e-mailadresse", k.email)));
    }
    Ok(k)
}

pub async fn create(
    store: &dyn TilslutningStore,
    aktoer: &str,
    udbyder_kode: &str,
    navn_tekst: &str,
    kontaktperson: &Kontaktperson,
) -> Result<(SystemInfo, Legitimation)> {
    if udbyder_kode != aktoer && aktoer != OPERATOER {
        return Err(TilslutningError::Forbidden("en leverandør opretter kun sine egne systemer".into()));
    }
    if store.organisation_type(udbyder_kode).await.map_err(storage)? != Some(OrganisationType::Udbyder) {
        return Err(TilslutningError::NotAllowedNow(format!("{udbyder_kode} er ikke en registreret leverandør")));
    }
    let navn = navn(navn_tekst)?;
    let kontaktperson = kontakt(kontaktperson)?;
    let id = uuid::Uuid::new_v4().to_string();
    let brugernavn = format!("{}-{}", udbyder_kode.to_lowercase(), &id[..8]);
    let password = credentials::generate_password();
    let hash = hash(&password).await?;
    let s = NewSystem { id: &id, navn, udbyder_kode, brugernavn: &brugernavn, password_hash: &hash };
    store.create_system_med_kontakt(&s, &kontaktperson).await.map_err(storage)?;
    let legitimation = Legitimation { brugernavn, adgangskode: password, gammel_udloeber: None };
    Ok((hent(store, &id).await?, legitimation))
}

pub async fn rename(store: &dyn TilslutningStore, aktoer: &str, id: &str, navn_tekst: &str) -> Result<SystemInfo> {
    eget(store, aktoer, id, false).await?;
    store.rename_system(id, navn(navn_tekst)?).await.map_err(storage)?;
    hent(store, id).await
}

pub async fn set_passiv(store: &dyn TilslutningStore, aktoer: &str, id: &str, passiv: bool) -> Result<SystemInfo> {
    eget(store, aktoer, id, false).await?;
    store.set_system_passiv(id, passiv).await.map_err(storage)?;
    hent(store, id).await
}

/// Block (`Some(reason)`) or unblock (`None`): the operator only.
pub async fn set_blokeret(
    store: &dyn TilslutningStore,
    aktoer: &str,
    id: &str,
    aarsag: Option<&str>,
) -> Result<SystemInfo> {
    if aktoer != OPERATOER {
        return Err(TilslutningError::Forbidden("kun STIL kan blokere og frigive systemer".into()));
    }
    if let Some(a) = aarsag {
        if a.trim().is_empty() {
            return Err(TilslutningError::Invalid("angiv årsagen til blokeringen".into()));
        }
        crate::error::tekst("årsagen", a)?;
    }
    let s = store.get_system(id).await.map_err(storage)?.filter(|s| !s.slettet);
    s.ok_or_else(|| ikke_fundet(id))?;
    store.set_system_blokeret(id, aarsag.is_some(), aarsag.unwrap_or("").trim()).await.map_err(storage)?;
    hent(store, id).await
}

pub async fn delete(store: &dyn TilslutningStore, hvem: Hvem<'_>, id: &str) -> Result<SystemInfo> {
    eget(store, hvem.organisation, id, true).await?;
    store.delete_system(id, hvem).await.map_err(storage)?;
    hent(store, id).await
}

pub async fn rotate(store: &dyn TilslutningStore, aktoer: &str, id: &str) -> Result<Legitimation> {
    let s = eget(store, aktoer, id, false).await?;
    let password = credentials::generate_password();
    let hash = hash(&password).await?;
    let udloeber = Utc::now() + ROTATION_OVERLAP;
    store.rotate_credentials(id, &hash, udloeber).await.map_err(storage)?;
    Ok(Legitimation { brugernavn: s.brugernavn, adgangskode: password, gammel_udloeber: Some(udloeber) })
}

/// A page of systems and the next page's token. A provider sees its own; the operator everyone's.
pub async fn list(store: &dyn TilslutningStore, aktoer: &str, s: &SystemSoegning) -> Result<(Vec<SystemInfo>, String)> {
    let udbyder = if aktoer == OPERATOER {
        (!s.udbyder_kode.is_empty()).then_some(s.udbyder_kode.as_str())
    } else {
        Some(aktoer)
    };
    let size = s.side.stoerrelse("systemer")?;
    let ubrugt_foer = if s.kun_ubrugte { ubrugt_graense(chrono::Utc::now().date_naive()) } else { String::new() };
    let mut page = store
        .list_systems(udbyder, s.soeg.trim(), s.med_slettede, &ubrugt_foer, &s.side.token, size + 1)
        .await
        .map_err(storage)?;
    let naeste = side::klip(&mut page, size, |s| s.id.clone());
    Ok((page, naeste))
}

#[cfg(test)]
mod ubrugt_tests {
    #[test]
    fn unused_means_not_since_the_same_day_a_year_ago() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(super::ubrugt_graense(d("2026-12-02")), "2025-12-02");
        assert_eq!(super::ubrugt_graense(d("2028-02-29")), "2027-02-28");
    }
}
