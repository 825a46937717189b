//! The change feed: what changed in an address book since a revision. One log serves CardDAV
//! `sync-collection`, GraphQL `changes(since:)` and (via NOTIFY) subscriptions.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Principal, Store, StoreError, StoreResult};
use crate::db::models::ChangeRow;
use crate::db::schema::changes;
pub use crate::domain::change::ChangeOp;

/// The latest change to one card since the asked revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedContact {
    pub contact_id: i64,
    pub uid: String,
    pub href: String,
    pub op: ChangeOp,
    pub revision: i64,
}

/// Changes since a revision, in revision order, one entry per card, and the revision they bring
/// the caller to.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub revision: i64,
    pub changes: Vec<ChangedContact>,
}

impl ChangeSet {
    pub fn upserts(&self) -> impl Iterator<Item = &ChangedContact> {
        self.changes.iter().filter(|c| c.op == ChangeOp::Put)
    }

    pub fn deletions(&self) -> impl Iterator<Item = &ChangedContact> {
        self.changes.iter().filter(|c| c.op == ChangeOp::Delete)
    }
}

impl Store {
    /// Everything that changed in the principal's address book after revision `since`. A
    /// revision from the future or older than the log covers is [`StoreError::InvalidSyncToken`]
    /// (CardDAV clients then fall back to a full sync).
    pub async fn changes_since(
        &self,
        principal: &Principal,
        address_book_id: i64,
        since: i64,
    ) -> StoreResult<ChangeSet> {
        // Book first: it checks ownership and gives the current revision.
        let book = self
            .get_address_book_row(principal, address_book_id)
            .await?;
        if since < book.oldest_revision || since > book.revision {
            return Err(StoreError::InvalidSyncToken);
        }
        let mut conn = self.conn().await?;
        // Only revisions up to the book's revision as read above: a write committing meanwhile
        // is reported on the next call instead of being skipped.
        let rows: Vec<ChangeRow> = changes::table
            .filter(changes::address_book_id.eq(address_book_id))
            .filter(changes::revision.gt(since))
            .filter(changes::revision.le(book.revision))
            .order(changes::revision.desc())
            .select(ChangeRow::as_select())
            .load(&mut conn)
            .await?;
        // Newest first: the first row seen for a card is its latest state. Entries are per card
        // (GraphQL identity); a front end keyed by href dedupes reused hrefs itself.
        let mut seen_cards = HashSet::new();
        let mut latest = Vec::new();
        for row in rows {
            if !seen_cards.insert(row.contact_id) {
                continue;
            }
            latest.push(ChangedContact {
                contact_id: row.contact_id,
                uid: row.uid,
                href: row.href,
                op: row.op,
                revision: row.revision,
            });
        }
        latest.reverse();
        Ok(ChangeSet {
            revision: book.revision,
            changes: latest,
        })
    }

    async fn get_address_book_row(
        &self,
        principal: &Principal,
        address_book_id: i64,
    ) -> StoreResult<crate::db::models::AddressBookRow> {
        use crate::db::models::AddressBookRow;
        use crate::db::schema::address_books;
        let mut conn = self.conn().await?;
        Ok(address_books::table
            .filter(address_books::id.eq(address_book_id))
            .filter(address_books::user_id.eq(principal.user_id))
            .select(AddressBookRow::as_select())
            .first(&mut conn)
            .await?)
    }
}

/// Change-log rows and tombstones removed per statement, so pruning never holds a long
/// transaction over a busy table.
const PRUNE_BATCH: i64 = 5_000;

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub changes: usize,
    pub tombstones: usize,
}

impl Store {
    /// Drops change-log entries and tombstones older than `before`. Each book's
    /// `oldest_revision` moves past the entries dropped, so a sync token from before them is
    /// refused ([`StoreError::InvalidSyncToken`]: CardDAV clients and GraphQL callers start
    /// over) instead of silently missing changes. Not scoped to a principal: this is the
    /// server's own upkeep.
    pub async fn prune_history(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Pruned> {
        use crate::db::prepared::Prepared;
        use diesel::sql_types::{BigInt, Timestamptz};

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await?;
        let mut pruned = Pruned::default();
        loop {
            let batch: Vec<Count> = Prepared::new(
                "WITH gone AS ( \
                   DELETE FROM changes WHERE id IN ( \
                     SELECT id FROM changes WHERE changed_at < $1 LIMIT $2) \
                   RETURNING address_book_id, revision), \
                 bounds AS ( \
                   SELECT address_book_id, max(revision) AS revision FROM gone \
                   GROUP BY address_book_id), \
                 moved AS ( \
                   UPDATE address_books SET oldest_revision = \
                     greatest(address_books.oldest_revision, bounds.revision) \
                   FROM bounds WHERE address_books.id = bounds.address_book_id) \
                 SELECT count(*) AS n FROM gone",
            )
            .bind::<Timestamptz, _>(before)
            .bind::<BigInt, _>(PRUNE_BATCH)
            .load(&mut conn)
            .await?;
            let n = <[Count]>::first(&batch).map_or(0, |c| c.n);
            pruned.changes += usize::try_from(n).unwrap_or(0);
            if n < PRUNE_BATCH {
                break;
            }
        }
        loop {
            // A tombstone's last change is gone with the log above (or sooner): nothing
            // reports the deletion any more.
            let batch: Vec<Count> = Prepared::new(
                "WITH gone AS ( \
                   DELETE FROM contacts WHERE id IN ( \
                     SELECT id FROM contacts WHERE deleted_at < $1 LIMIT $2) \
                   RETURNING id) \
                 SELECT count(*) AS n FROM gone",
            )
            .bind::<Timestamptz, _>(before)
            .bind::<BigInt, _>(PRUNE_BATCH)
            .load(&mut conn)
            .await?;
            let n = <[Count]>::first(&batch).map_or(0, |c| c.n);
            pruned.tombstones += usize::try_from(n).unwrap_or(0);
            if n < PRUNE_BATCH {
                break;
            }
        }
        Ok(pruned)
    }
}
