//! Protobuf ↔ domain conversions of the tilslutning contract.

use chrono::{DateTime, Utc};
use tonic::Status;

use dtr_proto::tilslutning as pb;

use crate::model::{
    Aftale, AftaleStatus, Dataejer, OrganisationInfo, OrganisationType, PersonInfo, Rolle, ServiceDef, SystemInfo,
};
use crate::side::Side;
use crate::systemer::Legitimation;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

pub fn side(s: &Option<pb::Side>) -> Side {
    s.as_ref().map(|s| Side { stoerrelse: i64::from(s.stoerrelse), token: s.token.clone() }).unwrap_or_default()
}

pub fn status(s: AftaleStatus) -> pb::AftaleStatus {
    match s {
        AftaleStatus::Venter => pb::AftaleStatus::Venter,
        AftaleStatus::Godkendt => pb::AftaleStatus::Godkendt,
        AftaleStatus::Afvist => pb::AftaleStatus::Afvist,
        AftaleStatus::Slettet => pb::AftaleStatus::Slettet,
    }
}

pub fn status_fra(s: pb::AftaleStatus) -> Result<AftaleStatus, Status> {
    match s {
        pb::AftaleStatus::Venter => Ok(AftaleStatus::Venter),
        pb::AftaleStatus::Godkendt => Ok(AftaleStatus::Godkendt),
        pb::AftaleStatus::Afvist => Ok(AftaleStatus::Afvist),
        pb::AftaleStatus::Slettet => Ok(AftaleStatus::Slettet),
        pb::AftaleStatus::Unspecified => {
            Err(Status::invalid_argument("angiv en status: VENTER, GODKENDT, AFVIST eller SLETTET"))
        }
    }
}

fn historik(a: &Aftale) -> Vec<pb::HistorikLinje> {
    a.historik
        .iter()
        .map(|h| pb::HistorikLinje {
            aktoer: h.aktoer.clone(),
            tidspunkt: Some(timestamp(h.tidspunkt)),
            fra: h.fra.map_or(pb::AftaleStatus::Unspecified, status) as i32,
            til: status(h.til) as i32,
            kommentar: h.kommentar.clone(),
            person: h.person.clone().unwrap_or_default(),
        })
        .collect()
}

pub fn tilslutning(a: &Aftale) -> pb::Tilslutningsaftale {
    pb::Tilslutningsaftale {
        aftale_id: a.aftale_id.clone(),
        udbydersystem_id: a.system_id.clone(),
        servicekode: a.servicekode.clone(),
        status: status(a.status) as i32,
        historik: historik(a),
        system_navn: a.system_navn.clone(),
        udbyder_navn: a.udbyder_navn.clone(),
    }
}

pub fn dataaftale(a: &Aftale) -> pb::Dataaftale {
    pb::Dataaftale {
        aftale_id: a.aftale_id.clone(),
        udbydersystem_id: a.system_id.clone(),
        servicekode: a.servicekode.clone(),
        ejer_kode: a.ejer_kode.clone().unwrap_or_default(),
        aftale_status: status(a.status) as i32,
        historik: historik(a),
        system_navn: a.system_navn.clone(),
        udbyder_navn: a.udbyder_navn.clone(),
        ejer_navn: a.ejer_navn.clone().unwrap_or_default(),
    }
}

pub fn system(s: &SystemInfo) -> pb::System {
    pb::System {
        udbydersystem_id: s.id.clone(),
        navn: s.navn.clone(),
        udbyder_kode: s.udbyder_kode.clone(),
        passiv: s.passiv,
        blokeret: s.blokeret,
        blokeret_aarsag: s.blokeret_aarsag.clone(),
        slettet: s.slettet,
        brugernavn: s.brugernavn.clone(),
        kontakt_navn: s.kontakt.navn.clone(),
        kontakt_email: s.kontakt.email.clone(),
        kontakt_telefon: s.kontakt.telefon.clone(),
        sidst_brugt: s.sidst_brugt.clone().unwrap_or_default(),
    }
}

pub fn credentials(l: Legitimation) -> pb::Credentials {
    pb::Credentials {
        brugernavn: l.brugernavn,
        adgangskode: l.adgangskode,
        gammel_udloeber: l.gammel_udloeber.map(|t| prost_types::Timestamp { seconds: t.timestamp(), nanos: 0 }),
    }
}

pub fn organisation_type(t: OrganisationType) -> pb::OrganisationType {
    match t {
        OrganisationType::Institution => pb::OrganisationType::Institution,
        OrganisationType::Dagtilbud => pb::OrganisationType::Dagtilbud,
        OrganisationType::Restinstitution => pb::OrganisationType::Restinstitution,
        OrganisationType::Udbyder => pb::OrganisationType::Udbyder,
        OrganisationType::Kommune => pb::OrganisationType::Kommune,
        OrganisationType::PrivatEjer => pb::OrganisationType::PrivatEjer,
    }
}

pub fn organisation_type_fra(t: pb::OrganisationType) -> Option<OrganisationType> {
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

pub fn organisation(o: &OrganisationInfo) -> pb::Organisation {
    pb::Organisation {
        kode: o.organisation.kode.clone(),
        navn: o.organisation.navn.clone(),
        cvr: o.organisation.cvr.clone(),
        pnr: o.organisation.pnr.clone(),
        r#type: organisation_type(o.organisation.type_) as i32,
        er_passiveret: o.er_passiveret,
        passiveret_kommentar: o.passiveret_kommentar.clone(),
    }
}

pub fn service(d: &ServiceDef) -> pb::Service {
    pb::Service {
        servicekode: d.servicekode.clone(),
        service_navn: d.navn.clone(),
        beskrivelse: d.beskrivelse.clone(),
        formaal: d.formaal.clone(),
        data: d.data.clone(),
        operationer: d
            .operationer
            .iter()
            .map(|(navn, kraever)| pb::Operation { navn: navn.clone(), kraever_dataaftale: *kraever })
            .collect(),
        versioner: d.versioner.clone(),
    }
}

pub fn service_def(s: pb::Service) -> ServiceDef {
    ServiceDef {
        servicekode: s.servicekode,
        navn: s.service_navn,
        beskrivelse: s.beskrivelse,
        formaal: s.formaal,
        data: s.data,
        operationer: s.operationer.into_iter().map(|o| (o.navn, o.kraever_dataaftale)).collect(),
        versioner: s.versioner,
    }
}

/// A data owner of the registry: a kommune or a private owner, nothing else.
pub fn ejer(e: &pb::Ejer) -> Result<Dataejer, Status> {
    match e.r#type() {
        pb::OrganisationType::Kommune => Ok(Dataejer::Kommune(e.kode.clone())),
        pb::OrganisationType::PrivatEjer => Ok(Dataejer::PrivatEjer(e.kode.clone())),
        _ => Err(Status::invalid_argument("en dataejer skal være en kommune eller en privat ejer")),
    }
}

pub fn rolle(r: Rolle) -> pb::Rolle {
    match r {
        Rolle::Udbyderadministrator => pb::Rolle::Udbyderadministrator,
        Rolle::Dataadgangsadministrator => pb::Rolle::Dataadgangsadministrator,
        Rolle::Operatoer => pb::Rolle::Operatoer,
        Rolle::Registeradministrator => pb::Rolle::Registeradministrator,
    }
}

pub fn rolle_fra(r: pb::Rolle) -> Result<Rolle, Status> {
    match r {
        pb::Rolle::Udbyderadministrator => Ok(Rolle::Udbyderadministrator),
        pb::Rolle::Dataadgangsadministrator => Ok(Rolle::Dataadgangsadministrator),
        pb::Rolle::Operatoer => Ok(Rolle::Operatoer),
        pb::Rolle::Registeradministrator => Ok(Rolle::Registeradministrator),
        pb::Rolle::Unspecified => Err(Status::invalid_argument(
            "angiv en rolle: UDBYDERADMINISTRATOR, DATAADGANGSADMINISTRATOR, OPERATOER eller REGISTERADMINISTRATOR",
        )),
    }
}

pub fn person(p: &PersonInfo) -> pb::Person {
    pb::Person {
        person_id: p.id.clone(),
        brugernavn: p.brugernavn.clone(),
        navn: p.navn.clone(),
        email: p.email.clone(),
        roller: p
            .roller
            .iter()
            .map(|r| pb::Rolletildeling {
                organisation_kode: r.organisation_kode.clone(),
                organisation_navn: r.organisation_navn.clone(),
                rolle: rolle(r.rolle) as i32,
            })
            .collect(),
    }
}
