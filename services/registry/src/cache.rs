//! Cache of the code tables: in-process in the embedded mode, Redis in the distributed mode.
//!
//! With Redis, each read asks Redis for the tables' version (a few bytes) and reuses the local
//! snapshot while it matches, so a change made through any instance is seen on the next read.
//! A change publishes the new tables itself; publishing only ever raises the version (a Lua
//! script compares), so a reader that loaded the old tables just before the change cannot put
//! them back.
//!
//! Redis is never a dependency (`docs/operations.md`): every Redis command is bounded by the
//! link's small deadline and, when Redis is down, slow or not yet reached, reads go to the
//! database at once. After every reconnection the tables are reloaded from the database and
//! published (what changed while the link was down is unknown), and a publication that fails is
//! retried in the background until Redis takes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dtr_redislink::RedisLink;
use redis::aio::MultiplexedConnection;

use crate::codes::CodeTables;
use crate::storage::{RegistryStore, StoreError};

// The keys name the snapshot's format (v2: codes with their legal basis): a copy cached by an
// older release is never read as if it were complete.
const KEY_VERSION: &str = "dtr:kodetabeller:v2:version";
const KEY_DATA: &str = "dtr:kodetabeller:v2:data";

/// Bound on publishing the whole tables (a few hundred KiB), longer than a read's.
const PUBLISH_BOUND: Duration = Duration::from_millis(500);

struct Shared {
    link: RedisLink,
    /// The link generation the local snapshot was last reconciled under.
    seen: AtomicU64,
}

pub struct CodeTableCache {
    local: RwLock<Option<Arc<CodeTables>>>,
    redis: Option<Shared>,
}

fn counted(result: &'static str) {
    metrics::counter!("dtr_cache_requests_total", "cache" => "code_tables", "result" => result).increment(1);
}

impl CodeTableCache {
    pub fn in_process() -> Self {
        CodeTableCache { local: RwLock::new(None), redis: None }
    }

    /// Shares the tables through Redis over `link`; starts at once, whether Redis is up or not.
    pub fn redis(link: RedisLink) -> Self {
        CodeTableCache { local: RwLock::new(None), redis: Some(Shared { link, seen: AtomicU64::new(0) }) }
    }

    fn local(&self) -> Option<Arc<CodeTables>> {
        self.local.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_local(&self, t: Arc<CodeTables>) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }

    pub async fn get(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let Some(shared) = &self.redis else {
            if let Some(t) = self.local() {
                counted("hit");
                return Ok(t);
            }
            counted("miss");
            let t = Arc::new(store.load_code_tables().await?);
            self.set_local(t.clone());
            return Ok(t);
        };
        let generation = shared.link.generation();
        if generation != shared.seen.load(Ordering::SeqCst) && shared.link.is_up() {
            // A new connection: whatever was announced while the link was down is unknown, so
            // the database decides, and Redis learns it.
            counted("miss");
            let t = Arc::new(store.load_code_tables().await?);
            self.set_local(t.clone());
            publish_in_background(&shared.link, t.clone());
            shared.seen.store(generation, Ordering::SeqCst);
            return Ok(t);
        }
        match self.read_redis(&shared.link).await {
            Ok(Some(t)) => {
                counted("hit");
                return Ok(t);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "code tables read from the database: redis unavailable");
                counted("bypass");
                return Ok(Arc::new(store.load_code_tables().await?));
            }
        }
        counted("miss");
        let t = Arc::new(store.load_code_tables().await?);
        // A read never waits for a publication (Redis may have frozen meanwhile).
        publish_in_background(&shared.link, t.clone());
        self.set_local(t.clone());
        Ok(t)
    }

    async fn read_redis(&self, link: &RedisLink) -> Result<Option<Arc<CodeTables>>, dtr_redislink::LinkError> {
        let version: Option<i64> =
            link.run(|mut c| async move { redis::cmd("GET").arg(KEY_VERSION).query_async(&mut c).await }).await?;
        let Some(version) = version else { return Ok(None) };
        if let Some(t) = self.local().filter(|t| t.version == version) {
            return Ok(Some(t));
        }
        let json: Option<String> =
            link.run(|mut c| async move { redis::cmd("GET").arg(KEY_DATA).query_async(&mut c).await }).await?;
        let Some(json) = json else { return Ok(None) };
        match serde_json::from_str::<CodeTables>(&json) {
            Ok(t) if t.version == version => {
                let t = Arc::new(t);
                self.set_local(t.clone());
                Ok(Some(t))
            }
            _ => Ok(None), // torn or stale entry: reload from the database
        }
    }

    /// After a change in the database: loads the tables and publishes them, so the next read on
    /// every instance sees the change.
    pub async fn refresh(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let t = Arc::new(store.load_code_tables().await?);
        self.set_local(t.clone());
        if let Some(shared) = &self.redis {
            publish_or_retry(&shared.link, t.clone()).await;
        }
        Ok(t)
    }
}

/// Publishes `t`; when Redis does not take it now, keeps trying in the background until it does
/// (only ever raising the version, so a late publication cannot undo a newer one).
async fn publish_or_retry(link: &RedisLink, t: Arc<CodeTables>) {
    let Err(e) = publish(link, &t).await else { return };
    tracing::warn!(error = %e, version = t.version, "code tables not published to redis yet; retrying in the background");
    retry_in_background(link.clone(), t);
}

/// [`publish_or_retry`] on a task of its own.
fn publish_in_background(link: &RedisLink, t: Arc<CodeTables>) {
    let link = link.clone();
    tokio::spawn(async move { publish_or_retry(&link, t).await });
}

fn retry_in_background(link: RedisLink, t: Arc<CodeTables>) {
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(100);
        loop {
            if link.wait_up(Duration::from_secs(5)).await && publish(&link, &t).await.is_ok() {
                tracing::info!(version = t.version, "code tables published to redis");
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    });
}

/// Stores `t` in Redis unless Redis already holds the same or a newer version.
async fn publish(link: &RedisLink, t: &CodeTables) -> Result<(), dtr_redislink::LinkError> {
    let json = serde_json::to_string(t).map_err(|e| dtr_redislink::LinkError::Redis(e.to_string()))?;
    let version = t.version;
    link.run_within(PUBLISH_BOUND, |mut c: MultiplexedConnection| async move {
        let script = redis::Script::new(
            r"local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
              if tonumber(ARGV[1]) > cur then
                redis.call('SET', KEYS[2], ARGV[2])
                redis.call('SET', KEYS[1], ARGV[1])
                return 1
              end
              return 0",
        );
        script.key(KEY_VERSION).key(KEY_DATA).arg(version).arg(json).invoke_async::<i64>(&mut c).await.map(|_| ())
    })
    .await
}
