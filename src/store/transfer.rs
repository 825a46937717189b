//! COPY and MOVE of a card (CardDAV over RFC 4918 9.8, 9.9), within a book or between two of
//! the principal's books, in one transaction: the destination gets the card's stored text and
//! its dead properties as a write of its own (the destination book's sync shows an addition);
//! a MOVE then tombstones the source (its book's sync shows a deletion).
//!
//! Locks follow `store::commit`'s order: the card rows first (source, then destination), then
//! the books, each book's lock taken by its commit statement. Between two books the commits run
//! in book-id order, so two MOVEs in opposite directions cannot deadlock; within one book the
//! source is tombstoned first, so the card's UID is free for its new href.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::properties;
use super::writes::{
    LockedCard, Target, is_unique_violation, lock_card_at, prepare_parsed, tombstone, write_card,
};
use super::{CardLimits, Principal, Store, StoreError, StoreResult};
use crate::db::schema::contacts;
use crate::domain::vcard;

/// COPY leaves the source; MOVE removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    Copy,
    Move,
}

/// Where a card is copied or moved from / to: a book of the principal's and a resource name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardAt<'a> {
    pub address_book_id: i64,
    pub href: &'a str,
}

/// Whether the destination was created (201) or an existing card replaced (204).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOutcome {
    pub created: bool,
}

impl Store {
    /// Copies or moves the card at `from` to `to`. With `overwrite` false an existing card at
    /// `to` fails the precondition (RFC 4918 10.6, 412); an overwritten card must have the same
    /// UID (RFC 6352 6.3.2.1, as for PUT), and no other card of the destination book may hold
    /// it (`UidConflict`, CARDDAV:no-uid-conflict).
    pub async fn transfer_card(
        &self,
        principal: &Principal,
        from: CardAt<'_>,
        to: CardAt<'_>,
        overwrite: bool,
        kind: TransferKind,
    ) -> StoreResult<TransferOutcome> {
        if from == to {
            // RFC 4918 9.8.5 / 9.9.4: source and destination are the same resource.
            return Err(StoreError::Validation(
                crate::domain::contact::ValidationError {
                    field: "Destination",
                    message: "the destination is the source itself".into(),
                },
            ));
        }
        let limits = self.card_limits;
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            transfer(conn, principal, from, to, overwrite, kind, limits).await
        })
        .await
        .map_err(|error| {
            if is_unique_violation(&error) {
                // A concurrent write created the destination (or its UID) after it was
                // looked at: the state the request was decided on no longer holds.
                StoreError::PreconditionFailed { current: None }
            } else {
                error
            }
        })
    }
}

async fn transfer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    from: CardAt<'_>,
    to: CardAt<'_>,
    overwrite: bool,
    kind: TransferKind,
    limits: CardLimits,
) -> StoreResult<TransferOutcome> {
    let source = lock_card_at(conn, principal, from.address_book_id, from.href)
        .await?
        .ok_or(StoreError::NotFound)?;
    let existing = lock_card_at(conn, principal, to.address_book_id, to.href).await?;
    if existing.is_some() && !overwrite {
        return Err(StoreError::PreconditionFailed {
            current: existing.map(|c| c.etag),
        });
    }
    if let Some(card) = &existing
        && card.uid != source.uid
    {
        return Err(StoreError::UidChanged {
            uid: card.uid.clone(),
            href: to.href.to_owned(),
        });
    }
    check_uid_free(conn, &source, from, to, kind).await?;

    // The stored text as it is (vCard 2.1 included), re-derived like any write: the card was
    // valid when stored, and a parser change that makes it invalid now refuses the transfer
    // rather than writing a card whose projection cannot be computed.
    let text: String = contacts::table
        .find(source.id)
        .select(contacts::vcard)
        .first(conn)
        .await?;
    let card = vcard::parse_one(&text)?;
    let prepared = prepare_parsed(&card, text, limits)?;

    // Bounded by the dead-property limit, so holding them is cheap; read before the source's
    // tombstone drops them.
    let dead = properties::of_card(conn, source.id).await?;
    let same_book = from.address_book_id == to.address_book_id;
    let source_first =
        kind == TransferKind::Move && (same_book || from.address_book_id < to.address_book_id);
    if source_first {
        tombstone(conn, principal, from.address_book_id, source.id).await?;
    }
    let target = match &existing {
        Some(card) => {
            // Overwrite: the destination's own dead properties are replaced by the source's
            // (RFC 4918 9.8.4, 9.9.3: as if the destination were deleted first).
            properties::delete_for_cards(conn, &[card.id]).await?;
            Target::Replace {
                id: card.id,
                href: to.href,
            }
        }
        None => Target::Insert(to.href),
    };
    let record = write_card(conn, principal, to.address_book_id, target, &prepared).await?;
    properties::insert_for_card(conn, to.address_book_id, record.id, &dead).await?;
    if kind == TransferKind::Move && !source_first {
        tombstone(conn, principal, from.address_book_id, source.id).await?;
    }
    Ok(TransferOutcome {
        created: existing.is_none(),
    })
}

/// Refuses a transfer that would give the destination book two live cards of one UID
/// (RFC 6352 6.3.2.1, CARDDAV:no-uid-conflict): the card being overwritten holds the same UID
/// and is replaced, and a card moving within its book gives its UID up; any other holder is a
/// conflict (a COPY within a book always meets its source).
async fn check_uid_free(
    conn: &mut AsyncPgConnection,
    source: &LockedCard,
    from: CardAt<'_>,
    to: CardAt<'_>,
    kind: TransferKind,
) -> StoreResult<()> {
    let moving_within = kind == TransferKind::Move && from.address_book_id == to.address_book_id;
    let holder: Option<String> = contacts::table
        .filter(contacts::address_book_id.eq(to.address_book_id))
        .filter(contacts::uid.eq(&source.uid))
        .filter(contacts::href.ne(to.href))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::id.ne(if moving_within { source.id } else { 0 }))
        .select(contacts::href)
        .first(conn)
        .await
        .optional()?;
    match holder {
        Some(existing_href) => Err(StoreError::UidConflict {
            uid: source.uid.clone(),
            existing_href,
        }),
        None => Ok(()),
    }
}
