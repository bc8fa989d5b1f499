-- Persons who log in through OpenID Connect are known by the provider's issuer and subject; their
-- username is made up at the first login. Roles granted by the provider's claims are marked so each
-- login can bring them in step with the claims without touching the roles the operator gave.
ALTER TABLE person ADD COLUMN oidc_issuer TEXT;
ALTER TABLE person ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX person_oidc ON person (oidc_issuer, oidc_subject);
ALTER TABLE person_rolle ADD COLUMN fra_oidc BOOLEAN NOT NULL DEFAULT FALSE;
