//! Field rules of docs/registry.md §5 (rule 1 and the CVR check of rule 3). Every check runs and every
//! failure is reported, not just the first.

use crate::codes::{self, CodeTables};
use crate::error::{Fejl, FejlKode};
use crate::model::{AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};

/// Maximum width of names and e-mail addresses.
pub const MAX_NAVN: usize = 132;
/// `ejerformKode` of privately owned dagtilbud, whose owner is identified by CVR.
pub const EJERFORM_PRIVAT: i32 = 3;

/// Characters the register can publish: its answers are XML 1.0 and its files are read by
/// spreadsheets, so tab, line feed, carriage return and the printable range — no other control
/// character (C0, DEL, C1; XML 1.0 forbids the C0 ones and discourages the rest) and not
/// U+FFFE/U+FFFF (Rust strings hold no lone surrogates). Anything else would break every reader
/// of a change feed that carries it.
pub fn tegn_tilladt(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Refuses a text with a character the register cannot publish, naming it.
fn publishable(out: &mut Vec<Fejl>, felt: &str, value: Option<&str>) {
    if let Some(c) = value.and_then(|v| v.chars().find(|c| !tegn_tilladt(*c))) {
        out.push(Fejl::new(
            FejlKode::UlovligtTegn,
            felt,
            format!("Feltet {felt} indeholder tegnet U+{:04X}, som ikke kan bruges i registeret.", c as u32),
        ));
    }
}

/// Every text field of an address.
fn publishable_adresse(out: &mut Vec<Fejl>, a: &crate::model::Adresse) {
    for (felt, value) in [
        ("Adresse.vejNavn", Some(a.vej_navn.as_str())),
        ("Adresse.husNummer", Some(a.hus_nummer.as_str())),
        ("Adresse.etage", a.etage.as_deref()),
        ("Adresse.doer", a.doer.as_deref()),
        ("Adresse.postNummer", Some(a.post_nummer.as_str())),
        ("Adresse.postDistrikt", Some(a.post_distrikt.as_str())),
        ("Adresse.supplerendeBynavn", a.supplerende_bynavn.as_deref()),
        ("Adresse.darAdresseId", a.dar_adresse_id.as_deref()),
    ] {
        publishable(out, felt, value);
    }
}

/// A code table's text: present, at most `max` characters, publishable.
pub fn check_kodetekst(tekst: &str, max: usize) -> Vec<Fejl> {
    let mut out = Vec::new();
    required_text(&mut out, "tekst", tekst, max);
    out
}

/// Checks presence and width of a required text field.
fn required_text(out: &mut Vec<Fejl>, felt: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        out.push(Fejl::new(FejlKode::FeltMangler, felt, format!("Feltet {felt} skal udfyldes.")));
    } else if value.chars().count() > max {
        out.push(Fejl::new(FejlKode::FeltForLangt, felt, format!("Feltet {felt} må højst være {max} tegn.")));
    } else {
        publishable(out, felt, Some(value));
    }
}

/// Checks presence of a coded field and that its value is in the code table.
fn required_code(out: &mut Vec<Fejl>, codes: &CodeTables, felt: &str, tabel: &str, value: i32) {
    if value == 0 {
        out.push(Fejl::new(FejlKode::FeltMangler, felt, format!("Feltet {felt} skal udfyldes.")));
    } else if !codes.contains(tabel, value) {
        out.push(Fejl::new(
            FejlKode::UkendtKode,
            felt,
            format!("Værdien {value} i feltet {felt} findes ikke i kodetabellen {tabel}."),
        ));
    }
}

/// Width of a phone number.
pub const MAX_TELEFON: usize = 20;

/// Checks width and shape of an optional e-mail address.
fn optional_email(out: &mut Vec<Fejl>, felt: &str, value: Option<&str>) {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return };
    if v.chars().any(|c| !tegn_tilladt(c)) {
        publishable(out, felt, Some(v));
    } else if v.chars().count() > MAX_NAVN {
        out.push(Fejl::new(FejlKode::FeltForLangt, felt, format!("Feltet {felt} må højst være {MAX_NAVN} tegn.")));
    } else if !v.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !v.contains(' ')) {
        out.push(Fejl::new(FejlKode::UgyldigFormat, felt, format!("Feltet {felt} skal være en e-mailadresse.")));
    }
}

fn optional_max(out: &mut Vec<Fejl>, felt: &str, value: Option<&str>, max: usize) {
    if value.is_some_and(|v| v.trim().chars().count() > max) {
        out.push(Fejl::new(FejlKode::FeltForLangt, felt, format!("Feltet {felt} må højst være {max} tegn.")));
    } else {
        publishable(out, felt, value);
    }
}

/// A P-number: 10 digits.
pub fn is_valid_p_nummer(p: &str) -> bool {
    p.len() == 10 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Rule 1 for an anvisningsenhed: presence, widths, formats and codes. The address needs the DAR
/// id or its components (street, house number, postcode).
pub fn check_anvisningsenhed(a: &AnvisningsenhedData, codes: &CodeTables) -> Vec<Fejl> {
    let mut out = Vec::new();
    required_text(&mut out, "daginstitutionsNummer", &a.daginstitutions_nummer, 6);
    required_text(&mut out, "EnhedsNavn", &a.navn, MAX_NAVN);
    required_adresse(&mut out, &a.adresse);
    publishable_adresse(&mut out, &a.adresse);
    required_code(&mut out, codes, "InstType3", codes::INSTTYPE3, a.inst_type3);
    optional_email(&mut out, "Email", a.email.as_deref());
    optional_max(&mut out, "TelefonNummer", a.telefon_nummer.as_deref(), MAX_TELEFON);
    if a.p_nummer.trim().is_empty() {
        out.push(Fejl::new(FejlKode::FeltMangler, "PNummer", "Feltet PNummer skal udfyldes."));
    } else if !is_valid_p_nummer(a.p_nummer.trim()) {
        publishable(&mut out, "PNummer", Some(&a.p_nummer));
        out.push(Fejl::new(FejlKode::UgyldigFormat, "PNummer", "Feltet PNummer skal være 10 cifre."));
    }
    out
}

/// The address needs the DAR id or its components (street, house number, postcode).
fn required_adresse(out: &mut Vec<Fejl>, a: &crate::model::Adresse) {
    if a.dar_adresse_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
        required_text(out, "Adresse.vejNavn", &a.vej_navn, 40);
        required_text(out, "Adresse.husNummer", &a.hus_nummer, 6);
        required_text(out, "Adresse.postNummer", &a.post_nummer, 4);
    }
}

/// Rule 1 for an alternativ adresse; its P-number is optional.
pub fn check_alternativ_adresse(a: &AlternativAdresseData) -> Vec<Fejl> {
    let mut out = Vec::new();
    required_text(&mut out, "EnhedsNummer", &a.enheds_nummer, 6);
    required_text(&mut out, "alternativAdresseNavn", &a.navn, MAX_NAVN);
    required_adresse(&mut out, &a.adresse);
    publishable_adresse(&mut out, &a.adresse);
    optional_email(&mut out, "Email", a.email.as_deref());
    optional_max(&mut out, "TelefonNummer", a.telefon_nummer.as_deref(), MAX_TELEFON);
    if let Some(p) = a.p_nummer.as_deref().map(str::trim).filter(|p| !p.is_empty() && !is_valid_p_nummer(p)) {
        publishable(&mut out, "PNummer", Some(p));
        out.push(Fejl::new(FejlKode::UgyldigFormat, "PNummer", "Feltet PNummer skal være 10 cifre."));
    }
    out
}

/// A CVR number: 8 digits, modulus 11 with weights 2 7 6 5 4 3 2 1.
pub fn is_valid_cvr(cvr: &str) -> bool {
    const WEIGHTS: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];
    if cvr.len() != 8 || !cvr.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = cvr.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    sum.is_multiple_of(11)
}

/// Rule 1 for a daginstitution, plus the owner's CVR for private ones.
pub fn check_daginstitution(d: &DaginstitutionData, codes: &CodeTables) -> Vec<Fejl> {
    let mut out = Vec::new();
    required_text(&mut out, "daginstitutionsNavn", &d.navn, MAX_NAVN);
    required_code(&mut out, codes, "ejerformKode", codes::EJERFORM, d.ejerform_kode);
    required_code(&mut out, codes, "lovgrundlagKode", codes::LOVGRUNDLAG, d.lovgrundlag_kode);
    required_code(&mut out, codes, "admKommuneKode", codes::KOMMUNER, d.adm_kommune_kode);
    match d.ejer_cvr_nummer.as_deref().filter(|s| !s.is_empty()) {
        Some(cvr) if !is_valid_cvr(cvr) => {
            publishable(&mut out, "ejerCvrNummer", Some(cvr));
            out.push(Fejl::new(
                FejlKode::UgyldigFormat,
                "ejerCvrNummer",
                "Feltet ejerCvrNummer skal være et gyldigt CVR-nummer (8 cifre, modulus 11).",
            ));
        }
        None if d.ejerform_kode == EJERFORM_PRIVAT => out.push(Fejl::new(
            FejlKode::FeltMangler,
            "ejerCvrNummer",
            "En privat daginstitution skal have ejerens CVR-nummer i feltet ejerCvrNummer.",
        )),
        _ => {}
    }
    out
}

/// Rule 11 (v2): the daginstitution's (ejerform, lovgrundlag) with the InstType3 of each active
/// anvisningsenhed below it must be a lawful combination. One error per unlawful child.
pub fn check_krydsvalidering(
    ejerform: i32,
    lovgrundlag: i32,
    children: &[(String, i32)],
    codes: &CodeTables,
) -> Vec<Fejl> {
    children
        .iter()
        .filter(|(_, type3)| !codes.krydsvalidering.contains(&(ejerform, lovgrundlag, *type3)))
        .map(|(nummer, type3)| {
            Fejl::new(
                FejlKode::UlovligKombination,
                "lovgrundlagKode",
                format!(
                    "Ejerform {ejerform} med lovgrundlag {lovgrundlag} er ikke lovlig for anvisningsenhed {nummer} \
                     med institutionstype {type3}."
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{SEED, parse_seed};

    fn tables() -> CodeTables {
        let mut t = CodeTables::default();
        for (navn, text) in SEED {
            t.tabeller.insert(
                navn.into(),
                codes::Kodetabel {
                    navn: navn.into(),
                    version: 1,
                    koder: parse_seed(navn, text).unwrap(),
                    ..Default::default()
                },
            );
        }
        t
    }

    fn valid() -> DaginstitutionData {
        DaginstitutionData {
            navn: "Børnehuset Solsikken".into(),
            ejerform_kode: 1,
            lovgrundlag_kode: 1,
            adm_kommune_kode: 101,
            ejer_cvr_nummer: None,
        }
    }

    #[test]
    fn cvr_modulus_11() {
        assert!(is_valid_cvr("29189854"));
        assert!(!is_valid_cvr("29189855"));
        assert!(!is_valid_cvr("2918985"));
        assert!(!is_valid_cvr("2918985a"));
    }

    #[test]
    fn valid_daginstitution_passes() {
        assert!(check_daginstitution(&valid(), &tables()).is_empty());
    }

    #[test]
    fn every_error_is_reported() {
        let d = DaginstitutionData {
            navn: "x".repeat(133),
            ejerform_kode: 0,
            lovgrundlag_kode: 99,
            adm_kommune_kode: 100,
            ejer_cvr_nummer: Some("12345678".into()),
        };
        let codes: Vec<_> = check_daginstitution(&d, &tables()).into_iter().map(|f| (f.kode, f.felt)).collect();
        assert_eq!(
            codes,
            vec![
                (FejlKode::FeltForLangt, "daginstitutionsNavn".to_string()),
                (FejlKode::FeltMangler, "ejerformKode".to_string()),
                (FejlKode::UkendtKode, "lovgrundlagKode".to_string()),
                (FejlKode::UkendtKode, "admKommuneKode".to_string()),
                (FejlKode::UgyldigFormat, "ejerCvrNummer".to_string()),
            ]
        );
    }

    #[test]
    fn cross_validation_names_each_unlawful_child() {
        let mut t = tables();
        t.krydsvalidering = codes::parse_krydsvalidering(codes::KRYDSVALIDERING_SEED).unwrap();
        let children = vec![("G30001".to_string(), 6010), ("G30002".to_string(), 6013)];
        assert!(check_krydsvalidering(1, 1, &children[..1], &t).is_empty());
        let f = check_krydsvalidering(1, 1, &children, &t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kode, FejlKode::UlovligKombination);
        assert!(f[0].besked.contains("G30002"), "{}", f[0].besked);
    }

    #[test]
    fn private_needs_owner_cvr() {
        let d = DaginstitutionData { ejerform_kode: EJERFORM_PRIVAT, lovgrundlag_kode: 4, ..valid() };
        let f = check_daginstitution(&d, &tables());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].felt, "ejerCvrNummer");
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused_in_every_text_field() {
        let tables = tables();
        for bad in ['\u{1b}', '\u{1}', '\u{7f}', '\u{85}', '\u{0}', '\u{FFFE}', '\u{FFFF}'] {
            let evil = format!("Børnehuset {bad}x");
            let d = DaginstitutionData { navn: evil.clone(), ..valid() };
            let fejl = check_daginstitution(&d, &tables);
            assert!(fejl.iter().any(|f| f.kode == FejlKode::UlovligtTegn), "{bad:?}: {fejl:?}");
        }
        let adresse = crate::model::Adresse {
            vej_navn: "Vej\u{1b}".into(),
            hus_nummer: "1".into(),
            post_nummer: "2000".into(),
            post_distrikt: "By\u{0}".into(),
            supplerende_bynavn: Some("\u{FFFE}".into()),
            ..Default::default()
        };
        let a = AnvisningsenhedData {
            daginstitutions_nummer: "G30000".into(),
            navn: "Enhed\u{1}".into(),
            adresse: adresse.clone(),
            inst_type3: 6010,
            email: Some("a\u{1b}@b.dk".into()),
            telefon_nummer: Some("12\u{7}".into()),
            p_nummer: "1012345678".into(),
        };
        let felter: Vec<String> = check_anvisningsenhed(&a, &tables)
            .into_iter()
            .filter(|f| f.kode == FejlKode::UlovligtTegn)
            .map(|f| f.felt)
            .collect();
        for felt in [
            "EnhedsNavn",
            "Adresse.vejNavn",
            "Adresse.postDistrikt",
            "Adresse.supplerendeBynavn",
            "Email",
            "TelefonNummer",
        ] {
            assert!(felter.iter().any(|f| f == felt), "{felt} not refused: {felter:?}");
        }
        assert!(check_kodetekst("Vuggestue\u{1b}", 100).iter().any(|f| f.kode == FejlKode::UlovligtTegn));
        assert!(check_kodetekst("Vuggestue (0-2 år)\t", 100).is_empty());
    }
}
