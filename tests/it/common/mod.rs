//! Test harness: one real PostgreSQL per test binary, the same managed cluster code the server
//! uses (or the server named by `DATABASE_URL`), migrated once into a template; each test gets
//! its own database copied from it (see `cluster`), its own pool and freshly created users, so
//! tests run in parallel without seeing each other's data. Temporary directories and child
//! processes are registered with `reaper`, so a killed test process leaves nothing behind.
#![allow(dead_code)]

mod cluster;
pub mod reaper;

use rolodex::db::PoolSettings;
use rolodex::store::{Principal, Store};

pub use cluster::{admin_url, database_url, url_with_database};

/// A new temporary directory `/tmp/rolodex-test-<label>-XXXXXX`, removed when the value drops,
/// and by the reaper (PostgreSQL under it stopped first) if this process dies before that.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("rolodex-test-{label}-"))
        .tempdir()
        .expect("tempdir");
    reaper::watch_dir(dir.path());
    dir
}

/// A child process this test started, killed by the reaper if this process dies while it
/// runs. Wait for it (or kill it) through [`Watched::child`]; dropping this unregisters it.
pub struct Watched {
    pub child: std::process::Child,
}

impl Watched {
    pub fn new(child: std::process::Child) -> Watched {
        reaper::watch_pid(child.id());
        Watched { child }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Not waited for yet (a test failed first): end it now, before its number is freed;
        // SIGTERM first, so a `rolodex serve` stops its PostgreSQL.
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while self.child.try_wait().ok().flatten().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        reaper::forget_pid(self.child.id());
    }
}

/// Another `rolodex serve` process on this test's database, the way several servers share one
/// PostgreSQL, with `env` added to its environment; returned once `/healthz` answers, with its
/// base URL (`http://127.0.0.1:PORT`). Stopped (SIGTERM) when the value drops.
pub async fn serve_process(env: &[(&str, String)]) -> (Watched, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("address")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rolodex"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url())
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rolodex serve");
    let server = Watched::new(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while reqwest::get(format!("{base}/healthz"))
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "rolodex serve on {base} did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, base)
}

/// A store with its own small pool on this test's database (the same one on every call from
/// the test).
pub async fn store() -> Store {
    let url = database_url();
    Store::connect(
        &url,
        &PoolSettings {
            max_connections: 4,
            ..PoolSettings::default()
        },
    )
    .await
    .expect("connect")
}

/// A user unique to this test run, named `<prefix>-<random>`.
pub async fn user(store: &Store, prefix: &str) -> Principal {
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let hash = rolodex::auth::secret::hash_password("test password").expect("hash");
    store.create_user(&name, &hash).await.expect("create user");
    store.principal_for_user(&name).await.expect("principal")
}

/// The id of a principal's default address book.
pub async fn default_book(store: &Store, principal: &Principal) -> i64 {
    store
        .address_book_by_slug(principal, rolodex::store::DEFAULT_ADDRESS_BOOK)
        .await
        .expect("default address book")
        .id
}

/// A fixture file from tests/fixtures/vcards.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/vcards/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves the real router on a free loopback port for the rest of the test; returns its base
/// URL (`http://127.0.0.1:PORT`).
pub async fn serve(store: &Store) -> String {
    serve_with_limits(
        store,
        rolodex::limits::Limits {
            max_body_bytes: 1024 * 1024,
            ..Default::default()
        },
    )
    .await
}

/// [`serve`] with the given limits.
pub async fn serve_with_limits(store: &Store, limits: rolodex::limits::Limits) -> String {
    let options = rolodex::app::AppOptions {
        limits,
        ..Default::default()
    };
    // Subscriptions are served: the LISTEN task is started here, as `serve` starts it.
    let changes = rolodex::store::ChangeHub::start(store.database_url());
    let state = rolodex::app::AppState::new(store.clone(), options, changes);
    let router = rolodex::app::build_router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    format!("http://{address}")
}

/// A new bearer token for the principal.
pub async fn token(store: &Store, principal: &Principal) -> String {
    let token = rolodex::auth::secret::generate_token();
    store
        .add_credential(
            &principal.user_name,
            rolodex::store::NewCredential {
                kind: rolodex::store::CredentialKind::Token,
                label: "test",
                secret_hash: &rolodex::auth::secret::hash_secret(&token),
            },
        )
        .await
        .expect("token");
    token
}

/// POSTs a GraphQL operation to `base` (see [`serve`]) with a bearer token; the JSON answer,
/// errors included.
pub async fn graphql(
    base: &str,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
