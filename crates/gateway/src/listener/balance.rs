//! Which worker takes the next connection.
//!
//! Every worker accepts from the same socket, and the first one awake wins. Under a burst of
//! new connections (a client pool opening 64 at once) one worker took most of them and then
//! ran twice the CPU of the other while that one idled: 313 against 166 clock ticks over 5 s of
//! wrk on 2 CPUs, in two runs of three. So a worker accepts only while it holds at most
//! `SLACK` connections more than the least loaded one. A worker that steps back waits for the
//! counts to change, not for a timer. This is nginx's `accept_mutex` heuristic
//! (`ngx_accept_disabled`) made exact, as Envoy's connection balancer is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// How many connections more than the least loaded worker's a worker may hold and still
/// accept. One keeps a burst alternating between workers without each accept waiting for
/// another worker to wake.
const SLACK: usize = 1;

#[derive(Debug)]
pub(crate) struct Balance {
    /// Open connections, by worker index.
    loads: Box<[AtomicUsize]>,
    /// Which workers are accepting: one that failed to start or has stopped must not hold
    /// the others back with its empty count.
    seated: Box<[AtomicBool]>,
    changed: Notify,
}

impl Balance {
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            loads: (0..workers.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            seated: (0..workers.max(1))
                .map(|_| AtomicBool::new(false))
                .collect(),
            changed: Notify::new(),
        }
    }

    /// Whether worker `index` should accept now.
    pub(crate) fn may_accept(&self, index: usize) -> bool {
        let load = |l: &AtomicUsize| l.load(Ordering::Acquire);
        let least = self
            .loads
            .iter()
            .zip(&self.seated)
            .filter(|(_, seated)| seated.load(Ordering::Acquire))
            .map(|(l, _)| load(l))
            .min()
            .unwrap_or(0);
        self.loads
            .get(index)
            .is_none_or(|mine| load(mine) <= least + SLACK)
    }

    /// Worker `index` accepts from now until the returned guard drops (its loop ended,
    /// returned an error or panicked).
    pub(crate) fn seat(self: &Arc<Self>, index: usize) -> Seat {
        self.set_seated(index, true);
        Seat {
            balance: self.clone(),
            index,
        }
    }

    fn set_seated(&self, index: usize, seated: bool) {
        if let Some(flag) = self.seated.get(index) {
            flag.store(seated, Ordering::Release);
        }
        self.changed.notify_waiters();
    }

    /// Resolves when a worker's count changes. Call `enable` on it before `may_accept`, so a
    /// change in between is not missed.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Counts a connection worker `index` accepted, until the returned guard drops.
    pub(crate) fn take(self: &Arc<Self>, index: usize) -> Load {
        if let Some(load) = self.loads.get(index) {
            load.fetch_add(1, Ordering::AcqRel);
        }
        self.changed.notify_waiters();
        Load {
            balance: self.clone(),
            index,
        }
    }
}

/// A worker's place among those accepting.
#[derive(Debug)]
pub(crate) struct Seat {
    balance: Arc<Balance>,
    index: usize,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.balance.set_seated(self.index, false);
    }
}

/// One accepted connection's place in its worker's count.
#[derive(Debug)]
pub(crate) struct Load {
    balance: Arc<Balance>,
    index: usize,
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(load) = self.balance.loads.get(self.index) {
            load.fetch_sub(1, Ordering::AcqRel);
        }
        self.balance.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_worker_steps_back_once_it_holds_more_than_the_slack_over_the_least_loaded() {
        let balance = Arc::new(Balance::new(2));
        let _seats = (balance.seat(0), balance.seat(1));
        assert!(balance.may_accept(0) && balance.may_accept(1));
        let first = balance.take(0);
        assert!(
            balance.may_accept(0),
            "one over the least is within the slack"
        );
        let second = balance.take(0);
        assert!(!balance.may_accept(0));
        assert!(balance.may_accept(1));
        let other = balance.take(1);
        assert!(balance.may_accept(0), "the least loaded worker caught up");
        drop((first, second));
        assert!(balance.may_accept(0) && balance.may_accept(1));
        drop(other);
        // A single worker, or an index past the workers, always accepts.
        let alone = Arc::new(Balance::new(1));
        let _seat = alone.seat(0);
        let _held: Vec<_> = (0..5).map(|_| alone.take(0)).collect();
        assert!(alone.may_accept(0) && alone.may_accept(7));
    }

    #[test]
    fn a_worker_that_is_not_accepting_holds_no_one_back() {
        let balance = Arc::new(Balance::new(2));
        let _first = balance.seat(0);
        // Worker 1 never started: worker 0 takes every connection.
        let held: Vec<_> = (0..5).map(|_| balance.take(0)).collect();
        assert!(balance.may_accept(0));
        // Worker 1 runs, then stops (or dies): worker 0 goes on alone.
        let second = balance.seat(1);
        assert!(!balance.may_accept(0) && balance.may_accept(1));
        drop(second);
        assert!(balance.may_accept(0));
        drop(held);
    }

    #[tokio::test]
    async fn a_worker_waiting_for_its_turn_wakes_when_a_connection_closes() {
        let balance = Arc::new(Balance::new(2));
        let _seats = (balance.seat(0), balance.seat(1));
        let held: Vec<_> = (0..3).map(|_| balance.take(0)).collect();
        assert!(!balance.may_accept(0));
        let changed = balance.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let closer = {
            let balance = balance.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(held);
                balance.may_accept(0)
            })
        };
        tokio::time::timeout(Duration::from_secs(5), changed)
            .await
            .expect("the waiting worker was woken");
        assert!(closer.await.unwrap());
    }
}
