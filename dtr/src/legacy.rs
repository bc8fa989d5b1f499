//! `dtr import-legacy FILE`: loads the units created before the register, with their own numbers,
//! from a CSV in the public file format (`samlet.csv`'s columns, `docs/csv.md`): the same rules as
//! the ImportService, a report of every refused row and nothing loaded if any is refused, a dry
//! run, a progress bar on a terminal (progress lines otherwise), and a re-run that changes nothing.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};

use dtr_registry::Registry;
use dtr_registry::cache::CodeTableCache;
use dtr_registry::legacy::{Kladde, Raekke};
use dtr_registry::model::{Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};

#[derive(clap::Args)]
pub struct ImportLegacyArgs {
    /// The CSV file (`;`-separated, UTF-8, optionally with a BOM, samlet.csv's columns).
    pub file: PathBuf,
    /// Check every row and report, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, env = "DTR_DATABASE_URL")]
    pub database_url: String,
    #[command(flatten)]
    pub lookups: crate::grpc::LookupArgs,
}

/// Most rows one file may hold; a larger register is loaded in parts.
const MAX_RAEKKER: usize = 1_000_000;

/// The rows of the file, each with its line number.
fn laes(tekst: &str) -> anyhow::Result<Vec<Raekke>> {
    let tekst = tekst.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new().delimiter(b';').flexible(true).from_reader(tekst.as_bytes());
    let header: Vec<String> = rdr.headers().context("the header row")?.iter().map(|h| h.trim().to_owned()).collect();
    let kol = |navn: &str| header.iter().position(|h| h == navn);
    let Some(type_kol) = kol("dagtilbudsType") else {
        bail!("the file has no column dagtilbudsType: it must have samlet.csv's columns (docs/csv.md)");
    };
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let linje = i + 2;
        if out.len() >= MAX_RAEKKER {
            bail!("more than {MAX_RAEKKER} rows: load the file in parts");
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                out.push(Raekke { linje, indhold: Err(format!("linjen kan ikke læses: {e}")), nedlagt: false });
                continue;
            }
        };
        let felt = |navn: &str| kol(navn).and_then(|k| rec.get(k)).map(str::trim).unwrap_or("");
        let valgfri = |navn: &str| Some(felt(navn).to_owned()).filter(|v| !v.is_empty());
        let tal = |navn: &str| -> Result<i32, String> {
            let v = felt(navn);
            if v.is_empty() { Ok(0) } else { v.parse().map_err(|_| format!("{navn} er ikke et tal: {v:?}")) }
        };
        let adresse = || Adresse {
            vej_navn: felt("vejNavn").into(),
            hus_nummer: felt("husNummer").into(),
            etage: valgfri("etage"),
            doer: valgfri("doer"),
            post_nummer: felt("postNummer").into(),
            post_distrikt: felt("byNavn").into(),
            supplerende_bynavn: valgfri("supplerendeBynavn"),
            dar_adresse_id: valgfri("darAdresseId"),
            ..Adresse::default()
        };
        let indhold = (|| -> Result<Kladde, String> {
            Ok(match felt_at(&rec, type_kol) {
                "daginstitution" => Kladde::Daginstitution {
                    nummer: felt("daginstitutionsNummer").into(),
                    data: DaginstitutionData {
                        navn: felt("dagtilbudsNavn").into(),
                        ejerform_kode: tal("ejerformKode")?,
                        lovgrundlag_kode: tal("lovgrundlagKode")?,
                        adm_kommune_kode: tal("admKommuneKode")?,
                        ejer_cvr_nummer: valgfri("ejerCvrNummer"),
                    },
                },
                "anvisningsenhed" => Kladde::Anvisningsenhed {
                    nummer: felt("anvisningsenhedsNummer").into(),
                    data: AnvisningsenhedData {
                        daginstitutions_nummer: felt("daginstitutionsNummer").into(),
                        navn: felt("dagtilbudsNavn").into(),
                        adresse: adresse(),
                        inst_type3: tal("instType3")?,
                        email: valgfri("email"),
                        telefon_nummer: valgfri("telefonNummer"),
                        p_nummer: felt("pNummer").into(),
                    },
                },
                "alternativAdresse" => Kladde::AlternativAdresse {
                    nummer: felt("alternativAdresseNummer").into(),
                    data: AlternativAdresseData {
                        enheds_nummer: felt("anvisningsenhedsNummer").into(),
                        navn: felt("dagtilbudsNavn").into(),
                        adresse: adresse(),
                        p_nummer: valgfri("pNummer"),
                        email: valgfri("email"),
                        telefon_nummer: valgfri("telefonNummer"),
                    },
                },
                other => return Err(format!("ukendt dagtilbudsType {other:?}")),
            })
        })();
        out.push(Raekke { linje, indhold, nedlagt: felt("aktivitetsstatus") == "Nedlagt" });
    }
    Ok(out)
}

fn felt_at(rec: &csv::StringRecord, k: usize) -> &str {
    rec.get(k).map(str::trim).unwrap_or("")
}

pub async fn run(a: ImportLegacyArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr-import-legacy");
    let tekst = std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let raekker = laes(&tekst)?;
    let store = dtr_registry::storage::connect(&a.database_url).await.context("registry database")?;
    store.migrate().await.context("registry migrations")?;
    let registry = Registry::new(store, Arc::new(CodeTableCache::in_process()), a.lookups.build()?);
    let aktoer = Aktoer {
        system: "dtr import-legacy".into(),
        organisation: None,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        operation: "ImportLegacy".into(),
        message_id: None,
    };
    // Each row is handled twice: checked, then written.
    let total = raekker.len() as u64 * if a.dry_run { 1 } else { 2 };
    let fremdrift = crate::fremdrift::Fremdrift::new("fremdrift", total);
    let rapport = registry.indlaes_historiske(raekker, a.dry_run, &aktoer, &|n| fremdrift.skridt(n)).await?;
    fremdrift.slut();
    for (linje, nummer, grunde) in &rapport.afviste {
        for g in grunde {
            println!("linje {linje} ({nummer}): {g}");
        }
    }
    println!(
        "{}: {} indlæst, {} uændrede, {} nedlagte sprunget over, {} afvist{}",
        if a.dry_run { "prøvekørsel" } else { "import-legacy" },
        rapport.indlaest,
        rapport.uaendrede,
        rapport.sprunget_over,
        rapport.afviste.len(),
        if a.dry_run || !rapport.afviste.is_empty() {
            format!(", {} kunne indlæses; intet er skrevet", rapport.godkendte)
        } else {
            String::new()
        }
    );
    if !rapport.afviste.is_empty() {
        bail!("{} rækker afvist; intet er indlæst", rapport.afviste.len());
    }
    Ok(())
}
