//! Policy state that outlives a publish (a throttle's counters): handed from one compiled
//! snapshot to the next by key, and dropped once no snapshot uses it any more (the throttle's
//! counters).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

type State = dyn Any + Send + Sync;

/// State by key (policy, API, environment). The registry holds only weak references: a state
/// lives as long as a compiled policy holds it, so the snapshot still serving keeps it while
/// the next one compiles and picks it up, and nothing needs to sweep after a publish.
#[derive(Default)]
pub(crate) struct PolicyStates {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Weak<State>>,
    /// Dead entries are swept when the map reaches this size, so sweeping stays amortised O(1).
    sweep_at: usize,
}

/// The map is swept no more often than once per this many entries.
const MIN_SWEEP: usize = 64;

impl PolicyStates {
    /// The state under `key`, shared with whoever else holds it; `make` creates it when there
    /// is none alive (or the one there is of another type: the policy's kind changed).
    pub(crate) fn get_or_insert<T: Any + Send + Sync>(
        &self,
        key: &str,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let Ok(mut entries) = self.inner.lock() else {
            return Arc::new(make());
        };
        if let Some(state) = entries.by_key.get(key).and_then(Weak::upgrade)
            && let Ok(state) = state.downcast::<T>()
        {
            return state;
        }
        let state = Arc::new(make());
        let erased: Arc<State> = state.clone();
        entries
            .by_key
            .insert(key.to_string(), Arc::downgrade(&erased));
        if entries.by_key.len() >= entries.sweep_at {
            entries.by_key.retain(|_, s| s.strong_count() > 0);
            entries.sweep_at = (entries.by_key.len() * 2).max(MIN_SWEEP);
        }
        state
    }

    /// Keys whose state is still held somewhere.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.inner.lock().map_or(0, |e| {
            e.by_key.values().filter(|s| s.strong_count() > 0).count()
        })
    }
}
