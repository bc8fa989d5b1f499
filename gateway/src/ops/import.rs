//! ImportService operations.

use dtr_proto::context::CallerContext;
use dtr_proto::import::validate_request::Operation;
use dtr_proto::import::{
    DeleteRequest, GetXmlSchemaRequest, HelloWorldRequest, InsertAlternativAdresseRequest,
    InsertAnvisningsEnhedRequest, InsertDaginstitutionRequest, MoveRequest, UpdateAlternativAdresseRequest,
    UpdateAnvisningsEnhedRequest, UpdateDaginstitutionRequest, ValidateRequest,
};
use dtr_proto::registry::{Adresse, AlternativAdresse, Anvisningsenhed, Daginstitution, ImportSvar};

use super::{hello_world_response, int, opt_i64, opt_text, required, text};
use crate::Clients;
use crate::error::GatewayError;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// Every operation of the ImportService (registry.md §4).
pub const OPERATIONS: &[&str] = &[
    "HelloWorld",
    "GetXMLSchema",
    "ValidateXmlAgainstSchema",
    "InsertDaginstitution",
    "UpdateDaginstitution",
    "DeleteDaginstitution",
    "InsertAnvisningsEnhed",
    "UpdateAnvisningsEnhed",
    "DeleteAnvisningsEnhed",
    "InsertAlternativAdresse",
    "UpdateAlternativAdresse",
    "DeleteAlternativAdresse",
    "MoveAnvisningsEnhed",
    "MoveAlternativAdresse",
];

/// Calls `op`; the answer is written in the endpoint's namespace `ns`.
pub async fn call(clients: &Clients, op: &Element, ctx: &CallerContext, ns: &str) -> Result<String, GatewayError> {
    match op.name.as_str() {
        "HelloWorld" => {
            let r = clients.import().hello_world(clients.request(ctx, HelloWorldRequest {})).await;
            Ok(hello_world_response(ns, &r.map_err(GatewayError::Backend)?.into_inner().message))
        }
        "GetXMLSchema" => {
            let r = clients.import().get_xml_schema(clients.request(ctx, GetXmlSchemaRequest {})).await;
            let xsd = r.map_err(GatewayError::Backend)?.into_inner().xsd;
            let mut x = XmlOut::with_capacity(xsd.len() + 256);
            x.open_ns("GetXMLSchemaResponse", ns).text("GetXMLSchemaResult", &xsd).close("GetXMLSchemaResponse");
            Ok(x.finish())
        }
        "ValidateXmlAgainstSchema" => {
            let inner = op.children.first().ok_or_else(|| {
                GatewayError::Schema("ValidateXmlAgainstSchema skal indeholde den operation der skal valideres".into())
            })?;
            let operation = match write_operation(inner)? {
                Some(o) => o,
                None if OPERATIONS.contains(&inner.name.as_str()) => {
                    return Err(GatewayError::Schema(format!(
                        "kun skriveoperationer kan valideres, ikke {}",
                        inner.name
                    )));
                }
                None => return Err(GatewayError::UnknownOperation(inner.name.clone())),
            };
            let req = ValidateRequest { operation: Some(operation) };
            let svar = clients.import().validate_xml_against_schema(clients.request(ctx, req)).await;
            Ok(import_svar("ValidateXmlAgainstSchemaResponse", ns, &svar.map_err(GatewayError::Backend)?.into_inner()))
        }
        name => {
            let Some(operation) = write_operation(op)? else {
                return Err(GatewayError::UnknownOperation(name.to_owned()));
            };
            let mut import = clients.import();
            let svar = match operation {
                Operation::InsertDaginstitution(r) => import.insert_daginstitution(clients.request(ctx, r)).await,
                Operation::UpdateDaginstitution(r) => import.update_daginstitution(clients.request(ctx, r)).await,
                Operation::DeleteDaginstitution(r) => import.delete_daginstitution(clients.request(ctx, r)).await,
                Operation::InsertAnvisningsEnhed(r) => import.insert_anvisnings_enhed(clients.request(ctx, r)).await,
                Operation::UpdateAnvisningsEnhed(r) => import.update_anvisnings_enhed(clients.request(ctx, r)).await,
                Operation::DeleteAnvisningsEnhed(r) => import.delete_anvisnings_enhed(clients.request(ctx, r)).await,
                Operation::MoveAnvisningsEnhed(r) => import.move_anvisnings_enhed(clients.request(ctx, r)).await,
                Operation::InsertAlternativAdresse(r) => {
                    import.insert_alternativ_adresse(clients.request(ctx, r)).await
                }
                Operation::UpdateAlternativAdresse(r) => {
                    import.update_alternativ_adresse(clients.request(ctx, r)).await
                }
                Operation::DeleteAlternativAdresse(r) => {
                    import.delete_alternativ_adresse(clients.request(ctx, r)).await
                }
                Operation::MoveAlternativAdresse(r) => import.move_alternativ_adresse(clients.request(ctx, r)).await,
            };
            let response = format!("{name}Response");
            Ok(import_svar(&response, ns, &svar.map_err(GatewayError::Backend)?.into_inner()))
        }
    }
}

/// Reads a write operation's element into its request; `None` when `op` is not a write.
pub(crate) fn write_operation(op: &Element) -> Result<Option<Operation>, GatewayError> {
    Ok(Some(match op.name.as_str() {
        "InsertDaginstitution" => Operation::InsertDaginstitution(InsertDaginstitutionRequest {
            daginstitution: Some(daginstitution(required(op, "daginstitution")?)?),
        }),
        "UpdateDaginstitution" => Operation::UpdateDaginstitution(UpdateDaginstitutionRequest {
            daginstitution: Some(daginstitution(required(op, "daginstitution")?)?),
            forventet_version: opt_i64(op, "forventetVersion")?,
        }),
        "DeleteDaginstitution" => {
            Operation::DeleteDaginstitution(DeleteRequest { nummer: text(op, "daginstitutionsNummer") })
        }
        "InsertAnvisningsEnhed" => Operation::InsertAnvisningsEnhed(InsertAnvisningsEnhedRequest {
            anvisningsenhed: Some(anvisningsenhed(required(op, "anvisningsenhed")?)?),
        }),
        "UpdateAnvisningsEnhed" => Operation::UpdateAnvisningsEnhed(UpdateAnvisningsEnhedRequest {
            anvisningsenhed: Some(anvisningsenhed(required(op, "anvisningsenhed")?)?),
            forventet_version: opt_i64(op, "forventetVersion")?,
        }),
        "DeleteAnvisningsEnhed" => Operation::DeleteAnvisningsEnhed(DeleteRequest { nummer: text(op, "EnhedsNummer") }),
        "MoveAnvisningsEnhed" => Operation::MoveAnvisningsEnhed(MoveRequest {
            nummer: text(op, "EnhedsNummer"),
            til_nummer: text(op, "tilDaginstitutionsNummer"),
        }),
        "InsertAlternativAdresse" => Operation::InsertAlternativAdresse(InsertAlternativAdresseRequest {
            alternativ_adresse: Some(alternativ_adresse(required(op, "alternativAdresse")?)?),
        }),
        "UpdateAlternativAdresse" => Operation::UpdateAlternativAdresse(UpdateAlternativAdresseRequest {
            alternativ_adresse: Some(alternativ_adresse(required(op, "alternativAdresse")?)?),
            forventet_version: opt_i64(op, "forventetVersion")?,
        }),
        "DeleteAlternativAdresse" => {
            Operation::DeleteAlternativAdresse(DeleteRequest { nummer: text(op, "alternativAdresseNummer") })
        }
        "MoveAlternativAdresse" => Operation::MoveAlternativAdresse(MoveRequest {
            nummer: text(op, "alternativAdresseNummer"),
            til_nummer: text(op, "tilEnhedsNummer"),
        }),
        _ => return Ok(None),
    }))
}
/// The `daginstitution` element of insert and update (the number only on update).
fn daginstitution(d: &Element) -> Result<Daginstitution, GatewayError> {
    Ok(Daginstitution {
        daginstitutions_nummer: text(d, "daginstitutionsNummer"),
        daginstitutions_navn: text(d, "daginstitutionsNavn"),
        ejerform_kode: int(d, "ejerformKode")?,
        lovgrundlag_kode: int(d, "lovgrundlagKode")?,
        adm_kommune_kode: int(d, "admKommuneKode")?,
        ejer_cvr_nummer: opt_text(d, "ejerCvrNummer").map(str::to_owned),
    })
}

fn opt(e: &Element, name: &str) -> Option<String> {
    opt_text(e, name).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The `Adresse` element of a unit (components and/or the DAR id; coordinates are the register's).
fn adresse(unit: &Element) -> Result<Adresse, GatewayError> {
    let Some(x) = unit.child("Adresse") else {
        return Ok(Adresse::default());
    };
    Ok(Adresse {
        vej_navn: text(x, "vejNavn"),
        hus_nummer: text(x, "husNummer"),
        etage: opt(x, "etage"),
        doer: opt(x, "doer"),
        post_nummer: text(x, "postNummer"),
        post_distrikt: text(x, "postDistrikt"),
        supplerende_bynavn: opt(x, "supplerendeBynavn"),
        kommune_kode: int(x, "kommuneKode")?,
        dar_adresse_id: opt(x, "darAdresseId"),
        geo_bredde: None,
        geo_laengde: None,
    })
}

/// The `alternativAdresse` element.
fn alternativ_adresse(a: &Element) -> Result<AlternativAdresse, GatewayError> {
    Ok(AlternativAdresse {
        alternativ_adresse_nummer: text(a, "alternativAdresseNummer"),
        enheds_nummer: text(a, "EnhedsNummer"),
        alternativ_adresse_navn: text(a, "alternativAdresseNavn"),
        adresse: Some(adresse(a)?),
        p_nummer: opt(a, "PNummer"),
        cvr_nummer: None,
        email: opt(a, "Email"),
        telefon_nummer: opt(a, "TelefonNummer"),
    })
}

/// The `anvisningsenhed` element (published field names, mixed case as in the register).
fn anvisningsenhed(a: &Element) -> Result<Anvisningsenhed, GatewayError> {
    Ok(Anvisningsenhed {
        enheds_nummer: text(a, "EnhedsNummer"),
        daginstitutions_nummer: text(a, "daginstitutionsNummer"),
        enheds_navn: text(a, "EnhedsNavn"),
        adresse: Some(adresse(a)?),
        inst_type3: int(a, "InstType3")?,
        email: opt(a, "Email"),
        telefon_nummer: opt(a, "TelefonNummer"),
        cvr_nummer: None,
        p_nummer: text(a, "PNummer"),
    })
}

/// `<…Response><ImportSvar><status/><nummer/><fejl>*</ImportSvar></…Response>`
fn import_svar(response: &str, ns: &str, svar: &ImportSvar) -> String {
    let mut x = XmlOut::with_capacity(256);
    x.open_ns(response, ns).open("ImportSvar");
    x.text("status", if svar.ok { "OK" } else { "FEJL" });
    if !svar.nummer.is_empty() {
        x.text("nummer", &svar.nummer);
    }
    for f in &svar.fejl {
        x.open("fejl").text("kode", &f.kode).text("felt", &f.felt).text("besked", &f.besked).close("fejl");
    }
    x.close("ImportSvar").close(response);
    x.finish()
}
