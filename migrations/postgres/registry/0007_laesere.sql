-- Export instances that answer lookups from memory (docs/architecture.md, "Lookups from
-- memory"): each posts the change sequence it has seen and holds a lease until `lease_til`. A
-- write is acknowledged only when every reader with a running lease has seen it, so a reader
-- never answers from memory what an acknowledged write has changed.
CREATE TABLE laeser (
    id          TEXT PRIMARY KEY,
    set_sekvens BIGINT NOT NULL,
    lease_til   TIMESTAMPTZ NOT NULL
);
