//! Migrations are compiled into the binary and kept per schema in their own migrations table,
//! so the registry and the tilslutning schemas can share one database or live in two.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

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

use sqlx::SqlSafeStr;

pub const REGISTRY_POSTGRES: MigrationSet = MigrationSet {
    table: "_dtr_registry_migrations",
    files: &[(1, "registry", include_str!("../../../../migrations/postgres/registry/0001_registry.sql"))],
};

pub const REGISTRY_SQLITE: MigrationSet = MigrationSet {
    table: "_dtr_registry_migrations",
    files: &[(1, "registry", include_str!("../../../../migrations/sqlite/registry/0001_registry.sql"))],
};
