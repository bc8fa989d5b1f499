//! Brute-force protection (docs/soap-edge.md point 10): failed logins are counted per (username,
//! client IP); after `max_failures` within `period`, that pair is refused without a password
//! check until the period has passed since the first failure. Unknown usernames are counted the
//! same way, so the lock-out tells nothing about which users exist. Counts live in Redis when the
//! gateway has one (shared by all gateways), else in this process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dtr_redislink::RedisLink;

/// Most (username, IP) pairs counted in process; beyond it the oldest are forgotten.
const MAX_LOCAL: usize = 100_000;
/// Longest username part of a key.
const MAX_USER_IN_KEY: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures that lock a pair; 0 turns the lock-out off.
    pub max_failures: u32,
    pub period: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 10, period: Duration::from_secs(300) }
    }
}

pub struct Lockout {
    policy: LockoutPolicy,
    redis: Option<RedisLink>,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Whether a pair may try, and what its counter was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// May try; `failures` so far in this period.
    Open { failures: u32 },
    /// Locked for this much longer.
    Locked(Duration),
}

fn key(username: &str, ip: Option<IpAddr>) -> String {
    let user: String = username.chars().take(MAX_USER_IN_KEY).collect();
    let ip = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    // The username goes last: it may hold any character, the IP cannot.
    format!("dtr:lockout:{ip}:{user}")
}

impl Lockout {
    pub fn new(policy: LockoutPolicy, redis: Option<RedisLink>) -> Self {
        Lockout { policy, redis, local: Mutex::new(HashMap::new()) }
    }

    fn off(&self) -> bool {
        self.policy.max_failures == 0
    }

    fn standing_of(&self, failures: u32, left: Duration) -> Standing {
        if failures >= self.policy.max_failures && !left.is_zero() {
            Standing::Locked(left)
        } else {
            Standing::Open { failures }
        }
    }

    pub async fn standing(&self, username: &str, ip: Option<IpAddr>) -> Standing {
        if self.off() {
            return Standing::Open { failures: 0 };
        }
        let k = key(username, ip);
        if let Some(link) = &self.redis {
            let key = k.clone();
            let read: Result<(Option<u32>, i64), _> =
                link.run(|mut c| async move { redis::pipe().get(&key).pttl(&key).query_async(&mut c).await }).await;
            match read {
                Ok((n, ttl)) => {
                    let left = Duration::from_millis(u64::try_from(ttl).unwrap_or(0));
                    return self.standing_of(n.unwrap_or(0), left);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lock-out counters unreachable in Redis; counting in this process")
                }
            }
        }
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        match local.get(&k) {
            Some((n, since)) => self.standing_of(*n, self.policy.period.saturating_sub(since.elapsed())),
            None => Standing::Open { failures: 0 },
        }
    }

    /// Counts a failed login of the pair; `true` when the pair is locked from now on (the
    /// caller then drops remembered logins everywhere: see `crate::auth`).
    pub async fn failed(&self, username: &str, ip: Option<IpAddr>) -> bool {
        if self.off() {
            return false;
        }
        let k = key(username, ip);
        if let Some(link) = &self.redis {
            let period = u64::try_from(self.policy.period.as_millis()).unwrap_or(u64::MAX);
            let key = k.clone();
            let counted: Result<u32, _> = link
                .run(|mut c| async move {
                    // The period runs from the first failure: the expiry is set only with the first count.
                    let script = redis::Script::new(
                        "local n = redis.call('INCR', KEYS[1]) \
                         if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
                         return n",
                    );
                    script.key(&key).arg(period).invoke_async(&mut c).await
                })
                .await;
            match counted {
                Ok(n) => return self.count_lockout(n),
                Err(e) => {
                    tracing::warn!(error = %e, "lock-out counters unreachable in Redis; counting in this process")
                }
            }
        }
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let period = self.policy.period;
        if local.len() >= MAX_LOCAL {
            local.retain(|_, (_, since)| since.elapsed() < period);
        }
        let entry = local.entry(k).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= period {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        let n = entry.0;
        drop(local);
        self.count_lockout(n)
    }

    /// Counts a pair that has just reached the limit (`dtr_lockouts_total`); whether it is
    /// locked.
    fn count_lockout(&self, failures: u32) -> bool {
        if failures == self.policy.max_failures {
            metrics::counter!("dtr_lockouts_total").increment(1);
        }
        failures >= self.policy.max_failures
    }

    /// A successful login clears the pair's count (called only when there was one).
    pub async fn succeeded(&self, username: &str, ip: Option<IpAddr>) {
        let k = key(username, ip);
        if let Some(link) = &self.redis {
            let key = k.clone();
            let _: Result<i64, _> =
                link.run(|mut c| async move { redis::cmd("DEL").arg(&key).query_async(&mut c).await }).await;
        }
        self.local.lock().unwrap_or_else(|e| e.into_inner()).remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_a_pair_after_the_limit_and_only_that_pair() {
        let l = Lockout::new(LockoutPolicy { max_failures: 3, period: Duration::from_secs(60) }, None);
        let ip: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let other: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        for n in 0..3 {
            assert_eq!(l.standing("u", ip).await, Standing::Open { failures: n });
            l.failed("u", ip).await;
        }
        assert!(matches!(l.standing("u", ip).await, Standing::Locked(d) if d <= Duration::from_secs(60)));
        assert_eq!(l.standing("u", other).await, Standing::Open { failures: 0 }, "another IP");
        assert_eq!(l.standing("v", ip).await, Standing::Open { failures: 0 }, "another user");
        l.succeeded("u", ip).await;
        assert_eq!(l.standing("u", ip).await, Standing::Open { failures: 0 });
    }

    #[tokio::test]
    async fn a_lock_ends_with_its_period_and_zero_turns_it_off() {
        let l = Lockout::new(LockoutPolicy { max_failures: 1, period: Duration::from_millis(30) }, None);
        l.failed("u", None).await;
        assert!(matches!(l.standing("u", None).await, Standing::Locked(_)));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(l.standing("u", None).await, Standing::Open { failures: 1 });
        let off = Lockout::new(LockoutPolicy { max_failures: 0, period: Duration::from_secs(60) }, None);
        off.failed("u", None).await;
        assert_eq!(off.standing("u", None).await, Standing::Open { failures: 0 });
    }
}
