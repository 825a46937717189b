//! One PostgreSQL per test binary and one database per test. The cluster (managed, in a
//! `/tmp/rolodex-test-cluster-*` directory, or the server named by `DATABASE_URL`) is started
//! once and migrated once into a template database; each test that asks for the database gets
//! its own, created `TEMPLATE` from it (a file copy, far cheaper than migrating), so no test
//! sees another's rows, counters or notifications.
//!
//! A test's database belongs to the test's thread (libtest runs each test on a thread of its
//! own, named after the test): every call from that thread answers the same database, and it is
//! dropped when the thread ends, passed or failed. At exit the cluster is stopped and its
//! directory removed; on an external server the template and every database still there are
//! dropped. If the process is killed, [`super::reaper`] removes the cluster.

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rolodex::db::PoolSettings;
use rolodex::pg::ManagedPostgres;
use rolodex::store::Store;

struct Cluster {
    /// A URL as the role the server connects as (the managed cluster's application role, or
    /// `DATABASE_URL`'s user); its database is replaced per test.
    app_url: String,
    /// A URL as a role that may create databases (the managed cluster's superuser, or
    /// `DATABASE_URL` itself).
    admin_url: String,
    /// The role that owns each test database, when the admin role is another.
    owner: Option<String>,
    template: String,
    /// Runs the admin connection; a runtime of its own because each `#[tokio::test]` has a
    /// runtime that ends with its test, and this must outlive all of them.
    runtime: tokio::runtime::Runtime,
    admin: tokio_postgres::Client,
    /// Databases created and not dropped yet (dropped at exit on an external server).
    live: Mutex<BTreeSet<String>>,
    managed: Option<ManagedPostgres>,
    dir: Option<tempfile::TempDir>,
}

/// The cluster, or why it could not be started (said once; every test then fails at once).
static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This test's database; dropping it (when the test's thread ends) drops the database.
    static TEST_DATABASE: OnceCell<TestDatabase> = const { OnceCell::new() };
}

struct TestDatabase {
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let cluster = cluster();
        let name = self.name.clone();
        // Not waited for: the test is over, and the next test's database does not depend on
        // it. Whatever is still running at exit is covered by `stop_at_exit`.
        cluster.runtime.spawn(async move {
            let cluster = self::cluster();
            let dropped = cluster
                .admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            if dropped.is_ok() {
                lock(&cluster.live).remove(&name);
            }
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `url` with its database (the path) replaced by `database`; the rest (user, host, query) kept.
pub fn url_with_database(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").expect("a postgres:// URL") + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after_authority = &rest[authority_end..];
    let query = after_authority
        .find('?')
        .map_or("", |at| &after_authority[at..]);
    format!(
        "{}{}/{database}{query}",
        &url[..scheme_end],
        &rest[..authority_end]
    )
}

/// The user named in a postgres URL.
fn url_user(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.find('@')?];
    let user = userinfo.split(':').next()?;
    (!user.is_empty()).then(|| user.to_owned())
}

fn cluster() -> &'static Cluster {
    let started = CLUSTER.get_or_init(|| {
        // Started from a thread of its own so the test that happens to come first (inside its
        // own runtime) can wait for it.
        std::thread::spawn(start).join().map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
    });
    match started {
        Ok(cluster) => cluster,
        Err(reason) => panic!("the test cluster did not start: {reason}"),
    }
}

fn start() -> Cluster {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(1)
        .thread_name("rolodex-test-cluster")
        .build()
        .expect("runtime");
    let external = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let (app_url, admin_url, managed, dir) = match external {
        Some(url) => (url.clone(), url, None, None),
        None => {
            let dir = super::temp_dir("cluster");
            let pg = runtime
                .block_on(ManagedPostgres::start(dir.path(), None))
                .unwrap_or_else(|e| panic!("managed PostgreSQL: {e}"));
            (pg.database_url(), pg.superuser_url(), Some(pg), Some(dir))
        }
    };
    let owner = url_user(&app_url).filter(|owner| Some(owner) != url_user(&admin_url).as_ref());
    let admin = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test cluster: {e}"));
        tokio::spawn(connection);
        client
    });
    if managed.is_some() {
        // A throwaway cluster: nothing in it has to survive a crash, so commits need not wait
        // for the disk (the tests of durability and recovery start clusters of their own).
        runtime.block_on(async {
            // One statement each: ALTER SYSTEM refuses the implicit transaction of a batch.
            for statement in [
                "ALTER SYSTEM SET fsync = off",
                "ALTER SYSTEM SET synchronous_commit = off",
                "ALTER SYSTEM SET full_page_writes = off",
                "SELECT pg_reload_conf()",
            ] {
                admin
                    .batch_execute(statement)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
        });
    }
    let template = format!("rolodex_template_{}", std::process::id());
    let cluster = Cluster {
        app_url,
        admin_url,
        owner,
        template,
        runtime,
        admin,
        live: Mutex::new(BTreeSet::new()),
        managed,
        dir,
    };
    // SAFETY: registering a plain extern "C" fn with no captured state.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    cluster.runtime.block_on(async {
        cluster
            .execute(&format!(
                "CREATE DATABASE {}{}",
                cluster.template,
                cluster.owner_clause()
            ))
            .await;
        let store = Store::connect(
            &url_with_database(&cluster.app_url, &cluster.template),
            &PoolSettings::default(),
        )
        .await
        .expect("connect to the template database");
        store
            .migrate()
            .await
            .expect("migrate the template database");
    });
    cluster
}

impl Cluster {
    fn owner_clause(&self) -> String {
        self.owner
            .as_ref()
            .map_or_else(String::new, |owner| format!(" OWNER {owner}"))
    }

    /// Runs one statement as the admin role, remembering the database it creates.
    async fn execute(&self, statement: &str) {
        // The template's last pooled connections close asynchronously after the migration;
        // PostgreSQL refuses to copy a database in use, so wait for them to go.
        let mut attempts = 0;
        loop {
            match self.admin.batch_execute(statement).await {
                Ok(()) => break,
                Err(e)
                    if attempts < 100
                        && e.to_string().contains("being accessed by other users") =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{statement}: {e}"),
            }
        }
        if let Some(name) = statement.strip_prefix("CREATE DATABASE ") {
            let name = name.split(' ').next().unwrap_or(name);
            lock(&self.live).insert(name.to_owned());
        }
    }

    fn create_test_database(&self) -> String {
        let name = format!(
            "rolodex_test_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let statement = format!(
            "CREATE DATABASE {name} TEMPLATE {}{}",
            self.template,
            self.owner_clause()
        );
        // A thread of its own: the caller may be inside its test's runtime.
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.runtime.block_on(self.execute(&statement)))
                .join()
                .expect("creating the test database");
        });
        name
    }
}

extern "C" fn stop_at_exit() {
    let Some(Ok(cluster)) = CLUSTER.get() else {
        return;
    };
    if let Some(pg) = &cluster.managed {
        pg.stop_blocking();
        // Statics are never dropped, so the TempDir would stay behind: remove it here, once the
        // cluster is stopped.
        if let Some(dir) = &cluster.dir {
            let _ = std::fs::remove_dir_all(dir.path());
        }
        return;
    }
    // An external server keeps nothing of ours: every test database, then the template.
    let mut names: Vec<String> = lock(&cluster.live).iter().cloned().collect();
    names.retain(|name| *name != cluster.template);
    names.push(cluster.template.clone());
    let _ = std::thread::spawn(move || {
        cluster.runtime.block_on(async {
            for name in names {
                if let Err(e) = cluster
                    .admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                {
                    eprintln!("dropping test database {name}: {e}");
                }
            }
        });
    })
    .join();
}

/// The name of this test's database, created on first use.
fn test_database() -> String {
    let thread = std::thread::current();
    assert!(
        thread
            .name()
            .is_some_and(|name| !name.starts_with("tokio-runtime-worker")),
        "the test database is looked up from the test's own thread (libtest names it after the \
         test), not from {:?}",
        thread.name()
    );
    TEST_DATABASE.with(|cell| {
        cell.get_or_init(|| TestDatabase {
            name: cluster().create_test_database(),
        })
        .name
        .clone()
    })
}

/// This test's database URL, as the role the server connects as.
pub fn database_url() -> String {
    url_with_database(&cluster().app_url, &test_database())
}

/// This test's database URL, as a role that may create databases.
pub fn admin_url() -> String {
    url_with_database(&cluster().admin_url, &test_database())
}
