//! The child rows of contacts (emails, phones, addresses, group members): removed and written
//! for any number of cards with one statement per table, by the single-card and the batched
//! write paths alike.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::StoreResult;
use super::projection::ChildRows;
use crate::db::schema::{contact_addresses, contact_emails, contact_phones, group_members};

/// Rows per INSERT: PostgreSQL allows 65,535 bind parameters per statement, and a child row
/// binds at most 8.
const ROWS_PER_INSERT: usize = 4000;

/// Removes every child row of these contacts.
pub(super) async fn delete(conn: &mut AsyncPgConnection, ids: &[i64]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(contact_emails::table.filter(contact_emails::contact_id.eq_any(ids)))
        .execute(conn)
        .await?;
    diesel::delete(contact_phones::table.filter(contact_phones::contact_id.eq_any(ids)))
        .execute(conn)
        .await?;
    diesel::delete(contact_addresses::table.filter(contact_addresses::contact_id.eq_any(ids)))
        .execute(conn)
        .await?;
    diesel::delete(group_members::table.filter(group_members::group_id.eq_any(ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes child rows (of one or many contacts).
pub(super) async fn insert(conn: &mut AsyncPgConnection, rows: &ChildRows) -> StoreResult<()> {
    for chunk in rows.emails.chunks(ROWS_PER_INSERT) {
        diesel::insert_into(contact_emails::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in rows.phones.chunks(ROWS_PER_INSERT) {
        diesel::insert_into(contact_phones::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in rows.addresses.chunks(ROWS_PER_INSERT) {
        diesel::insert_into(contact_addresses::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    for chunk in rows.members.chunks(ROWS_PER_INSERT) {
        diesel::insert_into(group_members::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}
