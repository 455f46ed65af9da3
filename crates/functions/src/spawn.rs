//! Starting a worker process the way Lambda starts a runtime: its own Runtime API listener, the
//! Lambda environment variables, a data limit, its output forwarded to the log, and a watcher
//! that notices when it exits.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pylon_model::FunctionSpec;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::InvokeError;
use crate::runtime_api;
use crate::worker::{Worker, kill_group};

/// Longest output line forwarded to the log; the rest of the line is dropped.
const MAX_LINE: usize = 8 * 1024;
/// How much of the last stderr line a crash report quotes.
const MAX_QUOTED: usize = 200;

static NEXT_WORKER: AtomicU64 = AtomicU64::new(1);

/// Starts a worker for `spec` running in `cwd`. `on_exit` runs once the process has exited and
/// any invocation it held has been failed.
/// The variables of Pylon's environment a worker inherits (and `LC_*`).
const INHERITED: [&str; 6] = ["PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR"];

pub(crate) fn spawn(
    spec: &FunctionSpec,
    cwd: &Path,
    on_exit: impl FnOnce(&Worker) + Send + 'static,
) -> Result<Arc<Worker>, InvokeError> {
    let Some(program) = spec.command.first() else {
        return Err(InvokeError::Spawn {
            reason: "the function has no command".into(),
        });
    };
    // Bound before the process starts, so the runtime's first request finds it listening.
    let (listener, port) = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(tokio::net::TcpListener::from_std)
        .and_then(|l| {
            let port = l.local_addr()?.port();
            Ok((l, port))
        })
        .map_err(|e| InvokeError::Spawn {
            reason: format!("cannot open a Runtime API listener: {e}"),
        })?;
    let worker = Arc::new(Worker::new(NEXT_WORKER.fetch_add(1, Ordering::Relaxed)));
    let server = tokio::spawn(runtime_api::serve(listener, worker.clone()));

    let mut command = Command::new(program);
    // Pylon's own environment may hold its admin token and secret key: a worker gets only
    // what a program needs to run, then what the function sets.
    command
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| {
            name.to_str()
                .is_some_and(|n| INHERITED.contains(&n) || n.starts_with("LC_"))
        }));
    command
        .args(&spec.command[1..])
        .arg(&spec.handler)
        .current_dir(cwd)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("_HANDLER", &spec.handler)
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        )
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        )
        .env("AWS_REGION", "pylon")
        .env("AWS_DEFAULT_REGION", "pylon")
        .env("LAMBDA_TASK_ROOT", cwd)
        .envs(&spec.environment)
        .envs(&spec.secrets)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own group, so a kill reaches whatever the runtime started too.
        .process_group(0);
    limit_data(&mut command, spec.memory_mb);

    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            server.abort();
            return Err(InvokeError::Spawn {
                reason: format!("cannot run `{program}` in {}: {e}", cwd.display()),
            });
        }
    };
    let pid = child.id().unwrap_or_default();
    let pgid = i32::try_from(pid).unwrap_or_default();
    worker.set_pid(pgid);
    tracing::debug!(function = %spec.name, pid, port, "worker started");

    let name: Arc<str> = Arc::from(spec.name.as_str());
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward(stdout, name.clone(), pid, "stdout", None));
    }
    let stderr = child.stderr.take().map(|stderr| {
        tokio::spawn(forward(
            stderr,
            name.clone(),
            pid,
            "stderr",
            Some(worker.clone()),
        ))
    });

    let watched = worker.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        // Whatever the runtime left running would keep its pipes open. A group id stays taken
        // while any member lives, and a freed one comes back only after the pid space wraps,
        // so this reaches the worker's leftovers and nobody else.
        kill_group(pgid);
        if let Some(stderr) = stderr {
            // Lets the last stderr line (often the reason) arrive before it is quoted.
            let _ = tokio::time::timeout(Duration::from_millis(100), stderr).await;
        }
        let mut status = match status {
            Ok(status) => describe(status),
            Err(e) => format!("unknown status ({e})"),
        };
        let last = watched.last_stderr();
        if !last.is_empty() {
            status.push_str("; last stderr line: ");
            status.push_str(clip(&last, MAX_QUOTED));
        }
        tracing::debug!(function = %name, pid, %status, "worker exited");
        watched.exited(status);
        server.abort();
        on_exit(&watched);
    });
    Ok(worker)
}

/// Caps the worker's data segment (heap and private mappings), as Lambda caps its memory.
fn limit_data(command: &mut Command, memory_mb: u32) {
    let bytes = libc::rlim_t::from(memory_mb) * 1024 * 1024;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are sound (another thread of ours may have held the allocator's or any other
    // lock at the fork). It makes one call, setrlimit, which glibc and musl implement as the
    // bare prlimit64/setrlimit system call: no lock, no allocation, no shared state besides
    // errno. `limit` is a Copy value moved into the closure, so nothing is allocated or
    // dropped there, and `io::Error::last_os_error()` only reads errno into an integer.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// `exit status 1`, `signal 9 (SIGKILL)`: std's wording without its colon.
fn describe(status: ExitStatus) -> String {
    status.to_string().replacen(": ", " ", 1)
}

fn clip(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Forwards each output line to the log (and remembers the last stderr line).
async fn forward(
    output: impl AsyncRead + Unpin,
    function: Arc<str>,
    pid: u32,
    stream: &'static str,
    remember: Option<Arc<Worker>>,
) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    while let Ok(true) = read_line(&mut reader, &mut line).await {
        let text = String::from_utf8_lossy(&line);
        // awslambdaric joins an error report's lines with \r, which would garble a terminal.
        let text = text.trim_end_matches(['\n', '\r']).replace('\r', " ");
        tracing::info!(function = %function, pid, stream, "{text}");
        if let Some(worker) = &remember {
            worker.set_last_stderr(&text);
        }
    }
}

/// Reads one line into `line`, keeping at most `MAX_LINE` bytes of it. False at the end.
async fn read_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> std::io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (used, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..used.min(room)]);
        reader.consume(used);
        if end {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_lines_are_cut_and_the_rest_skipped() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\nnext\n");
        let mut reader = BufReader::with_capacity(1024, &input[..]);
        let mut line = Vec::new();
        assert!(read_line(&mut reader, &mut line).await.unwrap());
        assert_eq!(line.len(), MAX_LINE);
        assert!(read_line(&mut reader, &mut line).await.unwrap());
        assert_eq!(line, b"next\n");
        assert!(!read_line(&mut reader, &mut line).await.unwrap());
    }

    #[test]
    fn clip_keeps_whole_characters() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("abc", 10), "abc");
    }
}
