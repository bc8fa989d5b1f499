//! ImportService: the request read into protobuf once, then sent to the import service.

use dtr_proto::context::CallerContext;
use dtr_proto::import::validate_request::Operation as Write;
use dtr_proto::import::{
    DeleteRequest, GetXmlSchemaRequest, HelloWorldRequest, InsertAlternativAdresseRequest,
    InsertAnvisningsEnhedRequest, InsertDaginstitutionRequest, MoveRequest, UpdateAlternativAdresseRequest,
    UpdateAnvisningsEnhedRequest, UpdateDaginstitutionRequest, ValidateRequest,
};
use dtr_proto::registry::{Adresse, AlternativAdresse, Anvisningsenhed, Daginstitution, ImportSvar};

use super::{int, opt_i64, opt_text, required, single_result, text};
use crate::clients::Clients;
use crate::error::GatewayError;
use crate::operation::ImportOperation;
use crate::soap::Element;
use crate::soap::xml::XmlOut;

/// One ImportService request, read from its Body element.
#[derive(Debug, Clone)]
pub enum ImportCall {
    HelloWorld,
    GetXmlSchema,
    /// A dry run of the write inside it.
    Validate(Box<Write>),
    Write(Box<Write>),
}

impl ImportCall {
    pub fn parse(op: ImportOperation, e: &Element) -> Result<ImportCall, GatewayError> {
        Ok(match op {
            ImportOperation::HelloWorld => ImportCall::HelloWorld,
            ImportOperation::GetXmlSchema => ImportCall::GetXmlSchema,
            ImportOperation::ValidateXmlAgainstSchema => {
                let inner = e.children.first().ok_or_else(|| {
                    GatewayError::Schema(format!("{} skal indeholde den operation der skal valideres", op.name()))
                })?;
                let Some(inner_op) = ImportOperation::from_name(&inner.name) else {
                    return Err(GatewayError::UnknownOperation(inner.name.clone()));
                };
                match write(inner_op, inner)? {
                    Some(w) => ImportCall::Validate(Box::new(w)),
                    None => {
                        return Err(GatewayError::Schema(format!(
                            "kun skriveoperationer kan valideres, ikke {}",
                            inner.name
                        )));
                    }
                }
            }
            write_op => ImportCall::Write(Box::new(write(write_op, e)?.expect("every other operation is a write"))),
        })
    }

    pub fn operation(&self) -> ImportOperation {
        match self {
            ImportCall::HelloWorld => ImportOperation::HelloWorld,
            ImportCall::GetXmlSchema => ImportOperation::GetXmlSchema,
            ImportCall::Validate(_) => ImportOperation::ValidateXmlAgainstSchema,
            ImportCall::Write(w) => write_operation(w),
        }
    }

    /// The write whose data owners the access check needs: only a real write has any.
    pub fn write(&self) -> Option<&Write> {
        match self {
            ImportCall::Write(w) => Some(w.as_ref()),
            _ => None,
        }
    }
}

/// The operation a write request is.
fn write_operation(w: &Write) -> ImportOperation {
    match w {
        Write::InsertDaginstitution(_) => ImportOperation::InsertDaginstitution,
        Write::UpdateDaginstitution(_) => ImportOperation::UpdateDaginstitution,
        Write::DeleteDaginstitution(_) => ImportOperation::DeleteDaginstitution,
        Write::InsertAnvisningsEnhed(_) => ImportOperation::InsertAnvisningsEnhed,
        Write::UpdateAnvisningsEnhed(_) => ImportOperation::UpdateAnvisningsEnhed,
        Write::DeleteAnvisningsEnhed(_) => ImportOperation::DeleteAnvisningsEnhed,
        Write::MoveAnvisningsEnhed(_) => ImportOperation::MoveAnvisningsEnhed,
        Write::InsertAlternativAdresse(_) => ImportOperation::InsertAlternativAdresse,
        Write::UpdateAlternativAdresse(_) => ImportOperation::UpdateAlternativAdresse,
        Write::DeleteAlternativAdresse(_) => ImportOperation::DeleteAlternativAdresse,
        Write::MoveAlternativAdresse(_) => ImportOperation::MoveAlternativAdresse,
    }
}

/// Sends the call; the answer is written in the endpoint's namespace `ns`.
pub async fn call(clients: &Clients, call: ImportCall, ctx: &CallerContext, ns: &str) -> Result<String, GatewayError> {
    let op = call.operation().name();
    let response = format!("{op}Response");
    let mut import = clients.import();
    match call {
        ImportCall::HelloWorld => {
            let r = import.hello_world(clients.request(ctx, HelloWorldRequest {})).await;
            Ok(single_result(op, ns, &r.map_err(GatewayError::Backend)?.into_inner().message))
        }
        ImportCall::GetXmlSchema => {
            let r = import.get_xml_schema(clients.request(ctx, GetXmlSchemaRequest {})).await;
            Ok(single_result(op, ns, &r.map_err(GatewayError::Backend)?.into_inner().xsd))
        }
        ImportCall::Validate(w) => {
            let req = ValidateRequest { operation: Some(*w) };
            let svar = import.validate_xml_against_schema(clients.request(ctx, req)).await;
            Ok(import_svar(&response, ns, &svar.map_err(GatewayError::Backend)?.into_inner()))
        }
        ImportCall::Write(w) => {
            let svar = match *w {
                Write::InsertDaginstitution(r) => import.insert_daginstitution(clients.request(ctx, r)).await,
                Write::UpdateDaginstitution(r) => import.update_daginstitution(clients.request(ctx, r)).await,
                Write::DeleteDaginstitution(r) => import.delete_daginstitution(clients.request(ctx, r)).await,
                Write::InsertAnvisningsEnhed(r) => import.insert_anvisnings_enhed(clients.request(ctx, r)).await,
                Write::UpdateAnvisningsEnhed(r) => import.update_anvisnings_enhed(clients.request(ctx, r)).await,
                Write::DeleteAnvisningsEnhed(r) => import.delete_anvisnings_enhed(clients.request(ctx, r)).await,
                Write::MoveAnvisningsEnhed(r) => import.move_anvisnings_enhed(clients.request(ctx, r)).await,
                Write::InsertAlternativAdresse(r) => import.insert_alternativ_adresse(clients.request(ctx, r)).await,
                Write::UpdateAlternativAdresse(r) => import.update_alternativ_adresse(clients.request(ctx, r)).await,
                Write::DeleteAlternativAdresse(r) => import.delete_alternativ_adresse(clients.request(ctx, r)).await,
                Write::MoveAlternativAdresse(r) => import.move_alternativ_adresse(clients.request(ctx, r)).await,
            };
            Ok(import_svar(&response, ns, &svar.map_err(GatewayError::of_write)?.into_inner()))
        }
    }
}

/// Reads a write operation's element into its request; `None` when `op` is not a write.
fn write(op: ImportOperation, e: &Element) -> Result<Option<Write>, GatewayError> {
    use ImportOperation as Op;
    Ok(Some(match op {
        Op::HelloWorld | Op::GetXmlSchema | Op::ValidateXmlAgainstSchema => return Ok(None),
        Op::InsertDaginstitution => Write::InsertDaginstitution(InsertDaginstitutionRequest {
            daginstitution: Some(daginstitution(required(e, "daginstitution")?)?),
        }),
        Op::UpdateDaginstitution => Write::UpdateDaginstitution(UpdateDaginstitutionRequest {
            daginstitution: Some(daginstitution(required(e, "daginstitution")?)?),
            forventet_version: opt_i64(e, "forventetVersion")?,
        }),
        Op::DeleteDaginstitution => {
            Write::DeleteDaginstitution(DeleteRequest { nummer: text(e, "daginstitutionsNummer") })
        }
        Op::InsertAnvisningsEnhed => Write::InsertAnvisningsEnhed(InsertAnvisningsEnhedRequest {
            anvisningsenhed: Some(anvisningsenhed(required(e, "anvisningsenhed")?)?),
        }),
        Op::UpdateAnvisningsEnhed => Write::UpdateAnvisningsEnhed(UpdateAnvisningsEnhedRequest {
            anvisningsenhed: Some(anvisningsenhed(required(e, "anvisningsenhed")?)?),
            forventet_version: opt_i64(e, "forventetVersion")?,
        }),
        Op::DeleteAnvisningsEnhed => Write::DeleteAnvisningsEnhed(DeleteRequest { nummer: text(e, "EnhedsNummer") }),
        Op::MoveAnvisningsEnhed => Write::MoveAnvisningsEnhed(MoveRequest {
            nummer: text(e, "EnhedsNummer"),
            til_nummer: text(e, "tilDaginstitutionsNummer"),
        }),
        Op::InsertAlternativAdresse => Write::InsertAlternativAdresse(InsertAlternativAdresseRequest {
            alternativ_adresse: Some(alternativ_adresse(required(e, "alternativAdresse")?)?),
        }),
        Op::UpdateAlternativAdresse => Write::UpdateAlternativAdresse(UpdateAlternativAdresseRequest {
            alternativ_adresse: Some(alternativ_adresse(required(e, "alternativAdresse")?)?),
            forventet_version: opt_i64(e, "forventetVersion")?,
        }),
        Op::DeleteAlternativAdresse => {
            Write::DeleteAlternativAdresse(DeleteRequest { nummer: text(e, "alternativAdresseNummer") })
        }
        Op::MoveAlternativAdresse => Write::MoveAlternativAdresse(MoveRequest {
            nummer: text(e, "alternativAdresseNummer"),
            til_nummer: text(e, "tilEnhedsNummer"),
        }),
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
