//! The gRPC face of the tilslutning service: a thin adapter over the [`Tilslutning`] facade.
//! It takes the acting organisation from the verified principal the guard put on the request
//! (who may call which RPC at all is the table in [`policy`]), converts
//! protobuf to domain types and back (`pb`), and maps the facade's errors to a status in one
//! place ([`status`]).

mod pb;
pub mod policy;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::tilslutning as proto;
use dtr_proto::tilslutning::tilslutning_service_server::TilslutningService;

use crate::aendringer::Aendringer;
use crate::aftaler::AftaleSoegning;
use crate::error::TilslutningError;
use crate::model::{AftaleArt, Hvem};
use crate::notifikation::Registerfund;
use crate::organisationer::NyOrganisation;
use crate::personer::{NyPerson, OidcIdentitet};
use crate::service::{Adgangsforespoergsel, Tilslutning};
use crate::store::TilslutningStore;
use crate::systemer::SystemSoegning;

pub struct TilslutningGrpc {
    tilslutning: Tilslutning,
}

impl TilslutningGrpc {
    pub fn new(store: Arc<dyn TilslutningStore>, full_extracts_per_day: u32) -> Self {
        TilslutningGrpc { tilslutning: Tilslutning::new(store, full_extracts_per_day) }
    }

    /// Where changes are announced to the gateways' decision caches.
    pub fn med_aendringer(self, aendringer: Aendringer) -> Self {
        TilslutningGrpc { tilslutning: self.tilslutning.med_aendringer(aendringer) }
    }

    /// How many argon2 verifications this service has run (the credential cache spares most).
    pub fn argon2_koersler(&self) -> u64 {
        self.tilslutning.argon2_koersler()
    }
}

/// The one mapping of the facade's errors to gRPC statuses: the gRPC code, the Danish message,
/// and the stable code in the `x-dtr-fejlkode` metadata. Storage failures are logged with their
/// text and answered without it.
pub fn status(e: TilslutningError) -> Status {
    let code = e.code();
    let mut status = match e {
        TilslutningError::Invalid(m) => Status::invalid_argument(m),
        TilslutningError::Unauthenticated(m) => Status::unauthenticated(m),
        TilslutningError::Forbidden(m) => Status::permission_denied(m),
        TilslutningError::NotFound(m) => Status::not_found(m),
        TilslutningError::AlreadyExists(m) => Status::already_exists(m),
        TilslutningError::NotAllowedNow(m) => Status::failed_precondition(m),
        TilslutningError::Conflict(m) => Status::aborted(m),
        TilslutningError::Storage(m) => {
            tracing::error!(error = %m, code, "tilslutning storage failed");
            Status::internal("intern fejl i tilslutningsservicen")
        }
        TilslutningError::Unavailable(m) => {
            tracing::warn!(error = %m, code, "tilslutning database unavailable");
            Status::unavailable("tilslutningsservicens database svarer ikke; prøv igen")
        }
    };
    status.metadata_mut().insert(FEJLKODE, tonic::metadata::MetadataValue::from_static(code));
    status
}

/// The metadata key that carries a refusal's stable code.
pub const FEJLKODE: &str = "x-dtr-fejlkode";

type Answer<T> = Result<Response<T>, Status>;

fn answer<T, U>(r: Result<T, TilslutningError>, f: impl FnOnce(T) -> U) -> Answer<U> {
    r.map(|v| Response::new(f(v))).map_err(status)
}

/// The organisation a request acts for: a person's chosen organisation or the operator's STIL.
/// Systems, parts and consumers act for no organisation here.
fn aktoer<T>(request: &Request<T>) -> Result<String, Status> {
    match CallerContext::required(request)?.principal {
        p @ (Principal::Person { .. } | Principal::Operator { .. }) => {
            Ok(p.organisation().unwrap_or_default().to_owned())
        }
        _ => Err(Status::permission_denied("kalderen handler ikke for en organisation")),
    }
}

/// The organisation a request acts for and, from the portal, the person acting: whom an
/// agreement's history names.
struct Handlende {
    organisation: String,
    person_id: Option<String>,
}

impl Handlende {
    fn hvem(&self) -> Hvem<'_> {
        Hvem { organisation: &self.organisation, person_id: self.person_id.as_deref() }
    }
}

fn handlende<T>(request: &Request<T>) -> Result<Handlende, Status> {
    let organisation = aktoer(request)?;
    let person_id = match CallerContext::required(request)?.principal {
        Principal::Person { id, .. } => Some(id),
        _ => None,
    };
    Ok(Handlende { organisation, person_id })
}

fn aftale_soegning(r: &proto::ListAftalerRequest) -> Result<AftaleSoegning, Status> {
    let status = match r.status {
        Some(s) => Some(pb::status_fra(proto::AftaleStatus::try_from(s).unwrap_or(proto::AftaleStatus::Unspecified))?),
        None => None,
    };
    Ok(AftaleSoegning {
        system_id: r.udbydersystem_id.clone(),
        servicekode: r.servicekode.clone(),
        ejer_kode: r.ejer_kode.clone(),
        status,
        med_slettede: r.med_slettede,
        side: pb::side(&r.side),
    })
}

#[tonic::async_trait]
impl TilslutningService for TilslutningGrpc {
    async fn upsert_service(&self, request: Request<proto::Service>) -> Answer<proto::Service> {
        let aktoer = aktoer(&request)?;
        let def = pb::service_def(request.into_inner());
        answer(self.tilslutning.upsert_service(&aktoer, def).await, |d| pb::service(&d))
    }

    async fn list_services(&self, request: Request<proto::ListServicesRequest>) -> Answer<proto::ListServicesResponse> {
        aktoer(&request)?;
        answer(self.tilslutning.list_services().await, |all| proto::ListServicesResponse {
            services: all.iter().map(pb::service).collect(),
        })
    }

    async fn add_notifikationsmodtager(
        &self,
        request: Request<proto::Notifikationsmodtager>,
    ) -> Answer<proto::Notifikationsmodtager> {
        let aktoer = aktoer(&request)?;
        let m = request.into_inner();
        let r = self.tilslutning.add_modtager(&aktoer, &m.organisation_kode, &m.email).await;
        answer(r, |email| proto::Notifikationsmodtager { organisation_kode: m.organisation_kode, email })
    }

    async fn remove_notifikationsmodtager(
        &self,
        request: Request<proto::Notifikationsmodtager>,
    ) -> Answer<proto::Notifikationsmodtager> {
        let aktoer = aktoer(&request)?;
        let m = request.into_inner();
        answer(self.tilslutning.remove_modtager(&aktoer, &m.organisation_kode, &m.email).await, |()| m)
    }

    async fn list_notifikationsmodtagere(
        &self,
        request: Request<proto::ListNotifikationsmodtagereRequest>,
    ) -> Answer<proto::ListNotifikationsmodtagereResponse> {
        let aktoer = aktoer(&request)?;
        let kode = request.into_inner().organisation_kode;
        answer(self.tilslutning.modtagere(&aktoer, &kode).await, |emails| proto::ListNotifikationsmodtagereResponse {
            modtagere: emails
                .into_iter()
                .map(|email| proto::Notifikationsmodtager { organisation_kode: kode.clone(), email })
                .collect(),
        })
    }

    async fn create_organisation(
        &self,
        request: Request<proto::CreateOrganisationRequest>,
    ) -> Answer<proto::Organisation> {
        let aktoer = aktoer(&request)?;
        let o = request.into_inner().organisation.unwrap_or_default();
        let ny = NyOrganisation {
            type_: pb::organisation_type_fra(o.r#type()),
            kode: o.kode,
            navn: o.navn,
            cvr: o.cvr,
            pnr: o.pnr,
        };
        answer(self.tilslutning.create_organisation(&aktoer, &ny).await, |o| pb::organisation(&o))
    }

    async fn get_organisation(&self, request: Request<proto::GetOrganisationRequest>) -> Answer<proto::Organisation> {
        let aktoer = aktoer(&request)?;
        answer(self.tilslutning.get_organisation(&aktoer, &request.get_ref().kode).await, |o| pb::organisation(&o))
    }

    async fn list_organisationer(
        &self,
        request: Request<proto::ListOrganisationerRequest>,
    ) -> Answer<proto::ListOrganisationerResponse> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let type_ = match r.r#type {
            Some(t) => Some(
                pb::organisation_type_fra(proto::OrganisationType::try_from(t).unwrap_or_default())
                    .ok_or_else(|| Status::invalid_argument("ukendt organisationstype"))?,
            ),
            None => None,
        };
        let page = self.tilslutning.list_organisationer(&aktoer, type_, &r.soeg, &pb::side(&r.side)).await;
        answer(page, |(page, naeste_side)| proto::ListOrganisationerResponse {
            organisationer: page.iter().map(pb::organisation).collect(),
            naeste_side,
        })
    }

    async fn set_organisation_passiv(
        &self,
        request: Request<proto::SetOrganisationPassivRequest>,
    ) -> Answer<proto::Organisation> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let o = self.tilslutning.set_organisation_passiv(&aktoer, &r.kode, r.passiv, &r.kommentar).await;
        answer(o, |o| pb::organisation(&o))
    }

    async fn create_system(&self, request: Request<proto::CreateSystemRequest>) -> Answer<proto::CreateSystemResponse> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let kontakt =
            crate::model::Kontaktperson { navn: r.kontakt_navn, email: r.kontakt_email, telefon: r.kontakt_telefon };
        answer(self.tilslutning.create_system(&aktoer, &r.udbyder_kode, &r.navn, &kontakt).await, |(s, l)| {
            proto::CreateSystemResponse { system: Some(pb::system(&s)), credentials: Some(pb::credentials(l)) }
        })
    }

    async fn rename_system(&self, request: Request<proto::RenameSystemRequest>) -> Answer<proto::System> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        answer(self.tilslutning.rename_system(&aktoer, &r.udbydersystem_id, &r.navn).await, |s| pb::system(&s))
    }

    async fn set_system_passiv(&self, request: Request<proto::SetSystemPassivRequest>) -> Answer<proto::System> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        answer(self.tilslutning.set_system_passiv(&aktoer, &r.udbydersystem_id, r.passiv).await, |s| pb::system(&s))
    }

    async fn block_system(&self, request: Request<proto::BlockSystemRequest>) -> Answer<proto::System> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let s = self.tilslutning.set_system_blokeret(&aktoer, &r.udbydersystem_id, Some(&r.aarsag)).await;
        answer(s, |s| pb::system(&s))
    }

    async fn unblock_system(&self, request: Request<proto::UnblockSystemRequest>) -> Answer<proto::System> {
        let aktoer = aktoer(&request)?;
        let s = self.tilslutning.set_system_blokeret(&aktoer, &request.get_ref().udbydersystem_id, None).await;
        answer(s, |s| pb::system(&s))
    }

    async fn delete_system(&self, request: Request<proto::DeleteSystemRequest>) -> Answer<proto::System> {
        let handlende = handlende(&request)?;
        answer(self.tilslutning.delete_system(handlende.hvem(), &request.get_ref().udbydersystem_id).await, |s| {
            pb::system(&s)
        })
    }

    async fn list_systems(&self, request: Request<proto::ListSystemsRequest>) -> Answer<proto::ListSystemsResponse> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let soegning = SystemSoegning {
            udbyder_kode: r.udbyder_kode,
            soeg: r.soeg,
            med_slettede: r.med_slettede,
            kun_ubrugte: r.kun_ubrugte,
            side: pb::side(&r.side),
        };
        answer(self.tilslutning.list_systems(&aktoer, &soegning).await, |(page, naeste_side)| {
            proto::ListSystemsResponse { systems: page.iter().map(pb::system).collect(), naeste_side }
        })
    }

    async fn rotate_credentials(
        &self,
        request: Request<proto::RotateCredentialsRequest>,
    ) -> Answer<proto::Credentials> {
        let aktoer = aktoer(&request)?;
        let id = &request.get_ref().udbydersystem_id;
        answer(self.tilslutning.rotate_credentials(&aktoer, id).await, pb::credentials)
    }

    async fn request_tilslutning(
        &self,
        request: Request<proto::RequestTilslutningRequest>,
    ) -> Answer<proto::Tilslutningsaftale> {
        let handlende = handlende(&request)?;
        let r = request.into_inner();
        let a = self
            .tilslutning
            .request_tilslutning(handlende.hvem(), &r.udbydersystem_id, &r.servicekode, &r.kommentar)
            .await;
        answer(a, |a| pb::tilslutning(&a))
    }

    async fn decide_tilslutning(&self, request: Request<proto::DecideRequest>) -> Answer<proto::Tilslutningsaftale> {
        let handlende = handlende(&request)?;
        let r = request.into_inner();
        let til = pb::status_fra(r.til())?;
        let a =
            self.tilslutning.decide(handlende.hvem(), AftaleArt::Tilslutning, &r.aftale_id, til, &r.kommentar).await;
        answer(a, |a| pb::tilslutning(&a))
    }

    async fn list_tilslutninger(
        &self,
        request: Request<proto::ListAftalerRequest>,
    ) -> Answer<proto::ListTilslutningerResponse> {
        let aktoer = aktoer(&request)?;
        let soegning = aftale_soegning(request.get_ref())?;
        answer(
            self.tilslutning.list_aftaler(&aktoer, AftaleArt::Tilslutning, &soegning).await,
            |(page, naeste_side)| proto::ListTilslutningerResponse {
                aftaler: page.iter().map(pb::tilslutning).collect(),
                naeste_side,
            },
        )
    }

    async fn request_dataaftaler(
        &self,
        request: Request<proto::RequestDataaftalerRequest>,
    ) -> Answer<proto::RequestDataaftalerResponse> {
        let handlende = handlende(&request)?;
        let r = request.into_inner();
        let aftaler = self
            .tilslutning
            .request_dataaftaler(handlende.hvem(), &r.udbydersystem_id, &r.servicekode, &r.ejer_koder, &r.kommentar)
            .await;
        answer(aftaler, |a| proto::RequestDataaftalerResponse { dataaftaler: a.iter().map(pb::dataaftale).collect() })
    }

    async fn decide_dataaftale(&self, request: Request<proto::DecideRequest>) -> Answer<proto::Dataaftale> {
        let handlende = handlende(&request)?;
        let r = request.into_inner();
        let til = pb::status_fra(r.til())?;
        let a = self.tilslutning.decide(handlende.hvem(), AftaleArt::Data, &r.aftale_id, til, &r.kommentar).await;
        answer(a, |a| pb::dataaftale(&a))
    }

    async fn bulk_decide_dataaftaler(
        &self,
        request: Request<proto::BulkDecideRequest>,
    ) -> Answer<proto::BulkDecideResponse> {
        let handlende = handlende(&request)?;
        let r = request.into_inner();
        let til = pb::status_fra(r.til())?;
        let besluttet =
            self.tilslutning.bulk_decide_dataaftaler(handlende.hvem(), &r.ejer_kode, til, &r.kommentar).await;
        answer(besluttet, |a| proto::BulkDecideResponse { dataaftaler: a.iter().map(pb::dataaftale).collect() })
    }

    async fn list_dataaftaler(
        &self,
        request: Request<proto::ListAftalerRequest>,
    ) -> Answer<proto::ListDataaftalerResponse> {
        let aktoer = aktoer(&request)?;
        let soegning = aftale_soegning(request.get_ref())?;
        answer(self.tilslutning.list_aftaler(&aktoer, AftaleArt::Data, &soegning).await, |(page, naeste_side)| {
            proto::ListDataaftalerResponse { aftaler: page.iter().map(pb::dataaftale).collect(), naeste_side }
        })
    }

    async fn check_access(&self, request: Request<proto::CheckAccessRequest>) -> Answer<proto::CheckAccessResponse> {
        let ctx = CallerContext::required(&request)?;
        let r = request.into_inner();
        let q = Adgangsforespoergsel {
            ejere: r.ejere.iter().map(pb::ejer).collect::<Result<_, _>>()?,
            system_id: r.udbydersystem_id,
            servicekode: r.servicekode,
            operation: r.operation,
            fuldt_udtraek: r.fuldt_udtraek,
        };
        answer(self.tilslutning.check_access(&q, &ctx.correlation_id).await, |decision| match decision {
            Ok(()) => proto::CheckAccessResponse { tilladt: true, ..Default::default() },
            Err(afvisning) => proto::CheckAccessResponse {
                tilladt: false,
                fejlkode: afvisning.kode.kode().to_owned(),
                besked: afvisning.besked,
                tilladte_ejere: vec![],
            },
        })
    }

    async fn meld_registerfund(
        &self,
        request: Request<proto::MeldRegisterfundRequest>,
    ) -> Answer<proto::MeldRegisterfundResponse> {
        let r = request.into_inner();
        let mut fund = Vec::with_capacity(r.fund.len());
        for f in r.fund {
            let Some(ejer) = &f.ejer else {
                return Err(Status::invalid_argument("et fund skal have en dataejer"));
            };
            let ejer = pb::ejer(ejer)?;
            fund.push((
                ejer,
                Registerfund { enhedstype: f.enhedstype, nummer: f.nummer, kode: f.kode, besked: f.besked },
            ));
        }
        answer(self.tilslutning.meld_registerfund(r.koersel_id, fund).await, |meldt| proto::MeldRegisterfundResponse {
            ejere_meldt: i32::try_from(meldt).unwrap_or(i32::MAX),
        })
    }

    async fn authenticate_person(
        &self,
        request: Request<proto::AuthenticatePersonRequest>,
    ) -> Answer<proto::AuthenticatePersonResponse> {
        let r = request.into_inner();
        answer(self.tilslutning.authenticate_person(&r.brugernavn, &r.adgangskode).await, |p| {
            proto::AuthenticatePersonResponse { ok: p.is_some(), person: p.as_ref().map(pb::person) }
        })
    }

    async fn get_person(&self, request: Request<proto::GetPersonRequest>) -> Answer<proto::Person> {
        answer(self.tilslutning.get_person(&request.get_ref().person_id).await, |p| pb::person(&p))
    }

    async fn authenticate_oidc_person(
        &self,
        request: Request<proto::AuthenticateOidcPersonRequest>,
    ) -> Answer<proto::Person> {
        let r = request.into_inner();
        let id = OidcIdentitet {
            issuer: r.issuer,
            subject: r.subject,
            navn: r.navn,
            email: r.email,
            cvr_med_ret: r.cvr_med_ret,
        };
        answer(self.tilslutning.oidc_person(&id).await, |p| pb::person(&p))
    }

    async fn create_person(&self, request: Request<proto::CreatePersonRequest>) -> Answer<proto::CreatePersonResponse> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let ny = NyPerson { brugernavn: r.brugernavn, navn: r.navn, email: r.email };
        answer(self.tilslutning.create_person(&aktoer, &ny).await, |(p, adgangskode)| proto::CreatePersonResponse {
            person: Some(pb::person(&p)),
            adgangskode,
        })
    }

    async fn set_rolle(&self, request: Request<proto::SetRolleRequest>) -> Answer<proto::Person> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        let rolle = pb::rolle_fra(r.rolle())?;
        let p = self.tilslutning.set_rolle(&aktoer, &r.person_id, &r.organisation_kode, rolle, r.har).await;
        answer(p, |p| pb::person(&p))
    }

    async fn list_personer(&self, request: Request<proto::ListPersonerRequest>) -> Answer<proto::ListPersonerResponse> {
        let aktoer = aktoer(&request)?;
        let r = request.into_inner();
        answer(self.tilslutning.list_personer(&aktoer, &r.soeg, &pb::side(&r.side)).await, |(page, naeste_side)| {
            proto::ListPersonerResponse { personer: page.iter().map(pb::person).collect(), naeste_side }
        })
    }

    async fn list_udbakke(&self, request: Request<proto::ListUdbakkeRequest>) -> Answer<proto::ListUdbakkeResponse> {
        let aktoer = aktoer(&request)?;
        let max = i64::from(request.get_ref().max);
        answer(self.tilslutning.udbakke(&aktoer, max).await, |mails| proto::ListUdbakkeResponse {
            mails: mails
                .into_iter()
                .map(|m| proto::UdbakkeMail {
                    id: m.id,
                    modtager: m.modtager,
                    emne: m.emne,
                    forsoeg: m.forsoeg,
                    sidste_fejl: m.sidste_fejl.unwrap_or_default(),
                    sendt: m.sendt,
                })
                .collect(),
        })
    }

    async fn authenticate(&self, request: Request<proto::AuthenticateRequest>) -> Answer<proto::AuthenticateResponse> {
        let ctx = CallerContext::required(&request)?;
        let r = request.into_inner();
        let login = self.tilslutning.authenticate(&r.brugernavn, &r.adgangskode, &ctx.correlation_id).await;
        answer(login, |login| match login {
            Some(a) => proto::AuthenticateResponse {
                ok: true,
                udbydersystem_id: a.system_id,
                udbyder_kode: a.udbyder_kode,
                gyldig_til: a.gyldig_til.map(|t| prost_types::Timestamp { seconds: t.timestamp(), nanos: 0 }),
            },
            None => proto::AuthenticateResponse::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_keeps_its_code_and_only_storage_hides_its_text() {
        let cases = [
            (TilslutningError::Invalid("x".into()), tonic::Code::InvalidArgument),
            (TilslutningError::Unauthenticated("x".into()), tonic::Code::Unauthenticated),
            (TilslutningError::Forbidden("x".into()), tonic::Code::PermissionDenied),
            (TilslutningError::NotFound("x".into()), tonic::Code::NotFound),
            (TilslutningError::AlreadyExists("x".into()), tonic::Code::AlreadyExists),
            (TilslutningError::NotAllowedNow("x".into()), tonic::Code::FailedPrecondition),
            (TilslutningError::Conflict("x".into()), tonic::Code::Aborted),
            (TilslutningError::Storage("db at 10.0.0.7 refused".into()), tonic::Code::Internal),
        ];
        let mut codes = std::collections::BTreeSet::new();
        for (e, want) in cases {
            let code = e.code();
            let s = status(e);
            assert_eq!(s.code(), want);
            assert_eq!(s.metadata().get(FEJLKODE).and_then(|v| v.to_str().ok()), Some(code));
            assert!(!s.message().contains("10.0.0.7"), "{}", s.message());
            assert!(codes.insert(code), "{code} is used twice");
        }
    }
}
