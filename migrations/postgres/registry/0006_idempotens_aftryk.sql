-- A MessageID answers its first write only when the repeat is the same request: the write's
-- operation and a fingerprint of its content are kept with the key (docs/gateway-fejlkoder.md).
ALTER TABLE idempotens ADD COLUMN aftryk TEXT NOT NULL DEFAULT '';
