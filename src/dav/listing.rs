//! Card listings (PROPFIND Depth 1 on a book, addressbook-multiget, sync-collection,
//! addressbook-query) sent in slices.
//!
//! A listing knows its entries from card metadata alone (href, ETag, size): either given up
//! front (a multiget's hrefs, a sync's changes, a query's candidates) or, for a whole book
//! ([`Listing::whole_book`]), read from PostgreSQL a keyset page at a time
//! ([`Store::card_meta_page`]). The card texts, when the client asked for `address-data` or the
//! filter needs them, are read a slice at a time (at most [`SLICE_BYTES`] of card text or
//! [`SLICE_CARDS`] cards), and a PROPFIND's dead properties a slice at a time too; each slice
//! is written to the response as it is ready. So what one request holds does not grow with
//! the number or the size of the cards it lists: a client that asks for a whole 100,000-card
//! book gets it, and the server holds one page, with the HTTP connection's backpressure
//! deciding when the next is read.
//!
//! A database error after the first bytes cannot become an HTTP status any more (the 207 and
//! its headers are sent): it is logged, and the body is cut off there, so the client sees a
//! failed transfer of a truncated multistatus (never closed, so no XML parser takes it for a
//! well-formed but incomplete answer).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use super::paths;
use super::props::{PropContext, Resource, needs_dead, write_response_with_dead};
use super::query;
use super::xml::filter::Filter;
use super::xml::names::QName;
use super::xml::request::Props;
use super::xml::write::Multistatus;
use crate::store::{
    CardBody, CardMeta, DeadProperty, PageKey, Principal, ReadAhead, Store, StoreError,
};

/// Most card text read and written per slice.
pub const SLICE_BYTES: i64 = 4 * 1024 * 1024;
/// Most cards per slice.
pub const SLICE_CARDS: usize = 500;

/// Where a slice of `len` entries that starts at `start` ends: at most [`SLICE_CARDS`] entries
/// and [`SLICE_BYTES`] of card text (`size(i)`, 0 for an entry sent without text), and always
/// at least one entry, so a card larger than a slice still goes out alone.
pub(super) fn slice_end(len: usize, start: usize, size: impl Fn(usize) -> i64) -> usize {
    let mut bytes = 0i64;
    let mut end = start;
    while end < len && end - start < SLICE_CARDS {
        let next = size(end);
        if end > start && bytes + next > SLICE_BYTES {
            break;
        }
        bytes += next;
        end += 1;
    }
    end
}
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

/// The rest of a whole book still to be read, a keyset page at a time.
struct BookPages {
    after: Option<PageKey>,
    page_cards: usize,
    exhausted: bool,
    /// The next page, being read while the current one is written: its key is known as soon
    /// as the current page is, so PostgreSQL reads one page while this process writes the
    /// other (at most two pages are held). Measured on 100,000 cards, a whole-book PROPFIND
    /// otherwise left a core idle (bench/results/throughput.md).
    ahead: Option<ReadAhead<Page>>,
}

type Page = (Vec<CardMeta>, Option<PageKey>);

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
    /// The entries known so far: all of them, or the current page of a whole book.
    entries: Vec<Entry>,
    /// A whole book: where its next page starts.
    pages: Option<BookPages>,
    /// A PROPFIND: metadata and dead properties only, never card text.
    propfind: bool,
    /// The answer written so far (a PROPFIND's own response for the book).
    head: Option<Multistatus>,
    matching: Option<Matching>,
    /// The sync-collection token closing the answer.
    sync_token: Option<String>,
    /// Truncated before it starts (a sync limit): report the 507 at the end.
    truncated: bool,
    /// Card texts already read with the entries (a multiget's, up to a slice's worth), by
    /// card id; used up as the slices that list them are written.
    texts: HashMap<i64, CardBody>,
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
            pages: None,
            propfind: false,
            head: None,
            matching: None,
            sync_token: None,
            truncated: false,
            texts: HashMap::new(),
        }
    }

    /// Card texts read with the entries, used instead of reading them again (at most a
    /// slice's worth: the caller bounds them, so a listing holds at most two slices' worth
    /// of card text, these and the slice being written).
    pub fn with_texts(mut self, texts: Vec<CardBody>) -> Listing {
        self.texts = texts.into_iter().map(|body| (body.meta.id, body)).collect();
        self
    }

    /// Every live card of the book, read a page of `page_cards` at a time (in the order of
    /// [`Store::card_metas`]), after any entries given to [`Listing::new`].
    pub fn whole_book(mut self, page_cards: usize) -> Listing {
        self.pages = Some(BookPages {
            after: None,
            page_cards: page_cards.max(1),
            exhausted: false,
            ahead: None,
        });
        self
    }

    /// Answers a PROPFIND: `ms` already holds the responses before the cards (the book's
    /// own); cards get their live properties from metadata and their dead properties, never
    /// `address-data` (a REPORT's).
    pub fn propfind(mut self, ms: Multistatus) -> Listing {
        self.propfind = true;
        self.head = Some(ms);
        self
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
    pub fn into_response(mut self) -> Response {
        let ms = self
            .head
            .take()
            .unwrap_or_else(|| Multistatus::new(self.minimal));
        let state = Cursor {
            ms,
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
                    // The 207 is sent: the body is cut here (see the module documentation).
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
        !self.propfind && (self.matching.is_some() || self.props.wants_address_data())
    }

    fn needs_dead(&self) -> bool {
        self.propfind && needs_dead(&self.props.selection)
    }

    /// Whether entries remain to be written, reading the next page of a whole book when the
    /// current one is used up.
    async fn more(&mut self, position: &mut usize) -> Result<bool, StoreError> {
        if *position < self.entries.len() {
            return Ok(true);
        }
        let Some(pages) = self.pages.as_mut().filter(|p| !p.exhausted) else {
            return Ok(false);
        };
        let (metas, next) = match pages.ahead.take() {
            Some(ahead) => ahead.finish().await?,
            None => {
                self.store
                    .card_meta_page(
                        &self.principal,
                        self.book_id,
                        pages.after.as_ref(),
                        pages.page_cards,
                    )
                    .await?
            }
        };
        pages.exhausted = next.is_none();
        pages.ahead = next.clone().map(|after| {
            let (store, principal) = (self.store.clone(), self.principal.clone());
            let (book_id, cards) = (self.book_id, pages.page_cards);
            ReadAhead::start(async move {
                store
                    .card_meta_page(&principal, book_id, Some(&after), cards)
                    .await
            })
        });
        pages.after = next;
        self.entries = metas.into_iter().map(Entry::Card).collect();
        *position = 0;
        Ok(!self.entries.is_empty())
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
    async fn next_chunk(&mut self) -> Result<String, StoreError> {
        if !self.listing.more(&mut self.position).await? {
            self.write_end();
            self.done = true;
            let ms = std::mem::replace(&mut self.ms, Multistatus::new(false));
            return Ok(ms.finish());
        }
        let end = self.slice_end();
        let slice = self.listing.entries[self.position..end].to_vec();
        self.position = end;
        let ids: Vec<i64> = slice
            .iter()
            .filter_map(|entry| match entry {
                Entry::Card(meta) => Some(meta.id),
                Entry::Status { .. } => None,
            })
            .collect();
        let bodies = if self.listing.needs_bodies() {
            let mut bodies = Vec::with_capacity(ids.len());
            let mut unread = Vec::new();
            for id in ids.iter().copied() {
                match self.listing.texts.remove(&id) {
                    Some(body) => bodies.push(body),
                    None => unread.push(id),
                }
            }
            if !unread.is_empty() {
                bodies.extend(
                    self.listing
                        .store
                        .card_bodies_by_id(&self.listing.principal, self.listing.book_id, &unread)
                        .await?,
                );
            }
            bodies
        } else {
            Vec::new()
        };
        let mut dead = if self.listing.needs_dead() {
            self.listing
                .store
                .dead_properties_of_cards(&self.listing.principal, self.listing.book_id, &ids)
                .await?
        } else {
            HashMap::new()
        };
        let accepted = self.matches(&bodies).await;
        self.write_slice(&slice, &bodies, &accepted, &mut dead);
        Ok(self.ms.take_written())
    }

    /// The end (exclusive) of the next slice: at least one entry, then up to the card and
    /// byte budgets.
    fn slice_end(&self) -> usize {
        let entries = &self.listing.entries;
        let with_text = self.listing.needs_bodies();
        slice_end(entries.len(), self.position, |i| match &entries[i] {
            Entry::Card(meta) if with_text => meta.size,
            _ => 0,
        })
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

    fn write_slice(
        &mut self,
        slice: &[Entry],
        bodies: &[CardBody],
        accepted: &[bool],
        dead: &mut HashMap<i64, Vec<DeadProperty>>,
    ) {
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
        if !listing.propfind {
            prop_ctx.address_version = listing.props.address_version;
        }
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
                        write_response_with_dead(
                            &mut self.ms,
                            &href,
                            &resource,
                            &listing.props.selection,
                            &prop_ctx,
                            &[],
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
                    let dead = dead.remove(&meta.id).unwrap_or_default();
                    write_response_with_dead(
                        &mut self.ms,
                        &href,
                        &resource,
                        &listing.props.selection,
                        &prop_ctx,
                        &dead,
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
        if let Some(pages) = &mut self.listing.pages {
            pages.exhausted = true;
            pages.ahead = None;
        }
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
