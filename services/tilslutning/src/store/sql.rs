//! The tilslutning store's statements, one named constant each; the same text runs on both
//! backends.

/// Column lists read by name into the listing types.
macro_rules! organisation_columns {
    () => {
        "kode, navn, cvr, pnr, type, er_passiveret, passiveret_kommentar"
    };
}

macro_rules! system_columns {
    () => {
        "id, navn, udbyder_kode, brugernavn, passiv, blokeret, blokeret_aarsag, slettet, kontakt_navn, kontakt_email, \
         kontakt_telefon, sidst_brugt"
    };
}

pub(super) const SELECT_HISTORIK: &str = "SELECT h.aktoer, h.tidspunkt, h.fra, h.til, h.kommentar, \
     p.navn AS person_navn FROM aftale_historik h LEFT JOIN person p ON p.id = h.person_id \
     WHERE h.aftale_id = $1 ORDER BY h.id";
pub(super) const INSERT_HISTORIK_LINJE: &str = "INSERT INTO aftale_historik \
     (aftale_id, aktoer, tidspunkt, fra, til, kommentar, person_id) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const SELECT_AFTALE_PARTER: &str = "SELECT a.system_id, a.servicekode, CAST(NULL AS TEXT), s.udbyder_kode FROM tilslutningsaftale a \
     JOIN udbydersystem s ON s.id = a.system_id WHERE a.aftale_id = $1 \
     UNION ALL SELECT a.system_id, a.servicekode, a.ejer_kode, s.udbyder_kode FROM dataaftale a \
     JOIN udbydersystem s ON s.id = a.system_id WHERE a.aftale_id = $1";
pub(super) const ENQUEUE_MAIL: &str = "INSERT INTO outbox (modtager, emne, tekst, oprettet, naeste_forsoeg) \
     SELECT email, $2, $3, $4, $4 FROM notifikationsmodtager WHERE organisation_kode = $1";
pub(super) const PING: &str = "SELECT 1";
pub(super) const UPSERT_ORGANISATION: &str = "INSERT INTO organisation (kode, navn, cvr, pnr, type) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (kode) DO UPDATE SET navn = $2, cvr = $3, pnr = $4, type = $5";
pub(super) const INSERT_SYSTEM: &str = "INSERT INTO udbydersystem \
     (id, navn, udbyder_kode, brugernavn, oprettet, kontakt_navn, kontakt_email, kontakt_telefon) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(super) const INSERT_FIRST_CREDENTIAL: &str =
    "INSERT INTO credential (system_id, hash, oprettet) VALUES ($1, $2, $3)";
pub(super) const UPSERT_SERVICE: &str = "INSERT INTO service (servicekode, service_navn, beskrivelse, formaal, data) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (servicekode) DO UPDATE SET service_navn = $2, beskrivelse = $3, formaal = $4, data = $5";
pub(super) const INSERT_SERVICE_OPERATION: &str = "INSERT INTO service_operation (servicekode, navn, kraever_dataaftale) VALUES ($1, $2, $3) \
     ON CONFLICT (servicekode, navn) DO UPDATE SET kraever_dataaftale = $3";
pub(super) const INSERT_SERVICE_VERSION: &str =
    "INSERT INTO service_version (servicekode, version) VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub(super) const SELECT_SERVICES: &str =
    "SELECT servicekode, service_navn, beskrivelse, formaal, data FROM service ORDER BY servicekode";
pub(super) const SELECT_SERVICE_OPERATIONER: &str =
    "SELECT navn, kraever_dataaftale FROM service_operation WHERE servicekode = $1 ORDER BY navn";
pub(super) const SELECT_SERVICE_VERSIONER: &str =
    "SELECT version FROM service_version WHERE servicekode = $1 ORDER BY version";
pub(super) const SELECT_LEVENDE_TILSLUTNING: &str = "SELECT aftale_id, status FROM tilslutningsaftale \
     WHERE system_id = $1 AND servicekode = $2 AND status <> 'SLETTET'";
pub(super) const UPDATE_TILSLUTNING_STATUS: &str = "UPDATE tilslutningsaftale SET status = $1 WHERE aftale_id = $2";
pub(super) const INSERT_TILSLUTNING: &str = "INSERT INTO tilslutningsaftale (aftale_id, system_id, servicekode, status, oprettet) \
     VALUES ($1, $2, $3, $4, $5)";
pub(super) const SELECT_LEVENDE_DATAAFTALE: &str = "SELECT aftale_id, status FROM dataaftale \
     WHERE system_id = $1 AND servicekode = $2 AND ejer_kode = $3 AND status <> 'SLETTET'";
pub(super) const UPDATE_DATAAFTALE_STATUS: &str = "UPDATE dataaftale SET status = $1 WHERE aftale_id = $2";
/// The owner is bound last, after the columns both agreement kinds have.
pub(super) const INSERT_DATAAFTALE: &str = "INSERT INTO dataaftale (aftale_id, system_id, servicekode, status, oprettet, ejer_kode) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(super) const SELECT_SYSTEM_TILSTAND: &str = "SELECT s.passiv, s.blokeret, s.blokeret_aarsag, o.er_passiveret AS udbyder_passiv \
     FROM udbydersystem s JOIN organisation o ON o.kode = s.udbyder_kode \
     WHERE s.id = $1 AND NOT s.slettet";
pub(super) const SELECT_KRAEVER_DATAAFTALE: &str =
    "SELECT kraever_dataaftale FROM service_operation WHERE servicekode = $1 AND navn = $2";
pub(super) const SELECT_TILSLUTNING_STATUS: &str =
    "SELECT status FROM tilslutningsaftale WHERE system_id = $1 AND servicekode = $2 AND status <> 'SLETTET'";
pub(super) const SELECT_KOMMUNE_NAVN: &str = "SELECT kode, navn FROM organisation WHERE kode = $1 AND type = 'KOMMUNE'";
pub(super) const SELECT_PRIVAT_EJER_NAVN: &str =
    "SELECT kode, navn FROM organisation WHERE cvr = $1 AND type = 'PRIVAT_EJER' ORDER BY kode";
pub(super) const SELECT_DATAAFTALE_STATUS: &str = "SELECT status FROM dataaftale WHERE system_id = $1 AND servicekode = $2 AND ejer_kode = $3 \
     AND status <> 'SLETTET'";
pub(super) const INSERT_AFVISNING: &str = "INSERT INTO adgangslog (tidspunkt, brugernavn, system_id, servicekode, operation, fejlkode, besked, \
     correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(super) const SELECT_AFVISNINGER: &str = "SELECT brugernavn, system_id, servicekode, operation, fejlkode, besked, correlation_id \
     FROM adgangslog WHERE correlation_id = $1 ORDER BY id";
pub(super) const COUNT_UDTRAEK: &str = "INSERT INTO udtraek_forbrug (system_id, dato, antal) VALUES ($1, $2, 1) \
     ON CONFLICT (system_id, dato) DO UPDATE SET antal = udtraek_forbrug.antal + 1 \
     WHERE udtraek_forbrug.antal < $3 RETURNING CAST(antal AS BIGINT)";
pub(super) const SELECT_SYSTEM_UDBYDER: &str = "SELECT udbyder_kode FROM udbydersystem WHERE id = $1 AND NOT slettet";
pub(super) const SELECT_SYSTEM: &str = concat!("SELECT ", system_columns!(), " FROM udbydersystem WHERE id = $1");
pub(super) const RENAME_SYSTEM: &str = "UPDATE udbydersystem SET navn = $2 WHERE id = $1 AND NOT slettet";
pub(super) const MARK_SYSTEM_DELETED: &str = "UPDATE udbydersystem SET slettet = TRUE WHERE id = $1 AND NOT slettet";
pub(super) const SELECT_AKTIVT_SYSTEM: &str = "SELECT id FROM udbydersystem WHERE id = $1 AND NOT slettet";
pub(super) const EXPIRE_CREDENTIALS: &str =
    "UPDATE credential SET udloeber = $2 WHERE system_id = $1 AND (udloeber IS NULL OR udloeber > $2)";
pub(super) const INSERT_CREDENTIAL: &str =
    "INSERT INTO credential (system_id, hash, oprettet, udloeber) VALUES ($1, $2, $3, NULL)";
pub(super) const INSERT_ORGANISATION: &str = "INSERT INTO organisation (kode, navn, cvr, pnr, type) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (kode) DO NOTHING";
pub(super) const SELECT_ORGANISATION: &str =
    concat!("SELECT ", organisation_columns!(), " FROM organisation WHERE kode = $1");
pub(super) const SET_ORGANISATION_PASSIV: &str =
    "UPDATE organisation SET er_passiveret = $2, passiveret_kommentar = $3 WHERE kode = $1";
pub(super) const SELECT_ORGANISATION_TYPE: &str = "SELECT type FROM organisation WHERE kode = $1";
pub(super) const SET_SYSTEM_PASSIV: &str = "UPDATE udbydersystem SET passiv = $2 WHERE id = $1 AND NOT slettet";
pub(super) const SET_SYSTEM_BLOKERET: &str = "UPDATE udbydersystem SET blokeret = $2, blokeret_aarsag = $3 WHERE id = $1 AND NOT slettet \
     RETURNING udbyder_kode";
pub(super) const SELECT_KOMMUNE_KODE: &str = "SELECT kode FROM organisation WHERE kode = $1 AND type = 'KOMMUNE'";
pub(super) const SELECT_PRIVAT_EJER_KODE: &str =
    "SELECT kode FROM organisation WHERE cvr = $1 AND type = 'PRIVAT_EJER' ORDER BY kode";
pub(super) const INSERT_REGISTERFUND_MELDT: &str = "INSERT INTO registerfund_meldt (koersel_id, organisation_kode, meldt) VALUES ($1, $2, $3) \
     ON CONFLICT DO NOTHING";
pub(super) const INSERT_MODTAGER: &str = "INSERT INTO notifikationsmodtager (organisation_kode, email) \
     SELECT kode, $2 FROM organisation WHERE kode = $1 ON CONFLICT DO NOTHING";
pub(super) const DELETE_MODTAGER: &str =
    "DELETE FROM notifikationsmodtager WHERE organisation_kode = $1 AND email = $2";
pub(super) const SELECT_MODTAGERE: &str =
    "SELECT email FROM notifikationsmodtager WHERE organisation_kode = $1 ORDER BY email";
pub(super) const SELECT_DUE_MAIL: &str = "SELECT id, modtager, emne, tekst, CAST(forsoeg AS BIGINT) FROM outbox \
     WHERE sendt IS NULL AND naeste_forsoeg <= $1 ORDER BY id LIMIT $2";
pub(super) const CLAIM_MAIL: &str =
    "UPDATE outbox SET naeste_forsoeg = $2 WHERE id = $1 AND sendt IS NULL AND naeste_forsoeg <= $3";
pub(super) const MAIL_SENT: &str = "UPDATE outbox SET sendt = $2 WHERE id = $1";
pub(super) const MAIL_FAILED: &str =
    "UPDATE outbox SET forsoeg = forsoeg + 1, sidste_fejl = $2, naeste_forsoeg = $3 WHERE id = $1";
pub(super) const COUNT_PENDING_MAIL: &str = "SELECT COUNT(*) FROM outbox WHERE sendt IS NULL";
pub(super) const SELECT_PENDING_MAIL: &str =
    "SELECT id, modtager, emne, tekst, CAST(forsoeg AS BIGINT) FROM outbox WHERE sendt IS NULL ORDER BY id";
pub(super) const SELECT_LOGIN_SYSTEM: &str =
    "SELECT id, udbyder_kode FROM udbydersystem WHERE brugernavn = $1 AND NOT slettet";
pub(super) const SELECT_VALID_CREDENTIALS: &str =
    "SELECT hash, udloeber FROM credential WHERE system_id = $1 AND (udloeber IS NULL OR udloeber > $2)";
/// A provider's systems ('' = everyone's) matching a name, paged by id.
pub(super) const LIST_SYSTEMS: &str = concat!(
    "SELECT ",
    system_columns!(),
    " FROM udbydersystem WHERE ($1 = '' OR udbyder_kode = $1) AND ($2 = '' OR lower(navn) LIKE $2) \
     AND ($3 OR NOT slettet) AND ($6 = '' OR COALESCE(sidst_brugt, '') < $6) AND id > $4 ORDER BY id LIMIT $5"
);
pub(super) const MARK_BRUGT: &str =
    "UPDATE udbydersystem SET sidst_brugt = $2 WHERE id = $1 AND COALESCE(sidst_brugt, '') < $2";
/// Organisations of a type ('' = any) matching a name or kode, paged by kode.
pub(super) const LIST_ORGANISATIONER: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisation WHERE ($1 = '' OR type = $1) \
     AND ($2 = '' OR lower(navn) LIKE $2 OR lower(kode) LIKE $2) AND kode > $3 ORDER BY kode LIMIT $4"
);
// Agreements are shown with their system's and provider's names (and the owner's), so no page
// has to ask for them one by one.
pub(super) const GET_TILSLUTNING: &str = "SELECT a.aftale_id, a.system_id, s.navn AS system_navn, \
     u.navn AS udbyder_navn, a.servicekode, CAST(NULL AS TEXT) AS ejer_kode, CAST(NULL AS TEXT) AS ejer_navn, a.status \
     FROM tilslutningsaftale a JOIN udbydersystem s ON s.id = a.system_id JOIN organisation u ON u.kode = s.udbyder_kode \
     WHERE a.aftale_id = $1";
pub(super) const GET_DATAAFTALE: &str = "SELECT a.aftale_id, a.system_id, s.navn AS system_navn, \
     u.navn AS udbyder_navn, a.servicekode, a.ejer_kode, e.navn AS ejer_navn, a.status \
     FROM dataaftale a JOIN udbydersystem s ON s.id = a.system_id JOIN organisation u ON u.kode = s.udbyder_kode \
     LEFT JOIN organisation e ON e.kode = a.ejer_kode WHERE a.aftale_id = $1";
/// Moves an agreement on only from the status the decision was made on.
pub(super) const SKIFT_TILSLUTNING: &str =
    "UPDATE tilslutningsaftale SET status = $3 WHERE aftale_id = $1 AND status = $2";
pub(super) const SKIFT_DATAAFTALE: &str = "UPDATE dataaftale SET status = $3 WHERE aftale_id = $1 AND status = $2";
/// Connection agreements, every filter optional ('' = any), paged by id.
pub(super) const LIST_TILSLUTNINGER: &str = "SELECT a.aftale_id, a.system_id, s.navn AS system_navn, \
     u.navn AS udbyder_navn, a.servicekode, CAST(NULL AS TEXT) AS ejer_kode, CAST(NULL AS TEXT) AS ejer_navn, a.status \
     FROM tilslutningsaftale a JOIN udbydersystem s ON s.id = a.system_id JOIN organisation u ON u.kode = s.udbyder_kode \
     WHERE ($1 = '' OR a.system_id = $1) AND ($2 = '' OR a.servicekode = $2) \
     AND ($3 = '') AND ($4 = '' OR a.status = $4) AND ($5 OR a.status <> 'SLETTET') AND a.aftale_id > $6 \
     AND ($8 = '' OR s.udbyder_kode = $8) \
     ORDER BY a.aftale_id LIMIT $7";
/// Data-access agreements, every filter optional ('' = any), paged by id; $8 limits them to
/// those an organisation is a party to.
pub(super) const LIST_DATAAFTALER: &str = "SELECT a.aftale_id, a.system_id, s.navn AS system_navn, \
     u.navn AS udbyder_navn, a.servicekode, a.ejer_kode, e.navn AS ejer_navn, a.status \
     FROM dataaftale a JOIN udbydersystem s ON s.id = a.system_id JOIN organisation u ON u.kode = s.udbyder_kode \
     LEFT JOIN organisation e ON e.kode = a.ejer_kode \
     WHERE ($1 = '' OR a.system_id = $1) AND ($2 = '' OR a.servicekode = $2) \
     AND ($3 = '' OR a.ejer_kode = $3) AND ($4 = '' OR a.status = $4) AND ($5 OR a.status <> 'SLETTET') \
     AND ($8 = '' OR a.ejer_kode = $8 OR s.udbyder_kode = $8) \
     AND a.aftale_id > $6 ORDER BY a.aftale_id LIMIT $7";
pub(super) const LIVE_TILSLUTNINGER: &str =
    "SELECT aftale_id, status FROM tilslutningsaftale WHERE system_id = $1 AND status <> 'SLETTET'";
pub(super) const END_TILSLUTNING: &str = "UPDATE tilslutningsaftale SET status = 'SLETTET' WHERE aftale_id = $1";
pub(super) const LIVE_DATAAFTALER: &str =
    "SELECT aftale_id, status FROM dataaftale WHERE system_id = $1 AND status <> 'SLETTET'";
pub(super) const END_DATAAFTALE: &str = "UPDATE dataaftale SET status = 'SLETTET' WHERE aftale_id = $1";

// --- Persons of the portal ---
pub(super) const INSERT_PERSON: &str = "INSERT INTO person (id, brugernavn, navn, email, hash, oprettet) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (brugernavn) DO NOTHING";
pub(super) const SELECT_PERSON_LOGIN: &str = "SELECT id, hash FROM person WHERE brugernavn = $1";
pub(super) const SELECT_PERSON: &str = "SELECT id, brugernavn, navn, email FROM person WHERE id = $1";
pub(super) const LIST_PERSONER: &str = "SELECT id, brugernavn, navn, email FROM person \
     WHERE ($1 = '' OR lower(navn) LIKE $1 OR lower(brugernavn) LIKE $1) AND id > $2 ORDER BY id LIMIT $3";
pub(super) const SELECT_PERSON_ROLLER: &str = "SELECT r.organisation_kode, o.navn AS organisation_navn, r.rolle \
     FROM person_rolle r JOIN organisation o ON o.kode = r.organisation_kode WHERE r.person_id = $1 \
     ORDER BY r.organisation_kode, r.rolle";
// A role the operator gives is the operator's from then on, even if a provider's claim gave it first.
pub(super) const INSERT_PERSON_ROLLE: &str = "INSERT INTO person_rolle (person_id, organisation_kode, rolle) \
     VALUES ($1, $2, $3) ON CONFLICT (person_id, organisation_kode, rolle) DO UPDATE SET fra_oidc = FALSE";
pub(super) const SELECT_OIDC_PERSON: &str = "SELECT id FROM person WHERE oidc_issuer = $1 AND oidc_subject = $2";
pub(super) const UPDATE_OIDC_PERSON: &str = "UPDATE person SET navn = $2, email = $3 WHERE id = $1";
pub(super) const INSERT_OIDC_PERSON: &str = "INSERT INTO person \
     (id, brugernavn, navn, email, hash, oprettet, oidc_issuer, oidc_subject) VALUES ($1, $2, $3, $4, NULL, $5, $6, $7)";
pub(super) const DELETE_OIDC_ROLLER: &str = "DELETE FROM person_rolle WHERE person_id = $1 AND fra_oidc";
// A role the operator already gave stays the operator's.
pub(super) const INSERT_OIDC_ROLLE: &str = "INSERT INTO person_rolle (person_id, organisation_kode, rolle, fra_oidc) \
     VALUES ($1, $2, $3, TRUE) ON CONFLICT DO NOTHING";
pub(super) const SELECT_ORGANISATIONER_MED_CVR: &str =
    "SELECT kode, type FROM organisation WHERE cvr = $1 AND cvr <> '' ORDER BY kode";
pub(super) const DELETE_PERSON_ROLLE: &str =
    "DELETE FROM person_rolle WHERE person_id = $1 AND organisation_kode = $2 AND rolle = $3";
pub(super) const LIST_UDBAKKE: &str = "SELECT id, modtager, emne, CAST(forsoeg AS BIGINT) AS forsoeg, sidste_fejl, \
     sendt IS NOT NULL AS er_sendt FROM outbox ORDER BY id DESC LIMIT $1";

// --- Following the register: its anvisningsenheder as organisations of type DAGTILBUD ---
pub(super) const SELECT_REGISTERFOELGER: &str = "SELECT sekvensnummer FROM registerfoelger WHERE id = 1";
pub(super) const UPDATE_REGISTERFOELGER: &str = "UPDATE registerfoelger SET sekvensnummer = $1 WHERE id = 1";
// An organisation of another type that happens to have the same kode is never taken over.
pub(super) const UPSERT_DAGTILBUD: &str = "INSERT INTO organisation (kode, navn, cvr, pnr, type, er_passiveret, passiveret_kommentar) \
     VALUES ($1, $2, $3, $4, 'DAGTILBUD', $5, $6) \
     ON CONFLICT (kode) DO UPDATE SET navn = $2, cvr = $3, pnr = $4, er_passiveret = $5, passiveret_kommentar = $6 \
     WHERE organisation.type = 'DAGTILBUD'";
