//! The call-time access decision (docs/tilslutning.md, enforcement steps 2–4): pure rules over the
//! facts the store reads. The codes are the shared [`Afvisningskode`], listed in
//! docs/gateway-fejlkoder.md.

use Afvisningskode::*;
pub use dtr_proto::afvisning::Afvisningskode;

use crate::model::{AdgangFakta, AftaleStatus, Dataejer, EjerFakta};

/// The refusal when a system has used its full extracts for the day.
pub fn udtraek_opbrugt(limit: u32) -> Afvisning {
    Afvisning {
        kode: UdtraekOpbrugt,
        besked: format!(
            "Systemet har brugt sine {limit} fulde udtræk i dag (UTC). Hent ændringer med GetAendringerSiden, eller prøv igen i morgen."
        ),
    }
}

/// Why a call is refused: a stable code and a Danish message naming what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Afvisning {
    pub kode: Afvisningskode,
    pub besked: String,
}

fn afvis(kode: Afvisningskode, besked: String) -> Result<(), Afvisning> {
    Err(Afvisning { kode, besked })
}

fn ejer_navn(e: &EjerFakta) -> String {
    let id = match &e.ejer {
        Dataejer::Kommune(k) => format!("kommune {k}"),
        Dataejer::PrivatEjer(cvr) => format!("den private ejer med CVR-nummer {cvr}"),
    };
    match &e.navn {
        Some(navn) => format!("{id} ({navn})"),
        None => id,
    }
}

/// Whether the system may call `operation` of `servicekode` for the owners in `fakta`.
pub fn decide(fakta: &AdgangFakta, servicekode: &str, operation: &str) -> Result<(), Afvisning> {
    let Some(system) = &fakta.system else {
        return afvis(SystemBlokeret, "Systemet findes ikke længere.".into());
    };
    if system.blokeret {
        let aarsag =
            if system.blokeret_aarsag.is_empty() { String::new() } else { format!(": {}", system.blokeret_aarsag) };
        return afvis(SystemBlokeret, format!("Systemet er blokeret af driften{aarsag}. Kontakt STIL."));
    }
    if system.passiv {
        return afvis(SystemPassiv, "Systemet er passivt. Leverandøren kan aktivere det igen.".into());
    }
    if system.udbyder_passiv {
        return afvis(SystemPassiv, "Leverandøren bag systemet er passiveret hos STIL. Kontakt STIL.".into());
    }
    let Some(kraever_dataaftale) = fakta.kraever_dataaftale else {
        return afvis(
            UkendtOperation,
            format!("Operationen {operation} findes ikke i servicekataloget for {servicekode}."),
        );
    };
    match fakta.tilslutning {
        Some(AftaleStatus::Godkendt) => {}
        Some(AftaleStatus::Venter) => {
            return afvis(
                TilslutningVenter,
                format!("Systemets tilslutningsaftale for {servicekode} afventer godkendelse hos STIL."),
            );
        }
        Some(AftaleStatus::Afvist) => {
            return afvis(
                TilslutningAfvist,
                format!("Systemets tilslutningsaftale for {servicekode} er afvist eller lukket."),
            );
        }
        None | Some(AftaleStatus::Slettet) => {
            return afvis(IngenTilslutning, format!("Systemet har ingen tilslutningsaftale for {servicekode}."));
        }
    }
    if !kraever_dataaftale {
        return Ok(());
    }
    let mangler: Vec<String> = fakta
        .ejere
        .iter()
        .filter(|e| e.dataaftale != Some(AftaleStatus::Godkendt))
        .map(|e| match e.dataaftale {
            Some(AftaleStatus::Venter) => format!("{} (afventer godkendelse)", ejer_navn(e)),
            Some(AftaleStatus::Afvist) => format!("{} (afvist)", ejer_navn(e)),
            _ => ejer_navn(e),
        })
        .collect();
    if mangler.is_empty() {
        return Ok(());
    }
    afvis(
        IngenDataaftale,
        format!("Systemet har ingen godkendt dataaftale med {} for {servicekode}.", mangler.join(" og ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SystemTilstand;

    fn fakta() -> AdgangFakta {
        AdgangFakta {
            system: Some(SystemTilstand {
                passiv: false,
                blokeret: false,
                blokeret_aarsag: String::new(),
                udbyder_passiv: false,
            }),
            kraever_dataaftale: Some(true),
            tilslutning: Some(AftaleStatus::Godkendt),
            ejere: vec![EjerFakta {
                ejer: Dataejer::Kommune("101".into()),
                navn: Some("København Kommune".into()),
                dataaftale: Some(AftaleStatus::Godkendt),
            }],
        }
    }

    fn kode(f: &AdgangFakta) -> Option<Afvisningskode> {
        decide(f, "ImportService", "InsertDaginstitution").err().map(|a| a.kode)
    }

    #[test]
    fn each_step_refuses_with_its_code() {
        assert_eq!(kode(&fakta()), None);
        let mut f = fakta();
        f.system.as_mut().unwrap().blokeret = true;
        f.system.as_mut().unwrap().passiv = true;
        assert_eq!(kode(&f), Some(SystemBlokeret), "blocked wins over passive");
        let mut f = fakta();
        f.system.as_mut().unwrap().passiv = true;
        assert_eq!(kode(&f), Some(SystemPassiv));
        let mut f = fakta();
        f.system.as_mut().unwrap().udbyder_passiv = true;
        assert_eq!(kode(&f), Some(SystemPassiv), "a passive provider's systems are refused");
        let mut f = fakta();
        f.kraever_dataaftale = None;
        assert_eq!(kode(&f), Some(UkendtOperation));
        for (status, want) in [
            (None, IngenTilslutning),
            (Some(AftaleStatus::Slettet), IngenTilslutning),
            (Some(AftaleStatus::Venter), TilslutningVenter),
            (Some(AftaleStatus::Afvist), TilslutningAfvist),
        ] {
            let mut f = fakta();
            f.tilslutning = status;
            assert_eq!(kode(&f), Some(want), "{status:?}");
        }
        let mut f = fakta();
        f.ejere.push(EjerFakta { ejer: Dataejer::PrivatEjer("29189854".into()), navn: None, dataaftale: None });
        let a = decide(&f, "ImportService", "UpdateDaginstitution").unwrap_err();
        assert_eq!(a.kode, IngenDataaftale);
        assert_eq!(
            a.besked,
            "Systemet har ingen godkendt dataaftale med den private ejer med CVR-nummer 29189854 for ImportService."
        );
        f.kraever_dataaftale = Some(false);
        assert_eq!(kode(&f), None, "reads need no data-access agreement");
    }
}
