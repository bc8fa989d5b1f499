-- Tilslutning: organisations, providers' systems and credentials, the service catalogue,
-- connection and data-access agreements with history, notification recipients, mail outbox.
CREATE TABLE organisation (
    kode                 TEXT PRIMARY KEY,
    navn                 TEXT NOT NULL,
    cvr                  TEXT NOT NULL DEFAULT '',
    pnr                  TEXT NOT NULL DEFAULT '',
    type                 TEXT NOT NULL,
    er_passiveret        BOOLEAN NOT NULL DEFAULT FALSE,
    passiveret_kommentar TEXT NOT NULL DEFAULT ''
);

CREATE TABLE udbydersystem (
    id              TEXT PRIMARY KEY,
    navn            TEXT NOT NULL,
    udbyder_kode    TEXT NOT NULL REFERENCES organisation (kode),
    brugernavn      TEXT NOT NULL UNIQUE,
    passiv          BOOLEAN NOT NULL DEFAULT FALSE,
    blokeret        BOOLEAN NOT NULL DEFAULT FALSE,
    blokeret_aarsag TEXT NOT NULL DEFAULT '',
    slettet         BOOLEAN NOT NULL DEFAULT FALSE,
    oprettet        TIMESTAMPTZ NOT NULL
);

-- argon2id PHC strings; during a rotation the old one has an expiry and both work until then.
CREATE TABLE credential (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system_id TEXT NOT NULL REFERENCES udbydersystem (id),
    hash      TEXT NOT NULL,
    oprettet  TIMESTAMPTZ NOT NULL,
    udloeber  TIMESTAMPTZ
);
CREATE INDEX credential_system ON credential (system_id);

CREATE TABLE service (
    servicekode  TEXT PRIMARY KEY,
    service_navn TEXT NOT NULL,
    beskrivelse  TEXT NOT NULL DEFAULT '',
    formaal      TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL DEFAULT ''
);
CREATE TABLE service_operation (
    servicekode        TEXT NOT NULL REFERENCES service (servicekode),
    navn               TEXT NOT NULL,
    kraever_dataaftale BOOLEAN NOT NULL,
    PRIMARY KEY (servicekode, navn)
);
CREATE TABLE service_version (
    servicekode TEXT NOT NULL REFERENCES service (servicekode),
    version     TEXT NOT NULL,
    PRIMARY KEY (servicekode, version)
);

CREATE TABLE tilslutningsaftale (
    aftale_id   TEXT PRIMARY KEY,
    system_id   TEXT NOT NULL REFERENCES udbydersystem (id),
    servicekode TEXT NOT NULL REFERENCES service (servicekode),
    status      TEXT NOT NULL CHECK (status IN ('VENTER', 'GODKENDT', 'AFVIST', 'SLETTET')),
    oprettet    TIMESTAMPTZ NOT NULL
);
CREATE INDEX tilslutningsaftale_system ON tilslutningsaftale (system_id, servicekode);

CREATE TABLE dataaftale (
    aftale_id   TEXT PRIMARY KEY,
    system_id   TEXT NOT NULL REFERENCES udbydersystem (id),
    servicekode TEXT NOT NULL REFERENCES service (servicekode),
    ejer_kode   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('VENTER', 'GODKENDT', 'AFVIST', 'SLETTET')),
    oprettet    TIMESTAMPTZ NOT NULL
);
CREATE INDEX dataaftale_system ON dataaftale (system_id, servicekode, ejer_kode);
CREATE INDEX dataaftale_ejer ON dataaftale (ejer_kode, status);

CREATE TABLE aftale_historik (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    aftale_id TEXT NOT NULL,
    aktoer    TEXT NOT NULL,
    tidspunkt TIMESTAMPTZ NOT NULL,
    fra       TEXT,
    til       TEXT NOT NULL,
    kommentar TEXT NOT NULL DEFAULT ''
);
CREATE INDEX aftale_historik_aftale ON aftale_historik (aftale_id);

CREATE TABLE notifikationsmodtager (
    organisation_kode TEXT NOT NULL REFERENCES organisation (kode),
    email             TEXT NOT NULL,
    PRIMARY KEY (organisation_kode, email)
);

-- Mail is written here in the same transaction as the change and delivered with retries.
CREATE TABLE outbox (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    modtager       TEXT NOT NULL,
    emne           TEXT NOT NULL,
    tekst          TEXT NOT NULL,
    oprettet       TIMESTAMPTZ NOT NULL,
    forsoeg        INTEGER NOT NULL DEFAULT 0,
    naeste_forsoeg TIMESTAMPTZ NOT NULL,
    sendt          TIMESTAMPTZ,
    sidste_fejl    TEXT
);
CREATE INDEX outbox_pending ON outbox (sendt, naeste_forsoeg);
