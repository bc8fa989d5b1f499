//! The register's operations as the import and export services use them: rules first, then one
//! storage transaction. Transport-free: callers map their requests to these types.

use std::sync::Arc;

use crate::cache::CodeTableCache;
use crate::codes::CodeTables;
use crate::error::{Fejl, FejlKode, RegistryError};
use crate::model::{Aktivitetsstatus, Aktoer, Daginstitution, DaginstitutionData, Regelsaet};
use crate::numbers;
use crate::rules;
use crate::storage::{DaginstitutionState, RegistryStore, StoreError, WriteOutcome};

#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn RegistryStore>,
    codes: Arc<CodeTableCache>,
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
    pub fn new(store: Arc<dyn RegistryStore>, codes: Arc<CodeTableCache>) -> Self {
        Registry { store, codes }
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
