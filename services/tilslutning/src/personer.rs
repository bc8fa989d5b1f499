//! Persons of the portal: local accounts made by the operator (the password shown once), the
//! roles the operator gives them per organisation, and the password check the portal asks for.
//! (Persons who log in through OIDC get their organisations from the provider's claims and the
//! same role table.)

use crate::credentials;
use crate::error::{Result, TilslutningError, tekst};
use crate::livscyklus::OPERATOER;
use crate::model::{PersonInfo, Rolle};
use crate::side::{self, Side};
use crate::store::{NewPerson, TilslutningStore};

fn storage(e: impl std::fmt::Display) -> TilslutningError {
    TilslutningError::storage(e)
}

fn kun_operatoer(aktoer: &str) -> Result<()> {
    if aktoer == OPERATOER {
        Ok(())
    } else {
        Err(TilslutningError::Forbidden("kun STIL opretter personer og tildeler roller".into()))
    }
}

/// A local account as the operator asks for it.
#[derive(Debug, Clone, Default)]
pub struct NyPerson {
    pub brugernavn: String,
    pub navn: String,
    pub email: String,
}

fn valider(p: &NyPerson) -> Result<()> {
    let brugernavn = p.brugernavn.trim();
    let ok = (3..=64).contains(&brugernavn.len())
        && brugernavn.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@'));
    if !ok {
        return Err(TilslutningError::Invalid(
            "brugernavnet skal være 3 til 64 tegn: bogstaver, cifre og . - _ @".into(),
        ));
    }
    let navn = tekst("navnet", p.navn.trim())?;
    if navn.is_empty() || navn.chars().count() > 200 {
        return Err(TilslutningError::Invalid("navnet skal være 1 til 200 tegn".into()));
    }
    let email = p.email.trim();
    if !email.is_empty() && (email.len() > 254 || email.parse::<lettre::Address>().is_err()) {
        return Err(TilslutningError::Invalid(format!("{email:?} er ikke en e-mailadresse")));
    }
    Ok(())
}

/// Creates a local account with a generated password, answered once.
pub async fn create(store: &dyn TilslutningStore, aktoer: &str, p: &NyPerson) -> Result<(PersonInfo, String)> {
    kun_operatoer(aktoer)?;
    valider(p)?;
    let adgangskode = credentials::generate_password();
    let pw = adgangskode.clone();
    let hash = tokio::task::spawn_blocking(move || credentials::hash_password(&pw))
        .await
        .map_err(storage)?
        .map_err(storage)?;
    let id = uuid::Uuid::new_v4().to_string();
    let ny = NewPerson {
        id: &id,
        brugernavn: p.brugernavn.trim(),
        navn: p.navn.trim(),
        email: p.email.trim(),
        hash: Some(&hash),
    };
    if !store.create_person(&ny).await.map_err(storage)? {
        return Err(TilslutningError::AlreadyExists(format!("brugernavnet {} er taget", ny.brugernavn)));
    }
    Ok((hent(store, &id).await?, adgangskode))
}

/// A person with their roles.
pub async fn hent(store: &dyn TilslutningStore, id: &str) -> Result<PersonInfo> {
    store
        .get_person(id)
        .await
        .map_err(storage)?
        .ok_or_else(|| TilslutningError::NotFound(format!("personen {id} findes ikke")))
}

/// Gives or takes a role for an organisation the role fits.
pub async fn set_rolle(
    store: &dyn TilslutningStore,
    aktoer: &str,
    person_id: &str,
    organisation: &str,
    rolle: Rolle,
    har: bool,
) -> Result<PersonInfo> {
    kun_operatoer(aktoer)?;
    hent(store, person_id).await?;
    let type_ = store
        .organisation_type(organisation)
        .await
        .map_err(storage)?
        .ok_or_else(|| TilslutningError::NotFound(format!("organisationen {organisation} findes ikke")))?;
    if har && !rolle.passer_til(organisation, type_) {
        return Err(TilslutningError::Invalid(format!(
            "rollen {} kan ikke gives for organisationen {organisation}",
            rolle.as_str()
        )));
    }
    store.set_rolle(person_id, organisation, rolle, har).await.map_err(storage)?;
    hent(store, person_id).await
}

/// A page of persons and the next page's token (the operator).
pub async fn list(
    store: &dyn TilslutningStore,
    aktoer: &str,
    soeg: &str,
    s: &Side,
) -> Result<(Vec<PersonInfo>, String)> {
    kun_operatoer(aktoer)?;
    let size = s.stoerrelse("personer")?;
    let mut page = store.list_personer(soeg.trim(), &s.token, size + 1).await.map_err(storage)?;
    let naeste = side::klip(&mut page, size, |p| p.id.clone());
    Ok((page, naeste))
}

/// The person a local account's password opens; `None` for an unknown user, a wrong password or
/// an OIDC-only person, at the same cost (two argon2 hashes, bounded concurrency).
pub async fn login(
    store: &dyn TilslutningStore,
    bekraeftede: &credentials::Bekraeftede,
    brugernavn: &str,
    adgangskode: &str,
) -> Result<Option<PersonInfo>> {
    let login = if brugernavn.len() > 128 || adgangskode.len() > 256 {
        None
    } else {
        store.person_login(brugernavn).await.map_err(storage)?
    };
    let hashes: Vec<String> = login.as_ref().and_then(|l| l.hash.clone()).into_iter().collect();
    // Persons and systems share the remembered checks; the prefix keeps their names apart.
    let ok = bekraeftede.verify(&format!("person:{brugernavn}"), adgangskode, &hashes).await;
    match (ok, login) {
        (true, Some(l)) => Ok(Some(hent(store, &l.id).await?)),
        _ => Ok(None),
    }
}
