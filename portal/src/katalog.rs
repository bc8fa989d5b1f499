//! The operator's service catalogue (docs/portal.md, "Roles"): every service with its purpose,
//! the data it carries and its operations — which of them need a data-access agreement — and a
//! form to describe a new service or change one. The tilslutning service checks and stores it;
//! the access decision reads the operations' rule at once.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use dtr_proto::context::CallerContext;
use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::flows::{Side, acting, done_at, failed, posted, status_of};
use crate::pages::{Formular, Hoved, forklaring, hoved, html};
use crate::session::Session;

struct ServiceRaekke {
    kode: String,
    navn: String,
    beskrivelse: String,
    formaal: String,
    data: String,
    /// The operations, each with whether it needs a data-access agreement.
    med_aftale: Vec<String>,
    uden_aftale: Vec<String>,
    versioner: String,
}

#[derive(Template)]
#[template(path = "servicekatalog.html")]
struct Katalog<'a> {
    hoved: Option<Hoved>,
    csrf: &'a str,
    services: Vec<ServiceRaekke>,
    besked: Option<String>,
    fejl: Option<String>,
}

async fn katalog_side(st: &PortalState, s: &Session, ctx: &CallerContext, besked: Option<String>) -> Response {
    let services = match st.tilslutning().list_services(ctx.request(pb::ListServicesRequest::default())).await {
        Ok(r) => r.into_inner().services,
        Err(e) => return failed(s, status_of(&e), &forklaring(&e)),
    };
    let services = services
        .into_iter()
        .map(|x| {
            let (med, uden): (Vec<_>, Vec<_>) = x.operationer.into_iter().partition(|o| o.kraever_dataaftale);
            ServiceRaekke {
                kode: x.servicekode,
                navn: x.service_navn,
                beskrivelse: x.beskrivelse,
                formaal: x.formaal,
                data: x.data,
                med_aftale: med.into_iter().map(|o| o.navn).collect(),
                uden_aftale: uden.into_iter().map(|o| o.navn).collect(),
                versioner: x.versioner.join(", "),
            }
        })
        .collect();
    html(StatusCode::OK, &Katalog { hoved: hoved(s), csrf: &s.csrf, services, besked, fejl: None })
}

pub async fn katalog(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (mut s, _, ctx) = acting(&st, &headers)?;
    let besked = st.sessions.take_besked(&mut s);
    Ok(katalog_side(&st, &s, &ctx, besked).await)
}

#[derive(Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    servicekode: String,
    #[serde(default)]
    navn: String,
    #[serde(default)]
    beskrivelse: String,
    #[serde(default)]
    formaal: String,
    #[serde(default)]
    data: String,
    /// One operation per line.
    #[serde(default)]
    med_aftale: String,
    #[serde(default)]
    uden_aftale: String,
    /// Comma- or space-separated.
    #[serde(default)]
    versioner: String,
}

/// The operations of two text fields, one per line, each with whether it needs an agreement.
pub(crate) fn operationer(med_aftale: &str, uden_aftale: &str) -> Vec<pb::Operation> {
    let linjer = |t: &str, kraever: bool| {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|navn| pb::Operation { navn: navn.to_owned(), kraever_dataaftale: kraever })
            .collect::<Vec<_>>()
    };
    let mut ops = linjer(med_aftale, true);
    ops.extend(linjer(uden_aftale, false));
    ops
}

pub async fn gem(State(st): State<PortalState>, headers: HeaderMap, Formular(f): Formular<ServiceForm>) -> Side {
    let (s, _, ctx) = posted(&st, &headers, &f.csrf)?;
    let service = pb::Service {
        servicekode: f.servicekode.trim().to_owned(),
        service_navn: f.navn.trim().to_owned(),
        beskrivelse: f.beskrivelse.trim().to_owned(),
        formaal: f.formaal.trim().to_owned(),
        data: f.data.trim().to_owned(),
        operationer: operationer(&f.med_aftale, &f.uden_aftale),
        versioner: f.versioner.split([',', ' ']).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect(),
    };
    Ok(match st.tilslutning().upsert_service(ctx.request(service)).await {
        Ok(x) => {
            let x = x.into_inner();
            done_at(&st, s, format!("{} er gemt i servicekataloget.", x.servicekode), "/servicekatalog")
        }
        Err(e) => failed(&s, status_of(&e), &forklaring(&e)),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn operations_one_per_line_with_their_rule() {
        let ops = super::operationer("Insert\r\n\n  Update \n", "HelloWorld\n");
        let got: Vec<(&str, bool)> = ops.iter().map(|o| (o.navn.as_str(), o.kraever_dataaftale)).collect();
        assert_eq!(got, [("Insert", true), ("Update", true), ("HelloWorld", false)]);
    }
}
