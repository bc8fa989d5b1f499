//! Lookups by number answered from memory while the register has not changed, so a steady
//! reader costs no database round trip (on SQLite: no hand-off to the connection's worker
//! thread). Used where every writer of the register is known to the process (`dtr up`):
//!
//! - the import service raises the shared [`Generation`] after every write it commits, before
//!   it answers; so a read that starts after a write was acknowledged finds no entry of the old
//!   generation: **read-your-writes**;
//! - writers outside the process (`dtr import-legacy`, `dtr demo-data`, a restore) are noticed
//!   by a poll of the change sequence ([`follow_change_sequence`]) within its interval.
//!
//! An answer read under a generation that changed during the read is kept under that old
//! generation, so it is never served after the change. Memory is bounded: at most
//! [`MAX_ENTRIES`] per level, and everything is dropped when the generation moves on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::{AlternativAdresse, Anvisningsenhed, Daginstitution};
use crate::storage::RegistryStore;

/// Most units kept per level (the national register has about 9,600 in all).
pub const MAX_ENTRIES: usize = 200_000;

/// How often writes from outside the process are looked for.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// The register's generation in this process: raised by every write.
#[derive(Debug, Default)]
pub struct Generation(AtomicU64);

impl Generation {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// After a write is committed, before it is acknowledged.
    pub fn raise(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
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

pub struct Opslag {
    generation: Arc<Generation>,
    daginstitutioner: Mutex<Level<Daginstitution>>,
    anvisningsenheder: Mutex<Level<Anvisningsenhed>>,
    alternative: Mutex<Level<AlternativAdresse>>,
}

/// A level's lock (a panic elsewhere never stops lookups).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Opslag {
    pub fn new(generation: Arc<Generation>) -> Self {
        Opslag {
            generation,
            daginstitutioner: Mutex::new(Level::new()),
            anvisningsenheder: Mutex::new(Level::new()),
            alternative: Mutex::new(Level::new()),
        }
    }

    /// The generation a read starts under; pass it back with what was read.
    pub fn ticket(&self) -> u64 {
        self.generation.current()
    }

    pub fn daginstitution(&self, nummer: &str) -> Option<Option<Daginstitution>> {
        counted(lock(&self.daginstitutioner).get(nummer, self.ticket()))
    }

    pub fn put_daginstitution(&self, nummer: &str, ticket: u64, unit: Option<Daginstitution>) {
        lock(&self.daginstitutioner).put(nummer, ticket, unit);
    }

    pub fn anvisningsenhed(&self, nummer: &str) -> Option<Option<Anvisningsenhed>> {
        counted(lock(&self.anvisningsenheder).get(nummer, self.ticket()))
    }

    pub fn put_anvisningsenhed(&self, nummer: &str, ticket: u64, unit: Option<Anvisningsenhed>) {
        lock(&self.anvisningsenheder).put(nummer, ticket, unit);
    }

    pub fn alternativ_adresse(&self, nummer: &str) -> Option<Option<AlternativAdresse>> {
        counted(lock(&self.alternative).get(nummer, self.ticket()))
    }

    pub fn put_alternativ_adresse(&self, nummer: &str, ticket: u64, unit: Option<AlternativAdresse>) {
        lock(&self.alternative).put(nummer, ticket, unit);
    }
}

fn counted<T>(hit: Option<T>) -> Option<T> {
    let result = if hit.is_some() { "hit" } else { "miss" };
    metrics::counter!("dtr_cache_requests_total", "cache" => "lookups", "result" => result).increment(1);
    hit
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

    #[test]
    fn an_answer_read_before_a_write_is_never_served_after_it() {
        let g = Arc::new(Generation::default());
        let o = Opslag::new(g.clone());
        assert!(o.anvisningsenhed("G30001").is_none(), "empty: a miss");
        let ticket = o.ticket();
        o.put_anvisningsenhed("G30001", ticket, None);
        assert_eq!(o.anvisningsenhed("G30001"), Some(None), "a remembered 'no such unit'");

        // A read begins, a write is acknowledged, the read's (old) answer comes back.
        let stale = o.ticket();
        g.raise();
        assert!(o.anvisningsenhed("G30001").is_none(), "the write cleared the level");
        o.put_anvisningsenhed("G30001", stale, None);
        assert!(o.anvisningsenhed("G30001").is_none(), "the old answer is not kept");
        o.put_anvisningsenhed("G30001", o.ticket(), None);
        assert_eq!(o.anvisningsenhed("G30001"), Some(None));
    }
}
