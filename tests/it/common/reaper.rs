//! Cleanup that survives the test process: a small `sh` child that reads, over a pipe, the
//! directories and processes the tests made, and when the pipe closes (the test process has
//! exited, panicked, failed or been killed with SIGKILL) stops every PostgreSQL still running
//! under those directories, kills the processes still registered and removes the directories.
//!
//! Normal runs clean up themselves (`TempDir` on drop, the shared cluster at exit); the reaper
//! only finds what a killed process left, so it removes nothing that is still in use.

use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Reads `dir PATH`, `pid N` and `unpid N` lines until end of input, then cleans up. Ignores
/// SIGINT/SIGTERM/SIGHUP so a Ctrl-C that ends the tests does not end their cleanup. A pid is
/// killed only if it was not unregistered (its process was waited for, so the number may have
/// been reused); a postmaster only if `/proc` still names it `postgres`.
const SCRIPT: &str = r#"
trap '' INT TERM HUP
dirs=''
pids=' '
while IFS= read -r line; do
    case "$line" in
        'dir '*) dirs="$dirs${line#dir }
" ;;
        'pid '*) pids="$pids${line#pid } " ;;
        'unpid '*) pids=$(printf '%s' "$pids" | sed "s/ ${line#unpid } / /") ;;
    esac
done
for pid in $pids; do
    kill -KILL "-$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
done
printf '%s' "$dirs" | while IFS= read -r dir; do
    [ -n "$dir" ] && [ -e "$dir" ] || continue
    find "$dir" -maxdepth 4 -name postmaster.pid 2>/dev/null | while IFS= read -r pidfile; do
        pm=$(head -n 1 "$pidfile" 2>/dev/null || true)
        [ -n "$pm" ] && [ "$(cat "/proc/$pm/comm" 2>/dev/null)" = postgres ] || continue
        kill -QUIT "$pm" 2>/dev/null || true
        tries=0
        while kill -0 "$pm" 2>/dev/null && [ "$tries" -lt 100 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -KILL "$pm" 2>/dev/null || true
    done
    rm -rf "$dir"
done
"#;

static PIPE: OnceLock<Mutex<ChildStdin>> = OnceLock::new();

// The reaper is never waited for: it must outlive this process, and ends on its own when this
// process's end closes the pipe.
#[allow(clippy::zombie_processes)]
fn pipe() -> &'static Mutex<ChildStdin> {
    PIPE.get_or_init(|| {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            // Not the test's own output: whoever reads that must see its end when tests end.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C to the terminal's group does not reach it.
            .process_group(0)
            .spawn()
            .expect("starting the cleanup process (sh)");
        // The pipe is close-on-exec, so only this process holds its write end: it closes
        // exactly when this process ends, however it ends.
        Mutex::new(child.stdin.take().expect("reaper stdin"))
    })
}

fn send(line: String) {
    let mut pipe = pipe()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pipe.write_all(line.as_bytes())
        .expect("writing to the cleanup process");
}

/// Removes `dir` (after stopping any PostgreSQL running under it) if this process dies
/// without removing it itself.
pub fn watch_dir(dir: &Path) {
    let dir = dir.to_str().expect("temporary directory path is UTF-8");
    assert!(!dir.contains('\n'), "{dir:?}");
    send(format!("dir {dir}\n"));
}

/// Kills process `pid` (and its process group, if it leads one) if this process dies while it
/// runs; call [`forget_pid`] once it has
/// been waited for.
pub fn watch_pid(pid: u32) {
    send(format!("pid {pid}\n"));
}

/// The process `pid` has exited and been waited for: its number may be reused from now on.
pub fn forget_pid(pid: u32) {
    send(format!("unpid {pid}\n"));
}
