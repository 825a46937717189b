//! The WebDAV ACL principal REPORTs (RFC 3744 9, which RFC 6352 3 requires through WebDAV
//! ACL): `principal-property-search` and `principal-search-property-set` on the principal
//! collection and principal URLs (Apple Contacts' directory search), `principal-match` and
//! `acl-principal-prop-set`.
//!
//! Every answer is scoped to what the caller may see: its own principal. No report lists,
//! counts or hints at another user (another user's principal URL is a 404 before any report
//! runs, like every path in their namespace). All four take Depth 0 only (RFC 3744 9.2-9.5:
//! other values are 400); a REPORT without Depth is Depth 0 (RFC 3253 3.6).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::paths::{self, Target};
use super::props::{Resource, write_response};
use super::xml::names::{DAV, QName};
use super::xml::principal::{PrincipalReport, PropertySearch, SEARCH_PROPERTY_SET};
use super::xml::write::Multistatus;
use super::{Ctx, DavError, multistatus};

pub async fn handle(
    ctx: &Ctx,
    target: &Target,
    report: PrincipalReport,
) -> Result<Response, DavError> {
    if ctx.depth_is_zero() == Some(false) {
        return Err(DavError::bad_request(
            "the principal reports of RFC 3744 take Depth: 0",
        ));
    }
    let on_principals = matches!(target, Target::Principals | Target::Principal { .. });
    let prop_ctx = ctx.prop_context();
    let own = paths::principal_href(ctx.user());
    let mut ms = Multistatus::new(ctx.minimal());
    match report {
        PrincipalReport::SearchPropertySet if on_principals => {
            let mut response = (StatusCode::OK, SEARCH_PROPERTY_SET).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
            return Ok(response);
        }
        PrincipalReport::PropertySearch {
            searches,
            any_of,
            props,
        } if on_principals => {
            ctx.check_properties(&props)?;
            if matches(&searches, any_of, ctx.user()) {
                write_response(
                    &mut ms,
                    &own,
                    &Resource::Principal,
                    &props.selection,
                    &prop_ctx,
                );
            }
        }
        PrincipalReport::Match {
            principal_property: None,
            props,
        } => {
            ctx.check_properties(&props)?;
            // `self`: the principals among the collection's members that are the caller.
            if on_principals {
                write_response(
                    &mut ms,
                    &own,
                    &Resource::Principal,
                    &props.selection,
                    &prop_ctx,
                );
            }
        }
        PrincipalReport::Match {
            principal_property: Some(property),
            props,
        } => {
            ctx.check_properties(&props)?;
            // Resources whose property names the caller: everything in the caller's own
            // namespace has it as DAV:owner, nothing else does.
            if property == QName::dav("owner") {
                owned_members(ctx, target, &props.selection, &mut ms).await?;
            }
        }
        PrincipalReport::AclPrincipalPropSet { props } => {
            ctx.check_properties(&props)?;
            // The ACL of a user's resources grants everything to its owner, and names no other
            // principal (the collections above the homes grant read to DAV:authenticated,
            // which is no principal resource).
            if matches!(
                target,
                Target::Principal { .. }
                    | Target::Home { .. }
                    | Target::Book { .. }
                    | Target::Card { .. }
            ) {
                write_response(
                    &mut ms,
                    &own,
                    &Resource::Principal,
                    &props.selection,
                    &prop_ctx,
                );
            }
        }
        PrincipalReport::SearchPropertySet | PrincipalReport::PropertySearch { .. } => {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                QName::dav("supported-report"),
                Some("principal searches are answered on the principal collection".to_owned()),
            ));
        }
    }
    Ok(multistatus(ms.finish()))
}

/// Whether the caller's principal matches the searches (RFC 3744 9.4: a caseless substring
/// match of each `match` in any of its properties; all searches, or any with `test="anyof"`).
/// Only `DAV:displayname` is searchable (principal-search-property-set says so).
fn matches(searches: &[PropertySearch], any_of: bool, user: &str) -> bool {
    let name = crate::domain::text::casemap(user);
    let hit = |search: &PropertySearch| {
        search.props.iter().any(|p| p.is(DAV, "displayname"))
            && name.contains(&crate::domain::text::casemap(&search.text))
    };
    if any_of {
        searches.iter().any(hit)
    } else {
        searches.iter().all(hit)
    }
}

/// principal-match with DAV:owner: the members of the request's collection (at any depth,
/// RFC 3744 9.3), all of them the caller's: the books of the home, the cards of a book, or the
/// card itself.
async fn owned_members(
    ctx: &Ctx,
    target: &Target,
    selection: &super::xml::request::PropSelection,
    ms: &mut Multistatus,
) -> Result<(), DavError> {
    let prop_ctx = ctx.prop_context();
    let user = ctx.user();
    let books = match target {
        Target::Home { .. } => ctx.store.list_address_books(&ctx.principal).await?,
        Target::Book { slug, .. } | Target::Card { slug, .. } => vec![ctx.book(slug).await?],
        _ => return Ok(()),
    };
    for book in &books {
        let book_href = paths::book_href(user, &book.slug);
        if matches!(target, Target::Home { .. }) {
            write_response(ms, &book_href, &Resource::Book(book), selection, &prop_ctx);
        }
        let only = match target {
            Target::Card { name, .. } => Some(vec![name.clone()]),
            _ => None,
        };
        let cards = ctx
            .store
            .card_metas(&ctx.principal, book.id, only.as_deref())
            .await?;
        if only.is_some() && cards.is_empty() {
            return Err(DavError::not_found());
        }
        for meta in &cards {
            let href = paths::card_href(&book_href, &meta.href);
            let resource = Resource::Card { meta, body: None };
            write_response(ms, &href, &resource, selection, &prop_ctx);
        }
    }
    Ok(())
}
