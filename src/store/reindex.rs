//! Derived columns that a migration adds but only Rust can compute (they need the vCard
//! parser): filled in for existing rows when the server migrates, in batches, so an upgraded
//! database answers exactly like a fresh one. A no-op (one indexed query) once done.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;

use super::{Store, StoreResult};
use crate::db::schema::contacts;
use crate::domain::vcard;

/// Cards re-indexed per statement.
const BATCH: i64 = 500;

impl Store {
    /// Computes `contacts.match_text` wherever it is still NULL (rows written before migration
    /// 000004). Returns how many cards were indexed.
    pub async fn backfill_match_text(&self) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let mut done = 0;
        loop {
            let rows: Vec<(i64, String)> = contacts::table
                .filter(contacts::match_text.is_null())
                .select((contacts::id, contacts::vcard))
                .order(contacts::id)
                .limit(BATCH)
                .load(&mut conn)
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            // A stored card that no longer parses matches no text-match anyway.
            let texts: Vec<String> = rows
                .iter()
                .map(|(_, text)| {
                    vcard::parse_one(text).map_or_else(|_| String::new(), |c| c.match_text())
                })
                .collect();
            let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
            diesel::sql_query(
                "UPDATE contacts SET match_text = m.text \
                 FROM unnest($1::bigint[], $2::text[]) AS m(id, text) WHERE contacts.id = m.id",
            )
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(texts)
            .execute(&mut conn)
            .await?;
            done += rows.len();
        }
    }
}
