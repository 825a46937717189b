//! The one mapping from store errors to GraphQL errors. Every error carries
//! `extensions.code`: UNAUTHENTICATED, NOT_FOUND, VALIDATION (with `field`), CONFLICT (stale
//! ETag with `currentEtag`, UID or name taken), INVALID_SYNC_TOKEN, UNAVAILABLE, INTERNAL.

use async_graphql::{Error, ErrorExtensions};

use crate::store::StoreError;

pub fn store_error(error: StoreError) -> Error {
    match error {
        StoreError::NotFound => {
            Error::new("not found").extend_with(|_, e| e.set("code", "NOT_FOUND"))
        }
        StoreError::PreconditionFailed { current } => Error::new(
            "the contact has changed since the given ifMatch ETag",
        )
        .extend_with(|_, e| {
            e.set("code", "CONFLICT");
            if let Some(current) = &current {
                e.set("currentEtag", current.as_str());
            }
        }),
        StoreError::UidConflict { uid, existing_href } => Error::new(format!(
            "a card with UID {uid:?} already exists ({existing_href})"
        ))
        .extend_with(|_, e| e.set("code", "CONFLICT")),
        StoreError::AlreadyExists { what, name } => {
            Error::new(format!("{what} {name:?} already exists"))
                .extend_with(|_, e| e.set("code", "CONFLICT"))
        }
        StoreError::InvalidCard(reason) => validation("vcard", &format!("invalid vCard: {reason}")),
        StoreError::Validation(v) => validation(v.field, &v.message),
        StoreError::InvalidSyncToken => {
            Error::new("unknown or expired change token: fetch everything again without `since`")
                .extend_with(|_, e| e.set("code", "INVALID_SYNC_TOKEN"))
        }
        StoreError::Unauthenticated => unauthenticated(),
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "database unavailable");
            Error::new("the database is unavailable, try again")
                .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
        }
        StoreError::CardLimit(limit) => Error::new(limit.to_string()).extend_with(|_, e| {
            e.set("code", "TOO_LARGE");
            e.set("field", "vcard");
        }),
        StoreError::Database(detail) => {
            tracing::error!(error = %detail, "database error");
            Error::new("internal error").extend_with(|_, e| e.set("code", "INTERNAL"))
        }
    }
}

pub fn validation(field: &str, message: &str) -> Error {
    Error::new(format!("{field}: {message}")).extend_with(|_, e| {
        e.set("code", "VALIDATION");
        e.set("field", field);
    })
}

pub fn unauthenticated() -> Error {
    Error::new("authentication required").extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
}

/// `Result` adapter: `store.call().await.map_err(store_error)` reads as `.gql()?`.
pub trait StoreResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(store_error)
    }
}
