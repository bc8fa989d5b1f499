//! ExportService operations.

use bytes::Bytes;
use dtr_proto::context::CallerContext;
use dtr_proto::export::{
    AendringerRequest, CvrnummerRequest, GetAllRequest, HelloWorldRequest, KodetabelRequest, KommuneRequest,
    NavnRequest, NummerRequest, PnummerRequest,
};
use dtr_proto::registry::{
    Adresse, Aendring, Aktivitetsstatus, AlternativAdresseExtend, AnvisningsenhedExtend, DaginstitutionExtend,
    Dagtilbud, Kodetabel, Registerfelter,
};

use super::{Answer, XmlStream, hello_world_response, text};
use crate::Clients;
use crate::error::GatewayError;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// Every operation of the ExportService (registry.md §4 and our additions).
pub const OPERATIONS: &[&str] = &[
    "HelloWorld",
    "GetAllDagtilbud",
    "GetDagtilbudByDagInstitutionsNummer",
    "GetDagtilbudByAdmKommuneNummer",
    "GetAllDaginstitutioner",
    "GetDaginstitutionByNummer",
    "GetDaginstitutionByNavn",
    "GetAllAnvisningsEnheder",
    "GetAnvisningsEnhederByPnummer",
    "GetAnvisningsEnhederByNummer",
    "GetAnvisningsEnhederByCvrnummer",
    "GetAnvisningsEnhederByNavn",
    "GetAnvisningsEnhederByDaginstitutionsnummer",
    "GetAllAlternativAdresser",
    "GetAlternativAdresserByCvrnummer",
    "GetAlternativAdresserByPnummer",
    "GetAlternativAdresserByNummer",
    "GetAlternativAdresserByAnvisningsenhedsnummer",
    "GetAlternativAdresserByNavn",
    "GetKodetabel",
    "GetAllKodetabeller",
    "GetAendringerSiden",
    "GetHistorik",
];

/// The full extracts, limited per system per day (tilslutning.md step 5).
pub const FULL_EXTRACTS: &[&str] =
    &["GetAllDagtilbud", "GetAllDaginstitutioner", "GetAllAnvisningsEnheder", "GetAllAlternativAdresser"];

/// Size at which a streamed answer hands a chunk to the HTTP body.
const CHUNK: usize = 64 * 1024;

/// Calls `op`; the answer is written in the endpoint's namespace `ns`. Full extracts are
/// streamed, everything else answered whole.
pub async fn call(clients: &Clients, op: &Element, ctx: &CallerContext, ns: &str) -> Result<Answer, GatewayError> {
    let mut export = clients.export();
    let name = op.name.as_str();
    match name {
        "GetAllDagtilbud" => {
            let r = export.get_all_dagtilbud(clients.extract_request(ctx, GetAllRequest {})).await;
            streamed(r, name, ns, "dagtilbudsRegister", dagtilbud)
        }
        "GetDagtilbudByDagInstitutionsNummer" => {
            let req = NummerRequest { nummer: text(op, "DagInstitutionsNummer") };
            let r = export.get_dagtilbud_by_dag_institutions_nummer(clients.extract_request(ctx, req)).await;
            streamed(r, name, ns, "dagtilbudsRegister", dagtilbud)
        }
        "GetDagtilbudByAdmKommuneNummer" => {
            let req = KommuneRequest { adm_kommune_nummer: super::int(op, "AdmkommuneNummer")? };
            let r = export.get_dagtilbud_by_adm_kommune_nummer(clients.extract_request(ctx, req)).await;
            streamed(r, name, ns, "dagtilbudsRegister", dagtilbud)
        }
        "GetAllDaginstitutioner" => {
            let r = export.get_all_daginstitutioner(clients.extract_request(ctx, GetAllRequest {})).await;
            streamed(r, name, ns, "daginstitutionerExtend", daginstitution_extend)
        }
        "GetAllAnvisningsEnheder" => {
            let r = export.get_all_anvisnings_enheder(clients.extract_request(ctx, GetAllRequest {})).await;
            streamed(r, name, ns, "anvisningenhederExtend", anvisningsenhed_extend)
        }
        "GetAllAlternativAdresser" => {
            let r = export.get_all_alternativ_adresser(clients.extract_request(ctx, GetAllRequest {})).await;
            streamed(r, name, ns, "alternativadresserExtend", alternativ_adresse_extend)
        }
        _ => lookup(clients, op, ctx, ns).await.map(Answer::Xml),
    }
}

/// A streamed extract: `<{op}Response><{container}>` records `</{container}></{op}Response>`,
/// handed to the HTTP body in chunks of about [`CHUNK`] bytes as the records arrive. Dropping the
/// stream (the client hung up) drops the gRPC call, which stops the service's database read.
fn streamed<T: Send + 'static>(
    call: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    op_name: &str,
    ns: &str,
    container: &'static str,
    write: fn(&mut XmlOut, &T),
) -> Result<Answer, GatewayError> {
    let records = call.map_err(GatewayError::Backend)?.into_inner();
    let response = format!("{op_name}Response");
    let mut x = XmlOut::with_capacity(CHUNK + 8 * 1024);
    x.open_ns(&response, ns).open(container);
    let state = Some((records, x, response));
    let body: XmlStream = Box::pin(futures::stream::unfold(state, move |state| async move {
        let (mut records, mut x, response) = state?;
        loop {
            match records.message().await {
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

/// Lookups, code tables and changes: answered whole.
async fn lookup(clients: &Clients, op: &Element, ctx: &CallerContext, ns: &str) -> Result<String, GatewayError> {
    match op.name.as_str() {
        "HelloWorld" => {
            let r = clients.export().hello_world(clients.request(ctx, HelloWorldRequest {})).await;
            Ok(hello_world_response(ns, &r.map_err(GatewayError::Backend)?.into_inner().message))
        }
        op_name @ ("GetDaginstitutionByNummer" | "GetDaginstitutionByNavn") => {
            let mut export = clients.export();
            let r = if op_name == "GetDaginstitutionByNummer" {
                let req = NummerRequest { nummer: text(op, "DagInstitutionsNummer") };
                export.get_daginstitution_by_nummer(clients.request(ctx, req)).await
            } else {
                let req = NavnRequest { part_of_name: text(op, "partOfName") };
                export.get_daginstitution_by_navn(clients.request(ctx, req)).await
            };
            let list = r.map_err(GatewayError::Backend)?.into_inner().daginstitutioner;
            let response = format!("{op_name}Response");
            let mut x = XmlOut::with_capacity(512 * list.len() + 128);
            x.open_ns(&response, ns).open("daginstitutionerExtend");
            for d in &list {
                daginstitution_extend(&mut x, d);
            }
            x.close("daginstitutionerExtend").close(&response);
            Ok(x.finish())
        }
        op_name @ ("GetAnvisningsEnhederByNummer"
        | "GetAnvisningsEnhederByPnummer"
        | "GetAnvisningsEnhederByCvrnummer"
        | "GetAnvisningsEnhederByNavn"
        | "GetAnvisningsEnhederByDaginstitutionsnummer") => {
            let mut export = clients.export();
            let r = match op_name {
                "GetAnvisningsEnhederByNummer" => {
                    let req = NummerRequest { nummer: text(op, "enhedsNummer") };
                    export.get_anvisnings_enheder_by_nummer(clients.request(ctx, req)).await
                }
                "GetAnvisningsEnhederByPnummer" => {
                    let req = PnummerRequest { p_nummer: text(op, "pNummer") };
                    export.get_anvisnings_enheder_by_pnummer(clients.request(ctx, req)).await
                }
                "GetAnvisningsEnhederByCvrnummer" => {
                    let req = CvrnummerRequest { cvr_nummer: text(op, "cvrNummer") };
                    export.get_anvisnings_enheder_by_cvrnummer(clients.request(ctx, req)).await
                }
                "GetAnvisningsEnhederByNavn" => {
                    let req = NavnRequest { part_of_name: text(op, "partOfName") };
                    export.get_anvisnings_enheder_by_navn(clients.request(ctx, req)).await
                }
                _ => {
                    let req = NummerRequest { nummer: text(op, "DagInstitutionsNummer") };
                    export.get_anvisnings_enheder_by_daginstitutionsnummer(clients.request(ctx, req)).await
                }
            };
            let list = r.map_err(GatewayError::Backend)?.into_inner().anvisningsenheder;
            let response = format!("{op_name}Response");
            let mut x = XmlOut::with_capacity(1024 * list.len() + 128);
            x.open_ns(&response, ns).open("anvisningenhederExtend");
            for a in &list {
                anvisningsenhed_extend(&mut x, a);
            }
            x.close("anvisningenhederExtend").close(&response);
            Ok(x.finish())
        }
        op_name @ ("GetAlternativAdresserByNummer"
        | "GetAlternativAdresserByPnummer"
        | "GetAlternativAdresserByCvrnummer"
        | "GetAlternativAdresserByNavn"
        | "GetAlternativAdresserByAnvisningsenhedsnummer") => {
            let mut export = clients.export();
            let r = match op_name {
                "GetAlternativAdresserByNummer" => {
                    let req = NummerRequest { nummer: text(op, "alternativAdresseNummer") };
                    export.get_alternativ_adresser_by_nummer(clients.request(ctx, req)).await
                }
                "GetAlternativAdresserByPnummer" => {
                    let req = PnummerRequest { p_nummer: text(op, "pNummer") };
                    export.get_alternativ_adresser_by_pnummer(clients.request(ctx, req)).await
                }
                "GetAlternativAdresserByCvrnummer" => {
                    let req = CvrnummerRequest { cvr_nummer: text(op, "cvrNummer") };
                    export.get_alternativ_adresser_by_cvrnummer(clients.request(ctx, req)).await
                }
                "GetAlternativAdresserByNavn" => {
                    let req = NavnRequest { part_of_name: text(op, "partOfName") };
                    export.get_alternativ_adresser_by_navn(clients.request(ctx, req)).await
                }
                _ => {
                    let req = NummerRequest { nummer: text(op, "enhedsNummer") };
                    export.get_alternativ_adresser_by_anvisningsenhedsnummer(clients.request(ctx, req)).await
                }
            };
            let list = r.map_err(GatewayError::Backend)?.into_inner().alternative_adresser;
            let response = format!("{op_name}Response");
            let mut x = XmlOut::with_capacity(1024 * list.len() + 128);
            x.open_ns(&response, ns).open("alternativadresserExtend");
            for a in &list {
                alternativ_adresse_extend(&mut x, a);
            }
            x.close("alternativadresserExtend").close(&response);
            Ok(x.finish())
        }
        "GetAendringerSiden" => {
            let req = AendringerRequest {
                sekvensnummer: super::opt_i64(op, "sekvensnummer")?.unwrap_or(0),
                max_antal: super::int(op, "maxAntal")?,
            };
            let r = clients.export().get_aendringer_siden(clients.request(ctx, req)).await;
            let r = r.map_err(GatewayError::Backend)?.into_inner();
            let mut x = XmlOut::with_capacity(2048 * r.aendringer.len() + 256);
            x.open_ns("GetAendringerSidenResponse", ns).open("aendringer");
            for a in &r.aendringer {
                aendring(&mut x, a);
            }
            x.close("aendringer");
            x.text("naesteSekvensnummer", &r.naeste_sekvensnummer.to_string());
            x.text("flere", if r.flere { "true" } else { "false" });
            x.close("GetAendringerSidenResponse");
            Ok(x.finish())
        }
        "GetHistorik" => {
            let req = NummerRequest { nummer: text(op, "nummer") };
            let r = clients.export().get_historik(clients.request(ctx, req)).await;
            let versions = r.map_err(GatewayError::Backend)?.into_inner().versioner;
            let mut x = XmlOut::with_capacity(2048 * versions.len() + 128);
            x.open_ns("GetHistorikResponse", ns);
            for a in &versions {
                aendring(&mut x, a);
            }
            x.close("GetHistorikResponse");
            Ok(x.finish())
        }
        "GetKodetabel" => {
            let req = KodetabelRequest { navn: text(op, "navn") };
            let t = clients.export().get_kodetabel(clients.request(ctx, req)).await.map_err(GatewayError::Backend)?;
            let mut x = XmlOut::with_capacity(4096);
            x.open_ns("GetKodetabelResponse", ns);
            kodetabel(&mut x, &t.into_inner());
            x.close("GetKodetabelResponse");
            Ok(x.finish())
        }
        "GetAllKodetabeller" => {
            let r = clients.export().get_all_kodetabeller(clients.request(ctx, GetAllRequest {})).await;
            let all = r.map_err(GatewayError::Backend)?.into_inner().kodetabeller;
            let mut x = XmlOut::with_capacity(8192);
            x.open_ns("GetAllKodetabellerResponse", ns);
            for t in &all {
                kodetabel(&mut x, t);
            }
            x.close("GetAllKodetabellerResponse");
            Ok(x.finish())
        }
        name if OPERATIONS.contains(&name) => Err(GatewayError::NotAvailable(name.to_owned())),
        name => Err(GatewayError::UnknownOperation(name.to_owned())),
    }
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
        x.open("kode").text("kode", &k.kode.to_string()).text("tekst", &k.tekst).close("kode");
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
