//! The GraphiQL playground on `GET /graphql`, in a real browser: Debian's headless Chromium
//! against the real router on a loopback port, with nothing fetched from outside (GraphiQL and
//! React are served by the binary from `/graphql/assets/`).
//!
//! - `playground_renders_in_headless_chromium`: `--dump-dom` after the scripts ran shows
//!   GraphiQL's rendered UI (container, editors, headers editor with the token placeholder, the
//!   docs explorer) and the server's 401 answer to the token-less introspection; a
//!   `--screenshot` is taken too.
//! - `playground_works_with_a_token_in_the_headers_editor`: drives the page over the DevTools
//!   protocol like a person: pastes a token into the headers editor, sees the docs explorer
//!   load the schema, runs a query, and runs a subscription that receives a change.
//!
//! With `ROLODEX_PLAYGROUND_SCREENSHOTS=<dir>`, both tests leave screenshots there to look at.
//!
//! Chromium is `/usr/bin/chromium` (or `$CHROMIUM`), which `scripts/test` installs; when
//! missing, the test fails naming that script. It never skips.

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

/// Flags known to work on these machines (see the workplace's notes): no sandbox as root, no
/// GPU, and no background connections, which a closed network refuses.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,900",
];

/// The longest a single Chromium run may take before the test fails (not hangs).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(120);

fn find_chromium() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("CHROMIUM") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            candidates.push(dir.join("chromium"));
            candidates.push(dir.join("chromium-browser"));
        }
    }
    candidates.push(PathBuf::from("/usr/bin/chromium"));
    candidates.into_iter().find(|p| p.is_file())
}

/// Chromium; fails saying how to get it when it is missing (tests never install anything).
fn chromium() -> PathBuf {
    static CHROMIUM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CHROMIUM
        .get_or_init(|| {
            find_chromium().unwrap_or_else(|| {
                panic!(
                    "Chromium not found (looked at $CHROMIUM, PATH and /usr/bin/chromium). The \
                     playground test needs a real browser: run the suite with `scripts/test`, \
                     which installs Debian's `chromium` (as root) or says how, or set \
                     CHROMIUM=/path/to/chromium."
                )
            })
        })
        .clone()
}

/// A Chromium command with the common flags, its own empty profile, in its own process group
/// (so that the whole browser, renderers included, can be ended).
fn chromium_command(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    command
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: signalling the process group of a child we started in its own group.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
        crate::common::reaper::forget_pid(pid);
    }
}

/// Runs Chromium to completion with a deadline; fails the test on a hang or an error exit.
async fn run_chromium(profile: &Path, args: &[String]) -> Output {
    let child = chromium_command(profile)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    let pid = child.id();
    // Killed with its group by the reaper if this process dies first.
    if let Some(pid) = pid {
        crate::common::reaper::watch_pid(pid);
    }
    let output = match tokio::time::timeout(CHROMIUM_DEADLINE, child.wait_with_output()).await {
        Ok(output) => output.expect("chromium output"),
        Err(_) => {
            kill_group(pid);
            panic!("chromium {args:?} did not finish within {CHROMIUM_DEADLINE:?}");
        }
    };
    kill_group(pid);
    assert!(
        output.status.success() || output.status.signal().is_some(),
        "chromium {args:?} failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn setup() -> (rolodex::store::Store, String, String, String) {
    let store = common::store().await;
    let user = common::user(&store, "playground").await;
    let token = common::token(&store, &user).await;
    let base = common::serve(&store).await;
    (store, user.user_name, token, base)
}

/// The page and its assets over plain HTTP: types, caching, no outside URLs.
async fn check_http(base: &str) {
    let http = reqwest::Client::new();
    let page = http.get(format!("{base}/graphql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("unpkg") && !html.contains("cdn"), "{html}");
    let assets: Vec<&str> = html
        .split("/graphql/assets/")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(assets.len(), 5, "{html}");
    for name in assets {
        let response = http
            .get(format!("{base}/graphql/assets/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        if name.ends_with(".css") {
            assert_eq!(content_type, "text/css; charset=utf-8");
        } else {
            assert_eq!(content_type, "text/javascript; charset=utf-8", "{name}");
        }
        if name == "playground.js" {
            assert_eq!(cache, "no-cache");
        } else {
            assert!(cache.contains("max-age=31536000"), "{name}: {cache}");
        }
        assert!(response.bytes().await.unwrap().len() > 1000, "{name}");
    }
    let missing = http
        .get(format!("{base}/graphql/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playground_renders_in_headless_chromium() {
    chromium();
    let (_store, _user, _token, base) = setup().await;
    check_http(&base).await;
    let url = format!("{base}/graphql");

    let profile = crate::common::temp_dir("playground");
    let output = run_chromium(
        profile.path(),
        &[
            "--virtual-time-budget=10000".into(),
            "--dump-dom".into(),
            url.clone(),
        ],
    )
    .await;
    let dom = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = || format!("rendered DOM:\n{dom}\nchromium stderr:\n{stderr}");
    // Our HTML only has <div id="graphiql">Loading…</div>: everything below was rendered by
    // React and GraphiQL from the served bundles.
    for needle in [
        "class=\"graphiql-container\"",
        "graphiql-query-editor",
        "class=\"CodeMirror",
        "graphiql-execute-button",
        "aria-label=\"Headers\"",
        // The headers editor holds the placeholder (CodeMirror renders it as text).
        "Bearer &lt;token from rolodex token create&gt;",
        // The docs explorer is open; without a token it cannot show the schema yet.
        "aria-label=\"Hide Documentation Explorer\"",
        "graphiql-doc-explorer",
        // The token-less introspection reached the server and its 401 body is shown.
        "UNAUTHENTICATED",
        "authentication required",
    ] {
        assert!(
            dom.contains(needle),
            "missing {needle:?} in the page\n{}",
            context()
        );
    }
    assert!(
        !dom.contains("Loading the GraphiQL playground"),
        "GraphiQL did not replace the loading text\n{}",
        context()
    );
    assert!(
        !dom.contains("did not load"),
        "the scripts did not load\n{}",
        context()
    );

    // A screenshot, as a person would see it.
    let shot = profile.path().join("playground.png");
    let profile2 = crate::common::temp_dir("playground");
    run_chromium(
        profile2.path(),
        &[
            "--virtual-time-budget=10000".into(),
            "--hide-scrollbars".into(),
            format!("--screenshot={}", shot.display()),
            url,
        ],
    )
    .await;
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}"));
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // A blank white page compresses to a few kB; the rendered UI is far larger.
    assert!(
        png.len() > 20_000,
        "screenshot looks blank ({} bytes)",
        png.len()
    );
    if let Some(dir) = std::env::var_os("ROLODEX_PLAYGROUND_SCREENSHOTS") {
        std::fs::copy(&shot, Path::new(&dir).join("playground-no-token.png")).unwrap();
    }
}

/// A DevTools-protocol session with one page.
struct DevTools {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl DevTools {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("devtools send");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no devtools answer to {method}"))
                .unwrap_or_else(|| panic!("devtools closed during {method}"))
                .expect("devtools frame");
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == json!(id) {
                assert!(
                    value.get("error").is_none(),
                    "devtools {method} failed: {value}"
                );
                return value["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page (awaiting a promise) and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it returns a truthy value; fails with `what` and the last value
    /// of `explain` after `limit`.
    async fn wait_for(&mut self, what: &str, expression: &str, explain: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let value = self.eval(expression).await;
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return;
            }
            if start.elapsed() > limit {
                let state = self.eval(explain).await;
                panic!("{what}: not seen within {limit:?}; page state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Starts Chromium with a DevTools port and returns the browser and a session on its page.
async fn devtools(profile: &Path) -> (tokio::process::Child, DevTools) {
    let child = chromium_command(profile)
        .args([
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    // Chromium writes the port it picked into the profile.
    let port_file = profile.join("DevToolsActivePort");
    let start = Instant::now();
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Some(Ok(port)) = text.lines().next().map(str::parse)
        {
            break port;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "chromium wrote no DevToolsActivePort within a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let targets: Value = loop {
        let listed = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await;
        if let Ok(response) = listed
            && let Ok(targets) = response.json::<Value>().await
            && targets
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["type"] == "page"))
        {
            break targets;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "chromium lists no page on its DevTools port"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let page = targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .unwrap();
    let ws = page["webSocketDebuggerUrl"].as_str().unwrap();
    let (socket, _) = tokio_tungstenite::connect_async(ws)
        .await
        .expect("devtools websocket");
    (child, DevTools { socket, next_id: 0 })
}

/// Kills the browser's process group when the test ends, passing or failing.
struct Browser(Option<u32>);

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// JavaScript: the CodeMirror instance of the editor whose wrapper matches `selector` and
/// whose text matches `contains` (GraphiQL 4 uses CodeMirror 5, which hangs the instance on
/// its wrapper element).
fn editor(selector: &str, contains: &str) -> String {
    format!(
        "(Array.from(document.querySelectorAll({selector:?})).map(e => e.CodeMirror).filter(Boolean).find(cm => cm.getValue().includes({contains:?})))"
    )
}

const RESPONSE_TEXT: &str = "(() => { const e = document.querySelector('.graphiql-response .CodeMirror'); return e && e.CodeMirror ? e.CodeMirror.getValue() : ''; })()";
const QUERY_EDITOR: &str =
    "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror";
const PAGE_STATE: &str = "JSON.stringify({ response: (() => { const e = document.querySelector('.graphiql-response .CodeMirror'); return e && e.CodeMirror ? e.CodeMirror.getValue() : null; })(), docs: (document.querySelector('.graphiql-doc-explorer') || {}).innerText, headers: Array.from(document.querySelectorAll('.graphiql-editor-tool .CodeMirror')).map(e => e.CodeMirror && e.CodeMirror.getValue()) })";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playground_works_with_a_token_in_the_headers_editor() {
    chromium();
    let (_store, user, token, base) = setup().await;
    let http = reqwest::Client::new();
    let graphql = |query: &'static str, variables: Value| {
        let request = http
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": variables }));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            body["data"].clone()
        }
    };
    let book =
        graphql("{ viewer { addressBooks { id } } }", json!({})).await["viewer"]["addressBooks"][0]
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    graphql(
        "mutation($input: ContactInput!) { createContact(input: $input) { etag } }",
        json!({ "input": { "firstName": "Ada", "lastName": "Lovelace",
                           "emails": [{ "email": "ada@example.org" }] } }),
    )
    .await;

    let profile = crate::common::temp_dir("playground");
    let (child, mut page) = devtools(profile.path()).await;
    if let Some(pid) = child.id() {
        crate::common::reaper::watch_pid(pid);
    }
    let _browser = Browser(child.id());
    page.call("Page.navigate", json!({ "url": format!("{base}/graphql") }))
        .await;
    let limit = Duration::from_secs(60);

    // The headers editor, with its placeholder, and the token-less 401.
    let headers = editor(".graphiql-editor-tool .CodeMirror", "Authorization");
    page.wait_for(
        "the headers editor with the Authorization placeholder",
        &format!("!!{headers}"),
        PAGE_STATE,
        limit,
    )
    .await;
    page.wait_for(
        "the 401 answer to the token-less introspection",
        &format!("{RESPONSE_TEXT}.includes('UNAUTHENTICATED')"),
        PAGE_STATE,
        limit,
    )
    .await;

    // Paste the token: the schema is fetched again with it and the docs explorer shows the
    // root types.
    let value =
        serde_json::to_string_pretty(&json!({ "Authorization": format!("Bearer {token}") }))
            .unwrap();
    page.eval(&format!("{headers}.setValue({value:?}), true"))
        .await;
    page.wait_for(
        "the docs explorer with the schema fetched with the token",
        "(() => { const d = document.querySelector('.graphiql-doc-explorer'); return d && /Subscription/.test(d.innerText) && /Mutation/.test(d.innerText); })()",
        PAGE_STATE,
        limit,
    )
    .await;

    // Run the default first query.
    page.eval("document.querySelector('.graphiql-execute-button').click(), true")
        .await;
    page.wait_for(
        "the first query's result",
        &format!("{RESPONSE_TEXT}.includes('Ada Lovelace')"),
        PAGE_STATE,
        limit,
    )
    .await;
    let result: Value = serde_json::from_str(page.eval(RESPONSE_TEXT).await.as_str().unwrap())
        .expect("the result pane holds JSON");
    assert_eq!(result["data"]["viewer"]["name"], json!(user), "{result}");
    assert_eq!(
        result["data"]["contacts"]["totalCount"],
        json!(1),
        "{result}"
    );
    assert_eq!(
        result["data"]["contacts"]["edges"][0]["node"]["emails"][0]["email"],
        json!("ada@example.org")
    );
    if let Some(dir) = std::env::var_os("ROLODEX_PLAYGROUND_SCREENSHOTS") {
        let shot = page
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(Path::new(&dir).join("playground-with-token.png"), png).unwrap();
    }

    // A subscription over the page's WebSocket (the headers go in connection_init), then a
    // change made over HTTP reaches it.
    let subscription = format!(
        "subscription LiveChanges {{ contactChanged(addressBookId: \"{book}\") {{ operation contact {{ displayName }} }} }}"
    );
    page.eval(&format!("{QUERY_EDITOR}.setValue({subscription:?}), true"))
        .await;
    // GraphiQL picks up the new operation name from the editor after a short debounce.
    tokio::time::sleep(Duration::from_secs(1)).await;
    page.eval("document.querySelector('.graphiql-execute-button').click(), true")
        .await;
    // The subscription is live once the execute button turns into a stop button; give the
    // server a moment to register it, then change a contact until the event shows (a change
    // committed before the subscription started would not be delivered).
    let start = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let name = format!("Grace Hopper {attempt}");
        graphql(
            "mutation($input: ContactInput!) { createContact(input: $input) { etag } }",
            json!({ "input": { "displayName": name } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let text = page.eval(RESPONSE_TEXT).await;
        if text.as_str().is_some_and(|t| t.contains("Grace Hopper")) {
            let event: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
            assert_eq!(
                event["data"]["contactChanged"]["operation"],
                json!("UPSERT"),
                "{event}"
            );
            break;
        }
        if start.elapsed() > limit {
            let state = page.eval(PAGE_STATE).await;
            panic!("no subscription event in the playground; page state: {state}");
        }
    }
}
