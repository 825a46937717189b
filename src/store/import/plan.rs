//! Deciding what each entry of a batch does, before any transaction: the record is turned into
//! the card text to store (a vCard as rendered, a CSV/Drop record applied to the stored card),
//! compared with what is stored under its UID, and, for a write, parsed back to extract the
//! projection, exactly as a CardDAV PUT of that text would be. No IO; no lock is held.

use std::collections::HashSet;

use super::super::CardLimits;
use super::SkipReason;
use crate::domain::contact::ContactFields;
use crate::domain::etag;
use crate::domain::formats::{self, Entry, Record, Stored, derived_uid};
use crate::domain::vcard::{self, Card, CardVersion};

/// What the planner needs to know about a live card that a batch may touch.
#[derive(Debug, Clone)]
pub(super) struct Existing {
    /// 0 for a card only planned so far (dry run).
    pub id: i64,
    pub uid: String,
    pub href: String,
    pub vcard: String,
    pub etag: String,
    pub stored: Stored,
}

/// A card write, ready for the batch transaction.
#[derive(Debug, Clone)]
pub(super) struct Write {
    pub uid: String,
    pub href: String,
    pub text: String,
    pub version: CardVersion,
    pub etag: String,
    pub fields: ContactFields,
    pub match_text: String,
    /// The card it replaces: (id, ETag it must still have).
    pub replaces: Option<(i64, String)>,
}

#[derive(Debug)]
pub(super) enum Plan {
    Unchanged { id: i64 },
    Write(Box<Write>),
}

/// A resource name from a UID: UIDs may hold characters (`/`, `:`) unfit for a path segment.
pub(super) fn href_for(uid: &str) -> String {
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
        format!("{}.vcf", derived_uid(uid))
    } else {
        format!("{cleaned}.vcf")
    }
}

/// Plans one card or patch entry against the stored card with its UID (if any). `taken` holds
/// the resource names in use; a new card's name is added to it. Repairs found while planning
/// (FN derived for a record that has a name field) are appended to the entry's.
pub(super) fn plan(
    entry: &mut Entry,
    existing: Option<&Existing>,
    taken: &mut HashSet<String>,
    limits: CardLimits,
) -> Result<Plan, SkipReason> {
    let (card, uid) = match &entry.record {
        Err(reason) => return Err(SkipReason::Unreadable(reason.clone())),
        Ok(Record::Tombstone { .. }) => return Err(SkipReason::Tombstone),
        Ok(Record::Card(card)) => (card.clone(), card.uid().unwrap_or_default()),
        Ok(Record::Patch(record)) => {
            let base = match existing {
                Some(existing) => Some((
                    vcard::parse_one(&existing.vcard).map_err(|source| {
                        SkipReason::StoredUnreadable {
                            uid: record.uid.clone(),
                            source,
                        }
                    })?,
                    &existing.stored,
                )),
                None => None,
            };
            let built = formats::card::build(base, record).map_err(SkipReason::Build)?;
            let repair = "derived missing FN";
            // A batch may be planned twice (see `Run::batch`): report the repair once.
            if built.derived_display_name
                && record.name_expected
                && !entry.repairs.iter().any(|r| r == repair)
            {
                entry.repairs.push(repair.to_owned());
            }
            (built.card, record.uid.clone())
        }
    };
    let text = card.render(formats::stored_version(&card));
    if let Some(existing) = existing
        && same_card(&existing.vcard, &card, &text)
    {
        return Ok(Plan::Unchanged { id: existing.id });
    }
    // The projection comes from the text as stored, as for any other write.
    limits.check_bytes(&text)?;
    let stored = vcard::parse_one(&text).map_err(SkipReason::InvalidCard)?;
    limits.check(&stored, &text)?;
    if stored.uid().as_deref() != Some(uid.as_str()) || uid.trim().is_empty() {
        return Err(SkipReason::UidChanged(uid));
    }
    let href = match existing {
        Some(existing) => existing.href.clone(),
        None => {
            let preferred = href_for(&uid);
            let alternative =
                preferred.replace(".vcf", &format!("-{}.vcf", &derived_uid(&uid)[..8]));
            let href = [preferred, alternative]
                .into_iter()
                .find(|h| !taken.contains(h))
                .ok_or_else(|| SkipReason::NoFreeName(uid.clone()))?;
            taken.insert(href.clone());
            href
        }
    };
    Ok(Plan::Write(Box::new(Write {
        etag: etag::of_bytes(text.as_bytes()),
        version: stored.version(),
        fields: stored.extract(),
        match_text: stored.match_text(),
        replaces: existing.map(|e| (e.id, e.etag.clone())),
        uid,
        href,
        text,
    })))
}

/// Whether the stored card already is `card` (rendered as `text`): the same bytes, or the same
/// once the stored text (as a client may have sent it, in whatever version) is rendered our way
/// in the incoming card's version — as an export in that version would have written it, so
/// that importing a 3.0 export of 4.0 cards (or the other way round) changes nothing.
fn same_card(stored_text: &str, card: &Card, text: &str) -> bool {
    stored_text == text
        || vcard::parse_one(stored_text)
            .is_ok_and(|stored| stored.render(formats::stored_version(card)) == text)
}
