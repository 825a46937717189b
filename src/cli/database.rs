//! The database every command works on: the managed PostgreSQL in the data directory (started,
//! or attached to when a server already runs there) or `DATABASE_URL`, migrated before use.
//!
//! Only `serve` and `restore` may create a cluster. Every other command pointed at a directory
//! without one stops with the absolute path it looked at, instead of silently creating an empty
//! cluster there (which then answers "user not found").

use std::path::{Path, PathBuf};

use crate::config::{DatabaseLocation, Settings};
use crate::pg::{ManagedOptions, ManagedPostgres, PgError, has_cluster, running_cluster_url};
use crate::store::{CardLimits, Store, StoreError};

/// What a command may do with the managed cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `serve`: creates the cluster on first start; owns the data directory alone.
    Serve,
    /// Administrative commands: need an existing cluster; work beside a running server.
    Admin,
    /// `restore`: may create the cluster (the target must be empty anyway); owns the data
    /// directory alone, so no server can write while the backup is read in.
    Restore,
}

/// Why the database cannot be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum DatabaseError {
    #[error(
        "no Rolodex data in {path}: there is no PostgreSQL cluster in {path}/pgdata. Start the \
         server there first (`rolodex serve --data-dir {path}`), or point --data-dir (or \
         ROLODEX_DATA_DIR, or data_dir in the config file) at the directory your server uses, \
         or set DATABASE_URL.",
        path = .data_dir.display()
    )]
    NoCluster { data_dir: PathBuf },
    #[error(
        "cannot look into {}: {source}. Run this command as the user the server runs as \
         (e.g. `sudo -u rolodex rolodex …` with deploy/rolodex.service).",
        .data_dir.display()
    )]
    Unreadable {
        data_dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error("cannot connect to PostgreSQL at {target}: {cause}")]
    Connect { target: String, cause: String },
    /// A migration failed (`StoreError::Migration`), or the database went away while the
    /// migrations or the backfills after them ran.
    #[error("cannot bring the database up to date: {0}")]
    Migrate(StoreError),
}

/// A database URL plus, on the embedded default, the PostgreSQL we started for it.
pub(super) struct Connection {
    pub(super) url: String,
    /// Where the URL leads, for messages (never the password).
    pub(super) target: String,
    managed: Option<ManagedPostgres>,
}

impl Connection {
    pub(super) async fn open(settings: &Settings, mode: Mode) -> Result<Connection, DatabaseError> {
        let (data_dir, pg_bin, pg_user) = match &settings.database {
            DatabaseLocation::External { url } => {
                if mode == Mode::Serve {
                    tracing::info!(database = %describe_url(url), "using DATABASE_URL");
                }
                return Ok(Connection {
                    url: url.clone(),
                    target: describe_url(url),
                    managed: None,
                });
            }
            DatabaseLocation::Managed {
                data_dir,
                pg_bin,
                pg_user,
            } => (absolute(data_dir), pg_bin, pg_user),
        };
        if mode == Mode::Admin {
            match has_cluster(&data_dir) {
                Ok(true) => {}
                Ok(false) => return Err(DatabaseError::NoCluster { data_dir }),
                Err(source) => return Err(DatabaseError::Unreadable { data_dir, source }),
            }
        }
        if mode == Mode::Serve {
            tracing::info!(data_dir = %data_dir.display(), "data directory");
        }
        let options = ManagedOptions {
            log_max_bytes: settings.limits.postgres_log_bytes,
            pg_user: pg_user.clone(),
        };
        let target = format!("the managed PostgreSQL in {}", data_dir.display());
        match ManagedPostgres::start_with(&data_dir, pg_bin.as_deref(), &options).await {
            Ok(pg) => Ok(Connection {
                url: pg.database_url(),
                target,
                managed: Some(pg),
            }),
            Err(e @ PgError::DataDirInUse { .. }) => {
                match running_cluster_url(&data_dir).filter(|_| mode == Mode::Admin) {
                    Some(url) => Ok(Connection {
                        url,
                        target,
                        managed: None,
                    }),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stops the PostgreSQL this connection started, if any.
    pub(super) async fn close(self) {
        if let Some(pg) = self.managed
            && let Err(e) = pg.stop().await
        {
            eprintln!("warning: stopping PostgreSQL: {e}");
        }
    }
}

/// The store plus, on the embedded default, the PostgreSQL we started.
pub(super) struct Database {
    pub(super) store: Store,
    connection: Connection,
}

impl Database {
    pub(super) async fn open(settings: &Settings, mode: Mode) -> Result<Database, DatabaseError> {
        let connection = Connection::open(settings, mode).await?;
        match Self::migrated_store(settings, &connection).await {
            Ok(store) => Ok(Database { store, connection }),
            Err(e) => {
                connection.close().await;
                Err(e)
            }
        }
    }

    /// A store on the connection, with pending migrations applied.
    pub(super) async fn migrated_store(
        settings: &Settings,
        connection: &Connection,
    ) -> Result<Store, DatabaseError> {
        let store = match Store::connect(&connection.url, &settings.pool).await {
            Ok(store) => store.with_card_limits(CardLimits::from(&settings.limits)),
            Err(error) => {
                let cause = match connection_failure_cause(&connection.url).await {
                    Some(cause) => cause,
                    None => error.to_string(),
                };
                return Err(DatabaseError::Connect {
                    target: connection.target.clone(),
                    cause,
                });
            }
        };
        for version in store.migrate().await.map_err(DatabaseError::Migrate)? {
            tracing::info!(%version, "applied migration");
        }
        Ok(store)
    }

    pub(super) async fn close(self) {
        drop(self.store);
        self.connection.close().await;
    }
}

/// Why a connection to `url` fails, in PostgreSQL's and the OS's words ("Connection refused",
/// "password authentication failed for user ..."). The pool only says "error connecting to
/// server": diesel-async keeps the cause as text it drops. So the connection is tried once
/// more, directly, for the message. Only without TLS (a plain connection is what `sslmode`
/// `disable` and `prefer` allow); `None` when that is not possible or it succeeds.
async fn connection_failure_cause(url: &str) -> Option<String> {
    use tokio_postgres::config::SslMode;
    let config = url.parse::<tokio_postgres::Config>().ok()?;
    if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
        return None;
    }
    let attempt = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        config.connect(tokio_postgres::NoTls),
    )
    .await;
    match attempt {
        Err(_) => Some("no answer within 10 s (a firewall dropping packets?)".to_owned()),
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error_chain(&error)),
    }
}

/// An error with every cause under it, each said once.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The path as an absolute one, symlinks resolved when it exists: what error messages and
/// `serve` show, so "which directory?" never depends on where the command was run.
pub(super) fn absolute(path: &Path) -> PathBuf {
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// "host db.example.org port 5432, database rolodex, user app (DATABASE_URL)": where a URL
/// leads, without its password.
pub(super) fn describe_url(url: &str) -> String {
    let config = match url.parse::<tokio_postgres::Config>() {
        Ok(config) => config,
        // tokio-postgres does not know every libpq parameter; the URL itself, without its
        // password, still says where it leads.
        Err(_) => {
            let (without_password, _) = crate::pg::tools::split_password(url);
            return format!("{without_password} (DATABASE_URL)");
        }
    };
    let ports = config.get_ports();
    let port_of = |i: usize| {
        ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432)
    };
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("host {name} port {}", port_of(i)),
            tokio_postgres::config::Host::Unix(dir) => {
                format!("socket {}/.s.PGSQL.{}", dir.display(), port_of(i))
            }
        })
        .collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("address {addr} port {}", port_of(i)))
            .collect();
    }
    let place = if hosts.is_empty() {
        "no host given".to_owned()
    } else {
        hosts.join(" or ")
    };
    let mut text = place;
    if let Some(dbname) = config.get_dbname() {
        text.push_str(&format!(", database {dbname}"));
    }
    if let Some(user) = config.get_user() {
        text.push_str(&format!(", user {user}"));
    }
    text.push_str(" (DATABASE_URL)");
    text
}

#[cfg(test)]
mod tests {
    use super::describe_url;

    #[test]
    fn a_url_is_described_without_its_password() {
        let text = describe_url("postgres://app:s3cret@db.example.org:5433/contacts");
        assert_eq!(
            text,
            "host db.example.org port 5433, database contacts, user app (DATABASE_URL)"
        );
        let socket = describe_url("postgresql://rolodex@/rolodex?host=%2Fvar%2Frun");
        assert!(
            socket.starts_with("socket /var/run/.s.PGSQL.5432"),
            "{socket}"
        );
        assert_eq!(
            describe_url("postgres://u:pw@h/db?sslmode=bogus"),
            "postgres://u@h/db?sslmode=bogus (DATABASE_URL)"
        );
    }
}
