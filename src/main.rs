//! The `rolodex` command: serve, migrate, account administration, import and export.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use rolodex::app::{AppOptions, AppState, build_router};
use rolodex::auth::secret;
use rolodex::config::{DatabaseArgs, DatabaseLocation, ServeArgs, Settings};
use rolodex::pg::{ManagedOptions, ManagedPostgres, PgError, running_cluster_url};
use rolodex::store::{
    AddressBook, CardLimits, CredentialKind, DEFAULT_ADDRESS_BOOK, ExportFormat, ImportOptions,
    NewCredential, Principal, Store,
};

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
    /// Import contacts: vCard files (2.1/3.0/4.0) and vdir folders of them, Drop contacts JSON,
    /// Google Contacts CSV, Outlook CSV. Re-importing updates, never duplicates. Exits non-zero
    /// when anything was skipped.
    Import(ImportArgs),
    /// Export an address book as vCard 3.0/4.0, Drop contacts JSON or (Google) CSV.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
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
struct ExportArgs {
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
enum ExportFormatArg {
    Vcf3,
    Vcf4,
    DropJson,
    Csv,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
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
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a bearer token for a user and print it (it is shown only once).
    Create {
        name: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
enum AppPasswordCommand {
    /// Create an app password for a user and print it (it is shown only once).
    Create {
        name: String,
        /// A label, e.g. the device it is for.
        #[arg(long, default_value = "device")]
        label: String,
    },
}

fn main() -> ExitCode {
    tune_allocator();
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

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::PrintSchema = cli.command {
        print!("{}", rolodex::graphql::sdl());
        return Ok(());
    }
    let serve_args = match &cli.command {
        Command::Serve(args) => args.clone(),
        _ => ServeArgs::default(),
    };
    let settings = Settings::resolve(&cli.database, &serve_args).map_err(|e| e.to_string())?;
    rolodex::telemetry::init(settings.log_format);
    // Administrative commands may run beside a serving process on the same data directory.
    let may_attach = !matches!(cli.command, Command::Serve(_));
    let database = Database::open(&settings, may_attach).await?;
    let outcome = match cli.command {
        Command::Serve(_) => serve(&settings, &database.store).await,
        Command::Migrate | Command::PrintSchema => Ok(()),
        Command::User { command } => user(&database.store, command).await,
        Command::Token {
            command: TokenCommand::Create { name, label },
        } => create_credential(&database.store, &name, CredentialKind::Token, &label).await,
        Command::AppPassword {
            command: AppPasswordCommand::Create { name, label },
        } => create_credential(&database.store, &name, CredentialKind::AppPassword, &label).await,
        Command::Import(args) => import(&database.store, args).await,
        Command::Export(args) => export(&database.store, args).await,
    };
    database.close().await;
    outcome
}

/// The store plus, on the embedded default, the PostgreSQL we started.
struct Database {
    store: Store,
    managed: Option<ManagedPostgres>,
}

impl Database {
    async fn open(settings: &Settings, may_attach: bool) -> Result<Database, String> {
        let (url, managed) = match &settings.database {
            DatabaseLocation::External { url } => (url.clone(), None),
            DatabaseLocation::Managed { data_dir, pg_bin } => {
                let options = ManagedOptions {
                    log_max_bytes: settings.limits.postgres_log_bytes,
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

    async fn close(self) {
        drop(self.store);
        if let Some(pg) = self.managed
            && let Err(e) = pg.stop().await
        {
            eprintln!("warning: stopping PostgreSQL: {e}");
        }
    }
}

async fn serve(settings: &Settings, store: &Store) -> Result<(), String> {
    let state = AppState::new(
        store.clone(),
        AppOptions {
            limits: settings.limits.clone(),
            allowed_origins: settings.allowed_origins.clone(),
        },
    );
    let router = build_router(state);
    if settings.limits.change_retention_days > 0 {
        tokio::spawn(prune_history_periodically(
            store.clone(),
            settings.limits.change_retention_days,
        ));
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, "rolodex is listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("shutting down");
    Ok(())
}

/// Keeps the change log (and tombstones) to the retention period: once at start, then hourly.
/// Several server processes on one database may all do it; the deletes are idempotent.
async fn prune_history_periodically(store: Store, retention_days: u32) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        let before = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
        match store.prune_history(before).await {
            Ok(pruned) if pruned.changes > 0 || pruned.tombstones > 0 => tracing::info!(
                changes = pruned.changes,
                tombstones = pruned.tombstones,
                retention_days,
                "pruned the change log"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "pruning the change log failed; retrying in an hour")
            }
        }
    }
}

/// Keeps glibc's allocator from holding on to memory a burst of requests used. By default it
/// raises its mmap threshold after the first large free, so later large buffers (an argon2
/// check's 19 MiB, a multi-MiB request body) come from per-thread heaps that are rarely given
/// back; with one heap per blocking thread, a few password checks on different threads
/// leave the process hundreds of MiB larger. A fixed threshold sends every allocation of
/// 1 MiB or more to mmap (returned on free), and few arenas bound the rest.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn user(store: &Store, command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let (password, generated) = obtain_password(password_stdin)?;
            let hash = hash_password(password.clone()).await?;
            let user = store
                .create_user(&name, &hash)
                .await
                .map_err(|e| e.to_string())?;
            println!("created user {} with address book \"contacts\"", user.name);
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let (password, generated) = obtain_password(password_stdin)?;
            let hash = hash_password(password.clone()).await?;
            store
                .set_password_hash(&name, &hash)
                .await
                .map_err(|e| format!("user {name:?}: {e}"))?;
            println!("password of {name} changed");
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
    }
}

/// The password from stdin (first line, without the newline), or a generated one.
fn obtain_password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((secret::generate_password(), true));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("the password read from stdin is empty".into());
    }
    Ok((password, false))
}

async fn hash_password(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| e.to_string())?
}

async fn create_credential(
    store: &Store,
    user_name: &str,
    kind: CredentialKind,
    label: &str,
) -> Result<(), String> {
    let secret = match kind {
        CredentialKind::Token => secret::generate_token(),
        CredentialKind::AppPassword => secret::generate_password(),
    };
    store
        .add_credential(
            user_name,
            NewCredential {
                kind,
                label,
                secret_hash: &secret::hash_secret(&secret),
            },
        )
        .await
        .map_err(|e| format!("user {user_name:?}: {e}"))?;
    // The secret itself is stored nowhere: this is the only time it is shown.
    println!("{secret}");
    Ok(())
}

/// The user's principal and one of their address books (the default one unless named).
async fn user_book(
    store: &Store,
    user_name: &str,
    slug: Option<&str>,
) -> Result<(Principal, AddressBook), String> {
    let principal = store
        .principal_for_user(user_name)
        .await
        .map_err(|e| format!("user {user_name:?}: {e}"))?;
    let slug = slug.unwrap_or(DEFAULT_ADDRESS_BOOK);
    let book = store
        .address_book_by_slug(&principal, slug)
        .await
        .map_err(|e| format!("address book {slug:?} of {user_name}: {e}"))?;
    Ok((principal, book))
}

async fn import(store: &Store, args: ImportArgs) -> Result<(), String> {
    let (principal, book) = user_book(store, &args.user, args.address_book.as_deref()).await?;
    let options = ImportOptions {
        dry_run: args.dry_run,
        ..ImportOptions::default()
    };
    let summary = rolodex::transfer::import_paths(
        store,
        &principal,
        book.id,
        &args.paths,
        &options,
        &mut std::io::stdout(),
    )
    .await?;
    if summary.skipped > 0 {
        return Err(format!(
            "{} skipped (reasons above); everything else was {}",
            summary.skipped,
            if args.dry_run { "checked" } else { "imported" }
        ));
    }
    Ok(())
}

async fn export(store: &Store, args: ExportArgs) -> Result<(), String> {
    let (principal, book) = user_book(store, &args.user, args.address_book.as_deref()).await?;
    let format = match args.format {
        ExportFormatArg::Vcf3 => ExportFormat::VCard3,
        ExportFormatArg::Vcf4 => ExportFormat::VCard4,
        ExportFormatArg::DropJson => ExportFormat::DropJson,
        ExportFormatArg::Csv => ExportFormat::Csv,
    };
    let text = store
        .export_contacts(&principal, book.id, format)
        .await
        .map_err(|e| e.to_string())?;
    rolodex::transfer::write_output(&text, args.output.as_deref())
}
