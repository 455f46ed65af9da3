//! One hosted function: its pool of workers (idle ones reused last-in first-out, new ones
//! started up to the concurrency limit) and the invocation that borrows one of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use pylon_model::ServedFunction;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::InvokeError;
use crate::runtime_api::MAX_PAYLOAD;
use crate::spawn::spawn;
use crate::worker::{Handoff, Outcome, Worker, lock};

/// A function's answer to one invocation.
#[derive(Debug)]
pub struct Invoked {
    pub body: Bytes,
    /// A worker was started for this invocation.
    pub cold_start: bool,
    pub took: Duration,
}

pub struct HostedFunction {
    served: ServedFunction,
    arn: Arc<str>,
    cwd: PathBuf,
    pool: Arc<Mutex<Pool>>,
    /// An idle worker is stopped after this long unused.
    idle_timeout: Duration,
}

#[derive(Default)]
struct Pool {
    /// Last in, first out: the warmest worker serves next and the others can be left to age;
    /// each with when it became idle.
    idle: Vec<(Arc<Worker>, Instant)>,
    /// Idle and busy workers.
    live: HashMap<u64, Arc<Worker>>,
    starting: usize,
    retired: bool,
    shut_down: bool,
    /// A task stops workers idle for longer than the timeout while any live.
    reaping: bool,
}

impl Pool {
    fn remove(&mut self, id: u64) {
        self.live.remove(&id);
        self.idle.retain(|(w, _)| w.id() != id);
    }
}

impl HostedFunction {
    pub(crate) fn new(served: ServedFunction, default_dir: &Path, idle_timeout: Duration) -> Self {
        let arn = format!(
            "arn:aws:lambda:pylon:000000000000:function:{}",
            served.spec.name
        );
        // `join` keeps an absolute working_dir as it is. Absolute, because LAMBDA_TASK_ROOT
        // is read from inside that directory.
        let cwd = match &served.spec.working_dir {
            Some(dir) => default_dir.join(dir),
            None => default_dir.to_path_buf(),
        };
        let cwd = std::path::absolute(&cwd).unwrap_or(cwd);
        Self {
            served,
            arn: Arc::from(arn),
            cwd,
            pool: Arc::default(),
            idle_timeout,
        }
    }

    pub fn name(&self) -> &str {
        &self.served.spec.name
    }

    /// `arn:aws:lambda:pylon:000000000000:function:<name>`
    pub fn arn(&self) -> &str {
        &self.arn
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.served.spec.timeout_ms)
    }

    /// Live workers, idle and busy.
    pub fn workers(&self) -> usize {
        lock(&self.pool).live.len()
    }

    pub(crate) fn served(&self) -> &ServedFunction {
        &self.served
    }

    /// Runs one invocation on an idle worker, or on a new one while fewer than
    /// `max_concurrency` run; past that it fails at once with `Throttled`. The worker is given
    /// the earlier of now + `timeout()` and `deadline`; a cold start's init counts within it.
    ///
    /// Cancel-safe: dropping the future kills the worker if it had taken the event (its answer
    /// would be lost), and otherwise returns it to the idle ones.
    pub async fn invoke(
        &self,
        event: Bytes,
        request_id: &str,
        deadline: Instant,
    ) -> Result<Invoked, InvokeError> {
        let started = Instant::now();
        let deadline = deadline.min(started + self.timeout());
        let (worker, cold_start) = self.acquire()?;
        let mut lease = Lease {
            pool: &self.pool,
            worker: Some(worker.clone()),
        };
        let (done, outcome) = oneshot::channel();
        let handoff = Handoff {
            request_id: request_id_for(request_id),
            event,
            deadline_ms: epoch_ms(deadline),
            arn: self.arn.clone(),
            trace_id: trace_id(),
            done,
        };
        if worker.hand(handoff).is_err() {
            lease.discard();
            return Err(InvokeError::Crashed {
                status: "the worker exited before it was given the event".into(),
            });
        }
        let outcome = match tokio::time::timeout_at(deadline, outcome).await {
            Ok(Ok(outcome)) => outcome,
            // The worker dropped the invocation without an outcome: only its end does that.
            Ok(Err(_)) => Outcome::Exited {
                status: "the worker went away".into(),
            },
            Err(_) => {
                lease.discard();
                return Err(InvokeError::Timeout {
                    after: deadline.saturating_duration_since(started),
                });
            }
        };
        let body = match outcome {
            Outcome::Response(body) => {
                lease.release();
                body
            }
            Outcome::Error {
                error_type,
                message,
            } => {
                lease.release();
                return Err(InvokeError::Function {
                    error_type,
                    message,
                });
            }
            Outcome::Skipped => {
                lease.release();
                return Err(InvokeError::Function {
                    error_type: "Runtime.NoResponse".into(),
                    message: "the runtime asked for its next event without answering this one"
                        .into(),
                });
            }
            Outcome::TooLarge => {
                lease.discard();
                return Err(InvokeError::Function {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    message: format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."
                    ),
                });
            }
            Outcome::InitError {
                error_type,
                message,
            } => {
                lease.discard();
                return Err(InvokeError::Init {
                    error_type,
                    message,
                });
            }
            Outcome::Exited { status } => {
                return Err(if lease.discard() {
                    InvokeError::Retired
                } else {
                    InvokeError::Crashed { status }
                });
            }
        };
        Ok(Invoked {
            body,
            cold_start,
            took: started.elapsed(),
        })
    }

    /// An idle worker, or a new one (true) if the limit allows.
    fn acquire(&self) -> Result<(Arc<Worker>, bool), InvokeError> {
        {
            let mut pool = lock(&self.pool);
            if pool.retired {
                return Err(InvokeError::Retired);
            }
            while let Some((worker, _)) = pool.idle.pop() {
                if worker.usable() {
                    return Ok((worker, false));
                }
            }
            let limit = self.served.spec.max_concurrency;
            if pool.live.len() + pool.starting >= limit as usize {
                return Err(InvokeError::Throttled { limit });
            }
            // Counted while it starts, outside the lock, so concurrent calls see the slot taken.
            pool.starting += 1;
        }
        let pool = self.pool.clone();
        let spawned = spawn(&self.served.spec, &self.cwd, move |worker| {
            lock(&pool).remove(worker.id());
        });
        let mut pool = lock(&self.pool);
        pool.starting -= 1;
        let worker = spawned?;
        if pool.retired {
            worker.kill();
            return Err(InvokeError::Retired);
        }
        // Holding the pool lock, which the exit callback needs, so a worker that is usable
        // here is removed by that callback later; one that is not was never listed.
        if worker.usable() {
            pool.live.insert(worker.id(), worker.clone());
        }
        if !pool.reaping {
            pool.reaping = true;
            tokio::spawn(reap_idle(Arc::downgrade(&self.pool), self.idle_timeout));
        }
        Ok((worker, true))
    }

    /// Stops handing out workers and kills the idle ones (and with `kill_busy` the busy ones;
    /// otherwise they are killed when their invocation ends).
    pub(crate) fn retire(&self, kill_busy: bool) {
        let doomed: Vec<Arc<Worker>> = {
            let mut pool = lock(&self.pool);
            pool.retired = true;
            pool.shut_down |= kill_busy;
            let idle: Vec<Arc<Worker>> = std::mem::take(&mut pool.idle)
                .into_iter()
                .map(|(w, _)| w)
                .collect();
            for worker in &idle {
                pool.live.remove(&worker.id());
            }
            if kill_busy {
                idle.into_iter()
                    .chain(pool.live.values().cloned())
                    .collect()
            } else {
                idle
            }
        };
        for worker in doomed {
            worker.kill();
        }
    }
}

impl Drop for HostedFunction {
    fn drop(&mut self) {
        self.retire(false);
    }
}

/// Stops the workers left idle for `timeout` (a burst's extra workers, or all of them when
/// the calls stop), checking a few times per timeout, until no worker is live or the function
/// is gone.
async fn reap_idle(pool: std::sync::Weak<Mutex<Pool>>, timeout: Duration) {
    let period = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(60));
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let (doomed, done) = {
            let mut pool = lock(&pool);
            // The oldest idle come first (last in, first out).
            let stale = pool
                .idle
                .iter()
                .take_while(|(_, since)| since.elapsed() >= timeout)
                .count();
            let doomed: Vec<Arc<Worker>> = pool.idle.drain(..stale).map(|(w, _)| w).collect();
            for worker in &doomed {
                pool.live.remove(&worker.id());
            }
            let done = pool.retired || (pool.live.is_empty() && pool.starting == 0);
            if done {
                pool.reaping = false;
            }
            (doomed, done)
        };
        for worker in doomed {
            tracing::debug!(worker = worker.id(), "idle worker stopped");
            worker.kill();
        }
        if done {
            return;
        }
    }
}

/// A worker borrowed by one invocation; dropping it unreturned is the cancellation path.
struct Lease<'a> {
    pool: &'a Mutex<Pool>,
    worker: Option<Arc<Worker>>,
}

impl Lease<'_> {
    /// Back to the idle workers, unless it is dead or its function retired.
    fn release(&mut self) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        let mut pool = lock(self.pool);
        if !pool.retired && worker.usable() {
            pool.idle.push((worker, Instant::now()));
        } else {
            pool.remove(worker.id());
            drop(pool);
            worker.kill();
        }
    }

    /// Kills and forgets the worker. True if the host is shutting down.
    fn discard(&mut self) -> bool {
        let Some(worker) = self.worker.take() else {
            return false;
        };
        worker.kill();
        let mut pool = lock(self.pool);
        pool.remove(worker.id());
        pool.shut_down
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(worker) = &self.worker else {
            return;
        };
        if worker.retract() {
            self.release();
        } else {
            self.discard();
        }
    }
}

/// The caller's request id when it is safe in a header and a URL path, else a fresh one.
fn request_id_for(given: &str) -> String {
    let safe = !given.is_empty()
        && given.len() <= 128
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if safe {
        given.to_owned()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

fn epoch_ms(deadline: Instant) -> u64 {
    let at = SystemTime::now() + deadline.saturating_duration_since(Instant::now());
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// An X-Ray trace header as Lambda passes one: `Root=1-<epoch hex>-<96 random bits>;...`.
fn trace_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let root = uuid::Uuid::new_v4().as_u128() & ((1 << 96) - 1);
    let parent = uuid::Uuid::new_v4().as_u128() as u64;
    format!(
        "Root=1-{:08x}-{root:024x};Parent={parent:016x};Sampled=0",
        now as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_that_could_break_a_path_or_header_are_replaced() {
        assert_eq!(request_id_for("abc-123_x.y"), "abc-123_x.y");
        for bad in ["", "a/b", "a\r\nb", "ä", &"x".repeat(129)] {
            let id = request_id_for(bad);
            assert_ne!(id, bad);
            assert_eq!(id.len(), 36);
        }
    }

    #[test]
    fn trace_ids_look_like_lambdas() {
        let id = trace_id();
        let parts: Vec<&str> = id.split(';').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[0].starts_with("Root=1-") && parts[0].len() == "Root=1-".len() + 8 + 1 + 24);
        assert!(parts[1].starts_with("Parent=") && parts[1].len() == "Parent=".len() + 16);
        assert_eq!(parts[2], "Sampled=0");
    }

    #[test]
    fn deadlines_are_epoch_milliseconds() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let ms = epoch_ms(Instant::now() + Duration::from_secs(3));
        assert!((now + 2_900..=now + 3_100).contains(&ms), "{ms} vs {now}");
    }
}
