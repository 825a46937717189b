//! vCard files (2.1, 3.0, 4.0; one or many cards) -> import entries, with the common quirks
//! repaired and reported: a missing UID is derived from the card's content (so importing the
//! same UID-less file twice finds the same card again), a missing FN is derived from
//! N/ORG/NICKNAME/EMAIL/TEL, and vCard 2.1 (quoted-printable, CHARSET) is rewritten as 3.0.

use super::{Entry, FormatError, Record, derived_uid};
use crate::domain::vcard::{self, CardVersion, RenderVersion};

/// Every card of `text`, in order; a card that cannot be read is an entry with its reason.
pub fn read(text: &str) -> Vec<Entry> {
    vcard::parse_many(text)
        .into_iter()
        .map(|(position, line, parsed)| {
            let mut repairs = Vec::new();
            let record = match parsed {
                Err(e) => Err(FormatError::InvalidCard(e)),
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
                    Ok(Record::Card(card))
                }
            };
            Entry {
                position,
                line,
                record,
                repairs,
            }
        })
        .collect()
}
