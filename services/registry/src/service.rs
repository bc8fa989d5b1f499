//! The register's operations as the import and export services use them: rules first, then one
//! storage transaction. Transport-free: callers map their requests to these types.

use std::sync::Arc;

use crate::cache::CodeTableCache;
use crate::codes::CodeTables;
use crate::error::{Fejl, FejlKode, RegistryError};
use crate::lookup::{Cvr, Dar, LookupError};
use crate::model::{
    Aktivitetsstatus, Aktoer, Anvisningsenhed, AnvisningsenhedData, Daginstitution, DaginstitutionData, Regelsaet,
};
use crate::numbers;
use crate::rules;
use crate::storage::{DaginstitutionState, RegistryStore, StoreError, WriteOutcome};

/// The external sources the import rules consult.
#[derive(Clone)]
pub struct Lookups {
    pub dar: Arc<dyn Dar>,
    pub cvr: Arc<dyn Cvr>,
}

#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn RegistryStore>,
    codes: Arc<CodeTableCache>,
    lookups: Lookups,
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NumbersExhausted => RegistryError::afvist(Fejl::new(
                FejlKode::NumreOpbrugt,
                "daginstitutionsNummer",
                "Registerets nummerserie er opbrugt; kontakt registerets drift.",
            )),
            other => RegistryError::Storage(other.to_string()),
        }
    }
}

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, codes: Arc<CodeTableCache>, lookups: Lookups) -> Self {
        Registry { store, codes, lookups }
    }

    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }

    pub async fn code_tables(&self) -> Result<Arc<CodeTables>, RegistryError> {
        Ok(self.codes.get(self.store.as_ref()).await?)
    }

    /// Every check of an insert, without writing (ValidateXmlAgainstSchema uses it too).
    /// `sent_nummer` is whatever number the caller sent: the register issues numbers itself.
    pub async fn check_insert_daginstitution(
        &self,
        sent_nummer: &str,
        data: &DaginstitutionData,
    ) -> Result<(), RegistryError> {
        let codes = self.code_tables().await?;
        let mut fejl = Vec::new();
        if !sent_nummer.trim().is_empty() {
            fejl.push(Fejl::new(
                FejlKode::NummerIkkeTilladt,
                "daginstitutionsNummer",
                "Registeret tildeler daginstitutionsNummer ved oprettelse; send det ikke med.",
            ));
        }
        fejl.extend(rules::check_daginstitution(data, &codes));
        if fejl.is_empty() { Ok(()) } else { Err(RegistryError::Afvist(fejl)) }
    }

    pub async fn insert_daginstitution(
        &self,
        sent_nummer: &str,
        data: &DaginstitutionData,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, RegistryError> {
        self.check_insert_daginstitution(sent_nummer, data).await?;
        Ok(self.store.insert_daginstitution(data, aktoer).await?)
    }

    /// Changes a daginstitution (rule 10: type, kommune, legal basis and ownership may change).
    /// With `forventet_version` the change is refused if someone else changed it since; without,
    /// it applies to the latest version (writes are serialised, so none is lost).
    pub async fn update_daginstitution(
        &self,
        nummer: &str,
        data: &DaginstitutionData,
        forventet_version: Option<i64>,
        regelsaet: Regelsaet,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, RegistryError> {
        let codes = self.check_fields(data).await?;
        let decide =
            |state: &DaginstitutionState| update_decision(state, nummer, data, forventet_version, regelsaet, &codes);
        outcome(self.store.update_daginstitution(nummer, aktoer, &decide).await?)
    }

    /// Every check of [`Self::update_daginstitution`], without writing.
    pub async fn check_update_daginstitution(
        &self,
        nummer: &str,
        data: &DaginstitutionData,
        forventet_version: Option<i64>,
        regelsaet: Regelsaet,
    ) -> Result<(), RegistryError> {
        let codes = self.check_fields(data).await?;
        let state = self.store.daginstitution_state(nummer).await?;
        update_decision(&state, nummer, data, forventet_version, regelsaet, &codes)
            .map(|_| ())
            .map_err(RegistryError::Afvist)
    }

    /// Closes (nedlægger) a daginstitution: refused while it has active anvisningsenheder
    /// (rule 7, no cascading delete). The record and its history stay and are exported.
    pub async fn delete_daginstitution(&self, nummer: &str, aktoer: &Aktoer) -> Result<Daginstitution, RegistryError> {
        outcome(self.store.close_daginstitution(nummer, aktoer, &|state| delete_decision(state, nummer)).await?)
    }

    /// Every check of [`Self::delete_daginstitution`], without writing.
    pub async fn check_delete_daginstitution(&self, nummer: &str) -> Result<(), RegistryError> {
        let state = self.store.daginstitution_state(nummer).await?;
        delete_decision(&state, nummer).map_err(RegistryError::Afvist)
    }

    /// Creates an anvisningsenhed under an active daginstitution (rule 5, top-down). The address
    /// is validated against DAR, which supplies coordinates and `kommuneKode` (rule 2); the
    /// P-number must be active in CVR, which supplies `CVRNummer` (rule 3); on v2 the parent's
    /// (ejerform, lovgrundlag) must fit the unit's InstType3 (rule 11).
    pub async fn insert_anvisningsenhed(
        &self,
        sent_nummer: &str,
        data: &AnvisningsenhedData,
        regelsaet: Regelsaet,
        aktoer: &Aktoer,
    ) -> Result<Anvisningsenhed, RegistryError> {
        let (data, cvr, codes) = self.prepare_anvisningsenhed(sent_nummer, data).await?;
        let decide = |parent: &DaginstitutionState| parent_decision(parent, &data, regelsaet, &codes);
        outcome(self.store.insert_anvisningsenhed(&data, Some(&cvr), aktoer, &decide).await?)
    }

    /// Every check of [`Self::insert_anvisningsenhed`], DAR and CVR included, without writing.
    pub async fn check_insert_anvisningsenhed(
        &self,
        sent_nummer: &str,
        data: &AnvisningsenhedData,
        regelsaet: Regelsaet,
    ) -> Result<(), RegistryError> {
        let (data, _, codes) = self.prepare_anvisningsenhed(sent_nummer, data).await?;
        let parent = self.store.daginstitution_state(&data.daginstitutions_nummer).await?;
        parent_decision(&parent, &data, regelsaet, &codes).map_err(RegistryError::Afvist)
    }

    /// Rule 1, DAR and CVR for a new anvisningsenhed: the data with DAR's address, and its CVR
    /// number. Every failure is reported, DAR's and CVR's alike.
    async fn prepare_anvisningsenhed(
        &self,
        sent_nummer: &str,
        data: &AnvisningsenhedData,
    ) -> Result<(AnvisningsenhedData, String, Arc<CodeTables>), RegistryError> {
        let codes = self.code_tables().await?;
        let mut fejl = Vec::new();
        if !sent_nummer.trim().is_empty() {
            fejl.push(Fejl::new(
                FejlKode::NummerIkkeTilladt,
                "EnhedsNummer",
                "Registeret tildeler EnhedsNummer ved oprettelse; send det ikke med.",
            ));
        }
        fejl.extend(rules::check_anvisningsenhed(data, &codes));
        if !fejl.is_empty() {
            return Err(RegistryError::Afvist(fejl));
        }
        let (dar, cvr) =
            tokio::join!(self.lookups.dar.find(&data.adresse), self.lookups.cvr.produktionsenhed(&data.p_nummer));
        let adresse = match dar {
            Ok(Some(a)) => Some(a.to_adresse()),
            Ok(None) => {
                fejl.push(Fejl::new(
                    FejlKode::AdresseUkendt,
                    "Adresse",
                    "Adressen findes ikke i Danmarks Adresseregister (DAR). Ret adressen eller angiv darAdresseId.",
                ));
                None
            }
            Err(e) => {
                fejl.push(unavailable(FejlKode::DarUtilgaengelig, "Adresse", &e));
                None
            }
        };
        let cvr_nummer = match cvr {
            Ok(Some(p)) if p.aktiv => Some(p.cvr_nummer),
            Ok(Some(_)) => {
                fejl.push(Fejl::new(FejlKode::PNummerOphoert, "PNummer", "P-nummeret er ophørt i CVR."));
                None
            }
            Ok(None) => {
                fejl.push(Fejl::new(FejlKode::PNummerUkendt, "PNummer", "P-nummeret findes ikke i CVR."));
                None
            }
            Err(e) => {
                fejl.push(unavailable(FejlKode::CvrUtilgaengelig, "PNummer", &e));
                None
            }
        };
        match (adresse, cvr_nummer) {
            (Some(adresse), Some(cvr)) if fejl.is_empty() => {
                Ok((AnvisningsenhedData { adresse, ..data.clone() }, cvr, codes))
            }
            _ => Err(RegistryError::Afvist(fejl)),
        }
    }

    pub async fn anvisningsenhed(&self, nummer: &str) -> Result<Option<Anvisningsenhed>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        Ok(self.store.get_anvisningsenhed(nummer).await?)
    }

    /// A daginstitution by number; a number of the wrong shape simply matches nothing.
    pub async fn daginstitution(&self, nummer: &str) -> Result<Option<Daginstitution>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        Ok(self.store.get_daginstitution(nummer).await?)
    }

    /// Rule 1 for the fields; returns the code tables for the checks that follow.
    async fn check_fields(&self, data: &DaginstitutionData) -> Result<Arc<CodeTables>, RegistryError> {
        let codes = self.code_tables().await?;
        let fejl = rules::check_daginstitution(data, &codes);
        if fejl.is_empty() { Ok(codes) } else { Err(RegistryError::Afvist(fejl)) }
    }
}

/// The checks of an update that need the stored state: exists, active, expected version,
/// and (v2) the cross-validation against the active children.
fn update_decision(
    state: &DaginstitutionState,
    nummer: &str,
    data: &DaginstitutionData,
    forventet_version: Option<i64>,
    regelsaet: Regelsaet,
    codes: &CodeTables,
) -> Result<DaginstitutionData, Vec<Fejl>> {
    let current = active_unit(state, nummer)?;
    if let Some(v) = forventet_version.filter(|v| *v != current.register.version) {
        return Err(vec![Fejl::new(
            FejlKode::Samtidighedskonflikt,
            "forventetVersion",
            format!(
                "Daginstitution {nummer} er ændret af en anden siden version {v} (nu version {}). \
                 Hent den igen og gentag ændringen.",
                current.register.version
            ),
        )]);
    }
    if regelsaet == Regelsaet::V2 {
        let fejl =
            rules::check_krydsvalidering(data.ejerform_kode, data.lovgrundlag_kode, &state.active_children, codes);
        if !fejl.is_empty() {
            return Err(fejl);
        }
    }
    Ok(data.clone())
}

/// The checks of a close: exists, active, no active children (rule 7).
fn delete_decision(state: &DaginstitutionState, nummer: &str) -> Result<(), Vec<Fejl>> {
    active_unit(state, nummer)?;
    if state.active_children.is_empty() {
        return Ok(());
    }
    let children: Vec<&str> = state.active_children.iter().map(|(n, _)| n.as_str()).collect();
    Err(vec![Fejl::new(
        FejlKode::AktiveUnderenheder,
        "daginstitutionsNummer",
        format!(
            "Daginstitution {nummer} har aktive anvisningsenheder ({}); nedlæg eller flyt dem først.",
            children.join(", ")
        ),
    )])
}

/// A new or moved anvisningsenhed's parent: exists and is active (rule 5), and on v2 its
/// (ejerform, lovgrundlag) fits the unit's InstType3 (rule 11).
fn parent_decision(
    parent: &DaginstitutionState,
    data: &AnvisningsenhedData,
    regelsaet: Regelsaet,
    codes: &CodeTables,
) -> Result<(), Vec<Fejl>> {
    let d = active_unit(parent, &data.daginstitutions_nummer)?;
    if regelsaet == Regelsaet::V2
        && !codes.krydsvalidering.contains(&(d.data.ejerform_kode, d.data.lovgrundlag_kode, data.inst_type3))
    {
        return Err(vec![Fejl::new(
            FejlKode::UlovligKombination,
            "InstType3",
            format!(
                "Institutionstype {} er ikke lovlig under daginstitution {} (ejerform {}, lovgrundlag {}).",
                data.inst_type3, d.nummer, d.data.ejerform_kode, d.data.lovgrundlag_kode
            ),
        )]);
    }
    Ok(())
}

/// A lookup that failed: a retryable error, never a silent pass.
fn unavailable(kode: FejlKode, felt: &str, e: &LookupError) -> Fejl {
    tracing::warn!(error = %e, "lookup failed");
    let kilde = match e {
        LookupError::Unavailable { kilde, .. } => *kilde,
    };
    Fejl::new(kode, felt, format!("{kilde} kunne ikke nås, så intet er gemt. Prøv igen om lidt."))
}

/// The stored unit if it exists and is active; otherwise the error a write on it gets.
fn active_unit<'s>(state: &'s DaginstitutionState, nummer: &str) -> Result<&'s Daginstitution, Vec<Fejl>> {
    match &state.current {
        None => Err(vec![Fejl::new(
            FejlKode::UkendtNummer,
            "daginstitutionsNummer",
            format!("Der findes ingen daginstitution med nummer {nummer:?}."),
        )]),
        Some(d) if d.register.aktivitetsstatus == Aktivitetsstatus::Nedlagt => Err(vec![Fejl::new(
            FejlKode::EnhedNedlagt,
            "daginstitutionsNummer",
            format!("Daginstitution {nummer} er nedlagt og kan ikke ændres."),
        )]),
        Some(d) => Ok(d),
    }
}

fn outcome<T>(o: WriteOutcome<T>) -> Result<T, RegistryError> {
    match o {
        WriteOutcome::Done(t) => Ok(t),
        WriteOutcome::Refused(fejl) => Err(RegistryError::Afvist(fejl)),
    }
}
