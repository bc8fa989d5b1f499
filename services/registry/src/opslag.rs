//! Lookups by number answered from memory while the register has not changed, so a steady
//! reader costs no database round trip (on SQLite: no hand-off to the connection's worker
//! thread). Where every writer of the register is known to the process (`dtr up`):
//!
//! - the import service raises the shared [`Generation`] after every write it commits, before
//!   it answers; so a read that starts after a write was acknowledged finds no entry of the old
//!   generation: **read-your-writes**;
//! - writers outside the process (`dtr import-legacy`, `dtr demo-data`, a restore) are noticed
//!   by a poll of the change sequence ([`follow_change_sequence`]) within its interval.
//!
//! Where writers live in other processes (the distributed mode on PostgreSQL), the generation
//! is [leased](Generation::leased): answers come from memory only while this process holds a
//! reader's lease, and every writer waits for leased readers before it answers
//! (`crate::laesere`).
//!
//! An answer read under a generation that changed during the read is kept under that old
//! generation, so it is never served after the change. Memory is bounded: at most
//! [`MAX_ENTRIES`] per level, and everything is dropped when the generation moves on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{AlternativAdresse, Anvisningsenhed, Daginstitution};
use crate::storage::RegistryStore;

/// Most units kept per level (the national register has about 9,600 in all).
pub const MAX_ENTRIES: usize = 200_000;

/// How often writes from outside the process are looked for.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// The register's generation in this process: raised by every write. Where writers live in
/// other processes, what is read may also be remembered only while a lease runs
/// (`crate::laesere`).
#[derive(Debug, Default)]
pub struct Generation {
    n: AtomicU64,
    lease: Option<Lease>,
}

/// Until when answers may be remembered: milliseconds after `origin`, by the monotonic clock.
#[derive(Debug)]
struct Lease {
    origin: Instant,
    until_ms: AtomicU64,
}

impl Generation {
    /// A generation whose answers may be remembered only while a lease runs; none runs yet.
    pub fn leased() -> Self {
        Generation { n: AtomicU64::new(0), lease: Some(Lease { origin: Instant::now(), until_ms: AtomicU64::new(0) }) }
    }

    pub fn current(&self) -> u64 {
        self.n.load(Ordering::SeqCst)
    }

    /// After a write is committed, before it is acknowledged.
    pub fn raise(&self) {
        self.n.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether an answer may be served from memory, or kept there, now.
    pub fn may_remember(&self) -> bool {
        match &self.lease {
            None => true,
            Some(l) => (l.origin.elapsed().as_millis() as u64) < l.until_ms.load(Ordering::SeqCst),
        }
    }

    /// The lease runs until `until` (never shortened by a late renewal).
    pub fn lease_until(&self, until: Instant) {
        if let Some(l) = &self.lease {
            let ms = until.saturating_duration_since(l.origin).as_millis() as u64;
            l.until_ms.fetch_max(ms, Ordering::SeqCst);
        }
    }

    /// Ends the lease at once: nothing is served from memory until it is renewed.
    pub fn end_lease(&self) {
        if let Some(l) = &self.lease {
            l.until_ms.store(0, Ordering::SeqCst);
        }
    }
}

/// One level's units by number, with the generation each was read under.
struct Level<T> {
    generation: u64,
    units: HashMap<String, Option<T>>,
}

impl<T: Clone> Level<T> {
    fn new() -> Self {
        Level { generation: 0, units: HashMap::new() }
    }

    fn get(&mut self, nummer: &str, now: u64) -> Option<Option<T>> {
        if self.generation != now {
            self.units.clear();
            self.generation = now;
            return None;
        }
        self.units.get(nummer).cloned()
    }

    fn put(&mut self, nummer: &str, read_under: u64, unit: Option<T>) {
        if read_under != self.generation {
            return; // read before a write that has cleared (or will clear) this level
        }
        if self.units.len() >= MAX_ENTRIES {
            self.units.clear();
        }
        self.units.insert(nummer.to_owned(), unit);
    }
}

/// One level's lookups by number, answered from memory while the generation stands.
pub struct Kort<T> {
    generation: Arc<Generation>,
    level: Mutex<Level<T>>,
}

impl<T: Clone> Kort<T> {
    fn new(generation: Arc<Generation>) -> Self {
        Kort { generation, level: Mutex::new(Level::new()) }
    }

    fn level(&self) -> std::sync::MutexGuard<'_, Level<T>> {
        // A panic elsewhere never stops lookups.
        self.level.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The unit from memory, or from `read` (not started until needed), remembered under the
    /// generation that stood when the read began.
    pub async fn through<E>(
        &self,
        nummer: &str,
        read: impl std::future::Future<Output = Result<Option<T>, E>>,
    ) -> Result<Option<T>, E> {
        let ticket = self.generation.current();
        if !self.generation.may_remember() {
            crate::cache::count_cache_read("lookups", "bypass");
            return read.await;
        }
        let hit = self.level().get(nummer, ticket);
        let result = if hit.is_some() { "hit" } else { "miss" };
        crate::cache::count_cache_read("lookups", result);
        if let Some(unit) = hit {
            return Ok(unit);
        }
        let unit = read.await?;
        self.level().put(nummer, ticket, unit.clone());
        Ok(unit)
    }
}

/// The three levels, over one generation.
pub struct Opslag {
    pub daginstitutioner: Kort<Daginstitution>,
    pub anvisningsenheder: Kort<Anvisningsenhed>,
    pub alternative: Kort<AlternativAdresse>,
}

impl Opslag {
    pub fn new(generation: Arc<Generation>) -> Self {
        Opslag {
            daginstitutioner: Kort::new(generation.clone()),
            anvisningsenheder: Kort::new(generation.clone()),
            alternative: Kort::new(generation),
        }
    }
}

/// Raises `generation` whenever the change sequence moves without this process raising it (a
/// writer outside the process). Runs until the process ends.
pub async fn follow_change_sequence(store: Arc<dyn RegistryStore>, generation: Arc<Generation>) {
    let mut seen = None;
    loop {
        if let Ok(latest) = store.latest_sekvensnummer().await {
            if seen.is_some_and(|s| s != latest) {
                generation.raise();
            }
            seen = Some(latest);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_read_before_a_write_is_never_served_after_it() {
        let g = Arc::new(Generation::default());
        let k: Kort<u32> = Kort::new(g.clone());
        let read = |v: u32| async move { Ok::<_, ()>(Some(v)) };
        assert_eq!(k.through("G30001", read(1)).await, Ok(Some(1)), "a miss reads");
        assert_eq!(k.through("G30001", read(2)).await, Ok(Some(1)), "then from memory");

        // A write; then a read begins, another write is acknowledged meanwhile, and the read's
        // (old) answer comes back.
        g.raise();
        let during = k.through("G30001", async {
            g.raise();
            Ok::<_, ()>(Some(3))
        });
        assert_eq!(during.await, Ok(Some(3)));
        assert_eq!(k.through("G30001", read(4)).await, Ok(Some(4)), "the old answer was not kept");
        assert_eq!(k.through("G30001", read(5)).await, Ok(Some(4)));
    }
}
