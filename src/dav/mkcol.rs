//! MKCOL / extended MKCOL (RFC 5689): creating address books in the home.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::paths::Target;
use super::xml::names::{CARDDAV, DAV, Known, QName};
use super::xml::request;
use super::xml::tree::Element;
use super::{Ctx, DavError, error, xml};

/// Whether an address-book slug is acceptable (the store's rule; checked here so the client
/// gets a clear 403 rather than a card-validation error).
fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && slug.as_bytes()[0].is_ascii_alphanumeric()
}

/// The body of a MKCOL: none, or an extended-MKCOL XML document (RFC 5689). A body of another
/// media type, or one that is no XML at all, is 415 (RFC 4918 9.3.1: the server does not
/// understand the body); XML that is malformed or refused (a DOCTYPE) stays a 400.
async fn mkcol_body(ctx: &Ctx, body: Body) -> Result<Option<Element>, DavError> {
    let media = ctx.headers.get(axum::http::header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
    });
    let declared_xml = media.map(|m| {
        let m = m.to_ascii_lowercase();
        m == "application/xml" || m == "text/xml" || m.ends_with("+xml")
    });
    let bytes = ctx.body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let unsupported = |what: &str| {
        DavError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("MKCOL takes no body or an extended-MKCOL XML body (RFC 5689), not {what}"),
        )
    };
    if declared_xml == Some(false) {
        return Err(unsupported(&format!("{:?}", media.unwrap_or_default())));
    }
    // Without a Content-Type, a body that does not even start like markup is not XML.
    let looks_like_markup = bytes
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&bytes)
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        == Some(&b'<');
    if declared_xml.is_none() && !looks_like_markup {
        return Err(unsupported("a body that is not XML"));
    }
    Ok(Some(xml::tree::parse(&bytes)?))
}

/// MKCOL in the home creates an address book; plain MKCOL (no body) does too, since a home
/// holds nothing else.
pub async fn mkcol(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let slug = match target {
        Target::Book { slug, .. } => slug,
        Target::Card { .. } => {
            return Err(DavError::forbidden(
                "address books hold cards, not collections",
            ));
        }
        _ => return Err(DavError::MethodNotAllowed(error::ALLOW_COLLECTION)),
    };
    let ops = match mkcol_body(ctx, body).await? {
        Some(root) => request::mkcol(&root)?,
        None => Vec::new(),
    };
    let mut display_name = None;
    let mut description = None;
    for op in ops {
        match op.prop.known {
            Some(Known::ResourceType) => {
                let is_book = op
                    .value_children
                    .iter()
                    .any(|c| c.is(CARDDAV, "addressbook"))
                    && op.value_children.iter().any(|c| c.is(DAV, "collection"));
                if !is_book {
                    return Err(DavError::condition(
                        StatusCode::FORBIDDEN,
                        QName::dav("valid-resourcetype"),
                        Some(
                            "only address books (DAV:collection + CARDDAV:addressbook) can be \
                             created here"
                                .to_owned(),
                        ),
                    ));
                }
            }
            Some(Known::DisplayName) => display_name = op.value,
            Some(Known::AddressbookDescription) => description = op.value,
            // Colors, orders and other client properties are not kept from a MKCOL (a
            // PROPPATCH stores them as dead properties); failing the whole MKCOL over one would
            // leave the client without its book.
            _ => {}
        }
    }
    if !valid_slug(slug) {
        return Err(DavError::forbidden(
            "address book names are 1-64 characters of A-Z a-z 0-9 . _ -, starting with a \
             letter or digit",
        ));
    }
    let display_name = display_name
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| slug.clone());
    ctx.store
        .create_address_book(
            &ctx.principal,
            slug,
            &display_name,
            description.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(StatusCode::CREATED.into_response())
}
