-- The day a system last logged in (YYYY-MM-DD, UTC), so the operator can find and block systems
-- unused for 12 months (docs/tilslutning.md). Written at most once a day per system and process.
ALTER TABLE udbydersystem ADD COLUMN sidst_brugt TEXT;
