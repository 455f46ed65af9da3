//! Where access-log lines go: a queue drained by one OS thread that writes through a buffer.
//! The request path only formats its line and queues it: it never takes a lock shared with
//! other requests, nor waits on a write. A full queue drops the line and counts it. A gateway
//! worker queues its lines in batches (`gather.rs`); any other thread queues each line at once.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines queued at most between the request path and the writer (about 20 MB of lines).
pub const QUEUE_LINES: usize = 65_536;

/// Bytes the writer buffers before a write; it also writes whenever it finds the queue empty.
const WRITE_BUFFER: usize = 64 * 1024;

/// While lines come, the writer's pause between two drains of the queue: the longest a line
/// waits before it is written, under load. A worker's batch waits at most as long.
pub(super) const POLL: Duration = Duration::from_millis(2);

/// Without a line for this long, the writer stops polling and waits on the queue.
const PARK_AFTER: Duration = Duration::from_millis(100);

/// How long [`AccessLogSink::close`] waits for the writer.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How often at most the writer warns of dropped lines or failed writes.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// Where the gateway's access log goes: one JSON line per request, written by a dedicated
/// thread. Cloning shares the writer; [`AccessLogSink::off`] writes nothing.
#[derive(Clone, Default)]
pub struct AccessLogSink {
    inner: Option<Arc<Shared>>,
}

pub(super) struct Shared {
    batches: Sender<Batch>,
    /// Lines queued and not yet taken by the writer; at most `capacity`.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    /// Lines refused because the queue was full, since the writer last said so.
    dropped: Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
    name: String,
}

impl std::fmt::Debug for AccessLogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(s) => write!(f, "AccessLogSink({})", s.name),
            None => f.write_str("AccessLogSink(off)"),
        }
    }
}

/// The sink that writes nothing, for contexts that have none (tests).
#[cfg(test)]
pub(crate) static OFF: AccessLogSink = AccessLogSink { inner: None };

impl AccessLogSink {
    /// No access log.
    pub fn off() -> AccessLogSink {
        AccessLogSink { inner: None }
    }

    /// Lines to standard output.
    pub fn stdout() -> io::Result<AccessLogSink> {
        Self::start("stdout".into(), Box::new(io::stdout()), QUEUE_LINES)
    }

    /// Lines appended to `path`, created if missing (mode 0640 on Unix).
    pub fn file(path: &Path) -> io::Result<AccessLogSink> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
        let file: File = options.open(path)?;
        Self::start(path.display().to_string(), Box::new(file), QUEUE_LINES)
    }

    /// A writer thread draining a queue of `capacity` lines into `out`.
    pub(super) fn start(
        name: String,
        out: Box<dyn Write + Send>,
        capacity: usize,
    ) -> io::Result<AccessLogSink> {
        let (batches, queue) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            queue,
            queued: Arc::clone(&queued),
            out: BufWriter::with_capacity(WRITE_BUFFER, out),
            dropped: Arc::clone(&dropped),
            name: name.clone(),
            failed: 0,
            last_error: None,
            last_warning: None,
        };
        let handle = std::thread::Builder::new()
            .name("pylon-access-log".into())
            .spawn(move || writer.run())?;
        Ok(AccessLogSink {
            inner: Some(Arc::new(Shared {
                batches,
                queued,
                capacity,
                dropped,
                writer: Mutex::new(Some(handle)),
                name,
            })),
        })
    }

    /// Lines queued and not yet taken by the writer, and lines dropped since it last said so.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, u64) {
        self.inner.as_ref().map_or((0, 0), |s| {
            (
                s.queued.load(Ordering::Relaxed),
                s.dropped.load(Ordering::Relaxed),
            )
        })
    }

    /// Whether lines are written at all: observers skip their work when not.
    pub(crate) fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues one line on its own: `write` appends it, without its newline, to a buffer of
    /// its own. A worker gathers its lines instead (`gather::line`).
    pub(super) fn queue_line(&self, write: impl FnOnce(&mut Vec<u8>)) {
        if let Some(shared) = &self.inner {
            let mut batch = Batch::default();
            batch.push(write);
            shared.queue(batch);
        }
    }

    /// The queue and its writer; `None` when the access log is off.
    pub(super) fn shared(&self) -> Option<&Arc<Shared>> {
        self.inner.as_ref()
    }

    /// Writes out what is queued and stops the writer (at shutdown), waiting for it at most
    /// [`CLOSE_WAIT`]: a destination that blocks (a pipe nobody reads) does not hold the
    /// process up. Lines sent afterwards are dropped.
    pub fn close(&self) {
        let Some(shared) = &self.inner else {
            return;
        };
        let deadline = Instant::now() + CLOSE_WAIT;
        // The empty batch tells the writer to stop once everything before it is written.
        let _ = shared.batches.send(Batch::default());
        let mut writer = shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        while writer.as_ref().is_some_and(|h| !h.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if writer.as_ref().is_some_and(|h| h.is_finished())
            && let Some(handle) = writer.take()
        {
            let _ = handle.join();
        }
    }
}

impl Shared {
    /// Queues `batch`, or drops and counts its lines when they would take the queue past its
    /// capacity or the writer has stopped.
    pub(super) fn queue(&self, batch: Batch) {
        let n = batch.lines;
        if n == 0 {
            return;
        }
        let fits = self.queued.fetch_add(n, Ordering::Relaxed) + n <= self.capacity;
        if !fits || self.batches.send(batch).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Whole lines, each ending in a newline; none tells the writer to stop.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) bytes: Vec<u8>,
    pub(super) lines: usize,
}

impl Batch {
    pub(super) fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
        self.bytes.push(b'\n');
        self.lines += 1;
    }
}

/// The writer thread's state.
struct Writer {
    queue: Receiver<Batch>,
    queued: Arc<AtomicUsize>,
    out: BufWriter<Box<dyn Write + Send>>,
    dropped: Arc<AtomicU64>,
    name: String,
    /// Lines lost to failed writes since the last warning, and the last error.
    failed: u64,
    last_error: Option<io::Error>,
    last_warning: Option<Instant>,
}

impl Writer {
    /// Drains the queue, writing out whenever it is empty. While lines keep coming the writer
    /// sleeps [`POLL`] between drains instead of waiting on the queue: a sender then never has
    /// to wake it (a futex call and a context switch per line), and each write carries a batch.
    /// After [`PARK_AFTER`] without a line it waits on the queue, so an idle gateway costs
    /// nothing; the first line after the pause pays for the wake-up.
    fn run(mut self) {
        let mut last_line = Instant::now();
        loop {
            let mut written = 0usize;
            let mut unwarned = 0usize;
            loop {
                match self.queue.try_recv() {
                    Ok(batch) if batch.lines == 0 => return self.stop(),
                    Ok(batch) => {
                        self.write(&batch);
                        written += batch.lines;
                        unwarned += batch.lines;
                        if unwarned >= 4096 {
                            // A queue that never empties still gets its drops reported.
                            self.warn();
                            unwarned = 0;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.stop(),
                }
            }
            if written > 0 {
                self.flush();
                last_line = Instant::now();
            }
            self.warn();
            if last_line.elapsed() < PARK_AFTER {
                std::thread::sleep(POLL);
                continue;
            }
            // Wakes up every so often to report drops even when no line comes.
            match self.queue.recv_timeout(WARN_EVERY) {
                Ok(batch) if batch.lines == 0 => return self.stop(),
                Ok(batch) => {
                    // Flushed at once: the lines after it may be long in coming (a quiet
                    // gateway's only line stayed in the buffer until the next one).
                    self.write(&batch);
                    self.flush();
                    last_line = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return self.stop(),
            }
        }
    }

    fn stop(&mut self) {
        self.flush();
        self.warn();
    }

    fn write(&mut self, batch: &Batch) {
        // Out of the queue: room for as many lines.
        self.queued.fetch_sub(batch.lines, Ordering::Relaxed);
        if let Err(e) = self.out.write_all(&batch.bytes) {
            self.failed += batch.lines as u64;
            self.last_error = Some(e);
        }
    }

    fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.last_error = Some(e);
        }
    }

    /// Says how many lines were dropped or failed, at most once per [`WARN_EVERY`].
    fn warn(&mut self) {
        if self.dropped.load(Ordering::Relaxed) == 0 && self.last_error.is_none() {
            return;
        }
        if self.last_warning.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        self.last_warning = Some(Instant::now());
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                destination = %self.name,
                "access log: lines dropped, the writer fell behind"
            );
        }
        if let Some(error) = self.last_error.take() {
            tracing::warn!(
                failed = self.failed,
                destination = %self.name,
                %error,
                "access log: cannot write"
            );
            self.failed = 0;
        }
    }
}

#[cfg(test)]
pub(super) mod testing {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// A `Write` that collects into shared memory, optionally blocking until released.
    #[derive(Clone, Default)]
    pub(crate) struct Collect {
        pub(crate) bytes: Arc<Mutex<Vec<u8>>>,
        pub(crate) gate: Arc<Mutex<()>>,
    }

    impl Write for Collect {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    pub(crate) fn written(out: &Collect) -> String {
        String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap()
    }

    /// Waits up to two seconds for `out` to hold `lines` lines.
    pub(crate) fn wait_for_lines(out: &Collect, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        while written(out).lines().count() < lines && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        written(out)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Collect;
    use super::*;

    #[test]
    fn lines_arrive_in_order_and_close_writes_them_out() {
        let out = Collect::default();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 16).unwrap();
        for i in 0..10 {
            sink.queue_line(|out| out.extend_from_slice(format!("{{\"n\":{i}}}").as_bytes()));
        }
        sink.close();
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let numbers: Vec<&str> = text.lines().collect();
        assert_eq!(numbers.len(), 10, "{text}");
        assert_eq!(numbers[9], "{\"n\":9}");
        // After close, nothing is queued and nothing blocks.
        sink.queue_line(|out| out.extend_from_slice(b"late"));
        sink.close();
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let out = Collect::default();
        let gate = out.gate.lock().unwrap();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 4).unwrap();
        // The writer takes this line and, the queue being empty, blocks writing it out.
        sink.queue_line(|out| out.push(b'x'));
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        for _ in 0..1000 {
            sink.queue_line(|out| out.push(b'x'));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "sending never waits"
        );
        let dropped = sink.inner.as_ref().unwrap().dropped.load(Ordering::Relaxed);
        assert_eq!(dropped, 1000 - 4);
        drop(gate);
        sink.close();
        assert_eq!(out.bytes.lock().unwrap().len(), 2 * 5);
    }

    /// A `Write` whose bytes count as out only once flushed.
    #[derive(Clone, Default)]
    struct Flushed {
        pending: Arc<Mutex<Vec<u8>>>,
        out: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Flushed {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.pending.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            let mut pending = self.pending.lock().unwrap();
            self.out.lock().unwrap().append(&mut pending);
            Ok(())
        }
    }

    #[test]
    fn a_line_after_a_quiet_spell_is_flushed_at_once() {
        let out = Flushed::default();
        let sink = AccessLogSink::start("test".into(), Box::new(out.clone()), 16).unwrap();
        // Long enough for the writer to park on the queue.
        std::thread::sleep(PARK_AFTER * 3);
        sink.queue_line(|out| out.extend_from_slice(b"alone"));
        let deadline = Instant::now() + Duration::from_secs(2);
        while out.out.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(out.out.lock().unwrap().as_slice(), b"alone\n");
        sink.close();
    }

    #[test]
    fn off_writes_nothing() {
        let sink = AccessLogSink::off();
        assert!(!sink.is_on());
        sink.queue_line(|_| panic!("an access log that is off formats no line"));
        sink.close();
        assert_eq!(format!("{sink:?}"), "AccessLogSink(off)");
    }
}
