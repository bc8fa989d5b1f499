-- Full extracts used per system per day (UTC), for the daily limit (tilslutning.md step 5).
CREATE TABLE udtraek_forbrug (
    system_id TEXT NOT NULL,
    dato      TEXT NOT NULL,
    antal     INTEGER NOT NULL,
    PRIMARY KEY (system_id, dato)
);
