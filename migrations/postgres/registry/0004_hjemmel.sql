-- A code may carry its legal basis (lovgrundlag's "hjemmel"), served with the code table so a
-- client can show why a combination is lawful.
ALTER TABLE kode ADD COLUMN hjemmel TEXT NOT NULL DEFAULT '';
