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
