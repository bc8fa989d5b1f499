//! The refusal codes of the call-time access decision (docs/tilslutning.md, steps 2–5), shared by the
//! tilslutning service that decides and the gateway that shows them as SOAP faults. Stable:
//! catalogued in `docs/gateway-fejlkoder.md`.

/// Why the agreements do not allow a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Afvisningskode {
    /// The system is passive, or its provider organisation is.
    SystemPassiv,
    /// The operator blocked the system (or it no longer exists).
    SystemBlokeret,
    IngenTilslutning,
    TilslutningVenter,
    TilslutningAfvist,
    /// No approved data-access agreement with an owner the call concerns.
    IngenDataaftale,
    /// The operation is not in the service catalogue.
    UkendtOperation,
    /// The day's full extracts are used up.
    UdtraekOpbrugt,
}

impl Afvisningskode {
    pub const ALL: [Afvisningskode; 8] = [
        Afvisningskode::SystemPassiv,
        Afvisningskode::SystemBlokeret,
        Afvisningskode::IngenTilslutning,
        Afvisningskode::TilslutningVenter,
        Afvisningskode::TilslutningAfvist,
        Afvisningskode::IngenDataaftale,
        Afvisningskode::UkendtOperation,
        Afvisningskode::UdtraekOpbrugt,
    ];

    /// The code on the wire (`CheckAccessResponse.fejlkode`, the fault's `ErrorCode`).
    pub fn kode(self) -> &'static str {
        match self {
            Afvisningskode::SystemPassiv => "IPL000010",
            Afvisningskode::SystemBlokeret => "IPL000011",
            Afvisningskode::IngenTilslutning => "IPL000012",
            Afvisningskode::TilslutningVenter => "IPL000013",
            Afvisningskode::TilslutningAfvist => "IPL000014",
            Afvisningskode::IngenDataaftale => "IPL000015",
            Afvisningskode::UkendtOperation => "IPL000016",
            Afvisningskode::UdtraekOpbrugt => "IPL000017",
        }
    }

    pub fn fra_kode(kode: &str) -> Option<Afvisningskode> {
        Self::ALL.into_iter().find(|a| a.kode() == kode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_read_back() {
        for a in Afvisningskode::ALL {
            assert_eq!(Afvisningskode::fra_kode(a.kode()), Some(a));
        }
        assert_eq!(Afvisningskode::fra_kode("IPL000001"), None);
    }
}
