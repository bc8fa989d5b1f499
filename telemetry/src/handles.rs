//! Metric handles kept by their labels. `metrics::counter!(name, labels…)` looks the metric up in
//! the recorder's registry on every call — hashing the name and the labels and building a key —
//! which on a path taken thousands of times a second costs more than the counting. A handle made
//! once is an atomic add.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Handles of one metric (or a group of them, `H`) by label values `K`, each made by `make` on
/// first use. At most `max` are kept, so labels that come from a request cannot grow it without
/// end; past that, each use makes its handle afresh (counted all the same, only slower).
///
/// Handles count into the recorder installed when they are made: use them only once the process
/// has installed its recorder (every serving path does, at start).
pub struct Handles<K, H> {
    made: RwLock<HashMap<K, H>>,
    make: Box<dyn Fn(&K) -> H + Send + Sync>,
    max: usize,
}

impl<K: Hash + Eq, H: Clone> Handles<K, H> {
    pub fn new(max: usize, make: impl Fn(&K) -> H + Send + Sync + 'static) -> Self {
        Handles { made: RwLock::new(HashMap::new()), make: Box::new(make), max }
    }

    /// The handle for `labels`.
    pub fn get<Q>(&self, labels: &Q) -> H
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(h) = self.made.read().unwrap_or_else(|e| e.into_inner()).get(labels) {
            return h.clone();
        }
        let key = labels.to_owned();
        let handle = (self.make)(&key);
        let mut made = self.made.write().unwrap_or_else(|e| e.into_inner());
        if made.len() < self.max {
            made.insert(key, handle.clone());
        }
        handle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static MADE: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_handle_is_made_once_per_labels_and_the_map_stays_bounded() {
        let handles: Handles<String, usize> = Handles::new(2, |k: &String| {
            MADE.fetch_add(1, Ordering::Relaxed);
            k.len()
        });
        assert_eq!(handles.get("ab"), 2);
        assert_eq!(handles.get("ab"), 2);
        assert_eq!(MADE.load(Ordering::Relaxed), 1, "made once");
        handles.get("abc");
        handles.get("abcd");
        handles.get("abcd");
        assert_eq!(MADE.load(Ordering::Relaxed), 4, "beyond the bound, made on each use");
        assert_eq!(handles.made.read().unwrap().len(), 2);
    }
}
