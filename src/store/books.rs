//! Address books: a user's books, created, renamed and deleted by the owner (GraphQL, CardDAV
//! MKCOL, `rolodex address-book`), each with the revision counter sync reads.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{
    AddressBook, DEFAULT_ADDRESS_BOOK, Principal, Store, StoreError, StoreResult, unique_violation,
};
use crate::db::models::AddressBookRow;
use crate::db::schema::{address_books, contacts};

fn book_from_row(row: AddressBookRow) -> AddressBook {
    AddressBook {
        id: row.id,
        slug: row.slug,
        display_name: row.display_name,
        description: row.description,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

impl Store {
    /// The principal's address books, the default one first (macOS only syncs the first).
    pub async fn list_address_books(&self, principal: &Principal) -> StoreResult<Vec<AddressBook>> {
        let mut conn = self.conn().await?;
        let rows: Vec<AddressBookRow> = address_books::table
            .filter(address_books::user_id.eq(principal.user_id))
            .order((
                address_books::slug.ne(DEFAULT_ADDRESS_BOOK),
                address_books::id,
            ))
            .select(AddressBookRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(book_from_row).collect())
    }

    pub async fn get_address_book(
        &self,
        principal: &Principal,
        id: i64,
    ) -> StoreResult<AddressBook> {
        let mut conn = self.conn().await?;
        let row: AddressBookRow = address_books::table
            .filter(address_books::id.eq(id))
            .filter(address_books::user_id.eq(principal.user_id))
            .select(AddressBookRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(book_from_row(row))
    }

    pub async fn address_book_by_slug(
        &self,
        principal: &Principal,
        slug: &str,
    ) -> StoreResult<AddressBook> {
        let mut conn = self.conn().await?;
        let row: AddressBookRow = address_books::table
            .filter(address_books::slug.eq(slug))
            .filter(address_books::user_id.eq(principal.user_id))
            .select(AddressBookRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(book_from_row(row))
    }

    pub async fn create_address_book(
        &self,
        principal: &Principal,
        slug: &str,
        display_name: &str,
        description: &str,
    ) -> StoreResult<AddressBook> {
        if !valid_slug(slug) {
            return Err(StoreError::Validation(
                crate::domain::contact::ValidationError {
                    field: "slug",
                    message:
                        "1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
                            .into(),
                },
            ));
        }
        let mut conn = self.conn().await?;
        let row: AddressBookRow = diesel::insert_into(address_books::table)
            .values((
                address_books::user_id.eq(principal.user_id),
                address_books::slug.eq(slug),
                address_books::display_name.eq(display_name),
                address_books::description.eq(description),
            ))
            .returning(AddressBookRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| {
                unique_violation(
                    e,
                    "address_books_user_id_slug_key",
                    StoreError::AlreadyExists {
                        what: "address book",
                        name: slug.to_owned(),
                    },
                )
            })?;
        Ok(book_from_row(row))
    }

    /// Renames / re-describes an address book; `None` leaves a value as it is.
    pub async fn update_address_book(
        &self,
        principal: &Principal,
        id: i64,
        display_name: Option<&str>,
        description: Option<&str>,
    ) -> StoreResult<AddressBook> {
        /// Only the given values change (`None` fields are left out of the UPDATE), so one
        /// statement on one pooled connection does it: no read of the current values first.
        #[derive(AsChangeset)]
        #[diesel(table_name = address_books)]
        struct BookUpdate<'a> {
            display_name: Option<&'a str>,
            description: Option<&'a str>,
            updated_at: chrono::DateTime<Utc>,
        }
        let mut conn = self.conn().await?;
        let row: AddressBookRow = diesel::update(
            address_books::table
                .filter(address_books::id.eq(id))
                .filter(address_books::user_id.eq(principal.user_id)),
        )
        .set(BookUpdate {
            display_name,
            description,
            updated_at: Utc::now(),
        })
        .returning(AddressBookRow::as_returning())
        .get_result(&mut conn)
        .await?;
        Ok(book_from_row(row))
    }

    /// Deletes an address book and every card in it.
    pub async fn delete_address_book(&self, principal: &Principal, id: i64) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(
            address_books::table
                .filter(address_books::id.eq(id))
                .filter(address_books::user_id.eq(principal.user_id)),
        )
        .execute(&mut conn)
        .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// How many live cards (contacts and groups, not deletion tombstones) each of the
    /// principal's address books holds, by book id. Books without cards are absent.
    pub async fn address_book_card_counts(
        &self,
        principal: &Principal,
    ) -> StoreResult<std::collections::HashMap<i64, i64>> {
        let mut conn = self.conn().await?;
        let counts: Vec<(i64, i64)> = contacts::table
            .inner_join(address_books::table)
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(contacts::deleted_at.is_null())
            .group_by(contacts::address_book_id)
            .select((contacts::address_book_id, diesel::dsl::count_star()))
            .load(&mut conn)
            .await?;
        Ok(counts.into_iter().collect())
    }
}
