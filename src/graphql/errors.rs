//! The GraphQL layer's errors: the one mapping from store errors to GraphQL errors, and
//! [`Rejection`], the answer to an HTTP request refused before it reaches the schema. Every
//! error carries `extensions.code`:
//!
//! - from resolvers: UNAUTHENTICATED, NOT_FOUND, VALIDATION (with `field`; also a search or
//!   lookup text over its limits, or a wrong `currentPassword`), CONFLICT (stale ETag with
//!   `currentEtag`, UID or name taken, a password changed meanwhile), TOO_MANY_REQUESTS (with
//!   `retryAfter` seconds: `changePassword` after too many wrong current passwords),
//!   INVALID_SYNC_TOKEN, UNAVAILABLE (also: too many exports running), TOO_LARGE (a card over
//!   the size limits, with `field: "vcard"`; an `exportContacts` text over
//!   `graphql_max_export_bytes`, with `field: "exportContacts"`, `limit` and the download's
//!   address in the message), INTERNAL;
//! - from the document checks (see [`super::guard`]): GRAPHQL_PARSE_FAILED (HTTP 400),
//!   GRAPHQL_VALIDATION_FAILED, QUERY_TOO_COMPLEX (depth, complexity, fragment expansion,
//!   root fields);
//! - from HTTP: BAD_REQUEST (400: not JSON, not a GraphQL request), FORBIDDEN (403: a foreign
//!   `Origin`), PAYLOAD_TOO_LARGE (413), UNSUPPORTED_MEDIA_TYPE (415), and the authentication
//!   codes UNAUTHENTICATED (401), TOO_MANY_REQUESTS (429), UNAVAILABLE (503);
//! - on a WebSocket: TOO_MANY_SUBSCRIPTIONS for a `subscribe` over the connection's limit.

use async_graphql::{Error, ErrorExtensions};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, Refusal};
use crate::store::{ExportTooLarge, StoreError};

/// Why an HTTP request to `/graphql` was refused before any GraphQL ran. Answered with its
/// status and a GraphQL-shaped body, so GraphQL clients can read the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The body is not a GraphQL request in JSON.
    #[error("{0}")]
    BadRequest(String),
    /// A browser page of another origin sent the request.
    #[error("requests from origin {0:?} are not allowed")]
    ForeignOrigin(String),
    /// The body is larger than `max_body_bytes`.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The body is not `application/json`.
    #[error("POST /graphql takes `Content-Type: application/json`")]
    UnsupportedMediaType,
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::BadRequest(_) => StatusCode::BAD_REQUEST,
            Rejection::ForeignOrigin(_) => StatusCode::FORBIDDEN,
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BadRequest(_) => "BAD_REQUEST",
            Rejection::ForeignOrigin(_) => "FORBIDDEN",
            Rejection::TooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Rejection::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.status(), error_body(&self.to_string(), self.code())).into_response()
    }
}

/// The answer to a request refused by authentication: a GraphQL error object, so the client's
/// GraphQL library can read the code, with the status and headers every front end gives it
/// (challenges, `Retry-After`; see [`crate::auth::AuthError::decorate`]).
pub struct GraphqlRefusal;

impl Refusal for GraphqlRefusal {
    fn body(error: &AuthError) -> Response {
        let code = match error {
            AuthError::Missing | AuthError::Invalid => "UNAUTHENTICATED",
            AuthError::Throttled { .. } => "TOO_MANY_REQUESTS",
            AuthError::Busy | AuthError::Unavailable(_) => "UNAVAILABLE",
        };
        error_body(&error.to_string(), code).into_response()
    }
}

/// `{"errors": [{"message": ..., "extensions": {"code": ...}}]}`.
pub fn error_body(message: &str, code: &str) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    }))
}

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
        StoreError::UidChanged { .. } => {
            Error::new(error.to_string()).extend_with(|_, e| e.set("code", "CONFLICT"))
        }
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
        // Only `Store::migrate` fails so, before any request is served.
        StoreError::Migration(detail) => {
            tracing::error!(error = %detail, "migration failed");
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

/// `exportContacts` would return more than `graphql_max_export_bytes`: the client is told
/// where to download the same text instead.
pub fn export_too_large(too_large: ExportTooLarge, slug: &str) -> Error {
    Error::new(format!(
        "the export is longer than the {} bytes exportContacts returns; download it instead: \
         GET /export/{}?format=vcf3|vcf4|drop-json|csv",
        too_large.max_bytes,
        crate::dav::paths::encode(slug)
    ))
    .extend_with(|_, e| {
        e.set("code", "TOO_LARGE");
        e.set("field", "exportContacts");
        e.set("limit", too_large.max_bytes);
    })
}

/// The server is too busy for this now (not the client's fault); try again later.
pub fn busy(message: &str) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", "UNAVAILABLE"))
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
