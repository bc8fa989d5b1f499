//! The tilslutning service's facade: every operation the gRPC adapter (and any other edge)
//! offers, on domain types, with the acting organisation named by the caller of the facade.
//! Rules live in `adgang`, `livscyklus`, `aftaler`, `systemer` and `organisationer`; every
//! change is announced to the gateways' decision caches before it is answered.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::adgang::{self, Afvisning};
use crate::aendringer::Aendringer;
use crate::aftaler::{self, AftaleSoegning};
use crate::credentials;
use crate::error::{Result, TilslutningError};
use crate::livscyklus::OPERATOER;
use crate::model::{
    Aftale, AftaleArt, AftaleFilter, AftaleStatus, Afvisningslog, Dataejer, Hvem, OrganisationInfo, OrganisationType,
    PersonInfo, Rolle, ServiceDef, SystemInfo,
};
use crate::notifikation::{self, Registerfund};
use crate::organisationer::{self, NyOrganisation};
use crate::personer;
use crate::side::Side;
use crate::store::TilslutningStore;
use crate::systemer::{self, Legitimation, SystemSoegning};

/// Fault code of a failed authentication in the access log (the caller sees HTTP 401).
const UAUTENTIFICERET: &str = "HTTP401";
/// Most owners one access decision may name.
const MAX_EJERE: usize = 16;
/// Most owners one data-access request may name.
const MAX_EJERE_PR_ANMODNING: usize = 100;
/// Longest username and password the service looks at; longer ones fail like wrong ones.
const MAX_CREDENTIAL_LEN: usize = 256;

/// One call the gateway asks about (enforcement steps 2–5).
#[derive(Debug, Clone)]
pub struct Adgangsforespoergsel {
    pub system_id: String,
    pub servicekode: String,
    pub operation: String,
    pub ejere: Vec<Dataejer>,
    pub fuldt_udtraek: bool,
}

/// A system that proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autentificeret {
    pub system_id: String,
    pub udbyder_kode: String,
    /// When the first of its valid passwords stops working (a rotation's old one), if any does.
    pub gyldig_til: Option<chrono::DateTime<chrono::Utc>>,
}

fn storage(e: crate::store::StoreError) -> TilslutningError {
    TilslutningError::storage(e)
}

pub struct Tilslutning {
    store: Arc<dyn TilslutningStore>,
    /// Full extracts per system per day; 0 = no limit.
    full_extracts_per_day: u32,
    aendringer: Aendringer,
    legitimationer: credentials::Bekraeftede,
    /// The day each system's use was last written, so it is written once a day per process.
    brugt: std::sync::Mutex<std::collections::HashMap<String, chrono::NaiveDate>>,
}

impl Tilslutning {
    pub fn new(store: Arc<dyn TilslutningStore>, full_extracts_per_day: u32) -> Self {
        Tilslutning {
            store,
            full_extracts_per_day,
            aendringer: Aendringer::Ingen,
            legitimationer: credentials::Bekraeftede::new(),
            brugt: Default::default(),
        }
    }

    /// Records a system's use today, cheaply: one small write per system per day and process.
    /// A failed write costs the login nothing; it is tried again at the next login.
    async fn noter_brug(&self, system_id: &str) {
        let today = chrono::Utc::now().date_naive();
        {
            let brugt = self.brugt.lock().unwrap_or_else(|e| e.into_inner());
            if brugt.get(system_id) == Some(&today) {
                return;
            }
        }
        match self.store().mark_brugt(system_id, &today.format("%Y-%m-%d").to_string()).await {
            Ok(()) => {
                self.brugt.lock().unwrap_or_else(|e| e.into_inner()).insert(system_id.to_owned(), today);
            }
            Err(e) => tracing::warn!(error = %e, system_id, "a system's last use was not recorded"),
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

    fn store(&self) -> &dyn TilslutningStore {
        self.store.as_ref()
    }

    /// Runs a change and announces it, whether or not all of it succeeded (a bulk decision may
    /// stop part-way with some agreements changed).
    async fn aendring<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        let r = f.await;
        self.aendringer.meld().await;
        r
    }

    // --- The service catalogue ---

    /// The operator keeps the catalogue: a service, its operations and whether each needs a
    /// data-access agreement (read by the access decision at once), its versions.
    pub async fn upsert_service(&self, aktoer: &str, def: ServiceDef) -> Result<ServiceDef> {
        if aktoer != OPERATOER {
            return Err(TilslutningError::Forbidden("kun STIL vedligeholder servicekataloget".into()));
        }
        let kode_ok = !def.servicekode.is_empty()
            && def.servicekode.len() <= 64
            && def.servicekode.bytes().all(|b| b.is_ascii_alphanumeric());
        crate::error::tekst("servicenavnet", &def.navn)?;
        crate::error::tekst("beskrivelsen", &def.beskrivelse)?;
        crate::error::tekst("formålet", &def.formaal)?;
        crate::error::tekst("dataene", &def.data)?;
        let laengder_ok =
            [&def.navn, &def.beskrivelse, &def.formaal, &def.data].iter().all(|t| t.chars().count() <= 2000)
                && def.operationer.len() <= 200
                && def.versioner.len() <= 20
                && def
                    .versioner
                    .iter()
                    .all(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !laengder_ok {
            return Err(TilslutningError::Invalid(
                "tekster højst 2000 tegn, højst 200 operationer og 20 versioner (bogstaver og cifre)".into(),
            ));
        }
        for (navn, _) in &def.operationer {
            crate::error::tekst("operationens navn", navn)?;
        }
        let ops_ok = def.operationer.iter().all(|(navn, _)| !navn.is_empty() && navn.len() <= 100);
        if !kode_ok || !ops_ok || def.navn.trim().is_empty() {
            return Err(TilslutningError::Invalid(
                "servicekode (bogstaver og cifre, højst 64), servicenavn og operationernes navne skal udfyldes".into(),
            ));
        }
        let def = ServiceDef { navn: def.navn.trim().to_owned(), ..def };
        self.aendring(async { self.store().upsert_service(&def).await.map_err(storage) }).await?;
        let all = self.list_services().await?;
        Ok(all.into_iter().find(|d| d.servicekode == def.servicekode).unwrap_or(def))
    }

    pub async fn list_services(&self) -> Result<Vec<ServiceDef>> {
        self.store().list_services().await.map_err(storage)
    }

    // --- Notification recipients: an organisation manages its own, the operator anyone's ---

    fn egen_organisation(aktoer: &str, kode: &str) -> Result<()> {
        if aktoer == kode || aktoer == OPERATOER {
            Ok(())
        } else {
            Err(TilslutningError::Forbidden("en organisation styrer kun sine egne modtagere".into()))
        }
    }

    /// Registers `email` as a recipient of `organisation`; answers the address as stored.
    pub async fn add_modtager(&self, aktoer: &str, organisation: &str, email: &str) -> Result<String> {
        Self::egen_organisation(aktoer, organisation)?;
        let email = email.trim();
        if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
            return Err(TilslutningError::Invalid(format!("{email:?} er ikke en e-mailadresse")));
        }
        if !self.store().add_modtager(organisation, email).await.map_err(storage)?
            && !self.store().modtagere(organisation).await.map_err(storage)?.iter().any(|e| e == email)
        {
            return Err(TilslutningError::NotFound(format!("organisationen {organisation} findes ikke")));
        }
        Ok(email.to_owned())
    }

    pub async fn remove_modtager(&self, aktoer: &str, organisation: &str, email: &str) -> Result<()> {
        Self::egen_organisation(aktoer, organisation)?;
        if !self.store().remove_modtager(organisation, email.trim()).await.map_err(storage)? {
            return Err(TilslutningError::NotFound("modtageren findes ikke".into()));
        }
        Ok(())
    }

    pub async fn modtagere(&self, aktoer: &str, organisation: &str) -> Result<Vec<String>> {
        Self::egen_organisation(aktoer, organisation)?;
        self.store().modtagere(organisation).await.map_err(storage)
    }

    // --- Organisations ---

    pub async fn create_organisation(&self, aktoer: &str, o: &NyOrganisation) -> Result<OrganisationInfo> {
        organisationer::create(self.store(), aktoer, o).await
    }

    pub async fn get_organisation(&self, aktoer: &str, kode: &str) -> Result<OrganisationInfo> {
        organisationer::get(self.store(), kode).await.map(|o| organisationer::som_set_af(aktoer, o))
    }

    /// The directory of organisations: every person may read it (a provider looks up the owners
    /// it asks), but the operator's comments on passive ones only the operator and the
    /// organisation itself.
    pub async fn list_organisationer(
        &self,
        aktoer: &str,
        type_: Option<OrganisationType>,
        soeg: &str,
        side: &Side,
    ) -> Result<(Vec<OrganisationInfo>, String)> {
        let (page, naeste) = organisationer::list(self.store(), type_, soeg, side).await?;
        Ok((page.into_iter().map(|o| organisationer::som_set_af(aktoer, o)).collect(), naeste))
    }

    pub async fn set_organisation_passiv(
        &self,
        aktoer: &str,
        kode: &str,
        passiv: bool,
        kommentar: &str,
    ) -> Result<OrganisationInfo> {
        self.aendring(organisationer::set_passiv(self.store(), aktoer, kode, passiv, kommentar)).await
    }

    // --- Systems ---

    pub async fn create_system(
        &self,
        aktoer: &str,
        udbyder_kode: &str,
        navn: &str,
        kontakt: &crate::model::Kontaktperson,
    ) -> Result<(SystemInfo, Legitimation)> {
        systemer::create(self.store(), aktoer, udbyder_kode, navn, kontakt).await
    }

    /// Announced like every change to a system, so no gateway keeps a state older than it.
    pub async fn rename_system(&self, aktoer: &str, id: &str, navn: &str) -> Result<SystemInfo> {
        self.aendring(systemer::rename(self.store(), aktoer, id, navn)).await
    }

    pub async fn set_system_passiv(&self, aktoer: &str, id: &str, passiv: bool) -> Result<SystemInfo> {
        self.aendring(systemer::set_passiv(self.store(), aktoer, id, passiv)).await
    }

    /// Block with a reason (`Some`) or unblock (`None`).
    pub async fn set_system_blokeret(&self, aktoer: &str, id: &str, aarsag: Option<&str>) -> Result<SystemInfo> {
        self.aendring(systemer::set_blokeret(self.store(), aktoer, id, aarsag)).await
    }

    pub async fn delete_system(&self, hvem: Hvem<'_>, id: &str) -> Result<SystemInfo> {
        self.aendring(systemer::delete(self.store(), hvem, id)).await
    }

    pub async fn list_systems(&self, aktoer: &str, s: &SystemSoegning) -> Result<(Vec<SystemInfo>, String)> {
        systemer::list(self.store(), aktoer, s).await
    }

    /// A new password, shown once; the old one keeps working for the overlap period.
    pub async fn rotate_credentials(&self, aktoer: &str, id: &str) -> Result<Legitimation> {
        self.aendring(systemer::rotate(self.store(), aktoer, id)).await
    }

    // --- Agreements ---

    pub async fn request_tilslutning(
        &self,
        hvem: Hvem<'_>,
        system_id: &str,
        servicekode: &str,
        kommentar: &str,
    ) -> Result<Aftale> {
        let store = self.store();
        self.aendring(aftaler::anmod(store, AftaleArt::Tilslutning, hvem, system_id, servicekode, None, kommentar))
            .await
    }

    /// One request for one or more owners at once, with a comment.
    pub async fn request_dataaftaler(
        &self,
        hvem: Hvem<'_>,
        system_id: &str,
        servicekode: &str,
        ejer_koder: &[String],
        kommentar: &str,
    ) -> Result<Vec<Aftale>> {
        if ejer_koder.is_empty() || ejer_koder.len() > MAX_EJERE_PR_ANMODNING {
            return Err(TilslutningError::Invalid(format!("angiv 1 til {MAX_EJERE_PR_ANMODNING} dataejere")));
        }
        self.aendring(async {
            let mut aftaler = Vec::with_capacity(ejer_koder.len());
            for ejer in ejer_koder {
                let art = AftaleArt::Data;
                aftaler.push(
                    aftaler::anmod(self.store(), art, hvem, system_id, servicekode, Some(ejer), kommentar).await?,
                );
            }
            Ok(aftaler)
        })
        .await
    }

    /// A decision on one agreement of either kind.
    pub async fn decide(
        &self,
        hvem: Hvem<'_>,
        art: AftaleArt,
        aftale_id: &str,
        til: AftaleStatus,
        kommentar: &str,
    ) -> Result<Aftale> {
        self.aendring(aftaler::beslut(self.store(), art, hvem, aftale_id, til, kommentar)).await
    }

    /// The owner approves or rejects every waiting agreement of its own at once.
    pub async fn bulk_decide_dataaftaler(
        &self,
        hvem: Hvem<'_>,
        ejer_kode: &str,
        til: AftaleStatus,
        kommentar: &str,
    ) -> Result<Vec<Aftale>> {
        if !matches!(til, AftaleStatus::Godkendt | AftaleStatus::Afvist) {
            return Err(TilslutningError::Invalid("alle ventende kan kun godkendes eller afvises".into()));
        }
        if ejer_kode != hvem.organisation {
            return Err(TilslutningError::Forbidden("kun dataejeren kan beslutte om sine dataaftaler".into()));
        }
        let ventende = AftaleFilter {
            ejer_kode: Some(ejer_kode.to_owned()),
            status: Some(AftaleStatus::Venter),
            max: i64::MAX,
            ..Default::default()
        };
        self.aendring(async {
            let mut besluttet = Vec::new();
            for a in self.store().list_aftaler(AftaleArt::Data, &ventende).await.map_err(storage)? {
                let art = AftaleArt::Data;
                besluttet.push(aftaler::beslut(self.store(), art, hvem, &a.aftale_id, til, kommentar).await?);
            }
            Ok(besluttet)
        })
        .await
    }

    pub async fn list_aftaler(
        &self,
        aktoer: &str,
        art: AftaleArt,
        s: &AftaleSoegning,
    ) -> Result<(Vec<Aftale>, String)> {
        aftaler::list(self.store(), aktoer, art, s).await
    }

    // --- Persons of the portal ---

    /// A local account; the password is answered once.
    pub async fn create_person(&self, aktoer: &str, p: &personer::NyPerson) -> Result<(PersonInfo, String)> {
        personer::create(self.store(), aktoer, p).await
    }

    pub async fn get_person(&self, id: &str) -> Result<PersonInfo> {
        personer::hent(self.store(), id).await
    }

    pub async fn set_rolle(
        &self,
        aktoer: &str,
        person_id: &str,
        organisation: &str,
        rolle: Rolle,
        har: bool,
    ) -> Result<PersonInfo> {
        personer::set_rolle(self.store(), aktoer, person_id, organisation, rolle, har).await
    }

    pub async fn list_personer(&self, aktoer: &str, soeg: &str, side: &Side) -> Result<(Vec<PersonInfo>, String)> {
        personer::list(self.store(), aktoer, soeg, side).await
    }

    /// The portal's password check of a local account.
    /// The person a verified OpenID Connect ID token names (the portal only).
    pub async fn oidc_person(&self, id: &personer::OidcIdentitet) -> Result<PersonInfo> {
        personer::oidc_login(self.store(), id).await
    }

    pub async fn authenticate_person(&self, brugernavn: &str, adgangskode: &str) -> Result<Option<PersonInfo>> {
        personer::login(self.store(), &self.legitimationer, brugernavn, adgangskode).await
    }

    /// The outbox as the operator watches it: the newest mails, their attempts and failures.
    pub async fn udbakke(&self, aktoer: &str, max: i64) -> Result<Vec<crate::store::UdbakkeLinje>> {
        if aktoer != OPERATOER {
            return Err(TilslutningError::Forbidden("kun STIL ser udbakken".into()));
        }
        let max = if max == 0 { 100 } else { max };
        if !(1..=500).contains(&max) {
            return Err(TilslutningError::Invalid("vis 1 til 500 mails".into()));
        }
        self.store().udbakke(max).await.map_err(storage)
    }

    // --- The gateway's questions ---

    /// Steps 2–5 of the call-time enforcement; a refusal is logged durably before it is answered.
    pub async fn check_access(
        &self,
        q: &Adgangsforespoergsel,
        correlation_id: &str,
    ) -> Result<std::result::Result<(), Afvisning>> {
        if q.ejere.len() > MAX_EJERE {
            return Err(TilslutningError::Invalid("for mange dataejere i ét kald".into()));
        }
        let fakta =
            self.store().adgang_fakta(&q.system_id, &q.servicekode, &q.operation, &q.ejere).await.map_err(storage)?;
        let mut decision = adgang::decide(&fakta, &q.servicekode, &q.operation);
        if decision.is_ok() && q.fuldt_udtraek {
            decision = self.within_limit(&q.system_id).await?;
        }
        if let Err(afvisning) = &decision {
            let log = Afvisningslog {
                brugernavn: String::new(),
                system_id: q.system_id.clone(),
                servicekode: q.servicekode.clone(),
                operation: q.operation.clone(),
                fejlkode: afvisning.kode.kode().to_owned(),
                besked: afvisning.besked.clone(),
                correlation_id: correlation_id.to_owned(),
            };
            self.store().log_afvisning(&log).await.map_err(storage)?;
            tracing::info!(system = %log.system_id, operation = %log.operation, code = log.fejlkode, "call refused");
        }
        Ok(decision)
    }

    /// Step 5: counts a full extract against the daily limit.
    async fn within_limit(&self, system_id: &str) -> Result<std::result::Result<(), Afvisning>> {
        if self.full_extracts_per_day == 0 {
            return Ok(Ok(()));
        }
        let dato = chrono::Utc::now().date_naive().to_string();
        let limit = i64::from(self.full_extracts_per_day);
        let counted = self.store().count_udtraek(system_id, &dato, limit).await.map_err(storage)?;
        Ok(if counted { Ok(()) } else { Err(adgang::udtraek_opbrugt(self.full_extracts_per_day)) })
    }

    /// The registry check's findings, one mail per owner and run (a repeated hand-over sends
    /// nothing new). Answers how many owners were mailed.
    pub async fn meld_registerfund(&self, koersel_id: i64, fund: Vec<(Dataejer, Registerfund)>) -> Result<usize> {
        let mut per_ejer: BTreeMap<Dataejer, Vec<Registerfund>> = BTreeMap::new();
        for (ejer, f) in fund {
            per_ejer.entry(ejer).or_default().push(f);
        }
        let meldinger: Vec<_> =
            per_ejer.into_iter().map(|(ejer, fund)| (ejer, notifikation::registerfund(koersel_id, &fund))).collect();
        self.store().meld_registerfund(koersel_id, &meldinger).await.map_err(storage)
    }

    /// Checks a system's username and password; a failure is logged durably.
    pub async fn authenticate(
        &self,
        brugernavn: &str,
        adgangskode: &str,
        correlation_id: &str,
    ) -> Result<Option<Autentificeret>> {
        let login = if brugernavn.len() > MAX_CREDENTIAL_LEN || adgangskode.len() > MAX_CREDENTIAL_LEN {
            None
        } else {
            self.store().login(brugernavn).await.map_err(storage)?
        };
        let hashes = login.as_ref().map(|l| l.hashes.as_slice()).unwrap_or_default();
        let ok = self.legitimationer.verify(brugernavn, adgangskode, hashes).await;
        match (ok, login) {
            (true, Some(l)) => {
                self.noter_brug(&l.system_id).await;
                Ok(Some(Autentificeret {
                    system_id: l.system_id,
                    udbyder_kode: l.udbyder_kode,
                    gyldig_til: l.udloeber,
                }))
            }
            _ => {
                let log = Afvisningslog {
                    brugernavn: brugernavn.chars().take(64).collect(),
                    system_id: String::new(),
                    servicekode: String::new(),
                    operation: String::new(),
                    fejlkode: UAUTENTIFICERET.into(),
                    besked: "forkert brugernavn eller adgangskode".into(),
                    correlation_id: correlation_id.to_owned(),
                };
                self.store().log_afvisning(&log).await.map_err(storage)?;
                Ok(None)
            }
        }
    }
}
