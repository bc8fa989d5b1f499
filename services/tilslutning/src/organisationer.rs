//! Organisations: registered by the operator (there is no self sign-up: providers ask STIL),
//! read and listed by anyone acting, made passive by the operator with a comment.

use crate::error::{Result, TilslutningError};
use crate::livscyklus::OPERATOER;
use crate::model::{Organisation, OrganisationInfo, OrganisationType};
use crate::side::{self, Side};
use crate::store::TilslutningStore;

/// An organisation as the operator registers it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct NyOrganisation {
    pub kode: String,
    pub navn: String,
    pub cvr: String,
    pub pnr: String,
    pub type_: Option<OrganisationType>,
}

fn storage(e: crate::store::StoreError) -> TilslutningError {
    TilslutningError::storage(e)
}

fn kun_operatoer(aktoer: &str) -> Result<()> {
    if aktoer == OPERATOER {
        Ok(())
    } else {
        Err(TilslutningError::Forbidden("kun STIL registrerer og passiverer organisationer".into()))
    }
}

/// Every problem with a new organisation, in one message.
fn valider(o: &NyOrganisation) -> Result<Organisation> {
    let mut fejl = Vec::new();
    let kode = o.kode.trim();
    if kode.is_empty() || kode.len() > 6 || !kode.bytes().all(|b| b.is_ascii_alphanumeric()) {
        fejl.push("kode skal være 1 til 6 bogstaver eller cifre");
    }
    let navn = o.navn.trim();
    if navn.is_empty() || navn.chars().count() > 200 {
        fejl.push("navn skal være 1 til 200 tegn");
    } else if crate::error::tekst("navn", navn).is_err() {
        fejl.push("navn indeholder et tegn, som ikke kan bruges");
    }
    if !(o.cvr.is_empty() || (o.cvr.len() == 8 && o.cvr.bytes().all(|b| b.is_ascii_digit()))) {
        fejl.push("cvr skal være 8 cifre");
    }
    if !(o.pnr.is_empty() || (o.pnr.len() == 10 && o.pnr.bytes().all(|b| b.is_ascii_digit()))) {
        fejl.push("pnr skal være 10 cifre");
    }
    if o.type_.is_none() {
        fejl.push("angiv typen");
    }
    match o.type_ {
        Some(type_) if fejl.is_empty() => Ok(Organisation {
            kode: kode.to_owned(),
            navn: navn.to_owned(),
            cvr: o.cvr.clone(),
            pnr: o.pnr.clone(),
            type_,
        }),
        _ => Err(TilslutningError::Invalid(fejl.join("; "))),
    }
}

pub async fn create(store: &dyn TilslutningStore, aktoer: &str, o: &NyOrganisation) -> Result<OrganisationInfo> {
    kun_operatoer(aktoer)?;
    let org = valider(o)?;
    if !store.create_organisation(&org).await.map_err(storage)? {
        return Err(TilslutningError::AlreadyExists(format!("organisationen {} findes allerede", org.kode)));
    }
    get(store, &org.kode).await
}

pub async fn get(store: &dyn TilslutningStore, kode: &str) -> Result<OrganisationInfo> {
    let o = store.get_organisation(kode).await.map_err(storage)?;
    o.ok_or_else(|| TilslutningError::NotFound(format!("organisationen {kode} findes ikke")))
}

/// An organisation as `aktoer` may see it: the operator's comment on why it is passive is for
/// the operator and the organisation itself.
pub fn som_set_af(aktoer: &str, mut o: OrganisationInfo) -> OrganisationInfo {
    if aktoer != crate::livscyklus::OPERATOER && aktoer != o.organisation.kode {
        o.passiveret_kommentar.clear();
    }
    o
}

/// A page of organisations (of one type, matching `soeg`) and the next page's token.
pub async fn list(
    store: &dyn TilslutningStore,
    type_: Option<OrganisationType>,
    soeg: &str,
    side: &Side,
) -> Result<(Vec<OrganisationInfo>, String)> {
    let size = side.stoerrelse("organisationer")?;
    let mut page = store.list_organisationer(type_, soeg.trim(), &side.token, size + 1).await.map_err(storage)?;
    let naeste = side::klip(&mut page, size, |o| o.organisation.kode.clone());
    Ok((page, naeste))
}

pub async fn set_passiv(
    store: &dyn TilslutningStore,
    aktoer: &str,
    kode: &str,
    passiv: bool,
    kommentar: &str,
) -> Result<OrganisationInfo> {
    kun_operatoer(aktoer)?;
    if !store.set_organisation_passiv(kode, passiv, kommentar.trim()).await.map_err(storage)? {
        return Err(TilslutningError::NotFound(format!("organisationen {kode} findes ikke")));
    }
    get(store, kode).await
}
