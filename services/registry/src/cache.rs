//! Cache of the code tables: in-process in the embedded mode, Redis in the distributed mode.
//!
//! With Redis, a change publishes the new tables and announces them on a channel; publishing
//! only ever raises the version (a Lua script compares), so a reader that loaded the old tables
//! just before the change cannot put them back. Each instance keeps its snapshot and trusts it,
//! with no Redis round trip per read, while it is subscribed to that channel and nothing has
//! been announced since it checked the snapshot against Redis; an announcement, a lost
//! subscription or a reconnection makes the next read check again.
//!
//! Redis is never a dependency (`docs/operations.md`): every Redis command is bounded by the
//! link's small deadline and, when Redis is down, slow or not yet reached, reads go to the
//! database at once — for the tables' version, and for the tables only when it changed. After
//! every reconnection the tables are reloaded from the database and published (what changed
//! while the link was down is unknown), and a publication that fails is retried in the
//! background until Redis takes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use dtr_redislink::RedisLink;
use futures::StreamExt;
use redis::aio::MultiplexedConnection;

use crate::codes::CodeTables;
use crate::storage::{RegistryStore, StoreError};

// The keys name the snapshot's format (v2: codes with their legal basis): a copy cached by an
// older release is never read as if it were complete.
const KEY_VERSION: &str = "dtr:kodetabeller:v2:version";
const KEY_DATA: &str = "dtr:kodetabeller:v2:data";
/// Where a publication of newer tables is announced (the message is the version).
const CHANNEL: &str = "dtr:kodetabeller:v2:aendret";

/// Bound on publishing the whole tables (a few hundred KiB), longer than a read's.
const PUBLISH_BOUND: Duration = Duration::from_millis(500);

/// A snapshot's tag when nothing vouches for it: it is checked on the next read.
const UNTRUSTED: u64 = u64::MAX;

/// What the Redis side knows: the link, and the subscription's epoch.
struct Follow {
    link: RedisLink,
    /// The link generation the local snapshot was last reconciled under.
    seen: AtomicU64,
    /// Raised by every announcement and by every start or end of the subscription.
    epoch: AtomicU64,
    subscribed: AtomicBool,
}

impl Follow {
    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The epoch a read starts under, or [`UNTRUSTED`] when no subscription would tell it of a
    /// change.
    fn ticket(&self) -> u64 {
        if self.subscribed.load(Ordering::SeqCst) { self.epoch.load(Ordering::SeqCst) } else { UNTRUSTED }
    }
}

pub struct CodeTableCache {
    /// The snapshot and the epoch under which it was last found current.
    local: RwLock<Option<(Arc<CodeTables>, u64)>>,
    redis: Option<Arc<Follow>>,
}

fn counted(result: &'static str) {
    count_cache_read("code_tables", result);
}

/// Counts a read of one of the register's caches (`dtr_cache_requests_total`, by `cache`:
/// `code_tables` or `lookups`, and `result`: `hit`, `miss` or `bypass`). The handles are made once:
/// the recorder's lookup by name and labels costs more than the count, on every lookup.
pub(crate) fn count_cache_read(cache: &'static str, result: &'static str) {
    use std::sync::OnceLock;
    static HANDLES: [[OnceLock<metrics::Counter>; 3]; 2] = [const { [const { OnceLock::new() }; 3] }; 2];
    let c = usize::from(cache != "code_tables");
    let r = match result {
        "hit" => 0,
        "miss" => 1,
        _ => 2,
    };
    HANDLES[c][r]
        .get_or_init(|| metrics::counter!("dtr_cache_requests_total", "cache" => cache, "result" => result))
        .increment(1);
}

impl CodeTableCache {
    pub fn in_process() -> Self {
        CodeTableCache { local: RwLock::new(None), redis: None }
    }

    /// Shares the tables through Redis over `link`; starts at once, whether Redis is up or not
    /// (the subscription runs on its own task).
    pub fn redis(link: RedisLink) -> Self {
        let follow = Arc::new(Follow {
            link,
            seen: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
        });
        tokio::spawn(subscribe_forever(Arc::downgrade(&follow)));
        CodeTableCache { local: RwLock::new(None), redis: Some(follow) }
    }

    fn local(&self) -> Option<(Arc<CodeTables>, u64)> {
        self.local.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_local(&self, t: Arc<CodeTables>, tag: u64) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = Some((t, tag));
    }

    pub async fn get(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let Some(follow) = &self.redis else {
            if let Some((t, _)) = self.local() {
                counted("hit");
                return Ok(t);
            }
            counted("miss");
            let t = Arc::new(store.load_code_tables().await?);
            self.set_local(t.clone(), UNTRUSTED);
            return Ok(t);
        };
        let generation = follow.link.generation();
        if generation != follow.seen.load(Ordering::SeqCst) && follow.link.is_up() {
            // A new connection: whatever was announced while the link was down is unknown, so
            // the database decides, and Redis learns it.
            counted("miss");
            let t = Arc::new(store.load_code_tables().await?);
            self.set_local(t.clone(), UNTRUSTED);
            publish_in_background(&follow.link, t.clone());
            follow.seen.store(generation, Ordering::SeqCst);
            return Ok(t);
        }
        let ticket = follow.ticket();
        if let Some((t, tag)) = self.local()
            && ticket != UNTRUSTED
            && tag == ticket
        {
            // Subscribed, and nothing announced since the snapshot was found current.
            counted("hit");
            return Ok(t);
        }
        match self.read_redis(&follow.link, ticket).await {
            Ok(Some(t)) => {
                counted("hit");
                return Ok(t);
            }
            Ok(None) => {}
            Err(e) => {
                // Redis cannot say whether the snapshot is current: the database can, cheaply.
                tracing::debug!(error = %e, "code tables checked against the database: redis unavailable");
                counted("bypass");
                let version = store.code_tables_version().await?;
                if let Some((t, _)) = self.local().filter(|(t, _)| t.version == version) {
                    return Ok(t);
                }
                let t = Arc::new(store.load_code_tables().await?);
                self.set_local(t.clone(), UNTRUSTED);
                return Ok(t);
            }
        }
        counted("miss");
        let t = Arc::new(store.load_code_tables().await?);
        // A read never waits for a publication (Redis may have frozen meanwhile).
        publish_in_background(&follow.link, t.clone());
        self.set_local(t.clone(), ticket);
        Ok(t)
    }

    /// The tables Redis holds (the local snapshot if it is that version), tagged with `ticket`,
    /// taken before the read: an announcement during the read makes the tag stale.
    async fn read_redis(
        &self,
        link: &RedisLink,
        ticket: u64,
    ) -> Result<Option<Arc<CodeTables>>, dtr_redislink::LinkError> {
        let version: Option<i64> =
            link.run(|mut c| async move { redis::cmd("GET").arg(KEY_VERSION).query_async(&mut c).await }).await?;
        let Some(version) = version else { return Ok(None) };
        if let Some((t, _)) = self.local().filter(|(t, _)| t.version == version) {
            self.set_local(t.clone(), ticket);
            return Ok(Some(t));
        }
        let json: Option<String> =
            link.run(|mut c| async move { redis::cmd("GET").arg(KEY_DATA).query_async(&mut c).await }).await?;
        let Some(json) = json else { return Ok(None) };
        match serde_json::from_str::<CodeTables>(&json) {
            Ok(t) if t.version == version => {
                let t = Arc::new(t);
                self.set_local(t.clone(), ticket);
                Ok(Some(t))
            }
            _ => Ok(None), // torn or stale entry: reload from the database
        }
    }

    /// After a change in the database: loads the tables and publishes them, so the next read on
    /// every instance sees the change.
    pub async fn refresh(&self, store: &dyn RegistryStore) -> Result<Arc<CodeTables>, StoreError> {
        let t = Arc::new(store.load_code_tables().await?);
        self.set_local(t.clone(), UNTRUSTED);
        if let Some(follow) = &self.redis {
            let before = follow.epoch.load(Ordering::SeqCst);
            publish_or_retry(&follow.link, t.clone()).await;
            // Redis sends the announcement to every subscriber in one go: once this instance
            // has its own back, the others have theirs, and the change is acknowledged.
            let echoed = async {
                while follow.subscribed.load(Ordering::SeqCst) && follow.epoch.load(Ordering::SeqCst) == before {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_millis(200), echoed).await;
        }
        Ok(t)
    }
}

/// Keeps the subscription to announcements open; it is trusted only while the link beside it
/// answers its checks on the same connection generation (a frozen Redis delivers nothing and
/// says nothing).
async fn subscribe_forever(follow: Weak<Follow>) {
    loop {
        let Some(f) = follow.upgrade() else { return };
        let link = f.link.clone();
        drop(f);
        let generation = link.generation();
        if link.is_up()
            && let Ok(mut messages) = subscribe(&link).await
        {
            let Some(f) = follow.upgrade() else { return };
            f.subscribed.store(true, Ordering::SeqCst);
            f.changed();
            drop(f);
            let mut check = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(_) = message else { break };
                        let Some(f) = follow.upgrade() else { return };
                        f.changed();
                    }
                    _ = check.tick() => {
                        if !link.is_up() || link.generation() != generation {
                            break;
                        }
                    }
                }
            }
            let Some(f) = follow.upgrade() else { return };
            f.subscribed.store(false, Ordering::SeqCst);
            f.changed();
        }
        if follow.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(link: &RedisLink) -> Result<redis::aio::PubSubStream, ()> {
    let connect = async {
        let mut pubsub = link.client().get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(s)) => Ok(s),
        _ => Err(()),
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
                redis.call('PUBLISH', KEYS[3], ARGV[1])
                return 1
              end
              return 0",
        );
        script
            .key(KEY_VERSION)
            .key(KEY_DATA)
            .key(CHANNEL)
            .arg(version)
            .arg(json)
            .invoke_async::<i64>(&mut c)
            .await
            .map(|_| ())
    })
    .await
}
