//! DAR and CVR from local reference files (`;`-separated, header row): the embedded default,
//! for offline use and the demo. The project ships a small set in `data/reference/`; a
//! directory of the same two files (`dar.csv`, `cvr.csv`) can replace it.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;

use super::{Cvr, Dar, DarAdresse, LookupError, Produktionsenhed, norm};
use crate::model::Adresse;

const DEMO_DAR: &str = include_str!("../../../../data/reference/dar.csv");
const DEMO_CVR: &str = include_str!("../../../../data/reference/cvr.csv");

#[derive(Debug, Clone, Default)]
pub struct LocalReference {
    adresser: Vec<DarAdresse>,
    /// Position in `adresser` by id (lower case), and by the address's compared components, so
    /// a lookup costs the same with 30 addresses as with a whole country's.
    efter_id: HashMap<String, usize>,
    efter_adresse: HashMap<Noegle, usize>,
    enheder: HashMap<String, Produktionsenhed>,
}

/// (street, house number, postcode, floor, door), each as [`norm`] has it.
type Noegle = (String, String, String, String, String);

fn noegle(vej: &str, hus: &str, post: &str, etage: Option<&str>, doer: Option<&str>) -> Noegle {
    let o = |x: Option<&str>| x.map(norm).unwrap_or_default();
    (norm(vej), norm(hus), post.trim().to_owned(), o(etage), o(doer))
}

#[derive(Debug, thiserror::Error)]
#[error("reference data {fil}: {aarsag}")]
pub struct ReferenceError {
    pub fil: String,
    pub aarsag: String,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

impl LocalReference {
    /// The small set shipped with the project.
    pub fn demo() -> Result<Self, ReferenceError> {
        Self::parse(DEMO_DAR, DEMO_CVR)
    }

    /// `dar.csv` and `cvr.csv` from a directory.
    pub fn from_dir(dir: &Path) -> Result<Self, ReferenceError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| ReferenceError { fil: dir.join(name).display().to_string(), aarsag: e.to_string() })
        };
        Self::parse(&read("dar.csv")?, &read("cvr.csv")?)
    }

    pub fn parse(dar_csv: &str, cvr_csv: &str) -> Result<Self, ReferenceError> {
        let err = |fil: &str, aarsag: String| ReferenceError { fil: fil.to_owned(), aarsag };
        let mut out = LocalReference::default();
        let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(dar_csv.as_bytes());
        for (i, rec) in rdr.records().enumerate() {
            let r = rec.map_err(|e| err("dar.csv", e.to_string()))?;
            let f = |k: usize| r.get(k).unwrap_or_default();
            let num = |k: usize| {
                f(k).trim().parse::<f64>().map_err(|_| err("dar.csv", format!("line {}: bad number", i + 2)))
            };
            let d = DarAdresse {
                id: f(0).trim().to_owned(),
                vej_navn: f(1).trim().to_owned(),
                hus_nummer: f(2).trim().to_owned(),
                etage: opt(f(3)),
                doer: opt(f(4)),
                post_nummer: f(5).trim().to_owned(),
                post_distrikt: f(6).trim().to_owned(),
                supplerende_bynavn: opt(f(7)),
                kommune_kode: num(8)? as i32,
                geo_bredde: num(9)?,
                geo_laengde: num(10)?,
            };
            let i = out.adresser.len();
            out.efter_id.entry(d.id.to_lowercase()).or_insert(i);
            let k = noegle(&d.vej_navn, &d.hus_nummer, &d.post_nummer, d.etage.as_deref(), d.doer.as_deref());
            out.efter_adresse.entry(k).or_insert(i);
            out.adresser.push(d);
        }
        let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(cvr_csv.as_bytes());
        for rec in rdr.records() {
            let r = rec.map_err(|e| err("cvr.csv", e.to_string()))?;
            let f = |k: usize| r.get(k).unwrap_or_default().trim().to_owned();
            let p = Produktionsenhed { p_nummer: f(0), cvr_nummer: f(1), navn: f(2), aktiv: f(3) == "true" };
            out.enheder.insert(p.p_nummer.clone(), p);
        }
        Ok(out)
    }
}

#[async_trait]
impl Dar for LocalReference {
    async fn find(&self, a: &Adresse) -> Result<Option<DarAdresse>, LookupError> {
        let i = match a.dar_adresse_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => self.efter_id.get(&id.to_lowercase()),
            None => {
                let k = noegle(&a.vej_navn, &a.hus_nummer, &a.post_nummer, a.etage.as_deref(), a.doer.as_deref());
                self.efter_adresse.get(&k)
            }
        };
        Ok(i.map(|&i| self.adresser[i].clone()))
    }
}

#[async_trait]
impl Cvr for LocalReference {
    async fn produktionsenhed(&self, p_nummer: &str) -> Result<Option<Produktionsenhed>, LookupError> {
        Ok(self.enheder.get(p_nummer.trim()).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_set_answers_by_components_and_id() {
        let r = LocalReference::demo().unwrap();
        let a = Adresse {
            vej_navn: "amagerbrogade".into(),
            hus_nummer: "10".into(),
            post_nummer: "2300".into(),
            ..Adresse::default()
        };
        let d = r.find(&a).await.unwrap().expect("found");
        assert_eq!(d.kommune_kode, 101);
        assert_eq!(d.vej_navn, "Amagerbrogade");
        let by_id = Adresse { dar_adresse_id: Some(d.id.clone()), ..Adresse::default() };
        assert_eq!(r.find(&by_id).await.unwrap(), Some(d));
        let unknown = Adresse { hus_nummer: "999".into(), ..a };
        assert_eq!(r.find(&unknown).await.unwrap(), None);
        let p = r.produktionsenhed("1012345678").await.unwrap().unwrap();
        assert_eq!(p.cvr_nummer, "64942212");
        assert!(!r.produktionsenhed("1099999999").await.unwrap().unwrap().aktiv);
        assert_eq!(r.produktionsenhed("1").await.unwrap(), None);
    }
}
