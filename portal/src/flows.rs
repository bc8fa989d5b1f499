//! The portal's forms for agreements (docs/portal.md, "Pages and flows"): a provider creates a system
//! (its password shown once), asks to use webservices and asks owners for data access; an owner
//! and the operator decide, one by one or all waiting at once. Each form posts, the service
//! decides with the person's token, and the person lands on the front page with a confirmation
//! or on the form with the service's explanation.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::pages::{FejlPage, Formular, Hoved, csrf_ok, csrf_refused, current, forklaring, hoved, html, see_other};
use crate::session::Session;

/// The logged-in session acting for an organisation, and the context its calls carry.
/// A page answered before the handler's work: to the login, to choosing an organisation, a
/// refused form. Boxed: a response is large, and this is the rare path.
pub struct Afvist(Box<Response>);

impl IntoResponse for Afvist {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Afvist {
    fn from(r: Response) -> Self {
        Afvist(Box::new(r))
    }
}

/// What a handler answers: its page, or an earlier refusal (`?` on [`acting`] and [`posted`]).
pub(crate) type Side = Result<Response, Afvist>;

pub(crate) type Acting = Result<(Session, String, CallerContext), Afvist>;

pub(crate) fn acting(st: &PortalState, headers: &HeaderMap) -> Acting {
    let Some(s) = current(st, headers).filter(|s| s.person.is_some()) else {
        return Err(see_other("/log-paa").into());
    };
    let (Some(person), Some(kode)) = (s.person.clone(), s.valgt.clone()) else {
        return Err(see_other("/vaelg-organisation").into());
    };
    let ctx = CallerContext::new(Principal::Person { id: person.id, organisation: kode.clone() });
    Ok((s, kode, ctx))
}

/// A form post: the acting session, once its CSRF token matched.
pub(crate) fn posted(st: &PortalState, headers: &HeaderMap, csrf: &str) -> Acting {
    let (s, kode, ctx) = acting(st, headers)?;
    if !csrf_ok(&s, csrf) {
        return Err(csrf_refused(Some(&s)).into());
    }
    Ok((s, kode, ctx))
}

/// Back to the front page with a confirmation shown once.
fn done(st: &PortalState, s: Session, besked: String) -> Response {
    done_at(st, s, besked, "/")
}

/// Back to `side` with a confirmation shown once.
pub(crate) fn done_at(st: &PortalState, mut s: Session, besked: String, side: &str) -> Response {
    s.besked = Some(besked);
    st.sessions.save(&s);
    see_other(side)
}

pub(crate) fn failed(s: &Session, status: StatusCode, fejl: &str) -> Response {
    html(status, &FejlPage { hoved: hoved(s), fejl: Some(fejl) })
}

pub(crate) fn status_of(e: &tonic::Status) -> StatusCode {
    match e.code() {
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => {
            StatusCode::BAD_REQUEST
        }
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn til(s: &str) -> Option<pb::AftaleStatus> {
    match s {
        "GODKENDT" => Some(pb::AftaleStatus::Godkendt),
        "AFVIST" => Some(pb::AftaleStatus::Afvist),
        "VENTER" => Some(pb::AftaleStatus::Venter),
        "SLETTET" => Some(pb::AftaleStatus::Slettet),
        _ => None,
    }
}

fn status_navn(s: pb::AftaleStatus) -> &'static str {
    match s {
        pb::AftaleStatus::Godkendt => "godkendt",
        pb::AftaleStatus::Afvist => "afvist",
        pb::AftaleStatus::Venter => "sat til at vente",
        pb::AftaleStatus::Slettet => "slettet",
        pb::AftaleStatus::Unspecified => "ændret",
    }
}

// --- Nyt system ---

#[derive(Template)]
#[template(path = "nyt_system.html")]
struct NytSystem<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    fejl: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "system_oprettet.html")]
struct SystemOprettet {
    hoved: Option<Hoved>,
    system_id: String,
    brugernavn: String,
    adgangskode: String,
}

pub async fn nyt_system_form(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (s, _, _) = acting(&st, &headers)?;
    Ok(html(StatusCode::OK, &NytSystem { hoved: hoved(&s), csrf: &s.csrf, fejl: None }))
}

#[derive(Deserialize)]
pub struct NytSystemForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    navn: String,
    #[serde(default)]
    kontakt_navn: String,
    #[serde(default)]
    kontakt_email: String,
    #[serde(default)]
    kontakt_telefon: String,
}

pub async fn nyt_system(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<NytSystemForm>,
) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::CreateSystemRequest {
            udbyder_kode: kode,
            navn: f.navn,
            kontakt_navn: f.kontakt_navn,
            kontakt_email: f.kontakt_email,
            kontakt_telefon: f.kontakt_telefon,
        };
        match st.tilslutning().create_system(ctx.request(req)).await {
            Ok(made) => {
                let made = made.into_inner();
                let (system, creds) = (made.system.unwrap_or_default(), made.credentials.unwrap_or_default());
                let page = SystemOprettet {
                    hoved: hoved(&s),
                    system_id: system.udbydersystem_id,
                    brugernavn: creds.brugernavn,
                    adgangskode: creds.adgangskode,
                };
                html(StatusCode::CREATED, &page)
            }
            Err(e) => {
                let fejl = forklaring(&e);
                html(status_of(&e), &NytSystem { hoved: hoved(&s), csrf: &s.csrf, fejl: Some(&fejl) })
            }
        }
    })
}

// --- Anmod om at bruge ny webservice / om dataadgang ---

struct ServiceValg {
    kode: String,
    navn: String,
    beskrivelse: String,
    formaal: String,
    data: String,
    kraever_dataaftale: bool,
}

#[derive(Template)]
#[template(path = "anmod_tilslutning.html")]
struct AnmodTilslutning<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    fejl: Option<&'a str>,
    systemer: Vec<(String, String)>,
    services: Vec<ServiceValg>,
}

#[derive(Template)]
#[template(path = "anmod_dataadgang.html")]
struct AnmodDataadgang<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    fejl: Option<&'a str>,
    systemer: Vec<(String, String)>,
    services: Vec<ServiceValg>,
}

/// The acting provider's systems and the service catalogue, for the request forms.
async fn valg(
    st: &PortalState,
    kode: &str,
    ctx: &CallerContext,
) -> Result<(Vec<(String, String)>, Vec<ServiceValg>), tonic::Status> {
    let mut c = st.tilslutning();
    let systems = c
        .list_systems(ctx.request(pb::ListSystemsRequest { udbyder_kode: kode.to_owned(), ..Default::default() }))
        .await?
        .into_inner()
        .systems
        .into_iter()
        .filter(|s| !s.passiv && !s.blokeret)
        .map(|s| (s.udbydersystem_id, s.navn))
        .collect();
    let services = c
        .list_services(ctx.request(pb::ListServicesRequest::default()))
        .await?
        .into_inner()
        .services
        .into_iter()
        .map(|s| ServiceValg {
            kraever_dataaftale: s.operationer.iter().any(|o| o.kraever_dataaftale),
            kode: s.servicekode,
            navn: s.service_navn,
            beskrivelse: s.beskrivelse,
            formaal: s.formaal,
            data: s.data,
        })
        .collect();
    Ok((systems, services))
}

pub async fn anmod_tilslutning_form(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (s, kode, ctx) = acting(&st, &headers)?;
    Ok({
        match valg(&st, &kode, &ctx).await {
            Ok((systemer, services)) => html(
                StatusCode::OK,
                &AnmodTilslutning { hoved: hoved(&s), csrf: &s.csrf, fejl: None, systemer, services },
            ),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

pub async fn anmod_dataadgang_form(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (s, kode, ctx) = acting(&st, &headers)?;
    Ok({
        match valg(&st, &kode, &ctx).await {
            Ok((systemer, services)) => html(
                StatusCode::OK,
                &AnmodDataadgang { hoved: hoved(&s), csrf: &s.csrf, fejl: None, systemer, services },
            ),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

/// A form with repeated fields (`service=A&service=B`), which `Form` into a struct cannot read.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Felter(Vec<(String, String)>);

impl Felter {
    fn en(&self, navn: &str) -> &str {
        self.0.iter().find(|(k, _)| k == navn).map_or("", |(_, v)| v.as_str())
    }

    fn alle(&self, navn: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == navn).map(|(_, v)| v.clone()).collect()
    }
}

pub async fn anmod_tilslutning(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<Felter>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, f.en("csrf"))?;
    Ok({
        let services = f.alle("service");
        if services.is_empty() {
            return Ok(failed(&s, StatusCode::BAD_REQUEST, "Vælg mindst én webservice."));
        }
        let mut c = st.tilslutning();
        for servicekode in &services {
            let req = pb::RequestTilslutningRequest {
                udbydersystem_id: f.en("system").to_owned(),
                servicekode: servicekode.clone(),
                kommentar: f.en("kommentar").to_owned(),
            };
            if let Err(e) = c.request_tilslutning(ctx.request(req)).await {
                return Ok(failed(&s, status_of(&e), &forklaring(&e)));
            }
        }
        let besked = format!("Anmodningen om {} er sendt til STIL.", services.join(" og "));
        done(&st, s, besked)
    })
}

pub async fn anmod_dataadgang(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<Felter>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, f.en("csrf"))?;
    Ok({
        let ejere: Vec<String> = f
            .en("ejere")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        if ejere.is_empty() {
            return Ok(failed(&s, StatusCode::BAD_REQUEST, "Skriv mindst én dataejer."));
        }
        let req = pb::RequestDataaftalerRequest {
            udbydersystem_id: f.en("system").to_owned(),
            servicekode: f.en("service").to_owned(),
            ejer_koder: ejere.clone(),
            kommentar: f.en("kommentar").to_owned(),
        };
        match st.tilslutning().request_dataaftaler(ctx.request(req)).await {
            Ok(_) => done(&st, s, format!("Anmodningen om dataadgang er sendt til {}.", ejere.join(", "))),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- Skift status ---

#[derive(Deserialize)]
pub struct BeslutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    til: String,
    #[serde(default)]
    kommentar: String,
}

async fn beslut(st: PortalState, headers: HeaderMap, aftale_id: String, f: BeslutForm, data: bool) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let Some(til) = til(&f.til) else {
            return Ok(failed(&s, StatusCode::BAD_REQUEST, "Vælg Godkend eller Afvis."));
        };
        let req = pb::DecideRequest { aftale_id, til: til as i32, kommentar: f.kommentar };
        let mut c = st.tilslutning();
        let svar = if data {
            c.decide_dataaftale(ctx.request(req))
                .await
                .map(|a| a.into_inner())
                .map(|a| (a.system_navn, a.udbydersystem_id))
        } else {
            c.decide_tilslutning(ctx.request(req))
                .await
                .map(|a| a.into_inner())
                .map(|a| (a.system_navn, a.udbydersystem_id))
        };
        match svar {
            Ok((navn, id)) => done(&st, s, format!("Aftalen med {navn} ({id}) er {}.", status_navn(til))),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

pub async fn beslut_dataaftale(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<BeslutForm>,
) -> Side {
    beslut(st, headers, id, f, true).await
}

pub async fn beslut_tilslutning(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<BeslutForm>,
) -> Side {
    beslut(st, headers, id, f, false).await
}

/// Godkend / afvis alle med status Venter, for the acting owner.
pub async fn beslut_alle(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<BeslutForm>) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let Some(til) = til(&f.til).filter(|t| matches!(t, pb::AftaleStatus::Godkendt | pb::AftaleStatus::Afvist))
        else {
            return Ok(failed(&s, StatusCode::BAD_REQUEST, "Alle ventende kan kun godkendes eller afvises."));
        };
        let req = pb::BulkDecideRequest { ejer_kode: kode, til: til as i32, kommentar: f.kommentar };
        match st.tilslutning().bulk_decide_dataaftaler(ctx.request(req)).await {
            Ok(r) => {
                let n = r.into_inner().dataaftaler.len();
                done(&st, s, format!("{n} ventende aftale(r) er {}.", status_navn(til)))
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- Aftaler: every agreement the organisation is party to, by status, with history ---

struct Fane {
    kode: &'static str,
    navn: &'static str,
    valgt: bool,
}

struct HistorikVisning {
    tidspunkt: String,
    aktoer: String,
    fra: &'static str,
    til: &'static str,
    kommentar: String,
}

struct AftaleVisning {
    art: &'static str,
    /// The system's name and id.
    system: String,
    service: String,
    /// The owner's name and kode (data access), empty for a connection.
    ejer: String,
    status: &'static str,
    historik: Vec<HistorikVisning>,
}

/// Agreements under one heading: a system, or a data owner ("Visning").
struct AftaleGruppe {
    titel: String,
    aftaler: Vec<AftaleVisning>,
}

#[derive(Template)]
#[template(path = "aftaler.html")]
struct Aftaler {
    hoved: Option<Hoved>,
    organisation: String,
    status: &'static str,
    /// The status tab's code, kept when the grouping changes.
    status_kode: &'static str,
    faner: Vec<Fane>,
    per_ejer: bool,
    grupper: Vec<AftaleGruppe>,
    fejl: Option<String>,
}

const FANER: [(&str, &str, pb::AftaleStatus); 4] = [
    ("VENTER", "Venter", pb::AftaleStatus::Venter),
    ("GODKENDT", "Godkendt", pb::AftaleStatus::Godkendt),
    ("AFVIST", "Afvist", pb::AftaleStatus::Afvist),
    ("SLETTET", "Slettet", pb::AftaleStatus::Slettet),
];

fn visning(s: pb::AftaleStatus) -> &'static str {
    FANER.iter().find(|(_, _, x)| *x == s).map_or("–", |(_, navn, _)| navn)
}

fn historik(h: &[pb::HistorikLinje]) -> Vec<HistorikVisning> {
    h.iter()
        .map(|l| HistorikVisning {
            tidspunkt: l
                .tidspunkt
                .as_ref()
                .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            aktoer: if l.person.is_empty() { l.aktoer.clone() } else { format!("{} ({})", l.person, l.aktoer) },
            fra: visning(l.fra()),
            til: visning(l.til()),
            kommentar: l.kommentar.clone(),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct AftaleFilter {
    #[serde(default)]
    status: String,
    /// `ejer` groups the agreements per data owner; anything else per system.
    #[serde(default)]
    visning: String,
}

/// Groups the agreements per system, or per data owner (connections under "Tilslutninger").
fn grupper(aftaler: Vec<AftaleVisning>, per_ejer: bool) -> Vec<AftaleGruppe> {
    let mut out: Vec<AftaleGruppe> = Vec::new();
    for a in aftaler {
        let titel = match (per_ejer, a.ejer.is_empty()) {
            (false, _) => a.system.clone(),
            (true, true) => "Tilslutninger (STIL)".to_owned(),
            (true, false) => format!("Dataejer {}", a.ejer),
        };
        match out.iter_mut().find(|g| g.titel == titel) {
            Some(g) => g.aftaler.push(a),
            None => out.push(AftaleGruppe { titel, aftaler: vec![a] }),
        }
    }
    out.sort_by(|a, b| a.titel.cmp(&b.titel));
    out
}

/// "Navn (kode)", or the kode alone when no name is known.
fn navn_og_kode(navn: &str, kode: &str) -> String {
    if navn.is_empty() { kode.to_owned() } else { format!("{navn} ({kode})") }
}

pub async fn aftaler(
    State(st): State<PortalState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<AftaleFilter>,
) -> Side {
    let (s, kode, ctx) = acting(&st, &headers)?;
    Ok({
        let (valgt_kode, status_navn, status) =
            FANER.iter().find(|(k, _, _)| *k == q.status).copied().unwrap_or(FANER[0]);
        let req = || pb::ListAftalerRequest {
            status: Some(status as i32),
            med_slettede: status == pb::AftaleStatus::Slettet,
            ..Default::default()
        };
        let mut c = st.tilslutning();
        let mut aftaler = Vec::new();
        let mut fejl = None;
        match c.list_tilslutninger(ctx.request(req())).await {
            Ok(r) => aftaler.extend(r.into_inner().aftaler.into_iter().map(|a| AftaleVisning {
                art: "Tilslutning",
                status: visning(a.status()),
                historik: historik(&a.historik),
                system: navn_og_kode(&a.system_navn, &a.udbydersystem_id),
                service: a.servicekode,
                ejer: String::new(),
            })),
            Err(e) => fejl = Some(forklaring(&e)),
        }
        match c.list_dataaftaler(ctx.request(req())).await {
            Ok(r) => aftaler.extend(r.into_inner().aftaler.into_iter().map(|a| AftaleVisning {
                art: "Dataadgang",
                status: visning(a.aftale_status()),
                historik: historik(&a.historik),
                system: navn_og_kode(&a.system_navn, &a.udbydersystem_id),
                service: a.servicekode,
                ejer: navn_og_kode(&a.ejer_navn, &a.ejer_kode),
            })),
            Err(e) => fejl = Some(forklaring(&e)),
        }
        let organisation = s
            .person
            .as_ref()
            .and_then(|p| p.organisationer().into_iter().find(|(k, _)| *k == kode).map(|(_, navn)| navn.to_owned()));
        let page = Aftaler {
            hoved: hoved(&s),
            organisation: organisation.unwrap_or(kode),
            status: status_navn,
            status_kode: valgt_kode,
            faner: FANER.iter().map(|(k, navn, _)| Fane { kode: k, navn, valgt: *k == valgt_kode }).collect(),
            per_ejer: q.visning == "ejer",
            grupper: grupper(aftaler, q.visning == "ejer"),
            fejl,
        };
        html(StatusCode::OK, &page)
    })
}

// --- Notifikationer: the organisation's recipients of agreement mails ---

#[derive(Template)]
#[template(path = "notifikationer.html")]
struct Notifikationer<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    organisation: String,
    modtagere: Vec<String>,
    besked: Option<String>,
    fejl: Option<String>,
}

pub async fn notifikationer(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, kode, ctx) = acting(&st, &headers)?;
    Ok({
        let besked = st.sessions.take_besked(&mut s);
        let req = pb::ListNotifikationsmodtagereRequest { organisation_kode: kode.clone() };
        let (modtagere, fejl) = match st.tilslutning().list_notifikationsmodtagere(ctx.request(req)).await {
            Ok(r) => (r.into_inner().modtagere.into_iter().map(|m| m.email).collect(), None),
            Err(e) => (Vec::new(), Some(forklaring(&e))),
        };
        let organisation = s
            .person
            .as_ref()
            .and_then(|p| p.organisationer().into_iter().find(|(k, _)| *k == kode).map(|(_, n)| n.to_owned()))
            .unwrap_or(kode);
        html(StatusCode::OK, &Notifikationer { hoved: hoved(&s), csrf: &s.csrf, organisation, modtagere, besked, fejl })
    })
}

#[derive(Deserialize)]
pub struct ModtagerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn modtager(st: PortalState, headers: HeaderMap, f: ModtagerForm, tilmeld: bool) -> Side {
    let (s, kode, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let m = pb::Notifikationsmodtager { organisation_kode: kode, email: f.email.trim().to_owned() };
        let mut c = st.tilslutning();
        let svar = if tilmeld {
            c.add_notifikationsmodtager(ctx.request(m.clone())).await.map(|r| r.into_inner().email)
        } else {
            c.remove_notifikationsmodtager(ctx.request(m.clone())).await.map(|r| r.into_inner().email)
        };
        match svar {
            Ok(email) => {
                let besked = if tilmeld { format!("{email} er tilmeldt.") } else { format!("{email} er fjernet.") };
                done_at(&st, s, besked, "/notifikationer")
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

pub async fn tilmeld(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<ModtagerForm>) -> Side {
    modtager(st, headers, f, true).await
}

pub async fn fjern(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<ModtagerForm>) -> Side {
    modtager(st, headers, f, false).await
}

// --- A provider's system: Forny adgangskode, Gør passivt / Aktivér ---

#[derive(Template)]
#[template(path = "ny_adgangskode.html")]
struct NyAdgangskode {
    hoved: Option<Hoved>,
    system_id: String,
    brugernavn: String,
    adgangskode: String,
    gammel_udloeber: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn forny(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<CsrfForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::RotateCredentialsRequest { udbydersystem_id: id.clone() };
        match st.tilslutning().rotate_credentials(ctx.request(req)).await {
            Ok(c) => {
                let c = c.into_inner();
                let gammel_udloeber = c
                    .gammel_udloeber
                    .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "nu".into());
                let page = NyAdgangskode {
                    hoved: hoved(&s),
                    system_id: id,
                    brugernavn: c.brugernavn,
                    adgangskode: c.adgangskode,
                    gammel_udloeber,
                };
                html(StatusCode::OK, &page)
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

#[derive(Deserialize)]
pub struct PassivForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passiv: bool,
}

pub async fn passiv(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<PassivForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::SetSystemPassivRequest { udbydersystem_id: id.clone(), passiv: f.passiv };
        match st.tilslutning().set_system_passiv(ctx.request(req)).await {
            Ok(_) => {
                done(&st, s, format!("Systemet {id} er {}.", if f.passiv { "gjort passivt" } else { "aktiveret" }))
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- The operator: every system, blocked and unblocked with a reason ---

struct SystemRaekke {
    id: String,
    navn: String,
    udbyder: String,
    status: &'static str,
    blokeret: bool,
    /// The day it last logged in, or "aldrig".
    sidst_brugt: String,
}

#[derive(Template)]
#[template(path = "systemer.html")]
struct Systemer<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    systemer: Vec<SystemRaekke>,
    /// Only those unused for 12 months are shown.
    kun_ubrugte: bool,
    besked: Option<String>,
    fejl: Option<String>,
}

#[derive(Deserialize)]
pub struct SystemFilter {
    #[serde(default)]
    kun_ubrugte: Option<String>,
}

pub async fn systemer(
    State(st): State<PortalState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SystemFilter>,
) -> Side {
    let (mut s, _, ctx) = acting(&st, &headers)?;
    Ok({
        let besked = st.sessions.take_besked(&mut s);
        let kun_ubrugte = q.kun_ubrugte.is_some();
        let req = pb::ListSystemsRequest {
            side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
            kun_ubrugte,
            ..Default::default()
        };
        let (systemer, fejl) = match st.tilslutning().list_systems(ctx.request(req)).await {
            Ok(r) => (
                r.into_inner()
                    .systems
                    .into_iter()
                    .map(|x| SystemRaekke {
                        status: if x.blokeret {
                            "Blokeret"
                        } else if x.passiv {
                            "Passiv"
                        } else {
                            "Aktiv"
                        },
                        blokeret: x.blokeret,
                        sidst_brugt: if x.sidst_brugt.is_empty() { "aldrig".into() } else { x.sidst_brugt },
                        id: x.udbydersystem_id,
                        navn: x.navn,
                        udbyder: x.udbyder_kode,
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(forklaring(&e))),
        };
        html(StatusCode::OK, &Systemer { hoved: hoved(&s), csrf: &s.csrf, systemer, kun_ubrugte, besked, fejl })
    })
}

#[derive(Deserialize)]
pub struct BlokerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    aarsag: String,
}

pub async fn bloker(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<BlokerForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::BlockSystemRequest { udbydersystem_id: id.clone(), aarsag: f.aarsag };
        match st.tilslutning().block_system(ctx.request(req)).await {
            Ok(_) => done_at(&st, s, format!("Systemet {id} er blokeret."), "/systemer"),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

pub async fn frigiv(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<CsrfForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::UnblockSystemRequest { udbydersystem_id: id.clone(), kommentar: String::new() };
        match st.tilslutning().unblock_system(ctx.request(req)).await {
            Ok(_) => done_at(&st, s, format!("Systemet {id} er frigivet."), "/systemer"),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- The operator: persons and their roles ---

struct PersonRaekke {
    id: String,
    brugernavn: String,
    navn: String,
    /// (organisation, role as shown, role as sent)
    roller: Vec<(String, &'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "personer.html")]
struct Personer<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    personer: Vec<PersonRaekke>,
    /// A person just created: (username, password), shown once.
    ny: Option<(String, String)>,
    besked: Option<String>,
    fejl: Option<String>,
}

fn rolle_visning(r: pb::Rolle) -> (&'static str, &'static str) {
    match r {
        pb::Rolle::Udbyderadministrator => ("Udbyderadministrator", "UDBYDERADMINISTRATOR"),
        pb::Rolle::Dataadgangsadministrator => ("Dataadgangsadministrator", "DATAADGANGSADMINISTRATOR"),
        pb::Rolle::Operatoer => ("Operatør", "OPERATOER"),
        pb::Rolle::Registeradministrator => ("Registeradministrator", "REGISTERADMINISTRATOR"),
        pb::Rolle::Unspecified => ("ukendt", ""),
    }
}

/// The persons page, with a just-created person's password or a confirmation.
async fn personer_side(
    st: &PortalState,
    s: &Session,
    ctx: &CallerContext,
    ny: Option<(String, String)>,
    besked: Option<String>,
) -> Response {
    let req = pb::ListPersonerRequest {
        side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
        ..Default::default()
    };
    let personer = match st.tilslutning().list_personer(ctx.request(req)).await {
        Ok(r) => r.into_inner().personer,
        Err(e) => return failed(s, status_of(&e), &forklaring(&e)),
    };
    let personer = personer
        .into_iter()
        .map(|p| PersonRaekke {
            roller: p
                .roller
                .iter()
                .map(|r| {
                    let (vis, kode) = rolle_visning(r.rolle());
                    (r.organisation_kode.clone(), vis, kode)
                })
                .collect(),
            id: p.person_id,
            brugernavn: p.brugernavn,
            navn: p.navn,
        })
        .collect();
    html(StatusCode::OK, &Personer { hoved: hoved(s), csrf: &s.csrf, personer, ny, besked, fejl: None })
}

pub async fn personer(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, _, ctx) = acting(&st, &headers)?;
    Ok({
        let besked = st.sessions.take_besked(&mut s);
        personer_side(&st, &s, &ctx, None, besked).await
    })
}

#[derive(Deserialize)]
pub struct NyPersonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    brugernavn: String,
    #[serde(default)]
    navn: String,
    #[serde(default)]
    email: String,
}

pub async fn opret_person(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<NyPersonForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::CreatePersonRequest { brugernavn: f.brugernavn, navn: f.navn, email: f.email };
        match st.tilslutning().create_person(ctx.request(req)).await {
            Ok(r) => {
                let r = r.into_inner();
                let brugernavn = r.person.map(|p| p.brugernavn).unwrap_or_default();
                personer_side(&st, &s, &ctx, Some((brugernavn, r.adgangskode)), None).await
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

#[derive(Deserialize)]
pub struct RolleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    rolle: String,
    #[serde(default)]
    har: bool,
}

pub async fn rolle(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<RolleForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let Some(rolle) = pb::Rolle::from_str_name(&f.rolle).filter(|r| *r != pb::Rolle::Unspecified) else {
            return Ok(failed(&s, StatusCode::BAD_REQUEST, "Vælg en rolle."));
        };
        let req = pb::SetRolleRequest {
            person_id: id,
            organisation_kode: f.organisation.trim().to_owned(),
            rolle: rolle as i32,
            har: f.har,
        };
        match st.tilslutning().set_rolle(ctx.request(req)).await {
            Ok(p) => {
                let p = p.into_inner();
                let (vis, _) = rolle_visning(rolle);
                let handling = if f.har { "har nu" } else { "har ikke længere" };
                done_at(
                    &st,
                    s,
                    format!("{} {handling} rollen {vis} for {}.", p.brugernavn, f.organisation.trim()),
                    "/personer",
                )
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- The operator: the providers' register ---

struct UdbyderRaekke {
    kode: String,
    navn: String,
    cvr: String,
    status: &'static str,
    passiv: bool,
}

#[derive(Template)]
#[template(path = "udbydere.html")]
struct Udbydere<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    udbydere: Vec<UdbyderRaekke>,
    besked: Option<String>,
    fejl: Option<String>,
}

pub async fn udbydere(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, _, ctx) = acting(&st, &headers)?;
    Ok({
        let besked = st.sessions.take_besked(&mut s);
        let req = pb::ListOrganisationerRequest {
            r#type: Some(pb::OrganisationType::Udbyder as i32),
            side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
            ..Default::default()
        };
        let orgs = match st.tilslutning().list_organisationer(ctx.request(req)).await {
            Ok(r) => r.into_inner().organisationer,
            Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
        };
        let udbydere = orgs
            .into_iter()
            .filter(|o| o.kode != dtr_proto::context::OPERATOER)
            .map(|o| UdbyderRaekke {
                status: if o.er_passiveret { "Passiv" } else { "Aktiv" },
                passiv: o.er_passiveret,
                kode: o.kode,
                navn: o.navn,
                cvr: o.cvr,
            })
            .collect();
        html(StatusCode::OK, &Udbydere { hoved: hoved(&s), csrf: &s.csrf, udbydere, besked, fejl: None })
    })
}

#[derive(Deserialize)]
pub struct UdbyderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kode: String,
    #[serde(default)]
    navn: String,
    #[serde(default)]
    cvr: String,
    #[serde(default)]
    pnr: String,
}

pub async fn opret_udbyder(
    State(st): State<PortalState>,
    headers: HeaderMap,
    Formular(f): Formular<UdbyderForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let org = pb::Organisation {
            kode: f.kode.trim().to_owned(),
            navn: f.navn,
            cvr: f.cvr.trim().to_owned(),
            pnr: f.pnr.trim().to_owned(),
            r#type: pb::OrganisationType::Udbyder as i32,
            ..Default::default()
        };
        let req = pb::CreateOrganisationRequest { organisation: Some(org) };
        match st.tilslutning().create_organisation(ctx.request(req)).await {
            Ok(o) => {
                let o = o.into_inner();
                done_at(&st, s, format!("Leverandøren {} ({}) er registreret.", o.navn, o.kode), "/udbydere")
            }
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

#[derive(Deserialize)]
pub struct OrgPassivForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    passiv: bool,
    #[serde(default)]
    kommentar: String,
}

pub async fn udbyder_passiv(
    State(st): State<PortalState>,
    Path(kode): Path<String>,
    headers: HeaderMap,
    Formular(f): Formular<OrgPassivForm>,
) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    Ok({
        let req = pb::SetOrganisationPassivRequest { kode: kode.clone(), passiv: f.passiv, kommentar: f.kommentar };
        match st.tilslutning().set_organisation_passiv(ctx.request(req)).await {
            Ok(_) => done_at(
                &st,
                s,
                format!("{kode} er {}.", if f.passiv { "gjort passiv" } else { "aktiveret" }),
                "/udbydere",
            ),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}

// --- The operator: the mail outbox ---

#[derive(Template)]
#[template(path = "udbakke.html")]
struct Udbakke {
    hoved: Option<Hoved>,
    mails: Vec<pb::UdbakkeMail>,
    fejl: Option<String>,
}

pub async fn udbakke(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (s, _, ctx) = acting(&st, &headers)?;
    Ok({
        match st.tilslutning().list_udbakke(ctx.request(pb::ListUdbakkeRequest { max: 200 })).await {
            Ok(r) => html(StatusCode::OK, &Udbakke { hoved: hoved(&s), mails: r.into_inner().mails, fejl: None }),
            Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
        }
    })
}
