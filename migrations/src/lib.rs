//! Database plumbing shared by the stores: connection pools per backend, and migrations compiled
//! into the binary and kept per schema in their own migrations table, so the registry and the
//! tilslutning schemas can share one database or live in two.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The column types and results the stores work with, the same on both backends. The stores are
/// generic over the backend and name these in their bounds.
/// A value the store both reads from and writes to `DB`.
pub trait Column<DB: sqlx::Database>:
    for<'r> sqlx::Decode<'r, DB> + for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>
{
}

impl<T, DB: sqlx::Database> Column<DB> for T where
    T: for<'r> sqlx::Decode<'r, DB> + for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>
{
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

/// The migrations of one schema for one backend: (version, description, SQL).
pub struct MigrationSet {
    pub table: &'static str,
    pub files: &'static [(i64, &'static str, &'static str)],
}

pub fn migrator(set: &MigrationSet) -> Migrator {
    let migrations: Vec<Migration> = set
        .files
        .iter()
        .map(|(version, desc, sql)| {
            Migration::new(*version, Cow::Borrowed(*desc), MigrationType::Simple, (*sql).into_sql_str(), false)
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        // Another schema's migrations may share the database.
        ignore_missing: true,
        table_name: Cow::Borrowed(set.table),
        ..Migrator::DEFAULT
    }
}

pub const REGISTRY_POSTGRES: MigrationSet = MigrationSet {
    table: "_dtr_registry_migrations",
    files: &[
        (1, "registry", include_str!("../postgres/registry/0001_registry.sql")),
        (2, "revalidering", include_str!("../postgres/registry/0002_revalidering.sql")),
        (3, "soegenavn", include_str!("../postgres/registry/0003_soegenavn.sql")),
        (4, "hjemmel", include_str!("../postgres/registry/0004_hjemmel.sql")),
        (5, "idempotens", include_str!("../postgres/registry/0005_idempotens.sql")),
        (6, "idempotens_aftryk", include_str!("../postgres/registry/0006_idempotens_aftryk.sql")),
        (7, "laesere", include_str!("../postgres/registry/0007_laesere.sql")),
    ],
};

pub const REGISTRY_SQLITE: MigrationSet = MigrationSet {
    table: "_dtr_registry_migrations",
    files: &[
        (1, "registry", include_str!("../sqlite/registry/0001_registry.sql")),
        (2, "revalidering", include_str!("../sqlite/registry/0002_revalidering.sql")),
        (3, "soegenavn", include_str!("../sqlite/registry/0003_soegenavn.sql")),
        (4, "hjemmel", include_str!("../sqlite/registry/0004_hjemmel.sql")),
        (5, "idempotens", include_str!("../sqlite/registry/0005_idempotens.sql")),
        (6, "idempotens_aftryk", include_str!("../sqlite/registry/0006_idempotens_aftryk.sql")),
        (7, "laesere", include_str!("../sqlite/registry/0007_laesere.sql")),
    ],
};

pub const TILSLUTNING_POSTGRES: MigrationSet = MigrationSet {
    table: "_dtr_tilslutning_migrations",
    files: &[
        (1, "tilslutning", include_str!("../postgres/tilslutning/0001_tilslutning.sql")),
        (2, "adgangslog", include_str!("../postgres/tilslutning/0002_adgangslog.sql")),
        (3, "udtraek_forbrug", include_str!("../postgres/tilslutning/0003_udtraek_forbrug.sql")),
        (4, "registerfund_meldt", include_str!("../postgres/tilslutning/0004_registerfund_meldt.sql")),
        (5, "personer", include_str!("../postgres/tilslutning/0005_personer.sql")),
        (6, "kontaktperson", include_str!("../postgres/tilslutning/0006_kontaktperson.sql")),
        (7, "oidc", include_str!("../postgres/tilslutning/0007_oidc.sql")),
        (8, "historik_person", include_str!("../postgres/tilslutning/0008_historik_person.sql")),
        (9, "sidst_brugt", include_str!("../postgres/tilslutning/0009_sidst_brugt.sql")),
        (10, "registerfoelger", include_str!("../postgres/tilslutning/0010_registerfoelger.sql")),
    ],
};

pub const TILSLUTNING_SQLITE: MigrationSet = MigrationSet {
    table: "_dtr_tilslutning_migrations",
    files: &[
        (1, "tilslutning", include_str!("../sqlite/tilslutning/0001_tilslutning.sql")),
        (2, "adgangslog", include_str!("../sqlite/tilslutning/0002_adgangslog.sql")),
        (3, "udtraek_forbrug", include_str!("../sqlite/tilslutning/0003_udtraek_forbrug.sql")),
        (4, "registerfund_meldt", include_str!("../sqlite/tilslutning/0004_registerfund_meldt.sql")),
        (5, "personer", include_str!("../sqlite/tilslutning/0005_personer.sql")),
        (6, "kontaktperson", include_str!("../sqlite/tilslutning/0006_kontaktperson.sql")),
        (7, "oidc", include_str!("../sqlite/tilslutning/0007_oidc.sql")),
        (8, "historik_person", include_str!("../sqlite/tilslutning/0008_historik_person.sql")),
        (9, "sidst_brugt", include_str!("../sqlite/tilslutning/0009_sidst_brugt.sql")),
        (10, "registerfoelger", include_str!("../sqlite/tilslutning/0010_registerfoelger.sql")),
    ],
};

/// Longest a call waits for a database connection before it fails with "try again"
/// (`DTR_DB_ACQUIRE_TIMEOUT_MS`, default 3000): with the database down, callers learn it in
/// seconds, not at a client's own deadline.
pub fn acquire_timeout() -> Duration {
    std::env::var("DTR_DB_ACQUIRE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(Duration::from_secs(3), Duration::from_millis)
}

/// How a connection pool is used at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolUse {
    pub fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Self {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        PoolUse { open: pool.size(), idle, max: pool.options().get_max_connections() }
    }
}

/// A PostgreSQL pool for one service.
pub async fn postgres_pool(url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new().max_connections(16).acquire_timeout(acquire_timeout()).connect(url).await
}

/// A SQLite pool on a file (created if missing), durable on every commit.
pub async fn sqlite_pool(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Durable before acknowledged: FULL syncs the WAL on every commit.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new().max_connections(8).acquire_timeout(acquire_timeout()).connect_with(opts).await
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Some(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else {
        None
    }
}
