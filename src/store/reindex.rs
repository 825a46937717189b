//! Derived columns that a migration adds or redefines but only Rust can compute (they need the
//! vCard parser or the text folds of `domain::text`): filled in for existing rows when the server
//! migrates, in batches, so an upgraded database answers exactly like a fresh one. A no-op (one
//! indexed query) once done.
//!
//! The marker is `contacts.match_text IS NULL`: migration 000004 added the column empty, and a
//! migration that changes a fold (000008: σ/ς/Σ and the other case variants) sets it back to
//! NULL on the rows whose folded forms may differ. Every folded column of such a row is then
//! recomputed here with the code writes use: `match_text` from the card, `search_text` and
//! `sort_name` from the typed name columns, `contact_emails.address_folded` from the address.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text};
use diesel_async::RunQueryDsl;

use super::projection::{folded_address, folded_names};
use super::{Store, StoreResult};
use crate::db::schema::{contact_emails, contacts};
use crate::domain::contact::ContactFields;
use crate::domain::vcard;

/// Cards re-indexed per statement.
const BATCH: i64 = 500;

/// The columns the folded names are computed from, in `folded_names`' terms.
type NameColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn name_fields(names: NameColumns) -> ContactFields {
    let (
        display_name,
        prefix,
        first_name,
        middle_name,
        last_name,
        suffix,
        nickname,
        phonetic_first_name,
        phonetic_middle_name,
        phonetic_last_name,
        company,
        department,
        job_title,
        username,
    ) = names;
    ContactFields {
        display_name,
        prefix,
        first_name,
        middle_name,
        last_name,
        suffix,
        nickname,
        phonetic_first_name,
        phonetic_middle_name,
        phonetic_last_name,
        company,
        department,
        job_title,
        username,
        ..ContactFields::default()
    }
}

impl Store {
    /// Re-indexes every card whose `match_text` is NULL (rows written before migration 000004,
    /// or marked by a migration that changed a fold): computes `match_text`, `search_text`,
    /// `sort_name` and its emails' `address_folded`. Returns how many cards were indexed.
    pub async fn backfill_match_text(&self) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let mut done = 0;
        loop {
            let rows: Vec<(i64, String, NameColumns)> = contacts::table
                .filter(contacts::match_text.is_null())
                .select((
                    contacts::id,
                    contacts::vcard,
                    (
                        contacts::display_name,
                        contacts::prefix,
                        contacts::first_name,
                        contacts::middle_name,
                        contacts::last_name,
                        contacts::suffix,
                        contacts::nickname,
                        contacts::phonetic_first_name,
                        contacts::phonetic_middle_name,
                        contacts::phonetic_last_name,
                        contacts::company,
                        contacts::department,
                        contacts::job_title,
                        contacts::username,
                    ),
                ))
                .order(contacts::id)
                .limit(BATCH)
                .load(&mut conn)
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            let count = rows.len();
            let mut ids = Vec::with_capacity(count);
            let mut match_texts = Vec::with_capacity(count);
            let mut search_texts = Vec::with_capacity(count);
            let mut sort_names = Vec::with_capacity(count);
            for (id, text, names) in rows {
                ids.push(id);
                // A stored card that no longer parses matches no text-match anyway.
                match_texts.push(
                    vcard::parse_one(&text).map_or_else(|_| String::new(), |c| c.match_text()),
                );
                let (search_text, sort_name) = folded_names(&name_fields(names));
                search_texts.push(search_text);
                sort_names.push(sort_name);
            }

            // Emails first: the contacts update clears the marker, so a batch cut short before
            // it is simply done again.
            let emails: Vec<(i64, i32, String)> = contact_emails::table
                .filter(contact_emails::contact_id.eq_any(&ids))
                .select((
                    contact_emails::contact_id,
                    contact_emails::position,
                    contact_emails::address,
                ))
                .load(&mut conn)
                .await?;
            if !emails.is_empty() {
                let mut email_ids = Vec::with_capacity(emails.len());
                let mut positions = Vec::with_capacity(emails.len());
                let mut addresses = Vec::with_capacity(emails.len());
                let mut folded = Vec::with_capacity(emails.len());
                for (contact_id, position, address) in emails {
                    email_ids.push(contact_id);
                    positions.push(position);
                    folded.push(folded_address(&address));
                    addresses.push(address);
                }
                // Only where the address is still the one folded (a concurrent write replaces
                // the rows with its own, already folded).
                diesel::sql_query(
                    "UPDATE contact_emails SET address_folded = m.folded \
                     FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[]) \
                         AS m(contact_id, position, address, folded) \
                     WHERE contact_emails.contact_id = m.contact_id \
                       AND contact_emails.position = m.position \
                       AND contact_emails.address = m.address",
                )
                .bind::<Array<BigInt>, _>(email_ids)
                .bind::<Array<Integer>, _>(positions)
                .bind::<Array<Text>, _>(addresses)
                .bind::<Array<Text>, _>(folded)
                .execute(&mut conn)
                .await?;
            }

            // Only rows still marked: a card written meanwhile has its own, current values.
            diesel::sql_query(
                "UPDATE contacts \
                 SET match_text = m.match_text, search_text = m.search_text, \
                     sort_name = m.sort_name \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) \
                     AS m(id, match_text, search_text, sort_name) \
                 WHERE contacts.id = m.id AND contacts.match_text IS NULL",
            )
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(match_texts)
            .bind::<Array<Text>, _>(search_texts)
            .bind::<Array<Text>, _>(sort_names)
            .execute(&mut conn)
            .await?;
            done += count;
        }
    }
}
