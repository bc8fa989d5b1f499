//! `dtr demo-data --scale N`: fills a database with a synthetic register in the real
//! proportions (see `dtr_registry::demodata`), for tests, demos and benchmarks.

use anyhow::{Context, bail};

use dtr_registry::model::Aktoer;
use dtr_registry::storage::RegistryStore;

#[derive(clap::Args)]
pub struct DemoDataArgs {
    /// `postgres://…` or `sqlite:…` (migrated first).
    #[arg(long, env = "DTR_DATABASE_URL")]
    pub database_url: String,
    /// Size relative to the national register: 1 ≈ 9,600 units, 10 ≈ 96,000.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Same seed, same register (names, kinds, places).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Dagtilbud per write transaction.
const BATCH: usize = 100;

pub async fn run(a: DemoDataArgs) -> anyhow::Result<()> {
    let _t = dtr_telemetry::init("dtr-demo-data");
    if !(a.scale > 0.0 && a.scale <= 10.0) {
        bail!(
            "--scale must be above 0 and at most 10 (the five-digit number series holds about 10× the national register)"
        );
    }
    crate::grpc::migrate_all(&a.database_url).await?;
    let store = dtr_registry::storage::connect(&a.database_url).await.context("registry database")?;
    let started = std::time::Instant::now();
    let bar = std::sync::OnceLock::new();
    let reported = std::sync::atomic::AtomicU64::new(0);
    let (d, u, l) = load(store.as_ref(), a.scale, a.seed, |done, total| {
        let bar = bar.get_or_init(|| crate::fremdrift::Fremdrift::new("daginstitutioner gemt", total));
        bar.skridt(done - reported.swap(done, std::sync::atomic::Ordering::Relaxed));
    })
    .await?;
    if let Some(bar) = bar.get() {
        bar.slut();
    }
    println!(
        "synthetic register (scale {}) stored in {:.1} s: {d} daginstitutioner, {u} anvisningsenheder, {l} alternative addresses",
        a.scale,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Generates and stores a register of `scale`; reports progress after every batch. Returns the
/// numbers of daginstitutioner, anvisningsenheder and alternative addresses stored.
pub async fn load(
    store: &dyn RegistryStore,
    scale: f64,
    seed: u64,
    progress: impl Fn(u64, u64),
) -> anyhow::Result<(u64, u64, u64)> {
    let codes = store.load_code_tables().await.context("code tables")?;
    // An empty register numbers from G00000, so ten times the national register fits.
    store.start_numbers_at(0).await.context("number series")?;
    let aktoer = Aktoer {
        system: "dtr-demo-data".into(),
        organisation: None,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        operation: "load".into(),
        message_id: None,
    };
    let mut generator = dtr_registry::demodata::Generator::new(scale, seed, &codes);
    let total = generator.remaining();
    let (mut d, mut u, mut l) = (0u64, 0u64, 0u64);
    loop {
        let batch: Vec<_> = generator.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        for t in store.load_dagtilbud(batch, &aktoer).await.context("storing the synthetic register")? {
            d += 1;
            u += t.anvisningsenheder.len() as u64;
            l += t.anvisningsenheder.iter().map(|(_, a)| a.len() as u64).sum::<u64>();
        }
        progress(d, total);
    }
    Ok((d, u, l))
}
