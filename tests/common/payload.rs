//! ImportService payloads (the operation's inner XML, prefix `d:`) for tests.

/// Where the test's units are: an administrative kommune and a street of it that the local DAR
/// reference data knows (house numbers 10, 10B, 11, 20, 20B, 21, 30, 30B exist on both).
#[derive(Clone, Copy)]
pub struct Sted {
    pub kommune: u32,
    pub vej: &'static str,
    pub post_nummer: &'static str,
}

pub const KOEBENHAVN: Sted = Sted { kommune: 101, vej: "Amagerbrogade", post_nummer: "2300" };
pub const FREDERIKSBERG: Sted = Sted { kommune: 147, vej: "Falkoner Allé", post_nummer: "2000" };
pub const AARHUS: Sted = Sted { kommune: 751, vej: "Vestergade", post_nummer: "8000" };

pub fn daginstitution(sted: Sted, navn: &str) -> String {
    format!(
        "<d:daginstitution><d:daginstitutionsNavn>{navn}</d:daginstitutionsNavn><d:ejerformKode>1</d:ejerformKode>\
         <d:lovgrundlagKode>1</d:lovgrundlagKode><d:admKommuneKode>{}</d:admKommuneKode></d:daginstitution>",
        sted.kommune
    )
}

fn adresse(sted: Sted, husnr: &str) -> String {
    format!(
        "<d:Adresse><d:vejNavn>{}</d:vejNavn><d:husNummer>{husnr}</d:husNummer><d:postNummer>{}</d:postNummer></d:Adresse>",
        sted.vej, sted.post_nummer
    )
}

pub fn enhed(sted: Sted, parent: &str, navn: &str, husnr: &str, p: &str) -> String {
    format!(
        "<d:anvisningsenhed><d:daginstitutionsNummer>{parent}</d:daginstitutionsNummer><d:EnhedsNavn>{navn}</d:EnhedsNavn>\
         {}<d:InstType3>6011</d:InstType3><d:PNummer>{p}</d:PNummer></d:anvisningsenhed>",
        adresse(sted, husnr)
    )
}

pub fn alternativ(sted: Sted, parent: &str, navn: &str, husnr: &str) -> String {
    format!(
        "<d:alternativAdresse><d:EnhedsNummer>{parent}</d:EnhedsNummer><d:alternativAdresseNavn>{navn}</d:alternativAdresseNavn>\
         {}</d:alternativAdresse>",
        adresse(sted, husnr)
    )
}
