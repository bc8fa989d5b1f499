//! Units created before the register (30 August 2019) keep their numbers: `dtr import-legacy`
//! loads them with the numbers they have (real ones lie in G10433–G29214), through the same rules
//! as the ImportService — fields, code tables, DAR, CVR, parent and rule 11.
//!
//! **[decision]** A load is all or nothing at the level of the file: every row is checked first,
//! and if any is refused, the report lists each refused row and nothing is written. Otherwise
//! every row is written, each in its own transaction with its history; a unit whose number is
//! already there with the same fields is left as it is (a re-run changes nothing), one with
//! other fields is refused. Closed units (`Nedlagt`) are skipped: only active units are loaded.
//! New numbers still come from the register's own series (G30000 on).

use std::collections::HashMap;

use crate::error::{Fejl, FejlKode, RegistryError};
use crate::model::{
    Aktivitetsstatus, Aktoer, AlternativAdresse, AlternativAdresseData, Anvisningsenhed, AnvisningsenhedData,
    Daginstitution, DaginstitutionData, HistoriskEnhed, Registerfelter,
};
use crate::service::{Registry, cvr_answer, dar_answer};
use crate::{numbers, rules};

/// One row of the file, as the caller read it.
#[derive(Debug, Clone)]
pub enum Kladde {
    Daginstitution { nummer: String, data: DaginstitutionData },
    Anvisningsenhed { nummer: String, data: AnvisningsenhedData },
    AlternativAdresse { nummer: String, data: AlternativAdresseData },
}

impl Kladde {
    pub fn nummer(&self) -> &str {
        match self {
            Kladde::Daginstitution { nummer, .. }
            | Kladde::Anvisningsenhed { nummer, .. }
            | Kladde::AlternativAdresse { nummer, .. } => nummer,
        }
    }

    fn niveau(&self) -> u8 {
        match self {
            Kladde::Daginstitution { .. } => 0,
            Kladde::Anvisningsenhed { .. } => 1,
            Kladde::AlternativAdresse { .. } => 2,
        }
    }
}

/// A row of the file: its line number and what it holds, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Raekke {
    pub linje: usize,
    pub indhold: Result<Kladde, String>,
    /// The row names a closed unit: skipped.
    pub nedlagt: bool,
}

/// What a load did, or would do.
#[derive(Debug, Default)]
pub struct Rapport {
    /// (line, number, the reasons).
    pub afviste: Vec<(usize, String, Vec<String>)>,
    pub indlaest: usize,
    pub uaendrede: usize,
    pub sprunget_over: usize,
    /// Checked and found loadable, in a dry run or a load refused for other rows.
    pub godkendte: usize,
}

fn ny_registerfelter() -> Registerfelter {
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    Registerfelter {
        aktivitetsstatus: Aktivitetsstatus::Aktiv,
        oprettet_dato: now,
        senest_aendret: now,
        nedlagt_dato: None,
        version: 1,
    }
}

fn tekster(fejl: Vec<Fejl>) -> Vec<String> {
    fejl.into_iter().map(|f| format!("{} {}: {}", f.kode.code(), f.felt, f.besked)).collect()
}

/// A checked row, ready to write (or already there unchanged).
enum Klar {
    Ny(Box<HistoriskEnhed>),
    Uaendret,
}

impl Registry {
    /// Checks every row and, unless `proeve` or a row is refused, writes them: daginstitutioner
    /// first, then their anvisningsenheder, then the alternative addresses. `fremdrift` hears
    /// of every row handled (checked, then written).
    pub async fn indlaes_historiske(
        &self,
        raekker: Vec<Raekke>,
        proeve: bool,
        aktoer: &Aktoer,
        fremdrift: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Rapport, RegistryError> {
        let mut rapport = Rapport::default();
        let mut kladder: Vec<(usize, Kladde)> = Vec::new();
        for r in raekker {
            match (r.indhold, r.nedlagt) {
                (_, true) => rapport.sprunget_over += 1,
                (Ok(k), false) => kladder.push((r.linje, k)),
                (Err(grund), false) => rapport.afviste.push((r.linje, String::new(), vec![grund])),
            }
        }
        // Rows skipped or unreadable count as handled in each pass, so the progress ends at its total.
        let uden = (rapport.sprunget_over + rapport.afviste.len()) as u64;
        fremdrift(uden);
        kladder.sort_by_key(|(linje, k)| (k.niveau(), *linje));
        // Numbers: of the old series, each once in the file.
        let mut i_filen: HashMap<String, usize> = HashMap::new();
        for (linje, k) in &kladder {
            if let Some(foerste) = i_filen.insert(k.nummer().to_owned(), *linje) {
                rapport.afviste.push((
                    *linje,
                    k.nummer().to_owned(),
                    vec![format!("nummeret står også i linje {foerste}")],
                ));
            }
        }
        let daginstitutioner: HashMap<&str, &DaginstitutionData> = kladder
            .iter()
            .filter_map(|(_, k)| match k {
                Kladde::Daginstitution { nummer, data } => Some((nummer.as_str(), data)),
                _ => None,
            })
            .collect();
        let enheder: HashMap<&str, &AnvisningsenhedData> = kladder
            .iter()
            .filter_map(|(_, k)| match k {
                Kladde::Anvisningsenhed { nummer, data } => Some((nummer.as_str(), data)),
                _ => None,
            })
            .collect();
        let mut klar: Vec<Klar> = Vec::with_capacity(kladder.len());
        for (linje, k) in &kladder {
            match self.tjek_historisk(k, &daginstitutioner, &enheder).await? {
                Ok(x) => klar.push(x),
                Err(grunde) => rapport.afviste.push((*linje, k.nummer().to_owned(), grunde)),
            }
            fremdrift(1);
        }
        rapport.afviste.sort_by_key(|(linje, _, _)| *linje);
        if !rapport.afviste.is_empty() || proeve {
            rapport.godkendte = klar.len();
            return Ok(rapport);
        }
        fremdrift(uden);
        for x in klar {
            match x {
                Klar::Uaendret => rapport.uaendrede += 1,
                Klar::Ny(enhed) => {
                    if self.store().indlaes_historisk(&enhed, aktoer).await? {
                        rapport.indlaest += 1;
                    } else {
                        rapport.uaendrede += 1;
                    }
                }
            }
            fremdrift(1);
        }
        Ok(rapport)
    }

    /// One row through the ImportService's rules; the unit to write, or every reason it cannot be.
    async fn tjek_historisk(
        &self,
        k: &Kladde,
        daginstitutioner: &HashMap<&str, &DaginstitutionData>,
        enheder: &HashMap<&str, &AnvisningsenhedData>,
    ) -> Result<Result<Klar, Vec<String>>, RegistryError> {
        let codes = self.code_tables().await?;
        let nummer = k.nummer();
        let mut fejl: Vec<Fejl> = Vec::new();
        let gammel = numbers::is_valid(nummer) && nummer[1..].parse::<i64>().is_ok_and(|n| n < numbers::FOERSTE);
        if !gammel {
            fejl.push(Fejl::new(
                FejlKode::UgyldigFormat,
                "nummer",
                format!("{nummer:?} er ikke et nummer fra før registeret (G00000–G29999)."),
            ));
        }
        let enhed = match k {
            Kladde::Daginstitution { data, .. } => {
                fejl.extend(rules::check_daginstitution(data, &codes));
                if !fejl.is_empty() {
                    return Ok(Err(tekster(fejl)));
                }
                let stored = self.store().get_daginstitution(nummer).await?;
                if let Some(s) = stored {
                    return Ok(if &s.data == data { Ok(Klar::Uaendret) } else { Err(vec![anden(nummer)]) });
                }
                HistoriskEnhed::Daginstitution(Daginstitution {
                    nummer: nummer.to_owned(),
                    data: data.clone(),
                    register: ny_registerfelter(),
                })
            }
            Kladde::Anvisningsenhed { data, .. } => {
                fejl.extend(rules::check_anvisningsenhed(data, &codes));
                let forael = match daginstitutioner.get(data.daginstitutions_nummer.as_str()) {
                    Some(d) => Some((*d).clone()),
                    None => self.aktiv_daginstitution(&data.daginstitutions_nummer).await?,
                };
                match &forael {
                    None => fejl.push(Fejl::new(
                        FejlKode::UkendtNummer,
                        "daginstitutionsNummer",
                        format!(
                            "Daginstitutionen {} findes hverken i filen eller aktiv i registeret.",
                            data.daginstitutions_nummer
                        ),
                    )),
                    Some(d)
                        if !codes.krydsvalidering.contains(&(d.ejerform_kode, d.lovgrundlag_kode, data.inst_type3)) =>
                    {
                        fejl.extend(rules::check_krydsvalidering(
                            d.ejerform_kode,
                            d.lovgrundlag_kode,
                            &[(nummer.to_owned(), data.inst_type3)],
                            &codes,
                        ));
                    }
                    Some(_) => {}
                }
                if !fejl.is_empty() {
                    return Ok(Err(tekster(fejl)));
                }
                let (dar, cvr) = tokio::join!(
                    self.lookups().dar.find(&data.adresse),
                    self.lookups().cvr.produktionsenhed(&data.p_nummer)
                );
                let adresse = dar_answer(dar, &mut fejl);
                let cvr_nummer = cvr_answer(cvr, &mut fejl);
                let (Some(adresse), Some(cvr_nummer), true) = (adresse, cvr_nummer, fejl.is_empty()) else {
                    return Ok(Err(tekster(fejl)));
                };
                let data = AnvisningsenhedData { adresse, ..data.clone() };
                if let Some(s) = self.store().get_anvisningsenhed(nummer).await? {
                    return Ok(if s.data == data { Ok(Klar::Uaendret) } else { Err(vec![anden(nummer)]) });
                }
                HistoriskEnhed::Anvisningsenhed(Anvisningsenhed {
                    nummer: nummer.to_owned(),
                    data,
                    cvr_nummer: Some(cvr_nummer),
                    register: ny_registerfelter(),
                })
            }
            Kladde::AlternativAdresse { data, .. } => {
                fejl.extend(rules::check_alternativ_adresse(data));
                let forael_cvr = match enheder.get(data.enheds_nummer.as_str()) {
                    // The unit is loaded first; its CVR number comes from its P-number.
                    Some(u) => {
                        Some(cvr_answer(self.lookups().cvr.produktionsenhed(&u.p_nummer).await, &mut Vec::new()))
                    }
                    None => match self.store().get_anvisningsenhed(&data.enheds_nummer).await? {
                        Some(u) if u.register.aktivitetsstatus == Aktivitetsstatus::Aktiv => Some(u.cvr_nummer),
                        _ => None,
                    },
                };
                let Some(forael_cvr) = forael_cvr else {
                    fejl.push(Fejl::new(
                        FejlKode::UkendtNummer,
                        "anvisningsenhedsNummer",
                        format!(
                            "Anvisningsenheden {} findes hverken i filen eller aktiv i registeret.",
                            data.enheds_nummer
                        ),
                    ));
                    return Ok(Err(tekster(fejl)));
                };
                if !fejl.is_empty() {
                    return Ok(Err(tekster(fejl)));
                }
                let p = data.p_nummer.as_deref().map(str::trim).filter(|p| !p.is_empty());
                let egen_cvr = match p {
                    Some(p) => cvr_answer(self.lookups().cvr.produktionsenhed(p).await, &mut fejl),
                    None => None,
                };
                let adresse = dar_answer(self.lookups().dar.find(&data.adresse).await, &mut fejl);
                let (Some(adresse), true) = (adresse, fejl.is_empty()) else { return Ok(Err(tekster(fejl))) };
                let data = AlternativAdresseData { adresse, ..data.clone() };
                if let Some(s) = self.store().get_alternativ_adresse(nummer).await? {
                    return Ok(if s.data == data { Ok(Klar::Uaendret) } else { Err(vec![anden(nummer)]) });
                }
                HistoriskEnhed::AlternativAdresse(AlternativAdresse {
                    nummer: nummer.to_owned(),
                    data,
                    cvr_nummer: egen_cvr.or(forael_cvr),
                    register: ny_registerfelter(),
                })
            }
        };
        if !fejl.is_empty() {
            return Ok(Err(tekster(fejl)));
        }
        Ok(Ok(Klar::Ny(Box::new(enhed))))
    }

    async fn aktiv_daginstitution(&self, nummer: &str) -> Result<Option<DaginstitutionData>, RegistryError> {
        let d = self.store().get_daginstitution(nummer).await?;
        Ok(d.filter(|d| d.register.aktivitetsstatus == Aktivitetsstatus::Aktiv).map(|d| d.data))
    }
}

fn anden(nummer: &str) -> String {
    format!("{nummer} findes allerede i registeret med andre oplysninger")
}
