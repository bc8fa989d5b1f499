//! Demo data for `dtr up --demo`: the daginstitutioner of three kommuner with anvisningsenheder
//! and alternative addresses, a provider, and a system with approved connections to both
//! services and data-access agreements with every demo kommune.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use dtr_registry::lookup::Dar;
use dtr_registry::lookup::local::LocalReference;
use dtr_registry::model::{Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};
use dtr_registry::storage::no_checks;
use dtr_tilslutning::credentials;
use dtr_tilslutning::model::{AftaleStatus, Organisation, OrganisationType, ServiceDef};
use dtr_tilslutning::store::NewSystem;

pub const DEMO_USERNAME: &str = "demo-system";
const CREDENTIALS_FILE: &str = "demo-credentials.json";
const PROVIDER: &str = "DEMO01";

pub struct DemoLogin {
    pub username: String,
    pub password: String,
}

/// (kode, navn, kommune CVR, postnummer, by, street)
const KOMMUNER: [(i32, &str, &str, &str, &str, &str); 3] = [
    (101, "København", "64942212", "2300", "København S", "Amagerbrogade"),
    (147, "Frederiksberg", "11259979", "2000", "Frederiksberg", "Falkoner Allé"),
    (751, "Aarhus", "55133018", "8000", "Aarhus C", "Vestergade"),
];

const INSTITUTIONER: [&str; 3] = ["Børnehuset Solsikken", "Troldehøjen", "Mælkebøtten"];

/// The operations of each service and whether they need a data-access agreement.
pub fn services() -> Vec<ServiceDef> {
    let def = |kode: &str, navn: &str, ops: &[&str], needs: fn(&str) -> bool| ServiceDef {
        servicekode: kode.to_owned(),
        navn: navn.to_owned(),
        beskrivelse: format!("Dagtilbudsregisteret {navn}"),
        operationer: ops.iter().map(|o| ((*o).to_owned(), needs(o))).collect(),
        versioner: vec!["v1".into(), "v2".into()],
    };
    vec![
        def("ImportService", "ImportService", dtr_gateway::ops::import::OPERATIONS, |o| {
            !matches!(o, "HelloWorld" | "GetXMLSchema" | "ValidateXmlAgainstSchema")
        }),
        def("ExportService", "ExportService", dtr_gateway::ops::export::OPERATIONS, |_| false),
    ]
}

/// Creates the demo data on first run; later runs reuse it and the saved credentials.
pub async fn ensure(database_url: &str, data_dir: &Path) -> anyhow::Result<DemoLogin> {
    let dar = LocalReference::demo()?;
    // Every demo address is in the shipped DAR reference set: store it as DAR has it.
    let dar = &dar;
    let from_dar = |a: Adresse| async move {
        match dar.find(&a).await {
            Ok(Some(d)) => Ok(d.to_adresse()),
            _ => Err(anyhow::anyhow!("demo address {} {} is not in the DAR reference data", a.vej_navn, a.hus_nummer)),
        }
    };
    let tilslutning = dtr_tilslutning::connect(database_url).await?;
    if tilslutning.login(DEMO_USERNAME).await?.is_some() {
        return read_credentials(data_dir);
    }
    let registry = dtr_registry::storage::connect(database_url).await?;
    let aktoer = Aktoer { system: "demo".into(), organisation: None, correlation_id: "demo-data".into() };

    tilslutning
        .upsert_organisation(&Organisation {
            kode: PROVIDER.into(),
            navn: "Demo Pladsanvisning ApS".into(),
            cvr: "29189854".into(),
            pnr: "1003388888".into(),
            type_: OrganisationType::Udbyder,
        })
        .await?;
    for s in services() {
        tilslutning.upsert_service(&s).await?;
    }
    let password = credentials::generate_password();
    let hash = tokio::task::spawn_blocking({
        let p = password.clone();
        move || credentials::hash_password(&p)
    })
    .await??;
    let system_id = "demo-system-1";
    tilslutning
        .create_system(&NewSystem {
            id: system_id,
            navn: "Demo pladsanvisningssystem",
            udbyder_kode: PROVIDER,
            brugernavn: DEMO_USERNAME,
            password_hash: &hash,
        })
        .await?;
    for s in ["ImportService", "ExportService"] {
        tilslutning.set_tilslutning(system_id, s, AftaleStatus::Venter, PROVIDER, "demo").await?;
        tilslutning.set_tilslutning(system_id, s, AftaleStatus::Godkendt, "STIL", "demo").await?;
    }

    // P-numbers and addresses are in the shipped reference data (data/reference/).
    let mut p_nummer = 1_020_000_000_i64;
    for (kode, navn, cvr, post, by, vej) in KOMMUNER {
        tilslutning
            .upsert_organisation(&Organisation {
                kode: kode.to_string(),
                navn: format!("{navn} Kommune"),
                cvr: cvr.into(),
                pnr: String::new(),
                type_: OrganisationType::Kommune,
            })
            .await?;
        tilslutning
            .set_dataaftale(
                system_id,
                "ImportService",
                &kode.to_string(),
                AftaleStatus::Godkendt,
                &kode.to_string(),
                "demo",
            )
            .await?;
        for (i, inst) in INSTITUTIONER.iter().enumerate() {
            let d = registry
                .insert_daginstitution(
                    &DaginstitutionData {
                        navn: format!("{inst} ({navn})"),
                        ejerform_kode: 1,
                        lovgrundlag_kode: 1,
                        adm_kommune_kode: kode,
                        ejer_cvr_nummer: None,
                    },
                    &aktoer,
                )
                .await?;
            for (j, (suffix, type3)) in [("Vuggestue", 6010), ("Børnehave", 6011)].into_iter().enumerate() {
                p_nummer += 1;
                let adresse = Adresse {
                    vej_navn: vej.into(),
                    hus_nummer: format!("{}", 10 + i * 10 + j),
                    post_nummer: post.into(),
                    post_distrikt: by.into(),
                    kommune_kode: kode,
                    ..Adresse::default()
                };
                let a = registry
                    .insert_anvisningsenhed(
                        &AnvisningsenhedData {
                            daginstitutions_nummer: d.nummer.clone(),
                            navn: format!("{inst} {suffix}"),
                            adresse: from_dar(adresse.clone()).await?,
                            inst_type3: type3,
                            email: Some(format!("kontakt{}@{}.demo.invalid", i + 1, kode)),
                            telefon_nummer: Some(format!("3{}{:06}", kode % 10, p_nummer % 1_000_000)),
                            p_nummer: p_nummer.to_string(),
                        },
                        Some(cvr),
                        &aktoer,
                        &no_checks,
                    )
                    .await?
                    .done()
                    .map_err(|f| anyhow::anyhow!("demo data refused: {f:?}"))?;
                if j == 0 {
                    registry
                        .insert_alternativ_adresse(
                            &AlternativAdresseData {
                                enheds_nummer: a.nummer.clone(),
                                navn: format!("{inst} Legepladsen"),
                                adresse: from_dar(Adresse { hus_nummer: format!("{}B", 10 + i * 10), ..adresse })
                                    .await?,
                                ..AlternativAdresseData::default()
                            },
                            Some(cvr),
                            &aktoer,
                        )
                        .await?;
                }
            }
        }
    }
    let login = DemoLogin { username: DEMO_USERNAME.into(), password };
    // Saved at once so a crash before start-up finishes does not lose the only copy.
    write_credentials(data_dir, &login, "", "")?;
    Ok(login)
}

pub fn write_credentials(
    data_dir: &Path,
    login: &DemoLogin,
    import_wsdl: &str,
    export_wsdl: &str,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let json = serde_json::json!({
        "username": login.username,
        "password": login.password,
        "import_wsdl": import_wsdl,
        "export_wsdl": export_wsdl,
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn read_credentials(data_dir: &Path) -> anyhow::Result<DemoLogin> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => bail!(
            "the demo system exists but {} is gone; remove the data directory {} to start afresh",
            path.display(),
            data_dir.display()
        ),
    };
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    match (field("username"), field("password")) {
        (Some(username), Some(password)) => Ok(DemoLogin { username, password }),
        _ => bail!("{} lacks username or password", path.display()),
    }
}
