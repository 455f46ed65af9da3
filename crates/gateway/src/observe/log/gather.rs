//! A gateway worker's access-log lines, gathered into batches: each line is written straight
//! into the worker's batch, which goes to the writer whole once it holds [`BATCH_BYTES`], once
//! its first line has waited the writer's poll interval, whenever the worker has nothing else
//! to do ([`hand_over_this_thread`], before it parks), and when the worker ends. One line a
//! queue item cost an allocation on the worker, its free on the writer's thread (glibc then
//! takes the worker's arena lock) and a channel operation on each side.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use super::sink::{AccessLogSink, Batch, POLL, Shared};
use crate::clock;

/// Bytes of lines a worker gathers before it hands them over.
const BATCH_BYTES: usize = 16 * 1024;

thread_local! {
    /// A worker's lines not handed over yet; `None` on threads that queue each line at once.
    static GATHERED: RefCell<Option<Gathered>> = const { RefCell::new(None) };
}

/// Writes one access-log line: `write` appends it, without its newline, to the buffer it is
/// given (this worker's batch, or on any other thread a buffer of its own), and it is queued
/// without waiting: dropped and counted when the writer is that far behind.
pub(crate) fn line(sink: &AccessLogSink, write: impl FnOnce(&mut Vec<u8>)) {
    let Some(shared) = sink.shared() else {
        return;
    };
    let mut write = Some(write);
    // (A thread that is ending has nothing to gather in.)
    let _ = GATHERED.try_with(|gathered| {
        if let Some(gathered) = gathered.borrow_mut().as_mut()
            && let Some(write) = write.take()
        {
            gathered.push(shared, write);
        }
    });
    if let Some(write) = write {
        sink.queue_line(write);
    }
}

/// A worker's batch, for one sink (tests run several on a thread).
struct Gathered {
    sink: Option<Arc<Shared>>,
    batch: Batch,
    /// When the batch's first line was written.
    since: Instant,
}

impl Gathered {
    fn push(&mut self, sink: &Arc<Shared>, write: impl FnOnce(&mut Vec<u8>)) {
        if !self.sink.as_ref().is_some_and(|s| Arc::ptr_eq(s, sink)) {
            self.hand_over();
            self.sink = Some(Arc::clone(sink));
        }
        let now = clock::now();
        if self.batch.lines == 0 {
            self.since = now;
            self.batch.bytes.reserve(BATCH_BYTES + BATCH_BYTES / 4);
        }
        self.batch.push(write);
        if self.batch.bytes.len() >= BATCH_BYTES || now.duration_since(self.since) >= POLL {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if let Some(sink) = &self.sink
            && self.batch.lines > 0
        {
            sink.queue(std::mem::take(&mut self.batch));
        }
    }
}

/// Gathers this thread's lines into batches until the returned guard is dropped, which hands
/// over what is left. Called by a gateway worker, whose runtime calls
/// [`hand_over_this_thread`] each time it is about to park.
pub(crate) fn gather_on_this_worker() -> Gathering {
    GATHERED.with(|gathered| {
        *gathered.borrow_mut() = Some(Gathered {
            sink: None,
            batch: Batch::default(),
            since: Instant::now(),
        })
    });
    Gathering(())
}

/// Hands this thread's gathered lines to the writer.
pub(crate) fn hand_over_this_thread() {
    let _ = GATHERED.try_with(|gathered| {
        if let Some(gathered) = gathered.borrow_mut().as_mut() {
            gathered.hand_over();
        }
    });
}

/// This thread gathers its lines while it lives.
pub(crate) struct Gathering(());

impl Drop for Gathering {
    fn drop(&mut self) {
        hand_over_this_thread();
        let _ = GATHERED.try_with(|gathered| gathered.borrow_mut().take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::observe::log::sink::testing::{Collect, wait_for_lines, written};

    #[test]
    fn a_worker_hands_its_lines_over_together() {
        let out = Collect::default();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 16).unwrap();
        let gathering = gather_on_this_worker();
        for i in 0..3 {
            line(&sink, |o| o.extend_from_slice(format!("{i}").as_bytes()));
        }
        std::thread::sleep(POLL * 5);
        assert_eq!(written(&out), "", "gathered, not yet handed over");
        assert_eq!(sink.counts().0, 0, "nothing queued");

        hand_over_this_thread();
        assert_eq!(wait_for_lines(&out, 3), "0\n1\n2\n");

        line(&sink, |o| o.extend_from_slice(b"last"));
        drop(gathering);
        assert_eq!(
            wait_for_lines(&out, 4),
            "0\n1\n2\nlast\n",
            "handed over at the end"
        );
        line(&sink, |o| o.extend_from_slice(b"after"));
        assert_eq!(wait_for_lines(&out, 5), "0\n1\n2\nlast\nafter\n", "at once");
        sink.close();
    }

    #[test]
    fn a_full_batch_or_an_old_line_goes_without_waiting_for_a_park() {
        let out = Collect::default();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 1024).unwrap();
        let _gathering = gather_on_this_worker();
        let long = "x".repeat(1000);
        let lines = BATCH_BYTES / (long.len() + 1) + 1;
        for _ in 0..lines {
            line(&sink, |o| o.extend_from_slice(long.as_bytes()));
        }
        assert_eq!(
            wait_for_lines(&out, lines).lines().count(),
            lines,
            "a full batch"
        );

        line(&sink, |o| o.extend_from_slice(b"first"));
        std::thread::sleep(POLL * 2);
        line(&sink, |o| o.extend_from_slice(b"second"));
        let text = wait_for_lines(&out, lines + 2);
        assert!(
            text.ends_with("first\nsecond\n"),
            "the first line had waited: {text}"
        );
        sink.close();
    }

    #[test]
    fn a_worker_keeps_each_sinks_lines_apart() {
        let (one, two) = (Collect::default(), Collect::default());
        let a = AccessLogSink::start("a".into(), Box::new(one.clone()), 16).unwrap();
        let b = AccessLogSink::start("b".into(), Box::new(two.clone()), 16).unwrap();
        let _gathering = gather_on_this_worker();
        line(&a, |o| o.push(b'a'));
        line(&b, |o| o.push(b'b'));
        line(&a, |o| o.push(b'a'));
        hand_over_this_thread();
        assert_eq!(wait_for_lines(&one, 2), "a\na\n");
        assert_eq!(wait_for_lines(&two, 1), "b\n");
        a.close();
        b.close();
    }

    #[test]
    fn a_batch_that_does_not_fit_is_dropped_and_its_lines_counted() {
        let out = Collect::default();
        let gate = out.gate.lock().unwrap();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 4).unwrap();
        // The writer takes this line and blocks writing it out.
        line(&sink, |o| o.push(b'x'));
        std::thread::sleep(Duration::from_millis(200));
        let gathering = gather_on_this_worker();
        for _ in 0..3 {
            line(&sink, |o| o.push(b'y'));
        }
        hand_over_this_thread();
        for _ in 0..2 {
            line(&sink, |o| o.push(b'z'));
        }
        drop(gathering);
        assert_eq!(sink.counts().1, 2, "3 fit, 3 + 2 do not");
        drop(gate);
        sink.close();
        assert_eq!(written(&out), "x\ny\ny\ny\n");
    }
}
