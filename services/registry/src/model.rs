//! The three levels of the register and the fields the register maintains itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aktivitetsstatus {
    Aktiv,
    Nedlagt,
}

impl Aktivitetsstatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Aktivitetsstatus::Aktiv => "Aktiv",
            Aktivitetsstatus::Nedlagt => "Nedlagt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Aktiv" => Some(Aktivitetsstatus::Aktiv),
            "Nedlagt" => Some(Aktivitetsstatus::Nedlagt),
            _ => None,
        }
    }
}

/// Fields every unit carries that only the register sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registerfelter {
    pub aktivitetsstatus: Aktivitetsstatus,
    pub oprettet_dato: DateTime<Utc>,
    pub senest_aendret: DateTime<Utc>,
    pub nedlagt_dato: Option<DateTime<Utc>>,
    pub version: i64,
}

/// Level 1 as a caller sends it (no number: the register issues it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaginstitutionData {
    pub navn: String,
    pub ejerform_kode: i32,
    pub lovgrundlag_kode: i32,
    pub adm_kommune_kode: i32,
    /// Our extension: the private owner's CVR (ejerform Privat).
    pub ejer_cvr_nummer: Option<String>,
}

/// Level 1 as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Daginstitution {
    pub nummer: String,
    pub data: DaginstitutionData,
    pub register: Registerfelter,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Adresse {
    pub vej_navn: String,
    pub hus_nummer: String,
    pub etage: Option<String>,
    pub doer: Option<String>,
    pub post_nummer: String,
    pub post_distrikt: String,
    pub supplerende_bynavn: Option<String>,
    pub kommune_kode: i32,
    pub dar_adresse_id: Option<String>,
    pub geo_bredde: Option<f64>,
    pub geo_laengde: Option<f64>,
}

/// Level 2 as a caller sends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AnvisningsenhedData {
    pub daginstitutions_nummer: String,
    pub navn: String,
    pub adresse: Adresse,
    pub inst_type3: i32,
    pub email: Option<String>,
    pub telefon_nummer: Option<String>,
    pub p_nummer: String,
}

/// Level 2 as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anvisningsenhed {
    pub nummer: String,
    pub data: AnvisningsenhedData,
    /// Filled from the P-number through CVR.
    pub cvr_nummer: Option<String>,
    pub register: Registerfelter,
}

/// Level 3 as a caller sends it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlternativAdresseData {
    pub enheds_nummer: String,
    pub navn: String,
    pub adresse: Adresse,
    pub p_nummer: Option<String>,
    pub email: Option<String>,
    pub telefon_nummer: Option<String>,
}

/// Level 3 as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlternativAdresse {
    pub nummer: String,
    pub data: AlternativAdresseData,
    pub cvr_nummer: Option<String>,
    pub register: Registerfelter,
}

/// One daginstitution with its anvisningsenheder and their alternative addresses: the nested
/// `dagtilbudsRegister` record of the full extracts.
#[derive(Debug, Clone, PartialEq)]
pub struct Dagtilbud {
    pub daginstitution: Daginstitution,
    pub anvisningsenheder: Vec<(Anvisningsenhed, Vec<AlternativAdresse>)>,
}

/// The form of a name that name search compares: Unicode lowercase, so "Æblehaven" is found by
/// "æble" on every backend.
pub fn soegenavn(navn: &str) -> String {
    navn.to_lowercase()
}

/// Which rules a write follows: v1 skips the cross-validation (rule 11), v2 applies it. Both are
/// served side by side on versioned endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Regelsaet {
    V1,
    #[default]
    V2,
}

/// Who made a change, recorded with it (rule 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aktoer {
    pub system: String,
    pub organisation: Option<String>,
    pub correlation_id: String,
    /// The request that asks for the write, as the audit names it: the published operation
    /// (`InsertDaginstitution`, …) for the ImportService, or what an internal job calls itself.
    pub operation: String,
    /// The request's WS-Addressing MessageID, when it has one: a repeat of the same write with
    /// the same (system, MessageID) within 24 hours is answered with the first write's result
    /// and writes nothing.
    pub message_id: Option<MessageId>,
}

/// A write's retry key and what the write was, so that a key used again for another request is
/// refused rather than answered with the first write's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId {
    pub id: String,
    /// A fingerprint of the request's content (the operation is the `Aktoer`'s).
    pub aftryk: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Enhedstype {
    Daginstitution,
    Anvisningsenhed,
    AlternativAdresse,
}

impl Enhedstype {
    pub fn as_str(self) -> &'static str {
        match self {
            Enhedstype::Daginstitution => "daginstitution",
            Enhedstype::Anvisningsenhed => "anvisningsenhed",
            Enhedstype::AlternativAdresse => "alternativ_adresse",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Enhedstype::Daginstitution, Enhedstype::Anvisningsenhed, Enhedstype::AlternativAdresse]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handling {
    Oprettet,
    Aendret,
    Flyttet,
    Nedlagt,
}

impl Handling {
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Oprettet => "oprettet",
            Handling::Aendret => "aendret",
            Handling::Flyttet => "flyttet",
            Handling::Nedlagt => "nedlagt",
        }
    }
}

/// A unit of the register as it was before this one (created before 30 August 2019), loaded
/// with the number it already has (`dtr import-legacy`).
#[derive(Debug, Clone, PartialEq)]
pub enum HistoriskEnhed {
    Daginstitution(Daginstitution),
    Anvisningsenhed(Anvisningsenhed),
    AlternativAdresse(AlternativAdresse),
}
