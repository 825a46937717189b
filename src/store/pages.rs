//! Keyset pages of a book's live cards, for answers streamed from PostgreSQL a page at a time
//! (a Depth 1 PROPFIND, an initial sync-collection, a whole-book GET): each call reads at most
//! `limit` cards after a [`PageKey`], in the order of [`Store::card_metas`] (folded sort name,
//! then id, served by the `contacts_book_sort_idx` index), so what one answer holds is one page
//! whatever the size of the book.
//!
//! Pages are separate statements, not one snapshot: a card written while a listing is being
//! sent may be listed in its new state or not at all, exactly as if the listing had started a
//! little later or earlier. Every such write bumps the book's revision after the token a sync
//! answer carries (read before the first page), so the client hears of it again next time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use super::{CardMeta, DeadProperty, Principal, Store, StoreResult};
use crate::db::prepared::Prepared;

/// Where the next page of a listing starts: after the card with this sort name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    sort_name: String,
    id: i64,
}

#[derive(diesel::QueryableByName)]
struct MetaRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    href: String,
    #[diesel(sql_type = Text)]
    etag: String,
    #[diesel(sql_type = Integer)]
    size: i32,
    #[diesel(sql_type = BigInt)]
    revision: i64,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    sort_name: String,
}

/// The live cards of book `$1` (owned by user `$2`) from the start of the book, `$3` of them,
/// in `contacts_book_sort_idx` order; `octet_length` reads the text's size from its header
/// without de-toasting it.
const META_FIRST_PAGE_SQL: &str = "\
SELECT c.id, c.href, c.etag, octet_length(c.vcard) AS size, c.revision, c.updated_at, c.sort_name \
FROM contacts c JOIN address_books b ON b.id = c.address_book_id \
WHERE c.address_book_id = $1 AND b.user_id = $2 AND c.deleted_at IS NULL \
ORDER BY c.sort_name, c.id LIMIT $3";

/// The same after the key (`$3`, `$4`), `$5` of them. A statement of its own rather than
/// `$3 IS NULL OR (...) > (...)` in one: a prepared statement's generic plan cannot turn that
/// OR into an index condition, so every page walked the index from the start of the book
/// (quadratic in the book's size); the plain row comparison starts the index scan at the key.
const META_NEXT_PAGE_SQL: &str = "\
SELECT c.id, c.href, c.etag, octet_length(c.vcard) AS size, c.revision, c.updated_at, c.sort_name \
FROM contacts c JOIN address_books b ON b.id = c.address_book_id \
WHERE c.address_book_id = $1 AND b.user_id = $2 AND c.deleted_at IS NULL \
  AND (c.sort_name, c.id) > ($3::text, $4::bigint) \
ORDER BY c.sort_name, c.id LIMIT $5";

#[derive(diesel::QueryableByName)]
struct DeadRow {
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
    #[diesel(sql_type = Text)]
    namespace: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    xml: String,
}

/// The dead properties of the live cards `$3` of book `$1` (owned by user `$2`).
const DEAD_OF_CARDS_SQL: &str = "\
SELECT p.contact_id, p.namespace, p.name, p.xml FROM dead_properties p \
JOIN contacts c ON c.id = p.contact_id JOIN address_books b ON b.id = c.address_book_id \
WHERE p.address_book_id = $1 AND c.address_book_id = $1 AND b.user_id = $2 \
  AND c.deleted_at IS NULL AND p.contact_id = ANY($3) \
ORDER BY p.contact_id, p.namespace, p.name";

impl Store {
    /// At most `limit` live cards of one of the principal's books after `after` (from the
    /// start when `None`), and the key of the next page (`None` when this was the last one).
    /// Another user's book simply has no cards.
    pub async fn card_meta_page(
        &self,
        principal: &Principal,
        address_book_id: i64,
        after: Option<&PageKey>,
        limit: usize,
    ) -> StoreResult<(Vec<CardMeta>, Option<PageKey>)> {
        let limit = limit.max(1);
        let mut conn = self.conn().await?;
        let page_size = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<MetaRow> = match after {
            None => {
                Prepared::new(META_FIRST_PAGE_SQL)
                    .bind::<BigInt, _>(address_book_id)
                    .bind::<BigInt, _>(principal.user_id)
                    .bind::<BigInt, _>(page_size)
                    .load(&mut conn)
                    .await?
            }
            Some(key) => {
                Prepared::new(META_NEXT_PAGE_SQL)
                    .bind::<BigInt, _>(address_book_id)
                    .bind::<BigInt, _>(principal.user_id)
                    .bind::<Text, _>(key.sort_name.as_str())
                    .bind::<BigInt, _>(key.id)
                    .bind::<BigInt, _>(page_size)
                    .load(&mut conn)
                    .await?
            }
        };
        let next = (rows.len() >= limit)
            .then(|| rows.last())
            .flatten()
            .map(|row| PageKey {
                sort_name: row.sort_name.clone(),
                id: row.id,
            });
        let metas = rows
            .into_iter()
            .map(|row| CardMeta {
                id: row.id,
                href: row.href,
                etag: row.etag,
                size: i64::from(row.size),
                revision: row.revision,
                updated_at: row.updated_at,
            })
            .collect();
        Ok((metas, next))
    }

    /// The dead properties of some live cards of one of the principal's books, by card id
    /// (one query for a page of a Depth 1 PROPFIND).
    pub async fn dead_properties_of_cards(
        &self,
        principal: &Principal,
        address_book_id: i64,
        ids: &[i64],
    ) -> StoreResult<HashMap<i64, Vec<DeadProperty>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<DeadRow> = Prepared::new(DEAD_OF_CARDS_SQL)
            .bind::<BigInt, _>(address_book_id)
            .bind::<BigInt, _>(principal.user_id)
            .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
            .load(&mut conn)
            .await?;
        let mut by_card: HashMap<i64, Vec<DeadProperty>> = HashMap::new();
        for row in rows {
            by_card
                .entry(row.contact_id)
                .or_default()
                .push(DeadProperty {
                    namespace: row.namespace,
                    name: row.name,
                    xml: row.xml,
                });
        }
        Ok(by_card)
    }
}
