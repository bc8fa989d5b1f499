//! The register's external sources: DAR (Danmarks Adresseregister) for addresses and CVR for
//! production units (P-numbers). Each has two real implementations: an HTTP client for the
//! public service and local reference data (the embedded default and offline use).
//! A lookup that fails is an error the caller can retry — never a silent pass.

pub mod http;
pub mod local;

use async_trait::async_trait;

use crate::model::Adresse;

/// An address as DAR knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DarAdresse {
    pub id: String,
    pub vej_navn: String,
    pub hus_nummer: String,
    pub etage: Option<String>,
    pub doer: Option<String>,
    pub post_nummer: String,
    pub post_distrikt: String,
    pub supplerende_bynavn: Option<String>,
    pub kommune_kode: i32,
    pub geo_bredde: f64,
    pub geo_laengde: f64,
}

impl DarAdresse {
    /// The address as the register stores it: DAR's components, id, kommune and coordinates.
    pub fn to_adresse(&self) -> Adresse {
        Adresse {
            vej_navn: self.vej_navn.clone(),
            hus_nummer: self.hus_nummer.clone(),
            etage: self.etage.clone(),
            doer: self.doer.clone(),
            post_nummer: self.post_nummer.clone(),
            post_distrikt: self.post_distrikt.clone(),
            supplerende_bynavn: self.supplerende_bynavn.clone(),
            kommune_kode: self.kommune_kode,
            dar_adresse_id: Some(self.id.clone()),
            geo_bredde: Some(self.geo_bredde),
            geo_laengde: Some(self.geo_laengde),
        }
    }
}

/// A production unit as CVR knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produktionsenhed {
    pub p_nummer: String,
    pub cvr_nummer: String,
    pub navn: String,
    pub aktiv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The source did not answer in time or answered with an error: try again later.
    #[error("{kilde} kunne ikke slås op: {aarsag}")]
    Unavailable { kilde: &'static str, aarsag: String },
}

#[async_trait]
pub trait Dar: Send + Sync {
    /// The address named by `a.dar_adresse_id`, or else the one matching its components.
    async fn find(&self, a: &Adresse) -> Result<Option<DarAdresse>, LookupError>;
}

#[async_trait]
pub trait Cvr: Send + Sync {
    async fn produktionsenhed(&self, p_nummer: &str) -> Result<Option<Produktionsenhed>, LookupError>;
}

/// An address component as lookups compare it: case- and space-insensitive.
pub(crate) fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}
