//! gRPC ImportService: maps requests to the registry's domain operations and answers ImportSvar.
//! Business-rule failures are answered in-band; only infrastructure failures become a status.
//! Operations not implemented here answer UNIMPLEMENTED until the import issue builds them.

use tonic::{Request, Response, Status};

use dtr_proto::context::{self, CallerContext};
use dtr_proto::import::import_service_server::ImportService;
use dtr_proto::import::validate_request::Operation;
use dtr_proto::import::{
    DeleteRequest, GetXmlSchemaRequest, GetXmlSchemaResponse, HelloWorldRequest, HelloWorldResponse,
    InsertDaginstitutionRequest, UpdateDaginstitutionRequest, ValidateRequest,
};
use dtr_proto::registry::Daginstitution as DaginstitutionPb;
use dtr_proto::registry::{Fejl as FejlPb, ImportSvar};
use dtr_registry::model::{Aktoer, DaginstitutionData, Regelsaet};
use dtr_registry::{Registry, RegistryError};

pub struct ImportGrpc {
    registry: Registry,
}

impl ImportGrpc {
    pub fn new(registry: Registry) -> Self {
        ImportGrpc { registry }
    }
}

fn aktoer(ctx: &CallerContext) -> Aktoer {
    Aktoer {
        system: ctx.system.clone(),
        organisation: ctx.organisation.clone(),
        correlation_id: ctx.correlation_id.clone(),
    }
}

fn regelsaet(ctx: &CallerContext) -> Regelsaet {
    match ctx.regelsaet {
        context::Regelsaet::V1 => Regelsaet::V1,
        context::Regelsaet::V2 => Regelsaet::V2,
    }
}

fn daginstitution_data(d: DaginstitutionPb) -> (String, DaginstitutionData) {
    let data = DaginstitutionData {
        navn: d.daginstitutions_navn,
        ejerform_kode: d.ejerform_kode,
        lovgrundlag_kode: d.lovgrundlag_kode,
        adm_kommune_kode: d.adm_kommune_kode,
        ejer_cvr_nummer: d.ejer_cvr_nummer.filter(|s| !s.is_empty()),
    };
    (d.daginstitutions_nummer, data)
}

/// The one mapping from the registry's error to this transport.
fn svar(result: Result<String, RegistryError>, ctx: &CallerContext) -> Result<Response<ImportSvar>, Status> {
    match result {
        Ok(nummer) => Ok(Response::new(ImportSvar { ok: true, nummer, fejl: vec![] })),
        Err(RegistryError::Afvist(fejl)) => Ok(Response::new(ImportSvar {
            ok: false,
            nummer: String::new(),
            fejl: fejl
                .into_iter()
                .map(|f| FejlPb { kode: f.kode.code().to_owned(), felt: f.felt, besked: f.besked })
                .collect(),
        })),
        Err(RegistryError::Storage(e)) => {
            tracing::error!(error = %e, correlation_id = %ctx.correlation_id, "import write failed");
            Err(Status::unavailable("registeret kunne ikke gemme ændringen; prøv igen"))
        }
    }
}

#[tonic::async_trait]
impl ImportService for ImportGrpc {
    async fn hello_world(&self, _: Request<HelloWorldRequest>) -> Result<Response<HelloWorldResponse>, Status> {
        Ok(Response::new(HelloWorldResponse { message: format!("Hello {}", chrono::Utc::now().to_rfc3339()) }))
    }

    /// The payload schema of the caller's interface version.
    async fn get_xml_schema(
        &self,
        request: Request<GetXmlSchemaRequest>,
    ) -> Result<Response<GetXmlSchemaResponse>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let xsd = dtr_proto::xsd::import(dtr_proto::xsd::import_namespace(ctx.regelsaet));
        Ok(Response::new(GetXmlSchemaResponse { xsd }))
    }

    /// Dry run: every check the real write would run, nothing written. Operations whose writes
    /// are not implemented yet answer UNIMPLEMENTED rather than a validation that checks less.
    async fn validate_xml_against_schema(
        &self,
        request: Request<ValidateRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let result = match request.into_inner().operation {
            Some(Operation::InsertDaginstitution(r)) => {
                let (sent, data) = daginstitution_data(r.daginstitution.unwrap_or_default());
                self.registry.check_insert_daginstitution(&sent, &data).await.map(|()| String::new())
            }
            Some(Operation::UpdateDaginstitution(r)) => {
                let (nummer, data) = daginstitution_data(r.daginstitution.unwrap_or_default());
                let nummer = nummer.trim().to_owned();
                let checked = self
                    .registry
                    .check_update_daginstitution(&nummer, &data, r.forventet_version, regelsaet(&ctx))
                    .await;
                checked.map(|()| nummer)
            }
            Some(Operation::DeleteDaginstitution(r)) => {
                let nummer = r.nummer.trim().to_owned();
                self.registry.check_delete_daginstitution(&nummer).await.map(|()| nummer)
            }
            Some(_) => return Err(Status::unimplemented("validation of this operation is not available yet")),
            None => return Err(Status::invalid_argument("ValidateXmlAgainstSchema skal indeholde én operation.")),
        };
        svar(result, &ctx)
    }

    async fn insert_daginstitution(
        &self,
        request: Request<InsertDaginstitutionRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let (sent_nummer, data) = daginstitution_data(request.into_inner().daginstitution.unwrap_or_default());
        let result = self.registry.insert_daginstitution(&sent_nummer, &data, &aktoer(&ctx)).await.map(|d| d.nummer);
        if let Ok(n) = &result {
            tracing::info!(nummer = %n, system = %ctx.system, correlation_id = %ctx.correlation_id, "daginstitution created");
        }
        svar(result, &ctx)
    }

    async fn update_daginstitution(
        &self,
        request: Request<UpdateDaginstitutionRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let req = request.into_inner();
        let (nummer, data) = daginstitution_data(req.daginstitution.unwrap_or_default());
        let result = self
            .registry
            .update_daginstitution(nummer.trim(), &data, req.forventet_version, regelsaet(&ctx), &aktoer(&ctx))
            .await
            .map(|d| d.nummer);
        svar(result, &ctx)
    }

    async fn delete_daginstitution(&self, request: Request<DeleteRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let nummer = request.into_inner().nummer;
        let result = self.registry.delete_daginstitution(nummer.trim(), &aktoer(&ctx)).await.map(|d| d.nummer);
        svar(result, &ctx)
    }
}
