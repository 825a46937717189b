//! The store: THE application service both front ends (GraphQL, CardDAV) and the CLI call.
//! It owns transactions, tenancy (every call takes the acting [`Principal`] and only ever touches
//! that user's rows), ETag preconditions, revisions, the change log and change notifications.
//!
//! Writes keep one invariant: the stored vCard, its projection columns, the address book's
//! revision and the change-log row change together in one transaction, or not at all.

mod accounts;
mod ahead;
mod books;
mod cards;
mod changes;
mod children;
mod commit;
mod credentials;
mod duplicates;
mod events;
mod export;
mod groups;
mod import;
mod lookup;
mod merge;
mod pages;
mod projection;
mod properties;
mod query;
mod reads;
mod reindex;
mod represent;
mod transfer;
mod writes;

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::{self, PgConn, PgPool, PoolSettings, QueryCounter};
use crate::domain::contact::{CardKind, ContactFields, ValidationError};
use crate::domain::vcard::{CardVersion, VCardError};

pub use crate::domain::principal::Principal;
pub use accounts::{UserInfo, UserUsage};
pub use ahead::ReadAhead;
pub use cards::{CardBody, CardMeta, TextCandidates};
pub use changes::{ChangeOp, ChangeSet, ChangedContact, Pruned};
pub use credentials::{
    CredentialInfo, CredentialKind, LAST_USED_GRANULARITY, MAX_LABEL_CHARS, NewCredential,
};
pub use duplicates::{DuplicateGroup, DuplicateQuery, MAX_SET_SIZE};
pub use events::{ChangeEvent, ChangeHub};
pub use export::{EXPORT_PAGE_CARDS, Export, ExportFormat, ExportTooLarge};
pub use groups::GroupSummary;
pub use import::{
    DEFAULT_BATCH_SIZE, ImportAction, ImportOptions, ImportedCard, Importer, SkipReason,
};
pub use lookup::ContactLookup;
pub use pages::PageKey;
pub use properties::{DeadProperty, PatchOutcome, PropertyOwner, PropertyPatch};
pub use query::{
    ContactFilter, ContactOrder, ContactOrderField, ContactWindow, MatchingContacts, search_words,
};
pub use reads::{ContactListQuery, Page};
pub use represent::{conversion, representation};
pub use transfer::{CardAt, TransferKind, TransferOutcome};
pub use writes::{Precondition, PutOutcome};

/// PostgreSQL channel on which every committed change is announced (payload: JSON with
/// `address_book_id`, `revision`, `contact_id`, `op`). NOTIFY is transactional, so listeners
/// hear of a change only once it is committed, from any server process.
pub const CHANGE_CHANNEL: &str = "rolodex_changes";

/// Everything a store call can fail with. Front ends map this once each (HTTP status +
/// precondition element for CardDAV, `extensions.code` for GraphQL).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist *for this principal* (another user's ids land here too).
    #[error("not found")]
    NotFound,
    /// An `If-Match`/`ifMatch` ETag (or `If-None-Match: *`) did not hold.
    #[error("precondition failed: the resource has changed (current etag {current:?})")]
    PreconditionFailed { current: Option<String> },
    /// Another live card in the same address book already has this UID.
    #[error("a card with UID {uid:?} already exists at {existing_href:?}")]
    UidConflict { uid: String, existing_href: String },
    /// A write would replace the card at `href` with one of another UID.
    #[error("the card at {href:?} has UID {uid:?}; a card with another UID cannot replace it")]
    UidChanged { uid: String, href: String },
    /// The vCard text could not be understood.
    #[error("invalid vCard: {0}")]
    InvalidCard(#[from] VCardError),
    /// A model value broke a rule.
    #[error("invalid value for {}", .0)]
    Validation(#[from] ValidationError),
    /// A name or slug that must be unique is taken (user name, address book slug).
    #[error("{what} {name:?} already exists")]
    AlreadyExists { what: &'static str, name: String },
    /// A sync token / change-feed revision the store cannot answer from.
    #[error("unknown or expired sync token")]
    InvalidSyncToken,
    #[error("authentication failed")]
    Unauthenticated,
    /// The pool had no free connection in time, or the server could not be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(DieselError),
    /// A migration could not be applied: the database is reachable, but its schema is not as
    /// this binary needs it (see [`Store::migrate`]).
    #[error("migration failed: {0}")]
    Migration(String),
    /// A card beyond the configured size limits ([`CardLimits`]).
    #[error(transparent)]
    CardLimit(#[from] CardLimitExceeded),
}

/// The database layer's setup errors, mapped once: a migration that ran and failed is a failed
/// migration; anything else means the database cannot be reached.
impl From<db::DbError> for StoreError {
    fn from(error: db::DbError) -> StoreError {
        match error {
            db::DbError::Migration(_) | db::DbError::MigrationTask(_) => {
                StoreError::Migration(error.to_string())
            }
            db::DbError::Connect(_) | db::DbError::Establish(_) | db::DbError::Pool(_) => {
                StoreError::Unavailable(error.to_string())
            }
        }
    }
}

/// How large a stored card may be (from [`crate::limits::Limits`]). Checked on every write
/// path (CardDAV PUT, GraphQL writes, import), before parsing where the text is at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardLimits {
    pub max_bytes: usize,
    pub max_properties: usize,
}

impl Default for CardLimits {
    fn default() -> Self {
        let limits = crate::limits::Limits::default();
        CardLimits::from(&limits)
    }
}

impl From<&crate::limits::Limits> for CardLimits {
    fn from(limits: &crate::limits::Limits) -> CardLimits {
        CardLimits {
            max_bytes: limits.max_card_bytes,
            max_properties: limits.max_card_properties,
        }
    }
}

/// Which card limit a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardLimitExceeded {
    #[error("the vCard is larger than the limit of {limit} bytes")]
    Bytes { limit: usize },
    #[error("the vCard has more than {limit} properties")]
    Properties { limit: usize },
}

impl CardLimits {
    /// Refuses text longer than the limit (before any parsing).
    pub fn check_bytes(&self, text: &str) -> Result<(), CardLimitExceeded> {
        if text.len() > self.max_bytes {
            return Err(CardLimitExceeded::Bytes {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Refuses a parsed card with too many properties, or whose text is too long.
    pub fn check(
        &self,
        card: &crate::domain::vcard::Card,
        text: &str,
    ) -> Result<(), CardLimitExceeded> {
        self.check_bytes(text)?;
        if card.vcard().entries.len() > self.max_properties {
            return Err(CardLimitExceeded::Properties {
                limit: self.max_properties,
            });
        }
        Ok(())
    }
}

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                StoreError::Unavailable(info.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An address book as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    pub id: i64,
    pub slug: String,
    pub display_name: String,
    pub description: String,
    /// Bumped by every write; CardDAV `getctag`/`sync-token` and GraphQL change tokens derive
    /// from it.
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Slug of the address book every new user gets.
pub const DEFAULT_ADDRESS_BOOK: &str = "contacts";

/// One stored card with its metadata and typed projection.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRecord {
    pub id: i64,
    pub address_book_id: i64,
    pub uid: String,
    /// Resource name inside the address book (CardDAV path segment, decoded).
    pub href: String,
    pub kind: CardKind,
    /// The stored card text: exactly the bytes a CardDAV client PUT, or what a model write
    /// rendered.
    pub vcard: String,
    /// The version `vcard` is written in.
    pub vcard_version: CardVersion,
    /// Unquoted strong ETag (hash of `vcard`).
    pub etag: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub fields: ContactFields,
}

/// The store handle: cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    database_url: String,
    queries: QueryCounter,
    card_limits: CardLimits,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool on `database_url` and checks that a connection can be made.
    pub async fn connect(database_url: &str, settings: &PoolSettings) -> StoreResult<Store> {
        let queries = QueryCounter::default();
        let pool = db::build_pool(database_url, settings, queries.clone())?;
        let store = Store {
            pool,
            database_url: database_url.to_owned(),
            queries,
            card_limits: CardLimits::default(),
        };
        drop(store.conn().await?);
        Ok(store)
    }

    /// Applies pending migrations, then fills in what they added but SQL cannot compute;
    /// returns the versions applied.
    pub async fn migrate(&self) -> StoreResult<Vec<String>> {
        let applied = db::run_migrations(&self.database_url).await?;
        let indexed = self.backfill_match_text().await?;
        if indexed > 0 {
            tracing::info!(
                cards = indexed,
                "indexed stored cards for addressbook-query"
            );
        }
        let projected = self.backfill_details().await?;
        if projected > 0 {
            tracing::info!(
                cards = projected,
                "read birthdays, websites, related people and labels of stored cards"
            );
        }
        Ok(applied)
    }

    /// The same store, refusing cards beyond `limits` (the defaults of [`CardLimits`]
    /// otherwise).
    pub fn with_card_limits(mut self, limits: CardLimits) -> Store {
        self.card_limits = limits;
        self
    }

    /// The card limits every write checks.
    pub fn card_limits(&self) -> CardLimits {
        self.card_limits
    }

    /// The URL this store connects to (for LISTEN connections of the subscription layer).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    async fn conn(&self) -> StoreResult<PgConn> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// SQL statements run through this store's pool so far.
    pub fn queries_executed(&self) -> u64 {
        self.queries.get()
    }

    /// Round-trips to the database: used by `/healthz`.
    pub async fn ping(&self) -> StoreResult<()> {
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await?;
        Ok(())
    }

    /// Tables, views and sequences in the database outside PostgreSQL's own schemas: zero for
    /// a freshly created database, which is the only kind `rolodex restore` writes into.
    pub async fn user_relation_count(&self) -> StoreResult<i64> {
        use diesel::sql_types::BigInt;
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let mut conn = self.conn().await?;
        let row: Count = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg\\_%'",
        )
        .get_result(&mut conn)
        .await?;
        Ok(row.count)
    }
}

/// Maps a unique-violation on `constraint` to `on_violation`, anything else through `From`.
fn unique_violation(error: DieselError, constraint: &str, on_violation: StoreError) -> StoreError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(constraint) =>
        {
            on_violation
        }
        _ => StoreError::from(error),
    }
}
