//! Started as root, rolodex runs PostgreSQL as `postgres` (or `--pg-user`), which then owns the
//! data directory and can plant anything in it. These tests play that user with the real CLI:
//! symlinks and hard links at every name root opens there (the lock, the log, the rotated log,
//! `PG_VERSION`, the socket directory) make rolodex refuse to start, naming the file, and
//! leave their targets byte-for-byte and mode-for-mode untouched; once the plant is gone the
//! same data directory works again. They also check that `nobody` is never used.
//!
//! Only meaningful as root (as on CI and the development machines); elsewhere they say so and
//! pass.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        assert!(out.status.success(), "a postgres user is needed");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn rolodex(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ROLODEX_PG_USER")
        .output()
        .unwrap()
}

/// Creates the cluster the way a user does: `rolodex serve` (only `serve` and `restore` create
/// one), stopped once it listens.
fn init_cluster(data_dir: &Path) {
    let log_dir = crate::common::temp_dir("root-log");
    let log_path = log_dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("ROLODEX_PG_USER")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    crate::common::reaper::watch_pid(child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("rolodex is listening") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rolodex serve exited with {status}: {text}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not start: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    crate::common::reaper::forget_pid(child.id());
    assert!(status.success());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Content, mode and owner of a file or directory, to compare before and after.
fn fingerprint(path: &Path) -> (Vec<u8>, u32, u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let content = if meta.is_file() {
        std::fs::read(path).unwrap()
    } else {
        Vec::new()
    };
    (content, meta.mode(), meta.uid(), meta.gid())
}

/// Plants `link -> target` as the cluster's user would.
fn plant_symlink(target: &Path, link: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
    let (uid, gid) = postgres_ids();
    std::os::unix::fs::lchown(link, Some(uid), Some(gid)).unwrap();
}

fn assert_refused(out: &Output, names: &[&str]) {
    let text = stderr(out);
    assert!(!out.status.success(), "started anyway: {text}");
    for name in names {
        assert!(text.contains(name), "{name:?} not in: {text}");
    }
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn links_planted_in_the_data_dir_lead_root_nowhere() {
    if !is_root() {
        eprintln!("not root: the unprivileged-user hand-over is not exercised");
        return;
    }
    let data = crate::common::temp_dir("root");
    let data_dir = data.path();
    let victims = crate::common::temp_dir("victims");
    let victim = victims.path().join("passwd");
    std::fs::write(&victim, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let victim_dir = victims.path().join("etc");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::set_permissions(&victim_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = (fingerprint(&victim), fingerprint(&victim_dir));

    init_cluster(data_dir);
    let out = rolodex(data_dir, &["user", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (pg_uid, _) = postgres_ids();
    assert_eq!(std::fs::metadata(data_dir).unwrap().uid(), pg_uid);
    assert_eq!(
        std::fs::metadata(data_dir.join("rolodex.lock"))
            .unwrap()
            .uid(),
        0
    );

    let lock = data_dir.join("rolodex.lock");
    plant_symlink(&victim, &lock);
    assert_refused(
        &rolodex(data_dir, &["user", "list"]),
        &["rolodex.lock", "symbolic link"],
    );
    std::fs::remove_file(&lock).unwrap();
    // A hard link (root made it: protected_hardlinks stops the postgres user, but a lax
    // system or an older file could have one) is refused just the same.
    std::fs::hard_link(&victim, &lock).unwrap();
    assert_refused(
        &rolodex(data_dir, &["user", "list"]),
        &["rolodex.lock", "hard link"],
    );
    std::fs::remove_file(&lock).unwrap();

    let log = data_dir.join("postgres.log");
    std::fs::rename(&log, data_dir.join("kept.log")).unwrap();
    plant_symlink(&victim, &log);
    assert_refused(
        &rolodex(data_dir, &["user", "list"]),
        &["postgres.log", "symbolic link"],
    );
    std::fs::remove_file(&log).unwrap();

    // An oversized log is rotated at start onto a planted postgres.log.1: rename(2) replaces
    // the link, the target stays as it was, and the server starts.
    std::fs::write(&log, vec![b'x'; 11 * 1024 * 1024]).unwrap();
    let rotated = data_dir.join("postgres.log.1");
    plant_symlink(&victim, &rotated);
    let out = rolodex(data_dir, &["user", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(&rotated).unwrap();
    assert!(meta.is_file() && meta.len() == 11 * 1024 * 1024);

    let version = data_dir.join("pgdata/PG_VERSION");
    std::fs::rename(&version, data_dir.join("PG_VERSION.kept")).unwrap();
    plant_symlink(&victim, &version);
    let out = rolodex(data_dir, &["user", "list"]);
    assert_refused(&out, &["PG_VERSION", "symbolic link"]);
    assert!(!stderr(&out).contains("root:x:0"), "{}", stderr(&out));
    std::fs::remove_file(&version).unwrap();
    std::fs::rename(data_dir.join("PG_VERSION.kept"), &version).unwrap();

    // The socket directory would be chmod 0700 and given to postgres.
    let run = data_dir.join("run");
    std::fs::remove_dir_all(&run).unwrap();
    plant_symlink(&victim_dir, &run);
    assert_refused(
        &rolodex(data_dir, &["user", "list"]),
        &["run", "symbolic link"],
    );
    std::fs::remove_file(&run).unwrap();

    assert_eq!(
        (fingerprint(&victim), fingerprint(&victim_dir)),
        before,
        "a target of a planted link was changed"
    );
    // With the plants gone, the same data directory works again.
    let out = rolodex(data_dir, &["user", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_cluster_never_runs_as_nobody_or_a_missing_user() {
    if !is_root() {
        eprintln!("not root: --pg-user is not used");
        return;
    }
    let dir = crate::common::temp_dir("pguser");
    let data_dir = dir.path().join("data");
    // `serve`, the command that creates a cluster, refuses before it makes anything.
    let out = rolodex(
        &data_dir,
        &["--pg-user", "nobody", "serve", "--listen", "127.0.0.1:0"],
    );
    assert_refused(&out, &["`nobody`", "--pg-user"]);
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROLODEX_PG_USER", "no-such-user-rolodex")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_refused(&out, &["`no-such-user-rolodex`", "does not exist"]);
    assert!(!data_dir.exists(), "a data directory was made for nothing");
}
