//! Duplicate contacts: finding them (one read of the books in scope, then
//! [`crate::domain::dedupe`]), and recording that contacts are not the same person. Merging
//! is in `merge`.

use std::collections::HashSet;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel_async::RunQueryDsl;

use super::{ContactRecord, Principal, Store, StoreError, StoreResult};
use crate::db::prepared::Prepared;
use crate::domain::contact::ValidationError;
use crate::domain::dedupe::{DuplicateFinder, DuplicateReason, Profile};

/// Most contacts one merge or dismissal names.
pub const MAX_SET_SIZE: usize = 100;

/// Which duplicates to look for.
#[derive(Debug, Clone)]
pub struct DuplicateQuery {
    /// One book; `None`: every book of the principal.
    pub address_book_id: Option<i64>,
    /// Compare contacts of different books too (otherwise each book on its own).
    pub across_books: bool,
    pub min_score: f64,
    /// At most this many sets, best first.
    pub limit: Option<usize>,
}

/// A set of contacts that look like one person, with the contacts read.
#[derive(Debug, Clone)]
pub struct DuplicateGroup {
    pub score: f64,
    pub reasons: Vec<DuplicateReason>,
    /// The most complete contact first.
    pub contacts: Vec<ContactRecord>,
}

#[derive(QueryableByName)]
struct ProfileRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    address_book_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    emails: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    phones: Vec<String>,
    #[diesel(sql_type = Integer)]
    completeness: i32,
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    contact_a: i64,
    #[diesel(sql_type = BigInt)]
    contact_b: i64,
}

/// Every live individual of the principal's books in scope, with what detection compares, in
/// one statement: emails and E.164 numbers are aggregated per contact from their own tables
/// (primary-key lookups), so the cost is one pass over the book.
const PROFILES_SQL: &str = "\
SELECT c.id, c.address_book_id,
       coalesce(nullif(concat_ws(' ', c.first_name, c.middle_name, c.last_name), ''),
                c.display_name, c.company) AS name,
       coalesce((SELECT array_agg(e.address) FROM contact_emails e WHERE e.contact_id = c.id),
                '{}') AS emails,
       coalesce((SELECT array_agg(p.normalized) FROM contact_phones p
                 WHERE p.contact_id = c.id AND p.normalized IS NOT NULL), '{}') AS phones,
       (num_nonnulls(c.first_name, c.middle_name, c.last_name, c.nickname, c.company,
                     c.department, c.job_title, c.note, c.avatar_url)
        + (CASE WHEN c.has_inline_photo THEN 1 ELSE 0 END)
        + (SELECT count(*) FROM contact_emails e WHERE e.contact_id = c.id)
        + (SELECT count(*) FROM contact_phones p WHERE p.contact_id = c.id)
        + (SELECT count(*) FROM contact_addresses a WHERE a.contact_id = c.id))::int
         AS completeness
FROM contacts c
WHERE c.address_book_id IN (SELECT id FROM address_books WHERE user_id = $1
                            AND ($2::bigint IS NULL OR id = $2))
  AND c.deleted_at IS NULL AND c.kind = 'individual'";

impl Store {
    /// The principal's duplicate sets, best first.
    pub async fn find_duplicates(
        &self,
        principal: &Principal,
        query: &DuplicateQuery,
    ) -> StoreResult<Vec<DuplicateGroup>> {
        if let Some(book) = query.address_book_id {
            // NotFound for a book that is not the principal's.
            self.get_address_book(principal, book).await?;
        }
        let mut conn = self.conn().await?;
        let rows: Vec<ProfileRow> = Prepared::new(PROFILES_SQL)
            .bind::<BigInt, _>(principal.user_id)
            .bind::<Nullable<BigInt>, _>(query.address_book_id)
            .load(&mut conn)
            .await?;
        let dismissed: Vec<PairRow> = Prepared::new(
            "SELECT contact_a, contact_b FROM duplicate_dismissals WHERE user_id = $1",
        )
        .bind::<BigInt, _>(principal.user_id)
        .load(&mut conn)
        .await?;
        drop(conn);
        let profiles: Vec<Profile> = rows
            .into_iter()
            .map(|row| Profile {
                id: row.id,
                address_book_id: row.address_book_id,
                name: row.name.unwrap_or_default(),
                emails: row.emails,
                phones: row.phones,
                completeness: u32::try_from(row.completeness).unwrap_or(0),
            })
            .collect();
        let finder = DuplicateFinder {
            dismissed: dismissed
                .into_iter()
                .map(|p| (p.contact_a, p.contact_b))
                .collect(),
            across_books: query.across_books,
        };
        let min_score = query.min_score.clamp(0.0, 1.0);
        // Detection is CPU work over the whole book: off the async workers.
        let mut sets = tokio::task::spawn_blocking(move || finder.find(&profiles, min_score))
            .await
            .map_err(|e| StoreError::Unavailable(format!("duplicate detection failed: {e}")))?;
        if let Some(limit) = query.limit {
            sets.truncate(limit);
        }
        let ids: Vec<i64> = sets.iter().flat_map(|s| s.ids.iter().copied()).collect();
        let records = self.get_contacts(principal, &ids).await?;
        let by_id: std::collections::HashMap<i64, ContactRecord> =
            records.into_iter().map(|r| (r.id, r)).collect();
        Ok(sets
            .into_iter()
            .map(|set| DuplicateGroup {
                score: set.score,
                reasons: set.reasons.into_iter().collect(),
                contacts: set
                    .ids
                    .iter()
                    .filter_map(|id| by_id.get(id).cloned())
                    .collect(),
            })
            // A contact deleted since it was read leaves a set of one: no duplicate any more.
            .filter(|group| group.contacts.len() > 1)
            .collect())
    }

    /// Records that these contacts (the principal's) are not the same person: no two of them
    /// are suggested together again.
    pub async fn dismiss_duplicates(&self, principal: &Principal, ids: &[i64]) -> StoreResult<()> {
        let ids = distinct_ids(ids)?;
        let found = self.get_contacts(principal, &ids).await?;
        if found.len() != ids.len() {
            return Err(StoreError::NotFound);
        }
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for (i, &a) in ids.iter().enumerate() {
            for &b in &ids[i + 1..] {
                first.push(a.min(b));
                second.push(a.max(b));
            }
        }
        let mut conn = self.conn().await?;
        Prepared::new(
            "INSERT INTO duplicate_dismissals (user_id, contact_a, contact_b) \
             SELECT $1, a, b FROM unnest($2::bigint[], $3::bigint[]) AS p(a, b) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<BigInt, _>(principal.user_id)
        .bind::<Array<BigInt>, _>(first)
        .bind::<Array<BigInt>, _>(second)
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

/// The ids, each once, in order; 2 to [`MAX_SET_SIZE`] of them.
pub(super) fn distinct_ids(ids: &[i64]) -> StoreResult<Vec<i64>> {
    let mut seen = HashSet::new();
    let ids: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if ids.len() < 2 || ids.len() > MAX_SET_SIZE {
        return Err(StoreError::Validation(ValidationError {
            field: "ids",
            message: format!("name 2 to {MAX_SET_SIZE} different contacts"),
        }));
    }
    Ok(ids)
}
