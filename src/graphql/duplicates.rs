//! Duplicate contacts over GraphQL: `duplicateContacts` finds sets of contacts that look like
//! one person (with a score and the reasons), `mergeContacts` merges a set without losing
//! anything, `dismissDuplicates` records that contacts are different people. The work is in
//! `store::duplicates` and `store::merge`.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::errors::{StoreResultExt, validation};
use super::ids::{self, NodeKind};
use super::mutation::ContactPayload;
use super::types::Contact;
use super::{principal, store};
use crate::domain::dedupe::DuplicateReason as Reason;
use crate::store::{DuplicateQuery, MAX_SET_SIZE};

/// Why contacts look like one person.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateReason {
    /// They share an email address (compared case-insensitively).
    SameEmail,
    /// They share a phone number (compared in E.164 form). A number many contacts share, such
    /// as a company's switchboard, counts for little.
    SamePhone,
    /// Their names are the same once case, accents and word order are ignored.
    SameName,
    /// Their names are similar (trigram similarity), e.g. "Jon" and "John".
    SimilarName,
}

impl From<Reason> for DuplicateReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::SameEmail => DuplicateReason::SameEmail,
            Reason::SamePhone => DuplicateReason::SamePhone,
            Reason::SameName => DuplicateReason::SameName,
            Reason::SimilarName => DuplicateReason::SimilarName,
        }
    }
}

/// Contacts that look like one person.
#[derive(SimpleObject)]
pub struct DuplicateSet {
    /// How sure, in [0, 1]: the weakest link that joined the set. An email address shared is
    /// strong; the same name alone is weak (below 0.5).
    pub score: f64,
    /// What they have in common.
    pub reasons: Vec<DuplicateReason>,
    /// The contacts, the most complete first (the natural one to keep).
    pub contacts: Vec<Contact>,
}

#[derive(Default)]
pub struct DuplicatesQuery;

#[Object]
impl DuplicatesQuery {
    /// Sets of the viewer's contacts that look like the same person, best first. Only the
    /// viewer's own books are compared: one book (`addressBookId`), else each book on its own,
    /// or all together with `acrossBooks`. Reads the whole book: costs like an export.
    #[graphql(complexity = 5000)]
    async fn duplicate_contacts(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        #[graphql(default = 0.5)] min_score: f64,
        first: Option<i32>,
        #[graphql(default = false)] across_books: bool,
    ) -> async_graphql::Result<Vec<DuplicateSet>> {
        let address_book_id = address_book_id
            .map(|id| ids::expect(&id, NodeKind::AddressBook, "addressBookId"))
            .transpose()?;
        if !(0.0..=1.0).contains(&min_score) {
            return Err(validation("minScore", "must be between 0 and 1"));
        }
        let limit = match first {
            Some(n) if !(0..=1000).contains(&n) => {
                return Err(validation("first", "must be between 0 and 1000"));
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        let groups = store(ctx)?
            .find_duplicates(
                principal(ctx)?,
                &DuplicateQuery {
                    address_book_id,
                    across_books,
                    min_score,
                    limit,
                },
            )
            .await
            .gql()?;
        Ok(groups
            .into_iter()
            .map(|group| DuplicateSet {
                score: group.score,
                reasons: group.reasons.into_iter().map(Into::into).collect(),
                contacts: group.contacts.into_iter().map(Contact::from).collect(),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct DuplicatesMutation;

fn contact_ids(ids: &[ID]) -> async_graphql::Result<Vec<i64>> {
    if ids.len() > MAX_SET_SIZE {
        return Err(validation(
            "ids",
            &format!("at most {MAX_SET_SIZE} contacts at once"),
        ));
    }
    ids.iter()
        .map(|id| ids::expect(id, NodeKind::Contact, "ids"))
        .collect()
}

#[Object]
impl DuplicatesMutation {
    /// Merges contacts of one address book into one. The primary (`primaryId`, else the most
    /// complete) keeps its UID and address; emails, phones (by E.164), addresses, websites and
    /// categories are unioned, missing fields filled, notes joined, the primary's photo kept
    /// (else the first), properties only a client knows kept; groups that listed a merged
    /// contact list the primary instead; the others are deleted, so every sync client sees one
    /// update and the deletions. `ifMatch` gives one ETag per id, in the same order: the merge
    /// fails with CONFLICT if any card changed. All in one transaction.
    async fn merge_contacts(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        primary_id: Option<ID>,
        if_match: Option<Vec<String>>,
    ) -> async_graphql::Result<ContactPayload> {
        let contact_ids = contact_ids(&ids)?;
        let primary = primary_id
            .map(|id| ids::expect(&id, NodeKind::Contact, "primaryId"))
            .transpose()?;
        let record = store(ctx)?
            .merge_contacts(
                principal(ctx)?,
                &contact_ids,
                primary,
                &if_match.unwrap_or_default(),
            )
            .await
            .gql()?;
        Ok(ContactPayload {
            etag: record.etag.clone(),
            contact: Contact::from(record),
        })
    }

    /// Records that these contacts are not the same person: no two of them are suggested
    /// together by `duplicateContacts` again.
    async fn dismiss_duplicates(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<bool> {
        let contact_ids = contact_ids(&ids)?;
        store(ctx)?
            .dismiss_duplicates(principal(ctx)?, &contact_ids)
            .await
            .gql()?;
        Ok(true)
    }
}
