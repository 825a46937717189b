//! The database layer: the diesel schema, row types, the connection pool and how connections
//! are opened (TLS as libpq's `sslmode`, see [`tls`]). Only `store` uses this module; nothing
//! above the store sees diesel.

pub mod models;
pub mod prepared;
pub mod schema;
pub mod tls;
pub mod types;
pub mod url;
mod verify;

pub use tls::{ConnectError, ConnectTarget};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

/// Migrations compiled into the binary, so `rolodex serve` and `rolodex migrate` need no files.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = Pool<AsyncPgConnection>;
pub type PgConn = Object<AsyncPgConnection>;

/// Pool sizing and per-statement limits.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: usize,
    /// How long a request waits for a free connection before failing with "busy".
    pub wait_timeout: Duration,
    /// PostgreSQL `statement_timeout` for every pooled connection: a runaway query is cancelled
    /// by the server rather than holding a connection forever.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            wait_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// Counts the SQL statements a pool's connections run: how tests and metrics check that a read
/// path costs a fixed number of queries whatever the page size (no N+1).
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        AtomicU64::load(&self.0, Ordering::Relaxed)
    }
}

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Why the database layer could not open the pool or apply the migrations (query errors are
/// diesel's own, mapped by the store).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL or its TLS settings are unusable, or the server cannot be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Establish(ConnectionError),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::BuildError),
    /// A migration failed (diesel names it: `Failed to run VERSION with: ...`), or the
    /// migrations table cannot be read.
    #[error("{0}")]
    Migration(Box<dyn std::error::Error + Send + Sync>),
    /// The blocking thread running the migrations panicked or was cancelled.
    #[error("the migrations stopped: {0}")]
    MigrationTask(#[from] tokio::task::JoinError),
}

/// Builds the pool. Connections are opened lazily; `statement_timeout` is set on each new one.
pub fn build_pool(
    database_url: &str,
    settings: &PoolSettings,
    counter: QueryCounter,
) -> Result<PgPool, DbError> {
    let target = ConnectTarget::parse(database_url)?;
    let timeout_ms = settings.statement_timeout.as_millis();
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // No `SELECT 1` before every checkout: a connection that failed is marked broken by diesel
    // and dropped by the pool, so the ping only cost a round trip per request.
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |_url| {
        let target = target.clone();
        let counter = counter.clone();
        async move {
            let mut conn = establish(&target).await?;
            conn.set_instrumentation(counter);
            diesel::sql_query(format!("SET statement_timeout = {timeout_ms}"))
                .execute(&mut conn)
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.wait_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(DbError::Pool)
}

/// One diesel connection over a connection opened by [`ConnectTarget::connect`] (diesel-async's
/// own `establish` knows no TLS).
async fn establish(target: &ConnectTarget) -> Result<AsyncPgConnection, ConnectionError> {
    let (client, connection) = target
        .connect()
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// The key of the session-level advisory lock that migrations hold: any number 64-bit wide,
/// fixed so every Rolodex process agrees on it ("rolodex" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0072_6f6c_6f64_6578;

/// Runs pending migrations on a dedicated connection and returns their names. Diesel's
/// migration harness is synchronous, so it runs on a blocking thread.
///
/// Several processes may start on one database at once (several servers behind a load balancer,
/// a rolling upgrade): each waits for an advisory lock first, so one applies the pending
/// migrations and the others then find none, instead of racing to create the same tables and
/// failing with "already exists". The lock ends with the connection.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, DbError> {
    let target = ConnectTarget::parse(database_url)?;
    let conn = establish(&target).await.map_err(DbError::Establish)?;
    tokio::task::spawn_blocking(move || {
        let mut harness = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::<
            AsyncPgConnection,
        >::from(conn);
        let lock = diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY);
        diesel::RunQueryDsl::execute(lock, &mut harness)
            .map_err(|e| DbError::Migration(Box::new(e)))?;
        harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect())
            .map_err(DbError::Migration)
    })
    .await?
}
