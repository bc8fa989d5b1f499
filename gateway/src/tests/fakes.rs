//! In-memory fakes of the import, export and tilslutning services, reached over in-memory
//! duplex streams. They answer a few calls with fixed data and record every call they get.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

use dtr_proto::export::export_service_server::{ExportService, ExportServiceServer};
use dtr_proto::export::{DaginstitutionerExtend, GetAllRequest, HelloWorldRequest, HelloWorldResponse, NummerRequest};
use dtr_proto::import::import_service_server::{ImportService, ImportServiceServer};
use dtr_proto::import::validate_request::Operation as Write;
use dtr_proto::import::{
    Dataejer, InsertDaginstitutionRequest, ResolveDataejereRequest, ResolveDataejereResponse, dataejer,
};
use dtr_proto::registry::{Daginstitution, DaginstitutionExtend, Dagtilbud, ImportSvar};
use dtr_proto::tilslutning::tilslutning_service_server::{TilslutningService, TilslutningServiceServer};
use dtr_proto::tilslutning::{AuthenticateRequest, AuthenticateResponse, CheckAccessRequest, CheckAccessResponse};

use crate::clients::Clients;
use crate::config::GatewayConfig;
use crate::operation::{ExportOperation, ImportOperation};
use crate::state::AppState;

pub const USER: &str = "fake-system";
pub const PASSWORD: &str = "rigtig-adgangskode";
/// The operation the fake tilslutning service refuses, with this code.
pub const REFUSED_OPERATION: ExportOperation = ExportOperation::GetHistorik;
pub const REFUSAL_CODE: &str = "IPL000015";

/// What the fakes were asked, in order, one line a call.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct FakeImport(Log);
struct FakeExport(Log);
struct FakeTilslutning(Log);

#[tonic::async_trait]
impl ImportService for FakeImport {
    async fn resolve_dataejere(
        &self,
        request: Request<ResolveDataejereRequest>,
    ) -> Result<Response<ResolveDataejereResponse>, Status> {
        let write = request.into_inner().operation.and_then(|o| o.operation);
        let kode = match write {
            Some(Write::InsertDaginstitution(r)) => r.daginstitution.unwrap_or_default().adm_kommune_kode.to_string(),
            other => return Err(Status::invalid_argument(format!("unexpected {other:?}"))),
        };
        self.0.push(format!("ResolveDataejere kommune {kode}"));
        Ok(Response::new(ResolveDataejereResponse {
            dataejere: vec![Dataejer { r#type: dataejer::Type::Kommune as i32, kode }],
        }))
    }

    async fn insert_daginstitution(
        &self,
        request: Request<InsertDaginstitutionRequest>,
    ) -> Result<Response<ImportSvar>, Status> {
        let d = request.into_inner().daginstitution.unwrap_or_default();
        self.0.push(format!("{} {}", ImportOperation::InsertDaginstitution.name(), d.daginstitutions_navn));
        Ok(Response::new(ImportSvar { ok: true, nummer: "G30000".into(), fejl: vec![] }))
    }
}

fn daginstitution(nummer: &str) -> DaginstitutionExtend {
    DaginstitutionExtend {
        daginstitution: Some(Daginstitution {
            daginstitutions_nummer: nummer.into(),
            daginstitutions_navn: format!("Børnehuset {nummer}"),
            ejerform_kode: 1,
            lovgrundlag_kode: 1,
            adm_kommune_kode: 101,
            ejer_cvr_nummer: None,
        }),
        ejerform_kode_tekst: "Kommunal".into(),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl ExportService for FakeExport {
    async fn hello_world(&self, _: Request<HelloWorldRequest>) -> Result<Response<HelloWorldResponse>, Status> {
        self.0.push(ExportOperation::HelloWorld.name().into());
        Ok(Response::new(HelloWorldResponse { message: "Hello fake".into() }))
    }

    async fn get_daginstitution_by_nummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<DaginstitutionerExtend>, Status> {
        let nummer = request.into_inner().nummer;
        self.0.push(format!("{} {nummer}", ExportOperation::GetDaginstitutionByNummer.name()));
        if nummer == "NEDE" {
            return Err(Status::unavailable("database connection refused at 10.0.0.7"));
        }
        Ok(Response::new(DaginstitutionerExtend { daginstitutioner: vec![daginstitution(&nummer)] }))
    }

    async fn get_all_dagtilbud(
        &self,
        _: Request<GetAllRequest>,
    ) -> Result<Response<tonic::codegen::BoxStream<Dagtilbud>>, Status> {
        self.0.push(ExportOperation::GetAllDagtilbud.name().into());
        let records = ["G10001", "G10002", "G10003"]
            .map(|n| Ok(Dagtilbud { daginstitution: Some(daginstitution(n)), anvisningsenheder: vec![] }));
        Ok(Response::new(Box::pin(futures::stream::iter(records))))
    }
}

#[tonic::async_trait]
impl TilslutningService for FakeTilslutning {
    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let r = request.into_inner();
        let ok = r.brugernavn == USER && r.adgangskode == PASSWORD;
        self.0.push(format!("Authenticate {} {ok}", r.brugernavn));
        Ok(Response::new(AuthenticateResponse {
            ok,
            udbydersystem_id: if ok { "S1".into() } else { String::new() },
            udbyder_kode: if ok { "U1".into() } else { String::new() },
            gyldig_til: None,
        }))
    }

    async fn check_access(
        &self,
        request: Request<CheckAccessRequest>,
    ) -> Result<Response<CheckAccessResponse>, Status> {
        let r = request.into_inner();
        let owners: Vec<String> = r.ejere.iter().map(|e| e.kode.clone()).collect();
        self.0.push(format!("CheckAccess {} {} {:?} extract={}", r.servicekode, r.operation, owners, r.fuldt_udtraek));
        let refused = r.operation == REFUSED_OPERATION.name();
        Ok(Response::new(CheckAccessResponse {
            tilladt: !refused,
            fejlkode: if refused { REFUSAL_CODE.into() } else { String::new() },
            besked: if refused { "Systemet har ingen godkendt dataaftale.".into() } else { String::new() },
            tilladte_ejere: vec![],
        }))
    }
}

/// A channel to `service`, served in this process over in-memory streams: every connection
/// the channel opens is a fresh duplex pair whose server half the service takes.
async fn in_memory<S>(service: S) -> Channel
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<tokio::io::DuplexStream>();
    let incoming = tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(Ok::<_, std::io::Error>);
    tokio::spawn(Server::builder().add_service(service).serve_with_incoming(incoming));
    Endpoint::from_static("http://in-memory.invalid").connect_with_connector_lazy(tower::service_fn(
        move |_: http::Uri| {
            let tx = tx.clone();
            async move {
                let (client, server) = tokio::io::duplex(64 * 1024);
                tx.send(server).map_err(|_| std::io::Error::other("fake service stopped"))?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(client))
            }
        },
    ))
}

use tokio_stream::StreamExt as _;

/// The gateway's state over the fakes, with no decision cache, and the fakes' call log.
pub async fn state() -> (AppState, Log) {
    state_with(|_| {}).await
}

/// Like [`state_with`], with logins and decisions remembered for a minute, invalidated within the
/// process as under `dtr up`. Keep the returned receiver as long as the state: without one, the
/// channel takes no announcements.
pub async fn remembering_state(
    configure: impl FnOnce(&mut GatewayConfig),
) -> (AppState, Log, tokio::sync::broadcast::Receiver<()>) {
    let (changes, keep) = tokio::sync::broadcast::channel(4);
    let (state, log) = state_with(|cfg| {
        cfg.invalidation = crate::decisions::Invalidation::Local(changes);
        cfg.decision_ttl = Duration::from_secs(60);
        configure(cfg);
    })
    .await;
    (state, log, keep)
}

/// Like [`state`], with the configuration changed by `configure`.
pub async fn state_with(configure: impl FnOnce(&mut GatewayConfig)) -> (AppState, Log) {
    let log = Log::default();
    let credentials = dtr_trust::PartCredentials::plaintext_for_tests(dtr_trust::Part::Gateway);
    let clients = Clients::from_channels(
        &credentials,
        in_memory(ImportServiceServer::new(FakeImport(log.clone()))).await,
        in_memory(ExportServiceServer::new(FakeExport(log.clone()))).await,
        in_memory(TilslutningServiceServer::new(FakeTilslutning(log.clone()))).await,
        Duration::from_secs(5),
    );
    let mut config = GatewayConfig::new(String::new(), String::new(), String::new(), credentials);
    config.decision_ttl = Duration::ZERO;
    configure(&mut config);
    (AppState::with_clients(config, clients).await, log)
}
