-- Safe retries of ImportService writes: a write that carried a WS-Addressing MessageID leaves
-- its answer here, in its own transaction, so the same MessageID from the same system within
-- 24 hours gets that answer again and writes nothing (docs/soap-edge.md, "Safe retries").
CREATE TABLE idempotens (
    system     TEXT NOT NULL,
    message_id TEXT NOT NULL,
    operation  TEXT NOT NULL,
    nummer     TEXT NOT NULL,
    tidspunkt  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system, message_id)
);
CREATE INDEX idempotens_tidspunkt ON idempotens (tidspunkt);
