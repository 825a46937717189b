//! Running the real `rolodex` binary as an operator does: `serve` on a data directory of its
//! own (the managed cluster), administrative commands beside it, and a work directory that is
//! removed, clusters included, when the test ends.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

/// A temporary directory the managed cluster can use (it runs as `postgres` when the tests run
/// as root, so the directory must be reachable for that user, as a home directory would be).
/// Declare it before the servers using it: they are dropped (stopped) first.
pub fn work_dir() -> tempfile::TempDir {
    let dir = crate::common::temp_dir("ops");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rolodex ARGS` in `cwd`, without the environment's database settings; `stdin` as input.
pub fn rolodex(cwd: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("ROLODEX_DATA_DIR")
        .env_remove("ROLODEX_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; its standard output.
#[track_caller]
pub fn ok(cwd: &Path, args: &[&str]) -> String {
    let output = rolodex(cwd, args, None);
    assert!(
        output.status.success(),
        "rolodex {args:?} failed: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Runs a command that must fail (exit code 1, no panic); its standard error.
#[track_caller]
pub fn fails(cwd: &Path, args: &[&str]) -> String {
    let output = rolodex(cwd, args, None);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "rolodex {args:?}: stdout {} stderr {stderr}",
        text(&output.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A `rolodex serve` process; stopped (SIGTERM, then waited for) on drop.
pub struct Server {
    child: Child,
    pub base: String,
    /// Where its standard error goes.
    pub log: PathBuf,
}

impl Server {
    /// `rolodex serve --data-dir DATA_DIR` (as given, relative to `cwd`) on a free port, once
    /// it answers `/healthz`.
    pub async fn start(cwd: &Path, data_dir: &str) -> Server {
        let port = free_port();
        let log = cwd.join(format!("serve-{port}.log"));
        let child = Command::new(BIN)
            .args([
                "serve",
                "--data-dir",
                data_dir,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(cwd)
            .env_remove("DATABASE_URL")
            .env_remove("ROLODEX_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        crate::common::reaper::watch_pid(child.id());
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "rolodex serve exited with {status}: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            if let Ok(response) = reqwest::get(format!("{}/healthz", server.base)).await
                && response.status() == 200
            {
                return server;
            }
            assert!(Instant::now() < deadline, "rolodex serve did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the server; its standard error.
    pub fn stop(mut self) -> String {
        self.terminate();
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn terminate(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        crate::common::reaper::forget_pid(self.child.id());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}
