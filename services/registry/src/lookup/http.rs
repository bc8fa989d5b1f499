//! HTTP clients for the public services, with configurable base URLs and timeouts.
//!
//! - Addresses: DAWA/DAR's address lookup, `GET {base}/adresser/{id}?struktur=mini` and
//!   `GET {base}/adresser?vejnavn=…&husnr=…&postnr=…[&etage=…&dør=…]&struktur=mini`.
//! - Production units: the CVR distribution API's search,
//!   `POST {base}/cvr-permanent/produktionsenhed/_search` with a term query on
//!   `VrproduktionsEnhed.pNummer` (Basic credentials when configured).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::{Cvr, Dar, DarAdresse, LookupError, Produktionsenhed};
use crate::model::Adresse;

fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // HTTPS through rustls on ring, as everywhere in the project (a no-op once installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()
}

fn unavailable(kilde: &'static str, e: impl std::fmt::Display) -> LookupError {
    LookupError::Unavailable { kilde, aarsag: e.to_string() }
}

pub struct DawaClient {
    http: reqwest::Client,
    base: String,
}

impl DawaClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(DawaClient { http: client(timeout)?, base: base.trim_end_matches('/').to_owned() })
    }
}

/// One address in DAWA's `mini` structure.
fn parse_mini(v: &Value) -> Option<DarAdresse> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let kommune = s("kommunekode")?.trim_start_matches('0').parse().ok()?;
    Some(DarAdresse {
        id: s("id")?,
        vej_navn: s("vejnavn")?,
        hus_nummer: s("husnr")?,
        etage: s("etage"),
        doer: s("dør"),
        post_nummer: s("postnr")?,
        post_distrikt: s("postnrnavn")?,
        supplerende_bynavn: s("supplerendebynavn"),
        kommune_kode: kommune,
        // DAWA: x = longitude, y = latitude (WGS84).
        geo_bredde: v.get("y")?.as_f64()?,
        geo_laengde: v.get("x")?.as_f64()?,
    })
}

#[async_trait]
impl Dar for DawaClient {
    async fn find(&self, a: &Adresse) -> Result<Option<DarAdresse>, LookupError> {
        let req = match a.dar_adresse_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => self.http.get(format!("{}/adresser/{id}", self.base)).query(&[("struktur", "mini")]),
            None => {
                let mut q = vec![
                    ("vejnavn", a.vej_navn.trim()),
                    ("husnr", a.hus_nummer.trim()),
                    ("postnr", a.post_nummer.trim()),
                    ("struktur", "mini"),
                ];
                if let Some(e) = a.etage.as_deref() {
                    q.push(("etage", e));
                }
                if let Some(d) = a.doer.as_deref() {
                    q.push(("dør", d));
                }
                self.http.get(format!("{}/adresser", self.base)).query(&q)
            }
        };
        let resp = req.send().await.map_err(|e| unavailable("DAR", e))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(unavailable("DAR", format!("HTTP {}", resp.status())));
        }
        let body: Value = serde_json::from_slice(&resp.bytes().await.map_err(|e| unavailable("DAR", e))?)
            .map_err(|e| unavailable("DAR", e))?;
        match body {
            // A search: exactly one match identifies the address; several mean it is ambiguous.
            Value::Array(list) if list.len() == 1 => Ok(parse_mini(&list[0])),
            Value::Array(_) => Ok(None),
            v => Ok(parse_mini(&v)),
        }
    }
}

pub struct CvrClient {
    http: reqwest::Client,
    base: String,
    credentials: Option<(String, String)>,
}

impl CvrClient {
    pub fn new(base: &str, timeout: Duration, credentials: Option<(String, String)>) -> Result<Self, reqwest::Error> {
        Ok(CvrClient { http: client(timeout)?, base: base.trim_end_matches('/').to_owned(), credentials })
    }
}

/// The production unit in a CVR search answer, if any.
fn parse_produktionsenhed(body: &Value, p_nummer: &str) -> Option<Produktionsenhed> {
    let unit = body.pointer("/hits/hits/0/_source/VrproduktionsEnhed")?;
    let open = |periode: &Value| periode.pointer("/periode/gyldigTil").is_none_or(Value::is_null);
    let relations = unit.get("virksomhedsrelation")?.as_array()?;
    let cvr = relations.iter().find(|r| open(r)).or_else(|| relations.last())?.get("cvrNummer")?;
    let cvr = cvr.as_u64().map(|n| format!("{n:08}")).or_else(|| cvr.as_str().map(str::to_owned))?;
    let aktiv = unit.get("livsforloeb").and_then(Value::as_array).is_some_and(|l| l.iter().any(open));
    let navn = unit.pointer("/produktionsEnhedMetadata/nyesteNavn/navn").and_then(Value::as_str).unwrap_or_default();
    Some(Produktionsenhed { p_nummer: p_nummer.to_owned(), cvr_nummer: cvr, navn: navn.to_owned(), aktiv })
}

#[async_trait]
impl Cvr for CvrClient {
    async fn produktionsenhed(&self, p_nummer: &str) -> Result<Option<Produktionsenhed>, LookupError> {
        let Ok(number) = p_nummer.trim().parse::<u64>() else {
            return Ok(None);
        };
        let query = serde_json::json!({ "query": { "term": { "VrproduktionsEnhed.pNummer": number } }, "size": 1 });
        let mut req = self
            .http
            .post(format!("{}/cvr-permanent/produktionsenhed/_search", self.base))
            .header("Content-Type", "application/json")
            .body(query.to_string());
        if let Some((user, password)) = &self.credentials {
            req = req.basic_auth(user, Some(password));
        }
        let resp = req.send().await.map_err(|e| unavailable("CVR", e))?;
        if !resp.status().is_success() {
            return Err(unavailable("CVR", format!("HTTP {}", resp.status())));
        }
        let body: Value = serde_json::from_slice(&resp.bytes().await.map_err(|e| unavailable("CVR", e))?)
            .map_err(|e| unavailable("CVR", e))?;
        Ok(parse_produktionsenhed(&body, p_nummer.trim()))
    }
}
