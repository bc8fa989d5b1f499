//! Signed, short-lived caller tokens: JWTs signed with Ed25519 (through `ring`, the crypto the
//! rest of the deployment uses). The edge that verified an identity mints a token naming it,
//! for one service (the audience), valid for a minute; the service checks the signature against
//! the issuing part's public key, the audience, the expiry, and that the issuer may vouch for
//! that kind of principal (only the gateway for systems, the portal for persons, the admin CLI
//! for the operator, a part for itself).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use tonic::metadata::{Ascii, MetadataValue};

use dtr_proto::context::Principal;

use crate::TrustError;
use crate::pki::{Part, PkiDir, b64, read};

/// How long a token is valid.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// Clock difference between parts that is tolerated.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: u64,
    exp: u64,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<String>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("adgangstegnet er udløbet")]
    Expired,
    #[error("adgangstegnet er udstedt til en anden service")]
    Audience,
    #[error("adgangstegnets underskrift er ikke gyldig")]
    Signature,
    #[error("adgangstegnets udsteder må ikke udstede det")]
    Issuer,
    #[error("adgangstegnet kan ikke læses")]
    Malformed,
}

// --- Ed25519 through ring, as jsonwebtoken's crypto provider ---

struct RingEdSigner(Ed25519KeyPair);

impl signature::Signer<Vec<u8>> for RingEdSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl JwtSigner for RingEdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct RingEdVerifier(Vec<u8>);

impl signature::Verifier<Vec<u8>> for RingEdVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(msg, sig).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingEdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(RingEdSigner(pair)))
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(RingEdVerifier(key.try_get_as_bytes()?.to_vec())))
}

static RING_ED25519: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, key_utils: KeyUtils::new_unimplemented() };

fn install_provider() {
    // Fails only when a provider is installed already, which then is this one.
    let _ = RING_ED25519.install_default();
}

/// A new Ed25519 key: (private PKCS#8 as base64, public key as base64).
pub(crate) fn generate_key() -> Result<(String, String), TrustError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| TrustError::Generate("Ed25519 key".into()))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| TrustError::Generate("Ed25519 key".into()))?;
    Ok((b64(pkcs8.as_ref()), b64(pair.public_key().as_ref())))
}

fn unb64(path: &std::path::Path) -> Result<Vec<u8>, TrustError> {
    let text = read(path)?;
    base64::engine::general_purpose::STANDARD
        .decode(String::from_utf8_lossy(&text).trim())
        .map_err(|_| TrustError::Invalid(format!("{}: not a key", path.display())))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Signs tokens for one part. Tokens are reused for half their lifetime, so a busy edge signs
/// about once a half-minute per principal and service, not once per call.
pub struct Minter {
    part: Part,
    key: EncodingKey,
    cache: Mutex<HashMap<Part, HashMap<Principal, Minted>>>,
}

/// A token as made, with its `authorization` header value (made once: a header value checks
/// every byte of the token).
#[derive(Clone)]
struct Minted {
    token: String,
    bearer: MetadataValue<Ascii>,
    made: Instant,
}

/// Tokens remembered at most per audience; the map starts afresh when full.
const MINTED_MAX: usize = 10_000;

impl Minter {
    /// The part's token key from the PKI directory.
    pub fn load(pki: &PkiDir, part: Part) -> Result<Self, TrustError> {
        install_provider();
        let der = unb64(&pki.token_key(part))?;
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| TrustError::Invalid(format!("{}: not an Ed25519 key", pki.token_key(part).display())))?;
        Ok(Minter { part, key: EncodingKey::from_ed_der(&der), cache: Mutex::default() })
    }

    /// A minter with a key of its own that no service trusts, for tests that need tokens to be
    /// refused, or fakes that do not check them.
    pub fn ephemeral(part: Part) -> Self {
        install_provider();
        let (private, _) = generate_key().expect("an Ed25519 key");
        let der = base64::engine::general_purpose::STANDARD.decode(private).expect("base64 of our own key");
        Minter { part, key: EncodingKey::from_ed_der(&der), cache: Mutex::default() }
    }

    pub fn part(&self) -> Part {
        self.part
    }

    /// A token naming `principal` for service `audience`.
    pub fn token(&self, principal: &Principal, audience: Part) -> Result<String, TrustError> {
        self.minted(principal, audience, |m| m.token.clone())
    }

    /// `Bearer <token>` for the `authorization` metadata of a call.
    pub fn bearer(&self, principal: &Principal, audience: Part) -> Result<MetadataValue<Ascii>, TrustError> {
        self.minted(principal, audience, |m| m.bearer.clone())
    }

    /// What `take` takes of the token for `principal` and `audience`, minted if none is fresh.
    fn minted<R>(&self, principal: &Principal, audience: Part, take: impl Fn(&Minted) -> R) -> Result<R, TrustError> {
        if let Ok(cache) = self.cache.lock()
            && let Some(minted) = cache.get(&audience).and_then(|m| m.get(principal))
            && minted.made.elapsed() < LIFETIME / 2
        {
            return Ok(take(minted));
        }
        let token = self.mint_with(principal, audience, now_secs(), LIFETIME)?;
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| TrustError::Invalid("token is not header text".into()))?;
        let minted = Minted { token, bearer, made: Instant::now() };
        if let Ok(mut cache) = self.cache.lock() {
            let for_audience = cache.entry(audience).or_default();
            if for_audience.len() >= MINTED_MAX {
                for_audience.clear();
            }
            for_audience.insert(principal.clone(), minted.clone());
        }
        Ok(take(&minted))
    }

    /// A fresh token issued at `iat` (seconds since the epoch) for `lifetime`; tests use it to
    /// make expired ones.
    pub fn mint_with(
        &self,
        principal: &Principal,
        audience: Part,
        iat: u64,
        lifetime: Duration,
    ) -> Result<String, TrustError> {
        let (sub, org) = match principal {
            Principal::System { id, udbyder } => (id.clone(), Some(udbyder.clone())),
            Principal::Person { id, organisation } => (id.clone(), Some(organisation.clone())),
            Principal::Operator { id } => (id.clone(), None),
            Principal::Service(name) => (name.clone(), None),
            Principal::Consumer(_) => {
                return Err(TrustError::Invalid("a consumer is named by its certificate, not a token".into()));
            }
        };
        let claims = Claims {
            iss: self.part.name().to_owned(),
            sub,
            aud: audience.name().to_owned(),
            iat,
            exp: iat + lifetime.as_secs(),
            kind: principal.kind().to_owned(),
            org,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.part.name().to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| TrustError::Generate(e.to_string()))
    }
}

/// Checks tokens addressed to one service against the public keys of every part. A token that
/// passed is remembered until it expires: minters reuse a token for half its life, so a busy
/// caller's calls cost a map lookup, not a signature check each.
pub struct Verifier {
    audience: Part,
    keys: HashMap<Part, DecodingKey>,
    verified: Mutex<HashMap<Box<str>, (Principal, Part, u64)>>,
}

/// Verified tokens remembered at most; the map starts afresh when full.
const VERIFIED_MAX: usize = 10_000;

impl Verifier {
    /// The public token keys of all parts in the PKI directory; parts without a key file cannot
    /// issue tokens here.
    pub fn load(pki: &PkiDir, audience: Part) -> Result<Self, TrustError> {
        install_provider();
        let mut keys = HashMap::new();
        for part in Part::ALL {
            let path = pki.token_pub(part);
            if path.exists() {
                keys.insert(part, DecodingKey::from_ed_der(&unb64(&path)?));
            }
        }
        Ok(Verifier { audience, keys, verified: Mutex::new(HashMap::new()) })
    }

    /// The principal a token names, with the part that issued it.
    pub fn verify(&self, token: &str) -> Result<(Principal, Part), TokenError> {
        if let Ok(verified) = self.verified.lock()
            && let Some((principal, issuer, exp)) = verified.get(token)
        {
            if now_secs() > exp + LEEWAY_SECS {
                return Err(TokenError::Expired);
            }
            return Ok((principal.clone(), *issuer));
        }
        let (principal, issuer, exp) = self.check(token)?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
            verified.insert(token.into(), (principal.clone(), issuer, exp));
        }
        Ok((principal, issuer))
    }

    /// The full check of a token not seen before.
    fn check(&self, token: &str) -> Result<(Principal, Part, u64), TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Signature);
        }
        let issuer = header.kid.as_deref().and_then(Part::from_name).ok_or(TokenError::Issuer)?;
        let key = self.keys.get(&issuer).ok_or(TokenError::Issuer)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[self.audience.name()]);
        validation.set_issuer(&[issuer.name()]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => TokenError::Signature,
            _ => TokenError::Malformed,
        })?;
        let c = data.claims;
        // A token that claims a long life was not made by our minters.
        if c.exp.saturating_sub(c.iat) > LIFETIME.as_secs() {
            return Err(TokenError::Expired);
        }
        let principal = match (c.kind.as_str(), issuer, c.org) {
            ("system", Part::Gateway, Some(udbyder)) => Principal::System { id: c.sub, udbyder },
            ("person", Part::Portal, Some(organisation)) => Principal::Person { id: c.sub, organisation },
            ("operator", Part::Admin, None) => Principal::Operator { id: c.sub },
            ("service", part, None) if c.sub == part.name() => Principal::Service(c.sub),
            _ => return Err(TokenError::Issuer),
        };
        Ok((principal, issuer, c.exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki() -> (PkiDir, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "dtr-token-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let pki = PkiDir::new(&dir);
        pki.init().unwrap();
        (pki, dir)
    }

    #[test]
    fn tokens_are_checked_for_signature_audience_expiry_and_issuer() {
        let (pki, dir) = pki();
        let gateway = Minter::load(&pki, Part::Gateway).unwrap();
        let import = Verifier::load(&pki, Part::Import).unwrap();
        let system = Principal::System { id: "sys-1".into(), udbyder: "UDB1".into() };

        let token = gateway.token(&system, Part::Import).unwrap();
        assert_eq!(import.verify(&token), Ok((system.clone(), Part::Gateway)));
        assert_eq!(import.verify(&token), Ok((system.clone(), Part::Gateway)), "remembered");
        assert_eq!(gateway.token(&system, Part::Import).unwrap(), token, "reused within half its life");

        let for_export = gateway.token(&system, Part::Export).unwrap();
        assert_eq!(import.verify(&for_export), Err(TokenError::Audience));

        let old = gateway.mint_with(&system, Part::Import, now_secs() - 600, LIFETIME).unwrap();
        assert_eq!(import.verify(&old), Err(TokenError::Expired));

        let long = gateway.mint_with(&system, Part::Import, now_secs(), Duration::from_secs(86_400)).unwrap();
        assert_eq!(import.verify(&long), Err(TokenError::Expired));

        let forged = Minter::ephemeral(Part::Gateway).token(&system, Part::Import).unwrap();
        assert_eq!(import.verify(&forged), Err(TokenError::Signature));

        // The gateway may not vouch for the operator, nor a part for another part.
        let operator = gateway.token(&Principal::Operator { id: "x".into() }, Part::Import).unwrap();
        assert_eq!(import.verify(&operator), Err(TokenError::Issuer));
        let other = gateway.token(&Principal::Service("import".into()), Part::Import).unwrap();
        assert_eq!(import.verify(&other), Err(TokenError::Issuer));

        let admin = Minter::load(&pki, Part::Admin).unwrap();
        let op = Principal::Operator { id: "drift".into() };
        assert_eq!(import.verify(&admin.token(&op, Part::Import).unwrap()), Ok((op, Part::Admin)));

        // A token with its payload changed keeps the old signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"gateway","sub":"sys-1","aud":"import","iat":1,"exp":99999999999,"kind":"operator"}"#);
        parts[1] = &evil;
        assert!(import.verify(&parts.join(".")).is_err());
        assert_eq!(import.verify("not.a.token"), Err(TokenError::Malformed));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
