//! Hands the periodic registry check's findings to the tilslutning service, which mails each
//! owner (its kommune, and a private owner known by CVR) once per run. Retried a few times, since
//! the tilslutning service may be starting; the run and its findings stay stored either way.

use std::time::Duration;

use anyhow::Context;
use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{Ejer, MeldRegisterfundRequest, OrganisationType, Registerfund};
use dtr_registry::revalidation::RevalidationReport;
use dtr_trust::{Part, PartCredentials};

const ATTEMPTS: u32 = 5;

fn request(report: &RevalidationReport) -> MeldRegisterfundRequest {
    let mut fund = Vec::with_capacity(report.fund.len());
    for f in &report.fund {
        let mut ejere = vec![Ejer { r#type: OrganisationType::Kommune as i32, kode: f.adm_kommune_kode.to_string() }];
        if let Some(cvr) = &f.ejer_cvr_nummer {
            ejere.push(Ejer { r#type: OrganisationType::PrivatEjer as i32, kode: cvr.clone() });
        }
        for ejer in ejere {
            fund.push(Registerfund {
                ejer: Some(ejer),
                enhedstype: f.enhedstype.as_str().to_owned(),
                nummer: f.nummer.clone(),
                kode: f.kode.clone(),
                besked: f.besked.clone(),
            });
        }
    }
    MeldRegisterfundRequest { koersel_id: report.koersel_id, fund }
}

/// The number of owners newly mailed. The call is made as whoever `credentials` name: the
/// import service itself, or the operator (`dtr revalidate`).
pub async fn hand_over(
    credentials: &PartCredentials,
    caller: &Principal,
    tilslutning_url: &str,
    report: &RevalidationReport,
) -> anyhow::Result<usize> {
    if report.fund.is_empty() {
        return Ok(0);
    }
    let req = request(report);
    let mut wait = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        let sent = async {
            let channel = credentials.connect(tilslutning_url, Part::Tilslutning).await?;
            let answer = TilslutningServiceClient::new(channel)
                .meld_registerfund(CallerContext::new(caller.clone()).request(req.clone()))
                .await?;
            anyhow::Ok(answer.into_inner().ejere_meldt)
        };
        match sent.await {
            Ok(n) => return Ok(usize::try_from(n).unwrap_or(0)),
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "could not hand the registry check's findings over; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e).context("handing the findings to the tilslutning service"),
        }
    }
}
