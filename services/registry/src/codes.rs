//! Code tables are data: seeded from the CSV files in `data/` by migration, stored in the
//! database with a version, cached, and served by the ExportService.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub const KOMMUNER: &str = "kommuner";
pub const INSTTYPE3: &str = "insttype3";
pub const EJERFORM: &str = "ejerform";
pub const LOVGRUNDLAG: &str = "lovgrundlag";

/// The seed files, embedded so the binary needs nothing at run time: (name, CSV text).
pub const SEED: [(&str, &str); 4] = [
    (KOMMUNER, include_str!("../../../data/kommuner.csv")),
    (INSTTYPE3, include_str!("../../../data/insttype3.csv")),
    (EJERFORM, include_str!("../../../data/ejerform.csv")),
    (LOVGRUNDLAG, include_str!("../../../data/lovgrundlag.csv")),
];
pub const KRYDSVALIDERING_SEED: &str = include_str!("../../../data/krydsvalidering.csv");

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Kodetabel {
    pub navn: String,
    pub version: i64,
    pub koder: BTreeMap<i32, String>,
    /// A code's legal basis, where the table has one (lovgrundlag).
    #[serde(default)]
    pub hjemmel: BTreeMap<i32, String>,
}

/// The name the cross-validation matrix is served under, beside the code tables.
pub const KRYDSVALIDERING: &str = "krydsvalidering";

/// A lawful (ejerform, lovgrundlag, InstType3) combination for the v2 cross-validation.
pub type Kombination = (i32, i32, i32);

/// A consistent snapshot of every code table and the cross-validation matrix.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodeTables {
    /// Sum of the tables' versions; changes whenever any table changes.
    pub version: i64,
    pub tabeller: BTreeMap<String, Kodetabel>,
    pub krydsvalidering: BTreeSet<Kombination>,
}

impl CodeTables {
    pub fn tekst(&self, tabel: &str, kode: i32) -> Option<&str> {
        self.tabeller.get(tabel)?.koder.get(&kode).map(String::as_str)
    }

    pub fn contains(&self, tabel: &str, kode: i32) -> bool {
        self.tekst(tabel, kode).is_some()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("code table seed {navn}: {reason}")]
pub struct SeedError {
    pub navn: String,
    pub reason: String,
}

/// Parses one `kode;tekst[;…]` seed file (header row, `;`-separated).
pub fn parse_seed(navn: &str, csv_text: &str) -> Result<BTreeMap<i32, String>, SeedError> {
    let err = |reason: String| SeedError { navn: navn.to_owned(), reason };
    let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(csv_text.as_bytes());
    let mut out = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let kode = rec.get(0).unwrap_or_default().trim();
        let kode: i32 = kode.parse().map_err(|_| err(format!("bad code {kode:?}")))?;
        let tekst = rec.get(1).unwrap_or_default().trim().to_owned();
        if out.insert(kode, tekst).is_some() {
            return Err(err(format!("duplicate code {kode}")));
        }
    }
    Ok(out)
}

/// The `hjemmel` column of a seed file, where it has one: code → legal basis.
pub fn parse_hjemmel(navn: &str, csv_text: &str) -> Result<BTreeMap<i32, String>, SeedError> {
    let err = |reason: String| SeedError { navn: navn.to_owned(), reason };
    let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(csv_text.as_bytes());
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let Some(col) = headers.iter().position(|h| h.trim() == "hjemmel") else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let kode = rec.get(0).unwrap_or_default().trim();
        let kode: i32 = kode.parse().map_err(|_| err(format!("bad code {kode:?}")))?;
        let hjemmel = rec.get(col).unwrap_or_default().trim();
        if !hjemmel.is_empty() {
            out.insert(kode, hjemmel.to_owned());
        }
    }
    Ok(out)
}

/// Parses the cross-validation seed: `ejerformKode;lovgrundlagKode;instType3` where the last
/// column lists the lawful types separated by commas.
pub fn parse_krydsvalidering(csv_text: &str) -> Result<BTreeSet<Kombination>, SeedError> {
    let err = |reason: String| SeedError { navn: "krydsvalidering".into(), reason };
    let num = |s: &str| s.trim().parse::<i32>().map_err(|_| err(format!("bad code {s:?}")));
    let mut rdr = csv::ReaderBuilder::new().delimiter(b';').from_reader(csv_text.as_bytes());
    let mut out = BTreeSet::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let ejerform = num(rec.get(0).unwrap_or_default())?;
        let lovgrundlag = num(rec.get(1).unwrap_or_default())?;
        for t in rec.get(2).unwrap_or_default().split(',') {
            out.insert((ejerform, lovgrundlag, num(t)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_parses() {
        for (navn, text) in SEED {
            let t = parse_seed(navn, text).unwrap();
            assert!(!t.is_empty(), "{navn}");
        }
        assert_eq!(parse_seed(KOMMUNER, SEED[0].1).unwrap().len(), 98);
        assert!(parse_krydsvalidering(KRYDSVALIDERING_SEED).unwrap().contains(&(1, 1, 6010)));
        let hjemmel = parse_hjemmel(LOVGRUNDLAG, SEED[3].1).unwrap();
        assert_eq!(hjemmel.get(&1).map(String::as_str), Some("Dagtilbudsloven § 19, stk. 2"));
        assert!(parse_hjemmel(KOMMUNER, SEED[0].1).unwrap().is_empty(), "no column, no legal basis");
    }

    #[test]
    fn bad_seed_is_refused() {
        assert!(parse_seed("x", "kode;tekst\nabc;y\n").is_err());
        assert!(parse_seed("x", "kode;tekst\n1;a\n1;b\n").is_err());
    }
}
