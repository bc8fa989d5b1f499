//! Tells the gateways that something an access decision rests on has changed (a system, its
//! credentials, an organisation, the catalogue or an agreement), so they drop cached decisions at
//! once: over Redis pub/sub when there are several processes, over an in-process channel when
//! `dtr up` runs everything in one. A change is announced before it is acknowledged to the
//! caller, and over Redis the announcement waits until every gateway that received it has
//! confirmed dropping its decisions (at most [`CONFIRMATION_WAIT`]), so the change holds from the
//! caller's next request on. The message carries only an id to confirm; a spurious one costs the
//! gateways a few backend calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dtr_redislink::{LinkError, RedisLink};
use futures::StreamExt;
use tokio::sync::broadcast;

use dtr_proto::TILSLUTNING_AENDRET_KANAL as KANAL;
use dtr_proto::TILSLUTNING_KVITTERING_KANAL as KVITTERING;

/// Longest a change waits for the gateways' confirmations; a gateway that is slower (or gone)
/// still drops its decisions when the message reaches it, or when they expire.
pub const CONFIRMATION_WAIT: Duration = Duration::from_secs(1);

/// Longest an announcement waits for a fresh connection after the current one broke (Redis
/// restarted: the first command on the old connection fails). Only then: with Redis down from
/// the start, no gateway hears announcements (none caches), and none is waited for.
const RECONNECT_WAIT: Duration = Duration::from_secs(1);

/// Bound on opening the confirmation subscription and on the PUBLISH itself.
const COMMAND_WAIT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub enum Aendringer {
    /// Nobody caches decisions (a gateway without Redis asks on every call).
    Ingen,
    /// Gateways in the same process.
    Lokal(broadcast::Sender<()>),
    /// Gateways in other processes, over Redis pub/sub.
    Redis(RedisLink),
}

/// One background re-announcement at a time per process is enough: the message only says
/// "something changed".
static RETRYING: AtomicBool = AtomicBool::new(false);

impl Aendringer {
    /// Announces a change. A failure is logged, not returned: the change itself is committed.
    /// An announcement Redis did not take is tried again on a fresh connection, then in the
    /// background until Redis takes it. A gateway that could not hear it meanwhile is not
    /// subscribed, and a gateway that is not subscribed caches nothing and drops everything when
    /// it subscribes again.
    pub async fn meld(&self) {
        match self {
            Aendringer::Ingen => {}
            Aendringer::Lokal(tx) => {
                // No receiver yet is fine: nothing is cached then.
                let _ = tx.send(());
            }
            Aendringer::Redis(link) => {
                metrics::counter!("dtr_tilslutning_changes_total").increment(1);
                let was_up = link.is_up();
                let mut result = announce(link).await;
                if result.is_err() && was_up && link.wait_up(RECONNECT_WAIT).await {
                    result = announce(link).await;
                }
                if let Err(e) = result {
                    metrics::counter!("dtr_tilslutning_change_announcements_failed_total").increment(1);
                    tracing::warn!(error = %e, "could not announce a tilslutning change now; retrying in the background");
                    retry_in_background(link.clone());
                }
            }
        }
    }
}

fn retry_in_background(link: RedisLink) {
    if RETRYING.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        loop {
            if link.wait_up(Duration::from_secs(5)).await {
                let id = uuid::Uuid::new_v4().to_string();
                let sent = link
                    .run_within(RECONNECT_WAIT, |mut c| async move {
                        redis::cmd("PUBLISH").arg(KANAL).arg(id).query_async::<i64>(&mut c).await
                    })
                    .await;
                if sent.is_ok() {
                    tracing::info!("tilslutning change announced after Redis came back");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        RETRYING.store(false, Ordering::SeqCst);
    });
}

/// Publishes a change and waits for a confirmation from each gateway that received it.
async fn announce(link: &RedisLink) -> Result<(), LinkError> {
    if !link.is_up() {
        return Err(LinkError::Down);
    }
    let id = uuid::Uuid::new_v4().to_string();
    // Listen for confirmations before publishing, so none is missed.
    let subscribed = async {
        let mut confirmations = link.client().get_async_pubsub().await?;
        confirmations.subscribe(KVITTERING).await?;
        Ok::<_, redis::RedisError>(confirmations.into_on_message())
    };
    let mut confirmations = tokio::time::timeout(COMMAND_WAIT, subscribed)
        .await
        .map_err(|_| LinkError::Timeout)?
        .map_err(|e| LinkError::Redis(e.to_string()))?;
    let message = id.clone();
    let mut waiting: i64 = link
        .run_within(COMMAND_WAIT, |mut c| async move {
            redis::cmd("PUBLISH").arg(KANAL).arg(message).query_async(&mut c).await
        })
        .await?;
    let confirmed = tokio::time::timeout(CONFIRMATION_WAIT, async {
        while waiting > 0 {
            match confirmations.next().await {
                Some(m) if m.get_payload_bytes() == id.as_bytes() => waiting -= 1,
                Some(_) => {}
                None => break,
            }
        }
    })
    .await;
    if confirmed.is_err() || waiting > 0 {
        tracing::warn!(missing = waiting, "not every gateway confirmed a tilslutning change in time");
    }
    Ok(())
}
