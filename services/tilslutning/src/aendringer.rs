//! Tells the gateways that something an access decision rests on has changed (a system, its
//! credentials, an organisation, the catalogue or an agreement), so they drop cached decisions at
//! once: over Redis pub/sub when there are several processes, over an in-process channel when
//! `dtr up` runs everything in one. A change is announced before it is acknowledged to the
//! caller, and over Redis the announcement waits until every gateway that received it has
//! confirmed dropping its decisions (at most [`CONFIRMATION_WAIT`]), so the change holds from the
//! caller's next request on. The message carries only an id to confirm; a spurious one costs the
//! gateways a few backend calls.

use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::broadcast;

use dtr_proto::TILSLUTNING_AENDRET_KANAL as KANAL;
use dtr_proto::TILSLUTNING_KVITTERING_KANAL as KVITTERING;

/// Longest a change waits for the gateways' confirmations; a gateway that is slower (or gone)
/// still drops its decisions when the message reaches it, or when they expire.
pub const CONFIRMATION_WAIT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub enum Aendringer {
    /// Nobody caches decisions (a gateway without Redis asks on every call).
    Ingen,
    /// Gateways in the same process.
    Lokal(broadcast::Sender<()>),
    Redis {
        conn: ConnectionManager,
        client: redis::Client,
    },
}

impl Aendringer {
    /// Connects to Redis; the connection manager reconnects by itself after an outage.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Aendringer::Redis { conn, client })
    }

    /// Announces a change. A failure is logged, not returned: the change itself is committed, and
    /// the gateways' entry lifetime bounds how long a missed message can matter.
    pub async fn meld(&self) {
        match self {
            Aendringer::Ingen => {}
            Aendringer::Lokal(tx) => {
                // No receiver yet is fine: nothing is cached then.
                let _ = tx.send(());
            }
            Aendringer::Redis { conn, client } => {
                if let Err(e) = announce(conn.clone(), client).await {
                    tracing::warn!(error = %e, "could not announce a tilslutning change; gateways see it when their cache entries expire");
                }
            }
        }
    }
}

/// Publishes a change and waits for a confirmation from each gateway that received it.
async fn announce(mut conn: ConnectionManager, client: &redis::Client) -> Result<(), redis::RedisError> {
    let id = uuid::Uuid::new_v4().to_string();
    // Listen for confirmations before publishing, so none is missed.
    let subscribed = async {
        let mut confirmations = client.get_async_pubsub().await?;
        confirmations.subscribe(KVITTERING).await?;
        Ok::<_, redis::RedisError>(confirmations.into_on_message())
    };
    let mut confirmations = tokio::time::timeout(Duration::from_secs(2), subscribed)
        .await
        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timeout connecting to Redis")))??;
    let mut waiting: i64 = redis::cmd("PUBLISH").arg(KANAL).arg(&id).query_async(&mut conn).await?;
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
