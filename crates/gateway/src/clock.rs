//! The clock as the request path reads it: once per poll of a connection's task, not once
//! per stamp.
//!
//! A proxied request is stamped seven times (its start, its backend call's deadline, start
//! and answer, its end, the connection's activity twice) over two polls of its connection's
//! task, and one read of the system clock costs about 23 ns on the bench's machine, a few
//! percent of a request. Like nginx's time cache, refreshed once per turn of its event loop,
//! a stamp taken here may lag by the CPU time the current poll has spent so far, never by time
//! the task spent waiting: a task that waits returns `Pending`, and its next poll reads the
//! clock afresh. The request's end reads it afresh too ([`fresh`]), so that a request answered
//! within one poll still shows how long it took.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

thread_local! {
    static NOW: Cell<Cached> = const { Cell::new(Cached::Outside) };
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cached {
    /// No task polled by [`per_poll`] is running on this thread: every read is fresh.
    Outside,
    /// Such a task is being polled and has not read the clock yet.
    Unread,
    Read(Instant),
}

/// The current time: this poll's reading inside [`per_poll`], a fresh one anywhere else.
pub(crate) fn now() -> Instant {
    NOW.with(|cached| match cached.get() {
        Cached::Read(at) => at,
        Cached::Outside => Instant::now(),
        Cached::Unread => {
            let at = Instant::now();
            cached.set(Cached::Read(at));
            at
        }
    })
}

/// A fresh reading, which the rest of this poll reads too: for a stamp whose difference from
/// an earlier one in the same poll matters, such as a request's end, when it is answered
/// without waiting for anything.
pub(crate) fn fresh() -> Instant {
    let at = Instant::now();
    NOW.with(|cached| {
        if cached.get() != Cached::Outside {
            cached.set(Cached::Read(at));
        }
    });
    at
}

pin_project! {
    /// A future that reads the clock at most once per poll.
    pub(crate) struct PerPoll<F> {
        #[pin]
        future: F,
    }
}

/// Runs `future` reading the clock at most once per poll.
pub(crate) fn per_poll<F: Future>(future: F) -> PerPoll<F> {
    PerPoll { future }
}

impl<F: Future> Future for PerPoll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _poll = ThisPoll::begin();
        self.project().future.poll(cx)
    }
}

/// One poll: it starts unread and puts back what was there before, even on a panic, so no
/// reading outlives the poll that took it.
struct ThisPoll(Cached);

impl ThisPoll {
    fn begin() -> Self {
        ThisPoll(NOW.with(|cached| cached.replace(Cached::Unread)))
    }
}

impl Drop for ThisPoll {
    fn drop(&mut self) {
        NOW.with(|cached| cached.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pause() {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[test]
    fn outside_a_poll_every_read_is_fresh() {
        let first = now();
        pause();
        assert!(now() > first);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_poll_reads_the_clock_once_and_the_next_poll_afresh() {
        per_poll(async {
            let first = now();
            pause();
            assert_eq!(
                now(),
                first,
                "a second read in the same poll is the first one"
            );
            let fresh = fresh();
            assert!(fresh > first, "a fresh reading is fresh");
            assert_eq!(now(), fresh, "and the rest of the poll reads it");
            tokio::task::yield_now().await;
            assert!(now() > fresh, "a new poll reads the clock again");
        })
        .await;
        assert_eq!(
            NOW.with(Cell::get),
            Cached::Outside,
            "nothing is left behind"
        );
        let outside = now();
        pause();
        assert!(now() > outside);
    }

    #[test]
    fn a_poll_that_panics_leaves_the_clock_fresh() {
        let caught = std::panic::catch_unwind(|| {
            let _poll = ThisPoll::begin();
            let _ = now();
            panic!("in the poll");
        });
        assert!(caught.is_err());
        assert_eq!(NOW.with(Cell::get), Cached::Outside);
    }
}
