//! The reads behind an export, each one page: live cards in export order by keyset (after the
//! last card of the page before, so PostgreSQL walks `contacts_book_sort_idx`, or
//! `contacts_book_kind_sort_idx` for one kind, from there and stops at the page's size), or a
//! Drop export's contacts by id. Nothing here reads more than one page.

use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;

use crate::db::models::ContactRow;
use crate::db::schema::contacts;
use crate::domain::contact::CardKind;
use crate::domain::vcard::CardVersion;
use crate::store::reads::{hydrate, hydrate_in_order};
use crate::store::{ContactRecord, Store, StoreResult};

/// Where the next page of live cards starts: after the card with this sort name and id (the
/// order of every listing of a book: [`crate::store::Store::card_metas`]).
#[derive(Debug, Clone, Default)]
pub(super) struct After(Option<(String, i64)>);

/// A card's stored text, as a vCard export writes it.
pub(super) struct StoredText {
    pub vcard: String,
    pub version: CardVersion,
}

/// The live cards of book `book` (of kind `kind` when given) after `after`, in export order.
fn live_after(
    book: i64,
    kind: Option<CardKind>,
    after: &After,
) -> contacts::BoxedQuery<'static, Pg> {
    let mut query = contacts::table
        .filter(contacts::address_book_id.eq(book))
        .filter(contacts::deleted_at.is_null())
        .order((contacts::sort_name, contacts::id))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(contacts::kind.eq(kind));
    }
    if let Some((sort_name, id)) = &after.0 {
        // A row comparison, which PostgreSQL turns into the index scan's start; the same
        // condition spelled with OR would be a filter over the book from its first card.
        query = query.filter(
            sql::<Bool>("(contacts.sort_name, contacts.id) > (")
                .bind::<Text, _>(sort_name.clone())
                .sql(", ")
                .bind::<BigInt, _>(*id)
                .sql(")"),
        );
    }
    query
}

fn page_limit(cards: usize) -> i64 {
    i64::try_from(cards.max(1)).unwrap_or(i64::MAX)
}

impl After {
    /// Moves past the last card of a page; `false` when the page was the last one.
    fn advance(&mut self, last: Option<(&str, i64)>, got: usize, asked: usize) -> bool {
        if let Some((sort_name, id)) = last {
            self.0 = Some((sort_name.to_owned(), id));
        }
        got >= asked.max(1)
    }
}

impl Store {
    /// The stored texts of the next `cards` live cards (every kind) after `after`, which moves
    /// past them; also whether more may follow.
    pub(super) async fn export_texts(
        &self,
        book: i64,
        after: &mut After,
        cards: usize,
    ) -> StoreResult<(Vec<StoredText>, bool)> {
        let mut conn = self.conn().await?;
        let rows: Vec<(i64, String, String, CardVersion)> = live_after(book, None, after)
            .select((
                contacts::id,
                contacts::sort_name,
                contacts::vcard,
                contacts::vcard_version,
            ))
            .limit(page_limit(cards))
            .load(&mut conn)
            .await?;
        let more = after.advance(
            rows.last().map(|(id, name, _, _)| (name.as_str(), *id)),
            rows.len(),
            cards,
        );
        let texts = rows
            .into_iter()
            .map(|(_, _, vcard, version)| StoredText { vcard, version })
            .collect();
        Ok((texts, more))
    }

    /// The next `cards` live cards of `kind` after `after` (which moves past them), with their
    /// emails, phones, addresses and members; also whether more may follow.
    pub(super) async fn export_records(
        &self,
        book: i64,
        kind: CardKind,
        after: &mut After,
        cards: usize,
    ) -> StoreResult<(Vec<ContactRecord>, bool)> {
        let mut conn = self.conn().await?;
        let rows: Vec<ContactRow> = live_after(book, Some(kind), after)
            .select(ContactRow::as_select())
            .limit(page_limit(cards))
            .load(&mut conn)
            .await?;
        let more = after.advance(
            rows.last().map(|r| (r.projection.sort_name.as_str(), r.id)),
            rows.len(),
            cards,
        );
        Ok((hydrate(&mut conn, rows).await?, more))
    }

    /// The cards of a book with these ids, tombstones included, in that order.
    pub(super) async fn export_records_by_id(
        &self,
        book: i64,
        ids: &[i64],
    ) -> StoreResult<Vec<ContactRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<ContactRow> = contacts::table
            .filter(contacts::address_book_id.eq(book))
            .filter(contacts::id.eq_any(ids))
            .select(ContactRow::as_select())
            .load(&mut conn)
            .await?;
        hydrate_in_order(&mut conn, rows, ids).await
    }

    /// Octets of the book's live cards' stored texts: about how long a vCard export is.
    pub(super) async fn export_text_bytes(&self, book: i64) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let bytes: Option<i64> = contacts::table
            .filter(contacts::address_book_id.eq(book))
            .filter(contacts::deleted_at.is_null())
            .select(sql::<diesel::sql_types::Nullable<BigInt>>(
                "sum(octet_length(contacts.vcard))::int8",
            ))
            .first(&mut conn)
            .await?;
        Ok(usize::try_from(bytes.unwrap_or(0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::After;

    #[test]
    fn a_short_page_is_the_last_one() {
        let mut after = After::default();
        assert!(after.advance(Some(("doe jane", 7)), 2, 2));
        assert_eq!(after.0, Some(("doe jane".to_owned(), 7)));
        assert!(!after.advance(Some(("roe", 9)), 1, 2));
        assert!(!after.advance(None, 0, 2));
        assert_eq!(after.0, Some(("roe".to_owned(), 9)));
    }
}
