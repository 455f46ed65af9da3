//! Where a throttle's counts live: the [`Counters`] interface, and its in-memory store.
//!
//! The algorithm is a fixed window keyed by the window's start: "count one more in this
//! window if fewer than the limit are counted there" is one atomic step, which a shared store
//! can run as one script (Redis: a key per subject and window, with an expiry), so a cluster
//! keeps the same numbers. A refused request counts nowhere.

use std::borrow::Borrow;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};

use crate::fast_hash::{FastMap, FastState};

/// Whom a count is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'s> {
    /// The API, all callers together.
    Api,
    App(&'s str),
    User(&'s str),
    Ip(IpAddr),
    /// An app's quota over a calendar period.
    Quota(&'s str),
}

/// A throttle's counts for one binding (policy, API, environment).
pub(crate) trait Counters: Send + Sync + Debug {
    /// Counts one request for `subject` in the window starting at `window` (epoch seconds) if
    /// fewer than `limit` are counted there; the count after it, or `None` when the window is
    /// full (and nothing was counted).
    fn acquire(&self, subject: Subject<'_>, window: i64, limit: u32) -> Option<u32>;

    /// Takes back one count of an acquire in `window`: a later limit refused the request.
    fn release(&self, subject: Subject<'_>, window: i64);
}

/// Distinct apps, users or addresses tracked per kind and binding. Entries of past windows
/// go first; beyond this, newcomers share one overflow count with the same limit, so a flood
/// of distinct source addresses is limited together and memory stays bounded (about 80 bytes
/// an entry: 5 MiB per kind at most).
pub(crate) const MAX_TRACKED: usize = 65_536;
const SHARDS: usize = 16;
const PER_SHARD: usize = MAX_TRACKED / SHARDS;

/// Counts kept in this process. Every count is one atomic word; the keyed ones sit in maps
/// spread over shards, read under a lock callers share. A kind's shards are made on its first
/// count: a binding that limits only the API costs one word.
#[derive(Debug, Default)]
pub(crate) struct MemoryCounters {
    api: Slot,
    apps: OnceLock<Keyed<Box<str>>>,
    users: OnceLock<Keyed<Box<str>>>,
    ips: OnceLock<Keyed<IpAddr>>,
    quotas: OnceLock<Keyed<Box<str>>>,
}

impl Counters for MemoryCounters {
    fn acquire(&self, subject: Subject<'_>, window: i64, limit: u32) -> Option<u32> {
        let id = |id: &str| -> Box<str> { id.into() };
        match subject {
            Subject::Api => self.api.acquire(window, limit),
            Subject::App(a) => keyed(&self.apps).acquire(a, || id(a), window, limit),
            Subject::User(u) => keyed(&self.users).acquire(u, || id(u), window, limit),
            Subject::Ip(ip) => keyed(&self.ips).acquire(&ip, || ip, window, limit),
            Subject::Quota(a) => keyed(&self.quotas).acquire(a, || id(a), window, limit),
        }
    }

    fn release(&self, subject: Subject<'_>, window: i64) {
        match subject {
            Subject::Api => self.api.release(window),
            Subject::App(id) => keyed(&self.apps).release(id, window),
            Subject::User(id) => keyed(&self.users).release(id, window),
            Subject::Ip(ip) => keyed(&self.ips).release(&ip, window),
            Subject::Quota(id) => keyed(&self.quotas).release(id, window),
        }
    }
}

fn keyed<K>(lazy: &OnceLock<Keyed<K>>) -> &Keyed<K> {
    lazy.get_or_init(Keyed::default)
}

/// A window and its count in one atomic word: the window's start (truncated to 32 bits,
/// enough to tell one window from the next) above, the count below.
#[derive(Debug, Default)]
struct Slot(AtomicU64);

impl Slot {
    /// The window this slot last counted in, as its 32-bit tag.
    fn tag(&self) -> u32 {
        (self.0.load(Ordering::Relaxed) >> 32) as u32
    }

    fn acquire(&self, window: i64, limit: u32) -> Option<u32> {
        let tag = window as u32;
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let (at, count) = ((current >> 32) as u32, current as u32);
            let next = if at == tag {
                if count >= limit {
                    return None;
                }
                count + 1
            } else {
                1
            };
            let word = (u64::from(tag) << 32) | u64::from(next);
            match self
                .0
                .compare_exchange_weak(current, word, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(next),
                Err(actual) => current = actual,
            }
        }
    }

    fn release(&self, window: i64) {
        let tag = window as u32;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |current| {
                let (at, count) = ((current >> 32) as u32, current as u32);
                (at == tag && count > 0).then(|| current - 1)
            });
    }
}

#[derive(Debug)]
struct Keyed<K> {
    hasher: FastState,
    shards: Box<[RwLock<Shard<K>>]>,
    /// Shared by the subjects that found their shard full.
    overflow: Slot,
}

/// A shard's counts, each an atomic [`Slot`]: a caller already counted takes only the read
/// lock, which callers share, so a hot app or address on every core never makes one wait
/// for another; the write lock is taken to add a caller and, once per window, to sweep.
#[derive(Debug)]
struct Shard<K> {
    counts: FastMap<K, Slot>,
    /// The newest window seen: entries of older windows are dropped when it changes.
    window: AtomicI64,
}

impl<K> Default for Keyed<K> {
    fn default() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                RwLock::new(Shard {
                    counts: FastMap::default(),
                    window: AtomicI64::new(i64::MIN),
                })
            })
            .collect();
        Keyed {
            hasher: FastState::default(),
            shards,
            overflow: Slot::default(),
        }
    }
}

impl<K: Hash + Eq> Keyed<K> {
    /// The shard `key` lives in. Nothing panics while a shard is held, so a poisoned lock
    /// still holds sound counts.
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<Shard<K>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }

    fn acquire<Q>(&self, key: &Q, owned: impl FnOnce() -> K, window: i64, limit: u32) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lock = self.shard(key);
        {
            let shard = lock.read().unwrap_or_else(PoisonError::into_inner);
            if window <= shard.window.load(Ordering::Relaxed)
                && let Some(slot) = shard.counts.get(key)
            {
                return slot.acquire(window, limit);
            }
        }
        let mut shard = lock.write().unwrap_or_else(PoisonError::into_inner);
        if window > *shard.window.get_mut() {
            // Once per window and shard: what was counted before cannot refuse anyone now.
            let tag = window as u32;
            shard.counts.retain(|_, slot| slot.tag() == tag);
            *shard.window.get_mut() = window;
        }
        if let Some(slot) = shard.counts.get(key) {
            return slot.acquire(window, limit);
        }
        if shard.counts.len() >= PER_SHARD {
            drop(shard);
            return self.overflow.acquire(window, limit);
        }
        let slot = Slot::default();
        let count = slot.acquire(window, limit);
        shard.counts.insert(owned(), slot);
        count
    }

    fn release<Q>(&self, key: &Q, window: i64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        match shard.counts.get(key) {
            Some(slot) => slot.release(window),
            None => {
                drop(shard);
                self.overflow.release(window);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .counts
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[test]
    fn a_window_admits_its_limit_and_the_next_window_starts_again() {
        let c = MemoryCounters::default();
        for subject in [
            Subject::Api,
            Subject::App("a"),
            Subject::Ip([192, 0, 2, 1].into()),
        ] {
            assert_eq!(c.acquire(subject, 60, 2), Some(1));
            assert_eq!(c.acquire(subject, 60, 2), Some(2));
            assert_eq!(c.acquire(subject, 60, 2), None);
            // A refusal counted nothing: taking one back leaves room for exactly one.
            c.release(subject, 60);
            assert_eq!(c.acquire(subject, 60, 2), Some(2));
            assert_eq!(c.acquire(subject, 120, 2), Some(1));
            // A release for a window that is over changes nothing.
            c.release(subject, 60);
            assert_eq!(c.acquire(subject, 120, 2), Some(2));
        }
        // Subjects of one kind count apart.
        assert_eq!(c.acquire(Subject::App("b"), 120, 2), Some(1));
        assert_eq!(c.acquire(Subject::Quota("a"), 120, 2), Some(1));
    }

    #[test]
    fn concurrent_acquires_admit_exactly_the_limit() {
        for subject in [Subject::Api, Subject::User("u")] {
            let counters = Arc::new(MemoryCounters::default());
            let admitted = Arc::new(AtomicU32::new(0));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (counters, admitted) = (counters.clone(), admitted.clone());
                    let subject = match subject {
                        Subject::Api => Subject::Api,
                        _ => Subject::User("u"),
                    };
                    std::thread::spawn(move || {
                        for _ in 0..1000 {
                            if counters.acquire(subject, 7, 2500).is_some() {
                                admitted.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(admitted.load(Ordering::Relaxed), 2500);
        }
    }

    #[test]
    fn a_flood_of_addresses_is_bounded_and_shares_the_overflow_count() {
        let c = MemoryCounters::default();
        let mut refused = 0;
        for i in 0..(MAX_TRACKED as u32 * 2) {
            if c.acquire(Subject::Ip(IpAddr::from(i.to_be_bytes())), 1, 3)
                .is_none()
            {
                refused += 1;
            }
        }
        let tracked = keyed(&c.ips).tracked();
        assert!(tracked <= MAX_TRACKED, "{tracked}");
        // Every newcomer past the cap shared one count of 3.
        let overflowed = MAX_TRACKED as u32 * 2 - tracked as u32;
        assert_eq!(refused, overflowed - 3);
        // The next window drops the old entries as addresses come back.
        assert_eq!(c.acquire(Subject::Ip([10, 0, 0, 1].into()), 2, 3), Some(1));
        assert!(keyed(&c.ips).tracked() < tracked);
        // Kinds never counted have no shards.
        assert!(c.users.get().is_none());
    }
}
