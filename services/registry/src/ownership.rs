//! Who owns what (docs/registry.md §6): kommunale, selvejende and udliciterede dagtilbud belong to the
//! administrative kommune; private ones to their owner, identified by CVR. The gateway asks for
//! the owners a write concerns, to check the caller's data-access agreements with each.

use std::collections::BTreeSet;

use crate::error::RegistryError;
use crate::model::DaginstitutionData;
use crate::rules::EJERFORM_PRIVAT;
use crate::service::Registry;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dataejer {
    /// By kommunekode.
    Kommune(i32),
    /// By the private owner's CVR number.
    PrivatEjer(String),
}

/// The owner of a daginstitution with these fields.
pub fn owner_of(d: &DaginstitutionData) -> Dataejer {
    match (&d.ejer_cvr_nummer, d.ejerform_kode) {
        (Some(cvr), EJERFORM_PRIVAT) if !cvr.is_empty() => Dataejer::PrivatEjer(cvr.clone()),
        _ => Dataejer::Kommune(d.adm_kommune_kode),
    }
}

/// Something a write touches whose owner counts.
#[derive(Debug, Clone)]
pub enum Berort<'a> {
    /// A daginstitution as the request would make it (insert, or the new state of an update).
    NyDaginstitution(&'a DaginstitutionData),
    Daginstitution(&'a str),
    Anvisningsenhed(&'a str),
    AlternativAdresse(&'a str),
}

impl Registry {
    /// Every owner the touched units belong to. Units that do not exist add none: the write
    /// itself will be refused for them.
    pub async fn dataejere(&self, berort: &[Berort<'_>]) -> Result<BTreeSet<Dataejer>, RegistryError> {
        let mut out = BTreeSet::new();
        for b in berort {
            let daginstitution = match b {
                Berort::NyDaginstitution(d) => {
                    // An owner the payload names wrongly is no one: an owner CVR that is not a
                    // CVR number (DTR0103) or a kommunekode not in the code table (DTR0104). The
                    // rules refuse the write with that code, and the caller should hear it, not
                    // an access refusal: the payload is checked before the agreements are.
                    match owner_of(d) {
                        Dataejer::PrivatEjer(cvr) if !crate::rules::is_valid_cvr(&cvr) => {}
                        Dataejer::Kommune(k) if !self.code_tables().await?.contains(crate::codes::KOMMUNER, k) => {}
                        owner => {
                            out.insert(owner);
                        }
                    }
                    continue;
                }
                Berort::Daginstitution(n) => n.to_string(),
                Berort::Anvisningsenhed(n) => match self.anvisningsenhed(n).await? {
                    Some(a) => a.data.daginstitutions_nummer,
                    None => continue,
                },
                Berort::AlternativAdresse(n) => {
                    let Some(l) = self.alternativ_adresse(n).await? else { continue };
                    match self.anvisningsenhed(&l.data.enheds_nummer).await? {
                        Some(a) => a.data.daginstitutions_nummer,
                        None => continue,
                    }
                }
            };
            if let Some(d) = self.daginstitution(&daginstitution).await? {
                out.insert(owner_of(&d.data));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_owner_by_cvr_else_kommune() {
        let d = DaginstitutionData { adm_kommune_kode: 101, ejerform_kode: 1, ..Default::default() };
        assert_eq!(owner_of(&d), Dataejer::Kommune(101));
        let p = DaginstitutionData { ejerform_kode: 3, ejer_cvr_nummer: Some("29189854".into()), ..d.clone() };
        assert_eq!(owner_of(&p), Dataejer::PrivatEjer("29189854".into()));
        let selvejende = DaginstitutionData { ejerform_kode: 2, ejer_cvr_nummer: Some("29189854".into()), ..d };
        assert_eq!(owner_of(&selvejende), Dataejer::Kommune(101), "only ejerform Privat is owned by its CVR");
    }
}
