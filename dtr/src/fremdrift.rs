//! Progress of a long command: a bar on a terminal, and a line every so often in a log (standard
//! error not a terminal), so an operator sees it move either way.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Fremdrift {
    bar: Option<indicatif::ProgressBar>,
    hvad: &'static str,
    total: u64,
    done: AtomicU64,
    /// A log line at least this often (in units).
    hver: u64,
}

impl Fremdrift {
    pub fn new(hvad: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(hvad);
            bar
        });
        Fremdrift { bar, hvad, total, done: AtomicU64::new(0), hver: (total / 20).max(1000) }
    }

    /// `n` more done.
    pub fn skridt(&self, n: u64) {
        let foer = self.done.fetch_add(n, Ordering::Relaxed);
        let nu = foer + n;
        match &self.bar {
            Some(bar) => bar.set_position(nu),
            None if nu / self.hver != foer / self.hver || nu == self.total => {
                eprintln!("{}: {nu}/{}", self.hvad, self.total)
            }
            None => {}
        }
    }

    /// Done so far is `nu` (for work measured from outside, e.g. a file's size).
    pub fn til(&self, nu: u64) {
        let foer = self.done.load(Ordering::Relaxed);
        if nu > foer {
            self.skridt(nu - foer);
        }
    }

    pub fn slut(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => {
                let nu = self.done.load(Ordering::Relaxed);
                if nu != self.total {
                    eprintln!("{}: {nu} i alt", self.hvad);
                }
            }
        }
    }
}
