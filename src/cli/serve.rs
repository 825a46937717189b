//! `rolodex serve`: the HTTP server on the store, the change-log pruning it runs beside, and
//! the process-wide settings a long-running server needs (allocator, shutdown signals).

use std::net::SocketAddr;

use super::database::{Database, DatabaseError, Mode};
use crate::app::{AppOptions, AppState, build_router};
use crate::config::Settings;
use crate::store::{ChangeHub, Store};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub(super) enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("server error: {0}")]
    Server(std::io::Error),
}

/// `rolodex serve`. The listen address is taken first: a busy port fails in a moment, before
/// PostgreSQL is started (or a first start's initdb and migrations are run).
pub(super) async fn run(settings: &Settings) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: settings.listen,
            source,
        })?;
    let database = Database::open(settings, Mode::Serve).await?;
    let outcome = serve(settings, &database.store, listener).await;
    database.close().await;
    outcome
}

async fn serve(
    settings: &Settings,
    store: &Store,
    listener: tokio::net::TcpListener,
) -> Result<(), ServeError> {
    // The one LISTEN connection of this process, feeding every subscription.
    let changes = ChangeHub::start(store.database_url());
    let state = AppState::new(
        store.clone(),
        AppOptions {
            limits: settings.limits.clone(),
            allowed_origins: settings.allowed_origins.clone(),
        },
        changes,
    );
    let router = build_router(state);
    if settings.limits.change_retention_days > 0 {
        tokio::spawn(prune_history_periodically(
            store.clone(),
            settings.limits.change_retention_days,
        ));
    }
    let address = listener.local_addr().map_err(ServeError::Server)?;
    tracing::info!(%address, "rolodex is listening");
    let (stopping, mut stop_requested) = tokio::sync::watch::channel(false);
    // TCP_NODELAY: an answer written in several pieces (the streamed listings, headers before
    // a body) goes out at once instead of waiting for the client's delayed ACK of the first
    // piece, which costs ~40 ms per request under Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in progress");
        let _ = stopping.send(true);
    });
    // Requests in progress get a grace period; a client that stops reading a long answer
    // must not keep the server (and a service manager waiting for it) from stopping.
    let deadline = async move {
        let _ = stop_requested.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result.map_err(ServeError::Server)?,
        () = deadline => tracing::warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "requests still running after the grace period were cut off"
        ),
    }
    tracing::info!("shut down");
    Ok(())
}

/// How long requests in progress may take to finish once a stop is asked for.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Keeps the change log (and tombstones) to the retention period: once at start, then hourly.
/// Several server processes on one database may all do it; the deletes are idempotent.
async fn prune_history_periodically(store: Store, retention_days: u32) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        let before = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
        match store.prune_history(before).await {
            Ok(pruned) if pruned.changes > 0 || pruned.tombstones > 0 => tracing::info!(
                changes = pruned.changes,
                tombstones = pruned.tombstones,
                retention_days,
                "pruned the change log"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "pruning the change log failed; retrying in an hour")
            }
        }
    }
}

/// Keeps glibc's allocator from holding on to memory a burst of requests used. By default it
/// raises its mmap threshold after the first large free, so later large buffers (an argon2
/// check's 19 MiB, a multi-MiB request body) come from per-thread heaps that are rarely given
/// back; with one heap per blocking thread, a few password checks on different threads
/// leave the process hundreds of MiB larger. A fixed threshold sends every allocation of
/// 1 MiB or more to mmap (returned on free), and few arenas bound the rest.
pub(super) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
