//! A backend call's deadline, on a timer its worker keeps from one call to the next.
//!
//! A fresh tokio timer is inserted into the runtime's timer wheel on its first poll and taken
//! out when dropped, each under the wheel's lock: about 500 instructions of a proxied request.
//! A kept timer moved to a later deadline costs one compare-and-swap instead: the wheel leaves
//! it where it was and, when the old deadline comes, moves it on without waking anyone.
//!
//! Timers are kept only on a gateway worker's thread, between [`keep_on_this_worker`] and the
//! drop of what it returns, so every kept timer belongs to the runtime running there. A kept
//! timer holds the waker of the last task that waited on it until it is reused or its deadline
//! passes, so at most [`KEPT`] finished tasks stay allocated a little longer.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::clock;

/// Timers kept per worker: enough for the backend calls a busy worker has in flight.
const KEPT: usize = 256;

thread_local! {
    static KEPT_TIMERS: RefCell<Option<Vec<Pin<Box<Sleep>>>>> = const { RefCell::new(None) };
}

/// The deadline passed before the call finished.
#[derive(Debug)]
pub(crate) struct Elapsed;

pin_project! {
    /// A call that gives up at its deadline.
    pub(crate) struct Within<F> {
        #[pin]
        call: F,
        timer: Timer,
    }
}

/// The deadline `timeout` from now, as this poll reads the clock (`clock::now`).
pub(crate) fn after(timeout: Duration) -> Instant {
    Instant::from_std(clock::now()) + timeout
}

/// Runs `call` until `deadline`.
pub(crate) fn within<F: Future>(deadline: Instant, call: F) -> Within<F> {
    Within {
        call,
        timer: Timer::take(deadline),
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.call.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        // (Empty only once dropped.)
        let Some(sleep) = &mut this.timer.sleep else {
            return Poll::Pending;
        };
        // Outside the task's budget, as tokio's own timeout does: a call that spends the
        // budget on every poll still times out.
        std::pin::pin!(tokio::task::unconstrained(sleep.as_mut()))
            .poll(cx)
            .map(|()| Err(Elapsed))
    }
}

/// Keeps timers on this thread until the returned guard is dropped. Called by a gateway
/// worker inside its runtime, so that kept timers never outlive it.
pub(crate) fn keep_on_this_worker() -> Keeping {
    KEPT_TIMERS.with(|kept| *kept.borrow_mut() = Some(Vec::new()));
    Keeping(())
}

/// Timers are kept on this thread while it lives.
pub(crate) struct Keeping(());

impl Drop for Keeping {
    fn drop(&mut self) {
        let kept = KEPT_TIMERS.try_with(|kept| kept.borrow_mut().take());
        drop(kept);
    }
}

/// A timer borrowed for one call; it goes back to the worker's keep when dropped.
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timer {
    fn take(deadline: Instant) -> Self {
        let kept = KEPT_TIMERS
            .try_with(|kept| kept.borrow_mut().as_mut().and_then(Vec::pop))
            .ok()
            .flatten();
        let sleep = match kept {
            Some(mut sleep) => {
                sleep.as_mut().reset(deadline);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(deadline)),
        };
        Timer { sleep: Some(sleep) }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let Some(sleep) = self.sleep.take() else {
            return;
        };
        // (A thread that is ending has nothing to keep it in.)
        let _ = KEPT_TIMERS.try_with(|kept| {
            if let Some(kept) = kept.borrow_mut().as_mut()
                && kept.len() < KEPT
            {
                kept.push(sleep);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> Option<usize> {
        KEPT_TIMERS.with(|kept| kept.borrow().as_ref().map(Vec::len))
    }

    fn in_ms(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    /// Fails the test instead of hanging it when a deadline never fires.
    async fn bounded<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("the deadline fired")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_that_finishes_in_time_gives_its_output() {
        assert_eq!(within(in_ms(10_000), async { 7 }).await.ok(), Some(7));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_past_its_deadline_is_given_up() {
        let deadline = in_ms(30);
        let outcome = bounded(within(deadline, std::future::pending::<()>())).await;
        assert!(outcome.is_err());
        assert!(Instant::now() >= deadline, "given up before its deadline");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_worker_keeps_its_timers_and_reuses_them() {
        assert_eq!(kept(), None, "no timer is kept off a worker");
        within(in_ms(10_000), async {}).await.ok();
        assert_eq!(kept(), None);

        let keeping = keep_on_this_worker();
        within(in_ms(10_000), async {}).await.ok();
        assert_eq!(kept(), Some(1), "the call's timer went back to the worker");
        within(in_ms(10_000), async {
            assert_eq!(kept(), Some(0), "the next call took the kept timer");
        })
        .await
        .ok();
        assert_eq!(kept(), Some(1));
        drop(keeping);
        assert_eq!(kept(), None, "the worker's end drops its timers");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_kept_timer_fires_at_its_new_deadline_later_or_earlier() {
        let _keeping = keep_on_this_worker();
        // First kept at a near deadline, then moved later: it must not fire at the old one.
        within(in_ms(20), async {}).await.ok();
        let later = in_ms(120);
        assert!(
            bounded(within(later, std::future::pending::<()>()))
                .await
                .is_err()
        );
        assert!(Instant::now() >= later, "fired at the old deadline");
        // Then kept at a far deadline and moved earlier: it must fire at the new one.
        within(in_ms(60_000), async {}).await.ok();
        assert_eq!(kept(), Some(1));
        let earlier = in_ms(20);
        assert!(
            bounded(within(earlier, std::future::pending::<()>()))
                .await
                .is_err()
        );
        assert!(Instant::now() >= earlier);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_call_that_spends_its_budget_on_every_poll_still_times_out() {
        let busy = async {
            loop {
                tokio::task::consume_budget().await;
            }
        };
        assert!(bounded(within(in_ms(20), busy)).await.is_err());
    }
}
