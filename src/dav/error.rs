//! Errors of the CardDAV front end and their HTTP form. [`DavError::from`] on a
//! [`StoreError`] is THE mapping from store failures to CardDAV statuses and preconditions;
//! request-level failures (XML, paths, headers) map here too, so every 4xx body is built in one
//! place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::paths;
use super::xml::names::QName;
use super::xml::request::RequestError;
use super::xml::tree::XmlError;
use super::xml::write::error_body;
use crate::domain::vcard::VCardError;
use crate::store::{CardLimitExceeded, StoreError};

/// A failed DAV request.
#[derive(Debug)]
pub enum DavError {
    /// A plain status with a short text body.
    Status(StatusCode, String),
    /// A failed precondition or postcondition: status plus a `DAV:error` body naming the
    /// condition, an optional href inside it and a description.
    Condition {
        status: StatusCode,
        condition: QName,
        href: Option<String>,
        description: Option<String>,
    },
    /// 405 with the methods the resource does allow.
    MethodNotAllowed(&'static str),
    Unauthorized,
}

impl DavError {
    pub fn not_found() -> DavError {
        DavError::Status(StatusCode::NOT_FOUND, "not found".to_owned())
    }

    pub fn bad_request(message: impl Into<String>) -> DavError {
        DavError::Status(StatusCode::BAD_REQUEST, message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> DavError {
        DavError::Status(StatusCode::FORBIDDEN, message.into())
    }

    pub fn condition(status: StatusCode, condition: QName, description: Option<String>) -> Self {
        DavError::Condition {
            status,
            condition,
            href: None,
            description,
        }
    }

    /// 413 with CARDDAV:max-resource-size.
    pub fn too_large(limit: usize) -> DavError {
        DavError::condition(
            StatusCode::PAYLOAD_TOO_LARGE,
            QName::carddav("max-resource-size"),
            Some(format!("the body is larger than {limit} bytes")),
        )
    }

    /// 403 with DAV:valid-sync-token: the client falls back to a full sync.
    pub fn invalid_sync_token() -> DavError {
        DavError::condition(
            StatusCode::FORBIDDEN,
            QName::dav("valid-sync-token"),
            Some("unknown or expired sync token; sync again without a token".to_owned()),
        )
    }

    /// CARDDAV:valid-address-data with the reason the card was refused.
    pub fn invalid_card(reason: impl Into<String>) -> DavError {
        DavError::condition(
            StatusCode::FORBIDDEN,
            QName::carddav("valid-address-data"),
            Some(reason.into()),
        )
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            DavError::Status(status, _) => *status,
            DavError::Condition { status, .. } => *status,
            DavError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            DavError::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }
}

impl From<StoreError> for DavError {
    fn from(error: StoreError) -> DavError {
        match error {
            StoreError::NotFound => DavError::not_found(),
            StoreError::PreconditionFailed { .. } => DavError::Status(
                StatusCode::PRECONDITION_FAILED,
                "the resource has changed (If-Match / If-None-Match did not hold)".to_owned(),
            ),
            StoreError::UidConflict { uid, existing_href } => DavError::Condition {
                status: StatusCode::CONFLICT,
                condition: QName::carddav("no-uid-conflict"),
                // The store keeps names only; the href is relative to the same address book,
                // which is the one the client is writing to. The handler rewrites it to a full
                // href when it knows the book (see `DavError::with_book_href`).
                href: Some(paths::encode(&existing_href)),
                description: Some(format!(
                    "a card with UID {uid:?} already exists in this address book"
                )),
            },
            StoreError::UidChanged { uid, href } => DavError::Condition {
                status: StatusCode::FORBIDDEN,
                condition: QName::carddav("no-uid-conflict"),
                // The card being replaced: its UID is the one in use there.
                href: Some(paths::encode(&href)),
                description: Some(format!(
                    "this resource holds the card with UID {uid:?}; store a card with another \
                     UID under another name"
                )),
            },
            StoreError::InvalidCard(VCardError::UnsupportedVersion { line, version }) => {
                DavError::condition(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    QName::carddav("supported-address-data"),
                    Some(format!(
                        "line {line}: vCard version {version} is not supported (send 3.0 or 4.0)"
                    )),
                )
            }
            StoreError::InvalidCard(e) => DavError::invalid_card(e.to_string()),
            StoreError::Validation(e) => {
                DavError::invalid_card(format!("{}: {}", e.field, e.message))
            }
            StoreError::AlreadyExists { what, name } => DavError::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{what} {name:?} already exists"),
            ),
            StoreError::InvalidSyncToken => DavError::invalid_sync_token(),
            StoreError::Unauthenticated => DavError::Unauthorized,
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "dav: database unavailable");
                DavError::Status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database unavailable, try again".to_owned(),
                )
            }
            StoreError::CardLimit(limit @ CardLimitExceeded::Bytes { .. }) => DavError::condition(
                StatusCode::PAYLOAD_TOO_LARGE,
                QName::carddav("max-resource-size"),
                Some(limit.to_string()),
            ),
            StoreError::CardLimit(limit @ CardLimitExceeded::Properties { .. }) => {
                DavError::invalid_card(limit.to_string())
            }
            StoreError::Database(e) => {
                tracing::error!(error = %e, "dav: database error");
                DavError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
            // Only `Store::migrate` fails so, before any request is served.
            StoreError::Migration(e) => {
                tracing::error!(error = %e, "dav: migration failed");
                DavError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        }
    }
}

impl From<RequestError> for DavError {
    fn from(error: RequestError) -> DavError {
        match error {
            RequestError::Xml(e @ (XmlError::TooManyElements | XmlError::TooManyAttributes)) => {
                DavError::Status(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
            }
            RequestError::Xml(e) => DavError::bad_request(e.to_string()),
            RequestError::Invalid(message) => DavError::bad_request(message),
            RequestError::UnsupportedReport(name) => DavError::condition(
                StatusCode::FORBIDDEN,
                QName::dav("supported-report"),
                Some(format!("report {name} is not supported here")),
            ),
            RequestError::UnsupportedCollation(name) => DavError::condition(
                StatusCode::FORBIDDEN,
                QName::carddav("supported-collation"),
                Some(format!(
                    "collation {name:?} is not supported (use i;unicode-casemap or \
                     i;ascii-casemap)"
                )),
            ),
            // RFC 6352 8.6 and 8.7: address-data naming a media type or version the server
            // does not produce.
            RequestError::UnsupportedAddressData(message) => DavError::condition(
                StatusCode::FORBIDDEN,
                QName::carddav("supported-address-data"),
                Some(message),
            ),
        }
    }
}

impl From<XmlError> for DavError {
    fn from(error: XmlError) -> DavError {
        DavError::from(RequestError::Xml(error))
    }
}

impl DavError {
    /// Completes the href of a no-uid-conflict (the store names the card, the front end knows
    /// the book's URL).
    pub fn with_book_href(self, book_href: &str) -> DavError {
        match self {
            DavError::Condition {
                status,
                condition,
                href: Some(name),
                description,
            } if condition.is(super::xml::names::CARDDAV, "no-uid-conflict") => {
                DavError::Condition {
                    status,
                    condition,
                    href: Some(format!("{book_href}{name}")),
                    description,
                }
            }
            other => other,
        }
    }
}

/// Every method the DAV front end implements somewhere (`Allow` of an unauthenticated OPTIONS
/// on the root, which says what the server can do without revealing any resource).
pub const ALLOW_ALL: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, REPORT, COPY, MOVE";
/// The methods that work on each kind of resource (`Allow` on OPTIONS and 405).
pub const ALLOW_COLLECTION: &str = "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT";
pub const ALLOW_BOOK: &str = "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, REPORT";
pub const ALLOW_CARD: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, COPY, MOVE";

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        match self {
            DavError::Status(status, message) => {
                let mut response = (status, format!("{message}\n")).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
            DavError::Condition {
                status,
                condition,
                href,
                description,
            } => {
                let body = error_body(&condition, href.as_deref(), description.as_deref());
                let mut response = (status, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml; charset=utf-8"),
                );
                response
            }
            DavError::MethodNotAllowed(allow) => {
                let mut response =
                    (StatusCode::METHOD_NOT_ALLOWED, "method not allowed here\n").into_response();
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                response
            }
            DavError::Unauthorized => {
                crate::auth::refuse::<crate::auth::PlainText>(&crate::auth::AuthError::Invalid)
            }
        }
    }
}
