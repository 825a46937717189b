//! Read paths: single contacts by id or href, and keyset-paged lists. Child rows (emails, phones,
//! addresses, group members) are loaded for a whole page with one query per table, never per
//! contact; no read path parses a vCard.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{ContactRecord, Principal, Store, StoreResult, projection};
use crate::db::models::{AddressRow, ContactRow, EmailRow, GroupMemberRow, PhoneRow};
use crate::db::schema::{
    address_books, contact_addresses, contact_emails, contact_phones, contacts, group_members,
};
use crate::domain::contact::CardKind;

/// Largest page any list call returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Which contacts to list. Ordered by id (creation order); `after_id` continues a page.
#[derive(Debug, Clone, Default)]
pub struct ContactListQuery {
    /// Restrict to one address book (must be the principal's); `None` = all of theirs.
    pub address_book_id: Option<i64>,
    pub kind: Option<CardKind>,
    /// Also return tombstones (deleted cards).
    pub include_deleted: bool,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// One page of results and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl Store {
    /// A live contact (or group) of the principal by id.
    pub async fn get_contact(&self, principal: &Principal, id: i64) -> StoreResult<ContactRecord> {
        let mut conn = self.conn().await?;
        let row: ContactRow = contacts::table
            .inner_join(address_books::table)
            .filter(contacts::id.eq(id))
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(contacts::deleted_at.is_null())
            .select(ContactRow::as_select())
            .first(&mut conn)
            .await?;
        let mut records = hydrate(&mut conn, vec![row]).await?;
        Ok(records.remove(0))
    }

    /// A live card by its resource name in one of the principal's address books.
    pub async fn get_contact_by_href(
        &self,
        principal: &Principal,
        address_book_id: i64,
        href: &str,
    ) -> StoreResult<ContactRecord> {
        let mut conn = self.conn().await?;
        let row: ContactRow = contacts::table
            .inner_join(address_books::table)
            .filter(contacts::address_book_id.eq(address_book_id))
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(contacts::href.eq(href))
            .filter(contacts::deleted_at.is_null())
            .select(ContactRow::as_select())
            .first(&mut conn)
            .await?;
        let mut records = hydrate(&mut conn, vec![row]).await?;
        Ok(records.remove(0))
    }

    /// Several live contacts of the principal by id, in the order asked; ids that are not the
    /// principal's (or do not exist) are simply absent.
    pub async fn get_contacts(
        &self,
        principal: &Principal,
        ids: &[i64],
    ) -> StoreResult<Vec<ContactRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<ContactRow> = contacts::table
            .inner_join(address_books::table)
            .filter(contacts::id.eq_any(ids))
            .filter(address_books::user_id.eq(principal.user_id))
            .filter(contacts::deleted_at.is_null())
            .select(ContactRow::as_select())
            .load(&mut conn)
            .await?;
        hydrate_in_order(&mut conn, rows, ids).await
    }

    /// A page of the principal's contacts.
    pub async fn list_contacts(
        &self,
        principal: &Principal,
        query: &ContactListQuery,
    ) -> StoreResult<Page<ContactRecord>> {
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let mut conn = self.conn().await?;
        let mut select = contacts::table
            .inner_join(address_books::table)
            .filter(address_books::user_id.eq(principal.user_id))
            .select(ContactRow::as_select())
            .order(contacts::id)
            .limit(limit + 1)
            .into_boxed();
        if let Some(book) = query.address_book_id {
            select = select.filter(contacts::address_book_id.eq(book));
        }
        if let Some(kind) = query.kind {
            select = select.filter(contacts::kind.eq(kind));
        }
        if !query.include_deleted {
            select = select.filter(contacts::deleted_at.is_null());
        }
        if let Some(after) = query.after_id {
            select = select.filter(contacts::id.gt(after));
        }
        let mut rows: Vec<ContactRow> = select.load(&mut conn).await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(Page {
            items: hydrate(&mut conn, rows).await?,
            has_more,
        })
    }
}

/// [`hydrate`], the records in the order of `ids` (ids without a row are left out).
pub(super) async fn hydrate_in_order(
    conn: &mut AsyncPgConnection,
    rows: Vec<ContactRow>,
    ids: &[i64],
) -> StoreResult<Vec<ContactRecord>> {
    let mut by_id: HashMap<i64, ContactRecord> = hydrate(conn, rows)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Loads the child rows of `rows` (one query per child table) and assembles records.
pub(super) async fn hydrate(
    conn: &mut AsyncPgConnection,
    rows: Vec<ContactRow>,
) -> StoreResult<Vec<ContactRecord>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let emails: Vec<EmailRow> = contact_emails::table
        .filter(contact_emails::contact_id.eq_any(&ids))
        .order((contact_emails::contact_id, contact_emails::position))
        .select(EmailRow::as_select())
        .load(conn)
        .await?;
    let phones: Vec<PhoneRow> = contact_phones::table
        .filter(contact_phones::contact_id.eq_any(&ids))
        .order((contact_phones::contact_id, contact_phones::position))
        .select(PhoneRow::as_select())
        .load(conn)
        .await?;
    let addresses: Vec<AddressRow> = contact_addresses::table
        .filter(contact_addresses::contact_id.eq_any(&ids))
        .order((contact_addresses::contact_id, contact_addresses::position))
        .select(AddressRow::as_select())
        .load(conn)
        .await?;
    let group_ids: Vec<i64> = rows
        .iter()
        .filter(|r| r.projection.kind == CardKind::Group)
        .map(|r| r.id)
        .collect();
    let members: Vec<GroupMemberRow> = if group_ids.is_empty() {
        Vec::new()
    } else {
        group_members::table
            .filter(group_members::group_id.eq_any(&group_ids))
            .order((group_members::group_id, group_members::position))
            .select(GroupMemberRow::as_select())
            .load(conn)
            .await?
    };

    fn group<T>(items: &[T], key: impl Fn(&T) -> i64) -> HashMap<i64, Vec<&T>> {
        let mut map: HashMap<i64, Vec<&T>> = HashMap::new();
        for item in items {
            map.entry(key(item)).or_default().push(item);
        }
        map
    }
    let emails = group(&emails, |e| e.contact_id);
    let phones = group(&phones, |p| p.contact_id);
    let addresses = group(&addresses, |a| a.contact_id);
    let members = group(&members, |m| m.group_id);

    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            assemble(
                row,
                emails.get(&id).map_or(&[], Vec::as_slice),
                phones.get(&id).map_or(&[], Vec::as_slice),
                addresses.get(&id).map_or(&[], Vec::as_slice),
                members.get(&id).map_or(&[], Vec::as_slice),
            )
        })
        .collect())
}

/// A record from its row and child rows (children in position order). Write paths call this
/// with the rows they just wrote, so a write never reads back what it knows.
pub(super) fn assemble(
    row: ContactRow,
    emails: &[&EmailRow],
    phones: &[&PhoneRow],
    addresses: &[&AddressRow],
    members: &[&GroupMemberRow],
) -> ContactRecord {
    let fields = projection::fields_from_rows(
        &row.uid,
        &row.projection,
        emails,
        phones,
        addresses,
        members,
    );
    ContactRecord {
        id: row.id,
        address_book_id: row.address_book_id,
        kind: row.projection.kind,
        uid: row.uid,
        href: row.href,
        vcard: row.vcard,
        vcard_version: row.vcard_version,
        etag: row.etag,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
        fields,
    }
}
