//! Agreements: requests by the provider, decisions by the operator (connections) and the owners
//! (data access), listings with history. `aktoer` is the organisation acting.

use crate::error::{Result, TilslutningError};
use crate::livscyklus::{self, OPERATOER};
use crate::model::{Aftale, AftaleArt, AftaleFilter, AftaleStatus, Hvem};
use crate::side::{self, Side};
use crate::store::TilslutningStore;

/// Which agreements a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct AftaleSoegning {
    pub system_id: String,
    pub servicekode: String,
    pub ejer_kode: String,
    pub status: Option<AftaleStatus>,
    pub med_slettede: bool,
    pub side: Side,
}

fn storage(e: crate::store::StoreError) -> TilslutningError {
    TilslutningError::storage(e)
}

fn kommentar(k: &str) -> Result<&str> {
    crate::error::tekst("kommentaren", k)?;
    if k.chars().count() > 1000 {
        return Err(TilslutningError::Invalid("kommentaren må højst være 1000 tegn".into()));
    }
    Ok(k.trim())
}

/// The provider that owns `system_id` must be the one acting (or the operator).
async fn som_udbyder(store: &dyn TilslutningStore, aktoer: &str, system_id: &str) -> Result<()> {
    match store.system_udbyder(system_id).await.map_err(storage)? {
        None => Err(TilslutningError::NotFound(format!("systemet {system_id} findes ikke"))),
        Some(udbyder) if udbyder == aktoer || aktoer == OPERATOER => Ok(()),
        Some(_) => Err(TilslutningError::Forbidden("kun systemets egen leverandør kan anmode for det".into())),
    }
}

/// The live agreement system × service (× owner), if any.
async fn levende(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    system_id: &str,
    servicekode: &str,
    ejer: Option<&str>,
) -> Result<Option<Aftale>> {
    let filter = AftaleFilter {
        system_id: Some(system_id.to_owned()),
        servicekode: Some(servicekode.to_owned()),
        ejer_kode: ejer.map(str::to_owned),
        max: 1,
        ..AftaleFilter::default()
    };
    Ok(store.list_aftaler(art, &filter).await.map_err(storage)?.into_iter().next())
}

/// A provider's request: creates the agreement as VENTER, sends a rejected one back to VENTER,
/// returns a waiting or approved one unchanged (one live agreement per key).
pub async fn anmod(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    hvem: Hvem<'_>,
    system_id: &str,
    servicekode: &str,
    ejer: Option<&str>,
    kommentar_tekst: &str,
) -> Result<Aftale> {
    let kommentar = kommentar(kommentar_tekst)?;
    som_udbyder(store, hvem.organisation, system_id).await?;
    if let Some(a) = levende(store, art, system_id, servicekode, ejer).await? {
        if let Some(til) = livscyklus::genanmod(a.status)
            && !store.skift_status(art, &a.aftale_id, a.status, til, hvem, kommentar).await.map_err(storage)?
        {
            return Err(TilslutningError::Conflict("aftalen blev ændret imens; prøv igen".into()));
        }
        return hent(store, art, &a.aftale_id).await;
    }
    let id = match (art, ejer) {
        (AftaleArt::Tilslutning, _) => {
            store.set_tilslutning(system_id, servicekode, AftaleStatus::Venter, hvem, kommentar).await
        }
        (AftaleArt::Data, Some(ejer)) => {
            store.set_dataaftale(system_id, servicekode, ejer, AftaleStatus::Venter, hvem, kommentar).await
        }
        (AftaleArt::Data, None) => return Err(TilslutningError::Invalid("angiv dataejeren".into())),
    };
    hent(store, art, &id.map_err(storage)?).await
}

async fn hent(store: &dyn TilslutningStore, art: AftaleArt, aftale_id: &str) -> Result<Aftale> {
    store
        .get_aftale(art, aftale_id)
        .await
        .map_err(storage)?
        .ok_or_else(|| TilslutningError::NotFound(format!("aftalen {aftale_id} findes ikke")))
}

/// A decision on one agreement: by the operator (connections) or the owner (data access), only
/// along the life cycle. A refused decision changes nothing.
pub async fn beslut(
    store: &dyn TilslutningStore,
    art: AftaleArt,
    hvem: Hvem<'_>,
    aftale_id: &str,
    til: AftaleStatus,
    kommentar_tekst: &str,
) -> Result<Aftale> {
    let kommentar = kommentar(kommentar_tekst)?;
    let aftale = hent(store, art, aftale_id).await?;
    let maa = match art {
        AftaleArt::Tilslutning => hvem.organisation == OPERATOER,
        AftaleArt::Data => aftale.ejer_kode.as_deref() == Some(hvem.organisation),
    };
    if !maa {
        return Err(TilslutningError::Forbidden(match art {
            AftaleArt::Tilslutning => "kun STIL kan beslutte om tilslutningsaftaler".to_owned(),
            AftaleArt::Data => "kun dataejeren kan beslutte om sin dataaftale".to_owned(),
        }));
    }
    let regel = match art {
        AftaleArt::Tilslutning => livscyklus::tilslutning(aftale.status, til),
        AftaleArt::Data => livscyklus::dataaftale(aftale.status, til),
    };
    regel.map_err(|e| TilslutningError::NotAllowedNow(e.0))?;
    if !store.skift_status(art, aftale_id, aftale.status, til, hvem, kommentar).await.map_err(storage)? {
        return Err(TilslutningError::Conflict("aftalen blev ændret imens; hent den igen og beslut på ny".into()));
    }
    hent(store, art, aftale_id).await
}

/// A page of agreements and the token of the next (empty when this was the last).
/// The agreements matching `s` that `aktoer` is a party to (the operator sees all).
pub async fn list(
    store: &dyn TilslutningStore,
    aktoer: &str,
    art: AftaleArt,
    s: &AftaleSoegning,
) -> Result<(Vec<Aftale>, String)> {
    let max = s.side.stoerrelse("aftaler")?;
    let nonempty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let filter = AftaleFilter {
        system_id: nonempty(&s.system_id),
        servicekode: nonempty(&s.servicekode),
        ejer_kode: nonempty(&s.ejer_kode),
        status: s.status,
        med_slettede: s.med_slettede,
        efter: nonempty(&s.side.token),
        // One more than the page, to know whether another follows.
        max: max + 1,
        part_i: (aktoer != OPERATOER).then(|| aktoer.to_owned()),
    };
    let mut page = store.list_aftaler(art, &filter).await.map_err(storage)?;
    let naeste = side::klip(&mut page, max, |a| a.aftale_id.clone());
    Ok((page, naeste))
}
