//! The register's operations as the import and export services use them: rules first, then one
//! storage transaction. Transport-free: callers map their requests to these types.

use std::sync::Arc;

use crate::cache::CodeTableCache;
use crate::codes::CodeTables;
use crate::error::{Fejl, FejlKode, RegistryError};
use crate::lookup::{Cvr, Dar, DarAdresse, LookupError, Produktionsenhed};
use crate::model::{
    Adresse, Aktivitetsstatus, Aktoer, AlternativAdresse, AlternativAdresseData, Anvisningsenhed, AnvisningsenhedData,
    Daginstitution, DaginstitutionData, Dagtilbud, Regelsaet, Registerfelter,
};
use crate::numbers;
use crate::opslag::{Generation, Opslag};
use crate::rules;
use crate::storage::{
    AdresseFilter, AendringMedTilstand, AlternativAdresseState, AnvisningsenhedState, DaginstitutionState,
    DagtilbudFilter, EnhedFilter, RegistryStore, StoreError, Udtraek, WriteOutcome,
};

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
    /// Raised after every write, when other parts of the process read from memory.
    generation: Option<Arc<Generation>>,
    /// Lookups by number from memory (`crate::opslag`), where every writer is known.
    opslag: Option<Arc<Opslag>>,
    /// Export instances in other processes answer lookups from memory: writes wait for them.
    readers_elsewhere: bool,
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NumbersExhausted => RegistryError::afvist(Fejl::new(
                FejlKode::NumreOpbrugt,
                "daginstitutionsNummer",
                "Registerets nummerserie er opbrugt; kontakt registerets drift.",
            )),
            StoreError::AlreadyDone { nummer } => RegistryError::AlreadyDone(nummer),
            StoreError::MessageIdReused { operation } => RegistryError::afvist(Fejl::new(
                FejlKode::MessageIdGenbrugt,
                "MessageID",
                format!(
                    "wsa:MessageID er allerede brugt af systemet inden for 24 timer til en anden forespørgsel ({operation}); giv hver ny skrivning sit eget MessageID."
                ),
            )),
            StoreError::CommitUnknown(e) => RegistryError::OutcomeUnknown(e.to_string()),
            other if other.is_unavailable() => RegistryError::Unavailable(other.to_string()),
            other => RegistryError::Storage(other.to_string()),
        }
    }
}

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, codes: Arc<CodeTableCache>, lookups: Lookups) -> Self {
        Registry { store, codes, lookups, generation: None, opslag: None, readers_elsewhere: false }
    }

    /// Writes through this registry raise `generation` before they are acknowledged.
    pub fn announcing_writes(mut self, generation: Arc<Generation>) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Lookups by number are answered from memory while `generation` stands (every writer of
    /// the register raises it: see `crate::opslag`).
    pub fn with_lookups_in_memory(mut self, generation: Arc<Generation>) -> Self {
        self.opslag = Some(Arc::new(Opslag::new(generation)));
        self
    }

    /// Writes through this registry are acknowledged only once every export instance in
    /// another process that answers lookups from memory has seen them (`crate::laesere`).
    pub fn waiting_for_readers(mut self) -> Self {
        self.readers_elsewhere = true;
        self
    }

    /// The answer of a write that reached the store, on its way to the caller. Whatever it says
    /// (a commit's outcome can be unknown), what others remember of the register is now old.
    async fn written<T>(&self, result: Result<T, RegistryError>) -> Result<T, RegistryError> {
        if let Some(g) = &self.generation {
            g.raise();
        }
        if self.readers_elsewhere {
            crate::laesere::wait_for_readers(self.store.as_ref()).await;
        }
        result
    }

    pub fn lookups(&self) -> &Lookups {
        &self.lookups
    }

    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }

    pub async fn code_tables(&self) -> Result<Arc<CodeTables>, RegistryError> {
        Ok(self.codes.get(self.store.as_ref()).await?)
    }

    /// Adds a code to a code table or renames one (the back office's maintenance of the tables;
    /// codes are never removed, units may use them). The table's version goes up and the cache
    /// everywhere sees the change on its next read.
    pub async fn saet_kode(&self, navn: &str, kode: i32, tekst: &str) -> Result<Arc<CodeTables>, RegistryError> {
        let (navn, tekst) = (navn.trim().to_lowercase(), tekst.trim());
        let mut fejl = Vec::new();
        if kode <= 0 {
            fejl.push(Fejl::new(FejlKode::UgyldigFormat, "kode", "Koden skal være et positivt heltal."));
        }
        fejl.extend(rules::check_kodetekst(tekst, MAX_KODETEKST));
        if !fejl.is_empty() {
            return Err(RegistryError::Afvist(fejl));
        }
        if !self.store.saet_kode(&navn, kode, tekst).await? {
            let kendte = self.code_tables().await?.tabeller.keys().cloned().collect::<Vec<_>>().join(", ");
            let besked = format!("Kodetabellen {navn:?} findes ikke; registeret har: {kendte}.");
            return Err(RegistryError::afvist(Fejl::new(FejlKode::UkendtKode, "navn", besked)));
        }
        Ok(self.codes.refresh(self.store.as_ref()).await?)
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
        self.written(self.store.insert_daginstitution(data, aktoer).await.map_err(RegistryError::from)).await
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
        self.written(
            self.store
                .update_daginstitution(nummer, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
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
    pub async fn close_daginstitution(&self, nummer: &str, aktoer: &Aktoer) -> Result<Daginstitution, RegistryError> {
        self.written(
            self.store
                .close_daginstitution(nummer, aktoer, &|state| delete_decision(state, nummer))
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    /// Every check of [`Self::delete_daginstitution`], without writing.
    pub async fn check_close_daginstitution(&self, nummer: &str) -> Result<(), RegistryError> {
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
        self.written(
            self.store
                .insert_anvisningsenhed(&data, Some(&cvr), aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
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
        let adresse = dar_answer(dar, &mut fejl);
        let cvr_nummer = cvr_answer(cvr, &mut fejl);
        match (adresse, cvr_nummer) {
            (Some(adresse), Some(cvr)) if fejl.is_empty() => {
                Ok((AnvisningsenhedData { adresse, ..data.clone() }, cvr, codes))
            }
            _ => Err(RegistryError::Afvist(fejl)),
        }
    }

    /// Changes an anvisningsenhed's fields (rules 1–3 as on insert; rule 10; rule 11 against its
    /// daginstitution). Its parent stays: a different `daginstitutionsNummer` is refused.
    pub async fn update_anvisningsenhed(
        &self,
        nummer: &str,
        data: &AnvisningsenhedData,
        forventet_version: Option<i64>,
        regelsaet: Regelsaet,
        aktoer: &Aktoer,
    ) -> Result<Anvisningsenhed, RegistryError> {
        let (data, cvr, codes) = self.prepare_anvisningsenhed("", data).await?;
        let decide =
            |s: &AnvisningsenhedState| update_enhed_decision(s, nummer, &data, forventet_version, regelsaet, &codes);
        self.written(
            self.store
                .update_anvisningsenhed(nummer, &cvr, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    /// Closes an anvisningsenhed: not while it has active alternative addresses (rule 7). Closing
    /// a daginstitution's last active unit is allowed (so structures can be closed bottom-up);
    /// a daginstitution left without units is reported by the periodic check (rule 6/13).
    pub async fn close_anvisningsenhed(&self, nummer: &str, aktoer: &Aktoer) -> Result<Anvisningsenhed, RegistryError> {
        self.written(
            self.store
                .close_anvisningsenhed(nummer, aktoer, &|s| close_enhed_decision(s, nummer))
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    /// Moves an anvisningsenhed, with its alternative addresses, to daginstitution `til`: only
    /// within the same administrative kommune (rule 9), and on v2 lawful under the target
    /// (rule 11). Moving a cluster's last unit away is allowed (merges); see rule 6 above.
    pub async fn move_anvisningsenhed(
        &self,
        nummer: &str,
        til: &str,
        regelsaet: Regelsaet,
        aktoer: &Aktoer,
    ) -> Result<Anvisningsenhed, RegistryError> {
        let codes = self.code_tables().await?;
        let decide = |s: &AnvisningsenhedState| move_enhed_decision(s, nummer, til, regelsaet, &codes);
        self.written(
            self.store
                .move_anvisningsenhed(nummer, til, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    /// Every check of the three anvisningsenhed writes above, without writing.
    pub async fn check_update_anvisningsenhed(
        &self,
        nummer: &str,
        data: &AnvisningsenhedData,
        forventet_version: Option<i64>,
        regelsaet: Regelsaet,
    ) -> Result<(), RegistryError> {
        let (data, _, codes) = self.prepare_anvisningsenhed("", data).await?;
        let state = self.store.anvisningsenhed_state(nummer, None).await?;
        update_enhed_decision(&state, nummer, &data, forventet_version, regelsaet, &codes)
            .map(|_| ())
            .map_err(RegistryError::Afvist)
    }

    pub async fn check_close_anvisningsenhed(&self, nummer: &str) -> Result<(), RegistryError> {
        let state = self.store.anvisningsenhed_state(nummer, None).await?;
        close_enhed_decision(&state, nummer).map_err(RegistryError::Afvist)
    }

    pub async fn check_move_anvisningsenhed(
        &self,
        nummer: &str,
        til: &str,
        regelsaet: Regelsaet,
    ) -> Result<(), RegistryError> {
        let codes = self.code_tables().await?;
        let state = self.store.anvisningsenhed_state(nummer, Some(til)).await?;
        move_enhed_decision(&state, nummer, til, regelsaet, &codes).map_err(RegistryError::Afvist)
    }

    /// Rule 1, DAR, and CVR when a P-number is given, for an alternativ adresse: the data with
    /// DAR's address, and the CVR number of its own P-number if it has one.
    async fn prepare_alternativ(
        &self,
        sent_nummer: &str,
        data: &AlternativAdresseData,
    ) -> Result<(AlternativAdresseData, Option<String>), RegistryError> {
        let mut fejl = Vec::new();
        if !sent_nummer.trim().is_empty() {
            fejl.push(Fejl::new(
                FejlKode::NummerIkkeTilladt,
                "alternativAdresseNummer",
                "Registeret tildeler alternativAdresseNummer ved oprettelse; send det ikke med.",
            ));
        }
        fejl.extend(rules::check_alternativ_adresse(data));
        if !fejl.is_empty() {
            return Err(RegistryError::Afvist(fejl));
        }
        let p_nummer = data.p_nummer.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let cvr_lookup = async {
            match p_nummer {
                Some(p) => Some(self.lookups.cvr.produktionsenhed(p).await),
                None => None,
            }
        };
        let (dar, cvr) = tokio::join!(self.lookups.dar.find(&data.adresse), cvr_lookup);
        let adresse = dar_answer(dar, &mut fejl);
        let cvr_nummer = cvr.and_then(|c| cvr_answer(c, &mut fejl));
        match adresse {
            Some(adresse) if fejl.is_empty() => Ok((AlternativAdresseData { adresse, ..data.clone() }, cvr_nummer)),
            _ => Err(RegistryError::Afvist(fejl)),
        }
    }

    /// Creates an alternativ adresse under an active anvisningsenhed. Its CVRNummer comes from its
    /// own P-number, else it is inherited from the anvisningsenhed.
    pub async fn insert_alternativ_adresse(
        &self,
        sent_nummer: &str,
        data: &AlternativAdresseData,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, RegistryError> {
        let (data, cvr) = self.prepare_alternativ(sent_nummer, data).await?;
        let decide = |parent: &AnvisningsenhedState| {
            let enhed = active_enhed(parent, &data.enheds_nummer)?;
            Ok(cvr.clone().or_else(|| enhed.cvr_nummer.clone()))
        };
        self.written(
            self.store
                .insert_alternativ_adresse_checked(&data, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    pub async fn update_alternativ_adresse(
        &self,
        nummer: &str,
        data: &AlternativAdresseData,
        forventet_version: Option<i64>,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, RegistryError> {
        let (data, cvr) = self.prepare_alternativ("", data).await?;
        let decide = |s: &AlternativAdresseState| update_alternativ_decision(s, nummer, &data, &cvr, forventet_version);
        self.written(
            self.store
                .update_alternativ_adresse(nummer, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    pub async fn close_alternativ_adresse(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, RegistryError> {
        let decide = |s: &AlternativAdresseState| active_alternativ(s, nummer).map(|_| ());
        self.written(
            self.store
                .close_alternativ_adresse(nummer, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    /// Moves an alternativ adresse to anvisningsenhed `til`, within one administrative kommune.
    pub async fn move_alternativ_adresse(
        &self,
        nummer: &str,
        til: &str,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, RegistryError> {
        let decide = |s: &AlternativAdresseState| move_alternativ_decision(s, nummer, til);
        self.written(
            self.store
                .move_alternativ_adresse(nummer, til, aktoer, &decide)
                .await
                .map_err(RegistryError::from)
                .and_then(outcome),
        )
        .await
    }

    pub async fn check_insert_alternativ_adresse(
        &self,
        sent_nummer: &str,
        data: &AlternativAdresseData,
    ) -> Result<(), RegistryError> {
        let (data, _) = self.prepare_alternativ(sent_nummer, data).await?;
        let parent = self.store.anvisningsenhed_state(&data.enheds_nummer, None).await?;
        active_enhed(&parent, &data.enheds_nummer).map(|_| ()).map_err(RegistryError::Afvist)
    }

    pub async fn check_update_alternativ_adresse(
        &self,
        nummer: &str,
        data: &AlternativAdresseData,
        forventet_version: Option<i64>,
    ) -> Result<(), RegistryError> {
        let (data, cvr) = self.prepare_alternativ("", data).await?;
        let state = self.store.alternativ_adresse_state(nummer, None).await?;
        update_alternativ_decision(&state, nummer, &data, &cvr, forventet_version)
            .map(|_| ())
            .map_err(RegistryError::Afvist)
    }

    pub async fn check_close_alternativ_adresse(&self, nummer: &str) -> Result<(), RegistryError> {
        let state = self.store.alternativ_adresse_state(nummer, None).await?;
        active_alternativ(&state, nummer).map(|_| ()).map_err(RegistryError::Afvist)
    }

    pub async fn check_move_alternativ_adresse(&self, nummer: &str, til: &str) -> Result<(), RegistryError> {
        let state = self.store.alternativ_adresse_state(nummer, Some(til)).await?;
        move_alternativ_decision(&state, nummer, til).map_err(RegistryError::Afvist)
    }

    pub async fn alternativ_adresse(&self, nummer: &str) -> Result<Option<AlternativAdresse>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        let read = self.store.get_alternativ_adresse(nummer);
        Ok(match &self.opslag {
            Some(o) => o.alternative.through(nummer, read).await?,
            None => read.await?,
        })
    }

    /// Anvisningsenheder by number, P-number, CVR number or daginstitution (exact match, active
    /// and closed alike). A value of the wrong shape matches nothing.
    pub async fn find_anvisningsenheder(&self, filter: EnhedFilter<'_>) -> Result<Vec<Anvisningsenhed>, RegistryError> {
        let shape_ok = match filter {
            EnhedFilter::Nummer(n) | EnhedFilter::Daginstitution(n) => numbers::is_valid(n.trim()),
            EnhedFilter::PNummer(p) => rules::is_valid_p_nummer(p.trim()),
            EnhedFilter::CvrNummer(c) => is_cvr_shape(c),
            EnhedFilter::Navn(part) => is_search_text(part),
        };
        match filter {
            _ if !shape_ok => Ok(vec![]),
            // By number: from memory, like a daginstitution.
            EnhedFilter::Nummer(n) => Ok(self.anvisningsenhed(n.trim()).await?.into_iter().collect()),
            _ => Ok(self.store.find_anvisningsenheder(filter).await?),
        }
    }

    /// Alternative addresses by number, P-number, CVR number or anvisningsenhed (exact match,
    /// active and closed alike). A value of the wrong shape matches nothing.
    pub async fn find_alternative_adresser(
        &self,
        filter: AdresseFilter<'_>,
    ) -> Result<Vec<AlternativAdresse>, RegistryError> {
        let shape_ok = match filter {
            AdresseFilter::Nummer(n) | AdresseFilter::Anvisningsenhed(n) => numbers::is_valid(n.trim()),
            AdresseFilter::PNummer(p) => rules::is_valid_p_nummer(p.trim()),
            AdresseFilter::CvrNummer(c) => is_cvr_shape(c),
            AdresseFilter::Navn(part) => is_search_text(part),
        };
        match filter {
            _ if !shape_ok => Ok(vec![]),
            AdresseFilter::Nummer(n) => Ok(self.alternativ_adresse(n.trim()).await?.into_iter().collect()),
            _ => Ok(self.store.find_alternative_adresser(filter).await?),
        }
    }

    /// Daginstitutioner whose name contains `part`, ignoring case (at most
    /// [`crate::storage::MAX_NAVNESOEG`]). An empty or over-long search text matches nothing.
    pub async fn find_daginstitutioner_by_navn(&self, part: &str) -> Result<Vec<Daginstitution>, RegistryError> {
        if !is_search_text(part) {
            return Ok(vec![]);
        }
        Ok(self.store.find_daginstitutioner_by_navn(part).await?)
    }

    /// Every daginstitution, streamed in number order.
    pub fn stream_daginstitutioner(&self) -> Udtraek<Daginstitution> {
        self.store.stream_daginstitutioner()
    }

    /// Every anvisningsenhed, streamed in number order.
    pub fn stream_anvisningsenheder(&self) -> Udtraek<Anvisningsenhed> {
        self.store.stream_anvisningsenheder()
    }

    /// Every alternativ adresse, streamed in number order.
    pub fn stream_alternative_adresser(&self) -> Udtraek<AlternativAdresse> {
        self.store.stream_alternative_adresser()
    }

    /// Dagtilbud (all three levels, nested), streamed in number order.
    pub fn stream_dagtilbud(&self, filter: DagtilbudFilter) -> Udtraek<Dagtilbud> {
        self.store.stream_dagtilbud(filter)
    }

    /// Changes after `sekvensnummer`, oldest first, at most `max` (capped at 1000), and whether
    /// more follow. Sequence order is commit order (writes are serialised), so a consumer that
    /// asks again from the last number it saw misses nothing.
    pub async fn aendringer_siden(
        &self,
        sekvensnummer: i64,
        max: i64,
    ) -> Result<(Vec<AendringMedTilstand>, bool), RegistryError> {
        let max = max.clamp(1, 1000);
        let mut page = self.store.aendringer_med_tilstand(sekvensnummer.max(0), max + 1).await?;
        let flere = page.len() as i64 > max;
        page.truncate(max as usize);
        Ok((page, flere))
    }

    /// Every version of one unit, oldest first; empty for an unknown number.
    pub async fn historik(&self, nummer: &str) -> Result<Vec<AendringMedTilstand>, RegistryError> {
        if !numbers::is_valid(nummer.trim()) {
            return Ok(vec![]);
        }
        Ok(self.store.historik(nummer.trim()).await?)
    }

    pub async fn anvisningsenhed(&self, nummer: &str) -> Result<Option<Anvisningsenhed>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        let read = self.store.get_anvisningsenhed(nummer);
        Ok(match &self.opslag {
            Some(o) => o.anvisningsenheder.through(nummer, read).await?,
            None => read.await?,
        })
    }

    /// A daginstitution by number; a number of the wrong shape simply matches nothing.
    pub async fn daginstitution(&self, nummer: &str) -> Result<Option<Daginstitution>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        let read = self.store.get_daginstitution(nummer);
        Ok(match &self.opslag {
            Some(o) => o.daginstitutioner.through(nummer, read).await?,
            None => read.await?,
        })
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

/// The stored anvisningsenhed if it exists and is active.
fn active_enhed<'s>(state: &'s AnvisningsenhedState, nummer: &str) -> Result<&'s Anvisningsenhed, Vec<Fejl>> {
    must_be_active(state.current.as_ref(), |a| &a.register, "EnhedsNummer", "Anvisningsenhed", nummer)
}

fn update_enhed_decision(
    state: &AnvisningsenhedState,
    nummer: &str,
    data: &AnvisningsenhedData,
    forventet_version: Option<i64>,
    regelsaet: Regelsaet,
    codes: &CodeTables,
) -> Result<AnvisningsenhedData, Vec<Fejl>> {
    let current = active_enhed(state, nummer)?;
    if data.daginstitutions_nummer != current.data.daginstitutions_nummer {
        return Err(vec![Fejl::new(
            FejlKode::FlytMedMove,
            "daginstitutionsNummer",
            format!(
                "Anvisningsenhed {nummer} hører under {}; flyt den med MoveAnvisningsEnhed.",
                current.data.daginstitutions_nummer
            ),
        )]);
    }
    if let Some(v) = forventet_version.filter(|v| *v != current.register.version) {
        return Err(vec![Fejl::new(
            FejlKode::Samtidighedskonflikt,
            "forventetVersion",
            format!("Anvisningsenhed {nummer} er ændret siden version {v} (nu version {}).", current.register.version),
        )]);
    }
    // The parent is active: a closed daginstitution has no active units.
    parent_decision(&state.parent, data, regelsaet, codes)?;
    Ok(data.clone())
}

fn close_enhed_decision(state: &AnvisningsenhedState, nummer: &str) -> Result<(), Vec<Fejl>> {
    active_enhed(state, nummer)?;
    if !state.active_children.is_empty() {
        return Err(vec![Fejl::new(
            FejlKode::AktiveUnderenheder,
            "EnhedsNummer",
            format!(
                "Anvisningsenhed {nummer} har aktive alternative adresser ({}); nedlæg eller flyt dem først.",
                state.active_children.join(", ")
            ),
        )]);
    }
    Ok(())
}

fn move_enhed_decision(
    state: &AnvisningsenhedState,
    nummer: &str,
    til: &str,
    regelsaet: Regelsaet,
    codes: &CodeTables,
) -> Result<(), Vec<Fejl>> {
    let current = active_enhed(state, nummer)?;
    let target_state = state.target.as_ref().map_or_else(
        || {
            Err(vec![Fejl::new(
                FejlKode::FeltMangler,
                "tilDaginstitutionsNummer",
                "Angiv hvor enheden skal flyttes hen.",
            )])
        },
        Ok,
    )?;
    let target = active_unit(target_state, til)?;
    let from = state.parent.current.as_ref();
    if let Some(from) = from.filter(|f| f.data.adm_kommune_kode != target.data.adm_kommune_kode) {
        return Err(vec![Fejl::new(
            FejlKode::AndenKommune,
            "tilDaginstitutionsNummer",
            format!(
                "Anvisningsenheder kan kun flyttes inden for samme administrative kommune ({} → {}).",
                from.data.adm_kommune_kode, target.data.adm_kommune_kode
            ),
        )]);
    }
    let moved = AnvisningsenhedData { daginstitutions_nummer: til.to_owned(), ..current.data.clone() };
    parent_decision(target_state, &moved, regelsaet, codes)
}

/// Eight digits: the shape of a CVR number (lookups do not need the check digit to match).
/// Longest name-search text accepted (names are at most 132 characters).
const MAX_SOEGETEKST: usize = 132;
/// Longest text of a code in a code table.
const MAX_KODETEKST: usize = 100;

fn is_search_text(part: &str) -> bool {
    let part = part.trim();
    !part.is_empty() && part.chars().count() <= MAX_SOEGETEKST
}

fn is_cvr_shape(c: &str) -> bool {
    let c = c.trim();
    c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit())
}

/// DAR's answer: the address as DAR has it, or an error added to `fejl`.
pub(crate) fn dar_answer(answer: Result<Option<DarAdresse>, LookupError>, fejl: &mut Vec<Fejl>) -> Option<Adresse> {
    match answer {
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
    }
}

/// CVR's answer for a P-number: the CVR number of an active production unit, or an error.
pub(crate) fn cvr_answer(
    answer: Result<Option<Produktionsenhed>, LookupError>,
    fejl: &mut Vec<Fejl>,
) -> Option<String> {
    match answer {
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
    }
}

fn update_alternativ_decision(
    state: &AlternativAdresseState,
    nummer: &str,
    data: &AlternativAdresseData,
    own_cvr: &Option<String>,
    forventet_version: Option<i64>,
) -> Result<(AlternativAdresseData, Option<String>), Vec<Fejl>> {
    let current = active_alternativ(state, nummer)?;
    if data.enheds_nummer != current.data.enheds_nummer {
        return Err(vec![Fejl::new(
            FejlKode::FlytMedMove,
            "EnhedsNummer",
            format!(
                "Alternativ adresse {nummer} hører under {}; flyt den med MoveAlternativAdresse.",
                current.data.enheds_nummer
            ),
        )]);
    }
    if let Some(v) = forventet_version.filter(|v| *v != current.register.version) {
        return Err(vec![Fejl::new(
            FejlKode::Samtidighedskonflikt,
            "forventetVersion",
            format!(
                "Alternativ adresse {nummer} er ændret siden version {v} (nu version {}).",
                current.register.version
            ),
        )]);
    }
    let inherited = state.parent.current.as_ref().and_then(|p| p.cvr_nummer.clone());
    Ok((data.clone(), own_cvr.clone().or(inherited)))
}

fn move_alternativ_decision(state: &AlternativAdresseState, nummer: &str, til: &str) -> Result<(), Vec<Fejl>> {
    active_alternativ(state, nummer)?;
    let target_state = state.target.as_ref().map_or_else(
        || Err(vec![Fejl::new(FejlKode::FeltMangler, "tilEnhedsNummer", "Angiv hvor adressen skal flyttes hen.")]),
        Ok,
    )?;
    active_enhed(target_state, til)?;
    let kommune = |s: &AnvisningsenhedState| s.parent.current.as_ref().map(|d| d.data.adm_kommune_kode);
    match (kommune(&state.parent), kommune(target_state)) {
        (Some(from), Some(to)) if from != to => Err(vec![Fejl::new(
            FejlKode::AndenKommune,
            "tilEnhedsNummer",
            format!("Alternative adresser kan kun flyttes inden for samme administrative kommune ({from} → {to})."),
        )]),
        _ => Ok(()),
    }
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
/// `hvad` names the level in the message, `felt` the field that holds its number.
fn must_be_active<'s, T>(
    found: Option<&'s T>,
    register: impl Fn(&T) -> &Registerfelter,
    felt: &str,
    hvad: &str,
    nummer: &str,
) -> Result<&'s T, Vec<Fejl>> {
    match found {
        None => Err(vec![Fejl::new(
            FejlKode::UkendtNummer,
            felt,
            format!("Der findes ingen {} med nummer {nummer:?}.", hvad.to_lowercase()),
        )]),
        Some(t) if register(t).aktivitetsstatus == Aktivitetsstatus::Nedlagt => Err(vec![Fejl::new(
            FejlKode::EnhedNedlagt,
            felt,
            format!("{hvad} {nummer} er nedlagt og kan ikke ændres, flyttes eller have nye enheder."),
        )]),
        Some(t) => Ok(t),
    }
}

fn active_unit<'s>(state: &'s DaginstitutionState, nummer: &str) -> Result<&'s Daginstitution, Vec<Fejl>> {
    must_be_active(state.current.as_ref(), |d| &d.register, "daginstitutionsNummer", "Daginstitution", nummer)
}

fn active_alternativ<'s>(state: &'s AlternativAdresseState, nummer: &str) -> Result<&'s AlternativAdresse, Vec<Fejl>> {
    must_be_active(state.current.as_ref(), |a| &a.register, "alternativAdresseNummer", "Alternativ adresse", nummer)
}

fn outcome<T>(o: WriteOutcome<T>) -> Result<T, RegistryError> {
    match o {
        WriteOutcome::Done(t) => Ok(t),
        WriteOutcome::Refused(fejl) => Err(RegistryError::Afvist(fejl)),
    }
}

/// The decision functions as tables: each row a stored state and a request, and the error code
/// the write gets (or none).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{KRYDSVALIDERING_SEED, parse_krydsvalidering};

    fn codes() -> CodeTables {
        CodeTables { krydsvalidering: parse_krydsvalidering(KRYDSVALIDERING_SEED).unwrap(), ..Default::default() }
    }

    fn register(status: Aktivitetsstatus, version: i64) -> Registerfelter {
        let now = chrono::Utc::now();
        Registerfelter {
            aktivitetsstatus: status,
            oprettet_dato: now,
            senest_aendret: now,
            nedlagt_dato: None,
            version,
        }
    }

    fn dag(nummer: &str, kommune: i32, status: Aktivitetsstatus) -> Daginstitution {
        Daginstitution {
            nummer: nummer.into(),
            data: DaginstitutionData {
                navn: "Solsikken".into(),
                ejerform_kode: 1,
                lovgrundlag_kode: 1,
                adm_kommune_kode: kommune,
                ejer_cvr_nummer: None,
            },
            register: register(status, 3),
        }
    }

    fn dag_state(d: Option<Daginstitution>, children: &[(&str, i32)]) -> DaginstitutionState {
        DaginstitutionState {
            current: d,
            active_children: children.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
        }
    }

    fn enhed(nummer: &str, parent: &str, status: Aktivitetsstatus) -> Anvisningsenhed {
        Anvisningsenhed {
            nummer: nummer.into(),
            data: AnvisningsenhedData {
                daginstitutions_nummer: parent.into(),
                navn: "Stuen".into(),
                inst_type3: 6010,
                p_nummer: "1003388394".into(),
                ..Default::default()
            },
            cvr_nummer: Some("29189854".into()),
            register: register(status, 2),
        }
    }

    fn enhed_state(current: Option<Anvisningsenhed>, parent: DaginstitutionState) -> AnvisningsenhedState {
        AnvisningsenhedState { current, parent, active_children: vec![], target: None }
    }

    use Aktivitetsstatus::{Aktiv, Nedlagt};

    fn code<T>(r: Result<T, Vec<Fejl>>) -> Option<FejlKode> {
        r.err().map(|f| f[0].kode)
    }

    #[test]
    fn updating_a_daginstitution() {
        let data = dag("G1", 101, Aktiv).data;
        let unlawful = DaginstitutionData { lovgrundlag_kode: 5, ..data.clone() };
        let rows = [
            ("unknown", dag_state(None, &[]), &data, None, Regelsaet::V2, Some(FejlKode::UkendtNummer)),
            (
                "closed",
                dag_state(Some(dag("G1", 101, Nedlagt)), &[]),
                &data,
                None,
                Regelsaet::V2,
                Some(FejlKode::EnhedNedlagt),
            ),
            (
                "stale version",
                dag_state(Some(dag("G1", 101, Aktiv)), &[]),
                &data,
                Some(2),
                Regelsaet::V2,
                Some(FejlKode::Samtidighedskonflikt),
            ),
            ("current version", dag_state(Some(dag("G1", 101, Aktiv)), &[]), &data, Some(3), Regelsaet::V2, None),
            (
                "v2: unlawful for a child",
                dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010)]),
                &unlawful,
                None,
                Regelsaet::V2,
                Some(FejlKode::UlovligKombination),
            ),
            (
                "v1: no cross-validation",
                dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010)]),
                &unlawful,
                None,
                Regelsaet::V1,
                None,
            ),
            (
                "v2: lawful for every child",
                dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010), ("G3", 6011)]),
                &data,
                None,
                Regelsaet::V2,
                None,
            ),
        ];
        for (what, state, data, version, regelsaet, want) in rows {
            assert_eq!(code(update_decision(&state, "G1", data, version, regelsaet, &codes())), want, "{what}");
        }
    }

    #[test]
    fn closing_a_daginstitution() {
        let rows = [
            ("unknown", dag_state(None, &[]), Some(FejlKode::UkendtNummer)),
            ("already closed", dag_state(Some(dag("G1", 101, Nedlagt)), &[]), Some(FejlKode::EnhedNedlagt)),
            (
                "active units below",
                dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010)]),
                Some(FejlKode::AktiveUnderenheder),
            ),
            ("nothing below", dag_state(Some(dag("G1", 101, Aktiv)), &[]), None),
        ];
        for (what, state, want) in rows {
            assert_eq!(code(delete_decision(&state, "G1")), want, "{what}");
        }
    }

    #[test]
    fn updating_and_closing_an_anvisningsenhed() {
        let parent = || dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010)]);
        let data = enhed("G2", "G1", Aktiv).data;
        let elsewhere = AnvisningsenhedData { daginstitutions_nummer: "G9".into(), ..data.clone() };
        let unlawful = AnvisningsenhedData { inst_type3: 6013, ..data.clone() };
        let rows = [
            ("unknown", enhed_state(None, parent()), &data, None, Some(FejlKode::UkendtNummer)),
            (
                "closed",
                enhed_state(Some(enhed("G2", "G1", Nedlagt)), parent()),
                &data,
                None,
                Some(FejlKode::EnhedNedlagt),
            ),
            (
                "names another parent",
                enhed_state(Some(enhed("G2", "G1", Aktiv)), parent()),
                &elsewhere,
                None,
                Some(FejlKode::FlytMedMove),
            ),
            (
                "stale version",
                enhed_state(Some(enhed("G2", "G1", Aktiv)), parent()),
                &data,
                Some(1),
                Some(FejlKode::Samtidighedskonflikt),
            ),
            (
                "type unlawful under the parent",
                enhed_state(Some(enhed("G2", "G1", Aktiv)), parent()),
                &unlawful,
                None,
                Some(FejlKode::UlovligKombination),
            ),
            ("ok", enhed_state(Some(enhed("G2", "G1", Aktiv)), parent()), &data, Some(2), None),
        ];
        for (what, state, data, version, want) in rows {
            let r = update_enhed_decision(&state, "G2", data, version, Regelsaet::V2, &codes());
            assert_eq!(code(r), want, "{what}");
        }
        let mut with_children = enhed_state(Some(enhed("G2", "G1", Aktiv)), parent());
        with_children.active_children = vec!["G5".into()];
        assert_eq!(code(close_enhed_decision(&with_children, "G2")), Some(FejlKode::AktiveUnderenheder));
        assert_eq!(code(close_enhed_decision(&enhed_state(Some(enhed("G2", "G1", Aktiv)), parent()), "G2")), None);
    }

    #[test]
    fn moving_an_anvisningsenhed() {
        let state = |target: Option<DaginstitutionState>| AnvisningsenhedState {
            target,
            ..enhed_state(Some(enhed("G2", "G1", Aktiv)), dag_state(Some(dag("G1", 101, Aktiv)), &[("G2", 6010)]))
        };
        let mut unlawful_target = dag("G7", 101, Aktiv);
        unlawful_target.data.lovgrundlag_kode = 5;
        let rows = [
            ("no target named", state(None), Some(FejlKode::FeltMangler)),
            ("target unknown", state(Some(dag_state(None, &[]))), Some(FejlKode::UkendtNummer)),
            ("target closed", state(Some(dag_state(Some(dag("G7", 101, Nedlagt)), &[]))), Some(FejlKode::EnhedNedlagt)),
            ("another kommune", state(Some(dag_state(Some(dag("G7", 147, Aktiv)), &[]))), Some(FejlKode::AndenKommune)),
            (
                "type unlawful at the target",
                state(Some(dag_state(Some(unlawful_target), &[]))),
                Some(FejlKode::UlovligKombination),
            ),
            ("same kommune, lawful", state(Some(dag_state(Some(dag("G7", 101, Aktiv)), &[]))), None),
        ];
        for (what, state, want) in rows {
            assert_eq!(code(move_enhed_decision(&state, "G2", "G7", Regelsaet::V2, &codes())), want, "{what}");
        }
    }

    #[test]
    fn alternative_addresses() {
        let alternativ = |status| AlternativAdresse {
            nummer: "G4".into(),
            data: AlternativAdresseData { enheds_nummer: "G2".into(), navn: "Skoven".into(), ..Default::default() },
            cvr_nummer: None,
            register: register(status, 1),
        };
        let unit = |nummer: &str, kommune| {
            enhed_state(Some(enhed(nummer, "G1", Aktiv)), dag_state(Some(dag("G1", kommune, Aktiv)), &[]))
        };
        let state = |status, target| AlternativAdresseState {
            current: Some(alternativ(status)),
            parent: unit("G2", 101),
            target,
        };
        let data = alternativ(Aktiv).data;
        let elsewhere = AlternativAdresseData { enheds_nummer: "G8".into(), ..data.clone() };

        let ok = update_alternativ_decision(&state(Aktiv, None), "G4", &data, &None, Some(1)).unwrap();
        assert_eq!(ok.1.as_deref(), Some("29189854"), "without a P-number of its own it inherits the unit's CVR");
        let own = update_alternativ_decision(&state(Aktiv, None), "G4", &data, &Some("12345678".into()), None);
        assert_eq!(own.unwrap().1.as_deref(), Some("12345678"));
        let rows = [
            ("closed", state(Nedlagt, None), &data, None, Some(FejlKode::EnhedNedlagt)),
            ("names another unit", state(Aktiv, None), &elsewhere, None, Some(FejlKode::FlytMedMove)),
            ("stale version", state(Aktiv, None), &data, Some(0), Some(FejlKode::Samtidighedskonflikt)),
        ];
        for (what, state, data, version, want) in rows {
            assert_eq!(code(update_alternativ_decision(&state, "G4", data, &None, version)), want, "{what}");
        }

        let moves = [
            ("no target named", state(Aktiv, None), Some(FejlKode::FeltMangler)),
            ("another kommune", state(Aktiv, Some(unit("G8", 147))), Some(FejlKode::AndenKommune)),
            ("same kommune", state(Aktiv, Some(unit("G8", 101))), None),
        ];
        for (what, state, want) in moves {
            assert_eq!(code(move_alternativ_decision(&state, "G4", "G8")), want, "{what}");
        }
    }
}
