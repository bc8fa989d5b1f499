//! Persons of the portal: local accounts made by the operator (the password shown once), the
//! roles the operator gives them per organisation, and the password check the portal asks for.
//! Persons who log in through OpenID Connect are created at their first login and get roles from
//! the provider's claims (docs/portal.md, "Login"), kept in step at every login beside the roles
//! the operator gives.

use crate::credentials;
use crate::error::{Result, TilslutningError, tekst};
use crate::livscyklus::OPERATOER;
use crate::model::{OrganisationType, PersonInfo, Rolle};
use crate::side::{self, Side};
use crate::store::{NewPerson, OidcPerson, TilslutningStore};

fn storage(e: crate::store::StoreError) -> TilslutningError {
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
        .map_err(|e| TilslutningError::Storage(e.to_string()))?
        .map_err(|e| TilslutningError::Storage(e.to_string()))?;
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

/// What the portal learnt from an OpenID provider's verified ID token.
#[derive(Debug, Clone, Default)]
pub struct OidcIdentitet {
    pub issuer: String,
    pub subject: String,
    pub navn: String,
    pub email: String,
    /// CVR numbers of the organisations for which the person holds the right to administer
    /// agreements.
    pub cvr_med_ret: Vec<String>,
}

/// Most organisations one token may name; more is not a person but a mistake or an attack.
const MAX_CVR_I_TOKEN: usize = 50;

/// The role a provider's claim of the right gives for an organisation: a provider's agreements
/// for a provider, an owner's for the owners. The operator's roles are never given by a claim.
fn rolle_fra_claim(kode: &str, type_: OrganisationType) -> Option<Rolle> {
    [Rolle::Udbyderadministrator, Rolle::Dataadgangsadministrator].into_iter().find(|r| r.passer_til(kode, type_))
}

/// The username made up for an OIDC person: stable for (issuer, subject), and with a `:` that a
/// local account's name cannot have, so the two never meet.
fn oidc_brugernavn(issuer: &str, subject: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, format!("{issuer}\n{subject}").as_bytes());
    let hex: String = d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("oidc:{hex}")
}

/// The person a verified ID token names, with roles in step with its claims.
pub async fn oidc_login(store: &dyn TilslutningStore, id: &OidcIdentitet) -> Result<PersonInfo> {
    let issuer = id.issuer.trim();
    let subject = id.subject.trim();
    if issuer.is_empty() || issuer.len() > 512 || subject.is_empty() || subject.len() > 255 {
        return Err(TilslutningError::Invalid(
            "ID-tokenets udsteder og subjekt skal være 1 til 512 og 255 tegn".into(),
        ));
    }
    if id.cvr_med_ret.len() > MAX_CVR_I_TOKEN {
        return Err(TilslutningError::Invalid(format!("højst {MAX_CVR_I_TOKEN} CVR-numre i et ID-token")));
    }
    // The provider's name and e-mail are shown, never trusted for anything: cut to size and
    // cleaned rather than refused, so a long name cannot lock a person out.
    let navn: String = id.navn.chars().filter(|c| !c.is_control()).take(200).collect();
    let navn = if navn.trim().is_empty() { subject.chars().take(200).collect() } else { navn.trim().to_owned() };
    let email = id.email.trim();
    let email = if email.len() <= 254 && email.parse::<lettre::Address>().is_ok() { email } else { "" };
    let mut roller: Vec<(String, Rolle)> = Vec::new();
    for cvr in &id.cvr_med_ret {
        if cvr.len() != 8 || !cvr.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for (kode, type_) in store.organisationer_med_cvr(cvr).await.map_err(storage)? {
            if let Some(rolle) = rolle_fra_claim(&kode, type_)
                && !roller.iter().any(|(k, r)| *k == kode && *r == rolle)
            {
                roller.push((kode, rolle));
            }
        }
    }
    let ny_id = uuid::Uuid::new_v4().to_string();
    let brugernavn = oidc_brugernavn(issuer, subject);
    let p = OidcPerson { id: &ny_id, brugernavn: &brugernavn, issuer, subject, navn: &navn, email };
    let person_id = store.oidc_person(&p, &roller).await.map_err(storage)?;
    hent(store, &person_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_give_owner_and_provider_roles_never_the_operators() {
        use OrganisationType as T;
        assert_eq!(rolle_fra_claim("101", T::Kommune), Some(Rolle::Dataadgangsadministrator));
        assert_eq!(rolle_fra_claim("G12345", T::Dagtilbud), Some(Rolle::Dataadgangsadministrator));
        assert_eq!(rolle_fra_claim("acme", T::Udbyder), Some(Rolle::Udbyderadministrator));
        assert_eq!(rolle_fra_claim(OPERATOER, T::Udbyder), None);
    }

    #[test]
    fn oidc_usernames_are_stable_and_never_a_local_name() {
        let a = oidc_brugernavn("https://op", "alice");
        assert_eq!(a, oidc_brugernavn("https://op", "alice"));
        assert_ne!(a, oidc_brugernavn("https://other", "alice"));
        assert!(a.starts_with("oidc:") && a.len() == 21);
        assert!(valider(&NyPerson { brugernavn: a, navn: "x".into(), email: String::new() }).is_err());
    }
}
