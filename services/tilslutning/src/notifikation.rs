//! Notifications (docs/tilslutning.md): the e-mails an agreement change or a block sends, to the
//! organisation concerned, and their delivery. Mails are written to the `outbox` table in the
//! same transaction as the change (see the store), so nothing acknowledged is lost; a worker
//! delivers them over SMTP and retries with backoff while the mail server is down.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::livscyklus::OPERATOER;
use crate::model::AftaleStatus;
use crate::store::{Aftaleskift, Mailtekster, OutboxMail, TilslutningStore};

/// One e-mail to the recipients of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifikation {
    pub organisation: String,
    pub emne: String,
    pub tekst: String,
}

/// Stands for the portal's base URL in stored mails; delivery fills it in ([`Smtp::portal_url`]),
/// so a mail links to the page where its recipient acts.
pub const PORTAL: &str = "{portal}";

/// A stored mail's text as sent: the portal placeholder replaced by the portal's address, or, with
/// none configured, by a plain pointer to the portal.
pub fn udfyldt(tekst: &str, portal_url: Option<&str>) -> String {
    match portal_url {
        Some(url) => tekst.replace(PORTAL, url.trim_end_matches('/')),
        None => tekst.replace(&format!("{PORTAL}/"), "Tilslutningsportalen: /"),
    }
}

/// The mails of the tilslutning service, as the store is handed them.
pub const TEKSTER: Mailtekster = Mailtekster { aftale: aftale_aendret, blokering: system_blokeret };

/// What an agreement change tells whom: a provider's request goes to the one who decides (STIL
/// for connections, the owner for data access); a decision goes back to the provider.
pub fn aftale_aendret(s: &Aftaleskift<'_>) -> Notifikation {
    let (art, beslutter) = match s.ejer_kode {
        Some(ejer) => ("dataaftale", ejer),
        None => ("tilslutningsaftale", OPERATOER),
    };
    let til_beslutter = s.aktoer == s.udbyder && s.til == AftaleStatus::Venter;
    let organisation = if til_beslutter { beslutter } else { s.udbyder };
    let servicekode = s.servicekode;
    let emne = if til_beslutter {
        format!("DTR: ny anmodning om {art} for {servicekode}")
    } else {
        format!("DTR: {art} for {servicekode} er nu {}", s.til.as_str())
    };
    let fra = s.fra.map_or("(ny)", AftaleStatus::as_str);
    let ejer = s.ejer_kode.map(|e| format!("Dataejer: {e}\n")).unwrap_or_default();
    // Where the recipient acts: the decider answers the waiting request, the provider sees the
    // agreement under its new status.
    let side =
        if til_beslutter { "aftaler?status=VENTER".to_owned() } else { format!("aftaler?status={}", s.til.as_str()) };
    let handling = if til_beslutter { "Svar på anmodningen" } else { "Se aftalen" };
    let tekst = format!(
        "System: {}\nService: {servicekode}\n{ejer}Status: {fra} → {}\nAf: {}\nKommentar: {}\n\n{handling}: {PORTAL}/{side}\n",
        s.system_id,
        s.til.as_str(),
        s.aktoer,
        s.kommentar
    );
    Notifikation { organisation: organisation.to_owned(), emne, tekst }
}

/// A block or unblock, to the system's provider.
pub fn system_blokeret(udbyder: &str, system_id: &str, blokeret: bool, aarsag: &str) -> Notifikation {
    let (emne, tekst) = if blokeret {
        (
            format!("DTR: systemet {system_id} er blokeret"),
            format!("STIL har blokeret systemet {system_id}.\nÅrsag: {aarsag}\n"),
        )
    } else {
        (
            format!("DTR: systemet {system_id} er frigivet"),
            format!("STIL har ophævet blokeringen af systemet {system_id}.\n"),
        )
    };
    Notifikation { organisation: udbyder.to_owned(), emne, tekst }
}

/// One finding of the periodic registry check, as the owner reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registerfund {
    pub enhedstype: String,
    pub nummer: String,
    pub kode: String,
    pub besked: String,
}

/// Most findings listed in one mail; the rest are counted.
const MAX_FUND_I_MAIL: usize = 200;

/// The periodic registry check's findings for one owner (the organisation is filled in when the
/// owner is resolved).
pub fn registerfund(koersel_id: i64, fund: &[Registerfund]) -> Notifikation {
    let mut tekst = format!(
        "Registerets periodiske kontrol (kørsel {koersel_id}) har fundet {} forhold ved jeres enheder, \
         som bør rettes gennem jeres fagsystem:\n\n",
        fund.len()
    );
    for f in fund.iter().take(MAX_FUND_I_MAIL) {
        tekst.push_str(&format!("{} {}: {} {}\n", f.enhedstype, f.nummer, f.kode, f.besked));
    }
    if fund.len() > MAX_FUND_I_MAIL {
        tekst.push_str(&format!("… og {} flere.\n", fund.len() - MAX_FUND_I_MAIL));
    }
    tekst.push_str(&format!("\nSe forholdene i portalen: {PORTAL}/registerfund\n"));
    Notifikation {
        organisation: String::new(),
        emne: format!("DTR: registerkontrollen har fundet {} forhold", fund.len()),
        tekst,
    }
}

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// `smtp://[user:password@]host[:port][?tls=required|opportunistic]` (STARTTLS when asked) or
    /// `smtps://[user:password@]host[:port]` (TLS from the start).
    pub url: String,
    pub afsender: String,
    /// PEM file with the CA that signed the mail server's certificate (a private relay); else
    /// the public web roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// The portal's base URL, which mails link to.
    pub portal_url: Option<String>,
}

/// Wait before attempt `n + 1` after `n` failed ones: 2, 4, 8 … seconds, at most an hour.
pub fn backoff(forsoeg: i64) -> Duration {
    Duration::from_secs(2u64.saturating_pow(forsoeg.clamp(1, 12) as u32).min(3600))
}

/// Delivers due mail from the outbox until the process stops; each mail is claimed before it is
/// sent, so several instances do not send one twice.
pub async fn deliver_forever(store: std::sync::Arc<dyn TilslutningStore>, smtp: Smtp) {
    let transport = match smtp_transport(&smtp) {
        Ok(t) => t,
        Err(e) => {
            // Not the URL itself: it may hold the mail password.
            tracing::error!(error = %e, "mail delivery off: bad DTR_SMTP_URL or DTR_SMTP_CA_FILE");
            return;
        }
    };
    let afsender: Mailbox = match smtp.afsender.parse() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "mail delivery off: bad DTR_SMTP_FROM");
            return;
        }
    };
    loop {
        match store.due_mail(20).await {
            Ok(batch) if !batch.is_empty() => {
                for mut mail in batch {
                    mail.tekst = udfyldt(&mail.tekst, smtp.portal_url.as_deref());
                    send_one(store.as_ref(), &transport, &afsender, mail).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox unavailable"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn smtp_transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url).map_err(|e| e.to_string())?;
    let builder = match &smtp.ca_file {
        None => builder,
        Some(file) => {
            let pem = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", file.display()))?;
            let url = url_host(&smtp.url).ok_or("no host in DTR_SMTP_URL")?;
            let params = TlsParameters::builder(url).add_root_certificate(ca).build().map_err(|e| e.to_string())?;
            let tls = if smtp.url.starts_with("smtps://") {
                Tls::Wrapper(params)
            } else if smtp.url.contains("tls=opportunistic") {
                Tls::Opportunistic(params)
            } else {
                Tls::Required(params)
            };
            builder.tls(tls)
        }
    };
    Ok(builder.timeout(Some(Duration::from_secs(10))).build())
}

/// The host of an `smtp(s)://` URL (what the server's certificate must name).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    (!host.is_empty()).then(|| host.to_owned())
}

async fn send_one(
    store: &dyn TilslutningStore,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    afsender: &Mailbox,
    mail: OutboxMail,
) {
    let result = async {
        let to: Mailbox = mail.modtager.parse().map_err(|e| format!("recipient {}: {e}", mail.modtager))?;
        let message = Message::builder()
            .from(afsender.clone())
            .to(to)
            .subject(mail.emne.clone())
            .body(mail.tekst.clone())
            .map_err(|e| e.to_string())?;
        transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
    .await;
    let stored = match result {
        Ok(()) => {
            metrics::counter!("dtr_outbox_sent_total").increment(1);
            store.mail_sent(mail.id).await
        }
        Err(e) => {
            metrics::counter!("dtr_outbox_failures_total").increment(1);
            tracing::warn!(id = mail.id, attempt = mail.forsoeg + 1, error = %e, "mail not delivered; will retry");
            let next = chrono::Utc::now() + backoff(mail.forsoeg + 1);
            store.mail_failed(mail.id, &e, next).await
        }
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not record the delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_findings_mail_links_to_the_owners_page() {
        let f = Registerfund {
            enhedstype: "anvisningsenhed".into(),
            nummer: "G30001".into(),
            kode: "DTR0405".into(),
            besked: "ophørt".into(),
        };
        let n = registerfund(7, &[f]);
        assert!(n.tekst.contains(&format!("{PORTAL}/registerfund")), "{}", n.tekst);
    }

    #[test]
    fn requests_go_to_the_decider_and_decisions_back() {
        let request = Aftaleskift {
            system_id: "sys",
            servicekode: "ImportService",
            ejer_kode: Some("101"),
            udbyder: "UDB1",
            fra: None,
            til: AftaleStatus::Venter,
            aktoer: "UDB1",
            kommentar: "tak",
        };
        assert_eq!(aftale_aendret(&request).organisation, "101");
        let decided = Aftaleskift {
            fra: Some(AftaleStatus::Venter),
            til: AftaleStatus::Godkendt,
            aktoer: "101",
            ..request.clone()
        };
        let n = aftale_aendret(&decided);
        assert_eq!(n.organisation, "UDB1");
        assert!(n.emne.contains("GODKENDT"));
        // Each mail links to the page where its recipient acts.
        let sendt = udfyldt(&n.tekst, Some("https://tilslutning.example/"));
        assert!(sendt.contains("Se aftalen: https://tilslutning.example/aftaler?status=GODKENDT"), "{sendt}");
        let til_ejer = udfyldt(&aftale_aendret(&request).tekst, Some("https://tilslutning.example"));
        assert!(til_ejer.contains("Svar på anmodningen: https://tilslutning.example/aftaler?status=VENTER"));
        assert!(!udfyldt(&n.tekst, None).contains(PORTAL));
        let n = aftale_aendret(&Aftaleskift { ejer_kode: None, servicekode: "ExportService", ..request });
        assert_eq!(n.organisation, "STIL");
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(url_host("smtp://u:p@mail.example:587?tls=required").as_deref(), Some("mail.example"));
        assert_eq!(url_host("smtps://[::1]:465").as_deref(), Some("::1"));
        assert_eq!(url_host("smtp://relay").as_deref(), Some("relay"));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
