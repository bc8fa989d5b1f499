//! Tells the gateways that something an access decision rests on has changed (a system, its
//! credentials, an organisation, the catalogue or an agreement), so they drop cached decisions at
//! once: over Redis pub/sub when there are several processes, over an in-process channel when
//! `dtr up` runs everything in one. The message carries no data; a spurious one only costs the
//! gateways a few backend calls.

use redis::aio::ConnectionManager;
use tokio::sync::broadcast;

use dtr_proto::TILSLUTNING_AENDRET_KANAL as KANAL;

#[derive(Clone)]
pub enum Aendringer {
    /// Nobody caches decisions (a gateway without Redis asks on every call).
    Ingen,
    /// Gateways in the same process.
    Lokal(broadcast::Sender<()>),
    Redis(ConnectionManager),
}

impl Aendringer {
    /// Connects to Redis; the connection manager reconnects by itself after an outage.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)));
        Ok(Aendringer::Redis(ConnectionManager::new_with_config(client, config).await?))
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
            Aendringer::Redis(conn) => {
                let mut conn = conn.clone();
                let sent: Result<i64, _> = redis::cmd("PUBLISH").arg(KANAL).arg("1").query_async(&mut conn).await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not announce a tilslutning change; gateways see it when their cache entries expire");
                }
            }
        }
    }
}
