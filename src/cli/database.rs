//! The database every command works on: the managed PostgreSQL in the data directory (started,
//! or attached to when a server already runs there) or `DATABASE_URL`, migrated before use.

use crate::config::{DatabaseLocation, Settings};
use crate::pg::{ManagedOptions, ManagedPostgres, PgError, running_cluster_url};
use crate::store::{CardLimits, Store};

/// The store plus, on the embedded default, the PostgreSQL we started.
pub(super) struct Database {
    pub(super) store: Store,
    managed: Option<ManagedPostgres>,
}

impl Database {
    pub(super) async fn open(settings: &Settings, may_attach: bool) -> Result<Database, String> {
        let (url, managed) = match &settings.database {
            DatabaseLocation::External { url } => (url.clone(), None),
            DatabaseLocation::Managed {
                data_dir,
                pg_bin,
                pg_user,
            } => {
                let options = ManagedOptions {
                    log_max_bytes: settings.limits.postgres_log_bytes,
                    pg_user: pg_user.clone(),
                };
                match ManagedPostgres::start_with(data_dir, pg_bin.as_deref(), &options).await {
                    Ok(pg) => {
                        tracing::info!(data_dir = %data_dir.display(), "managed PostgreSQL is up");
                        (pg.database_url(), Some(pg))
                    }
                    Err(e @ PgError::DataDirInUse { .. }) => {
                        match running_cluster_url(data_dir).filter(|_| may_attach) {
                            Some(url) => (url, None),
                            None => return Err(e.to_string()),
                        }
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        let store = match Store::connect(&url, &settings.pool).await {
            Ok(store) => store.with_card_limits(CardLimits::from(&settings.limits)),
            Err(e) => {
                if let Some(pg) = managed {
                    let _ = pg.stop().await;
                }
                return Err(format!("cannot connect to PostgreSQL: {e}"));
            }
        };
        let applied = match store.migrate().await {
            Ok(applied) => applied,
            Err(e) => {
                if let Some(pg) = managed {
                    let _ = pg.stop().await;
                }
                return Err(format!("migrations failed: {e}"));
            }
        };
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(Database { store, managed })
    }

    pub(super) async fn close(self) {
        drop(self.store);
        if let Some(pg) = self.managed
            && let Err(e) = pg.stop().await
        {
            eprintln!("warning: stopping PostgreSQL: {e}");
        }
    }
}
