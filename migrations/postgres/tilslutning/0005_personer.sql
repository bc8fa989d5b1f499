-- Persons who log in at the portal, and the roles each has per organisation (portal.md).
CREATE TABLE person (
    id         TEXT PRIMARY KEY,
    brugernavn TEXT NOT NULL UNIQUE,
    navn       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    -- argon2id PHC string of a local account; NULL for a person who logs in through OIDC only.
    hash       TEXT,
    oprettet   TIMESTAMPTZ NOT NULL
);

CREATE TABLE person_rolle (
    person_id         TEXT NOT NULL REFERENCES person (id),
    organisation_kode TEXT NOT NULL REFERENCES organisation (kode),
    rolle             TEXT NOT NULL
        CHECK (rolle IN ('UDBYDERADMINISTRATOR', 'DATAADGANGSADMINISTRATOR', 'OPERATOER', 'REGISTERADMINISTRATOR')),
    PRIMARY KEY (person_id, organisation_kode, rolle)
);

-- The operator is an organisation too, so its staff can hold the operator's roles.
INSERT INTO organisation (kode, navn, type) VALUES ('STIL', 'Styrelsen for It og Læring', 'UDBYDER')
    ON CONFLICT (kode) DO NOTHING;
