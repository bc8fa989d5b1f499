//! The public CSV export (docs/registry.md §4): four files over plain HTTPS without login,
//! `;`-separated, UTF-8 with BOM, a header row of camelCase names with `_Tekst` companions, in the
//! names public code that reads the real register's files expects (every column is described in
//! `docs/csv.md`). Streamed like the SOAP extracts: rows are written as the export service streams
//! them.
//!
//! **[decision]** The files are `daginstitution.csv`, `anvisningsenhed.csv`,
//! `alternativadresse.csv` and `samlet.csv` under `/csv/`. `samlet` has one row per unit of every
//! level, `dagtilbudsType` naming it (`daginstitution`, `anvisningsenhed`, `alternativAdresse`),
//! with the numbers of the unit and its parents and the parents' fields filled in. Coordinates
//! are written with a decimal comma, as Danish spreadsheets and the real files have them.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{StatusCode, header};

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::export::GetAllRequest;
use dtr_proto::registry::{
    Adresse, Aktivitetsstatus, AlternativAdresseExtend, AnvisningsenhedExtend, DaginstitutionExtend, Dagtilbud,
    Registerfelter,
};

use crate::Clients;
use crate::error::GatewayError;

/// The published files.
pub const FILES: [&str; 4] = ["daginstitution.csv", "anvisningsenhed.csv", "alternativadresse.csv", "samlet.csv"];

const CHUNK: usize = 64 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

const REGISTER: [&str; 4] = ["aktivitetsstatus", "oprettetDato", "senestAendret", "nedlagtDato"];
const DAGINSTITUTION: [&str; 9] = [
    "daginstitutionsNummer",
    "daginstitutionsNavn",
    "ejerformKode",
    "ejerformKode_Tekst",
    "lovgrundlagKode",
    "lovgrundlagKode_Tekst",
    "admKommuneKode",
    "admKommuneKode_Tekst",
    "ejerCvrNummer",
];
const ADRESSE: [&str; 12] = [
    "vejNavn",
    "husNummer",
    "etage",
    "doer",
    "postNummer",
    "byNavn",
    "supplerendeBynavn",
    "kommuneKode",
    "kommuneKode_Tekst",
    "darAdresseId",
    "geoBredde",
    "geoLaengde",
];

/// A row being written: fields in header order.
type Row = Vec<String>;

fn header_row(parts: &[&[&str]]) -> Row {
    parts.iter().flat_map(|p| p.iter().map(|s| (*s).to_owned())).collect()
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A coordinate with a decimal comma (`55,6648`).
fn koordinat(v: Option<f64>) -> String {
    v.map(|v| v.to_string().replace('.', ",")).unwrap_or_default()
}

fn empty(row: &mut Row, n: usize) {
    row.extend(std::iter::repeat_n(String::new(), n));
}

fn register(row: &mut Row, r: Option<&Registerfelter>) {
    let Some(r) = r else {
        empty(row, REGISTER.len());
        return;
    };
    let status = if r.aktivitetsstatus() == Aktivitetsstatus::Nedlagt { "Nedlagt" } else { "Aktiv" };
    row.extend([
        status.to_owned(),
        timestamp(&r.oprettet_dato),
        timestamp(&r.senest_aendret),
        timestamp(&r.nedlagt_dato),
    ]);
}

fn daginstitution(row: &mut Row, d: &DaginstitutionExtend) {
    let di = d.daginstitution.as_ref();
    row.push(di.map(|x| x.daginstitutions_nummer.clone()).unwrap_or_default());
    row.push(di.map(|x| x.daginstitutions_navn.clone()).unwrap_or_default());
    ejer(row, Some(d));
}

fn adresse(row: &mut Row, a: Option<&Adresse>, kommune_tekst: &str) {
    let a = a.cloned().unwrap_or_default();
    row.extend([
        a.vej_navn,
        a.hus_nummer,
        a.etage.unwrap_or_default(),
        a.doer.unwrap_or_default(),
        a.post_nummer,
        a.post_distrikt,
        a.supplerende_bynavn.unwrap_or_default(),
        a.kommune_kode.to_string(),
        kommune_tekst.to_owned(),
        a.dar_adresse_id.unwrap_or_default(),
        koordinat(a.geo_bredde),
        koordinat(a.geo_laengde),
    ]);
}

const ENHED_FOER: [&str; 3] = ["anvisningsenhedsNummer", "daginstitutionsNummer", "anvisningsenhedsNavn"];
const ENHED_EFTER: [&str; 6] = ["instType3", "instType3_Tekst", "email", "telefonNummer", "cvrNummer", "pNummer"];

fn anvisningsenhed(row: &mut Row, e: &AnvisningsenhedExtend) {
    let a = e.anvisningsenhed.clone().unwrap_or_default();
    row.extend([a.enheds_nummer, a.daginstitutions_nummer, a.enheds_navn]);
    adresse(row, a.adresse.as_ref(), &e.kommune_kode_tekst);
    row.extend([
        a.inst_type3.to_string(),
        e.inst_type3_tekst.clone(),
        a.email.unwrap_or_default(),
        a.telefon_nummer.unwrap_or_default(),
        a.cvr_nummer.unwrap_or_default(),
        a.p_nummer,
    ]);
    register(row, e.register.as_ref());
}

const ALTERNATIV_FOER: [&str; 3] = ["alternativAdresseNummer", "anvisningsenhedsNummer", "alternativAdresseNavn"];
const ALTERNATIV_EFTER: [&str; 4] = ["pNummer", "cvrNummer", "email", "telefonNummer"];

fn alternativ_adresse(row: &mut Row, e: &AlternativAdresseExtend) {
    let a = e.alternativ_adresse.clone().unwrap_or_default();
    row.extend([a.alternativ_adresse_nummer, a.enheds_nummer, a.alternativ_adresse_navn]);
    adresse(row, a.adresse.as_ref(), &e.kommune_kode_tekst);
    row.extend([
        a.p_nummer.unwrap_or_default(),
        a.cvr_nummer.unwrap_or_default(),
        a.email.unwrap_or_default(),
        a.telefon_nummer.unwrap_or_default(),
    ]);
    register(row, e.register.as_ref());
}

/// `samlet`'s columns: the level, the numbers of the unit and its parents, its name, the
/// daginstitution's fields, the unit's type, CVR and P-number, address, contact, register fields.
const SAMLET_FOER: [&str; 5] =
    ["dagtilbudsType", "daginstitutionsNummer", "anvisningsenhedsNummer", "alternativAdresseNummer", "dagtilbudsNavn"];
/// The daginstitution's own columns after its number and name: every row of its tree repeats them.
const SAMLET_EJER: [&str; 7] = [
    DAGINSTITUTION[2],
    DAGINSTITUTION[3],
    DAGINSTITUTION[4],
    DAGINSTITUTION[5],
    DAGINSTITUTION[6],
    DAGINSTITUTION[7],
    DAGINSTITUTION[8],
];
const SAMLET_ENHED: [&str; 4] = ["instType3", "instType3_Tekst", "cvrNummer", "pNummer"];
const KONTAKT: [&str; 2] = ["email", "telefonNummer"];
const SAMLET_BREDDE: usize =
    SAMLET_FOER.len() + SAMLET_EJER.len() + SAMLET_ENHED.len() + ADRESSE.len() + KONTAKT.len() + REGISTER.len();

fn samlet_header() -> Row {
    header_row(&[&SAMLET_FOER, &SAMLET_EJER, &SAMLET_ENHED, &ADRESSE, &KONTAKT, &REGISTER])
}

/// The daginstitution's fields every row of its tree repeats.
fn ejer(row: &mut Row, d: Option<&DaginstitutionExtend>) {
    let Some(d) = d else {
        empty(row, SAMLET_EJER.len());
        return;
    };
    let di = d.daginstitution.clone().unwrap_or_default();
    row.extend([
        di.ejerform_kode.to_string(),
        d.ejerform_kode_tekst.clone(),
        di.lovgrundlag_kode.to_string(),
        d.lovgrundlag_kode_tekst.clone(),
        di.adm_kommune_kode.to_string(),
        d.adm_kommune_kode_tekst.clone(),
        di.ejer_cvr_nummer.unwrap_or_default(),
    ]);
}

/// `samlet`: the daginstitution, each of its anvisningsenheder, and each of their alternative
/// addresses, a row each.
fn samlet_rows(d: &Dagtilbud) -> Vec<Row> {
    let di = d.daginstitution.as_ref();
    let di_nummer = di.and_then(|x| x.daginstitution.as_ref()).map(|x| x.daginstitutions_nummer.clone());
    let di_nummer = di_nummer.unwrap_or_default();
    let mut rows = Vec::with_capacity(1 + d.anvisningsenheder.len());
    let mut row = Row::with_capacity(SAMLET_BREDDE);
    let navn = di.and_then(|x| x.daginstitution.as_ref()).map(|x| x.daginstitutions_navn.clone()).unwrap_or_default();
    row.extend(["daginstitution".to_owned(), di_nummer.clone(), String::new(), String::new(), navn]);
    ejer(&mut row, di);
    empty(&mut row, SAMLET_ENHED.len() + ADRESSE.len() + KONTAKT.len());
    register(&mut row, di.and_then(|x| x.register.as_ref()));
    rows.push(row);
    for u in &d.anvisningsenheder {
        let Some(e) = &u.anvisningsenhed else { continue };
        let a = e.anvisningsenhed.clone().unwrap_or_default();
        let mut row = Row::with_capacity(SAMLET_BREDDE);
        row.extend([
            "anvisningsenhed".to_owned(),
            di_nummer.clone(),
            a.enheds_nummer.clone(),
            String::new(),
            a.enheds_navn,
        ]);
        ejer(&mut row, di);
        row.extend([
            a.inst_type3.to_string(),
            e.inst_type3_tekst.clone(),
            a.cvr_nummer.unwrap_or_default(),
            a.p_nummer,
        ]);
        adresse(&mut row, a.adresse.as_ref(), &e.kommune_kode_tekst);
        row.extend([a.email.unwrap_or_default(), a.telefon_nummer.unwrap_or_default()]);
        register(&mut row, e.register.as_ref());
        rows.push(row);
        for l in &u.alternative_adresser {
            let alt = l.alternativ_adresse.clone().unwrap_or_default();
            let mut row = Row::with_capacity(SAMLET_BREDDE);
            row.extend([
                "alternativAdresse".to_owned(),
                di_nummer.clone(),
                a.enheds_nummer.clone(),
                alt.alternativ_adresse_nummer,
                alt.alternativ_adresse_navn,
            ]);
            ejer(&mut row, di);
            row.extend([
                a.inst_type3.to_string(),
                e.inst_type3_tekst.clone(),
                alt.cvr_nummer.unwrap_or_default(),
                alt.p_nummer.unwrap_or_default(),
            ]);
            adresse(&mut row, alt.adresse.as_ref(), &l.kommune_kode_tekst);
            row.extend([alt.email.unwrap_or_default(), alt.telefon_nummer.unwrap_or_default()]);
            register(&mut row, l.register.as_ref());
            rows.push(row);
        }
    }
    rows
}

/// Serves one public CSV file, or 404 naming the files there are.
pub async fn response(clients: &Clients, file: &str, cid: &str) -> Response {
    // The public files are read by the gateway for itself: no one logged in.
    let ctx = CallerContext {
        principal: Principal::Service("gateway".into()),
        correlation_id: cid.to_owned(),
        regelsaet: Default::default(),
        message_id: None,
    };
    let mut export = clients.export();
    let req = || clients.extract_request(&ctx, GetAllRequest {});
    let idle = clients.stream_idle();
    let body = match file {
        "daginstitution.csv" => {
            let header = header_row(&[&DAGINSTITUTION, &REGISTER]);
            rows(export.get_all_daginstitutioner(req()).await, idle, header, |d: &DaginstitutionExtend| {
                let mut row = Row::new();
                daginstitution(&mut row, d);
                register(&mut row, d.register.as_ref());
                vec![row]
            })
        }
        "anvisningsenhed.csv" => {
            let header = header_row(&[&ENHED_FOER, &ADRESSE, &ENHED_EFTER, &REGISTER]);
            rows(export.get_all_anvisnings_enheder(req()).await, idle, header, |e: &AnvisningsenhedExtend| {
                let mut row = Row::new();
                anvisningsenhed(&mut row, e);
                vec![row]
            })
        }
        "alternativadresse.csv" => {
            let header = header_row(&[&ALTERNATIV_FOER, &ADRESSE, &ALTERNATIV_EFTER, &REGISTER]);
            rows(export.get_all_alternativ_adresser(req()).await, idle, header, |e: &AlternativAdresseExtend| {
                let mut row = Row::new();
                alternativ_adresse(&mut row, e);
                vec![row]
            })
        }
        "samlet.csv" => rows(export.get_all_dagtilbud(req()).await, idle, samlet_header(), samlet_rows),
        _ => {
            let msg = format!("Ukendt fil. Den offentlige eksport har: {}.", FILES.join(", "));
            return (StatusCode::NOT_FOUND, msg).into_response();
        }
    };
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "public CSV export failed");
            (StatusCode::SERVICE_UNAVAILABLE, "Eksporten er midlertidigt utilgængelig. Prøv igen om lidt.")
                .into_response()
        }
    }
}

/// A streamed CSV body: BOM, header, then `to_rows` of each record, in chunks. A failure
/// part-way breaks the body off, so a download is never silently short.
fn rows<T: Send + 'static>(
    call: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
    idle: std::time::Duration,
    header: Row,
    to_rows: fn(&T) -> Vec<Row>,
) -> Result<Body, GatewayError> {
    let records = call.map_err(GatewayError::Backend)?.into_inner();
    let mut out = writer(BOM);
    out.write_record(&header).map_err(|e| GatewayError::Backend(tonic::Status::internal(e.to_string())))?;
    let stream = futures::stream::unfold(Some((records, out)), move |state| async move {
        let (mut records, mut out) = state?;
        loop {
            let record = match crate::clients::next_record(&mut records, idle).await {
                Ok(Some(record)) => record,
                Ok(None) => return Some((take(out).map(|(chunk, _)| chunk), None)),
                Err(status) => return Some((Err(std::io::Error::other(status.message().to_owned())), None)),
            };
            for row in to_rows(&record) {
                if let Err(e) = write_row(&mut out, &row) {
                    return Some((Err(std::io::Error::other(e)), None));
                }
            }
            if out.get_ref().len() >= CHUNK {
                return Some(match take(out) {
                    Ok((chunk, next)) => (Ok(chunk), Some((records, next))),
                    Err(e) => (Err(e), None),
                });
            }
        }
    });
    Ok(Body::from_stream(stream.map(|part| part.inspect_err(|e| tracing::warn!(error = %e, "CSV export broken off")))))
}

/// A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a
/// carriage return) gets a leading `'`, as OWASP recommends for CSV injection, so it is shown as
/// the text it is. Anyone who can write a name into the register can write such a text, and the
/// files are public. Control characters a reader would choke on become U+FFFD, as in the SOAP
/// answers.
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let cell = dtr_proto::tekst::publishable_text(cell);
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { Cow::Owned(format!("'{cell}")) } else { cell }
}

/// One data row, each cell neutralised (only a cell that needs it is copied).
fn write_row(out: &mut csv::Writer<Vec<u8>>, row: &Row) -> csv::Result<()> {
    for cell in row {
        out.write_field(neutralised(cell).as_bytes())?;
    }
    out.write_record(None::<&[u8]>)
}

fn writer(start: &[u8]) -> csv::Writer<Vec<u8>> {
    let mut buf = Vec::with_capacity(CHUNK + 8 * 1024);
    buf.extend_from_slice(start);
    csv::WriterBuilder::new().delimiter(b';').from_writer(buf)
}

/// What is written so far, and a fresh writer to go on with.
fn take(out: csv::Writer<Vec<u8>>) -> Result<(Bytes, csv::Writer<Vec<u8>>), std::io::Error> {
    let buf = out.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((Bytes::from(buf), writer(b"")))
}

#[cfg(test)]
mod tests {
    use super::neutralised;

    #[test]
    fn formulas_are_shown_as_text() {
        for attack in [
            "=HYPERLINK(\"http://evil.example/x\",\"Klik\")",
            "+1+cmd|' /C calc'!A0",
            "@SUM(1+1)",
            "-2+3",
            "\tx",
            "\rx",
        ] {
            assert_eq!(neutralised(attack), format!("'{attack}"), "{attack:?}");
        }
        for plain in ["Børnehuset Solsikken", "G30000", "55,6648", "", "a=b"] {
            assert_eq!(neutralised(plain), plain);
        }
    }

    #[test]
    fn control_characters_never_reach_the_file() {
        assert_eq!(neutralised("Ond\u{1b}\u{0}navn"), "Ond\u{FFFD}\u{FFFD}navn");
        assert_eq!(neutralised("=\u{1}"), "'=\u{FFFD}");
    }
}
