//! PROPFIND (RFC 4918 9.1) on every resource, Depth 0 and 1 (`infinity` is refused with
//! `DAV:propfind-finite-depth`). Listing a book reads only card
//! metadata (href, ETag, size, date) in one query: no card text, no vCard parsing.

use axum::body::Body;
use axum::response::Response;

use super::paths::Target;
use super::props::{Resource, write_response};
use super::xml::request;
use super::xml::write::Multistatus;
use super::{Ctx, DavError, Depth, multistatus, paths};

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
                    write_response(&mut ms, &href, &Resource::Book(&book), selection, &prop_ctx);
                }
            }
        }
        Target::Book { slug, .. } => {
            let book = ctx.book(slug).await?;
            let book_href = paths::book_href(user, &book.slug);
            write_response(
                &mut ms,
                &book_href,
                &Resource::Book(&book),
                selection,
                &prop_ctx,
            );
            if depth == Depth::One {
                let cards = ctx.store.card_metas(&ctx.principal, book.id, None).await?;
                // ~400 bytes per card response with the usual getetag/getcontenttype request.
                ms.reserve(cards.len() * 400);
                for meta in &cards {
                    let href = paths::card_href(&book_href, &meta.href);
                    let resource = Resource::Card { meta, body: None };
                    write_response(&mut ms, &href, &resource, selection, &prop_ctx);
                }
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
            write_response(&mut ms, &href, &resource, selection, &prop_ctx);
        }
    }
    Ok(multistatus(ms.finish()))
}
