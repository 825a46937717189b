//! The `rolodex` binary as a new user runs it: `serve` in an empty directory on the embedded
//! default, Ctrl-C, a second start; and account administration (`user add`, `token create`).

use crate::common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("pgdata/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

async fn wait_healthy(port: u16, child: &mut Child) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rolodex exited early with {status}");
        }
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && response.status() == 200
        {
            assert_eq!(response.text().await.unwrap(), "ok\n");
            return;
        }
        assert!(Instant::now() < deadline, "rolodex did not become healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn interrupt_and_wait(child: &mut Child) -> std::process::ExitStatus {
    // SAFETY: sending SIGINT to our own child, as Ctrl-C in a terminal would.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "rolodex did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn serve_in_an_empty_directory_then_ctrl_c_then_start_again() {
    let work = crate::common::temp_dir("cli");
    // The managed cluster runs as an unprivileged user when we are root; it must be able to
    // reach the directory, as it could in a user's home.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = work.path().join("rolodex-data");

    for start in 0..2 {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(work.path())
            .env_remove("DATABASE_URL")
            .env_remove("ROLODEX_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        crate::common::reaper::watch_pid(child.id());
        wait_healthy(port, &mut child).await;
        assert!(
            data_dir.join("pgdata/PG_VERSION").exists(),
            "start {start}: no cluster in ./rolodex-data"
        );
        let postmaster = postmaster_pid(&data_dir).expect("postmaster.pid while running");
        assert!(alive(postmaster));

        let status = interrupt_and_wait(&mut child);
        crate::common::reaper::forget_pid(child.id());
        assert!(status.success(), "start {start}: exit status {status}");
        assert!(
            !alive(postmaster),
            "start {start}: postgres {postmaster} still running after Ctrl-C"
        );
    }
}

#[test]
fn missing_postgres_binaries_give_one_clear_message() {
    let work = crate::common::temp_dir("cli");
    let output = Command::new(BIN)
        // `serve`: the one command that runs PostgreSQL in an empty directory (the others
        // stop earlier, at "no cluster here").
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(work.path())
        .env_remove("DATABASE_URL")
        .env("ROLODEX_PG_BIN", work.path().join("no-such-bin"))
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("postgresql"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[tokio::test]
async fn user_add_and_token_create() {
    let url = common::database_url();
    let name = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut add = Command::new(BIN)
        .args(["user", "add", &name, "--password-stdin"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"s3cret pass\n")
        .unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let token_out = Command::new(BIN)
        .args(["token", "create", &name, "--label", "script"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        token_out.status.success(),
        "{}",
        String::from_utf8_lossy(&token_out.stderr)
    );
    let token = String::from_utf8(token_out.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("rdx_"), "token: {token}");

    let store = common::store().await;
    let auth = rolodex::auth::Authenticator::new(store.clone(), &Default::default());
    assert_eq!(auth.bearer(&token).await.unwrap().user_name, name);
    assert!(auth.bearer("rdx_wrong").await.is_err());
    assert_eq!(
        auth.basic(&name, "s3cret pass", None)
            .await
            .unwrap()
            .user_name,
        name
    );
    assert!(auth.basic(&name, "wrong pass", None).await.is_err());
    assert!(
        auth.basic("nobody-here", "s3cret pass", None)
            .await
            .is_err()
    );

    // The token is stored only as a hash.
    let credentials = store
        .list_credentials(&store.principal_for_user(&name).await.unwrap())
        .await
        .unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0].label, "script");

    let duplicate = Command::new(BIN)
        .args(["user", "add", &name])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
}

/// `rolodex dedupe` reports the duplicate sets of a book and, with `--apply`, merges them.
#[tokio::test]
async fn dedupe_reports_then_merges() {
    let url = common::database_url();
    let store = common::store().await;
    let user = common::user(&store, "cli-dedupe").await;
    let dir = crate::common::temp_dir("cli");
    let file = dir.path().join("two-sources.vcf");
    std::fs::write(
        &file,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Maria García\r\nEMAIL:MARIA@EXAMPLE.ORG\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:Maria Garcia\r\nEMAIL:maria@example.org\r\nTEL:+1 415 555 0101\r\nEND:VCARD\r\n\
         BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:Someone Else\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let name = user.user_name.as_str();
    run(&["import", "--user", name, file.to_str().unwrap()]);
    let report = run(&["dedupe", "--user", name]);
    assert!(report.contains("same email"), "{report}");
    assert!(
        report.contains("Maria García") && report.contains("Maria Garcia"),
        "{report}"
    );
    assert!(report.contains("1 sets, 2 contacts (dry run"), "{report}");
    let applied = run(&["dedupe", "--user", name, "--apply"]);
    assert!(
        applied.contains("1 sets, 2 contacts merged into 1"),
        "{applied}"
    );
    let again = run(&["dedupe", "--user", name]);
    assert!(again.contains("0 sets"), "{again}");
    let export = run(&["export", "--user", name, "--format", "vcf3"]);
    assert_eq!(export.matches("BEGIN:VCARD").count(), 2, "{export}");
    assert!(export.contains("+1 415 555 0101"));
}
