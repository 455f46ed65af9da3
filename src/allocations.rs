//! A global allocator that counts, for measuring allocations per request: built in only with
//! `cargo build --release --features count-allocations` (what `bench/profile.sh` does). The
//! status listener's `/metrics` then also serves `pylon_allocations_total` and
//! `pylon_allocated_bytes_total`, which the bench reads before and after a run.

// Without the feature only the tests use the allocator.
#![cfg_attr(not(feature = "count-allocations"), allow(dead_code))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting each allocation (a `realloc` counts as one) and its bytes.
pub struct Counting {
    allocations: AtomicU64,
    bytes: AtomicU64,
}

impl Counting {
    pub const fn new() -> Self {
        Counting {
            allocations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn count(&self, size: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size as u64, Ordering::Relaxed);
    }

    /// Allocations and bytes allocated so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.allocations.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

// SAFETY: every method hands the caller's own arguments to `System`, unchanged, and returns
// what `System` returns, so `Counting` keeps `GlobalAlloc`'s contract exactly as `System`
// does. Counting touches two atomics and never allocates, so it cannot recurse into the
// allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count(new_size);
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(feature = "count-allocations")]
#[global_allocator]
pub static GLOBAL: Counting = Counting::new();

/// The counters in Prometheus' text format, when the build counts; empty otherwise.
pub fn exposition() -> String {
    #[cfg(feature = "count-allocations")]
    {
        let (allocations, bytes) = GLOBAL.totals();
        format!(
            "# TYPE pylon_allocations_total counter\npylon_allocations_total {allocations}\n\
             # TYPE pylon_allocated_bytes_total counter\npylon_allocated_bytes_total {bytes}\n"
        )
    }
    #[cfg(not(feature = "count-allocations"))]
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_allocation_is_counted_and_memory_round_trips() {
        let counting = Counting::new();
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a non-zero-sized layout; each pointer is freed once, with its layout.
        unsafe {
            let p = counting.alloc(layout);
            assert!(!p.is_null());
            p.write_bytes(7, 64);
            let p = counting.realloc(p, layout, 128);
            assert_eq!(*p.add(63), 7, "realloc keeps the contents");
            counting.dealloc(p, Layout::from_size_align(128, 8).unwrap());
            let z = counting.alloc_zeroed(layout);
            assert_eq!(*z.add(10), 0);
            counting.dealloc(z, layout);
        }
        assert_eq!(counting.totals(), (3, 64 + 128 + 64));
    }
}
