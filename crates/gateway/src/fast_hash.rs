//! The hash maps looked up on the request path: app keys and codes, grants, throttle counters.
//!
//! foldhash, seeded at random per process as std's SipHash is, so that keys a client chooses
//! (an AppKey, an address) cannot be aimed at one bucket without knowing the seed; and several
//! times cheaper than SipHash on short keys, which showed as about a thousand instructions per
//! request across these lookups.

pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) use foldhash::fast::RandomState as FastState;
