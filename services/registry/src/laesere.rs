//! Lookups from memory across processes: readers' leases (the distributed mode on PostgreSQL;
//! docs/architecture.md, "Lookups from memory").
//!
//! An export instance answers lookups by number from memory ([`crate::opslag`]) only while it
//! holds a **lease**: a row of its own in the database saying which change sequence number it
//! has seen and until when, by the database's clock, it may answer from memory. It renews the
//! lease every [`RENEW_EVERY`], and at once when the database announces a committed write;
//! each renewal reads the change sequence first and, if it moved, drops what it remembers
//! *before* it posts the new number.
//!
//! A writer (the import service) answers a write only when every reader with a running lease
//! has posted a number at least that of the write — or when [`LEASE`] has passed since the
//! commit, after which any reader that has not renewed since has stopped answering from
//! memory. So a read that starts after a write was acknowledged sees the write, in any export
//! instance. A reader that cannot reach the database lets its lease run out and reads from the
//! database (or fails) like any other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::FutureExt;

use crate::opslag::Generation;
use crate::storage::{RegistryStore, StoreError};

/// How long a reader may answer from memory after it last began a renewal: the most a write
/// waits for a reader that stopped renewing.
pub const LEASE: Duration = Duration::from_millis(1000);
/// How often a reader renews without being woken by a write.
pub const RENEW_EVERY: Duration = Duration::from_millis(250);

/// Holds this process's lease for `generation` as long as the process runs (export side).
pub async fn hold_lease(store: Arc<dyn RegistryStore>, generation: Arc<Generation>) {
    let id = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
    let mut seen = None;
    loop {
        let mut notices = match store.write_notices().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "lookups from memory paused: no write notices from the database");
                generation.end_lease();
                tokio::time::sleep(RENEW_EVERY).await;
                continue;
            }
        };
        // Whatever was written before the notices began is caught by the first renewal.
        loop {
            let began = Instant::now();
            match renew(store.as_ref(), &id, &generation, &mut seen).await {
                Ok(()) => generation.lease_until(began + LEASE),
                // The lease runs out by itself; the next renewal tries again.
                Err(e) => tracing::debug!(error = %e, "reader's lease not renewed"),
            }
            tokio::select! {
                notice = notices.next() => {
                    if notice.is_none() {
                        // The connection was lost: writes meanwhile went unannounced.
                        generation.end_lease();
                        break;
                    }
                    // Many writes at once need one renewal.
                    while let Some(Some(())) = notices.next().now_or_never() {}
                }
                () = tokio::time::sleep(RENEW_EVERY) => {}
            }
        }
    }
}

/// Reads the change sequence, forgets what was remembered if it moved, then posts it.
async fn renew(
    store: &dyn RegistryStore,
    id: &str,
    generation: &Generation,
    seen: &mut Option<i64>,
) -> Result<(), StoreError> {
    let latest = store.latest_sekvensnummer().await?;
    if *seen != Some(latest) {
        generation.raise();
        *seen = Some(latest);
    }
    store.post_reader(id, latest, LEASE).await
}

/// Waits until every leased reader has seen the writes committed so far (writer side), at
/// most [`LEASE`] and a margin: by then no reader that missed them still answers from memory.
pub async fn wait_for_readers(store: &dyn RegistryStore) {
    let started = Instant::now();
    let deadline = started + LEASE + Duration::from_millis(50);
    let mut pause = Duration::from_millis(1);
    let outcome = match store.latest_sekvensnummer().await {
        Ok(sekvens) => loop {
            match store.readers_behind(sekvens).await {
                Ok(0) => break "seen",
                Ok(_) if Instant::now() < deadline => {}
                Ok(_) => break "lease_expired",
                Err(e) => {
                    tracing::warn!(error = %e, "readers' leases unknown: waiting for them to run out");
                    break "lease_expired";
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        },
        Err(e) => {
            tracing::warn!(error = %e, "change sequence unknown: waiting for readers' leases to run out");
            "lease_expired"
        }
    };
    if outcome == "lease_expired" {
        tokio::time::sleep_until(deadline.into()).await;
    }
    metrics::histogram!("dtr_write_reader_wait_seconds", "outcome" => outcome).record(started.elapsed().as_secs_f64());
}
