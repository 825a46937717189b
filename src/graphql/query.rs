//! The query root: viewer, address books, contacts (connection with filter, order and search),
//! Phone.com lookup, groups, the change feed and export.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::connection::{self, ContactConnection, PageArgs};
use super::errors::{StoreResultExt, store_error};
use super::ids::{self, NodeKind};
use super::inputs::{ContactFilterInput, ContactLookupValue, ContactOrderInput};
use super::types::{AddressBookObject, Contact, Group, GroupRef, Node, Viewer};
use super::{principal, store};
use crate::domain::contact::CardKind;
use crate::store::{ContactFilter, DEFAULT_ADDRESS_BOOK, ExportFormat, StoreError};

pub struct QueryRoot;

/// What `exportContacts` writes.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ExportContactsFormat {
    /// vCard 3.0 (Apple Contacts, most CardDAV clients).
    #[graphql(name = "VCF3")]
    Vcf3,
    /// vCard 4.0 (RFC 6350).
    #[graphql(name = "VCF4")]
    Vcf4,
    /// The Drop messenger's `{"contacts": [...]}` JSON.
    DropJson,
    /// Google Contacts CSV with a trailing UID column.
    Csv,
}

/// A deleted card, as reported by the change feed.
#[derive(SimpleObject)]
pub struct DeletedCard {
    /// Global ID the card had.
    pub id: ID,
    /// Numeric id the card had.
    pub database_id: i64,
    /// vCard UID the card had.
    pub uid: String,
}

/// What changed in an address book since a change token.
#[derive(SimpleObject)]
pub struct ContactChanges {
    /// Pass this as `since` next time.
    pub token: String,
    /// Contacts created or changed, in change order.
    pub changed: Vec<Contact>,
    /// Groups created or changed.
    pub changed_groups: Vec<Group>,
    /// Cards (contacts and groups) deleted.
    pub deleted: Vec<DeletedCard>,
    /// Global IDs of deleted cards (same as `deleted { id }`).
    pub deleted_ids: Vec<ID>,
}

pub(super) fn filter_from(
    input: Option<ContactFilterInput>,
    search: Option<String>,
) -> async_graphql::Result<ContactFilter> {
    let input = input.unwrap_or_default();
    let address_book_ids = match input.address_book_ids {
        Some(ids) => Some(
            ids.iter()
                .map(|id| ids::expect(id, NodeKind::AddressBook, "filter.addressBookIds"))
                .collect::<async_graphql::Result<Vec<i64>>>()?,
        ),
        None => None,
    };
    Ok(ContactFilter {
        address_book_ids,
        group_id: input
            .group_id
            .as_ref()
            .map(|id| ids::expect(id, NodeKind::Group, "filter.groupId"))
            .transpose()?,
        category: input.category,
        kind: Some(CardKind::Individual),
        has_email: input.has_email,
        has_phone: input.has_phone,
        created_after: input.created_after,
        created_before: input.created_before,
        updated_after: input.updated_after,
        updated_before: input.updated_before,
        last_active_after: input.last_active_after,
        last_active_before: input.last_active_before,
        include_deleted: input.include_deleted,
        search,
    })
}

/// Reading contacts, groups, address books and changes.
/// Wraps records as contacts, fetching the groups of the whole list in one query when the
/// selection asks for them (`wants_groups` inspects the look-ahead).
async fn with_groups(
    ctx: &Context<'_>,
    records: Vec<crate::store::ContactRecord>,
    wants_groups: impl Fn(&async_graphql::Lookahead<'_>) -> bool,
) -> async_graphql::Result<Vec<Contact>> {
    if !wants_groups(&ctx.look_ahead()) || records.is_empty() {
        return Ok(records.into_iter().map(Contact::from).collect());
    }
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut summaries = store(ctx)?
        .group_summaries(principal(ctx)?, &ids)
        .await
        .gql()?;
    Ok(records
        .into_iter()
        .map(|record| Contact {
            groups: Some(
                summaries
                    .remove(&record.id)
                    .unwrap_or_default()
                    .iter()
                    .map(GroupRef::from)
                    .collect(),
            ),
            record,
        })
        .collect())
}

#[Object(name = "Query")]
impl QueryRoot {
    /// Any object by global ID.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let Some((kind, number)) = ids::decode(&id) else {
            return Ok(None);
        };
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let found = match kind {
            NodeKind::Contact => store
                .get_contact(principal, number)
                .await
                .map(|c| match c.kind {
                    CardKind::Group => Node::Group(Group(c)),
                    CardKind::Individual => Node::Contact(Contact::from(c)),
                }),
            NodeKind::Group => store
                .get_group(principal, number)
                .await
                .map(|g| Node::Group(Group(g))),
            NodeKind::AddressBook => store
                .get_address_book(principal, number)
                .await
                .map(|b| Node::AddressBook(AddressBookObject(b))),
        };
        match found {
            Ok(node) => Ok(Some(node)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The authenticated user.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        Ok(Viewer {
            name: principal(ctx)?.user_name.clone(),
        })
    }

    /// The user's address books, the default one first.
    async fn address_books(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<AddressBookObject>> {
        Ok(store(ctx)?
            .list_address_books(principal(ctx)?)
            .await
            .gql()?
            .into_iter()
            .map(AddressBookObject)
            .collect())
    }

    /// One address book.
    async fn address_book(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<AddressBookObject> {
        let id = ids::expect(&id, NodeKind::AddressBook, "id")?;
        Ok(AddressBookObject(
            store(ctx)?
                .get_address_book(principal(ctx)?, id)
                .await
                .gql()?,
        ))
    }

    /// One contact (NOT_FOUND if it is not yours or does not exist).
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Contact> {
        let id = ids::expect(&id, NodeKind::Contact, "id")?;
        let record = store(ctx)?.get_contact(principal(ctx)?, id).await.gql()?;
        if record.kind == CardKind::Group {
            return Err(store_error(StoreError::NotFound));
        }
        Ok(Contact::from(record))
    }

    /// Contacts, a page at a time. `search` finds a contact from any part of a name, nickname,
    /// company, username or email, or a phone number typed in any format, ignoring case and
    /// accents.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize).saturating_mul(child_complexity).saturating_add(1)"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many from the start (max 100).")] first: Option<i32>,
        #[graphql(desc = "Start after this cursor.")] after: Option<String>,
        #[graphql(desc = "At most this many from the end (max 100).")] last: Option<i32>,
        #[graphql(desc = "End before this cursor.")] before: Option<String>,
        filter: Option<ContactFilterInput>,
        order_by: Option<ContactOrderInput>,
        search: Option<String>,
    ) -> async_graphql::Result<ContactConnection> {
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        // Validate the paging arguments before touching the database.
        connection::resolve(&args, i64::MAX)?;
        let filter = filter_from(filter, search)?;
        let order = order_by.map(Into::into).unwrap_or_default();
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        // Offsets relative to the end need the total first. Otherwise the total is counted
        // only when asked for, and not at all when the window ends before its size.
        let wants_total = ctx.look_ahead().field("totalCount").exists();
        let needs_total_first = args.last.is_some() && args.before.is_none();
        let matching = store.contacts_matching(principal, &filter).await.gql()?;
        let counted = if needs_total_first {
            Some(matching.count().await.gql()?)
        } else {
            None
        };
        let window = connection::resolve(&args, counted.unwrap_or(i64::MAX))?;
        let page = matching
            .window(order, window.offset, window.limit)
            .await
            .gql()?;
        let fetched = page.records.len() as i64;
        let total = match counted {
            Some(total) => Some(total),
            None if !wants_total => None,
            None if !page.more_after && (fetched > 0 || window.offset == 0) => {
                Some(window.offset + fetched)
            }
            None => Some(matching.count().await.gql()?),
        };
        let (records, more_after) = (page.records, page.more_after);
        let contacts = with_groups(ctx, records, |look| {
            let node = look.field("edges").field("node");
            node.field("groups").exists() || node.field("group").exists()
        })
        .await?;
        Ok(connection::connection(contacts, window, more_after, total))
    }

    /// Phone.com's contact lookup: by id, by any combination of prefix, first/middle/last name,
    /// suffix, nickname and company (all given must match), or by one scalar that may match any
    /// of them.
    async fn lookup_contacts(
        &self,
        ctx: &Context<'_>,
        lookup: ContactLookupValue,
        #[graphql(default = 20, desc = "At most this many (max 100).")] limit: i32,
    ) -> async_graphql::Result<Vec<Contact>> {
        let limit = i64::from(limit.clamp(1, 100));
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let records = match lookup {
            ContactLookupValue::Fields(fields) => {
                store.lookup_contacts(principal, &fields, limit).await
            }
            ContactLookupValue::Scalar(value) => {
                store
                    .lookup_contacts_by_scalar(principal, &value, limit)
                    .await
            }
        }
        .gql()?;
        Ok(records.into_iter().map(Contact::from).collect())
    }

    /// Groups, by name (of one address book, or all of yours).
    async fn groups(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Group>> {
        let books = address_book_id
            .map(|id| ids::expect(&id, NodeKind::AddressBook, "addressBookId").map(|n| vec![n]))
            .transpose()?;
        super::types::groups_in(ctx, books).await
    }

    /// One group.
    async fn group(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Group> {
        let id = ids::expect_card(&id, "id")?;
        Ok(Group(
            store(ctx)?.get_group(principal(ctx)?, id).await.gql()?,
        ))
    }

    /// What changed in an address book since `since` (a token from a previous call or from
    /// `AddressBook.changeToken`); everything when `since` is omitted. Uses the same revisions as
    /// CardDAV sync. An unknown or expired token fails with code INVALID_SYNC_TOKEN.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        address_book_id: ID,
        since: Option<String>,
    ) -> async_graphql::Result<ContactChanges> {
        let book = ids::expect(&address_book_id, NodeKind::AddressBook, "addressBookId")?;
        let since = match since {
            None => 0,
            Some(token) => token
                .trim()
                .parse::<i64>()
                .map_err(|_| store_error(StoreError::InvalidSyncToken))?,
        };
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let set = store.changes_since(principal, book, since).await.gql()?;
        let upsert_ids: Vec<i64> = set.upserts().map(|c| c.contact_id).collect();
        let records = store.get_contacts(principal, &upsert_ids).await.gql()?;
        let (groups, contacts): (Vec<_>, Vec<_>) =
            records.into_iter().partition(|r| r.kind == CardKind::Group);
        let deleted: Vec<DeletedCard> = set
            .deletions()
            .map(|c| DeletedCard {
                id: ids::encode(NodeKind::Contact, c.contact_id),
                database_id: c.contact_id,
                uid: c.uid.clone(),
            })
            .collect();
        Ok(ContactChanges {
            token: set.revision.to_string(),
            changed: contacts.into_iter().map(Contact::from).collect(),
            changed_groups: groups.into_iter().map(Group).collect(),
            deleted_ids: deleted.iter().map(|d| d.id.clone()).collect(),
            deleted,
        })
    }

    /// An address book (the default one unless given) exported as vCard 3.0 or 4.0, Drop
    /// contacts JSON (with tombstones of deleted contacts) or Google Contacts CSV: the same text
    /// as `rolodex export`.
    async fn export_contacts(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        format: ExportContactsFormat,
    ) -> async_graphql::Result<String> {
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        let book = match address_book_id {
            Some(id) => ids::expect(&id, NodeKind::AddressBook, "addressBookId")?,
            None => {
                store
                    .address_book_by_slug(principal, DEFAULT_ADDRESS_BOOK)
                    .await
                    .gql()?
                    .id
            }
        };
        let format = match format {
            ExportContactsFormat::Vcf3 => ExportFormat::VCard3,
            ExportContactsFormat::Vcf4 => ExportFormat::VCard4,
            ExportContactsFormat::DropJson => ExportFormat::DropJson,
            ExportContactsFormat::Csv => ExportFormat::Csv,
        };
        store.export_contacts(principal, book, format).await.gql()
    }
}
