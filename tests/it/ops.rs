//! Running the server for real, as a new operator meets it: administrative commands pointed at
//! a directory without a cluster stop and say where they looked and how to start a server
//! there (creating nothing), and one they may not look into says so; `serve` says which directory it uses, takes its port before
//! starting PostgreSQL, writes no colour codes into a log file and answers `/` with a page
//! naming the front ends; an unreachable `DATABASE_URL` is named with its cause.

use crate::ops_support;

use std::time::{Duration, Instant};

use ops_support::{Server, fails, rolodex, text, work_dir};

#[test]
fn admin_commands_never_create_a_cluster() {
    let work = work_dir();
    let cwd = work.path();
    std::fs::write(
        cwd.join("one.vcf"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let commands: &[&[&str]] = &[
        &["migrate"],
        &["user", "list"],
        &["user", "add", "alice"],
        &["token", "create", "alice"],
        &["app-password", "list", "alice"],
        &["address-book", "list", "alice"],
        &["import", "--user", "alice", "one.vcf"],
        &["export", "--user", "alice", "--format", "vcf3"],
        &["dedupe", "--user", "alice"],
        &["backup", "-o", "backup.dump"],
        &["psql", "--", "-c", "SELECT 1"],
    ];
    // The default (./rolodex-data) and a relative --data-dir are both reported absolute.
    for (data_dir, relative) in [
        (None, "rolodex-data"),
        (Some("elsewhere/data"), "elsewhere/data"),
    ] {
        let path = cwd.canonicalize().unwrap().join(relative);
        for command in commands {
            let mut args: Vec<&str> = Vec::new();
            if let Some(dir) = data_dir {
                args.extend(["--data-dir", dir]);
            }
            args.extend(command.iter());
            let stderr = fails(cwd, &args);
            assert!(
                stderr.contains(&format!("no Rolodex data in {}", path.display())),
                "{args:?}: {stderr}"
            );
            assert!(
                stderr.contains(&format!("rolodex serve --data-dir {}", path.display())),
                "{args:?}: {stderr}"
            );
            assert!(!path.exists(), "{args:?} created {}", path.display());
        }
    }
    assert!(!cwd.join("backup.dump").exists());
}

#[tokio::test]
async fn a_busy_port_fails_before_postgres_starts() {
    let work = work_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let started = Instant::now();
    let output = rolodex(
        work.path(),
        &["serve", "--data-dir", "data", "--listen", &address],
        None,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    // Before initdb: the data directory was never even created.
    assert!(!work.path().join("data").exists());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn serve_names_its_directory_logs_plainly_and_answers_a_browser() {
    let work = work_dir();
    let server = Server::start(work.path(), "relative-data").await;

    let response = reqwest::get(format!("{}/", server.base)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    let base = &server.base;
    for url in [
        format!("{base}/graphql"),
        format!("{base}/.well-known/carddav"),
        format!("{base}/dav/"),
    ] {
        assert!(page.contains(&url), "{url} not on the page: {page}");
    }
    // The links on it lead somewhere.
    let playground = reqwest::get(format!("{base}/graphql")).await.unwrap();
    assert_eq!(playground.status(), 200);

    let log = server.stop();
    let absolute = work.path().canonicalize().unwrap().join("relative-data");
    assert!(
        log.contains(&format!("data_dir={}", absolute.display())),
        "{log}"
    );
    assert!(log.contains("rolodex is listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

#[test]
fn an_unreachable_database_url_names_where_and_why() {
    let work = work_dir();
    let port = ops_support::free_port();
    let output = std::process::Command::new(ops_support::BIN)
        .args(["user", "list"])
        .current_dir(work.path())
        .env(
            "DATABASE_URL",
            format!("postgres://app:hunter2secret@127.0.0.1:{port}/contacts"),
        )
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "host 127.0.0.1 port {port}, database contacts, user app"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
}

/// A data directory the command may not look into (the server's user's, mode 0700) is named
/// as such: "no data here, start a server" would send the operator to create a second one.
#[test]
fn an_unreadable_data_directory_is_not_called_empty() {
    use std::os::unix::fs::PermissionsExt;
    let work = work_dir();
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("pgdata")).unwrap();
    std::fs::write(data.join("pgdata/PG_VERSION"), "15\n").unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = if root {
        // Root reads everything: run the command as a user the directory is closed to.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "nobody", "--", ops_support::BIN]);
        command
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::process::Command::new(ops_support::BIN)
    };
    let output = command
        .args(["--data-dir", data.to_str().unwrap(), "user", "list"])
        .current_dir(work.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    // Let the temporary directory be removed.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot look into {}", data.display())),
        "{stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!stderr.contains("no Rolodex data"), "{stderr}");
}
