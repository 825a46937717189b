//! Managed local PostgreSQL ("the embedded default"): with no DATABASE_URL, rolodex runs a
//! private cluster from the PostgreSQL server binaries installed on the machine. This module
//! owns all of it: discovering the binaries, initdb on first start, starting the postmaster on a
//! private Unix socket (no TCP), creating the `rolodex` database, stopping it cleanly, and
//! recovering when a crash left a postmaster or a stale pid file behind.
//!
//! Layout of the data dir:
//!
//! ```text
//! rolodex.lock   flock held by the owning rolodex for its whole lifetime
//! pgdata/        the cluster (superuser `rolodex`, application role `rolodex_app`, UTF8,
//!                C.UTF-8, data checksums)
//! run/           socket dir, mode 0700 (a private /tmp/rolodex-* dir if this path is too long)
//! postgres.log   initdb and server output, rotated to postgres.log.1 at start past 10 MiB
//! ```
//!
//! The `rolodex` database and the role that owns it are created over a tokio-postgres
//! connection to the `postgres` maintenance database once the server is up (no dependency on
//! psql or createdb), and the check runs on every start so a first start interrupted after
//! initdb heals itself, and a cluster of an older rolodex is upgraded in place (see `roles`).
//!
//! When started as root the cluster runs as the `postgres` system user (or `--pg-user`), which
//! then owns the data dir; see [`user`]. Every file root still opens in that directory is
//! opened without following links; see [`owned_fs`].

mod cluster;
mod discover;
mod log;
mod owned_fs;
mod process;
mod roles;
mod setup;
mod sys;
pub mod tools;
mod user;

use std::fmt::Write as _;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use discover::find_binaries;

/// The cluster's superuser, created by initdb, used only to set the cluster up (see `roles`).
/// Trust auth over the private socket, so no password.
const SUPERUSER: &str = "rolodex";
/// The application database.
const DATABASE: &str = "rolodex";
/// How long the server may take to accept connections. Normally it takes well under a second.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// While postgres reports that it is starting up (replaying WAL after a crash) we keep waiting
/// up to this long: giving up mid-recovery would stop it, and the next start would only hit the
/// same wall.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found. Install them (Debian/Ubuntu: \
         `apt-get install postgresql`), set ROLODEX_PG_BIN to the directory holding them, or set \
         DATABASE_URL to use an existing server."
    )]
    BinariesNotFound,

    #[error(
        "data directory {} is in use by another running rolodex{}; stop that one first or use \
         a different --data-dir",
        .data_dir.display(),
        .owner_pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    DataDirInUse {
        data_dir: PathBuf,
        owner_pid: Option<u32>,
    },

    /// The unprivileged user PostgreSQL must run as (we are root) cannot reach `target`
    /// because `path` is not searchable for it.
    #[error(
        "PostgreSQL refuses to run as root, so rolodex runs it as {user}, but {user} cannot \
         reach {}: {} is not searchable by that user. Use a data directory it can reach, e.g. \
         `--data-dir /var/lib/rolodex`, or run rolodex as an unprivileged user.",
        .target.display(),
        .path.display()
    )]
    Unreachable {
        path: PathBuf,
        target: PathBuf,
        user: String,
    },

    #[error(
        "the PostgreSQL cluster in {} was created by PostgreSQL {cluster}, but the server \
         binaries in {} are PostgreSQL {binaries}. Point ROLODEX_PG_BIN at PostgreSQL {cluster} \
         binaries, or upgrade the cluster (pg_upgrade, or pg_dump with the old binaries and \
         restore).",
        .pgdata.display(),
        .bindir.display()
    )]
    VersionMismatch {
        pgdata: PathBuf,
        cluster: String,
        binaries: String,
        bindir: PathBuf,
    },

    /// Running as root, and the user PostgreSQL would run as cannot be used.
    #[error(
        "rolodex runs as root and PostgreSQL refuses to, so the cluster must run as an \
         unprivileged user; user `{name}`{} {reason}. {}",
        if *.explicit { " (from --pg-user, ROLODEX_PG_USER or pg_user)" } else { "" },
        run_as_hint(*.explicit)
    )]
    RunAsUser {
        name: String,
        explicit: bool,
        reason: String,
    },

    #[error("{message}{}", tail_suffix(.log_tail))]
    StartFailed { message: String, log_tail: String },

    #[error("postmaster (pid {pid}) did not exit even after SIGKILL")]
    StopFailed { pid: u32 },

    /// Context, then the underlying error (kept in the message so a plain `{}` says it all).
    #[error("{0}: {1}")]
    Io(String, std::io::Error),

    #[error("{0}: {1}")]
    Db(String, tokio_postgres::Error),
}

fn run_as_hint(explicit: bool) -> &'static str {
    if explicit {
        "Name a dedicated system user that exists, or run rolodex as an unprivileged user."
    } else {
        "Install PostgreSQL's server package (it creates `postgres`), create a dedicated \
         system user (`useradd --system rolodex`) and pass `--pg-user rolodex` (or set \
         ROLODEX_PG_USER / pg_user), or run rolodex as an unprivileged user."
    }
}

fn tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("\n--- postgres.log (last lines) ---\n{tail}")
    }
}

/// How the managed cluster is run.
#[derive(Debug, Clone)]
pub struct ManagedOptions {
    /// Size at which `postgres.log` is rotated to `postgres.log.1`.
    pub log_max_bytes: u64,
    /// The system user the cluster runs as when rolodex is root (default `postgres`).
    pub pg_user: Option<String>,
}

impl Default for ManagedOptions {
    fn default() -> Self {
        ManagedOptions {
            log_max_bytes: crate::limits::Limits::default().postgres_log_bytes,
            pg_user: None,
        }
    }
}

/// A running private PostgreSQL. Dropping it stops the server (best effort, blocking); prefer
/// [`ManagedPostgres::stop`] from async code.
pub struct ManagedPostgres {
    data_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    /// The socket dir is a /tmp fallback we should remove after stopping.
    temp_socket_dir: bool,
    pid: u32,
    /// Our postmaster child; `None` once stopped. Shared so an async stop can hand it to a
    /// blocking task without ever losing it if that task does not run.
    postmaster: Arc<Mutex<Option<Child>>>,
    /// Held until this value is dropped, i.e. until after the postmaster has been stopped.
    _lock: File,
}

impl std::fmt::Debug for ManagedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedPostgres")
            .field("data_dir", &self.data_dir)
            .field("socket_dir", &self.socket_dir)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl ManagedPostgres {
    /// Finds binaries, initdb if needed, recovers stale state, starts, waits ready, ensures
    /// database `rolodex` exists.
    ///
    /// Runs a few short blocking filesystem calls inline; it is called once, at startup.
    pub async fn start(
        data_dir: &Path,
        bin_dir_override: Option<&Path>,
    ) -> Result<ManagedPostgres, PgError> {
        Self::start_with(data_dir, bin_dir_override, &ManagedOptions::default()).await
    }

    /// [`ManagedPostgres::start`] with explicit options.
    pub async fn start_with(
        data_dir: &Path,
        bin_dir_override: Option<&Path>,
        options: &ManagedOptions,
    ) -> Result<ManagedPostgres, PgError> {
        let bindir = find_binaries(bin_dir_override)?;
        let binaries_major = discover::server_major_version(&bindir).await?;
        let run_as = user::RunAs::detect(options.pg_user.as_deref())?;
        let layout = cluster::Layout::prepare(data_dir)?;
        let lock = cluster::lock_data_dir(&layout)?;
        // Check before running any PostgreSQL binary, so the error names the real culprit
        // instead of initdb failing with a bare "permission denied".
        run_as.check_reachable(&layout.data_dir, false)?;
        run_as.check_reachable(&bindir, true).map_err(|e| match e {
            PgError::Unreachable { path, user, .. } => PgError::StartFailed {
                message: format!(
                    "PostgreSQL must run as {user} (it refuses to run as root), but {user} \
                         cannot reach the server binaries in {}: {} is not searchable by that \
                         user. Install them somewhere it can reach or set ROLODEX_PG_BIN.",
                    bindir.display(),
                    path.display()
                ),
                log_tail: String::new(),
            },
            other => other,
        })?;
        run_as.chown_dir(&layout.data_dir)?;
        let (log, log_offset) = cluster::open_log(&layout)?;

        if layout.pgdata.exists() {
            // We hold the lock, so any live postmaster on this cluster is an orphan.
            let pgdata = real_path(&layout.pgdata);
            tokio::task::spawn_blocking(move || process::recover_stale_postmaster(&pgdata))
                .await
                .map_err(|e| PgError::Io("recovering stale postmaster".into(), e.into()))??;
        }
        let created =
            cluster::ensure_cluster(&bindir, &binaries_major, &layout, &run_as, &log, log_offset)
                .await?;
        run_as.chown_tree_if_needed(&layout.pgdata)?;
        let (socket_dir, temp_socket_dir) = cluster::socket_dir(&layout, &run_as)?;

        let child = process::spawn_postmaster(
            &bindir,
            &layout.pgdata,
            &socket_dir,
            &layout.data_dir,
            &process::PostmasterLog {
                file: &log,
                path: &layout.log_file,
                max_bytes: options.log_max_bytes,
            },
            &run_as,
        )?;
        let pg = ManagedPostgres {
            data_dir: layout.data_dir.clone(),
            pgdata: real_path(&layout.pgdata),
            socket_dir,
            temp_socket_dir,
            pid: child.id(),
            postmaster: Arc::new(Mutex::new(Some(child))),
            _lock: lock,
        };
        tracing::debug!(pid = pg.pid, created, run_as = %run_as.describe(), "postmaster started");
        match pg.finish_start(&layout.log_file, log_offset).await {
            Ok(()) => {
                tracing::info!(
                    pid = pg.pid,
                    data_dir = %pg.data_dir.display(),
                    "managed PostgreSQL {binaries_major} ready"
                );
                Ok(pg)
            }
            Err(e) => {
                if let Err(stop_err) = pg.stop().await {
                    tracing::error!(error = %stop_err, "stopping postgres after failed start");
                }
                Err(e)
            }
        }
    }

    /// postgres URL usable by tokio-postgres/diesel-async, connecting over the Unix socket as
    /// the application role, which owns the database and nothing else (see `roles`).
    pub fn database_url(&self) -> String {
        socket_url(&self.socket_dir, roles::APP_ROLE)
    }

    /// The same as the cluster's superuser: for administration that needs more than owning the
    /// database (creating other databases, e.g. in tests). The server never uses it.
    pub fn superuser_url(&self) -> String {
        socket_url(&self.socket_dir, SUPERUSER)
    }

    pub fn postmaster_pid(&self) -> u32 {
        self.pid
    }

    /// Fast shutdown (SIGINT), escalating to SIGQUIT and SIGKILL if it hangs; waits for exit.
    pub async fn stop(self) -> Result<(), PgError> {
        let slot = Arc::clone(&self.postmaster);
        let pgdata = self.pgdata.clone();
        let stopped = tokio::task::spawn_blocking(move || stop_slot(&slot, &pgdata))
            .await
            .map_err(|e| PgError::Io("waiting for postgres to stop".into(), e.into()))?;
        if stopped {
            self.remove_temp_socket_dir();
            Ok(())
        } else {
            Err(PgError::StopFailed { pid: self.pid })
        }
        // `self` drops here: Drop finds the slot empty, then the data dir lock is released.
    }

    /// Blocking stop, for Drop and atexit-style handlers. Idempotent.
    pub fn stop_blocking(&self) {
        if stop_slot(&self.postmaster, &self.pgdata) {
            self.remove_temp_socket_dir();
        } else {
            tracing::error!(pid = self.pid, "postmaster did not exit even after SIGKILL");
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        lock_slot(&self.postmaster)
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    fn remove_temp_socket_dir(&self) {
        if self.temp_socket_dir {
            // Only succeeds once postgres has removed its socket and lock files.
            let _ = std::fs::remove_dir(&self.socket_dir);
        }
    }
}

impl Drop for ManagedPostgres {
    fn drop(&mut self) {
        if lock_slot(&self.postmaster).is_some() {
            tracing::debug!(
                pid = self.pid,
                "ManagedPostgres dropped while running; stopping postgres"
            );
            self.stop_blocking();
        }
    }
}

/// Takes the child out of the slot and stops it. True if it is gone (or was already).
fn stop_slot(slot: &Mutex<Option<Child>>, pgdata: &Path) -> bool {
    let Some(mut child) = lock_slot(slot).take() else {
        return true;
    };
    let stopped = process::shutdown_child(&mut child, pgdata);
    if !stopped {
        // Keep it so a later attempt (e.g. Drop) can try again.
        *lock_slot(slot) = Some(child);
    }
    stopped
}

/// A panic while holding this lock cannot leave the Option inconsistent, so poisoning is ignored.
fn lock_slot(slot: &Mutex<Option<Child>>) -> MutexGuard<'_, Option<Child>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Symlinks resolved, as the kernel reports a process's cwd; falls back to the path as given.
fn real_path(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Whether `data_dir` holds a managed cluster (made by a first `rolodex serve` there); an
/// error when that cannot be told (a directory of another user, mode 0700).
pub fn has_cluster(data_dir: &Path) -> std::io::Result<bool> {
    match std::fs::metadata(data_dir.join("pgdata").join("PG_VERSION")) {
        Ok(meta) => Ok(meta.is_file()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The URL of the cluster another rolodex process is running on `data_dir` right now (e.g.
/// `rolodex serve`), so administrative commands can work beside it instead of failing with
/// [`PgError::DataDirInUse`]. Read from the socket directory line of `postmaster.pid`; `None`
/// when no such socket exists.
pub fn running_cluster_url(data_dir: &Path) -> Option<String> {
    let pid_file =
        owned_fs::read_small(&data_dir.join("pgdata").join("postmaster.pid"), 4096).ok()?;
    // postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, ...
    let socket_dir = PathBuf::from(pid_file.lines().nth(4)?.trim());
    socket_dir
        .join(".s.PGSQL.5432")
        .exists()
        .then(|| socket_url(&socket_dir, roles::APP_ROLE))
}

/// `postgresql://<user>@/rolodex?host=<percent-encoded socket dir>`.
///
/// The authority's host is deliberately empty: tokio-postgres adds every `host` it sees to a
/// list it tries in order, so `@localhost/...?host=` would try TCP localhost:5432 (possibly some
/// other server) before our socket.
fn socket_url(socket_dir: &Path, user: &str) -> String {
    let mut host = String::new();
    for &b in socket_dir.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            host.push(char::from(b));
        } else {
            let _ = write!(host, "%{b:02X}");
        }
    }
    format!("postgresql://{user}@/{DATABASE}?host={host}")
}
