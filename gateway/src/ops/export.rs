//! ExportService: lookups answered whole, extracts streamed as the service reads them.

use bytes::Bytes;
use dtr_proto::context::CallerContext;
use dtr_proto::export::{
    AendringerRequest, AlternativAdresserExtend, AnvisningsenhederExtend, CvrnummerRequest, DaginstitutionerExtend,
    GetAllRequest, HelloWorldRequest, KodetabelRequest, KommuneRequest, NavnRequest, NummerRequest, PnummerRequest,
};
use dtr_proto::registry::{
    Adresse, Aendring, Aktivitetsstatus, AlternativAdresseExtend, AnvisningsenhedExtend, DaginstitutionExtend,
    Dagtilbud, Kodetabel, Registerfelter,
};

use super::{Answer, XmlStream, int, opt_i64, single_result, text};
use crate::clients::Clients;
use crate::error::GatewayError;
use crate::operation::ExportOperation;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// Size at which a streamed answer hands a chunk to the HTTP body.
const CHUNK: usize = 64 * 1024;

/// One ExportService request: the operation and its one parameter.
#[derive(Debug, Clone)]
pub struct ExportCall {
    pub operation: ExportOperation,
    parameter: Parameter,
}

#[derive(Debug, Clone)]
enum Parameter {
    None,
    /// A number, name part, P-number, CVR number or code table name.
    Text(String),
    Kommune(i32),
    Aendringer {
        sekvensnummer: i64,
        max_antal: i32,
    },
}

impl ExportCall {
    pub fn parse(operation: ExportOperation, e: &Element) -> Result<ExportCall, GatewayError> {
        use ExportOperation as Op;
        let parameter = match operation {
            Op::HelloWorld
            | Op::GetAllDagtilbud
            | Op::GetAllDaginstitutioner
            | Op::GetAllAnvisningsEnheder
            | Op::GetAllAlternativAdresser
            | Op::GetAllKodetabeller => Parameter::None,
            Op::GetDagtilbudByAdmKommuneNummer => Parameter::Kommune(int(e, "AdmkommuneNummer")?),
            Op::GetAendringerSiden => Parameter::Aendringer {
                sekvensnummer: opt_i64(e, "sekvensnummer")?.unwrap_or(0),
                max_antal: int(e, "maxAntal")?,
            },
            Op::GetDagtilbudByDagInstitutionsNummer
            | Op::GetDaginstitutionByNummer
            | Op::GetAnvisningsEnhederByDaginstitutionsnummer => Parameter::Text(text(e, "DagInstitutionsNummer")),
            Op::GetAnvisningsEnhederByNummer | Op::GetAlternativAdresserByAnvisningsenhedsnummer => {
                Parameter::Text(text(e, "enhedsNummer"))
            }
            Op::GetAlternativAdresserByNummer => Parameter::Text(text(e, "alternativAdresseNummer")),
            Op::GetDaginstitutionByNavn | Op::GetAnvisningsEnhederByNavn | Op::GetAlternativAdresserByNavn => {
                Parameter::Text(text(e, "partOfName"))
            }
            Op::GetAnvisningsEnhederByPnummer | Op::GetAlternativAdresserByPnummer => {
                Parameter::Text(text(e, "pNummer"))
            }
            Op::GetAnvisningsEnhederByCvrnummer | Op::GetAlternativAdresserByCvrnummer => {
                Parameter::Text(text(e, "cvrNummer"))
            }
            Op::GetKodetabel => Parameter::Text(text(e, "navn")),
            Op::GetHistorik => Parameter::Text(text(e, "nummer")),
        };
        Ok(ExportCall { operation, parameter })
    }

    /// The text parameter (empty for operations that take none).
    fn text(&self) -> String {
        match &self.parameter {
            Parameter::Text(t) => t.clone(),
            _ => String::new(),
        }
    }
}

/// Sends the call; the answer is written in the endpoint's namespace `ns`. Extracts are
/// streamed, everything else answered whole.
pub async fn call(clients: &Clients, call: &ExportCall, ctx: &CallerContext, ns: &str) -> Result<Answer, GatewayError> {
    use ExportOperation as Op;
    let op = call.operation.name();
    let mut export = clients.export();
    let nummer = || NummerRequest { nummer: call.text() };
    let navn = || NavnRequest { part_of_name: call.text() };
    let pnummer = || PnummerRequest { p_nummer: call.text() };
    let cvr = || CvrnummerRequest { cvr_nummer: call.text() };
    let xml = match call.operation {
        Op::GetAllDagtilbud => {
            let r = export.get_all_dagtilbud(clients.extract_request(ctx, GetAllRequest {})).await;
            return stream_answer(r, clients.stream_idle(), op, ns, "dagtilbudsRegister", dagtilbud);
        }
        Op::GetDagtilbudByDagInstitutionsNummer => {
            let r = export.get_dagtilbud_by_dag_institutions_nummer(clients.extract_request(ctx, nummer())).await;
            return stream_answer(r, clients.stream_idle(), op, ns, "dagtilbudsRegister", dagtilbud);
        }
        Op::GetDagtilbudByAdmKommuneNummer => {
            let adm_kommune_nummer = match call.parameter {
                Parameter::Kommune(k) => k,
                _ => 0,
            };
            let r = export
                .get_dagtilbud_by_adm_kommune_nummer(
                    clients.extract_request(ctx, KommuneRequest { adm_kommune_nummer }),
                )
                .await;
            return stream_answer(r, clients.stream_idle(), op, ns, "dagtilbudsRegister", dagtilbud);
        }
        Op::GetAllDaginstitutioner => {
            let r = export.get_all_daginstitutioner(clients.extract_request(ctx, GetAllRequest {})).await;
            return stream_answer(r, clients.stream_idle(), op, ns, "daginstitutionerExtend", daginstitution_extend);
        }
        Op::GetAllAnvisningsEnheder => {
            let r = export.get_all_anvisnings_enheder(clients.extract_request(ctx, GetAllRequest {})).await;
            return stream_answer(r, clients.stream_idle(), op, ns, "anvisningenhederExtend", anvisningsenhed_extend);
        }
        Op::GetAllAlternativAdresser => {
            let r = export.get_all_alternativ_adresser(clients.extract_request(ctx, GetAllRequest {})).await;
            return stream_answer(
                r,
                clients.stream_idle(),
                op,
                ns,
                "alternativadresserExtend",
                alternativ_adresse_extend,
            );
        }
        Op::HelloWorld => {
            let r = export.hello_world(clients.request(ctx, HelloWorldRequest {})).await;
            single_result(op, ns, &r.map_err(GatewayError::Backend)?.into_inner().message)
        }
        Op::GetDaginstitutionByNummer => {
            daginstitutioner(export.get_daginstitution_by_nummer(clients.request(ctx, nummer())).await, op, ns)?
        }
        Op::GetDaginstitutionByNavn => {
            daginstitutioner(export.get_daginstitution_by_navn(clients.request(ctx, navn())).await, op, ns)?
        }
        Op::GetAnvisningsEnhederByNummer => {
            anvisningsenheder(export.get_anvisnings_enheder_by_nummer(clients.request(ctx, nummer())).await, op, ns)?
        }
        Op::GetAnvisningsEnhederByPnummer => {
            anvisningsenheder(export.get_anvisnings_enheder_by_pnummer(clients.request(ctx, pnummer())).await, op, ns)?
        }
        Op::GetAnvisningsEnhederByCvrnummer => {
            anvisningsenheder(export.get_anvisnings_enheder_by_cvrnummer(clients.request(ctx, cvr())).await, op, ns)?
        }
        Op::GetAnvisningsEnhederByNavn => {
            anvisningsenheder(export.get_anvisnings_enheder_by_navn(clients.request(ctx, navn())).await, op, ns)?
        }
        Op::GetAnvisningsEnhederByDaginstitutionsnummer => {
            let r = export.get_anvisnings_enheder_by_daginstitutionsnummer(clients.request(ctx, nummer())).await;
            anvisningsenheder(r, op, ns)?
        }
        Op::GetAlternativAdresserByNummer => alternative_adresser(
            export.get_alternativ_adresser_by_nummer(clients.request(ctx, nummer())).await,
            op,
            ns,
        )?,
        Op::GetAlternativAdresserByPnummer => alternative_adresser(
            export.get_alternativ_adresser_by_pnummer(clients.request(ctx, pnummer())).await,
            op,
            ns,
        )?,
        Op::GetAlternativAdresserByCvrnummer => alternative_adresser(
            export.get_alternativ_adresser_by_cvrnummer(clients.request(ctx, cvr())).await,
            op,
            ns,
        )?,
        Op::GetAlternativAdresserByNavn => {
            alternative_adresser(export.get_alternativ_adresser_by_navn(clients.request(ctx, navn())).await, op, ns)?
        }
        Op::GetAlternativAdresserByAnvisningsenhedsnummer => {
            let r = export.get_alternativ_adresser_by_anvisningsenhedsnummer(clients.request(ctx, nummer())).await;
            alternative_adresser(r, op, ns)?
        }
        Op::GetAendringerSiden => {
            let (sekvensnummer, max_antal) = match call.parameter {
                Parameter::Aendringer { sekvensnummer, max_antal } => (sekvensnummer, max_antal),
                _ => (0, 0),
            };
            let r =
                export.get_aendringer_siden(clients.request(ctx, AendringerRequest { sekvensnummer, max_antal })).await;
            let r = r.map_err(GatewayError::Backend)?.into_inner();
            let response = format!("{op}Response");
            let mut x = XmlOut::with_capacity(2048 * r.aendringer.len() + 256);
            x.open_ns(&response, ns).open("aendringer");
            for a in &r.aendringer {
                aendring(&mut x, a);
            }
            x.close("aendringer");
            x.text("naesteSekvensnummer", &r.naeste_sekvensnummer.to_string());
            x.text("flere", if r.flere { "true" } else { "false" });
            x.close(&response);
            x.finish()
        }
        Op::GetHistorik => {
            let r = export.get_historik(clients.request(ctx, nummer())).await;
            let versions = r.map_err(GatewayError::Backend)?.into_inner().versioner;
            whole(op, ns, 2048 * versions.len(), |x| versions.iter().for_each(|a| aendring(x, a)))
        }
        Op::GetKodetabel => {
            let r = export.get_kodetabel(clients.request(ctx, KodetabelRequest { navn: call.text() })).await;
            let t = r.map_err(GatewayError::Backend)?.into_inner();
            whole(op, ns, 4096, |x| kodetabel(x, &t))
        }
        Op::GetAllKodetabeller => {
            let r = export.get_all_kodetabeller(clients.request(ctx, GetAllRequest {})).await;
            let all = r.map_err(GatewayError::Backend)?.into_inner().kodetabeller;
            whole(op, ns, 8192, |x| all.iter().for_each(|t| kodetabel(x, t)))
        }
    };
    Ok(Answer::Xml(xml))
}

type Answered<T> = Result<tonic::Response<T>, tonic::Status>;

/// `<{op}Response>` with `content` written inside.
fn whole(op: &str, ns: &str, size: usize, content: impl FnOnce(&mut XmlOut)) -> String {
    let response = format!("{op}Response");
    let mut x = XmlOut::with_capacity(size + 128);
    x.open_ns(&response, ns);
    content(&mut x);
    x.close(&response);
    x.finish()
}

/// `<{op}Response><{container}>` with one element per record.
fn list<T>(op: &str, ns: &str, container: &str, records: &[T], size: usize, write: fn(&mut XmlOut, &T)) -> String {
    whole(op, ns, size * records.len(), |x| {
        x.open(container);
        for r in records {
            write(x, r);
        }
        x.close(container);
    })
}

fn daginstitutioner(r: Answered<DaginstitutionerExtend>, op: &str, ns: &str) -> Result<String, GatewayError> {
    let list_ = r.map_err(GatewayError::Backend)?.into_inner().daginstitutioner;
    Ok(list(op, ns, "daginstitutionerExtend", &list_, 512, daginstitution_extend))
}

fn anvisningsenheder(r: Answered<AnvisningsenhederExtend>, op: &str, ns: &str) -> Result<String, GatewayError> {
    let list_ = r.map_err(GatewayError::Backend)?.into_inner().anvisningsenheder;
    Ok(list(op, ns, "anvisningenhederExtend", &list_, 1024, anvisningsenhed_extend))
}

fn alternative_adresser(r: Answered<AlternativAdresserExtend>, op: &str, ns: &str) -> Result<String, GatewayError> {
    let list_ = r.map_err(GatewayError::Backend)?.into_inner().alternative_adresser;
    Ok(list(op, ns, "alternativadresserExtend", &list_, 1024, alternativ_adresse_extend))
}

/// A streamed extract: `<{op}Response><{container}>` records `</{container}></{op}Response>`,
/// handed to the HTTP body in chunks of about [`CHUNK`] bytes as the records arrive. Dropping the
/// stream (the client hung up) drops the gRPC call, which stops the service's database read.
fn stream_answer<T: Send + 'static>(
    call: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    idle: std::time::Duration,
    op_name: &str,
    ns: &str,
    container: &'static str,
    write: fn(&mut XmlOut, &T),
) -> Result<Answer, GatewayError> {
    let records = call.map_err(GatewayError::Backend)?.into_inner();
    metrics::counter!("dtr_extracts_total", "operation" => op_name.to_owned()).increment(1);
    let response = format!("{op_name}Response");
    let mut x = XmlOut::with_capacity(CHUNK + 8 * 1024);
    x.open_ns(&response, ns).open(container);
    let state = Some((records, x, response));
    let body: XmlStream = Box::pin(futures::stream::unfold(state, move |state| async move {
        let (mut records, mut x, response) = state?;
        loop {
            match crate::clients::next_record(&mut records, idle).await {
                Ok(Some(record)) => {
                    write(&mut x, &record);
                    if x.len() >= CHUNK {
                        let chunk = Bytes::from(x.take());
                        return Some((Ok(chunk), Some((records, x, response))));
                    }
                }
                Ok(None) => {
                    x.close(container).close(&response);
                    return Some((Ok(Bytes::from(x.finish())), None));
                }
                Err(status) => return Some((Err(GatewayError::Backend(status)), None)),
            }
        }
    }));
    Ok(Answer::Stream(body))
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> Option<String> {
    let t = t.as_ref()?;
    chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn registerfelter(x: &mut XmlOut, r: &Registerfelter) {
    let status = match r.aktivitetsstatus() {
        Aktivitetsstatus::Nedlagt => "Nedlagt",
        _ => "Aktiv",
    };
    x.text("aktivitetsstatus", status);
    x.opt_text("oprettetDato", timestamp(&r.oprettet_dato).as_deref());
    x.opt_text("senestAendret", timestamp(&r.senest_aendret).as_deref());
    x.opt_text("nedlagtDato", timestamp(&r.nedlagt_dato).as_deref());
    x.text("version", &r.version.to_string());
}

/// One `daginstitution` element of `daginstitutionerExtend`, fields in schema order.
fn daginstitution_extend(x: &mut XmlOut, d: &DaginstitutionExtend) {
    x.open("daginstitution");
    daginstitution_fields(x, d);
    x.close("daginstitution");
}

/// One `daginstitution` of a `dagtilbudsRegister`: its fields, then its anvisningsenheder, each
/// with its alternative addresses.
pub fn dagtilbud(x: &mut XmlOut, d: &Dagtilbud) {
    let Some(di) = &d.daginstitution else { return };
    x.open("daginstitution");
    daginstitution_fields(x, di);
    for a in &d.anvisningsenheder {
        let Some(enhed) = &a.anvisningsenhed else { continue };
        x.open("anvisningsenhed");
        anvisningsenhed_fields(x, enhed);
        for l in &a.alternative_adresser {
            alternativ_adresse_extend(x, l);
        }
        x.close("anvisningsenhed");
    }
    x.close("daginstitution");
}

fn daginstitution_fields(x: &mut XmlOut, d: &DaginstitutionExtend) {
    let Some(di) = &d.daginstitution else { return };
    x.text("daginstitutionsNummer", &di.daginstitutions_nummer);
    x.text("daginstitutionsNavn", &di.daginstitutions_navn);
    x.text("ejerformKode", &di.ejerform_kode.to_string());
    x.text("ejerformKode_Tekst", &d.ejerform_kode_tekst);
    x.text("lovgrundlagKode", &di.lovgrundlag_kode.to_string());
    x.text("lovgrundlagKode_Tekst", &d.lovgrundlag_kode_tekst);
    x.text("admKommuneKode", &di.adm_kommune_kode.to_string());
    x.text("admKommuneKode_Tekst", &d.adm_kommune_kode_tekst);
    x.opt_text("ejerCvrNummer", di.ejer_cvr_nummer.as_deref());
    if let Some(r) = &d.register {
        registerfelter(x, r);
    }
}

/// One `anvisningsenhed` element of `anvisningenhederExtend` (sic, the published name), fields in
/// schema order, with the `_Tekst` companions and the register's fields.
fn anvisningsenhed_extend(x: &mut XmlOut, e: &AnvisningsenhedExtend) {
    x.open("anvisningsenhed");
    anvisningsenhed_fields(x, e);
    x.close("anvisningsenhed");
}

fn anvisningsenhed_fields(x: &mut XmlOut, e: &AnvisningsenhedExtend) {
    let Some(a) = &e.anvisningsenhed else { return };
    x.text("EnhedsNummer", &a.enheds_nummer);
    x.text("daginstitutionsNummer", &a.daginstitutions_nummer);
    x.text("EnhedsNavn", &a.enheds_navn);
    if let Some(adr) = &a.adresse {
        adresse_extend(x, adr, &e.kommune_kode_tekst);
    }
    x.text("InstType3", &a.inst_type3.to_string()).text("instType3_Tekst", &e.inst_type3_tekst);
    x.opt_text("Email", a.email.as_deref()).opt_text("TelefonNummer", a.telefon_nummer.as_deref());
    x.opt_text("CVRNummer", a.cvr_nummer.as_deref());
    x.text("PNummer", &a.p_nummer);
    if let Some(r) = &e.register {
        registerfelter(x, r);
    }
}

/// The `Adresse` element of an `…Extend` unit (AdresseExtend in the schema).
fn adresse_extend(x: &mut XmlOut, adr: &Adresse, kommune_tekst: &str) {
    x.open("Adresse");
    x.text("vejNavn", &adr.vej_navn).text("husNummer", &adr.hus_nummer);
    x.opt_text("etage", adr.etage.as_deref()).opt_text("doer", adr.doer.as_deref());
    x.text("postNummer", &adr.post_nummer).text("postDistrikt", &adr.post_distrikt);
    x.opt_text("supplerendeBynavn", adr.supplerende_bynavn.as_deref());
    x.text("kommuneKode", &adr.kommune_kode.to_string()).text("kommuneKode_Tekst", kommune_tekst);
    x.opt_text("darAdresseId", adr.dar_adresse_id.as_deref());
    x.opt_text("geoBredde", adr.geo_bredde.map(|v| v.to_string()).as_deref());
    x.opt_text("geoLaengde", adr.geo_laengde.map(|v| v.to_string()).as_deref());
    x.close("Adresse");
}

/// One `alternativAdresse` element of `alternativadresserExtend`, fields in schema order.
fn alternativ_adresse_extend(x: &mut XmlOut, e: &AlternativAdresseExtend) {
    let Some(a) = &e.alternativ_adresse else { return };
    x.open("alternativAdresse");
    x.text("alternativAdresseNummer", &a.alternativ_adresse_nummer);
    x.text("EnhedsNummer", &a.enheds_nummer);
    x.text("alternativAdresseNavn", &a.alternativ_adresse_navn);
    if let Some(adr) = &a.adresse {
        adresse_extend(x, adr, &e.kommune_kode_tekst);
    }
    x.opt_text("PNummer", a.p_nummer.as_deref()).opt_text("CVRNummer", a.cvr_nummer.as_deref());
    x.opt_text("Email", a.email.as_deref()).opt_text("TelefonNummer", a.telefon_nummer.as_deref());
    if let Some(r) = &e.register {
        registerfelter(x, r);
    }
    x.close("alternativAdresse");
}

/// `<kodetabel><navn/><version/><kode><kode/><tekst/></kode>*</kodetabel>`
fn kodetabel(x: &mut XmlOut, t: &Kodetabel) {
    x.open("kodetabel").text("navn", &t.navn).text("version", &t.version.to_string());
    for k in &t.koder {
        x.open("kode").text("kode", &k.kode.to_string()).text("tekst", &k.tekst);
        x.opt_text("hjemmel", Some(k.hjemmel.as_str()).filter(|h| !h.is_empty()));
        x.close("kode");
    }
    for k in &t.kombinationer {
        x.open("kombination")
            .text("ejerformKode", &k.ejerform_kode.to_string())
            .text("lovgrundlagKode", &k.lovgrundlag_kode.to_string())
            .text("instType3", &k.inst_type3.to_string())
            .close("kombination");
    }
    x.close("kodetabel");
}

/// One `aendring`: the change and the unit's state after it.
fn aendring(x: &mut XmlOut, a: &Aendring) {
    use dtr_proto::registry::aendring::Tilstand;
    x.open("aendring");
    x.text("sekvensnummer", &a.sekvensnummer.to_string());
    x.opt_text("tidspunkt", timestamp(&a.tidspunkt).as_deref());
    let (enhedstype, handling) = (a.enhedstype(), a.handling());
    use dtr_proto::registry::{Enhedstype as E, Handling as H};
    x.text(
        "enhedstype",
        match enhedstype {
            E::Daginstitution => "daginstitution",
            E::Anvisningsenhed => "anvisningsenhed",
            _ => "alternativ_adresse",
        },
    );
    x.text("nummer", &a.nummer);
    x.text(
        "handling",
        match handling {
            H::Oprettet => "oprettet",
            H::Aendret => "aendret",
            H::Flyttet => "flyttet",
            _ => "nedlagt",
        },
    );
    x.text("version", &a.version.to_string());
    match &a.tilstand {
        Some(Tilstand::Daginstitution(d)) => daginstitution_extend(x, d),
        Some(Tilstand::Anvisningsenhed(u)) => anvisningsenhed_extend(x, u),
        Some(Tilstand::AlternativAdresse(l)) => alternativ_adresse_extend(x, l),
        None => {}
    }
    x.close("aendring");
}
