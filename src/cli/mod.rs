//! The `rolodex` command line: serve, migrate, account administration, import and export.
//! `src/main.rs` only calls [`main`]; each group of commands has a module of its own.

mod accounts;
mod backup;
mod books;
mod database;
mod dedupe;
mod serve;
mod transfer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, DatabaseArgs, ServeArgs, Settings};
use crate::store::StoreError;
use crate::transfer::TransferError;
use database::{Database, DatabaseError, Mode};

/// Why a command failed: the one error of the command line, printed as `error: {it}`. Each
/// group of commands has its own reasons (accounts, books, backups, the database); this wraps
/// them and adds those of import, export and dedupe.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error(transparent)]
    Accounts(#[from] accounts::AccountError),
    #[error(transparent)]
    Books(#[from] books::BookError),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// A store call that names no user or book (the export itself, the duplicate search).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("user {user:?}: {source}")]
    User { user: String, source: StoreError },
    #[error("address book {slug:?} of {user}: {source}")]
    Book {
        user: String,
        slug: String,
        source: StoreError,
    },
    #[error(
        "{skipped} skipped (reasons above); everything else was {}",
        if *.dry_run { "checked" } else { "imported" }
    )]
    Skipped { skipped: usize, dry_run: bool },
    #[error("--min-score must be between 0 and 1")]
    MinScore,
    #[error("merging into {into}: {source}")]
    Merge { into: String, source: StoreError },
}

#[derive(Debug, Parser)]
#[command(
    name = "rolodex",
    version,
    about = "Self-hosted contacts server (GraphQL + CardDAV)"
)]
struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (starts the managed PostgreSQL unless DATABASE_URL is set).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL), as committed in schema.graphql.
    PrintSchema,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage app passwords (HTTP Basic passwords for CardDAV clients).
    AppPassword {
        #[command(subcommand)]
        command: AppPasswordCommand,
    },
    /// Manage a user's address books.
    AddressBook {
        #[command(subcommand)]
        command: books::AddressBookCommand,
    },
    /// Import contacts: vCard files (2.1/3.0/4.0) and vdir folders of them, Drop contacts JSON,
    /// Google Contacts CSV, Outlook CSV. Re-importing updates, never duplicates. Exits non-zero
    /// when anything was skipped.
    Import(ImportArgs),
    /// Export an address book as vCard 3.0/4.0, Drop contacts JSON or (Google) CSV.
    Export(ExportArgs),
    /// Find contacts that look like the same person; with --apply, merge each set into its
    /// most complete contact (nothing is lost; groups follow; sync clients see the merge).
    Dedupe(dedupe::DedupeArgs),
    /// Back up the whole server's data to a file while it runs (pg_dump, custom format).
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory (creating the cluster there) or an empty
    /// DATABASE_URL database.
    Restore(backup::RestoreArgs),
    /// Open psql on the database (the managed cluster, or DATABASE_URL).
    Psql(backup::PsqlArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// The user whose address book receives the contacts.
    #[arg(long)]
    user: String,
    /// Slug of the address book (default: the user's default book, "contacts").
    #[arg(long)]
    address_book: Option<String>,
    /// Report what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Files or folders (vdirs) to import; the format is recognized by content and extension.
    #[arg(required = true)]
    paths: Vec<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The user whose address book is exported.
    #[arg(long)]
    user: String,
    /// Slug of the address book (default: "contacts").
    #[arg(long)]
    address_book: Option<String>,
    /// Output format.
    #[arg(long, value_enum)]
    format: ExportFormatArg,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormatArg {
    Vcf3,
    Vcf4,
    DropJson,
    Csv,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user with a default address book. Prints a generated password unless
    /// --password-stdin is given.
    Add {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (from stdin with --password-stdin, else generated and printed).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, one per line: name, created, "active" or "disabled since TIME"
    /// (tab-separated).
    List,
    /// Disable a user: their password, tokens and app passwords are refused from the next
    /// request on, by every server process. Their data stays.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Delete a user with their credentials, address books and cards. Refused without --yes.
    Delete {
        name: String,
        /// Confirm: everything of the user is deleted, for good.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a bearer token for a user and print it (it is shown only once).
    Create {
        name: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
        /// Refuse the token after this long: a number and a unit, s m h d or w (30d, 12h, 90m).
        #[arg(long)]
        expires_in: Option<accounts::ExpiresIn>,
    },
    /// List a user's tokens, one per line: id, label, created, last used, expires
    /// (tab-separated; "never" where there is no time).
    List { name: String },
    /// Revoke one of a user's tokens (its id from `token list`): it is refused from the next
    /// request on, by every server process.
    Revoke { name: String, id: i64 },
}

#[derive(Debug, Subcommand)]
enum AppPasswordCommand {
    /// Create an app password for a user and print it (it is shown only once).
    Create {
        name: String,
        /// A label, e.g. the device it is for.
        #[arg(long, default_value = "device")]
        label: String,
        /// Refuse the app password after this long: a number and a unit, s m h d or w (30d,
        /// 12h, 90m).
        #[arg(long)]
        expires_in: Option<accounts::ExpiresIn>,
    },
    /// List a user's app passwords, one per line: id, label, created, last used, expires
    /// (tab-separated; "never" where there is no time).
    List { name: String },
    /// Revoke one of a user's app passwords (its id from `app-password list`): it is refused
    /// from the next request on, by every server process.
    Revoke { name: String, id: i64 },
}

/// Runs the command line; the process's exit code.
pub fn main() -> ExitCode {
    serve::tune_allocator();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::PrintSchema = cli.command {
        print!("{}", crate::graphql::sdl());
        return Ok(());
    }
    let serve_args = match &cli.command {
        Command::Serve(args) => args.clone(),
        _ => ServeArgs::default(),
    };
    let settings = Settings::resolve(&cli.database, &serve_args)?;
    crate::telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve(_) => return Ok(serve::run(&settings).await?),
        Command::Backup(args) => return Ok(backup::backup(&settings, args).await?),
        Command::Restore(args) => return Ok(backup::restore(&settings, args).await?),
        Command::Psql(args) => return Ok(backup::psql(&settings, args).await?),
        _ => {}
    }
    // Administrative commands may run beside a serving process on the same data directory,
    // and never create a cluster.
    let database = Database::open(&settings, Mode::Admin).await?;
    let store = &database.store;
    let outcome = match cli.command {
        Command::Serve(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Psql(_)
        | Command::Migrate
        | Command::PrintSchema => Ok(()),
        Command::User { command } => accounts::user(store, command).await.map_err(From::from),
        Command::Token { command } => accounts::token(store, command).await.map_err(From::from),
        Command::AppPassword { command } => accounts::app_password(store, command)
            .await
            .map_err(From::from),
        Command::AddressBook { command } => books::address_book(store, command)
            .await
            .map_err(From::from),
        Command::Import(args) => transfer::import(store, args).await,
        Command::Export(args) => transfer::export(store, args).await,
        Command::Dedupe(args) => dedupe::dedupe(store, args).await,
    };
    database.close().await;
    outcome
}
