//! Credentials: API tokens and app passwords, stored as SHA-256 hashes of their secrets (the
//! secrets themselves are generated and shown once by the caller, see `auth::secret`).
//!
//! Every request looks its credential up here ([`Store::principal_for_secret`]); nothing is
//! cached, so a revoked or expired credential, or one of a disabled or deleted user, is refused
//! on the very next request by every server process. Expiry is compared with the database's
//! clock, the one all processes share.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Principal, Store, StoreError, StoreResult};
use crate::db::models::CredentialRow;
use crate::db::schema::{credentials, users};
use crate::domain::contact::ValidationError;
pub use crate::domain::principal::CredentialKind;

/// A credential to store: the caller generated the secret and hashed it.
#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    pub kind: CredentialKind,
    pub label: &'a str,
    pub secret_hash: &'a str,
}

/// A stored credential, as its owner may see it (never its secret: only a hash is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialInfo {
    pub id: i64,
    pub kind: CredentialKind,
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// When it was last accepted, to the minute ([`LAST_USED_GRANULARITY`]).
    pub last_used_at: Option<DateTime<Utc>>,
    /// From then on it is refused; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<CredentialRow> for CredentialInfo {
    fn from(row: CredentialRow) -> CredentialInfo {
        CredentialInfo {
            id: row.id,
            kind: row.kind,
            label: row.label,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
        }
    }
}

/// `last_used_at` is refreshed at most this often per credential: a phone syncing sends a
/// credential with every request, and authentication must stay a read on that path.
pub const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// Longest credential label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// A label is what the owner recognises a credential by in a list: one line of text.
fn check_label(label: &str) -> StoreResult<()> {
    let chars = label.chars().count();
    if label.trim().is_empty() || chars > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(StoreError::Validation(ValidationError {
            field: "label",
            message: format!(
                "a label is 1-{MAX_LABEL_CHARS} characters on one line, not only spaces"
            ),
        }));
    }
    Ok(())
}

impl Store {
    /// Stores a new credential, without expiry, for a user named by an administrator.
    pub async fn add_credential(
        &self,
        user_name: &str,
        credential: NewCredential<'_>,
    ) -> StoreResult<CredentialInfo> {
        let principal = self.principal_for_user(user_name).await?;
        self.create_credential(&principal, credential, None).await
    }

    /// Stores a new credential of the principal, refused from `expires_at` on (if given).
    pub async fn create_credential(
        &self,
        principal: &Principal,
        credential: NewCredential<'_>,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<CredentialInfo> {
        check_label(credential.label)?;
        let mut conn = self.conn().await?;
        let row: CredentialRow = diesel::insert_into(credentials::table)
            .values((
                credentials::user_id.eq(principal.user_id),
                credentials::kind.eq(credential.kind),
                credentials::label.eq(credential.label),
                credentials::secret_hash.eq(credential.secret_hash),
                credentials::expires_at.eq(expires_at),
            ))
            .returning(CredentialRow::as_returning())
            .get_result(&mut conn)
            .await?;
        let info = CredentialInfo::from(row);
        tracing::info!(
            user = %principal.user_name,
            credential = info.id,
            kind = info.kind.noun(),
            label = %info.label,
            expires_at = ?info.expires_at,
            "credential created"
        );
        Ok(info)
    }

    /// The principal owning the credential with this secret hash and kind, if it is neither
    /// expired nor of a disabled user. Refreshes `last_used_at` at most once a minute.
    pub async fn principal_for_secret(
        &self,
        kind: CredentialKind,
        secret_hash: &str,
    ) -> StoreResult<Option<Principal>> {
        let mut conn = self.conn().await?;
        let found = credentials::table
            .inner_join(users::table)
            .filter(credentials::secret_hash.eq(secret_hash))
            .filter(credentials::kind.eq(kind))
            .filter(users::disabled_at.is_null())
            .filter(
                credentials::expires_at
                    .is_null()
                    .or(credentials::expires_at.gt(now)),
            )
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
        let stale_before = Utc::now() - LAST_USED_GRANULARITY;
        if last_used_at.is_none_or(|t| t < stale_before) {
            // Conditional again in SQL: of a phone's parallel requests, only one writes.
            diesel::update(
                credentials::table.find(credential_id).filter(
                    credentials::last_used_at
                        .is_null()
                        .or(credentials::last_used_at.lt(stale_before)),
                ),
            )
            .set(credentials::last_used_at.eq(Utc::now()))
            .execute(&mut conn)
            .await?;
        }
        Ok(Some(Principal { user_id, user_name }))
    }

    /// The principal's credentials, oldest first (secrets are never returned: only hashes are
    /// stored).
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
        Ok(rows.into_iter().map(CredentialInfo::from).collect())
    }

    /// One of the principal's credentials (another user's is NotFound).
    pub async fn get_credential(
        &self,
        principal: &Principal,
        id: i64,
    ) -> StoreResult<CredentialInfo> {
        let mut conn = self.conn().await?;
        let row: CredentialRow = credentials::table
            .filter(credentials::id.eq(id))
            .filter(credentials::user_id.eq(principal.user_id))
            .select(CredentialRow::as_select())
            .first(&mut conn)
            .await?;
        Ok(CredentialInfo::from(row))
    }

    /// Revokes (deletes) one of the principal's credentials, of `kind` if given; returns what
    /// was revoked. Another user's credential, or one of another kind, is NotFound.
    pub async fn revoke_credential(
        &self,
        principal: &Principal,
        id: i64,
        kind: Option<CredentialKind>,
    ) -> StoreResult<CredentialInfo> {
        let mut conn = self.conn().await?;
        let mut target = credentials::table
            .filter(credentials::id.eq(id))
            .filter(credentials::user_id.eq(principal.user_id))
            .into_boxed();
        if let Some(kind) = kind {
            target = target.filter(credentials::kind.eq(kind));
        }
        // A boxed query cannot be a DELETE target: select the id, then delete by it, in one
        // statement.
        let row: CredentialRow = diesel::delete(
            credentials::table.filter(credentials::id.eq_any(target.select(credentials::id))),
        )
        .returning(CredentialRow::as_returning())
        .get_result(&mut conn)
        .await?;
        let info = CredentialInfo::from(row);
        tracing::info!(
            user = %principal.user_name,
            credential = info.id,
            kind = info.kind.noun(),
            label = %info.label,
            "credential revoked"
        );
        Ok(info)
    }
}
