//! The optional config file: `DTR_NAME=value` lines (blank lines and `#` comments allowed), the
//! same names as the environment variables. A variable already in the environment wins.

use std::path::Path;

pub fn load_from_args() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = std::env::var("DTR_CONFIG").ok();
    while let Some(a) = args.next() {
        if a == "--config" {
            path = args.next();
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.to_owned());
        }
    }
    match path {
        Some(p) => load(Path::new(&p)),
        None => Ok(()),
    }
}

fn load(path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .filter(|(k, _)| k.trim().starts_with("DTR_") || k.trim().starts_with("OTEL_") || k.trim() == "RUST_LOG")
            .ok_or_else(|| anyhow::anyhow!("config file {} line {}: expected DTR_NAME=value", path.display(), i + 1))?;
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if std::env::var_os(k).is_none() {
            set_env_before_threads(k, v);
        }
    }
    Ok(())
}

/// `std::env::set_var` is unsafe in edition 2024 because other threads may read the environment;
/// this runs before the runtime or any thread exists.
fn set_env_before_threads(k: &str, v: &str) {
    #[allow(unsafe_code)]
    // SAFETY: called from `main` before any other thread is spawned.
    unsafe {
        std::env::set_var(k, v)
    };
}
