//! Interoperability with a real third-party GraphQL client: Python `gql` (from PyPI, with its
//! aiohttp and websockets transports) against the real router on a loopback port. The script
//! `tests/interop/gql_client.py` runs introspection, a query, a createContact mutation and the
//! `contactChanged` subscription over both WebSocket protocols (the token in the
//! `connection_init` payload), and prints what it saw as JSON; this test checks it, and checks
//! through the store that the client's writes really landed.
//!
//! gql comes from `target/interop-venv` (or `$ROLODEX_INTEROP_VENV`), where `scripts/test`
//! installs it beside vdirsyncer; without it the test fails naming that script, it never skips.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

/// The pip requirement (the same as in `scripts/test`): gql 4 (its `GraphQLRequest` API) with both async transports.
const GQL_REQUIREMENT: &str = "gql[aiohttp,websockets]>=4,<5";

fn venv_dir() -> PathBuf {
    match std::env::var_os("ROLODEX_INTEROP_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv"),
    }
}

/// The venv's python with gql importable (`scripts/test` installs it); fails saying so when
/// it is missing (tests never install anything).
fn ensure_gql() -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let has_gql = std::process::Command::new(&python)
        .args([
            "-c",
            "import gql, aiohttp, websockets; assert gql.__version__.startswith('4.')",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_gql,
        "{GQL_REQUIREMENT} not importable by {}: run the suite with `scripts/test`, which \
         installs it into that venv (or set ROLODEX_INTEROP_VENV to a venv that has it)",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_gql_client_introspects_queries_mutates_and_subscribes() {
    let python = tokio::task::spawn_blocking(ensure_gql).await.unwrap();
    let store = common::store().await;
    let user = common::user(&store, "gqlpy").await;
    let token = common::token(&store, &user).await;
    let base = common::serve(&store).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/gql_client.py");
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("ROLODEX_URL", &base)
        .env("ROLODEX_TOKEN", &token)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the gql client did not finish within 3 minutes")
        .expect("gql client output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the gql client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no JSON from the gql client ({e}):\n{stdout}\n{stderr}"));
    let context = || serde_json::to_string_pretty(&result).unwrap();
    println!("gql client saw:\n{}", context());

    // No credentials: HTTP 401 with a GraphQL error body that gql reports with its code.
    let refused = &result["unauthenticated"];
    assert_eq!(refused["httpStatus"], json!(401), "{}", context());
    assert_eq!(
        refused["gqlError"],
        json!("TransportQueryError"),
        "{}",
        context()
    );
    assert_eq!(refused["code"], json!("UNAUTHENTICATED"), "{}", context());
    assert!(
        refused["wwwAuthenticate"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "{}",
        context()
    );

    // Introspection gave gql the schema (and gql validated every document against it).
    let types: Vec<&str> = result["schemaTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for expected in [
        "Contact",
        "ContactChangeEvent",
        "ContactConnection",
        "Viewer",
    ] {
        assert!(types.contains(&expected), "{expected} missing: {types:?}");
    }
    assert_eq!(result["subscriptionFields"], json!(["contactChanged"]));

    // The query and the mutation.
    assert_eq!(
        result["viewer"]["name"],
        json!(user.user_name),
        "{}",
        context()
    );
    let created = &result["created"];
    assert_eq!(created["contact"]["displayName"], json!("Grace Hopper"));
    assert_eq!(
        created["contact"]["emails"][0]["email"],
        json!("grace@example.org")
    );
    assert_eq!(
        created["contact"]["phoneNumbers"][0]["normalized"],
        json!("+12025550142")
    );
    assert!(created["etag"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(result["search"]["totalCount"], json!(1), "{}", context());
    assert_eq!(
        result["search"]["edges"][0]["node"]["id"],
        created["contact"]["id"]
    );

    // One event per WebSocket protocol, for a contact the script created.
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let sub = &result["subscriptions"][protocol];
        assert_eq!(sub["protocol"], json!(protocol), "{}", context());
        let event = &sub["event"];
        assert_eq!(event["operation"], json!("UPSERT"), "{}", context());
        let name = event["contact"]["displayName"].as_str().unwrap();
        let sent: Vec<&str> = sub["sent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            sent.contains(&name),
            "{protocol}: event for {name}, sent {sent:?}"
        );
        assert!(event["changeToken"].as_str().is_some_and(|t| !t.is_empty()));
    }

    // The writes are really in the store, under this user's default address book.
    let book = common::default_book(&store, &user).await;
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({
            "query": "query($id: ID!) { contact(id: $id) { displayName addressBook { databaseId } } }",
            "variables": { "id": created["contact"]["id"] }
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["contact"]["displayName"],
        json!("Grace Hopper"),
        "{body}"
    );
    assert_eq!(
        body["data"]["contact"]["addressBook"]["databaseId"],
        json!(book),
        "{body}"
    );
}
