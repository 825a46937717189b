//! Accounts and credentials for real: the `rolodex` binary's `user`, `token`, `app-password`
//! and `address-book` commands (output and exit codes), and that every revocation, password
//! change, disabled or deleted user and expired credential is refused on the very next request
//! by the in-process router and by a second `rolodex serve` process on the same database,
//! over CardDAV Basic (account password and app password) and GraphQL Bearer, including a
//! GraphQL WebSocket opened before the change. GraphQL self-service: listing, creating and
//! revoking credentials, changing the password, and never another user's.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use rolodex::store::{CredentialKind, NewCredential, Principal, Store};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

/// Failed logins the servers of these tests tolerate before throttling: the tests make many
/// on purpose, and a 429 would hide which refusal they check.
const LENIENT_FAILURES: u32 = 10_000;

// ---------------------------------------------------------------------------------------------
// Running the binary

/// `rolodex ARGS` on the test database, with `stdin` as standard input.
fn rolodex(args: &[&str], stdin: Option<&str>) -> Output {
    rolodex_logging(args, stdin, "warn")
}

/// `rolodex ARGS` with this `RUST_LOG`.
fn rolodex_logging(args: &[&str], stdin: Option<&str>, log: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", common::database_url())
        .env("RUST_LOG", log)
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

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs a command that must succeed; its standard output.
#[track_caller]
fn ok(args: &[&str]) -> String {
    let output = rolodex(args, None);
    assert!(
        output.status.success(),
        "rolodex {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs a command that must fail with exit code 1; its standard error.
#[track_caller]
fn fails(args: &[&str]) -> String {
    let output = rolodex(args, None);
    assert_eq!(
        output.status.code(),
        Some(1),
        "rolodex {args:?}: stdout {} stderr {}",
        stdout(&output),
        stderr(&output)
    );
    let message = stderr(&output);
    assert!(message.starts_with("error: "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    message
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A user created with `rolodex user add NAME --password-stdin`.
fn add_user(prefix: &str, password: &str) -> String {
    let name = unique(prefix);
    let output = rolodex(
        &["user", "add", &name, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    name
}

/// `rolodex token create` / `app-password create`: the secret (alone on stdout).
fn create_credential(command: &str, user: &str, label: &str) -> String {
    let secret = ok(&[command, "create", user, "--label", label]);
    let secret = secret.trim().to_owned();
    assert!(!secret.contains('\n') && !secret.is_empty(), "{secret:?}");
    secret
}

/// The id (first column) of the listed credential with this label.
fn listed_id(command: &str, user: &str, label: &str) -> String {
    let list = ok(&[command, "list", user]);
    list.lines()
        .find(|line| line.split('\t').nth(1) == Some(label))
        .unwrap_or_else(|| panic!("no {label} in {list}"))
        .split('\t')
        .next()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Talking to servers

/// A second `rolodex serve` process on the test database, as lenient with failed logins as
/// [`serve_here`]; stopped on drop.
async fn second_server() -> (common::Watched, String) {
    common::serve_process(&[
        (
            "ROLODEX_LOGIN_FAILURES_PER_ADDRESS",
            LENIENT_FAILURES.to_string(),
        ),
        (
            "ROLODEX_LOGIN_FAILURES_PER_USER",
            LENIENT_FAILURES.to_string(),
        ),
    ])
    .await
}

/// The real router of this process on a loopback port, as lenient with failed logins as the
/// second server.
async fn serve_here(store: &Store) -> String {
    common::serve_with_limits(
        store,
        rolodex::limits::Limits {
            login_failures_per_address: LENIENT_FAILURES,
            login_failures_per_user: LENIENT_FAILURES,
            ..Default::default()
        },
    )
    .await
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The status of a CardDAV PROPFIND of the user's address-book home (207 when let in).
async fn dav(base: &str, user: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{base}/dav/addressbooks/{user}/"),
        )
        .header("Authorization", basic(user, password))
        .header("Depth", "0")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A GraphQL request with this `Authorization` value: status and body.
async fn graphql_as(
    base: &str,
    authorization: &str,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .header("Authorization", authorization)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The status of `{ viewer { name } }` with a bearer token (200 when let in).
async fn bearer(base: &str, token: &str) -> u16 {
    let (status, body) = graphql_as(
        base,
        &format!("Bearer {token}"),
        "{ viewer { name } }",
        json!({}),
    )
    .await;
    if status == 200 {
        assert!(body["data"]["viewer"]["name"].is_string(), "{body}");
    } else {
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    status
}

/// `data` of a GraphQL request that must succeed.
async fn data(base: &str, authorization: &str, query: &str, variables: Value) -> Value {
    let (status, body) = graphql_as(base, authorization, query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// The first error of a GraphQL request that must fail in a resolver.
async fn error(base: &str, authorization: &str, query: &str, variables: Value) -> Value {
    let (_, body) = graphql_as(base, authorization, query, variables).await;
    let error = body["errors"][0].clone();
    assert!(!error.is_null(), "expected an error: {body}");
    error
}

/// What both servers answer: the in-process router and the second process.
struct Servers {
    here: String,
    there: String,
    _process: common::Watched,
}

impl Servers {
    async fn start(store: &Store) -> Servers {
        let (process, there) = second_server().await;
        Servers {
            here: serve_here(store).await,
            there,
            _process: process,
        }
    }

    fn both(&self) -> [&str; 2] {
        [&self.here, &self.there]
    }

    /// Asserts the DAV status for this Basic login on both servers.
    async fn expect_dav(&self, user: &str, password: &str, status: u16, what: &str) {
        for base in self.both() {
            assert_eq!(dav(base, user, password).await, status, "{what} at {base}");
        }
    }

    /// Asserts the GraphQL status for this token on both servers.
    async fn expect_bearer(&self, token: &str, status: u16, what: &str) {
        for base in self.both() {
            assert_eq!(bearer(base, token).await, status, "{what} at {base}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CLI

#[tokio::test]
async fn user_list_disable_enable_and_delete() {
    let name = add_user("life", "first password");
    let line = |list: &str| {
        list.lines()
            .find(|l| l.split('\t').next() == Some(name.as_str()))
            .map(str::to_owned)
    };
    let listed = line(&ok(&["user", "list"])).expect("listed");
    let columns: Vec<&str> = listed.split('\t').collect();
    assert_eq!(columns.len(), 3, "{listed}");
    assert!(
        columns[1].ends_with('Z') && columns[1].contains('T'),
        "{listed}"
    );
    assert_eq!(columns[2], "active");

    assert!(ok(&["user", "disable", &name]).contains("disabled"));
    let listed = line(&ok(&["user", "list"])).unwrap();
    assert!(
        listed.ends_with('Z') && listed.contains("\tdisabled since "),
        "{listed}"
    );
    assert!(ok(&["user", "disable", &name]).contains("already disabled"));
    assert!(ok(&["user", "enable", &name]).contains("enabled"));
    assert!(line(&ok(&["user", "list"])).unwrap().ends_with("\tactive"));
    assert!(ok(&["user", "enable", &name]).contains("was not disabled"));

    // A card, so the refusal says what would go.
    let store = common::store().await;
    let principal = store.principal_for_user(&name).await.unwrap();
    let book = common::default_book(&store, &principal).await;
    store
        .create_contact(
            &principal,
            book,
            &rolodex::domain::contact::ContactPatch {
                display_name: Some(Some("Kept".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let refusal = fails(&["user", "delete", &name]);
    assert!(
        refusal.contains("refusing") && refusal.contains("--yes"),
        "{refusal}"
    );
    assert!(
        refusal.contains("1 address book(s) and 1 card(s)"),
        "{refusal}"
    );
    assert!(
        line(&ok(&["user", "list"])).is_some(),
        "deleted without --yes"
    );

    let deleted = ok(&["user", "delete", &name, "--yes"]);
    assert!(
        deleted.contains("deleted user") && deleted.contains("1 card(s)"),
        "{deleted}"
    );
    assert!(line(&ok(&["user", "list"])).is_none());
    // Its books and cards went with it.
    assert!(matches!(
        store.get_address_book(&principal, book).await,
        Err(rolodex::store::StoreError::NotFound)
    ));

    for command in [
        vec!["user", "disable", "nobody-at-all"],
        vec!["user", "enable", "nobody-at-all"],
        vec!["user", "delete", "nobody-at-all", "--yes"],
        vec!["user", "delete", "nobody-at-all"],
        vec!["user", "passwd", "nobody-at-all"],
        vec!["token", "list", "nobody-at-all"],
        vec!["token", "create", "nobody-at-all"],
        vec!["app-password", "revoke", "nobody-at-all", "1"],
        vec!["address-book", "list", "nobody-at-all"],
    ] {
        let message = fails(&command);
        assert!(
            message.contains("no user named \"nobody-at-all\""),
            "{command:?}: {message}"
        );
    }

    // A password no login could carry is refused, before anything is created.
    let empty = unique("empty");
    for (input, reason) in [
        ("\n", "the password is empty"),
        ("a\tb\n", "control characters"),
    ] {
        let output = rolodex(&["user", "add", &empty, "--password-stdin"], Some(input));
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains(reason), "{}", stderr(&output));
    }
    let line = |list: &str| list.lines().any(|l| l.starts_with(&format!("{empty}\t")));
    assert!(!line(&ok(&["user", "list"])));
}

#[tokio::test]
async fn tokens_and_app_passwords_are_listed_expire_and_are_revoked() {
    let name = add_user("creds", "first password");
    let store = common::store().await;
    let auth = rolodex::auth::Authenticator::new(store.clone(), &Default::default());

    assert!(stderr(&rolodex(&["token", "list", &name], None)).contains("has no tokens"));
    assert_eq!(ok(&["token", "list", &name]), "");

    let token = create_credential("token", &name, "laptop");
    assert!(token.starts_with("rdx_"));
    let expiring = rolodex(
        &[
            "token",
            "create",
            &name,
            "--label",
            "ci",
            "--expires-in",
            "30d",
        ],
        None,
    );
    assert!(expiring.status.success(), "{}", stderr(&expiring));
    let expiring_token = stdout(&expiring).trim().to_owned();
    assert!(
        stderr(&expiring).contains("expires 20"),
        "{}",
        stderr(&expiring)
    );
    // Logged as an event, without the secret (alone on stdout).
    let logged = rolodex_logging(
        &["app-password", "create", &name, "--label", "phone"],
        None,
        "info",
    );
    assert!(logged.status.success());
    let app_password = stdout(&logged).trim().to_owned();
    let log = stderr(&logged);
    assert!(log.contains("credential created"), "{log}");
    assert!(
        log.contains("phone") && !log.contains(&app_password),
        "{log}"
    );
    let revoked_log = rolodex_logging(&["token", "revoke", &name, "0"], None, "info");
    assert!(!stderr(&revoked_log).contains("credential revoked"));

    assert_eq!(auth.bearer(&token).await.unwrap().user_name, name);
    assert_eq!(auth.bearer(&expiring_token).await.unwrap().user_name, name);
    assert_eq!(
        auth.basic(&name, &app_password, None)
            .await
            .unwrap()
            .user_name,
        name
    );

    // One line each: id, label, created, last used, expires. Tokens only in `token list`.
    let list = ok(&["token", "list", &name]);
    let lines: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{list}");
    for line in &lines {
        assert_eq!(line.len(), 5, "{list}");
        assert!(line[0].parse::<i64>().is_ok(), "{list}");
        assert!(line[2].ends_with('Z'), "{list}");
    }
    assert_eq!(lines[0][1], "laptop");
    assert_ne!(lines[0][3], "never", "the token was used: {list}");
    assert_eq!(lines[0][4], "never");
    assert_eq!(lines[1][1], "ci");
    let expires = chrono::DateTime::parse_from_rfc3339(lines[1][4]).expect("an expiry time");
    let in_days = (expires.to_utc() - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&in_days), "{list}");
    let apps = ok(&["app-password", "list", &name]);
    assert_eq!(apps.lines().count(), 1, "{apps}");
    assert!(apps.contains("\tphone\t"), "{apps}");

    // Bad lifetimes are usage errors (clap's exit code 2), nothing is created.
    for bad in ["0d", "30", "tomorrow", "-5m"] {
        let output = rolodex(&["token", "create", &name, "--expires-in", bad], None);
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", stderr(&output));
    }
    assert_eq!(ok(&["token", "list", &name]).lines().count(), 2);

    // Revoking: of the right kind and user only, with clear refusals.
    let app_id = listed_id("app-password", &name, "phone");
    let token_id = listed_id("token", &name, "laptop");
    let message = fails(&["token", "revoke", &name, &app_id]);
    assert!(
        message.contains(&format!("has no token with id {app_id}")),
        "{message}"
    );
    let message = fails(&["app-password", "revoke", &name, "999999999"]);
    assert!(
        message.contains("has no app password with id 999999999"),
        "{message}"
    );
    let other = add_user("other", "other password");
    let message = fails(&["token", "revoke", &other, &token_id]);
    assert!(message.contains("has no token"), "{message}");
    assert!(auth.bearer(&token).await.is_ok(), "another user revoked it");

    let revoked = ok(&["token", "revoke", &name, &token_id]);
    assert!(
        revoked.contains(&format!("revoked token {token_id} (laptop)")),
        "{revoked}"
    );
    assert!(auth.bearer(&token).await.is_err());
    assert!(auth.bearer(&expiring_token).await.is_ok());
    fails(&["token", "revoke", &name, &token_id]);
    ok(&["app-password", "revoke", &name, &app_id]);
    assert!(auth.basic(&name, &app_password, None).await.is_err());
    assert!(ok(&["app-password", "list", &name]).is_empty());
}

#[tokio::test]
async fn last_used_is_written_at_most_once_a_minute() {
    let store = common::store().await;
    let alice = common::user(&store, "used").await;
    let token = common::token(&store, &alice).await;
    let hash = rolodex::auth::secret::hash_secret(&token);
    let last_used = || async { store.list_credentials(&alice).await.unwrap()[0].last_used_at };
    assert_eq!(last_used().await, None);
    store
        .principal_for_secret(CredentialKind::Token, &hash)
        .await
        .unwrap()
        .unwrap();
    let first = last_used().await.expect("stamped on first use");
    let before = store.queries_executed();
    for _ in 0..5 {
        store
            .principal_for_secret(CredentialKind::Token, &hash)
            .await
            .unwrap()
            .unwrap();
    }
    // One read per use, no write: the stamp is fresh.
    assert_eq!(store.queries_executed() - before, 5);
    assert_eq!(last_used().await, Some(first));
}

#[tokio::test]
async fn address_books_from_the_command_line() {
    let name = add_user("books", "first password");
    let list = ok(&["address-book", "list", &name]);
    assert_eq!(list, "contacts\tContacts\t0\n");

    let created = ok(&["address-book", "create", &name, "work", "--name", "Work"]);
    assert!(
        created.contains(&format!("/dav/addressbooks/{name}/work/")),
        "{created}"
    );
    ok(&["address-book", "create", &name, "plain"]);
    let message = fails(&["address-book", "create", &name, "work"]);
    assert!(message.contains("already exists"), "{message}");
    let message = fails(&["address-book", "create", &name, "no/slash"]);
    assert!(message.contains("slug"), "{message}");

    // README's own example now works: import into a book made from the command line.
    let dir = crate::common::temp_dir("accounts");
    let file = dir.path().join("one.vcf");
    std::fs::write(
        &file,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:work-1\r\nFN:Ada Work\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let import = rolodex(
        &[
            "import",
            "--user",
            &name,
            file.to_str().unwrap(),
            "--address-book",
            "work",
        ],
        None,
    );
    assert!(import.status.success(), "{}", stderr(&import));
    assert_eq!(
        ok(&["address-book", "list", &name]),
        "contacts\tContacts\t0\nwork\tWork\t1\nplain\tplain\t0\n"
    );

    let renamed = ok(&["address-book", "rename", &name, "work", "--name", "Office"]);
    assert!(renamed.contains("\"Office\""), "{renamed}");
    assert!(ok(&["address-book", "list", &name]).contains("work\tOffice\t1\n"));
    let message = fails(&["address-book", "rename", &name, "nope", "--name", "X"]);
    assert!(
        message.contains(&format!("user {name} has no address book \"nope\"")),
        "{message}"
    );

    let refusal = fails(&["address-book", "delete", &name, "work"]);
    assert!(
        refusal.contains("refusing") && refusal.contains("1 card(s)") && refusal.contains("--yes"),
        "{refusal}"
    );
    assert!(ok(&["address-book", "list", &name]).contains("\nwork\t"));
    let deleted = ok(&["address-book", "delete", &name, "work", "--yes"]);
    assert!(deleted.contains("deleted address book work"), "{deleted}");
    assert_eq!(
        ok(&["address-book", "list", &name]),
        "contacts\tContacts\t0\nplain\tplain\t0\n"
    );
    fails(&["address-book", "delete", &name, "work", "--yes"]);
}

// ---------------------------------------------------------------------------------------------
// Immediacy, in both server processes

#[tokio::test(flavor = "multi_thread")]
async fn every_change_is_refused_on_the_next_request_by_both_servers() {
    let store = common::store().await;
    let servers = Servers::start(&store).await;

    // Revoking an app password and a token.
    let name = add_user("revoke", "first password");
    let app_password = create_credential("app-password", &name, "phone");
    let token = create_credential("token", &name, "laptop");
    // Twice: the second request of each server may be answered from what it remembers.
    for _ in 0..2 {
        servers
            .expect_dav(&name, &app_password, 207, "app password")
            .await;
        servers
            .expect_dav(&name, "first password", 207, "password")
            .await;
        servers.expect_bearer(&token, 200, "token").await;
    }
    ok(&[
        "app-password",
        "revoke",
        &name,
        &listed_id("app-password", &name, "phone"),
    ]);
    servers
        .expect_dav(&name, &app_password, 401, "revoked app password")
        .await;
    servers
        .expect_dav(&name, "first password", 207, "password")
        .await;
    servers.expect_bearer(&token, 200, "token").await;
    ok(&[
        "token",
        "revoke",
        &name,
        &listed_id("token", &name, "laptop"),
    ]);
    servers.expect_bearer(&token, 401, "revoked token").await;

    // Changing the password (also a Basic login to GraphQL, which shares the check).
    ok_with_stdin(
        &["user", "passwd", &name, "--password-stdin"],
        "second password\n",
    );
    servers
        .expect_dav(&name, "first password", 401, "old password")
        .await;
    for base in servers.both() {
        let (status, _) = graphql_as(
            base,
            &basic(&name, "first password"),
            "{ viewer { name } }",
            json!({}),
        )
        .await;
        assert_eq!(status, 401, "old password on GraphQL at {base}");
    }
    servers
        .expect_dav(&name, "second password", 207, "new password")
        .await;
    servers
        .expect_dav(&name, "second password", 207, "new password, again")
        .await;

    // Disabling refuses everything of the user; enabling lets it in again.
    let token = create_credential("token", &name, "laptop");
    let app_password = create_credential("app-password", &name, "tablet");
    servers.expect_bearer(&token, 200, "token").await;
    ok(&["user", "disable", &name]);
    servers
        .expect_dav(&name, "second password", 401, "disabled: password")
        .await;
    servers
        .expect_dav(&name, &app_password, 401, "disabled: app password")
        .await;
    servers.expect_bearer(&token, 401, "disabled: token").await;
    ok(&["user", "enable", &name]);
    servers
        .expect_dav(&name, "second password", 207, "enabled: password")
        .await;
    servers
        .expect_dav(&name, &app_password, 207, "enabled: app password")
        .await;
    servers.expect_bearer(&token, 200, "enabled: token").await;

    // Deleting refuses everything too.
    ok(&["user", "delete", &name, "--yes"]);
    servers
        .expect_dav(&name, "second password", 401, "deleted: password")
        .await;
    servers
        .expect_dav(&name, &app_password, 401, "deleted: app password")
        .await;
    servers.expect_bearer(&token, 401, "deleted: token").await;

    // Expiry: by the database's clock, the same for every process.
    let principal = common::user(&store, "expiry").await;
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let expired_token = stored_credential(&store, &principal, CredentialKind::Token, past).await;
    let valid_token = stored_credential(&store, &principal, CredentialKind::Token, future).await;
    let expired_app =
        stored_credential(&store, &principal, CredentialKind::AppPassword, past).await;
    servers
        .expect_bearer(&expired_token, 401, "expired token")
        .await;
    servers
        .expect_bearer(&valid_token, 200, "unexpired token")
        .await;
    servers
        .expect_dav(
            &principal.user_name,
            &expired_app,
            401,
            "expired app password",
        )
        .await;
    servers
        .expect_dav(&principal.user_name, "test password", 207, "password")
        .await;
}

#[track_caller]
fn ok_with_stdin(args: &[&str], stdin: &str) {
    let output = rolodex(args, Some(stdin));
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
}

/// A credential stored directly, with an expiry the CLI would not give (one in the past).
async fn stored_credential(
    store: &Store,
    principal: &Principal,
    kind: CredentialKind,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> String {
    let secret = rolodex::auth::secret::generate_token();
    store
        .create_credential(
            principal,
            NewCredential {
                kind,
                label: "stored",
                secret_hash: &rolodex::auth::secret::hash_secret(&secret),
            },
            Some(expires_at),
        )
        .await
        .unwrap();
    secret
}

// ---------------------------------------------------------------------------------------------
// GraphQL self-service

const CREDENTIALS: &str =
    "{ viewer { credentials { id databaseId kind label createdAt lastUsedAt expiresAt } } }";

#[tokio::test]
async fn graphql_credentials_self_service_and_tenant_isolation() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let bob = common::user(&store, "bob").await;
    let alice_token = format!("Bearer {}", common::token(&store, &alice).await);
    let bob_token = format!("Bearer {}", common::token(&store, &bob).await);
    let base = serve_here(&store).await;

    let listed = data(&base, &alice_token, CREDENTIALS, json!({})).await;
    let credentials = listed["viewer"]["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["kind"], "TOKEN");
    assert_eq!(credentials[0]["label"], "test");
    assert!(
        credentials[0]["lastUsedAt"].is_string(),
        "used by this request"
    );
    assert!(credentials[0]["expiresAt"].is_null());

    // An app password, shown once, works for CardDAV at once.
    let created = data(
        &base,
        &alice_token,
        "mutation { createAppPassword(label: \"phone\") { secret credential { id label kind expiresAt } } }",
        json!({}),
    )
    .await["createAppPassword"]
        .clone();
    let app_password = created["secret"].as_str().unwrap().to_owned();
    let app_id = created["credential"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["credential"]["kind"], "APP_PASSWORD");
    assert!(created["credential"]["expiresAt"].is_null());
    assert_eq!(dav(&base, &alice.user_name, &app_password).await, 207);

    // A token with a lifetime, in seconds.
    let created = data(
        &base,
        &alice_token,
        "mutation($s: Int) { createToken(label: \"script\", expiresIn: $s) { secret credential { id databaseId expiresAt } } }",
        json!({ "s": 3600 }),
    )
    .await["createToken"]
        .clone();
    let script_token = created["secret"].as_str().unwrap().to_owned();
    assert!(script_token.starts_with("rdx_"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["credential"]["expiresAt"].as_str().unwrap())
            .unwrap();
    let minutes = (expires.to_utc() - chrono::Utc::now()).num_minutes();
    assert!((55..=60).contains(&minutes), "{created}");
    assert_eq!(bearer(&base, &script_token).await, 200);
    let script_id = created["credential"]["id"].as_str().unwrap().to_owned();
    let script_number = created["credential"]["databaseId"].as_i64().unwrap();

    // The secrets are nowhere in the list.
    let listed = data(&base, &alice_token, CREDENTIALS, json!({})).await;
    assert_eq!(listed["viewer"]["credentials"].as_array().unwrap().len(), 3);
    let text = listed.to_string();
    assert!(!text.contains(&app_password) && !text.contains(&script_token));

    for (query, field) in [
        (
            "mutation { createToken(label: \"x\", expiresIn: 0) { secret } }",
            "expiresIn",
        ),
        (
            "mutation { createAppPassword(label: \"x\", expiresIn: -5) { secret } }",
            "expiresIn",
        ),
        ("mutation { createToken(label: \"\") { secret } }", "label"),
        (
            "mutation { createToken(label: \"two\\nlines\") { secret } }",
            "label",
        ),
    ] {
        let error = error(&base, &alice_token, query, json!({})).await;
        assert_eq!(
            error["extensions"]["code"], "VALIDATION",
            "{query}: {error}"
        );
        assert_eq!(error["extensions"]["field"], field, "{query}: {error}");
    }

    // Bob sees only his own, and cannot revoke or read alice's: NOT_FOUND, as for nothing.
    let bobs = data(&base, &bob_token, CREDENTIALS, json!({})).await;
    assert_eq!(bobs["viewer"]["credentials"].as_array().unwrap().len(), 1);
    for id in [json!(script_id), json!(script_number.to_string())] {
        let error = error(
            &base,
            &bob_token,
            "mutation($id: ID!) { revokeCredential(id: $id) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
        assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
    }
    let node = data(
        &base,
        &bob_token,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": script_id }),
    )
    .await;
    assert!(node["node"].is_null());
    assert_eq!(bearer(&base, &script_token).await, 200, "bob revoked it");
    let own = data(
        &base,
        &alice_token,
        "query($id: ID!) { node(id: $id) { ... on Credential { label } } }",
        json!({ "id": script_id }),
    )
    .await;
    assert_eq!(own["node"]["label"], "script");

    // Alice revokes: the next request with it is refused, also the credential's own.
    let revoked = data(
        &base,
        &alice_token,
        "mutation($id: ID!) { revokeCredential(id: $id) { deletedId } }",
        json!({ "id": script_id }),
    )
    .await;
    assert_eq!(revoked["revokeCredential"]["deletedId"], script_id.as_str());
    assert_eq!(bearer(&base, &script_token).await, 401);
    let error = error(
        &base,
        &alice_token,
        "mutation($id: ID!) { revokeCredential(id: $id) { deletedId } }",
        json!({ "id": script_id }),
    )
    .await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND");
    // Revoked with the app password itself, over Basic.
    data(
        &base,
        &basic(&alice.user_name, &app_password),
        "mutation($id: ID!) { revokeCredential(id: $id) { deletedId } }",
        json!({ "id": app_id }),
    )
    .await;
    assert_eq!(dav(&base, &alice.user_name, &app_password).await, 401);
}

#[tokio::test]
async fn graphql_change_password() {
    let store = common::store().await;
    let alice = common::user(&store, "passwd").await;
    let token = format!("Bearer {}", common::token(&store, &alice).await);
    let base = serve_here(&store).await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

    assert_eq!(dav(&base, &alice.user_name, "test password").await, 207);
    let wrong = error(
        &base,
        &token,
        change,
        json!({ "c": "not my password", "n": "a new password" }),
    )
    .await;
    assert_eq!(wrong["extensions"]["code"], "VALIDATION", "{wrong}");
    assert_eq!(wrong["extensions"]["field"], "currentPassword", "{wrong}");
    let short = error(
        &base,
        &token,
        change,
        json!({ "c": "test password", "n": "short" }),
    )
    .await;
    assert_eq!(short["extensions"]["field"], "newPassword", "{short}");
    assert_eq!(dav(&base, &alice.user_name, "test password").await, 207);

    let changed = data(
        &base,
        &token,
        change,
        json!({ "c": "test password", "n": "a new password" }),
    )
    .await;
    assert_eq!(changed["changePassword"], true);
    assert_eq!(dav(&base, &alice.user_name, "test password").await, 401);
    assert_eq!(dav(&base, &alice.user_name, "a new password").await, 207);
    // The token stays valid, and a Basic login with the new password changes it back.
    let again = data(
        &base,
        &basic(&alice.user_name, "a new password"),
        change,
        json!({ "c": "a new password", "n": "test password" }),
    )
    .await;
    assert_eq!(again["changePassword"], true);
    assert_eq!(dav(&base, &alice.user_name, "a new password").await, 401);
    assert_eq!(dav(&base, &alice.user_name, "test password").await, 207);
}

// ---------------------------------------------------------------------------------------------
// A WebSocket opened before the change

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("no message in time"),
        }
    }
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_is_revoked() {
    let store = common::store().await;
    let alice = common::user(&store, "wsrevoke").await;
    let token = common::token(&store, &alice).await;
    let book = common::default_book(&store, &alice).await;
    let book_id =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("AddressBook:{book}"));
    let base = serve_here(&store).await;

    let mut request = format!("{}/graphql/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let send = |message: Value| Message::text(message.to_string());
    socket
        .send(send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let subscribe = |id: &str| {
        send(json!({
            "id": id,
            "type": "subscribe",
            "payload": {
                "query": "subscription($b: ID!) { contactChanged(addressBookId: $b) { databaseId } }",
                "variables": { "b": book_id }
            }
        }))
    };
    socket.send(subscribe("1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let patch = |name: &str| rolodex::domain::contact::ContactPatch {
        display_name: Some(Some(name.into())),
        ..Default::default()
    };
    let first = store
        .create_contact(&alice, book, &patch("Before"))
        .await
        .unwrap();
    let event = next(&mut socket).await.unwrap();
    assert_eq!(
        event["payload"]["data"]["contactChanged"]["databaseId"],
        first.id
    );

    // Revoked by an administrator (another process): the next event is refused.
    let id = store.list_credentials(&alice).await.unwrap()[0].id;
    store.revoke_credential(&alice, id, None).await.unwrap();
    store
        .create_contact(&alice, book, &patch("After"))
        .await
        .unwrap();
    let event = next(&mut socket).await.unwrap();
    assert_eq!(event["type"], "next", "{event}");
    assert!(event["payload"]["data"].is_null(), "{event}");
    assert_eq!(
        event["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{event}"
    );
    let complete = next(&mut socket).await.unwrap();
    assert_eq!(complete["type"], "complete", "{complete}");
    assert_eq!(complete["id"], "1");

    // Anything started on the connection now is refused too.
    socket.send(subscribe("2")).await.unwrap();
    let reply = next(&mut socket).await.unwrap();
    assert_eq!(reply["id"], "2", "{reply}");
    let code = match reply["type"].as_str() {
        Some("error") => reply["payload"][0]["extensions"]["code"].clone(),
        _ => reply["payload"]["errors"][0]["extensions"]["code"].clone(),
    };
    assert_eq!(code, "UNAUTHENTICATED", "{reply}");
}

// ---------------------------------------------------------------------------------------------
// Measurement (not run by default; prints, asserts nothing about time)

/// What a phone's sync of 10 requests costs with the account password, now that every login
/// reads the user row, next to the same sync with an app password. Run with
/// `cargo test --release --test it accounts::measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn measure_a_ten_request_sync_with_a_password() {
    let store = common::store().await;
    let alice = common::user(&store, "measure").await;
    let app_password = stored_credential(
        &store,
        &alice,
        CredentialKind::AppPassword,
        chrono::Utc::now() + chrono::Duration::days(1),
    )
    .await;
    let base = serve_here(&store).await;
    let sync = |password: String| {
        let (base, user) = (base.clone(), alice.user_name.clone());
        async move {
            let started = Instant::now();
            for _ in 0..10 {
                assert_eq!(dav(&base, &user, &password).await, 207);
            }
            started.elapsed()
        }
    };
    let first = sync("test password".into()).await;
    let mut password = Vec::new();
    let mut app = Vec::new();
    for _ in 0..5 {
        password.push(sync("test password".into()).await);
        app.push(sync(app_password.clone()).await);
    }
    let queries = store.queries_executed();
    sync("test password".into()).await;
    let per_sync = store.queries_executed() - queries;
    println!("first sync with the password (one argon2 check): {first:?}");
    println!("later syncs with the password: {password:?}");
    println!("syncs with an app password:    {app:?}");
    println!("queries of a 10-request password sync: {per_sync}");
}
