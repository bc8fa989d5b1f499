-- Which owners were mailed about which re-validation run, so a repeated hand-over (a retry by the
-- import service) sends no second mail.
CREATE TABLE registerfund_meldt (
    koersel_id        BIGINT NOT NULL,
    organisation_kode TEXT NOT NULL,
    meldt             TEXT NOT NULL,
    PRIMARY KEY (koersel_id, organisation_kode)
);
