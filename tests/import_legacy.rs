//! `dtr import-legacy`: 10,000 units of the old register loaded with their own numbers through
//! the ImportService's rules (DAR and CVR answered from a reference set the test writes), progress
//! shown; a dry run writes nothing; one bad row and nothing is loaded, the row reported; a re-run
//! changes nothing; the next new number still comes from the G30000 series.

use crate::common;

use std::process::Output;

use common::TempDir;

const DAGINSTITUTIONER: usize = 2_500;

fn dtr(args: &[&str], db: &str, reference: &std::path::Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(args)
        .env("DTR_DATABASE_URL", db)
        .env("DTR_REFERENCE_DIR", reference)
        .output()
        .expect("dtr runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A reference set of DAR addresses and CVR production units for the file's units, and the file:
/// per daginstitution two anvisningsenheder and one alternativ adresse — 10,000 rows.
fn write_files(dir: &std::path::Path) -> std::path::PathBuf {
    let reference = dir.join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    let mut dar = String::from(
        "id;vejNavn;husNummer;etage;doer;postNummer;postDistrikt;supplerendeBynavn;kommuneKode;geoBredde;geoLaengde\n",
    );
    let mut cvr = String::from("pNummer;cvrNummer;navn;aktiv\n");
    let mut csv = String::from(
        "\u{feff}dagtilbudsType;daginstitutionsNummer;anvisningsenhedsNummer;alternativAdresseNummer;\
        dagtilbudsNavn;ejerformKode;lovgrundlagKode;admKommuneKode;instType3;pNummer;vejNavn;husNummer;postNummer;byNavn;\
        email;aktivitetsstatus\n",
    );
    let mut nummer = 10_433;
    let mut next = || {
        nummer += 1;
        format!("G{:05}", nummer - 1)
    };
    for i in 0..DAGINSTITUTIONER {
        let d = next();
        csv.push_str(&format!("daginstitution;{d};;;Gamle Børnehus {i};1;1;101;;;;;;;;Aktiv\n"));
        for (j, type3) in [6010, 6011].into_iter().enumerate() {
            let a = next();
            let hus = format!("{}", i * 3 + j + 1);
            let p = format!("{}", 1_100_000_000 + i * 3 + j);
            dar.push_str(
                &format!(
                    "{:08x}-0000-4000-8000-{:012x};Gammel Vej;{hus};;;2300;København S;;101;55,{:04};12,{:04}\n",
                    i,
                    j,
                    i % 10_000,
                    j
                )
                .replace(",", "."),
            );
            cvr.push_str(&format!("{p};64942212;Gammel enhed {i}-{j};true\n"));
            csv.push_str(&format!(
                "anvisningsenhed;{d};{a};;Gamle Børnehus {i} {type3};;;;{type3};{p};Gammel Vej;{hus};2300;København S;gammel{i}@kbh.example;Aktiv\n"
            ));
            if j == 0 {
                let l = next();
                let hus_b = format!("{}", i * 3 + 3);
                dar.push_str(&format!(
                    "{:08x}-0000-4000-8000-{:012x};Gammel Vej;{hus_b};;;2300;København S;;101;55.5;12.5\n",
                    i, 9
                ));
                csv.push_str(&format!(
                    "alternativAdresse;{d};{a};{l};Gamle Børnehus {i} Legepladsen;;;;;;Gammel Vej;{hus_b};2300;København S;;Aktiv\n"
                ));
            }
        }
    }
    // A closed unit of the old register is skipped, not loaded.
    csv.push_str("daginstitution;G29000;;;Lukket for længst;1;1;101;;;;;;;;Nedlagt\n");
    std::fs::write(reference.join("dar.csv"), dar).unwrap();
    std::fs::write(reference.join("cvr.csv"), cvr).unwrap();
    let file = dir.join("gamle.csv");
    std::fs::write(&file, csv).unwrap();
    file
}

async fn counts(db: &str) -> (i64, i64, i64) {
    dtr_registry::storage::connect(db).await.unwrap().count_units().await.unwrap()
}

#[tokio::test]
async fn old_institutions_keep_their_numbers() {
    let dir = TempDir::new();
    let file = write_files(dir.path());
    let reference = dir.path().join("reference");
    let db = format!("sqlite:{}", dir.path().join("dtr.db").display());
    let file_arg = file.to_str().unwrap();
    let rows = (DAGINSTITUTIONER * 4) as i64;

    // A dry run checks everything and writes nothing.
    let dry = dtr(&["import-legacy", "--dry-run", file_arg], &db, &reference);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry)
            .contains(&format!("0 indlæst, 0 uændrede, 1 nedlagte sprunget over, 0 afvist, {rows} kunne indlæses")),
        "{}",
        text(&dry)
    );
    assert_eq!(counts(&db).await, (0, 0, 0));

    // One bad row (a unit at an address DAR does not know): reported, and nothing is loaded.
    let bad = dir.path().join("med-fejl.csv");
    let mut content = std::fs::read_to_string(&file).unwrap();
    content = content.replacen("Gammel Vej;2;", "Ukendt Vej;2;", 1);
    std::fs::write(&bad, &content).unwrap();
    let refused = dtr(&["import-legacy", bad.to_str().unwrap()], &db, &reference);
    assert!(!refused.status.success());
    let out = text(&refused);
    assert!(out.contains("linje 5 (G10436): DTR0402"), "the row, its number and the rule: {out}");
    assert!(out.contains("intet er indlæst"), "{out}");
    assert_eq!(counts(&db).await, (0, 0, 0), "nothing half-loaded");

    // The load: every unit with its own number, progress shown.
    let load = dtr(&["import-legacy", file_arg], &db, &reference);
    let out = text(&load);
    assert!(load.status.success(), "{out}");
    assert!(out.contains(&format!("{rows} indlæst, 0 uændrede, 1 nedlagte sprunget over, 0 afvist")), "{out}");
    assert!(out.contains("fremdrift: 1000/") && out.contains(&format!("fremdrift: {0}/{0}", (rows + 1) * 2)), "{out}");
    assert_eq!(counts(&db).await, (DAGINSTITUTIONER as i64, DAGINSTITUTIONER as i64 * 2, DAGINSTITUTIONER as i64));
    let store = dtr_registry::storage::connect(&db).await.unwrap();
    let d = store.get_daginstitution("G10433").await.unwrap().expect("the first number kept");
    assert_eq!(d.data.navn, "Gamle Børnehus 0");
    let a = store.get_anvisningsenhed("G10434").await.unwrap().expect("its unit");
    assert_eq!((a.data.daginstitutions_nummer.as_str(), a.cvr_nummer.as_deref()), ("G10433", Some("64942212")));
    assert!(store.get_daginstitution("G29000").await.unwrap().is_none(), "the closed one skipped");

    // A re-run changes nothing.
    let again = dtr(&["import-legacy", file_arg], &db, &reference);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains(&format!("0 indlæst, {rows} uændrede")), "{}", text(&again));
    let before = store.aendringer_siden(0, 1_000_000).await.unwrap().len();
    assert_eq!(before as i64, rows, "one version each, no more");

    // New units still get numbers from the register's own series.
    let registry = dtr_registry::Registry::new(
        store.clone(),
        std::sync::Arc::new(dtr_registry::cache::CodeTableCache::in_process()),
        {
            let local = std::sync::Arc::new(dtr_registry::lookup::local::LocalReference::from_dir(&reference).unwrap());
            dtr_registry::service::Lookups { dar: local.clone(), cvr: local }
        },
    );
    let aktoer = crate::common::aktoer("test", "InsertDaginstitution");
    let data = dtr_registry::model::DaginstitutionData {
        navn: "Ny efter indlæsningen".into(),
        ejerform_kode: 1,
        lovgrundlag_kode: 1,
        adm_kommune_kode: 101,
        ejer_cvr_nummer: None,
    };
    let ny = registry.insert_daginstitution("", &data, &aktoer).await.unwrap();
    assert_eq!(ny.nummer, "G30000");
}
