//! Backups for real, over the `rolodex` binary: a server holding cards written over CardDAV is
//! backed up while it serves; the backup is restored into another data directory and served
//! from there. Every card comes back byte for byte with its ETag, and a sync token handed out
//! before the backup still answers the same changes. Restoring over data is refused, and so is
//! a file that is no backup. `rolodex psql` opens a SQL shell on the managed cluster.

use crate::common;
use crate::ops_support;

use base64::Engine;
use ops_support::{Server, fails, ok, rolodex, work_dir};

const PASSWORD: &str = "backup test password";

/// Cards as phones upload them: a 3.0 card with folded lines, non-ASCII text and a photo; a
/// 4.0 card; a group.
const CARDS: [(&str, &str); 4] = [
    (
        "ada.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL;TYPE=INTERNET,HOME:ada@example.org\r\nTEL;TYPE=CELL:+44 20 7946 0000\r\nNOTE:Wrote the first pro\r\n gram; ça va — 数学\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\nX-CUSTOM-THING;X-PARAM=1:kept as sent\r\nEND:VCARD\r\n",
    ),
    (
        "grace.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:0b6f0a5e-1111-4c3b-9d7e-000000000002\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;Rear Admiral;\r\nEMAIL;TYPE=work:grace@navy.example\r\nADR;TYPE=work:;;1 Navy Way;Arlington;VA;22202;USA\r\nEND:VCARD\r\n",
    ),
    (
        "linus.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:linus-3\r\nFN:Linus\r\nN:;Linus;;;\r\nORG:Kernel\r\nEND:VCARD\r\n",
    ),
    (
        "friends.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:group-friends\r\nFN:Friends\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:ada-1\r\nEND:VCARD\r\n",
    ),
];

const SYNC: &str = r#"<?xml version="1.0" encoding="utf-8"?><sync-collection xmlns="DAV:"><sync-token>{TOKEN}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;

struct Dav {
    client: reqwest::Client,
    base: String,
    user: String,
}

impl Dav {
    fn book(&self) -> String {
        format!("{}/dav/addressbooks/{}/contacts/", self.base, self.user)
    }

    fn auth(&self) -> String {
        let pair = format!("{}:{PASSWORD}", self.user);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    async fn put(&self, name: &str, card: &str) {
        let response = self
            .client
            .put(format!("{}{name}", self.book()))
            .header("Authorization", self.auth())
            .header("Content-Type", "text/vcard; charset=utf-8")
            .body(card.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "PUT {name}");
    }

    async fn delete(&self, name: &str) {
        let response = self
            .client
            .delete(format!("{}{name}", self.book()))
            .header("Authorization", self.auth())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "DELETE {name}");
    }

    /// The card's bytes and ETag as the server serves them.
    async fn get(&self, name: &str) -> (Vec<u8>, String) {
        let response = self
            .client
            .get(format!("{}{name}", self.book()))
            .header("Authorization", self.auth())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {name}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        (response.bytes().await.unwrap().to_vec(), etag)
    }

    /// A sync-collection REPORT from `token` ("" for an initial sync): status and body.
    async fn sync(&self, token: &str) -> (u16, String) {
        let response = self
            .client
            .request(reqwest::Method::from_bytes(b"REPORT").unwrap(), self.book())
            .header("Authorization", self.auth())
            .header("Content-Type", "application/xml")
            .body(SYNC.replace("{TOKEN}", token))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// The text of the first `<…sync-token>` element of a multistatus.
fn sync_token(body: &str) -> String {
    let start = body.find("sync-token>").expect("a sync token") + "sync-token>".len();
    let end = start + body[start..].find('<').unwrap();
    body[start..end].to_owned()
}

#[tokio::test]
async fn backup_while_serving_restores_every_card_and_sync_token() {
    let work = work_dir();
    let cwd = work.path();
    let original = Server::start(cwd, "original").await;
    let user = "alice";
    let output = rolodex(
        cwd,
        &[
            "--data-dir",
            "original",
            "user",
            "add",
            user,
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        output.status.success(),
        "{}",
        ops_support::text(&output.stderr)
    );
    let dav = Dav {
        client: reqwest::Client::new(),
        base: original.base.clone(),
        user: user.to_owned(),
    };
    for (name, card) in &CARDS[..3] {
        dav.put(name, card).await;
    }
    let (status, initial) = dav.sync("").await;
    assert_eq!(status, 207);
    let old_token = sync_token(&initial);
    // Changes after the token a phone holds: one card added, one deleted.
    dav.put(CARDS[3].0, CARDS[3].1).await;
    dav.delete("linus.vcf").await;
    let (status, changes_before) = dav.sync(&old_token).await;
    assert_eq!(status, 207);
    assert!(changes_before.contains("friends.vcf") && changes_before.contains("linus.vcf"));

    let backup = cwd.join("rolodex.backup");
    let said = ok(
        cwd,
        &["--data-dir", "original", "backup", "-o", "rolodex.backup"],
    );
    assert!(said.contains(&backup.canonicalize().unwrap().display().to_string()));
    // The original server kept serving during the backup, and still does.
    assert_eq!(dav.get("ada.vcf").await.0, CARDS[0].1.as_bytes());
    let mut served = Vec::new();
    for (name, _) in [CARDS[0], CARDS[1], CARDS[3]] {
        served.push((name, dav.get(name).await));
    }
    // Written later: not in the backup, so not in the restored server.
    dav.put(
        "late.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:late\r\nFN:Late\r\nEND:VCARD\r\n",
    )
    .await;

    ok(
        cwd,
        &["--data-dir", "restored", "restore", "rolodex.backup"],
    );
    let restored = Server::start(cwd, "restored").await;
    let copy = Dav {
        base: restored.base.clone(),
        ..dav
    };
    for (name, (bytes, etag)) in &served {
        let (restored_bytes, restored_etag) = copy.get(name).await;
        assert_eq!(&restored_bytes, bytes, "{name} changed");
        assert_eq!(&restored_etag, etag, "{name}'s ETag changed");
    }
    for (name, card) in [CARDS[0], CARDS[1], CARDS[3]] {
        assert_eq!(
            copy.get(name).await.0,
            card.as_bytes(),
            "{name} is not as PUT"
        );
    }
    let gone = copy
        .client
        .get(format!("{}late.vcf", copy.book()))
        .header("Authorization", copy.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    let (status, changes_after) = copy.sync(&old_token).await;
    assert_eq!(status, 207, "{changes_after}");
    assert!(
        !changes_after.contains("valid-sync-token"),
        "{changes_after}"
    );
    assert_eq!(changes_after, changes_before);

    // Restoring over data is refused, naming the directory: while a server runs on it...
    let busy = fails(
        cwd,
        &["--data-dir", "restored", "restore", "rolodex.backup"],
    );
    assert!(busy.contains("in use by another running rolodex"), "{busy}");
    // ...and once it is stopped.
    drop(restored);
    let refused = fails(
        cwd,
        &["--data-dir", "restored", "restore", "rolodex.backup"],
    );
    let restored_dir = cwd.canonicalize().unwrap().join("restored");
    assert!(
        refused.contains(&format!(
            "refusing to restore into the managed PostgreSQL in {}",
            restored_dir.display()
        )),
        "{refused}"
    );
    assert!(refused.contains("already holds data"), "{refused}");
    drop(original);
}

#[test]
fn restore_refuses_a_file_that_is_no_backup_and_backup_a_directory() {
    let work = work_dir();
    let cwd = work.path();
    std::fs::write(cwd.join("contacts.vcf"), "BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
    let stderr = fails(cwd, &["--data-dir", "target", "restore", "contacts.vcf"]);
    assert!(stderr.contains("is not a rolodex backup"), "{stderr}");
    let missing = fails(cwd, &["--data-dir", "target", "restore", "missing.backup"]);
    assert!(missing.contains("missing.backup"), "{missing}");
    let directory = fails(cwd, &["--data-dir", "target", "backup", "-o", "."]);
    assert!(directory.contains("is a directory"), "{directory}");
    // Nothing was created for any of them.
    assert!(!cwd.join("target").exists());
}

#[tokio::test]
async fn psql_opens_the_managed_cluster() {
    let work = work_dir();
    let cwd = work.path();
    let server = Server::start(cwd, "data").await;
    let output = rolodex(
        cwd,
        &[
            "--data-dir",
            "data",
            "user",
            "add",
            "bob",
            "--password-stdin",
        ],
        Some("a password\n"),
    );
    assert!(output.status.success());
    // Beside the running server, and (once stopped) on its own, starting the cluster itself.
    for _ in 0..2 {
        let out = ok(
            cwd,
            &[
                "--data-dir",
                "data",
                "psql",
                "--",
                "-tAc",
                "SELECT name FROM users ORDER BY name",
            ],
        );
        assert_eq!(out.trim(), "bob");
    }
    drop(server);
    let out = ok(
        cwd,
        &[
            "--data-dir",
            "data",
            "psql",
            "--",
            "-tAc",
            "SELECT count(*) FROM users",
        ],
    );
    assert_eq!(out.trim(), "1");
    // psql's own failure is rolodex's.
    let stderr = fails(
        cwd,
        &[
            "--data-dir",
            "data",
            "psql",
            "--",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "SELECT nonsense",
        ],
    );
    assert!(stderr.contains("psql failed"), "{stderr}");
}

/// With `DATABASE_URL`: a backup of one database restores into another, empty one, owned by
/// a role that is no superuser (as on a hosted PostgreSQL), and not over data.
#[tokio::test]
async fn backup_and_restore_with_database_url() {
    let shared = common::database_url();
    // The server's own role may not create databases; the cluster's superuser may.
    let app_role = shared
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .unwrap()
        .to_owned();
    let (client, connection) = tokio_postgres::connect(&common::admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (source, target) = (
        format!("backup_src_{suffix}"),
        format!("backup_dst_{suffix}"),
    );
    let owner = format!("backup_owner_{suffix}");
    // One statement each: CREATE DATABASE cannot run in the implicit transaction of a batch.
    for statement in [
        format!("CREATE DATABASE {source} OWNER {app_role}"),
        format!("CREATE ROLE {owner} LOGIN"),
        format!("CREATE DATABASE {target} OWNER {owner}"),
    ] {
        client.batch_execute(&statement).await.unwrap();
    }
    // The same server, another database (and for the target, its owner).
    let url_of = |name: &str| common::url_with_database(&shared, name);
    let target_url = url_of(&target).replacen(&format!("{app_role}@"), &format!("{owner}@"), 1);
    let work = work_dir();
    let cwd = work.path();
    let with_url = |url: &str, args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(ops_support::BIN)
            .args(args)
            .current_dir(cwd)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    };
    let source_url = url_of(&source);
    let added = with_url(
        &source_url,
        &["user", "add", "carol", "--password-stdin"],
        Some("pw\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        ops_support::text(&added.stderr)
    );
    let backup = with_url(&source_url, &["backup", "-o", "db.backup"], None);
    assert!(
        backup.status.success(),
        "{}",
        ops_support::text(&backup.stderr)
    );

    let restored = with_url(&target_url, &["restore", "db.backup"], None);
    assert!(
        restored.status.success(),
        "{}",
        ops_support::text(&restored.stderr)
    );
    let users = with_url(&target_url, &["user", "list"], None);
    assert!(ops_support::text(&users.stdout).starts_with("carol\t"));

    let again = with_url(&target_url, &["restore", "db.backup"], None);
    assert_eq!(again.status.code(), Some(1));
    let stderr = ops_support::text(&again.stderr);
    assert!(stderr.contains("refusing to restore into"), "{stderr}");
    assert!(stderr.contains(&format!("database {target}")), "{stderr}");

    // Leave an external server (DATABASE_URL) as it was: these are not the harness's own.
    for statement in [
        format!("DROP DATABASE {source} WITH (FORCE)"),
        format!("DROP DATABASE {target} WITH (FORCE)"),
        format!("DROP ROLE {owner}"),
    ] {
        client.batch_execute(&statement).await.unwrap();
    }
}
