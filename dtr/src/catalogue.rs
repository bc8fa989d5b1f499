//! The registry's entries in the service catalogue: its two services, their operations, and
//! which operations need a data-access agreement (tilslutning.md: reading does not, writing
//! does). `dtr migrate` (and `dtr up`) keep the catalogue in step with the gateway's operations.

use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::model::ServiceDef;

/// The operations of each service and whether they need a data-access agreement.
pub fn services() -> Vec<ServiceDef> {
    let def = |kode: &str, navn: &str, ops: &[&str], needs: fn(&str) -> bool| ServiceDef {
        servicekode: kode.to_owned(),
        navn: navn.to_owned(),
        beskrivelse: format!("Dagtilbudsregisteret {navn}"),
        operationer: ops.iter().map(|o| ((*o).to_owned(), needs(o))).collect(),
        versioner: vec!["v1".into(), "v2".into()],
    };
    vec![
        def("ImportService", "ImportService", dtr_gateway::ops::import::OPERATIONS, |o| {
            !matches!(o, "HelloWorld" | "GetXMLSchema" | "ValidateXmlAgainstSchema")
        }),
        def("ExportService", "ExportService", dtr_gateway::ops::export::OPERATIONS, |_| false),
    ]
}

/// Writes the registry's services into the catalogue (idempotent).
pub async fn seed(store: &dyn TilslutningStore) -> anyhow::Result<()> {
    for s in services() {
        store.upsert_service(&s).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every refusal the tilslutning service can give is one the gateway shows as such.
    #[test]
    fn gateway_knows_every_refusal_code() {
        use dtr_tilslutning::adgang::*;
        for code in [
            SYSTEM_PASSIV,
            SYSTEM_BLOKERET,
            INGEN_TILSLUTNING,
            TILSLUTNING_VENTER,
            TILSLUTNING_AFVIST,
            INGEN_DATAAFTALE,
            UKENDT_OPERATION,
            UDTRAEK_OPBRUGT,
        ] {
            assert!(dtr_gateway::error::codes::REFUSALS.contains(&code), "{code}");
        }
    }

    /// The catalogue lists exactly the gateway's operations.
    #[test]
    fn catalogue_matches_the_gateway() {
        let services = super::services();
        assert_eq!(services[0].operationer.len(), dtr_gateway::ops::import::OPERATIONS.len());
        assert_eq!(services[1].operationer.len(), dtr_gateway::ops::export::OPERATIONS.len());
        assert!(services[1].operationer.iter().all(|(_, needs)| !needs), "reads need no data-access agreement");
    }
}
