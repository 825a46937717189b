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
//!
//! Migration 000012 added `contacts.details` and the `label` of emails, phones and addresses,
//! which only the vCard adapter can read; `details IS NULL` marks the cards still to project.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::projection::{details_json, folded_address, folded_names};
use super::{Store, StoreError, StoreResult};
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

    /// Projects the details and labels of every card whose `details` is NULL (written before
    /// migration 000012). Each batch is one transaction holding its cards' rows, so a write of
    /// one of them waits and then replaces what this computed with its own values. Returns how
    /// many cards were projected.
    pub async fn backfill_details(&self) -> StoreResult<usize> {
        let mut conn = self.conn().await?;
        let mut done = 0;
        loop {
            let count = conn
                .transaction::<_, StoreError, _>(async |conn| {
                    let rows: Vec<(i64, String)> = contacts::table
                        .filter(contacts::details.is_null())
                        .select((contacts::id, contacts::vcard))
                        .order(contacts::id)
                        .limit(BATCH)
                        .for_update()
                        .skip_locked()
                        .load(conn)
                        .await?;
                    let mut ids = Vec::with_capacity(rows.len());
                    let mut details = Vec::with_capacity(rows.len());
                    let mut labels = Labels::default();
                    for (id, text) in &rows {
                        // A stored card that no longer parses has no details to show.
                        let fields = vcard::parse_one(text)
                            .map(|card| card.extract())
                            .unwrap_or_default();
                        ids.push(*id);
                        details.push(details_json(&fields.details));
                        labels.add(*id, &fields);
                    }
                    labels.store(conn).await?;
                    diesel::sql_query(
                        "UPDATE contacts SET details = m.details \
                         FROM unnest($1::bigint[], $2::jsonb[]) AS m(id, details) \
                         WHERE contacts.id = m.id",
                    )
                    .bind::<Array<BigInt>, _>(ids)
                    .bind::<Array<Jsonb>, _>(details)
                    .execute(conn)
                    .await?;
                    Ok(rows.len())
                })
                .await?;
            if count == 0 {
                return Ok(done);
            }
            done += count;
        }
    }
}

/// Labels of child rows (contact, position, label), per table.
#[derive(Default)]
struct Labels {
    emails: LabelColumns,
    phones: LabelColumns,
    addresses: LabelColumns,
}

#[derive(Default)]
struct LabelColumns {
    ids: Vec<i64>,
    positions: Vec<i32>,
    labels: Vec<Option<String>>,
}

impl LabelColumns {
    fn add<'a>(&mut self, id: i64, labels: impl Iterator<Item = &'a Option<String>>) {
        for (position, label) in labels.enumerate() {
            if label.is_some() {
                self.ids.push(id);
                self.positions
                    .push(i32::try_from(position).unwrap_or(i32::MAX));
                self.labels.push(label.clone());
            }
        }
    }
}

impl Labels {
    /// Child rows are written in the order `extract` lists them, so a position names the same
    /// email, phone or address here.
    fn add(&mut self, id: i64, fields: &ContactFields) {
        self.emails.add(id, fields.emails.iter().map(|e| &e.label));
        self.phones.add(id, fields.phones.iter().map(|p| &p.label));
        self.addresses
            .add(id, fields.addresses.iter().map(|a| &a.label));
    }

    async fn store(self, conn: &mut diesel_async::AsyncPgConnection) -> StoreResult<()> {
        for (table, columns) in [
            ("contact_emails", self.emails),
            ("contact_phones", self.phones),
            ("contact_addresses", self.addresses),
        ] {
            if columns.ids.is_empty() {
                continue;
            }
            diesel::sql_query(format!(
                "UPDATE {table} SET label = m.label \
                 FROM unnest($1::bigint[], $2::int[], $3::text[]) AS m(contact_id, position, label) \
                 WHERE {table}.contact_id = m.contact_id AND {table}.position = m.position"
            ))
            .bind::<Array<BigInt>, _>(columns.ids)
            .bind::<Array<Integer>, _>(columns.positions)
            .bind::<Array<Nullable<Text>>, _>(columns.labels)
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}
