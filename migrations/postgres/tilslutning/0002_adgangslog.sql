-- Every refused call (authentication and access decisions), durably, for the operator and the
-- provider: who, what, why, and the correlation id the caller got.
CREATE TABLE adgangslog (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tidspunkt      TIMESTAMPTZ NOT NULL,
    brugernavn     TEXT NOT NULL DEFAULT '',
    system_id      TEXT NOT NULL DEFAULT '',
    servicekode    TEXT NOT NULL DEFAULT '',
    operation      TEXT NOT NULL DEFAULT '',
    fejlkode       TEXT NOT NULL,
    besked         TEXT NOT NULL,
    correlation_id TEXT NOT NULL
);
CREATE INDEX adgangslog_correlation ON adgangslog (correlation_id);
CREATE INDEX adgangslog_system ON adgangslog (system_id, tidspunkt);
