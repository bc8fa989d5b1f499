//! Synthetic registers for tests and benchmarks (`dtr demo-data --scale N`): realistic shapes in
//! the real proportions (docs/registry.md §7), deterministic for a given seed.
//!
//! **[decision]** Scale 1 is the national register: 2,950 daginstitutioner with about 4,950
//! anvisningsenheder (≈ 4,550 active) and about 1,700 alternative addresses — ≈ 9,600 units,
//! so that 10× (≈ 96,000) still fits the five-digit number series (a synthetic register on an
//! empty database numbers from G00000). Spread over the 98 kommuner by a rough population
//! weight. The mix: single institutions (40 %), clusters of 2–5 units (20 %), dagpleje areas
//! with 1–4 districts (8 %), selvejende (12 %), private (10 %, with an owner CVR number),
//! fritidshjem and klubber (7 %) and special offers (3 %); every (ejerform, lovgrundlag,
//! InstType3) is a lawful combination. About 5 % of the daginstitutioner are closed with their
//! units, 3 % of the other units and 5 % of the alternative addresses are closed.

use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::codes::{self, CodeTables};
use crate::model::{
    Adresse, Aktivitetsstatus, AlternativAdresse, AlternativAdresseData, Anvisningsenhed, AnvisningsenhedData,
    Daginstitution, DaginstitutionData, Dagtilbud, Registerfelter,
};

/// Daginstitutioner at scale 1.
pub const DAGINSTITUTIONER_PER_SCALE: f64 = 2950.0;

/// (share, ejerform, lovgrundlag, InstType3 choices, fewest units, most units)
type Profil = (f64, i32, i32, &'static [i32], u32, u32);

const PROFILER: [Profil; 8] = [
    (0.40, 1, 1, &[6010, 6011, 6012, 6014], 1, 1),
    (0.20, 1, 1, &[6010, 6011, 6012], 2, 5),
    (0.08, 1, 5, &[6013], 1, 4),
    (0.12, 2, 2, &[6010, 6011, 6012, 6014], 1, 2),
    (0.10, 3, 4, &[6010, 6011, 6012, 6014], 1, 1),
    (0.04, 1, 7, &[6020], 1, 1),
    (0.03, 1, 8, &[6021], 1, 1),
    (0.03, 1, 10, &[6022], 1, 1),
];

/// Rough population weights of the largest kommuner; the rest weigh 1.
const STORE_KOMMUNER: [(i32, f64); 10] = [
    (101, 12.0),
    (751, 6.5),
    (851, 4.0),
    (461, 4.0),
    (561, 2.3),
    (630, 2.3),
    (147, 2.0),
    (157, 1.4),
    (615, 1.8),
    (621, 1.8),
];

const FORLED: [&str; 10] = [
    "Børnehuset",
    "Børnehaven",
    "Vuggestuen",
    "Skovbørnehaven",
    "Naturbørnehaven",
    "Institutionen",
    "Dagtilbuddet",
    "Børnegården",
    "Huset",
    "Legestuen",
];
const NAVNE: [&str; 24] = [
    "Æblehaven",
    "Solstrålen",
    "Mælkebøtten",
    "Regnbuen",
    "Skovly",
    "Ærtebjerg",
    "Østervang",
    "Åkanden",
    "Troldehøj",
    "Mariehønen",
    "Bikuben",
    "Spiren",
    "Krudtuglen",
    "Humlebien",
    "Egebakken",
    "Kastanjen",
    "Havbrisen",
    "Lærkereden",
    "Møllehuset",
    "Søstjernen",
    "Blåbærhuset",
    "Grønnegården",
    "Fuglereden",
    "Bøgely",
];
const VEJE: [&str; 12] = [
    "Skolevej",
    "Kirkegade",
    "Møllevej",
    "Bøgealle",
    "Søndergade",
    "Østergade",
    "Ålekistevej",
    "Engvej",
    "Skovbrynet",
    "Præstevænget",
    "Havnegade",
    "Lærkevej",
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn digits(rng: &mut StdRng, first: &str, len: usize) -> String {
    let mut s = first.to_owned();
    while s.len() < len {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

fn uuid(rng: &mut StdRng) -> String {
    let h = format!("{:032x}", rng.random::<u128>());
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A generator of dagtilbud; numbers are placeholders (the store issues real ones).
pub struct Generator {
    rng: StdRng,
    kommuner: Vec<(i32, String, f64)>,
    weight_sum: f64,
    remaining: u64,
    produced: u64,
}

impl Generator {
    pub fn new(scale: f64, seed: u64, codes: &CodeTables) -> Generator {
        let kommuner: Vec<(i32, String, f64)> = codes
            .tabeller
            .get(codes::KOMMUNER)
            .map(|t| {
                t.koder
                    .iter()
                    .map(|(k, navn)| {
                        let w = STORE_KOMMUNER.iter().find(|(code, _)| code == k).map_or(1.0, |(_, w)| *w);
                        (*k, navn.clone(), w)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let weight_sum = kommuner.iter().map(|k| k.2).sum();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            kommuner,
            weight_sum,
            remaining: (DAGINSTITUTIONER_PER_SCALE * scale.max(0.0)).round() as u64,
            produced: 0,
        }
    }

    /// How many dagtilbud are still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    fn kommune(&mut self) -> (i32, String) {
        let mut x = self.rng.random_range(0.0..self.weight_sum.max(f64::MIN_POSITIVE));
        for (k, navn, w) in &self.kommuner {
            if x < *w {
                return (*k, navn.clone());
            }
            x -= w;
        }
        self.kommuner.last().map(|(k, n, _)| (*k, n.clone())).unwrap_or((101, "København".into()))
    }

    fn register(&mut self, closed: bool) -> Registerfelter {
        // Microseconds, as PostgreSQL keeps them.
        let oprettet =
            chrono::SubsecRound::trunc_subsecs(Utc::now(), 6) - Duration::days(self.rng.random_range(30..8000));
        let nedlagt = closed.then(|| oprettet + Duration::days(self.rng.random_range(1..25)));
        Registerfelter {
            aktivitetsstatus: if closed { Aktivitetsstatus::Nedlagt } else { Aktivitetsstatus::Aktiv },
            oprettet_dato: oprettet,
            senest_aendret: nedlagt.unwrap_or(oprettet),
            nedlagt_dato: nedlagt,
            version: 1,
        }
    }

    fn adresse(&mut self, kommune: i32, by: &str) -> Adresse {
        let rng = &mut self.rng;
        Adresse {
            vej_navn: pick(rng, &VEJE).to_string(),
            hus_nummer: rng.random_range(1..160).to_string(),
            etage: None,
            doer: None,
            post_nummer: (1000 + (kommune * 37) % 8900).to_string(),
            post_distrikt: by.to_owned(),
            supplerende_bynavn: None,
            kommune_kode: kommune,
            dar_adresse_id: Some(uuid(rng)),
            geo_bredde: Some((rng.random_range(54.6..57.7f64) * 1e5).round() / 1e5),
            geo_laengde: Some((rng.random_range(8.1..12.7f64) * 1e5).round() / 1e5),
        }
    }

    fn navn(&mut self) -> String {
        format!("{} {}", pick(&mut self.rng, &FORLED), pick(&mut self.rng, &NAVNE))
    }

    fn dagtilbud(&mut self) -> Dagtilbud {
        self.produced += 1;
        let n = self.produced;
        let mut x = self.rng.random_range(0.0..1.0);
        let profil = PROFILER.iter().find(|p| {
            x -= p.0;
            x < 0.0
        });
        let (_, ejerform, lovgrundlag, typer, fra, til) = *profil.unwrap_or(&PROFILER[0]);
        let (kommune, by) = self.kommune();
        let closed = self.rng.random_bool(0.05);
        let cvr = digits(&mut self.rng, "3", 8);
        let daginstitution = Daginstitution {
            nummer: format!("D{n}"),
            data: DaginstitutionData {
                navn: self.navn(),
                ejerform_kode: ejerform,
                lovgrundlag_kode: lovgrundlag,
                adm_kommune_kode: kommune,
                ejer_cvr_nummer: (ejerform == 3).then(|| cvr.clone()),
            },
            register: self.register(closed),
        };
        let units = self.rng.random_range(fra..=til);
        let anvisningsenheder = (0..units)
            .map(|i| {
                let unit_closed = closed || self.rng.random_bool(0.03);
                let enhed = Anvisningsenhed {
                    nummer: format!("A{n}-{i}"),
                    data: AnvisningsenhedData {
                        daginstitutions_nummer: daginstitution.nummer.clone(),
                        navn: if units == 1 { daginstitution.data.navn.clone() } else { self.navn() },
                        adresse: self.adresse(kommune, &by),
                        inst_type3: *pick(&mut self.rng, typer),
                        email: Some(format!("kontakt{n}-{i}@dagtilbud.example")),
                        telefon_nummer: Some(digits(&mut self.rng, "7", 8)),
                        p_nummer: digits(&mut self.rng, "10", 10),
                    },
                    cvr_nummer: Some(cvr.clone()),
                    register: self.register(unit_closed),
                };
                let alternative = match self.rng.random_range(0..100) {
                    0..75 => 0,
                    75..90 => 1,
                    90..97 => 2,
                    _ => 3,
                };
                let adresser = (0..alternative)
                    .map(|j| {
                        let closed = unit_closed || self.rng.random_bool(0.05);
                        AlternativAdresse {
                            nummer: format!("L{n}-{i}-{j}"),
                            data: AlternativAdresseData {
                                enheds_nummer: enhed.nummer.clone(),
                                navn: format!("{} (legeplads {})", enhed.data.navn, j + 1),
                                adresse: self.adresse(kommune, &by),
                                p_nummer: None,
                                email: None,
                                telefon_nummer: None,
                            },
                            cvr_nummer: Some(cvr.clone()),
                            register: self.register(closed),
                        }
                    })
                    .collect();
                (enhed, adresser)
            })
            .collect();
        Dagtilbud { daginstitution, anvisningsenheder }
    }
}

impl Iterator for Generator {
    type Item = Dagtilbud;

    fn next(&mut self) -> Option<Dagtilbud> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.dagtilbud())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> CodeTables {
        let mut t = CodeTables::default();
        for (navn, text) in codes::SEED {
            let koder = codes::parse_seed(navn, text).unwrap();
            t.tabeller.insert(
                navn.to_owned(),
                codes::Kodetabel { navn: navn.to_owned(), version: 1, koder, ..Default::default() },
            );
        }
        t.krydsvalidering = codes::parse_krydsvalidering(codes::KRYDSVALIDERING_SEED).unwrap();
        t
    }

    #[test]
    fn proportions_and_lawful_combinations() {
        let codes = codes();
        let all: Vec<Dagtilbud> = Generator::new(1.0, 7, &codes).collect();
        assert_eq!(all.len(), 2950);
        let units: usize = all.iter().map(|d| d.anvisningsenheder.len()).sum();
        let active = all
            .iter()
            .flat_map(|d| &d.anvisningsenheder)
            .filter(|(a, _)| a.register.aktivitetsstatus == Aktivitetsstatus::Aktiv)
            .count();
        let adresser: usize = all.iter().flat_map(|d| &d.anvisningsenheder).map(|(_, l)| l.len()).sum();
        assert!((4600..5400).contains(&units), "{units} anvisningsenheder");
        assert!((4200..5000).contains(&active), "{active} active");
        assert!((1400..2300).contains(&adresser), "{adresser} alternative addresses");
        for d in &all {
            assert!(codes.contains(codes::KOMMUNER, d.daginstitution.data.adm_kommune_kode));
            for (a, _) in &d.anvisningsenheder {
                let combo =
                    (d.daginstitution.data.ejerform_kode, d.daginstitution.data.lovgrundlag_kode, a.data.inst_type3);
                assert!(codes.krydsvalidering.contains(&combo), "{combo:?}");
            }
        }
        let again: Vec<Dagtilbud> = Generator::new(1.0, 7, &codes).take(3).collect();
        assert_eq!(
            again.iter().map(|d| &d.daginstitution.data.navn).collect::<Vec<_>>(),
            all.iter().take(3).map(|d| &d.daginstitution.data.navn).collect::<Vec<_>>(),
            "deterministic names"
        );
    }
}
