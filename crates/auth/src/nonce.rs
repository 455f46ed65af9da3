//! Replay protection: remembers each (AppKey, `X-Ca-Nonce`) until the request's timestamp
//! could no longer pass the 15-minute clock window, in bounded memory.
//!
//! - Only a 64-bit keyed hash of the pair is stored (SipHash with a per-process random key, from
//!   `std`): a few dozen bytes per entry whatever the nonce's length, and a client cannot aim
//!   collisions at another app's nonces. A false "used" needs a 64-bit collision.
//! - 16 shards, each its own `Mutex`, chosen by the hash, so the gateway's per-core workers
//!   rarely meet on a lock.
//! - Entries sit in 10-second buckets by expiry; a call first drops the buckets that expired,
//!   so expiry costs O(1) per entry, amortized.
//! - An entry expires when the request's timestamp leaves the 15-minute window, since from then
//!   on the timestamp check refuses a replay: a request stamped 14 minutes in the future is
//!   remembered 29 minutes (remembering it 15 minutes from arrival would let it be replayed). A request without
//!   a timestamp is remembered 15 minutes from arrival (Alibaba's promise for nonces).
//!
//! **The cap.** A shard holding its share of `max_entries` evicts its bucket that expires first
//! before inserting, and raises its *horizon* to that bucket's expiry. From then on the shard
//! answers [`NonceCheck::TooOld`] for any request whose own expiry (timestamp + 15 minutes) is
//! not past the horizon, because a replay of an evicted nonce could be among them: replay
//! protection holds, at the price of refusing fresh requests stamped no later than the evicted
//! ones (in a burst: the rest of the current 10-second bucket).
//! A request without a timestamp gets its expiry from its own arrival, so a replay of an
//! evicted one would pass the horizon: a shard that evicted such a request early answers
//! `TooOld` to every request without a timestamp until that request's 15 minutes are over.
//! (The guarantee assumes the client signed `X-Ca-Timestamp`, as the official clients do: an
//! unsigned timestamp is the attacker's to choose.)
//! That only happens when more than `max_entries` distinct nonces arrive within 15 minutes
//! (1 000 000 by default, i.e. over 1 100 signed requests per second sustained); the gateway
//! should answer `TooOld` like a timestamp outside the window.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use crate::CLOCK_WINDOW_MS;

const SHARDS: usize = 16;
/// Bucket width: the resolution of expiry and of the horizon. A shard that must evict early
/// refuses at most this long's worth of requests more than strictly needed.
const BUCKET_MS: i64 = 10_000;

/// What [`NonceCache::check_and_insert`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// First use: remembered from now on.
    Fresh,
    /// Seen within the window: a replay ("Nonce Used").
    Used,
    /// Older than what the cache can still vouch for after it had to evict early (see the
    /// module doc); refuse like an expired timestamp.
    TooOld,
}

/// Remembers (AppKey, nonce) pairs; thread-safe, shared by all workers.
pub struct NonceCache {
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    shard_cap: usize,
}

/// The map's keys are already SipHash output; hashing them again would only cost time.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Default)]
struct Shard {
    /// Hash -> expiry bucket (expiry time / BUCKET_MS, rounded up).
    seen: HashMap<u64, i64, BuildHasherDefault<IdentityHasher>>,
    /// Expiry bucket -> hashes expiring then.
    buckets: BTreeMap<i64, Bucket>,
    /// Requests expiring in or before this bucket are refused (see the module doc).
    horizon: i64,
    /// Requests without a timestamp are refused until this bucket is over (see the module doc).
    untimed_horizon: i64,
}

#[derive(Default)]
struct Bucket {
    hashes: Vec<u64>,
    /// Holds a request that came without a timestamp.
    untimed: bool,
}

impl Shard {
    /// Says whether the bucket held a request without a timestamp.
    fn drop_bucket(&mut self, bucket: i64) -> bool {
        let Some(dropped) = self.buckets.remove(&bucket) else {
            return false;
        };
        for h in dropped.hashes {
            self.seen.remove(&h);
        }
        dropped.untimed
    }

    fn expire(&mut self, now_bucket: i64) {
        while let Some((&bucket, _)) = self.buckets.first_key_value() {
            if bucket >= now_bucket {
                break;
            }
            self.drop_bucket(bucket);
        }
    }
}

impl NonceCache {
    /// Holds at most about `max_entries` pairs (rounded up to a multiple of 16). The gateway
    /// uses 1 000 000: some 40 MB at worst.
    pub fn new(max_entries: usize) -> NonceCache {
        NonceCache {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_cap: max_entries.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic elsewhere while holding the lock leaves a consistent map (every mutation is
        // a single insert or remove), so a poisoned lock is still usable.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `timestamp_ms`: the request's `X-Ca-Timestamp`, already checked to be within the window
    /// (`None` when the client sent none: the pair is then remembered for 15 minutes from now).
    pub fn check_and_insert(
        &self,
        app_key: &str,
        nonce: &str,
        timestamp_ms: Option<i64>,
        now_ms: i64,
    ) -> NonceCheck {
        let h = self.hasher.hash_one((app_key, nonce));
        // The top bits pick the shard; the map uses the low ones.
        let mut shard = self.shard((h >> 60) as usize % SHARDS);
        let now_bucket = now_ms.div_euclid(BUCKET_MS);
        shard.expire(now_bucket);
        if shard.seen.contains_key(&h) {
            return NonceCheck::Used;
        }
        if timestamp_ms.is_none() && now_bucket <= shard.untimed_horizon {
            return NonceCheck::TooOld;
        }
        // Kept until the timestamp leaves the window: after that the timestamp check refuses
        // a replay. Without a timestamp, 15 minutes from now (all Alibaba promises then).
        let stamped = timestamp_ms
            .unwrap_or(now_ms)
            .min(now_ms.saturating_add(CLOCK_WINDOW_MS));
        let expiry_bucket = stamped
            .saturating_add(CLOCK_WINDOW_MS + BUCKET_MS - 1)
            .div_euclid(BUCKET_MS);
        // Checked before evicting too: a request refused anyway must not cost others' entries.
        if expiry_bucket <= shard.horizon {
            return NonceCheck::TooOld;
        }
        while shard.seen.len() >= self.shard_cap {
            let Some((&first, _)) = shard.buckets.first_key_value() else {
                break;
            };
            shard.horizon = shard.horizon.max(first);
            if shard.drop_bucket(first) {
                shard.untimed_horizon = shard.untimed_horizon.max(first);
            }
        }
        if expiry_bucket <= shard.horizon {
            return NonceCheck::TooOld;
        }
        shard.seen.insert(h, expiry_bucket);
        let bucket = shard.buckets.entry(expiry_bucket).or_default();
        bucket.hashes.push(h);
        bucket.untimed |= timestamp_ms.is_none();
        NonceCheck::Fresh
    }

    /// Pairs remembered now (expired ones may linger until their shard is next used).
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).seen.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const MINUTE_MS: i64 = 60_000;

    #[test]
    fn reused_nonce_is_refused() {
        let c = NonceCache::new(1000);
        assert_eq!(
            c.check_and_insert("k", "n1", Some(NOW), NOW),
            NonceCheck::Fresh
        );
        assert_eq!(
            c.check_and_insert("k", "n1", Some(NOW), NOW + 1000),
            NonceCheck::Used
        );
        // The same nonce under another AppKey is another pair.
        assert_eq!(
            c.check_and_insert("k2", "n1", Some(NOW), NOW),
            NonceCheck::Fresh
        );
        // ("k", "n1") and ("kn", "1") must not be the same pair.
        assert_eq!(
            c.check_and_insert("kn", "1", Some(NOW), NOW),
            NonceCheck::Fresh
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn nonce_is_forgotten_after_the_window() {
        let c = NonceCache::new(1000);
        assert_eq!(c.check_and_insert("k", "n", None, NOW), NonceCheck::Fresh);
        let later = NOW + CLOCK_WINDOW_MS;
        assert_eq!(c.check_and_insert("k", "n", None, later), NonceCheck::Used);
        let much_later = NOW + CLOCK_WINDOW_MS + 2 * MINUTE_MS;
        assert_eq!(
            c.check_and_insert("k", "n", None, much_later),
            NonceCheck::Fresh
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn future_timestamp_is_remembered_until_it_leaves_the_window() {
        let c = NonceCache::new(1000);
        let ts = NOW + 14 * MINUTE_MS;
        assert_eq!(
            c.check_and_insert("k", "n", Some(ts), NOW),
            NonceCheck::Fresh
        );
        // 20 minutes after arrival the timestamp is still within 15 minutes of the clock.
        let replay_at = NOW + 20 * MINUTE_MS;
        assert!(replay_at - ts <= CLOCK_WINDOW_MS);
        assert_eq!(
            c.check_and_insert("k", "n", Some(ts), replay_at),
            NonceCheck::Used
        );
    }

    /// Offers 10x `cap` distinct nonces, `spacing_ms` apart, then replays them all; returns
    /// how many replays were refused as Used.
    fn flood(cap: usize, spacing_ms: i64) -> usize {
        let c = NonceCache::new(cap);
        let ts = |i: usize| NOW + (i as i64) * spacing_ms;
        for i in 0..10 * cap {
            let r = c.check_and_insert("k", &format!("nonce-{i}"), Some(ts(i)), ts(i));
            assert_ne!(r, NonceCheck::Used);
            assert!(c.len() <= cap, "len {} over cap {cap}", c.len());
        }
        for i in 0..SHARDS {
            let s = c.shard(i);
            assert!(s.seen.len() <= c.shard_cap);
            assert!(s.seen.capacity() <= 4 * c.shard_cap);
            assert_eq!(
                s.buckets.values().map(|b| b.hashes.len()).sum::<usize>(),
                s.seen.len()
            );
        }
        // No replay comes back Fresh: a nonce is either remembered (Used) or was evicted,
        // and then its expiry is behind the horizon (TooOld).
        let end = ts(10 * cap);
        let mut used = 0;
        for i in 0..10 * cap {
            if end - ts(i) > CLOCK_WINDOW_MS {
                continue; // the gateway refuses it on its timestamp
            }
            match c.check_and_insert("k", &format!("nonce-{i}"), Some(ts(i)), end) {
                NonceCheck::Fresh => panic!("replay of nonce-{i} accepted"),
                NonceCheck::Used => used += 1,
                NonceCheck::TooOld => {}
            }
        }
        assert!(used <= cap, "used {used}");
        used
    }

    #[test]
    fn memory_stays_bounded_under_ten_times_the_cap_in_a_burst() {
        // Everything lands in one bucket: a full shard evicts it whole and refuses the rest
        // of the burst as TooOld.
        flood(1600, 0);
    }

    #[test]
    fn memory_stays_bounded_under_ten_times_the_cap_over_half_an_hour() {
        // 16 000 nonces over 32 minutes: buckets expire and get evicted early, both.
        assert!(flood(1600, 120) > 0);
    }

    #[test]
    fn early_eviction_refuses_requests_older_than_the_horizon() {
        let c = NonceCache::new(SHARDS); // one entry per shard
        // Fill every shard with an old request, then push newer ones so the old get evicted.
        let old_ts = NOW - 10 * MINUTE_MS;
        let mut old = Vec::new();
        for i in 0..200 {
            let n = format!("old-{i}");
            if c.check_and_insert("k", &n, Some(old_ts), NOW) == NonceCheck::Fresh {
                old.push(n);
            }
        }
        for i in 0..200 {
            c.check_and_insert("k", &format!("new-{i}"), Some(NOW), NOW);
        }
        assert!(c.len() <= SHARDS);
        // Every old nonce was evicted; replaying one must not come back Fresh.
        for n in &old {
            assert_ne!(
                c.check_and_insert("k", n, Some(old_ts), NOW),
                NonceCheck::Fresh
            );
        }
        assert!(!old.is_empty());
    }

    #[test]
    fn replay_without_timestamp_after_early_eviction_is_not_fresh() {
        // Found by nonce::proptests::a_full_cache_still_refuses_replays: the replay's expiry is
        // counted from its own (later) arrival, so it passed the horizon of the evicted original.
        let c = NonceCache::new(SHARDS); // one entry per shard
        assert_eq!(c.check_and_insert("k", "a", None, NOW), NonceCheck::Fresh);
        for i in 0..200 {
            c.check_and_insert("k", &format!("new-{i}"), Some(NOW), NOW);
        }
        assert_ne!(
            c.check_and_insert("k", "a", None, NOW + 1000),
            NonceCheck::Fresh
        );
        // Once the evicted request's 15 minutes are over, requests without one pass again.
        let later = NOW + CLOCK_WINDOW_MS + BUCKET_MS;
        assert_eq!(c.check_and_insert("k", "b", None, later), NonceCheck::Fresh);
    }

    #[test]
    fn shared_between_threads() {
        let c = std::sync::Arc::new(NonceCache::new(100_000));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|i| {
                            c.check_and_insert("k", &format!("{}", i % 1500 + t), None, NOW)
                                == NonceCheck::Fresh
                        })
                        .count()
                })
            })
            .collect();
        let fresh: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // Threads overlap on nonces 3..1000: each distinct nonce is Fresh exactly once.
        assert_eq!(fresh, c.len());
        assert_eq!(fresh, 1003);
    }
}
