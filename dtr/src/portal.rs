//! The portal's settings, shared by `dtr up`, `dtr gateway` (which serve it beside SOAP) and
//! `dtr portal` (the portal as its own process, e.g. on a host of its own behind the same name).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use dtr_gateway::lockout::LockoutPolicy;
use dtr_trust::{Part, PartCredentials, PkiDir};

/// What every process that serves the portal is told about it.
#[derive(clap::Args, Clone)]
pub struct PortalSettings {
    /// A portal session ends after this many minutes without a request.
    #[arg(long, env = "DTR_PORTAL_IDLE_MINUTES", default_value_t = 30)]
    pub portal_idle_minutes: u64,
    /// A portal session ends this many hours after login in any case.
    #[arg(long, env = "DTR_PORTAL_ABSOLUTE_HOURS", default_value_t = 8)]
    pub portal_absolute_hours: u64,
    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// Where the portal's parts are: the tilslutning service it calls, and its own public address.
pub struct Where<'a> {
    pub tilslutning_url: &'a str,
    /// The export service, for the register's public pages.
    pub export_url: &'a str,
    /// The import service, for the back office.
    pub import_url: &'a str,
    pub public_url: Option<&'a str>,
}

impl PortalSettings {
    /// The portal's routes, calling the tilslutning service with the portal's certificate and
    /// token key from `pki`.
    pub fn router(
        &self,
        pki: &PkiDir,
        at: Where<'_>,
        lockout: LockoutPolicy,
        plaintext: bool,
    ) -> anyhow::Result<axum::Router> {
        let mut credentials =
            PartCredentials::load(pki, Part::Portal).context("the portal's certificate and token key")?;
        if plaintext {
            credentials = credentials.without_tls();
        }
        let cfg = dtr_portal::PortalConfig {
            tilslutning_url: at.tilslutning_url.to_owned(),
            export_url: at.export_url.to_owned(),
            import_url: at.import_url.to_owned(),
            credentials,
            idle: Duration::from_secs(self.portal_idle_minutes * 60),
            absolute: Duration::from_secs(self.portal_absolute_hours * 3600),
            lockout,
            oidc: self.oidc.config(at.public_url)?,
        };
        Ok(dtr_portal::router(dtr_portal::PortalState::new(cfg).context("the portal")?))
    }
}

/// Login to the portal through an OpenID provider (docs/portal.md, "Login").
#[derive(clap::Args, Clone, Default)]
pub struct OidcArgs {
    /// The provider's issuer URL; set, the login page offers login through it.
    #[arg(long, env = "DTR_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The portal's client id at the provider.
    #[arg(long, env = "DTR_OIDC_CLIENT_ID", default_value = "dtr-portal")]
    pub oidc_client_id: String,
    /// The portal's client secret at the provider.
    #[arg(long, env = "DTR_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Where the provider sends the browser back; default: DTR_PUBLIC_URL + /log-paa/oidc/svar.
    #[arg(long, env = "DTR_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// Scopes asked for besides `openid` (space-separated).
    #[arg(long, env = "DTR_OIDC_SCOPES", default_value = "profile email", value_delimiter = ' ')]
    pub oidc_scopes: Vec<String>,
    /// The ID-token claim with the person's organisation's CVR number (a string or a list).
    #[arg(long, env = "DTR_OIDC_CVR_CLAIM", default_value = "https://data.gov.dk/model/core/eid/professional/cvr")]
    pub oidc_cvr_claim: String,
    /// The ID-token claim with the person's rights (a string or a list).
    #[arg(long, env = "DTR_OIDC_RIGHTS_CLAIM", default_value = "rettigheder")]
    pub oidc_rights_claim: String,
    /// The right that lets the person administer agreements for the organisations of the CVR claim.
    #[arg(long, env = "DTR_OIDC_RIGHT", default_value = "Tilslutning: Ret til at administrere aftaler")]
    pub oidc_right: String,
}

impl OidcArgs {
    /// The portal's OIDC settings, if an issuer is set.
    pub fn config(&self, public_url: Option<&str>) -> anyhow::Result<Option<dtr_portal::oidc::OidcConfig>> {
        let Some(issuer) = &self.oidc_issuer else { return Ok(None) };
        let redirect_url = match (&self.oidc_redirect_url, public_url) {
            (Some(u), _) => u.clone(),
            (None, Some(base)) => format!("{}/log-paa/oidc/svar", base.trim_end_matches('/')),
            (None, None) => anyhow::bail!("DTR_OIDC_ISSUER is set: set DTR_OIDC_REDIRECT_URL or DTR_PUBLIC_URL too"),
        };
        Ok(Some(dtr_portal::oidc::OidcConfig {
            issuer: issuer.clone(),
            client_id: self.oidc_client_id.clone(),
            client_secret: self.oidc_client_secret.clone().filter(|s| !s.is_empty()),
            redirect_url,
            scopes: self.oidc_scopes.iter().filter(|s| !s.is_empty() && *s != "openid").cloned().collect(),
            cvr_claim: self.oidc_cvr_claim.clone(),
            rights_claim: self.oidc_rights_claim.clone(),
            right: self.oidc_right.clone(),
        }))
    }
}

/// `dtr portal`: the portal alone on its own HTTPS listener.
#[derive(clap::Args, Clone)]
pub struct PortalArgs {
    #[arg(long, env = "DTR_HTTPS_ADDR", default_value = "0.0.0.0:8443")]
    pub https_addr: String,
    #[arg(long, env = "DTR_TILSLUTNING_URL", default_value = "https://127.0.0.1:50053")]
    pub tilslutning_url: String,
    #[arg(long, env = "DTR_EXPORT_URL", default_value = "https://127.0.0.1:50052")]
    pub export_url: String,
    #[arg(long, env = "DTR_IMPORT_URL", default_value = "https://127.0.0.1:50051")]
    pub import_url: String,
    #[command(flatten)]
    pub pki: crate::pki::PkiArgs,
    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,
    /// PEM certificate chain; with --tls-key. Without them a self-signed pair is kept in --data-dir.
    #[arg(long, env = "DTR_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, env = "DTR_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    pub data_dir: PathBuf,
    /// The portal's public base URL (the OpenID provider sends browsers back below it).
    #[arg(long, env = "DTR_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Failed logins of one username from one address that lock that pair out; 0 = no lock-out.
    #[arg(long, env = "DTR_LOCKOUT_FAILURES", default_value_t = 10)]
    pub lockout_failures: u32,
    /// How long a lock-out lasts, counted from the first failure, in seconds.
    #[arg(long, env = "DTR_LOCKOUT_SECONDS", default_value_t = 300)]
    pub lockout_seconds: u64,
    #[command(flatten)]
    pub portal: PortalSettings,
}

pub async fn run(args: PortalArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr-portal");
    crate::metrics::start(&args.metrics).await?;
    let addr = crate::parse_addr(&args.https_addr)?;
    let tls = dtr_gateway::tls::rustls_config(args.tls_cert.as_deref(), args.tls_key.as_deref(), &args.data_dir)
        .await
        .context("TLS")?;
    let lockout =
        LockoutPolicy { max_failures: args.lockout_failures, period: Duration::from_secs(args.lockout_seconds) };
    let at = Where {
        tilslutning_url: &args.tilslutning_url,
        export_url: &args.export_url,
        import_url: &args.import_url,
        public_url: args.public_url.as_deref(),
    };
    let router = args.portal.router(&args.pki.existing()?, at, lockout, false)?;
    let router = router.route("/healthz", axum::routing::get(|| async { "ok" }));
    let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    tokio::spawn(async move {
        if let Ok(a) = rx.await {
            tracing::info!(addr = %a, "portal listening (HTTPS)");
        }
    });
    dtr_gateway::serve_router(addr, tls, router, Some(tx), crate::shutdown_signal())
        .await
        .with_context(|| format!("serving on {addr}"))
}
