//! gRPC ExportService: the register's read side. Operations not implemented here answer
//! UNIMPLEMENTED until the export issue builds them.

use tonic::{Request, Response, Status};

use dtr_proto::export::export_service_server::ExportService;
use dtr_proto::export::{DaginstitutionerExtend, HelloWorldRequest, HelloWorldResponse, NummerRequest};
use dtr_proto::registry as pb;
use dtr_registry::codes::{self, CodeTables};
use dtr_registry::model::{Aktivitetsstatus, Daginstitution, Registerfelter};
use dtr_registry::{Registry, RegistryError};

pub struct ExportGrpc {
    registry: Registry,
}

impl ExportGrpc {
    pub fn new(registry: Registry) -> Self {
        ExportGrpc { registry }
    }
}

fn status(e: RegistryError) -> Status {
    tracing::error!(error = %e, "export read failed");
    Status::unavailable("registeret kunne ikke læses; prøv igen")
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

fn registerfelter(r: &Registerfelter) -> pb::Registerfelter {
    pb::Registerfelter {
        aktivitetsstatus: match r.aktivitetsstatus {
            Aktivitetsstatus::Aktiv => pb::Aktivitetsstatus::Aktiv,
            Aktivitetsstatus::Nedlagt => pb::Aktivitetsstatus::Nedlagt,
        } as i32,
        oprettet_dato: Some(timestamp(r.oprettet_dato)),
        senest_aendret: Some(timestamp(r.senest_aendret)),
        nedlagt_dato: r.nedlagt_dato.map(timestamp),
        version: r.version,
    }
}

fn tekst(codes: &CodeTables, tabel: &str, kode: i32) -> String {
    codes.tekst(tabel, kode).unwrap_or_default().to_owned()
}

/// The `…Extend` shape: the stored record, the register's fields and `_Tekst` companions.
pub fn daginstitution_extend(d: Daginstitution, codes: &CodeTables) -> pb::DaginstitutionExtend {
    pb::DaginstitutionExtend {
        ejerform_kode_tekst: tekst(codes, codes::EJERFORM, d.data.ejerform_kode),
        lovgrundlag_kode_tekst: tekst(codes, codes::LOVGRUNDLAG, d.data.lovgrundlag_kode),
        adm_kommune_kode_tekst: tekst(codes, codes::KOMMUNER, d.data.adm_kommune_kode),
        register: Some(registerfelter(&d.register)),
        daginstitution: Some(pb::Daginstitution {
            daginstitutions_nummer: d.nummer,
            daginstitutions_navn: d.data.navn,
            ejerform_kode: d.data.ejerform_kode,
            lovgrundlag_kode: d.data.lovgrundlag_kode,
            adm_kommune_kode: d.data.adm_kommune_kode,
            ejer_cvr_nummer: d.data.ejer_cvr_nummer,
        }),
    }
}

#[tonic::async_trait]
impl ExportService for ExportGrpc {
    async fn hello_world(&self, _: Request<HelloWorldRequest>) -> Result<Response<HelloWorldResponse>, Status> {
        Ok(Response::new(HelloWorldResponse { message: format!("Hello {}", chrono::Utc::now().to_rfc3339()) }))
    }

    async fn get_daginstitution_by_nummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<DaginstitutionerExtend>, Status> {
        let nummer = request.into_inner().nummer;
        let found = self.registry.daginstitution(nummer.trim()).await.map_err(status)?;
        let daginstitutioner = match found {
            Some(d) => {
                let codes = self.registry.code_tables().await.map_err(status)?;
                vec![daginstitution_extend(d, &codes)]
            }
            None => vec![],
        };
        Ok(Response::new(DaginstitutionerExtend { daginstitutioner }))
    }
}
