//! Cache of the code tables: in-process in the embedded mode, Redis in the distributed mode.
//!
//! With Redis, each read asks Redis for the tables' version (a few bytes) and reuses the local
//! snapshot while it matches, so a change made through any instance is seen on the next read.
//! A change publishes the new tables itself; publishing only ever raises the version (a Lua
//! script compares), so a reader that loaded the old tables just before the change cannot put
//! them back. When Redis cannot be reached, reads go to the database: the cache is never a
//! point of failure.

use std::sync::{Arc, RwLock};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::codes::CodeTables;
use crate::storage::{RegistryStore, StoreError};

// The keys name the snapshot's format (v2: codes with their legal basis): a copy cached by an
// older release is never read as if it were complete.
const KEY_VERSION: &str = "dtr:kodetabeller:v2:version";
const KEY_DATA: &str = "dtr:kodetabeller:v2:data";

pub struct CodeTableCache {
    local: RwLock<Option<Arc<CodeTables>>>,
    redis: Option<ConnectionManager>,
}

impl CodeTableCache {
    pub fn in_process() -> Self {
        CodeTableCache { local: RwLock::new(None), redis: None }
    }

    /// Connects to Redis; the connection manager reconnects by itself after an outage.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)));
        let mgr = ConnectionManager::new_with_config(client, config).await?;
        Ok(CodeTableCache { local: RwLock::new(None), redis: Some(mgr) })
    }

    fn local(&self) -> Option<Arc<CodeTables>> {
        self.local.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_local(&self, t: Arc<CodeTables>) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }

    pub async fn get(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let Some(redis) = &self.redis else {
            if let Some(t) = self.local() {
                return Ok(t);
            }
            let t = Arc::new(store.load_code_tables().await?);
            self.set_local(t.clone());
            return Ok(t);
        };
        let mut conn = redis.clone();
        match self.read_redis(&mut conn).await {
            Ok(Some(t)) => return Ok(t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable; code tables read from the database");
                return Ok(Arc::new(store.load_code_tables().await?));
            }
        }
        let t = Arc::new(store.load_code_tables().await?);
        if let Err(e) = Self::publish(&mut conn, &t).await {
            tracing::warn!(error = %e, "could not fill the code-table cache");
        }
        self.set_local(t.clone());
        Ok(t)
    }

    async fn read_redis(&self, conn: &mut ConnectionManager) -> Result<Option<Arc<CodeTables>>, redis::RedisError> {
        let Some(version): Option<i64> = conn.get(KEY_VERSION).await? else {
            return Ok(None);
        };
        if let Some(t) = self.local().filter(|t| t.version == version) {
            return Ok(Some(t));
        }
        let Some(json): Option<String> = conn.get(KEY_DATA).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<CodeTables>(&json) {
            Ok(t) if t.version == version => {
                let t = Arc::new(t);
                self.set_local(t.clone());
                Ok(Some(t))
            }
            _ => Ok(None), // torn or stale entry: reload from the database
        }
    }

    /// Stores `t` in Redis unless Redis already holds the same or a newer version.
    async fn publish(conn: &mut ConnectionManager, t: &CodeTables) -> Result<(), redis::RedisError> {
        let json = serde_json::to_string(t)
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "serialize", e.to_string())))?;
        let script = redis::Script::new(
            r"local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
              if tonumber(ARGV[1]) > cur then
                redis.call('SET', KEYS[2], ARGV[2])
                redis.call('SET', KEYS[1], ARGV[1])
                return 1
              end
              return 0",
        );
        script.key(KEY_VERSION).key(KEY_DATA).arg(t.version).arg(json).invoke_async::<i64>(conn).await.map(|_| ())
    }

    /// After a change in the database: loads the tables and publishes them, so the next read on
    /// every instance sees the change.
    pub async fn refresh(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let t = Arc::new(store.load_code_tables().await?);
        self.set_local(t.clone());
        if let Some(redis) = &self.redis {
            let mut conn = redis.clone();
            if let Err(e) = Self::publish(&mut conn, &t).await {
                // Other instances keep the old tables until Redis is back and someone publishes;
                // say so loudly rather than fail a change that is already committed.
                tracing::error!(error = %e, "could not publish changed code tables to redis");
            }
        }
        Ok(t)
    }
}
