//! The back office (docs/portal.md): a person with the Registeradministrator role for STIL
//! maintains the register by hand — creates, changes, moves and closes units of every level —
//! through the import service, so exactly the ImportService's rules apply, with their codes and
//! Danish messages shown next to the fields they concern. The import service's audit names the
//! person (the token names them).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::export::NummerRequest;
use dtr_proto::import::{
    DeleteRequest, InsertAlternativAdresseRequest, InsertAnvisningsEnhedRequest, InsertDaginstitutionRequest,
    MoveRequest, UpdateAlternativAdresseRequest, UpdateAnvisningsEnhedRequest, UpdateDaginstitutionRequest,
};
use dtr_proto::registry::{Adresse, AlternativAdresse, Anvisningsenhed, Daginstitution, ImportSvar};
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

/// The fields of each level's form: (name as the ImportService's errors name it, label).
const DAGINSTITUTION: [(&str, &str); 5] = [
    ("daginstitutionsNavn", "Navn"),
    ("ejerformKode", "Ejerform (kode)"),
    ("lovgrundlagKode", "Lovgrundlag (kode)"),
    ("admKommuneKode", "Administrerende kommune (kode)"),
    ("ejerCvrNummer", "Ejers CVR-nummer (privat ejer)"),
];
const ADRESSE: [(&str, &str); 3] =
    [("Adresse.vejNavn", "Vejnavn"), ("Adresse.husNummer", "Husnummer"), ("Adresse.postNummer", "Postnummer")];
const ANVISNINGSENHED: [(&str, &str); 5] = [
    ("EnhedsNavn", "Navn"),
    ("InstType3", "Institutionstype (kode)"),
    ("PNummer", "P-nummer"),
    ("Email", "E-mail"),
    ("TelefonNummer", "Telefon"),
];
const ALTERNATIV: [(&str, &str); 4] = [
    ("alternativAdresseNavn", "Navn"),
    ("PNummer", "P-nummer (valgfrit)"),
    ("Email", "E-mail"),
    ("TelefonNummer", "Telefon"),
];

/// A field of a form, with its value and the errors that concern it.
struct Felt {
    navn: &'static str,
    etiket: &'static str,
    id: String,
    vaerdi: String,
    fejl: Vec<String>,
}

/// One form of the page.
struct Skema {
    titel: &'static str,
    handling: String,
    knap: &'static str,
    felter: Vec<Felt>,
}

/// A unit as the page names it: (number, level, name).
type Enhed = (String, &'static str, String);

#[derive(Template)]
#[template(path = "backoffice.html")]
struct BackofficeSide<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    enhed: Option<Enhed>,
    skemaer: Vec<Skema>,
    /// Errors no field owns.
    fejl: Vec<String>,
    besked: Option<String>,
}

/// A form's fields: each definition's value from `vaerdi` (by field name).
fn skema(
    titel: &'static str,
    handling: String,
    knap: &'static str,
    defs: &[&[(&'static str, &'static str)]],
    vaerdi: &dyn Fn(&str) -> String,
) -> Skema {
    let felter = defs
        .iter()
        .flat_map(|d| d.iter())
        .map(|(navn, etiket)| Felt {
            navn,
            etiket,
            id: format!("{titel}-{navn}").replace([' ', '.'], "-").to_lowercase(),
            vaerdi: vaerdi(navn),
            fejl: vec![],
        })
        .collect();
    Skema { titel, handling, knap, felter }
}

fn tal(v: i32) -> String {
    if v == 0 { String::new() } else { v.to_string() }
}

fn adresse_vaerdi(a: &Option<Adresse>, navn: &str) -> String {
    let a = a.clone().unwrap_or_default();
    match navn {
        "Adresse.vejNavn" => a.vej_navn,
        "Adresse.husNummer" => a.hus_nummer,
        _ => a.post_nummer,
    }
}

/// The unit with this number, as stored.
enum Hentet {
    D(Daginstitution),
    A(Anvisningsenhed),
    L(AlternativAdresse),
}

async fn hent(st: &PortalState, nummer: &str) -> Result<Option<Hentet>, tonic::Status> {
    let ctx = CallerContext::new(Principal::Service("portal".into()));
    let req = || ctx.request(NummerRequest { nummer: nummer.to_owned() });
    let mut c = st.export();
    if let Some(d) = c.get_daginstitution_by_nummer(req()).await?.into_inner().daginstitutioner.into_iter().next() {
        return Ok(d.daginstitution.map(Hentet::D));
    }
    if let Some(e) = c.get_anvisnings_enheder_by_nummer(req()).await?.into_inner().anvisningsenheder.into_iter().next()
    {
        return Ok(e.anvisningsenhed.map(Hentet::A));
    }
    let l = c.get_alternativ_adresser_by_nummer(req()).await?.into_inner().alternative_adresser.into_iter().next();
    Ok(l.and_then(|l| l.alternativ_adresse).map(Hentet::L))
}

fn opret_daginstitution() -> Skema {
    skema("Opret daginstitution", "/backoffice/ny".into(), "Opret daginstitution", &[&DAGINSTITUTION], &|_| {
        String::new()
    })
}

/// A unit's header and forms: change it, create below it.
fn skemaer(h: &Hentet) -> (Enhed, Vec<Skema>) {
    match h {
        Hentet::D(d) => {
            let n = &d.daginstitutions_nummer;
            let ret = skema(
                "Ret daginstitution",
                format!("/backoffice/{n}/ret"),
                "Gem ændringer",
                &[&DAGINSTITUTION],
                &|f| match f {
                    "daginstitutionsNavn" => d.daginstitutions_navn.clone(),
                    "ejerformKode" => tal(d.ejerform_kode),
                    "lovgrundlagKode" => tal(d.lovgrundlag_kode),
                    "admKommuneKode" => tal(d.adm_kommune_kode),
                    _ => d.ejer_cvr_nummer.clone().unwrap_or_default(),
                },
            );
            let under = skema(
                "Opret anvisningsenhed",
                format!("/backoffice/{n}/ny-anvisningsenhed"),
                "Opret anvisningsenhed",
                &[&ANVISNINGSENHED[..1], &ADRESSE, &ANVISNINGSENHED[1..]],
                &|_| String::new(),
            );
            ((n.clone(), "Daginstitution", d.daginstitutions_navn.clone()), vec![ret, under])
        }
        Hentet::A(a) => {
            let n = &a.enheds_nummer;
            let ret = skema(
                "Ret anvisningsenhed",
                format!("/backoffice/{n}/ret"),
                "Gem ændringer",
                &[&ANVISNINGSENHED[..1], &ADRESSE, &ANVISNINGSENHED[1..]],
                &|f| match f {
                    "EnhedsNavn" => a.enheds_navn.clone(),
                    "InstType3" => tal(a.inst_type3),
                    "PNummer" => a.p_nummer.clone(),
                    "Email" => a.email.clone().unwrap_or_default(),
                    "TelefonNummer" => a.telefon_nummer.clone().unwrap_or_default(),
                    adr => adresse_vaerdi(&a.adresse, adr),
                },
            );
            let under = skema(
                "Opret alternativ adresse",
                format!("/backoffice/{n}/ny-alternativ-adresse"),
                "Opret alternativ adresse",
                &[&ALTERNATIV[..1], &ADRESSE, &ALTERNATIV[1..]],
                &|_| String::new(),
            );
            ((n.clone(), "Anvisningsenhed", a.enheds_navn.clone()), vec![ret, under])
        }
        Hentet::L(l) => {
            let n = &l.alternativ_adresse_nummer;
            let ret = skema(
                "Ret alternativ adresse",
                format!("/backoffice/{n}/ret"),
                "Gem ændringer",
                &[&ALTERNATIV[..1], &ADRESSE, &ALTERNATIV[1..]],
                &|f| match f {
                    "alternativAdresseNavn" => l.alternativ_adresse_navn.clone(),
                    "PNummer" => l.p_nummer.clone().unwrap_or_default(),
                    "Email" => l.email.clone().unwrap_or_default(),
                    "TelefonNummer" => l.telefon_nummer.clone().unwrap_or_default(),
                    adr => adresse_vaerdi(&l.adresse, adr),
                },
            );
            ((n.clone(), "Alternativ adresse", l.alternativ_adresse_navn.clone()), vec![ret])
        }
    }
}

#[derive(Deserialize)]
pub struct Find {
    #[serde(default)]
    nummer: String,
}

/// The search field's answer: on to the unit's page.
pub async fn find(Query(q): Query<Find>) -> Response {
    let nummer: String = q.nummer.trim().chars().filter(|c| c.is_ascii_alphanumeric()).take(6).collect();
    crate::pages::see_other(&format!("/backoffice/{}", nummer.to_uppercase()))
}

pub async fn forside(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, kode, _) = acting(&st, &headers)?;
    registeradministrator(&s, &kode)?;
    let besked = st.sessions.take_besked(&mut s);
    let side = BackofficeSide {
        hoved: hoved(&s),
        csrf: &s.csrf,
        enhed: None,
        skemaer: vec![opret_daginstitution()],
        fejl: vec![],
        besked,
    };
    Ok(html(StatusCode::OK, &side))
}

/// A unit's back-office page: its forms, and move and close.
pub async fn enhed(State(st): State<PortalState>, Path(nummer): Path<String>, headers: HeaderMap) -> Side {
    let (mut s, kode, _) = acting(&st, &headers)?;
    registeradministrator(&s, &kode)?;
    let besked = st.sessions.take_besked(&mut s);
    let hentet = match hent(&st, &nummer).await {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(failed(&s, StatusCode::NOT_FOUND, &format!("{nummer} findes ikke i registeret."))),
        Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
    };
    let (enhed, skemaer) = skemaer(&hentet);
    let side = BackofficeSide { hoved: hoved(&s), csrf: &s.csrf, enhed: Some(enhed), skemaer, fejl: vec![], besked };
    Ok(html(StatusCode::OK, &side))
}

/// A posted form's fields by name.
type Felter = HashMap<String, String>;

fn felt<'a>(f: &'a Felter, navn: &str) -> &'a str {
    f.get(navn).map(|v| v.trim()).unwrap_or("")
}

fn valgfri(f: &Felter, navn: &str) -> Option<String> {
    Some(felt(f, navn).to_owned()).filter(|v| !v.is_empty())
}

/// A code as the ImportService reads it: one that is not a number is 0, which the rules refuse
/// as missing (the field's own error, as for a SOAP call).
fn kode(f: &Felter, navn: &str) -> i32 {
    felt(f, navn).parse().unwrap_or(0)
}

fn adresse(f: &Felter) -> Adresse {
    Adresse {
        vej_navn: felt(f, "Adresse.vejNavn").into(),
        hus_nummer: felt(f, "Adresse.husNummer").into(),
        post_nummer: felt(f, "Adresse.postNummer").into(),
        ..Adresse::default()
    }
}

fn daginstitution(f: &Felter, nummer: &str) -> Daginstitution {
    Daginstitution {
        daginstitutions_nummer: nummer.to_owned(),
        daginstitutions_navn: felt(f, "daginstitutionsNavn").into(),
        ejerform_kode: kode(f, "ejerformKode"),
        lovgrundlag_kode: kode(f, "lovgrundlagKode"),
        adm_kommune_kode: kode(f, "admKommuneKode"),
        ejer_cvr_nummer: valgfri(f, "ejerCvrNummer"),
    }
}

fn anvisningsenhed(f: &Felter, nummer: &str, daginstitution: &str) -> Anvisningsenhed {
    Anvisningsenhed {
        enheds_nummer: nummer.to_owned(),
        daginstitutions_nummer: daginstitution.to_owned(),
        enheds_navn: felt(f, "EnhedsNavn").into(),
        adresse: Some(adresse(f)),
        inst_type3: kode(f, "InstType3"),
        email: valgfri(f, "Email"),
        telefon_nummer: valgfri(f, "TelefonNummer"),
        cvr_nummer: None,
        p_nummer: felt(f, "PNummer").into(),
    }
}

fn alternativ_adresse(f: &Felter, nummer: &str, enhed: &str) -> AlternativAdresse {
    AlternativAdresse {
        alternativ_adresse_nummer: nummer.to_owned(),
        enheds_nummer: enhed.to_owned(),
        alternativ_adresse_navn: felt(f, "alternativAdresseNavn").into(),
        adresse: Some(adresse(f)),
        p_nummer: valgfri(f, "PNummer"),
        cvr_nummer: None,
        email: valgfri(f, "Email"),
        telefon_nummer: valgfri(f, "TelefonNummer"),
    }
}

/// Places the import service's errors at their fields (DAR's answer on the address goes at the
/// street); the rest go on top.
fn placer(skema: &mut Skema, svar: &ImportSvar) -> Vec<String> {
    let mut oevrige = Vec::new();
    for f in &svar.fejl {
        let tekst = format!("{} – {}", f.kode, f.besked);
        let navn = if f.felt == "Adresse" { "Adresse.vejNavn" } else { f.felt.as_str() };
        match skema.felter.iter_mut().find(|x| x.navn.eq_ignore_ascii_case(navn)) {
            Some(x) => x.fejl.push(tekst),
            None => oevrige.push(tekst),
        }
    }
    oevrige
}

/// The import service's answer: on to the unit's page, or the form again — as posted — with
/// the errors at their fields.
fn svar(
    st: &PortalState,
    s: Session,
    enhed: Option<Enhed>,
    mut skema: Skema,
    posted: &Felter,
    r: Result<ImportSvar, tonic::Status>,
    gjort: &str,
) -> Response {
    match r {
        Ok(svar) if svar.ok => {
            done_at(st, s, format!("{} {gjort}.", svar.nummer), &format!("/backoffice/{}", svar.nummer))
        }
        Ok(svar) => {
            for f in &mut skema.felter {
                f.vaerdi = felt(posted, f.navn).to_owned();
            }
            let fejl = placer(&mut skema, &svar);
            let side =
                BackofficeSide { hoved: hoved(&s), csrf: &s.csrf, enhed, skemaer: vec![skema], fejl, besked: None };
            html(StatusCode::UNPROCESSABLE_ENTITY, &side)
        }
        Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
    }
}

pub async fn opret(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<Felter>) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, felt(&f, "csrf"))?;
    registeradministrator(&s, &kode)?;
    let req = ctx.request(InsertDaginstitutionRequest { daginstitution: Some(daginstitution(&f, "")) });
    let r = st.import().insert_daginstitution(req).await.map(|r| r.into_inner());
    Ok(svar(&st, s, None, opret_daginstitution(), &f, r, "er oprettet"))
}

/// A posted form of a unit's page: change it, create below it, move it or close it.
pub async fn handling(
    State(st): State<PortalState>,
    Path((nummer, handling)): Path<(String, String)>,
    headers: HeaderMap,
    Formular(f): Formular<Felter>,
) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, felt(&f, "csrf"))?;
    registeradministrator(&s, &kode)?;
    let hentet = match hent(&st, &nummer).await {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(failed(&s, StatusCode::NOT_FOUND, &format!("{nummer} findes ikke i registeret."))),
        Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
    };
    let (enhed, mut skemaer) = skemaer(&hentet);
    let mut c = st.import();
    let til = || felt(&f, "til").to_owned();
    let luk = || ctx.request(DeleteRequest { nummer: nummer.clone() });
    let flyt = || ctx.request(MoveRequest { nummer: nummer.clone(), til_nummer: til() });
    let (r, skema, gjort) = match (handling.as_str(), &hentet) {
        ("ret", Hentet::D(_)) => {
            let d = daginstitution(&f, &nummer);
            let r = c.update_daginstitution(
                ctx.request(UpdateDaginstitutionRequest { daginstitution: Some(d), forventet_version: None }),
            );
            (r.await, Some(skemaer.remove(0)), "er rettet")
        }
        ("ret", Hentet::A(a)) => {
            let e = anvisningsenhed(&f, &nummer, &a.daginstitutions_nummer);
            let r = c.update_anvisnings_enhed(
                ctx.request(UpdateAnvisningsEnhedRequest { anvisningsenhed: Some(e), forventet_version: None }),
            );
            (r.await, Some(skemaer.remove(0)), "er rettet")
        }
        ("ret", Hentet::L(l)) => {
            let a = alternativ_adresse(&f, &nummer, &l.enheds_nummer);
            let r = c.update_alternativ_adresse(
                ctx.request(UpdateAlternativAdresseRequest { alternativ_adresse: Some(a), forventet_version: None }),
            );
            (r.await, Some(skemaer.remove(0)), "er rettet")
        }
        ("ny-anvisningsenhed", Hentet::D(_)) => {
            let e = anvisningsenhed(&f, "", &nummer);
            let r = c.insert_anvisnings_enhed(ctx.request(InsertAnvisningsEnhedRequest { anvisningsenhed: Some(e) }));
            (r.await, Some(skemaer.remove(1)), "er oprettet")
        }
        ("ny-alternativ-adresse", Hentet::A(_)) => {
            let a = alternativ_adresse(&f, "", &nummer);
            let req = InsertAlternativAdresseRequest { alternativ_adresse: Some(a) };
            (c.insert_alternativ_adresse(ctx.request(req)).await, Some(skemaer.remove(1)), "er oprettet")
        }
        ("luk", Hentet::D(_)) => (c.delete_daginstitution(luk()).await, None, "er lukket"),
        ("luk", Hentet::A(_)) => (c.delete_anvisnings_enhed(luk()).await, None, "er lukket"),
        ("luk", Hentet::L(_)) => (c.delete_alternativ_adresse(luk()).await, None, "er lukket"),
        ("flyt", Hentet::A(_)) => (c.move_anvisnings_enhed(flyt()).await, None, "er flyttet"),
        ("flyt", Hentet::L(_)) => (c.move_alternativ_adresse(flyt()).await, None, "er flyttet"),
        _ => return Ok(failed(&s, StatusCode::BAD_REQUEST, "Ukendt handling for denne enhed.")),
    };
    let r = r.map(|r| r.into_inner());
    Ok(match skema {
        Some(skema) => svar(&st, s, Some(enhed), skema, &f, r, gjort),
        // Move and close have no fields: their errors go on top of the unit's page.
        None => match r {
            Ok(svar) if svar.ok => done_at(&st, s, format!("{nummer} {gjort}."), &format!("/backoffice/{nummer}")),
            Ok(svar) => {
                let fejl = svar.fejl.iter().map(|f| format!("{} – {}", f.kode, f.besked)).collect();
                let side =
                    BackofficeSide { hoved: hoved(&s), csrf: &s.csrf, enhed: Some(enhed), skemaer, fejl, besked: None };
                html(StatusCode::UNPROCESSABLE_ENTITY, &side)
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        },
    })
}
