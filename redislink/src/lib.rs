//! Redis as a cache, never a dependency (`docs/operations.md`, "Redis").
//!
//! A [`RedisLink`] owns one multiplexed connection that a background task opens, checks and
//! reopens. A caller never waits for a connection: [`RedisLink::run`] uses the one there is or
//! fails at once, and bounds every command by a small deadline (tens of milliseconds), after which
//! the connection counts as broken and the caller falls back to its own source (the database, the
//! tilslutning service, a counter in memory). So a process starts, serves and stays fast whether
//! Redis is up, down or frozen.
//!
//! Each new connection raises the [`generation`](RedisLink::generation): a cache that keeps data
//! across calls compares it and treats everything as changed after a reconnection, since it cannot
//! know what it missed while the link was down.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Notify;

/// Default bound on a command; Redis on the same network answers in well under a millisecond.
pub const DEFAULT_BOUND: Duration = Duration::from_millis(50);
/// Longest a background (re)connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a live connection is checked, so a frozen or vanished Redis is noticed without
/// traffic and a returned one is found quickly.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No connection right now (Redis down or not yet reached).
    Down,
    /// The command did not answer within the bound.
    Timeout,
    /// Redis answered with an error or the connection broke.
    Redis(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Down => f.write_str("redis is not connected"),
            LinkError::Timeout => f.write_str("redis did not answer in time"),
            LinkError::Redis(e) => write!(f, "redis: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

struct Inner {
    client: redis::Client,
    /// Who uses the link, for logs and the `dtr_redis_up` gauge.
    role: &'static str,
    bound: Duration,
    conn: Mutex<Option<MultiplexedConnection>>,
    generation: AtomicU64,
    up: AtomicBool,
    broken: Notify,
}

/// A handle on the shared connection; cheap to clone.
#[derive(Clone)]
pub struct RedisLink(Arc<Inner>);

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("role", &self.0.role).field("up", &self.is_up()).finish()
    }
}

impl RedisLink {
    /// Starts keeping a connection to `url` in the background; fails only on a malformed URL.
    /// Must be called inside a Tokio runtime.
    pub fn start(url: &str, role: &'static str, bound: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let inner = Arc::new(Inner {
            client,
            role,
            bound,
            conn: Mutex::new(None),
            generation: AtomicU64::new(0),
            up: AtomicBool::new(false),
            broken: Notify::new(),
        });
        metrics::gauge!("dtr_redis_up", "role" => role).set(0.0);
        tokio::spawn(keep(Arc::downgrade(&inner)));
        Ok(RedisLink(inner))
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.0.client
    }

    pub fn bound(&self) -> Duration {
        self.0.bound
    }

    /// Whether a checked connection is there now.
    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::SeqCst)
    }

    /// Raised by every new connection; 0 until the first.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::SeqCst)
    }

    fn conn(&self) -> Option<(MultiplexedConnection, u64)> {
        let c = self.0.conn.lock().unwrap_or_else(|e| e.into_inner());
        c.clone().map(|c| (c, self.generation()))
    }

    /// Drops the connection of `generation` (if still current) and wakes the keeper to open a
    /// new one.
    fn broke(&self, generation: u64, why: &LinkError) {
        let mut c = self.0.conn.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation && c.is_some() {
            *c = None;
            self.0.up.store(false, Ordering::SeqCst);
            metrics::gauge!("dtr_redis_up", "role" => self.0.role).set(0.0);
            tracing::warn!(role = self.0.role, error = %why, "redis link broken; falling back until it is back");
            self.0.broken.notify_one();
        }
    }

    /// Runs `f` on the connection within the bound, or fails at once when there is none.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, LinkError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.run_within(self.0.bound, f).await
    }

    /// [`run`](Self::run) with another bound (an announcement may wait longer than a read).
    pub async fn run_within<T, F, Fut>(&self, bound: Duration, f: F) -> Result<T, LinkError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let Some((conn, generation)) = self.conn() else {
            return Err(LinkError::Down);
        };
        let err = match tokio::time::timeout(bound, f(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            // A script or type error is the caller's, not the link's.
            Ok(Err(e)) if !is_connection_error(&e) => return Err(LinkError::Redis(e.to_string())),
            Ok(Err(e)) => LinkError::Redis(e.to_string()),
            Err(_) => LinkError::Timeout,
        };
        self.broke(generation, &err);
        Err(err)
    }

    /// Waits up to `within` for a connection (for announcements, which may wait a little; reads
    /// never do).
    pub async fn wait_up(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.is_up() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// Opens a connection and checks it answers.
async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT));
    let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("PING").query_async::<()>(&mut conn).await?;
    Ok(conn)
}

/// The background keeper: connects, checks the connection now and then, reconnects after a break.
async fn keep(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(50);
    let mut said_down = false;
    loop {
        let Some(link) = inner.upgrade().map(RedisLink) else { return };
        if link.is_up() {
            let check = link.run_within(link.0.bound.max(CHECK_EVERY), |mut c| async move {
                redis::cmd("PING").query_async::<()>(&mut c).await
            });
            let _ = check.await;
            let woken = link.0.clone();
            drop(link);
            tokio::select! {
                _ = woken.broken.notified() => {}
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
            continue;
        }
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, connect(&link.0.client)).await {
            Ok(Ok(conn)) => {
                {
                    let mut c = link.0.conn.lock().unwrap_or_else(|e| e.into_inner());
                    *c = Some(conn);
                    link.0.generation.fetch_add(1, Ordering::SeqCst);
                    link.0.up.store(true, Ordering::SeqCst);
                }
                metrics::gauge!("dtr_redis_up", "role" => link.0.role).set(1.0);
                metrics::counter!("dtr_redis_connects_total", "role" => link.0.role).increment(1);
                tracing::info!(role = link.0.role, generation = link.generation(), "redis connected");
                backoff = Duration::from_millis(50);
                said_down = false;
            }
            Ok(Err(e)) if !said_down => {
                tracing::warn!(role = link.0.role, error = %e, "redis unavailable; serving without it and retrying in the background");
                said_down = true;
            }
            Err(_) if !said_down => {
                tracing::warn!(
                    role = link.0.role,
                    "redis does not answer; serving without it and retrying in the background"
                );
                said_down = true;
            }
            _ => {}
        }
        drop(link);
        if inner.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_redis_every_call_fails_at_once() {
        // Port 1 on loopback: nothing listens there.
        let link = RedisLink::start("redis://127.0.0.1:1/", "test", DEFAULT_BOUND).unwrap();
        let started = std::time::Instant::now();
        let r = link.run(|mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await }).await;
        assert_eq!(r, Err(LinkError::Down));
        assert!(started.elapsed() < Duration::from_millis(20));
        assert!(!link.is_up());
        assert_eq!(link.generation(), 0);
    }

    #[test]
    fn a_malformed_url_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async { assert!(RedisLink::start("not a url", "test", DEFAULT_BOUND).is_err()) });
    }
}
