//! The tilslutning service follows the register: every anvisningsenhed becomes an organisation of
//! type DAGTILBUD there (its number the kode; name, CVR and P-number kept in step; passive once
//! closed), so its data access can be administered in the portal — registration with CVR/P-number
//! is exactly the precondition for that in the real register. It tails the export service's
//! change sequence from where it last got to (stored with the organisations, in one transaction),
//! so it catches up after any outage and never misses a change.

use std::sync::Arc;
use std::time::Duration;

use dtr_proto::context::CallerContext;
use dtr_proto::export::AendringerRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::registry::{Aendring, Aktivitetsstatus, aendring::Tilstand};
use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::model::DagtilbudOrganisation;
use dtr_trust::{Part, PartCredentials};

/// Changes asked for at a time.
const SIDE: i32 = 500;
/// How long to wait when there is nothing new, and after a failure.
const HVILE: Duration = Duration::from_secs(2);
const EFTER_FEJL: Duration = Duration::from_secs(10);

/// The organisations a page of changes leaves behind: the last state of each anvisningsenhed.
fn organisationer(aendringer: &[Aendring]) -> Vec<DagtilbudOrganisation> {
    let mut out: Vec<DagtilbudOrganisation> = Vec::new();
    for a in aendringer {
        let Some(Tilstand::Anvisningsenhed(e)) = &a.tilstand else { continue };
        let Some(enhed) = &e.anvisningsenhed else { continue };
        let aktiv = e.register.as_ref().is_none_or(|r| r.aktivitetsstatus() != Aktivitetsstatus::Nedlagt);
        let org = DagtilbudOrganisation {
            kode: enhed.enheds_nummer.clone(),
            navn: enhed.enheds_navn.clone(),
            cvr: enhed.cvr_nummer.clone().unwrap_or_default(),
            pnr: enhed.p_nummer.clone(),
            aktiv,
        };
        match out.iter_mut().find(|o| o.kode == org.kode) {
            Some(o) => *o = org,
            None => out.push(org),
        }
    }
    out
}

/// Follows the register for as long as the service runs.
pub async fn foelg(store: Arc<dyn TilslutningStore>, export_url: String, credentials: PartCredentials) {
    let client = match credentials.endpoint(&export_url, Part::Export) {
        Ok(e) => ExportServiceClient::new(credentials.signed(e.connect_lazy(), Part::Export)),
        Err(e) => {
            tracing::error!(error = %e, "cannot follow the register: the export service's address");
            return;
        }
    };
    let ctx = CallerContext::new(credentials.own_principal());
    loop {
        let hvile = match skridt(&store, client.clone(), &ctx).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => HVILE,
            Err(e) => {
                tracing::warn!(error = %e, "following the register failed; trying again");
                EFTER_FEJL
            }
        };
        tokio::time::sleep(hvile).await;
    }
}

/// One page of changes applied; whether there are more at once.
async fn skridt(
    store: &Arc<dyn TilslutningStore>,
    mut client: ExportServiceClient<dtr_trust::SignedChannel>,
    ctx: &CallerContext,
) -> anyhow::Result<bool> {
    let fra = store.registerfoelger().await?;
    let side = client
        .get_aendringer_siden(ctx.request(AendringerRequest { sekvensnummer: fra, max_antal: SIDE }))
        .await?
        .into_inner();
    if side.naeste_sekvensnummer == fra {
        return Ok(false);
    }
    let enheder = organisationer(&side.aendringer);
    store.foelg_register(&enheder, side.naeste_sekvensnummer).await?;
    if !enheder.is_empty() {
        tracing::debug!(antal = enheder.len(), til = side.naeste_sekvensnummer, "register followed");
    }
    Ok(side.flere)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dtr_proto::registry::{Anvisningsenhed, AnvisningsenhedExtend, Registerfelter};

    fn aendring(nummer: &str, navn: &str, status: Aktivitetsstatus) -> Aendring {
        let e = AnvisningsenhedExtend {
            anvisningsenhed: Some(Anvisningsenhed {
                enheds_nummer: nummer.into(),
                enheds_navn: navn.into(),
                p_nummer: "1012345678".into(),
                cvr_nummer: Some("64942212".into()),
                ..Default::default()
            }),
            register: Some(Registerfelter { aktivitetsstatus: status as i32, ..Default::default() }),
            ..Default::default()
        };
        Aendring { tilstand: Some(Tilstand::Anvisningsenhed(e)), ..Default::default() }
    }

    #[test]
    fn the_last_state_of_each_unit_counts() {
        let page = [
            aendring("G30001", "Før", Aktivitetsstatus::Aktiv),
            aendring("G30002", "Anden", Aktivitetsstatus::Aktiv),
            aendring("G30001", "Efter", Aktivitetsstatus::Nedlagt),
            Aendring::default(),
        ];
        let orgs = organisationer(&page);
        assert_eq!(orgs.len(), 2);
        assert_eq!((orgs[0].navn.as_str(), orgs[0].aktiv, orgs[0].cvr.as_str()), ("Efter", false, "64942212"));
        assert!(orgs[1].aktiv);
    }
}
