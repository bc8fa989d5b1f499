//! Records of the agreement system (docs/tilslutning.md).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganisationType {
    Institution,
    Dagtilbud,
    Restinstitution,
    Udbyder,
    Kommune,
    PrivatEjer,
}

impl OrganisationType {
    pub fn parse(s: &str) -> Option<OrganisationType> {
        Some(match s {
            "INSTITUTION" => OrganisationType::Institution,
            "DAGTILBUD" => OrganisationType::Dagtilbud,
            "RESTINSTITUTION" => OrganisationType::Restinstitution,
            "UDBYDER" => OrganisationType::Udbyder,
            "KOMMUNE" => OrganisationType::Kommune,
            "PRIVAT_EJER" => OrganisationType::PrivatEjer,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationType::Institution => "INSTITUTION",
            OrganisationType::Dagtilbud => "DAGTILBUD",
            OrganisationType::Restinstitution => "RESTINSTITUTION",
            OrganisationType::Udbyder => "UDBYDER",
            OrganisationType::Kommune => "KOMMUNE",
            OrganisationType::PrivatEjer => "PRIVAT_EJER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub kode: String,
    pub navn: String,
    pub cvr: String,
    pub pnr: String,
    pub type_: OrganisationType,
}

/// Statuses of both agreement kinds (the real ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AftaleStatus {
    Venter,
    Godkendt,
    Afvist,
    Slettet,
}

impl AftaleStatus {
    pub fn parse(s: &str) -> Option<AftaleStatus> {
        Some(match s {
            "VENTER" => AftaleStatus::Venter,
            "GODKENDT" => AftaleStatus::Godkendt,
            "AFVIST" => AftaleStatus::Afvist,
            "SLETTET" => AftaleStatus::Slettet,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AftaleStatus::Venter => "VENTER",
            AftaleStatus::Godkendt => "GODKENDT",
            AftaleStatus::Afvist => "AFVIST",
            AftaleStatus::Slettet => "SLETTET",
        }
    }
}

/// A service of the catalogue with its operations and whether each needs a data-access agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    pub servicekode: String,
    pub navn: String,
    pub beskrivelse: String,
    /// What the service is for, and which data it carries (for providers choosing services).
    pub formaal: String,
    pub data: String,
    pub operationer: Vec<(String, bool)>,
    pub versioner: Vec<String>,
}

/// What authentication needs to know of a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLogin {
    pub system_id: String,
    pub udbyder_kode: String,
    /// argon2id PHC strings of every password currently valid (two during a rotation).
    pub hashes: Vec<String>,
    /// When the first of those stops working (the old one of a rotation), if any does.
    pub udloeber: Option<chrono::DateTime<chrono::Utc>>,
}

/// A data owner as the registry names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dataejer {
    /// A kommune by its code (also its organisation kode).
    Kommune(String),
    /// A private owner by its CVR number.
    PrivatEjer(String),
}

/// A system's own state as access decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemTilstand {
    pub passiv: bool,
    pub blokeret: bool,
    pub blokeret_aarsag: String,
    /// The owning provider organisation is passive: none of its systems may call.
    pub udbyder_passiv: bool,
}

/// One owner of a call: its name if it is a known organisation, and the live data-access
/// agreement of the calling system with it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EjerFakta {
    pub ejer: Dataejer,
    pub navn: Option<String>,
    pub dataaftale: Option<AftaleStatus>,
}

/// Everything an access decision needs, read in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdgangFakta {
    /// `None`: the system does not exist (any more).
    pub system: Option<SystemTilstand>,
    /// `None`: the operation (or the whole service) is not in the catalogue.
    pub kraever_dataaftale: Option<bool>,
    /// The live connection agreement's status, if any.
    pub tilslutning: Option<AftaleStatus>,
    pub ejere: Vec<EjerFakta>,
}

/// One refused call, for the durable access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Afvisningslog {
    pub brugernavn: String,
    pub system_id: String,
    pub servicekode: String,
    pub operation: String,
    pub fejlkode: String,
    pub besked: String,
    pub correlation_id: String,
}

/// The two agreement kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AftaleArt {
    /// Tilslutningsaftale: system × service, decided by the operator.
    Tilslutning,
    /// Dataaftale: system × service × owner, decided by the owner.
    Data,
}

/// One change of an agreement's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorikLinje {
    /// The organisation that made the change.
    pub aktoer: String,
    /// The person who made it in the portal (their name), if a person did.
    pub person: Option<String>,
    pub tidspunkt: chrono::DateTime<chrono::Utc>,
    pub fra: Option<AftaleStatus>,
    pub til: AftaleStatus,
    pub kommentar: String,
}

/// An anvisningsenhed of the register as an organisation here (type DAGTILBUD), so its data
/// access can be administered: its number is the organisation's kode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagtilbudOrganisation {
    pub kode: String,
    pub navn: String,
    pub cvr: String,
    pub pnr: String,
    /// Closed in the register: the organisation is made passive.
    pub aktiv: bool,
}

/// Who makes a change: the organisation acted for (which the rules look at) and, for a person
/// in the portal, the person (whom the history names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hvem<'a> {
    pub organisation: &'a str,
    pub person_id: Option<&'a str>,
}

impl<'a> From<&'a str> for Hvem<'a> {
    /// An organisation acting with no person named (the admin console, the demo data, tests).
    fn from(organisation: &'a str) -> Self {
        Hvem { organisation, person_id: None }
    }
}

/// An agreement of either kind with its history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aftale {
    pub aftale_id: String,
    pub system_id: String,
    /// The system's and its provider's names, for people to read.
    pub system_navn: String,
    pub udbyder_navn: String,
    pub servicekode: String,
    /// The owner's organisation kode (data-access agreements only).
    pub ejer_kode: Option<String>,
    /// The owner's name, when the owner is a registered organisation.
    pub ejer_navn: Option<String>,
    pub status: AftaleStatus,
    pub historik: Vec<HistorikLinje>,
}

/// Which agreements a listing shows, a page at a time (by agreement id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AftaleFilter {
    pub system_id: Option<String>,
    pub servicekode: Option<String>,
    pub ejer_kode: Option<String>,
    pub status: Option<AftaleStatus>,
    pub med_slettede: bool,
    /// The last agreement id of the previous page.
    pub efter: Option<String>,
    pub max: i64,
    /// Only agreements this organisation is a party to: its own systems' (as provider) or, for
    /// data-access agreements, those where it is the owner. `None`: all (the operator).
    pub part_i: Option<String>,
}

/// A provider's system as listed (never its credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    pub id: String,
    pub navn: String,
    pub udbyder_kode: String,
    pub brugernavn: String,
    pub passiv: bool,
    pub blokeret: bool,
    pub blokeret_aarsag: String,
    pub slettet: bool,
    pub kontakt: Kontaktperson,
    /// The day (YYYY-MM-DD, UTC) it last logged in; `None` if never.
    pub sidst_brugt: Option<String>,
}

/// Who at the provider answers for a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kontaktperson {
    pub navn: String,
    pub email: String,
    pub telefon: String,
}

/// An organisation as listed, with its passive flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationInfo {
    pub organisation: Organisation,
    pub er_passiveret: bool,
    pub passiveret_kommentar: String,
}

/// What a person may do for one organisation (docs/portal.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rolle {
    /// A provider's systems and their agreements.
    Udbyderadministrator,
    /// An owner's data-access agreements and notifications.
    Dataadgangsadministrator,
    /// STIL: providers, the catalogue, connection requests, blocking, the outbox, persons.
    Operatoer,
    /// STIL/BSM: maintains the register by hand.
    Registeradministrator,
}

impl Rolle {
    pub const ALL: [Rolle; 4] =
        [Rolle::Udbyderadministrator, Rolle::Dataadgangsadministrator, Rolle::Operatoer, Rolle::Registeradministrator];

    pub fn as_str(self) -> &'static str {
        match self {
            Rolle::Udbyderadministrator => "UDBYDERADMINISTRATOR",
            Rolle::Dataadgangsadministrator => "DATAADGANGSADMINISTRATOR",
            Rolle::Operatoer => "OPERATOER",
            Rolle::Registeradministrator => "REGISTERADMINISTRATOR",
        }
    }

    pub fn parse(s: &str) -> Option<Rolle> {
        Rolle::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the role can be held for an organisation of this type (and kode): provider
    /// administrators for providers, data-access administrators for owners, the operator's roles
    /// for STIL only.
    pub fn passer_til(self, kode: &str, type_: OrganisationType) -> bool {
        use OrganisationType as T;
        match self {
            Rolle::Udbyderadministrator => type_ == T::Udbyder && kode != crate::livscyklus::OPERATOER,
            Rolle::Dataadgangsadministrator => {
                matches!(type_, T::Kommune | T::Institution | T::Dagtilbud | T::PrivatEjer | T::Restinstitution)
            }
            Rolle::Operatoer | Rolle::Registeradministrator => kode == crate::livscyklus::OPERATOER,
        }
    }
}

/// A person's role for one organisation, with its name for the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolletildeling {
    pub organisation_kode: String,
    pub organisation_navn: String,
    pub rolle: Rolle,
}

/// A person who logs in at the portal (never their password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInfo {
    pub id: String,
    pub brugernavn: String,
    pub navn: String,
    pub email: String,
    pub roller: Vec<Rolletildeling>,
}

/// A local account's login: the person and the stored hash (none: OIDC only).
#[derive(Debug, Clone)]
pub struct PersonLogin {
    pub id: String,
    pub hash: Option<String>,
}
