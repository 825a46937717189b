//! Phone.com's contact lookup: by id, by any combination of name fields (each must equal its
//! value, ignoring case), or by one scalar that may equal any of them. Built on the query
//! module's filters, so it sees exactly the principal's live contacts.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::query::{BoxedContacts, ContactFilter, ContactOrder, filtered, like_literal, ordered};
use super::reads::hydrate;
use super::{ContactRecord, Principal, Store, StoreResult};
use crate::db::models::ContactRow;
use crate::db::schema::contacts;

/// Phone.com's lookup object: every field given must match (case-insensitively, whole value).
#[derive(Debug, Clone, Default)]
pub struct ContactLookup {
    pub id: Option<i64>,
    pub prefix: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub suffix: Option<String>,
    pub nickname: Option<String>,
    pub company: Option<String>,
}

impl Store {
    /// Phone.com lookup: contacts whose given fields all equal the given values (ignoring case).
    pub async fn lookup_contacts(
        &self,
        principal: &Principal,
        lookup: &ContactLookup,
        limit: i64,
    ) -> StoreResult<Vec<ContactRecord>> {
        let mut query = filtered(principal, &ContactFilter::default(), None);
        if let Some(id) = lookup.id {
            query = query.filter(contacts::id.eq(id));
        }
        if let Some(v) = &lookup.prefix {
            query = query.filter(contacts::prefix.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.first_name {
            query = query.filter(contacts::first_name.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.middle_name {
            query = query.filter(contacts::middle_name.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.last_name {
            query = query.filter(contacts::last_name.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.suffix {
            query = query.filter(contacts::suffix.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.nickname {
            query = query.filter(contacts::nickname.ilike(like_literal(v.trim())));
        }
        if let Some(v) = &lookup.company {
            query = query.filter(contacts::company.ilike(like_literal(v.trim())));
        }
        self.load_window(query, limit).await
    }

    /// Phone.com's scalar lookup: contacts where any name field (or the id) equals `value`.
    pub async fn lookup_contacts_by_scalar(
        &self,
        principal: &Principal,
        value: &str,
        limit: i64,
    ) -> StoreResult<Vec<ContactRecord>> {
        let value = like_literal(value.trim());
        let by_id = value.parse::<i64>().ok().unwrap_or(-1);
        let query = filtered(principal, &ContactFilter::default(), None).filter(
            contacts::id
                .eq(by_id)
                .or(contacts::prefix.ilike(value.clone()))
                .or(contacts::first_name.ilike(value.clone()))
                .or(contacts::middle_name.ilike(value.clone()))
                .or(contacts::last_name.ilike(value.clone()))
                .or(contacts::suffix.ilike(value.clone()))
                .or(contacts::nickname.ilike(value.clone()))
                .or(contacts::company.ilike(value)),
        );
        self.load_window(query, limit).await
    }

    async fn load_window(
        &self,
        query: BoxedContacts<'_>,
        limit: i64,
    ) -> StoreResult<Vec<ContactRecord>> {
        let mut conn = self.conn().await?;
        let rows: Vec<ContactRow> = ordered(query, ContactOrder::default())
            .limit(limit.clamp(1, super::reads::MAX_PAGE_SIZE))
            .select(ContactRow::as_select())
            .load(&mut conn)
            .await?;
        hydrate(&mut conn, rows).await
    }
}
