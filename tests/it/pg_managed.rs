//! Integration tests for the managed local PostgreSQL (`rolodex::pg`) against the real server
//! binaries installed on this machine: first start (initdb), reuse on restart, clean stop,
//! crash recovery (killed postmaster, orphaned postmaster of a killed rolodex, stale pid file),
//! the data dir lock, the long-path socket fallback, and the error messages.
//!
//! When run as root this exercises the run-as-`postgres` path as well.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rolodex::pg::{ManagedPostgres, PgError, find_binaries};

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("rolodex=debug")
        .with_test_writer()
        .try_init();
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Running, i.e. neither gone nor a zombie (orphans may stay zombies here: PID 1 may not reap).
fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .trim_start()
                .chars()
                .next();
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

async fn query_one(pg: &ManagedPostgres, sql: &str) -> i32 {
    let (client, conn) = tokio_postgres::connect(&pg.database_url(), tokio_postgres::NoTls)
        .await
        .expect("connect via database_url");
    tokio::spawn(conn);
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn execute(pg: &ManagedPostgres, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&pg.database_url(), tokio_postgres::NoTls)
        .await
        .expect("connect via database_url");
    tokio::spawn(conn);
    client.batch_execute(sql).await.expect(sql);
}

#[tokio::test]
async fn first_start_stop_and_restart_reuses_cluster() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let data_dir = dir.path();

    let pg = ManagedPostgres::start(data_dir, None)
        .await
        .expect("first start");
    let url = pg.database_url();
    assert!(
        url.starts_with("postgresql://rolodex_app@/rolodex?host=%2F"),
        "{url}"
    );
    assert_eq!(query_one(&pg, "SELECT 1").await, 1);
    execute(
        &pg,
        "CREATE TABLE survives (x int); INSERT INTO survives VALUES (42);",
    )
    .await;
    assert_eq!(
        query_one(
            &pg,
            "SELECT (current_user = 'rolodex_app' AND current_database() = 'rolodex')::int"
        )
        .await,
        1
    );

    // Layout and permissions.
    assert!(data_dir.join("pgdata/PG_VERSION").is_file());
    assert!(data_dir.join("postgres.log").is_file());
    let run = std::fs::metadata(data_dir.join("run")).unwrap();
    assert_eq!(run.permissions().mode() & 0o777, 0o700);
    if is_root() {
        let pg_uid = std::fs::metadata(data_dir.join("pgdata")).unwrap().uid();
        assert_ne!(pg_uid, 0, "cluster must not be owned by root");
        assert_eq!(run.uid(), pg_uid);
    }

    let pid = pg.postmaster_pid();
    assert!(process_running(pid));
    pg.stop().await.expect("stop");
    assert!(
        !process_running(pid),
        "postmaster {pid} still running after stop"
    );
    assert!(!data_dir.join("pgdata/postmaster.pid").exists());

    let initdb_runs = || {
        std::fs::read_to_string(data_dir.join("postgres.log"))
            .unwrap()
            .matches("Success. You can now start the database server")
            .count()
    };
    assert_eq!(initdb_runs(), 1);

    let pg = ManagedPostgres::start(data_dir, None)
        .await
        .expect("second start");
    assert_ne!(pg.postmaster_pid(), pid);
    assert_eq!(query_one(&pg, "SELECT x FROM survives").await, 42);
    assert_eq!(initdb_runs(), 1, "second start must not run initdb");
    let pid = pg.postmaster_pid();
    pg.stop_blocking();
    assert!(!process_running(pid));
    drop(pg); // Drop after stop_blocking is a no-op.
}

#[tokio::test]
async fn drop_stops_postgres() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let pg = ManagedPostgres::start(dir.path(), None).await.unwrap();
    let pid = pg.postmaster_pid();
    drop(pg);
    assert!(!process_running(pid));
}

#[tokio::test]
async fn second_instance_on_same_data_dir_is_refused() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let pg = ManagedPostgres::start(dir.path(), None).await.unwrap();
    let err = ManagedPostgres::start(dir.path(), None).await.unwrap_err();
    assert!(matches!(err, PgError::DataDirInUse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("in use by another running rolodex"), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    // The refused start must not have disturbed the running server.
    assert_eq!(query_one(&pg, "SELECT 1").await, 1);
    pg.stop().await.unwrap();
}

/// kill -9 of the postmaster itself: postmaster.pid is left behind naming a dead process and
/// postgres must replay WAL on the next start.
#[tokio::test]
async fn restart_after_postmaster_was_killed() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let pg = ManagedPostgres::start(dir.path(), None).await.unwrap();
    execute(&pg, "CREATE TABLE t (x int); INSERT INTO t VALUES (7);").await;
    let pid = pg.postmaster_pid();
    // SAFETY: kill on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    // stop() copes with an already-dead postmaster (it just reaps it).
    pg.stop().await.expect("stop after kill");
    assert!(dir.path().join("pgdata/postmaster.pid").exists());

    let pg = ManagedPostgres::start(dir.path(), None)
        .await
        .expect("start after crash");
    assert_eq!(query_one(&pg, "SELECT x FROM t").await, 7);
    pg.stop().await.unwrap();
}

/// postmaster.pid naming a live process that is not our postgres (pid reuse after a crash):
/// postgres alone would refuse to start ("lock file already exists").
#[tokio::test]
async fn stale_pid_file_naming_unrelated_process() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let pg = ManagedPostgres::start(dir.path(), None).await.unwrap();
    pg.stop().await.unwrap();

    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let pid_file = dir.path().join("pgdata/postmaster.pid");
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", sleeper.id(), dir.path().display()),
    )
    .unwrap();

    let pg = ManagedPostgres::start(dir.path(), None)
        .await
        .expect("start over stale pid file");
    assert_eq!(query_one(&pg, "SELECT 1").await, 1);
    assert!(
        process_running(sleeper.id()),
        "unrelated process must not be touched"
    );
    pg.stop().await.unwrap();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

const HELPER_ENV: &str = "ROLODEX_PG_TEST_ORPHAN_HELPER_DIR";

/// Not a test by itself: the body of the child process that `orphaned_postmaster_is_stopped`
/// starts and then SIGKILLs, standing in for a rolodex that was kill -9'd.
#[test]
fn orphan_helper_process() {
    let Some(dir) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = rt
        .block_on(ManagedPostgres::start(Path::new(&dir), None))
        .expect("helper start");
    rt.block_on(execute(
        &pg,
        "CREATE TABLE from_helper (x int); INSERT INTO from_helper VALUES (1);",
    ));
    // Own line: libtest has already printed "test orphan_helper_process ... " without a newline.
    println!("\nPOSTMASTER_PID={}", pg.postmaster_pid());
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// kill -9 of rolodex: its postmaster lives on, orphaned, holding the cluster. The next start
/// must find and stop it (it holds the data dir lock, so the postmaster cannot belong to a live
/// rolodex) and then start normally.
#[tokio::test]
async fn orphaned_postmaster_is_stopped() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            // The helper test by its full name in this binary (module path included).
            "pg_managed::orphan_helper_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(pid) = line.split("POSTMASTER_PID=").nth(1) {
                let _ = tx.send(pid.trim().parse::<u32>().unwrap());
                return;
            }
        }
    });
    let orphan = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(pid) => pid,
        Err(e) => {
            let _ = helper.kill();
            panic!("helper did not report its postmaster: {e}");
        }
    };
    // If an assertion below fails, do not leave a postmaster running on a deleted directory.
    let _cleanup = StopOrphanOnDrop(orphan);

    // While the helper lives, its lock makes the data dir busy.
    let err = ManagedPostgres::start(dir.path(), None).await.unwrap_err();
    assert!(matches!(err, PgError::DataDirInUse { .. }), "{err:?}");

    helper.kill().unwrap(); // SIGKILL: no destructors, no shutdown
    helper.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        process_running(orphan),
        "postmaster should survive its parent's SIGKILL"
    );

    let pg = ManagedPostgres::start(dir.path(), None)
        .await
        .expect("start over orphan");
    assert!(
        !process_running(orphan),
        "orphaned postmaster {orphan} still running"
    );
    assert_ne!(pg.postmaster_pid(), orphan);
    assert_eq!(query_one(&pg, "SELECT x FROM from_helper").await, 1);
    pg.stop().await.unwrap();
}

struct StopOrphanOnDrop(u32);

impl Drop for StopOrphanOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() && process_running(self.0) {
            // SAFETY: plain kill(2) of the orphan postmaster this test created.
            unsafe { libc::kill(self.0 as i32, libc::SIGINT) };
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

#[tokio::test]
async fn long_data_dir_path_uses_private_tmp_socket_dir() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    // Let an unprivileged postgres user traverse (not list) the tempdir when we are root.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let data_dir = dir.path().join("d".repeat(100));
    let pg = ManagedPostgres::start(&data_dir, None)
        .await
        .expect("start");
    let url = pg.database_url();
    assert!(url.contains("?host=%2Ftmp%2Frolodex-"), "{url}");
    assert_eq!(query_one(&pg, "SELECT 1").await, 1);
    let socket_dir = url.split("?host=").nth(1).unwrap().replace("%2F", "/");
    let meta = std::fs::symlink_metadata(&socket_dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    pg.stop().await.unwrap();
    assert!(
        !Path::new(&socket_dir).exists(),
        "temporary socket dir left behind"
    );
}

#[tokio::test]
async fn data_dir_the_postgres_user_cannot_reach_is_reported() {
    if !is_root() {
        return;
    }
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    // 0700 root, like /root: not traversable by `postgres`.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = dir.path().join("data");
    let err = ManagedPostgres::start(&data_dir, None).await.unwrap_err();
    assert!(matches!(err, PgError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("--data-dir /var/lib/rolodex"), "{msg}");
}

#[tokio::test]
async fn cluster_of_another_major_version_is_refused() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    std::fs::create_dir(dir.path().join("pgdata")).unwrap();
    std::fs::write(dir.path().join("pgdata/PG_VERSION"), "9.6\n").unwrap();
    let err = ManagedPostgres::start(dir.path(), None).await.unwrap_err();
    let PgError::VersionMismatch {
        cluster, binaries, ..
    } = &err
    else {
        panic!("expected VersionMismatch, got {err:?}");
    };
    assert_eq!(cluster, "9.6");
    let msg = err.to_string();
    assert!(
        msg.contains("PostgreSQL 9.6") && msg.contains(&format!("PostgreSQL {binaries}")),
        "{msg}"
    );
}

#[tokio::test]
async fn bad_override_dir_reports_how_to_install() {
    let empty = crate::common::temp_dir("pg-managed");
    let err = find_binaries(Some(empty.path())).unwrap_err();
    assert!(matches!(err, PgError::BinariesNotFound));
    let err = ManagedPostgres::start(empty.path(), Some(empty.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, PgError::BinariesNotFound), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("apt-get install postgresql"), "{msg}");
    assert!(msg.contains("ROLODEX_PG_BIN"), "{msg}");
    assert!(msg.contains("DATABASE_URL"), "{msg}");
}

#[test]
fn discovers_installed_binaries() {
    let bindir = find_binaries(None).expect("PostgreSQL binaries on this machine");
    assert!(bindir.join("initdb").is_file() && bindir.join("postgres").is_file());
    // An explicit, valid override is used as is.
    assert_eq!(find_binaries(Some(&bindir)).unwrap(), bindir);
}

/// Failing statements are logged without their text, parameters or DETAIL (which would carry
/// users' contact data), and the log is rotated at its size while the server runs.
#[tokio::test]
async fn log_keeps_no_statement_text_and_stays_bounded() {
    init_tracing();
    let dir = crate::common::temp_dir("pg-managed");
    let options = rolodex::pg::ManagedOptions {
        log_max_bytes: 16 * 1024,
        ..Default::default()
    };
    let pg = ManagedPostgres::start_with(dir.path(), None, &options)
        .await
        .expect("start");
    let (client, conn) = tokio_postgres::connect(&pg.database_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE secrets (v text UNIQUE); INSERT INTO secrets VALUES ('maria.garcia@example.org')")
        .await
        .unwrap();
    for i in 0..400 {
        // A unique violation (its DETAIL quotes the value) and a syntax error quoting its text.
        let duplicate = client
            .execute(
                "INSERT INTO secrets VALUES ($1)",
                &[&"maria.garcia@example.org"],
            )
            .await;
        assert!(duplicate.is_err());
        let broken = client
            .batch_execute(&format!(
                "SELECT 'secret-phone-+14155550101-{i}' FROMM nowhere"
            ))
            .await;
        assert!(broken.is_err());
    }
    pg.stop().await.expect("stop");
    let log_path = dir.path().join("postgres.log");
    let mut text = std::fs::read_to_string(&log_path).unwrap();
    let old = log_path.with_extension("log.1");
    assert!(old.exists(), "the log was rotated while the server ran");
    text.push_str(&std::fs::read_to_string(&old).unwrap());
    assert!(
        text.contains("duplicate key"),
        "errors are still logged: {text}"
    );
    assert!(!text.contains("maria.garcia"), "a value reached the log");
    assert!(
        !text.contains("secret-phone"),
        "statement text reached the log"
    );
    for path in [&log_path, &old] {
        assert!(std::fs::metadata(path).unwrap().len() <= 16 * 1024);
    }
}
