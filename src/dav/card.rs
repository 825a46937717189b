//! Card resources: GET/HEAD (with version negotiation), PUT (create or replace, with
//! `If-Match` / `If-None-Match`) and DELETE, plus GET and DELETE of an address book (GET
//! exports the whole book as one vCard file, with an ETag and `Last-Modified` honoured by
//! `If-None-Match` / `If-Modified-Since`, RFC 7232).

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::paths::{self, Target};
use super::props::{VCARD_CONTENT_TYPE, http_date};
use super::xml::names::QName;
use super::xml::request::is_vcard_media_type;
use super::{Ctx, DavError, error, negotiate};
use crate::domain::etag;
use crate::domain::vcard;
use crate::store::{self, AddressBook, Precondition, StoreError};
use chrono::{DateTime, Utc};

/// Longest resource name accepted (file systems and clients commonly stop at 255 bytes).
const MAX_NAME_BYTES: usize = 255;

pub async fn get(ctx: &Ctx, target: &Target, head: bool) -> Result<Response, DavError> {
    let (text, etag_value, last_modified) = match target {
        Target::Card { slug, name, .. } => {
            let card = ctx.store.card_body_at(&ctx.principal, slug, name).await?;
            let quoted = etag::quoted(&card.meta.etag);
            if not_modified(&ctx.headers, &card.meta.etag, &card.meta.updated_at) {
                return Ok(not_modified_response(&quoted, &card.meta.updated_at));
            }
            let named = negotiate::accepted_version(&ctx.headers, card.vcard_version);
            let asked = negotiate::asked_version(named, ctx.apple());
            let converted = match store::representation(&card.vcard, card.vcard_version, asked) {
                Cow::Owned(converted) => Some(converted),
                Cow::Borrowed(_) => None,
            };
            // The stored bytes are moved, not copied.
            let text = converted.unwrap_or(card.vcard);
            (text, Some(quoted), Some(http_date(&card.meta.updated_at)))
        }
        Target::Book { slug, .. } => {
            // An export of the whole book: every card's stored text, one after the other,
            // streamed (see `listing`), so its length is not known up front and no
            // Content-Length is sent (nor is DAV:getcontentlength defined on a book, RFC 4918
            // 15.4: it is the Content-Length of a GET).
            let book = ctx.book(slug).await?;
            // Every card write bumps the book's revision, so it identifies the export's bytes
            // (RFC 7232 2.3); the cards are listed after it is read, so an export racing a
            // write carries the older tag and is fetched again next time, never wrongly kept.
            let tag = book_etag(&book);
            if not_modified(&ctx.headers, &tag, &book.updated_at) {
                return Ok(not_modified_response(&etag::quoted(&tag), &book.updated_at));
            }
            let body = if head {
                Body::empty()
            } else {
                super::book_body::card_texts_body(ctx, book.id, ctx.limits.stream_page_cards)
            };
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            insert(headers, header::CONTENT_TYPE, VCARD_CONTENT_TYPE);
            insert(headers, header::LAST_MODIFIED, &http_date(&book.updated_at));
            insert(headers, header::ETAG, &etag::quoted(&tag));
            return Ok(response);
        }
        _ => {
            let text = format!(
                "Rolodex CardDAV. Your address books are under {}\n",
                paths::home_href(ctx.user())
            );
            let mut response =
                (StatusCode::OK, if head { String::new() } else { text }).into_response();
            insert(
                response.headers_mut(),
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            );
            return Ok(response);
        }
    };
    let length = text.len();
    let mut response = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(text))
    };
    let headers = response.headers_mut();
    insert(headers, header::CONTENT_TYPE, VCARD_CONTENT_TYPE);
    insert(headers, header::CONTENT_LENGTH, &length.to_string());
    if let Some(tag) = etag_value {
        insert(headers, header::ETAG, &tag);
    }
    if let Some(date) = last_modified {
        insert(headers, header::LAST_MODIFIED, &date);
    }
    Ok(response)
}

pub async fn put(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let Target::Card { slug, name, .. } = target else {
        return Err(DavError::MethodNotAllowed(match target {
            Target::Book { .. } => error::ALLOW_BOOK,
            _ => error::ALLOW_COLLECTION,
        }));
    };
    check_name(name)?;
    if let Some(content_type) = ctx.headers.get(header::CONTENT_TYPE) {
        let media = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default();
        if !is_vcard_media_type(media) {
            return Err(DavError::condition(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                QName::carddav("supported-address-data"),
                Some(format!(
                    "Content-Type {media:?} is not a vCard (send text/vcard)"
                )),
            ));
        }
    }
    let card_limit = ctx.limits.max_card_bytes.min(ctx.max_body);
    let bytes = ctx.body_up_to(body, card_limit).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            DavError::too_large(card_limit)
        } else {
            e
        }
    })?;
    let text = vcard::text_from_bytes(&bytes).map_err(|e| DavError::from(StoreError::from(e)))?;
    check_characters(text)?;
    let book = ctx.book(slug).await.map_err(|e| {
        if e.status() == StatusCode::NOT_FOUND {
            DavError::Status(
                StatusCode::CONFLICT,
                format!("there is no address book {slug:?}; create it with MKCOL first"),
            )
        } else {
            e
        }
    })?;
    let book_href = paths::book_href(ctx.user(), &book.slug);
    let precondition = write_precondition(ctx, book.id, name).await?;
    let outcome = ctx
        .store
        .put_vcard(&ctx.principal, book.id, name, text, precondition)
        .await
        .map_err(|e| DavError::from(e).with_book_href(&book_href))?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut response = status.into_response();
    // An ETag only when the stored bytes are the body (RFC 7231 4.3.4, INTEROP item 10): a
    // client that got none re-fetches the card.
    if outcome.record.vcard.as_bytes() == &bytes[..] {
        insert(
            response.headers_mut(),
            header::ETAG,
            &etag::quoted(&outcome.record.etag),
        );
    }
    Ok(response)
}

pub async fn delete(ctx: &Ctx, target: &Target) -> Result<Response, DavError> {
    match target {
        Target::Card { slug, name, .. } => {
            let book = ctx.book(slug).await?;
            let precondition = write_precondition(ctx, book.id, name).await?;
            ctx.store
                .delete_contact_by_href(&ctx.principal, book.id, name, precondition)
                .await?;
        }
        Target::Book { slug, .. } => {
            let book = ctx.book(slug).await?;
            ctx.store
                .delete_address_book(&ctx.principal, book.id)
                .await?;
        }
        _ => return Err(DavError::MethodNotAllowed(error::ALLOW_COLLECTION)),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The store precondition for `If-Match` / `If-None-Match`. A single tag or `If-None-Match: *`
/// goes to the store as is (checked under the book lock); lists and `If-Match: *` are checked
/// against the current ETag here and then pinned to it, so a concurrent change still fails.
async fn write_precondition(ctx: &Ctx, book_id: i64, name: &str) -> Result<Precondition, DavError> {
    let read = |h: header::HeaderName| {
        ctx.headers
            .get(h)
            .map(|v| v.to_str().map(str::trim).unwrap_or("\u{0}"))
    };
    let if_match = read(header::IF_MATCH);
    let if_none_match = read(header::IF_NONE_MATCH);
    match (if_match, if_none_match) {
        (None, None) => return Ok(Precondition::None),
        (None, Some("*")) => return Ok(Precondition::IfNoneMatchAny),
        (Some(tag), None) if tag != "*" && !tag.contains(',') => {
            return Ok(Precondition::IfMatch(tag.to_owned()));
        }
        _ => {}
    }
    let names = [name.to_owned()];
    let current = ctx
        .store
        .card_metas(&ctx.principal, book_id, Some(&names))
        .await?
        .into_iter()
        .next()
        .map(|m| m.etag);
    let listed = |list: &str, current: &str| list.split(',').any(|tag| etag::matches(tag, current));
    let match_holds = match (if_match, &current) {
        (None, _) => true,
        (Some("*"), current) => current.is_some(),
        (Some(list), Some(current)) => listed(list, current),
        (Some(_), None) => false,
    };
    let none_match_holds = match (if_none_match, &current) {
        (None, _) | (Some(_), None) => true,
        (Some("*"), Some(_)) => false,
        (Some(list), Some(current)) => !listed(list, current),
    };
    if !(match_holds && none_match_holds) {
        return Err(DavError::from(StoreError::PreconditionFailed { current }));
    }
    Ok(match current {
        Some(tag) => Precondition::IfMatch(tag),
        None => Precondition::IfNoneMatchAny,
    })
}

/// The ETag (unquoted) of a book's GET export: its id and revision.
pub fn book_etag(book: &AddressBook) -> String {
    format!("book-{}-{}", book.id, book.revision)
}

/// Whether a GET / HEAD is answered 304 (RFC 7232 6): `If-None-Match` when present (weak
/// comparison, 3.2), otherwise `If-Modified-Since` (3.3: ignored when `If-None-Match` is sent,
/// or when the date is not a valid HTTP-date).
fn not_modified(headers: &HeaderMap, stored: &str, modified: &DateTime<Utc>) -> bool {
    if let Some(list) = headers.get(header::IF_NONE_MATCH) {
        let list = list.to_str().unwrap_or_default();
        return list.trim() == "*" || list.split(',').any(|tag| etag::matches(tag, stored));
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        // HTTP dates have whole seconds: a change within the second of the date is not newer.
        .is_some_and(|since| modified.timestamp() <= since.timestamp())
}

/// 304 with the validators a 200 would carry (RFC 7232 4.1).
fn not_modified_response(quoted_etag: &str, modified: &DateTime<Utc>) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    insert(response.headers_mut(), header::ETAG, quoted_etag);
    insert(
        response.headers_mut(),
        header::LAST_MODIFIED,
        &http_date(modified),
    );
    response
}

/// Resource names are stored decoded; a `/` would turn into a path separator for clients
/// that re-encode it, and control characters have no business in a URL.
pub(super) fn check_name(name: &str) -> Result<(), DavError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(DavError::bad_request(format!(
            "resource names are at most {MAX_NAME_BYTES} bytes"
        )));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(DavError::bad_request(
            "resource names must not contain '/' or control characters",
        ));
    }
    Ok(())
}

/// A card with C0 control characters (other than tab and line ends) could never be sent back
/// inside an XML REPORT body, so it is refused up front.
fn check_characters(text: &str) -> Result<(), DavError> {
    let bad = text
        .char_indices()
        .find(|(_, c)| (*c as u32) < 0x20 && !matches!(c, '\t' | '\r' | '\n'));
    match bad {
        Some((at, c)) => {
            let line = text[..at].matches('\n').count() + 1;
            Err(DavError::invalid_card(format!(
                "line {line}: control character U+{:04X} is not allowed in a vCard",
                c as u32
            )))
        }
        None => Ok(()),
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
