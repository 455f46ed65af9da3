//! `pylon serve`: opens the store, compiles what is published, and runs the gateway and admin
//! listeners until Ctrl-C or SIGTERM, then drains both.

use std::sync::Arc;

use anyhow::Context;
use pylon_admin::{AdminConfig, OnChange};
use pylon_gateway::{Gateway, GatewayConfig};
use pylon_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{self, ServeArgs};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PYLON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let settings = args.resolve()?;
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
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

    let gateway = Gateway::new(GatewayConfig {
        base_domain: settings.base_domain.clone(),
    });
    let snapshot = store
        .load_snapshot()
        .await
        .context("cannot load the published state")?;
    gateway
        .apply(&snapshot)
        .context("the published state does not compile")?;

    let on_change: OnChange = {
        let gateway = Arc::clone(&gateway);
        Arc::new(move |snapshot| gateway.apply(snapshot).map_err(|e| e.to_string()))
    };
    let admin = pylon_admin::router_with_gateway(
        store,
        AdminConfig {
            token,
            base_domain: settings.base_domain.clone(),
        },
        on_change,
        Arc::clone(&gateway),
    );

    let gateway_listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let admin_listener = TcpListener::bind(settings.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.admin_listen))?;

    // Printed on stdout in a fixed form: scripts and the end-to-end tests read the bound ports.
    println!(
        "pylon gateway listening on {}",
        gateway_listener.local_addr()?
    );
    println!("pylon admin listening on {}", admin_listener.local_addr()?);
    match token_file {
        Some(path) => println!("pylon admin token in {}", path.display()),
        None => println!("pylon admin token given by configuration"),
    }
    println!("pylon data directory {}", settings.data_dir.display());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let gateway_task = tokio::spawn(gateway.serve(gateway_listener, stopped(stop_rx.clone())));
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin)
            .with_graceful_shutdown(stopped(stop_rx))
            .await
    });

    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    let (gateway_result, admin_result) = tokio::join!(gateway_task, admin_task);
    gateway_result
        .context("gateway task failed")?
        .context("gateway listener failed")?;
    admin_result
        .context("admin task failed")?
        .context("admin listener failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
