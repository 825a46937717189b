//! REPORT dispatch (the RFC 3744 principal reports go to `principals`), `addressbook-multiget`
//! (RFC 6352 8.7) and `sync-collection` (RFC 6578).
//!
//! Both list cards from their metadata and send the answer through [`super::listing`], which
//! reads card text a slice at a time and only when the client asked for `address-data`; an
//! initial sync reads even the metadata a page at a time. Sync answers come from the store's change log; its entries
//! are per card, while clients key by href, so changes are folded by href here (a deleted card's
//! name may since have been reused by a new card).

use std::collections::HashMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::listing::{Entry, Listing, SLICE_BYTES};
use super::paths::{self, Target};
use super::props::{parse_sync_token, sync_token_at};
use super::xml::names::QName;
use super::xml::principal::principal_report;
use super::xml::request::{self, Props, Report};
use super::{Ctx, DavError, principals, query};
use crate::store::{AddressBook, CardMeta, ChangeOp, ChangedContact};

pub async fn handle(ctx: &Ctx, target: &Target, body: Body) -> Result<Response, DavError> {
    let root = ctx
        .xml_body(body)
        .await?
        .ok_or_else(|| DavError::bad_request("REPORT needs a request body"))?;
    if let Some(report) = principal_report(&root)? {
        return principals::handle(ctx, target, report).await;
    }
    let report = request::report(&root)?;
    match &report {
        Report::Multiget { props, .. } | Report::Sync { props, .. } => {
            ctx.check_properties(props)?
        }
        Report::Query { props, filter, .. } => {
            ctx.check_properties(props)?;
            let (count, limit) = (filter.element_count(), ctx.limits.max_filter_elements);
            if count > limit {
                return Err(DavError::condition(
                    StatusCode::FORBIDDEN,
                    QName::carddav("supported-filter"),
                    Some(format!(
                        "the filter has {count} prop-filter, param-filter and text-match \
                         elements; at most {limit} are supported"
                    )),
                ));
            }
        }
    }
    let (slug, card) = match target {
        Target::Book { slug, .. } => (slug, None),
        Target::Card { slug, name, .. } => (slug, Some(name.as_str())),
        _ => return Err(unsupported_here()),
    };
    let book = ctx.book(slug).await?;
    // Clients send these REPORTs with Depth 1, 0 or none; the answer is the same
    // (docs/carddav-clients.md §17). On a card, addressbook-query is applied to that card alone
    // (RFC 6352 8.6: Depth 0 on an address object resource); the multiget's hrefs name the
    // cards either way (8.7).
    match report {
        Report::Multiget { props, hrefs } => multiget(ctx, &book, props, &hrefs).await,
        Report::Sync { .. } if card.is_some() => Err(DavError::condition(
            StatusCode::FORBIDDEN,
            QName::dav("supported-report"),
            Some("sync-collection is only supported on an address book (RFC 6578 3.2)".to_owned()),
        )),
        Report::Query {
            props,
            filter,
            limit,
        } => query::handle(ctx, &book, card, props, filter, limit).await,
        Report::Sync {
            props,
            token,
            limit,
        } => sync(ctx, &book, props, token.as_deref(), limit).await,
    }
}

fn unsupported_here() -> DavError {
    DavError::condition(
        StatusCode::FORBIDDEN,
        QName::dav("supported-report"),
        Some("this report is only supported on an address book or a card".to_owned()),
    )
}

async fn multiget(
    ctx: &Ctx,
    book: &AddressBook,
    props: Props,
    hrefs: &[String],
) -> Result<Response, DavError> {
    let user = ctx.user();
    if hrefs.len() > ctx.limits.max_multiget_hrefs {
        return Err(DavError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "addressbook-multiget names {} hrefs; at most {} are served per request",
                hrefs.len(),
                ctx.limits.max_multiget_hrefs
            ),
        ));
    }
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
    // With the card texts asked for, the same query reads up to a slice's worth of them (in
    // href order); the listing reads the others a slice at a time, as for any listing.
    let (metas, texts) = if wanted.is_empty() {
        (Vec::new(), Vec::new())
    } else if props.wants_address_data() {
        ctx.store
            .card_metas_with_texts(&ctx.principal, book.id, &wanted, SLICE_BYTES)
            .await?
    } else {
        let metas = ctx
            .store
            .card_metas(&ctx.principal, book.id, Some(&wanted))
            .await?;
        (metas, Vec::new())
    };
    let mut by_name: HashMap<String, CardMeta> =
        metas.into_iter().map(|m| (m.href.clone(), m)).collect();
    let entries = hrefs
        .iter()
        .zip(names)
        .map(|(href, name)| match name.and_then(|n| by_name.remove(&n)) {
            Some(meta) => Entry::Card(meta),
            // Not a card of this book (or named twice under different spellings).
            None => Entry::Status {
                href: href.clone(),
                status: StatusCode::NOT_FOUND,
            },
        })
        .collect();
    let book_href = paths::book_href(user, &book.slug);
    Ok(Listing::new(ctx, book.id, book_href, props, entries)
        .with_texts(texts)
        .into_response())
}

async fn sync(
    ctx: &Ctx,
    book: &AddressBook,
    props: Props,
    token: Option<&str>,
    limit: Option<usize>,
) -> Result<Response, DavError> {
    let limit = limit.map(|n| n.max(1));
    let book_href = paths::book_href(ctx.user(), &book.slug);
    let (entries, revision, truncated) = match token {
        // Every live card: streamed a page at a time (see `listing`). The token is the book's
        // revision as read *before* listing, so a write racing the listing is reported again
        // next time rather than lost.
        None if limit.is_none() => {
            return Ok(Listing::new(ctx, book.id, book_href, props, Vec::new())
                .whole_book(ctx.limits.stream_page_cards)
                .sync_token(sync_token_at(book.id, book.revision), false)
                .into_response());
        }
        None => initial_sync(ctx, book, limit).await?,
        Some(token) => {
            let since =
                parse_sync_token(token, book.id).ok_or_else(DavError::invalid_sync_token)?;
            incremental_sync(ctx, book, since, limit, &book_href).await?
        }
    };
    Ok(Listing::new(ctx, book.id, book_href, props, entries)
        .sync_token(sync_token_at(book.id, revision), truncated)
        .into_response())
}

/// Every live card, with a client's limit (RFC 6578 3.7): the oldest cards come first and the
/// token stops at the last one sent. This one reads the book's metadata at once (to order it
/// by revision); without a limit the listing is streamed instead.
async fn initial_sync(
    ctx: &Ctx,
    book: &AddressBook,
    limit: Option<usize>,
) -> Result<(Vec<Entry>, i64, bool), DavError> {
    let mut cards = ctx.store.card_metas(&ctx.principal, book.id, None).await?;
    let mut revision = book.revision;
    let mut truncated = false;
    if let Some(limit) = limit
        && cards.len() > limit
    {
        cards.sort_by_key(|c| c.revision);
        cards.truncate(limit);
        revision = cards.last().map_or(revision, |c| c.revision);
        truncated = true;
    }
    Ok((
        cards.into_iter().map(Entry::Card).collect(),
        revision,
        truncated,
    ))
}

async fn incremental_sync(
    ctx: &Ctx,
    book: &AddressBook,
    since: i64,
    limit: Option<usize>,
    book_href: &str,
) -> Result<(Vec<Entry>, i64, bool), DavError> {
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
    let metas = if upserted.is_empty() {
        Vec::new()
    } else {
        ctx.store
            .card_metas(&ctx.principal, book.id, Some(&upserted))
            .await?
    };
    let mut live: HashMap<String, CardMeta> =
        metas.into_iter().map(|m| (m.href.clone(), m)).collect();
    let entries = latest
        .into_iter()
        .map(|change| {
            match (change.op == ChangeOp::Put)
                .then(|| live.remove(&change.href))
                .flatten()
            {
                Some(meta) => Entry::Card(meta),
                // Deleted, or deleted again since the log was read: gone either way.
                None => Entry::Status {
                    href: paths::card_href(book_href, &change.href),
                    status: StatusCode::NOT_FOUND,
                },
            }
        })
        .collect();
    Ok((entries, revision, truncated))
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
