//! ExportService operations.

use dtr_proto::context::CallerContext;
use dtr_proto::export::{HelloWorldRequest, NummerRequest};
use dtr_proto::registry::{Aktivitetsstatus, DaginstitutionExtend, Registerfelter};

use super::{hello_world_response, text};
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

/// Calls `op`; the answer is written in the endpoint's namespace `ns`.
pub async fn call(clients: &Clients, op: &Element, ctx: &CallerContext, ns: &str) -> Result<String, GatewayError> {
    match op.name.as_str() {
        "HelloWorld" => {
            let r = clients.export().hello_world(clients.request(ctx, HelloWorldRequest {})).await;
            Ok(hello_world_response(ns, &r.map_err(GatewayError::Backend)?.into_inner().message))
        }
        "GetDaginstitutionByNummer" => {
            let req = NummerRequest { nummer: text(op, "DagInstitutionsNummer") };
            let r = clients.export().get_daginstitution_by_nummer(clients.request(ctx, req)).await;
            let list = r.map_err(GatewayError::Backend)?.into_inner().daginstitutioner;
            let mut x = XmlOut::with_capacity(512 * list.len() + 128);
            x.open_ns("GetDaginstitutionByNummerResponse", ns).open("daginstitutionerExtend");
            for d in &list {
                daginstitution_extend(&mut x, d);
            }
            x.close("daginstitutionerExtend").close("GetDaginstitutionByNummerResponse");
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
    let Some(di) = &d.daginstitution else { return };
    x.open("daginstitution");
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
    x.close("daginstitution");
}
