//! The child rows of contacts (emails, phones, addresses, group members): removed and written
//! for any number of cards with one statement each, by the single-card and the batched write
//! paths alike.
//!
//! Both statements have fixed text (the rows travel as one array per column, expanded with
//! `unnest`), so each connection prepares them once; a multi-row `VALUES` list would be new
//! SQL, parsed and planned again, for every card.

use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::StoreResult;
use super::projection::ChildRows;
use crate::db::prepared::Prepared;

const DELETE_SQL: &str = "\
WITH emails AS (DELETE FROM contact_emails WHERE contact_id = ANY($1)),
     phones AS (DELETE FROM contact_phones WHERE contact_id = ANY($1)),
     addresses AS (DELETE FROM contact_addresses WHERE contact_id = ANY($1))
DELETE FROM group_members WHERE group_id = ANY($1)";

const INSERT_SQL: &str = "\
WITH emails AS (
    INSERT INTO contact_emails (contact_id, position, kind, address, address_folded, label)
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[],
                         $6::text[])
), phones AS (
    INSERT INTO contact_phones (contact_id, position, kind, number, normalized, digits, label)
    SELECT * FROM unnest($7::bigint[], $8::int[], $9::text[], $10::text[], $11::text[],
                         $12::text[], $13::text[])
), addresses AS (
    INSERT INTO contact_addresses
        (contact_id, position, kind, street, city, state, zip, country, label)
    SELECT * FROM unnest($14::bigint[], $15::int[], $16::text[], $17::text[], $18::text[],
                         $19::text[], $20::text[], $21::text[], $22::text[])
)
INSERT INTO group_members (group_id, position, member_ref, member_uid)
SELECT * FROM unnest($23::bigint[], $24::int[], $25::text[], $26::text[])";

/// Removes every child row of these contacts.
pub(super) async fn delete(conn: &mut AsyncPgConnection, ids: &[i64]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    Prepared::new(DELETE_SQL)
        .bind::<Array<BigInt>, _>(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// One column of `rows` as an array parameter.
fn column<'r, R, T: 'r>(rows: &'r [R], value: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

/// Writes child rows (of one or many contacts).
pub(super) async fn insert(conn: &mut AsyncPgConnection, rows: &ChildRows) -> StoreResult<()> {
    let ChildRows {
        emails,
        phones,
        addresses,
        members,
    } = rows;
    if emails.is_empty() && phones.is_empty() && addresses.is_empty() && members.is_empty() {
        return Ok(());
    }
    type Texts = Array<Text>;
    type OptionalTexts = Array<Nullable<Text>>;
    Prepared::new(INSERT_SQL)
        .bind::<Array<BigInt>, _>(column(emails, |e| e.contact_id))
        .bind::<Array<Integer>, _>(column(emails, |e| e.position))
        .bind::<Texts, _>(column(emails, |e| e.kind))
        .bind::<Texts, _>(column(emails, |e| e.address.as_str()))
        .bind::<Texts, _>(column(emails, |e| e.address_folded.as_str()))
        .bind::<OptionalTexts, _>(column(emails, |e| e.label.as_deref()))
        .bind::<Array<BigInt>, _>(column(phones, |p| p.contact_id))
        .bind::<Array<Integer>, _>(column(phones, |p| p.position))
        .bind::<Texts, _>(column(phones, |p| p.kind))
        .bind::<Texts, _>(column(phones, |p| p.number.as_str()))
        .bind::<OptionalTexts, _>(column(phones, |p| p.normalized.as_deref()))
        .bind::<Texts, _>(column(phones, |p| p.digits.as_str()))
        .bind::<OptionalTexts, _>(column(phones, |p| p.label.as_deref()))
        .bind::<Array<BigInt>, _>(column(addresses, |a| a.contact_id))
        .bind::<Array<Integer>, _>(column(addresses, |a| a.position))
        .bind::<Texts, _>(column(addresses, |a| a.kind))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.street.as_deref()))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.city.as_deref()))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.state.as_deref()))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.zip.as_deref()))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.country.as_deref()))
        .bind::<OptionalTexts, _>(column(addresses, |a| a.label.as_deref()))
        .bind::<Array<BigInt>, _>(column(members, |m| m.group_id))
        .bind::<Array<Integer>, _>(column(members, |m| m.position))
        .bind::<Texts, _>(column(members, |m| m.member_ref.as_str()))
        .bind::<Texts, _>(column(members, |m| m.member_uid.as_str()))
        .execute(conn)
        .await?;
    Ok(())
}
