//! The mutation root: address books, contacts (create / partial update / full replace /
//! delete, each with an optional `ifMatch` ETag), groups and membership, and import.
//! Resolvers translate arguments and call one store method; the store does the rest. The
//! mutations of the signed-in account (credentials, password) are in [`super::credentials`]
//! and merged into the same `Mutation` type.

use async_graphql::{Context, Enum, ID, MergedObject, Object, SimpleObject};

use super::credentials::AccountMutations;
use super::errors::{StoreResultExt, store_error, validation};
use super::ids::{self, NodeKind};
use super::inputs::{ContactInput, ContactPatchInput};
use super::types::{AddressBookObject, Contact, Group};
use super::{principal, store};
use crate::domain::contact::{CardKind, ContactPatch};
use crate::domain::formats;
use crate::store::{
    DEFAULT_ADDRESS_BOOK, ImportAction, ImportOptions, Principal, Store, StoreError,
};

/// Writing contacts, groups and address books, and your account's credentials and password.
#[derive(MergedObject, Default)]
#[graphql(name = "AccountAndContentMutation")]
pub struct MutationRoot(ContentMutations, AccountMutations);

/// Contacts, groups, address books and import.
#[derive(Default)]
pub struct ContentMutations;

/// A contact after a write, with its new ETag.
#[derive(SimpleObject)]
pub struct ContactPayload {
    /// The contact as stored.
    pub contact: Contact,
    /// Its new ETag.
    pub etag: String,
}

/// A group after a write, with its new ETag.
#[derive(SimpleObject)]
pub struct GroupPayload {
    /// The group as stored.
    pub group: Group,
    /// Its new ETag.
    pub etag: String,
}

/// The id of what was deleted.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// Global ID of the deleted object.
    pub deleted_id: ID,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// What importing one card did.
pub enum ImportStatus {
    /// A new contact was created.
    Created,
    /// A contact with the same UID was updated.
    Updated,
    /// A contact with the same UID and content already existed.
    Unchanged,
    /// A deleted entry (Drop tombstone): the contact with its UID was deleted, or was not there.
    Deleted,
    /// The card was skipped; see `error`.
    Failed,
}

/// The result for one card of an import.
#[derive(SimpleObject)]
pub struct ImportCardResult {
    /// 1-based position of the card in the text.
    pub position: i32,
    /// Line where the card starts.
    pub line: i32,
    /// What happened.
    pub status: ImportStatus,
    /// The stored contact (or group), unless the card failed.
    pub contact: Option<Contact>,
    /// Why the card was skipped.
    pub error: Option<String>,
    /// Repairs applied (missing UID or FN, vCard 2.1 upgraded).
    pub repairs: Vec<String>,
}

/// Per-card results and totals of an import.
#[derive(SimpleObject)]
pub struct ImportPayload {
    /// One entry per card, in input order.
    pub results: Vec<ImportCardResult>,
    /// Cards created.
    pub created: i32,
    /// Cards updated.
    pub updated: i32,
    /// Cards that were already up to date.
    pub unchanged: i32,
    /// Deleted entries (Drop tombstones).
    pub deleted: i32,
    /// Cards skipped because of an error.
    pub failed: i32,
}

async fn book_or_default(
    store: &Store,
    principal: &Principal,
    id: Option<ID>,
) -> async_graphql::Result<i64> {
    match id {
        Some(id) => ids::expect(&id, NodeKind::AddressBook, "addressBookId"),
        None => Ok(store
            .address_book_by_slug(principal, DEFAULT_ADDRESS_BOOK)
            .await
            .gql()?
            .id),
    }
}

/// UIDs of the principal's contacts with these ids, as group member references.
async fn member_refs(
    store: &Store,
    principal: &Principal,
    book: i64,
    contact_ids: &[ID],
) -> async_graphql::Result<Vec<String>> {
    let numbers = contact_ids
        .iter()
        .map(|id| ids::expect(id, NodeKind::Contact, "memberIds"))
        .collect::<async_graphql::Result<Vec<i64>>>()?;
    let contacts = store.get_contacts(principal, &numbers).await.gql()?;
    if contacts.len() != numbers.len() || contacts.iter().any(|c| c.address_book_id != book) {
        return Err(store_error(StoreError::NotFound));
    }
    Ok(contacts
        .into_iter()
        .map(|c| format!("urn:uuid:{}", c.uid))
        .collect())
}

fn contact_payload(record: crate::store::ContactRecord) -> ContactPayload {
    ContactPayload {
        etag: record.etag.clone(),
        contact: Contact::from(record),
    }
}

fn group_payload(record: crate::store::ContactRecord) -> GroupPayload {
    GroupPayload {
        etag: record.etag.clone(),
        group: Group(record),
    }
}

enum Membership {
    Add,
    Remove,
}

async fn edit_membership(
    ctx: &Context<'_>,
    group_id: &ID,
    contact_ids: &[ID],
    if_match: Option<String>,
    edit: Membership,
) -> async_graphql::Result<GroupPayload> {
    let group = ids::expect_card(group_id, "groupId")?;
    let members = contact_ids
        .iter()
        .map(|id| ids::expect(id, NodeKind::Contact, "contactIds"))
        .collect::<async_graphql::Result<Vec<i64>>>()?;
    let (store, principal) = (store(ctx)?, principal(ctx)?);
    let if_match = if_match.as_deref();
    let record = match edit {
        Membership::Add => {
            store
                .add_group_members(principal, group, &members, if_match)
                .await
        }
        Membership::Remove => {
            store
                .remove_group_members(principal, group, &members, if_match)
                .await
        }
    };
    Ok(group_payload(record.gql()?))
}

#[Object]
impl ContentMutations {
    /// Creates an address book. `slug` becomes the last segment of its CardDAV URL.
    async fn create_address_book(
        &self,
        ctx: &Context<'_>,
        slug: String,
        display_name: String,
        #[graphql(default)] description: String,
    ) -> async_graphql::Result<AddressBookObject> {
        Ok(AddressBookObject(
            store(ctx)?
                .create_address_book(principal(ctx)?, &slug, &display_name, &description)
                .await
                .gql()?,
        ))
    }

    /// Renames or re-describes an address book.
    async fn rename_address_book(
        &self,
        ctx: &Context<'_>,
        id: ID,
        display_name: Option<String>,
        description: Option<String>,
    ) -> async_graphql::Result<AddressBookObject> {
        let id = ids::expect(&id, NodeKind::AddressBook, "id")?;
        Ok(AddressBookObject(
            store(ctx)?
                .update_address_book(
                    principal(ctx)?,
                    id,
                    display_name.as_deref(),
                    description.as_deref(),
                )
                .await
                .gql()?,
        ))
    }

    /// Deletes an address book and every card in it.
    async fn delete_address_book(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DeletePayload> {
        let number = ids::expect(&id, NodeKind::AddressBook, "id")?;
        store(ctx)?
            .delete_address_book(principal(ctx)?, number)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(NodeKind::AddressBook, number),
        })
    }

    /// Creates a contact (in the default address book unless one is given).
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        input: ContactInput,
    ) -> async_graphql::Result<ContactPayload> {
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let book = book_or_default(store, principal, address_book_id).await?;
        let patch = ContactPatch::replace_all(&input.into_fields()?);
        Ok(contact_payload(
            store.create_contact(principal, book, &patch).await.gql()?,
        ))
    }

    /// Changes only the fields given; every other value of the card, including properties only
    /// CardDAV clients know, is kept. Fails with CONFLICT if `ifMatch` is not the current ETag.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ContactPatchInput,
        if_match: Option<String>,
    ) -> async_graphql::Result<ContactPayload> {
        let id = ids::expect(&id, NodeKind::Contact, "id")?;
        let patch = input.into_patch()?;
        Ok(contact_payload(
            store(ctx)?
                .patch_contact(principal(ctx)?, id, &patch, if_match.as_deref())
                .await
                .gql()?,
        ))
    }

    /// Replaces all contact values (Phone.com's PUT): fields not given are cleared.
    async fn replace_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ContactInput,
        if_match: Option<String>,
    ) -> async_graphql::Result<ContactPayload> {
        let id = ids::expect(&id, NodeKind::Contact, "id")?;
        let fields = input.into_fields()?;
        Ok(contact_payload(
            store(ctx)?
                .replace_contact(principal(ctx)?, id, &fields, if_match.as_deref())
                .await
                .gql()?,
        ))
    }

    /// Deletes a contact (sync clients see the deletion).
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        if_match: Option<String>,
    ) -> async_graphql::Result<DeletePayload> {
        let number = ids::expect(&id, NodeKind::Contact, "id")?;
        store(ctx)?
            .delete_contact(principal(ctx)?, number, if_match.as_deref())
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(NodeKind::Contact, number),
        })
    }

    /// Creates a group, optionally with members (contacts of the same address book).
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        name: String,
        #[graphql(default)] member_ids: Vec<ID>,
    ) -> async_graphql::Result<GroupPayload> {
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(validation("name", "a group needs a name"));
        }
        let book = book_or_default(store, principal, address_book_id).await?;
        let members = member_refs(store, principal, book, &member_ids).await?;
        let patch = ContactPatch {
            kind: Some(CardKind::Group),
            display_name: Some(Some(name)),
            members: Some(members),
            ..ContactPatch::default()
        };
        Ok(group_payload(
            store.create_contact(principal, book, &patch).await.gql()?,
        ))
    }

    /// Renames a group.
    async fn rename_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        if_match: Option<String>,
    ) -> async_graphql::Result<GroupPayload> {
        let id = ids::expect_card(&id, "id")?;
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(validation("name", "a group needs a name"));
        }
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        store.get_group(principal, id).await.gql()?;
        let patch = ContactPatch {
            display_name: Some(Some(name)),
            ..ContactPatch::default()
        };
        Ok(group_payload(
            store
                .patch_contact(principal, id, &patch, if_match.as_deref())
                .await
                .gql()?,
        ))
    }

    /// Deletes a group (its members stay).
    async fn delete_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        if_match: Option<String>,
    ) -> async_graphql::Result<DeletePayload> {
        let number = ids::expect_card(&id, "id")?;
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        store.get_group(principal, number).await.gql()?;
        store
            .delete_contact(principal, number, if_match.as_deref())
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(NodeKind::Group, number),
        })
    }

    /// Adds contacts to a group.
    async fn add_group_members(
        &self,
        ctx: &Context<'_>,
        group_id: ID,
        contact_ids: Vec<ID>,
        if_match: Option<String>,
    ) -> async_graphql::Result<GroupPayload> {
        edit_membership(ctx, &group_id, &contact_ids, if_match, Membership::Add).await
    }

    /// Removes contacts from a group.
    async fn remove_group_members(
        &self,
        ctx: &Context<'_>,
        group_id: ID,
        contact_ids: Vec<ID>,
        if_match: Option<String>,
    ) -> async_graphql::Result<GroupPayload> {
        edit_membership(ctx, &group_id, &contact_ids, if_match, Membership::Remove).await
    }

    /// Imports contacts: one or many vCards (2.1, 3.0 or 4.0), a Drop contacts JSON, or a
    /// Google/Outlook CSV export (the format is recognized from the text). Cards whose UID
    /// exists are updated, never duplicated; a bad card is skipped with its reason and the rest
    /// are imported. Same code path as `rolodex import`.
    async fn import_v_cards(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        text: String,
    ) -> async_graphql::Result<ImportPayload> {
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let book = book_or_default(store, principal, address_book_id).await?;
        let entries = formats::detect(None, &text)
            .and_then(|format| formats::read(format, &text))
            .map_err(|reason| validation("text", &reason.to_string()))?;
        let imported = store
            .import_entries(
                principal,
                book,
                entries,
                &ImportOptions::default(),
                &mut |_| {},
            )
            .await
            .gql()?;
        let ids: Vec<i64> = imported.iter().filter_map(|c| c.contact_id).collect();
        let mut contacts: std::collections::HashMap<i64, Contact> = store
            .get_contacts(principal, &ids)
            .await
            .gql()?
            .into_iter()
            .map(|record| (record.id, Contact::from(record)))
            .collect();
        let mut payload = ImportPayload {
            results: Vec::with_capacity(imported.len()),
            created: 0,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            failed: 0,
        };
        for card in imported {
            let (status, error) = match card.outcome {
                Ok(ImportAction::Created) => (ImportStatus::Created, None),
                Ok(ImportAction::Updated) => (ImportStatus::Updated, None),
                Ok(ImportAction::Unchanged) => (ImportStatus::Unchanged, None),
                Ok(ImportAction::Deleted | ImportAction::NothingToDelete) => {
                    (ImportStatus::Deleted, None)
                }
                Err(reason) => (ImportStatus::Failed, Some(reason.to_string())),
            };
            match status {
                ImportStatus::Created => payload.created += 1,
                ImportStatus::Updated => payload.updated += 1,
                ImportStatus::Unchanged => payload.unchanged += 1,
                ImportStatus::Deleted => payload.deleted += 1,
                ImportStatus::Failed => payload.failed += 1,
            }
            payload.results.push(ImportCardResult {
                position: i32::try_from(card.position).unwrap_or(i32::MAX),
                line: i32::try_from(card.line).unwrap_or(i32::MAX),
                status,
                contact: card.contact_id.and_then(|id| contacts.remove(&id)),
                error,
                repairs: card.repairs,
            });
        }
        Ok(payload)
    }
}
