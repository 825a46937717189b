//! Users, their credentials and their address books. Hashing lives in `auth`; the store only
//! keeps and looks up hashes.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::{
    AddressBook, DEFAULT_ADDRESS_BOOK, Principal, Store, StoreError, StoreResult, unique_violation,
};
use crate::db::models::{AddressBookRow, CredentialRow, UserRow};
use crate::db::schema::{address_books, credentials, users};

/// What a credential may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `Authorization: Bearer <token>` (GraphQL, scripts).
    Token,
    /// A password for HTTP Basic (CardDAV clients), usable instead of the account password.
    AppPassword,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Token => "token",
            CredentialKind::AppPassword => "app_password",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A credential to store: the caller generated the secret and hashed it.
#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    pub kind: CredentialKind,
    pub label: &'a str,
    pub secret_hash: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub id: i64,
    pub kind: CredentialKind,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Only refresh `last_used_at` this often, so authentication stays a read on the hot path.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(10);

fn book_from_row(row: AddressBookRow) -> AddressBook {
    AddressBook {
        id: row.id,
        slug: row.slug,
        display_name: row.display_name,
        description: row.description,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && slug
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

impl Store {
    /// Creates a user with an already-hashed password and their default address book.
    pub async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<UserInfo> {
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if !valid_name {
            return Err(StoreError::Validation(
                crate::domain::contact::ValidationError {
                    field: "name",
                    message: "user names are 1-64 characters of A-Z a-z 0-9 . _ - @, starting \
                              with a letter or digit"
                        .into(),
                },
            ));
        }
        let mut conn = self.conn().await?;
        let name = name.to_owned();
        let password_hash = password_hash.to_owned();
        conn.transaction::<_, StoreError, _>(async move |conn| {
            let user: UserRow = diesel::insert_into(users::table)
                .values((
                    users::name.eq(&name),
                    users::password_hash.eq(&password_hash),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await
                .map_err(|e| {
                    unique_violation(
                        e,
                        "users_name_key",
                        StoreError::AlreadyExists {
                            what: "user",
                            name: name.clone(),
                        },
                    )
                })?;
            diesel::insert_into(address_books::table)
                .values((
                    address_books::user_id.eq(user.id),
                    address_books::slug.eq(DEFAULT_ADDRESS_BOOK),
                    address_books::display_name.eq("Contacts"),
                ))
                .execute(conn)
                .await?;
            Ok(UserInfo {
                id: user.id,
                name: user.name,
                created_at: user.created_at,
            })
        })
        .await
    }

    /// Sets a user's password hash.
    pub async fn set_password_hash(&self, user_name: &str, password_hash: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let updated = diesel::update(users::table.filter(users::name.eq(user_name)))
            .set(users::password_hash.eq(password_hash))
            .execute(&mut conn)
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The principal for a user name, for administrative commands run on the server itself
    /// (CLI import/export, token creation). Never reachable from the network front ends.
    pub async fn principal_for_user(&self, user_name: &str) -> StoreResult<Principal> {
        let mut conn = self.conn().await?;
        let (user_id, name) = users::table
            .filter(users::name.eq(user_name))
            .select((users::id, users::name))
            .first::<(i64, String)>(&mut conn)
            .await?;
        Ok(Principal {
            user_id,
            user_name: name,
        })
    }

    /// The principal and stored password hash for a login name (for `auth` to verify).
    pub async fn login_lookup(&self, user_name: &str) -> StoreResult<Option<(Principal, String)>> {
        let mut conn = self.conn().await?;
        let row = users::table
            .filter(users::name.eq(user_name))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        Ok(row.map(|u| {
            (
                Principal {
                    user_id: u.id,
                    user_name: u.name,
                },
                u.password_hash,
            )
        }))
    }

    /// Stores a new credential for a user.
    pub async fn add_credential(
        &self,
        user_name: &str,
        credential: NewCredential<'_>,
    ) -> StoreResult<CredentialInfo> {
        let principal = self.principal_for_user(user_name).await?;
        let mut conn = self.conn().await?;
        let row: CredentialRow = diesel::insert_into(credentials::table)
            .values((
                credentials::user_id.eq(principal.user_id),
                credentials::kind.eq(credential.kind.as_str()),
                credentials::label.eq(credential.label),
                credentials::secret_hash.eq(credential.secret_hash),
            ))
            .returning(CredentialRow::as_returning())
            .get_result(&mut conn)
            .await?;
        Ok(CredentialInfo {
            id: row.id,
            kind: credential.kind,
            label: row.label,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
    }

    /// The principal owning the credential with this secret hash and kind, if any.
    pub async fn principal_for_secret(
        &self,
        kind: CredentialKind,
        secret_hash: &str,
    ) -> StoreResult<Option<Principal>> {
        let mut conn = self.conn().await?;
        let found = credentials::table
            .inner_join(users::table)
            .filter(credentials::secret_hash.eq(secret_hash))
            .filter(credentials::kind.eq(kind.as_str()))
            .select((
                credentials::id,
                users::id,
                users::name,
                credentials::last_used_at,
            ))
            .first::<(i64, i64, String, Option<DateTime<Utc>>)>(&mut conn)
            .await
            .optional()?;
        let Some((credential_id, user_id, user_name, last_used_at)) = found else {
            return Ok(None);
        };
        let now = Utc::now();
        if last_used_at.is_none_or(|t| now - t > LAST_USED_GRANULARITY) {
            diesel::update(credentials::table.find(credential_id))
                .set(credentials::last_used_at.eq(now))
                .execute(&mut conn)
                .await?;
        }
        Ok(Some(Principal { user_id, user_name }))
    }

    /// The principal's credentials (secrets are never returned: only hashes are stored).
    pub async fn list_credentials(
        &self,
        principal: &Principal,
    ) -> StoreResult<Vec<CredentialInfo>> {
        let mut conn = self.conn().await?;
        let rows: Vec<CredentialRow> = credentials::table
            .filter(credentials::user_id.eq(principal.user_id))
            .order(credentials::id)
            .select(CredentialRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| CredentialInfo {
                id: row.id,
                kind: if row.kind == "token" {
                    CredentialKind::Token
                } else {
                    CredentialKind::AppPassword
                },
                label: row.label,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
            })
            .collect())
    }

    /// Revokes one of the principal's credentials.
    pub async fn revoke_credential(&self, principal: &Principal, id: i64) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(
            credentials::table
                .filter(credentials::id.eq(id))
                .filter(credentials::user_id.eq(principal.user_id)),
        )
        .execute(&mut conn)
        .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The principal's address books, the default one first (macOS only syncs the first).
    pub async fn list_address_books(&self, principal: &Principal) -> StoreResult<Vec<AddressBook>> {
        let mut conn = self.conn().await?;
        let rows: Vec<AddressBookRow> = address_books::table
            .filter(address_books::user_id.eq(principal.user_id))
            .order((
                address_books::slug.ne(DEFAULT_ADDRESS_BOOK),
                address_books::id,
            ))
            .select(AddressBookRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(book_from_row).collect())
    }

    pub async fn get_address_book(
        &self,
        principal: &Principal,
        id: i64,
    ) -> StoreResult<AddressBook> {
        let mut conn = self.conn().await?;
        let row: AddressBookRow = address_books::table
            .filter(address_books::id.eq(id))
            .filter(address_books::user_id.eq(principal.user_id))
            .select(AddressBookRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(book_from_row(row))
    }

    pub async fn address_book_by_slug(
        &self,
        principal: &Principal,
        slug: &str,
    ) -> StoreResult<AddressBook> {
        let mut conn = self.conn().await?;
        let row: AddressBookRow = address_books::table
            .filter(address_books::slug.eq(slug))
            .filter(address_books::user_id.eq(principal.user_id))
            .select(AddressBookRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(book_from_row(row))
    }

    pub async fn create_address_book(
        &self,
        principal: &Principal,
        slug: &str,
        display_name: &str,
        description: &str,
    ) -> StoreResult<AddressBook> {
        if !valid_slug(slug) {
            return Err(StoreError::Validation(
                crate::domain::contact::ValidationError {
                    field: "slug",
                    message:
                        "1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
                            .into(),
                },
            ));
        }
        let mut conn = self.conn().await?;
        let row: AddressBookRow = diesel::insert_into(address_books::table)
            .values((
                address_books::user_id.eq(principal.user_id),
                address_books::slug.eq(slug),
                address_books::display_name.eq(display_name),
                address_books::description.eq(description),
            ))
            .returning(AddressBookRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| {
                unique_violation(
                    e,
                    "address_books_user_id_slug_key",
                    StoreError::AlreadyExists {
                        what: "address book",
                        name: slug.to_owned(),
                    },
                )
            })?;
        Ok(book_from_row(row))
    }

    /// Renames / re-describes an address book; `None` leaves a value as it is.
    pub async fn update_address_book(
        &self,
        principal: &Principal,
        id: i64,
        display_name: Option<&str>,
        description: Option<&str>,
    ) -> StoreResult<AddressBook> {
        /// Only the given values change (`None` fields are left out of the UPDATE), so one
        /// statement on one pooled connection does it: no read of the current values first.
        #[derive(AsChangeset)]
        #[diesel(table_name = address_books)]
        struct BookUpdate<'a> {
            display_name: Option<&'a str>,
            description: Option<&'a str>,
            updated_at: chrono::DateTime<Utc>,
        }
        let mut conn = self.conn().await?;
        let row: AddressBookRow = diesel::update(
            address_books::table
                .filter(address_books::id.eq(id))
                .filter(address_books::user_id.eq(principal.user_id)),
        )
        .set(BookUpdate {
            display_name,
            description,
            updated_at: Utc::now(),
        })
        .returning(AddressBookRow::as_returning())
        .get_result(&mut conn)
        .await?;
        Ok(book_from_row(row))
    }

    /// Deletes an address book and every card in it.
    pub async fn delete_address_book(&self, principal: &Principal, id: i64) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(
            address_books::table
                .filter(address_books::id.eq(id))
                .filter(address_books::user_id.eq(principal.user_id)),
        )
        .execute(&mut conn)
        .await?;
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
