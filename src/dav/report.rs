//! REPORT dispatch, `addressbook-multiget` (RFC 6352 8.7) and `sync-collection` (RFC 6578).
//!
//! Both read cards in one query whatever their number, and only load card text when the
//! client asked for `address-data`. Sync answers come from the store's change log; its entries
//! are per card, while clients key by href, so changes are folded by href here (a deleted card's
//! name may since have been reused by a new card).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::paths::{self, Target};
use super::props::{PropContext, Resource, parse_sync_token, sync_token_at, write_response};
use super::xml::names::QName;
use super::xml::request::{self, Props, Report};
use super::xml::write::Multistatus;
use super::{Ctx, DavError, multistatus, query};
use crate::store::{AddressBook, CardBody, CardMeta, ChangeOp, ChangedContact};

pub async fn handle(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let root = ctx
        .xml_body(body)
        .await?
        .ok_or_else(|| DavError::bad_request("REPORT needs a request body"))?;
    let report = request::report(&root)?;
    let (slug, on_card) = match target {
        Target::Book { slug, .. } => (slug, false),
        Target::Card { slug, .. } => (slug, true),
        _ => return Err(unsupported_here()),
    };
    let book = ctx.book(slug).await?;
    // Clients send these REPORTs with Depth 1, 0 or none; the answer is the same
    // (CARDDAV-INTEROP item 17).
    match report {
        Report::Multiget { props, hrefs } => multiget(ctx, &book, &props, &hrefs).await,
        Report::Query { .. } | Report::Sync { .. } if on_card => Err(unsupported_here()),
        Report::Query {
            props,
            filter,
            limit,
        } => query::handle(ctx, &book, &props, filter, limit).await,
        Report::Sync {
            props,
            token,
            limit,
        } => sync(ctx, &book, &props, token.as_deref(), limit).await,
    }
}

fn unsupported_here() -> DavError {
    DavError::condition(
        StatusCode::FORBIDDEN,
        QName::dav("supported-report"),
        Some("this report is only supported on an address book".to_owned()),
    )
}

/// Cards of one book by name: metadata only, or with their text when `address-data` is wanted.
pub(super) enum Loaded {
    Metas(Vec<CardMeta>),
    Bodies(Vec<CardBody>),
}

impl Loaded {
    pub(super) async fn load(
        ctx: &Ctx,
        book_id: i64,
        props: &Props,
        names: Option<&[String]>,
    ) -> Result<Loaded, DavError> {
        Ok(if props.wants_address_data() {
            Loaded::Bodies(
                ctx.store
                    .card_bodies(&ctx.principal, book_id, names)
                    .await?,
            )
        } else {
            Loaded::Metas(ctx.store.card_metas(&ctx.principal, book_id, names).await?)
        })
    }

    fn len(&self) -> usize {
        match self {
            Loaded::Metas(m) => m.len(),
            Loaded::Bodies(b) => b.len(),
        }
    }

    fn meta(&self, index: usize) -> &CardMeta {
        match self {
            Loaded::Metas(m) => &m[index],
            Loaded::Bodies(b) => &b[index].meta,
        }
    }

    fn resource(&self, index: usize) -> Resource<'_> {
        match self {
            Loaded::Metas(m) => Resource::Card {
                meta: &m[index],
                body: None,
            },
            Loaded::Bodies(b) => Resource::Card {
                meta: &b[index].meta,
                body: Some((&b[index].vcard, b[index].vcard_version)),
            },
        }
    }

    /// Index of each card by name.
    fn by_name(&self) -> HashMap<&str, usize> {
        (0..self.len())
            .map(|i| (self.meta(i).href.as_str(), i))
            .collect()
    }
}

fn prop_context<'a>(ctx: &'a Ctx, props: &Props) -> PropContext<'a> {
    let mut prop_ctx = ctx.prop_context();
    prop_ctx.address_version = props.address_version;
    prop_ctx
}

async fn multiget(
    ctx: &Ctx,
    book: &AddressBook,
    props: &Props,
    hrefs: &[String],
) -> Result<Response, DavError> {
    let user = ctx.user();
    // Only hrefs naming a card of this very book are looked up; anything else (another
    // user's card, another book, garbage) is answered 404, like a card that does not exist.
    let names: Vec<Option<String>> = hrefs
        .iter()
        .map(|href| {
            // A bare name (no scheme, no leading slash) is relative to the book (RFC 3986
            // reference resolution against the request URI).
            if !href.starts_with('/') && !href.contains("://") {
                return paths::decode(href).filter(|n| !n.is_empty() && !n.contains('/'));
            }
            match paths::parse_href(href) {
                Ok(Target::Card {
                    user: u,
                    slug,
                    name,
                }) if u == user && slug == book.slug => Some(name),
                _ => None,
            }
        })
        .collect();
    let mut wanted: Vec<String> = names.iter().flatten().cloned().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let loaded = Loaded::load(ctx, book.id, props, Some(&wanted)).await?;
    let index = loaded.by_name();
    let book_href = paths::book_href(user, &book.slug);
    let prop_ctx = prop_context(ctx, props);
    let mut ms = Multistatus::new(ctx.minimal());
    for (href, name) in hrefs.iter().zip(&names) {
        match name.as_deref().and_then(|n| index.get(n)) {
            Some(&i) => {
                let card_href = paths::card_href(&book_href, &loaded.meta(i).href);
                write_response(
                    &mut ms,
                    &card_href,
                    &loaded.resource(i),
                    &props.selection,
                    &prop_ctx,
                );
            }
            None => ms.status_response(href, StatusCode::NOT_FOUND),
        }
    }
    Ok(multistatus(ms.finish()))
}

async fn sync(
    ctx: &Ctx,
    book: &AddressBook,
    props: &Props,
    token: Option<&str>,
    limit: Option<usize>,
) -> Result<Response, DavError> {
    let limit = limit.map(|n| n.max(1));
    let book_href = paths::book_href(ctx.user(), &book.slug);
    let prop_ctx = prop_context(ctx, props);
    let mut ms = Multistatus::new(ctx.minimal());
    let (revision, truncated) = match token {
        None => initial_sync(ctx, book, props, limit, &book_href, &prop_ctx, &mut ms).await?,
        Some(token) => {
            let since =
                parse_sync_token(token, book.id).ok_or_else(DavError::invalid_sync_token)?;
            incremental_sync(
                ctx, book, props, since, limit, &book_href, &prop_ctx, &mut ms,
            )
            .await?
        }
    };
    if truncated {
        ms.status_response_with_error(
            &book_href,
            StatusCode::INSUFFICIENT_STORAGE,
            Some(&QName::dav("number-of-matches-within-limits")),
        );
    }
    ms.sync_token(&sync_token_at(book.id, revision));
    Ok(multistatus(ms.finish()))
}

/// Every live card. The token is the book's revision as read *before* listing, so a write
/// racing the listing is reported again next time rather than lost. With a limit, the oldest
/// cards come first and the token stops at the last one sent.
async fn initial_sync(
    ctx: &Ctx,
    book: &AddressBook,
    props: &Props,
    limit: Option<usize>,
    book_href: &str,
    prop_ctx: &PropContext<'_>,
    ms: &mut Multistatus,
) -> Result<(i64, bool), DavError> {
    let loaded = Loaded::load(ctx, book.id, props, None).await?;
    let mut order: Vec<usize> = (0..loaded.len()).collect();
    let mut revision = book.revision;
    let mut truncated = false;
    if let Some(limit) = limit
        && order.len() > limit
    {
        order.sort_by_key(|&i| loaded.meta(i).revision);
        order.truncate(limit);
        revision = order.last().map_or(revision, |&i| loaded.meta(i).revision);
        truncated = true;
    }
    ms.reserve(order.len() * 400);
    for i in order {
        let href = paths::card_href(book_href, &loaded.meta(i).href);
        write_response(ms, &href, &loaded.resource(i), &props.selection, prop_ctx);
    }
    Ok((revision, truncated))
}

#[allow(clippy::too_many_arguments)]
async fn incremental_sync(
    ctx: &Ctx,
    book: &AddressBook,
    props: &Props,
    since: i64,
    limit: Option<usize>,
    book_href: &str,
    prop_ctx: &PropContext<'_>,
    ms: &mut Multistatus,
) -> Result<(i64, bool), DavError> {
    let changes = ctx
        .store
        .changes_since(&ctx.principal, book.id, since)
        .await?;
    let mut latest = latest_by_href(&changes.changes);
    let mut revision = changes.revision;
    let mut truncated = false;
    if let Some(limit) = limit
        && latest.len() > limit
    {
        latest.truncate(limit);
        revision = latest.last().map_or(revision, |c| c.revision);
        truncated = true;
    }
    let upserted: Vec<String> = latest
        .iter()
        .filter(|c| c.op == ChangeOp::Put)
        .map(|c| c.href.clone())
        .collect();
    let loaded = Loaded::load(ctx, book.id, props, Some(&upserted)).await?;
    let index = loaded.by_name();
    for change in latest {
        let href = paths::card_href(book_href, &change.href);
        let live = (change.op == ChangeOp::Put)
            .then(|| index.get(change.href.as_str()))
            .flatten();
        match live {
            Some(&i) => write_response(ms, &href, &loaded.resource(i), &props.selection, prop_ctx),
            // Deleted, or deleted again since the log was read: gone either way.
            None => ms.status_response(&href, StatusCode::NOT_FOUND),
        }
    }
    Ok((revision, truncated))
}

/// The latest change per href, in revision order.
fn latest_by_href(changes: &[ChangedContact]) -> Vec<&ChangedContact> {
    let mut by_href: HashMap<&str, &ChangedContact> = HashMap::with_capacity(changes.len());
    for change in changes {
        by_href
            .entry(change.href.as_str())
            .and_modify(|seen| {
                if change.revision > seen.revision {
                    *seen = change;
                }
            })
            .or_insert(change);
    }
    let mut latest: Vec<&ChangedContact> = by_href.into_values().collect();
    latest.sort_by_key(|c| c.revision);
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: i64, href: &str, op: ChangeOp, revision: i64) -> ChangedContact {
        ChangedContact {
            contact_id: id,
            uid: format!("uid-{id}"),
            href: href.to_owned(),
            op,
            revision,
        }
    }

    #[test]
    fn reused_hrefs_report_their_latest_state() {
        let changes = vec![
            change(1, "a.vcf", ChangeOp::Delete, 3),
            change(2, "b.vcf", ChangeOp::Put, 4),
            change(3, "a.vcf", ChangeOp::Put, 5),
            change(4, "c.vcf", ChangeOp::Put, 6),
            change(5, "c.vcf", ChangeOp::Delete, 2),
        ];
        let latest = latest_by_href(&changes);
        let summary: Vec<(&str, ChangeOp, i64)> = latest
            .iter()
            .map(|c| (c.href.as_str(), c.op, c.revision))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("b.vcf", ChangeOp::Put, 4),
                ("a.vcf", ChangeOp::Put, 5),
                ("c.vcf", ChangeOp::Put, 6)
            ]
        );
    }
}
