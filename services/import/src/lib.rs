//! gRPC ImportService: maps requests to the registry's domain operations and answers ImportSvar.
//! Business-rule failures are answered in-band; only infrastructure failures become a status.

use tonic::{Request, Response, Status};

use dtr_proto::context::{self, CallerContext};
use dtr_proto::import::import_service_server::ImportService;
use dtr_proto::import::validate_request::Operation;
use dtr_proto::import::{Dataejer as DataejerPb, dataejer};
use dtr_proto::import::{
    DeleteRequest, GetXmlSchemaRequest, GetXmlSchemaResponse, HelloWorldRequest, HelloWorldResponse,
    InsertAlternativAdresseRequest, InsertAnvisningsEnhedRequest, InsertDaginstitutionRequest, MoveRequest,
    ResolveDataejereRequest, ResolveDataejereResponse, SaetKodeRequest, UpdateAlternativAdresseRequest,
    UpdateAnvisningsEnhedRequest, UpdateDaginstitutionRequest, ValidateRequest,
};
use dtr_proto::operation::ImportOperation;
use dtr_proto::registry::{
    Adresse as AdressePb, AlternativAdresse as AlternativAdressePb, Anvisningsenhed as AnvisningsenhedPb,
    Daginstitution as DaginstitutionPb,
};
use dtr_proto::registry::{Fejl as FejlPb, ImportSvar};
use dtr_registry::model::{
    Adresse, Aktoer, AlternativAdresseData, AnvisningsenhedData, DaginstitutionData, MessageId, Regelsaet,
};
use dtr_registry::ownership::{Berort, Dataejer};
use dtr_registry::{Registry, RegistryError};

pub mod policy;

pub struct ImportGrpc {
    registry: Registry,
}

impl ImportGrpc {
    pub fn new(registry: Registry) -> Self {
        ImportGrpc { registry }
    }
}

/// Who asks for a write, and in which published operation (the audit names it); with its retry
/// key, the request's fingerprint.
fn aktoer(ctx: &CallerContext, operation: ImportOperation, request: &impl prost::Message) -> Aktoer {
    Aktoer {
        system: ctx.system(),
        organisation: ctx.organisation().map(str::to_owned),
        correlation_id: ctx.correlation_id.clone(),
        operation: operation.name().to_owned(),
        message_id: ctx.message_id.clone().map(|id| MessageId { id, aftryk: aftryk(request) }),
    }
}

/// A fingerprint of a request's content: FNV-1a over its protobuf encoding (deterministic for a
/// message without maps), enough to tell a retry from another request under the same key.
fn aftryk(request: &impl prost::Message) -> String {
    let hash = request
        .encode_to_vec()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("{hash:016x}")
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

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn adresse(a: AdressePb) -> Adresse {
    Adresse {
        vej_navn: a.vej_navn,
        hus_nummer: a.hus_nummer,
        etage: nonempty(a.etage),
        doer: nonempty(a.doer),
        post_nummer: a.post_nummer,
        post_distrikt: a.post_distrikt,
        supplerende_bynavn: nonempty(a.supplerende_bynavn),
        kommune_kode: a.kommune_kode,
        dar_adresse_id: nonempty(a.dar_adresse_id),
        // Coordinates are the register's own (from DAR), never the caller's.
        geo_bredde: None,
        geo_laengde: None,
    }
}

fn anvisningsenhed_data(a: AnvisningsenhedPb) -> (String, AnvisningsenhedData) {
    let data = AnvisningsenhedData {
        daginstitutions_nummer: a.daginstitutions_nummer.trim().to_owned(),
        navn: a.enheds_navn,
        adresse: adresse(a.adresse.unwrap_or_default()),
        inst_type3: a.inst_type3,
        email: nonempty(a.email),
        telefon_nummer: nonempty(a.telefon_nummer),
        p_nummer: a.p_nummer,
    };
    (a.enheds_nummer, data)
}

fn alternativ_data(a: AlternativAdressePb) -> (String, AlternativAdresseData) {
    let data = AlternativAdresseData {
        enheds_nummer: a.enheds_nummer.trim().to_owned(),
        navn: a.alternativ_adresse_navn,
        adresse: adresse(a.adresse.unwrap_or_default()),
        p_nummer: nonempty(a.p_nummer),
        email: nonempty(a.email),
        telefon_nummer: nonempty(a.telefon_nummer),
    };
    (a.alternativ_adresse_nummer, data)
}

/// Marks a failed write with whether it was made (`x-dtr-udfald`: `ikke-skrevet` or `uvist`), so
/// the gateway can tell "try again" from "may have been written".
fn udfald(mut status: Status, udfald: &'static str) -> Status {
    status.metadata_mut().insert("x-dtr-udfald", tonic::metadata::MetadataValue::from_static(udfald));
    status
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
        // A repeated MessageID: the first write's answer, nothing written now.
        Err(RegistryError::AlreadyDone(nummer)) => {
            tracing::info!(correlation_id = %ctx.correlation_id, nummer = %nummer, "repeated MessageID answered from the first write");
            Ok(Response::new(ImportSvar { ok: true, nummer, fejl: vec![] }))
        }
        Err(RegistryError::Unavailable(e)) => {
            tracing::warn!(error = %e, correlation_id = %ctx.correlation_id, "import write: database unavailable");
            Err(udfald(Status::unavailable("registeret svarer ikke; intet er gemt; prøv igen"), "ikke-skrevet"))
        }
        Err(RegistryError::OutcomeUnknown(e)) => {
            tracing::error!(error = %e, correlation_id = %ctx.correlation_id, "import write: commit outcome unknown");
            Err(udfald(Status::unavailable("ændringens udfald er ukendt"), "uvist"))
        }
        Err(RegistryError::Storage(e)) => {
            tracing::error!(error = %e, correlation_id = %ctx.correlation_id, "import write failed");
            Err(udfald(Status::internal("registeret kunne ikke gemme ændringen"), "ikke-skrevet"))
        }
    }
}

#[tonic::async_trait]
impl ImportService for ImportGrpc {
    async fn saet_kode(&self, request: Request<SaetKodeRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let req = request.into_inner();
        let result = self.registry.saet_kode(&req.navn, req.kode, &req.tekst).await;
        if result.is_ok() {
            tracing::info!(system = %ctx.system(), tabel = %req.navn, kode = req.kode, "code table changed");
        }
        svar(result.map(|_| String::new()), &ctx)
    }

    async fn hello_world(&self, _: Request<HelloWorldRequest>) -> Result<Response<HelloWorldResponse>, Status> {
        Ok(Response::new(HelloWorldResponse { message: format!("Hello {}", chrono::Utc::now().to_rfc3339()) }))
    }

    /// The data owners a write concerns: from the request, and for updates, moves and deletes
    /// from the stored units and the target (an update that changes the owner concerns both).
    async fn resolve_dataejere(
        &self,
        request: Request<ResolveDataejereRequest>,
    ) -> Result<Response<ResolveDataejereResponse>, Status> {
        let ctx = CallerContext::required(&request)?;
        let op = request.into_inner().operation.and_then(|o| o.operation);
        let Some(op) = op else {
            return Err(Status::invalid_argument("ResolveDataejere skal indeholde én operation."));
        };
        // Owned copies the borrowed `Berort` values point into.
        let (nummer, til, ny): (String, String, Option<DaginstitutionData>) = match &op {
            Operation::InsertDaginstitution(r) => (
                String::new(),
                String::new(),
                Some(daginstitution_data(r.daginstitution.clone().unwrap_or_default()).1),
            ),
            Operation::UpdateDaginstitution(r) => {
                let (n, d) = daginstitution_data(r.daginstitution.clone().unwrap_or_default());
                (n, String::new(), Some(d))
            }
            Operation::DeleteDaginstitution(r)
            | Operation::DeleteAnvisningsEnhed(r)
            | Operation::DeleteAlternativAdresse(r) => (r.nummer.clone(), String::new(), None),
            Operation::InsertAnvisningsEnhed(r) => (
                anvisningsenhed_data(r.anvisningsenhed.clone().unwrap_or_default()).1.daginstitutions_nummer,
                String::new(),
                None,
            ),
            Operation::UpdateAnvisningsEnhed(r) => {
                (anvisningsenhed_data(r.anvisningsenhed.clone().unwrap_or_default()).0, String::new(), None)
            }
            Operation::InsertAlternativAdresse(r) => {
                (alternativ_data(r.alternativ_adresse.clone().unwrap_or_default()).1.enheds_nummer, String::new(), None)
            }
            Operation::UpdateAlternativAdresse(r) => {
                (alternativ_data(r.alternativ_adresse.clone().unwrap_or_default()).0, String::new(), None)
            }
            Operation::MoveAnvisningsEnhed(r) | Operation::MoveAlternativAdresse(r) => {
                (r.nummer.clone(), r.til_nummer.clone(), None)
            }
        };
        let (nummer, til) = (nummer.trim(), til.trim());
        let berort: Vec<Berort<'_>> = match &op {
            Operation::InsertDaginstitution(_) => ny.iter().map(Berort::NyDaginstitution).collect(),
            Operation::UpdateDaginstitution(_) => {
                ny.iter().map(Berort::NyDaginstitution).chain([Berort::Daginstitution(nummer)]).collect()
            }
            Operation::DeleteDaginstitution(_) | Operation::InsertAnvisningsEnhed(_) => {
                vec![Berort::Daginstitution(nummer)]
            }
            Operation::UpdateAnvisningsEnhed(_) | Operation::DeleteAnvisningsEnhed(_) => {
                vec![Berort::Anvisningsenhed(nummer)]
            }
            Operation::MoveAnvisningsEnhed(_) => vec![Berort::Anvisningsenhed(nummer), Berort::Daginstitution(til)],
            Operation::InsertAlternativAdresse(_) => vec![Berort::Anvisningsenhed(nummer)],
            Operation::UpdateAlternativAdresse(_) | Operation::DeleteAlternativAdresse(_) => {
                vec![Berort::AlternativAdresse(nummer)]
            }
            Operation::MoveAlternativAdresse(_) => {
                vec![Berort::AlternativAdresse(nummer), Berort::Anvisningsenhed(til)]
            }
        };
        let ejere = self.registry.dataejere(&berort).await.map_err(|e| {
            tracing::error!(error = %e, correlation_id = %ctx.correlation_id, "owner lookup failed");
            Status::unavailable("registeret kunne ikke læses; prøv igen")
        })?;
        let dataejere = ejere
            .into_iter()
            .map(|e| match e {
                Dataejer::Kommune(k) => DataejerPb { r#type: dataejer::Type::Kommune as i32, kode: k.to_string() },
                Dataejer::PrivatEjer(cvr) => DataejerPb { r#type: dataejer::Type::PrivatEjer as i32, kode: cvr },
            })
            .collect();
        Ok(Response::new(ResolveDataejereResponse { dataejere }))
    }

    /// The payload schema of the caller's interface version.
    async fn get_xml_schema(
        &self,
        request: Request<GetXmlSchemaRequest>,
    ) -> Result<Response<GetXmlSchemaResponse>, Status> {
        let ctx = CallerContext::required(&request)?;
        let xsd = dtr_proto::xsd::import(dtr_proto::xsd::import_namespace(ctx.regelsaet));
        Ok(Response::new(GetXmlSchemaResponse { xsd }))
    }

    /// Dry run: every check the real write would run, nothing written.
    async fn validate_xml_against_schema(
        &self,
        request: Request<ValidateRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
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
                self.registry.check_close_daginstitution(&nummer).await.map(|()| nummer)
            }
            Some(Operation::InsertAnvisningsEnhed(r)) => {
                let (sent, data) = anvisningsenhed_data(r.anvisningsenhed.unwrap_or_default());
                self.registry.check_insert_anvisningsenhed(&sent, &data, regelsaet(&ctx)).await.map(|()| String::new())
            }
            Some(Operation::UpdateAnvisningsEnhed(r)) => {
                let (nummer, data) = anvisningsenhed_data(r.anvisningsenhed.unwrap_or_default());
                let nummer = nummer.trim().to_owned();
                let checked = self
                    .registry
                    .check_update_anvisningsenhed(&nummer, &data, r.forventet_version, regelsaet(&ctx))
                    .await;
                checked.map(|()| nummer)
            }
            Some(Operation::DeleteAnvisningsEnhed(r)) => {
                let nummer = r.nummer.trim().to_owned();
                self.registry.check_close_anvisningsenhed(&nummer).await.map(|()| nummer)
            }
            Some(Operation::MoveAnvisningsEnhed(r)) => {
                let nummer = r.nummer.trim().to_owned();
                let checked =
                    self.registry.check_move_anvisningsenhed(&nummer, r.til_nummer.trim(), regelsaet(&ctx)).await;
                checked.map(|()| nummer)
            }
            Some(Operation::InsertAlternativAdresse(r)) => {
                let (sent, data) = alternativ_data(r.alternativ_adresse.unwrap_or_default());
                self.registry.check_insert_alternativ_adresse(&sent, &data).await.map(|()| String::new())
            }
            Some(Operation::UpdateAlternativAdresse(r)) => {
                let (nummer, data) = alternativ_data(r.alternativ_adresse.unwrap_or_default());
                let nummer = nummer.trim().to_owned();
                let checked = self.registry.check_update_alternativ_adresse(&nummer, &data, r.forventet_version).await;
                checked.map(|()| nummer)
            }
            Some(Operation::DeleteAlternativAdresse(r)) => {
                let nummer = r.nummer.trim().to_owned();
                self.registry.check_close_alternativ_adresse(&nummer).await.map(|()| nummer)
            }
            Some(Operation::MoveAlternativAdresse(r)) => {
                let nummer = r.nummer.trim().to_owned();
                self.registry.check_move_alternativ_adresse(&nummer, r.til_nummer.trim()).await.map(|()| nummer)
            }
            None => return Err(Status::invalid_argument("ValidateXmlAgainstSchema skal indeholde én operation.")),
        };
        svar(result, &ctx)
    }

    async fn insert_daginstitution(
        &self,
        request: Request<InsertDaginstitutionRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::InsertDaginstitution, request.get_ref());
        let (sent_nummer, data) = daginstitution_data(request.into_inner().daginstitution.unwrap_or_default());
        let result = self.registry.insert_daginstitution(&sent_nummer, &data, &hvem).await.map(|d| d.nummer);
        if let Ok(n) = &result {
            tracing::info!(nummer = %n, system = %ctx.system(), correlation_id = %ctx.correlation_id, "daginstitution created");
        }
        svar(result, &ctx)
    }

    async fn insert_anvisnings_enhed(
        &self,
        request: Request<InsertAnvisningsEnhedRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::InsertAnvisningsEnhed, request.get_ref());
        let (sent, data) = anvisningsenhed_data(request.into_inner().anvisningsenhed.unwrap_or_default());
        let result = self.registry.insert_anvisningsenhed(&sent, &data, regelsaet(&ctx), &hvem).await.map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn update_anvisnings_enhed(
        &self,
        request: Request<UpdateAnvisningsEnhedRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::UpdateAnvisningsEnhed, request.get_ref());
        let req = request.into_inner();
        let (nummer, data) = anvisningsenhed_data(req.anvisningsenhed.unwrap_or_default());
        let result = self
            .registry
            .update_anvisningsenhed(nummer.trim(), &data, req.forventet_version, regelsaet(&ctx), &hvem)
            .await
            .map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn delete_anvisnings_enhed(&self, request: Request<DeleteRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::DeleteAnvisningsEnhed, request.get_ref());
        let nummer = request.into_inner().nummer;
        let result = self.registry.close_anvisningsenhed(nummer.trim(), &hvem).await.map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn move_anvisnings_enhed(&self, request: Request<MoveRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::MoveAnvisningsEnhed, request.get_ref());
        let req = request.into_inner();
        let result = self
            .registry
            .move_anvisningsenhed(req.nummer.trim(), req.til_nummer.trim(), regelsaet(&ctx), &hvem)
            .await
            .map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn insert_alternativ_adresse(
        &self,
        request: Request<InsertAlternativAdresseRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::InsertAlternativAdresse, request.get_ref());
        let (sent, data) = alternativ_data(request.into_inner().alternativ_adresse.unwrap_or_default());
        let result = self.registry.insert_alternativ_adresse(&sent, &data, &hvem).await.map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn update_alternativ_adresse(
        &self,
        request: Request<UpdateAlternativAdresseRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::UpdateAlternativAdresse, request.get_ref());
        let req = request.into_inner();
        let (nummer, data) = alternativ_data(req.alternativ_adresse.unwrap_or_default());
        let result = self
            .registry
            .update_alternativ_adresse(nummer.trim(), &data, req.forventet_version, &hvem)
            .await
            .map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn delete_alternativ_adresse(&self, request: Request<DeleteRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::DeleteAlternativAdresse, request.get_ref());
        let nummer = request.into_inner().nummer;
        let result = self.registry.close_alternativ_adresse(nummer.trim(), &hvem).await.map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn move_alternativ_adresse(&self, request: Request<MoveRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::MoveAlternativAdresse, request.get_ref());
        let req = request.into_inner();
        let result = self
            .registry
            .move_alternativ_adresse(req.nummer.trim(), req.til_nummer.trim(), &hvem)
            .await
            .map(|a| a.nummer);
        svar(result, &ctx)
    }

    async fn update_daginstitution(
        &self,
        request: Request<UpdateDaginstitutionRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::UpdateDaginstitution, request.get_ref());
        let req = request.into_inner();
        let (nummer, data) = daginstitution_data(req.daginstitution.unwrap_or_default());
        let result = self
            .registry
            .update_daginstitution(nummer.trim(), &data, req.forventet_version, regelsaet(&ctx), &hvem)
            .await
            .map(|d| d.nummer);
        svar(result, &ctx)
    }

    async fn delete_daginstitution(&self, request: Request<DeleteRequest>) -> Result<Response<ImportSvar>, Status> {
        let ctx = CallerContext::required(&request)?;
        let hvem = aktoer(&ctx, ImportOperation::DeleteDaginstitution, request.get_ref());
        let nummer = request.into_inner().nummer;
        let result = self.registry.close_daginstitution(nummer.trim(), &hvem).await.map(|d| d.nummer);
        svar(result, &ctx)
    }
}
