//! The registry layer's one error type, and the catalogue of in-band ImportSvar errors.
//! The catalogue is documented in `docs/fejlkoder.md`; codes are stable.

use serde::{Deserialize, Serialize};

/// Stable codes of the errors an ImportSvar can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FejlKode {
    /// A required field is missing or empty.
    FeltMangler,
    /// A field is longer than its maximum width.
    FeltForLangt,
    /// A field does not have the required format (digits, e-mail, number shape).
    UgyldigFormat,
    /// A coded field holds a value that is not in its code table.
    UkendtKode,
    /// A number was sent on insert; the register issues numbers itself.
    NummerIkkeTilladt,
    /// A text holds a character the register cannot publish (control characters, U+FFFE/U+FFFF).
    UlovligtTegn,
    /// The unit named does not exist.
    UkendtNummer,
    /// The unit is closed (nedlagt) and can no longer be changed, moved or closed again.
    EnhedNedlagt,
    /// The unit has active units below it and cannot be closed (no cascading delete).
    AktiveUnderenheder,
    /// An update names another parent: moving is MoveAnvisningsEnhed's job.
    FlytMedMove,
    /// A move across administrative kommuner (rule 9).
    AndenKommune,
    /// The (ejerform, lovgrundlag, InstType3) combination is not lawful (v2 cross-validation).
    UlovligKombination,
    /// DAR could not be reached or failed; nothing was written. Retry later.
    DarUtilgaengelig,
    /// DAR does not know the address.
    AdresseUkendt,
    /// CVR could not be reached or failed; nothing was written. Retry later.
    CvrUtilgaengelig,
    /// CVR does not know the P-number.
    PNummerUkendt,
    /// The P-number's production unit has ended in CVR.
    PNummerOphoert,
    /// Found by the periodic check: an active daginstitution has no active anvisningsenhed (rule 6).
    IngenAktiveEnheder,
    /// The series of institution numbers is used up.
    NumreOpbrugt,
    /// The unit was changed by someone else since the caller read it.
    Samtidighedskonflikt,
    /// The WS-Addressing MessageID was used by this system within 24 hours for another request.
    MessageIdGenbrugt,
}

impl FejlKode {
    pub fn code(self) -> &'static str {
        match self {
            FejlKode::FeltMangler => "DTR0101",
            FejlKode::FeltForLangt => "DTR0102",
            FejlKode::UgyldigFormat => "DTR0103",
            FejlKode::UkendtKode => "DTR0104",
            FejlKode::NummerIkkeTilladt => "DTR0105",
            FejlKode::UlovligtTegn => "DTR0106",
            FejlKode::UkendtNummer => "DTR0201",
            FejlKode::EnhedNedlagt => "DTR0202",
            FejlKode::AktiveUnderenheder => "DTR0203",
            FejlKode::FlytMedMove => "DTR0204",
            FejlKode::AndenKommune => "DTR0206",
            FejlKode::UlovligKombination => "DTR0301",
            FejlKode::DarUtilgaengelig => "DTR0401",
            FejlKode::AdresseUkendt => "DTR0402",
            FejlKode::CvrUtilgaengelig => "DTR0403",
            FejlKode::PNummerUkendt => "DTR0404",
            FejlKode::PNummerOphoert => "DTR0405",
            FejlKode::IngenAktiveEnheder => "DTR0501",
            FejlKode::NumreOpbrugt => "DTR0901",
            FejlKode::Samtidighedskonflikt => "DTR0902",
            FejlKode::MessageIdGenbrugt => "DTR0903",
        }
    }
}

/// One error of an ImportSvar: code, the field it concerns (wire name), Danish message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fejl {
    pub kode: FejlKode,
    pub felt: String,
    pub besked: String,
}

impl Fejl {
    pub fn new(kode: FejlKode, felt: &str, besked: impl Into<String>) -> Self {
        Fejl { kode, felt: felt.to_owned(), besked: besked.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Business-rule failures: answered in-band in an ImportSvar, every one found.
    #[error("the request breaks {} rule(s)", .0.len())]
    Afvist(Vec<Fejl>),
    /// Storage failed; the write did not happen. Text is for logs, never for callers.
    #[error("storage: {0}")]
    Storage(String),
    /// The database could not be reached or gave no connection in time: nothing was done; try
    /// again.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The commit was sent and its answer lost: the write may have been made.
    #[error("commit outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The request's MessageID was used by the same system within 24 hours: the first write's
    /// answer (unit `0`), nothing written now.
    #[error("already done as {0}")]
    AlreadyDone(String),
}

impl RegistryError {
    pub fn afvist(f: Fejl) -> Self {
        RegistryError::Afvist(vec![f])
    }
}
