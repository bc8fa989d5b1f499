//! Notifications (tilslutning.md): the e-mails an agreement change or a block sends, to the
//! organisation concerned, and their delivery. Mails are written to the `outbox` table in the
//! same transaction as the change (see the store), so nothing acknowledged is lost; a worker
//! delivers them over SMTP and retries with backoff while the mail server is down.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::livscyklus::OPERATOER;
use crate::model::AftaleStatus;
use crate::store::{OutboxMail, TilslutningStore};

/// One e-mail to the recipients of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifikation {
    pub organisation: String,
    pub emne: String,
    pub tekst: String,
}

/// What an agreement change tells whom: a provider's request goes to the one who decides (STIL
/// for connections, the owner for data access); a decision goes back to the provider.
#[allow(clippy::too_many_arguments)]
pub fn aftale_aendret(
    ejer_kode: Option<&str>,
    udbyder: &str,
    system_id: &str,
    servicekode: &str,
    fra: Option<AftaleStatus>,
    til: AftaleStatus,
    aktoer: &str,
    kommentar: &str,
) -> Notifikation {
    let (art, beslutter) = match ejer_kode {
        Some(ejer) => ("dataaftale", ejer),
        None => ("tilslutningsaftale", OPERATOER),
    };
    let til_beslutter = aktoer == udbyder && til == AftaleStatus::Venter;
    let organisation = if til_beslutter { beslutter } else { udbyder };
    let emne = if til_beslutter {
        format!("DTR: ny anmodning om {art} for {servicekode}")
    } else {
        format!("DTR: {art} for {servicekode} er nu {}", til.as_str())
    };
    let fra = fra.map_or("(ny)", AftaleStatus::as_str);
    let ejer = ejer_kode.map(|e| format!("Dataejer: {e}\n")).unwrap_or_default();
    let tekst = format!(
        "System: {system_id}\nService: {servicekode}\n{ejer}Status: {fra} → {}\nAf: {aktoer}\nKommentar: {kommentar}\n",
        til.as_str()
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

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// `smtp://host:port` (plain SMTP on a trusted network, as from a relay next to the service).
    pub url: String,
    pub afsender: String,
}

/// Wait before attempt `n + 1` after `n` failed ones: 2, 4, 8 … seconds, at most an hour.
pub fn backoff(forsoeg: i64) -> Duration {
    Duration::from_secs(2u64.saturating_pow(forsoeg.clamp(1, 12) as u32).min(3600))
}

/// Delivers due mail from the outbox until the process stops; each mail is claimed before it is
/// sent, so several instances do not send one twice.
pub async fn deliver_forever(store: std::sync::Arc<dyn TilslutningStore>, smtp: Smtp) {
    let transport = match smtp_transport(&smtp.url) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, url = %smtp.url, "mail delivery off: bad DTR_SMTP_URL");
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
                for mail in batch {
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

fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let rest = url.strip_prefix("smtp://").ok_or("want smtp://host:port")?;
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').unwrap_or((rest, "25"));
    let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
    Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(Duration::from_secs(10)))
        .build())
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
        Ok(()) => store.mail_sent(mail.id).await,
        Err(e) => {
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
    fn requests_go_to_the_decider_and_decisions_back() {
        let n = aftale_aendret(Some("101"), "UDB1", "sys", "ImportService", None, AftaleStatus::Venter, "UDB1", "tak");
        assert_eq!(n.organisation, "101");
        let n = aftale_aendret(
            Some("101"),
            "UDB1",
            "sys",
            "ImportService",
            Some(AftaleStatus::Venter),
            AftaleStatus::Godkendt,
            "101",
            "",
        );
        assert_eq!(n.organisation, "UDB1");
        assert!(n.emne.contains("GODKENDT"));
        let n = aftale_aendret(None, "UDB1", "sys", "ExportService", None, AftaleStatus::Venter, "UDB1", "");
        assert_eq!(n.organisation, "STIL");
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
