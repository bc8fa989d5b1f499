//! Demo data for `dtr up --demo`: the daginstitutioner of three kommuner with anvisningsenheder
//! and alternative addresses, a provider, a system with approved connections to both services
//! and data-access agreements with every demo kommune, and a second system with the connections
//! but no data-access agreement, to show a refusal; and one portal person per role (the demo
//! provider's administrator, kommune 101's data-access administrator, an operator of STIL).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use dtr_registry::lookup::Dar;
use dtr_registry::lookup::local::LocalReference;
use dtr_registry::model::{Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData};
use dtr_registry::storage::no_checks;
use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::credentials;
use dtr_tilslutning::model::{AftaleStatus, Organisation, OrganisationType, Rolle};
use dtr_tilslutning::store::{NewPerson, NewSystem};

pub const DEMO_USERNAME: &str = "demo-system";
pub const REFUSED_USERNAME: &str = "demo-refused";
const CREDENTIALS_FILE: &str = "demo-credentials.json";
pub const PROVIDER: &str = "DEMO01";

pub struct Login {
    pub username: String,
    pub password: String,
}

/// The demo systems' credentials: the one that may do everything, and the refused one.
pub struct DemoLogins {
    pub system: Login,
    pub refused: Login,
    pub persons: Vec<DemoPerson>,
}

/// A portal person of the demo.
pub struct DemoPerson {
    pub username: String,
    pub password: String,
    /// The role's name as the portal shows it.
    pub role: String,
    pub organisation: String,
}

/// (username, name, role, organisation)
const PERSONS: [(&str, &str, Rolle, &str); 3] = [
    ("demo-udbyder", "Ulla Udbyder", Rolle::Udbyderadministrator, PROVIDER),
    ("demo-kommune", "Karl Kommune", Rolle::Dataadgangsadministrator, "101"),
    ("demo-operatoer", "Olga Operatør", Rolle::Operatoer, "STIL"),
];

fn rolle_navn(r: Rolle) -> &'static str {
    match r {
        Rolle::Udbyderadministrator => "Udbyderadministrator",
        Rolle::Dataadgangsadministrator => "Dataadgangsadministrator",
        Rolle::Operatoer => "Operatør",
        Rolle::Registeradministrator => "Registeradministrator",
    }
}

/// The demo's portal persons, each with a fresh password and one role.
async fn create_persons(tilslutning: &dyn TilslutningStore) -> anyhow::Result<Vec<DemoPerson>> {
    let mut out = Vec::new();
    for (username, navn, rolle, organisation) in PERSONS {
        let password = credentials::generate_password();
        let hash = credentials::hash_password(&password).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let id = format!("demo-person-{username}");
        let person = NewPerson { id: &id, brugernavn: username, navn, email: "", hash: Some(&hash) };
        if !tilslutning.create_person(&person).await? {
            tracing::warn!(username, "a demo person exists without saved credentials; not shown");
            continue;
        }
        tilslutning.set_rolle(&id, organisation, rolle, true).await?;
        out.push(DemoPerson {
            username: username.into(),
            password,
            role: rolle_navn(rolle).into(),
            organisation: organisation.into(),
        });
    }
    Ok(out)
}

/// A new system of the demo provider with approved connections to both services.
async fn create_system(
    tilslutning: &dyn TilslutningStore,
    id: &str,
    navn: &str,
    username: &str,
) -> anyhow::Result<Login> {
    let password = credentials::generate_password();
    let hash = tokio::task::spawn_blocking({
        let p = password.clone();
        move || credentials::hash_password(&p)
    })
    .await??;
    tilslutning
        .create_system(&NewSystem { id, navn, udbyder_kode: PROVIDER, brugernavn: username, password_hash: &hash })
        .await?;
    for s in ["ImportService", "ExportService"] {
        tilslutning.set_tilslutning(id, s, AftaleStatus::Venter, PROVIDER.into(), "demo").await?;
        tilslutning.set_tilslutning(id, s, AftaleStatus::Godkendt, "STIL".into(), "demo").await?;
    }
    Ok(Login { username: username.into(), password })
}

/// The refused demo system: connections, but no data-access agreement with anyone.
async fn create_refused(tilslutning: &dyn TilslutningStore) -> anyhow::Result<Login> {
    create_system(tilslutning, "demo-refused-1", "Demo system uden dataaftaler", REFUSED_USERNAME).await
}

/// (kode, navn, kommune CVR, postnummer, by, street)
const KOMMUNER: [(i32, &str, &str, &str, &str, &str); 3] = [
    (101, "København", "64942212", "2300", "København S", "Amagerbrogade"),
    (147, "Frederiksberg", "11259979", "2000", "Frederiksberg", "Falkoner Allé"),
    (751, "Aarhus", "55133018", "8000", "Aarhus C", "Vestergade"),
];

const INSTITUTIONER: [&str; 3] = ["Børnehuset Solsikken", "Troldehøjen", "Mælkebøtten"];

/// Creates the demo data on first run; later runs reuse it and the saved credentials.
pub async fn ensure(database_url: &str, data_dir: &Path) -> anyhow::Result<DemoLogins> {
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
        let (system, refused, persons) = read_credentials(data_dir)?;
        // A data directory from before the refused system or the persons existed gets them now.
        let changed = refused.is_none() || persons.is_none();
        let refused = match refused {
            Some(r) => r,
            None => create_refused(tilslutning.as_ref()).await?,
        };
        let persons = match persons {
            Some(p) => p,
            None => create_persons(tilslutning.as_ref()).await?,
        };
        let logins = DemoLogins { system, refused, persons };
        if changed {
            write_credentials(data_dir, &logins, "", "", "")?;
        }
        return Ok(logins);
    }
    let registry = dtr_registry::storage::connect(database_url).await?;
    let aktoer = Aktoer {
        system: "demo".into(),
        organisation: None,
        correlation_id: "demo-data".into(),
        operation: "demo".into(),
        message_id: None,
    };

    tilslutning
        .upsert_organisation(&Organisation {
            kode: PROVIDER.into(),
            navn: "Demo Pladsanvisning ApS".into(),
            cvr: "29189854".into(),
            pnr: "1003388888".into(),
            type_: OrganisationType::Udbyder,
        })
        .await?;
    let system_id = "demo-system-1";
    let system = create_system(tilslutning.as_ref(), system_id, "Demo pladsanvisningssystem", DEMO_USERNAME).await?;
    let refused = create_refused(tilslutning.as_ref()).await?;

    // A private owner (ejerform 3 daginstitutioner name it by CVR) that agreed too.
    tilslutning
        .upsert_organisation(&Organisation {
            kode: "DEMOPE".into(),
            navn: "Demo Privatinstitutioner ApS".into(),
            cvr: "29189854".into(),
            pnr: String::new(),
            type_: OrganisationType::PrivatEjer,
        })
        .await?;
    tilslutning
        .set_dataaftale(system_id, "ImportService", "DEMOPE", AftaleStatus::Godkendt, "DEMOPE".into(), "demo")
        .await?;

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
                kode.to_string().as_str().into(),
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
    let persons = create_persons(tilslutning.as_ref()).await?;
    let logins = DemoLogins { system, refused, persons };
    // Saved at once so a crash before start-up finishes does not lose the only copy.
    write_credentials(data_dir, &logins, "", "", "")?;
    Ok(logins)
}

pub fn write_credentials(
    data_dir: &Path,
    logins: &DemoLogins,
    import_wsdl: &str,
    export_wsdl: &str,
    portal_url: &str,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(CREDENTIALS_FILE);
    let json = serde_json::json!({
        "username": logins.system.username,
        "password": logins.system.password,
        "import_wsdl": import_wsdl,
        "export_wsdl": export_wsdl,
        "refused_system": {
            "username": logins.refused.username,
            "password": logins.refused.password,
        },
        "portal_url": portal_url,
        "persons": logins.persons.iter().map(|p| serde_json::json!({
            "username": p.username,
            "password": p.password,
            "role": p.role,
            "organisation": p.organisation,
        })).collect::<Vec<_>>(),
    });
    // Passwords: readable by the owner only.
    dtr_gateway::tls::write_private(&path, &serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The saved demo credentials; the refused system's and the persons may be missing (older data
/// directories).
fn read_credentials(data_dir: &Path) -> anyhow::Result<(Login, Option<Login>, Option<Vec<DemoPerson>>)> {
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
    let field = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let login = |v: &serde_json::Value| match (field(v, "username"), field(v, "password")) {
        (Some(username), Some(password)) => Some(Login { username, password }),
        _ => None,
    };
    let Some(system) = login(&v) else { bail!("{} lacks username or password", path.display()) };
    let persons = v.get("persons").and_then(|p| p.as_array()).map(|list| {
        list.iter()
            .filter_map(|p| {
                Some(DemoPerson {
                    username: field(p, "username")?,
                    password: field(p, "password")?,
                    role: field(p, "role")?,
                    organisation: field(p, "organisation")?,
                })
            })
            .collect()
    });
    Ok((system, v.get("refused_system").and_then(login), persons))
}
