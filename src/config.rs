//! Settings. Precedence: command-line flags > environment variables > the optional TOML file
//! (`--config`, `ROLODEX_CONFIG`) > defaults.
//!
//! | setting | flag | environment | TOML key | default |
//! |---|---|---|---|---|
//! | listen address | `--listen` | `ROLODEX_LISTEN` | `listen` | `127.0.0.1:8080` |
//! | data directory | `--data-dir` | `ROLODEX_DATA_DIR` | `data_dir` | `./rolodex-data` |
//! | external PostgreSQL | `--database-url` | `DATABASE_URL` | `database_url` | unset: managed |
//! | PostgreSQL binaries | `--pg-bin` | `ROLODEX_PG_BIN` | `pg_bin` | discovered |
//! | PostgreSQL's user (as root) | `--pg-user` | `ROLODEX_PG_USER` | `pg_user` | `postgres` |
//! | pool size | `--db-max-connections` | `ROLODEX_DB_MAX_CONNECTIONS` | `db_max_connections` | 16 |
//! | statement timeout (s) | `--statement-timeout` | `ROLODEX_STATEMENT_TIMEOUT` | `statement_timeout` | 30 |
//! | request body limit (bytes) | `--max-body-bytes` | `ROLODEX_MAX_BODY_BYTES` | `max_body_bytes` | 16 MiB |
//! | log format | `--log-format` | `ROLODEX_LOG_FORMAT` | `log_format` | `human` |
//! | log filter | | `RUST_LOG` | | `info` |
//! | allowed browser origins | `--allowed-origin` | `ROLODEX_ALLOWED_ORIGINS` | `allowed_origins` | none |
//!
//! The limits on request size and cost are a `[limits]` table of their own, with one
//! `ROLODEX_*` variable each: see [`crate::limits`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::db::PoolSettings;
use crate::limits::{LimitError, Limits};

/// Flags shared by every command that touches the database.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// TOML configuration file.
    #[arg(long, env = "ROLODEX_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the managed PostgreSQL cluster and other state.
    #[arg(long, env = "ROLODEX_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Use this PostgreSQL server instead of the managed one (PostgreSQL 13+).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory holding the PostgreSQL server binaries (initdb, postgres).
    #[arg(long, env = "ROLODEX_PG_BIN", global = true)]
    pub pg_bin: Option<PathBuf>,
    /// Started as root: the system user the managed PostgreSQL runs as (default `postgres`).
    #[arg(long, env = "ROLODEX_PG_USER", global = true)]
    pub pg_user: Option<String>,
    /// Maximum pooled database connections.
    #[arg(long, env = "ROLODEX_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<usize>,
    /// PostgreSQL statement_timeout, in seconds.
    #[arg(long, env = "ROLODEX_STATEMENT_TIMEOUT", global = true)]
    pub statement_timeout: Option<u64>,
}

/// Flags of `rolodex serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it deliberately (e.g. behind a TLS
    /// proxy) with `--listen 0.0.0.0:8080`.
    #[arg(long, env = "ROLODEX_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ROLODEX_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// `human` or `json`.
    #[arg(long, env = "ROLODEX_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// A browser origin (`https://app.example.org`) besides the server's own that may call
    /// `/graphql` with the user's credentials; repeat or separate with commas.
    #[arg(
        long = "allowed-origin",
        env = "ROLODEX_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The optional TOML file: the same settings, lowest precedence above the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    pg_bin: Option<PathBuf>,
    pg_user: Option<String>,
    db_max_connections: Option<usize>,
    statement_timeout: Option<u64>,
    /// Also accepted as `[limits] max_body_bytes`.
    max_body_bytes: Option<usize>,
    log_format: Option<LogFormat>,
    allowed_origins: Option<Vec<String>>,
    limits: Option<Limits>,
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum DatabaseLocation {
    /// The managed PostgreSQL in the data directory.
    Managed {
        data_dir: PathBuf,
        pg_bin: Option<PathBuf>,
        /// Started as root: who runs PostgreSQL (default `postgres`).
        pg_user: Option<String>,
    },
    External {
        url: String,
    },
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: DatabaseLocation,
    pub pool: PoolSettings,
    pub limits: Limits,
    pub log_format: LogFormat,
    /// Browser origins, besides the server's own, allowed to call `/graphql`.
    pub allowed_origins: Vec<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./rolodex-data";

/// Why the settings cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("allowed origin {0:?} is not of the form scheme://host[:port]")]
    Origin(String),
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// An origin as browsers send it: `scheme://host[:port]`, lower case, no path.
fn normalize_origin(origin: &str) -> Result<String, ConfigError> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    match origin.split_once("://") {
        Some((scheme, rest))
            if matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/') =>
        {
            Ok(origin)
        }
        _ => Err(ConfigError::Origin(origin)),
    }
}

impl Settings {
    /// Merges flags/env (already combined by clap), the TOML file and defaults.
    pub fn resolve(db: &DatabaseArgs, serve: &ServeArgs) -> Result<Settings, ConfigError> {
        let file = match &db.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let defaults = PoolSettings::default();
        let mut limits = file.limits.clone().unwrap_or_default();
        if let Some(bytes) = file.max_body_bytes {
            limits.max_body_bytes = bytes;
        }
        let mut limits = limits.with_env(|name| std::env::var(name).ok())?;
        if let Some(bytes) = serve.max_body_bytes {
            limits.max_body_bytes = bytes;
        }
        let origins = if serve.allowed_origins.is_empty() {
            file.allowed_origins.clone().unwrap_or_default()
        } else {
            serve.allowed_origins.clone()
        };
        let allowed_origins = origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| normalize_origin(o))
            .collect::<Result<Vec<_>, _>>()?;
        let database = match db.database_url.clone().or(file.database_url) {
            Some(url) if !url.trim().is_empty() => DatabaseLocation::External { url },
            _ => DatabaseLocation::Managed {
                data_dir: db
                    .data_dir
                    .clone()
                    .or(file.data_dir)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
                // An empty value (as in deploy/config.toml) means "discover", like no value.
                pg_bin: db
                    .pg_bin
                    .clone()
                    .or(file.pg_bin)
                    .filter(|dir| !dir.as_os_str().is_empty()),
                pg_user: db.pg_user.clone().or(file.pg_user),
            },
        };
        Ok(Settings {
            listen: serve
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address")),
            database,
            pool: PoolSettings {
                max_connections: db
                    .db_max_connections
                    .or(file.db_max_connections)
                    .unwrap_or(defaults.max_connections)
                    .max(1),
                wait_timeout: defaults.wait_timeout,
                statement_timeout: db
                    .statement_timeout
                    .or(file.statement_timeout)
                    .map(Duration::from_secs)
                    .unwrap_or(defaults.statement_timeout),
            },
            limits,
            log_format: serve.log_format.or(file.log_format).unwrap_or_default(),
            allowed_origins,
        })
    }
}

/// Every key the TOML file accepts: the top-level ones, then `limits.KEY` for each key of the
/// `[limits]` table. Read from the deserializers themselves, so it cannot drift from them; a
/// test checks that `deploy/config.toml` names each one.
pub fn file_keys() -> Vec<String> {
    let mut keys: Vec<String> = struct_fields::<FileConfig>()
        .iter()
        .filter(|key| **key != "limits")
        .map(|key| (*key).to_owned())
        .collect();
    keys.extend(
        Limits::documented()
            .into_iter()
            .map(|(key, _, _)| format!("limits.{key}")),
    );
    keys
}

/// The field names a struct's derived `Deserialize` asks for, captured by a deserializer that
/// answers nothing else.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields;
    #[derive(Debug)]
    struct Captured(&'static [&'static str]);
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names captured")
        }
    }
    impl std::error::Error for Captured {}
    impl serde::de::Error for Captured {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Captured(&[])
        }
    }
    impl<'de> serde::Deserializer<'de> for Fields {
        type Error = Captured;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Captured> {
            Err(Captured(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match T::deserialize(Fields) {
        Err(Captured(fields)) => fields,
        Ok(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_keys_are_read_from_the_deserializers() {
        let keys = super::file_keys();
        for key in [
            "listen",
            "data_dir",
            "database_url",
            "limits.max_card_bytes",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "limits"));
    }
}
