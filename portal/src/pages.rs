//! The pages: log på, vælg organisation, the front page of the chosen organisation, log ud.
//! Every form carries the session's CSRF token, and every POST checks it before anything else.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use dtr_gateway::lockout::Standing;
use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::session::{self, Person, Session};

/// What the page header shows to a logged-in person.
pub(crate) struct Hoved {
    pub(crate) navn: String,
    pub(crate) organisation: Option<String>,
    pub(crate) csrf: String,
}

pub(crate) fn hoved(s: &Session) -> Option<Hoved> {
    let p = s.person.as_ref()?;
    let organisation = s.valgt.as_ref().map(|kode| {
        p.organisationer().into_iter().find(|(k, _)| k == kode).map_or(kode.clone(), |(_, navn)| navn.to_owned())
    });
    Some(Hoved { navn: p.navn.clone(), organisation, csrf: s.csrf.clone() })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    /// Offer login through the OpenID provider.
    oidc: bool,
    brugernavn: &'a str,
    fejl: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "fejl.html")]
pub(crate) struct FejlPage<'a> {
    pub(crate) hoved: Option<Hoved>,
    pub(crate) fejl: Option<&'a str>,
}

struct OrgValg {
    kode: String,
    navn: String,
    roller: String,
    valgt: bool,
}

#[derive(Template)]
#[template(path = "vaelg.html")]
struct VaelgPage<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    organisationer: Vec<OrgValg>,
    fejl: Option<&'a str>,
}

struct SystemLinje {
    navn: String,
    id: String,
    brugernavn: String,
    status: &'static str,
    passiv: bool,
    /// The contact person, as one line.
    kontakt: String,
}

struct AftaleLinje {
    id: String,
    /// The system's id, its name and its provider's name.
    system: String,
    system_navn: String,
    udbyder: String,
    service: String,
    status: &'static str,
    /// Where its decision form posts.
    handling: String,
}

#[derive(Template)]
#[template(path = "forside.html")]
struct Forside {
    hoved: Option<Hoved>,
    csrf: String,
    besked: Option<String>,
    organisation: String,
    roller: String,
    fejl: Option<String>,
    systemer: Option<Vec<SystemLinje>>,
    /// Passive systems are hidden unless asked for ("Vis passive").
    vis_passive: bool,
    skjulte_passive: usize,
    dataaftaler: Option<Vec<AftaleLinje>>,
    tilslutninger: Option<Vec<AftaleLinje>>,
    /// The person may maintain the register by hand.
    backoffice: bool,
}

/// A form's fields, or the Danish error page when the body is not a form of the kind expected
/// (axum's own answer would be plain English text); nothing is done then.
pub(crate) struct Formular<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Formular<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(Formular(v)),
            Err(e) => {
                tracing::info!(error = %e, "a portal form could not be read");
                let fejl = "Formularen kunne ikke læses. Indlæs siden igen og prøv en gang til.";
                Err(html(StatusCode::BAD_REQUEST, &FejlPage { hoved: None, fejl: Some(fejl) }))
            }
        }
    }
}

/// A rendered page with its status (a template that fails to render is a bug: 500, logged).
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "intern fejl").into_response()
        }
    }
}

pub(crate) fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(crate) fn current(st: &PortalState, headers: &HeaderMap) -> Option<Session> {
    st.sessions.get(session::id_from(headers)?)
}

/// A POST whose CSRF token is not the session's: nothing happens.
pub(crate) fn csrf_refused(s: Option<&Session>) -> Response {
    tracing::warn!(target: "audit", "portal form refused: missing or wrong CSRF token");
    let fejl = "Formularen er udløbet eller ikke gyldig. Indlæs siden igen og prøv en gang til.";
    html(StatusCode::FORBIDDEN, &FejlPage { hoved: s.and_then(hoved), fejl: Some(fejl) })
}

pub(crate) fn csrf_ok(s: &Session, submitted: &str) -> bool {
    session::same_token(&s.csrf, submitted)
}

pub(crate) fn rolle_navn(r: pb::Rolle) -> &'static str {
    match r {
        pb::Rolle::Udbyderadministrator => "udbyderadministrator",
        pb::Rolle::Dataadgangsadministrator => "dataadgangsadministrator",
        pb::Rolle::Operatoer => "operatør",
        pb::Rolle::Registeradministrator => "registeradministrator",
        pb::Rolle::Unspecified => "ukendt rolle",
    }
}

fn person_fra(p: pb::Person) -> Person {
    Person {
        id: p.person_id,
        navn: p.navn,
        roller: p
            .roller
            .into_iter()
            .map(|r| session::Rolle {
                rolle: r.rolle(),
                organisation_kode: r.organisation_kode,
                organisation_navn: r.organisation_navn,
            })
            .collect(),
    }
}

/// What a refused or failed service call means to the person.
pub(crate) fn forklaring(s: &tonic::Status) -> String {
    match s.code() {
        tonic::Code::PermissionDenied => "Du har ikke ret til dette for den valgte organisation.".into(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            "Tjenesten svarer ikke lige nu. Prøv igen om lidt.".into()
        }
        tonic::Code::InvalidArgument | tonic::Code::NotFound | tonic::Code::FailedPrecondition => {
            s.message().to_owned()
        }
        _ => {
            tracing::error!(status = ?s, "the tilslutning service failed a portal call");
            "Der opstod en fejl. Prøv igen, og kontakt STIL, hvis den bliver ved.".into()
        }
    }
}

// --- Log på ---

pub async fn login_form(State(st): State<PortalState>, headers: HeaderMap) -> Response {
    if current(&st, &headers).is_some_and(|s| s.person.is_some()) {
        return see_other("/");
    }
    // The login form has a CSRF token too, in a session of its own.
    let s = st.sessions.start(None);
    let page = LoginPage { hoved: None, csrf: &s.csrf, oidc: st.oidc.is_some(), brugernavn: "", fejl: None };
    with_cookie(html(StatusCode::OK, &page), &session::cookie(&s.id))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    brugernavn: String,
    #[serde(default)]
    adgangskode: String,
}

pub async fn login(
    State(st): State<PortalState>,
    parts: http::request::Parts,
    Formular(f): Formular<LoginForm>,
) -> Response {
    let Some(anonym) = current(&st, &parts.headers).filter(|s| csrf_ok(s, &f.csrf)) else {
        return csrf_refused(None);
    };
    let ip = crate::client_ip(&parts);
    let brugernavn = f.brugernavn.trim();
    let again = |status, fejl: &str| {
        let oidc = st.oidc.is_some();
        html(status, &LoginPage { hoved: None, csrf: &anonym.csrf, oidc, brugernavn, fejl: Some(fejl) })
    };
    // The lock-out comes first, before any password is checked.
    if let Standing::Locked(left) = st.lockout.standing(brugernavn, ip).await {
        let minutter = left.as_secs().div_ceil(60).max(1);
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("For mange forkerte forsøg. Prøv igen om {minutter} minut(ter)."),
        );
    }
    let req = pb::AuthenticatePersonRequest { brugernavn: brugernavn.to_owned(), adgangskode: f.adgangskode };
    let answer = match st.tilslutning().authenticate_person(req).await {
        Ok(a) => a.into_inner(),
        Err(e) => return again(StatusCode::SERVICE_UNAVAILABLE, &forklaring(&e)),
    };
    let Some(person) = answer.person.filter(|_| answer.ok) else {
        st.lockout.failed(brugernavn, ip).await;
        return again(StatusCode::UNAUTHORIZED, "Forkert brugernavn eller adgangskode.");
    };
    st.lockout.succeeded(brugernavn, ip).await;
    // A new session for the logged-in person: the anonymous one (and its id) is done.
    st.sessions.end(&anonym.id);
    let (s, to) = logged_in(&st, person, "local");
    with_cookie(see_other(to), &session::cookie(&s.id))
}

/// A new session for a person who has just proved who they are, with their only organisation
/// chosen; the session and the page to go on to.
fn logged_in(st: &PortalState, person: pb::Person, how: &'static str) -> (Session, &'static str) {
    let person = person_fra(person);
    let orgs: Vec<String> = person.organisationer().iter().map(|(k, _)| (*k).to_owned()).collect();
    let mut s = st.sessions.start(Some(person));
    if let [only] = orgs.as_slice() {
        s.valgt = Some(only.clone());
        st.sessions.save(&s);
    }
    tracing::info!(target: "audit", person = %s.person.as_ref().map(|p| p.id.as_str()).unwrap_or(""), how, "portal login");
    let to = if s.valgt.is_some() { "/" } else { "/vaelg-organisation" };
    (s, to)
}

// --- Log på through the OpenID provider ---

#[derive(Template)]
#[template(path = "videre.html")]
struct VidereSide<'a> {
    hoved: Option<Hoved>,
    til: &'a str,
}

/// Sends the browser to the provider with a new attempt.
pub async fn oidc_begin(State(st): State<PortalState>) -> Response {
    let Some(oidc) = &st.oidc else {
        return html(
            StatusCode::NOT_FOUND,
            &FejlPage { hoved: None, fejl: Some("Log-in med NemLog-in er ikke slået til.") },
        );
    };
    match oidc.begin().await {
        Ok((url, id)) => with_cookie(see_other(&url), &crate::oidc::cookie(&id)),
        Err(e) => {
            tracing::error!(error = %e, "OpenID login could not start");
            let fejl = "Log-in-tjenesten svarer ikke lige nu. Prøv igen om lidt.";
            html(StatusCode::SERVICE_UNAVAILABLE, &FejlPage { hoved: None, fejl: Some(fejl) })
        }
    }
}

/// The provider sends the browser back here. Whatever went wrong, the person sees the same
/// plain sentence and nothing is logged in; the audit log keeps the reason.
pub async fn oidc_svar(
    State(st): State<PortalState>,
    headers: HeaderMap,
    axum::extract::Query(svar): axum::extract::Query<crate::oidc::Tilbagesvar>,
) -> Response {
    use crate::oidc::OidcFejl;
    let Some(oidc) = &st.oidc else {
        return see_other("/log-paa");
    };
    let forsoeg = session::cookie_value(&headers, crate::oidc::COOKIE);
    let refused = |status, fejl: &str| {
        with_cookie(html(status, &FejlPage { hoved: None, fejl: Some(fejl) }), &crate::oidc::cookie_removed())
    };
    let identitet = match oidc.finish(forsoeg, &svar).await {
        Ok(i) => i,
        Err(e @ OidcFejl::Provider(_)) => {
            tracing::error!(error = %e, "OpenID login failed");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Log-in-tjenesten svarer ikke lige nu. Prøv igen om lidt.",
            );
        }
        Err(e) => {
            tracing::warn!(target: "audit", error = %e, "OpenID login refused");
            return refused(StatusCode::UNAUTHORIZED, "Log-in lykkedes ikke. Start forfra fra log-in-siden.");
        }
    };
    let req = pb::AuthenticateOidcPersonRequest {
        issuer: identitet.issuer,
        subject: identitet.subject,
        navn: identitet.navn,
        email: identitet.email,
        cvr_med_ret: identitet.cvr_med_ret,
    };
    let person = match st.tilslutning().authenticate_oidc_person(req).await {
        Ok(p) => p.into_inner(),
        Err(e) => return refused(StatusCode::SERVICE_UNAVAILABLE, &forklaring(&e)),
    };
    if let Some(old) = session::id_from(&headers) {
        st.sessions.end(old);
    }
    let (s, til) = logged_in(&st, person, "oidc");
    // The session cookie is SameSite=Strict, and this request came from the provider's site: a
    // redirect would not carry it. A page of our own that moves on does.
    let resp = with_cookie(html(StatusCode::OK, &VidereSide { hoved: None, til }), &session::cookie(&s.id));
    with_cookie(resp, &crate::oidc::cookie_removed())
}

// --- Vælg organisation ---

/// The logged-in session with the person's roles read again, so a role given or taken counts
/// at once.
async fn refreshed(st: &PortalState, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(mut s) = current(st, headers).filter(|s| s.person.is_some()) else {
        return Err(see_other("/log-paa"));
    };
    let id = s.person.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    match st.tilslutning().get_person(pb::GetPersonRequest { person_id: id }).await {
        Ok(p) => {
            let person = person_fra(p.into_inner());
            if s.valgt.as_ref().is_some_and(|v| person.roller_for(v).is_empty()) {
                s.valgt = None;
            }
            s.person = Some(person);
            st.sessions.save(&s);
            Ok(s)
        }
        Err(e) => {
            Err(html(StatusCode::SERVICE_UNAVAILABLE, &FejlPage { hoved: hoved(&s), fejl: Some(&forklaring(&e)) }))
        }
    }
}

fn valg(s: &Session) -> Vec<OrgValg> {
    let Some(p) = &s.person else { return vec![] };
    p.organisationer()
        .into_iter()
        .map(|(kode, navn)| OrgValg {
            kode: kode.to_owned(),
            navn: navn.to_owned(),
            roller: p.roller_for(kode).into_iter().map(rolle_navn).collect::<Vec<_>>().join(", "),
            valgt: s.valgt.as_deref() == Some(kode),
        })
        .collect()
}

pub async fn vaelg_form(State(st): State<PortalState>, headers: HeaderMap) -> Response {
    let s = match refreshed(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    html(StatusCode::OK, &VaelgPage { hoved: hoved(&s), csrf: &s.csrf, organisationer: valg(&s), fejl: None })
}

#[derive(Deserialize)]
pub struct VaelgForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    organisation: String,
}

pub async fn vaelg(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<VaelgForm>) -> Response {
    if !current(&st, &headers).is_some_and(|s| csrf_ok(&s, &f.csrf)) {
        return csrf_refused(current(&st, &headers).as_ref());
    }
    let mut s = match refreshed(&st, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let tilladt = s.person.as_ref().is_some_and(|p| !p.roller_for(&f.organisation).is_empty());
    if !tilladt {
        let fejl = "Du har ingen rolle for den organisation.";
        let page = VaelgPage { hoved: hoved(&s), csrf: &s.csrf, organisationer: valg(&s), fejl: Some(fejl) };
        return html(StatusCode::FORBIDDEN, &page);
    }
    s.valgt = Some(f.organisation);
    st.sessions.save(&s);
    see_other("/")
}

// --- Forsiden ---

#[derive(Deserialize, Default)]
pub struct ForsideValg {
    #[serde(default)]
    vis_passive: Option<String>,
}

pub async fn forside(
    State(st): State<PortalState>,
    headers: HeaderMap,
    axum::extract::Query(valg): axum::extract::Query<ForsideValg>,
) -> Response {
    let vis_passive = valg.vis_passive.is_some();
    let Some(mut s) = current(&st, &headers).filter(|s| s.person.is_some()) else {
        return see_other("/log-paa");
    };
    let besked = st.sessions.take_besked(&mut s);
    let (Some(person), Some(kode)) = (s.person.as_ref(), s.valgt.clone()) else {
        return see_other("/vaelg-organisation");
    };
    let roller = person.roller_for(&kode);
    let organisation =
        person.organisationer().into_iter().find(|(k, _)| *k == kode).map_or(kode.clone(), |(_, n)| n.to_owned());
    // Every call names the person and the organisation they act for; the service decides.
    let ctx = CallerContext::new(Principal::Person { id: person.id.clone(), organisation: kode.clone() });
    let mut fejl = None;
    let mut c = st.tilslutning();
    let mut systemer = None;
    if roller.contains(&pb::Rolle::Udbyderadministrator) {
        let req = pb::ListSystemsRequest { udbyder_kode: kode.clone(), ..Default::default() };
        match c.list_systems(ctx.request(req)).await {
            Ok(r) => {
                systemer = Some(
                    r.into_inner()
                        .systems
                        .into_iter()
                        .map(|s| SystemLinje {
                            passiv: s.passiv,
                            kontakt: [s.kontakt_navn.as_str(), s.kontakt_email.as_str(), s.kontakt_telefon.as_str()]
                                .into_iter()
                                .filter(|x| !x.is_empty())
                                .collect::<Vec<_>>()
                                .join(", "),
                            status: if s.blokeret {
                                "Blokeret"
                            } else if s.passiv {
                                "Passiv"
                            } else {
                                "Aktiv"
                            },
                            navn: s.navn,
                            id: s.udbydersystem_id,
                            brugernavn: s.brugernavn,
                        })
                        .collect(),
                )
            }
            Err(e) => fejl = Some(forklaring(&e)),
        }
    }
    let venter = || pb::ListAftalerRequest { status: Some(pb::AftaleStatus::Venter as i32), ..Default::default() };
    let mut dataaftaler = None;
    if roller.contains(&pb::Rolle::Dataadgangsadministrator) {
        match c.list_dataaftaler(ctx.request(pb::ListAftalerRequest { ejer_kode: kode.clone(), ..venter() })).await {
            Ok(r) => {
                dataaftaler = Some(
                    r.into_inner()
                        .aftaler
                        .into_iter()
                        .map(|a| {
                            let status = a.aftale_status();
                            aftale(
                                "/dataadgange",
                                a.aftale_id,
                                a.udbydersystem_id,
                                a.system_navn,
                                a.udbyder_navn,
                                a.servicekode,
                                status,
                            )
                        })
                        .collect(),
                )
            }
            Err(e) => fejl = Some(forklaring(&e)),
        }
    }
    let mut tilslutninger = None;
    if roller.contains(&pb::Rolle::Operatoer) {
        match c.list_tilslutninger(ctx.request(venter())).await {
            Ok(r) => {
                tilslutninger = Some(
                    r.into_inner()
                        .aftaler
                        .into_iter()
                        .map(|a| {
                            let status = a.status();
                            aftale(
                                "/tilslutninger",
                                a.aftale_id,
                                a.udbydersystem_id,
                                a.system_navn,
                                a.udbyder_navn,
                                a.servicekode,
                                status,
                            )
                        })
                        .collect(),
                )
            }
            Err(e) => fejl = Some(forklaring(&e)),
        }
    }
    let page = Forside {
        hoved: hoved(&s),
        csrf: s.csrf.clone(),
        besked,
        organisation,
        roller: roller.iter().copied().map(rolle_navn).collect::<Vec<_>>().join(" og "),
        fejl,
        skjulte_passive: systemer.as_ref().map_or(0, |l: &Vec<SystemLinje>| l.iter().filter(|s| s.passiv).count()),
        systemer: systemer.map(|l| l.into_iter().filter(|s| vis_passive || !s.passiv).collect()),
        vis_passive,
        dataaftaler,
        tilslutninger,
        backoffice: roller.contains(&pb::Rolle::Registeradministrator),
    };
    html(StatusCode::OK, &page)
}

/// One waiting agreement as a row with its decision form (posting to `handling`/id/beslut).
fn aftale(
    handling: &str,
    id: String,
    system: String,
    system_navn: String,
    udbyder: String,
    service: String,
    status: pb::AftaleStatus,
) -> AftaleLinje {
    AftaleLinje {
        handling: format!("{handling}/{id}/beslut"),
        id,
        system,
        system_navn,
        udbyder,
        service,
        status: match status {
            pb::AftaleStatus::Venter => "Venter",
            pb::AftaleStatus::Godkendt => "Godkendt",
            pb::AftaleStatus::Afvist => "Afvist",
            pb::AftaleStatus::Slettet => "Slettet",
            pb::AftaleStatus::Unspecified => "Ukendt",
        },
    }
}

// --- Log ud ---

#[derive(Deserialize)]
pub struct LogUdForm {
    #[serde(default)]
    csrf: String,
}

pub async fn log_ud(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<LogUdForm>) -> Response {
    let Some(s) = current(&st, &headers) else {
        return with_cookie(see_other("/log-paa"), &session::cookie_removed());
    };
    if !csrf_ok(&s, &f.csrf) {
        return csrf_refused(Some(&s));
    }
    st.sessions.end(&s.id);
    with_cookie(see_other("/log-paa"), &session::cookie_removed())
}
