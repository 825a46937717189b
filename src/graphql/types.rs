//! Output types: Contact, Group, AddressBook, Viewer and their value objects (Credential is in
//! [`super::credentials`]). Resolvers read the record the store already loaded (projection
//! columns and child rows), so a page of contacts costs no extra queries; only `groups` goes
//! through a per-request DataLoader, batched.

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, ID, Interface, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::details::{RelatedPersonObject, WebsiteObject};
use super::errors::StoreResultExt;
use super::ids::{self, NodeKind};
use super::loaders::{GroupsLoader, RequestBooks};
use super::{principal, store};
use crate::domain::contact::{AddressKind, EmailKind, PhoneKind};
use crate::domain::contact::{CardKind, PartialDate};
use crate::domain::vcard::RenderVersion;
use crate::store::{
    AddressBook, ContactFilter, ContactOrder, ContactRecord, GroupSummary, StoreError,
};

/// Anything with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global ID."))]
pub enum Node {
    Contact(Contact),
    Group(Group),
    AddressBook(AddressBookObject),
    Credential(super::credentials::Credential),
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "EmailKind")]
/// Phone.com email types.
pub enum EmailType {
    /// The main address (vCard PREF=1 / TYPE=pref, or the first one).
    Primary,
    /// Any other address.
    Alternate,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "PhoneKind")]
/// Phone.com phone types, plus OTHER for vCard numbers with none of them.
pub enum PhoneType {
    /// Home (vCard TYPE=home).
    Home,
    /// Work (vCard TYPE=work).
    Business,
    /// Mobile (vCard TYPE=cell).
    Mobile,
    /// Fax (vCard TYPE=fax).
    Fax,
    /// Pager (vCard TYPE=pager).
    Pager,
    /// None of the above (e.g. only TYPE=voice).
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "AddressKind")]
/// Phone.com address types, plus OTHER for vCard addresses without HOME/WORK.
pub enum AddressType {
    /// Home (vCard TYPE=home).
    Home,
    /// Work (vCard TYPE=work).
    Business,
    /// Neither.
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
/// vCard versions a card can be rendered in.
pub enum VCardVersion {
    /// vCard 3.0 (RFC 2426): what Apple clients expect.
    V3,
    /// vCard 4.0 (RFC 6350).
    V4,
}

impl From<VCardVersion> for RenderVersion {
    fn from(v: VCardVersion) -> Self {
        match v {
            VCardVersion::V3 => RenderVersion::V3,
            VCardVersion::V4 => RenderVersion::V4,
        }
    }
}

#[derive(SimpleObject)]
/// An email address of a contact.
pub struct EmailAddress {
    #[graphql(name = "type")]
    /// Primary or alternate.
    pub kind: EmailType,
    /// The address.
    pub email: String,
    /// A free label ("Work"; Apple's custom labels, Google's "E-mail 1 - Label").
    pub label: Option<String>,
}

#[derive(SimpleObject)]
/// A phone number of a contact.
pub struct PhoneNumber {
    #[graphql(name = "type")]
    /// Home, business, mobile, fax, pager or other.
    pub kind: PhoneType,
    /// The number as entered.
    pub number: String,
    /// E.164 form, when the number can be understood (read-only).
    pub normalized: Option<String>,
    /// A free label.
    pub label: Option<String>,
}

#[derive(SimpleObject)]
/// A postal address of a contact.
pub struct PostalAddress {
    #[graphql(name = "type")]
    /// Home, business or other.
    pub kind: AddressType,
    /// House number and street, including apartment or suite.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// ZIP or postal code.
    pub zip: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// A free label.
    pub label: Option<String>,
}

#[derive(SimpleObject, Clone)]
/// A group a contact is filed under (Phone.com's group summary object).
pub struct GroupRef {
    /// Global ID of the group.
    pub id: ID,
    /// Numeric id of the group.
    pub database_id: i64,
    /// Group name.
    pub name: String,
}

impl From<&GroupSummary> for GroupRef {
    fn from(g: &GroupSummary) -> Self {
        GroupRef {
            id: ids::encode(NodeKind::Group, g.id),
            database_id: g.id,
            name: g.name.clone(),
        }
    }
}

/// The card's text for `vcard(version:)`, by the store's one rule (the same bytes CardDAV
/// serves for the same request): [`crate::store::representation`].
fn render(record: &ContactRecord, version: Option<VCardVersion>) -> String {
    crate::store::representation(
        &record.vcard,
        record.vcard_version,
        version.map(RenderVersion::from),
    )
    .into_owned()
}

/// A contact: a person or organization card, with its groups when the list resolver already
/// fetched them for the whole page.
pub struct Contact {
    pub record: ContactRecord,
    pub groups: Option<Vec<GroupRef>>,
}

impl From<ContactRecord> for Contact {
    fn from(record: ContactRecord) -> Self {
        Contact {
            record,
            groups: None,
        }
    }
}

impl Contact {
    async fn group_refs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GroupRef>> {
        if let Some(groups) = &self.groups {
            return Ok(groups.clone());
        }
        let loader = ctx.data::<DataLoader<GroupsLoader>>()?;
        Ok(loader.load_one(self.record.id).await?.unwrap_or_default())
    }
}

/// A contact: a person or organization card.
#[Object]
impl Contact {
    /// Opaque global ID.
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Contact, self.record.id)
    }
    /// Numeric id (Phone.com style), stable for the life of the contact.
    async fn database_id(&self) -> i64 {
        self.record.id
    }
    /// vCard UID.
    async fn uid(&self) -> &str {
        &self.record.uid
    }
    /// Strong ETag of the stored card; pass it as `ifMatch` to write safely.
    async fn etag(&self) -> &str {
        &self.record.etag
    }
    /// Resource name of the card in its CardDAV address book.
    async fn href(&self) -> &str {
        &self.record.href
    }
    /// The address book holding the contact.
    async fn address_book(&self, ctx: &Context<'_>) -> async_graphql::Result<AddressBookObject> {
        let books = ctx.data::<RequestBooks>()?;
        match books.get(self.record.address_book_id).await? {
            Some(book) => Ok(AddressBookObject(book)),
            // Deleted since the contact was read.
            None => Err(StoreError::NotFound).gql(),
        }
    }
    /// How the contact appears in a list (vCard FN). Protocol's `display_name`; Drop's `alias`.
    async fn display_name(&self) -> Option<&str> {
        self.record.fields.display_name.as_deref()
    }
    /// Drop's `alias`: the same value as `displayName`.
    async fn alias(&self) -> Option<&str> {
        self.record.fields.display_name.as_deref()
    }
    /// Salutation, such as Mr, Mrs or Dr.
    async fn prefix(&self) -> Option<&str> {
        self.record.fields.prefix.as_deref()
    }
    /// First or given name.
    async fn first_name(&self) -> Option<&str> {
        self.record.fields.first_name.as_deref()
    }
    /// Middle or second name.
    async fn middle_name(&self) -> Option<&str> {
        self.record.fields.middle_name.as_deref()
    }
    /// Last name or surname.
    async fn last_name(&self) -> Option<&str> {
        self.record.fields.last_name.as_deref()
    }
    /// Suffix, such as Jr., Sr., II or III.
    async fn suffix(&self) -> Option<&str> {
        self.record.fields.suffix.as_deref()
    }
    /// Phonetic first name (how to pronounce it).
    async fn phonetic_first_name(&self) -> Option<&str> {
        self.record.fields.phonetic_first_name.as_deref()
    }
    /// Phonetic middle name.
    async fn phonetic_middle_name(&self) -> Option<&str> {
        self.record.fields.phonetic_middle_name.as_deref()
    }
    /// Phonetic last name.
    async fn phonetic_last_name(&self) -> Option<&str> {
        self.record.fields.phonetic_last_name.as_deref()
    }
    /// Nickname.
    async fn nickname(&self) -> Option<&str> {
        self.record.fields.nickname.as_deref()
    }
    /// Company (vCard ORG, first component).
    async fn company(&self) -> Option<&str> {
        self.record.fields.company.as_deref()
    }
    /// Department (vCard ORG, second component).
    async fn department(&self) -> Option<&str> {
        self.record.fields.department.as_deref()
    }
    /// Job title (vCard TITLE).
    async fn job_title(&self) -> Option<&str> {
        self.record.fields.job_title.as_deref()
    }
    /// Email addresses, primary first as stored.
    async fn emails(&self) -> Vec<EmailAddress> {
        self.record
            .fields
            .emails
            .iter()
            .map(|e| EmailAddress {
                kind: e.kind.into(),
                email: e.address.clone(),
                label: e.label.clone(),
            })
            .collect()
    }
    /// The primary email (Drop's single `email`).
    async fn email(&self) -> Option<&str> {
        let emails = &self.record.fields.emails;
        emails
            .iter()
            .find(|e| e.kind == EmailKind::Primary)
            .or(emails.first())
            .map(|e| e.address.as_str())
    }
    /// Phone numbers.
    async fn phone_numbers(&self) -> Vec<PhoneNumber> {
        self.record
            .fields
            .phones
            .iter()
            .map(|p| PhoneNumber {
                kind: p.kind.into(),
                number: p.number.clone(),
                normalized: p.normalized.clone(),
                label: p.label.clone(),
            })
            .collect()
    }
    /// The first phone number as entered (Protocol's `phone_number`, Drop's `phone`).
    async fn phone_number(&self) -> Option<&str> {
        self.record.fields.phones.first().map(|p| p.number.as_str())
    }
    /// Postal addresses.
    async fn addresses(&self) -> Vec<PostalAddress> {
        self.record
            .fields
            .addresses
            .iter()
            .map(|a| PostalAddress {
                kind: a.kind.into(),
                street: a.street.clone(),
                city: a.city.clone(),
                state: a.state.clone(),
                zip: a.zip.clone(),
                country: a.country.clone(),
                label: a.label.clone(),
            })
            .collect()
    }
    /// Chat username (Protocol).
    async fn username(&self) -> Option<&str> {
        self.record.fields.username.as_deref()
    }
    /// Avatar image URL (vCard PHOTO as a URI).
    async fn avatar_url(&self) -> Option<&str> {
        self.record.fields.avatar_url.as_deref()
    }
    /// Whether the card carries an inline photo (served in `vcard`).
    async fn has_photo(&self) -> bool {
        self.record.fields.has_inline_photo || self.record.fields.avatar_url.is_some()
    }
    /// The conversation with this contact (Protocol).
    async fn conversation_id(&self) -> Option<&str> {
        self.record.fields.conversation_id.as_deref()
    }
    /// When the contact was last active (Protocol).
    async fn last_active_at(&self) -> Option<DateTime<Utc>> {
        self.record.fields.last_active_at
    }
    /// The contact's public key (Drop; vCard KEY).
    async fn public_key(&self) -> Option<&str> {
        self.record.fields.public_key.as_deref()
    }
    /// Key id of the identity that owns this contact (Drop's `my_identity`).
    async fn owner_identity(&self) -> Option<&str> {
        self.record.fields.owner_identity.as_deref()
    }
    /// Drop URLs.
    async fn drop_urls(&self) -> &[String] {
        &self.record.fields.drop_urls
    }
    /// Drop's `module_data`: module name -> module-defined object.
    async fn module_data(&self) -> Json<serde_json::Value> {
        Json(serde_json::Value::Object(
            self.record.fields.module_data.clone(),
        ))
    }
    /// Labels (vCard CATEGORIES).
    async fn categories(&self) -> &[String] {
        &self.record.fields.categories
    }
    /// Free-form note.
    async fn note(&self) -> Option<&str> {
        self.record.fields.note.as_deref()
    }
    /// Birthday; the year may be unknown (`--04-12`).
    async fn birthday(&self) -> Option<PartialDate> {
        self.record.fields.details.birthday
    }
    /// Anniversary; the year may be unknown.
    async fn anniversary(&self) -> Option<PartialDate> {
        self.record.fields.details.anniversary
    }
    /// Websites.
    async fn websites(&self) -> Vec<WebsiteObject> {
        self.record
            .fields
            .details
            .websites
            .iter()
            .map(Into::into)
            .collect()
    }
    /// Related people (spouse, child, assistant, ...), by name.
    async fn related_people(&self) -> Vec<RelatedPersonObject> {
        let people = &self.record.fields.details.related_people;
        people.iter().map(Into::into).collect()
    }
    /// Groups the contact is filed under.
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GroupRef>> {
        self.group_refs(ctx).await
    }
    /// The first group the contact is filed under (Phone.com's single `group`).
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<GroupRef>> {
        Ok(self.group_refs(ctx).await?.into_iter().next())
    }
    /// When the contact was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
    /// When the contact last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.record.updated_at
    }
    /// When the contact was deleted (only for tombstones, with `includeDeleted`).
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.record.deleted_at
    }
    /// The card as vCard text: exactly as stored (what CardDAV serves, whatever the version,
    /// 2.1 included), or converted to `version` if it is stored in another.
    async fn vcard(&self, version: Option<VCardVersion>) -> String {
        render(&self.record, version)
    }
}

/// A contact group: a group card (KIND:group) with members.
pub struct Group(pub ContactRecord);

/// A contact group: a group card (vCard KIND:group) whose members are contacts.
#[Object]
impl Group {
    /// Opaque global ID.
    async fn id(&self) -> ID {
        ids::encode(NodeKind::Group, self.0.id)
    }
    /// Numeric id.
    async fn database_id(&self) -> i64 {
        self.0.id
    }
    /// vCard UID.
    async fn uid(&self) -> &str {
        &self.0.uid
    }
    /// Strong ETag of the group card.
    async fn etag(&self) -> &str {
        &self.0.etag
    }
    /// Group name (vCard FN).
    async fn name(&self) -> Option<&str> {
        self.0.fields.display_name.as_deref()
    }
    /// Number of member references in the card.
    async fn member_count(&self) -> usize {
        self.0.fields.members.len()
    }
    /// Member contacts (those present in the address book), by name.
    #[graphql(complexity = "child_complexity.saturating_mul(1000).min(1_000_000_000)")]
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Contact>> {
        let filter = ContactFilter {
            group_id: Some(self.0.id),
            ..ContactFilter::default()
        };
        let members = store(ctx)?
            .query_contacts(principal(ctx)?, &filter, ContactOrder::default(), 0, 1000)
            .await
            .gql()?;
        Ok(members.records.into_iter().map(Contact::from).collect())
    }
    /// When the group was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the group last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The group card as vCard text, by the same rule as `Contact.vcard`.
    async fn vcard(&self, version: Option<VCardVersion>) -> String {
        render(&self.0, version)
    }
}

/// An address book.
pub struct AddressBookObject(pub AddressBook);

/// An address book: a collection of contacts and groups, also served over CardDAV.
#[Object(name = "AddressBook")]
impl AddressBookObject {
    /// Opaque global ID.
    async fn id(&self) -> ID {
        ids::encode(NodeKind::AddressBook, self.0.id)
    }
    /// Numeric id.
    async fn database_id(&self) -> i64 {
        self.0.id
    }
    /// Last path segment of the book's CardDAV URL.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// Name shown to users.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Change token for `changes(since:)`; the same revision CardDAV sync tokens carry.
    async fn change_token(&self) -> String {
        self.0.revision.to_string()
    }
    /// The book's groups, by name.
    #[graphql(complexity = "child_complexity.saturating_mul(1000).min(1_000_000_000)")]
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Group>> {
        groups_in(ctx, Some(vec![self.0.id])).await
    }
    /// When the book was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the book or any card in it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The authenticated user.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Viewer {
    /// User name.
    pub name: String,
}

#[ComplexObject]
impl Viewer {
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

    /// Your tokens and app passwords, oldest first (never their secrets).
    async fn credentials(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::credentials::Credential>> {
        super::credentials::of_viewer(ctx).await
    }
}

/// The principal's groups (of the given address books, or all), by name.
pub async fn groups_in(
    ctx: &Context<'_>,
    address_book_ids: Option<Vec<i64>>,
) -> async_graphql::Result<Vec<Group>> {
    let filter = ContactFilter {
        address_book_ids,
        kind: Some(CardKind::Group),
        ..ContactFilter::default()
    };
    let groups = store(ctx)?
        .query_contacts(principal(ctx)?, &filter, ContactOrder::default(), 0, 1000)
        .await
        .gql()?;
    Ok(groups.records.into_iter().map(Group).collect())
}
