//! The distributed mode: the four services as separate processes on PostgreSQL and Redis, as
//! docker-compose runs them; SOAP through the gateway, and gRPC straight to the services.

use crate::common;

use std::time::Duration;

use common::cluster::{start_gateway, start_services, start_services_with};
use common::{scenario, wait_until};
use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::export::NummerRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::import::validate_request::Operation;
use dtr_proto::import::{
    DeleteRequest, InsertDaginstitutionRequest, MoveRequest, ResolveDataejereRequest, UpdateDaginstitutionRequest,
    ValidateRequest,
};
use dtr_proto::registry::Daginstitution;
use dtr_proto::tilslutning::AuthenticateRequest;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_trust::{Part, PartCredentials, PkiDir, TlsMaterial};

#[tokio::test]
async fn separate_processes_on_postgres_and_redis_serve_soap() {
    let mut c = start_services().await;
    let soap = start_gateway(&mut c, &[]).await;

    // Clear the code-table cache so this run is seen to fill it.
    let redis = redis::Client::open(common::redis_url()).unwrap();
    let mut rc = redis.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg("dtr:kodetabeller:v2:version")
        .arg("dtr:kodetabeller:v2:data")
        .query_async(&mut rc)
        .await
        .unwrap();

    let store = dtr_registry::storage::connect(&c.db).await.unwrap();
    scenario::soap_slice(&soap, || {
        let s = store.clone();
        async move { s.count_units().await.unwrap() }
    })
    .await;

    let version: Option<i64> = redis::cmd("GET").arg("dtr:kodetabeller:v2:version").query_async(&mut rc).await.unwrap();
    assert!(version.is_some(), "the services cache code tables in Redis");
    for p in &mut c.procs {
        p.assert_running();
    }
}

#[tokio::test]
async fn grpc_clients_call_the_services_directly() {
    let c = start_services().await;
    let url = |p: u16| format!("https://127.0.0.1:{p}");
    let pki = PkiDir::new(&c.pki);
    // Writes and the owner question as the gateway makes them (it vouches for the system);
    // reads as an internal consumer with a certificate of its own; persons through the portal.
    let gateway = PartCredentials::load(&pki, Part::Gateway).unwrap();
    let portal = PartCredentials::load(&pki, Part::Portal).unwrap();
    let mut import = ImportServiceClient::new(gateway.connect(&url(c.import), Part::Import).await.unwrap());
    let issued = std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
        .args(["pki", "consumer", "bi-laeser", "--pki-dir", c.pki.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(issued.status.success(), "{}", String::from_utf8_lossy(&issued.stderr));
    let consumer = TlsMaterial::consumer(&pki, "bi-laeser").unwrap();
    let channel = consumer.endpoint(&url(c.export), Part::Export).unwrap().connect().await.unwrap();
    let mut export = ExportServiceClient::new(channel);
    let mut tilslutning =
        TilslutningServiceClient::new(portal.connect(&url(c.tilslutning), Part::Tilslutning).await.unwrap());
    let mut gateway_tilslutning =
        TilslutningServiceClient::new(gateway.connect(&url(c.tilslutning), Part::Tilslutning).await.unwrap());

    let ctx = CallerContext {
        principal: Principal::System { id: "internt-system".into(), udbyder: "UDB1".into() },
        correlation_id: "grpc-test-1".into(),
        regelsaet: dtr_proto::context::Regelsaet::V2,
        message_id: None,
    };
    let d = Daginstitution {
        daginstitutions_navn: "Børnegården Humlebien".into(),
        ejerform_kode: 2,
        lovgrundlag_kode: 2,
        adm_kommune_kode: 147,
        ..Daginstitution::default()
    };
    let svar = import
        .insert_daginstitution(ctx.request(InsertDaginstitutionRequest { daginstitution: Some(d.clone()) }))
        .await
        .unwrap()
        .into_inner();
    assert!(svar.ok, "{svar:?}");
    assert_eq!(svar.nummer, "G30000");
    let first = svar.nummer.clone();

    let found = export
        .get_daginstitution_by_nummer(NummerRequest { nummer: svar.nummer.clone() })
        .await
        .unwrap()
        .into_inner()
        .daginstitutioner;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].daginstitution.as_ref().unwrap().daginstitutions_navn, d.daginstitutions_navn);
    assert_eq!(found[0].ejerform_kode_tekst, "Selvejende");
    assert_eq!(found[0].adm_kommune_kode_tekst, "Frederiksberg");

    // The verified principal (the system and the provider it acts for) is in the audit record.
    let store = dtr_registry::storage::connect(&c.db).await.unwrap();
    let audit = store.audit_by_correlation("grpc-test-1").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].system, "internt-system");
    assert_eq!(audit[0].organisation.as_deref(), Some("UDB1"));
    assert_eq!(audit[0].operation, dtr_proto::operation::ImportOperation::InsertDaginstitution.name());

    // Rule failures come back in-band, every one of them.
    let bad = Daginstitution { adm_kommune_kode: 1, ..Daginstitution::default() };
    let svar = import
        .insert_daginstitution(ctx.request(InsertDaginstitutionRequest { daginstitution: Some(bad) }))
        .await
        .unwrap()
        .into_inner();
    assert!(!svar.ok);
    let codes: Vec<_> = svar.fejl.iter().map(|f| (f.kode.as_str(), f.felt.as_str())).collect();
    assert_eq!(
        codes,
        vec![
            ("DTR0101", "daginstitutionsNavn"),
            ("DTR0101", "ejerformKode"),
            ("DTR0101", "lovgrundlagKode"),
            ("DTR0104", "admKommuneKode")
        ]
    );

    // Rule 11 applies on the v2 rule set only: with an active vuggestue (6010) below it, a
    // legal basis that allows only dagpleje (6013) is refused on v2 and accepted on v1.
    let child = dtr_registry::model::AnvisningsenhedData {
        daginstitutions_nummer: first.clone(),
        navn: "Humlebien Vuggestue".into(),
        adresse: dtr_registry::model::Adresse {
            vej_navn: "Falkoner Allé".into(),
            hus_nummer: "3".into(),
            post_nummer: "2000".into(),
            post_distrikt: "Frederiksberg".into(),
            kommune_kode: 147,
            ..Default::default()
        },
        inst_type3: 6010,
        p_nummer: "1012345678".into(),
        ..Default::default()
    };
    let registry_store = dtr_registry::storage::connect(&c.db).await.unwrap();
    let aktoer = crate::common::aktoer("test", "test");
    registry_store.insert_anvisningsenhed(&child, None, &aktoer, &dtr_registry::storage::no_checks).await.unwrap();
    let changed =
        Daginstitution { daginstitutions_nummer: first.clone(), ejerform_kode: 1, lovgrundlag_kode: 5, ..d.clone() };
    let v2 = import
        .update_daginstitution(
            ctx.request(UpdateDaginstitutionRequest { daginstitution: Some(changed.clone()), forventet_version: None }),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(!v2.ok);
    assert_eq!(v2.fejl[0].kode, "DTR0301", "{v2:?}");
    let v1_ctx = CallerContext { regelsaet: dtr_proto::context::Regelsaet::V1, ..ctx.clone() };
    let v1 = import
        .update_daginstitution(
            v1_ctx.request(UpdateDaginstitutionRequest { daginstitution: Some(changed), forventet_version: None }),
        )
        .await
        .unwrap()
        .into_inner();
    assert!(v1.ok, "v1 skips the cross-validation: {v1:?}");

    // The owners a write concerns, for the gateway's access decision.
    let child_nummer = registry_store
        .aendringer_siden(0, 100)
        .await
        .unwrap()
        .iter()
        .find(|c| c.enhedstype == "anvisningsenhed")
        .unwrap()
        .nummer
        .clone();
    let in_101 = Daginstitution { adm_kommune_kode: 101, ejerform_kode: 1, lovgrundlag_kode: 1, ..d.clone() };
    let svar_101 = import
        .insert_daginstitution(ctx.request(InsertDaginstitutionRequest { daginstitution: Some(in_101.clone()) }))
        .await
        .unwrap()
        .into_inner();
    let owners = |op: Operation| {
        let mut import = import.clone();
        async move {
            let req = ResolveDataejereRequest { operation: Some(ValidateRequest { operation: Some(op) }) };
            let mut got: Vec<(i32, String)> = import
                .resolve_dataejere(req)
                .await
                .unwrap()
                .into_inner()
                .dataejere
                .into_iter()
                .map(|e| (e.r#type, e.kode))
                .collect();
            got.sort();
            got
        }
    };
    let (kommune, privat) =
        (dtr_proto::import::dataejer::Type::Kommune as i32, dtr_proto::import::dataejer::Type::PrivatEjer as i32);
    let private = Daginstitution {
        ejerform_kode: 3,
        lovgrundlag_kode: 4,
        ejer_cvr_nummer: Some("29189854".into()),
        ..in_101.clone()
    };
    assert_eq!(
        owners(Operation::InsertDaginstitution(InsertDaginstitutionRequest { daginstitution: Some(private) })).await,
        vec![(privat, "29189854".to_owned())]
    );
    let moved_kommune = Daginstitution { daginstitutions_nummer: first.clone(), adm_kommune_kode: 101, ..d.clone() };
    assert_eq!(
        owners(Operation::UpdateDaginstitution(UpdateDaginstitutionRequest {
            daginstitution: Some(moved_kommune),
            forventet_version: None
        }))
        .await,
        vec![(kommune, "101".to_owned()), (kommune, "147".to_owned())],
        "changing the kommune concerns both"
    );
    assert_eq!(
        owners(Operation::DeleteAnvisningsEnhed(DeleteRequest { nummer: child_nummer.clone() })).await,
        vec![(kommune, "147".to_owned())]
    );
    assert_eq!(
        owners(Operation::MoveAnvisningsEnhed(MoveRequest { nummer: child_nummer, til_nummer: svar_101.nummer })).await,
        vec![(kommune, "101".to_owned()), (kommune, "147".to_owned())]
    );
    assert_eq!(owners(Operation::DeleteDaginstitution(DeleteRequest { nummer: "G99989".into() })).await, vec![]);

    // The service catalogue as `dtr migrate` keeps it; STIL alone edits it; callers say who acts.
    use dtr_proto::tilslutning::{ListServicesRequest, Operation as Op, Service};
    let acting =
        |org: &str| CallerContext::new(Principal::Person { id: format!("e2e@{org}"), organisation: org.to_owned() });
    let unnamed = tilslutning.list_services(ListServicesRequest::default()).await.unwrap_err();
    assert_eq!(unnamed.code(), tonic::Code::PermissionDenied, "the portal itself acts for no organisation");
    let services = tilslutning.list_services(acting("UDB1").request(ListServicesRequest::default())).await;
    let services = services.unwrap().into_inner().services;
    let import = services.iter().find(|s| s.servicekode == "ImportService").unwrap();
    assert!(import.operationer.iter().any(|o| o.navn == "InsertDaginstitution" && o.kraever_dataaftale));
    assert!(import.operationer.iter().any(|o| o.navn == "HelloWorld" && !o.kraever_dataaftale));
    let ny = Service {
        servicekode: "TestService".into(),
        service_navn: "Test".into(),
        operationer: vec![Op { navn: "Skriv".into(), kraever_dataaftale: true }],
        versioner: vec!["v1".into()],
        ..Default::default()
    };
    let denied = tilslutning.upsert_service(acting("UDB1").request(ny.clone())).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let stored = tilslutning.upsert_service(acting("STIL").request(ny)).await.unwrap().into_inner();
    assert_eq!(stored.operationer.len(), 1);
    assert!(stored.operationer[0].kraever_dataaftale);

    // Unknown users and wrong passwords get the same answer.
    let a = gateway_tilslutning
        .authenticate(AuthenticateRequest { brugernavn: "ingen".into(), adgangskode: "x".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!a.ok && a.udbydersystem_id.is_empty());

    // Health and reflection on every service.
    for (port, part, name) in [
        (c.import, Part::Import, "dtr.import.v1.ImportService"),
        (c.export, Part::Export, "dtr.export.v1.ExportService"),
        (c.tilslutning, Part::Tilslutning, "dtr.tilslutning.v1.TilslutningService"),
    ] {
        let channel = consumer.endpoint(&url(port), part).unwrap().connect().await.unwrap();
        let mut h = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let s = h.check(tonic_health::pb::HealthCheckRequest { service: name.into() }).await.unwrap().into_inner();
        assert_eq!(s.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
        let services = reflection_services(channel).await;
        assert!(services.contains(&name.to_owned()), "{services:?}");
        assert!(services.contains(&"grpc.health.v1.Health".to_owned()), "{services:?}");
    }
}

async fn reflection_services(channel: tonic::transport::Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let resp = stream.message().await.unwrap().expect("a reflection answer");
    match resp.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

mod otlp {
    //! A minimal OTLP/gRPC trace collector that keeps what it receives.
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};

    /// (service.name, span name, trace id, span id, parent span id)
    pub type Span = (String, String, Vec<u8>, Vec<u8>, Vec<u8>);

    #[derive(Clone, Default)]
    pub struct Collector(pub Arc<Mutex<Vec<Span>>>);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut out = self.0.lock().unwrap();
            for rs in request.into_inner().resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| r.attributes.iter())
                    .find(|a| a.key == "service.name")
                    .and_then(|a| a.value.as_ref())
                    .and_then(|v| match &v.value {
                        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => {
                            Some(s.clone())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for sp in ss.spans {
                        out.push((service.clone(), sp.name, sp.trace_id, sp.span_id, sp.parent_span_id));
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    pub async fn start() -> (u16, Collector) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let collector = Collector::default();
        let svc = TraceServiceServer::new(collector.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        (port, collector)
    }
}

#[tokio::test]
async fn trace_context_travels_from_the_gateway_into_the_services() {
    let (port, collector) = otlp::start().await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}")),
        // Export spans quickly so the test does not wait for the default 5 s batch delay.
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ];
    let mut c = start_services_with(&otel).await;
    let soap = start_gateway(&mut c, &otel).await;
    let a = soap.call(common::IMPORT, "InsertDaginstitution", common::VALID_DAGINSTITUTION).await;
    assert_eq!(common::xml_text(&a.body, "status"), Some("OK"), "{}", a.body);

    let spans = collector.0.clone();
    let linked = move || {
        let spans = spans.lock().unwrap().clone();
        let soap: Vec<_> = spans.iter().filter(|s| s.0 == "dtr-gateway" && s.1 == "soap").collect();
        let import: Vec<_> = spans.iter().filter(|s| s.0 == "dtr-import" && s.1 == "grpc").collect();
        // The import service's span is a child of the gateway's span for the same call.
        soap.iter().any(|g| import.iter().any(|i| i.2 == g.2 && i.4 == g.3))
    };
    wait_until("linked gateway and import spans at the collector", Duration::from_secs(30), || {
        let ok = linked();
        async move { ok }
    })
    .await;
}

/// `/healthz` says the gateway lives; `/readyz` that it can serve — every service answers — and
/// names the one that does not, within its bound.
#[tokio::test]
async fn readiness_names_what_is_missing() {
    let mut r = common::cluster::distributed().await;
    // The shared test Redis is up: once the gateway has subscribed, the second line says the
    // cache is shared.
    wait_until("the gateway to be ready with Redis", Duration::from_secs(10), || {
        let soap = r.soap.clone();
        async move {
            let ready = soap.get("/readyz").await;
            ready.status() == 200 && ready.text().await.unwrap() == "klar\nredis: forbundet"
        }
    })
    .await;
    r.procs[1].kill(); // the export service
    let started = std::time::Instant::now();
    let missing = r.soap.get("/readyz").await;
    assert!(started.elapsed() < Duration::from_secs(3), "answered within its bound");
    assert_eq!(missing.status(), 503);
    assert_eq!(missing.text().await.unwrap(), "ikke klar: export svarer ikke\nredis: forbundet");
    assert_eq!(r.soap.get("/healthz").await.status(), 200, "alive all the same");
}
