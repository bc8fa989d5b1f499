//! Rule 13: the periodic re-validation. DAR, CVR and rule 6 are checked again over every active
//! unit; the findings are stored with the unit's owner (kommune, private owner's CVR) so they
//! can be shown and sent to it. Nothing in the register is changed.

use futures::StreamExt;

use crate::error::{Fejl, FejlKode, RegistryError};
use crate::model::Enhedstype;
use crate::service::{Registry, cvr_answer, dar_answer};
use crate::storage::{AktivEnhed, Fund};

/// Units read per page, and lookups in flight at once.
const PAGE: i64 = 500;
const LOOKUPS_IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct RevalidationReport {
    pub koersel_id: i64,
    pub antal_enheder: i64,
    pub fund: Vec<Fund>,
}

/// The newest run's findings for one owner.
#[derive(Debug, Clone, PartialEq)]
pub struct EjersFund {
    pub koersel_id: i64,
    pub afsluttet: chrono::DateTime<chrono::Utc>,
    pub fund: Vec<Fund>,
}

impl Registry {
    /// The newest run's findings for the units of one owner: a kommune's (as administrative
    /// kommune) or a private owner's (by CVR); `None` when no run has been made.
    pub async fn fund_for_ejer(
        &self,
        kommune: Option<i32>,
        cvr: Option<&str>,
    ) -> Result<Option<EjersFund>, RegistryError> {
        let Some(run) = self.store().latest_revalidation().await? else { return Ok(None) };
        let fund = run
            .fund
            .into_iter()
            .filter(|f| kommune == Some(f.adm_kommune_kode) || (cvr.is_some() && f.ejer_cvr_nummer.as_deref() == cvr))
            .collect();
        Ok(Some(EjersFund { koersel_id: run.id, afsluttet: run.afsluttet, fund }))
    }

    /// Runs one re-validation over the whole register and stores its findings.
    pub async fn revalidate(&self) -> Result<RevalidationReport, RegistryError> {
        self.revalidate_med_fremdrift(&|_| {}).await
    }

    /// The same, telling `fremdrift` of every page of units checked (their number).
    pub async fn revalidate_med_fremdrift(
        &self,
        fremdrift: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<RevalidationReport, RegistryError> {
        let startet = chrono::Utc::now();
        let mut antal = 0i64;
        let mut fund = Vec::new();
        for level in [Enhedstype::Daginstitution, Enhedstype::Anvisningsenhed, Enhedstype::AlternativAdresse] {
            let mut efter = String::new();
            loop {
                let page = self.store().aktive_enheder(level, &efter, PAGE).await?;
                let Some(last) = page.last() else { break };
                efter = last.nummer.clone();
                antal += page.len() as i64;
                let checked: Vec<Vec<Fund>> = futures::stream::iter(page)
                    .map(|e| self.check(e))
                    .buffer_unordered(LOOKUPS_IN_FLIGHT)
                    .collect()
                    .await;
                fremdrift(checked.len() as u64);
                fund.extend(checked.into_iter().flatten());
            }
        }
        fund.sort_by(|a, b| (&a.nummer, &a.kode).cmp(&(&b.nummer, &b.kode)));
        let koersel_id = self.store().save_revalidation(startet, antal, &fund).await?;
        tracing::info!(koersel_id, enheder = antal, fund = fund.len(), "re-validation finished");
        Ok(RevalidationReport { koersel_id, antal_enheder: antal, fund })
    }

    async fn check(&self, e: AktivEnhed) -> Vec<Fund> {
        let mut fejl = Vec::new();
        match (&e.adresse, e.enhedstype) {
            (_, Enhedstype::Daginstitution) => {
                if e.aktive_enheder == 0 {
                    fejl.push(Fejl::new(
                        FejlKode::IngenAktiveEnheder,
                        "daginstitutionsNummer",
                        "Daginstitutionen har ingen aktive anvisningsenheder: opret eller flyt en hertil, eller nedlæg den.",
                    ));
                }
            }
            (Some(adresse), _) => {
                let lookups = self.lookups();
                let cvr = async {
                    match e.p_nummer.as_deref().filter(|p| !p.is_empty()) {
                        Some(p) => Some(lookups.cvr.produktionsenhed(p).await),
                        None => None,
                    }
                };
                let (dar, cvr) = tokio::join!(lookups.dar.find(adresse), cvr);
                dar_answer(dar, &mut fejl);
                if let Some(c) = cvr {
                    cvr_answer(c, &mut fejl);
                }
            }
            (None, _) => {}
        }
        fejl.into_iter()
            .map(|f| Fund {
                enhedstype: e.enhedstype,
                nummer: e.nummer.clone(),
                adm_kommune_kode: e.adm_kommune_kode,
                ejer_cvr_nummer: e.ejer_cvr_nummer.clone(),
                kode: f.kode.code().to_owned(),
                besked: match f.kode {
                    // A source that could not be reached leaves the unit unchecked this time.
                    FejlKode::DarUtilgaengelig | FejlKode::CvrUtilgaengelig => {
                        format!(
                            "{}. Enheden blev ikke kontrolleret i denne kørsel.",
                            f.besked.split(',').next().unwrap_or("")
                        )
                    }
                    _ => f.besked,
                },
            })
            .collect()
    }
}
