//! The registry's entries in the service catalogue: its two services, their operations, and
//! which operations need a data-access agreement (docs/tilslutning.md: reading does not, writing
//! does). `dtr migrate` (and `dtr up`) keep the catalogue in step with the gateway's operations;
//! the texts are only a first version, which the operator's own edits (the portal's
//! Servicekatalog) replace for good.

use dtr_gateway::SoapService;
use dtr_tilslutning::TilslutningStore;
use dtr_tilslutning::model::ServiceDef;

/// What a provider reads about each service before asking for it.
fn tekster(service: SoapService) -> (&'static str, &'static str, &'static str) {
    match service {
        SoapService::Import => (
            "Opret, ret, flyt og luk dagtilbud i Dagtilbudsregisteret.",
            "Kommunernes og de private ejeres administrative systemer holder registerets oplysninger om deres dagtilbud ajour.",
            "Daginstitutioner, anvisningsenheder og alternative adresser: navn, adresse, CVR- og P-nummer, ejerform, institutionstype, kontaktoplysninger og status.",
        ),
        SoapService::Export => (
            "Læs Dagtilbudsregisterets dagtilbud, opslag og kodetabeller.",
            "Unilogin, Aula, portaler og andre systemer bruger registerets oplysninger om dagtilbud.",
            "Alle offentliggjorte oplysninger om dagtilbud, deres ændringer og registerets kodetabeller.",
        ),
    }
}

/// The operations of each service and whether they need a data-access agreement, as the
/// gateway's operation types define them.
pub fn services() -> Vec<ServiceDef> {
    SoapService::ALL
        .into_iter()
        .map(|service| ServiceDef {
            servicekode: service.name().to_owned(),
            navn: service.name().to_owned(),
            beskrivelse: tekster(service).0.to_owned(),
            formaal: tekster(service).1.to_owned(),
            data: tekster(service).2.to_owned(),
            operationer: service.operations().map(|op| (op.name().to_owned(), op.needs_data_agreement())).collect(),
            versioner: vec!["v1".into(), "v2".into()],
        })
        .collect()
}

/// Writes the registry's services into the catalogue (idempotent): the operations always follow
/// the gateway; a service's texts are written only while the catalogue has none of its own.
pub async fn seed(store: &dyn TilslutningStore) -> anyhow::Result<()> {
    let kendte = store.list_services().await?;
    for mut s in services() {
        if let Some(k) = kendte.iter().find(|k| k.servicekode == s.servicekode && !k.formaal.is_empty()) {
            (s.navn, s.beskrivelse, s.formaal, s.data) =
                (k.navn.clone(), k.beskrivelse.clone(), k.formaal.clone(), k.data.clone());
        }
        store.upsert_service(&s).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The catalogue lists exactly the gateway's operations.
    #[test]
    fn catalogue_matches_the_gateway() {
        let services = super::services();
        assert_eq!(services[0].servicekode, dtr_gateway::SoapService::Import.name());
        assert_eq!(services[0].operationer.len(), dtr_gateway::ImportOperation::ALL.len());
        assert_eq!(services[1].operationer.len(), dtr_gateway::ExportOperation::ALL.len());
        assert!(services[1].operationer.iter().all(|(_, needs)| !needs), "reads need no data-access agreement");
        let import_needs: Vec<&str> =
            services[0].operationer.iter().filter(|(_, needs)| !needs).map(|(op, _)| op.as_str()).collect();
        use dtr_gateway::ImportOperation as Op;
        let free = [Op::HelloWorld, Op::GetXmlSchema, Op::ValidateXmlAgainstSchema].map(Op::name);
        assert_eq!(import_needs, free);
    }
}
