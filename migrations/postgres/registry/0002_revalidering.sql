-- Rule 13: periodic re-validation of DAR, CVR and rule 6 over all active units. Findings are
-- stored per run; nothing in the register is changed by a run.
CREATE TABLE revalidering_koersel (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    startet       TIMESTAMPTZ NOT NULL,
    afsluttet     TIMESTAMPTZ NOT NULL,
    antal_enheder BIGINT NOT NULL,
    antal_fund    BIGINT NOT NULL
);
CREATE TABLE revalidering_fund (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    koersel_id       BIGINT NOT NULL REFERENCES revalidering_koersel (id),
    enhedstype       TEXT NOT NULL,
    nummer           TEXT NOT NULL,
    adm_kommune_kode INTEGER NOT NULL,
    ejer_cvr_nummer  TEXT,
    kode             TEXT NOT NULL,
    besked           TEXT NOT NULL
);
CREATE INDEX revalidering_fund_koersel ON revalidering_fund (koersel_id);
CREATE INDEX revalidering_fund_kommune ON revalidering_fund (adm_kommune_kode);
