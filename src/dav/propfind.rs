//! PROPFIND (RFC 4918 9.1) on every resource, Depth 0 and 1 (`infinity` is refused with
//! `DAV:propfind-finite-depth`). Listing a book reads only card metadata (href, ETag, size,
//! date), and their dead properties when the request may name them, a page at a time
//! ([`super::listing`]): no card text, no vCard parsing, and memory bounded by a page.

use axum::body::Body;
use axum::response::Response;

use super::listing::Listing;
use super::paths::Target;
use super::props::{Resource, needs_dead, write_response, write_response_with_dead};
use super::xml::request;
use super::xml::request::PropSelection;
use super::xml::write::Multistatus;
use super::{Ctx, DavError, Depth, multistatus, paths};
use crate::store::{AddressBook, DeadProperty, PropertyOwner};

pub async fn handle(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let root = ctx.xml_body(body).await?;
    let props = request::propfind(root.as_ref())?;
    ctx.check_properties(&props)?;
    let selection = &props.selection;
    // A card has no members: its depth does not matter, `infinity` included.
    let depth = match target {
        Target::Card { .. } => Depth::Zero,
        _ => ctx.finite_depth(Depth::One)?,
    };
    let prop_ctx = ctx.prop_context();
    let user = ctx.user();
    let mut ms = Multistatus::new(ctx.minimal());
    match target {
        Target::Root => {
            write_response(&mut ms, paths::ROOT, &Resource::Root, selection, &prop_ctx);
            if depth == Depth::One {
                write_response(
                    &mut ms,
                    paths::PRINCIPALS,
                    &Resource::Principals,
                    selection,
                    &prop_ctx,
                );
                write_response(
                    &mut ms,
                    paths::HOMES,
                    &Resource::Homes,
                    selection,
                    &prop_ctx,
                );
            }
        }
        Target::Principals => {
            write_response(
                &mut ms,
                paths::PRINCIPALS,
                &Resource::Principals,
                selection,
                &prop_ctx,
            );
            if depth == Depth::One {
                let href = paths::principal_href(user);
                write_response(&mut ms, &href, &Resource::Principal, selection, &prop_ctx);
            }
        }
        Target::Principal { .. } => {
            let href = paths::principal_href(user);
            write_response(&mut ms, &href, &Resource::Principal, selection, &prop_ctx);
        }
        Target::Homes => {
            write_response(
                &mut ms,
                paths::HOMES,
                &Resource::Homes,
                selection,
                &prop_ctx,
            );
            if depth == Depth::One {
                let href = paths::home_href(user);
                write_response(&mut ms, &href, &Resource::Home, selection, &prop_ctx);
            }
        }
        Target::Home { .. } => {
            let href = paths::home_href(user);
            write_response(&mut ms, &href, &Resource::Home, selection, &prop_ctx);
            if depth == Depth::One {
                // The default book comes first: macOS only uses the first (INTEROP item 4).
                for book in ctx.store.list_address_books(&ctx.principal).await? {
                    let href = paths::book_href(user, &book.slug);
                    let dead = book_dead(ctx, &book, selection).await?;
                    let resource = Resource::Book(&book);
                    write_response_with_dead(
                        &mut ms, &href, &resource, selection, &prop_ctx, &dead,
                    );
                }
            }
        }
        Target::Book { slug, .. } => {
            let book = ctx.book(slug).await?;
            let book_href = paths::book_href(user, &book.slug);
            let dead = book_dead(ctx, &book, selection).await?;
            let resource = Resource::Book(&book);
            write_response_with_dead(&mut ms, &book_href, &resource, selection, &prop_ctx, &dead);
            if depth == Depth::One {
                // The cards follow, streamed a page at a time (see `listing`).
                let props = request::Props {
                    selection: props.selection,
                    address_version: None,
                };
                return Ok(Listing::new(ctx, book.id, book_href, props, Vec::new())
                    .whole_book(ctx.limits.stream_page_cards)
                    .propfind(ms)
                    .into_response());
            }
        }
        Target::Card { slug, name, .. } => {
            let book = ctx.book(slug).await?;
            let names = [name.clone()];
            let meta = ctx
                .store
                .card_metas(&ctx.principal, book.id, Some(&names))
                .await?
                .into_iter()
                .next()
                .ok_or_else(DavError::not_found)?;
            let href = paths::card_href(&paths::book_href(user, &book.slug), &meta.href);
            let resource = Resource::Card {
                meta: &meta,
                body: None,
            };
            let dead = if needs_dead(selection) {
                ctx.store
                    .dead_properties(&ctx.principal, book.id, PropertyOwner::Card(name))
                    .await?
            } else {
                Vec::new()
            };
            write_response_with_dead(&mut ms, &href, &resource, selection, &prop_ctx, &dead);
        }
    }
    Ok(multistatus(ms.finish()))
}

/// A book's dead properties, when the selection may name them.
async fn book_dead(
    ctx: &Ctx,
    book: &AddressBook,
    selection: &PropSelection,
) -> Result<Vec<DeadProperty>, DavError> {
    if !needs_dead(selection) {
        return Ok(Vec::new());
    }
    Ok(ctx
        .store
        .dead_properties(&ctx.principal, book.id, PropertyOwner::Book)
        .await?)
}
