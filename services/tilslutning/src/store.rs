//! Storage of the tilslutning schema: one interface and one implementation, generic over the
//! backend; the same SQL text runs on both, and what differs is a [`Dialect`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;

use dtr_migrations::{Backend, TILSLUTNING_POSTGRES, TILSLUTNING_SQLITE, backend_of, migrator};

use crate::model::{
    AdgangFakta, Aftale, AftaleArt, AftaleFilter, AftaleStatus, Afvisningslog, Dataejer, EjerFakta, HistorikLinje,
    Organisation, OrganisationInfo, OrganisationType, ServiceDef, SystemInfo, SystemLogin, SystemTilstand,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (want postgres://… or sqlite:…)")]
    UnsupportedUrl,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(&'static str),
}

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub modtager: String,
    pub emne: String,
    pub tekst: String,
    pub forsoeg: i64,
}

/// A new system as stored.
#[derive(Debug, Clone)]
pub struct NewSystem<'a> {
    pub id: &'a str,
    pub navn: &'a str,
    pub udbyder_kode: &'a str,
    pub brugernavn: &'a str,
    pub password_hash: &'a str,
}

#[async_trait]
pub trait TilslutningStore: Send + Sync + 'static {
    async fn migrate(&self) -> Result<(), StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    async fn upsert_organisation(&self, org: &Organisation) -> Result<(), StoreError>;
    async fn create_system(&self, s: &NewSystem<'_>) -> Result<(), StoreError>;
    async fn upsert_service(&self, s: &ServiceDef) -> Result<(), StoreError>;
    /// The catalogue: every service with its operations and versions, by servicekode.
    async fn list_services(&self) -> Result<Vec<ServiceDef>, StoreError>;
    /// Sets the status of the live connection agreement system × service (creating it if
    /// needed) and records the change in its history. Returns the agreement id.
    async fn set_tilslutning(
        &self,
        system_id: &str,
        servicekode: &str,
        status: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<String, StoreError>;
    /// Same for the data-access agreement system × service × owner.
    async fn set_dataaftale(
        &self,
        system_id: &str,
        servicekode: &str,
        ejer_kode: &str,
        status: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<String, StoreError>;
    /// The credentials of a usable (not deleted) system by username, with only unexpired hashes.
    async fn login(&self, brugernavn: &str) -> Result<Option<SystemLogin>, StoreError>;
    /// What an access decision for system × service × operation × owners needs to know.
    async fn adgang_fakta(
        &self,
        system_id: &str,
        servicekode: &str,
        operation: &str,
        ejere: &[Dataejer],
    ) -> Result<AdgangFakta, StoreError>;
    /// Stores one refused call in the access log.
    async fn log_afvisning(&self, a: &Afvisningslog) -> Result<(), StoreError>;
    /// Refusals logged under a correlation id (for support and tests).
    async fn afvisninger(&self, correlation_id: &str) -> Result<Vec<Afvisningslog>, StoreError>;
    /// Counts one full extract of the system on `dato` unless it already had `limit`; `false`
    /// when over the limit (nothing counted).
    async fn count_udtraek(&self, system_id: &str, dato: &str, limit: i64) -> Result<bool, StoreError>;
    /// One agreement with its history.
    async fn get_aftale(&self, art: AftaleArt, aftale_id: &str) -> Result<Option<Aftale>, StoreError>;
    /// Moves an agreement from `fra` to `til` with a history line, atomically; `false` when it
    /// was no longer in `fra` (a concurrent change won).
    async fn skift_status(
        &self,
        art: AftaleArt,
        aftale_id: &str,
        fra: AftaleStatus,
        til: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<bool, StoreError>;
    /// Agreements matching `filter`, ordered by id, at most `filter.max`.
    async fn list_aftaler(&self, art: AftaleArt, filter: &AftaleFilter) -> Result<Vec<Aftale>, StoreError>;
    /// The provider owning a (not deleted) system.
    async fn system_udbyder(&self, system_id: &str) -> Result<Option<String>, StoreError>;
    async fn get_system(&self, system_id: &str) -> Result<Option<SystemInfo>, StoreError>;
    /// Systems, optionally of one provider and/or with a name containing `soeg`, ordered by id
    /// after `efter`, at most `max`.
    async fn list_systems(
        &self,
        udbyder_kode: Option<&str>,
        soeg: &str,
        med_slettede: bool,
        efter: &str,
        max: i64,
    ) -> Result<Vec<SystemInfo>, StoreError>;
    async fn rename_system(&self, system_id: &str, navn: &str) -> Result<bool, StoreError>;
    /// Marks the system deleted and ends (SLETTET) every live agreement of it, with history.
    async fn delete_system(&self, system_id: &str, aktoer: &str) -> Result<bool, StoreError>;
    /// A new password hash; the ones valid now keep working until `gammel_udloeber`.
    async fn rotate_credentials(
        &self,
        system_id: &str,
        hash: &str,
        gammel_udloeber: chrono::DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Creates an organisation; `false` when the kode is taken.
    async fn create_organisation(&self, org: &Organisation) -> Result<bool, StoreError>;
    async fn get_organisation(&self, kode: &str) -> Result<Option<OrganisationInfo>, StoreError>;
    /// Organisations, optionally of one type and/or with `soeg` in kode or name, by kode after
    /// `efter`, at most `max`.
    async fn list_organisationer(
        &self,
        type_: Option<OrganisationType>,
        soeg: &str,
        efter: &str,
        max: i64,
    ) -> Result<Vec<OrganisationInfo>, StoreError>;
    async fn set_organisation_passiv(&self, kode: &str, passiv: bool, kommentar: &str) -> Result<bool, StoreError>;
    /// The type of an organisation, if it exists.
    async fn organisation_type(&self, kode: &str) -> Result<Option<OrganisationType>, StoreError>;
    /// Mails each owner its findings of re-validation run `koersel_id` (one mail per owner and
    /// run, however often it is handed over); the number of owners newly mailed. Owners that are
    /// not registered organisations are skipped.
    async fn meld_registerfund(
        &self,
        koersel_id: i64,
        fund: &[(Dataejer, crate::notifikation::Notifikation)],
    ) -> Result<usize, StoreError>;
    async fn add_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError>;
    async fn remove_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError>;
    async fn modtagere(&self, organisation_kode: &str) -> Result<Vec<String>, StoreError>;
    /// Claims up to `max` due mails (their next attempt is pushed a minute ahead, so another
    /// instance leaves them alone while this one sends).
    async fn due_mail(&self, max: i64) -> Result<Vec<OutboxMail>, StoreError>;
    async fn mail_sent(&self, id: i64) -> Result<(), StoreError>;
    async fn mail_failed(&self, id: i64, fejl: &str, naeste: chrono::DateTime<Utc>) -> Result<(), StoreError>;
    /// Mails not yet delivered (for tests and monitoring).
    async fn pending_mail(&self) -> Result<Vec<OutboxMail>, StoreError>;
    /// The provider's passive flag.
    async fn set_system_passiv(&self, system_id: &str, passiv: bool) -> Result<bool, StoreError>;
    /// The operator's block, with its reason (empty when unblocking).
    async fn set_system_blokeret(&self, system_id: &str, blokeret: bool, aarsag: &str) -> Result<bool, StoreError>;
}

pub async fn connect(url: &str) -> Result<Arc<dyn TilslutningStore>, StoreError> {
    match backend_of(url) {
        Some(Backend::Postgres) => Ok(Arc::new(PostgresStore { pool: dtr_migrations::postgres_pool(url).await? })),
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore { pool: dtr_migrations::sqlite_pool(url).await? })),
        None => Err(StoreError::UnsupportedUrl),
    }
}

/// The store over one backend; every statement is the same text on both.
pub struct SqlStore<D: Dialect> {
    pool: sqlx::Pool<D::DB>,
}

/// What differs between the backends: the database type and running the migrations.
pub trait Dialect: Send + Sync + 'static {
    type DB: sqlx::Database;

    fn migrate(pool: &sqlx::Pool<Self::DB>) -> impl Future<Output = Result<(), StoreError>> + Send + '_;
}

/// How many rows a statement changed, whatever the backend.
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

pub struct Postgres;
pub struct Sqlite;

impl Dialect for Postgres {
    type DB = sqlx::Postgres;

    async fn migrate(pool: &sqlx::PgPool) -> Result<(), StoreError> {
        Ok(migrator(&TILSLUTNING_POSTGRES).run(pool).await?)
    }
}

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;

    async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
        Ok(migrator(&TILSLUTNING_SQLITE).run(pool).await?)
    }
}

pub type PostgresStore = SqlStore<Postgres>;
pub type SqliteStore = SqlStore<Sqlite>;

/// A value the store both reads from and writes to `DB`.
pub trait Column<DB: sqlx::Database>:
    for<'r> sqlx::Decode<'r, DB> + for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>
{
}

impl<T, DB: sqlx::Database> Column<DB> for T where
    T: for<'r> sqlx::Decode<'r, DB> + for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>
{
}

macro_rules! organisation_columns {
    () => {
        "kode, navn, cvr, pnr, type, er_passiveret, passiveret_kommentar"
    };
}

macro_rules! system_columns {
    () => {
        "id, navn, udbyder_kode, brugernavn, passiv, blokeret, blokeret_aarsag, slettet"
    };
}

impl<D> SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = D::DB>,
    <D::DB as sqlx::Database>::Arguments: sqlx::IntoArguments<D::DB>,
    String: Column<D::DB>,
    bool: Column<D::DB>,
    i64: Column<D::DB>,
    chrono::DateTime<Utc>: Column<D::DB>,
    for<'q> &'q str: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::DB>,
    <D::DB as sqlx::Database>::QueryResult: RowsAffected,
    usize: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
    for<'s> &'s str: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
{
    fn organisation_from_row(r: &<D::DB as sqlx::Database>::Row) -> Result<OrganisationInfo, StoreError> {
        let type_: String = r.try_get("type")?;
        Ok(OrganisationInfo {
            organisation: Organisation {
                kode: r.try_get("kode")?,
                navn: r.try_get("navn")?,
                cvr: r.try_get("cvr")?,
                pnr: r.try_get("pnr")?,
                type_: OrganisationType::parse(&type_).ok_or(StoreError::Corrupt("organisation type"))?,
            },
            er_passiveret: r.try_get("er_passiveret")?,
            passiveret_kommentar: r.try_get("passiveret_kommentar")?,
        })
    }

    fn system_from_row(r: &<D::DB as sqlx::Database>::Row) -> Result<SystemInfo, StoreError> {
        Ok(SystemInfo {
            id: r.try_get("id")?,
            navn: r.try_get("navn")?,
            udbyder_kode: r.try_get("udbyder_kode")?,
            brugernavn: r.try_get("brugernavn")?,
            passiv: r.try_get("passiv")?,
            blokeret: r.try_get("blokeret")?,
            blokeret_aarsag: r.try_get("blokeret_aarsag")?,
            slettet: r.try_get("slettet")?,
        })
    }

    fn aftale_from_row(row: &<D::DB as sqlx::Database>::Row) -> Result<Aftale, StoreError> {
        let status: String = row.try_get("status")?;
        Ok(Aftale {
            aftale_id: row.try_get("aftale_id")?,
            system_id: row.try_get("system_id")?,
            servicekode: row.try_get("servicekode")?,
            ejer_kode: row.try_get("ejer_kode")?,
            status: AftaleStatus::parse(&status).ok_or(StoreError::Corrupt("aftale status"))?,
            historik: vec![],
        })
    }

    async fn historik(&self, aftale_id: &str) -> Result<Vec<HistorikLinje>, StoreError> {
        let rows = sqlx::query(
            "SELECT aktoer, tidspunkt, fra, til, kommentar FROM aftale_historik WHERE aftale_id = $1 ORDER BY id",
        )
        .bind(aftale_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let fra: Option<String> = r.try_get("fra")?;
                let til: String = r.try_get("til")?;
                Ok(HistorikLinje {
                    aktoer: r.try_get("aktoer")?,
                    tidspunkt: r.try_get("tidspunkt")?,
                    fra: fra.as_deref().and_then(AftaleStatus::parse),
                    til: AftaleStatus::parse(&til).ok_or(StoreError::Corrupt("historik status"))?,
                    kommentar: r.try_get("kommentar")?,
                })
            })
            .collect()
    }

    /// Moves one agreement (of `tabel`) to `status`, with a history line.
    async fn set_status(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        aftale_id: &str,
        fra: Option<&str>,
        status: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO aftale_historik (aftale_id, aktoer, tidspunkt, fra, til, kommentar) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(aftale_id)
        .bind(aktoer)
        .bind(Utc::now())
        .bind(fra)
        .bind(status.as_str())
        .bind(kommentar)
        .execute(&mut **tx)
        .await?;
        // The notification goes out with the change or not at all.
        let row: Option<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT a.system_id, a.servicekode, CAST(NULL AS TEXT), s.udbyder_kode FROM tilslutningsaftale a \
             JOIN udbydersystem s ON s.id = a.system_id WHERE a.aftale_id = $1 \
             UNION ALL SELECT a.system_id, a.servicekode, a.ejer_kode, s.udbyder_kode FROM dataaftale a \
             JOIN udbydersystem s ON s.id = a.system_id WHERE a.aftale_id = $1",
        )
        .bind(aftale_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((system_id, servicekode, ejer, udbyder)) = row {
            let fra = fra.and_then(AftaleStatus::parse);
            let n = crate::notifikation::aftale_aendret(
                ejer.as_deref(),
                &udbyder,
                &system_id,
                &servicekode,
                fra,
                status,
                aktoer,
                kommentar,
            );
            Self::enqueue(tx, &n).await?;
        }
        Ok(())
    }

    /// One outbox mail per recipient of the organisation, inside the caller's transaction.
    async fn enqueue(
        tx: &mut sqlx::Transaction<'static, D::DB>,
        n: &crate::notifikation::Notifikation,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO outbox (modtager, emne, tekst, oprettet, naeste_forsoeg) \
             SELECT email, $2, $3, $4, $4 FROM notifikationsmodtager WHERE organisation_kode = $1",
        )
        .bind(&n.organisation)
        .bind(&n.emne)
        .bind(&n.tekst)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl<D> TilslutningStore for SqlStore<D>
where
    D: Dialect,
    for<'c> &'c mut <D::DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = D::DB>,
    <D::DB as sqlx::Database>::Arguments: sqlx::IntoArguments<D::DB>,
    String: Column<D::DB>,
    bool: Column<D::DB>,
    i64: Column<D::DB>,
    chrono::DateTime<Utc>: Column<D::DB>,
    for<'q> &'q str: sqlx::Encode<'q, D::DB> + sqlx::Type<D::DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::DB>,
    <D::DB as sqlx::Database>::QueryResult: RowsAffected,
    usize: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
    for<'s> &'s str: sqlx::ColumnIndex<<D::DB as sqlx::Database>::Row>,
{
    async fn migrate(&self) -> Result<(), StoreError> {
        D::migrate(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_organisation(&self, org: &Organisation) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organisation (kode, navn, cvr, pnr, type) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kode) DO UPDATE SET navn = $2, cvr = $3, pnr = $4, type = $5",
        )
        .bind(&org.kode)
        .bind(&org.navn)
        .bind(&org.cvr)
        .bind(&org.pnr)
        .bind(org.type_.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_system(&self, s: &NewSystem<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO udbydersystem (id, navn, udbyder_kode, brugernavn, oprettet) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.id)
        .bind(s.navn)
        .bind(s.udbyder_kode)
        .bind(s.brugernavn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO credential (system_id, hash, oprettet) VALUES ($1, $2, $3)")
            .bind(s.id)
            .bind(s.password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_service(&self, s: &ServiceDef) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO service (servicekode, service_navn, beskrivelse) VALUES ($1, $2, $3) \
             ON CONFLICT (servicekode) DO UPDATE SET service_navn = $2, beskrivelse = $3",
        )
        .bind(&s.servicekode)
        .bind(&s.navn)
        .bind(&s.beskrivelse)
        .execute(&mut *tx)
        .await?;
        for (navn, kraever) in &s.operationer {
            sqlx::query(
                "INSERT INTO service_operation (servicekode, navn, kraever_dataaftale) VALUES ($1, $2, $3) \
                 ON CONFLICT (servicekode, navn) DO UPDATE SET kraever_dataaftale = $3",
            )
            .bind(&s.servicekode)
            .bind(navn)
            .bind(*kraever)
            .execute(&mut *tx)
            .await?;
        }
        for v in &s.versioner {
            sqlx::query("INSERT INTO service_version (servicekode, version) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&s.servicekode)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_services(&self) -> Result<Vec<ServiceDef>, StoreError> {
        let services: Vec<(String, String, String)> =
            sqlx::query_as("SELECT servicekode, service_navn, beskrivelse FROM service ORDER BY servicekode")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(services.len());
        for (servicekode, navn, beskrivelse) in services {
            let operationer: Vec<(String, bool)> = sqlx::query_as(
                "SELECT navn, kraever_dataaftale FROM service_operation WHERE servicekode = $1 ORDER BY navn",
            )
            .bind(&servicekode)
            .fetch_all(&self.pool)
            .await?;
            let versioner: Vec<String> =
                sqlx::query_scalar("SELECT version FROM service_version WHERE servicekode = $1 ORDER BY version")
                    .bind(&servicekode)
                    .fetch_all(&self.pool)
                    .await?;
            out.push(ServiceDef { servicekode, navn, beskrivelse, operationer, versioner });
        }
        Ok(out)
    }

    async fn set_tilslutning(
        &self,
        system_id: &str,
        servicekode: &str,
        status: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live: Option<(String, String)> = sqlx::query_as(
            "SELECT aftale_id, status FROM tilslutningsaftale \
             WHERE system_id = $1 AND servicekode = $2 AND status <> 'SLETTET'",
        )
        .bind(system_id)
        .bind(servicekode)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, fra) = match live {
            Some((id, fra)) => {
                sqlx::query("UPDATE tilslutningsaftale SET status = $1 WHERE aftale_id = $2")
                    .bind(status.as_str())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                (id, Some(fra))
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO tilslutningsaftale (aftale_id, system_id, servicekode, status, oprettet) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&id)
                .bind(system_id)
                .bind(servicekode)
                .bind(status.as_str())
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
                (id, None)
            }
        };
        Self::set_status(&mut tx, &id, fra.as_deref(), status, aktoer, kommentar).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn set_dataaftale(
        &self,
        system_id: &str,
        servicekode: &str,
        ejer_kode: &str,
        status: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live: Option<(String, String)> = sqlx::query_as(
            "SELECT aftale_id, status FROM dataaftale \
             WHERE system_id = $1 AND servicekode = $2 AND ejer_kode = $3 AND status <> 'SLETTET'",
        )
        .bind(system_id)
        .bind(servicekode)
        .bind(ejer_kode)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, fra) = match live {
            Some((id, fra)) => {
                sqlx::query("UPDATE dataaftale SET status = $1 WHERE aftale_id = $2")
                    .bind(status.as_str())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                (id, Some(fra))
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO dataaftale (aftale_id, system_id, servicekode, ejer_kode, status, oprettet) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&id)
                .bind(system_id)
                .bind(servicekode)
                .bind(ejer_kode)
                .bind(status.as_str())
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
                (id, None)
            }
        };
        Self::set_status(&mut tx, &id, fra.as_deref(), status, aktoer, kommentar).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn adgang_fakta(
        &self,
        system_id: &str,
        servicekode: &str,
        operation: &str,
        ejere: &[Dataejer],
    ) -> Result<AdgangFakta, StoreError> {
        let system = sqlx::query(
            "SELECT s.passiv, s.blokeret, s.blokeret_aarsag, o.er_passiveret AS udbyder_passiv \
             FROM udbydersystem s JOIN organisation o ON o.kode = s.udbyder_kode \
             WHERE s.id = $1 AND NOT s.slettet",
        )
        .bind(system_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| -> Result<SystemTilstand, sqlx::Error> {
            Ok(SystemTilstand {
                passiv: r.try_get("passiv")?,
                blokeret: r.try_get("blokeret")?,
                blokeret_aarsag: r.try_get("blokeret_aarsag")?,
                udbyder_passiv: r.try_get("udbyder_passiv")?,
            })
        })
        .transpose()?;
        let kraever_dataaftale: Option<bool> =
            sqlx::query_scalar("SELECT kraever_dataaftale FROM service_operation WHERE servicekode = $1 AND navn = $2")
                .bind(servicekode)
                .bind(operation)
                .fetch_optional(&self.pool)
                .await?;
        let tilslutning: Option<String> = sqlx::query_scalar(
            "SELECT status FROM tilslutningsaftale WHERE system_id = $1 AND servicekode = $2 AND status <> 'SLETTET'",
        )
        .bind(system_id)
        .bind(servicekode)
        .fetch_optional(&self.pool)
        .await?;
        let mut fakta = Vec::with_capacity(ejere.len());
        for ejer in ejere {
            let org: Option<(String, String)> = match ejer {
                Dataejer::Kommune(kode) => {
                    sqlx::query_as("SELECT kode, navn FROM organisation WHERE kode = $1 AND type = 'KOMMUNE'")
                        .bind(kode)
                        .fetch_optional(&self.pool)
                        .await?
                }
                Dataejer::PrivatEjer(cvr) => {
                    sqlx::query_as(
                        "SELECT kode, navn FROM organisation WHERE cvr = $1 AND type = 'PRIVAT_EJER' ORDER BY kode",
                    )
                    .bind(cvr)
                    .fetch_optional(&self.pool)
                    .await?
                }
            };
            // A kommune's agreements are kept under its code even before it is registered.
            let ejer_kode = match (&org, ejer) {
                (Some((kode, _)), _) => Some(kode.clone()),
                (None, Dataejer::Kommune(kode)) => Some(kode.clone()),
                (None, Dataejer::PrivatEjer(_)) => None,
            };
            let dataaftale: Option<String> =
                match ejer_kode {
                    Some(kode) => sqlx::query_scalar(
                        "SELECT status FROM dataaftale WHERE system_id = $1 AND servicekode = $2 AND ejer_kode = $3 \
                     AND status <> 'SLETTET'",
                    )
                    .bind(system_id)
                    .bind(servicekode)
                    .bind(kode)
                    .fetch_optional(&self.pool)
                    .await?,
                    None => None,
                };
            fakta.push(EjerFakta {
                ejer: ejer.clone(),
                navn: org.map(|(_, navn)| navn),
                dataaftale: dataaftale.as_deref().and_then(AftaleStatus::parse),
            });
        }
        Ok(AdgangFakta {
            system,
            kraever_dataaftale,
            tilslutning: tilslutning.as_deref().and_then(AftaleStatus::parse),
            ejere: fakta,
        })
    }

    async fn log_afvisning(&self, a: &Afvisningslog) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO adgangslog (tidspunkt, brugernavn, system_id, servicekode, operation, fejlkode, besked, \
             correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Utc::now())
        .bind(&a.brugernavn)
        .bind(&a.system_id)
        .bind(&a.servicekode)
        .bind(&a.operation)
        .bind(&a.fejlkode)
        .bind(&a.besked)
        .bind(&a.correlation_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn afvisninger(&self, correlation_id: &str) -> Result<Vec<Afvisningslog>, StoreError> {
        let rows = sqlx::query(
            "SELECT brugernavn, system_id, servicekode, operation, fejlkode, besked, correlation_id \
             FROM adgangslog WHERE correlation_id = $1 ORDER BY id",
        )
        .bind(correlation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Afvisningslog {
                    brugernavn: r.try_get("brugernavn")?,
                    system_id: r.try_get("system_id")?,
                    servicekode: r.try_get("servicekode")?,
                    operation: r.try_get("operation")?,
                    fejlkode: r.try_get("fejlkode")?,
                    besked: r.try_get("besked")?,
                    correlation_id: r.try_get("correlation_id")?,
                })
            })
            .collect()
    }

    async fn count_udtraek(&self, system_id: &str, dato: &str, limit: i64) -> Result<bool, StoreError> {
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO udtraek_forbrug (system_id, dato, antal) VALUES ($1, $2, 1) \
             ON CONFLICT (system_id, dato) DO UPDATE SET antal = udtraek_forbrug.antal + 1 \
             WHERE udtraek_forbrug.antal < $3 RETURNING CAST(antal AS BIGINT)",
        )
        .bind(system_id)
        .bind(dato)
        .bind(limit)
        .fetch_optional(&self.pool)
        .await?;
        Ok(counted.is_some())
    }

    async fn get_aftale(&self, art: AftaleArt, aftale_id: &str) -> Result<Option<Aftale>, StoreError> {
        let sql = match art {
            AftaleArt::Tilslutning => {
                "SELECT aftale_id, system_id, servicekode, CAST(NULL AS TEXT) AS ejer_kode, status \
                 FROM tilslutningsaftale WHERE aftale_id = $1"
            }
            AftaleArt::Data => {
                "SELECT aftale_id, system_id, servicekode, ejer_kode, status FROM dataaftale \
                 WHERE aftale_id = $1"
            }
        };
        let Some(row) = sqlx::query(sql).bind(aftale_id).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let mut aftale = Self::aftale_from_row(&row)?;
        aftale.historik = self.historik(&aftale.aftale_id).await?;
        Ok(Some(aftale))
    }

    async fn skift_status(
        &self,
        art: AftaleArt,
        aftale_id: &str,
        fra: AftaleStatus,
        til: AftaleStatus,
        aktoer: &str,
        kommentar: &str,
    ) -> Result<bool, StoreError> {
        let sql = match art {
            AftaleArt::Tilslutning => "UPDATE tilslutningsaftale SET status = $3 WHERE aftale_id = $1 AND status = $2",
            AftaleArt::Data => "UPDATE dataaftale SET status = $3 WHERE aftale_id = $1 AND status = $2",
        };
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(sql)
            .bind(aftale_id)
            .bind(fra.as_str())
            .bind(til.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        Self::set_status(&mut tx, aftale_id, Some(fra.as_str()), til, aktoer, kommentar).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_aftaler(&self, art: AftaleArt, f: &AftaleFilter) -> Result<Vec<Aftale>, StoreError> {
        // One statement per kind; every filter is optional ('' = any).
        let sql = match art {
            AftaleArt::Tilslutning => {
                "SELECT aftale_id, system_id, servicekode, CAST(NULL AS TEXT) AS ejer_kode, status \
                 FROM tilslutningsaftale WHERE ($1 = '' OR system_id = $1) AND ($2 = '' OR servicekode = $2) \
                 AND ($3 = '') AND ($4 = '' OR status = $4) AND ($5 OR status <> 'SLETTET') AND aftale_id > $6 \
                 ORDER BY aftale_id LIMIT $7"
            }
            AftaleArt::Data => {
                "SELECT aftale_id, system_id, servicekode, ejer_kode, status FROM dataaftale \
                 WHERE ($1 = '' OR system_id = $1) AND ($2 = '' OR servicekode = $2) \
                 AND ($3 = '' OR ejer_kode = $3) AND ($4 = '' OR status = $4) AND ($5 OR status <> 'SLETTET') \
                 AND aftale_id > $6 ORDER BY aftale_id LIMIT $7"
            }
        };
        let rows = sqlx::query(sql)
            .bind(f.system_id.as_deref().unwrap_or(""))
            .bind(f.servicekode.as_deref().unwrap_or(""))
            .bind(f.ejer_kode.as_deref().unwrap_or(""))
            .bind(f.status.map(AftaleStatus::as_str).unwrap_or(""))
            .bind(f.med_slettede)
            .bind(f.efter.as_deref().unwrap_or(""))
            .bind(f.max)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut aftale = Self::aftale_from_row(row)?;
            aftale.historik = self.historik(&aftale.aftale_id).await?;
            out.push(aftale);
        }
        Ok(out)
    }

    async fn system_udbyder(&self, system_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT udbyder_kode FROM udbydersystem WHERE id = $1 AND NOT slettet")
            .bind(system_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn get_system(&self, system_id: &str) -> Result<Option<SystemInfo>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", system_columns!(), " FROM udbydersystem WHERE id = $1"))
            .bind(system_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::system_from_row).transpose()
    }

    async fn list_systems(
        &self,
        udbyder_kode: Option<&str>,
        soeg: &str,
        med_slettede: bool,
        efter: &str,
        max: i64,
    ) -> Result<Vec<SystemInfo>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            system_columns!(),
            " FROM udbydersystem WHERE ($1 = '' OR udbyder_kode = $1) AND ($2 = '' OR lower(navn) LIKE $2) \
             AND ($3 OR NOT slettet) AND id > $4 ORDER BY id LIMIT $5"
        ))
        .bind(udbyder_kode.unwrap_or(""))
        .bind(if soeg.is_empty() {
            String::new()
        } else {
            format!("%{}%", soeg.to_lowercase().replace(['%', '_'], ""))
        })
        .bind(med_slettede)
        .bind(efter)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::system_from_row).collect()
    }

    async fn rename_system(&self, system_id: &str, navn: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE udbydersystem SET navn = $2 WHERE id = $1 AND NOT slettet")
            .bind(system_id)
            .bind(navn)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_system(&self, system_id: &str, aktoer: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE udbydersystem SET slettet = TRUE WHERE id = $1 AND NOT slettet")
            .bind(system_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        for (tabel_select, tabel_update) in [
            (
                "SELECT aftale_id, status FROM tilslutningsaftale WHERE system_id = $1 AND status <> 'SLETTET'",
                "UPDATE tilslutningsaftale SET status = 'SLETTET' WHERE aftale_id = $1",
            ),
            (
                "SELECT aftale_id, status FROM dataaftale WHERE system_id = $1 AND status <> 'SLETTET'",
                "UPDATE dataaftale SET status = 'SLETTET' WHERE aftale_id = $1",
            ),
        ] {
            let live: Vec<(String, String)> = sqlx::query_as(tabel_select).bind(system_id).fetch_all(&mut *tx).await?;
            for (id, fra) in live {
                sqlx::query(tabel_update).bind(&id).execute(&mut *tx).await?;
                Self::set_status(&mut tx, &id, Some(&fra), AftaleStatus::Slettet, aktoer, "systemet er slettet")
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_credentials(
        &self,
        system_id: &str,
        hash: &str,
        gammel_udloeber: chrono::DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM udbydersystem WHERE id = $1 AND NOT slettet")
            .bind(system_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        // Valid passwords end at the overlap's end (earlier expiries stay earlier).
        sqlx::query("UPDATE credential SET udloeber = $2 WHERE system_id = $1 AND (udloeber IS NULL OR udloeber > $2)")
            .bind(system_id)
            .bind(gammel_udloeber)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO credential (system_id, hash, oprettet, udloeber) VALUES ($1, $2, $3, NULL)")
            .bind(system_id)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_organisation(&self, org: &Organisation) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO organisation (kode, navn, cvr, pnr, type) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kode) DO NOTHING",
        )
        .bind(&org.kode)
        .bind(&org.navn)
        .bind(&org.cvr)
        .bind(&org.pnr)
        .bind(org.type_.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn get_organisation(&self, kode: &str) -> Result<Option<OrganisationInfo>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", organisation_columns!(), " FROM organisation WHERE kode = $1"))
            .bind(kode)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::organisation_from_row).transpose()
    }

    async fn list_organisationer(
        &self,
        type_: Option<OrganisationType>,
        soeg: &str,
        efter: &str,
        max: i64,
    ) -> Result<Vec<OrganisationInfo>, StoreError> {
        let pattern =
            if soeg.is_empty() { String::new() } else { format!("%{}%", soeg.to_lowercase().replace(['%', '_'], "")) };
        let rows = sqlx::query(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisation WHERE ($1 = '' OR type = $1) \
             AND ($2 = '' OR lower(navn) LIKE $2 OR lower(kode) LIKE $2) AND kode > $3 ORDER BY kode LIMIT $4"
        ))
        .bind(type_.map(OrganisationType::as_str).unwrap_or(""))
        .bind(pattern)
        .bind(efter)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::organisation_from_row).collect()
    }

    async fn set_organisation_passiv(&self, kode: &str, passiv: bool, kommentar: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE organisation SET er_passiveret = $2, passiveret_kommentar = $3 WHERE kode = $1")
            .bind(kode)
            .bind(passiv)
            .bind(kommentar)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn organisation_type(&self, kode: &str) -> Result<Option<OrganisationType>, StoreError> {
        let t: Option<String> = sqlx::query_scalar("SELECT type FROM organisation WHERE kode = $1")
            .bind(kode)
            .fetch_optional(&self.pool)
            .await?;
        Ok(t.as_deref().and_then(OrganisationType::parse))
    }

    async fn set_system_passiv(&self, system_id: &str, passiv: bool) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE udbydersystem SET passiv = $2 WHERE id = $1 AND NOT slettet")
            .bind(system_id)
            .bind(passiv)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn set_system_blokeret(&self, system_id: &str, blokeret: bool, aarsag: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let udbyder: Option<String> = sqlx::query_scalar(
            "UPDATE udbydersystem SET blokeret = $2, blokeret_aarsag = $3 WHERE id = $1 AND NOT slettet \
             RETURNING udbyder_kode",
        )
        .bind(system_id)
        .bind(blokeret)
        .bind(if blokeret { aarsag } else { "" })
        .fetch_optional(&mut *tx)
        .await?;
        let Some(udbyder) = udbyder else { return Ok(false) };
        let n = crate::notifikation::system_blokeret(&udbyder, system_id, blokeret, aarsag);
        Self::enqueue(&mut tx, &n).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn meld_registerfund(
        &self,
        koersel_id: i64,
        fund: &[(Dataejer, crate::notifikation::Notifikation)],
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut meldt = 0;
        for (ejer, n) in fund {
            let org: Option<String> = match ejer {
                Dataejer::Kommune(kode) => {
                    sqlx::query_scalar("SELECT kode FROM organisation WHERE kode = $1 AND type = 'KOMMUNE'")
                        .bind(kode)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                Dataejer::PrivatEjer(cvr) => {
                    sqlx::query_scalar(
                        "SELECT kode FROM organisation WHERE cvr = $1 AND type = 'PRIVAT_EJER' ORDER BY kode",
                    )
                    .bind(cvr)
                    .fetch_optional(&mut *tx)
                    .await?
                }
            };
            let Some(org) = org else { continue };
            let ny = sqlx::query(
                "INSERT INTO registerfund_meldt (koersel_id, organisation_kode, meldt) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(koersel_id)
            .bind(&org)
            .bind(Utc::now().to_rfc3339())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if ny == 1 {
                let n = crate::notifikation::Notifikation { organisation: org, ..n.clone() };
                Self::enqueue(&mut tx, &n).await?;
                meldt += 1;
            }
        }
        tx.commit().await?;
        Ok(meldt)
    }

    async fn add_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO notifikationsmodtager (organisation_kode, email) \
             SELECT kode, $2 FROM organisation WHERE kode = $1 ON CONFLICT DO NOTHING",
        )
        .bind(organisation_kode)
        .bind(email)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn remove_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM notifikationsmodtager WHERE organisation_kode = $1 AND email = $2")
            .bind(organisation_kode)
            .bind(email)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn modtagere(&self, organisation_kode: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT email FROM notifikationsmodtager WHERE organisation_kode = $1 ORDER BY email")
            .bind(organisation_kode)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn due_mail(&self, max: i64) -> Result<Vec<OutboxMail>, StoreError> {
        let now = Utc::now();
        let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, modtager, emne, tekst, CAST(forsoeg AS BIGINT) FROM outbox \
             WHERE sendt IS NULL AND naeste_forsoeg <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(max)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        let later = now + chrono::Duration::minutes(1);
        for (id, modtager, emne, tekst, forsoeg) in rows {
            let n = sqlx::query(
                "UPDATE outbox SET naeste_forsoeg = $2 WHERE id = $1 AND sendt IS NULL AND naeste_forsoeg <= $3",
            )
            .bind(id)
            .bind(later)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if n == 1 {
                claimed.push(OutboxMail { id, modtager, emne, tekst, forsoeg });
            }
        }
        Ok(claimed)
    }

    async fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sendt = $2 WHERE id = $1").bind(id).bind(Utc::now()).execute(&self.pool).await?;
        Ok(())
    }

    async fn mail_failed(&self, id: i64, fejl: &str, naeste: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET forsoeg = forsoeg + 1, sidste_fejl = $2, naeste_forsoeg = $3 WHERE id = $1")
            .bind(id)
            .bind(fejl.chars().take(500).collect::<String>())
            .bind(naeste)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pending_mail(&self) -> Result<Vec<OutboxMail>, StoreError> {
        let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, modtager, emne, tekst, CAST(forsoeg AS BIGINT) FROM outbox WHERE sendt IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, modtager, emne, tekst, forsoeg)| OutboxMail { id, modtager, emne, tekst, forsoeg })
            .collect())
    }

    async fn login(&self, brugernavn: &str) -> Result<Option<SystemLogin>, StoreError> {
        let Some(row) = sqlx::query("SELECT id, udbyder_kode FROM udbydersystem WHERE brugernavn = $1 AND NOT slettet")
            .bind(brugernavn)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let system_id: String = row.try_get("id")?;
        let rows: Vec<(String, Option<chrono::DateTime<Utc>>)> = sqlx::query_as(
            "SELECT hash, udloeber FROM credential WHERE system_id = $1 AND (udloeber IS NULL OR udloeber > $2)",
        )
        .bind(&system_id)
        .bind(Utc::now())
        .fetch_all(&self.pool)
        .await?;
        let udloeber = rows.iter().filter_map(|(_, u)| *u).min();
        let hashes = rows.into_iter().map(|(h, _)| h).collect();
        Ok(Some(SystemLogin { system_id, udbyder_kode: row.try_get("udbyder_kode")?, hashes, udloeber }))
    }
}
