//! Contact groups. A group is a card (KIND:group / X-ADDRESSBOOKSERVER-KIND:group) whose members
//! are referenced by UID; this module answers "which groups is each contact in" for a whole page
//! in one query, and edits membership as a patch of the group card (so CardDAV clients see the
//! same change as a new version of the group vCard).

use std::collections::HashMap;

use diesel::sql_types::{Array, Int8};
use diesel_async::RunQueryDsl;

use super::{ContactRecord, Principal, Store, StoreError, StoreResult};
use crate::db::models::MembershipRow;
use crate::domain::contact::{CardKind, ContactPatch};

/// A group as shown on a contact (Phone.com's group summary object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
}

/// How often a membership edit without the caller's ETag retries after losing a race.
const MEMBERSHIP_RETRIES: usize = 3;

impl Store {
    /// The groups each of the given contacts belongs to (only the principal's contacts are
    /// answered). One query for any number of contacts.
    pub async fn group_summaries(
        &self,
        principal: &Principal,
        contact_ids: &[i64],
    ) -> StoreResult<HashMap<i64, Vec<GroupSummary>>> {
        let mut result: HashMap<i64, Vec<GroupSummary>> = HashMap::new();
        if contact_ids.is_empty() {
            return Ok(result);
        }
        let mut conn = self.conn().await?;
        let rows: Vec<MembershipRow> = diesel::sql_query(
            "SELECT m.id AS contact_id, g.id AS group_id, g.display_name AS group_name \
             FROM contacts m \
             JOIN address_books b ON b.id = m.address_book_id AND b.user_id = $2 \
             JOIN group_members gm ON gm.member_uid = m.uid \
             JOIN contacts g ON g.id = gm.group_id \
                 AND g.address_book_id = m.address_book_id AND g.deleted_at IS NULL \
             WHERE m.id = ANY($1) \
             ORDER BY m.id, g.sort_name, g.id",
        )
        .bind::<Array<Int8>, _>(contact_ids)
        .bind::<Int8, _>(principal.user_id)
        .load(&mut conn)
        .await?;
        for row in rows {
            let groups = result.entry(row.contact_id).or_default();
            // A card may list the same member twice; report each group once.
            if !groups.iter().any(|g| g.id == row.group_id) {
                groups.push(GroupSummary {
                    id: row.group_id,
                    name: row.group_name.unwrap_or_default(),
                });
            }
        }
        Ok(result)
    }

    /// Adds contacts (by id, same address book as the group) to a group.
    pub async fn add_group_members(
        &self,
        principal: &Principal,
        group_id: i64,
        contact_ids: &[i64],
        if_match: Option<&str>,
    ) -> StoreResult<ContactRecord> {
        let uids = self
            .member_uids_for(principal, group_id, contact_ids)
            .await?;
        self.edit_members(principal, group_id, if_match, |members| {
            for uid in &uids {
                if !members
                    .iter()
                    .any(|m| super::projection::member_uid(m) == uid)
                {
                    members.push(format!("urn:uuid:{uid}"));
                }
            }
        })
        .await
    }

    /// Removes contacts (by id) from a group.
    pub async fn remove_group_members(
        &self,
        principal: &Principal,
        group_id: i64,
        contact_ids: &[i64],
        if_match: Option<&str>,
    ) -> StoreResult<ContactRecord> {
        let uids = self
            .member_uids_for(principal, group_id, contact_ids)
            .await?;
        self.edit_members(principal, group_id, if_match, |members| {
            members.retain(|m| {
                !uids
                    .iter()
                    .any(|uid| super::projection::member_uid(m) == uid)
            });
        })
        .await
    }

    /// The UIDs of contacts that may join the group: the principal's, in the group's book.
    async fn member_uids_for(
        &self,
        principal: &Principal,
        group_id: i64,
        contact_ids: &[i64],
    ) -> StoreResult<Vec<String>> {
        let group = self.get_group(principal, group_id).await?;
        let members = self.get_contacts(principal, contact_ids).await?;
        if members.len() != contact_ids.len()
            || members
                .iter()
                .any(|m| m.address_book_id != group.address_book_id)
        {
            return Err(StoreError::NotFound);
        }
        Ok(members.into_iter().map(|m| m.uid).collect())
    }

    /// One of the principal's live group cards.
    pub async fn get_group(
        &self,
        principal: &Principal,
        group_id: i64,
    ) -> StoreResult<ContactRecord> {
        let group = self.get_contact(principal, group_id).await?;
        if group.kind != CardKind::Group {
            return Err(StoreError::NotFound);
        }
        Ok(group)
    }

    /// Read-modify-write of a group's member list, exact under concurrency: the write carries the
    /// ETag that was read (or the caller's), and a lost race without a caller ETag is retried.
    async fn edit_members(
        &self,
        principal: &Principal,
        group_id: i64,
        if_match: Option<&str>,
        edit: impl Fn(&mut Vec<String>),
    ) -> StoreResult<ContactRecord> {
        let mut attempt = 0;
        loop {
            let group = self.get_group(principal, group_id).await?;
            let mut members = group.fields.members.clone();
            edit(&mut members);
            let patch = ContactPatch {
                members: Some(members),
                ..ContactPatch::default()
            };
            let expected = if_match.unwrap_or(&group.etag);
            match self
                .patch_contact(principal, group_id, &patch, Some(expected))
                .await
            {
                Err(StoreError::PreconditionFailed { .. })
                    if if_match.is_none() && attempt < MEMBERSHIP_RETRIES =>
                {
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}
