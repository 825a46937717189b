//! Test harness: one real PostgreSQL per test binary, the same managed cluster code the server
//! uses (or the server named by `DATABASE_URL`), migrated once; each test gets its own pool and
//! its own freshly created users, so tests run in parallel without seeing each other's data.
#![allow(dead_code)]

use std::sync::OnceLock;

use rolodex::db::PoolSettings;
use rolodex::pg::ManagedPostgres;
use rolodex::store::{Principal, Store};

struct Shared {
    url: String,
    /// The managed cluster's superuser URL (the same as `url` with DATABASE_URL).
    admin_url: String,
    // Kept alive for the whole process; stopped by the atexit hook below.
    managed: Option<ManagedPostgres>,
    _dir: Option<tempfile::TempDir>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

extern "C" fn stop_cluster_at_exit() {
    if let Some(shared) = SHARED.get()
        && let Some(pg) = &shared.managed
    {
        pg.stop_blocking();
        // Statics are never dropped, so the TempDir would stay behind (tens of MiB per test
        // binary and run): remove it here, once the cluster is stopped.
        if let Some(dir) = &shared._dir {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        // Started on a runtime of its own: each #[tokio::test] has a runtime that ends with the
        // test, and the cluster must outlive all of them.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .worker_threads(1)
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let (url, managed, dir) = match std::env::var("DATABASE_URL") {
                    Ok(url) if !url.is_empty() => (url, None, None),
                    _ => {
                        let dir = tempfile::Builder::new()
                            .prefix("rolodex-test-")
                            .tempdir()
                            .expect("tempdir");
                        let pg = ManagedPostgres::start(dir.path(), None)
                            .await
                            .unwrap_or_else(|e| panic!("managed PostgreSQL: {e}"));
                        // SAFETY: registering a plain extern "C" fn with no captured state.
                        unsafe {
                            libc::atexit(stop_cluster_at_exit);
                        }
                        (pg.database_url(), Some(pg), Some(dir))
                    }
                };
                let store = Store::connect(&url, &PoolSettings::default())
                    .await
                    .expect("connect");
                store.migrate().await.expect("migrate");
                let admin_url = managed
                    .as_ref()
                    .map_or_else(|| url.clone(), ManagedPostgres::superuser_url);
                Shared {
                    url,
                    admin_url,
                    managed,
                    _dir: dir,
                }
            })
        })
        .join()
        .expect("cluster start thread")
    })
}

/// The database URL of the shared test cluster.
pub fn database_url() -> String {
    shared().url.clone()
}

/// A URL that may create databases: the managed cluster's superuser (the server itself
/// connects as an application role that cannot).
pub fn admin_url() -> String {
    shared().admin_url.clone()
}

/// A store with its own small pool on the shared, migrated database.
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
    let options = rolodex::app::AppOptions {
        limits: rolodex::limits::Limits {
            max_body_bytes: 1024 * 1024,
            ..Default::default()
        },
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
