//! Records of the agreement system (tilslutning.md).

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
}
