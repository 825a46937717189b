//! Every process the benchmark starts, and making sure each one is stopped: on the normal
//! path, on an error (the guard's `Drop`), on a panic (unwinding runs the same `Drop`) and
//! on Ctrl-C/SIGTERM ([`stop_all`] from the signal task).
//!
//! Children get their own process group, so a terminal's Ctrl-C reaches only the driver,
//! which then stops them in order (Rolodex must get SIGINT and the time to shut its
//! PostgreSQL down cleanly), and a SIGKILL of the group also takes grandchildren with it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a process gets to exit after SIGINT before its group is SIGKILLed.
const GRACE: Duration = Duration::from_secs(30);

struct Entry {
    name: String,
    pid: u32,
}

/// The live processes, and whether [`stop_all`] has begun (then nothing new may start:
/// a process registered after its sweep would outlive the driver).
struct Registry {
    entries: BTreeMap<u64, Entry>,
    closed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: BTreeMap::new(),
    closed: false,
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock must not stop the cleanup of everything else.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A started child process; stopping it (or dropping the guard) ends it and its group.
pub struct Proc {
    id: u64,
    pub pid: u32,
    pub name: String,
    child: tokio::process::Child,
}

impl Proc {
    /// Spawns `command` in a process group of its own and registers it for cleanup.
    pub fn spawn(name: &str, mut command: tokio::process::Command) -> Result<Proc, String> {
        command.process_group(0).kill_on_drop(true);
        // Held across the spawn, so a concurrent stop_all either sees this process or
        // stops it from starting.
        let mut registry = registry();
        if registry.closed {
            return Err(format!("not starting {name}: shutting down"));
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        registry.entries.insert(
            id,
            Entry {
                name: name.to_string(),
                pid,
            },
        );
        drop(registry);
        Ok(Proc {
            id,
            pid,
            name: name.to_string(),
            child,
        })
    }

    pub fn child_mut(&mut self) -> &mut tokio::process::Child {
        &mut self.child
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        let outcome = match self.child.try_wait() {
            Ok(Some(status)) => status.to_string(),
            Ok(None) => return None,
            Err(e) => format!("unknown state: {e}"),
        };
        // Reaped: its pid may be reused from now on, so it must never be signalled again.
        self.forget();
        Some(outcome)
    }

    fn forget(&self) {
        if registry().entries.remove(&self.id).is_some() {
            kill_stragglers(self.pid);
        }
    }

    /// Waits for the process to exit by itself (a command, not a server).
    pub async fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus, String> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => {
                self.forget();
                Ok(status)
            }
            Ok(Err(e)) => Err(format!("waiting for {}: {e}", self.name)),
            Err(_) => Err(format!("{} did not finish within {limit:?}", self.name)),
        }
    }

    /// SIGINT, up to [`GRACE`] to exit, then SIGKILL of the whole group.
    pub async fn stop(mut self) {
        if registry().entries.remove(&self.id).is_none() {
            return;
        }
        signal(self.pid, libc::SIGINT);
        if tokio::time::timeout(GRACE, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("{} ignored SIGINT for {GRACE:?}: killing it", self.name);
            kill_group(self.pid);
            let _ = self.child.wait().await;
        }
        kill_stragglers(self.pid);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Bound first so the lock is not held while waiting for the process.
        let entry = registry().entries.remove(&self.id);
        if let Some(entry) = entry {
            stop_blocking(&entry);
        }
    }
}

/// Stops every registered process (the Ctrl-C path); safe to call more than once.
pub fn stop_all() {
    let entries: Vec<Entry> = {
        let mut registry = registry();
        registry.closed = true;
        std::mem::take(&mut registry.entries)
            .into_values()
            .collect()
    };
    for entry in &entries {
        signal(entry.pid, libc::SIGINT);
    }
    for entry in &entries {
        stop_blocking(entry);
    }
}

fn stop_blocking(entry: &Entry) {
    signal(entry.pid, libc::SIGINT);
    let deadline = Instant::now() + GRACE;
    while alive(entry.pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(entry.pid) {
        eprintln!("{} ignored SIGINT for {GRACE:?}: killing it", entry.name);
        kill_group(entry.pid);
    }
    kill_stragglers(entry.pid);
}

/// Members of the group left behind by its leader (a server's own children) must not
/// outlive it. While any member lives, the group id cannot be reused, so killing it by
/// group id cannot hit anything else.
fn kill_stragglers(pgid: u32) {
    if !group_members(pgid).is_empty() {
        kill_group(pgid);
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory effects; a stale pid at worst gets ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

fn kill_group(pgid: u32) {
    // SAFETY: as above; the negative pid addresses the process group we created.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

/// Running and not yet a zombie (nobody may have reaped it yet when we look).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A field (in kB) of `/proc/<pid>/status`, e.g. `VmHWM` or `VmRSS`.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Live pids in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    pids_where(|fields| fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid))
        .into_iter()
        .filter(|pid| alive(*pid))
        .collect()
}

/// Pids whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    pids_where(|fields| fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent))
}

/// Pids whose `/proc/<pid>/stat` fields after the command name (state, ppid, pgrp, ...)
/// satisfy `test`.
fn pids_where(test: impl Fn(&[&str]) -> bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    let fields: Vec<&str> = rest.split_whitespace().take(3).collect();
                    Some(test(&fields))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Bytes allocated on disk under `path`, like `du -s` (hard links counted once).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        }
    }
    total
}
