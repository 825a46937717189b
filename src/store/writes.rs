//! Write paths: CardDAV PUT of raw vCard text, model create / patch / replace, and delete.
//!
//! Every write runs in one transaction that first bumps (and so row-locks) the address book's
//! revision. That lock serializes writers of one book, which is what makes ETag preconditions
//! exact: of two writers holding the same expected ETag, the second sees the first's commit and
//! fails. A failed precondition or validation rolls back the bump; nothing is half-written.

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::changes::ChangeOp;
use super::children;
use super::projection::{self, StoredCard};
use super::reads::hydrate;
use super::{CHANGE_CHANNEL, ContactRecord, Principal, Store, StoreError, StoreResult};
use crate::db::models::ContactRow;
use crate::db::schema::{address_books, changes, contacts};
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

    fn check(&self, existing: Option<&ContactRow>) -> StoreResult<()> {
        let holds = match (self, existing) {
            (Precondition::None, _) => true,
            (Precondition::IfMatch(tag), Some(row)) => etag::matches(tag, &row.etag),
            (Precondition::IfMatch(_), None) => false,
            (Precondition::IfNoneMatchAny, existing) => existing.is_none(),
        };
        if holds {
            Ok(())
        } else {
            Err(StoreError::PreconditionFailed {
                current: existing.map(|row| row.etag.clone()),
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
struct PreparedCard {
    uid: String,
    text: String,
    version: i16,
    fields: ContactFields,
}

fn version_code(version: CardVersion) -> i16 {
    match version {
        CardVersion::V2_1 => 21,
        CardVersion::V3 => 30,
        CardVersion::V4 => 40,
    }
}

/// Model writes re-render the card; a 2.1 card is upgraded to 3.0 then (2.1's encodings are
/// not worth writing anew).
fn render_version_for(code: i16) -> RenderVersion {
    if code >= 40 {
        RenderVersion::V4
    } else {
        RenderVersion::V3
    }
}

fn prepare_parsed(card: &Card, text: String) -> StoreResult<PreparedCard> {
    let uid = card.uid().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
        StoreError::Validation(ValidationError {
            field: "UID",
            message: "the vCard has no UID property".into(),
        })
    })?;
    Ok(PreparedCard {
        uid,
        version: version_code(card.version()),
        fields: card.extract(),
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
        let card = vcard::parse_one(text)?;
        let prepared = prepare_parsed(&card, text.to_owned())?;
        let mut conn = self.conn().await?;
        let href = href.to_owned();
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let revision = bump_revision(conn, principal, address_book_id).await?;
            let existing = live_by_href(conn, address_book_id, &href).await?;
            precondition.check(existing.as_ref())?;
            let created = existing.is_none();
            let record = write_card(
                conn,
                address_book_id,
                revision,
                existing.as_ref(),
                &href,
                &prepared,
            )
            .await?;
            Ok(PutOutcome { record, created })
        })
        .await
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
        let prepared = prepare_parsed(&card, text)?;
        let href = format!("{uid}.vcf");
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let revision = bump_revision(conn, principal, address_book_id).await?;
            write_card(conn, address_book_id, revision, None, &href, &prepared).await
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
        let address_book_id = self.book_of_contact(principal, id).await?;
        let precondition = Precondition::if_match(if_match);
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let revision = bump_revision(conn, principal, address_book_id).await?;
            let existing = live_by_id(conn, address_book_id, id).await?;
            precondition.check(existing.as_ref())?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            // The stored card was valid when written; if it no longer parses (a parser
            // change), refuse the write rather than replace the card with a lossy one.
            let mut card = vcard::parse_one(&existing.vcard)?;
            card.apply_patch(patch);
            card.ensure_display_name();
            let text = card.render(render_version_for(existing.vcard_version));
            let mut prepared = prepare_parsed(&card, text)?;
            // A patch never moves a card to another UID: the href and sync identity stay.
            prepared.uid = existing.uid.clone();
            let href = existing.href.clone();
            write_card(
                conn,
                address_book_id,
                revision,
                Some(&existing),
                &href,
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
        let address_book_id = self.book_of_contact(principal, id).await?;
        let precondition = Precondition::if_match(if_match);
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let revision = bump_revision(conn, principal, address_book_id).await?;
            let existing = live_by_id(conn, address_book_id, id).await?;
            precondition.check(existing.as_ref())?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            tombstone(conn, address_book_id, revision, &existing).await
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
            let revision = bump_revision(conn, principal, address_book_id).await?;
            let existing = live_by_href(conn, address_book_id, href).await?;
            precondition.check(existing.as_ref())?;
            let existing = existing.ok_or(StoreError::NotFound)?;
            tombstone(conn, address_book_id, revision, &existing).await
        })
        .await
    }

    /// The address book of one of the principal's live contacts.
    async fn book_of_contact(&self, principal: &Principal, id: i64) -> StoreResult<i64> {
        let mut conn = self.conn().await?;
        Ok(contacts::table
            .inner_join(address_books::table)
            .filter(contacts::id.eq(id))
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(contacts::deleted_at.is_null())
            .select(contacts::address_book_id)
            .first(&mut conn)
            .await?)
    }
}

/// Increments the book's revision, row-locking the book until commit. Fails with NotFound when
/// the book is not the principal's.
async fn bump_revision(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
) -> StoreResult<i64> {
    Ok(diesel::update(
        address_books::table
            .filter(address_books::id.eq(address_book_id))
            .filter(address_books::user_id.eq(principal.user_id)),
    )
    .set((
        address_books::revision.eq(address_books::revision + 1),
        address_books::updated_at.eq(Utc::now()),
    ))
    .returning(address_books::revision)
    .get_result(conn)
    .await?)
}

async fn live_by_href(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    href: &str,
) -> StoreResult<Option<ContactRow>> {
    Ok(contacts::table
        .filter(contacts::address_book_id.eq(address_book_id))
        .filter(contacts::href.eq(href))
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

async fn live_by_id(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    id: i64,
) -> StoreResult<Option<ContactRow>> {
    Ok(contacts::table
        .filter(contacts::address_book_id.eq(address_book_id))
        .filter(contacts::id.eq(id))
        .filter(contacts::deleted_at.is_null())
        .select(ContactRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Inserts or updates the card row, replaces its child rows, logs the change and notifies.
async fn write_card(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    revision: i64,
    existing: Option<&ContactRow>,
    href: &str,
    prepared: &PreparedCard,
) -> StoreResult<ContactRecord> {
    let conflict: Option<String> = contacts::table
        .filter(contacts::address_book_id.eq(address_book_id))
        .filter(contacts::uid.eq(&prepared.uid))
        .filter(contacts::href.ne(href))
        .filter(contacts::deleted_at.is_null())
        .select(contacts::href)
        .first(conn)
        .await
        .optional()?;
    if let Some(existing_href) = conflict {
        return Err(StoreError::UidConflict {
            uid: prepared.uid.clone(),
            existing_href,
        });
    }

    let etag = etag::of_bytes(prepared.text.as_bytes());
    let write = projection::contact_write(
        &StoredCard {
            uid: &prepared.uid,
            href,
            vcard: &prepared.text,
            vcard_version: prepared.version,
            etag: &etag,
            revision,
        },
        &prepared.fields,
    );
    let row: ContactRow = match existing {
        Some(current) => {
            children::delete(conn, &[current.id]).await?;
            diesel::update(contacts::table.find(current.id))
                .set(&write)
                .returning(ContactRow::as_returning())
                .get_result(conn)
                .await?
        }
        None => {
            diesel::insert_into(contacts::table)
                .values((contacts::address_book_id.eq(address_book_id), &write))
                .returning(ContactRow::as_returning())
                .get_result(conn)
                .await?
        }
    };

    children::insert(conn, &projection::child_rows(row.id, &prepared.fields)).await?;
    log_change(conn, address_book_id, revision, &row, ChangeOp::Put).await?;
    let mut records = hydrate(conn, vec![row]).await?;
    Ok(records.remove(0))
}

async fn tombstone(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    revision: i64,
    existing: &ContactRow,
) -> StoreResult<()> {
    let now = Utc::now();
    // Child rows only serve lookups of live cards; the tombstone keeps uid/href/fields.
    children::delete(conn, &[existing.id]).await?;
    let row: ContactRow = diesel::update(contacts::table.find(existing.id))
        .set((
            contacts::deleted_at.eq(now),
            contacts::updated_at.eq(now),
            contacts::revision.eq(revision),
        ))
        .returning(ContactRow::as_returning())
        .get_result(conn)
        .await?;
    log_change(conn, address_book_id, revision, &row, ChangeOp::Delete).await
}

async fn log_change(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    revision: i64,
    row: &ContactRow,
    op: ChangeOp,
) -> StoreResult<()> {
    diesel::insert_into(changes::table)
        .values((
            changes::address_book_id.eq(address_book_id),
            changes::revision.eq(revision),
            changes::contact_id.eq(row.id),
            changes::uid.eq(&row.uid),
            changes::href.eq(&row.href),
            changes::op.eq(op.as_str()),
        ))
        .execute(conn)
        .await?;
    let payload = super::events::change_payload(address_book_id, revision, row.id, op);
    // Delivered to listeners at commit, never for a rolled-back write.
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANGE_CHANNEL)
        .bind::<Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}
