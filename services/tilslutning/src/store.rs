//! Storage of the tilslutning schema: one interface, one implementation per backend, the same SQL
//! text on both (instantiated by a macro).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use dtr_migrations::{Backend, TILSLUTNING_POSTGRES, TILSLUTNING_SQLITE, backend_of, migrator};

use crate::model::{AftaleStatus, Organisation, ServiceDef, SystemLogin};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (want postgres://… or sqlite:…)")]
    UnsupportedUrl,
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
}

pub async fn connect(url: &str) -> Result<Arc<dyn TilslutningStore>, StoreError> {
    match backend_of(url) {
        Some(Backend::Postgres) => Ok(Arc::new(PostgresStore { pool: dtr_migrations::postgres_pool(url).await? })),
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore { pool: dtr_migrations::sqlite_pool(url).await? })),
        None => Err(StoreError::UnsupportedUrl),
    }
}

pub struct PostgresStore {
    pool: PgPool,
}

pub struct SqliteStore {
    pool: SqlitePool,
}

macro_rules! impl_tilslutning_store {
    ($store:ty, $db:ty, $migrations:expr) => {
        impl $store {
            /// Moves one agreement (of `tabel`) to `status`, with a history line.
            async fn set_status(
                tx: &mut sqlx::Transaction<'static, $db>,
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
                Ok(())
            }
        }

        #[async_trait]
        impl TilslutningStore for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                migrator(&$migrations).run(&self.pool).await?;
                Ok(())
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

            async fn login(&self, brugernavn: &str) -> Result<Option<SystemLogin>, StoreError> {
                let Some(row) = sqlx::query(
                    "SELECT id, udbyder_kode FROM udbydersystem WHERE brugernavn = $1 AND NOT slettet",
                )
                .bind(brugernavn)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                let system_id: String = row.try_get("id")?;
                let hashes: Vec<String> = sqlx::query_scalar(
                    "SELECT hash FROM credential WHERE system_id = $1 AND (udloeber IS NULL OR udloeber > $2)",
                )
                .bind(&system_id)
                .bind(Utc::now())
                .fetch_all(&self.pool)
                .await?;
                Ok(Some(SystemLogin { system_id, udbyder_kode: row.try_get("udbyder_kode")?, hashes }))
            }
        }
    };
}

impl_tilslutning_store!(PostgresStore, sqlx::Postgres, TILSLUTNING_POSTGRES);
impl_tilslutning_store!(SqliteStore, sqlx::Sqlite, TILSLUTNING_SQLITE);
