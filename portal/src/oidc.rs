//! Login through OpenID Connect (docs/portal.md, "Login"): the authorization code flow with PKCE.
//! Each attempt gets a random `state`, `nonce` and PKCE verifier, kept here under a short-lived
//! cookie of its own and used once; the answer must bring back the same `state`, the code is
//! exchanged with the verifier, and the ID token must carry a signature by one of the provider's
//! published keys, our client id as audience, the provider as issuer, a time not passed and the
//! attempt's `nonce`. Only then does the tilslutning service learn who logged in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

/// How the portal meets an OpenID provider; all of it from configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is below it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: this portal's `/log-paa/oidc/svar`.
    pub redirect_url: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim that names the person's organisation(s) by CVR number.
    pub cvr_claim: String,
    /// The claim that lists the person's rights…
    pub rights_claim: String,
    /// …among which this one lets the person administer agreements for those organisations.
    pub right: String,
}

/// The claims beyond the standard ones, kept whole: which ones matter is configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ekstra {
    #[serde(flatten)]
    felter: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for Ekstra {}

type Felter = IdTokenFields<
    Ekstra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Svar = StandardTokenResponse<Felter, CoreTokenType>;
type Klient = Client<
    Ekstra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Svar,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The cookie that ties the browser's return to its attempt. `SameSite=Lax`: the provider sends
/// the browser back with a cross-site GET, which must carry it.
pub const COOKIE: &str = "__Host-dtr_oidc";
/// An attempt not finished within this is forgotten.
const ATTEMPT_LIFETIME: Duration = Duration::from_secs(600);
/// Most attempts remembered at once; the oldest go first beyond it.
const MAX_ATTEMPTS: usize = 10_000;
/// The provider's discovery document and keys are fetched again after this.
const METADATA_LIFETIME: Duration = Duration::from_secs(3600);

struct Attempt {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    started: Instant,
}

/// Why a login through the provider did not happen. The person sees one plain sentence; the
/// audit log gets the reason.
#[derive(Debug, thiserror::Error)]
pub enum OidcFejl {
    #[error("the provider cannot be reached or described itself wrongly: {0}")]
    Provider(String),
    #[error("no attempt for this browser (expired, finished, or never started)")]
    UkendtForsoeg,
    #[error("the provider answered with an error: {0}")]
    Afbrudt(String),
    #[error("state does not match the attempt's")]
    State,
    #[error("the provider refused the code: {0}")]
    Kode(String),
    #[error("the ID token was refused: {0}")]
    IdToken(String),
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identitet {
    pub issuer: String,
    pub subject: String,
    pub navn: String,
    pub email: String,
    pub cvr_med_ret: Vec<String>,
}

pub struct Oidc {
    cfg: OidcConfig,
    http: openidconnect::reqwest::Client,
    klient: tokio::sync::Mutex<Option<(Instant, Klient)>>,
    attempts: Mutex<HashMap<String, Attempt>>,
}

fn random_id() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Oidc {
    pub fn new(cfg: OidcConfig) -> Result<Self, OidcFejl> {
        IssuerUrl::new(cfg.issuer.clone()).map_err(|e| OidcFejl::Provider(format!("issuer URL: {e}")))?;
        RedirectUrl::new(cfg.redirect_url.clone()).map_err(|e| OidcFejl::Provider(format!("redirect URL: {e}")))?;
        dtr_trust::install_rustls_provider();
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would let a provider's answer send us anywhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OidcFejl::Provider(e.to_string()))?;
        Ok(Oidc { cfg, http, klient: tokio::sync::Mutex::new(None), attempts: Mutex::new(HashMap::new()) })
    }

    /// The client for the provider, from its discovery document (fetched when first needed, so
    /// the portal starts while the provider is away, and again when old or `fresh`).
    async fn klient(&self, fresh: bool) -> Result<Klient, OidcFejl> {
        let mut held = self.klient.lock().await;
        if let Some((at, k)) = held.as_ref()
            && !fresh
            && at.elapsed() < METADATA_LIFETIME
        {
            return Ok(k.clone());
        }
        let issuer = IssuerUrl::new(self.cfg.issuer.clone()).map_err(|e| OidcFejl::Provider(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcFejl::Provider(format!("discovery: {e}")))?;
        let secret = self.cfg.client_secret.clone().map(ClientSecret::new);
        let redirect =
            RedirectUrl::new(self.cfg.redirect_url.clone()).map_err(|e| OidcFejl::Provider(e.to_string()))?;
        let k: Klient = Client::from_provider_metadata(metadata, ClientId::new(self.cfg.client_id.clone()), secret)
            .set_redirect_uri(redirect);
        *held = Some((Instant::now(), k.clone()));
        Ok(k)
    }

    /// Starts an attempt: the provider's address to send the browser to, and the attempt's id
    /// for the cookie.
    pub async fn begin(&self) -> Result<(String, String), OidcFejl> {
        let klient = self.klient(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = klient.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in &self.cfg.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        let id = random_id();
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() >= MAX_ATTEMPTS {
            attempts.retain(|_, a| now.duration_since(a.started) < ATTEMPT_LIFETIME);
            if attempts.len() >= MAX_ATTEMPTS
                && let Some(oldest) = attempts.iter().min_by_key(|(_, a)| a.started).map(|(k, _)| k.clone())
            {
                attempts.remove(&oldest);
            }
        }
        attempts.insert(id.clone(), Attempt { state, nonce, verifier, started: now });
        Ok((url.to_string(), id))
    }

    /// Finishes the attempt `id` with the provider's answer; the attempt is used up whatever
    /// the outcome.
    pub async fn finish(&self, id: Option<&str>, svar: &Tilbagesvar) -> Result<Identitet, OidcFejl> {
        let attempt = id
            .and_then(|id| self.attempts.lock().unwrap_or_else(|e| e.into_inner()).remove(id))
            .filter(|a| a.started.elapsed() < ATTEMPT_LIFETIME)
            .ok_or(OidcFejl::UkendtForsoeg)?;
        if let Some(fejl) = &svar.error {
            return Err(OidcFejl::Afbrudt(fejl.chars().take(100).collect()));
        }
        if !crate::session::same_token(attempt.state.secret(), svar.state.as_deref().unwrap_or("")) {
            return Err(OidcFejl::State);
        }
        let code =
            svar.code.clone().filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(OidcFejl::Kode("none".into()))?;
        let klient = self.klient(false).await?;
        let token = klient
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcFejl::Provider(e.to_string()))?
            .set_pkce_verifier(attempt.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| OidcFejl::Kode(e.to_string()))?;
        let id_token = token.extra_fields().id_token().ok_or(OidcFejl::IdToken("none in the answer".into()))?;
        let claims = match id_token.claims(&klient.id_token_verifier(), &attempt.nonce) {
            Ok(c) => c.clone(),
            // The provider may have rolled its keys since we read them: read them again, once.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let klient = self.klient(true).await?;
                id_token
                    .claims(&klient.id_token_verifier(), &attempt.nonce)
                    .map_err(|e| OidcFejl::IdToken(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(OidcFejl::IdToken(e.to_string())),
        };
        Ok(self.identitet(&claims))
    }

    fn identitet(&self, c: &IdTokenClaims<Ekstra, CoreGenderClaim>) -> Identitet {
        let ekstra = &c.additional_claims().felter;
        let har_ret = strings(ekstra.get(&self.cfg.rights_claim)).contains(&self.cfg.right);
        Identitet {
            issuer: c.issuer().to_string(),
            subject: c.subject().to_string(),
            navn: c.name().and_then(|n| n.get(None)).map(|n| n.to_string()).unwrap_or_default(),
            email: c.email().map(|e| e.to_string()).unwrap_or_default(),
            cvr_med_ret: if har_ret { strings(ekstra.get(&self.cfg.cvr_claim)) } else { Vec::new() },
        }
    }
}

/// A claim given as one string or a list of them (providers do both).
fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).take(100).collect(),
        _ => Vec::new(),
    }
}

/// The query the provider sends the browser back with.
#[derive(Debug, Default, Deserialize)]
pub struct Tilbagesvar {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// The `Set-Cookie` value for an attempt.
pub fn cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}", ATTEMPT_LIFETIME.as_secs())
}

/// The `Set-Cookie` value that removes it.
pub fn cookie_removed() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_come_as_a_string_or_a_list() {
        assert_eq!(strings(Some(&serde_json::json!("12345678"))), vec!["12345678"]);
        assert_eq!(strings(Some(&serde_json::json!(["a", 1, "b"]))), vec!["a", "b"]);
        assert!(strings(Some(&serde_json::json!({"a": 1}))).is_empty());
        assert!(strings(None).is_empty());
    }

    #[tokio::test]
    async fn an_answer_without_its_attempt_is_refused() {
        let o = Oidc::new(OidcConfig {
            issuer: "https://op.example".into(),
            client_id: "portal".into(),
            client_secret: None,
            redirect_url: "https://portal.example/log-paa/oidc/svar".into(),
            scopes: vec![],
            cvr_claim: "cvr".into(),
            rights_claim: "r".into(),
            right: "x".into(),
        })
        .unwrap();
        let svar = Tilbagesvar { code: Some("c".into()), state: Some("s".into()), error: None };
        assert!(matches!(o.finish(None, &svar).await, Err(OidcFejl::UkendtForsoeg)));
        assert!(matches!(o.finish(Some("made-up"), &svar).await, Err(OidcFejl::UkendtForsoeg)));
    }
}
