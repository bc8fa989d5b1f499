-- The register: three levels, code tables, counters, history, change sequence, audit.
CREATE TABLE kodetabel (
    navn    TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
CREATE TABLE kode (
    navn  TEXT NOT NULL REFERENCES kodetabel (navn),
    kode  INTEGER NOT NULL,
    tekst TEXT NOT NULL,
    PRIMARY KEY (navn, kode)
);
-- Lawful (ejerform, lovgrundlag, InstType3) combinations for the v2 cross-validation.
CREATE TABLE krydsvalidering (
    ejerform_kode    INTEGER NOT NULL,
    lovgrundlag_kode INTEGER NOT NULL,
    inst_type3       INTEGER NOT NULL,
    PRIMARY KEY (ejerform_kode, lovgrundlag_kode, inst_type3)
);
-- 'nummer': next institution number; 'sekvens': next change-sequence number. Updating a row
-- inside the write transaction serialises writers, so sequence order is commit order.
CREATE TABLE taeller (
    navn   TEXT PRIMARY KEY,
    vaerdi BIGINT NOT NULL
);
INSERT INTO taeller (navn, vaerdi) VALUES ('nummer', 30000), ('sekvens', 1);

CREATE TABLE daginstitution (
    nummer           TEXT PRIMARY KEY,
    navn             TEXT NOT NULL,
    ejerform_kode    INTEGER NOT NULL,
    lovgrundlag_kode INTEGER NOT NULL,
    adm_kommune_kode INTEGER NOT NULL,
    ejer_cvr_nummer  TEXT,
    aktivitetsstatus TEXT NOT NULL CHECK (aktivitetsstatus IN ('Aktiv', 'Nedlagt')),
    oprettet_dato    TIMESTAMPTZ NOT NULL,
    senest_aendret   TIMESTAMPTZ NOT NULL,
    nedlagt_dato     TIMESTAMPTZ,
    version          BIGINT NOT NULL
);
CREATE INDEX daginstitution_kommune ON daginstitution (adm_kommune_kode);

CREATE TABLE anvisningsenhed (
    nummer                 TEXT PRIMARY KEY,
    daginstitutions_nummer TEXT NOT NULL REFERENCES daginstitution (nummer),
    navn                   TEXT NOT NULL,
    vej_navn               TEXT NOT NULL,
    hus_nummer             TEXT NOT NULL,
    etage                  TEXT,
    doer                   TEXT,
    post_nummer            TEXT NOT NULL,
    post_distrikt          TEXT NOT NULL,
    supplerende_bynavn     TEXT,
    kommune_kode           INTEGER NOT NULL,
    dar_adresse_id         TEXT,
    geo_bredde             DOUBLE PRECISION,
    geo_laengde            DOUBLE PRECISION,
    inst_type3             INTEGER NOT NULL,
    email                  TEXT,
    telefon_nummer         TEXT,
    cvr_nummer             TEXT,
    p_nummer               TEXT NOT NULL,
    aktivitetsstatus       TEXT NOT NULL CHECK (aktivitetsstatus IN ('Aktiv', 'Nedlagt')),
    oprettet_dato          TIMESTAMPTZ NOT NULL,
    senest_aendret         TIMESTAMPTZ NOT NULL,
    nedlagt_dato           TIMESTAMPTZ,
    version                BIGINT NOT NULL
);
CREATE INDEX anvisningsenhed_parent ON anvisningsenhed (daginstitutions_nummer);
CREATE INDEX anvisningsenhed_pnummer ON anvisningsenhed (p_nummer);
CREATE INDEX anvisningsenhed_cvr ON anvisningsenhed (cvr_nummer);

CREATE TABLE alternativ_adresse (
    nummer             TEXT PRIMARY KEY,
    enheds_nummer      TEXT NOT NULL REFERENCES anvisningsenhed (nummer),
    navn               TEXT NOT NULL,
    vej_navn           TEXT NOT NULL,
    hus_nummer         TEXT NOT NULL,
    etage              TEXT,
    doer               TEXT,
    post_nummer        TEXT NOT NULL,
    post_distrikt      TEXT NOT NULL,
    supplerende_bynavn TEXT,
    kommune_kode       INTEGER NOT NULL,
    dar_adresse_id     TEXT,
    geo_bredde         DOUBLE PRECISION,
    geo_laengde        DOUBLE PRECISION,
    p_nummer           TEXT,
    cvr_nummer         TEXT,
    email              TEXT,
    telefon_nummer     TEXT,
    aktivitetsstatus   TEXT NOT NULL CHECK (aktivitetsstatus IN ('Aktiv', 'Nedlagt')),
    oprettet_dato      TIMESTAMPTZ NOT NULL,
    senest_aendret     TIMESTAMPTZ NOT NULL,
    nedlagt_dato       TIMESTAMPTZ,
    version            BIGINT NOT NULL
);
CREATE INDEX alternativ_adresse_parent ON alternativ_adresse (enheds_nummer);

-- Every version of every unit, as JSON of the domain record (GetHistorik).
CREATE TABLE enhed_version (
    nummer     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    enhedstype TEXT NOT NULL,
    data       TEXT NOT NULL,
    gyldig_fra TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (nummer, version)
);

-- The change sequence behind GetAendringerSiden.
CREATE TABLE aendring (
    sekvensnummer BIGINT PRIMARY KEY,
    tidspunkt     TIMESTAMPTZ NOT NULL,
    enhedstype    TEXT NOT NULL,
    nummer        TEXT NOT NULL,
    handling      TEXT NOT NULL,
    version       BIGINT NOT NULL
);

-- Who did what, when (rule 14).
CREATE TABLE audit (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tidspunkt      TIMESTAMPTZ NOT NULL,
    system         TEXT NOT NULL,
    organisation   TEXT,
    correlation_id TEXT NOT NULL,
    operation      TEXT NOT NULL,
    nummer         TEXT,
    udfald         TEXT NOT NULL
);
CREATE INDEX audit_correlation ON audit (correlation_id);
