//! What requests are served on: the compiled snapshot and the listener's limits, each swapped
//! whole when it changes, and each worker thread's own counted handle to the pair.
//!
//! Taking a counted reference out of the `ArcSwap`s for every request made every worker add to
//! and take from the same two reference counts: cache lines carried from core to core on each
//! request. A worker instead keeps one `Arc<Current>` that only it counts on, and takes a new
//! one when the generation, moved after every swap, has changed. A swap moves the generation
//! with `Release` and a request reads it with `Acquire`, so every request that starts after a
//! publish has returned is served on what was published.
//!
//! Handles are kept only on a gateway worker's thread, between [`keep_on_this_worker`] and the
//! drop of what it returns. An idle worker's handle keeps the snapshot before a publish alive
//! until that worker's next request or its end.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::compiled::Compiled;
use crate::limits::Limits;

/// Tells gateways apart in a thread's kept handle (tests run several in one process).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static KEPT: RefCell<Option<Option<Kept>>> = const { RefCell::new(None) };
}

/// A worker's handle, and the gateway and generation it was taken from.
struct Kept {
    served: u64,
    generation: u64,
    current: Arc<Current>,
}

/// What one request is served on, fixed when it arrives: a publish or a reload meanwhile does
/// not change which APIs it matches or whom it trusts.
pub(crate) struct Current {
    /// `None` only if even the empty snapshot failed to compile.
    pub(crate) compiled: Option<Arc<Compiled>>,
    pub(crate) limits: Arc<Limits>,
}

/// The snapshot and limits in force.
pub(crate) struct Served {
    id: u64,
    generation: AtomicU64,
    compiled: ArcSwapOption<Compiled>,
    limits: ArcSwap<Limits>,
}

impl Served {
    pub(crate) fn new(compiled: Option<Arc<Compiled>>, limits: Limits) -> Self {
        Served {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            compiled: ArcSwapOption::new(compiled),
            limits: ArcSwap::from_pointee(limits),
        }
    }

    pub(crate) fn compiled(&self) -> Option<Arc<Compiled>> {
        self.compiled.load_full()
    }

    pub(crate) fn has_compiled(&self) -> bool {
        self.compiled.load().is_some()
    }

    pub(crate) fn limits(&self) -> Arc<Limits> {
        self.limits.load_full()
    }

    pub(crate) fn set_compiled(&self, compiled: Arc<Compiled>) {
        self.compiled.store(Some(compiled));
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn set_limits(&self, limits: Limits) {
        self.limits.store(Arc::new(limits));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// What a request arriving now is served on: on a worker, the handle it keeps while
    /// nothing has changed.
    pub(crate) fn current(&self) -> Arc<Current> {
        let generation = self.generation.load(Ordering::Acquire);
        let kept = KEPT.try_with(|kept| {
            let kept = kept.borrow();
            match &*kept {
                Some(Some(k)) if k.served == self.id && k.generation == generation => {
                    Some(k.current.clone())
                }
                _ => None,
            }
        });
        if let Ok(Some(current)) = kept {
            return current;
        }
        // Loaded after the generation was read: a swap in between is seen at the next request.
        let current = Arc::new(Current {
            compiled: self.compiled.load_full(),
            limits: self.limits.load_full(),
        });
        let _ = KEPT.try_with(|kept| {
            if let Some(slot) = kept.borrow_mut().as_mut() {
                *slot = Some(Kept {
                    served: self.id,
                    generation,
                    current: current.clone(),
                });
            }
        });
        current
    }
}

/// Keeps a handle on this thread until the returned guard is dropped. Called by a gateway
/// worker inside its runtime, so that what the snapshot holds is dropped there too.
pub(crate) fn keep_on_this_worker() -> Keeping {
    KEPT.with(|kept| *kept.borrow_mut() = Some(None));
    Keeping(())
}

/// A handle is kept on this thread while it lives.
pub(crate) struct Keeping(());

impl Drop for Keeping {
    fn drop(&mut self) {
        let kept = KEPT.try_with(|kept| kept.borrow_mut().take());
        drop(kept);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pylon_model::Snapshot;

    use super::*;
    use crate::compiled::Carried;

    fn compiled() -> Arc<Compiled> {
        match Compiled::build(&Snapshot::default(), "pylon.test", &Carried::default()) {
            Ok(c) => Arc::new(c),
            Err(e) => panic!("the empty snapshot compiles: {e}"),
        }
    }

    fn same_compiled(current: &Current, compiled: &Arc<Compiled>) -> bool {
        current
            .compiled
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, compiled))
    }

    #[test]
    fn a_worker_reuses_its_handle_until_a_publish() {
        let first = compiled();
        let served = Served::new(Some(first.clone()), Limits::default());
        let _keeping = keep_on_this_worker();
        let a = served.current();
        let b = served.current();
        assert!(Arc::ptr_eq(&a, &b), "nothing changed: the same handle");
        assert!(same_compiled(&a, &first));

        let second = compiled();
        served.set_compiled(second.clone());
        let c = served.current();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(same_compiled(&c, &second), "served on what was published");
        assert!(
            same_compiled(&a, &first),
            "a request in flight keeps its snapshot"
        );
        assert!(Arc::ptr_eq(&c, &served.current()));
    }

    #[test]
    fn new_limits_are_in_force_for_the_next_request() {
        let served = Served::new(Some(compiled()), Limits::default());
        let _keeping = keep_on_this_worker();
        let before = served.current();
        served.set_limits(Limits {
            idle_timeout: Duration::from_secs(5),
            ..Limits::default()
        });
        let after = served.current();
        assert_eq!(before.limits.idle_timeout, Limits::default().idle_timeout);
        assert_eq!(after.limits.idle_timeout, Duration::from_secs(5));
        let (Some(a), Some(b)) = (&before.compiled, &after.compiled) else {
            panic!("both served on a snapshot");
        };
        assert!(Arc::ptr_eq(a, b), "the snapshot stays");
    }

    #[test]
    fn two_gateways_on_one_worker_keep_apart() {
        let (x, y) = (compiled(), compiled());
        let one = Served::new(Some(x.clone()), Limits::default());
        let two = Served::new(Some(y.clone()), Limits::default());
        let _keeping = keep_on_this_worker();
        assert!(same_compiled(&one.current(), &x));
        assert!(
            same_compiled(&two.current(), &y),
            "same generation, other gateway"
        );
        assert!(same_compiled(&one.current(), &x));
    }

    #[test]
    fn only_a_worker_keeps_a_handle_and_lets_it_go_at_its_end() {
        let first = compiled();
        let served = Served::new(Some(first.clone()), Limits::default());
        let a = served.current();
        assert!(
            !Arc::ptr_eq(&a, &served.current()),
            "not a worker: nothing kept"
        );
        drop(a);
        assert_eq!(Arc::strong_count(&first), 2, "ours and the gateway's");

        let keeping = keep_on_this_worker();
        drop(served.current());
        assert_eq!(Arc::strong_count(&first), 3, "the worker keeps one");
        drop(keeping);
        assert_eq!(Arc::strong_count(&first), 2, "let go with the worker");
        assert!(!Arc::ptr_eq(&served.current(), &served.current()));
    }
}
