//! Importing vCard text with one or many cards: each card is stored on its own (one bad card
//! never aborts the rest), matched to an existing card by UID (so re-importing updates and
//! never duplicates), and common quirks are repaired and reported: a missing UID is derived
//! deterministically from the card's content, a missing FN from N/ORG/NICKNAME/EMAIL/TEL, and
//! vCard 2.1 encodings are rewritten as 3.0.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};

use super::writes::Precondition;
use super::{ContactRecord, Principal, Store, StoreError};
use crate::db::schema::contacts;
use crate::domain::vcard::{self, CardVersion, RenderVersion};

/// What happened to one card of an import.
#[derive(Debug)]
pub struct ImportedCard {
    /// 1-based position of the card in the input.
    pub position: usize,
    /// Line where the card starts.
    pub line: usize,
    pub outcome: Result<ImportAction, StoreError>,
    /// Human-readable repairs applied before storing.
    pub repairs: Vec<String>,
}

#[derive(Debug)]
pub enum ImportAction {
    Created(ContactRecord),
    Updated(ContactRecord),
    /// Same UID and identical content: nothing written.
    Unchanged(ContactRecord),
}

/// A UID derived from the card's text, so importing the same UID-less file twice finds the
/// same card again.
fn derived_uid(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let bytes: [u8; 16] = digest[..16].try_into().unwrap_or([0; 16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl Store {
    /// Imports every card in `text` into an address book of the principal.
    pub async fn import_vcards(
        &self,
        principal: &Principal,
        address_book_id: i64,
        text: &str,
    ) -> Result<Vec<ImportedCard>, StoreError> {
        // Fail early (and once) when the book is not the principal's.
        self.get_address_book(principal, address_book_id).await?;
        let mut results = Vec::new();
        for (position, line, parsed) in vcard::parse_many(text) {
            let mut repairs = Vec::new();
            let outcome = match parsed {
                Err(e) => Err(StoreError::InvalidCard(e)),
                Ok(mut card) => {
                    let original = card.render(match card.version() {
                        CardVersion::V4 => RenderVersion::V4,
                        _ => RenderVersion::V3,
                    });
                    if card.version() == CardVersion::V2_1 {
                        repairs.push("converted vCard 2.1 to 3.0".to_owned());
                    }
                    if card.uid().is_none_or(|u| u.trim().is_empty()) {
                        let uid = derived_uid(&original);
                        card.set_uid(&uid);
                        repairs.push(format!("added missing UID {uid}"));
                    }
                    if card.ensure_display_name() {
                        repairs.push("derived missing FN".to_owned());
                    }
                    let version = if card.version() == CardVersion::V4 {
                        RenderVersion::V4
                    } else {
                        RenderVersion::V3
                    };
                    let stored = card.render(version);
                    let uid = card.uid().unwrap_or_default();
                    self.store_imported(principal, address_book_id, &uid, &stored)
                        .await
                }
            };
            results.push(ImportedCard {
                position,
                line,
                outcome,
                repairs,
            });
        }
        Ok(results)
    }

    async fn store_imported(
        &self,
        principal: &Principal,
        address_book_id: i64,
        uid: &str,
        text: &str,
    ) -> Result<ImportAction, StoreError> {
        let existing_href: Option<String> = {
            let mut conn = self.conn().await?;
            contacts::table
                .filter(contacts::address_book_id.eq(address_book_id))
                .filter(contacts::uid.eq(uid))
                .filter(contacts::deleted_at.is_null())
                .select(contacts::href)
                .first(&mut conn)
                .await
                .optional()?
        };
        match existing_href {
            Some(href) => {
                let current = self
                    .get_contact_by_href(principal, address_book_id, &href)
                    .await?;
                if current.vcard == text {
                    return Ok(ImportAction::Unchanged(current));
                }
                let put = self
                    .put_vcard(
                        principal,
                        address_book_id,
                        &href,
                        text,
                        Precondition::IfMatch(current.etag),
                    )
                    .await?;
                Ok(ImportAction::Updated(put.record))
            }
            None => {
                let href = format!("{}.vcf", href_safe(uid));
                let put = self
                    .put_vcard(
                        principal,
                        address_book_id,
                        &href,
                        text,
                        Precondition::IfNoneMatchAny,
                    )
                    .await?;
                Ok(ImportAction::Created(put.record))
            }
        }
    }
}

/// A resource name from a UID: UIDs may hold characters (`/`, `:`) unfit for a path segment.
fn href_safe(uid: &str) -> String {
    let cleaned: String = uid
        .trim()
        .trim_start_matches("urn:uuid:")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if cleaned.is_empty() {
        derived_uid(uid)
    } else {
        cleaned
    }
}
