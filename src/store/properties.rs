//! WebDAV dead properties (RFC 4918 4.1, 9.2) of address books and cards: any property a
//! client sets that the server does not compute, stored as the XML the client sent and handed
//! back verbatim. A card's go away with the card (its tombstone) and travel with it on MOVE
//! and COPY (`store::transfer`); a book's go with the book (cascade).
//!
//! A PROPPATCH is one transaction: the book's live properties (display name, description) and
//! every dead property it sets or removes change together or not at all (RFC 4918 9.2), and the
//! total size of a resource's dead properties is bounded by the caller's limit.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::writes::lock_card_at;
use super::{Principal, Store, StoreError, StoreResult};
use crate::db::prepared::Prepared;
use crate::db::schema::{address_books, dead_properties};

/// One dead property: its name and the whole property element as XML (self-contained: every
/// namespace prefix it uses is declared inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProperty {
    pub namespace: String,
    pub name: String,
    pub xml: String,
}

impl DeadProperty {
    /// What the property costs against the size limit.
    fn size(&self) -> usize {
        self.namespace.len() + self.name.len() + self.xml.len()
    }
}

/// Whose properties: an address book's own, or one of its cards' (by resource name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyOwner<'a> {
    Book,
    Card(&'a str),
}

/// The changes of one PROPPATCH, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct PropertyPatch {
    /// Dead properties to store (replacing a value of the same name).
    pub set: Vec<DeadProperty>,
    /// Dead properties to remove, as (namespace, name); removing one that is not there is no
    /// error (RFC 4918 14.23).
    pub remove: Vec<(String, String)>,
    /// The book's live display name and description (`None`: unchanged).
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Most bytes (namespace + name + XML) of dead properties the resource may hold.
    pub max_bytes: usize,
}

/// How a property patch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOutcome {
    Applied,
    /// Nothing was changed: the resource would hold more than `limit` bytes of dead
    /// properties (RFC 4918 9.2.1: 507 Insufficient Storage).
    TooLarge {
        limit: usize,
    },
}

#[derive(diesel::QueryableByName)]
struct Owned {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

type Row = (Option<i64>, String, String, String);

fn property((_, namespace, name, xml): Row) -> DeadProperty {
    DeadProperty {
        namespace,
        name,
        xml,
    }
}

impl Store {
    /// The dead properties of a book or of one of its cards, by name. Empty for a card that
    /// does not exist; NotFound when the book is not the principal's.
    pub async fn dead_properties(
        &self,
        principal: &Principal,
        address_book_id: i64,
        owner: PropertyOwner<'_>,
    ) -> StoreResult<Vec<DeadProperty>> {
        let mut conn = self.conn().await?;
        let book = owned_book(&mut conn, principal, address_book_id).await?;
        let rows: Vec<Row> = match owner {
            PropertyOwner::Book => {
                dead_properties::table
                    .filter(dead_properties::address_book_id.eq(book))
                    .filter(dead_properties::contact_id.is_null())
                    .order((dead_properties::namespace, dead_properties::name))
                    .select(columns())
                    .load(&mut conn)
                    .await?
            }
            PropertyOwner::Card(href) => Prepared::new(CARD_PROPERTIES_SQL)
                .bind::<BigInt, _>(book)
                .bind::<Nullable<Text>, _>(Some(href))
                .load::<RowByName>(&mut conn)
                .await?
                .into_iter()
                .map(RowByName::into_row)
                .collect(),
        };
        Ok(rows.into_iter().map(property).collect())
    }

    /// The dead properties of every live card of a book, by card id (one query, for a Depth 1
    /// PROPFIND).
    pub async fn card_dead_properties(
        &self,
        principal: &Principal,
        address_book_id: i64,
    ) -> StoreResult<HashMap<i64, Vec<DeadProperty>>> {
        let mut conn = self.conn().await?;
        let book = owned_book(&mut conn, principal, address_book_id).await?;
        let rows: Vec<RowByName> = Prepared::new(CARD_PROPERTIES_SQL)
            .bind::<BigInt, _>(book)
            .bind::<Nullable<Text>, _>(None::<String>)
            .load(&mut conn)
            .await?;
        let mut by_card: HashMap<i64, Vec<DeadProperty>> = HashMap::new();
        for row in rows {
            let (id, namespace, name, xml) = row.into_row();
            if let Some(id) = id {
                by_card.entry(id).or_default().push(DeadProperty {
                    namespace,
                    name,
                    xml,
                });
            }
        }
        Ok(by_card)
    }

    /// Applies a PROPPATCH to a book or one of its cards: all of it, or nothing.
    pub async fn patch_properties(
        &self,
        principal: &Principal,
        address_book_id: i64,
        owner: PropertyOwner<'_>,
        patch: &PropertyPatch,
    ) -> StoreResult<PatchOutcome> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            // Row-locks the resource, so two patches of it cannot both pass the size check.
            let contact_id = match owner {
                PropertyOwner::Book => {
                    lock_book(conn, principal, address_book_id).await?;
                    None
                }
                PropertyOwner::Card(href) => {
                    let card = lock_card_at(conn, principal, address_book_id, href).await?;
                    Some(card.ok_or(StoreError::NotFound)?.id)
                }
            };
            let existing: Vec<Sized> = Prepared::new(SIZES_SQL)
                .bind::<BigInt, _>(address_book_id)
                .bind::<Nullable<BigInt>, _>(contact_id)
                .load(conn)
                .await?;
            let mut sizes: HashMap<(String, String), usize> = existing
                .into_iter()
                .map(|p| ((p.namespace, p.name), usize::try_from(p.size).unwrap_or(0)))
                .collect();
            for (ns, name) in &patch.remove {
                sizes.remove(&(ns.clone(), name.clone()));
            }
            for set in &patch.set {
                sizes.insert((set.namespace.clone(), set.name.clone()), set.size());
            }
            if sizes.values().sum::<usize>() > patch.max_bytes {
                return Ok(PatchOutcome::TooLarge {
                    limit: patch.max_bytes,
                });
            }
            for (ns, name) in &patch.remove {
                Prepared::new(DELETE_SQL)
                    .bind::<BigInt, _>(address_book_id)
                    .bind::<Nullable<BigInt>, _>(contact_id)
                    .bind::<Text, _>(ns.as_str())
                    .bind::<Text, _>(name.as_str())
                    .execute(conn)
                    .await?;
            }
            for set in &patch.set {
                Prepared::new(UPSERT_SQL)
                    .bind::<BigInt, _>(address_book_id)
                    .bind::<Nullable<BigInt>, _>(contact_id)
                    .bind::<Text, _>(set.namespace.as_str())
                    .bind::<Text, _>(set.name.as_str())
                    .bind::<Text, _>(set.xml.as_str())
                    .execute(conn)
                    .await?;
            }
            if patch.display_name.is_some() || patch.description.is_some() {
                update_book(conn, address_book_id, patch).await?;
            }
            Ok(PatchOutcome::Applied)
        })
        .await
    }
}

fn columns() -> (
    dead_properties::contact_id,
    dead_properties::namespace,
    dead_properties::name,
    dead_properties::xml,
) {
    (
        dead_properties::contact_id,
        dead_properties::namespace,
        dead_properties::name,
        dead_properties::xml,
    )
}

/// Dead properties of the live cards of book `$1`, of the card named `$2` only when given.
const CARD_PROPERTIES_SQL: &str = "\
SELECT p.contact_id, p.namespace, p.name, p.xml FROM dead_properties p \
JOIN contacts c ON c.id = p.contact_id \
WHERE p.address_book_id = $1 AND c.address_book_id = $1 AND c.deleted_at IS NULL \
  AND ($2::text IS NULL OR c.href = $2) \
ORDER BY p.contact_id, p.namespace, p.name";

/// Names and sizes of the dead properties of one resource (book `$1`, card `$2` or the book
/// itself when `$2` is NULL).
const SIZES_SQL: &str = "\
SELECT namespace, name, octet_length(namespace) + octet_length(name) + octet_length(xml) AS size \
FROM dead_properties WHERE address_book_id = $1 AND COALESCE(contact_id, 0) = COALESCE($2::bigint, 0)";

#[derive(diesel::QueryableByName)]
struct Sized {
    #[diesel(sql_type = Text)]
    namespace: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    size: i32,
}

const DELETE_SQL: &str = "\
DELETE FROM dead_properties WHERE address_book_id = $1 \
  AND COALESCE(contact_id, 0) = COALESCE($2::bigint, 0) AND namespace = $3 AND name = $4";

const UPSERT_SQL: &str = "\
INSERT INTO dead_properties (address_book_id, contact_id, namespace, name, xml) \
VALUES ($1, $2, $3, $4, $5) \
ON CONFLICT (address_book_id, COALESCE(contact_id, 0), namespace, name) \
DO UPDATE SET xml = EXCLUDED.xml";

#[derive(diesel::QueryableByName)]
struct RowByName {
    #[diesel(sql_type = Nullable<BigInt>)]
    contact_id: Option<i64>,
    #[diesel(sql_type = Text)]
    namespace: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    xml: String,
}

impl RowByName {
    fn into_row(self) -> Row {
        (self.contact_id, self.namespace, self.name, self.xml)
    }
}

/// The book's id when it is the principal's; NotFound otherwise.
async fn owned_book(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
) -> StoreResult<i64> {
    Ok(address_books::table
        .filter(address_books::id.eq(address_book_id))
        .filter(address_books::user_id.eq(principal.user_id))
        .select(address_books::id)
        .first(conn)
        .await?)
}

/// Row-locks the principal's book (a book PROPPATCH holds no card lock, so taking the book
/// lock here keeps the "card rows, then the book" order of `store::commit`).
async fn lock_book(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    address_book_id: i64,
) -> StoreResult<()> {
    let found: Vec<Owned> =
        Prepared::new("SELECT id FROM address_books WHERE id = $1 AND user_id = $2 FOR UPDATE")
            .bind::<BigInt, _>(address_book_id)
            .bind::<BigInt, _>(principal.user_id)
            .load(conn)
            .await?;
    match found.as_slice() {
        [book] if book.id == address_book_id => Ok(()),
        _ => Err(StoreError::NotFound),
    }
}

async fn update_book(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    patch: &PropertyPatch,
) -> StoreResult<()> {
    #[derive(AsChangeset)]
    #[diesel(table_name = address_books)]
    struct BookUpdate<'a> {
        display_name: Option<&'a str>,
        description: Option<&'a str>,
        updated_at: chrono::DateTime<chrono::Utc>,
    }
    diesel::update(address_books::table.find(address_book_id))
        .set(BookUpdate {
            display_name: patch.display_name.as_deref(),
            description: patch.description.as_deref(),
            updated_at: chrono::Utc::now(),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the dead properties of cards (with their tombstone: the properties are the card's).
pub(super) async fn delete_for_cards(
    conn: &mut AsyncPgConnection,
    contact_ids: &[i64],
) -> StoreResult<()> {
    diesel::delete(dead_properties::table.filter(dead_properties::contact_id.eq_any(contact_ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The dead properties of one card (read before a COPY or MOVE writes its destination).
pub(super) async fn of_card(
    conn: &mut AsyncPgConnection,
    contact_id: i64,
) -> StoreResult<Vec<DeadProperty>> {
    let rows: Vec<Row> = dead_properties::table
        .filter(dead_properties::contact_id.eq(contact_id))
        .select(columns())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(property).collect())
}

/// Gives card `contact_id` of book `address_book_id` these dead properties (COPY and MOVE,
/// RFC 4918 9.8.2 and 9.9.1: dead properties are duplicated with the resource).
pub(super) async fn insert_for_card(
    conn: &mut AsyncPgConnection,
    address_book_id: i64,
    contact_id: i64,
    properties: &[DeadProperty],
) -> StoreResult<()> {
    if properties.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = properties
        .iter()
        .map(|p| {
            (
                dead_properties::address_book_id.eq(address_book_id),
                dead_properties::contact_id.eq(Some(contact_id)),
                dead_properties::namespace.eq(p.namespace.as_str()),
                dead_properties::name.eq(p.name.as_str()),
                dead_properties::xml.eq(p.xml.as_str()),
            )
        })
        .collect();
    diesel::insert_into(dead_properties::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}
