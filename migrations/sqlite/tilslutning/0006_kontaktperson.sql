-- A provider's system has a contact person (portal.md, "Nyt system").
ALTER TABLE udbydersystem ADD COLUMN kontakt_navn TEXT NOT NULL DEFAULT '';
ALTER TABLE udbydersystem ADD COLUMN kontakt_email TEXT NOT NULL DEFAULT '';
ALTER TABLE udbydersystem ADD COLUMN kontakt_telefon TEXT NOT NULL DEFAULT '';
