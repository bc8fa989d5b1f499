//! The agreement operations of the gRPC service: requests by the provider, decisions by the
//! operator (connections) and the owners (data access), bulk decisions, listings with history.
//! Who acts is the organisation in the caller context (`x-dtr-organisation`).

use chrono::{DateTime, Utc};
use tonic::Status;

use dtr_proto::tilslutning as pb;

use crate::livscyklus::{self, OPERATOER};
use crate::model::{Aftale, AftaleArt, AftaleFilter, AftaleStatus};
use crate::side;
use crate::store::TilslutningStore;

pub fn status_pb(s: AftaleStatus) -> pb::AftaleStatus {
    match s {
        AftaleStatus::Venter => pb::AftaleStatus::Venter,
        AftaleStatus::Godkendt => pb::AftaleStatus::Godkendt,
        AftaleStatus::Afvist => pb::AftaleStatus::Afvist,
        AftaleStatus::Slettet => pb::AftaleStatus::Slettet,
    }
}

pub fn status_fra_pb(s: pb::AftaleStatus) -> Result<AftaleStatus, Status> {
    match s {
        pb::AftaleStatus::Venter => Ok(AftaleStatus::Venter),
        pb::AftaleStatus::Godkendt => Ok(AftaleStatus::Godkendt),
        pb::AftaleStatus::Afvist => Ok(AftaleStatus::Afvist),
        pb::AftaleStatus::Slettet => Ok(AftaleStatus::Slettet),
        pb::AftaleStatus::Unspecified => {
            Err(Status::invalid_argument("angiv en status: VENTER, GODKENDT, AFVIST eller SLETTET"))
        }
    }
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

fn historik(a: &Aftale) -> Vec<pb::HistorikLinje> {
    a.historik
        .iter()
        .map(|h| pb::HistorikLinje {
            aktoer: h.aktoer.clone(),
            tidspunkt: Some(timestamp(h.tidspunkt)),
            fra: h.fra.map_or(pb::AftaleStatus::Unspecified, status_pb) as i32,
            til: status_pb(h.til) as i32,
            kommentar: h.kommentar.clone(),
        })
        .collect()
}

pub fn tilslutning_pb(a: &Aftale) -> pb::Tilslutningsaftale {
    pb::Tilslutningsaftale {
        aftale_id: a.aftale_id.clone(),
        udbydersystem_id: a.system_id.clone(),
        servicekode: a.servicekode.clone(),
        status: status_pb(a.status) as i32,
        historik: historik(a),
    }
}

pub fn dataaftale_pb(a: &Aftale) -> pb::Dataaftale {
    pb::Dataaftale {
        aftale_id: a.aftale_id.clone(),
        udbydersystem_id: a.system_id.clone(),
        servicekode: a.servicekode.clone(),
        ejer_kode: a.ejer_kode.clone().unwrap_or_default(),
        aftale_status: status_pb(a.status) as i32,
        historik: historik(a),
    }
}

pub fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "tilslutning storage failed");
    Status::internal("intern fejl i tilslutningsservicen")
}

fn kommentar(k: &str) -> Result<&str, Status> {
    if k.chars().count() > 1000 {
        return Err(Status::invalid_argument("kommentaren må højst være 1000 tegn"));
    }
    Ok(k.trim())
}

/// The acting organisation, required.
pub fn aktoer(organisation: Option<&str>) -> Result<String, Status> {
    organisation
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Status::unauthenticated("kaldet mangler den handlende organisation (x-dtr-organisation)"))
}

/// The provider that owns `system_id` must be the one acting (or the operator).
async fn som_udbyder(store: &dyn TilslutningStore, aktoer: &str, system_id: &str) -> Result<(), Status> {
    match store.system_udbyder(system_id).await.map_err(internal)? {
        None => Err(Status::not_found(format!("systemet {system_id} findes ikke"))),
        Some(udbyder) if udbyder == aktoer || aktoer == OPERATOER => Ok(()),
        Some(_) => Err(Status::permission_denied("kun systemets egen leverandør kan anmode for det")),
    }
}

/// The live agreement system × service (× owner), if any.
async fn levende(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    system_id: &str,
    servicekode: &str,
    ejer: Option<&str>,
) -> Result<Option<Aftale>, Status> {
    let filter = AftaleFilter {
        system_id: Some(system_id.to_owned()),
        servicekode: Some(servicekode.to_owned()),
        ejer_kode: ejer.map(str::to_owned),
        max: 1,
        ..AftaleFilter::default()
    };
    Ok(store.list_aftaler(art, &filter).await.map_err(internal)?.into_iter().next())
}

/// A provider's request: creates the agreement as VENTER, sends a rejected one back to VENTER,
/// returns a waiting or approved one unchanged (one live agreement per key).
pub async fn anmod(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    aktoer: &str,
    system_id: &str,
    servicekode: &str,
    ejer: Option<&str>,
    kommentar_tekst: &str,
) -> Result<Aftale, Status> {
    let kommentar = kommentar(kommentar_tekst)?;
    som_udbyder(store, aktoer, system_id).await?;
    if let Some(a) = levende(store, art, system_id, servicekode, ejer).await? {
        if let Some(til) = livscyklus::genanmod(a.status)
            && !store.skift_status(art, &a.aftale_id, a.status, til, aktoer, kommentar).await.map_err(internal)?
        {
            return Err(Status::aborted("aftalen blev ændret imens; prøv igen"));
        }
        return hent(store, art, &a.aftale_id).await;
    }
    let id = match (art, ejer) {
        (AftaleArt::Tilslutning, _) => {
            store.set_tilslutning(system_id, servicekode, AftaleStatus::Venter, aktoer, kommentar).await
        }
        (AftaleArt::Data, Some(ejer)) => {
            store.set_dataaftale(system_id, servicekode, ejer, AftaleStatus::Venter, aktoer, kommentar).await
        }
        (AftaleArt::Data, None) => return Err(Status::invalid_argument("angiv dataejeren")),
    };
    hent(store, art, &id.map_err(internal)?).await
}

async fn hent(store: &dyn TilslutningStore, art: AftaleArt, aftale_id: &str) -> Result<Aftale, Status> {
    store
        .get_aftale(art, aftale_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| Status::not_found(format!("aftalen {aftale_id} findes ikke")))
}

/// A decision on one agreement: by the operator (connections) or the owner (data access), only
/// along the life cycle. A refused decision changes nothing.
pub async fn beslut(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    aktoer: &str,
    aftale_id: &str,
    til: AftaleStatus,
    kommentar_tekst: &str,
) -> Result<Aftale, Status> {
    let kommentar = kommentar(kommentar_tekst)?;
    let aftale = hent(store, art, aftale_id).await?;
    let maa = match art {
        AftaleArt::Tilslutning => aktoer == OPERATOER,
        AftaleArt::Data => aftale.ejer_kode.as_deref() == Some(aktoer),
    };
    if !maa {
        return Err(Status::permission_denied(match art {
            AftaleArt::Tilslutning => "kun STIL kan beslutte om tilslutningsaftaler".to_owned(),
            AftaleArt::Data => "kun dataejeren kan beslutte om sin dataaftale".to_owned(),
        }));
    }
    let regel = match art {
        AftaleArt::Tilslutning => livscyklus::tilslutning(aftale.status, til),
        AftaleArt::Data => livscyklus::dataaftale(aftale.status, til),
    };
    regel.map_err(|e| Status::failed_precondition(e.0))?;
    if !store.skift_status(art, aftale_id, aftale.status, til, aktoer, kommentar).await.map_err(internal)? {
        return Err(Status::aborted("aftalen blev ændret imens; hent den igen og beslut på ny"));
    }
    hent(store, art, aftale_id).await
}

/// The filter and page size of a listing request.
pub fn filter(req: &pb::ListAftalerRequest) -> Result<AftaleFilter, Status> {
    let max = side::stoerrelse(&req.side, "aftaler")?;
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(AftaleFilter {
        system_id: nonempty(&req.udbydersystem_id),
        servicekode: nonempty(&req.servicekode),
        ejer_kode: nonempty(&req.ejer_kode),
        status: match req.status {
            Some(s) => Some(status_fra_pb(pb::AftaleStatus::try_from(s).unwrap_or(pb::AftaleStatus::Unspecified))?),
            None => None,
        },
        med_slettede: req.med_slettede,
        efter: nonempty(&side::token(&req.side)),
        // One more than the page, to know whether another follows.
        max: max + 1,
    })
}

/// A page and the token of the next (empty when this was the last).
pub async fn list(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    f: AftaleFilter,
) -> Result<(Vec<Aftale>, String), Status> {
    let mut page = store.list_aftaler(art, &f).await.map_err(internal)?;
    let naeste = side::klip(&mut page, f.max - 1, |a| a.aftale_id.clone());
    Ok((page, naeste))
}
