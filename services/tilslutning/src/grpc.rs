//! The gRPC face of the tilslutning service: the gateway's authentication and access decision,
//! and the administration of organisations, systems, the catalogue, agreements and notification
//! recipients. Who acts is the organisation in the caller context (`x-dtr-organisation`); the
//! rules live in `adgang`, `livscyklus`, `aftaler`, `systemer` and `organisationer`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dtr_proto::context::CallerContext;
use dtr_proto::tilslutning::tilslutning_service_server::TilslutningService;
use dtr_proto::tilslutning::{
    AuthenticateRequest, AuthenticateResponse, BulkDecideRequest, BulkDecideResponse, CheckAccessRequest,
    CheckAccessResponse, Dataaftale, DecideRequest, ListAftalerRequest, ListDataaftalerResponse,
    ListTilslutningerResponse, MeldRegisterfundRequest, MeldRegisterfundResponse, OrganisationType,
    RequestDataaftalerRequest, RequestDataaftalerResponse, RequestTilslutningRequest, Tilslutningsaftale,
};
use dtr_proto::tilslutning::{
    BlockSystemRequest, CreateSystemRequest, CreateSystemResponse, Credentials, DeleteSystemRequest,
    ListSystemsRequest, ListSystemsResponse, RenameSystemRequest, RotateCredentialsRequest, SetSystemPassivRequest,
    System, UnblockSystemRequest,
};
use dtr_proto::tilslutning::{
    CreateOrganisationRequest, GetOrganisationRequest, ListOrganisationerRequest, ListOrganisationerResponse,
    Organisation, SetOrganisationPassivRequest,
};
use dtr_proto::tilslutning::{
    ListNotifikationsmodtagereRequest, ListNotifikationsmodtagereResponse, Notifikationsmodtager,
};
use dtr_proto::tilslutning::{ListServicesRequest, ListServicesResponse, Operation, Service};

use crate::aendringer::Aendringer;
use crate::aftaler::{self, dataaftale_pb, tilslutning_pb};
use crate::model::{AftaleArt, AftaleStatus, Afvisningslog, EjerRef};
use crate::store::TilslutningStore;
use crate::{adgang, credentials};
use crate::{organisationer, systemer};

/// Fault code of a failed authentication in the access log (the caller sees HTTP 401).
const UAUTENTIFICERET: &str = "HTTP401";
/// Most owners one call may name.
const MAX_EJERE: usize = 16;

/// Longest username and password the service looks at; longer ones fail like wrong ones.
const MAX_CREDENTIAL_LEN: usize = 256;

pub struct TilslutningGrpc {
    store: Arc<dyn TilslutningStore>,
    /// Full extracts per system per day; 0 = no limit.
    full_extracts_per_day: u32,
    aendringer: Aendringer,
    legitimationer: credentials::Bekraeftede,
}

impl TilslutningGrpc {
    pub fn new(store: Arc<dyn TilslutningStore>, full_extracts_per_day: u32) -> Self {
        TilslutningGrpc {
            store,
            full_extracts_per_day,
            aendringer: Aendringer::Ingen,
            legitimationer: credentials::Bekraeftede::new(),
        }
    }

    /// Where changes are announced to the gateways' decision caches.
    pub fn med_aendringer(mut self, aendringer: Aendringer) -> Self {
        self.aendringer = aendringer;
        self
    }

    /// How many argon2 verifications this service has run (the credential cache spares most).
    pub fn argon2_koersler(&self) -> u64 {
        self.legitimationer.koersler()
    }

    /// Runs a change and announces it, whether or not all of it succeeded (a bulk decision may
    /// stop part-way with some agreements changed).
    async fn aendring<T>(&self, f: impl Future<Output = Result<T, Status>>) -> Result<Response<T>, Status> {
        let r = f.await;
        self.aendringer.meld().await;
        r.map(Response::new)
    }

    /// Step 5: counts a full extract against the daily limit.
    async fn within_limit(&self, system_id: &str) -> Result<Result<(), adgang::Afvisning>, Status> {
        if self.full_extracts_per_day == 0 {
            return Ok(Ok(()));
        }
        let dato = chrono::Utc::now().date_naive().to_string();
        let limit = i64::from(self.full_extracts_per_day);
        let counted = self.store.count_udtraek(system_id, &dato, limit).await.map_err(internal)?;
        Ok(if counted { Ok(()) } else { Err(adgang::udtraek_opbrugt(self.full_extracts_per_day)) })
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "tilslutning storage failed");
    Status::internal("intern fejl i tilslutningsservicen")
}

/// Most owners one data-access request may name.
const MAX_EJERE_PR_ANMODNING: usize = 100;

fn service_pb(d: &crate::model::ServiceDef) -> Service {
    Service {
        servicekode: d.servicekode.clone(),
        service_navn: d.navn.clone(),
        beskrivelse: d.beskrivelse.clone(),
        operationer: d
            .operationer
            .iter()
            .map(|(navn, kraever)| Operation { navn: navn.clone(), kraever_dataaftale: *kraever })
            .collect(),
        versioner: d.versioner.clone(),
        ..Default::default()
    }
}

/// An organisation manages its own recipients; the operator anyone's.
fn egen_organisation(aktoer: &str, kode: &str) -> Result<(), Status> {
    if aktoer == kode || aktoer == crate::livscyklus::OPERATOER {
        Ok(())
    } else {
        Err(Status::permission_denied("en organisation styrer kun sine egne modtagere"))
    }
}

/// The acting organisation of a request.
fn aktoer<T>(request: &Request<T>) -> Result<String, Status> {
    aftaler::aktoer(CallerContext::from_metadata(request.metadata()).organisation.as_deref())
}

#[tonic::async_trait]
impl TilslutningService for TilslutningGrpc {
    /// The operator keeps the catalogue: a service, its operations and whether each needs a
    /// data-access agreement (read by the access decision at once), its versions.
    async fn upsert_service(&self, request: Request<Service>) -> Result<Response<Service>, Status> {
        let aktoer = aktoer(&request)?;
        if aktoer != crate::livscyklus::OPERATOER {
            return Err(Status::permission_denied("kun STIL vedligeholder servicekataloget"));
        }
        let s = request.into_inner();
        let kode_ok = !s.servicekode.is_empty()
            && s.servicekode.len() <= 64
            && s.servicekode.bytes().all(|b| b.is_ascii_alphanumeric());
        let ops_ok = s.operationer.iter().all(|o| !o.navn.is_empty() && o.navn.len() <= 100);
        if !kode_ok || !ops_ok || s.service_navn.trim().is_empty() {
            return Err(Status::invalid_argument(
                "servicekode (bogstaver og cifre, højst 64), servicenavn og operationernes navne skal udfyldes",
            ));
        }
        let def = crate::model::ServiceDef {
            servicekode: s.servicekode.clone(),
            navn: s.service_navn.trim().to_owned(),
            beskrivelse: s.beskrivelse.clone(),
            operationer: s.operationer.iter().map(|o| (o.navn.clone(), o.kraever_dataaftale)).collect(),
            versioner: s.versioner.clone(),
        };
        let stored = self.store.upsert_service(&def).await.map_err(aftaler::internal);
        self.aendringer.meld().await;
        stored?;
        let all = self.store.list_services().await.map_err(aftaler::internal)?;
        let stored = all.iter().find(|d| d.servicekode == s.servicekode).map(service_pb);
        Ok(Response::new(stored.unwrap_or(s)))
    }

    async fn list_services(
        &self,
        request: Request<ListServicesRequest>,
    ) -> Result<Response<ListServicesResponse>, Status> {
        aktoer(&request)?;
        let all = self.store.list_services().await.map_err(aftaler::internal)?;
        Ok(Response::new(ListServicesResponse { services: all.iter().map(service_pb).collect() }))
    }

    /// An organisation registers its own recipients (STIL anyone's).
    async fn add_notifikationsmodtager(
        &self,
        request: Request<Notifikationsmodtager>,
    ) -> Result<Response<Notifikationsmodtager>, Status> {
        let aktoer = aktoer(&request)?;
        let m = request.into_inner();
        egen_organisation(&aktoer, &m.organisation_kode)?;
        let email = m.email.trim();
        let valid = email.len() <= 254 && email.parse::<lettre::Address>().is_ok();
        if !valid {
            return Err(Status::invalid_argument(format!("{email:?} er ikke en e-mailadresse")));
        }
        if !self.store.add_modtager(&m.organisation_kode, email).await.map_err(aftaler::internal)?
            && !self.store.modtagere(&m.organisation_kode).await.map_err(aftaler::internal)?.iter().any(|e| e == email)
        {
            return Err(Status::not_found(format!("organisationen {} findes ikke", m.organisation_kode)));
        }
        Ok(Response::new(Notifikationsmodtager { organisation_kode: m.organisation_kode, email: email.to_owned() }))
    }

    async fn remove_notifikationsmodtager(
        &self,
        request: Request<Notifikationsmodtager>,
    ) -> Result<Response<Notifikationsmodtager>, Status> {
        let aktoer = aktoer(&request)?;
        let m = request.into_inner();
        egen_organisation(&aktoer, &m.organisation_kode)?;
        if !self.store.remove_modtager(&m.organisation_kode, m.email.trim()).await.map_err(aftaler::internal)? {
            return Err(Status::not_found("modtageren findes ikke"));
        }
        Ok(Response::new(m))
    }

    async fn list_notifikationsmodtagere(
        &self,
        request: Request<ListNotifikationsmodtagereRequest>,
    ) -> Result<Response<ListNotifikationsmodtagereResponse>, Status> {
        let aktoer = aktoer(&request)?;
        let kode = request.into_inner().organisation_kode;
        egen_organisation(&aktoer, &kode)?;
        let modtagere = self.store.modtagere(&kode).await.map_err(aftaler::internal)?;
        let modtagere = modtagere
            .into_iter()
            .map(|email| Notifikationsmodtager { organisation_kode: kode.clone(), email })
            .collect();
        Ok(Response::new(ListNotifikationsmodtagereResponse { modtagere }))
    }

    async fn create_organisation(
        &self,
        request: Request<CreateOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        let aktoer = aktoer(&request)?;
        let o = request.get_ref().organisation.clone().unwrap_or_default();
        Ok(Response::new(organisationer::create(self.store.as_ref(), &aktoer, &o).await?))
    }

    async fn get_organisation(
        &self,
        request: Request<GetOrganisationRequest>,
    ) -> Result<Response<Organisation>, Status> {
        aktoer(&request)?;
        Ok(Response::new(organisationer::get(self.store.as_ref(), &request.get_ref().kode).await?))
    }

    async fn list_organisationer(
        &self,
        request: Request<ListOrganisationerRequest>,
    ) -> Result<Response<ListOrganisationerResponse>, Status> {
        aktoer(&request)?;
        Ok(Response::new(organisationer::list(self.store.as_ref(), request.get_ref()).await?))
    }

    async fn set_organisation_passiv(
        &self,
        request: Request<SetOrganisationPassivRequest>,
    ) -> Result<Response<Organisation>, Status> {
        let aktoer = aktoer(&request)?;
        self.aendring(organisationer::set_passiv(self.store.as_ref(), &aktoer, request.get_ref())).await
    }

    async fn create_system(
        &self,
        request: Request<CreateSystemRequest>,
    ) -> Result<Response<CreateSystemResponse>, Status> {
        let aktoer = aktoer(&request)?;
        Ok(Response::new(systemer::create(self.store.as_ref(), &aktoer, request.get_ref()).await?))
    }

    async fn rename_system(&self, request: Request<RenameSystemRequest>) -> Result<Response<System>, Status> {
        let aktoer = aktoer(&request)?;
        // Announced like every change to a system, so no gateway keeps a state older than it.
        self.aendring(systemer::rename(self.store.as_ref(), &aktoer, request.get_ref())).await
    }

    async fn set_system_passiv(&self, request: Request<SetSystemPassivRequest>) -> Result<Response<System>, Status> {
        let aktoer = aktoer(&request)?;
        self.aendring(systemer::set_passiv(self.store.as_ref(), &aktoer, request.get_ref())).await
    }

    async fn block_system(&self, request: Request<BlockSystemRequest>) -> Result<Response<System>, Status> {
        let aktoer = aktoer(&request)?;
        let r = request.get_ref();
        self.aendring(systemer::set_blokeret(self.store.as_ref(), &aktoer, &r.udbydersystem_id, Some(&r.aarsag))).await
    }

    async fn unblock_system(&self, request: Request<UnblockSystemRequest>) -> Result<Response<System>, Status> {
        let aktoer = aktoer(&request)?;
        let id = &request.get_ref().udbydersystem_id;
        self.aendring(systemer::set_blokeret(self.store.as_ref(), &aktoer, id, None)).await
    }

    async fn delete_system(&self, request: Request<DeleteSystemRequest>) -> Result<Response<System>, Status> {
        let aktoer = aktoer(&request)?;
        self.aendring(systemer::delete(self.store.as_ref(), &aktoer, &request.get_ref().udbydersystem_id)).await
    }

    async fn list_systems(
        &self,
        request: Request<ListSystemsRequest>,
    ) -> Result<Response<ListSystemsResponse>, Status> {
        let aktoer = aktoer(&request)?;
        Ok(Response::new(systemer::list(self.store.as_ref(), &aktoer, request.get_ref()).await?))
    }

    /// A new password, shown once; the old one keeps working for the overlap period.
    async fn rotate_credentials(
        &self,
        request: Request<RotateCredentialsRequest>,
    ) -> Result<Response<Credentials>, Status> {
        let aktoer = aktoer(&request)?;
        self.aendring(systemer::rotate(self.store.as_ref(), &aktoer, &request.get_ref().udbydersystem_id)).await
    }

    async fn request_tilslutning(
        &self,
        request: Request<RequestTilslutningRequest>,
    ) -> Result<Response<Tilslutningsaftale>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let aktoer = aftaler::aktoer(ctx.organisation.as_deref())?;
        let r = request.into_inner();
        let store = self.store.as_ref();
        let a = aftaler::anmod(
            store,
            AftaleArt::Tilslutning,
            &aktoer,
            &r.udbydersystem_id,
            &r.servicekode,
            None,
            &r.kommentar,
        );
        self.aendring(async { Ok(tilslutning_pb(&a.await?)) }).await
    }

    async fn decide_tilslutning(
        &self,
        request: Request<DecideRequest>,
    ) -> Result<Response<Tilslutningsaftale>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let aktoer = aftaler::aktoer(ctx.organisation.as_deref())?;
        let r = request.into_inner();
        let til = aftaler::status_fra_pb(r.til())?;
        let a = aftaler::beslut(self.store.as_ref(), AftaleArt::Tilslutning, &aktoer, &r.aftale_id, til, &r.kommentar);
        self.aendring(async { Ok(tilslutning_pb(&a.await?)) }).await
    }

    async fn list_tilslutninger(
        &self,
        request: Request<ListAftalerRequest>,
    ) -> Result<Response<ListTilslutningerResponse>, Status> {
        let f = aftaler::filter(request.get_ref())?;
        let (page, naeste_side) = aftaler::list(self.store.as_ref(), AftaleArt::Tilslutning, f).await?;
        Ok(Response::new(ListTilslutningerResponse { aftaler: page.iter().map(tilslutning_pb).collect(), naeste_side }))
    }

    /// One request for one or more owners at once, with a comment.
    async fn request_dataaftaler(
        &self,
        request: Request<RequestDataaftalerRequest>,
    ) -> Result<Response<RequestDataaftalerResponse>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let aktoer = aftaler::aktoer(ctx.organisation.as_deref())?;
        let r = request.into_inner();
        if r.ejer_koder.is_empty() || r.ejer_koder.len() > MAX_EJERE_PR_ANMODNING {
            return Err(Status::invalid_argument(format!("angiv 1 til {MAX_EJERE_PR_ANMODNING} dataejere")));
        }
        self.aendring(async {
            let mut dataaftaler = Vec::with_capacity(r.ejer_koder.len());
            for ejer in &r.ejer_koder {
                let a = aftaler::anmod(
                    self.store.as_ref(),
                    AftaleArt::Data,
                    &aktoer,
                    &r.udbydersystem_id,
                    &r.servicekode,
                    Some(ejer),
                    &r.kommentar,
                );
                dataaftaler.push(dataaftale_pb(&a.await?));
            }
            Ok(RequestDataaftalerResponse { dataaftaler })
        })
        .await
    }

    async fn decide_dataaftale(&self, request: Request<DecideRequest>) -> Result<Response<Dataaftale>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let aktoer = aftaler::aktoer(ctx.organisation.as_deref())?;
        let r = request.into_inner();
        let til = aftaler::status_fra_pb(r.til())?;
        let a = aftaler::beslut(self.store.as_ref(), AftaleArt::Data, &aktoer, &r.aftale_id, til, &r.kommentar);
        self.aendring(async { Ok(dataaftale_pb(&a.await?)) }).await
    }

    /// The owner approves or rejects every waiting agreement of its own at once.
    async fn bulk_decide_dataaftaler(
        &self,
        request: Request<BulkDecideRequest>,
    ) -> Result<Response<BulkDecideResponse>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let aktoer = aftaler::aktoer(ctx.organisation.as_deref())?;
        let r = request.into_inner();
        let til = aftaler::status_fra_pb(r.til())?;
        if !matches!(til, AftaleStatus::Godkendt | AftaleStatus::Afvist) {
            return Err(Status::invalid_argument("alle ventende kan kun godkendes eller afvises"));
        }
        if r.ejer_kode != aktoer {
            return Err(Status::permission_denied("kun dataejeren kan beslutte om sine dataaftaler"));
        }
        let ventende = crate::model::AftaleFilter {
            ejer_kode: Some(r.ejer_kode.clone()),
            status: Some(AftaleStatus::Venter),
            max: i64::MAX,
            ..Default::default()
        };
        self.aendring(async {
            let mut dataaftaler = Vec::new();
            for a in self.store.list_aftaler(AftaleArt::Data, &ventende).await.map_err(aftaler::internal)? {
                let a = aftaler::beslut(self.store.as_ref(), AftaleArt::Data, &aktoer, &a.aftale_id, til, &r.kommentar);
                dataaftaler.push(dataaftale_pb(&a.await?));
            }
            Ok(BulkDecideResponse { dataaftaler })
        })
        .await
    }

    async fn list_dataaftaler(
        &self,
        request: Request<ListAftalerRequest>,
    ) -> Result<Response<ListDataaftalerResponse>, Status> {
        let f = aftaler::filter(request.get_ref())?;
        let (page, naeste_side) = aftaler::list(self.store.as_ref(), AftaleArt::Data, f).await?;
        Ok(Response::new(ListDataaftalerResponse { aftaler: page.iter().map(dataaftale_pb).collect(), naeste_side }))
    }

    /// Steps 2–4 of the call-time enforcement; a refusal is logged durably before it is answered.
    async fn check_access(
        &self,
        request: Request<CheckAccessRequest>,
    ) -> Result<Response<CheckAccessResponse>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let req = request.into_inner();
        if req.ejere.len() > MAX_EJERE {
            return Err(Status::invalid_argument("for mange dataejere i ét kald"));
        }
        let ejere: Vec<EjerRef> = req
            .ejere
            .iter()
            .filter_map(|e| match e.r#type() {
                OrganisationType::Kommune => Some(EjerRef::Kommune(e.kode.clone())),
                OrganisationType::PrivatEjer => Some(EjerRef::PrivatEjer(e.kode.clone())),
                _ => None,
            })
            .collect();
        if ejere.len() != req.ejere.len() {
            return Err(Status::invalid_argument("en dataejer skal være en kommune eller en privat ejer"));
        }
        let fakta = self
            .store
            .adgang_fakta(&req.udbydersystem_id, &req.servicekode, &req.operation, &ejere)
            .await
            .map_err(internal)?;
        let mut decision = adgang::decide(&fakta, &req.servicekode, &req.operation);
        if decision.is_ok() && req.fuldt_udtraek {
            decision = self.within_limit(&req.udbydersystem_id).await?;
        }
        let answer = match decision {
            Ok(()) => CheckAccessResponse { tilladt: true, ..Default::default() },
            Err(afvisning) => {
                let log = Afvisningslog {
                    brugernavn: String::new(),
                    system_id: req.udbydersystem_id,
                    servicekode: req.servicekode,
                    operation: req.operation,
                    fejlkode: afvisning.kode.to_owned(),
                    besked: afvisning.besked.clone(),
                    correlation_id: ctx.correlation_id,
                };
                self.store.log_afvisning(&log).await.map_err(internal)?;
                tracing::info!(system = %log.system_id, operation = %log.operation, code = afvisning.kode, "call refused");
                CheckAccessResponse {
                    tilladt: false,
                    fejlkode: log.fejlkode,
                    besked: log.besked,
                    tilladte_ejere: vec![],
                }
            }
        };
        Ok(Response::new(answer))
    }

    /// The registry check's findings, one mail per owner and run (a repeated hand-over sends
    /// nothing new).
    async fn meld_registerfund(
        &self,
        request: Request<MeldRegisterfundRequest>,
    ) -> Result<Response<MeldRegisterfundResponse>, Status> {
        let r = request.into_inner();
        let mut per_ejer: std::collections::BTreeMap<(i32, String), Vec<crate::notifikation::Registerfund>> =
            Default::default();
        for f in r.fund {
            let Some(ejer) = f.ejer else {
                return Err(Status::invalid_argument("et fund skal have en dataejer"));
            };
            let fund = crate::notifikation::Registerfund {
                enhedstype: f.enhedstype,
                nummer: f.nummer,
                kode: f.kode,
                besked: f.besked,
            };
            per_ejer.entry((ejer.r#type, ejer.kode)).or_default().push(fund);
        }
        let mut meldinger = Vec::with_capacity(per_ejer.len());
        for ((type_, kode), fund) in per_ejer {
            let ejer = match OrganisationType::try_from(type_) {
                Ok(OrganisationType::Kommune) => EjerRef::Kommune(kode),
                Ok(OrganisationType::PrivatEjer) => EjerRef::PrivatEjer(kode),
                _ => return Err(Status::invalid_argument("en dataejer skal være en kommune eller en privat ejer")),
            };
            meldinger.push((ejer, crate::notifikation::registerfund(r.koersel_id, &fund)));
        }
        let meldt = self.store.meld_registerfund(r.koersel_id, &meldinger).await.map_err(internal)?;
        Ok(Response::new(MeldRegisterfundResponse { ejere_meldt: i32::try_from(meldt).unwrap_or(i32::MAX) }))
    }

    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let ctx = CallerContext::from_metadata(request.metadata());
        let req = request.into_inner();
        let login = if req.brugernavn.len() > MAX_CREDENTIAL_LEN || req.adgangskode.len() > MAX_CREDENTIAL_LEN {
            None
        } else {
            self.store.login(&req.brugernavn).await.map_err(internal)?
        };
        let hashes = login.as_ref().map(|l| l.hashes.as_slice()).unwrap_or_default();
        let ok = self.legitimationer.verify(&req.brugernavn, &req.adgangskode, hashes).await;
        let brugernavn: String = req.brugernavn.chars().take(64).collect();
        let answer = match (ok, login) {
            (true, Some(l)) => AuthenticateResponse {
                ok: true,
                udbydersystem_id: l.system_id,
                udbyder_kode: l.udbyder_kode,
                gyldig_til: l.udloeber.map(|t| prost_types::Timestamp { seconds: t.timestamp(), nanos: 0 }),
            },
            _ => {
                let log = Afvisningslog {
                    brugernavn,
                    system_id: String::new(),
                    servicekode: String::new(),
                    operation: String::new(),
                    fejlkode: UAUTENTIFICERET.into(),
                    besked: "forkert brugernavn eller adgangskode".into(),
                    correlation_id: ctx.correlation_id,
                };
                self.store.log_afvisning(&log).await.map_err(internal)?;
                AuthenticateResponse::default()
            }
        };
        Ok(Response::new(answer))
    }
}
