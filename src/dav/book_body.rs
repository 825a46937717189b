//! The body of a whole-book GET (an export of every card's stored text, one after the other),
//! streamed like a listing (see [`super::listing`]): card metadata a keyset page at a time
//! ([`Store::card_meta_page`]), the texts of a page a slice at a time (see
//! [`slice_end`]), each slice sent as soon as it is read.
//!
//! A database error after the first bytes cannot change the 200 any more: it is logged and
//! the body is cut off there, so the client sees a failed (truncated) transfer.

use std::collections::HashMap;

use axum::body::{Body, Bytes};

use super::Ctx;
use super::listing::slice_end;
use crate::store::{CardBody, CardMeta, PageKey, Principal, Store, StoreError};

/// Where a book export being sent stands.
struct Export {
    store: Store,
    principal: Principal,
    book_id: i64,
    page_cards: usize,
    /// The current page and how far into it the export is.
    page: Vec<CardMeta>,
    position: usize,
    /// Where the next page starts; `None` once the last page is read.
    next: Option<Option<PageKey>>,
}

impl Export {
    /// The texts of the next slice, in listing order (a card deleted meanwhile is left out);
    /// `None` at the end.
    async fn next_slice(&mut self) -> Result<Option<String>, StoreError> {
        if self.position >= self.page.len() {
            let Some(after) = self.next.take() else {
                return Ok(None);
            };
            let (page, next) = self
                .store
                .card_meta_page(
                    &self.principal,
                    self.book_id,
                    after.as_ref(),
                    self.page_cards,
                )
                .await?;
            self.next = next.map(Some);
            self.page = page;
            self.position = 0;
            if self.page.is_empty() {
                return Ok(None);
            }
        }
        let start = self.position;
        let end = slice_end(self.page.len(), start, |i| self.page[i].size);
        self.position = end;
        let slice = &self.page[start..end];
        let bytes: i64 = slice.iter().map(|c| c.size).sum();
        let ids: Vec<i64> = slice.iter().map(|c| c.id).collect();
        let bodies = self
            .store
            .card_bodies_by_id(&self.principal, self.book_id, &ids)
            .await?;
        let by_id: HashMap<i64, &CardBody> = bodies.iter().map(|b| (b.meta.id, b)).collect();
        let mut text = String::with_capacity(usize::try_from(bytes).unwrap_or(0) + 64);
        for id in &ids {
            if let Some(card) = by_id.get(id) {
                text.push_str(&card.vcard);
                if !card.vcard.ends_with('\n') {
                    text.push_str("\r\n");
                }
            }
        }
        Ok(Some(text))
    }
}

/// Every live card's stored text of the book, read `page_cards` cards' metadata at a time.
pub fn card_texts_body(ctx: &Ctx, book_id: i64, page_cards: usize) -> Body {
    let state = Export {
        store: ctx.store.clone(),
        principal: ctx.principal.clone(),
        book_id,
        page_cards: page_cards.max(1),
        page: Vec::new(),
        position: 0,
        next: Some(None),
    };
    let stream = futures_util::stream::unfold(state, |mut export| async move {
        match export.next_slice().await {
            Ok(Some(text)) => Some((Ok::<Bytes, std::io::Error>(Bytes::from(text)), export)),
            Ok(None) => None,
            Err(error) => {
                // The 200 is sent: cut the body here (see the module documentation).
                tracing::warn!(%error, "dav: book export cut off by a store error");
                export.next = None;
                export.page.clear();
                Some((Err(std::io::Error::other(error.to_string())), export))
            }
        }
    });
    Body::from_stream(stream)
}
