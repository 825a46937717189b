//! The first minutes of a started postmaster: waiting until it accepts connections (patiently
//! while it replays WAL after a crash, failing fast if it exits), then setting the cluster up
//! over a superuser connection: the application role and its database (see `roles`), and a
//! check that the URL handed to the application works.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{
    DATABASE, ManagedPostgres, PgError, READY_TIMEOUT, RECOVERY_TIMEOUT, SUPERUSER, cluster,
    process, roles,
};

impl ManagedPostgres {
    pub(super) async fn finish_start(
        &self,
        log_file: &Path,
        log_offset: u64,
    ) -> Result<(), PgError> {
        let admin = self.wait_ready(log_file, log_offset).await?;
        roles::ensure_app_role(&admin, DATABASE).await?;
        drop(admin);
        // The objects of a database created by an older rolodex are still the superuser's.
        let (admin, connection) = self
            .superuser_config(DATABASE)
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| PgError::Db(format!("connecting to {DATABASE} as {SUPERUSER}"), e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        roles::transfer_objects(&admin).await?;
        drop(admin);
        // Prove the URL we hand out really works, with the same parser diesel-async uses.
        let (client, connection) =
            tokio_postgres::connect(&self.database_url(), tokio_postgres::NoTls)
                .await
                .map_err(|e| PgError::Db(format!("connecting to {}", self.database_url()), e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| PgError::Db("SELECT 1 on the rolodex database".into(), e))?;
        Ok(())
    }

    /// A superuser connection over the private socket; only for setting the cluster up.
    fn superuser_config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(process::PORT)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("rolodex")
            .connect_timeout(Duration::from_secs(5));
        config
    }

    /// Polls a connection over the socket until the server accepts it (it refuses while
    /// starting up or replaying WAL after a crash), failing fast if the postmaster exits.
    async fn wait_ready(
        &self,
        log_file: &Path,
        log_offset: u64,
    ) -> Result<tokio_postgres::Client, PgError> {
        let config = self.superuser_config("postgres");
        let started = Instant::now();
        let mut last_progress = started;
        loop {
            if let Some(status) = self.exit_status() {
                return Err(PgError::StartFailed {
                    message: format!(
                        "postgres exited during startup ({status}); see {}",
                        log_file.display()
                    ),
                    log_tail: cluster::log_tail(log_file, log_offset),
                });
            }
            let err = match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    return Ok(client);
                }
                Err(e) => e,
            };
            // 57P03: "the database system is starting up" / "not yet accepting connections".
            let recovering =
                err.code() == Some(&tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW);
            let limit = if recovering {
                RECOVERY_TIMEOUT
            } else {
                READY_TIMEOUT
            };
            if started.elapsed() >= limit {
                return Err(PgError::StartFailed {
                    message: format!(
                        "postgres did not accept connections within {}s (last error: {err}); \
                         see {}",
                        limit.as_secs(),
                        log_file.display()
                    ),
                    log_tail: cluster::log_tail(log_file, log_offset),
                });
            }
            if recovering && last_progress.elapsed() >= Duration::from_secs(10) {
                last_progress = Instant::now();
                tracing::info!(
                    "PostgreSQL is still starting up (recovering after a crash?); waiting"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
