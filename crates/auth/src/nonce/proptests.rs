//! Properties of the nonce cache, against a model of what the gateway needs: a replay the
//! timestamp check would let through is never `Fresh`; a new pair is `Fresh` while the cache
//! has room; memory stays within the cap; no input panics.

use proptest::prelude::*;

use super::*;
use crate::strategies::config;

const NOW: i64 = 1_700_000_000_000;

/// One step of traffic: time moves on, then either a new request or a replay of an earlier
/// one (same AppKey, nonce and timestamp).
#[derive(Debug, Clone)]
enum Step {
    New {
        advance_ms: i64,
        key: u8,
        skew_ms: Option<i64>,
    },
    Replay {
        advance_ms: i64,
        which: usize,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let advance = prop_oneof![2 => Just(0i64), 3 => 0i64..20_000, 1 => 0i64..600_000];
    let step = prop_oneof![
        3 => (advance.clone(), 0u8..4, prop::option::of(-CLOCK_WINDOW_MS..=CLOCK_WINDOW_MS))
            .prop_map(|(advance_ms, key, skew_ms)| Step::New { advance_ms, key, skew_ms }),
        2 => (advance, any::<usize>()).prop_map(|(advance_ms, which)| Step::Replay { advance_ms, which }),
    ];
    prop::collection::vec(step, 1..200)
}

/// Runs `steps` on a cache of `cap` entries; checks the invariants at every step and returns
/// how many new requests were not `Fresh`.
fn run(cap: usize, steps: &[Step]) -> Result<usize, TestCaseError> {
    let c = NonceCache::new(cap);
    let mut now = NOW;
    // Requests answered Fresh: (key, nonce, timestamp, when).
    let mut accepted: Vec<(String, String, Option<i64>, i64)> = Vec::new();
    let mut refused_new = 0;
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::New {
                advance_ms,
                key,
                skew_ms,
            } => {
                now += advance_ms;
                let (key, nonce, ts) = (
                    format!("app{key}"),
                    format!("n-{i}"),
                    skew_ms.map(|s| now + s),
                );
                match c.check_and_insert(&key, &nonce, ts, now) {
                    NonceCheck::Fresh => accepted.push((key, nonce, ts, now)),
                    NonceCheck::Used => {
                        return Err(TestCaseError::fail(format!("new pair {key}/{nonce} Used")));
                    }
                    NonceCheck::TooOld => refused_new += 1,
                }
            }
            Step::Replay { advance_ms, which } => {
                now += advance_ms;
                if accepted.is_empty() {
                    continue;
                }
                let (key, nonce, ts, first_use) = &accepted[which % accepted.len()];
                // The gateway only asks about timestamps inside the window.
                if ts.is_some_and(|ts| ts.abs_diff(now) > CLOCK_WINDOW_MS.unsigned_abs()) {
                    continue;
                }
                let replay = c.check_and_insert(key, nonce, *ts, now);
                // Without a timestamp, 15 minutes from first use is all that is promised.
                if ts.is_some() || now - *first_use <= CLOCK_WINDOW_MS {
                    prop_assert_ne!(
                        replay,
                        NonceCheck::Fresh,
                        "replay of {}/{} accepted",
                        key,
                        nonce
                    );
                    // With room to spare nothing was evicted: it must be remembered.
                    if cap >= steps.len() * SHARDS {
                        prop_assert_eq!(replay, NonceCheck::Used);
                    }
                }
            }
        }
        prop_assert!(c.len() <= cap.div_ceil(SHARDS).max(1) * SHARDS);
    }
    Ok(refused_new)
}

proptest! {
    #![proptest_config(config())]

    /// Plenty of room: every new request is `Fresh`, every replay inside the window refused.
    #[test]
    fn replays_are_refused_and_new_pairs_accepted(steps in steps()) {
        prop_assert_eq!(run(1_000_000, &steps)?, 0);
    }

    /// A cache far too small for the traffic still never takes a replay for new.
    #[test]
    fn a_full_cache_still_refuses_replays(steps in steps(), cap in 1usize..64) {
        run(cap, &steps)?;
    }

    /// Any AppKey, nonce, timestamp and clock, extremes included.
    #[test]
    fn any_input_is_handled(
        calls in prop::collection::vec(
            (any::<String>(), any::<String>(), prop::option::of(any::<i64>()), prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()]),
            1..20,
        ),
        cap in prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX)],
    ) {
        let c = NonceCache::new(cap);
        for (key, nonce, ts, now) in &calls {
            let _ = c.check_and_insert(key, nonce, *ts, *now);
        }
        let _ = c.len();
    }
}
