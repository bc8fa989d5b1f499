//! Organisations over gRPC: registered by the operator (there is no self sign-up: providers ask
//! STIL), read and listed by anyone acting, made passive by the operator with a comment.

use tonic::Status;

use dtr_proto::tilslutning as pb;

use crate::aftaler::internal;
use crate::livscyklus::OPERATOER;
use crate::model::{Organisation, OrganisationInfo, OrganisationType};
use crate::side;
use crate::store::TilslutningStore;

fn type_pb(t: OrganisationType) -> pb::OrganisationType {
    match t {
        OrganisationType::Institution => pb::OrganisationType::Institution,
        OrganisationType::Dagtilbud => pb::OrganisationType::Dagtilbud,
        OrganisationType::Restinstitution => pb::OrganisationType::Restinstitution,
        OrganisationType::Udbyder => pb::OrganisationType::Udbyder,
        OrganisationType::Kommune => pb::OrganisationType::Kommune,
        OrganisationType::PrivatEjer => pb::OrganisationType::PrivatEjer,
    }
}

fn type_fra_pb(t: pb::OrganisationType) -> Option<OrganisationType> {
    Some(match t {
        pb::OrganisationType::Institution => OrganisationType::Institution,
        pb::OrganisationType::Dagtilbud => OrganisationType::Dagtilbud,
        pb::OrganisationType::Restinstitution => OrganisationType::Restinstitution,
        pb::OrganisationType::Udbyder => OrganisationType::Udbyder,
        pb::OrganisationType::Kommune => OrganisationType::Kommune,
        pb::OrganisationType::PrivatEjer => OrganisationType::PrivatEjer,
        pb::OrganisationType::Unspecified => return None,
    })
}

pub fn organisation_pb(o: &OrganisationInfo) -> pb::Organisation {
    pb::Organisation {
        kode: o.organisation.kode.clone(),
        navn: o.organisation.navn.clone(),
        cvr: o.organisation.cvr.clone(),
        pnr: o.organisation.pnr.clone(),
        r#type: type_pb(o.organisation.type_) as i32,
        er_passiveret: o.er_passiveret,
        passiveret_kommentar: o.passiveret_kommentar.clone(),
    }
}

fn kun_operatoer(aktoer: &str) -> Result<(), Status> {
    if aktoer == OPERATOER {
        Ok(())
    } else {
        Err(Status::permission_denied("kun STIL registrerer og passiverer organisationer"))
    }
}

/// Every problem with a new organisation, in one message.
fn valider(o: &pb::Organisation) -> Result<Organisation, Status> {
    let mut fejl = Vec::new();
    let kode = o.kode.trim();
    if kode.is_empty() || kode.len() > 6 || !kode.bytes().all(|b| b.is_ascii_alphanumeric()) {
        fejl.push("kode skal være 1 til 6 bogstaver eller cifre");
    }
    let navn = o.navn.trim();
    if navn.is_empty() || navn.chars().count() > 200 {
        fejl.push("navn skal være 1 til 200 tegn");
    }
    if !(o.cvr.is_empty() || (o.cvr.len() == 8 && o.cvr.bytes().all(|b| b.is_ascii_digit()))) {
        fejl.push("cvr skal være 8 cifre");
    }
    if !(o.pnr.is_empty() || (o.pnr.len() == 10 && o.pnr.bytes().all(|b| b.is_ascii_digit()))) {
        fejl.push("pnr skal være 10 cifre");
    }
    let type_ = type_fra_pb(o.r#type());
    if type_.is_none() {
        fejl.push("angiv typen");
    }
    match type_ {
        Some(type_) if fejl.is_empty() => Ok(Organisation {
            kode: kode.to_owned(),
            navn: navn.to_owned(),
            cvr: o.cvr.clone(),
            pnr: o.pnr.clone(),
            type_,
        }),
        _ => Err(Status::invalid_argument(fejl.join("; "))),
    }
}

pub async fn create(
    store: &dyn TilslutningStore,
    aktoer: &str,
    o: &pb::Organisation,
) -> Result<pb::Organisation, Status> {
    kun_operatoer(aktoer)?;
    let org = valider(o)?;
    if !store.create_organisation(&org).await.map_err(internal)? {
        return Err(Status::already_exists(format!("organisationen {} findes allerede", org.kode)));
    }
    get(store, &org.kode).await
}

pub async fn get(store: &dyn TilslutningStore, kode: &str) -> Result<pb::Organisation, Status> {
    let o = store.get_organisation(kode).await.map_err(internal)?;
    o.map(|o| organisation_pb(&o)).ok_or_else(|| Status::not_found(format!("organisationen {kode} findes ikke")))
}

pub async fn list(
    store: &dyn TilslutningStore,
    r: &pb::ListOrganisationerRequest,
) -> Result<pb::ListOrganisationerResponse, Status> {
    let size = side::stoerrelse(&r.side, "organisationer")?;
    let type_ = match r.r#type {
        Some(t) => Some(
            type_fra_pb(pb::OrganisationType::try_from(t).unwrap_or_default())
                .ok_or_else(|| Status::invalid_argument("ukendt organisationstype"))?,
        ),
        None => None,
    };
    let efter = side::token(&r.side);
    let mut page = store.list_organisationer(type_, r.soeg.trim(), &efter, size + 1).await.map_err(internal)?;
    let naeste_side = side::klip(&mut page, size, |o| o.organisation.kode.clone());
    Ok(pb::ListOrganisationerResponse { organisationer: page.iter().map(organisation_pb).collect(), naeste_side })
}

pub async fn set_passiv(
    store: &dyn TilslutningStore,
    aktoer: &str,
    r: &pb::SetOrganisationPassivRequest,
) -> Result<pb::Organisation, Status> {
    kun_operatoer(aktoer)?;
    if !store.set_organisation_passiv(&r.kode, r.passiv, r.kommentar.trim()).await.map_err(internal)? {
        return Err(Status::not_found(format!("organisationen {} findes ikke", r.kode)));
    }
    get(store, &r.kode).await
}
