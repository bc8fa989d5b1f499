//! The register for everyone: the datastrukturoverblik (docs/portal.md, "The register's pages").
//! Public, no login: a page per unit at `/dagtilbud/<nummer>` with its fields, code texts,
//! parents, children and versions; a kommune's structure as a tree at `/kommune/<kode>`; search at
//! `/soeg?q=` by name, number, CVR number, P-number or kommune. The portal reads the export service
//! for itself (as the part `portal`); the pages only show what the public export shows.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use futures::StreamExt;
use http::StatusCode;
use serde::Deserialize;

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::export::{
    CvrnummerRequest, KodetabelRequest, KommuneRequest, NavnRequest, NummerRequest, PnummerRequest,
};
use dtr_proto::registry as pb;

use crate::PortalState;
use crate::pages::{FejlPage, Hoved, forklaring, html};

fn ctx() -> CallerContext {
    CallerContext::new(Principal::Service("portal".into()))
}

fn tid(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn aktiv(r: &Option<pb::Registerfelter>) -> bool {
    r.as_ref().is_none_or(|r| r.aktivitetsstatus() != pb::Aktivitetsstatus::Nedlagt)
}

/// One line of a unit's fields: (label, value); empty values are left out.
pub struct Felt {
    navn: &'static str,
    vaerdi: String,
}

fn felter(par: Vec<(&'static str, String)>) -> Vec<Felt> {
    par.into_iter().filter(|(_, v)| !v.trim().is_empty()).map(|(navn, vaerdi)| Felt { navn, vaerdi }).collect()
}

fn adresse_tekst(a: &Option<pb::Adresse>) -> String {
    let Some(a) = a else { return String::new() };
    let mut linje = format!("{} {}", a.vej_navn, a.hus_nummer);
    if let Some(e) = a.etage.as_deref().filter(|e| !e.is_empty()) {
        linje.push_str(&format!(", {e}."));
    }
    if let Some(d) = a.doer.as_deref().filter(|d| !d.is_empty()) {
        linje.push_str(&format!(" {d}"));
    }
    if let Some(s) = a.supplerende_bynavn.as_deref().filter(|s| !s.is_empty()) {
        linje.push_str(&format!(", {s}"));
    }
    format!("{linje}, {} {}", a.post_nummer, a.post_distrikt)
}

fn register_felter(r: &Option<pb::Registerfelter>) -> Vec<(&'static str, String)> {
    let Some(r) = r else { return vec![] };
    let status = if r.aktivitetsstatus() == pb::Aktivitetsstatus::Nedlagt { "Nedlagt" } else { "Aktiv" };
    vec![
        ("Status", status.into()),
        ("Oprettet", tid(&r.oprettet_dato)),
        ("Senest ændret", tid(&r.senest_aendret)),
        ("Nedlagt", tid(&r.nedlagt_dato)),
        ("Version", r.version.to_string()),
    ]
}

/// A unit in a list or tree: its link, name, a short description and whether it is closed.
pub struct Enhed {
    nummer: String,
    navn: String,
    om: String,
    nedlagt: bool,
    /// Children (anvisningsenheder of a daginstitution, alternative addresses of a unit).
    boern: Vec<Enhed>,
}

fn daginstitution_enhed(d: &pb::DaginstitutionExtend, boern: Vec<Enhed>) -> Enhed {
    let di = d.daginstitution.clone().unwrap_or_default();
    Enhed {
        nummer: di.daginstitutions_nummer,
        navn: di.daginstitutions_navn,
        om: format!("Daginstitution, {}", d.ejerform_kode_tekst.to_lowercase()),
        nedlagt: !aktiv(&d.register),
        boern,
    }
}

fn anvisningsenhed_enhed(e: &pb::AnvisningsenhedExtend, boern: Vec<Enhed>) -> Enhed {
    let a = e.anvisningsenhed.clone().unwrap_or_default();
    Enhed {
        nummer: a.enheds_nummer,
        navn: a.enheds_navn,
        om: format!("Anvisningsenhed, {} – {}", e.inst_type3_tekst, adresse_tekst(&a.adresse)),
        nedlagt: !aktiv(&e.register),
        boern,
    }
}

fn alternativ_enhed(l: &pb::AlternativAdresseExtend) -> Enhed {
    let a = l.alternativ_adresse.clone().unwrap_or_default();
    Enhed {
        nummer: a.alternativ_adresse_nummer,
        navn: a.alternativ_adresse_navn,
        om: format!("Alternativ adresse – {}", adresse_tekst(&a.adresse)),
        nedlagt: !aktiv(&l.register),
        boern: vec![],
    }
}

fn dagtilbud_enhed(d: &pb::Dagtilbud) -> Option<Enhed> {
    let boern = d
        .anvisningsenheder
        .iter()
        .filter_map(|u| {
            let e = u.anvisningsenhed.as_ref()?;
            Some(anvisningsenhed_enhed(e, u.alternative_adresser.iter().map(alternativ_enhed).collect()))
        })
        .collect();
    Some(daginstitution_enhed(d.daginstitution.as_ref()?, boern))
}

/// One version of a unit.
pub struct Version {
    tidspunkt: String,
    handling: &'static str,
    version: i64,
    navn: String,
}

fn versioner(h: Vec<pb::Aendring>) -> Vec<Version> {
    use pb::aendring::Tilstand;
    h.into_iter()
        .map(|a| Version {
            tidspunkt: tid(&a.tidspunkt),
            handling: match a.handling() {
                pb::Handling::Oprettet => "Oprettet",
                pb::Handling::Aendret => "Ændret",
                pb::Handling::Flyttet => "Flyttet",
                pb::Handling::NedlagtHandling => "Nedlagt",
                pb::Handling::Unspecified => "–",
            },
            version: a.version,
            navn: match a.tilstand {
                Some(Tilstand::Daginstitution(d)) => d.daginstitution.map(|x| x.daginstitutions_navn),
                Some(Tilstand::Anvisningsenhed(e)) => e.anvisningsenhed.map(|x| x.enheds_navn),
                Some(Tilstand::AlternativAdresse(l)) => l.alternativ_adresse.map(|x| x.alternativ_adresse_navn),
                None => None,
            }
            .unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "register_enhed.html")]
struct EnhedSide {
    hoved: Option<Hoved>,
    niveau: &'static str,
    nummer: String,
    navn: String,
    nedlagt: bool,
    felter: Vec<Felt>,
    /// (what, number, name) of the parents, nearest last.
    foraeldre: Vec<(&'static str, String, String)>,
    kommune: Option<(i32, String)>,
    boern_titel: &'static str,
    boern: Vec<Enhed>,
    versioner: Vec<Version>,
}

fn ikke_fundet(hvad: &str) -> Response {
    html(StatusCode::NOT_FOUND, &FejlPage { hoved: None, fejl: Some(&format!("{hvad} findes ikke i registeret.")) })
}

fn utilgaengelig(e: &tonic::Status) -> Response {
    html(StatusCode::SERVICE_UNAVAILABLE, &FejlPage { hoved: None, fejl: Some(&forklaring(e)) })
}

/// A unit's page, whichever level its number belongs to.
pub async fn enhed(State(st): State<PortalState>, Path(nummer): Path<String>) -> Response {
    let nummer = nummer.trim().to_uppercase();
    if nummer.len() > 20 || !nummer.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return ikke_fundet(&format!("Nummeret {nummer:?}"));
    }
    match enhed_side(&st, &nummer).await {
        Ok(Some(side)) => html(StatusCode::OK, &side),
        Ok(None) => ikke_fundet(&format!("Dagtilbuddet {nummer}")),
        Err(e) => utilgaengelig(&e),
    }
}

async fn enhed_side(st: &PortalState, nummer: &str) -> Result<Option<EnhedSide>, tonic::Status> {
    let mut c = st.export();
    let req = || ctx().request(NummerRequest { nummer: nummer.to_owned() });
    let historik = c.get_historik(req()).await?.into_inner().versioner;
    if let Some(d) = c.get_daginstitution_by_nummer(req()).await?.into_inner().daginstitutioner.into_iter().next() {
        let di = d.daginstitution.clone().unwrap_or_default();
        let mut tree = c.get_dagtilbud_by_dag_institutions_nummer(req()).await?.into_inner();
        let boern = match tree.message().await? {
            Some(t) => dagtilbud_enhed(&t).map(|e| e.boern).unwrap_or_default(),
            None => vec![],
        };
        let mut f = vec![
            ("Daginstitutionsnummer", di.daginstitutions_nummer.clone()),
            ("Ejerform", format!("{} ({})", d.ejerform_kode_tekst, di.ejerform_kode)),
            ("Lovgrundlag", format!("{} ({})", d.lovgrundlag_kode_tekst, di.lovgrundlag_kode)),
            ("Administrerende kommune", format!("{} ({})", d.adm_kommune_kode_tekst, di.adm_kommune_kode)),
            ("Ejers CVR-nummer", di.ejer_cvr_nummer.clone().unwrap_or_default()),
        ];
        f.extend(register_felter(&d.register));
        return Ok(Some(EnhedSide {
            hoved: None,
            niveau: "Daginstitution",
            nummer: di.daginstitutions_nummer,
            navn: di.daginstitutions_navn,
            nedlagt: !aktiv(&d.register),
            felter: felter(f),
            foraeldre: vec![],
            kommune: Some((di.adm_kommune_kode, d.adm_kommune_kode_tekst.clone())),
            boern_titel: "Anvisningsenheder",
            boern,
            versioner: versioner(historik),
        }));
    }
    if let Some(e) = c.get_anvisnings_enheder_by_nummer(req()).await?.into_inner().anvisningsenheder.into_iter().next()
    {
        let a = e.anvisningsenhed.clone().unwrap_or_default();
        let boern = c
            .get_alternativ_adresser_by_anvisningsenhedsnummer(req())
            .await?
            .into_inner()
            .alternative_adresser
            .iter()
            .map(alternativ_enhed)
            .collect();
        let forael = foraelder(st, &a.daginstitutions_nummer).await?;
        let mut f = vec![
            ("Enhedsnummer", a.enheds_nummer.clone()),
            ("Institutionstype", format!("{} ({})", e.inst_type3_tekst, a.inst_type3)),
            ("Adresse", adresse_tekst(&a.adresse)),
            ("Kommune (adressens)", e.kommune_kode_tekst.clone()),
            ("E-mail", a.email.clone().unwrap_or_default()),
            ("Telefon", a.telefon_nummer.clone().unwrap_or_default()),
            ("CVR-nummer", a.cvr_nummer.clone().unwrap_or_default()),
            ("P-nummer", a.p_nummer.clone()),
        ];
        f.extend(register_felter(&e.register));
        return Ok(Some(EnhedSide {
            hoved: None,
            niveau: "Anvisningsenhed",
            nummer: a.enheds_nummer,
            navn: a.enheds_navn,
            nedlagt: !aktiv(&e.register),
            felter: felter(f),
            foraeldre: vec![("Daginstitution", a.daginstitutions_nummer, forael)],
            kommune: None,
            boern_titel: "Alternative adresser",
            boern,
            versioner: versioner(historik),
        }));
    }
    let l = c.get_alternativ_adresser_by_nummer(req()).await?.into_inner().alternative_adresser.into_iter().next();
    let Some(l) = l else { return Ok(None) };
    let a = l.alternativ_adresse.clone().unwrap_or_default();
    let enhed_req = ctx().request(NummerRequest { nummer: a.enheds_nummer.clone() });
    let enhed = c.get_anvisnings_enheder_by_nummer(enhed_req).await?.into_inner().anvisningsenheder.into_iter().next();
    let enhed = enhed.and_then(|e| e.anvisningsenhed).unwrap_or_default();
    let di_navn = foraelder(st, &enhed.daginstitutions_nummer).await?;
    let mut f = vec![
        ("Nummer", a.alternativ_adresse_nummer.clone()),
        ("Adresse", adresse_tekst(&a.adresse)),
        ("Kommune (adressens)", l.kommune_kode_tekst.clone()),
        ("E-mail", a.email.clone().unwrap_or_default()),
        ("Telefon", a.telefon_nummer.clone().unwrap_or_default()),
        ("CVR-nummer", a.cvr_nummer.clone().unwrap_or_default()),
        ("P-nummer", a.p_nummer.clone().unwrap_or_default()),
    ];
    f.extend(register_felter(&l.register));
    Ok(Some(EnhedSide {
        hoved: None,
        niveau: "Alternativ adresse",
        nummer: a.alternativ_adresse_nummer,
        navn: a.alternativ_adresse_navn,
        nedlagt: !aktiv(&l.register),
        felter: felter(f),
        foraeldre: vec![
            ("Daginstitution", enhed.daginstitutions_nummer, di_navn),
            ("Anvisningsenhed", a.enheds_nummer, enhed.enheds_navn),
        ],
        kommune: None,
        boern_titel: "",
        boern: vec![],
        versioner: versioner(historik),
    }))
}

/// A daginstitution's name.
async fn foraelder(st: &PortalState, nummer: &str) -> Result<String, tonic::Status> {
    let req = ctx().request(NummerRequest { nummer: nummer.to_owned() });
    let d = st.export().get_daginstitution_by_nummer(req).await?.into_inner().daginstitutioner.into_iter().next();
    Ok(d.and_then(|d| d.daginstitution).map(|d| d.daginstitutions_navn).unwrap_or_default())
}

// --- A kommune's structure ---

#[derive(Template)]
#[template(path = "register_kommune.html")]
struct KommuneSide {
    hoved: Option<Hoved>,
    kode: i32,
    navn: String,
    daginstitutioner: Vec<Enhed>,
    aktive: usize,
    nedlagte: usize,
}

/// The kommunes' names, from the code table.
async fn kommuner(st: &PortalState) -> Result<Vec<(i32, String)>, tonic::Status> {
    let req = ctx().request(KodetabelRequest { navn: "kommuner".into() });
    let t = st.export().get_kodetabel(req).await?.into_inner();
    Ok(t.koder.into_iter().map(|k| (k.kode, k.tekst)).collect())
}

/// Most daginstitutioner one kommune page shows (a kommune at ten times today's size has far
/// fewer); beyond it the page says so rather than grow without bound.
const MAX_PAA_SIDEN: usize = 20_000;

pub async fn kommune(State(st): State<PortalState>, Path(kode): Path<String>) -> Response {
    let Ok(kode) = kode.trim().parse::<i32>() else { return ikke_fundet(&format!("Kommunen {kode:?}")) };
    let navn = match kommuner(&st).await {
        Ok(k) => k.into_iter().find(|(k, _)| *k == kode).map(|(_, n)| n),
        Err(e) => return utilgaengelig(&e),
    };
    let Some(navn) = navn else { return ikke_fundet(&format!("Kommunen {kode}")) };
    let req = ctx().request(KommuneRequest { adm_kommune_nummer: kode });
    let mut stream = match st.export().get_dagtilbud_by_adm_kommune_nummer(req).await {
        Ok(s) => s.into_inner(),
        Err(e) => return utilgaengelig(&e),
    };
    let mut daginstitutioner = Vec::new();
    while let Some(d) = stream.next().await {
        match d {
            Ok(d) => daginstitutioner.extend(dagtilbud_enhed(&d)),
            Err(e) => return utilgaengelig(&e),
        }
        if daginstitutioner.len() >= MAX_PAA_SIDEN {
            break;
        }
    }
    let nedlagte = daginstitutioner.iter().filter(|d| d.nedlagt).count();
    let aktive = daginstitutioner.len() - nedlagte;
    html(StatusCode::OK, &KommuneSide { hoved: None, kode, navn, daginstitutioner, aktive, nedlagte })
}

// --- Search ---

#[derive(Deserialize, Default)]
pub struct Soegning {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "register_soeg.html")]
struct SoegSide {
    hoved: Option<Hoved>,
    q: String,
    soegt: bool,
    kommuner: Vec<(i32, String)>,
    fund: Vec<Enhed>,
    fejl: Option<String>,
}

/// What a search text is, by its shape.
#[derive(Debug, PartialEq, Eq)]
enum Slags {
    Nummer,
    Cvr,
    PNummer,
    Kommunekode(i32),
    Navn,
}

fn slags(q: &str) -> Slags {
    let cifre = q.bytes().all(|b| b.is_ascii_digit());
    match (cifre, q.len()) {
        (true, 8) => Slags::Cvr,
        (true, 10) => Slags::PNummer,
        (true, 1..=3) => Slags::Kommunekode(q.parse().unwrap_or_default()),
        _ if q.len() > 1
            && q.as_bytes()[0].eq_ignore_ascii_case(&b'G')
            && q[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Slags::Nummer
        }
        _ => Slags::Navn,
    }
}

pub async fn soeg(State(st): State<PortalState>, Query(s): Query<Soegning>) -> Response {
    let q: String = s.q.trim().chars().filter(|c| !c.is_control()).take(100).collect();
    let alle_kommuner = match kommuner(&st).await {
        Ok(k) => k,
        Err(e) => return utilgaengelig(&e),
    };
    let mut side =
        SoegSide { hoved: None, q: q.clone(), soegt: !q.is_empty(), kommuner: vec![], fund: vec![], fejl: None };
    if q.is_empty() {
        side.kommuner = alle_kommuner;
        return html(StatusCode::OK, &side);
    }
    let lav = q.to_lowercase();
    side.kommuner = alle_kommuner
        .into_iter()
        .filter(|(k, n)| slags(&q) == Slags::Kommunekode(*k) || (q.len() >= 2 && n.to_lowercase().contains(&lav)))
        .collect();
    match fund(&st, &q).await {
        Ok(f) => side.fund = f,
        Err(e) => side.fejl = Some(forklaring(&e)),
    }
    html(StatusCode::OK, &side)
}

/// The units a search finds, daginstitutioner first.
async fn fund(st: &PortalState, q: &str) -> Result<Vec<Enhed>, tonic::Status> {
    let mut c = st.export();
    let mut out = Vec::new();
    match slags(q) {
        Slags::Nummer => {
            let req = || ctx().request(NummerRequest { nummer: q.to_uppercase() });
            let d = c.get_daginstitution_by_nummer(req()).await?.into_inner().daginstitutioner;
            out.extend(d.iter().map(|d| daginstitution_enhed(d, vec![])));
            let e = c.get_anvisnings_enheder_by_nummer(req()).await?.into_inner().anvisningsenheder;
            out.extend(e.iter().map(|e| anvisningsenhed_enhed(e, vec![])));
            let l = c.get_alternativ_adresser_by_nummer(req()).await?.into_inner().alternative_adresser;
            out.extend(l.iter().map(alternativ_enhed));
        }
        Slags::Cvr => {
            let req = || ctx().request(CvrnummerRequest { cvr_nummer: q.to_owned() });
            let e = c.get_anvisnings_enheder_by_cvrnummer(req()).await?.into_inner().anvisningsenheder;
            out.extend(e.iter().map(|e| anvisningsenhed_enhed(e, vec![])));
            let l = c.get_alternativ_adresser_by_cvrnummer(req()).await?.into_inner().alternative_adresser;
            out.extend(l.iter().map(alternativ_enhed));
        }
        Slags::PNummer => {
            let req = || ctx().request(PnummerRequest { p_nummer: q.to_owned() });
            let e = c.get_anvisnings_enheder_by_pnummer(req()).await?.into_inner().anvisningsenheder;
            out.extend(e.iter().map(|e| anvisningsenhed_enhed(e, vec![])));
            let l = c.get_alternativ_adresser_by_pnummer(req()).await?.into_inner().alternative_adresser;
            out.extend(l.iter().map(alternativ_enhed));
        }
        Slags::Kommunekode(_) => {}
        Slags::Navn => {
            let req = || ctx().request(NavnRequest { part_of_name: q.to_owned() });
            let d = c.get_daginstitution_by_navn(req()).await?.into_inner().daginstitutioner;
            out.extend(d.iter().map(|d| daginstitution_enhed(d, vec![])));
            let e = c.get_anvisnings_enheder_by_navn(req()).await?.into_inner().anvisningsenheder;
            out.extend(e.iter().map(|e| anvisningsenhed_enhed(e, vec![])));
            let l = c.get_alternativ_adresser_by_navn(req()).await?.into_inner().alternative_adresser;
            out.extend(l.iter().map(alternativ_enhed));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Slags, slags};

    #[test]
    fn a_search_is_read_by_its_shape() {
        assert_eq!(slags("64942212"), Slags::Cvr);
        assert_eq!(slags("1012345678"), Slags::PNummer);
        assert_eq!(slags("101"), Slags::Kommunekode(101));
        assert_eq!(slags("g30001"), Slags::Nummer);
        assert_eq!(slags("Solsikken"), Slags::Navn);
        assert_eq!(slags("G"), Slags::Navn);
    }
}
