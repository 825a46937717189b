//! Merging duplicate contacts into one, in one transaction: the primary card is replaced by
//! the lossless merge of all of them (`domain::vcard` merge), the others become tombstones, and
//! every group that listed one of them lists the primary instead. Every CardDAV client and
//! change feed then sees one update, the deletions and the groups' updates.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::duplicates::distinct_ids;
use super::projection::member_uid;
use super::writes::{
    PreparedCard, Target, prepare_parsed, render_version_for, tombstone, write_card,
};
use super::{ContactRecord, Precondition, Principal, Store, StoreError, StoreResult};
use crate::db::models::ContactRow;
use crate::db::schema::{address_books, contacts, group_members};
use crate::domain::contact::{CardKind, ContactPatch, ValidationError};
use crate::domain::vcard::{self, Card};

fn invalid(field: &'static str, message: &str) -> StoreError {
    StoreError::Validation(ValidationError {
        field,
        message: message.to_owned(),
    })
}

impl Store {
    /// Merges the principal's contacts `ids` into `primary` (by default the one with the most
    /// properties). `if_match`, when given, holds one ETag per id, in the same order: every
    /// card must still be as the caller saw it. All contacts must be live individuals of one
    /// address book.
    pub async fn merge_contacts(
        &self,
        principal: &Principal,
        ids: &[i64],
        primary: Option<i64>,
        if_match: &[String],
    ) -> StoreResult<ContactRecord> {
        let ids = distinct_ids(ids)?;
        if !if_match.is_empty() && if_match.len() != ids.len() {
            return Err(invalid(
                "ifMatch",
                "give one ETag per contact, in the order of ids",
            ));
        }
        if primary.is_some_and(|p| !ids.contains(&p)) {
            return Err(invalid(
                "primaryId",
                "the primary contact must be one of ids",
            ));
        }
        let limits = self.card_limits;
        let mut conn = self.conn().await?;
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let cards = lock_contacts(conn, principal, &ids).await?;
            if cards.len() != ids.len() {
                return Err(StoreError::NotFound);
            }
            for (id, tag) in ids.iter().zip(if_match) {
                let card = cards
                    .iter()
                    .find(|c| c.id == *id)
                    .ok_or(StoreError::NotFound)?;
                Precondition::if_match(Some(tag)).check(Some(&card.etag))?;
            }
            let book = cards[0].address_book_id;
            if cards.iter().any(|c| c.address_book_id != book) {
                return Err(invalid(
                    "ids",
                    "the contacts are in different address books; move them into one first",
                ));
            }
            if cards
                .iter()
                .any(|c| c.projection.kind != CardKind::Individual)
            {
                return Err(invalid("ids", "only contacts, not groups, can be merged"));
            }
            let parsed = cards
                .iter()
                .map(|c| vcard::parse_one(&c.vcard).map(|card| (c, card)))
                .collect::<Result<Vec<(&ContactRow, Card)>, _>>()?;
            let primary_at = match primary {
                Some(id) => parsed.iter().position(|(c, _)| c.id == id),
                None => (0..parsed.len()).max_by_key(|&i| {
                    (
                        parsed[i].1.vcard().entries.len(),
                        std::cmp::Reverse(parsed[i].0.id),
                    )
                }),
            }
            .unwrap_or(0);
            let (head, card) = &parsed[primary_at];
            let others: Vec<Card> = parsed
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != primary_at)
                .map(|(_, (_, c))| c.clone())
                .collect();
            let merged = card.merged_with(&others);
            let text = merged.render(render_version_for(head.vcard_version));
            let stored = vcard::parse_one(&text)?;
            let mut prepared: PreparedCard = prepare_parsed(&stored, text, limits)?;
            prepared.uid = head.uid.clone();
            let gone: Vec<&ContactRow> = parsed
                .iter()
                .filter(|(c, _)| c.id != head.id)
                .map(|(c, _)| *c)
                .collect();

            // Groups naming a merged contact: locked with the cards, before any write (the
            // book lock comes last, see `store::commit`).
            let gone_uids: Vec<String> = gone.iter().map(|c| c.uid.clone()).collect();
            let groups = lock_groups_naming(conn, book, &gone_uids).await?;

            let record = write_card(
                conn,
                principal,
                book,
                Target::Replace {
                    id: head.id,
                    href: &head.href,
                },
                &prepared,
            )
            .await?;
            for card in &gone {
                tombstone(conn, principal, book, card.id).await?;
            }
            for group in &groups {
                let mut parsed = vcard::parse_one(&group.vcard)?;
                let mut members: Vec<String> = Vec::new();
                let mut has_primary = false;
                for member in parsed.extract().members {
                    let uid = member_uid(&member);
                    if uid == head.uid {
                        if has_primary {
                            continue;
                        }
                        has_primary = true;
                        members.push(member);
                    } else if gone_uids.iter().any(|g| g == uid) {
                        if !has_primary {
                            has_primary = true;
                            members.push(format!("urn:uuid:{}", head.uid));
                        }
                    } else {
                        members.push(member);
                    }
                }
                parsed.apply_patch(&ContactPatch {
                    members: Some(members),
                    ..ContactPatch::default()
                });
                let text = parsed.render(render_version_for(group.vcard_version));
                let mut prepared = prepare_parsed(&vcard::parse_one(&text)?, text, limits)?;
                prepared.uid = group.uid.clone();
                write_card(
                    conn,
                    principal,
                    book,
                    Target::Replace {
                        id: group.id,
                        href: &group.href,
                    },
                    &prepared,
                )
                .await?;
            }
            tracing::info!(
                primary = head.id,
                merged = gone.len(),
                groups = groups.len(),
                "contacts merged"
            );
            Ok(record)
        })
        .await
    }
}

/// Row-locks the principal's live contacts `ids`, in id order (so two merges cannot deadlock).
async fn lock_contacts(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    ids: &[i64],
) -> StoreResult<Vec<ContactRow>> {
    let books = address_books::table
        .filter(address_books::user_id.eq(principal.user_id))
        .select(address_books::id);
    Ok(contacts::table
        .filter(contacts::id.eq_any(ids))
        .filter(contacts::address_book_id.eq_any(books))
        .filter(contacts::deleted_at.is_null())
        .order(contacts::id)
        .select(ContactRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}

/// Row-locks the live group cards of `book` that list any of `uids`, in id order.
async fn lock_groups_naming(
    conn: &mut AsyncPgConnection,
    book: i64,
    uids: &[String],
) -> StoreResult<Vec<ContactRow>> {
    let naming = group_members::table
        .filter(group_members::member_uid.eq_any(uids))
        .select(group_members::group_id);
    Ok(contacts::table
        .filter(contacts::address_book_id.eq(book))
        .filter(contacts::kind.eq(CardKind::Group))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::id.eq_any(naming))
        .order(contacts::id)
        .select(ContactRow::as_select())
        .for_update()
        .load(conn)
        .await?)
}
