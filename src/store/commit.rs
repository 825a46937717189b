//! The last statement of every write: it bumps the address book's revision (row-locking the
//! book until commit), stamps each written card with its new revision, appends the change-log
//! rows and queues one NOTIFY per card, all in one round trip.
//!
//! Why last: the book lock is what orders revisions (a sync client that saw revision *r* has
//! seen every change up to *r*, because revision *r + 1* cannot commit before *r*). Held from
//! the first statement, it serialized every writer of a book for the whole transaction — about
//! twenty round trips per card. Taken by this one statement, it is held for that statement and
//! the commit only, and everything else of concurrent writes runs in parallel. Preconditions
//! stay exact because each write row-locks the card it replaces (see `store::writes`).
//!
//! Lock order is therefore always "card rows, then the book", in every write path, so writers
//! cannot deadlock: the holder of a book lock waits for nothing else.

use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::changes::ChangeOp;
use super::{CHANGE_CHANNEL, Principal, StoreError, StoreResult};
use crate::db::prepared::Prepared;

/// One card written by the transaction, to be stamped and logged.
pub(super) struct Written<'a> {
    pub contact_id: i64,
    pub uid: &'a str,
    pub href: &'a str,
    pub op: ChangeOp,
}

#[derive(diesel::QueryableByName)]
struct Stamped {
    #[diesel(sql_type = BigInt)]
    first_revision: i64,
}

/// The notification payload is built here in SQL (the revision only exists inside the
/// statement); `store::events` parses exactly these keys.
const COMMIT_SQL: &str = "\
WITH book AS (
    UPDATE address_books SET revision = revision + $3, updated_at = now()
    WHERE id = $1 AND user_id = $2
    RETURNING revision - $3 AS base
), written AS (
    SELECT w.contact_id, w.uid, w.href, w.op, book.base + w.ord AS revision
    FROM book,
         unnest($4::bigint[], $5::text[], $6::text[], $7::text[])
             WITH ORDINALITY AS w(contact_id, uid, href, op, ord)
), stamped AS (
    -- `= ANY` on the key, not a join with `written`: the planner cannot know how few rows an
    -- unnest yields and would hash-join against a scan of the whole table.
    UPDATE contacts SET revision = book.base + array_position($4::bigint[], contacts.id)
    FROM book WHERE contacts.id = ANY($4::bigint[])
), logged AS (
    INSERT INTO changes (address_book_id, revision, contact_id, uid, href, op)
    SELECT $1, revision, contact_id, uid, href, op FROM written
), notified AS (
    SELECT pg_notify($8, json_build_object(
        'address_book_id', $1::bigint, 'revision', revision,
        'contact_id', contact_id, 'op', op)::text)
    FROM written ORDER BY revision
)
SELECT base + 1 AS first_revision FROM book WHERE (SELECT count(*) FROM notified) >= 0";

/// Commits the revisions of `written` (in order: the first gets the lowest revision). Returns
/// the first new revision. NotFound when the book is not the principal's.
pub(super) async fn stamp_revisions(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
    written: &[Written<'_>],
) -> StoreResult<i64> {
    let count = i64::try_from(written.len()).unwrap_or(i64::MAX);
    let stamped: Vec<Stamped> = Prepared::new(COMMIT_SQL)
        .bind::<BigInt, _>(address_book_id)
        .bind::<BigInt, _>(principal.user_id)
        .bind::<BigInt, _>(count)
        .bind::<Array<BigInt>, _>(written.iter().map(|w| w.contact_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(written.iter().map(|w| w.uid).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(written.iter().map(|w| w.href).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(written.iter().map(|w| w.op).collect::<Vec<_>>())
        .bind::<Text, _>(CHANGE_CHANNEL)
        .load(conn)
        .await?;
    stamped
        .into_iter()
        .next()
        .map(|s| s.first_revision)
        .ok_or(StoreError::NotFound)
}
