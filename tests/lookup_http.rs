//! The DAR and CVR HTTP clients against a local fake of the public services.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dtr_registry::lookup::http::{CvrClient, DawaClient};
use dtr_registry::lookup::{Cvr, Dar, LookupError};
use dtr_registry::model::Adresse;

fn mini(id: &str, husnr: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "status": 1, "vejnavn": "Amagerbrogade", "husnr": husnr, "etage": null, "dør": null,
        "supplerendebynavn": null, "postnr": "2300", "postnrnavn": "København S", "kommunekode": "0101",
        "x": 12.60135, "y": 55.6648
    })
}

fn json(v: serde_json::Value) -> axum::response::Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

async fn fake() -> String {
    let app = Router::new()
        .route(
            "/adresser/{id}",
            get(|Path(id): Path<String>| async move {
                match id.as_str() {
                    "kendt" => json(mini("kendt", "10")).into_response(),
                    "langsom" => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        StatusCode::OK.into_response()
                    }
                    "fejl" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            "/adresser",
            get(|Query(q): Query<Vec<(String, String)>>| async move {
                let husnr = q.iter().find(|(k, _)| k == "husnr").map(|(_, v)| v.as_str()).unwrap_or("");
                let list = match husnr {
                    "10" => vec![mini("a-10", "10")],
                    "12" => vec![mini("a-12a", "12"), mini("a-12b", "12")],
                    _ => vec![],
                };
                json(serde_json::Value::Array(list))
            }),
        )
        .route(
            "/cvr-permanent/produktionsenhed/_search",
            post(|body: String| async move {
                let q: serde_json::Value = serde_json::from_str(&body).unwrap();
                let p = q.pointer("/query/term/VrproduktionsEnhed.pNummer").and_then(|v| v.as_u64()).unwrap();
                let hits = match p {
                    1012345678 | 1099999999 => vec![serde_json::json!({"_source": {"VrproduktionsEnhed": {
                        "pNummer": p,
                        "virksomhedsrelation": [
                            {"cvrNummer": 11111111, "periode": {"gyldigFra": "2001-01-01", "gyldigTil": "2009-12-31"}},
                            {"cvrNummer": 64942212, "periode": {"gyldigFra": "2010-01-01", "gyldigTil": null}}
                        ],
                        "livsforloeb": [{"periode": {"gyldigFra": "2001-01-01",
                            "gyldigTil": if p == 1099999999 { serde_json::json!("2020-01-01") } else { serde_json::Value::Null }}}],
                        "produktionsEnhedMetadata": {"nyesteNavn": {"navn": "Dagtilbud Amager"}}
                    }}})],
                    5 => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
                    _ => vec![],
                };
                json(serde_json::json!({"hits": {"total": hits.len(), "hits": hits}})).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn dawa_client_finds_by_id_and_components() {
    let base = fake().await;
    let dar = DawaClient::new(&base, Duration::from_secs(1)).unwrap();
    let by_id = Adresse { dar_adresse_id: Some("kendt".into()), ..Adresse::default() };
    let a = dar.find(&by_id).await.unwrap().expect("found");
    assert_eq!((a.kommune_kode, a.geo_bredde, a.geo_laengde), (101, 55.6648, 12.60135));
    assert_eq!(a.to_adresse().dar_adresse_id.as_deref(), Some("kendt"));
    assert_eq!(dar.find(&Adresse { dar_adresse_id: Some("ukendt".into()), ..Adresse::default() }).await.unwrap(), None);

    let parts = |husnr: &str| Adresse {
        vej_navn: "Amagerbrogade".into(),
        hus_nummer: husnr.into(),
        post_nummer: "2300".into(),
        ..Adresse::default()
    };
    assert_eq!(dar.find(&parts("10")).await.unwrap().unwrap().id, "a-10");
    assert_eq!(dar.find(&parts("12")).await.unwrap(), None, "ambiguous is not found");
    assert_eq!(dar.find(&parts("99")).await.unwrap(), None);
}

#[tokio::test]
async fn dawa_failures_are_retryable_errors() {
    let base = fake().await;
    let dar = DawaClient::new(&base, Duration::from_millis(300)).unwrap();
    for id in ["fejl", "langsom"] {
        let r = dar.find(&Adresse { dar_adresse_id: Some(id.into()), ..Adresse::default() }).await;
        assert!(matches!(r, Err(LookupError::Unavailable { kilde: "DAR", .. })), "{id}: {r:?}");
    }
    // Nothing listening at all.
    let closed = DawaClient::new("http://127.0.0.1:9", Duration::from_millis(300)).unwrap();
    assert!(closed.find(&Adresse { dar_adresse_id: Some("x".into()), ..Adresse::default() }).await.is_err());
}

#[tokio::test]
async fn cvr_client_reads_the_current_company_and_activity() {
    let base = fake().await;
    let cvr = CvrClient::new(&base, Duration::from_secs(1), Some(("bruger".into(), "kode".into()))).unwrap();
    let p = cvr.produktionsenhed("1012345678").await.unwrap().expect("found");
    assert_eq!((p.cvr_nummer.as_str(), p.aktiv, p.navn.as_str()), ("64942212", true, "Dagtilbud Amager"));
    assert!(!cvr.produktionsenhed("1099999999").await.unwrap().unwrap().aktiv, "ended production unit");
    assert_eq!(cvr.produktionsenhed("1000000000").await.unwrap(), None);
    assert!(matches!(cvr.produktionsenhed("5").await, Err(LookupError::Unavailable { kilde: "CVR", .. })));
}
