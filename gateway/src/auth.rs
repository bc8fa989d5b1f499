//! HTTP Basic Authentication of calling systems, checked by the tilslutning service.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning::AuthenticateRequest;

use crate::Clients;
use crate::decisions::DecisionCache;
use crate::lockout::{Lockout, Standing};

/// An authenticated calling system.
#[derive(Debug, Clone)]
pub struct System {
    pub id: String,
    pub udbyder_kode: String,
}

#[derive(Debug)]
pub enum AuthError {
    /// No credentials, malformed ones, or wrong ones: all answered 401 alike.
    Denied,
    /// Too many failed logins of this username from this address: try again after the duration.
    LockedOut(Duration),
    /// The tilslutning service could not answer.
    Backend(tonic::Status),
}

/// Username and password from an `Authorization: Basic …` header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// Who is calling and from where.
pub struct Caller<'a> {
    pub headers: &'a HeaderMap,
    pub ip: Option<IpAddr>,
    pub correlation_id: &'a str,
}

/// Checks the caller's credentials: a remembered success costs nothing; otherwise the lock-out
/// is consulted, then the tilslutning service.
pub async fn authenticate(
    clients: &Clients,
    cache: &DecisionCache,
    lockout: &Lockout,
    caller: &Caller<'_>,
) -> Result<System, AuthError> {
    let (brugernavn, adgangskode) = basic_credentials(caller.headers).ok_or(AuthError::Denied)?;
    // A remembered login passes without a lock-out read (a Redis round trip): it was remembered
    // only after the lock-out let it through, and the lock-out of any pair drops every
    // remembered login — here before the locking request is answered, in other gateways as the
    // message reaches them. So a locked pair never passes on a remembered success.
    let key = cache.login_key(&brugernavn, &adgangskode);
    if let Some(system) = cache.login(&key) {
        tracing::debug!("login from the decision cache");
        return Ok(system);
    }
    // Callers with the same credentials wait for one check, then find its answer remembered
    // (only while answers can be remembered: otherwise they would wait for nothing).
    let _turn = match cache.is_subscribed() {
        true => Some(cache.login_turn(&key).await),
        false => None,
    };
    if let Some(system) = cache.login(&key) {
        return Ok(system);
    }
    // Before the lock-out is read: a lock-out announced after the read makes the answer
    // unfit to remember.
    let ticket = cache.ticket();
    let failures = match lockout.standing(&brugernavn, caller.ip).await {
        Standing::Locked(left) => return Err(AuthError::LockedOut(left)),
        Standing::Open { failures } => failures,
    };
    let user = brugernavn.clone();
    // The gateway asks for itself: the system is not known until the answer.
    let mut ctx = CallerContext::new(Principal::Service("gateway".into()));
    caller.correlation_id.clone_into(&mut ctx.correlation_id);
    let req = clients.request(&ctx, AuthenticateRequest { brugernavn, adgangskode });
    let answer = clients.tilslutning().authenticate(req).await.map_err(AuthError::Backend)?.into_inner();
    if answer.ok {
        let system = System { id: answer.udbydersystem_id, udbyder_kode: answer.udbyder_kode };
        let valid_for = answer.gyldig_til.map(|t| {
            let left = t.seconds.saturating_sub(chrono::Utc::now().timestamp());
            Duration::from_secs(u64::try_from(left).unwrap_or(0))
        });
        cache.put_login(ticket, key, &system, valid_for);
        if failures > 0 {
            lockout.succeeded(&user, caller.ip).await;
        }
        Ok(system)
    } else {
        if lockout.failed(&user, caller.ip).await {
            cache.lockout_announced().await;
        }
        Err(AuthError::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_header() {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, "Basic dXNlcjpwYTpzcw==".parse().unwrap());
        assert_eq!(basic_credentials(&h), Some(("user".into(), "pa:ss".into())));
        h.insert(http::header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
        h.insert(http::header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
    }
}
