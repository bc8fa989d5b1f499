-- Anvisningsenheder of the register are organisations of type DAGTILBUD here, kept in step by
-- following the register's change sequence; this is how far it has been followed.
CREATE TABLE registerfoelger (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    sekvensnummer BIGINT NOT NULL
);
INSERT INTO registerfoelger (id, sekvensnummer) VALUES (1, 0);
