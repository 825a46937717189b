//! Card listings (addressbook-multiget, sync-collection, addressbook-query) sent in slices.
//!
//! A listing knows its entries from card metadata alone (href, ETag, size, one query for any
//! number of cards); the card texts, when the client asked for `address-data` or the filter
//! needs them, are read a slice at a time (at most [`SLICE_BYTES`] of card text or
//! [`SLICE_CARDS`] cards) and written to the response as they arrive. So what one request
//! holds does not grow with the number or the size of the cards it lists: a client that asks
//! for a whole 10,000-card book gets it, and the server holds one slice, with the HTTP
//! connection's backpressure deciding when the next is read.
//!
//! A database error after the first bytes cannot become an HTTP status any more; the body is
//! then cut off (the client sees a failed transfer, never a well-formed but incomplete
//! answer).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use super::paths;
use super::props::{PropContext, Resource, write_response};
use super::query;
use super::xml::filter::Filter;
use super::xml::names::QName;
use super::xml::request::Props;
use super::xml::write::Multistatus;
use crate::store::{CardBody, CardMeta, Principal, Store};

/// Most card text read and written per slice.
pub const SLICE_BYTES: i64 = 4 * 1024 * 1024;
/// Most cards per slice.
pub const SLICE_CARDS: usize = 500;
/// A slice with more cards than this is matched on the blocking pool: parsing hundreds of
/// cards takes long enough to stall other requests on a runtime worker.
const INLINE_MATCH_CARDS: usize = 64;

/// One response of a listing, in answer order.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A card, written with the request's property selection.
    Card(CardMeta),
    /// A status-only response: an href that names no card, a card deleted since a sync token.
    Status { href: String, status: StatusCode },
}

/// Only the cards a filter matches are listed, at most `limit` of them (addressbook-query);
/// one more match than that truncates the answer (RFC 6352 8.6.1).
pub struct Matching {
    pub filter: Arc<Filter>,
    pub limit: Option<usize>,
}

/// A listing ready to be sent.
pub struct Listing {
    store: Store,
    principal: Principal,
    book_id: i64,
    book_href: String,
    props: Props,
    minimal: bool,
    max_resource_size: usize,
    apple: bool,
    entries: Vec<Entry>,
    matching: Option<Matching>,
    /// The sync-collection token closing the answer.
    sync_token: Option<String>,
    /// Truncated before it starts (a sync limit): report the 507 at the end.
    truncated: bool,
}

impl Listing {
    pub fn new(
        ctx: &Ctx,
        book_id: i64,
        book_href: String,
        props: Props,
        entries: Vec<Entry>,
    ) -> Listing {
        Listing {
            store: ctx.store.clone(),
            principal: ctx.principal.clone(),
            book_id,
            book_href,
            props,
            minimal: ctx.minimal(),
            max_resource_size: ctx.limits.max_card_bytes,
            apple: ctx.apple(),
            entries,
            matching: None,
            sync_token: None,
            truncated: false,
        }
    }

    /// Lists only the cards `matching.filter` accepts.
    pub fn matching(mut self, matching: Matching) -> Listing {
        self.matching = Some(matching);
        self
    }

    /// Ends the answer with this sync token; `truncated` when the entries stop short of it
    /// (RFC 6578 3.6: a 507 for the collection tells the client to ask again).
    pub fn sync_token(mut self, token: String, truncated: bool) -> Listing {
        self.sync_token = Some(token);
        self.truncated = truncated;
        self
    }

    /// The 207 answer; its body is produced slice by slice as the client reads it.
    pub fn into_response(self) -> Response {
        let state = Cursor {
            ms: Multistatus::new(self.minimal),
            listing: self,
            position: 0,
            matched: 0,
            done: false,
        };
        let stream = futures_util::stream::unfold(state, |mut cursor| async move {
            if cursor.done {
                return None;
            }
            match cursor.next_chunk().await {
                Ok(chunk) => Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), cursor)),
                Err(error) => {
                    tracing::warn!(%error, "dav: listing cut off by a store error");
                    cursor.done = true;
                    Some((Err(std::io::Error::other(error.to_string())), cursor))
                }
            }
        });
        let mut response = (StatusCode::MULTI_STATUS, Body::from_stream(stream)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        response
    }

    fn needs_bodies(&self) -> bool {
        self.matching.is_some() || self.props.wants_address_data()
    }
}

/// Where a listing being sent stands.
struct Cursor {
    listing: Listing,
    ms: Multistatus,
    position: usize,
    matched: usize,
    done: bool,
}

impl Cursor {
    /// Writes the next slice (or the end of the answer) and returns its bytes.
    async fn next_chunk(&mut self) -> Result<String, crate::store::StoreError> {
        let end = self.slice_end();
        let slice = self.listing.entries[self.position..end].to_vec();
        self.position = end;
        let bodies = if self.listing.needs_bodies() {
            let ids: Vec<i64> = slice
                .iter()
                .filter_map(|entry| match entry {
                    Entry::Card(meta) => Some(meta.id),
                    Entry::Status { .. } => None,
                })
                .collect();
            self.listing
                .store
                .card_bodies_by_id(&self.listing.principal, self.listing.book_id, &ids)
                .await?
        } else {
            Vec::new()
        };
        let accepted = self.matches(&bodies).await;
        self.write_slice(&slice, &bodies, &accepted);
        if self.position >= self.listing.entries.len() {
            self.write_end();
            self.done = true;
            let ms = std::mem::replace(&mut self.ms, Multistatus::new(false));
            return Ok(ms.finish());
        }
        Ok(self.ms.take_written())
    }

    /// The end (exclusive) of the next slice: at least one entry, then up to the card and
    /// byte budgets.
    fn slice_end(&self) -> usize {
        let entries = &self.listing.entries;
        let with_text = self.listing.needs_bodies();
        let mut bytes = 0i64;
        let mut end = self.position;
        while end < entries.len() && end - self.position < SLICE_CARDS {
            if with_text && let Entry::Card(meta) = &entries[end] {
                if end > self.position && bytes + meta.size > SLICE_BYTES {
                    break;
                }
                bytes += meta.size;
            }
            end += 1;
        }
        end
    }

    /// Which of `bodies` the listing's filter accepts (all of them without a filter).
    async fn matches(&self, bodies: &[CardBody]) -> Vec<bool> {
        let Some(matching) = &self.listing.matching else {
            return vec![true; bodies.len()];
        };
        let texts: Vec<String> = bodies.iter().map(|b| b.vcard.clone()).collect();
        let filter = Arc::clone(&matching.filter);
        if texts.len() <= INLINE_MATCH_CARDS {
            return query::matching_texts(&filter, &texts);
        }
        tokio::task::spawn_blocking(move || query::matching_texts(&filter, &texts))
            .await
            // A panic while matching is a bug in the matcher: list nothing of this slice
            // rather than take the request down (it is logged by the runtime).
            .unwrap_or_else(|_| vec![false; bodies.len()])
    }

    fn write_slice(&mut self, slice: &[Entry], bodies: &[CardBody], accepted: &[bool]) {
        let listing = &self.listing;
        let by_id: HashMap<i64, (&CardBody, bool)> = bodies
            .iter()
            .zip(accepted)
            .map(|(body, ok)| (body.meta.id, (body, *ok)))
            .collect();
        let mut prop_ctx = PropContext::new(
            listing.principal.user_name.as_str(),
            listing.max_resource_size,
            listing.apple,
        );
        prop_ctx.address_version = listing.props.address_version;
        let with_data = listing.props.wants_address_data();
        let mut truncated = false;
        for entry in slice {
            match entry {
                Entry::Status { href, status } => self.ms.status_response(href, *status),
                Entry::Card(meta) => {
                    let href = paths::card_href(&listing.book_href, &meta.href);
                    let found = by_id.get(&meta.id);
                    if let Some(matching) = &listing.matching {
                        // A card deleted since it was listed, or one the filter rejects, is
                        // not part of a query's answer.
                        let Some((body, true)) = found else { continue };
                        if matching.limit.is_some_and(|limit| self.matched >= limit) {
                            truncated = true;
                            break;
                        }
                        self.matched += 1;
                        let resource = Resource::Card {
                            meta: &body.meta,
                            body: with_data.then_some((body.vcard.as_str(), body.vcard_version)),
                        };
                        write_response(
                            &mut self.ms,
                            &href,
                            &resource,
                            &listing.props.selection,
                            &prop_ctx,
                        );
                        continue;
                    }
                    let resource = match (listing.needs_bodies(), found) {
                        (false, _) => Resource::Card { meta, body: None },
                        (true, Some((body, _))) => Resource::Card {
                            meta: &body.meta,
                            body: Some((body.vcard.as_str(), body.vcard_version)),
                        },
                        // Deleted between the listing and this slice: gone either way.
                        (true, None) => {
                            self.ms.status_response(&href, StatusCode::NOT_FOUND);
                            continue;
                        }
                    };
                    write_response(
                        &mut self.ms,
                        &href,
                        &resource,
                        &listing.props.selection,
                        &prop_ctx,
                    );
                }
            }
        }
        if truncated {
            self.truncate();
        }
    }

    /// Stops the listing here and reports the truncation at its end.
    fn truncate(&mut self) {
        self.listing.truncated = true;
        self.position = self.listing.entries.len();
    }

    fn write_end(&mut self) {
        if self.listing.truncated {
            self.ms.status_response_with_error(
                &self.listing.book_href,
                StatusCode::INSUFFICIENT_STORAGE,
                Some(&QName::dav("number-of-matches-within-limits")),
            );
        }
        if let Some(token) = &self.listing.sync_token {
            self.ms.sync_token(token);
        }
    }
}

/// The body of a whole-book GET: every card's stored text, one after the other, read a slice
/// at a time like a listing.
pub fn card_texts_body(ctx: &Ctx, book_id: i64, cards: Vec<CardMeta>) -> Body {
    struct Export {
        store: Store,
        principal: Principal,
        book_id: i64,
        cards: Vec<CardMeta>,
        position: usize,
    }
    let state = Export {
        store: ctx.store.clone(),
        principal: ctx.principal.clone(),
        book_id,
        cards,
        position: 0,
    };
    let stream = futures_util::stream::unfold(state, |mut export| async move {
        if export.position >= export.cards.len() {
            return None;
        }
        let start = export.position;
        let mut end = start;
        let mut bytes = 0i64;
        while end < export.cards.len()
            && end - start < SLICE_CARDS
            && (end == start || bytes + export.cards[end].size <= SLICE_BYTES)
        {
            bytes += export.cards[end].size;
            end += 1;
        }
        export.position = end;
        let ids: Vec<i64> = export.cards[start..end].iter().map(|c| c.id).collect();
        let bodies = match export
            .store
            .card_bodies_by_id(&export.principal, export.book_id, &ids)
            .await
        {
            Ok(bodies) => bodies,
            Err(error) => {
                tracing::warn!(%error, "dav: book export cut off by a store error");
                export.position = export.cards.len();
                return Some((Err(std::io::Error::other(error.to_string())), export));
            }
        };
        let by_id: HashMap<i64, &CardBody> = bodies.iter().map(|b| (b.meta.id, b)).collect();
        let mut text = String::with_capacity(usize::try_from(bytes).unwrap_or(0) + 64);
        // In listing order; a card deleted meanwhile is left out.
        for id in &ids {
            if let Some(card) = by_id.get(id) {
                text.push_str(&card.vcard);
                if !card.vcard.ends_with('\n') {
                    text.push_str("\r\n");
                }
            }
        }
        Some((Ok::<Bytes, std::io::Error>(Bytes::from(text)), export))
    });
    Body::from_stream(stream)
}
