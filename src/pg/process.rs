//! The postmaster as an OS process: spawning it (own process group, Unix socket only), stopping
//! it with the usual escalation (SIGINT fast shutdown -> SIGQUIT immediate -> SIGKILL), and
//! finding postgres processes of our cluster that a crashed rolodex left behind (via /proc).
//!
//! Everything here blocks (sleep-polling); async callers run it under `spawn_blocking`.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::PgError;
use super::sys;
use super::user::RunAs;

/// The socket file name is `.s.PGSQL.<port>`; with no TCP listener the port only names the file.
pub(crate) const PORT: u16 = 5432;

/// How long each stop stage may take before escalating. Fast shutdown normally takes well under
/// a second on a small server; the generous first stage covers a checkpoint on a busy one.
const STAGES: [(libc::c_int, &str, Duration); 3] = [
    (
        libc::SIGINT,
        "SIGINT (fast shutdown)",
        Duration::from_secs(30),
    ),
    (
        libc::SIGQUIT,
        "SIGQUIT (immediate shutdown)",
        Duration::from_secs(10),
    ),
    (libc::SIGKILL, "SIGKILL", Duration::from_secs(5)),
];
const POLL: Duration = Duration::from_millis(50);

/// Where the postmaster's output goes: stdout to the open log file, stderr through a pipe
/// into the same file, rotated at `max_bytes` (see `log`).
pub(crate) struct PostmasterLog<'a> {
    pub file: &'a File,
    pub path: &'a Path,
    pub max_bytes: u64,
}

/// What the postmaster is started with. Settings on the command line override postgresql.conf,
/// so these are exactly the ones rolodex must control: no TCP at all, socket private to the
/// owner. Memory settings are PostgreSQL's defaults, stated explicitly for a small server.
/// Autovacuum looks for work every second instead of every minute (see below).
pub(crate) fn spawn_postmaster(
    bindir: &Path,
    pgdata: &Path,
    socket_dir: &Path,
    data_dir: &Path,
    log: &PostmasterLog<'_>,
    run_as: &RunAs,
) -> Result<Child, PgError> {
    let io_err = |what: &str, e: io::Error| PgError::Io(what.to_owned(), e);
    let mut cmd = Command::new(bindir.join("postgres"));
    cmd.arg("-D")
        .arg(pgdata)
        .arg("-p")
        .arg(PORT.to_string())
        .arg("-k")
        .arg(socket_dir)
        .args(["-c", "listen_addresses="])
        .args(["-c", "unix_socket_permissions=0700"])
        .args(["-c", "shared_buffers=128MB"])
        .args(["-c", "max_connections=100"])
        // Fresh statistics matter more than usual here: until a table has been analyzed, the
        // planner cannot tell the (book, href) unique index from the (book, sort name) one and
        // may scan a whole book for every PUT. With the default 1 min, a new address book being
        // filled by a phone's first sync would run that way for its first minute.
        .args(["-c", "autovacuum_naptime=1s"]);
    for setting in super::log::QUIET_SETTINGS {
        cmd.args(["-c", setting]);
    }
    cmd.stdin(Stdio::null())
        .stdout(
            log.file
                .try_clone()
                .map_err(|e| io_err("duplicating log fd", e))?,
        )
        // Through our pipe, so the log is rotated while the server runs (see `log`).
        .stderr(Stdio::piped())
        .current_dir(data_dir)
        // Own process group: a terminal Ctrl-C goes to rolodex only, which then stops postgres
        // in order instead of postgres dying underneath live connections.
        .process_group(0);
    run_as.apply(&mut cmd, data_dir);
    let mut child = cmd
        .spawn()
        .map_err(|e| PgError::Io(format!("starting {}", bindir.join("postgres").display()), e))?;
    if let Some(stderr) = child.stderr.take() {
        super::log::pump(stderr, log.path.to_owned(), log.max_bytes)
            .map_err(|e| io_err("starting the log writer", e))?;
    }
    Ok(child)
}

/// Stops our own postmaster child and reaps it. Returns false if it survived even SIGKILL.
pub(crate) fn shutdown_child(child: &mut Child, pgdata: &Path) -> bool {
    let pid = child.id();
    // try_wait errors only if the child was already reaped; either way it is gone.
    let stopped = escalate(pid, || !matches!(child.try_wait(), Ok(None)));
    if !stopped {
        tracing::error!(pid, "postmaster did not exit even after SIGKILL");
    }
    // After a SIGKILL its backends can outlive it for a moment.
    kill_stragglers(pgdata);
    stopped
}

/// Sends each stop stage's signal in turn until `exited()` reports the process gone.
fn escalate(pid: u32, mut exited: impl FnMut() -> bool) -> bool {
    for (i, (signal, name, wait)) in STAGES.iter().enumerate() {
        if exited() {
            return true;
        }
        if i > 0 {
            tracing::warn!(pid, "postmaster did not stop in time; sending {name}");
        }
        if let Err(e) = sys::send_signal(pid, *signal) {
            if e.raw_os_error() == Some(libc::ESRCH) {
                return true;
            }
            tracing::warn!(pid, error = %e, "could not send {name} to postmaster");
        }
        let deadline = Instant::now() + *wait;
        while Instant::now() < deadline {
            if exited() {
                return true;
            }
            std::thread::sleep(POLL);
        }
    }
    exited()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcState {
    Running,
    /// Exited but not reaped. Common for orphans in containers whose PID 1 does not reap; a
    /// zombie holds no resources but still answers `kill(pid, 0)`.
    Zombie,
    Gone,
}

fn proc_state(pid: u32) -> ProcState {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Format: "pid (comm) S ..."; comm may contain ')' so take the last one.
        Ok(stat) => match stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].trim_start().chars().next())
        {
            Some('Z' | 'X') => ProcState::Zombie,
            _ => ProcState::Running,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => ProcState::Gone,
        // No /proc: fall back to what kill(2) can tell.
        Err(_) if sys::process_exists(pid) => ProcState::Running,
        Err(_) => ProcState::Gone,
    }
}

/// Is `pid` a live postgres process of the cluster in `pgdata` (canonical path)? The
/// postmaster and every backend chdir into the data directory, so cwd identifies the cluster
/// without trusting argv, which backends overwrite with their ps title.
fn is_cluster_process(pid: u32, pgdata: &Path) -> bool {
    if pid == std::process::id() || proc_state(pid) != ProcState::Running {
        return false;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    match std::fs::read_link(proc_dir.join("cwd")) {
        Ok(cwd) if cwd == pgdata => {}
        _ => return false,
    }
    // After a package upgrade the link reads ".../postgres (deleted)", hence starts_with.
    match std::fs::read_link(proc_dir.join("exe")) {
        Ok(exe) => exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("postgres") || n.starts_with("postmaster")),
        Err(_) => std::fs::read_to_string(proc_dir.join("comm"))
            .is_ok_and(|comm| comm.trim() == "postgres"),
    }
}

/// All live postgres processes of this cluster.
fn cluster_processes(pgdata: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| is_cluster_process(pid, pgdata))
        .collect()
}

fn wait_not_running(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if proc_state(pid) != ProcState::Running {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// SIGKILLs any remaining process of the cluster. Used once the postmaster is known to be dead:
/// its backends notice within moments anyway, and a new postmaster must not share the data dir
/// with them. Returns the pids that would not die.
fn kill_stragglers(pgdata: &Path) -> Vec<u32> {
    let stragglers = cluster_processes(pgdata);
    if stragglers.is_empty() {
        return stragglers;
    }
    tracing::warn!(
        ?stragglers,
        "killing leftover postgres processes of this cluster"
    );
    for &pid in &stragglers {
        let _ = sys::send_signal(pid, libc::SIGKILL);
    }
    stragglers
        .into_iter()
        .filter(|&pid| !wait_not_running(pid, Duration::from_secs(5)))
        .collect()
}

/// First line of `postmaster.pid`: the postmaster's pid.
fn recorded_postmaster_pid(pid_file: &Path) -> Option<u32> {
    // Written by the cluster's user: not followed if it is a link, and never more than a page.
    let text = super::owned_fs::read_small(pid_file, 4096).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Makes the cluster startable after a crash. Must only be called while holding the data dir
/// lock: then no live rolodex owns this cluster, so any postmaster still running on it is an
/// orphan of a crashed rolodex (or was started by hand) and may be stopped.
///
/// * pid in `postmaster.pid` is dead: nothing to do, postgres removes the stale file itself.
/// * pid is a live postmaster of this cluster: stop it (SIGINT, escalating).
/// * pid "exists" but is a zombie or an unrelated process (pid reuse): postgres would refuse to
///   start ("lock file already exists"), so once no process of the cluster remains we remove
///   the stale file ourselves.
pub(crate) fn recover_stale_postmaster(pgdata: &Path) -> Result<(), PgError> {
    let pid_file = pgdata.join("postmaster.pid");
    let orphan = recorded_postmaster_pid(&pid_file).filter(|&pid| is_cluster_process(pid, pgdata));
    if let Some(pid) = orphan {
        tracing::warn!(
            pid,
            "a postmaster of this cluster is running without a rolodex (left over from a crash?); stopping it"
        );
        // A pid could in theory be recycled between the check and the signal; the window is
        // microseconds and the check is repeated by escalate() via proc state.
        if !escalate(pid, || !is_cluster_process(pid, pgdata)) {
            return Err(PgError::StartFailed {
                message: format!("orphaned postmaster (pid {pid}) of this cluster would not stop"),
                log_tail: String::new(),
            });
        }
    }
    let survivors = kill_stragglers(pgdata);
    if !survivors.is_empty() {
        return Err(PgError::StartFailed {
            message: format!(
                "postgres processes {survivors:?} of this cluster are still running and would not stop"
            ),
            log_tail: String::new(),
        });
    }
    // (No let-chains: the crate's MSRV is 1.85.)
    let stale = recorded_postmaster_pid(&pid_file).filter(|&pid| sys::process_exists(pid));
    if let Some(pid) = stale {
        tracing::info!(
            pid,
            "removing stale postmaster.pid (the pid now belongs to a zombie or an unrelated process)"
        );
        std::fs::remove_file(&pid_file)
            .map_err(|e| PgError::Io(format!("removing {}", pid_file.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_state_is_running() {
        assert_eq!(proc_state(std::process::id()), ProcState::Running);
        assert!(!is_cluster_process(std::process::id(), Path::new("/")));
    }

    #[test]
    fn garbage_pid_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("rolodex-pidfile-{}", std::process::id()));
        std::fs::write(&dir, "not a pid\n").unwrap();
        assert_eq!(recorded_postmaster_pid(&dir), None);
        std::fs::remove_file(&dir).unwrap();
    }
}
