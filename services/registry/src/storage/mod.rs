//! Storage of the register: one interface, one implementation per backend (PostgreSQL and
//! SQLite). Both run the same SQL text (`$N` placeholders work in both); the per-backend parts are
//! the pool, the migrations and how a write transaction starts.

mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::codes::CodeTables;
use crate::model::{
    Aktoer, AlternativAdresse, AlternativAdresseData, Anvisningsenhed, AnvisningsenhedData, Daginstitution,
    DaginstitutionData, Dagtilbud, Enhedstype, Handling, HistoriskEnhed,
};

pub use sql::{PostgresStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the series of institution numbers is used up")]
    NumbersExhausted,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The commit itself failed: the write may or may not have been made.
    #[error("commit outcome unknown: {0}")]
    CommitUnknown(sqlx::Error),
    /// The write's MessageID was already used by this system within 24 hours: the first write
    /// made (or touched) unit `nummer`; nothing was written now.
    #[error("already done as {nummer}")]
    AlreadyDone { nummer: String },
    /// The write's MessageID was used by this system within 24 hours for another request
    /// (`operation`, or the same operation with other content): nothing was written.
    #[error("MessageID already used for another request ({operation})")]
    MessageIdReused { operation: String },
    /// The backend does not offer this (readers' leases on SQLite).
    #[error("not offered by this database: {0}")]
    Unsupported(&'static str),
}

impl StoreError {
    pub fn commit(e: sqlx::Error) -> Self {
        StoreError::CommitUnknown(e)
    }

    /// The database could not be reached or gave no connection in time: nothing was done.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
            )
        )
    }
}

/// One entry of the change sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct AendringRecord {
    pub sekvensnummer: i64,
    pub tidspunkt: DateTime<Utc>,
    pub enhedstype: String,
    pub nummer: String,
    pub handling: String,
    pub version: i64,
}

/// A unit as it was at one version (the JSON kept in `enhed_version`).
#[derive(Debug, Clone, PartialEq)]
pub enum Tilstand {
    Daginstitution(crate::model::Daginstitution),
    Anvisningsenhed(crate::model::Anvisningsenhed),
    AlternativAdresse(crate::model::AlternativAdresse),
}

/// A change with the unit's state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct AendringMedTilstand {
    pub aendring: AendringRecord,
    pub tilstand: Tilstand,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub tidspunkt: DateTime<Utc>,
    pub system: String,
    pub organisation: Option<String>,
    pub correlation_id: String,
    pub operation: String,
    pub nummer: Option<String>,
    pub udfald: String,
}

/// What a write transaction shows the domain before it decides: the unit as stored now and the
/// active units directly below it. Taken inside the (serialised) write transaction, so the
/// decision and the write are atomic.
#[derive(Debug, Clone, PartialEq)]
pub struct DaginstitutionState {
    pub current: Option<Daginstitution>,
    /// (enhedsNummer, InstType3) of every active anvisningsenhed below it.
    pub active_children: Vec<(String, i32)>,
}

/// What a write on an anvisningsenhed sees inside its transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AnvisningsenhedState {
    pub current: Option<Anvisningsenhed>,
    /// Its daginstitution and that one's active anvisningsenheder (this unit included).
    pub parent: DaginstitutionState,
    /// Numbers of the active alternative addresses below it.
    pub active_children: Vec<String>,
    /// For a move: the target daginstitution.
    pub target: Option<DaginstitutionState>,
}

/// The domain's decision function for an anvisningsenhed write.
pub type DecideAnvisningsenhed<'a, T> = dyn for<'s> Fn(&'s AnvisningsenhedState) -> Decision<T> + Send + Sync + 'a;

/// What a write on an alternativ adresse sees inside its transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AlternativAdresseState {
    pub current: Option<AlternativAdresse>,
    /// Its anvisningsenhed (with that one's daginstitution).
    pub parent: AnvisningsenhedState,
    /// For a move: the target anvisningsenhed.
    pub target: Option<AnvisningsenhedState>,
}

/// The domain's decision function for an alternativ-adresse write.
pub type DecideAlternativAdresse<'a, T> = dyn for<'s> Fn(&'s AlternativAdresseState) -> Decision<T> + Send + Sync + 'a;

/// The domain's verdict on a write: go ahead, or refuse with every error found.
pub type Decision<T> = Result<T, Vec<crate::Fejl>>;

/// The domain's decision function for a daginstitution write.
pub type DecideDaginstitution<'a, T> = dyn for<'s> Fn(&'s DaginstitutionState) -> Decision<T> + Send + Sync + 'a;

/// Result of a write the domain may refuse.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome<T> {
    Done(T),
    Refused(Vec<crate::Fejl>),
}

impl<T> WriteOutcome<T> {
    pub fn done(self) -> Result<T, Vec<crate::Fejl>> {
        match self {
            WriteOutcome::Done(t) => Ok(t),
            WriteOutcome::Refused(f) => Err(f),
        }
    }
}

/// A decision that allows the write: for loading data that was checked elsewhere (demo data,
/// storage tests). Imports go through the domain's decisions.
pub fn no_checks(_: &DaginstitutionState) -> Decision<()> {
    Ok(())
}

/// An active unit as the periodic re-validation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AktivEnhed {
    pub enhedstype: Enhedstype,
    pub nummer: String,
    /// The administrative kommune of the daginstitution it belongs to (the owner).
    pub adm_kommune_kode: i32,
    pub ejer_cvr_nummer: Option<String>,
    /// None for a daginstitution.
    pub adresse: Option<crate::model::Adresse>,
    pub p_nummer: Option<String>,
    /// For a daginstitution: how many active anvisningsenheder it has.
    pub aktive_enheder: i64,
}

/// One finding of a re-validation run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fund {
    pub enhedstype: Enhedstype,
    pub nummer: String,
    pub adm_kommune_kode: i32,
    pub ejer_cvr_nummer: Option<String>,
    pub kode: String,
    pub besked: String,
}

/// A stored re-validation run.
#[derive(Debug, Clone, PartialEq)]
pub struct Koersel {
    pub id: i64,
    pub startet: DateTime<Utc>,
    pub afsluttet: DateTime<Utc>,
    pub antal_enheder: i64,
    pub fund: Vec<Fund>,
}

/// Lookups of anvisningsenheder (the ExportService's `GetAnvisningsEnhederBy…`): exact match,
/// or for `Navn` a case-insensitive substring of the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnhedFilter<'a> {
    Nummer(&'a str),
    PNummer(&'a str),
    CvrNummer(&'a str),
    Daginstitution(&'a str),
    Navn(&'a str),
}

/// Lookups of alternative addresses (`GetAlternativAdresserBy…`), like [`EnhedFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdresseFilter<'a> {
    Nummer(&'a str),
    PNummer(&'a str),
    CvrNummer(&'a str),
    Anvisningsenhed(&'a str),
    Navn(&'a str),
}

/// **[decision]** A name search answers at most this many units (lowest numbers first), so a
/// one-letter search cannot turn a lookup into a full extract; full extracts have their own
/// streamed operations.
pub const MAX_NAVNESOEG: i64 = 500;

/// The LIKE pattern (with `\` as escape) that finds `part` anywhere in a stored `soegenavn`.
pub fn navn_pattern(part: &str) -> String {
    let folded = crate::model::soegenavn(part.trim());
    let mut p = String::with_capacity(folded.len() + 2);
    p.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Which dagtilbud a nested extract holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DagtilbudFilter {
    Alle,
    Daginstitution(String),
    AdmKommune(i32),
}

/// Records of a full extract in order, as the database cursor yields them. The reading runs on
/// its own task and hands records over a small bounded channel, a batch at a time (one wake-up
/// per batch, not per record): the database is read only as fast as the consumer takes
/// records, and when the consumer goes away (a client that disconnects) the task stops and the
/// query is dropped.
pub type Udtraek<T> = futures::stream::BoxStream<'static, Result<T, StoreError>>;

/// Batches a reader may get ahead of its consumer, and records per batch.
const UDTRAEK_BUFFER: usize = 4;
const UDTRAEK_BATCH: usize = 64;

type Batch<T> = Result<Vec<T>, StoreError>;

/// Where a producer hands its records; `false` from [`UdtraekSender::send`] means the consumer
/// is gone and the producer should stop.
pub struct UdtraekSender<T> {
    tx: tokio::sync::mpsc::Sender<Batch<T>>,
    batch: Vec<T>,
    sent: u64,
    gone: bool,
}

impl<T> UdtraekSender<T> {
    pub async fn send(&mut self, record: T) -> bool {
        self.batch.push(record);
        if self.batch.len() < UDTRAEK_BATCH {
            return true;
        }
        self.flush().await
    }

    async fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(UDTRAEK_BATCH));
        let n = batch.len() as u64;
        if self.tx.send(Ok(batch)).await.is_err() {
            self.gone = true;
            return false;
        }
        self.sent += n;
        true
    }
}

/// Runs `produce` on its own task and returns the stream of what it sends. `produce` gives
/// its sender back when done, so the last batch is always delivered; an error ends the stream
/// with that error as its last item.
pub fn udtraek<T, F, Fut>(produce: F) -> Udtraek<T>
where
    T: Send + 'static,
    F: FnOnce(UdtraekSender<T>) -> Fut,
    Fut: Future<Output = Result<UdtraekSender<T>, StoreError>> + Send + 'static,
{
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(UDTRAEK_BUFFER);
    let work =
        produce(UdtraekSender { tx: tx.clone(), batch: Vec::with_capacity(UDTRAEK_BATCH), sent: 0, gone: false });
    tokio::spawn(async move {
        match work.await {
            Ok(mut out) => {
                out.flush().await;
                if out.gone {
                    tracing::info!(records = out.sent, "extract stopped early: the reader went away");
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
        .flat_map(|batch: Batch<T>| {
            let items: Vec<Result<T, StoreError>> = match batch {
                Ok(records) => records.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        })
        .boxed()
}

/// A completed write, for the audit trail and the change sequence.
#[derive(Debug, Clone, Copy)]
pub struct Skrivning<'a> {
    /// Who wrote, and in which operation.
    pub aktoer: &'a Aktoer,
    pub enhedstype: Enhedstype,
    pub handling: Handling,
}

#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    /// Applies pending migrations and seeds the code tables on first run.
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    /// How the connection pool is used now (the `dtr_db_pool_connections` gauges).
    fn pool_use(&self) -> dtr_migrations::PoolUse;
    async fn load_code_tables(&self) -> Result<CodeTables, StoreError>;
    /// The version `load_code_tables` would answer now (the sum of the tables' versions, which
    /// only rise), without loading them.
    async fn code_tables_version(&self) -> Result<i64, StoreError>;
    /// The number the next change-sequence entry would follow (0 for an empty register).
    async fn latest_sekvensnummer(&self) -> Result<i64, StoreError>;

    // Readers' leases (`crate::laesere`): export instances in other processes that answer
    // lookups from memory. Only where the backend wakes them on every write (PostgreSQL).

    /// Whether this backend keeps readers' leases.
    fn holds_reader_leases(&self) -> bool {
        false
    }
    /// A notice per committed write, as it commits (PostgreSQL's LISTEN). The stream ends when
    /// the connection is lost: what was written meanwhile is unknown.
    async fn write_notices(&self) -> Result<futures::stream::BoxStream<'static, ()>, StoreError> {
        Err(StoreError::Unsupported("write notices"))
    }
    /// Reader `id` has seen the change sequence up to `seen` and holds its lease for `lease`
    /// more, by the database's clock.
    async fn post_reader(&self, _id: &str, _seen: i64, _lease: std::time::Duration) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("readers' leases"))
    }
    /// How many readers with a running lease have not yet seen the change sequence up to
    /// `sekvens`.
    async fn readers_behind(&self, _sekvens: i64) -> Result<i64, StoreError> {
        Err(StoreError::Unsupported("readers' leases"))
    }
    /// Adds or renames one code of table `navn` and raises the table's version, in one
    /// transaction. `false` when there is no such table.
    async fn saet_kode(&self, navn: &str, kode: i32, tekst: &str) -> Result<bool, StoreError>;

    /// Stores whole dagtilbud as given — states and dates included — in one transaction,
    /// issuing real numbers in place of the given ones and bypassing the rules: for synthetic
    /// registers (demos, benchmarks). Each unit gets its version, change and audit record like
    /// any insert.
    async fn load_dagtilbud(&self, batch: Vec<Dagtilbud>, aktoer: &Aktoer) -> Result<Vec<Dagtilbud>, StoreError>;

    /// On an empty register only: the next number issued is `first` (a synthetic register uses
    /// the whole five-digit series). `false` when the register has units.
    async fn start_numbers_at(&self, first: i64) -> Result<bool, StoreError>;

    /// Issues a number and stores a new daginstitution, its first version, a change-sequence
    /// entry and an audit record in one transaction.
    async fn insert_daginstitution(
        &self,
        data: &DaginstitutionData,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, StoreError>;
    async fn get_daginstitution(&self, nummer: &str) -> Result<Option<Daginstitution>, StoreError>;
    /// Writes a unit of the old register with its own number, as a first version with history
    /// and audit; `false` (nothing written) when a unit of any level has that number already.
    async fn indlaes_historisk(&self, enhed: &HistoriskEnhed, aktoer: &Aktoer) -> Result<bool, StoreError>;

    /// Daginstitutioner whose name contains `part` (case-insensitive), at most [`MAX_NAVNESOEG`],
    /// ordered by number.
    async fn find_daginstitutioner_by_navn(&self, part: &str) -> Result<Vec<Daginstitution>, StoreError>;

    /// Every daginstitution, active and closed, ordered by number, streamed.
    fn stream_daginstitutioner(&self) -> Udtraek<Daginstitution>;
    /// Every anvisningsenhed, ordered by number, streamed.
    fn stream_anvisningsenheder(&self) -> Udtraek<Anvisningsenhed>;
    /// Every alternativ adresse, ordered by number, streamed.
    fn stream_alternative_adresser(&self) -> Udtraek<AlternativAdresse>;
    /// Daginstitutioner with their units and those units' alternative addresses, nested, ordered
    /// by number at each level, streamed; read in one statement, so the extract is consistent.
    fn stream_dagtilbud(&self, filter: DagtilbudFilter) -> Udtraek<Dagtilbud>;

    /// Changes a daginstitution: `decide` sees its current state and returns the new fields or
    /// refuses. The whole is one transaction; the version goes up by one.
    async fn update_daginstitution(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, DaginstitutionData>,
    ) -> Result<WriteOutcome<Daginstitution>, StoreError>;

    /// The state a daginstitution write would see, read without writing (dry runs).
    async fn daginstitution_state(&self, nummer: &str) -> Result<DaginstitutionState, StoreError>;

    /// Closes (nedlægger) a daginstitution if `decide` allows it: status Nedlagt, nedlagtDato set,
    /// the record and its history kept.
    async fn close_daginstitution(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, ()>,
    ) -> Result<WriteOutcome<Daginstitution>, StoreError>;

    /// Stores a new anvisningsenhed if `decide`, shown its parent daginstitution's state inside
    /// the transaction, allows it. `cvr_nummer` is what CVR answered for the P-number.
    async fn insert_anvisningsenhed(
        &self,
        data: &AnvisningsenhedData,
        cvr_nummer: Option<&str>,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError>;

    async fn get_anvisningsenhed(&self, nummer: &str) -> Result<Option<Anvisningsenhed>, StoreError>;

    /// Anvisningsenheder matching `filter`, active and closed, ordered by number.
    async fn find_anvisningsenheder(&self, filter: EnhedFilter<'_>) -> Result<Vec<Anvisningsenhed>, StoreError>;

    /// The state an anvisningsenhed write would see (with `target` for a move), without writing.
    async fn anvisningsenhed_state(
        &self,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AnvisningsenhedState, StoreError>;

    /// Changes an anvisningsenhed's fields (not its parent) if `decide` allows it; `cvr_nummer` is
    /// what CVR answered for the (possibly new) P-number.
    async fn update_anvisningsenhed(
        &self,
        nummer: &str,
        cvr_nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, AnvisningsenhedData>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError>;

    /// Closes an anvisningsenhed if `decide` allows it.
    async fn close_anvisningsenhed(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError>;

    /// Moves an anvisningsenhed (and so its alternative addresses) under daginstitution `til`.
    async fn move_anvisningsenhed(
        &self,
        nummer: &str,
        til: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError>;

    /// Stores a new alternativ adresse under an existing anvisningsenhed. Loading code that was
    /// checked elsewhere passes the CVR number; imports use
    /// [`RegistryStore::insert_alternativ_adresse_checked`].
    async fn insert_alternativ_adresse(
        &self,
        data: &AlternativAdresseData,
        cvr_nummer: Option<&str>,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, StoreError>;

    /// Stores a new alternativ adresse if `decide`, shown its parent anvisningsenhed inside the
    /// transaction, allows it; `decide` answers the CVR number to store.
    async fn insert_alternativ_adresse_checked(
        &self,
        data: &AlternativAdresseData,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, Option<String>>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError>;

    async fn get_alternativ_adresse(&self, nummer: &str) -> Result<Option<AlternativAdresse>, StoreError>;

    /// Alternative addresses matching `filter`, active and closed, ordered by number.
    async fn find_alternative_adresser(&self, filter: AdresseFilter<'_>) -> Result<Vec<AlternativAdresse>, StoreError>;

    async fn alternativ_adresse_state(
        &self,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AlternativAdresseState, StoreError>;

    /// Changes an alternativ adresse's fields; `decide` answers the new fields and CVR number.
    async fn update_alternativ_adresse(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, (AlternativAdresseData, Option<String>)>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError>;

    async fn close_alternativ_adresse(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, ()>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError>;

    /// Moves an alternativ adresse under anvisningsenhed `til`.
    async fn move_alternativ_adresse(
        &self,
        nummer: &str,
        til: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, ()>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError>;

    /// Active units of one level after `efter` (by number), at most `max`: the re-validation pages
    /// through the register with this, so memory stays bounded.
    async fn aktive_enheder(
        &self,
        enhedstype: Enhedstype,
        efter: &str,
        max: i64,
    ) -> Result<Vec<AktivEnhed>, StoreError>;

    /// Stores a finished re-validation run and its findings in one transaction.
    async fn save_revalidation(
        &self,
        startet: DateTime<Utc>,
        antal_enheder: i64,
        fund: &[Fund],
    ) -> Result<i64, StoreError>;

    /// The newest re-validation run, if any.
    async fn latest_revalidation(&self) -> Result<Option<Koersel>, StoreError>;

    /// Number of units of each level (daginstitution, anvisningsenhed, alternativ adresse).
    async fn count_units(&self) -> Result<(i64, i64, i64), StoreError>;

    /// Changes after `sekvensnummer` with the unit's state after each, in order, at most `max`.
    async fn aendringer_med_tilstand(
        &self,
        sekvensnummer: i64,
        max: i64,
    ) -> Result<Vec<AendringMedTilstand>, StoreError>;

    /// Every version of one unit, oldest first.
    async fn historik(&self, nummer: &str) -> Result<Vec<AendringMedTilstand>, StoreError>;

    /// Changes after `sekvensnummer`, in order, at most `max`.
    async fn aendringer_siden(&self, sekvensnummer: i64, max: i64) -> Result<Vec<AendringRecord>, StoreError>;
    async fn audit_by_correlation(&self, correlation_id: &str) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Opens the store a database URL names: `postgres://…` or `sqlite:…`.
pub async fn connect(url: &str) -> Result<Arc<dyn RegistryStore>, StoreError> {
    match dtr_migrations::backend_of(url) {
        Some(dtr_migrations::Backend::Postgres) => Ok(Arc::new(PostgresStore::connect(url).await?)),
        Some(dtr_migrations::Backend::Sqlite) => Ok(Arc::new(SqliteStore::connect(url).await?)),
        None => Err(StoreError::Corrupt("unsupported database URL (want postgres://… or sqlite:…)".into())),
    }
}
