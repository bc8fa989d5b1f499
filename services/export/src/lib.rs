//! gRPC ExportService: the register's read side. Lookups answer one message; full extracts are
//! server streams fed record by record from a database cursor (see [`dtr_registry::storage::Udtraek`]),
//! so neither side holds the register in memory and a caller that hangs up stops the query.

use std::sync::Arc;

use futures::StreamExt;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use dtr_proto::export::export_service_server::ExportService;
use dtr_proto::export::{
    AendringerRequest, AendringerResponse, AlternativAdresserExtend, AnvisningsenhederExtend, CvrnummerRequest,
    DaginstitutionerExtend, GetAllRequest, HelloWorldRequest, HelloWorldResponse, HistorikResponse, KodetabelRequest,
    Kodetabeller, KommuneRequest, NavnRequest, NummerRequest, PnummerRequest, Registerfund as RegisterfundPb,
    RegisterfundRequest, RegisterfundResponse,
};
use dtr_proto::registry as pb;
use dtr_registry::codes::{self, CodeTables};
use dtr_registry::model::{
    Adresse, Aktivitetsstatus, AlternativAdresse, Anvisningsenhed, Daginstitution, Dagtilbud, Registerfelter,
};
use dtr_registry::storage::{
    AdresseFilter, AendringMedTilstand, DagtilbudFilter, EnhedFilter, StoreError, Tilstand, Udtraek,
};
use dtr_registry::{Registry, RegistryError};

pub mod policy;

pub struct ExportGrpc {
    registry: Registry,
}

impl ExportGrpc {
    pub fn new(registry: Registry) -> Self {
        ExportGrpc { registry }
    }
}

fn status(e: RegistryError) -> Status {
    match e {
        RegistryError::Unavailable(e) => {
            tracing::warn!(error = %e, "export read: database unavailable");
            Status::unavailable("registeret svarer ikke; prøv igen")
        }
        e => {
            tracing::error!(error = %e, "export read failed");
            Status::internal("registeret kunne ikke læses")
        }
    }
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

fn adresse(a: Adresse) -> pb::Adresse {
    pb::Adresse {
        vej_navn: a.vej_navn,
        hus_nummer: a.hus_nummer,
        etage: a.etage,
        doer: a.doer,
        post_nummer: a.post_nummer,
        post_distrikt: a.post_distrikt,
        supplerende_bynavn: a.supplerende_bynavn,
        kommune_kode: a.kommune_kode,
        dar_adresse_id: a.dar_adresse_id,
        geo_bredde: a.geo_bredde,
        geo_laengde: a.geo_laengde,
    }
}

/// The `…Extend` shape of an anvisningsenhed.
pub fn anvisningsenhed_extend(a: Anvisningsenhed, codes: &CodeTables) -> pb::AnvisningsenhedExtend {
    pb::AnvisningsenhedExtend {
        inst_type3_tekst: tekst(codes, codes::INSTTYPE3, a.data.inst_type3),
        kommune_kode_tekst: tekst(codes, codes::KOMMUNER, a.data.adresse.kommune_kode),
        register: Some(registerfelter(&a.register)),
        anvisningsenhed: Some(pb::Anvisningsenhed {
            enheds_nummer: a.nummer,
            daginstitutions_nummer: a.data.daginstitutions_nummer,
            enheds_navn: a.data.navn,
            adresse: Some(adresse(a.data.adresse)),
            inst_type3: a.data.inst_type3,
            email: a.data.email,
            telefon_nummer: a.data.telefon_nummer,
            cvr_nummer: a.cvr_nummer,
            p_nummer: a.data.p_nummer,
        }),
    }
}

/// The `…Extend` shape of an alternativ adresse.
pub fn alternativ_adresse_extend(a: AlternativAdresse, codes: &CodeTables) -> pb::AlternativAdresseExtend {
    pb::AlternativAdresseExtend {
        kommune_kode_tekst: tekst(codes, codes::KOMMUNER, a.data.adresse.kommune_kode),
        register: Some(registerfelter(&a.register)),
        alternativ_adresse: Some(pb::AlternativAdresse {
            alternativ_adresse_nummer: a.nummer,
            enheds_nummer: a.data.enheds_nummer,
            alternativ_adresse_navn: a.data.navn,
            adresse: Some(adresse(a.data.adresse)),
            p_nummer: a.data.p_nummer,
            cvr_nummer: a.cvr_nummer,
            email: a.data.email,
            telefon_nummer: a.data.telefon_nummer,
        }),
    }
}

/// The nested `dagtilbudsRegister` record.
pub fn dagtilbud(d: Dagtilbud, codes: &CodeTables) -> pb::Dagtilbud {
    pb::Dagtilbud {
        daginstitution: Some(daginstitution_extend(d.daginstitution, codes)),
        anvisningsenheder: d
            .anvisningsenheder
            .into_iter()
            .map(|(a, adresser)| pb::AnvisningsenhedMedAdresser {
                anvisningsenhed: Some(anvisningsenhed_extend(a, codes)),
                alternative_adresser: adresser.into_iter().map(|l| alternativ_adresse_extend(l, codes)).collect(),
            })
            .collect(),
    }
}

/// A store extract as a gRPC stream of export records. Dropping it (the caller hung up) drops
/// the extract, which stops the database read.
fn grpc_stream<T, U>(udtraek: Udtraek<T>, codes: Arc<CodeTables>, to_pb: fn(T, &CodeTables) -> U) -> BoxStream<U>
where
    T: Send + 'static,
    U: Send + 'static,
{
    Box::pin(udtraek.map(move |r| r.map(|t| to_pb(t, &codes)).map_err(|e: StoreError| status(e.into()))))
}

impl ExportGrpc {
    async fn stream<T: Send + 'static, U: Send + 'static>(
        &self,
        udtraek: impl FnOnce(&Registry) -> Udtraek<T>,
        to_pb: fn(T, &CodeTables) -> U,
    ) -> Result<Response<BoxStream<U>>, Status> {
        let codes = self.registry.code_tables().await.map_err(status)?;
        Ok(Response::new(grpc_stream(udtraek(&self.registry), codes, to_pb)))
    }

    async fn dagtilbud(&self, filter: DagtilbudFilter) -> Result<Response<BoxStream<pb::Dagtilbud>>, Status> {
        self.stream(|r| r.stream_dagtilbud(filter), dagtilbud).await
    }

    async fn alternative_adresser(
        &self,
        filter: AdresseFilter<'_>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        let found = self.registry.find_alternative_adresser(filter).await.map_err(status)?;
        let alternative_adresser = if found.is_empty() {
            vec![]
        } else {
            let codes = self.registry.code_tables().await.map_err(status)?;
            found.into_iter().map(|a| alternativ_adresse_extend(a, &codes)).collect()
        };
        Ok(Response::new(AlternativAdresserExtend { alternative_adresser }))
    }

    async fn anvisningsenheder(&self, filter: EnhedFilter<'_>) -> Result<Response<AnvisningsenhederExtend>, Status> {
        let found = self.registry.find_anvisningsenheder(filter).await.map_err(status)?;
        let anvisningsenheder = if found.is_empty() {
            vec![]
        } else {
            let codes = self.registry.code_tables().await.map_err(status)?;
            found.into_iter().map(|a| anvisningsenhed_extend(a, &codes)).collect()
        };
        Ok(Response::new(AnvisningsenhederExtend { anvisningsenheder }))
    }
}

/// A change with the unit's state after it, in the export shape.
fn aendring(a: AendringMedTilstand, codes: &CodeTables) -> pb::Aendring {
    use pb::aendring::Tilstand as T;
    let e = a.aendring;
    let enhedstype = match a.tilstand {
        Tilstand::Daginstitution(_) => pb::Enhedstype::Daginstitution,
        Tilstand::Anvisningsenhed(_) => pb::Enhedstype::Anvisningsenhed,
        Tilstand::AlternativAdresse(_) => pb::Enhedstype::AlternativAdresse,
    };
    let handling = match e.handling.as_str() {
        "oprettet" => pb::Handling::Oprettet,
        "aendret" => pb::Handling::Aendret,
        "flyttet" => pb::Handling::Flyttet,
        "nedlagt" => pb::Handling::NedlagtHandling,
        _ => pb::Handling::Unspecified,
    };
    pb::Aendring {
        sekvensnummer: e.sekvensnummer,
        tidspunkt: Some(timestamp(e.tidspunkt)),
        enhedstype: enhedstype as i32,
        nummer: e.nummer,
        handling: handling as i32,
        version: e.version,
        tilstand: Some(match a.tilstand {
            Tilstand::Daginstitution(d) => T::Daginstitution(daginstitution_extend(d, codes)),
            Tilstand::Anvisningsenhed(u) => T::Anvisningsenhed(anvisningsenhed_extend(u, codes)),
            Tilstand::AlternativAdresse(l) => T::AlternativAdresse(alternativ_adresse_extend(l, codes)),
        }),
    }
}

fn kodetabel(t: &codes::Kodetabel) -> pb::Kodetabel {
    pb::Kodetabel {
        navn: t.navn.clone(),
        version: t.version,
        koder: t
            .koder
            .iter()
            .map(|(kode, tekst)| pb::Kode {
                kode: *kode,
                tekst: tekst.clone(),
                hjemmel: t.hjemmel.get(kode).cloned().unwrap_or_default(),
            })
            .collect(),
        kombinationer: Vec::new(),
    }
}

/// The cross-validation matrix as a table of its own, so a client can learn which combinations
/// are lawful. **[decision]** Its version is 1 while the matrix is only seeded, never edited.
fn krydsvalidering(codes: &codes::CodeTables) -> pb::Kodetabel {
    pb::Kodetabel {
        navn: codes::KRYDSVALIDERING.to_owned(),
        version: 1,
        koder: Vec::new(),
        kombinationer: codes
            .krydsvalidering
            .iter()
            .map(|&(ejerform_kode, lovgrundlag_kode, inst_type3)| pb::Kombination {
                ejerform_kode,
                lovgrundlag_kode,
                inst_type3,
            })
            .collect(),
    }
}

/// Every table by name, the cross-validation matrix among them.
fn alle_tabeller(codes: &codes::CodeTables) -> Vec<pb::Kodetabel> {
    let mut all: Vec<pb::Kodetabel> = codes.tabeller.values().map(kodetabel).collect();
    all.push(krydsvalidering(codes));
    all.sort_by(|a, b| a.navn.cmp(&b.navn));
    all
}

#[tonic::async_trait]
impl ExportService for ExportGrpc {
    async fn get_all_dagtilbud(&self, _: Request<GetAllRequest>) -> Result<Response<BoxStream<pb::Dagtilbud>>, Status> {
        self.dagtilbud(DagtilbudFilter::Alle).await
    }

    async fn get_dagtilbud_by_dag_institutions_nummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<BoxStream<pb::Dagtilbud>>, Status> {
        self.dagtilbud(DagtilbudFilter::Daginstitution(request.into_inner().nummer)).await
    }

    async fn get_dagtilbud_by_adm_kommune_nummer(
        &self,
        request: Request<KommuneRequest>,
    ) -> Result<Response<BoxStream<pb::Dagtilbud>>, Status> {
        self.dagtilbud(DagtilbudFilter::AdmKommune(request.into_inner().adm_kommune_nummer)).await
    }

    async fn get_all_daginstitutioner(
        &self,
        _: Request<GetAllRequest>,
    ) -> Result<Response<BoxStream<pb::DaginstitutionExtend>>, Status> {
        self.stream(Registry::stream_daginstitutioner, daginstitution_extend).await
    }

    async fn get_all_anvisnings_enheder(
        &self,
        _: Request<GetAllRequest>,
    ) -> Result<Response<BoxStream<pb::AnvisningsenhedExtend>>, Status> {
        self.stream(Registry::stream_anvisningsenheder, anvisningsenhed_extend).await
    }

    async fn get_all_alternativ_adresser(
        &self,
        _: Request<GetAllRequest>,
    ) -> Result<Response<BoxStream<pb::AlternativAdresseExtend>>, Status> {
        self.stream(Registry::stream_alternative_adresser, alternativ_adresse_extend).await
    }

    async fn get_daginstitution_by_navn(
        &self,
        request: Request<NavnRequest>,
    ) -> Result<Response<DaginstitutionerExtend>, Status> {
        let found = self.registry.find_daginstitutioner_by_navn(&request.into_inner().part_of_name).await;
        let found = found.map_err(status)?;
        let daginstitutioner = if found.is_empty() {
            vec![]
        } else {
            let codes = self.registry.code_tables().await.map_err(status)?;
            found.into_iter().map(|d| daginstitution_extend(d, &codes)).collect()
        };
        Ok(Response::new(DaginstitutionerExtend { daginstitutioner }))
    }

    async fn get_anvisnings_enheder_by_navn(
        &self,
        request: Request<NavnRequest>,
    ) -> Result<Response<AnvisningsenhederExtend>, Status> {
        self.anvisningsenheder(EnhedFilter::Navn(&request.into_inner().part_of_name)).await
    }

    async fn get_alternativ_adresser_by_navn(
        &self,
        request: Request<NavnRequest>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        self.alternative_adresser(AdresseFilter::Navn(&request.into_inner().part_of_name)).await
    }

    /// Every change after a sequence number, paged, with the next number to ask from.
    async fn get_aendringer_siden(
        &self,
        request: Request<AendringerRequest>,
    ) -> Result<Response<AendringerResponse>, Status> {
        let req = request.into_inner();
        let max = if req.max_antal <= 0 { 500 } else { i64::from(req.max_antal) };
        let (page, flere) = self.registry.aendringer_siden(req.sekvensnummer, max).await.map_err(status)?;
        let naeste = page.last().map_or(req.sekvensnummer.max(0), |a| a.aendring.sekvensnummer);
        let codes = self.registry.code_tables().await.map_err(status)?;
        let aendringer = page.into_iter().map(|a| aendring(a, &codes)).collect();
        Ok(Response::new(AendringerResponse { aendringer, naeste_sekvensnummer: naeste, flere }))
    }

    /// Every version of one unit.
    async fn get_historik(&self, request: Request<NummerRequest>) -> Result<Response<HistorikResponse>, Status> {
        let versions = self.registry.historik(&request.into_inner().nummer).await.map_err(status)?;
        let codes = self.registry.code_tables().await.map_err(status)?;
        Ok(Response::new(HistorikResponse { versioner: versions.into_iter().map(|a| aendring(a, &codes)).collect() }))
    }

    /// One code table by name, from the cache (Redis or in-process) with the database behind it.
    async fn get_kodetabel(&self, request: Request<KodetabelRequest>) -> Result<Response<pb::Kodetabel>, Status> {
        let navn = request.into_inner().navn.trim().to_lowercase();
        let codes = self.registry.code_tables().await.map_err(status)?;
        if navn == codes::KRYDSVALIDERING {
            return Ok(Response::new(krydsvalidering(&codes)));
        }
        match codes.tabeller.get(&navn) {
            Some(t) => Ok(Response::new(kodetabel(t))),
            None => {
                let mut kendte: Vec<&str> = codes.tabeller.keys().map(String::as_str).collect();
                kendte.push(codes::KRYDSVALIDERING);
                kendte.sort_unstable();
                Err(Status::invalid_argument(format!(
                    "Ukendt kodetabel {navn:?}; registeret har: {}.",
                    kendte.join(", ")
                )))
            }
        }
    }

    async fn get_registerfund(
        &self,
        request: Request<RegisterfundRequest>,
    ) -> Result<Response<RegisterfundResponse>, Status> {
        let r = request.into_inner();
        let kommune = (r.kommune_kode != 0).then_some(r.kommune_kode);
        let cvr = Some(r.cvr_nummer.trim()).filter(|c| !c.is_empty());
        if kommune.is_none() && cvr.is_none() {
            return Err(Status::invalid_argument("Angiv kommunekode eller CVR-nummer."));
        }
        let svar = match self.registry.fund_for_ejer(kommune, cvr).await.map_err(status)? {
            None => RegisterfundResponse::default(),
            Some(e) => RegisterfundResponse {
                koersel_id: e.koersel_id,
                afsluttet: Some(timestamp(e.afsluttet)),
                fund: e
                    .fund
                    .into_iter()
                    .map(|f| RegisterfundPb {
                        enhedstype: f.enhedstype.as_str().to_owned(),
                        nummer: f.nummer,
                        kode: f.kode,
                        besked: f.besked,
                    })
                    .collect(),
            },
        };
        Ok(Response::new(svar))
    }

    async fn get_all_kodetabeller(&self, _: Request<GetAllRequest>) -> Result<Response<Kodetabeller>, Status> {
        let codes = self.registry.code_tables().await.map_err(status)?;
        Ok(Response::new(Kodetabeller { kodetabeller: alle_tabeller(&codes) }))
    }

    async fn get_alternativ_adresser_by_nummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        self.alternative_adresser(AdresseFilter::Nummer(&request.into_inner().nummer)).await
    }

    async fn get_alternativ_adresser_by_pnummer(
        &self,
        request: Request<PnummerRequest>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        self.alternative_adresser(AdresseFilter::PNummer(&request.into_inner().p_nummer)).await
    }

    async fn get_alternativ_adresser_by_cvrnummer(
        &self,
        request: Request<CvrnummerRequest>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        self.alternative_adresser(AdresseFilter::CvrNummer(&request.into_inner().cvr_nummer)).await
    }

    async fn get_alternativ_adresser_by_anvisningsenhedsnummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<AlternativAdresserExtend>, Status> {
        self.alternative_adresser(AdresseFilter::Anvisningsenhed(&request.into_inner().nummer)).await
    }

    async fn get_anvisnings_enheder_by_nummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<AnvisningsenhederExtend>, Status> {
        self.anvisningsenheder(EnhedFilter::Nummer(&request.into_inner().nummer)).await
    }

    async fn get_anvisnings_enheder_by_pnummer(
        &self,
        request: Request<PnummerRequest>,
    ) -> Result<Response<AnvisningsenhederExtend>, Status> {
        self.anvisningsenheder(EnhedFilter::PNummer(&request.into_inner().p_nummer)).await
    }

    async fn get_anvisnings_enheder_by_cvrnummer(
        &self,
        request: Request<CvrnummerRequest>,
    ) -> Result<Response<AnvisningsenhederExtend>, Status> {
        self.anvisningsenheder(EnhedFilter::CvrNummer(&request.into_inner().cvr_nummer)).await
    }

    async fn get_anvisnings_enheder_by_daginstitutionsnummer(
        &self,
        request: Request<NummerRequest>,
    ) -> Result<Response<AnvisningsenhederExtend>, Status> {
        self.anvisningsenheder(EnhedFilter::Daginstitution(&request.into_inner().nummer)).await
    }

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
