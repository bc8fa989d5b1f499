//! The portal's JSON API under `/api/`: every action of the pages, for robots (the real portal
//! has one; public robots approve agreements in bulk with it), described by the OpenAPI document
//! at `/api/openapi.json` (`openapi.json` beside this file).
//!
//! A call proves the person with HTTP Basic (a local account; the same equal-cost check and
//! lock-out as the login form) and names the organisation it acts for in `Dtr-Organisation`,
//! which must be one the person has a role for. Then, as for the pages, the services decide with
//! a token naming the person and that organisation.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use dtr_gateway::lockout::Standing;
use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning as pb;

use crate::PortalState;

/// The OpenAPI document, served as is.
pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// An API refusal: its status and a Danish explanation, as `{"fejl": "…"}`.
pub struct ApiFejl(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiFejl {
    fn into_response(self) -> Response {
        let mut resp = (self.0, Json(json!({ "fejl": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic realm=\"DTR portal API\""));
        }
        resp
    }
}

impl From<tonic::Status> for ApiFejl {
    fn from(e: tonic::Status) -> Self {
        let status = match e.code() {
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            tonic::Code::AlreadyExists => StatusCode::CONFLICT,
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiFejl(status, crate::pages::forklaring(&e))
    }
}

pub(crate) type Svar = Result<Response, ApiFejl>;

/// A JSON body, or why it is not one of the kind expected. Read before the handler runs, but
/// answered only after the caller is authenticated, so a stranger learns nothing from it.
pub(crate) struct Krop<T>(pub Result<T, ApiFejl>);

impl<S, T> axum::extract::FromRequest<S> for Krop<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Krop(match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(v),
            Err(e) => Err(ApiFejl(StatusCode::BAD_REQUEST, format!("Kroppen er ikke gyldig: {}", e.body_text()))),
        }))
    }
}

pub(crate) fn ok(status: StatusCode, v: Value) -> Svar {
    Ok((status, Json(v)).into_response())
}

/// The caller: a person proven by Basic credentials, acting for the organisation named.
pub(crate) struct Kalder {
    pub(crate) ctx: CallerContext,
    pub(crate) organisation: String,
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

pub(crate) async fn kalder(st: &PortalState, parts: &http::request::Parts) -> Result<Kalder, ApiFejl> {
    let unauthorized =
        || ApiFejl(StatusCode::UNAUTHORIZED, "Log på med brugernavn og adgangskode (HTTP Basic).".into());
    let (brugernavn, adgangskode) = basic(&parts.headers).ok_or_else(unauthorized)?;
    let ip = crate::client_ip(parts);
    if let Standing::Locked(left) = st.lockout.standing(&brugernavn, ip).await {
        return Err(ApiFejl(
            StatusCode::TOO_MANY_REQUESTS,
            format!("For mange forkerte forsøg. Prøv igen om {} sekunder.", left.as_secs().max(1)),
        ));
    }
    let req = pb::AuthenticatePersonRequest { brugernavn: brugernavn.clone(), adgangskode };
    let answer = st.tilslutning().authenticate_person(req).await?.into_inner();
    let Some(person) = answer.person.filter(|_| answer.ok) else {
        st.lockout.failed(&brugernavn, ip).await;
        return Err(unauthorized());
    };
    let organisation = parts
        .headers
        .get("dtr-organisation")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiFejl(StatusCode::BAD_REQUEST, "Angiv organisationen i headeren Dtr-Organisation.".into()))?
        .to_owned();
    if !person.roller.iter().any(|r| r.organisation_kode == organisation) {
        return Err(ApiFejl(StatusCode::FORBIDDEN, format!("Du har ingen rolle for organisationen {organisation}.")));
    }
    let ctx = CallerContext::new(Principal::Person { id: person.person_id, organisation: organisation.clone() });
    Ok(Kalder { ctx, organisation })
}

fn status_navn(s: pb::AftaleStatus) -> &'static str {
    match s {
        pb::AftaleStatus::Venter => "VENTER",
        pb::AftaleStatus::Godkendt => "GODKENDT",
        pb::AftaleStatus::Afvist => "AFVIST",
        pb::AftaleStatus::Slettet => "SLETTET",
        pb::AftaleStatus::Unspecified => "UKENDT",
    }
}

fn status_fra(s: &str) -> Result<pb::AftaleStatus, ApiFejl> {
    match s {
        "VENTER" => Ok(pb::AftaleStatus::Venter),
        "GODKENDT" => Ok(pb::AftaleStatus::Godkendt),
        "AFVIST" => Ok(pb::AftaleStatus::Afvist),
        "SLETTET" => Ok(pb::AftaleStatus::Slettet),
        _ => Err(ApiFejl(StatusCode::BAD_REQUEST, "status skal være VENTER, GODKENDT, AFVIST eller SLETTET".into())),
    }
}

fn historik(h: &[pb::HistorikLinje]) -> Value {
    h.iter()
        .map(|l| {
            json!({
                "tidspunkt": l.tidspunkt.as_ref().and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0)).map(|t| t.to_rfc3339()),
                "aktoer": l.aktoer,
                "person": (!l.person.is_empty()).then_some(&l.person),
                "fra": status_navn(l.fra()),
                "til": status_navn(l.til()),
                "kommentar": l.kommentar,
            })
        })
        .collect()
}

fn system_json(s: &pb::System) -> Value {
    json!({
        "system_id": s.udbydersystem_id, "navn": s.navn, "udbyder": s.udbyder_kode,
        "brugernavn": s.brugernavn, "passiv": s.passiv, "blokeret": s.blokeret,
        "sidst_brugt": (!s.sidst_brugt.is_empty()).then_some(&s.sidst_brugt),
        "kontaktperson": { "navn": s.kontakt_navn, "email": s.kontakt_email, "telefon": s.kontakt_telefon },
    })
}

// --- Handlers ---

pub async fn organisationer(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::GetOrganisationRequest { kode: k.organisation.clone() };
    let o = st.tilslutning().get_organisation(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, json!({ "kode": o.kode, "navn": o.navn }))
}

pub async fn systemer(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::ListSystemsRequest { udbyder_kode: k.organisation.clone(), ..Default::default() };
    let r = st.tilslutning().list_systems(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, json!({ "systemer": r.systems.iter().map(system_json).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
pub struct NytSystem {
    navn: String,
    #[serde(default)]
    kontakt_navn: String,
    #[serde(default)]
    kontakt_email: String,
    #[serde(default)]
    kontakt_telefon: String,
}

pub async fn opret_system(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Krop(b): Krop<NytSystem>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::CreateSystemRequest {
        udbyder_kode: k.organisation.clone(),
        navn: b.navn,
        kontakt_navn: b.kontakt_navn,
        kontakt_email: b.kontakt_email,
        kontakt_telefon: b.kontakt_telefon,
    };
    let r = st.tilslutning().create_system(k.ctx.request(req)).await?.into_inner();
    let (s, c) = (r.system.unwrap_or_default(), r.credentials.unwrap_or_default());
    ok(
        StatusCode::CREATED,
        json!({ "system": system_json(&s), "brugernavn": c.brugernavn, "adgangskode": c.adgangskode }),
    )
}

pub async fn forny(State(st): State<PortalState>, Path(id): Path<String>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::RotateCredentialsRequest { udbydersystem_id: id };
    let c = st.tilslutning().rotate_credentials(k.ctx.request(req)).await?.into_inner();
    let gammel = c.gammel_udloeber.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0)).map(|t| t.to_rfc3339());
    ok(StatusCode::OK, json!({ "brugernavn": c.brugernavn, "adgangskode": c.adgangskode, "gammel_udloeber": gammel }))
}

#[derive(Deserialize)]
pub struct Passiv {
    passiv: bool,
}

pub async fn passiv(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<Passiv>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::SetSystemPassivRequest { udbydersystem_id: id, passiv: b.passiv };
    let s = st.tilslutning().set_system_passiv(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, system_json(&s))
}

#[derive(Deserialize)]
pub struct Bloker {
    aarsag: String,
}

pub async fn bloker(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<Bloker>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::BlockSystemRequest { udbydersystem_id: id, aarsag: b.aarsag };
    let s = st.tilslutning().block_system(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, system_json(&s))
}

pub async fn frigiv(State(st): State<PortalState>, Path(id): Path<String>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::UnblockSystemRequest { udbydersystem_id: id, kommentar: String::new() };
    let s = st.tilslutning().unblock_system(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, system_json(&s))
}

#[derive(Deserialize)]
pub struct AnmodTilslutning {
    system_id: String,
    services: Vec<String>,
    #[serde(default)]
    kommentar: String,
}

pub async fn anmod_tilslutning(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Krop(b): Krop<AnmodTilslutning>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    if b.services.is_empty() || b.services.len() > 20 {
        return Err(ApiFejl(StatusCode::BAD_REQUEST, "angiv 1 til 20 services".into()));
    }
    let mut c = st.tilslutning();
    let mut aftaler = Vec::new();
    for servicekode in b.services {
        let req = pb::RequestTilslutningRequest {
            udbydersystem_id: b.system_id.clone(),
            servicekode,
            kommentar: b.kommentar.clone(),
        };
        let a = c.request_tilslutning(k.ctx.request(req)).await?.into_inner();
        aftaler.push(json!({ "aftale_id": a.aftale_id, "service": a.servicekode, "status": status_navn(a.status()) }));
    }
    ok(StatusCode::CREATED, json!({ "aftaler": aftaler }))
}

#[derive(Deserialize)]
pub struct AnmodData {
    system_id: String,
    service: String,
    ejere: Vec<String>,
    #[serde(default)]
    kommentar: String,
}

pub async fn anmod_dataadgang(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Krop(b): Krop<AnmodData>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::RequestDataaftalerRequest {
        udbydersystem_id: b.system_id,
        servicekode: b.service,
        ejer_koder: b.ejere,
        kommentar: b.kommentar,
    };
    let r = st.tilslutning().request_dataaftaler(k.ctx.request(req)).await?.into_inner();
    let aftaler: Vec<Value> = r
        .dataaftaler
        .iter()
        .map(|a| json!({ "aftale_id": a.aftale_id, "ejer": a.ejer_kode, "status": status_navn(a.aftale_status()) }))
        .collect();
    ok(StatusCode::CREATED, json!({ "aftaler": aftaler }))
}

#[derive(Deserialize)]
pub struct AftaleFilter {
    #[serde(default)]
    status: Option<String>,
}

pub async fn aftaler(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Query(q): Query<AftaleFilter>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let status = q.status.as_deref().map(status_fra).transpose()?;
    let req = || pb::ListAftalerRequest {
        status: status.map(|s| s as i32),
        med_slettede: status == Some(pb::AftaleStatus::Slettet),
        side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
        ..Default::default()
    };
    let mut c = st.tilslutning();
    let t = c.list_tilslutninger(k.ctx.request(req())).await?.into_inner();
    let d = c.list_dataaftaler(k.ctx.request(req())).await?.into_inner();
    let tilslutninger: Vec<Value> = t
        .aftaler
        .iter()
        .map(|a| json!({ "aftale_id": a.aftale_id, "system_id": a.udbydersystem_id, "system_navn": a.system_navn, "udbyder_navn": a.udbyder_navn, "service": a.servicekode, "status": status_navn(a.status()), "historik": historik(&a.historik) }))
        .collect();
    let dataaftaler: Vec<Value> = d
        .aftaler
        .iter()
        .map(|a| json!({ "aftale_id": a.aftale_id, "system_id": a.udbydersystem_id, "system_navn": a.system_navn, "udbyder_navn": a.udbyder_navn, "service": a.servicekode, "ejer": a.ejer_kode, "ejer_navn": a.ejer_navn, "status": status_navn(a.aftale_status()), "historik": historik(&a.historik) }))
        .collect();
    ok(StatusCode::OK, json!({ "tilslutninger": tilslutninger, "dataaftaler": dataaftaler }))
}

#[derive(Deserialize)]
pub struct Beslutning {
    til: String,
    #[serde(default)]
    kommentar: String,
}

pub async fn beslut_dataaftale(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<Beslutning>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::DecideRequest { aftale_id: id, til: status_fra(&b.til)? as i32, kommentar: b.kommentar };
    let a = st.tilslutning().decide_dataaftale(k.ctx.request(req)).await?.into_inner();
    ok(
        StatusCode::OK,
        json!({ "aftale_id": a.aftale_id, "status": status_navn(a.aftale_status()), "historik": historik(&a.historik) }),
    )
}

pub async fn beslut_tilslutning(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<Beslutning>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::DecideRequest { aftale_id: id, til: status_fra(&b.til)? as i32, kommentar: b.kommentar };
    let a = st.tilslutning().decide_tilslutning(k.ctx.request(req)).await?.into_inner();
    ok(
        StatusCode::OK,
        json!({ "aftale_id": a.aftale_id, "status": status_navn(a.status()), "historik": historik(&a.historik) }),
    )
}

pub async fn beslut_alle(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Krop(b): Krop<Beslutning>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::BulkDecideRequest {
        ejer_kode: k.organisation.clone(),
        til: status_fra(&b.til)? as i32,
        kommentar: b.kommentar,
    };
    let r = st.tilslutning().bulk_decide_dataaftaler(k.ctx.request(req)).await?.into_inner();
    let ids: Vec<&str> = r.dataaftaler.iter().map(|a| a.aftale_id.as_str()).collect();
    ok(StatusCode::OK, json!({ "besluttet": ids }))
}

pub async fn modtagere(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::ListNotifikationsmodtagereRequest { organisation_kode: k.organisation.clone() };
    let r = st.tilslutning().list_notifikationsmodtagere(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, json!({ "modtagere": r.modtagere.iter().map(|m| m.email.as_str()).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
pub struct Modtager {
    email: String,
}

pub async fn tilmeld(State(st): State<PortalState>, parts: http::request::Parts, Krop(b): Krop<Modtager>) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let m = pb::Notifikationsmodtager { organisation_kode: k.organisation.clone(), email: b.email };
    let r = st.tilslutning().add_notifikationsmodtager(k.ctx.request(m)).await?.into_inner();
    ok(StatusCode::CREATED, json!({ "email": r.email }))
}

pub async fn fjern(State(st): State<PortalState>, parts: http::request::Parts, Krop(b): Krop<Modtager>) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let m = pb::Notifikationsmodtager { organisation_kode: k.organisation.clone(), email: b.email };
    let r = st.tilslutning().remove_notifikationsmodtager(k.ctx.request(m)).await?.into_inner();
    ok(StatusCode::OK, json!({ "email": r.email }))
}

pub async fn udbakke(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let r = st.tilslutning().list_udbakke(k.ctx.request(pb::ListUdbakkeRequest { max: 200 })).await?.into_inner();
    let mails: Vec<Value> = r
        .mails
        .iter()
        .map(|m| json!({ "id": m.id, "modtager": m.modtager, "emne": m.emne, "forsoeg": m.forsoeg, "sidste_fejl": m.sidste_fejl, "sendt": m.sendt }))
        .collect();
    ok(StatusCode::OK, json!({ "mails": mails }))
}
