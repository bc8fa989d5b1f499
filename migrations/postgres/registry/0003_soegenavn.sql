-- Name search (GetDaginstitutionByNavn, …ByNavn): the name case-folded by the service (Rust's
-- Unicode lowercase), because SQLite's lower() folds only ASCII and PostgreSQL's depends on the
-- database locale. Rows that existed before this migration keep '' until the store folds them
-- at its next start (RegistryStore::migrate); every write sets it.
ALTER TABLE daginstitution ADD COLUMN soegenavn TEXT NOT NULL DEFAULT '';
ALTER TABLE anvisningsenhed ADD COLUMN soegenavn TEXT NOT NULL DEFAULT '';
ALTER TABLE alternativ_adresse ADD COLUMN soegenavn TEXT NOT NULL DEFAULT '';
