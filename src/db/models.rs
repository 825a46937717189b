//! Row types: what diesel reads from and writes to each table. Plain data; the mapping to and
//! from the domain model lives in `store`. Enum columns hold their domain types (stored as
//! `db::types` declares), so a row never carries an unchecked string for a kind.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::*;
use crate::domain::change::ChangeOp;
use crate::domain::contact::{AddressKind, CardKind, EmailKind, PhoneKind};
use crate::domain::principal::CredentialKind;
use crate::domain::vcard::CardVersion;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credentials)]
pub struct CredentialRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: CredentialKind,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = address_books)]
pub struct AddressBookRow {
    pub id: i64,
    pub user_id: i64,
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub revision: i64,
    pub oldest_revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A full contact row: identity, the stored card, and the projection of it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contacts)]
pub struct ContactRow {
    pub id: i64,
    pub address_book_id: i64,
    pub uid: String,
    pub href: String,
    pub vcard: String,
    pub vcard_version: CardVersion,
    pub etag: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    #[diesel(embed)]
    pub projection: ContactProjection,
}

/// What a write sets on a contact row. Used both to insert and (as a changeset, where `None`
/// clears the column) to update, so a projection column can never be left stale.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactWrite {
    pub uid: String,
    pub href: String,
    pub vcard: String,
    pub vcard_version: CardVersion,
    pub etag: String,
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
    /// Written, never read back: only the text-match query filters on it.
    pub match_text: Option<String>,
    #[diesel(embed)]
    pub projection: ContactProjection,
}

/// The projection columns of `contacts`: what the store extracts from a card so reads never
/// parse one. One struct for reads (inside [`ContactRow`]) and writes (inside [`ContactWrite`]),
/// so a new column is spelled once here.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactProjection {
    pub kind: CardKind,
    pub display_name: Option<String>,
    pub prefix: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub suffix: Option<String>,
    pub phonetic_first_name: Option<String>,
    pub phonetic_middle_name: Option<String>,
    pub phonetic_last_name: Option<String>,
    pub nickname: Option<String>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub has_inline_photo: bool,
    pub conversation_id: Option<String>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub public_key: Option<String>,
    pub owner_identity: Option<String>,
    pub drop_urls: Vec<String>,
    pub module_data: serde_json::Value,
    pub categories: Vec<String>,
    pub note: Option<String>,
    pub search_text: String,
    pub sort_name: String,
    /// `domain::details::ContactDetails` as JSON; NULL until `store::reindex` projects a card
    /// written before migration 000012.
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_emails)]
pub struct EmailRow {
    pub contact_id: i64,
    pub position: i32,
    pub kind: EmailKind,
    pub address: String,
    pub address_folded: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_phones)]
pub struct PhoneRow {
    pub contact_id: i64,
    pub position: i32,
    pub kind: PhoneKind,
    pub number: String,
    pub normalized: Option<String>,
    pub digits: String,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contact_addresses)]
pub struct AddressRow {
    pub contact_id: i64,
    pub position: i32,
    pub kind: AddressKind,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_members)]
pub struct GroupMemberRow {
    pub group_id: i64,
    pub position: i32,
    pub member_ref: String,
    pub member_uid: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub id: i64,
    pub address_book_id: i64,
    pub revision: i64,
    pub contact_id: i64,
    pub uid: String,
    pub href: String,
    pub op: ChangeOp,
    pub changed_at: DateTime<Utc>,
}

/// A (member contact, group) pair from the membership join: which groups a contact is in.
#[derive(Debug, Clone, QueryableByName)]
pub struct MembershipRow {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub contact_id: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub group_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub group_name: Option<String>,
}
