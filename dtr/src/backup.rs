//! `dtr backup FILE` and `dtr restore FILE`: a consistent copy of a running embedded register
//! (SQLite's `VACUUM INTO`, which reads one snapshot while writers go on), and putting one back
//! (checked before it replaces anything). PostgreSQL is backed up with its own tools
//! (`pg_dump --format=custom`, `pg_restore`; README, "Operating it").

use crate::fremdrift::Fremdrift;
use std::path::PathBuf;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Where the copy goes; it must not exist.
    pub file: PathBuf,
    /// The register: `sqlite:…` (default: the embedded one in --data-dir).
    #[arg(long, env = "DTR_DATABASE_URL")]
    pub database_url: Option<String>,
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    pub data_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// A copy made by `dtr backup`.
    pub file: PathBuf,
    /// The data directory to restore into (its `dtr.db`); stop `dtr up` first.
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    pub data_dir: PathBuf,
    /// Replace an existing register.
    #[arg(long)]
    pub force: bool,
}

fn sqlite_path(url: &str) -> anyhow::Result<String> {
    match url.strip_prefix("sqlite:") {
        Some(p) => Ok(p.trim_start_matches("//").split('?').next().unwrap_or(p).to_owned()),
        None => bail!("dtr backup copies an embedded (SQLite) register; back PostgreSQL up with pg_dump"),
    }
}

/// An SQLite file that holds a whole register: it passes SQLite's integrity check and has the
/// register's and Tilslutning's tables.
async fn check(path: &std::path::Path) -> anyhow::Result<i64> {
    let url = format!("sqlite:{}?mode=ro", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.with_context(|| format!("opening {}", path.display()))?;
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await?;
    if ok != "ok" {
        bail!("{} fails SQLite's integrity check: {ok}", path.display());
    }
    let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aendring")
        .fetch_one(&pool)
        .await
        .context("not a register (no change sequence)")?;
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisation")
        .fetch_one(&pool)
        .await
        .context("not a register (no organisations)")?;
    pool.close().await;
    Ok(changes)
}

/// Copies `from` to `to` in 1 MiB pieces, showing progress, and syncs it to disk.
fn copy_with_progress(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut src = std::fs::File::open(from)?;
    let bar = Fremdrift::new("bytes kopieret", src.metadata()?.len());
    let mut dst = std::fs::File::create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])?;
        bar.skridt(n as u64);
    }
    bar.slut();
    dst.sync_all()
}

pub async fn backup(a: BackupArgs) -> anyhow::Result<()> {
    let url = a.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", a.data_dir.join("dtr.db").display()));
    let source = sqlite_path(&url)?;
    if a.file.exists() {
        bail!("{} exists already; choose a new file", a.file.display());
    }
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite:{source}")).await.with_context(|| format!("opening {source}"))?;
    eprintln!("copying {source} to {}", a.file.display());
    // One statement copies: its progress is the copy's size against the register's.
    let size = std::fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
    let bar = std::sync::Arc::new(Fremdrift::new("bytes kopieret", size));
    let watch = {
        let (bar, file) = (bar.clone(), a.file.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                bar.til(std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0));
            }
        })
    };
    let copied = sqlx::query("VACUUM INTO $1").bind(a.file.display().to_string()).execute(&pool).await;
    watch.abort();
    if copied.is_ok() {
        bar.til(size);
    }
    bar.slut();
    copied.context("VACUUM INTO")?;
    pool.close().await;
    let changes = check(&a.file).await?;
    println!("backup {}: {changes} changes, integrity ok", a.file.display());
    Ok(())
}

pub async fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    let changes = check(&a.file).await?;
    std::fs::create_dir_all(&a.data_dir).with_context(|| format!("creating {}", a.data_dir.display()))?;
    let target = a.data_dir.join("dtr.db");
    if target.exists() && !a.force {
        bail!("{} holds a register; stop dtr up and give --force to replace it", target.display());
    }
    // Beside, then renamed over: the register is never half copied. WAL files of the old one go.
    let tmp = a.data_dir.join("dtr.db.restoring");
    copy_with_progress(&a.file, &tmp).with_context(|| format!("copying to {}", tmp.display()))?;
    for side in ["dtr.db-wal", "dtr.db-shm"] {
        let _ = std::fs::remove_file(a.data_dir.join(side));
    }
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    println!("restored {} into {}: {changes} changes", a.file.display(), target.display());
    Ok(())
}
