//! The periodic registry check's findings for an owner (rule 13), shown to the owner's
//! data-access administrators (docs/portal.md): a kommune sees those of the units it administers,
//! a private owner those of its own. The mail that tells of them links here.

use askama::Template;
use axum::extract::State;
use http::{HeaderMap, StatusCode};

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::export::{Registerfund, RegisterfundRequest};
use dtr_proto::tilslutning as pb;

use crate::PortalState;
use crate::flows::{Side, acting, failed, status_of};
use crate::pages::{Hoved, forklaring, hoved, html};

#[derive(Template)]
#[template(path = "registerfund.html")]
struct FundSide {
    hoved: Option<Hoved>,
    organisation: String,
    /// (run, when) of the newest check, if one has run.
    koersel: Option<(i64, String)>,
    fund: Vec<Registerfund>,
}

pub async fn registerfund(State(st): State<PortalState>, headers: HeaderMap) -> Side {
    let (s, kode, ctx) = acting(&st, &headers)?;
    let er_admin =
        s.person.as_ref().is_some_and(|p| p.roller_for(&kode).contains(&pb::Rolle::Dataadgangsadministrator));
    if !er_admin {
        return Ok(failed(&s, StatusCode::FORBIDDEN, "Registerfund vises for dataejerens dataadgangsadministratorer."));
    }
    let org =
        match st.tilslutning().get_organisation(ctx.request(pb::GetOrganisationRequest { kode: kode.clone() })).await {
            Ok(o) => o.into_inner(),
            Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
        };
    let req = match org.r#type() {
        pb::OrganisationType::Kommune => {
            RegisterfundRequest { kommune_kode: kode.parse().unwrap_or_default(), cvr_nummer: String::new() }
        }
        pb::OrganisationType::PrivatEjer if !org.cvr.is_empty() => {
            RegisterfundRequest { kommune_kode: 0, cvr_nummer: org.cvr.clone() }
        }
        _ => {
            let fejl = "Registerkontrollens fund vises for kommuner og private ejere.";
            return Ok(failed(&s, StatusCode::NOT_FOUND, fejl));
        }
    };
    // The export service answers the portal itself; the person's right to see was checked above.
    let svar = st.export().get_registerfund(CallerContext::new(Principal::Service("portal".into())).request(req)).await;
    let svar = match svar {
        Ok(r) => r.into_inner(),
        Err(e) => return Ok(failed(&s, status_of(&e), &forklaring(&e))),
    };
    let koersel = (svar.koersel_id != 0).then(|| {
        let naar = svar
            .afsluttet
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        (svar.koersel_id, naar)
    });
    let side = FundSide { hoved: hoved(&s), organisation: org.navn, koersel, fund: svar.fund };
    Ok(html(StatusCode::OK, &side))
}
