//! The change feed: what changed in an address book since a revision. One log serves CardDAV
//! `sync-collection`, GraphQL `changes(since:)` and (via NOTIFY) subscriptions.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Principal, Store, StoreError, StoreResult};
use crate::db::models::ChangeRow;
use crate::db::schema::changes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    Put,
    Delete,
}

impl ChangeOp {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Put => "put",
            ChangeOp::Delete => "delete",
        }
    }
}

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
            let op = if row.op == "delete" {
                ChangeOp::Delete
            } else {
                ChangeOp::Put
            };
            latest.push(ChangedContact {
                contact_id: row.contact_id,
                uid: row.uid,
                href: row.href,
                op,
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
