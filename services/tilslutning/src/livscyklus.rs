//! Life cycles of the two agreement kinds (docs/tilslutning.md): which status changes are allowed and
//! who may make them. Pure rules; the store applies an allowed change atomically with its history.

use crate::model::AftaleStatus::{self, Afvist, Godkendt, Slettet, Venter};

/// The platform operator's organisation kode.
pub const OPERATOER: &str = "STIL";

/// A refused change, in Danish, naming the statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UlovligOvergang(pub String);

fn ulovlig(hvad: &str, fra: AftaleStatus, til: AftaleStatus) -> UlovligOvergang {
    UlovligOvergang(format!("{hvad} kan ikke gå fra {} til {}.", fra.as_str(), til.as_str()))
}

/// Data-access agreements, decided by the owner: VENTER → GODKENDT | AFVIST; GODKENDT → VENTER
/// | AFVIST (revoke, put on hold); AFVIST → GODKENDT | VENTER; any → SLETTET, which is final.
pub fn dataaftale(fra: AftaleStatus, til: AftaleStatus) -> Result<(), UlovligOvergang> {
    match (fra, til) {
        (Venter, Godkendt | Afvist) | (Godkendt, Venter | Afvist) | (Afvist, Godkendt | Venter) => Ok(()),
        (Venter | Godkendt | Afvist, Slettet) => Ok(()),
        _ => Err(ulovlig("En dataaftale", fra, til)),
    }
}

/// Connection agreements, decided by the operator: VENTER → GODKENDT | AFVIST; GODKENDT →
/// AFVIST (closed, with a reason); AFVIST → GODKENDT (reopened); any → SLETTET (final).
/// **[decision]** the operator does not put an approved connection back to VENTER: a closed one
/// is reopened by the provider's new request (AFVIST → VENTER, see [`genanmod`]).
pub fn tilslutning(fra: AftaleStatus, til: AftaleStatus) -> Result<(), UlovligOvergang> {
    match (fra, til) {
        (Venter, Godkendt | Afvist) | (Godkendt, Afvist) | (Afvist, Godkendt) => Ok(()),
        (Venter | Godkendt | Afvist, Slettet) => Ok(()),
        _ => Err(ulovlig("En tilslutningsaftale", fra, til)),
    }
}

/// A provider's repeated request for a live agreement: a rejected one goes back to VENTER, a
/// waiting or approved one is returned unchanged (`None`).
pub fn genanmod(fra: AftaleStatus) -> Option<AftaleStatus> {
    (fra == Afvist).then_some(Venter)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AftaleStatus; 4] = [Venter, Godkendt, Afvist, Slettet];

    #[test]
    fn every_data_agreement_transition() {
        let allowed = [
            (Venter, Godkendt),
            (Venter, Afvist),
            (Godkendt, Venter),
            (Godkendt, Afvist),
            (Afvist, Godkendt),
            (Afvist, Venter),
            (Venter, Slettet),
            (Godkendt, Slettet),
            (Afvist, Slettet),
        ];
        for fra in ALL {
            for til in ALL {
                assert_eq!(dataaftale(fra, til).is_ok(), allowed.contains(&(fra, til)), "{fra:?} → {til:?}");
            }
        }
        assert_eq!(dataaftale(Slettet, Venter).unwrap_err().0, "En dataaftale kan ikke gå fra SLETTET til VENTER.");
    }

    #[test]
    fn every_connection_transition() {
        let allowed = [
            (Venter, Godkendt),
            (Venter, Afvist),
            (Godkendt, Afvist),
            (Afvist, Godkendt),
            (Venter, Slettet),
            (Godkendt, Slettet),
            (Afvist, Slettet),
        ];
        for fra in ALL {
            for til in ALL {
                assert_eq!(tilslutning(fra, til).is_ok(), allowed.contains(&(fra, til)), "{fra:?} → {til:?}");
            }
        }
        assert_eq!(genanmod(Afvist), Some(Venter));
        assert_eq!(genanmod(Godkendt), None);
    }
}
