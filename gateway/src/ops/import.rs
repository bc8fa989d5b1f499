//! ImportService operations.

use dtr_proto::context::CallerContext;
use dtr_proto::import::validate_request::Operation;
use dtr_proto::import::{
    DeleteRequest, GetXmlSchemaRequest, HelloWorldRequest, InsertDaginstitutionRequest, UpdateDaginstitutionRequest,
    ValidateRequest,
};
use dtr_proto::registry::{Daginstitution, ImportSvar};

use super::{hello_world_response, int, opt_i64, opt_text, required, text};
use crate::Clients;
use crate::error::GatewayError;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// Every operation of the ImportService (registry.md §4), whether or not mapped yet.
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
                    return Err(GatewayError::NotAvailable(format!("ValidateXmlAgainstSchema af {}", inner.name)));
                }
                None => return Err(GatewayError::UnknownOperation(inner.name.clone())),
            };
            let req = ValidateRequest { operation: Some(operation) };
            let svar = clients.import().validate_xml_against_schema(clients.request(ctx, req)).await;
            Ok(import_svar("ValidateXmlAgainstSchemaResponse", ns, &svar.map_err(GatewayError::Backend)?.into_inner()))
        }
        name => {
            let Some(operation) = write_operation(op)? else {
                return Err(if OPERATIONS.contains(&name) {
                    GatewayError::NotAvailable(name.to_owned())
                } else {
                    GatewayError::UnknownOperation(name.to_owned())
                });
            };
            let mut import = clients.import();
            let svar = match operation {
                Operation::InsertDaginstitution(r) => import.insert_daginstitution(clients.request(ctx, r)).await,
                Operation::UpdateDaginstitution(r) => import.update_daginstitution(clients.request(ctx, r)).await,
                Operation::DeleteDaginstitution(r) => import.delete_daginstitution(clients.request(ctx, r)).await,
                _ => return Err(GatewayError::NotAvailable(name.to_owned())),
            };
            let response = format!("{name}Response");
            Ok(import_svar(&response, ns, &svar.map_err(GatewayError::Backend)?.into_inner()))
        }
    }
}

/// Reads a write operation's element into its request; `None` for operations not mapped yet.
fn write_operation(op: &Element) -> Result<Option<Operation>, GatewayError> {
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
