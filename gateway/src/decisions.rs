//! Cached authentication and access decisions, so a steady caller costs no round trip to the
//! tilslutning service. Only positive answers are cached (refusals are audited each time, and full
//! extracts are counted each time).
//!
//! A change in the tilslutning service clears everything before the change is acknowledged to
//! whoever made it, so it holds from their next request on:
//! - in one process (`dtr up`) the change is sent on a channel that every cache read drains
//!   first, so no read can miss a change sent before it;
//! - across processes it is published on Redis pub/sub; each gateway drops its decisions and
//!   then confirms on a second channel, and the tilslutning service waits for the confirmations
//!   of every gateway that received the message (bounded) before it answers.
//!
//! While the gateway is not subscribed — Redis down, or no Redis configured — nothing is cached.
//! An entry also lives at most `ttl`, which bounds the damage of a lost message on a silently dead
//! connection. Worst case for a revocation to take effect: the next request normally; `ttl`
//! (default 5 s) if a message is lost without the subscription noticing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use dtr_telemetry::handles::Handles;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::auth;
use crate::operation::Operation;

/// Most entries of each kind; beyond it the cache starts afresh (rare: one entry per system and
/// per system × operation × owners).
const MAX_ENTRIES: usize = 50_000;

/// Where the gateway learns of tilslutning changes.
#[derive(Clone, Debug, Default)]
pub enum Invalidation {
    /// No source: nothing is cached, every call is decided by the tilslutning service.
    #[default]
    None,
    /// The tilslutning service runs in this process (`dtr up`).
    Local(broadcast::Sender<()>),
    /// Redis pub/sub.
    Redis(dtr_redislink::RedisLink),
}

/// What an access decision is about.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AccessKey {
    pub system: String,
    pub operation: Operation,
    /// Owners as `type:kode`, sorted.
    pub owners: Vec<String>,
}

struct Maps {
    /// A login with the moment it stops being trusted.
    logins: HashMap<[u8; 32], (auth::System, Instant)>,
    allowed: HashMap<AccessKey, Instant>,
    /// Changes announced in this process, drained before every read.
    local: Option<broadcast::Receiver<()>>,
}

pub struct DecisionCache {
    /// Where this gateway announces a lock-out to the others (in one process there are none).
    announce: Option<dtr_redislink::RedisLink>,
    key: ring::hmac::Key,
    ttl: Duration,
    /// Raised by every invalidation; an answer fetched under an older epoch is not stored.
    epoch: AtomicU64,
    subscribed: AtomicBool,
    maps: Mutex<Maps>,
    hits: AtomicU64,
    /// One check of a password at a time: callers of the same login wait for the first.
    in_flight: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

/// A caller's turn to check a login (see [`DecisionCache::login_turn`]).
pub struct LoginTurn<'a> {
    cache: &'a DecisionCache,
    key: [u8; 32],
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for LoginTurn<'_> {
    fn drop(&mut self) {
        let mut f = self.cache.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds the lock now (this guard's own hold ends right after): forget it.
        if f.get(&self.key).is_some_and(|l| Arc::strong_count(l) <= 2) {
            f.remove(&self.key);
        }
    }
}

/// The epoch an answer was fetched under, or `None` when nothing may be cached.
#[derive(Clone, Copy)]
pub struct Ticket(Option<u64>);

impl DecisionCache {
    /// A cache fed by `source` (the subscription runs on its own task).
    pub fn new(source: Invalidation, ttl: Duration) -> Arc<Self> {
        let secret: [u8; 32] = rand_secret();
        let cache = Arc::new(DecisionCache {
            announce: match &source {
                Invalidation::Redis(link) => Some(link.clone()),
                _ => None,
            },
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
            ttl,
            epoch: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            maps: Mutex::new(Maps { logins: HashMap::new(), allowed: HashMap::new(), local: None }),
            hits: AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
        });
        if !ttl.is_zero() {
            match source {
                Invalidation::None => {}
                Invalidation::Local(tx) => {
                    // Subscribed before returning, so no change made after start-up is missed.
                    cache.maps().local = Some(tx.subscribe());
                    cache.subscribed.store(true, Ordering::SeqCst);
                }
                Invalidation::Redis(link) => {
                    tokio::spawn(follow_redis(Arc::downgrade(&cache), link));
                }
            }
        }
        cache
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The maps, after every change announced in this process so far has cleared them.
    fn current(&self) -> std::sync::MutexGuard<'_, Maps> {
        let mut m = self.maps();
        let Some(rx) = m.local.as_mut() else { return m };
        let mut changed = false;
        loop {
            match rx.try_recv() {
                Ok(()) | Err(broadcast::error::TryRecvError::Lagged(_)) => changed = true,
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => {
                    m.local = None;
                    self.subscribed.store(false, Ordering::SeqCst);
                    changed = true;
                    break;
                }
            }
        }
        if changed {
            self.clear(&mut m);
        }
        m
    }

    fn clear(&self, m: &mut Maps) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        m.logins.clear();
        m.allowed.clear();
    }

    /// Drops every decision.
    pub fn invalidate(&self) {
        let mut m = self.maps();
        self.clear(&mut m);
    }

    /// A pair was just locked out: remembered logins may no longer pass without the lock-out
    /// being asked, here (at once) nor in any other gateway (over Redis: the locking answer
    /// waits until Redis has handed every gateway the message).
    pub async fn lockout_announced(&self) {
        self.invalidate();
        let Some(link) = &self.announce else { return };
        let before = self.epoch.load(Ordering::SeqCst);
        let sent: Result<i64, _> = link
            .run(|mut c| async move {
                redis::cmd("PUBLISH").arg(dtr_proto::TILSLUTNING_AENDRET_KANAL).arg("lockout").query_async(&mut c).await
            })
            .await;
        if let Err(e) = sent {
            // A gateway that cannot hear Redis is not subscribed, and caches nothing.
            tracing::warn!(error = %e, "lock-out not announced to the other gateways");
            return;
        }
        // Redis hands a message to every subscriber at once: when this gateway has its own
        // back, the others have theirs (bounded: Redis may freeze meanwhile).
        let echoed = async {
            while self.is_subscribed() && self.epoch.load(Ordering::SeqCst) == before {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(200), echoed).await;
    }

    fn set_subscribed(&self, on: bool) {
        let mut m = self.maps();
        self.subscribed.store(on, Ordering::SeqCst);
        self.clear(&mut m);
    }

    /// Taken before asking the tilslutning service; the answer is stored only if nothing changed
    /// meanwhile.
    pub fn ticket(&self) -> Ticket {
        let _m = self.current();
        Ticket(self.subscribed.load(Ordering::SeqCst).then(|| self.epoch.load(Ordering::SeqCst)))
    }

    /// The cache key of a username and password: an HMAC under a per-process secret, so memory
    /// holds no password.
    pub fn login_key(&self, username: &str, password: &str) -> [u8; 32] {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        for part in [username, password] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    pub fn login(&self, key: &[u8; 32]) -> Option<auth::System> {
        let m = self.current();
        let hit = m.logins.get(key).filter(|(_, until)| Instant::now() < *until).map(|(system, _)| system.clone());
        counted("logins", hit.is_some());
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Waits for this caller's turn to have `key`'s login checked. When a remembered login runs
    /// out, every connection of a busy system misses at once; one check (two argon2id hashes)
    /// then answers them all instead of one each, which stalled every request for as long.
    pub async fn login_turn(&self, key: &[u8; 32]) -> LoginTurn<'_> {
        let lock = self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).entry(*key).or_default().clone();
        LoginTurn { cache: self, key: *key, _turn: lock.lock_owned().await }
    }

    /// Remembers a successful login for `ttl`, or less when the password stops sooner
    /// (`valid_for`, the end of a rotation's overlap).
    pub fn put_login(&self, ticket: Ticket, key: [u8; 32], system: &auth::System, valid_for: Option<Duration>) {
        let until = Instant::now() + valid_for.map_or(self.ttl, |v| v.min(self.ttl));
        self.put(ticket, |m| {
            if m.logins.len() >= MAX_ENTRIES {
                m.logins.clear();
            }
            m.logins.insert(key, (system.clone(), until));
        });
    }

    pub fn allowed(&self, key: &AccessKey) -> bool {
        let m = self.current();
        let hit = m.allowed.get(key).is_some_and(|at| at.elapsed() < self.ttl);
        counted("access", hit);
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    pub fn put_allowed(&self, ticket: Ticket, key: AccessKey) {
        self.put(ticket, |m| {
            if m.allowed.len() >= MAX_ENTRIES {
                m.allowed.clear();
            }
            m.allowed.insert(key, Instant::now());
        });
    }

    fn put(&self, ticket: Ticket, f: impl FnOnce(&mut Maps)) {
        let Ticket(Some(epoch)) = ticket else { return };
        let mut m = self.current();
        // Under the lock invalidations take, so a change announced after the answer was read
        // either bumps the epoch first (not stored) or clears it afterwards.
        if self.subscribed.load(Ordering::SeqCst) && self.epoch.load(Ordering::SeqCst) == epoch {
            f(&mut m);
        }
    }

    /// Whether decisions are cached now (a change source is heard).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    /// Decisions answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

fn counted(cache: &'static str, hit: bool) {
    static COUNTERS: std::sync::LazyLock<Handles<(&str, bool), metrics::Counter>> = std::sync::LazyLock::new(|| {
        Handles::new(16, |&(cache, hit)| {
            let result = if hit { "hit" } else { "miss" };
            metrics::counter!("dtr_cache_requests_total", "cache" => cache, "result" => result)
        })
    });
    COUNTERS.get(&(cache, hit)).increment(1);
}

fn rand_secret() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut s = [0u8; 32];
    // The system RNG does not fail on supported platforms; a zero key would still be private to
    // this process.
    let _ = ring::rand::SystemRandom::new().fill(&mut s);
    s
}

/// Keeps a subscription open, re-subscribing after a drop; caching is off while it is down.
/// The subscription is trusted only while the link beside it answers its checks on the same
/// connection generation: a frozen Redis delivers nothing and says nothing, so silence alone
/// would look like "no changes".
async fn follow_redis(cache: Weak<DecisionCache>, link: dtr_redislink::RedisLink) {
    let mut warned = false;
    loop {
        let generation = link.generation();
        let subscribed = if link.is_up() { subscribe(&link).await } else { Err("redis is not connected".into()) };
        match subscribed {
            Ok(mut messages) => {
                let Some(c) = cache.upgrade() else { return };
                c.set_subscribed(true);
                drop(c);
                if warned {
                    tracing::info!("decision cache subscribed again");
                    warned = false;
                }
                let mut check = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let Some(c) = cache.upgrade() else { return };
                            c.invalidate();
                            drop(c);
                            confirm(&link, message.get_payload_bytes().to_vec()).await;
                        }
                        _ = check.tick() => {
                            if !link.is_up() || link.generation() != generation {
                                break;
                            }
                        }
                    }
                }
                let Some(c) = cache.upgrade() else { return };
                c.set_subscribed(false);
                tracing::warn!(
                    "decision cache unsubscribed (Redis gone or reconnected); asking the tilslutning service until it subscribes again"
                );
            }
            Err(e) if !warned => {
                tracing::warn!(error = %e, "decision cache cannot subscribe to Redis; asking the tilslutning service on every call");
                warned = true;
            }
            Err(_) => {}
        }
        if cache.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The change messages.
async fn subscribe(link: &dtr_redislink::RedisLink) -> Result<redis::aio::PubSubStream, String> {
    let connect = async {
        let mut pubsub = link.client().get_async_pubsub().await?;
        pubsub.subscribe(dtr_proto::TILSLUTNING_AENDRET_KANAL).await?;
        Ok::<_, redis::RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout connecting to Redis".into()),
    }
}

/// Tells the announcer that this gateway has dropped its decisions for change `id`. A failure is
/// only logged: the announcer stops waiting after its bound.
async fn confirm(link: &dtr_redislink::RedisLink, id: Vec<u8>) {
    let sent = link
        .run(|mut c| async move {
            redis::cmd("PUBLISH").arg(dtr_proto::TILSLUTNING_KVITTERING_KANAL).arg(id).query_async::<i64>(&mut c).await
        })
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not confirm a tilslutning change");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> auth::System {
        auth::System { id: "S1".into(), udbyder_kode: "U1".into() }
    }

    fn key() -> AccessKey {
        AccessKey {
            system: "S1".into(),
            operation: Operation::Import(crate::operation::ImportOperation::InsertDaginstitution),
            owners: vec![],
        }
    }

    #[tokio::test]
    async fn caches_until_a_change_is_announced() {
        let (tx, _) = broadcast::channel(4);
        let c = DecisionCache::new(Invalidation::Local(tx.clone()), Duration::from_secs(60));
        let k = c.login_key("u", "p");
        assert_ne!(k, c.login_key("u", "q"));
        assert_ne!(c.login_key("ab", "c"), c.login_key("a", "bc"));
        assert!(c.login(&k).is_none());
        c.put_login(c.ticket(), k, &system(), None);
        c.put_allowed(c.ticket(), key());
        assert_eq!(c.login(&k).map(|s| s.id), Some("S1".into()));
        assert!(c.allowed(&key()));
        assert_eq!(c.hits(), 2);
        tx.send(()).unwrap();
        assert!(c.login(&k).is_none(), "the very next read sees an announced change");
        assert!(!c.allowed(&key()), "and access decisions");
    }

    #[tokio::test]
    async fn an_answer_read_before_a_change_is_not_stored() {
        let (tx, _) = broadcast::channel(4);
        let c = DecisionCache::new(Invalidation::Local(tx.clone()), Duration::from_secs(60));
        let stale = c.ticket();
        c.invalidate();
        c.put_allowed(stale, key());
        assert!(!c.allowed(&key()));
        c.put_allowed(c.ticket(), key());
        assert!(c.allowed(&key()));
    }

    #[tokio::test]
    async fn a_closed_change_channel_turns_caching_off() {
        let (tx, _) = broadcast::channel(4);
        let c = DecisionCache::new(Invalidation::Local(tx.clone()), Duration::from_secs(60));
        c.put_allowed(c.ticket(), key());
        assert!(c.allowed(&key()));
        drop(tx);
        assert!(!c.allowed(&key()), "no more change messages can come: nothing is trusted from memory");
        c.put_allowed(c.ticket(), key());
        assert!(!c.allowed(&key()));
    }

    #[tokio::test]
    async fn without_a_change_source_or_past_its_end_nothing_is_served() {
        let c = DecisionCache::new(Invalidation::None, Duration::from_secs(60));
        c.put_allowed(c.ticket(), key());
        assert!(!c.allowed(&key()), "no source of changes: no caching");
        let (tx, _) = broadcast::channel(4);
        let c = DecisionCache::new(Invalidation::Local(tx.clone()), Duration::from_secs(60));
        let k = c.login_key("u", "p");
        c.put_login(c.ticket(), k, &system(), Some(Duration::ZERO));
        assert!(c.login(&k).is_none(), "a password that ends now is not trusted from memory");
        let c2 = DecisionCache::new(Invalidation::Local(broadcast::channel(4).0), Duration::ZERO);
        c2.put_allowed(c2.ticket(), key());
        assert!(!c2.allowed(&key()), "a zero lifetime turns caching off");
    }
}
