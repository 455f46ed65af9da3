//! One worker: the hand-off of an invocation between its caller and the worker's Runtime API,
//! and the worker's end (killed, or its process exited).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{Notify, oneshot};

/// How an invocation handed to a worker ended, as the Runtime API or the process watcher saw it.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(Bytes),
    Error {
        error_type: String,
        message: String,
    },
    /// The response was over the payload limit; the worker has been killed.
    TooLarge,
    /// The worker posted `/init/error`; it has been killed.
    InitError {
        error_type: String,
        message: String,
    },
    Exited {
        status: String,
    },
    /// The worker asked for its next invocation without answering this one.
    Skipped,
}

/// An invocation waiting for the worker's `GET /invocation/next`.
pub(crate) struct Handoff {
    pub request_id: String,
    pub event: Bytes,
    pub deadline_ms: u64,
    pub arn: Arc<str>,
    pub trace_id: String,
    pub done: oneshot::Sender<Outcome>,
}

/// What `GET /invocation/next` answers with.
pub(crate) struct Next {
    pub request_id: String,
    pub event: Bytes,
    pub deadline_ms: u64,
    pub arn: Arc<str>,
    pub trace_id: String,
}

/// An invocation the worker has taken and not yet answered.
struct Running {
    request_id: String,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Slot {
    waiting: Option<Handoff>,
    running: Option<Running>,
    killed: bool,
    exited: bool,
}

pub(crate) struct Worker {
    id: u64,
    /// The process (and process group) id; 0 until the process is started.
    pid: AtomicI32,
    slot: Mutex<Slot>,
    next_ready: Notify,
    last_stderr: Mutex<String>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent, so a panic elsewhere does not make
    // the data unusable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Worker {
    pub(crate) fn new(id: u64) -> Self {
        Self {
            id,
            pid: AtomicI32::new(0),
            slot: Mutex::default(),
            next_ready: Notify::new(),
            last_stderr: Mutex::default(),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::Release);
    }

    /// Neither killed nor exited: it may be given an invocation.
    pub(crate) fn usable(&self) -> bool {
        let slot = lock(&self.slot);
        !slot.killed && !slot.exited
    }

    /// Offers an invocation to the worker's next `GET /invocation/next`; gives it back if the
    /// worker is gone.
    pub(crate) fn hand(&self, handoff: Handoff) -> Result<(), Handoff> {
        {
            let mut slot = lock(&self.slot);
            if slot.killed || slot.exited {
                return Err(handoff);
            }
            slot.waiting = Some(handoff);
        }
        self.next_ready.notify_one();
        Ok(())
    }

    /// Takes back an invocation the worker has not started. True when the worker holds no
    /// invocation any more, so it can serve another.
    pub(crate) fn retract(&self) -> bool {
        let mut slot = lock(&self.slot);
        slot.waiting = None;
        slot.running.is_none()
    }

    /// Waits for an invocation to hand out, then marks it running.
    pub(crate) async fn next(&self) -> Next {
        loop {
            let ready = self.next_ready.notified();
            if let Some(next) = self.take_next() {
                return next;
            }
            ready.await;
        }
    }

    fn take_next(&self) -> Option<Next> {
        let mut slot = lock(&self.slot);
        if let Some(skipped) = slot.running.take() {
            let _ = skipped.done.send(Outcome::Skipped);
        }
        let handoff = slot.waiting.take()?;
        slot.running = Some(Running {
            request_id: handoff.request_id.clone(),
            done: handoff.done,
        });
        Some(Next {
            request_id: handoff.request_id,
            event: handoff.event,
            deadline_ms: handoff.deadline_ms,
            arn: handoff.arn,
            trace_id: handoff.trace_id,
        })
    }

    pub(crate) fn is_running(&self, request_id: &str) -> bool {
        lock(&self.slot)
            .running
            .as_ref()
            .is_some_and(|r| r.request_id == request_id)
    }

    /// Ends the running invocation if it has that request id.
    pub(crate) fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        let mut slot = lock(&self.slot);
        match slot.running.take_if(|r| r.request_id == request_id) {
            Some(running) => {
                let _ = running.done.send(outcome);
                true
            }
            None => false,
        }
    }

    /// Ends whatever invocation the worker holds, taken or not (an init error or an exit
    /// leaves no worker to run it).
    fn fail_current(slot: &mut Slot, outcome: Outcome) {
        let done = match (slot.waiting.take(), slot.running.take()) {
            (_, Some(running)) => running.done,
            (Some(waiting), None) => waiting.done,
            (None, None) => return,
        };
        let _ = done.send(outcome);
    }

    pub(crate) fn init_failed(&self, error_type: String, message: String) {
        Self::fail_current(
            &mut lock(&self.slot),
            Outcome::InitError {
                error_type,
                message,
            },
        );
        self.kill();
    }

    /// Called once the process has been reaped.
    pub(crate) fn exited(&self, status: String) {
        let mut slot = lock(&self.slot);
        slot.exited = true;
        Self::fail_current(&mut slot, Outcome::Exited { status });
    }

    /// SIGKILL to the worker's process group (the runtime and anything it started).
    pub(crate) fn kill(&self) {
        let mut slot = lock(&self.slot);
        // Once reaped, the id may name someone else's process group.
        if slot.exited {
            return;
        }
        slot.killed = true;
        kill_group(self.pid.load(Ordering::Acquire));
    }

    pub(crate) fn set_last_stderr(&self, line: &str) {
        let mut last = lock(&self.last_stderr);
        last.clear();
        last.push_str(line);
    }

    pub(crate) fn last_stderr(&self) -> String {
        lock(&self.last_stderr).clone()
    }
}

/// SIGKILL to process group `pgid`. Ignores ids that do not name a child's group: `kill(-0)`
/// would be our own group and `kill(-1)` every process we may signal.
pub(crate) fn kill_group(pgid: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff(id: &str) -> (Handoff, oneshot::Receiver<Outcome>) {
        let (done, outcome) = oneshot::channel();
        let handoff = Handoff {
            request_id: id.into(),
            event: Bytes::from_static(b"{}"),
            deadline_ms: 1,
            arn: Arc::from("arn"),
            trace_id: "Root=1-0-0".into(),
            done,
        };
        (handoff, outcome)
    }

    #[tokio::test]
    async fn retract_frees_a_worker_that_had_not_taken_the_event() {
        let worker = Worker::new(1);
        let (h, _outcome) = handoff("a");
        assert!(worker.hand(h).is_ok());
        assert!(worker.retract());
        let (h, _outcome) = handoff("b");
        assert!(worker.hand(h).is_ok());
        assert_eq!(worker.next().await.request_id, "b");
        assert!(!worker.retract(), "a taken event cannot be taken back");
    }

    #[tokio::test]
    async fn next_without_an_answer_ends_the_running_invocation() {
        let worker = Worker::new(1);
        let (h, outcome) = handoff("a");
        assert!(worker.hand(h).is_ok());
        worker.next().await;
        assert!(worker.take_next().is_none());
        assert!(matches!(outcome.await, Ok(Outcome::Skipped)));
    }

    #[test]
    fn a_dead_worker_takes_no_event() {
        let worker = Worker::new(1);
        worker.exited("exit status 0".into());
        assert!(!worker.usable());
        assert!(worker.hand(handoff("a").0).is_err());
    }

    #[tokio::test]
    async fn exit_fails_the_running_invocation() {
        let worker = Worker::new(1);
        let (h, outcome) = handoff("a");
        assert!(worker.hand(h).is_ok());
        worker.next().await;
        worker.exited("signal 9 (SIGKILL)".into());
        assert!(
            matches!(outcome.await, Ok(Outcome::Exited { status }) if status == "signal 9 (SIGKILL)")
        );
    }
}
