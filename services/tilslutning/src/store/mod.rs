//! Storage of the tilslutning schema: one interface and one implementation, generic over the
//! backend; the same SQL text runs on both, and what differs is a [`Dialect`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;

use dtr_migrations::{Backend, Column, RowsAffected, TILSLUTNING_POSTGRES, TILSLUTNING_SQLITE, backend_of, migrator};

use crate::model::{
    AdgangFakta, Aftale, AftaleArt, AftaleFilter, AftaleStatus, Afvisningslog, DagtilbudOrganisation, Dataejer,
    EjerFakta, HistorikLinje, Hvem, Kontaktperson, Organisation, OrganisationInfo, OrganisationType, PersonInfo,
    PersonLogin, Rolle, Rolletildeling, ServiceDef, SystemInfo, SystemLogin, SystemTilstand,
};
use crate::notifikation::Notifikation;

mod sql;
use sql::*;

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

impl StoreError {
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

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub modtager: String,
    pub emne: String,
    pub tekst: String,
    pub forsoeg: i64,
}

/// One mail of the outbox as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdbakkeLinje {
    pub id: i64,
    pub modtager: String,
    pub emne: String,
    pub forsoeg: i64,
    pub sidste_fejl: Option<String>,
    pub sendt: bool,
}

/// A new person as stored.
#[derive(Debug, Clone)]
pub struct NewPerson<'a> {
    pub id: &'a str,
    pub brugernavn: &'a str,
    pub navn: &'a str,
    pub email: &'a str,
    /// argon2id PHC string of a local account; `None` for OIDC only.
    pub hash: Option<&'a str>,
}

/// A person an OpenID provider names, as the store keeps them in step at each login.
#[derive(Debug, Clone)]
pub struct OidcPerson<'a> {
    /// Used only when the person is new.
    pub id: &'a str,
    /// Made up at the first login; a local account's name can never take this form.
    pub brugernavn: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub navn: &'a str,
    pub email: &'a str,
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
    async fn create_system(&self, s: &NewSystem<'_>) -> Result<(), StoreError> {
        self.create_system_med_kontakt(s, &Kontaktperson::default()).await
    }
    /// A new system with its contact person, in one transaction with its first credential.
    async fn create_system_med_kontakt(&self, s: &NewSystem<'_>, kontakt: &Kontaktperson) -> Result<(), StoreError>;
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
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<String, StoreError>;
    /// Same for the data-access agreement system × service × owner.
    async fn set_dataaftale(
        &self,
        system_id: &str,
        servicekode: &str,
        ejer_kode: &str,
        status: AftaleStatus,
        hvem: Hvem<'_>,
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
        hvem: Hvem<'_>,
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
        // Only systems not used since this day (YYYY-MM-DD); '' = all.
        ubrugt_foer: &str,
        efter: &str,
        max: i64,
    ) -> Result<Vec<SystemInfo>, StoreError>;
    /// Records that the system was used on `dato` (YYYY-MM-DD); an earlier day is never written
    /// over a later one.
    async fn mark_brugt(&self, system_id: &str, dato: &str) -> Result<(), StoreError>;
    async fn rename_system(&self, system_id: &str, navn: &str) -> Result<bool, StoreError>;
    /// Marks the system deleted and ends (SLETTET) every live agreement of it, with history.
    async fn delete_system(&self, system_id: &str, hvem: Hvem<'_>) -> Result<bool, StoreError>;
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
    async fn meld_registerfund(&self, koersel_id: i64, fund: &[(Dataejer, Notifikation)]) -> Result<usize, StoreError>;
    async fn add_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError>;
    /// Creates a person; `false` when the username is taken.
    async fn create_person(&self, p: &NewPerson<'_>) -> Result<bool, StoreError>;
    async fn person_login(&self, brugernavn: &str) -> Result<Option<PersonLogin>, StoreError>;
    /// A person with their roles.
    async fn get_person(&self, id: &str) -> Result<Option<PersonInfo>, StoreError>;
    /// The person `p` names (created if new, name and e-mail updated if not) with the roles from
    /// the provider's claims replaced by `roller`, in one transaction; the person's id.
    async fn oidc_person(&self, p: &OidcPerson<'_>, roller: &[(String, Rolle)]) -> Result<String, StoreError>;
    /// The organisations registered with this CVR number, with their type.
    async fn organisationer_med_cvr(&self, cvr: &str) -> Result<Vec<(String, OrganisationType)>, StoreError>;
    /// How far the register's change sequence has been followed.
    async fn registerfoelger(&self) -> Result<i64, StoreError>;
    /// Brings the DAGTILBUD organisations in step with `enheder` and moves the follower to
    /// `sekvensnummer`, in one transaction.
    async fn foelg_register(&self, enheder: &[DagtilbudOrganisation], sekvensnummer: i64) -> Result<(), StoreError>;
    /// Persons with their roles, optionally with `soeg` in name or username, by id after `efter`.
    async fn list_personer(&self, soeg: &str, efter: &str, max: i64) -> Result<Vec<PersonInfo>, StoreError>;
    /// Gives (`har`) or takes a role; giving twice or taking what is not held changes nothing.
    async fn set_rolle(
        &self,
        person_id: &str,
        organisation_kode: &str,
        rolle: Rolle,
        har: bool,
    ) -> Result<(), StoreError>;
    async fn remove_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError>;
    async fn modtagere(&self, organisation_kode: &str) -> Result<Vec<String>, StoreError>;
    /// Claims up to `max` due mails (their next attempt is pushed a minute ahead, so another
    /// instance leaves them alone while this one sends).
    async fn due_mail(&self, max: i64) -> Result<Vec<OutboxMail>, StoreError>;
    async fn mail_sent(&self, id: i64) -> Result<(), StoreError>;
    async fn mail_failed(&self, id: i64, fejl: &str, naeste: chrono::DateTime<Utc>) -> Result<(), StoreError>;
    /// Mails not yet delivered (for tests and monitoring).
    async fn pending_mail(&self) -> Result<Vec<OutboxMail>, StoreError>;

    /// How many mails wait in the outbox (the `dtr_outbox_depth` gauge).
    async fn count_pending_mail(&self) -> Result<i64, StoreError>;

    /// How the connection pool is used now (the `dtr_db_pool_connections` gauges).
    fn pool_use(&self) -> dtr_migrations::PoolUse;
    /// The newest `max` mails of the outbox, sent or not, with their last failure.
    async fn udbakke(&self, max: i64) -> Result<Vec<UdbakkeLinje>, StoreError>;
    /// The provider's passive flag.
    async fn set_system_passiv(&self, system_id: &str, passiv: bool) -> Result<bool, StoreError>;
    /// The operator's block, with its reason (empty when unblocking).
    async fn set_system_blokeret(&self, system_id: &str, blokeret: bool, aarsag: &str) -> Result<bool, StoreError>;
}

/// The store at `url`, writing its mails with `mails`.
pub async fn connect(url: &str, mails: Mailtekster) -> Result<Arc<dyn TilslutningStore>, StoreError> {
    match backend_of(url) {
        Some(Backend::Postgres) => {
            Ok(Arc::new(PostgresStore { pool: dtr_migrations::postgres_pool(url).await?, mails }))
        }
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore { pool: dtr_migrations::sqlite_pool(url).await?, mails })),
        None => Err(StoreError::UnsupportedUrl),
    }
}

/// The store over one backend; every statement is the same text on both.
pub struct SqlStore<D: Dialect> {
    pool: sqlx::Pool<D::DB>,
    mails: Mailtekster,
}

/// The facts of an agreement's change of status that the mail about it is written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aftaleskift<'a> {
    pub system_id: &'a str,
    pub servicekode: &'a str,
    /// The owner, for a data-access agreement.
    pub ejer_kode: Option<&'a str>,
    pub udbyder: &'a str,
    pub fra: Option<AftaleStatus>,
    pub til: AftaleStatus,
    pub aktoer: &'a str,
    pub kommentar: &'a str,
}

/// Who writes the mails a change sends. The store puts them in the outbox inside the change's
/// own transaction (so a change and its mail commit together) but writes no text itself.
#[derive(Clone, Copy)]
pub struct Mailtekster {
    pub aftale: fn(&Aftaleskift<'_>) -> Notifikation,
    /// A block (`true`) or unblock of a system: (provider, system id, blocked, reason).
    pub blokering: fn(&str, &str, bool, &str) -> Notifikation,
}

/// What differs between the backends: the database type and running the migrations.
pub trait Dialect: Send + Sync + 'static {
    type DB: sqlx::Database;
    /// How a writing transaction starts.
    const BEGIN: &'static str;

    fn migrate(pool: &sqlx::Pool<Self::DB>) -> impl Future<Output = Result<(), StoreError>> + Send + '_;
}

pub struct Postgres;
pub struct Sqlite;

impl Dialect for Postgres {
    type DB = sqlx::Postgres;
    const BEGIN: &'static str = "BEGIN";

    async fn migrate(pool: &sqlx::PgPool) -> Result<(), StoreError> {
        Ok(migrator(&TILSLUTNING_POSTGRES).run(pool).await?)
    }
}

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;
    /// Writers take the write lock up front: a deferred transaction that reads first and writes
    /// later fails at once with SQLITE_BUSY when another writer committed in between.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";

    async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), StoreError> {
        Ok(migrator(&TILSLUTNING_SQLITE).run(pool).await?)
    }
}

pub type PostgresStore = SqlStore<Postgres>;
pub type SqliteStore = SqlStore<Sqlite>;

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
    /// A person row with the person's roles.
    async fn person_from_row(&self, r: &<D::DB as sqlx::Database>::Row) -> Result<PersonInfo, StoreError> {
        let id: String = r.try_get("id")?;
        let roller = sqlx::query(SELECT_PERSON_ROLLER).bind(&id).fetch_all(&self.pool).await?;
        let roller = roller
            .iter()
            .map(|x| {
                let rolle: String = x.try_get("rolle")?;
                Ok(Rolletildeling {
                    organisation_kode: x.try_get("organisation_kode")?,
                    organisation_navn: x.try_get("organisation_navn")?,
                    rolle: Rolle::parse(&rolle).ok_or(StoreError::Corrupt("person role"))?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(PersonInfo {
            id,
            brugernavn: r.try_get("brugernavn")?,
            navn: r.try_get("navn")?,
            email: r.try_get("email")?,
            roller,
        })
    }

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
            kontakt: Kontaktperson {
                navn: r.try_get("kontakt_navn")?,
                email: r.try_get("kontakt_email")?,
                telefon: r.try_get("kontakt_telefon")?,
            },
            sidst_brugt: r.try_get("sidst_brugt")?,
        })
    }

    fn aftale_from_row(row: &<D::DB as sqlx::Database>::Row) -> Result<Aftale, StoreError> {
        let status: String = row.try_get("status")?;
        Ok(Aftale {
            aftale_id: row.try_get("aftale_id")?,
            system_id: row.try_get("system_id")?,
            system_navn: row.try_get("system_navn")?,
            udbyder_navn: row.try_get("udbyder_navn")?,
            servicekode: row.try_get("servicekode")?,
            ejer_kode: row.try_get("ejer_kode")?,
            ejer_navn: row.try_get("ejer_navn")?,
            status: AftaleStatus::parse(&status).ok_or(StoreError::Corrupt("aftale status"))?,
            historik: vec![],
        })
    }

    async fn historik(&self, aftale_id: &str) -> Result<Vec<HistorikLinje>, StoreError> {
        let rows = sqlx::query(SELECT_HISTORIK).bind(aftale_id).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let fra: Option<String> = r.try_get("fra")?;
                let til: String = r.try_get("til")?;
                Ok(HistorikLinje {
                    aktoer: r.try_get("aktoer")?,
                    person: r.try_get("person_navn")?,
                    tidspunkt: r.try_get("tidspunkt")?,
                    fra: fra.as_deref().and_then(AftaleStatus::parse),
                    til: AftaleStatus::parse(&til).ok_or(StoreError::Corrupt("historik status"))?,
                    kommentar: r.try_get("kommentar")?,
                })
            })
            .collect()
    }

    /// Moves the live agreement of `art` for system × service (× owner) to `status`, or creates
    /// it, with a history line and its mail; the agreement's id.
    #[allow(clippy::too_many_arguments)]
    async fn set_aftale(
        &self,
        art: AftaleArt,
        system_id: &str,
        servicekode: &str,
        ejer_kode: Option<&str>,
        status: AftaleStatus,
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<String, StoreError> {
        let (select, update, insert) = match art {
            AftaleArt::Tilslutning => (SELECT_LEVENDE_TILSLUTNING, UPDATE_TILSLUTNING_STATUS, INSERT_TILSLUTNING),
            AftaleArt::Data => (SELECT_LEVENDE_DATAAFTALE, UPDATE_DATAAFTALE_STATUS, INSERT_DATAAFTALE),
        };
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let mut live = sqlx::query_as::<_, (String, String)>(select).bind(system_id).bind(servicekode);
        if let Some(ejer) = ejer_kode {
            live = live.bind(ejer);
        }
        let (id, fra) = match live.fetch_optional(&mut *tx).await? {
            Some((id, fra)) => {
                sqlx::query(update).bind(status.as_str()).bind(&id).execute(&mut *tx).await?;
                (id, Some(fra))
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let mut new = sqlx::query(insert)
                    .bind(&id)
                    .bind(system_id)
                    .bind(servicekode)
                    .bind(status.as_str())
                    .bind(Utc::now());
                if let Some(ejer) = ejer_kode {
                    new = new.bind(ejer);
                }
                new.execute(&mut *tx).await?;
                (id, None)
            }
        };
        self.set_status(&mut tx, &id, fra.as_deref(), status, hvem, kommentar).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Moves one agreement (of `tabel`) to `status`, with a history line and the mail about it.
    async fn set_status(
        &self,
        tx: &mut sqlx::Transaction<'static, D::DB>,
        aftale_id: &str,
        fra: Option<&str>,
        status: AftaleStatus,
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(INSERT_HISTORIK_LINJE)
            .bind(aftale_id)
            .bind(hvem.organisation)
            .bind(Utc::now())
            .bind(fra)
            .bind(status.as_str())
            .bind(kommentar)
            .bind(hvem.person_id)
            .execute(&mut **tx)
            .await?;
        // The notification goes out with the change or not at all.
        let row: Option<(String, String, Option<String>, String)> =
            sqlx::query_as(SELECT_AFTALE_PARTER).bind(aftale_id).fetch_optional(&mut **tx).await?;
        if let Some((system_id, servicekode, ejer, udbyder)) = row {
            let skift = Aftaleskift {
                system_id: &system_id,
                servicekode: &servicekode,
                ejer_kode: ejer.as_deref(),
                udbyder: &udbyder,
                fra: fra.and_then(AftaleStatus::parse),
                til: status,
                aktoer: hvem.organisation,
                kommentar,
            };
            Self::enqueue(tx, &(self.mails.aftale)(&skift)).await?;
        }
        Ok(())
    }

    /// One outbox mail per recipient of the organisation, inside the caller's transaction.
    async fn enqueue(tx: &mut sqlx::Transaction<'static, D::DB>, n: &Notifikation) -> Result<(), StoreError> {
        let now = Utc::now();
        sqlx::query(ENQUEUE_MAIL)
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
        sqlx::query(PING).execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_organisation(&self, org: &Organisation) -> Result<(), StoreError> {
        sqlx::query(UPSERT_ORGANISATION)
            .bind(&org.kode)
            .bind(&org.navn)
            .bind(&org.cvr)
            .bind(&org.pnr)
            .bind(org.type_.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_system_med_kontakt(&self, s: &NewSystem<'_>, kontakt: &Kontaktperson) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let now = Utc::now();
        sqlx::query(INSERT_SYSTEM)
            .bind(s.id)
            .bind(s.navn)
            .bind(s.udbyder_kode)
            .bind(s.brugernavn)
            .bind(now)
            .bind(&kontakt.navn)
            .bind(&kontakt.email)
            .bind(&kontakt.telefon)
            .execute(&mut *tx)
            .await?;
        sqlx::query(INSERT_FIRST_CREDENTIAL).bind(s.id).bind(s.password_hash).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_service(&self, s: &ServiceDef) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        sqlx::query(UPSERT_SERVICE)
            .bind(&s.servicekode)
            .bind(&s.navn)
            .bind(&s.beskrivelse)
            .bind(&s.formaal)
            .bind(&s.data)
            .execute(&mut *tx)
            .await?;
        for (navn, kraever) in &s.operationer {
            sqlx::query(INSERT_SERVICE_OPERATION)
                .bind(&s.servicekode)
                .bind(navn)
                .bind(*kraever)
                .execute(&mut *tx)
                .await?;
        }
        for v in &s.versioner {
            sqlx::query(INSERT_SERVICE_VERSION).bind(&s.servicekode).bind(v).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_services(&self) -> Result<Vec<ServiceDef>, StoreError> {
        let services: Vec<(String, String, String, String, String)> =
            sqlx::query_as(SELECT_SERVICES).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(services.len());
        for (servicekode, navn, beskrivelse, formaal, data) in services {
            let operationer: Vec<(String, bool)> =
                sqlx::query_as(SELECT_SERVICE_OPERATIONER).bind(&servicekode).fetch_all(&self.pool).await?;
            let versioner: Vec<String> =
                sqlx::query_scalar(SELECT_SERVICE_VERSIONER).bind(&servicekode).fetch_all(&self.pool).await?;
            out.push(ServiceDef { servicekode, navn, beskrivelse, formaal, data, operationer, versioner });
        }
        Ok(out)
    }

    async fn set_tilslutning(
        &self,
        system_id: &str,
        servicekode: &str,
        status: AftaleStatus,
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<String, StoreError> {
        self.set_aftale(AftaleArt::Tilslutning, system_id, servicekode, None, status, hvem, kommentar).await
    }

    async fn set_dataaftale(
        &self,
        system_id: &str,
        servicekode: &str,
        ejer_kode: &str,
        status: AftaleStatus,
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<String, StoreError> {
        self.set_aftale(AftaleArt::Data, system_id, servicekode, Some(ejer_kode), status, hvem, kommentar).await
    }

    async fn adgang_fakta(
        &self,
        system_id: &str,
        servicekode: &str,
        operation: &str,
        ejere: &[Dataejer],
    ) -> Result<AdgangFakta, StoreError> {
        let system = sqlx::query(SELECT_SYSTEM_TILSTAND)
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
        let kraever_dataaftale: Option<bool> = sqlx::query_scalar(SELECT_KRAEVER_DATAAFTALE)
            .bind(servicekode)
            .bind(operation)
            .fetch_optional(&self.pool)
            .await?;
        let tilslutning: Option<String> = sqlx::query_scalar(SELECT_TILSLUTNING_STATUS)
            .bind(system_id)
            .bind(servicekode)
            .fetch_optional(&self.pool)
            .await?;
        let mut fakta = Vec::with_capacity(ejere.len());
        for ejer in ejere {
            let org: Option<(String, String)> = match ejer {
                Dataejer::Kommune(kode) => {
                    sqlx::query_as(SELECT_KOMMUNE_NAVN).bind(kode).fetch_optional(&self.pool).await?
                }
                Dataejer::PrivatEjer(cvr) => {
                    sqlx::query_as(SELECT_PRIVAT_EJER_NAVN).bind(cvr).fetch_optional(&self.pool).await?
                }
            };
            // A kommune's agreements are kept under its code even before it is registered.
            let ejer_kode = match (&org, ejer) {
                (Some((kode, _)), _) => Some(kode.clone()),
                (None, Dataejer::Kommune(kode)) => Some(kode.clone()),
                (None, Dataejer::PrivatEjer(_)) => None,
            };
            let dataaftale: Option<String> = match ejer_kode {
                Some(kode) => {
                    sqlx::query_scalar(SELECT_DATAAFTALE_STATUS)
                        .bind(system_id)
                        .bind(servicekode)
                        .bind(kode)
                        .fetch_optional(&self.pool)
                        .await?
                }
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
        sqlx::query(INSERT_AFVISNING)
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
        let rows = sqlx::query(SELECT_AFVISNINGER).bind(correlation_id).fetch_all(&self.pool).await?;
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
        let counted: Option<i64> =
            sqlx::query_scalar(COUNT_UDTRAEK).bind(system_id).bind(dato).bind(limit).fetch_optional(&self.pool).await?;
        Ok(counted.is_some())
    }

    async fn get_aftale(&self, art: AftaleArt, aftale_id: &str) -> Result<Option<Aftale>, StoreError> {
        let sql = match art {
            AftaleArt::Tilslutning => GET_TILSLUTNING,
            AftaleArt::Data => GET_DATAAFTALE,
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
        hvem: Hvem<'_>,
        kommentar: &str,
    ) -> Result<bool, StoreError> {
        let sql = match art {
            AftaleArt::Tilslutning => SKIFT_TILSLUTNING,
            AftaleArt::Data => SKIFT_DATAAFTALE,
        };
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
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
        self.set_status(&mut tx, aftale_id, Some(fra.as_str()), til, hvem, kommentar).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_aftaler(&self, art: AftaleArt, f: &AftaleFilter) -> Result<Vec<Aftale>, StoreError> {
        // One statement per kind; every filter is optional ('' = any).
        let sql = match art {
            AftaleArt::Tilslutning => LIST_TILSLUTNINGER,
            AftaleArt::Data => LIST_DATAAFTALER,
        };
        let rows = sqlx::query(sql)
            .bind(f.system_id.as_deref().unwrap_or(""))
            .bind(f.servicekode.as_deref().unwrap_or(""))
            .bind(f.ejer_kode.as_deref().unwrap_or(""))
            .bind(f.status.map(AftaleStatus::as_str).unwrap_or(""))
            .bind(f.med_slettede)
            .bind(f.efter.as_deref().unwrap_or(""))
            .bind(f.max)
            .bind(f.part_i.as_deref().unwrap_or(""))
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
        Ok(sqlx::query_scalar(SELECT_SYSTEM_UDBYDER).bind(system_id).fetch_optional(&self.pool).await?)
    }

    async fn get_system(&self, system_id: &str) -> Result<Option<SystemInfo>, StoreError> {
        let row = sqlx::query(SELECT_SYSTEM).bind(system_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(Self::system_from_row).transpose()
    }

    async fn list_systems(
        &self,
        udbyder_kode: Option<&str>,
        soeg: &str,
        med_slettede: bool,
        ubrugt_foer: &str,
        efter: &str,
        max: i64,
    ) -> Result<Vec<SystemInfo>, StoreError> {
        let rows = sqlx::query(LIST_SYSTEMS)
            .bind(udbyder_kode.unwrap_or(""))
            .bind(if soeg.is_empty() {
                String::new()
            } else {
                format!("%{}%", soeg.to_lowercase().replace(['%', '_'], ""))
            })
            .bind(med_slettede)
            .bind(efter)
            .bind(max)
            .bind(ubrugt_foer)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::system_from_row).collect()
    }

    async fn mark_brugt(&self, system_id: &str, dato: &str) -> Result<(), StoreError> {
        sqlx::query(MARK_BRUGT).bind(system_id).bind(dato).execute(&self.pool).await?;
        Ok(())
    }

    async fn rename_system(&self, system_id: &str, navn: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(RENAME_SYSTEM).bind(system_id).bind(navn).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    async fn delete_system(&self, system_id: &str, hvem: Hvem<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let n = sqlx::query(MARK_SYSTEM_DELETED).bind(system_id).execute(&mut *tx).await?.rows_affected();
        if n != 1 {
            return Ok(false);
        }
        for (tabel_select, tabel_update) in [(LIVE_TILSLUTNINGER, END_TILSLUTNING), (LIVE_DATAAFTALER, END_DATAAFTALE)]
        {
            let live: Vec<(String, String)> = sqlx::query_as(tabel_select).bind(system_id).fetch_all(&mut *tx).await?;
            for (id, fra) in live {
                sqlx::query(tabel_update).bind(&id).execute(&mut *tx).await?;
                self.set_status(&mut tx, &id, Some(&fra), AftaleStatus::Slettet, hvem, "systemet er slettet").await?;
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
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let exists: Option<String> =
            sqlx::query_scalar(SELECT_AKTIVT_SYSTEM).bind(system_id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(false);
        }
        // Valid passwords end at the overlap's end (earlier expiries stay earlier).
        sqlx::query(EXPIRE_CREDENTIALS).bind(system_id).bind(gammel_udloeber).execute(&mut *tx).await?;
        sqlx::query(INSERT_CREDENTIAL).bind(system_id).bind(hash).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_organisation(&self, org: &Organisation) -> Result<bool, StoreError> {
        let n = sqlx::query(INSERT_ORGANISATION)
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
        let row = sqlx::query(SELECT_ORGANISATION).bind(kode).fetch_optional(&self.pool).await?;
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
        let rows = sqlx::query(LIST_ORGANISATIONER)
            .bind(type_.map(OrganisationType::as_str).unwrap_or(""))
            .bind(pattern)
            .bind(efter)
            .bind(max)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::organisation_from_row).collect()
    }

    async fn create_person(&self, p: &NewPerson<'_>) -> Result<bool, StoreError> {
        let n = sqlx::query(INSERT_PERSON)
            .bind(p.id)
            .bind(p.brugernavn)
            .bind(p.navn)
            .bind(p.email)
            .bind(p.hash)
            .bind(Utc::now())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn person_login(&self, brugernavn: &str) -> Result<Option<PersonLogin>, StoreError> {
        let row = sqlx::query(SELECT_PERSON_LOGIN).bind(brugernavn).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(PersonLogin { id: r.try_get("id")?, hash: r.try_get("hash")? })).transpose()
    }

    async fn get_person(&self, id: &str) -> Result<Option<PersonInfo>, StoreError> {
        let Some(row) = sqlx::query(SELECT_PERSON).bind(id).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        Ok(Some(self.person_from_row(&row).await?))
    }

    async fn oidc_person(&self, p: &OidcPerson<'_>, roller: &[(String, Rolle)]) -> Result<String, StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let kendt: Option<String> =
            sqlx::query_scalar(SELECT_OIDC_PERSON).bind(p.issuer).bind(p.subject).fetch_optional(&mut *tx).await?;
        let id = match kendt {
            Some(id) => {
                sqlx::query(UPDATE_OIDC_PERSON).bind(&id).bind(p.navn).bind(p.email).execute(&mut *tx).await?;
                id
            }
            None => {
                sqlx::query(INSERT_OIDC_PERSON)
                    .bind(p.id)
                    .bind(p.brugernavn)
                    .bind(p.navn)
                    .bind(p.email)
                    .bind(Utc::now())
                    .bind(p.issuer)
                    .bind(p.subject)
                    .execute(&mut *tx)
                    .await?;
                p.id.to_owned()
            }
        };
        sqlx::query(DELETE_OIDC_ROLLER).bind(&id).execute(&mut *tx).await?;
        for (organisation, rolle) in roller {
            sqlx::query(INSERT_OIDC_ROLLE).bind(&id).bind(organisation).bind(rolle.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn registerfoelger(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(SELECT_REGISTERFOELGER).fetch_one(&self.pool).await?)
    }

    async fn foelg_register(&self, enheder: &[DagtilbudOrganisation], sekvensnummer: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        for e in enheder {
            let kommentar = if e.aktiv { "" } else { "Nedlagt i Dagtilbudsregisteret" };
            sqlx::query(UPSERT_DAGTILBUD)
                .bind(&e.kode)
                .bind(&e.navn)
                .bind(&e.cvr)
                .bind(&e.pnr)
                .bind(!e.aktiv)
                .bind(kommentar)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(UPDATE_REGISTERFOELGER).bind(sekvensnummer).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn organisationer_med_cvr(&self, cvr: &str) -> Result<Vec<(String, OrganisationType)>, StoreError> {
        let rows = sqlx::query(SELECT_ORGANISATIONER_MED_CVR).bind(cvr).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let type_: String = r.try_get("type")?;
            out.push((
                r.try_get("kode")?,
                OrganisationType::parse(&type_).ok_or(StoreError::Corrupt("organisation type"))?,
            ));
        }
        Ok(out)
    }

    async fn list_personer(&self, soeg: &str, efter: &str, max: i64) -> Result<Vec<PersonInfo>, StoreError> {
        let pattern =
            if soeg.is_empty() { String::new() } else { format!("%{}%", soeg.to_lowercase().replace(['%', '_'], "")) };
        let rows = sqlx::query(LIST_PERSONER).bind(pattern).bind(efter).bind(max).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.person_from_row(row).await?);
        }
        Ok(out)
    }

    async fn set_rolle(
        &self,
        person_id: &str,
        organisation_kode: &str,
        rolle: Rolle,
        har: bool,
    ) -> Result<(), StoreError> {
        let sql = if har { INSERT_PERSON_ROLLE } else { DELETE_PERSON_ROLLE };
        sqlx::query(sql).bind(person_id).bind(organisation_kode).bind(rolle.as_str()).execute(&self.pool).await?;
        Ok(())
    }

    async fn set_organisation_passiv(&self, kode: &str, passiv: bool, kommentar: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(SET_ORGANISATION_PASSIV)
            .bind(kode)
            .bind(passiv)
            .bind(kommentar)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn organisation_type(&self, kode: &str) -> Result<Option<OrganisationType>, StoreError> {
        let t: Option<String> =
            sqlx::query_scalar(SELECT_ORGANISATION_TYPE).bind(kode).fetch_optional(&self.pool).await?;
        Ok(t.as_deref().and_then(OrganisationType::parse))
    }

    async fn set_system_passiv(&self, system_id: &str, passiv: bool) -> Result<bool, StoreError> {
        let n = sqlx::query(SET_SYSTEM_PASSIV).bind(system_id).bind(passiv).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    async fn set_system_blokeret(&self, system_id: &str, blokeret: bool, aarsag: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let udbyder: Option<String> = sqlx::query_scalar(SET_SYSTEM_BLOKERET)
            .bind(system_id)
            .bind(blokeret)
            .bind(if blokeret { aarsag } else { "" })
            .fetch_optional(&mut *tx)
            .await?;
        let Some(udbyder) = udbyder else { return Ok(false) };
        let n = (self.mails.blokering)(&udbyder, system_id, blokeret, aarsag);
        Self::enqueue(&mut tx, &n).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn meld_registerfund(&self, koersel_id: i64, fund: &[(Dataejer, Notifikation)]) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin_with(D::BEGIN).await?;
        let mut meldt = 0;
        for (ejer, n) in fund {
            let org: Option<String> = match ejer {
                Dataejer::Kommune(kode) => {
                    sqlx::query_scalar(SELECT_KOMMUNE_KODE).bind(kode).fetch_optional(&mut *tx).await?
                }
                Dataejer::PrivatEjer(cvr) => {
                    sqlx::query_scalar(SELECT_PRIVAT_EJER_KODE).bind(cvr).fetch_optional(&mut *tx).await?
                }
            };
            let Some(org) = org else { continue };
            let ny = sqlx::query(INSERT_REGISTERFUND_MELDT)
                .bind(koersel_id)
                .bind(&org)
                .bind(Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if ny == 1 {
                let n = Notifikation { organisation: org, ..n.clone() };
                Self::enqueue(&mut tx, &n).await?;
                meldt += 1;
            }
        }
        tx.commit().await?;
        Ok(meldt)
    }

    async fn add_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError> {
        let n =
            sqlx::query(INSERT_MODTAGER).bind(organisation_kode).bind(email).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    async fn remove_modtager(&self, organisation_kode: &str, email: &str) -> Result<bool, StoreError> {
        let n =
            sqlx::query(DELETE_MODTAGER).bind(organisation_kode).bind(email).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    async fn modtagere(&self, organisation_kode: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SELECT_MODTAGERE).bind(organisation_kode).fetch_all(&self.pool).await?)
    }

    async fn due_mail(&self, max: i64) -> Result<Vec<OutboxMail>, StoreError> {
        let now = Utc::now();
        let rows: Vec<(i64, String, String, String, i64)> =
            sqlx::query_as(SELECT_DUE_MAIL).bind(now).bind(max).fetch_all(&self.pool).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        let later = now + chrono::Duration::minutes(1);
        for (id, modtager, emne, tekst, forsoeg) in rows {
            let n = sqlx::query(CLAIM_MAIL).bind(id).bind(later).bind(now).execute(&self.pool).await?.rows_affected();
            if n == 1 {
                claimed.push(OutboxMail { id, modtager, emne, tekst, forsoeg });
            }
        }
        Ok(claimed)
    }

    async fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(MAIL_SENT).bind(id).bind(Utc::now()).execute(&self.pool).await?;
        Ok(())
    }

    async fn mail_failed(&self, id: i64, fejl: &str, naeste: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(MAIL_FAILED)
            .bind(id)
            .bind(fejl.chars().take(500).collect::<String>())
            .bind(naeste)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn count_pending_mail(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(COUNT_PENDING_MAIL).fetch_one(&self.pool).await?)
    }

    fn pool_use(&self) -> dtr_migrations::PoolUse {
        dtr_migrations::PoolUse::of(&self.pool)
    }

    async fn pending_mail(&self) -> Result<Vec<OutboxMail>, StoreError> {
        let rows: Vec<(i64, String, String, String, i64)> =
            sqlx::query_as(SELECT_PENDING_MAIL).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, modtager, emne, tekst, forsoeg)| OutboxMail { id, modtager, emne, tekst, forsoeg })
            .collect())
    }

    async fn udbakke(&self, max: i64) -> Result<Vec<UdbakkeLinje>, StoreError> {
        let rows = sqlx::query(LIST_UDBAKKE).bind(max).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(UdbakkeLinje {
                    id: r.try_get("id")?,
                    modtager: r.try_get("modtager")?,
                    emne: r.try_get("emne")?,
                    forsoeg: r.try_get("forsoeg")?,
                    sidste_fejl: r.try_get("sidste_fejl")?,
                    sendt: r.try_get("er_sendt")?,
                })
            })
            .collect()
    }

    async fn login(&self, brugernavn: &str) -> Result<Option<SystemLogin>, StoreError> {
        let Some(row) = sqlx::query(SELECT_LOGIN_SYSTEM).bind(brugernavn).fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let system_id: String = row.try_get("id")?;
        let rows: Vec<(String, Option<chrono::DateTime<Utc>>)> =
            sqlx::query_as(SELECT_VALID_CREDENTIALS).bind(&system_id).bind(Utc::now()).fetch_all(&self.pool).await?;
        let udloeber = rows.iter().filter_map(|(_, u)| *u).min();
        let hashes = rows.into_iter().map(|(h, _)| h).collect();
        Ok(Some(SystemLogin { system_id, udbyder_kode: row.try_get("udbyder_kode")?, hashes, udloeber }))
    }
}
