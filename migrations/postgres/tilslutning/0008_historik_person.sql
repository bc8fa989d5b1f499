-- An agreement's history names the person who made a change in the portal, beside the
-- organisation they acted for (docs/portal.md): "who" is a person, not only an organisation.
ALTER TABLE aftale_historik ADD COLUMN person_id TEXT;
