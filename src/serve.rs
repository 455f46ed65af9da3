//! `pylon serve`: locks the data directory, opens the store, compiles what is published, and
//! runs the gateway and admin listeners until Ctrl-C or SIGTERM, then drains both. SIGHUP
//! re-reads the config file and applies what can change while serving.

use std::sync::Arc;

use anyhow::Context;
use pylon_admin::{AdminConfig, OnChange};
use pylon_gateway::{AccessLogSink, FunctionHost, Gateway, GatewayConfig, HostConfig};
use pylon_model::Change;
use pylon_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::{self, AccessLogTo, ServeArgs, Settings};
use crate::lock;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Before anything is printed: a signal sent as soon as a script sees the addresses must
    // find its handler, not the default action, which ends the process.
    let signals = Signals::register();
    let open_files = raise_open_file_limit();
    if let Some(seconds) = args.clock_offset {
        pylon_gateway::set_clock_offset(seconds.saturating_mul(1000));
    }
    let settings = args.resolve(open_files)?;
    let log = Log::init(settings.log.as_deref());
    tracing::debug!(open_files, "open-file limit");
    if let Some(seconds) = args.clock_offset {
        tracing::warn!(
            seconds,
            "throttling and quota clock shifted (--clock-offset)"
        );
    }

    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let _lock = lock::DataDirLock::acquire(&settings.data_dir)?;
    let (token, token_file) = config::admin_token(&settings)?;
    let (secret_key, secret_key_file) =
        config::secret_key(&settings, std::env::var(config::SECRET_KEY_ENV).ok())?;
    match &secret_key_file {
        Some(path) => tracing::info!("app secrets encrypted with the key in {}", path.display()),
        None => tracing::info!(
            "app secrets encrypted with the key in {}",
            config::SECRET_KEY_ENV
        ),
    }

    let db = settings.data_dir.join("pylon.db");
    let store = Store::open_sqlite(&db, secret_key)
        .await
        .with_context(|| format!("cannot open the store {}", db.display()))?;

    let access_log = access_log(&settings.access_log)?;
    // Hosted functions' workers run in a directory of their own unless they name one: not in
    // the data directory itself, beside the admin token and the secret key.
    let functions = if args.allow_hosted_functions {
        let dir = settings.data_dir.join("functions");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        tracing::info!("hosted functions are allowed (--allow-hosted-functions)");
        Some(FunctionHost::new(HostConfig {
            default_dir: dir,
            idle_timeout: pylon_gateway::DEFAULT_IDLE_TIMEOUT,
        }))
    } else {
        None
    };
    let gateway = Gateway::new(GatewayConfig {
        base_domain: settings.base_domain.clone(),
        limits: settings.limits.clone(),
        tracing: settings.tracing.clone(),
        access_log: access_log.clone(),
        functions: functions.clone(),
    });
    let (revision, snapshot) = store
        .load_snapshot_at()
        .await
        .context("cannot load the published state")?;
    gateway
        .apply(&snapshot)
        .context("the published state does not compile")?;
    gateway.set_revision(revision.served);
    drop(snapshot);
    release_freed_memory();

    let on_change: OnChange = {
        let gateway = Arc::clone(&gateway);
        Arc::new(move |change, revision| {
            let applied = gateway.apply_change(change).map_err(|e| e.to_string());
            if applied.is_ok() {
                gateway.set_revision(revision);
            }
            if matches!(change, Change::Full(_)) {
                release_freed_memory();
            }
            applied
        })
    };
    let status_store = store.clone();
    let admin = pylon_admin::router_with_gateway(
        store,
        AdminConfig {
            token,
            base_domain: settings.base_domain.clone(),
            hosted_functions: functions.is_some(),
            console_session_ttl: args
                .console_session_ttl
                .unwrap_or(pylon_admin::DEFAULT_SESSION_TTL),
        },
        on_change,
        Arc::clone(&gateway),
    );

    let gateway_listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let tls_listener = match settings.tls_listen {
        None => None,
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for HTTPS (--tls-listen)"))?,
        ),
    };
    let admin_listener = TcpListener::bind(settings.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.admin_listen))?;
    let status_listener = TcpListener::bind(settings.status_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for /healthz, /readyz and /metrics (choose another with --status-listen)",
                settings.status_listen
            )
        })?;

    // Printed on stdout in a fixed form: scripts and the end-to-end tests read the bound ports.
    println!(
        "pylon gateway listening on {}",
        gateway_listener.local_addr()?
    );
    if let Some(tls) = &tls_listener {
        println!("pylon gateway listening for HTTPS on {}", tls.local_addr()?);
    }
    println!("pylon admin listening on {}", admin_listener.local_addr()?);
    println!(
        "pylon status listening on {}",
        status_listener.local_addr()?
    );
    match token_file {
        Some(path) => println!("pylon admin token in {}", path.display()),
        None => println!("pylon admin token given by configuration"),
    }
    println!("pylon data directory {}", settings.data_dir.display());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let gateway_task = tokio::spawn(Arc::clone(&gateway).serve_with_tls(
        gateway_listener,
        tls_listener,
        stopped(stop_rx.clone()),
    ));
    let status = crate::status::router(status_store, Arc::clone(&gateway));
    let status_stop = stopped(stop_rx.clone());
    let status_task = tokio::spawn(async move {
        axum::serve(status_listener, status)
            .with_graceful_shutdown(status_stop)
            .await
    });
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin)
            .with_graceful_shutdown(stopped(stop_rx))
            .await
    });

    let Signals { terminate, hangup } = signals;
    tokio::spawn(reload_on_hangup(
        hangup,
        args,
        settings,
        open_files,
        log,
        Arc::clone(&gateway),
    ));
    shutdown_signal(terminate).await;
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    let (gateway_result, admin_result, status_result) =
        tokio::join!(gateway_task, admin_task, status_task);
    gateway_result
        .context("gateway task failed")?
        .context("gateway listener failed")?;
    admin_result
        .context("admin task failed")?
        .context("admin listener failed")?;
    status_result
        .context("status task failed")?
        .context("status listener failed")?;
    // No request needs a worker any more.
    if let Some(functions) = &functions {
        functions.shutdown();
    }
    // The requests are done: what their lines still wait in goes out before the process ends.
    access_log.close();
    tracing::info!("stopped");
    Ok(())
}

/// The access log's writer for `to`; a file that cannot be opened stops the start.
fn access_log(to: &AccessLogTo) -> anyhow::Result<AccessLogSink> {
    let sink = match to {
        AccessLogTo::Off => AccessLogSink::off(),
        AccessLogTo::Stdout => {
            AccessLogSink::stdout().context("cannot start the access log writer")?
        }
        AccessLogTo::File(path) => AccessLogSink::file(path)
            .with_context(|| format!("cannot open the access log {}", path.display()))?,
    };
    tracing::debug!(access_log = ?sink, "access log");
    Ok(sink)
}

/// The signals `serve` handles, registered at start.
struct Signals {
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

#[cfg(unix)]
type Signal = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Signal = ();

impl Signals {
    fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {
            terminate: None,
            hangup: None,
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal(terminate: Option<Signal>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async move {
        #[cfg(unix)]
        if let Some(mut s) = terminate {
            s.recv().await;
            return;
        }
        let _ = terminate;
        std::future::pending::<()>().await
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The log filter, replaceable while serving. `PYLON_LOG` wins over the config file's `log`.
struct Log {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

impl Log {
    fn init(from_file: Option<&str>) -> Log {
        let env = std::env::var("PYLON_LOG").ok();
        let filter = env
            .as_deref()
            .or(from_file)
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new("info"));
        let (filter, handle) = reload::Layer::new(filter);
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let installed = tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .try_init()
            .is_ok();
        Log {
            // With PYLON_LOG set the file's filter never applies, so there is nothing to reload.
            handle: (installed && env.is_none()).then_some(handle),
        }
    }

    fn reload(&self, from_file: Option<&str>) {
        let Some(handle) = &self.handle else {
            return;
        };
        let text = from_file.unwrap_or("info");
        match EnvFilter::try_new(text) {
            Ok(filter) => match handle.reload(filter) {
                Ok(()) => tracing::info!(filter = text, "log filter applied"),
                Err(e) => tracing::warn!(error = %e, "cannot replace the log filter"),
            },
            Err(e) => {
                tracing::error!(filter = text, error = %e, "invalid log filter; kept the old one")
            }
        }
    }
}

/// SIGHUP: re-reads the config file, applies the limits and the log filter, and says what
/// needs a restart. A file that does not parse changes nothing.
async fn reload_on_hangup(
    hangup: Option<Signal>,
    args: ServeArgs,
    mut current: Settings,
    open_files: u64,
    log: Log,
    gateway: Arc<Gateway>,
) {
    #[cfg(unix)]
    {
        let Some(mut hangups) = hangup else {
            tracing::warn!("cannot listen for SIGHUP; the config file is read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            let Some(path) = &args.config else {
                tracing::info!("SIGHUP: no config file (--config) to re-read; nothing changed");
                continue;
            };
            let next = match args.resolve(open_files) {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(
                        "SIGHUP: {e:#}; kept the running configuration of {}",
                        path.display()
                    );
                    continue;
                }
            };
            let restart = current.needs_restart(&next);
            if !restart.is_empty() {
                tracing::warn!(
                    keys = restart.join(", "),
                    "SIGHUP: these settings changed but apply only after a restart"
                );
            }
            if next.limits != current.limits {
                gateway.set_limits(next.limits.clone());
                tracing::info!(limits = ?next.limits, "SIGHUP: listener limits applied to new connections");
            }
            if next.log != current.log {
                log.reload(next.log.as_deref());
            }
            tracing::info!("SIGHUP: reloaded {}", path.display());
            current = next;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (hangup, args, current, open_files, log, gateway);
    }
}

/// Hands the heap a whole-snapshot load freed back to the OS. glibc keeps freed memory in its
/// arenas, so the peak of decoding and compiling thousands of APIs at once would otherwise stay
/// resident for the life of the process (measured with 10,000 APIs: 41 MB resident after a start instead of 61 MB).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Raises the soft open-file limit to the hard one (each client connection is a descriptor,
/// often with a backend one beside it; the inherited soft limit is often 1024) and returns
/// the limit in force.
fn raise_open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return 1024;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        limit.rlim_cur
    }
    #[cfg(not(unix))]
    {
        8192
    }
}
