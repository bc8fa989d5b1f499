//! The SQL implementation of [`RegistryStore`]: one implementation generic over the backend. The
//! statements are the same text on PostgreSQL and SQLite; a [`Dialect`] holds what differs.

use async_trait::async_trait;
use chrono::Utc;
use futures::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use super::{
    AdresseFilter, AendringMedTilstand, AendringRecord, AktivEnhed, AlternativAdresseState, AnvisningsenhedState,
    AuditRecord, DaginstitutionState, DagtilbudFilter, DecideAlternativAdresse, DecideAnvisningsenhed,
    DecideDaginstitution, EnhedFilter, Fund, Koersel, RegistryStore, StoreError, Tilstand, Udtraek, WriteOutcome,
    udtraek,
};
use crate::codes::{self, CodeTables, Kodetabel};
use crate::model::{
    Adresse, Aktivitetsstatus, Aktoer, AlternativAdresse, AlternativAdresseData, Anvisningsenhed, AnvisningsenhedData,
    Daginstitution, DaginstitutionData, Dagtilbud, Enhedstype, Handling, HistoriskEnhed, Registerfelter, soegenavn,
};
use crate::numbers;
use dtr_migrations::{Column, REGISTRY_POSTGRES, REGISTRY_SQLITE, RowsAffected, migrator};

/// The store over one backend; every statement is the same text on both, and what differs is
/// a [`Dialect`].
#[derive(Clone)]
pub struct SqlStore<D: Dialect> {
    pool: sqlx::Pool<D::DB>,
}

/// PostgreSQL: the distributed mode's store.
pub type PostgresStore = SqlStore<Postgres>;
/// SQLite: the embedded default's store (one file in the data directory).
pub type SqliteStore = SqlStore<Sqlite>;

/// What differs between the backends: the database type, how a write transaction starts, and
/// running the migrations.
pub trait Dialect: Send + Sync + 'static {
    type DB: sqlx::Database;

    fn connect(url: &str) -> impl Future<Output = Result<sqlx::Pool<Self::DB>, StoreError>> + Send;

    /// A transaction that holds the register's write lock from its start.
    fn begin_write(
        pool: &sqlx::Pool<Self::DB>,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::DB>, sqlx::Error>> + Send + '_;

    fn migrate(pool: &sqlx::Pool<Self::DB>) -> impl Future<Output = Result<(), StoreError>> + Send + '_;

    /// Said inside every write transaction, so readers in other processes are woken as it
    /// commits (`crate::laesere`); `None` where no reader lives in another process.
    const ANNOUNCE_WRITE: Option<&'static str>;

    /// The notices [`Dialect::ANNOUNCE_WRITE`] sends, on a connection of their own.
    fn write_notices(
        pool: &sqlx::Pool<Self::DB>,
    ) -> impl Future<Output = Result<futures::stream::BoxStream<'static, ()>, StoreError>> + Send + '_;
}

/// The channel PostgreSQL announces committed writes on.
const WRITE_CHANNEL: &str = "dtr_register_skrevet";

pub struct Postgres;
pub struct Sqlite;

impl Dialect for Postgres {
    type DB = sqlx::Postgres;

    async fn connect(url: &str) -> Result<PgPool, StoreError> {
        Ok(dtr_migrations::postgres_pool(url).await?)
    }

    /// Registry writes are serialised on the change-sequence counter row (tens of writes a day
    /// nationally): the domain's checks inside the transaction see a state nobody else changes
    /// before commit, and sequence order is commit order.
    async fn begin_write(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT vaerdi FROM taeller WHERE navn = 'sekvens' FOR UPDATE").execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        Ok(migrator(&REGISTRY_POSTGRES).run(pool).await?)
    }

    const ANNOUNCE_WRITE: Option<&'static str> = Some("SELECT pg_notify('dtr_register_skrevet', '')");

    async fn write_notices(pool: &PgPool) -> Result<futures::stream::BoxStream<'static, ()>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(WRITE_CHANNEL).await?;
        // `try_recv` answers `None` when the connection is lost; the stream ends there, since
        // what was announced meanwhile is unknown.
        Ok(Box::pin(futures::stream::unfold(listener, |mut l| async move {
            match l.try_recv().await {
                Ok(Some(_)) => Some(((), l)),
                _ => None,
            }
        })))
    }
}

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;

    async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
        Ok(dtr_migrations::sqlite_pool(url).await?)
    }

    /// Writers take the database's write lock up front, which serialises them (as on PostgreSQL);
    /// a deferred transaction that reads first and writes later could fail with SQLITE_BUSY.
    async fn begin_write(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        Ok(migrator(&REGISTRY_SQLITE).run(pool).await?)
    }

    const ANNOUNCE_WRITE: Option<&'static str> = None;

    async fn write_notices(_: &SqlitePool) -> Result<futures::stream::BoxStream<'static, ()>, StoreError> {
        Err(StoreError::Unsupported("write notices"))
    }
}

impl<D: Dialect> SqlStore<D> {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(SqlStore { pool: D::connect(url).await? })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, D::DB>, sqlx::Error> {
        D::begin_write(&self.pool).await
    }
}

/// Column lists, one per table, so every statement reads and returns the same columns.
macro_rules! daginstitution_columns {
    () => {
        "nummer, navn, ejerform_kode, lovgrundlag_kode, adm_kommune_kode, ejer_cvr_nummer, aktivitetsstatus, \
         oprettet_dato, senest_aendret, nedlagt_dato, version"
    };
}
macro_rules! anvisningsenhed_columns {
    () => {
        "nummer, daginstitutions_nummer, navn, vej_navn, hus_nummer, etage, doer, post_nummer, post_distrikt, \
         supplerende_bynavn, kommune_kode, dar_adresse_id, geo_bredde, geo_laengde, inst_type3, email, telefon_nummer, \
         cvr_nummer, p_nummer, aktivitetsstatus, oprettet_dato, senest_aendret, nedlagt_dato, version"
    };
}
macro_rules! alternativ_adresse_columns {
    () => {
        "nummer, enheds_nummer, navn, vej_navn, hus_nummer, etage, doer, post_nummer, post_distrikt, \
         supplerende_bynavn, kommune_kode, dar_adresse_id, geo_bredde, geo_laengde, p_nummer, cvr_nummer, email, \
         telefon_nummer, aktivitetsstatus, oprettet_dato, senest_aendret, nedlagt_dato, version"
    };
}

/// A change row with its stored state.
fn aendring_med_tilstand<R: Row>(r: &R) -> Result<AendringMedTilstand, StoreError>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> chrono::DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let enhedstype: String = r.try_get("enhedstype")?;
    let data: String = r.try_get("data")?;
    let bad = |e: serde_json::Error| StoreError::Corrupt(format!("stored version: {e}"));
    let tilstand = match Enhedstype::parse(&enhedstype) {
        Some(Enhedstype::Daginstitution) => Tilstand::Daginstitution(serde_json::from_str(&data).map_err(bad)?),
        Some(Enhedstype::Anvisningsenhed) => Tilstand::Anvisningsenhed(serde_json::from_str(&data).map_err(bad)?),
        Some(Enhedstype::AlternativAdresse) => Tilstand::AlternativAdresse(serde_json::from_str(&data).map_err(bad)?),
        None => return Err(StoreError::Corrupt(format!("enhedstype {enhedstype:?}"))),
    };
    Ok(AendringMedTilstand {
        aendring: AendringRecord {
            sekvensnummer: r.try_get("sekvensnummer")?,
            tidspunkt: r.try_get("tidspunkt")?,
            enhedstype,
            nummer: r.try_get("nummer")?,
            handling: r.try_get("handling")?,
            version: r.try_get("version")?,
        },
        tilstand,
    })
}

/// Reads one level's columns by name. In the joined dagtilbud statement each level's columns
/// carry its table alias as a prefix (`d_nummer`, `a_nummer`, `l_nummer`), because the three
/// levels' names collide; elsewhere there is no prefix. The prefixed name is built in one buffer
/// per row, so reading allocates nothing per column.
struct Named<'r, R> {
    row: &'r R,
    prefix: &'static str,
    name: std::cell::RefCell<String>,
}

impl<'r, R: Row> Named<'r, R>
where
    for<'n> &'n str: sqlx::ColumnIndex<R>,
{
    fn new(row: &'r R, prefix: &'static str) -> Self {
        Named { row, prefix, name: std::cell::RefCell::new(String::with_capacity(32)) }
    }

    fn get<T>(&self, column: &str) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        if self.prefix.is_empty() {
            return self.row.try_get(column);
        }
        let mut name = self.name.borrow_mut();
        name.clear();
        name.push_str(self.prefix);
        name.push_str(column);
        self.row.try_get(name.as_str())
    }
}

fn new_registerfelter() -> Registerfelter {
    // Microseconds: what PostgreSQL keeps, so the stored version (JSON) equals the row.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    Registerfelter {
        aktivitetsstatus: Aktivitetsstatus::Aktiv,
        oprettet_dato: now,
        senest_aendret: now,
        nedlagt_dato: None,
        version: 1,
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const SELECT_DAGINSTITUTION: &str =
    concat!("SELECT ", daginstitution_columns!(), " FROM daginstitution WHERE nummer = $1");

const SELECT_ANVISNINGSENHED: &str =
    concat!("SELECT ", anvisningsenhed_columns!(), " FROM anvisningsenhed WHERE nummer = $1");

const UPDATE_ANVISNINGSENHED: &str = concat!(
    "UPDATE anvisningsenhed SET navn = $2, vej_navn = $3, hus_nummer = $4, etage = $5, \
     doer = $6, post_nummer = $7, post_distrikt = $8, supplerende_bynavn = $9, \
     kommune_kode = $10, dar_adresse_id = $11, geo_bredde = $12, geo_laengde = $13, \
     inst_type3 = $14, email = $15, telefon_nummer = $16, cvr_nummer = $17, p_nummer = \
     $18, senest_aendret = $19, soegenavn = $20, version = version + 1 WHERE nummer = $1 AND \
     aktivitetsstatus = 'Aktiv' RETURNING ",
    anvisningsenhed_columns!()
);

const CLOSE_ANVISNINGSENHED: &str = concat!(
    "UPDATE anvisningsenhed SET aktivitetsstatus = 'Nedlagt', nedlagt_dato = $2, \
     senest_aendret = $2, version = version + 1 WHERE nummer = $1 AND aktivitetsstatus = \
     'Aktiv' RETURNING ",
    anvisningsenhed_columns!()
);

const MOVE_ANVISNINGSENHED: &str = concat!(
    "UPDATE anvisningsenhed SET daginstitutions_nummer = $2, senest_aendret = $3, version \
     = version + 1 WHERE nummer = $1 AND aktivitetsstatus = 'Aktiv' RETURNING ",
    anvisningsenhed_columns!()
);

const SELECT_ALTERNATIV_ADRESSE: &str =
    concat!("SELECT ", alternativ_adresse_columns!(), " FROM alternativ_adresse WHERE nummer = $1");

const UPDATE_ALTERNATIV_ADRESSE: &str = concat!(
    "UPDATE alternativ_adresse SET navn = $2, vej_navn = $3, hus_nummer = $4, etage = $5, \
     doer = $6, post_nummer = $7, post_distrikt = $8, supplerende_bynavn = $9, \
     kommune_kode = $10, dar_adresse_id = $11, geo_bredde = $12, geo_laengde = $13, \
     p_nummer = $14, cvr_nummer = $15, email = $16, telefon_nummer = $17, senest_aendret = \
     $18, soegenavn = $19, version = version + 1 WHERE nummer = $1 AND aktivitetsstatus = 'Aktiv' RETURNING \
     ",
    alternativ_adresse_columns!()
);

const CLOSE_ALTERNATIV_ADRESSE: &str = concat!(
    "UPDATE alternativ_adresse SET aktivitetsstatus = 'Nedlagt', nedlagt_dato = $2, \
     senest_aendret = $2, version = version + 1 WHERE nummer = $1 AND aktivitetsstatus = \
     'Aktiv' RETURNING ",
    alternativ_adresse_columns!()
);

// An alternativ adresse without a P-number of its own has its anvisningsenhed's CVR number: it
// takes the new unit's when moved, and follows its unit's when that changes.
const MOVE_ALTERNATIV_ADRESSE: &str = concat!(
    "UPDATE alternativ_adresse SET enheds_nummer = $2, senest_aendret = $3, version = version + 1, \
     cvr_nummer = CASE WHEN COALESCE(p_nummer, '') = '' \
     THEN (SELECT a.cvr_nummer FROM anvisningsenhed a WHERE a.nummer = $2) ELSE cvr_nummer END \
     WHERE nummer = $1 AND aktivitetsstatus = 'Aktiv' RETURNING ",
    alternativ_adresse_columns!()
);
const FOLLOW_ENHEDENS_CVR: &str = concat!(
    "UPDATE alternativ_adresse SET cvr_nummer = $2, senest_aendret = $3, version = version + 1 \
     WHERE enheds_nummer = $1 AND aktivitetsstatus = 'Aktiv' AND COALESCE(p_nummer, '') = '' \
     AND COALESCE(cvr_nummer, '') <> $2 RETURNING ",
    alternativ_adresse_columns!()
);

const AKTIVE_DAGINSTITUTIONER: &str = "SELECT d.nummer, d.adm_kommune_kode, d.ejer_cvr_nummer, \
     (SELECT COUNT(*) FROM anvisningsenhed a WHERE a.daginstitutions_nummer = d.nummer AND a.aktivitetsstatus = 'Aktiv') \
     AS aktive FROM daginstitution d WHERE d.aktivitetsstatus = 'Aktiv' AND d.nummer > $1 ORDER BY d.nummer LIMIT $2";

const AKTIVE_ANVISNINGSENHEDER: &str = "SELECT a.nummer, d.adm_kommune_kode, d.ejer_cvr_nummer, a.vej_navn, \
     a.hus_nummer, a.etage, a.doer, a.post_nummer, a.post_distrikt, a.supplerende_bynavn, a.kommune_kode, \
     a.dar_adresse_id, a.geo_bredde, a.geo_laengde, a.p_nummer FROM anvisningsenhed a \
     JOIN daginstitution d ON d.nummer = a.daginstitutions_nummer \
     WHERE a.aktivitetsstatus = 'Aktiv' AND a.nummer > $1 ORDER BY a.nummer LIMIT $2";

const AKTIVE_ALTERNATIVE_ADRESSER: &str = "SELECT l.nummer, d.adm_kommune_kode, d.ejer_cvr_nummer, l.vej_navn, \
     l.hus_nummer, l.etage, l.doer, l.post_nummer, l.post_distrikt, l.supplerende_bynavn, l.kommune_kode, \
     l.dar_adresse_id, l.geo_bredde, l.geo_laengde, l.p_nummer FROM alternativ_adresse l \
     JOIN anvisningsenhed a ON a.nummer = l.enheds_nummer JOIN daginstitution d ON d.nummer = a.daginstitutions_nummer \
     WHERE l.aktivitetsstatus = 'Aktiv' AND l.nummer > $1 ORDER BY l.nummer LIMIT $2";

const FIND_ANVISNINGSENHED_BY_NUMMER: &str =
    concat!("SELECT ", anvisningsenhed_columns!(), " FROM anvisningsenhed WHERE nummer = $1 ORDER BY nummer");
const FIND_ANVISNINGSENHED_BY_PNUMMER: &str =
    concat!("SELECT ", anvisningsenhed_columns!(), " FROM anvisningsenhed WHERE p_nummer = $1 ORDER BY nummer");
const FIND_ANVISNINGSENHED_BY_CVR: &str =
    concat!("SELECT ", anvisningsenhed_columns!(), " FROM anvisningsenhed WHERE cvr_nummer = $1 ORDER BY nummer");
const FIND_ANVISNINGSENHED_BY_PARENT: &str = concat!(
    "SELECT ",
    anvisningsenhed_columns!(),
    " FROM anvisningsenhed WHERE daginstitutions_nummer = $1 ORDER BY nummer"
);

const FIND_ALTERNATIV_BY_NUMMER: &str =
    concat!("SELECT ", alternativ_adresse_columns!(), " FROM alternativ_adresse WHERE nummer = $1 ORDER BY nummer");
const FIND_ALTERNATIV_BY_PNUMMER: &str =
    concat!("SELECT ", alternativ_adresse_columns!(), " FROM alternativ_adresse WHERE p_nummer = $1 ORDER BY nummer");
const FIND_ALTERNATIV_BY_CVR: &str =
    concat!("SELECT ", alternativ_adresse_columns!(), " FROM alternativ_adresse WHERE cvr_nummer = $1 ORDER BY nummer");
const FIND_ALTERNATIV_BY_PARENT: &str = concat!(
    "SELECT ",
    alternativ_adresse_columns!(),
    " FROM alternativ_adresse WHERE enheds_nummer = $1 ORDER BY nummer"
);

/// Name search: `$1` is a [`super::navn_pattern`], `$2` the cap.
macro_rules! find_by_navn {
    ($columns:expr, $table:literal) => {
        concat!("SELECT ", $columns, " FROM ", $table, " WHERE soegenavn LIKE $1 ESCAPE '\\' ORDER BY nummer LIMIT $2")
    };
}
const FIND_DAGINSTITUTION_BY_NAVN: &str = find_by_navn!(daginstitution_columns!(), "daginstitution");
const FIND_ANVISNINGSENHED_BY_NAVN: &str = find_by_navn!(anvisningsenhed_columns!(), "anvisningsenhed");
const FIND_ALTERNATIV_BY_NAVN: &str = find_by_navn!(alternativ_adresse_columns!(), "alternativ_adresse");

const ALLE_DAGINSTITUTIONER: &str =
    concat!("SELECT ", daginstitution_columns!(), " FROM daginstitution ORDER BY nummer");
const ALLE_ANVISNINGSENHEDER: &str =
    concat!("SELECT ", anvisningsenhed_columns!(), " FROM anvisningsenhed ORDER BY nummer");
const ALLE_ALTERNATIVE_ADRESSER: &str =
    concat!("SELECT ", alternativ_adresse_columns!(), " FROM alternativ_adresse ORDER BY nummer");

/// Whole records as given (synthetic registers): every column, then `soegenavn`.
const LOAD_DAGINSTITUTION: &str = concat!(
    "INSERT INTO daginstitution (",
    daginstitution_columns!(),
    ", soegenavn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);
const LOAD_ANVISNINGSENHED: &str = concat!(
    "INSERT INTO anvisningsenhed (",
    anvisningsenhed_columns!(),
    ", soegenavn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
);
const LOAD_ALTERNATIV_ADRESSE: &str = concat!(
    "INSERT INTO alternativ_adresse (",
    alternativ_adresse_columns!(),
    ", soegenavn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
);

/// The columns of each level, in table order (the lists above, as names).
const DAGINSTITUTION_KOLONNER: [&str; 11] = [
    "nummer",
    "navn",
    "ejerform_kode",
    "lovgrundlag_kode",
    "adm_kommune_kode",
    "ejer_cvr_nummer",
    "aktivitetsstatus",
    "oprettet_dato",
    "senest_aendret",
    "nedlagt_dato",
    "version",
];
const ADRESSE_KOLONNER: [&str; 11] = [
    "vej_navn",
    "hus_nummer",
    "etage",
    "doer",
    "post_nummer",
    "post_distrikt",
    "supplerende_bynavn",
    "kommune_kode",
    "dar_adresse_id",
    "geo_bredde",
    "geo_laengde",
];
const REGISTER_KOLONNER: [&str; 5] = ["aktivitetsstatus", "oprettet_dato", "senest_aendret", "nedlagt_dato", "version"];

fn anvisningsenhed_kolonner() -> impl Iterator<Item = &'static str> {
    let head = ["nummer", "daginstitutions_nummer", "navn"];
    let tail = ["inst_type3", "email", "telefon_nummer", "cvr_nummer", "p_nummer"];
    head.into_iter().chain(ADRESSE_KOLONNER).chain(tail).chain(REGISTER_KOLONNER)
}

fn alternativ_adresse_kolonner() -> impl Iterator<Item = &'static str> {
    let head = ["nummer", "enheds_nummer", "navn"];
    let tail = ["p_nummer", "cvr_nummer", "email", "telefon_nummer"];
    head.into_iter().chain(ADRESSE_KOLONNER).chain(tail).chain(REGISTER_KOLONNER)
}

/// All three levels in one statement (one snapshot): each row is a daginstitution, one of its
/// anvisningsenheder (or NULLs) and one of that unit's alternative addresses (or NULLs), each
/// level's columns named with its alias as prefix (`d_nummer`, `a_nummer`, `l_nummer`).
fn dagtilbud_select(condition: &str) -> String {
    let level = |alias: &str, columns: &mut dyn Iterator<Item = &'static str>| {
        columns.map(|c| format!("{alias}.{c} AS {alias}_{c}")).collect::<Vec<_>>().join(", ")
    };
    format!(
        "SELECT {}, {}, {} FROM daginstitution d \
         LEFT JOIN anvisningsenhed a ON a.daginstitutions_nummer = d.nummer \
         LEFT JOIN alternativ_adresse l ON l.enheds_nummer = a.nummer {condition} ORDER BY d.nummer, a.nummer, l.nummer",
        level("d", &mut DAGINSTITUTION_KOLONNER.into_iter()),
        level("a", &mut anvisningsenhed_kolonner()),
        level("l", &mut alternativ_adresse_kolonner()),
    )
}

static DAGTILBUD_ALLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| dagtilbud_select(""));
static DAGTILBUD_BY_NUMMER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| dagtilbud_select("WHERE d.nummer = $1"));
static DAGTILBUD_BY_KOMMUNE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| dagtilbud_select("WHERE d.adm_kommune_kode = $1"));

const AENDRINGER_MED_TILSTAND: &str = concat!(
    "SELECT a.sekvensnummer, a.tidspunkt, a.enhedstype, a.nummer, a.handling, a.version, v.data FROM aendring a \
     JOIN enhed_version v ON v.nummer = a.nummer AND v.version = a.version ",
    "WHERE a.sekvensnummer > $1 ORDER BY a.sekvensnummer LIMIT $2"
);
const HISTORIK: &str = concat!(
    "SELECT a.sekvensnummer, a.tidspunkt, a.enhedstype, a.nummer, a.handling, a.version, v.data FROM aendring a \
     JOIN enhed_version v ON v.nummer = a.nummer AND v.version = a.version ",
    "WHERE a.nummer = $1 ORDER BY a.version"
);

/// Only an active unit is changed; the domain has refused closed ones already, so a miss
/// means the transaction saw something else and is reported as corruption.
const UPDATE_DAGINSTITUTION: &str = concat!(
    "UPDATE daginstitution SET navn = $2, ejerform_kode = $3, lovgrundlag_kode = $4, \
     adm_kommune_kode = $5, ejer_cvr_nummer = $6, senest_aendret = $7, soegenavn = $8, \
     version = version + 1 WHERE nummer = $1 AND aktivitetsstatus = 'Aktiv' RETURNING ",
    daginstitution_columns!()
);

const CLOSE_DAGINSTITUTION: &str = concat!(
    "UPDATE daginstitution SET aktivitetsstatus = 'Nedlagt', nedlagt_dato = $2, \
     senest_aendret = $2, version = version + 1 WHERE nummer = $1 AND aktivitetsstatus = \
     'Aktiv' RETURNING ",
    daginstitution_columns!()
);

/// The body of a write the domain decides on: take the write lock, read the state the decision
/// needs, ask `decide`, run the statement, and record the new version (history, change sequence,
/// audit) before committing.
macro_rules! checked_write {
    ($self:ident, $state_fn:ident($($state_arg:expr),*), $decide:expr, $sql:expr, [$($bind:expr),+],
     $finish:ident, $handling:expr, $nummer:expr, $aktoer:expr $(,)?) => {{
        let mut tx = $self.begin_write_for($aktoer).await?;
        let state = Self::$state_fn(&mut tx, $($state_arg),*).await?;
        if let Err(fejl) = $decide(&state) {
            return Ok(WriteOutcome::Refused(fejl));
        }
        let row = sqlx::query($sql)
            $(.bind($bind))+
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{} vanished inside its write transaction", $nummer)))?;
        Ok(WriteOutcome::Done(Self::$finish(tx, &row, $handling, $aktoer).await?))
    }};
}

impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = D::DB>,
    <D::DB as sqlx::Database>::Arguments: sqlx::IntoArguments<D::DB>,
    <D::DB as sqlx::Database>::QueryResult: RowsAffected,
    String: Column<D::DB>,
    i32: Column<D::DB>,
    i64: Column<D::DB>,
    f64: Column<D::DB>,
    chrono::DateTime<Utc>: Column<D::DB>,
    Option<String>: Column<D::DB>,
    Option<f64>: Column<D::DB>,
    Option<chrono::DateTime<Utc>>: Column<D::DB>,
    for<'q> &'q str: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> &'q String: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::DB>,
    usize: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
    for<'s> &'s str: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
{
    /// Binds the eleven address columns, in table order.
    fn bind_adresse<'q>(
        q: sqlx::query::Query<'q, D::DB, <D::DB as sqlx::Database>::Arguments>,
        a: &'q Adresse,
    ) -> sqlx::query::Query<'q, D::DB, <D::DB as sqlx::Database>::Arguments> {
        q.bind(&a.vej_navn)
            .bind(&a.hus_nummer)
            .bind(a.etage.as_deref())
            .bind(a.doer.as_deref())
            .bind(&a.post_nummer)
            .bind(&a.post_distrikt)
            .bind(a.supplerende_bynavn.as_deref())
            .bind(a.kommune_kode)
            .bind(a.dar_adresse_id.as_deref())
            .bind(a.geo_bredde)
            .bind(a.geo_laengde)
    }

    /// The five register columns (aktivitetsstatus … version) of a level.
    fn registerfelter(c: &Named<'_, <D::DB as sqlx::Database>::Row>) -> Result<Registerfelter, StoreError> {
        let status: String = c.get("aktivitetsstatus")?;
        Ok(Registerfelter {
            aktivitetsstatus: Aktivitetsstatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("aktivitetsstatus {status:?}")))?,
            oprettet_dato: c.get("oprettet_dato")?,
            senest_aendret: c.get("senest_aendret")?,
            nedlagt_dato: c.get("nedlagt_dato")?,
            version: c.get("version")?,
        })
    }

    /// A daginstitution from the [`daginstitution_columns!`].
    fn daginstitution(c: &Named<'_, <D::DB as sqlx::Database>::Row>) -> Result<Daginstitution, StoreError> {
        Ok(Daginstitution {
            nummer: c.get("nummer")?,
            data: DaginstitutionData {
                navn: c.get("navn")?,
                ejerform_kode: c.get("ejerform_kode")?,
                lovgrundlag_kode: c.get("lovgrundlag_kode")?,
                adm_kommune_kode: c.get("adm_kommune_kode")?,
                ejer_cvr_nummer: c.get("ejer_cvr_nummer")?,
            },
            register: Self::registerfelter(c)?,
        })
    }

    fn daginstitution_from_row(r: &<D::DB as sqlx::Database>::Row) -> Result<Daginstitution, StoreError> {
        Self::daginstitution(&Named::new(r, ""))
    }

    /// Binds the five register columns, in table order.
    fn bind_register<'q>(
        q: sqlx::query::Query<'q, D::DB, <D::DB as sqlx::Database>::Arguments>,
        r: &'q Registerfelter,
    ) -> sqlx::query::Query<'q, D::DB, <D::DB as sqlx::Database>::Arguments> {
        q.bind(r.aktivitetsstatus.as_str())
            .bind(r.oprettet_dato)
            .bind(r.senest_aendret)
            .bind(r.nedlagt_dato)
            .bind(r.version)
    }

    async fn issue_number(tx: &mut sqlx::Transaction<'static, D::DB>) -> Result<String, StoreError> {
        let n = Self::next_counter(tx, "nummer", numbers::SIDSTE).await?.ok_or(StoreError::NumbersExhausted)?;
        Ok(numbers::format(n))
    }

    /// Streams one table's rows through `map`.
    fn stream_table<T: Send + 'static>(
        &self,
        sql: &'static str,
        map: fn(&<D::DB as sqlx::Database>::Row) -> Result<T, StoreError>,
    ) -> Udtraek<T> {
        let pool = self.pool.clone();
        udtraek(move |mut out| async move {
            let mut rows = sqlx::query(sql).fetch(&pool);
            while let Some(row) = rows.try_next().await? {
                if !out.send(map(&row)?).await {
                    break;
                }
            }
            Ok(out)
        })
    }

    /// Fills `soegenavn` of rows stored before name search existed (migration 0003 leaves
    /// them ''); names are never empty, so '' marks exactly those rows.
    async fn fold_search_names(&self) -> Result<(), StoreError> {
        for table in ["daginstitution", "anvisningsenhed", "alternativ_adresse"] {
            let select = format!("SELECT nummer, navn FROM {table} WHERE soegenavn = ''");
            let rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(&self.pool).await?;
            if rows.is_empty() {
                continue;
            }
            let update = format!("UPDATE {table} SET soegenavn = $2 WHERE nummer = $1");
            let mut tx = self.pool.begin().await?;
            for row in &rows {
                let (nummer, navn): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(nummer)
                    .bind(soegenavn(&navn))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await.map_err(StoreError::commit)?;
            tracing::info!(table, rows = rows.len(), "filled search names");
        }
        Ok(())
    }

    /// The eleven address columns (vej_navn … geo_laengde) of a unit.
    fn adresse(c: &Named<'_, <D::DB as sqlx::Database>::Row>) -> Result<Adresse, StoreError> {
        Ok(Adresse {
            vej_navn: c.get("vej_navn")?,
            hus_nummer: c.get("hus_nummer")?,
            etage: c.get("etage")?,
            doer: c.get("doer")?,
            post_nummer: c.get("post_nummer")?,
            post_distrikt: c.get("post_distrikt")?,
            supplerende_bynavn: c.get("supplerende_bynavn")?,
            kommune_kode: c.get("kommune_kode")?,
            dar_adresse_id: c.get("dar_adresse_id")?,
            geo_bredde: c.get("geo_bredde")?,
            geo_laengde: c.get("geo_laengde")?,
        })
    }

    /// An anvisningsenhed from the [`anvisningsenhed_columns!`].
    fn anvisningsenhed(c: &Named<'_, <D::DB as sqlx::Database>::Row>) -> Result<Anvisningsenhed, StoreError> {
        Ok(Anvisningsenhed {
            nummer: c.get("nummer")?,
            data: AnvisningsenhedData {
                daginstitutions_nummer: c.get("daginstitutions_nummer")?,
                navn: c.get("navn")?,
                adresse: Self::adresse(c)?,
                inst_type3: c.get("inst_type3")?,
                email: c.get("email")?,
                telefon_nummer: c.get("telefon_nummer")?,
                p_nummer: c.get("p_nummer")?,
            },
            cvr_nummer: c.get("cvr_nummer")?,
            register: Self::registerfelter(c)?,
        })
    }

    fn anvisningsenhed_from_row(r: &<D::DB as sqlx::Database>::Row) -> Result<Anvisningsenhed, StoreError> {
        Self::anvisningsenhed(&Named::new(r, ""))
    }

    /// The unit, its parent with the parent's active units, its active alternative
    /// addresses, and for a move the target.
    async fn anvisningsenhed_state_tx(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AnvisningsenhedState, StoreError> {
        let row = sqlx::query(SELECT_ANVISNINGSENHED).bind(nummer).fetch_optional(&mut **tx).await?;
        let current = row.as_ref().map(Self::anvisningsenhed_from_row).transpose()?;
        let parent_nummer = current.as_ref().map(|c| c.data.daginstitutions_nummer.clone()).unwrap_or_default();
        let parent = Self::daginstitution_state(tx, &parent_nummer).await?;
        let active_children: Vec<String> = sqlx::query_scalar(
            "SELECT nummer FROM alternativ_adresse WHERE enheds_nummer = $1 AND aktivitetsstatus = \
     'Aktiv' ORDER BY nummer",
        )
        .bind(nummer)
        .fetch_all(&mut **tx)
        .await?;
        let target = match target {
            Some(t) => Some(Self::daginstitution_state(tx, t).await?),
            None => None,
        };
        Ok(AnvisningsenhedState { current, parent, active_children, target })
    }

    /// Records a changed anvisningsenhed (history, sequence, audit) and commits.
    async fn finish_anvisningsenhed_write(
        mut tx: sqlx::Transaction<'static, D::DB>,
        row: &<D::DB as sqlx::Database>::Row,
        handling: Handling,
        aktoer: &Aktoer,
    ) -> Result<Anvisningsenhed, StoreError> {
        let record = Self::anvisningsenhed_from_row(row)?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::Anvisningsenhed, handling };
        Self::record_write(&mut tx, &record.nummer, record.register.version, json(&record)?, w).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(record)
    }

    async fn insert_alternativ_adresse_tx(
        mut tx: sqlx::Transaction<'static, D::DB>,
        data: &AlternativAdresseData,
        cvr_nummer: Option<&str>,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, StoreError> {
        let n = Self::next_counter(&mut tx, "nummer", numbers::SIDSTE).await?.ok_or(StoreError::NumbersExhausted)?;
        let record = AlternativAdresse {
            nummer: numbers::format(n),
            data: data.clone(),
            cvr_nummer: cvr_nummer.map(str::to_owned),
            register: new_registerfelter(),
        };
        Self::write_new_alternativ_adresse(&mut tx, &record, aktoer).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(record)
    }

    /// An alternativ adresse from the [`alternativ_adresse_columns!`].
    fn alternativ_adresse(c: &Named<'_, <D::DB as sqlx::Database>::Row>) -> Result<AlternativAdresse, StoreError> {
        Ok(AlternativAdresse {
            nummer: c.get("nummer")?,
            data: AlternativAdresseData {
                enheds_nummer: c.get("enheds_nummer")?,
                navn: c.get("navn")?,
                adresse: Self::adresse(c)?,
                p_nummer: c.get("p_nummer")?,
                email: c.get("email")?,
                telefon_nummer: c.get("telefon_nummer")?,
            },
            cvr_nummer: c.get("cvr_nummer")?,
            register: Self::registerfelter(c)?,
        })
    }

    fn alternativ_adresse_from_row(r: &<D::DB as sqlx::Database>::Row) -> Result<AlternativAdresse, StoreError> {
        Self::alternativ_adresse(&Named::new(r, ""))
    }

    async fn alternativ_adresse_state_tx(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AlternativAdresseState, StoreError> {
        let row = sqlx::query(SELECT_ALTERNATIV_ADRESSE).bind(nummer).fetch_optional(&mut **tx).await?;
        let current = row.as_ref().map(Self::alternativ_adresse_from_row).transpose()?;
        let parent_nummer = current.as_ref().map(|c| c.data.enheds_nummer.clone()).unwrap_or_default();
        let parent = Self::anvisningsenhed_state_tx(tx, &parent_nummer, None).await?;
        let target = match target {
            Some(t) => Some(Self::anvisningsenhed_state_tx(tx, t, None).await?),
            None => None,
        };
        Ok(AlternativAdresseState { current, parent, target })
    }

    async fn finish_alternativ_write(
        mut tx: sqlx::Transaction<'static, D::DB>,
        row: &<D::DB as sqlx::Database>::Row,
        handling: Handling,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, StoreError> {
        let record = Self::alternativ_adresse_from_row(row)?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::AlternativAdresse, handling };
        Self::record_write(&mut tx, &record.nummer, record.register.version, json(&record)?, w).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(record)
    }

    /// Writes a new daginstitution row with its first version, history and audit, inside `tx`.
    async fn write_new_daginstitution(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        record: &Daginstitution,
        aktoer: &Aktoer,
    ) -> Result<(), StoreError> {
        let data = &record.data;
        let now = record.register.oprettet_dato;
        sqlx::query(
            "INSERT INTO daginstitution (nummer, navn, ejerform_kode, lovgrundlag_kode, adm_kommune_kode, \
             ejer_cvr_nummer, aktivitetsstatus, oprettet_dato, senest_aendret, nedlagt_dato, version, \
             soegenavn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 1, $10)",
        )
        .bind(&record.nummer)
        .bind(&data.navn)
        .bind(data.ejerform_kode)
        .bind(data.lovgrundlag_kode)
        .bind(data.adm_kommune_kode)
        .bind(data.ejer_cvr_nummer.as_deref())
        .bind(Aktivitetsstatus::Aktiv.as_str())
        .bind(now)
        .bind(now)
        .bind(soegenavn(&data.navn))
        .execute(&mut **tx)
        .await?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::Daginstitution, handling: Handling::Oprettet };
        Self::record_write(tx, &record.nummer, 1, json(&record)?, w).await?;
        Ok(())
    }

    /// Writes a new anvisningsenhed row with its first version, history and audit, inside `tx`.
    async fn write_new_anvisningsenhed(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        record: &Anvisningsenhed,
        aktoer: &Aktoer,
    ) -> Result<(), StoreError> {
        let (data, cvr_nummer) = (&record.data, record.cvr_nummer.as_deref());
        let now = record.register.oprettet_dato;
        let q = sqlx::query(
            "INSERT INTO anvisningsenhed (nummer, daginstitutions_nummer, navn, vej_navn, hus_nummer, etage, doer, \
             post_nummer, post_distrikt, supplerende_bynavn, kommune_kode, dar_adresse_id, geo_bredde, geo_laengde, \
             inst_type3, email, telefon_nummer, cvr_nummer, p_nummer, aktivitetsstatus, oprettet_dato, \
             senest_aendret, nedlagt_dato, version, soegenavn) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 'Aktiv', \
             $20, $20, NULL, 1, $21)",
        )
        .bind(&record.nummer)
        .bind(&data.daginstitutions_nummer)
        .bind(&data.navn);
        Self::bind_adresse(q, &data.adresse)
            .bind(data.inst_type3)
            .bind(data.email.as_deref())
            .bind(data.telefon_nummer.as_deref())
            .bind(cvr_nummer)
            .bind(&data.p_nummer)
            .bind(now)
            .bind(soegenavn(&data.navn))
            .execute(&mut **tx)
            .await?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::Anvisningsenhed, handling: Handling::Oprettet };
        Self::record_write(tx, &record.nummer, 1, json(&record)?, w).await?;
        Ok(())
    }

    /// Writes a new alternativ adresse row with its first version, history and audit, inside `tx`.
    async fn write_new_alternativ_adresse(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        record: &AlternativAdresse,
        aktoer: &Aktoer,
    ) -> Result<(), StoreError> {
        let (data, cvr_nummer) = (&record.data, record.cvr_nummer.as_deref());
        let now = record.register.oprettet_dato;
        let q = sqlx::query(
            "INSERT INTO alternativ_adresse (nummer, enheds_nummer, navn, vej_navn, hus_nummer, etage, doer, \
             post_nummer, post_distrikt, supplerende_bynavn, kommune_kode, dar_adresse_id, geo_bredde, geo_laengde, \
             p_nummer, cvr_nummer, email, telefon_nummer, aktivitetsstatus, oprettet_dato, senest_aendret, \
             nedlagt_dato, version, soegenavn) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'Aktiv', \
             $19, $19, NULL, 1, $20)",
        )
        .bind(&record.nummer)
        .bind(&data.enheds_nummer)
        .bind(&data.navn);
        Self::bind_adresse(q, &data.adresse)
            .bind(data.p_nummer.as_deref())
            .bind(cvr_nummer)
            .bind(data.email.as_deref())
            .bind(data.telefon_nummer.as_deref())
            .bind(now)
            .bind(soegenavn(&data.navn))
            .execute(&mut **tx)
            .await?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::AlternativAdresse, handling: Handling::Oprettet };
        Self::record_write(tx, &record.nummer, 1, json(&record)?, w).await?;
        Ok(())
    }

    /// The daginstitution and its active children, read inside a write transaction.
    async fn daginstitution_state(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        nummer: &str,
    ) -> Result<DaginstitutionState, StoreError> {
        let current = sqlx::query(SELECT_DAGINSTITUTION).bind(nummer).fetch_optional(&mut **tx).await?;
        let current = current.as_ref().map(Self::daginstitution_from_row).transpose()?;
        let active_children: Vec<(String, i32)> = sqlx::query_as(
            "SELECT nummer, inst_type3 FROM anvisningsenhed \
             WHERE daginstitutions_nummer = $1 AND aktivitetsstatus = 'Aktiv' ORDER BY nummer",
        )
        .bind(nummer)
        .fetch_all(&mut **tx)
        .await?;
        Ok(DaginstitutionState { current, active_children })
    }

    /// Records a changed daginstitution (history, sequence, audit) and commits.
    async fn finish_daginstitution_write(
        mut tx: sqlx::Transaction<'static, D::DB>,
        row: &<D::DB as sqlx::Database>::Row,
        handling: Handling,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, StoreError> {
        let record = Self::daginstitution_from_row(row)?;
        let w = super::Skrivning { aktoer, enhedstype: Enhedstype::Daginstitution, handling };
        Self::record_write(&mut tx, &record.nummer, record.register.version, json(&record)?, w).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(record)
    }

    /// Takes the next value of a counter; serialises writers until commit.
    /// A write transaction for `aktoer`'s request. A request with a MessageID this system already
    /// used within 24 hours ends here with [`StoreError::AlreadyDone`]: decided under the write
    /// lock, so two retries racing each other cannot both write.
    async fn begin_write_for(&self, aktoer: &Aktoer) -> Result<sqlx::Transaction<'static, D::DB>, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = &aktoer.message_id {
            let since = Utc::now() - chrono::Duration::hours(24);
            let done: Option<(String, String, String)> = sqlx::query_as(
                "SELECT nummer, operation, aftryk FROM idempotens WHERE system = $1 AND message_id = $2 AND \
                 tidspunkt > $3",
            )
            .bind(&aktoer.system)
            .bind(&key.id)
            .bind(since)
            .fetch_optional(&mut *tx)
            .await?;
            match done {
                Some((nummer, operation, aftryk)) if operation == aktoer.operation && aftryk == key.aftryk => {
                    return Err(StoreError::AlreadyDone { nummer });
                }
                Some((_, operation, _)) => return Err(StoreError::MessageIdReused { operation }),
                None => {}
            }
        }
        Ok(tx)
    }

    async fn next_counter(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        navn: &'static str,
        max: i64,
    ) -> Result<Option<i64>, StoreError> {
        let v: Option<i64> = sqlx::query_scalar(
            "UPDATE taeller SET vaerdi = vaerdi + 1 WHERE navn = $1 AND vaerdi <= $2 RETURNING \
     vaerdi - 1",
        )
        .bind(navn)
        .bind(max)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(v)
    }

    /// Appends the version, the change-sequence entry and the audit record of a write.
    async fn record_write(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        nummer: &str,
        version: i64,
        snapshot_json: String,
        w: super::Skrivning<'_>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let seq = Self::next_counter(tx, "sekvens", i64::MAX - 1)
            .await?
            .ok_or_else(|| StoreError::Corrupt("change sequence counter missing".into()))?;
        if let Some(announce) = D::ANNOUNCE_WRITE {
            sqlx::query(announce).execute(&mut **tx).await?;
        }
        sqlx::query(
            "INSERT INTO enhed_version (nummer, version, enhedstype, data, gyldig_fra) VALUES ($1, \
     $2, $3, $4, $5)",
        )
        .bind(nummer)
        .bind(version)
        .bind(w.enhedstype.as_str())
        .bind(snapshot_json)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO aendring (sekvensnummer, tidspunkt, enhedstype, nummer, handling, version) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(seq)
        .bind(now)
        .bind(w.enhedstype.as_str())
        .bind(nummer)
        .bind(w.handling.as_str())
        .bind(version)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit (tidspunkt, system, organisation, correlation_id, operation, nummer, udfald) \
             VALUES ($1, $2, $3, $4, $5, $6, 'OK')",
        )
        .bind(now)
        .bind(&w.aktoer.system)
        .bind(w.aktoer.organisation.as_deref())
        .bind(&w.aktoer.correlation_id)
        .bind(&w.aktoer.operation)
        .bind(nummer)
        .execute(&mut **tx)
        .await?;
        if let Some(key) = &w.aktoer.message_id {
            // The first unit a request writes is its answer; older keys are let go here, in
            // the same transaction, so the table holds about a day of writes.
            sqlx::query("DELETE FROM idempotens WHERE tidspunkt < $1")
                .bind(now - chrono::Duration::hours(24))
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO idempotens (system, message_id, operation, nummer, tidspunkt, aftryk) VALUES ($1, $2, $3, \
                 $4, $5, $6) ON CONFLICT (system, message_id) DO NOTHING",
            )
            .bind(&w.aktoer.system)
            .bind(&key.id)
            .bind(&w.aktoer.operation)
            .bind(nummer)
            .bind(now)
            .bind(&key.aftryk)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn seed_code_tables(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (navn, text) in codes::SEED {
            let koder = codes::parse_seed(navn, text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let hjemmel = codes::parse_hjemmel(navn, text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // A legal basis the seed has and the stored code lacks (tables seeded before it was
            // kept) is filled in; one the back office wrote stays.
            for (kode, h) in &hjemmel {
                sqlx::query("UPDATE kode SET hjemmel = $3 WHERE navn = $1 AND kode = $2 AND hjemmel = ''")
                    .bind(navn)
                    .bind(*kode)
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
            }
            let fresh = sqlx::query("INSERT INTO kodetabel (navn, version) VALUES ($1, 1) ON CONFLICT DO NOTHING")
                .bind(navn)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if fresh == 0 {
                continue; // seeded before; the back office may have edited it since
            }
            for (kode, tekst) in koder {
                sqlx::query("INSERT INTO kode (navn, kode, tekst, hjemmel) VALUES ($1, $2, $3, $4)")
                    .bind(navn)
                    .bind(kode)
                    .bind(tekst)
                    .bind(hjemmel.get(&kode).map_or("", String::as_str))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let matrix = codes::parse_krydsvalidering(codes::KRYDSVALIDERING_SEED)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for (e, l, t) in matrix {
            sqlx::query(
                "INSERT INTO krydsvalidering (ejerform_kode, lovgrundlag_kode, inst_type3) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(e)
            .bind(l)
            .bind(t)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(())
    }
}

#[async_trait]
impl<D> RegistryStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = D::DB>,
    <D::DB as sqlx::Database>::Arguments: sqlx::IntoArguments<D::DB>,
    <D::DB as sqlx::Database>::QueryResult: RowsAffected,
    String: Column<D::DB>,
    i32: Column<D::DB>,
    i64: Column<D::DB>,
    f64: Column<D::DB>,
    chrono::DateTime<Utc>: Column<D::DB>,
    Option<String>: Column<D::DB>,
    Option<f64>: Column<D::DB>,
    Option<chrono::DateTime<Utc>>: Column<D::DB>,
    for<'q> &'q str: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> &'q String: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::DB>,
    usize: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
    for<'s> &'s str: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
{
    async fn start_numbers_at(&self, first: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE taeller SET vaerdi = $1 WHERE navn = 'nummer' \
             AND NOT EXISTS (SELECT 1 FROM daginstitution) AND NOT EXISTS (SELECT 1 FROM anvisningsenhed) \
             AND NOT EXISTS (SELECT 1 FROM alternativ_adresse)",
        )
        .bind(first)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(done == 1)
    }

    async fn load_dagtilbud(&self, batch: Vec<Dagtilbud>, aktoer: &Aktoer) -> Result<Vec<Dagtilbud>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut loaded = Vec::with_capacity(batch.len());
        for mut d in batch {
            let write = |enhedstype| super::Skrivning { aktoer, enhedstype, handling: Handling::Oprettet };
            d.daginstitution.nummer = Self::issue_number(&mut tx).await?;
            let (di, r) = (&d.daginstitution, &d.daginstitution.register);
            let q = sqlx::query(LOAD_DAGINSTITUTION)
                .bind(&di.nummer)
                .bind(&di.data.navn)
                .bind(di.data.ejerform_kode)
                .bind(di.data.lovgrundlag_kode)
                .bind(di.data.adm_kommune_kode)
                .bind(di.data.ejer_cvr_nummer.as_deref());
            Self::bind_register(q, r).bind(soegenavn(&di.data.navn)).execute(&mut *tx).await?;
            let w = write(Enhedstype::Daginstitution);
            Self::record_write(&mut tx, &di.nummer, r.version, json(di)?, w).await?;
            for (a, adresser) in &mut d.anvisningsenheder {
                a.nummer = Self::issue_number(&mut tx).await?;
                a.data.daginstitutions_nummer = d.daginstitution.nummer.clone();
                let q = sqlx::query(LOAD_ANVISNINGSENHED).bind(&a.nummer).bind(&a.data.daginstitutions_nummer);
                let q = Self::bind_adresse(q.bind(&a.data.navn), &a.data.adresse)
                    .bind(a.data.inst_type3)
                    .bind(a.data.email.as_deref())
                    .bind(a.data.telefon_nummer.as_deref())
                    .bind(a.cvr_nummer.as_deref())
                    .bind(&a.data.p_nummer);
                Self::bind_register(q, &a.register).bind(soegenavn(&a.data.navn)).execute(&mut *tx).await?;
                let w = write(Enhedstype::Anvisningsenhed);
                Self::record_write(&mut tx, &a.nummer, a.register.version, json(&*a)?, w).await?;
                for l in adresser {
                    l.nummer = Self::issue_number(&mut tx).await?;
                    l.data.enheds_nummer = a.nummer.clone();
                    let q = sqlx::query(LOAD_ALTERNATIV_ADRESSE).bind(&l.nummer).bind(&l.data.enheds_nummer);
                    let q = Self::bind_adresse(q.bind(&l.data.navn), &l.data.adresse)
                        .bind(l.data.p_nummer.as_deref())
                        .bind(l.cvr_nummer.as_deref())
                        .bind(l.data.email.as_deref())
                        .bind(l.data.telefon_nummer.as_deref());
                    Self::bind_register(q, &l.register).bind(soegenavn(&l.data.navn)).execute(&mut *tx).await?;
                    let w = write(Enhedstype::AlternativAdresse);
                    Self::record_write(&mut tx, &l.nummer, l.register.version, json(&*l)?, w).await?;
                }
            }
            loaded.push(d);
        }
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(loaded)
    }

    async fn saet_kode(&self, navn: &str, kode: i32, tekst: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let known = sqlx::query("UPDATE kodetabel SET version = version + 1 WHERE navn = $1")
            .bind(navn)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if known == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO kode (navn, kode, tekst) VALUES ($1, $2, $3) \
             ON CONFLICT (navn, kode) DO UPDATE SET tekst = excluded.tekst",
        )
        .bind(navn)
        .bind(kode)
        .bind(tekst)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(true)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        D::migrate(&self.pool).await?;
        self.fold_search_names().await?;
        self.seed_code_tables().await
    }

    fn pool_use(&self) -> dtr_migrations::PoolUse {
        dtr_migrations::PoolUse::of(&self.pool)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn latest_sekvensnummer(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT CAST(COALESCE(MAX(sekvensnummer), 0) AS BIGINT) FROM aendring")
            .fetch_one(&self.pool)
            .await?)
    }

    fn holds_reader_leases(&self) -> bool {
        D::ANNOUNCE_WRITE.is_some()
    }

    async fn write_notices(&self) -> Result<futures::stream::BoxStream<'static, ()>, StoreError> {
        D::write_notices(&self.pool).await
    }

    async fn post_reader(&self, id: &str, seen: i64, lease: std::time::Duration) -> Result<(), StoreError> {
        if !self.holds_reader_leases() {
            return Err(StoreError::Unsupported("readers' leases"));
        }
        // The lease runs by the database's clock, which every writer reads too.
        sqlx::query(
            "INSERT INTO laeser (id, set_sekvens, lease_til) VALUES ($1, $2, now() + $3 * interval '1 millisecond') \
             ON CONFLICT (id) DO UPDATE SET set_sekvens = EXCLUDED.set_sekvens, lease_til = EXCLUDED.lease_til",
        )
        .bind(id)
        .bind(seen)
        .bind(lease.as_millis() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn readers_behind(&self, sekvens: i64) -> Result<i64, StoreError> {
        if !self.holds_reader_leases() {
            return Err(StoreError::Unsupported("readers' leases"));
        }
        Ok(sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM laeser WHERE set_sekvens < $1 AND lease_til > clock_timestamp()",
        )
        .bind(sekvens)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn code_tables_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM kodetabel")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn load_code_tables(&self) -> Result<CodeTables, StoreError> {
        let mut out = CodeTables::default();
        for row in sqlx::query("SELECT navn, version FROM kodetabel").fetch_all(&self.pool).await? {
            let navn: String = row.try_get("navn")?;
            let version: i64 = row.try_get("version")?;
            out.version += version;
            out.tabeller.insert(navn.clone(), Kodetabel { navn, version, ..Default::default() });
        }
        for row in sqlx::query("SELECT navn, kode, tekst, hjemmel FROM kode").fetch_all(&self.pool).await? {
            let navn: String = row.try_get("navn")?;
            if let Some(t) = out.tabeller.get_mut(&navn) {
                let kode: i32 = row.try_get("kode")?;
                t.koder.insert(kode, row.try_get("tekst")?);
                let hjemmel: String = row.try_get("hjemmel")?;
                if !hjemmel.is_empty() {
                    t.hjemmel.insert(kode, hjemmel);
                }
            }
        }
        for row in sqlx::query("SELECT ejerform_kode, lovgrundlag_kode, inst_type3 FROM krydsvalidering")
            .fetch_all(&self.pool)
            .await?
        {
            out.krydsvalidering.insert((
                row.try_get("ejerform_kode")?,
                row.try_get("lovgrundlag_kode")?,
                row.try_get("inst_type3")?,
            ));
        }
        Ok(out)
    }

    async fn insert_daginstitution(
        &self,
        data: &DaginstitutionData,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let n = Self::next_counter(&mut tx, "nummer", numbers::SIDSTE).await?.ok_or(StoreError::NumbersExhausted)?;
        let record = Daginstitution { nummer: numbers::format(n), data: data.clone(), register: new_registerfelter() };
        Self::write_new_daginstitution(&mut tx, &record, aktoer).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(record)
    }

    async fn indlaes_historisk(&self, enhed: &HistoriskEnhed, aktoer: &Aktoer) -> Result<bool, StoreError> {
        let nummer = match enhed {
            HistoriskEnhed::Daginstitution(d) => &d.nummer,
            HistoriskEnhed::Anvisningsenhed(a) => &a.nummer,
            HistoriskEnhed::AlternativAdresse(l) => &l.nummer,
        };
        let mut tx = self.begin_write().await?;
        let findes: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM daginstitution WHERE nummer = $1 UNION ALL SELECT 1 FROM anvisningsenhed WHERE nummer = $1 \
             UNION ALL SELECT 1 FROM alternativ_adresse WHERE nummer = $1",
        )
        .bind(nummer)
        .fetch_optional(&mut *tx)
        .await?;
        if findes.is_some() {
            return Ok(false);
        }
        match enhed {
            HistoriskEnhed::Daginstitution(d) => Self::write_new_daginstitution(&mut tx, d, aktoer).await?,
            HistoriskEnhed::Anvisningsenhed(a) => Self::write_new_anvisningsenhed(&mut tx, a, aktoer).await?,
            HistoriskEnhed::AlternativAdresse(l) => Self::write_new_alternativ_adresse(&mut tx, l, aktoer).await?,
        }
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(true)
    }

    async fn get_daginstitution(&self, nummer: &str) -> Result<Option<Daginstitution>, StoreError> {
        let row = sqlx::query(SELECT_DAGINSTITUTION).bind(nummer).fetch_optional(&self.pool).await?;
        row.as_ref().map(Self::daginstitution_from_row).transpose()
    }

    async fn find_daginstitutioner_by_navn(&self, part: &str) -> Result<Vec<Daginstitution>, StoreError> {
        let rows = sqlx::query(FIND_DAGINSTITUTION_BY_NAVN)
            .bind(super::navn_pattern(part))
            .bind(super::MAX_NAVNESOEG)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::daginstitution_from_row).collect()
    }

    fn stream_daginstitutioner(&self) -> Udtraek<Daginstitution> {
        self.stream_table(ALLE_DAGINSTITUTIONER, Self::daginstitution_from_row)
    }

    fn stream_anvisningsenheder(&self) -> Udtraek<Anvisningsenhed> {
        self.stream_table(ALLE_ANVISNINGSENHEDER, Self::anvisningsenhed_from_row)
    }

    fn stream_alternative_adresser(&self) -> Udtraek<AlternativAdresse> {
        self.stream_table(ALLE_ALTERNATIVE_ADRESSER, Self::alternativ_adresse_from_row)
    }

    fn stream_dagtilbud(&self, filter: DagtilbudFilter) -> Udtraek<Dagtilbud> {
        let pool = self.pool.clone();
        udtraek(move |mut out| async move {
            let query = match &filter {
                DagtilbudFilter::Alle => sqlx::query(DAGTILBUD_ALLE.as_str()),
                DagtilbudFilter::Daginstitution(n) => {
                    sqlx::query(DAGTILBUD_BY_NUMMER.as_str()).bind(n.trim().to_owned())
                }
                DagtilbudFilter::AdmKommune(k) => sqlx::query(DAGTILBUD_BY_KOMMUNE.as_str()).bind(*k),
            };
            let mut rows = query.fetch(&pool);
            let mut current: Option<Dagtilbud> = None;
            while let Some(row) = rows.try_next().await? {
                let (d, a, l) = (Named::new(&row, "d_"), Named::new(&row, "a_"), Named::new(&row, "l_"));
                let d_nummer: String = d.get("nummer")?;
                let same = current.as_ref().is_some_and(|c| c.daginstitution.nummer == d_nummer);
                if !same {
                    let next = Dagtilbud { daginstitution: Self::daginstitution(&d)?, anvisningsenheder: vec![] };
                    if let Some(done) = current.replace(next)
                        && !out.send(done).await
                    {
                        return Ok(out);
                    }
                }
                let Some(c) = current.as_mut() else { continue };
                let Some(a_nummer) = a.get::<Option<String>>("nummer")? else { continue };
                if c.anvisningsenheder.last().is_none_or(|(u, _)| u.nummer != a_nummer) {
                    c.anvisningsenheder.push((Self::anvisningsenhed(&a)?, vec![]));
                }
                if l.get::<Option<String>>("nummer")?.is_some()
                    && let Some((_, adresser)) = c.anvisningsenheder.last_mut()
                {
                    adresser.push(Self::alternativ_adresse(&l)?);
                }
            }
            if let Some(done) = current {
                out.send(done).await;
            }
            Ok(out)
        })
    }

    async fn update_daginstitution(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, DaginstitutionData>,
    ) -> Result<WriteOutcome<Daginstitution>, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let state = Self::daginstitution_state(&mut tx, nummer).await?;
        let data = match decide(&state) {
            Ok(d) => d,
            Err(fejl) => return Ok(WriteOutcome::Refused(fejl)),
        };
        let row = sqlx::query(UPDATE_DAGINSTITUTION)
            .bind(nummer)
            .bind(&data.navn)
            .bind(data.ejerform_kode)
            .bind(data.lovgrundlag_kode)
            .bind(data.adm_kommune_kode)
            .bind(data.ejer_cvr_nummer.as_deref())
            .bind(Utc::now())
            .bind(soegenavn(&data.navn))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{nummer} vanished inside its write transaction")))?;
        Ok(WriteOutcome::Done(Self::finish_daginstitution_write(tx, &row, Handling::Aendret, aktoer).await?))
    }

    async fn daginstitution_state(&self, nummer: &str) -> Result<DaginstitutionState, StoreError> {
        // A read-only transaction gives the unit and its children as of one moment.
        let mut tx = self.pool.begin().await?;
        let state = Self::daginstitution_state(&mut tx, nummer).await?;
        tx.rollback().await?;
        Ok(state)
    }

    async fn close_daginstitution(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, ()>,
    ) -> Result<WriteOutcome<Daginstitution>, StoreError> {
        checked_write!(
            self,
            daginstitution_state(nummer),
            decide,
            CLOSE_DAGINSTITUTION,
            [nummer, Utc::now()],
            finish_daginstitution_write,
            Handling::Nedlagt,
            nummer,
            aktoer,
        )
    }

    async fn insert_anvisningsenhed(
        &self,
        data: &AnvisningsenhedData,
        cvr_nummer: Option<&str>,
        aktoer: &Aktoer,
        decide: &DecideDaginstitution<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let parent = Self::daginstitution_state(&mut tx, &data.daginstitutions_nummer).await?;
        if let Err(fejl) = decide(&parent) {
            return Ok(WriteOutcome::Refused(fejl));
        }
        let n = Self::next_counter(&mut tx, "nummer", numbers::SIDSTE).await?.ok_or(StoreError::NumbersExhausted)?;
        let record = Anvisningsenhed {
            nummer: numbers::format(n),
            data: data.clone(),
            cvr_nummer: cvr_nummer.map(str::to_owned),
            register: new_registerfelter(),
        };
        Self::write_new_anvisningsenhed(&mut tx, &record, aktoer).await?;
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(WriteOutcome::Done(record))
    }

    async fn get_anvisningsenhed(&self, nummer: &str) -> Result<Option<Anvisningsenhed>, StoreError> {
        let row = sqlx::query(SELECT_ANVISNINGSENHED).bind(nummer).fetch_optional(&self.pool).await?;
        row.as_ref().map(Self::anvisningsenhed_from_row).transpose()
    }

    async fn find_anvisningsenheder(&self, filter: EnhedFilter<'_>) -> Result<Vec<Anvisningsenhed>, StoreError> {
        let (sql, value) = match filter {
            EnhedFilter::Nummer(v) => (FIND_ANVISNINGSENHED_BY_NUMMER, v.trim().to_owned()),
            EnhedFilter::PNummer(v) => (FIND_ANVISNINGSENHED_BY_PNUMMER, v.trim().to_owned()),
            EnhedFilter::CvrNummer(v) => (FIND_ANVISNINGSENHED_BY_CVR, v.trim().to_owned()),
            EnhedFilter::Daginstitution(v) => (FIND_ANVISNINGSENHED_BY_PARENT, v.trim().to_owned()),
            EnhedFilter::Navn(v) => (FIND_ANVISNINGSENHED_BY_NAVN, super::navn_pattern(v)),
        };
        let query = sqlx::query(sql).bind(value);
        let query = if matches!(filter, EnhedFilter::Navn(_)) { query.bind(super::MAX_NAVNESOEG) } else { query };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::anvisningsenhed_from_row).collect()
    }

    async fn anvisningsenhed_state(
        &self,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AnvisningsenhedState, StoreError> {
        let mut tx = self.pool.begin().await?;
        let state = Self::anvisningsenhed_state_tx(&mut tx, nummer, target).await?;
        tx.rollback().await?;
        Ok(state)
    }

    async fn update_anvisningsenhed(
        &self,
        nummer: &str,
        cvr_nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, AnvisningsenhedData>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let state = Self::anvisningsenhed_state_tx(&mut tx, nummer, None).await?;
        let data = match decide(&state) {
            Ok(d) => d,
            Err(fejl) => return Ok(WriteOutcome::Refused(fejl)),
        };
        let q = sqlx::query(UPDATE_ANVISNINGSENHED).bind(nummer).bind(&data.navn);
        let row = Self::bind_adresse(q, &data.adresse)
            .bind(data.inst_type3)
            .bind(data.email.as_deref())
            .bind(data.telefon_nummer.as_deref())
            .bind(cvr_nummer)
            .bind(&data.p_nummer)
            .bind(Utc::now())
            .bind(soegenavn(&data.navn))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{nummer} vanished inside its write transaction")))?;
        // Its alternative addresses without a P-number of their own follow its CVR number, each
        // a new version of its own in the same transaction.
        let children = sqlx::query(FOLLOW_ENHEDENS_CVR).bind(nummer).bind(cvr_nummer).bind(Utc::now());
        for child in children.fetch_all(&mut *tx).await? {
            let record = Self::alternativ_adresse_from_row(&child)?;
            let w = super::Skrivning { aktoer, enhedstype: Enhedstype::AlternativAdresse, handling: Handling::Aendret };
            Self::record_write(&mut tx, &record.nummer, record.register.version, json(&record)?, w).await?;
        }
        let done = Self::finish_anvisningsenhed_write(tx, &row, Handling::Aendret, aktoer);
        Ok(WriteOutcome::Done(done.await?))
    }

    async fn close_anvisningsenhed(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError> {
        checked_write!(
            self,
            anvisningsenhed_state_tx(nummer, None),
            decide,
            CLOSE_ANVISNINGSENHED,
            [nummer, Utc::now()],
            finish_anvisningsenhed_write,
            Handling::Nedlagt,
            nummer,
            aktoer,
        )
    }

    async fn move_anvisningsenhed(
        &self,
        nummer: &str,
        til: &str,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, ()>,
    ) -> Result<WriteOutcome<Anvisningsenhed>, StoreError> {
        checked_write!(
            self,
            anvisningsenhed_state_tx(nummer, Some(til)),
            decide,
            MOVE_ANVISNINGSENHED,
            [nummer, til, Utc::now()],
            finish_anvisningsenhed_write,
            Handling::Flyttet,
            nummer,
            aktoer,
        )
    }

    async fn insert_alternativ_adresse(
        &self,
        data: &AlternativAdresseData,
        cvr_nummer: Option<&str>,
        aktoer: &Aktoer,
    ) -> Result<AlternativAdresse, StoreError> {
        let tx = self.begin_write_for(aktoer).await?;
        Self::insert_alternativ_adresse_tx(tx, data, cvr_nummer, aktoer).await
    }

    async fn insert_alternativ_adresse_checked(
        &self,
        data: &AlternativAdresseData,
        aktoer: &Aktoer,
        decide: &DecideAnvisningsenhed<'_, Option<String>>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let parent = Self::anvisningsenhed_state_tx(&mut tx, &data.enheds_nummer, None).await?;
        let cvr = match decide(&parent) {
            Ok(c) => c,
            Err(fejl) => return Ok(WriteOutcome::Refused(fejl)),
        };
        Ok(WriteOutcome::Done(Self::insert_alternativ_adresse_tx(tx, data, cvr.as_deref(), aktoer).await?))
    }

    async fn get_alternativ_adresse(&self, nummer: &str) -> Result<Option<AlternativAdresse>, StoreError> {
        let row = sqlx::query(SELECT_ALTERNATIV_ADRESSE).bind(nummer).fetch_optional(&self.pool).await?;
        row.as_ref().map(Self::alternativ_adresse_from_row).transpose()
    }

    async fn find_alternative_adresser(&self, filter: AdresseFilter<'_>) -> Result<Vec<AlternativAdresse>, StoreError> {
        let (sql, value) = match filter {
            AdresseFilter::Nummer(v) => (FIND_ALTERNATIV_BY_NUMMER, v.trim().to_owned()),
            AdresseFilter::PNummer(v) => (FIND_ALTERNATIV_BY_PNUMMER, v.trim().to_owned()),
            AdresseFilter::CvrNummer(v) => (FIND_ALTERNATIV_BY_CVR, v.trim().to_owned()),
            AdresseFilter::Anvisningsenhed(v) => (FIND_ALTERNATIV_BY_PARENT, v.trim().to_owned()),
            AdresseFilter::Navn(v) => (FIND_ALTERNATIV_BY_NAVN, super::navn_pattern(v)),
        };
        let query = sqlx::query(sql).bind(value);
        let query = if matches!(filter, AdresseFilter::Navn(_)) { query.bind(super::MAX_NAVNESOEG) } else { query };
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::alternativ_adresse_from_row).collect()
    }

    async fn alternativ_adresse_state(
        &self,
        nummer: &str,
        target: Option<&str>,
    ) -> Result<AlternativAdresseState, StoreError> {
        let mut tx = self.pool.begin().await?;
        let state = Self::alternativ_adresse_state_tx(&mut tx, nummer, target).await?;
        tx.rollback().await?;
        Ok(state)
    }

    async fn update_alternativ_adresse(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, (AlternativAdresseData, Option<String>)>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError> {
        let mut tx = self.begin_write_for(aktoer).await?;
        let state = Self::alternativ_adresse_state_tx(&mut tx, nummer, None).await?;
        let (data, cvr) = match decide(&state) {
            Ok(d) => d,
            Err(fejl) => return Ok(WriteOutcome::Refused(fejl)),
        };
        let q = sqlx::query(UPDATE_ALTERNATIV_ADRESSE).bind(nummer).bind(&data.navn);
        let row = Self::bind_adresse(q, &data.adresse)
            .bind(data.p_nummer.as_deref())
            .bind(cvr.as_deref())
            .bind(data.email.as_deref())
            .bind(data.telefon_nummer.as_deref())
            .bind(Utc::now())
            .bind(soegenavn(&data.navn))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{nummer} vanished inside its write transaction")))?;
        let done = Self::finish_alternativ_write(tx, &row, Handling::Aendret, aktoer);
        Ok(WriteOutcome::Done(done.await?))
    }

    async fn close_alternativ_adresse(
        &self,
        nummer: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, ()>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError> {
        checked_write!(
            self,
            alternativ_adresse_state_tx(nummer, None),
            decide,
            CLOSE_ALTERNATIV_ADRESSE,
            [nummer, Utc::now()],
            finish_alternativ_write,
            Handling::Nedlagt,
            nummer,
            aktoer,
        )
    }

    async fn move_alternativ_adresse(
        &self,
        nummer: &str,
        til: &str,
        aktoer: &Aktoer,
        decide: &DecideAlternativAdresse<'_, ()>,
    ) -> Result<WriteOutcome<AlternativAdresse>, StoreError> {
        checked_write!(
            self,
            alternativ_adresse_state_tx(nummer, Some(til)),
            decide,
            MOVE_ALTERNATIV_ADRESSE,
            [nummer, til, Utc::now()],
            finish_alternativ_write,
            Handling::Flyttet,
            nummer,
            aktoer,
        )
    }

    async fn aktive_enheder(
        &self,
        enhedstype: Enhedstype,
        efter: &str,
        max: i64,
    ) -> Result<Vec<AktivEnhed>, StoreError> {
        let sql = match enhedstype {
            Enhedstype::Daginstitution => AKTIVE_DAGINSTITUTIONER,
            Enhedstype::Anvisningsenhed => AKTIVE_ANVISNINGSENHEDER,
            Enhedstype::AlternativAdresse => AKTIVE_ALTERNATIVE_ADRESSER,
        };
        let rows = sqlx::query(sql).bind(efter).bind(max).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let unit = enhedstype != Enhedstype::Daginstitution;
                Ok(AktivEnhed {
                    enhedstype,
                    nummer: r.try_get("nummer")?,
                    adm_kommune_kode: r.try_get("adm_kommune_kode")?,
                    ejer_cvr_nummer: r.try_get("ejer_cvr_nummer")?,
                    adresse: if unit { Some(Self::adresse(&Named::new(r, ""))?) } else { None },
                    p_nummer: if unit { r.try_get("p_nummer")? } else { None },
                    aktive_enheder: if unit { 0 } else { r.try_get("aktive")? },
                })
            })
            .collect()
    }

    async fn save_revalidation(
        &self,
        startet: chrono::DateTime<Utc>,
        antal_enheder: i64,
        fund: &[Fund],
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO revalidering_koersel (startet, afsluttet, antal_enheder, antal_fund) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(startet)
        .bind(Utc::now())
        .bind(antal_enheder)
        .bind(fund.len() as i64)
        .fetch_one(&mut *tx)
        .await?;
        for f in fund {
            sqlx::query(
                "INSERT INTO revalidering_fund (koersel_id, enhedstype, nummer, adm_kommune_kode, \
                 ejer_cvr_nummer, kode, besked) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(f.enhedstype.as_str())
            .bind(&f.nummer)
            .bind(f.adm_kommune_kode)
            .bind(f.ejer_cvr_nummer.as_deref())
            .bind(&f.kode)
            .bind(&f.besked)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(StoreError::commit)?;
        Ok(id)
    }

    async fn latest_revalidation(&self) -> Result<Option<Koersel>, StoreError> {
        let Some(run) = sqlx::query(
            "SELECT id, startet, afsluttet, antal_enheder FROM revalidering_koersel ORDER BY id \
     DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = run.try_get("id")?;
        let rows = sqlx::query(
            "SELECT enhedstype, nummer, adm_kommune_kode, ejer_cvr_nummer, kode, besked FROM revalidering_fund \
             WHERE koersel_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let fund = rows
            .iter()
            .map(|r| {
                let t: String = r.try_get("enhedstype")?;
                Ok(Fund {
                    enhedstype: Enhedstype::parse(&t)
                        .ok_or_else(|| StoreError::Corrupt(format!("enhedstype {t:?}")))?,
                    nummer: r.try_get("nummer")?,
                    adm_kommune_kode: r.try_get("adm_kommune_kode")?,
                    ejer_cvr_nummer: r.try_get("ejer_cvr_nummer")?,
                    kode: r.try_get("kode")?,
                    besked: r.try_get("besked")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Koersel {
            id,
            startet: run.try_get("startet")?,
            afsluttet: run.try_get("afsluttet")?,
            antal_enheder: run.try_get("antal_enheder")?,
            fund,
        }))
    }

    async fn count_units(&self) -> Result<(i64, i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM daginstitution) AS d, (SELECT COUNT(*) FROM anvisningsenhed) AS a, \
             (SELECT COUNT(*) FROM alternativ_adresse) AS l",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("d")?, row.try_get("a")?, row.try_get("l")?))
    }

    async fn aendringer_med_tilstand(
        &self,
        sekvensnummer: i64,
        max: i64,
    ) -> Result<Vec<AendringMedTilstand>, StoreError> {
        let rows = sqlx::query(AENDRINGER_MED_TILSTAND).bind(sekvensnummer).bind(max).fetch_all(&self.pool).await?;
        rows.iter().map(aendring_med_tilstand).collect()
    }

    async fn historik(&self, nummer: &str) -> Result<Vec<AendringMedTilstand>, StoreError> {
        let rows = sqlx::query(HISTORIK).bind(nummer).fetch_all(&self.pool).await?;
        rows.iter().map(aendring_med_tilstand).collect()
    }

    async fn aendringer_siden(&self, sekvensnummer: i64, max: i64) -> Result<Vec<AendringRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT sekvensnummer, tidspunkt, enhedstype, nummer, handling, version FROM aendring \
             WHERE sekvensnummer > $1 ORDER BY sekvensnummer LIMIT $2",
        )
        .bind(sekvensnummer)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AendringRecord {
                    sekvensnummer: r.try_get("sekvensnummer")?,
                    tidspunkt: r.try_get("tidspunkt")?,
                    enhedstype: r.try_get("enhedstype")?,
                    nummer: r.try_get("nummer")?,
                    handling: r.try_get("handling")?,
                    version: r.try_get("version")?,
                })
            })
            .collect()
    }

    async fn audit_by_correlation(&self, correlation_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT tidspunkt, system, organisation, correlation_id, operation, nummer, udfald FROM audit \
             WHERE correlation_id = $1 ORDER BY id",
        )
        .bind(correlation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    tidspunkt: r.try_get("tidspunkt")?,
                    system: r.try_get("system")?,
                    organisation: r.try_get("organisation")?,
                    correlation_id: r.try_get("correlation_id")?,
                    operation: r.try_get("operation")?,
                    nummer: r.try_get("nummer")?,
                    udfald: r.try_get("udfald")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// The column lists the statements select and the names the readers read are the same.
    #[test]
    fn column_lists_match_the_names_read() {
        let list = |names: Vec<&str>| names.join(", ");
        assert_eq!(daginstitution_columns!(), list(super::DAGINSTITUTION_KOLONNER.to_vec()));
        assert_eq!(anvisningsenhed_columns!(), list(super::anvisningsenhed_kolonner().collect()));
        assert_eq!(alternativ_adresse_columns!(), list(super::alternativ_adresse_kolonner().collect()));
    }
}
