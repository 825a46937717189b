//! The batched write: many cards in one transaction, with the invariants of every single-card
//! write in `store::writes` — cards are row-locked before they are replaced, the book's revision
//! is bumped last (`store::commit`), each card gets its own revision, its own change-log row and
//! its own NOTIFY, UIDs stay unique among a book's live cards, and the ETag is the hash of the
//! stored bytes — but with one statement per table for the whole batch instead of one per card.
//!
//! The batch was planned outside the transaction; it locks the cards it was planned against,
//! re-reads the cards it touches and refuses (rolls back with
//! [`StoreError::PreconditionFailed`]) if any of them changed meanwhile, so the caller re-plans. A database error rolls back the whole batch; the
//! caller then writes its cards one by one so that only the bad one fails.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::plan::Write;
use crate::db::models::ContactWrite;
use crate::db::prepared::Cached;
use crate::db::schema::{address_books, contacts};
use crate::store::changes::ChangeOp;
use crate::store::children;
use crate::store::commit::{Written, stamp_revisions};
use crate::store::projection::{self, ChildRows, StoredCard};
use crate::store::{Principal, Store, StoreError, StoreResult};

/// A live card as the batch saw it when planning: (id, uid, href, etag).
pub(super) type Seen = (i64, String, String, String);

impl Store {
    /// Writes `writes` (planned against `seen`, the live cards with their UIDs or resource
    /// names) in one transaction. Returns the contact id of each write, in order.
    pub(super) async fn put_vcards_batch(
        &self,
        principal: &Principal,
        address_book_id: i64,
        writes: &[Write],
        seen: &[Seen],
    ) -> StoreResult<Vec<i64>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            lock_owned(conn, principal, address_book_id, seen).await?;
            verify_unchanged(conn, address_book_id, writes, seen).await?;

            let updated: Vec<i64> = writes
                .iter()
                .filter_map(|w| w.replaces.as_ref().map(|(id, _)| *id))
                .collect();
            children::delete(conn, &updated).await?;

            let mut ids = vec![0i64; writes.len()];
            let mut inserts: Vec<(usize, ContactWrite)> = Vec::new();
            for (i, write) in writes.iter().enumerate() {
                let row = projection::contact_write(
                    &StoredCard {
                        uid: &write.uid,
                        href: &write.href,
                        vcard: &write.text,
                        vcard_version: write.version,
                        etag: &write.etag,
                        // Stamped by the commit statement.
                        revision: 0,
                        match_text: &write.match_text,
                    },
                    &write.fields,
                );
                match &write.replaces {
                    Some((id, _)) => {
                        Cached(diesel::update(contacts::table.find(*id)).set(&row))
                            .execute(conn)
                            .await?;
                        ids[i] = *id;
                    }
                    None => inserts.push((i, row)),
                }
            }
            if !inserts.is_empty() {
                let values: Vec<_> = inserts
                    .iter()
                    .map(|(_, row)| (contacts::address_book_id.eq(address_book_id), row))
                    .collect();
                let created: Vec<(i64, String)> = diesel::insert_into(contacts::table)
                    .values(values)
                    .returning((contacts::id, contacts::uid))
                    .get_results(conn)
                    .await?;
                let by_uid: HashMap<String, i64> =
                    created.into_iter().map(|(id, uid)| (uid, id)).collect();
                for (i, _) in &inserts {
                    ids[*i] = *by_uid
                        .get(&writes[*i].uid)
                        .ok_or(StoreError::Database(diesel::result::Error::NotFound))?;
                }
            }

            children::insert(conn, &child_rows(writes, &ids)).await?;
            let written: Vec<Written<'_>> = writes
                .iter()
                .zip(&ids)
                .map(|(write, id)| Written {
                    contact_id: *id,
                    uid: &write.uid,
                    href: &write.href,
                    op: ChangeOp::Put,
                })
                .collect();
            stamp_revisions(conn, principal, address_book_id, &written).await?;
            Ok(ids)
        })
        .await
    }
}

/// Checks the book is the principal's and row-locks the cards the batch was planned against (in
/// id order, as every batch does, so two batches cannot deadlock), so none of them can change
/// between the check below and the writes.
async fn lock_owned(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
    seen: &[Seen],
) -> StoreResult<()> {
    let owned: i64 = address_books::table
        .filter(address_books::id.eq(address_book_id))
        .filter(address_books::user_id.eq(principal.user_id))
        .count()
        .get_result(conn)
        .await?;
    if owned == 0 {
        return Err(StoreError::NotFound);
    }
    let mut ids: Vec<i64> = seen.iter().map(|(id, ..)| *id).collect();
    ids.sort_unstable();
    diesel::sql_query("SELECT id FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind::<Array<BigInt>, _>(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// With the cards locked: the live cards with the batch's UIDs or resource names are still exactly the
/// ones it was planned against.
async fn verify_unchanged(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    writes: &[Write],
    seen: &[Seen],
) -> StoreResult<()> {
    let uids: Vec<&str> = writes.iter().map(|w| w.uid.as_str()).collect();
    let hrefs: Vec<&str> = writes.iter().map(|w| w.href.as_str()).collect();
    let mut now: Vec<(i64, String)> = live_cards(conn, address_book_id, &uids, &hrefs, false)
        .await?
        .into_iter()
        .map(|card| (card.id, card.etag))
        .collect();
    let mut expected: Vec<(i64, String)> = seen
        .iter()
        .filter(|(_, uid, href, _)| uids.contains(&uid.as_str()) || hrefs.contains(&href.as_str()))
        .map(|(id, _, _, etag)| (*id, etag.clone()))
        .collect();
    now.sort();
    expected.sort();
    if now == expected {
        Ok(())
    } else {
        Err(StoreError::PreconditionFailed { current: None })
    }
}

/// A live card found by [`live_cards`].
#[derive(QueryableByName)]
pub(super) struct LiveCard {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub uid: String,
    #[diesel(sql_type = Text)]
    pub href: String,
    /// Empty unless asked for.
    #[diesel(sql_type = Text)]
    pub vcard: String,
    #[diesel(sql_type = Text)]
    pub etag: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

/// The live cards of a book with one of `uids`, or at one of `hrefs`. Joined against the
/// lists rather than filtered with `= ANY`: a batch's lists are long, and a plan made with stale
/// statistics (a table that just grew by thousands of cards) would compare every row with
/// every element.
pub(super) async fn live_cards(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    uids: &[&str],
    hrefs: &[&str],
    with_text: bool,
) -> StoreResult<Vec<LiveCard>> {
    let text = if with_text { "c.vcard" } else { "''" };
    let query = format!(
        "SELECT c.id, c.uid, c.href, {text} AS vcard, c.etag, c.created_at, c.updated_at \
         FROM unnest($2::text[]) AS wanted(uid) \
         JOIN contacts c ON c.address_book_id = $1 AND c.deleted_at IS NULL AND c.uid = wanted.uid \
         UNION \
         SELECT c.id, c.uid, c.href, {text} AS vcard, c.etag, c.created_at, c.updated_at \
         FROM unnest($3::text[]) AS wanted(href) \
         JOIN contacts c ON c.address_book_id = $1 AND c.deleted_at IS NULL AND c.href = wanted.href"
    );
    Ok(diesel::sql_query(query)
        .bind::<BigInt, _>(address_book_id)
        .bind::<Array<Text>, _>(uids)
        .bind::<Array<Text>, _>(hrefs)
        .load(conn)
        .await?)
}

#[derive(QueryableByName)]
struct GroupOf {
    #[diesel(sql_type = Text)]
    member_uid: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// Names of the live groups of a book that each of `uids` is a member of.
pub(super) async fn group_names(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    uids: &[&str],
) -> StoreResult<HashMap<String, Vec<String>>> {
    let rows: Vec<GroupOf> = diesel::sql_query(
        "SELECT m.member_uid, g.display_name AS name \
         FROM unnest($2::text[]) AS wanted(uid) \
         JOIN group_members m ON m.member_uid = wanted.uid \
         JOIN contacts g ON g.id = m.group_id \
         WHERE g.address_book_id = $1 AND g.deleted_at IS NULL AND g.display_name IS NOT NULL",
    )
    .bind::<BigInt, _>(address_book_id)
    .bind::<Array<Text>, _>(uids)
    .load(conn)
    .await?;
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        names.entry(row.member_uid).or_default().push(row.name);
    }
    Ok(names)
}

fn child_rows(writes: &[Write], ids: &[i64]) -> ChildRows {
    let mut rows = ChildRows::default();
    for (write, id) in writes.iter().zip(ids) {
        rows.append(projection::child_rows(*id, &write.fields));
    }
    rows
}
