//! Users: creation, passwords, and the lifecycle an administrator drives from the CLI (list,
//! disable, enable, delete). Hashing lives in `auth`; the store only keeps and looks up hashes.
//!
//! Nothing here is cached: every request reads the user row (see `auth`), so a disabled,
//! deleted or re-passworded user is refused on the very next request by every server process.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{DEFAULT_ADDRESS_BOOK, Principal, Store, StoreError, StoreResult, unique_violation};
use crate::db::models::UserRow;
use crate::db::schema::{address_books, contacts, users};
use crate::domain::contact::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Set while the user is disabled: every login and credential of theirs is refused.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<UserRow> for UserInfo {
    fn from(row: UserRow) -> UserInfo {
        UserInfo {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        }
    }
}

/// What a user owns: what deleting them removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserUsage {
    pub address_books: i64,
    /// Live cards (contacts and groups), over all their address books.
    pub cards: i64,
}

fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

async fn usage(conn: &mut AsyncPgConnection, user_id: i64) -> StoreResult<UserUsage> {
    let address_books = address_books::table
        .filter(address_books::user_id.eq(user_id))
        .count()
        .get_result::<i64>(conn)
        .await?;
    let cards = contacts::table
        .inner_join(address_books::table)
        .filter(address_books::user_id.eq(user_id))
        .filter(contacts::deleted_at.is_null())
        .count()
        .get_result::<i64>(conn)
        .await?;
    Ok(UserUsage {
        address_books,
        cards,
    })
}

impl Store {
    /// Creates a user with an already-hashed password and their default address book.
    pub async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<UserInfo> {
        if !valid_user_name(name) {
            return Err(StoreError::Validation(ValidationError {
                field: "name",
                message: "user names are 1-64 characters of A-Z a-z 0-9 . _ - @, starting with a \
                          letter or digit"
                    .into(),
            }));
        }
        let mut conn = self.conn().await?;
        let name = name.to_owned();
        let password_hash = password_hash.to_owned();
        let user = conn
            .transaction::<_, StoreError, _>(async move |conn| {
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
                Ok(UserInfo::from(user))
            })
            .await?;
        tracing::info!(user = %user.name, "user created");
        Ok(user)
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> StoreResult<Vec<UserInfo>> {
        let mut conn = self.conn().await?;
        let rows: Vec<UserRow> = users::table
            .order(users::name)
            .select(UserRow::as_select())
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().map(UserInfo::from).collect())
    }

    /// One user by name (NotFound if there is none).
    pub async fn user_info(&self, user_name: &str) -> StoreResult<UserInfo> {
        let mut conn = self.conn().await?;
        let row: UserRow = users::table
            .filter(users::name.eq(user_name))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(UserInfo::from(row))
    }

    /// Disables (`true`) or enables (`false`) a user. Returns the user as it is now and whether
    /// anything changed (disabling a disabled user keeps the first `disabled_at`).
    pub async fn set_user_disabled(
        &self,
        user_name: &str,
        disabled: bool,
    ) -> StoreResult<(UserInfo, bool)> {
        let mut conn = self.conn().await?;
        let target = users::table.filter(users::name.eq(user_name));
        let updated: Option<UserRow> = if disabled {
            diesel::update(target.filter(users::disabled_at.is_null()))
                .set(users::disabled_at.eq(Utc::now()))
                .returning(UserRow::as_returning())
                .get_result(&mut conn)
                .await
                .optional()?
        } else {
            diesel::update(target.filter(users::disabled_at.is_not_null()))
                .set(users::disabled_at.eq(None::<DateTime<Utc>>))
                .returning(UserRow::as_returning())
                .get_result(&mut conn)
                .await
                .optional()?
        };
        let Some(row) = updated else {
            // Nothing to change, or no such user.
            let row: UserRow = target.select(UserRow::as_select()).first(&mut conn).await?;
            return Ok((UserInfo::from(row), false));
        };
        if disabled {
            tracing::info!(user = %row.name, "user disabled: every login is refused");
        } else {
            tracing::info!(user = %row.name, "user enabled");
        }
        Ok((UserInfo::from(row), true))
    }

    /// How many address books and cards a user has.
    pub async fn user_usage(&self, user_name: &str) -> StoreResult<UserUsage> {
        let mut conn = self.conn().await?;
        let user_id = users::table
            .filter(users::name.eq(user_name))
            .select(users::id)
            .first::<i64>(&mut conn)
            .await?;
        usage(&mut conn, user_id).await
    }

    /// Deletes a user with their credentials, address books, cards and change log; returns
    /// what was removed.
    pub async fn delete_user(&self, user_name: &str) -> StoreResult<UserUsage> {
        let mut conn = self.conn().await?;
        let name = user_name.to_owned();
        let removed = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                // Locked, so the counts are of what the delete removes.
                let user_id = users::table
                    .filter(users::name.eq(&name))
                    .select(users::id)
                    .for_update()
                    .first::<i64>(conn)
                    .await?;
                let removed = usage(conn, user_id).await?;
                // Credentials, books, cards, their child rows and change log cascade.
                diesel::delete(users::table.find(user_id))
                    .execute(conn)
                    .await?;
                Ok(removed)
            })
            .await?;
        tracing::info!(
            user = %user_name,
            address_books = removed.address_books,
            cards = removed.cards,
            "user deleted"
        );
        Ok(removed)
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
        tracing::info!(user = %user_name, "password changed");
        Ok(())
    }

    /// Replaces the principal's password hash, if it is still `current_hash` (the one the
    /// caller verified the current password against): of two concurrent changes, the second
    /// fails with PreconditionFailed instead of silently undoing the first.
    pub async fn replace_password_hash(
        &self,
        principal: &Principal,
        current_hash: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let updated = diesel::update(
            users::table
                .filter(users::id.eq(principal.user_id))
                .filter(users::password_hash.eq(current_hash)),
        )
        .set(users::password_hash.eq(new_hash))
        .execute(&mut conn)
        .await?;
        if updated == 0 {
            return Err(StoreError::PreconditionFailed { current: None });
        }
        tracing::info!(user = %principal.user_name, "password changed");
        Ok(())
    }

    /// The principal for a user name, for administrative commands run on the server itself
    /// (CLI import/export, token creation). Never reachable from the network front ends; a
    /// disabled user is found too (an administrator may still export their cards).
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

    /// The principal and stored password hash for a login name (for `auth` to verify). A
    /// disabled user has none: they cannot log in.
    pub async fn login_lookup(&self, user_name: &str) -> StoreResult<Option<(Principal, String)>> {
        let mut conn = self.conn().await?;
        let row = users::table
            .filter(users::name.eq(user_name))
            .filter(users::disabled_at.is_null())
            .select((users::id, users::name, users::password_hash))
            .first::<(i64, String, String)>(&mut conn)
            .await
            .optional()?;
        Ok(row.map(|(user_id, user_name, password_hash)| {
            (Principal { user_id, user_name }, password_hash)
        }))
    }
}
