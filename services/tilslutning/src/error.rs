//! The tilslutning layer's one error type. Every variant has a stable code (catalogued in
//! `docs/fejlkoder.md`) and a Danish message for the caller; the gRPC adapter maps each to a
//! status in one place. Storage failures are logged, never shown.

#[derive(Debug, thiserror::Error)]
pub enum TilslutningError {
    /// The request is malformed or breaks a limit.
    #[error("{0}")]
    Invalid(String),
    /// Nobody is named as acting.
    #[error("{0}")]
    Unauthenticated(String),
    /// The acting organisation may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The stored state does not allow it (a life-cycle step, an unregistered provider).
    #[error("{0}")]
    NotAllowedNow(String),
    /// Someone else changed it meanwhile: read it again and retry.
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Storage(String),
    /// The database could not be reached in time: nothing was done; try again.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl TilslutningError {
    pub fn code(&self) -> &'static str {
        match self {
            TilslutningError::Invalid(_) => "TIL0001",
            TilslutningError::Unauthenticated(_) => "TIL0002",
            TilslutningError::Forbidden(_) => "TIL0003",
            TilslutningError::NotFound(_) => "TIL0004",
            TilslutningError::AlreadyExists(_) => "TIL0005",
            TilslutningError::NotAllowedNow(_) => "TIL0006",
            TilslutningError::Conflict(_) => "TIL0007",
            TilslutningError::Storage(_) => "TIL0009",
            TilslutningError::Unavailable(_) => "TIL0010",
        }
    }

    /// A storage failure: "unavailable, try again" when the database gave no connection in
    /// time, else internal.
    pub fn storage(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            TilslutningError::Unavailable(e.to_string())
        } else {
            TilslutningError::Storage(e.to_string())
        }
    }
}

pub type Result<T, E = TilslutningError> = std::result::Result<T, E>;

/// Refuses a text with a character the register's answers cannot carry (control characters,
/// U+FFFE/U+FFFF), naming the field and the character.
pub fn tekst<'a>(felt: &str, value: &'a str) -> Result<&'a str> {
    match dtr_proto::tekst::first_unpublishable(value) {
        None => Ok(value),
        Some(c) => {
            Err(TilslutningError::Invalid(format!("{felt} indeholder tegnet U+{:04X}, som ikke kan bruges", c as u32)))
        }
    }
}
