//! `rolodex backup`, `restore` and `psql`: the whole server's data taken out and put back with
//! PostgreSQL's own tools, and a SQL shell on it.
//!
//! A backup is `pg_dump --format=custom` of the rolodex database (managed cluster or
//! `DATABASE_URL`): one consistent snapshot, taken while the server keeps running. Every row
//! keeps its id and every sequence its value, so the cards come back byte for byte with their
//! ETags, and sync tokens (address book id and revision, see `src/dav/props.rs`) stay valid.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::database::{Connection, Database, DatabaseError, Mode, absolute};
use crate::config::{DatabaseLocation, Settings};
use crate::pg::tools::{self, ToolError};
use crate::store::{Store, StoreError};

#[derive(Debug, clap::Args)]
pub(super) struct BackupArgs {
    /// Write the backup to this file (PostgreSQL custom format, readable only by its owner).
    /// It is replaced only once the new backup is complete.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(super) struct RestoreArgs {
    /// A file written by `rolodex backup`.
    file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(super) struct PsqlArgs {
    /// Arguments for psql, after `--` (e.g. `rolodex psql -- -c 'SELECT count(*) FROM cards'`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Why a backup, restore or psql session failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum BackupError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not a rolodex backup (not a PostgreSQL custom-format dump; make one with \
         `rolodex backup -o FILE`)",
        .path.display()
    )]
    NotABackup { path: PathBuf },
    #[error(
        "refusing to restore into {target}: it already holds data ({count} tables and \
         sequences). Restore into an empty data directory (`rolodex restore --data-dir \
         /new/dir FILE`) or a newly created, empty database (DATABASE_URL)."
    )]
    NotEmpty { target: String, count: i64 },
    #[error("checking that {target} is empty: {source}")]
    Check { target: String, source: StoreError },
}

/// The PostgreSQL binaries the managed cluster runs (the client programs sit beside them).
fn pg_bin(settings: &Settings) -> Option<&Path> {
    match &settings.database {
        DatabaseLocation::Managed { pg_bin, .. } => pg_bin.as_deref(),
        DatabaseLocation::External { .. } => None,
    }
}

pub(super) async fn backup(settings: &Settings, args: BackupArgs) -> Result<(), BackupError> {
    let pg_dump = tools::find_client("pg_dump", pg_bin(settings))?;
    let output = absolute(&args.output);
    if output.is_dir() {
        return Err(BackupError::File {
            path: output.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory; name the backup file to write",
            ),
        });
    }
    let connection = Connection::open(settings, Mode::Admin).await?;
    let outcome = dump(&pg_dump, &connection.url, &output).await;
    connection.close().await;
    let bytes = outcome?;
    println!("backup written to {} ({bytes} bytes)", output.display());
    Ok(())
}

/// Dumps into a private file beside `output`, then renames it over `output`: a failed or
/// interrupted backup never replaces a good one with a truncated file.
async fn dump(pg_dump: &Path, url: &str, output: &Path) -> Result<u64, BackupError> {
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::File { path, source }
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".to_owned());
    let partial = output.with_file_name(format!(".{name}.partial"));
    // Created here with mode 0600 (pg_dump keeps an existing file's mode): the dump holds
    // every user's contacts and password hashes.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        // Named as the user gave it: the partial file is ours, the directory is theirs.
        .map_err(file_error(output))?;
    let mut command = tools::command_for(pg_dump, url);
    command
        .arg("--format=custom")
        .arg("--no-password")
        .arg(format!("--file={}", partial.display()));
    if let Err(e) = tools::run("pg_dump", command).await {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    if let Err(e) = std::fs::rename(&partial, output) {
        let _ = std::fs::remove_file(&partial);
        return Err(file_error(output)(e));
    }
    let bytes = std::fs::metadata(output).map_err(file_error(output))?.len();
    Ok(bytes)
}

pub(super) async fn restore(settings: &Settings, args: RestoreArgs) -> Result<(), BackupError> {
    let file = absolute(&args.file);
    check_backup_file(&file)?;
    let pg_restore = tools::find_client("pg_restore", pg_bin(settings))?;
    let connection = Connection::open(settings, Mode::Restore).await?;
    let outcome = restore_into(settings, &connection, &pg_restore, &file).await;
    let target = connection.target.clone();
    connection.close().await;
    outcome?;
    println!("restored {} into {target}", file.display());
    Ok(())
}

async fn restore_into(
    settings: &Settings,
    connection: &Connection,
    pg_restore: &Path,
    file: &Path,
) -> Result<(), BackupError> {
    let check = |source| BackupError::Check {
        target: connection.target.clone(),
        source,
    };
    let store = Store::connect(&connection.url, &settings.pool)
        .await
        .map_err(check)?;
    let count = store.user_relation_count().await.map_err(check)?;
    drop(store);
    if count > 0 {
        return Err(BackupError::NotEmpty {
            target: connection.target.clone(),
            count,
        });
    }
    let mut command = tools::command_for(pg_restore, &connection.url);
    // One transaction: a restore that fails leaves the database as empty as it was. Owners
    // and grants are those of whoever restores, not of the server the backup came from.
    command
        .args([
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--no-password",
        ])
        .arg(file);
    tools::run("pg_restore", command).await?;
    // A backup of an older rolodex is brought up to this version's schema now, not at the
    // next start.
    drop(Database::migrated_store(settings, connection).await?);
    Ok(())
}

/// A custom-format dump starts with "PGDMP"; anything else is refused before any cluster is
/// created for it.
fn check_backup_file(path: &Path) -> Result<(), BackupError> {
    let mut magic = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::UnexpectedEof => BackupError::NotABackup {
                path: path.to_path_buf(),
            },
            _ => BackupError::File {
                path: path.to_path_buf(),
                source,
            },
        })?;
    if &magic != b"PGDMP" {
        return Err(BackupError::NotABackup {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

pub(super) async fn psql(settings: &Settings, args: PsqlArgs) -> Result<(), BackupError> {
    let psql = tools::find_client("psql", pg_bin(settings))?;
    let connection = Connection::open(settings, Mode::Admin).await?;
    // Ctrl-C in the terminal reaches rolodex too; it belongs to psql (it cancels the running
    // query). Listening for it keeps rolodex alive to stop the cluster it may have started.
    let interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    let mut command = tools::command_for(&psql, &connection.url);
    command.args(&args.args);
    let outcome = tools::run("psql", command).await;
    drop(interrupts);
    connection.close().await;
    Ok(outcome?)
}
