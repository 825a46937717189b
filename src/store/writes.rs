//! Write paths: CardDAV PUT of raw vCard text, model create / patch / replace, and delete.
//!
//! Every write is one transaction: row-lock the card it replaces (`SELECT ... FOR UPDATE`),
//! check the precondition, write the row and its child rows, then stamp the revision, log the
//! change and notify in one last statement that takes the book lock (`store::commit`). The card
//! lock is what makes ETag preconditions exact: of two writers holding the same expected ETag,
//! the second waits for the first's commit, then sees the new ETag and fails. Two creates of the
//! same resource meet in the unique index instead; the loser retries once and then sees the
//! winner's card. A failed precondition or validation rolls everything back; nothing is
//! half-written.

use chrono::Utc;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::changes::ChangeOp;
use super::children;
use super::commit::{Written, stamp_revisions};
use super::projection::{self, StoredCard};
use super::reads::assemble;
use super::{CardLimits, ContactRecord, Principal, Store, StoreError, StoreResult};
use crate::db::models::ContactRow;
use crate::db::prepared::{Cached, Prepared};
use crate::db::schema::{address_books, contacts};
use crate::domain::contact::{ContactFields, ContactPatch, ValidationError};
use crate::domain::etag;
use crate::domain::vcard::{self, Card, CardVersion, RenderVersion};

/// What must hold about the current state of a resource for a write to proceed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    #[default]
    None,
    /// The resource exists and its ETag is this one (quotes optional).
    IfMatch(String),
    /// The resource does not exist (`If-None-Match: *`).
    IfNoneMatchAny,
}

impl Precondition {
    /// From an optional `ifMatch` argument (GraphQL style).
    pub fn if_match(tag: Option<&str>) -> Precondition {
        tag.map_or(Precondition::None, |t| Precondition::IfMatch(t.to_owned()))
    }

    /// Checks against the current ETag of the resource (`None`: it does not exist).
    pub(super) fn check(&self, existing: Option<&str>) -> StoreResult<()> {
        let holds = match (self, existing) {
            (Precondition::None, _) => true,
            (Precondition::IfMatch(tag), Some(current)) => etag::matches(tag, current),
            (Precondition::IfMatch(_), None) => false,
            (Precondition::IfNoneMatchAny, existing) => existing.is_none(),
        };
        if holds {
            Ok(())
        } else {
            Err(StoreError::PreconditionFailed {
                current: existing.map(str::to_owned),
            })
        }
    }
}

/// Result of storing a card at an href.
#[derive(Debug, Clone)]
pub struct PutOutcome {
    pub record: ContactRecord,
    /// True when a new resource was created, false when an existing one was replaced.
    pub created: bool,
}

/// A card ready to be written: its text and everything derived from it, computed before the
/// transaction so parsing never happens under the book lock.
pub(super) struct PreparedCard {
    pub(super) uid: String,
    text: String,
    version: CardVersion,
    fields: ContactFields,
    match_text: String,
}

/// Model writes re-render the card; a 2.1 card is upgraded to 3.0 then (2.1's encodings are
/// not worth writing anew).
pub(super) fn render_version_for(stored: CardVersion) -> RenderVersion {
    match stored {
        CardVersion::V4 => RenderVersion::V4,
        CardVersion::V3 | CardVersion::V2_1 => RenderVersion::V3,
    }
}

pub(super) fn prepare_parsed(
    card: &Card,
    text: String,
    limits: CardLimits,
) -> StoreResult<PreparedCard> {
    limits.check(card, &text)?;
    let uid = card.uid().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
        StoreError::Validation(ValidationError {
            field: "UID",
            message: "the vCard has no UID property".into(),
        })
    })?;
    Ok(PreparedCard {
        uid,
        version: card.version(),
        fields: card.extract(),
        match_text: card.match_text(),
        text,
    })
}

impl Store {
    /// Stores vCard text at `href` in an address book, exactly as sent (CardDAV PUT). Creates or
    /// replaces, subject to `precondition`; a second card with the same UID is refused.
    pub async fn put_vcard(
        &self,
        principal: &Principal,
        address_book_id: i64,
        href: &str,
        text: &str,
        precondition: Precondition,
    ) -> StoreResult<PutOutcome> {
        self.card_limits.check_bytes(text)?;
        let card = vcard::parse_one(text)?;
        let prepared = prepare_parsed(&card, text.to_owned(), self.card_limits)?;
        let mut conn = self.conn().await?;
        let mut attempt = 1;
        loop {
            let (prepared, precondition) = (&prepared, &precondition);
            let result = conn
                .transaction::<_, StoreError, _>(async move |conn| {
                    let existing = lock_card_at(conn, principal, address_book_id, href).await?;
                    precondition.check(existing.as_ref().map(|c| c.etag.as_str()))?;
                    // RFC 6352 6.3.2.1: a card is never replaced by one with another UID
                    // (Apple groups name their members by UID).
                    if let Some(card) = &existing
                        && card.uid != prepared.uid
                    {
                        return Err(StoreError::UidChanged {
                            uid: card.uid.clone(),
                            href: href.to_owned(),
                        });
                    }
                    let created = existing.is_none();
                    let target = match &existing {
                        Some(card) => Target::Replace { id: card.id, href },
                        None => Target::Insert(href),
                    };
                    let record =
                        write_card(conn, principal, address_book_id, target, prepared).await?;
                    Ok(PutOutcome { record, created })
                })
                .await;
            match result {
                Err(error) if is_unique_violation(&error) => {
                    // Another live card holds this UID at another href: a real conflict.
                    // Otherwise a concurrent create of this very resource won; it is
                    // committed now, so the next attempt sees it and decides by the
                    // precondition.
                    if let Some(existing_href) =
                        uid_holder(&mut conn, address_book_id, &prepared.uid, href).await?
                    {
                        return Err(StoreError::UidConflict {
                            uid: prepared.uid.clone(),
                            existing_href,
                        });
                    }
                    if attempt == WRITE_ATTEMPTS {
                        return Err(StoreError::PreconditionFailed { current: None });
                    }
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Creates a contact (or group, per `patch.kind`) from model values. The card is rendered
    /// as vCard 4.0 with a new UID; its href is `<uid>.vcf`.
    pub async fn create_contact(
        &self,
        principal: &Principal,
        address_book_id: i64,
        patch: &ContactPatch,
    ) -> StoreResult<ContactRecord> {
        patch.validate()?;
        let uid = uuid::Uuid::new_v4().to_string();
        let mut card = Card::new(RenderVersion::V4, &uid);
        card.apply_patch(patch);
        card.ensure_display_name();
        let text = card.render(RenderVersion::V4);
        let prepared = prepare_parsed(&card, text, self.card_limits)?;
        let href = format!("{uid}.vcf");
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            // A fresh book lookup keeps the insert inside the principal's books.
            lock_card_at(conn, principal, address_book_id, &href).await?;
            write_card(
                conn,
                principal,
                address_book_id,
                Target::Insert(&href),
                &prepared,
            )
            .await
        })
        .await
    }

    /// Applies a partial update to a contact: only the fields the patch names change; every
    /// other property of the stored card (unknown X- properties included) is kept.
    pub async fn patch_contact(
        &self,
        principal: &Principal,
        id: i64,
        patch: &ContactPatch,
        if_match: Option<&str>,
    ) -> StoreResult<ContactRecord> {
        patch.validate()?;
        let precondition = Precondition::if_match(if_match);
        let limits = self.card_limits;
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let existing = lock_card_by_id(conn, principal, id).await?;
            precondition.check(existing.as_ref().map(|row| row.etag.as_str()))?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            // The stored card was valid when written; if it no longer parses (a parser
            // change), refuse the write rather than replace the card with a lossy one.
            let mut card = vcard::parse_one(&existing.vcard)?;
            card.apply_patch(patch);
            card.ensure_display_name();
            let text = card.render(render_version_for(existing.vcard_version));
            let mut prepared = prepare_parsed(&card, text, limits)?;
            // A patch never moves a card to another UID: the href and sync identity stay.
            prepared.uid = existing.uid.clone();
            write_card(
                conn,
                principal,
                existing.address_book_id,
                Target::Replace {
                    id: existing.id,
                    href: &existing.href,
                },
                &prepared,
            )
            .await
        })
        .await
    }

    /// Full replace (Phone.com PUT): every model field takes the given value, absent ones are
    /// cleared. Properties outside the model (unknown X- properties, PHOTO data...) survive.
    pub async fn replace_contact(
        &self,
        principal: &Principal,
        id: i64,
        fields: &ContactFields,
        if_match: Option<&str>,
    ) -> StoreResult<ContactRecord> {
        let mut patch = ContactPatch::replace_all(fields);
        // The kind of a record is its identity (contact vs group); a replace cannot change it.
        patch.kind = None;
        self.patch_contact(principal, id, &patch, if_match).await
    }

    /// Deletes a contact, leaving a tombstone for sync feeds.
    pub async fn delete_contact(
        &self,
        principal: &Principal,
        id: i64,
        if_match: Option<&str>,
    ) -> StoreResult<()> {
        let precondition = Precondition::if_match(if_match);
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let existing = lock_card_by_id(conn, principal, id).await?;
            precondition.check(existing.as_ref().map(|row| row.etag.as_str()))?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            tombstone(conn, principal, existing.address_book_id, existing.id).await
        })
        .await
    }

    /// Deletes the card at `href` (CardDAV DELETE).
    pub async fn delete_contact_by_href(
        &self,
        principal: &Principal,
        address_book_id: i64,
        href: &str,
        precondition: Precondition,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let existing = lock_card_at(conn, principal, address_book_id, href).await?;
            precondition.check(existing.as_ref().map(|c| c.etag.as_str()))?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            tombstone(conn, principal, address_book_id, existing.id).await
        })
        .await
    }
}

/// How often a PUT runs when it keeps losing creation races (each loss means another writer
/// committed, so this bounds work, not correctness).
const WRITE_ATTEMPTS: u32 = 2;

/// The live card a write replaces: row-locked until commit, so no other writer can change it
/// between the precondition check and the write.
#[derive(diesel::QueryableByName)]
pub(super) struct LockedCard {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
    #[diesel(sql_type = Text)]
    pub(super) etag: String,
    #[diesel(sql_type = Text)]
    pub(super) uid: String,
}

#[derive(diesel::QueryableByName)]
struct BookLookup {
    #[diesel(sql_type = Nullable<BigInt>)]
    card_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    etag: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    uid: Option<String>,
}

/// Locks the live card at `href` in one of the principal's books and returns it (`None`: no card
/// there). NotFound when the book is not the principal's. One round trip; the book row itself
/// is only read, never locked, here.
pub(super) async fn lock_card_at(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
    href: &str,
) -> StoreResult<Option<LockedCard>> {
    let found: Vec<BookLookup> = Prepared::new(
        "WITH book AS (SELECT id FROM address_books WHERE id = $1 AND user_id = $2), \
         card AS (SELECT c.id, c.etag, c.uid FROM contacts c \
                  WHERE c.address_book_id = $1 AND c.href = $3 AND c.deleted_at IS NULL \
                  FOR UPDATE) \
         SELECT card.id AS card_id, card.etag, card.uid FROM book LEFT JOIN card ON true",
    )
    .bind::<BigInt, _>(address_book_id)
    .bind::<BigInt, _>(principal.user_id)
    .bind::<Text, _>(href)
    .load(conn)
    .await?;
    let book = found.into_iter().next().ok_or(StoreError::NotFound)?;
    Ok(match (book.card_id, book.etag, book.uid) {
        (Some(id), Some(etag), Some(uid)) => Some(LockedCard { id, etag, uid }),
        _ => None,
    })
}

/// Locks one of the principal's live contacts by id and returns its row.
async fn lock_card_by_id(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: i64,
) -> StoreResult<Option<ContactRow>> {
    let books = address_books::table
        .filter(address_books::user_id.eq(principal.user_id))
        .select(address_books::id);
    Ok(contacts::table
        .filter(contacts::id.eq(id))
        .filter(contacts::address_book_id.eq_any(books))
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// The href of another live card of the book holding `uid`, if any.
pub(super) async fn uid_holder(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    uid: &str,
    href: &str,
) -> StoreResult<Option<String>> {
    Ok(contacts::table
        .filter(contacts::address_book_id.eq(address_book_id))
        .filter(contacts::uid.eq(uid))
        .filter(contacts::href.ne(href))
        .filter(contacts::deleted_at.is_null())
        .select(contacts::href)
        .first(conn)
        .await
        .optional()?)
}

/// Where a write goes: a new row at an href, or over an existing (locked) row.
pub(super) enum Target<'a> {
    Insert(&'a str),
    Replace { id: i64, href: &'a str },
}

/// Writes the card row and its child rows, then commits the revision (taking the book lock).
/// The record is assembled from what was written, not read back.
pub(super) async fn write_card(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
    target: Target<'_>,
    prepared: &PreparedCard,
) -> StoreResult<ContactRecord> {
    let etag = etag::of_bytes(prepared.text.as_bytes());
    let stored = |href: &str| {
        projection::contact_write(
            &StoredCard {
                uid: &prepared.uid,
                href,
                vcard: &prepared.text,
                vcard_version: prepared.version,
                etag: &etag,
                // Stamped by the commit statement; never visible before it.
                revision: 0,
                match_text: &prepared.match_text,
            },
            &prepared.fields,
        )
    };
    let mut row: ContactRow = match target {
        Target::Replace { id, href } => {
            children::delete(conn, &[id]).await?;
            Cached(
                diesel::update(contacts::table.find(id))
                    .set(&stored(href))
                    .returning(ContactRow::as_returning()),
            )
            .get_result(conn)
            .await?
        }
        Target::Insert(href) => {
            Cached(
                diesel::insert_into(contacts::table)
                    .values((contacts::address_book_id.eq(address_book_id), &stored(href)))
                    .returning(ContactRow::as_returning()),
            )
            .get_result(conn)
            .await?
        }
    };
    let children = projection::child_rows(row.id, &prepared.fields);
    children::insert(conn, &children).await?;
    row.revision = stamp_revisions(
        conn,
        principal,
        address_book_id,
        &[Written {
            contact_id: row.id,
            uid: &row.uid,
            href: &row.href,
            op: ChangeOp::Put,
        }],
    )
    .await?;
    Ok(assemble(
        row,
        &children.emails.iter().collect::<Vec<_>>(),
        &children.phones.iter().collect::<Vec<_>>(),
        &children.addresses.iter().collect::<Vec<_>>(),
        &children.members.iter().collect::<Vec<_>>(),
    ))
}

/// Marks a (locked) card deleted and commits the deletion's revision.
pub(super) async fn tombstone(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
    id: i64,
) -> StoreResult<()> {
    let now = Utc::now();
    // Child rows only serve lookups of live cards; the tombstone keeps uid/href/fields. Its
    // dead properties were the card's and go with it.
    children::delete(conn, &[id]).await?;
    super::properties::delete_for_cards(conn, &[id]).await?;
    let (uid, href): (String, String) = diesel::update(contacts::table.find(id))
        .set((contacts::deleted_at.eq(now), contacts::updated_at.eq(now)))
        .returning((contacts::uid, contacts::href))
        .get_result(conn)
        .await?;
    stamp_revisions(
        conn,
        principal,
        address_book_id,
        &[Written {
            contact_id: id,
            uid: &uid,
            href: &href,
            op: ChangeOp::Delete,
        }],
    )
    .await?;
    Ok(())
}

/// A write that hit `contacts_live_href_idx` or `contacts_live_uid_idx`: another transaction
/// created the same resource or UID concurrently.
pub(super) fn is_unique_violation(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Database(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if matches!(info.constraint_name(), Some("contacts_live_href_idx" | "contacts_live_uid_idx"))
    )
}
