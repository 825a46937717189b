//! COPY and MOVE of cards (RFC 4918 9.8, 9.9): within an address book and between the
//! principal's own books, in one store transaction (`Store::transfer_card`).
//!
//! The `Destination` header (RFC 4918 10.3) is an absolute URL or an absolute path. What it
//! may name, and what it is answered with otherwise:
//! - a card URL in one of the caller's books: the transfer (201 created, 204 replaced);
//! - another server (an authority other than the request's `Host`) or a path outside the DAV
//!   tree: 502 Bad Gateway (9.8.5, 9.9.4: "another server, repository, or URL namespace");
//! - another user's namespace, or a URL that cannot hold a card (a collection): 403;
//! - a book that does not exist: 409 Conflict (9.8.5: an intermediate collection is missing).
//!
//! Address books are not copied or moved: 403 with the reason (the collections above them
//! do not allow either method: 405).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::card::check_name;
use super::paths::{self, PathError, Target};
use super::{Ctx, DavError, error};
use crate::store::{CardAt, TransferKind};

pub async fn handle(ctx: &Ctx, target: &Target, kind: TransferKind) -> Result<Response, DavError> {
    let (slug, name) = match target {
        Target::Card { slug, name, .. } => (slug, name),
        Target::Book { .. } => {
            return Err(DavError::forbidden(
                "address books cannot be copied or moved; copy or move their cards",
            ));
        }
        _ => return Err(DavError::MethodNotAllowed(error::ALLOW_COLLECTION)),
    };
    let (to_slug, to_name) = destination(ctx)?;
    check_name(&to_name)?;
    let overwrite = overwrite(ctx)?;
    if *slug == to_slug && *name == to_name {
        // RFC 4918 9.8.5, 9.9.4: source and destination are the same resource.
        return Err(DavError::forbidden("the Destination is the source itself"));
    }
    let from_book = ctx.book(slug).await?;
    let to_book = if to_slug == *slug {
        from_book.clone()
    } else {
        ctx.book(&to_slug).await.map_err(|e| {
            if e.status() == StatusCode::NOT_FOUND {
                DavError::Status(
                    StatusCode::CONFLICT,
                    format!("there is no address book {to_slug:?} to copy or move into"),
                )
            } else {
                e
            }
        })?
    };
    let to_book_href = paths::book_href(ctx.user(), &to_book.slug);
    let outcome = ctx
        .store
        .transfer_card(
            &ctx.principal,
            CardAt {
                address_book_id: from_book.id,
                href: name,
            },
            CardAt {
                address_book_id: to_book.id,
                href: &to_name,
            },
            overwrite,
            kind,
        )
        .await
        .map_err(|e| DavError::from(e).with_book_href(&to_book_href))?;
    Ok(if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

/// The book slug and card name the `Destination` header names.
fn destination(ctx: &Ctx) -> Result<(String, String), DavError> {
    let value = ctx
        .headers
        .get("destination")
        .ok_or_else(|| DavError::bad_request("COPY and MOVE need a Destination header"))?
        .to_str()
        .map_err(|_| DavError::bad_request("the Destination header is not ASCII"))?;
    let (authority, path) = paths::split_authority(value);
    if let Some(authority) = authority
        && !same_server(ctx, authority)
    {
        return Err(elsewhere());
    }
    if authority.is_none() && !path.starts_with('/') {
        return Err(DavError::bad_request(
            "the Destination must be an absolute URL or an absolute path",
        ));
    }
    match paths::parse(path) {
        Ok(Target::Card { user, slug, name }) if user == ctx.user() => Ok((slug, name)),
        Ok(Target::Card { .. }) => Err(DavError::forbidden(
            "cards can only be copied or moved into your own address books",
        )),
        Ok(_) => Err(DavError::forbidden(
            "the Destination must name a card in an address book",
        )),
        Err(PathError::BadEncoding) => Err(DavError::bad_request(
            "malformed percent-encoding in the Destination",
        )),
        Err(PathError::NotFound) if path.starts_with(paths::ROOT) || path == "/dav" => Err(
            DavError::forbidden("the Destination must name a card in an address book"),
        ),
        Err(PathError::NotFound) => Err(elsewhere()),
    }
}

fn elsewhere() -> DavError {
    DavError::Status(
        StatusCode::BAD_GATEWAY,
        "the Destination is outside this server's CardDAV namespace".to_owned(),
    )
}

/// Whether `authority` is this server as the client addressed it (`Host`, or the
/// `X-Forwarded-Host` a reverse proxy sets). Without either there is nothing to compare with,
/// and the path decides.
fn same_server(ctx: &Ctx, authority: &str) -> bool {
    let named = ["x-forwarded-host", header::HOST.as_str()]
        .iter()
        .filter_map(|h| ctx.headers.get(*h).and_then(|v| v.to_str().ok()))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    // Userinfo is not part of the server's identity.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    named.is_empty() || named.iter().any(|h| h.eq_ignore_ascii_case(authority))
}

/// The `Overwrite` header (RFC 4918 10.6): `T` when absent.
fn overwrite(ctx: &Ctx) -> Result<bool, DavError> {
    match ctx
        .headers
        .get("overwrite")
        .map(|v| v.to_str().map(str::trim))
    {
        None => Ok(true),
        Some(Ok(v)) if v.eq_ignore_ascii_case("T") => Ok(true),
        Some(Ok(v)) if v.eq_ignore_ascii_case("F") => Ok(false),
        Some(_) => Err(DavError::bad_request("the Overwrite header must be T or F")),
    }
}
