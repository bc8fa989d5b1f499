//! The Tilslutning portal: persons log in (local accounts, or OpenID Connect), choose the
//! organisation they act for, and work with its systems and agreements. Server-rendered HTML
//! (askama, checked at compile time) in Det Fælles Designsystem's look, no JavaScript needed.
//!
//! The portal is an edge like the gateway (docs/security.md): it verifies who a person is, and
//! calls the tilslutning service with the portal's certificate and a token naming the person and
//! the chosen organisation. The services decide what that person may see and do; the pages only
//! show it.

mod api;
mod api_operatoer;
mod assets;
mod backoffice;
mod flows;
mod katalog;
pub mod oidc;
mod pages;
mod register;
mod registerfund;
pub mod session;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;

use dtr_gateway::lockout::{Lockout, LockoutPolicy};
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_trust::{Part, PartCredentials, SignedChannel};

/// What the portal is told at start.
pub struct PortalConfig {
    pub tilslutning_url: String,
    /// The export service, which the register's public pages read.
    pub export_url: String,
    /// The import service, through which the back office writes.
    pub import_url: String,
    /// The portal's certificate and token key.
    pub credentials: PartCredentials,
    /// A session ends after this long without a request…
    pub idle: Duration,
    /// …and after this long in any case.
    pub absolute: Duration,
    pub lockout: LockoutPolicy,
    /// Login through an OpenID provider, beside the local accounts.
    pub oidc: Option<oidc::OidcConfig>,
}

/// Why the portal cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error(transparent)]
    Trust(#[from] dtr_trust::TrustError),
    #[error("OpenID Connect: {0}")]
    Oidc(#[from] oidc::OidcFejl),
}

#[derive(Clone)]
pub struct PortalState(Arc<Shared>);

pub struct Shared {
    tilslutning: TilslutningServiceClient<SignedChannel>,
    export: ExportServiceClient<SignedChannel>,
    import: ImportServiceClient<SignedChannel>,
    sessions: session::Sessions,
    lockout: Lockout,
    oidc: Option<oidc::Oidc>,
}

impl std::ops::Deref for PortalState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl PortalState {
    /// The portal's state; its channel to the tilslutning service connects lazily.
    pub fn new(cfg: PortalConfig) -> Result<Self, PortalError> {
        let channel = cfg.credentials.endpoint(&cfg.tilslutning_url, Part::Tilslutning)?.connect_lazy();
        let tilslutning = TilslutningServiceClient::new(cfg.credentials.signed(channel, Part::Tilslutning));
        let channel = cfg.credentials.endpoint(&cfg.export_url, Part::Export)?.connect_lazy();
        let export = ExportServiceClient::new(cfg.credentials.signed(channel, Part::Export))
            .max_decoding_message_size(64 * 1024 * 1024);
        let channel = cfg.credentials.endpoint(&cfg.import_url, Part::Import)?.connect_lazy();
        let import = ImportServiceClient::new(cfg.credentials.signed(channel, Part::Import));
        Ok(PortalState(Arc::new(Shared {
            tilslutning,
            export,
            import,
            sessions: session::Sessions::new(cfg.idle, cfg.absolute),
            lockout: Lockout::new(cfg.lockout, None),
            oidc: cfg.oidc.map(oidc::Oidc::new).transpose()?,
        })))
    }

    pub(crate) fn tilslutning(&self) -> TilslutningServiceClient<SignedChannel> {
        self.tilslutning.clone()
    }

    pub(crate) fn export(&self) -> ExportServiceClient<SignedChannel> {
        self.export.clone()
    }

    pub(crate) fn import(&self) -> ImportServiceClient<SignedChannel> {
        self.import.clone()
    }
}

/// The portal's routes: its pages at `/`, and the static assets under `/static/`.
pub fn router(state: PortalState) -> Router {
    Router::new()
        .route("/", get(pages::forside))
        .route("/log-paa", get(pages::login_form).post(pages::login))
        .route("/log-paa/oidc", get(pages::oidc_begin))
        .route("/log-paa/oidc/svar", get(pages::oidc_svar))
        .route("/vaelg-organisation", get(pages::vaelg_form).post(pages::vaelg))
        .route("/log-ud", axum::routing::post(pages::log_ud))
        .route("/systemer/nyt", get(flows::nyt_system_form).post(flows::nyt_system))
        .route("/tilslutninger/ny", get(flows::anmod_tilslutning_form).post(flows::anmod_tilslutning))
        .route("/tilslutninger/{id}/beslut", axum::routing::post(flows::beslut_tilslutning))
        .route("/dataadgange/ny", get(flows::anmod_dataadgang_form).post(flows::anmod_dataadgang))
        .route("/dataadgange/{id}/beslut", axum::routing::post(flows::beslut_dataaftale))
        .route("/dataadgange/alle", axum::routing::post(flows::beslut_alle))
        .route("/aftaler", get(flows::aftaler))
        .route("/notifikationer", get(flows::notifikationer).post(flows::tilmeld))
        .route("/notifikationer/fjern", axum::routing::post(flows::fjern))
        .route("/systemer", get(flows::systemer))
        .route("/systemer/{id}/forny", axum::routing::post(flows::forny))
        .route("/systemer/{id}/passiv", axum::routing::post(flows::passiv))
        .route("/systemer/{id}/bloker", axum::routing::post(flows::bloker))
        .route("/systemer/{id}/frigiv", axum::routing::post(flows::frigiv))
        .route("/personer", get(flows::personer).post(flows::opret_person))
        .route("/udbydere", get(flows::udbydere).post(flows::opret_udbyder))
        .route("/udbakke", get(flows::udbakke))
        .route("/registerfund", get(registerfund::registerfund))
        .route("/backoffice", get(backoffice::forside))
        .route("/backoffice/find", get(backoffice::find))
        .route("/backoffice/ny", axum::routing::post(backoffice::opret))
        .route("/backoffice/{nummer}", get(backoffice::enhed))
        .route("/backoffice/{nummer}/{handling}", axum::routing::post(backoffice::handling))
        .route("/servicekatalog", get(katalog::katalog).post(katalog::gem))
        .route("/udbydere/{kode}/passiv", axum::routing::post(flows::udbyder_passiv))
        .route("/personer/{id}/rolle", axum::routing::post(flows::rolle))
        .route("/static/{*path}", get(assets::serve))
        .route("/dagtilbud/{nummer}", get(register::enhed))
        .route("/kommune/{kode}", get(register::kommune))
        .route("/soeg", get(register::soeg))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/organisation", get(api::organisationer))
        .route("/api/systemer", get(api::systemer).post(api::opret_system))
        .route("/api/systemer/{id}/forny", axum::routing::post(api::forny))
        .route("/api/systemer/{id}/passiv", axum::routing::post(api::passiv))
        .route("/api/systemer/{id}/bloker", axum::routing::post(api::bloker))
        .route("/api/systemer/{id}/frigiv", axum::routing::post(api::frigiv))
        .route("/api/tilslutninger", axum::routing::post(api::anmod_tilslutning))
        .route("/api/tilslutninger/{id}/beslut", axum::routing::post(api::beslut_tilslutning))
        .route("/api/dataadgange", axum::routing::post(api::anmod_dataadgang))
        .route("/api/dataadgange/{id}/beslut", axum::routing::post(api::beslut_dataaftale))
        .route("/api/dataadgange/alle", axum::routing::post(api::beslut_alle))
        .route("/api/aftaler", get(api::aftaler))
        .route("/api/udbakke", get(api::udbakke))
        .route("/api/servicekatalog", get(api_operatoer::services).post(api_operatoer::gem_service))
        .route("/api/personer", get(api_operatoer::personer).post(api_operatoer::opret_person))
        .route("/api/personer/{id}/rolle", axum::routing::post(api_operatoer::rolle))
        .route("/api/udbydere", get(api_operatoer::udbydere).post(api_operatoer::opret_udbyder))
        .route("/api/udbydere/{id}/passiv", axum::routing::post(api_operatoer::udbyder_passiv))
        .route("/api/notifikationer", get(api::modtagere).post(api::tilmeld).delete(api::fjern))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

/// Every page: HTTPS only, no sniffing, no framing, a strict content security policy (no inline
/// script or style, nothing from elsewhere), and personal pages never cached.
async fn security_headers(mut resp: Response) -> Response {
    use http::{HeaderValue, header};
    let h = resp.headers_mut();
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The client's address, for the lock-out (the TCP peer, as the gateway counts it).
fn client_ip(parts: &http::request::Parts) -> Option<IpAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}
