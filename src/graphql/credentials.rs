//! Self-service for the signed-in user: their credentials (`viewer { credentials }`,
//! `createToken`, `createAppPassword`, `revokeCredential`) and their password
//! (`changePassword`). Everything is scoped to the principal: another user's credential is
//! NOT_FOUND, exactly like one that does not exist.
//!
//! `expiresIn` is a number of seconds (an `Int`, so at most about 68 years): the credential is
//! refused from then on. Omitted or null, it never expires.

use async_graphql::{Context, Enum, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::errors::{StoreResultExt, busy, store_error, validation};
use super::ids::{self, NodeKind};
use super::mutation::DeletePayload;
use super::{Caller, principal, store};
use crate::auth::AuthError;
use crate::auth::secret;
use crate::store::{CredentialInfo, CredentialKind, NewCredential, StoreError};

/// What a credential is for.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CredentialKind")]
pub enum CredentialKindValue {
    /// A bearer token: `Authorization: Bearer <secret>` (GraphQL, scripts).
    Token,
    /// An app password: the password of HTTP Basic with your user name (CardDAV clients).
    AppPassword,
}

impl From<CredentialKind> for CredentialKindValue {
    fn from(kind: CredentialKind) -> CredentialKindValue {
        match kind {
            CredentialKind::Token => CredentialKindValue::Token,
            CredentialKind::AppPassword => CredentialKindValue::AppPassword,
        }
    }
}

/// One of your tokens or app passwords.
pub struct Credential(pub CredentialInfo);

/// A token or app password of yours. Its secret was shown once, when it was created; only a
/// hash of it is kept.
#[Object]
impl Credential {
    /// Opaque global ID (pass it to `revokeCredential`).
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Credential, self.0.id)
    }
    /// Numeric id, as `rolodex token list` and `rolodex app-password list` show it.
    async fn database_id(&self) -> i64 {
        self.0.id
    }
    /// Token or app password.
    async fn kind(&self) -> CredentialKindValue {
        self.0.kind.into()
    }
    /// What you called it (e.g. the device it is for).
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last accepted, to the minute; null if never.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// From when on it is refused; null if it never expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

/// A new credential with its secret.
#[derive(SimpleObject)]
pub struct CreatedCredentialPayload {
    /// The secret. This is the only time it is shown: only a hash of it is stored.
    pub secret: String,
    /// The credential, as `viewer { credentials }` lists it.
    pub credential: Credential,
}

/// The user's credentials, for `Viewer.credentials`.
pub(super) async fn of_viewer(ctx: &Context<'_>) -> async_graphql::Result<Vec<Credential>> {
    Ok(store(ctx)?
        .list_credentials(principal(ctx)?)
        .await
        .gql()?
        .into_iter()
        .map(Credential)
        .collect())
}

/// `expiresIn` seconds from now, if given.
fn expiry(expires_in: Option<i32>) -> async_graphql::Result<Option<DateTime<Utc>>> {
    match expires_in {
        None => Ok(None),
        Some(seconds) if seconds > 0 => Ok(Some(
            Utc::now() + chrono::Duration::seconds(i64::from(seconds)),
        )),
        Some(_) => Err(validation("expiresIn", "a number of seconds, more than 0")),
    }
}

async fn create(
    ctx: &Context<'_>,
    kind: CredentialKind,
    label: &str,
    expires_in: Option<i32>,
) -> async_graphql::Result<CreatedCredentialPayload> {
    let expires_at = expiry(expires_in)?;
    let secret = match kind {
        CredentialKind::Token => secret::generate_token(),
        CredentialKind::AppPassword => secret::generate_password(),
    };
    let info = store(ctx)?
        .create_credential(
            principal(ctx)?,
            NewCredential {
                kind,
                label,
                secret_hash: &secret::hash_secret(&secret),
            },
            expires_at,
        )
        .await
        .gql()?;
    Ok(CreatedCredentialPayload {
        secret,
        credential: Credential(info),
    })
}

/// The GraphQL error for a failed current-password check.
fn password_error(error: AuthError) -> async_graphql::Error {
    match error {
        AuthError::Missing | AuthError::Invalid => {
            validation("currentPassword", "the current password is not correct")
        }
        AuthError::Throttled { retry_after } => async_graphql::Error::new(error.to_string())
            .extend_with(|_, e| {
                e.set("code", "TOO_MANY_REQUESTS");
                e.set("retryAfter", retry_after.as_secs().max(1));
            }),
        AuthError::Busy => busy("too many password checks at once; try again shortly"),
        AuthError::Unavailable(detail) => store_error(StoreError::Unavailable(detail)),
    }
}

/// Mutations of the signed-in account: credentials and password.
#[derive(Default)]
pub struct AccountMutations;

#[Object]
impl AccountMutations {
    /// Creates a bearer token for your account (`Authorization: Bearer <secret>`). The secret
    /// is in the answer, and only there.
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to call it, to recognise it in `viewer { credentials }`.")]
        label: String,
        #[graphql(
            desc = "Seconds until it is refused, more than 0 (omitted or null: it never expires)."
        )]
        expires_in: Option<i32>,
    ) -> async_graphql::Result<CreatedCredentialPayload> {
        create(ctx, CredentialKind::Token, &label, expires_in).await
    }

    /// Creates an app password: a password for HTTP Basic with your user name, for one CardDAV
    /// client or device, revocable on its own. The secret is in the answer, and only there.
    async fn create_app_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to call it, e.g. the device it is for.")] label: String,
        #[graphql(
            desc = "Seconds until it is refused, more than 0 (omitted or null: it never expires)."
        )]
        expires_in: Option<i32>,
    ) -> async_graphql::Result<CreatedCredentialPayload> {
        create(ctx, CredentialKind::AppPassword, &label, expires_in).await
    }

    /// Revokes one of your tokens or app passwords: it is refused from the next request on
    /// (also the one this request came with). NOT_FOUND if it is not yours.
    async fn revoke_credential(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DeletePayload> {
        let number = ids::expect(&id, NodeKind::Credential, "id")?;
        store(ctx)?
            .revoke_credential(principal(ctx)?, number, None)
            .await
            .gql()?;
        Ok(DeletePayload {
            deleted_id: ids::encode(NodeKind::Credential, number),
        })
    }

    /// Changes your account password; the old one is refused from the next request on. Tokens
    /// and app passwords stay valid (revoke them separately). A wrong `currentPassword` is a
    /// VALIDATION error and counts as a failed login (repeated, it is TOO_MANY_REQUESTS). The
    /// new password needs 8 characters or more.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let principal = principal(ctx)?;
        secret::check_new_password(&new_password)
            .map_err(|rule| validation("newPassword", &rule.to_string()))?;
        let caller = ctx.data::<Caller>()?;
        let (owner, current_hash) = caller
            .authenticator
            .account_password(&principal.user_name, &current_password, caller.peer)
            .await
            .map_err(password_error)?;
        // The name was re-created for another user since this request authenticated.
        if owner.user_id != principal.user_id {
            return Err(super::errors::unauthenticated());
        }
        let new_hash = caller
            .authenticator
            .hash_new_password(&new_password)
            .await
            .map_err(password_error)?;
        match store(ctx)?
            .replace_password_hash(principal, &current_hash, &new_hash)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::PreconditionFailed { .. }) => Err(async_graphql::Error::new(
                "the password was changed by another request meanwhile",
            )
            .extend_with(|_, e| e.set("code", "CONFLICT"))),
            Err(other) => Err(store_error(other)),
        }
    }
}
