//! The back office (docs/portal.md): a person with the Registeradministrator role for STIL
//! maintains the register by hand — creates, changes and closes daginstitutioner, moves and closes
//! anvisningsenheder and alternative addresses — through the import service, so exactly the
//! ImportService's rules apply, with their codes and Danish messages shown next to the fields
//! they concern. The import service's audit names the person (the token names them).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use dtr_proto::context::CallerContext;
use dtr_proto::export::NummerRequest;
use dtr_proto::import::{DeleteRequest, InsertDaginstitutionRequest, MoveRequest, UpdateDaginstitutionRequest};
use dtr_proto::registry::{Daginstitution, ImportSvar};
use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::flows::{Afvist, Side, acting, done_at, failed, posted, status_of};
use crate::pages::{Formular, Hoved, forklaring, hoved, html};
use crate::session::Session;

/// The back office is the Registeradministrator's, acting for STIL.
fn registeradministrator(s: &Session, kode: &str) -> Result<(), Afvist> {
    let ok = kode == dtr_proto::context::OPERATOER
        && s.person.as_ref().is_some_and(|p| p.roller_for(kode).contains(&pb::Rolle::Registeradministrator));
    if ok {
        Ok(())
    } else {
        Err(failed(s, StatusCode::FORBIDDEN, "Backoffice er for STIL's registeradministratorer.").into())
    }
}

/// A field of the daginstitution form, with its value and the errors that concern it.
struct Felt {
    navn: &'static str,
    etiket: &'static str,
    vaerdi: String,
    fejl: Vec<String>,
}

#[derive(Template)]
#[template(path = "backoffice.html")]
struct BackofficeSide<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    /// The unit shown, if any: (number, level, name).
    enhed: Option<(String, &'static str, String)>,
    /// The daginstitution form (a new one, or the one shown).
    felter: Vec<Felt>,
    /// Errors no field owns.
    fejl: Vec<String>,
    besked: Option<String>,
}

const FELTER: [(&str, &str); 5] = [
    ("daginstitutionsNavn", "Navn"),
    ("ejerformKode", "Ejerform (kode)"),
    ("lovgrundlagKode", "Lovgrundlag (kode)"),
    ("admKommuneKode", "Administrerende kommune (kode)"),
    ("ejerCvrNummer", "Ejers CVR-nummer (privat ejer)"),
];

fn felter(d: &Daginstitution) -> Vec<Felt> {
    let vaerdi = |navn: &str| match navn {
        "daginstitutionsNavn" => d.daginstitutions_navn.clone(),
        "ejerformKode" => nul_tom(d.ejerform_kode),
        "lovgrundlagKode" => nul_tom(d.lovgrundlag_kode),
        "admKommuneKode" => nul_tom(d.adm_kommune_kode),
        _ => d.ejer_cvr_nummer.clone().unwrap_or_default(),
    };
    FELTER.iter().map(|(navn, etiket)| Felt { navn, etiket, vaerdi: vaerdi(navn), fejl: vec![] }).collect()
}

fn nul_tom(v: i32) -> String {
    if v == 0 { String::new() } else { v.to_string() }
}

/// Places the import service's errors at their fields; the rest go on top.
fn placer(felter: &mut [Felt], svar: &ImportSvar) -> Vec<String> {
    let mut oevrige = Vec::new();
    for f in &svar.fejl {
        let tekst = format!("{} – {}", f.kode, f.besked);
        match felter.iter_mut().find(|x| x.navn.eq_ignore_ascii_case(&f.felt)) {
            Some(x) => x.fejl.push(tekst),
            None => oevrige.push(tekst),
        }
    }
    oevrige
}

fn side(s: &Session, enhed: Option<(String, &'static str, String)>, felter: Vec<Felt>, fejl: Vec<String>) -> Response {
    let status = if fejl.is_empty() && felter.iter().all(|f| f.fejl.is_empty()) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html(status, &BackofficeSide { hoved: hoved(s), csrf: &s.csrf, enhed, felter, fejl, besked: None })
}

#[derive(Deserialize)]
pub struct Find {
    #[serde(default)]
    nummer: String,
}

/// The search field's answer: on to the unit's page.
pub async fn find(axum::extract::Query(q): axum::extract::Query<Find>) -> Response {
    let nummer: String = q.nummer.trim().chars().filter(|c| c.is_ascii_alphanumeric()).take(6).collect();
    crate::pages::see_other(&format!("/backoffice/{}", nummer.to_uppercase()))
}

pub async fn forside(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, kode, _) = acting(&st, &headers)?;
    registeradministrator(&s, &kode)?;
    let besked = st.sessions.take_besked(&mut s);
    let felter = felter(&Daginstitution::default());
    Ok(html(
        StatusCode::OK,
        &BackofficeSide { hoved: hoved(&s), csrf: &s.csrf, enhed: None, felter, fejl: vec![], besked },
    ))
}

/// A unit's back-office page: the daginstitution form, or the move and close forms of a unit.
pub async fn enhed(State(st): State<PortalState>, Path(nummer): Path<String>, headers: HeaderMap) -> Side {
    let (mut s, kode, _) = acting(&st, &headers)?;
    registeradministrator(&s, &kode)?;
    let besked = st.sessions.take_besked(&mut s);
    let (enhed, d) = match hent(&st, &nummer).await {
        Ok(Some(x)) => x,
        Ok(None) => return Ok(failed(&s, StatusCode::NOT_FOUND, &format!("{nummer} findes ikke i registeret."))),
        Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
    };
    let felter = d.as_ref().map(felter).unwrap_or_default();
    Ok(html(
        StatusCode::OK,
        &BackofficeSide { hoved: hoved(&s), csrf: &s.csrf, enhed: Some(enhed), felter, fejl: vec![], besked },
    ))
}

/// The unit with this number: (number, level, name), and the daginstitution's fields if it is one.
async fn hent(
    st: &PortalState,
    nummer: &str,
) -> Result<Option<((String, &'static str, String), Option<Daginstitution>)>, tonic::Status> {
    let ctx = CallerContext::new(dtr_proto::context::Principal::Service("portal".into()));
    let req = || ctx.request(NummerRequest { nummer: nummer.to_owned() });
    let mut c = st.export();
    if let Some(d) = c.get_daginstitution_by_nummer(req()).await?.into_inner().daginstitutioner.into_iter().next() {
        let d = d.daginstitution.unwrap_or_default();
        return Ok(Some((
            (d.daginstitutions_nummer.clone(), "Daginstitution", d.daginstitutions_navn.clone()),
            Some(d),
        )));
    }
    if let Some(e) = c.get_anvisnings_enheder_by_nummer(req()).await?.into_inner().anvisningsenheder.into_iter().next()
    {
        let e = e.anvisningsenhed.unwrap_or_default();
        return Ok(Some(((e.enheds_nummer, "Anvisningsenhed", e.enheds_navn), None)));
    }
    let l = c.get_alternativ_adresser_by_nummer(req()).await?.into_inner().alternative_adresser.into_iter().next();
    Ok(l.and_then(|l| l.alternativ_adresse)
        .map(|l| ((l.alternativ_adresse_nummer, "Alternativ adresse", l.alternativ_adresse_navn), None)))
}

#[derive(Deserialize)]
pub struct DaginstitutionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "daginstitutionsNavn")]
    navn: String,
    #[serde(default, rename = "ejerformKode")]
    ejerform: String,
    #[serde(default, rename = "lovgrundlagKode")]
    lovgrundlag: String,
    #[serde(default, rename = "admKommuneKode")]
    kommune: String,
    #[serde(default, rename = "ejerCvrNummer")]
    cvr: String,
}

impl DaginstitutionForm {
    /// The fields as the ImportService reads them; a code that is not a number is 0, which the
    /// rules refuse as missing (the field's own error, as for a SOAP call).
    fn daginstitution(&self, nummer: &str) -> Daginstitution {
        let kode = |v: &str| v.trim().parse().unwrap_or(0);
        Daginstitution {
            daginstitutions_nummer: nummer.to_owned(),
            daginstitutions_navn: self.navn.clone(),
            ejerform_kode: kode(&self.ejerform),
            lovgrundlag_kode: kode(&self.lovgrundlag),
            adm_kommune_kode: kode(&self.kommune),
            ejer_cvr_nummer: Some(self.cvr.trim().to_owned()).filter(|c| !c.is_empty()),
        }
    }
}

/// The import service's answer: on to the unit's page, or the form again with the errors.
fn svar(
    st: &PortalState,
    s: Session,
    enhed: Option<(String, &'static str, String)>,
    d: &Daginstitution,
    r: Result<ImportSvar, tonic::Status>,
    gjort: &str,
) -> Response {
    match r {
        Ok(svar) if svar.ok => {
            let besked = format!("{} {gjort}.", svar.nummer);
            done_at(st, s, besked, &format!("/backoffice/{}", svar.nummer))
        }
        Ok(svar) => {
            let mut f = felter(d);
            let oevrige = placer(&mut f, &svar);
            side(&s, enhed, f, oevrige)
        }
        Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
    }
}

pub async fn opret(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<DaginstitutionForm>,
) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    registeradministrator(&s, &kode)?;
    let d = f.daginstitution("");
    let req = ctx.request(InsertDaginstitutionRequest { daginstitution: Some(d.clone()) });
    let r = st.import().insert_daginstitution(req).await.map(|r| r.into_inner());
    Ok(svar(&st, s, None, &d, r, "er oprettet"))
}

pub async fn ret(
    State(st): State<PortalState>,
    Path(nummer): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<DaginstitutionForm>,
) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    registeradministrator(&s, &kode)?;
    let d = f.daginstitution(&nummer);
    let req = ctx.request(UpdateDaginstitutionRequest { daginstitution: Some(d.clone()), forventet_version: None });
    let r = st.import().update_daginstitution(req).await.map(|r| r.into_inner());
    let enhed = Some((nummer.clone(), "Daginstitution", f.navn.clone()));
    Ok(svar(&st, s, enhed, &d, r, "er rettet"))
}

#[derive(Deserialize)]
pub struct HandlingForm {
    #[serde(default)]
    csrf: String,
    /// The level, as the page showed it.
    #[serde(default)]
    niveau: String,
    /// For a move: the new parent's number.
    #[serde(default)]
    til: String,
}

/// Closes or moves a unit, by its level.
pub async fn luk_eller_flyt(
    State(st): State<PortalState>,
    Path((nummer, handling)): Path<(String, String)>,
    headers: HeaderMap,
    Formular(f): Formular<HandlingForm>,
) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    registeradministrator(&s, &kode)?;
    let mut c = st.import();
    let r = match (handling.as_str(), f.niveau.as_str()) {
        ("luk", "Daginstitution") => {
            c.delete_daginstitution(ctx.request(DeleteRequest { nummer: nummer.clone() })).await
        }
        ("luk", "Anvisningsenhed") => {
            c.delete_anvisnings_enhed(ctx.request(DeleteRequest { nummer: nummer.clone() })).await
        }
        ("luk", "Alternativ adresse") => {
            c.delete_alternativ_adresse(ctx.request(DeleteRequest { nummer: nummer.clone() })).await
        }
        ("flyt", "Anvisningsenhed") => {
            c.move_anvisnings_enhed(
                ctx.request(MoveRequest { nummer: nummer.clone(), til_nummer: f.til.trim().into() }),
            )
            .await
        }
        ("flyt", "Alternativ adresse") => {
            let req = MoveRequest { nummer: nummer.clone(), til_nummer: f.til.trim().into() };
            c.move_alternativ_adresse(ctx.request(req)).await
        }
        _ => return Ok(failed(&s, StatusCode::BAD_REQUEST, "Ukendt handling.")),
    };
    Ok(match r.map(|r| r.into_inner()) {
        Ok(svar) if svar.ok => {
            let gjort = if handling == "luk" { "er lukket" } else { "er flyttet" };
            done_at(&st, s, format!("{nummer} {gjort}."), &format!("/backoffice/{nummer}"))
        }
        Ok(svar) => {
            let fejl: Vec<String> = svar.fejl.iter().map(|f| format!("{} – {}", f.kode, f.besked)).collect();
            failed(&s, StatusCode::UNPROCESSABLE_ENTITY, &fejl.join(" "))
        }
        Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
    })
}
