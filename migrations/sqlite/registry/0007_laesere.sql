-- Readers' leases (docs/architecture.md, "Lookups from memory"). Kept for a schema parallel to
-- PostgreSQL's; on SQLite every writer and reader is in one process (`dtr up`) and no lease is
-- held.
CREATE TABLE laeser (
    id          TEXT PRIMARY KEY,
    set_sekvens BIGINT NOT NULL,
    lease_til   TEXT NOT NULL
);
