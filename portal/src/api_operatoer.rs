//! The operator's part of the JSON API (docs/portal.md): the service catalogue, persons and
//! their roles, and the providers' register — the same actions as the operator's pages, with the
//! same authorisation (the tilslutning service refuses anyone but STIL).

use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::api::{ApiFejl, Krop, Svar, kalder, ok};

fn service_json(s: &pb::Service) -> Value {
    let ops: Vec<Value> =
        s.operationer.iter().map(|o| json!({ "navn": o.navn, "kraever_dataaftale": o.kraever_dataaftale })).collect();
    json!({
        "servicekode": s.servicekode, "navn": s.service_navn, "beskrivelse": s.beskrivelse,
        "formaal": s.formaal, "data": s.data, "operationer": ops, "versioner": s.versioner,
    })
}

pub async fn services(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let r = st.tilslutning().list_services(k.ctx.request(pb::ListServicesRequest::default())).await?.into_inner();
    ok(StatusCode::OK, json!({ "services": r.services.iter().map(service_json).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
pub struct Operation {
    navn: String,
    #[serde(default)]
    kraever_dataaftale: bool,
}

#[derive(Deserialize)]
pub struct Service {
    servicekode: String,
    navn: String,
    #[serde(default)]
    beskrivelse: String,
    #[serde(default)]
    formaal: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    operationer: Vec<Operation>,
    #[serde(default)]
    versioner: Vec<String>,
}

pub async fn gem_service(State(st): State<PortalState>, parts: http::request::Parts, Krop(b): Krop<Service>) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let s = pb::Service {
        servicekode: b.servicekode,
        service_navn: b.navn,
        beskrivelse: b.beskrivelse,
        formaal: b.formaal,
        data: b.data,
        operationer: b
            .operationer
            .into_iter()
            .map(|o| pb::Operation { navn: o.navn, kraever_dataaftale: o.kraever_dataaftale })
            .collect(),
        versioner: b.versioner,
    };
    let r = st.tilslutning().upsert_service(k.ctx.request(s)).await?.into_inner();
    ok(StatusCode::OK, service_json(&r))
}

fn person_json(p: &pb::Person) -> Value {
    let roller: Vec<Value> = p
        .roller
        .iter()
        .map(|r| json!({ "organisation": r.organisation_kode, "rolle": r.rolle().as_str_name() }))
        .collect();
    json!({ "person_id": p.person_id, "brugernavn": p.brugernavn, "navn": p.navn, "email": p.email, "roller": roller })
}

pub async fn personer(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::ListPersonerRequest {
        side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
        ..Default::default()
    };
    let r = st.tilslutning().list_personer(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, json!({ "personer": r.personer.iter().map(person_json).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
pub struct NyPerson {
    brugernavn: String,
    navn: String,
    #[serde(default)]
    email: String,
}

pub async fn opret_person(State(st): State<PortalState>, parts: http::request::Parts, Krop(b): Krop<NyPerson>) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::CreatePersonRequest { brugernavn: b.brugernavn, navn: b.navn, email: b.email };
    let r = st.tilslutning().create_person(k.ctx.request(req)).await?.into_inner();
    let person = r.person.unwrap_or_default();
    ok(StatusCode::CREATED, json!({ "person": person_json(&person), "adgangskode": r.adgangskode }))
}

#[derive(Deserialize)]
pub struct RolleSkift {
    organisation: String,
    rolle: String,
    har: bool,
}

pub async fn rolle(
    State(st): State<PortalState>,
    Path(id): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<RolleSkift>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let rolle = pb::Rolle::from_str_name(&b.rolle).filter(|r| *r != pb::Rolle::Unspecified).ok_or(ApiFejl(
        StatusCode::BAD_REQUEST,
        "rolle skal være UDBYDERADMINISTRATOR, DATAADGANGSADMINISTRATOR, OPERATOER eller REGISTERADMINISTRATOR".into(),
    ))?;
    let req = pb::SetRolleRequest { person_id: id, organisation_kode: b.organisation, rolle: rolle as i32, har: b.har };
    let p = st.tilslutning().set_rolle(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, person_json(&p))
}

fn udbyder_json(o: &pb::Organisation) -> Value {
    json!({
        "kode": o.kode, "navn": o.navn, "cvr": o.cvr, "pnr": o.pnr,
        "passiv": o.er_passiveret, "kommentar": o.passiveret_kommentar,
    })
}

pub async fn udbydere(State(st): State<PortalState>, parts: http::request::Parts) -> Svar {
    let k = kalder(&st, &parts).await?;
    let req = pb::ListOrganisationerRequest {
        r#type: Some(pb::OrganisationType::Udbyder as i32),
        side: Some(pb::Side { stoerrelse: 300, token: String::new() }),
        ..Default::default()
    };
    let r = st.tilslutning().list_organisationer(k.ctx.request(req)).await?.into_inner();
    let udbydere: Vec<Value> =
        r.organisationer.iter().filter(|o| o.kode != dtr_proto::context::OPERATOER).map(udbyder_json).collect();
    ok(StatusCode::OK, json!({ "udbydere": udbydere }))
}

#[derive(Deserialize)]
pub struct NyUdbyder {
    kode: String,
    navn: String,
    #[serde(default)]
    cvr: String,
    #[serde(default)]
    pnr: String,
}

pub async fn opret_udbyder(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Krop(b): Krop<NyUdbyder>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let org = pb::Organisation {
        kode: b.kode,
        navn: b.navn,
        cvr: b.cvr,
        pnr: b.pnr,
        r#type: pb::OrganisationType::Udbyder as i32,
        ..Default::default()
    };
    let req = pb::CreateOrganisationRequest { organisation: Some(org) };
    let o = st.tilslutning().create_organisation(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::CREATED, udbyder_json(&o))
}

#[derive(Deserialize)]
pub struct UdbyderPassiv {
    passiv: bool,
    #[serde(default)]
    kommentar: String,
}

pub async fn udbyder_passiv(
    State(st): State<PortalState>,
    Path(kode): Path<String>,
    parts: http::request::Parts,
    Krop(b): Krop<UdbyderPassiv>,
) -> Svar {
    let k = kalder(&st, &parts).await?;
    let b = b?;
    let req = pb::SetOrganisationPassivRequest { kode, passiv: b.passiv, kommentar: b.kommentar };
    let o = st.tilslutning().set_organisation_passiv(k.ctx.request(req)).await?.into_inner();
    ok(StatusCode::OK, udbyder_json(&o))
}
