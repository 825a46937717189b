//! The query root: viewer, address books, contacts (connection with filter, order and search),
//! Phone.com lookup, groups, the change feed and export.
//!
//! Costs (query complexity) reflect the work: a list costs its page size times what each item
//! selects; whole-book fields (`exportContacts`, `changes`) cost [`WHOLE_BOOK_COST`] besides,
//! so one operation holds only a few of them (see [`super::guard`]).

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::connection::{self, ContactConnection, PageArgs};
use super::errors::{StoreResultExt, busy, export_too_large, store_error, validation};
use super::guard::{COST_PAGE_SIZE, MAX_COSTED_ITEMS, WHOLE_BOOK_COST};
use super::ids::{self, NodeKind};
use super::inputs::{ContactFilterInput, ContactLookupValue, ContactOrderInput};
use super::types::{AddressBookObject, Contact, Group, GroupRef, Node, Viewer};
use super::{limits, principal, store};
use crate::domain::contact::CardKind;
use crate::download::ExportPermits;
use crate::limits::Limits;
use crate::store::{
    ContactFilter, ContactLookup, DEFAULT_ADDRESS_BOOK, ExportFormat, StoreError, search_words,
};

/// Refuses a search or lookup text over the limits (`max_search_chars`, `max_search_terms`):
/// each word is a trigram probe, and unbounded text made unbounded SQL.
pub(super) fn check_search_text(
    text: &str,
    field: &str,
    limits: &Limits,
) -> async_graphql::Result<()> {
    let text = text.trim();
    if text.chars().count() > limits.max_search_chars {
        return Err(validation(
            field,
            &format!("at most {} characters", limits.max_search_chars),
        ));
    }
    // Counted as the store splits it (after folding), repeats included.
    let words = search_words(text).len();
    if words > limits.max_search_terms {
        return Err(validation(
            field,
            &format!(
                "{words} words; at most {} are searched for",
                limits.max_search_terms
            ),
        ));
    }
    Ok(())
}

fn check_lookup(lookup: &ContactLookupValue, limits: &Limits) -> async_graphql::Result<()> {
    let values: Vec<&String> = match lookup {
        ContactLookupValue::Scalar(value) => vec![value],
        ContactLookupValue::Fields(ContactLookup {
            id: _,
            prefix,
            first_name,
            middle_name,
            last_name,
            suffix,
            nickname,
            company,
        }) => [
            prefix,
            first_name,
            middle_name,
            last_name,
            suffix,
            nickname,
            company,
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    values
        .into_iter()
        .try_for_each(|value| check_search_text(value, "lookup", limits))
}

#[derive(Default)]
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
    limits: &Limits,
) -> async_graphql::Result<ContactFilter> {
    if let Some(search) = &search {
        check_search_text(search, "search", limits)?;
    }
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

#[Object(name = "ContactsQuery")]
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
            NodeKind::Credential => store
                .get_credential(principal, number)
                .await
                .map(|c| Node::Credential(super::credentials::Credential(c))),
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
    /// accents (at most 16 words and 256 characters by default; more is refused with code
    /// VALIDATION).
    ///
    /// Query cost: the page size times the cost of one edge.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, MAX_COSTED_ITEMS as i32) as usize).saturating_mul(child_complexity).saturating_add(1)"
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
        let limits = limits(ctx)?;
        let max_page = limits.graphql_max_page_size;
        // Validate the paging arguments before touching the database.
        connection::resolve(&args, i64::MAX, max_page)?;
        let filter = filter_from(filter, search, limits)?;
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
        let window = connection::resolve(&args, counted.unwrap_or(i64::MAX), max_page)?;
        let page = matching
            .window(order, window.offset, window.limit)
            .await
            .gql()?;
        let fetched = page.records.len() as i64;
        let total = match counted {
            Some(total) => Some(total),
            None if !wants_total => None,
            None if !page.more_after && (fetched > 0 || window.offset == 0) => {
                Some(window.offset.saturating_add(fetched))
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
    /// of them. Each value is limited like `contacts(search:)`.
    ///
    /// Query cost: `limit` times the cost of one contact.
    #[graphql(
        complexity = "(limit.clamp(1, MAX_COSTED_ITEMS as i32) as usize).saturating_mul(child_complexity).saturating_add(1)"
    )]
    async fn lookup_contacts(
        &self,
        ctx: &Context<'_>,
        lookup: ContactLookupValue,
        #[graphql(default = 20, desc = "At most this many (max 100).")] limit: i32,
    ) -> async_graphql::Result<Vec<Contact>> {
        let limits = limits(ctx)?;
        check_lookup(&lookup, limits)?;
        let max_page = i64::try_from(limits.graphql_max_page_size).unwrap_or(i64::MAX);
        let limit = i64::from(limit).clamp(1, max_page.max(1));
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
    ///
    /// Query cost: 1,000 groups times the cost of one.
    #[graphql(complexity = "child_complexity.saturating_mul(1000).min(1_000_000_000)")]
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
    ///
    /// Query cost: 5,000 (it may read the whole book) plus 100 times what it selects.
    #[graphql(
        complexity = "WHOLE_BOOK_COST.saturating_add(COST_PAGE_SIZE.saturating_mul(child_complexity))"
    )]
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
        // The cards themselves are read only when asked for: `changes { token deletedIds }`
        // is a cheap poll even after many changes.
        let look = ctx.look_ahead();
        let wants_cards = look.field("changed").exists() || look.field("changedGroups").exists();
        let upsert_ids: Vec<i64> = if wants_cards {
            set.upserts().map(|c| c.contact_id).collect()
        } else {
            Vec::new()
        };
        let records = if upsert_ids.is_empty() {
            Vec::new()
        } else {
            store.get_contacts(principal, &upsert_ids).await.gql()?
        };
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
    ///
    /// Query cost: 5,000, like a full page of contacts with every field (one operation holds
    /// at most four exports). A few exports run at once on the server; others wait for them,
    /// and fail with code UNAVAILABLE after 30 seconds.
    ///
    /// The answer is one string, which the server holds whole while answering, so it is at
    /// most 64 MiB unless the server is configured otherwise (`graphql_max_export_bytes`;
    /// a longer one fails with code TOO_LARGE). For a large book, download
    /// `GET /export/{book slug}?format=vcf3|vcf4|drop-json|csv` instead (same bytes, same
    /// credentials, sent a page of cards at a time, no such limit).
    #[graphql(complexity = "WHOLE_BOOK_COST")]
    async fn export_contacts(
        &self,
        ctx: &Context<'_>,
        address_book_id: Option<ID>,
        format: ExportContactsFormat,
    ) -> async_graphql::Result<String> {
        let (store, principal) = (store(ctx)?, principal(ctx)?);
        // Each export holds a whole book's text; a cap on how many run at once bounds the
        // memory many clients can make the server hold.
        let _permit = ctx
            .data::<ExportPermits>()?
            .acquire()
            .await
            .ok_or_else(|| busy("too many exports are running; try again shortly"))?;
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
        let max_bytes = limits(ctx)?.graphql_max_export_bytes;
        match store
            .export_contacts(principal, book, format, max_bytes)
            .await
            .gql()?
        {
            Ok(text) => Ok(text),
            Err(too_large) => {
                let slug = store.get_address_book(principal, book).await.gql()?.slug;
                Err(export_too_large(too_large, &slug))
            }
        }
    }
}
