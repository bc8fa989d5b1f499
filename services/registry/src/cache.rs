//! Cache of the code tables: in-process in the embedded mode, Redis in the distributed mode.
//!
//! With Redis, each read asks Redis for the tables' version (a few bytes) and reuses the local
//! snapshot while it matches, so a change made through any instance is seen on the next read.
//! When Redis cannot be reached, reads go to the database: the cache is never a point of failure.

use std::sync::{Arc, RwLock};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::codes::CodeTables;
use crate::storage::{RegistryStore, StoreError};

const KEY_VERSION: &str = "dtr:kodetabeller:version";
const KEY_DATA: &str = "dtr:kodetabeller:data";

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

    async fn publish(conn: &mut ConnectionManager, t: &CodeTables) -> Result<(), redis::RedisError> {
        let json = serde_json::to_string(t)
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "serialize", e.to_string())))?;
        redis::pipe()
            .atomic()
            .set(KEY_DATA, json)
            .ignore()
            .set(KEY_VERSION, t.version)
            .ignore()
            .query_async::<()>(conn)
            .await
    }

    /// Drops the cached tables everywhere; the next read loads them from the database.
    pub async fn invalidate(&self) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(redis) = &self.redis {
            let mut conn = redis.clone();
            if let Err(e) = conn.del::<_, ()>(&[KEY_VERSION, KEY_DATA]).await {
                tracing::warn!(error = %e, "could not invalidate the code-table cache");
            }
        }
    }
}
