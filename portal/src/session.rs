//! Server-side sessions: the browser holds only a random id in a `__Host-` cookie (HttpOnly,
//! Secure, SameSite=Strict); who is logged in, the chosen organisation and the CSRF token live
//! here. A session ends after an idle period, after an absolute lifetime, or at log-out; a login
//! always starts a new one (no fixation).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;

/// The session cookie's name. `__Host-` makes browsers refuse it unless it is Secure, has
/// `Path=/` and no domain.
pub const COOKIE: &str = "__Host-dtr_session";

/// A role a person holds for an organisation, as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolle {
    pub organisation_kode: String,
    pub organisation_navn: String,
    pub rolle: dtr_proto::tilslutning::Rolle,
}

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub navn: String,
    pub roller: Vec<Rolle>,
}

impl Person {
    /// The organisations this person may act for, each once, in order.
    pub fn organisationer(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for r in &self.roller {
            if !out.iter().any(|(k, _)| *k == r.organisation_kode) {
                out.push((&r.organisation_kode, &r.organisation_navn));
            }
        }
        out
    }

    /// The person's roles for one organisation.
    pub fn roller_for(&self, kode: &str) -> Vec<dtr_proto::tilslutning::Rolle> {
        self.roller.iter().filter(|r| r.organisation_kode == kode).map(|r| r.rolle).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    /// Sent with every form and checked on every POST.
    pub csrf: String,
    /// `None` before login: the login form has a CSRF token too.
    pub person: Option<Person>,
    /// The organisation acted for (kode).
    pub valgt: Option<String>,
    /// A confirmation to show once on the next page (after a form's redirect).
    pub besked: Option<String>,
    started: Instant,
    seen: Instant,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison of a submitted CSRF token.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    absolute: Duration,
}

/// Most sessions kept; beyond it the expired ones are dropped, then the oldest.
const MAX_SESSIONS: usize = 100_000;

impl Sessions {
    pub fn new(idle: Duration, absolute: Duration) -> Self {
        Sessions { map: Mutex::new(HashMap::new()), idle, absolute }
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.seen) < self.idle && now.duration_since(s.started) < self.absolute
    }

    /// A new session, anonymous or for `person`.
    pub fn start(&self, person: Option<Person>) -> Session {
        let now = Instant::now();
        let s = Session {
            id: random_token(),
            csrf: random_token(),
            person,
            valgt: None,
            besked: None,
            started: now,
            seen: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.duration_since(s.seen) < self.idle && now.duration_since(s.started) < self.absolute);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.values().min_by_key(|s| s.seen).map(|s| s.id.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(s.id.clone(), s.clone());
        s
    }

    /// The live session with this id (and it counts as seen now); an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let live = map.get(id).map(|s| self.live(s, now))?;
        if !live {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.seen = now;
        Some(s.clone())
    }

    /// Stores a changed session (its chosen organisation, its person's roles).
    pub fn save(&self, s: &Session) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stored) = map.get_mut(&s.id) {
            stored.person = s.person.clone();
            stored.valgt = s.valgt.clone();
            stored.besked = s.besked.clone();
        }
    }

    /// The confirmation waiting for the next page, which is shown once.
    pub fn take_besked(&self, s: &mut Session) -> Option<String> {
        let besked = s.besked.take();
        if besked.is_some() {
            self.save(s);
        }
        besked
    }

    pub fn end(&self, id: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// The `Set-Cookie` value that hands `id` to the browser.
pub fn cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the cookie.
pub fn cookie_removed() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id a request's cookies carry.
pub fn id_from(headers: &http::HeaderMap) -> Option<&str> {
    cookie_value(headers, COOKIE)
}

/// One cookie's value among a request's cookies.
pub fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_too_old() {
        let s = Sessions::new(Duration::from_millis(50), Duration::from_secs(60));
        let a = s.start(None);
        assert!(s.get(&a.id).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(s.get(&a.id).is_none(), "idle");
        let s = Sessions::new(Duration::from_secs(60), Duration::from_millis(50));
        let b = s.start(None);
        std::thread::sleep(Duration::from_millis(30));
        assert!(s.get(&b.id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(s.get(&b.id).is_none(), "absolute, however active");
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(60));
        let (a, b) = (s.start(None), s.start(None));
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, b.csrf);
        assert!(same_token(&a.csrf, &a.csrf.clone()));
        assert!(!same_token(&a.csrf, &b.csrf));
        assert!(!same_token(&a.csrf, ""));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::COOKIE, "a=1; __Host-dtr_session=abc; b=2".parse().unwrap());
        assert_eq!(id_from(&h), Some("abc"));
    }
}
