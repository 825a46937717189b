//! vCard files (2.1, 3.0, 4.0; one or many cards) -> import entries, with the common quirks
//! repaired and reported: a missing UID is derived from the card's content (so importing the
//! same UID-less file twice finds the same card again), a missing FN is derived from
//! N/ORG/NICKNAME/EMAIL/TEL, and vCard 2.1 (quoted-printable, CHARSET) is rewritten as 3.0.
//!
//! A large file is read in parts ([`Splitter`] says where one may start, [`read_part`] reads
//! one), giving the very entries [`read`] gives for the whole text.

use super::{Entry, FormatError, Record, derived_uid};
use crate::domain::vcard::{self, CardVersion, RenderVersion};

/// Where a vCard file may be cut into parts that read as the whole text does: before a line
/// that starts a card (`BEGIN:VCARD`, except as the folded continuation of a line inside a
/// card). The reader of the whole text is in the same state there whatever came before:
/// outside any card, or about to close an unfinished one as missing its END.
#[derive(Debug, Default)]
pub struct Splitter {
    in_card: bool,
}

impl Splitter {
    /// Takes the next line of the file (with or without its line end); whether it starts a
    /// card, so that a part may begin with it.
    pub fn starts_card(&mut self, line: &str) -> bool {
        let content = line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| {
            let trimmed = content.trim();
            trimmed
                .strip_prefix('\u{feff}')
                .unwrap_or(trimmed)
                .eq_ignore_ascii_case(m)
        };
        // As `vcard::parse_many` reads lines: inside a card an indented line continues the
        // one before it, whatever its text.
        if self.in_card && content.starts_with([' ', '\t']) {
            return false;
        }
        if marker("BEGIN:VCARD") {
            self.in_card = true;
            return true;
        }
        if self.in_card && marker("END:VCARD") {
            self.in_card = false;
        }
        false
    }
}

/// The entries of one part of a file cut by [`Splitter`]: positions continue after
/// `entries_before` and lines after `lines_before` (what the parts before it held).
pub fn read_part(text: &str, entries_before: usize, lines_before: usize) -> Vec<Entry> {
    let mut entries = entries_of(vcard::parse_many_after(text, lines_before));
    for entry in &mut entries {
        entry.position += entries_before;
    }
    entries
}

/// Every card of `text`, in order; a card that cannot be read is an entry with its reason.
pub fn read(text: &str) -> Vec<Entry> {
    entries_of(vcard::parse_many(text))
}

fn entries_of(parsed: Vec<(usize, usize, Result<vcard::Card, vcard::VCardError>)>) -> Vec<Entry> {
    parsed
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
