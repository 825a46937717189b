//! The vCard adapter: reads vCard 2.1/3.0/4.0 text with `calcard`, maps it to and from the
//! contact model ([`ContactFields`], [`ContactPatch`]) and writes vCard 3.0/4.0 back.
//!
//! It owns everything that is about vCard *syntax* and *versions*; the model and its rules live
//! in `domain::contact`. The parsed card keeps every property, including ones the model does
//! not know (Apple's `itemN.` groups and `X-ABLabel`, `X-ABADR`, `X-ABDATE`, vendor `X-`
//! properties, BDAY, URL, IMPP, ...), so a patch or a version conversion changes only what it
//! must.
//!
//! Split along the real seams:
//! - [`parse`]: structural checks with line numbers (BEGIN/END, property lines, VERSION), then
//!   calcard, then fixes for what calcard leaves undone (RFC 6868 parameter decoding, vCard 2.1
//!   bare parameters);
//! - [`extract`]: card -> [`ContactFields`];
//! - [`patch`]: [`ContactPatch`] -> card edits that touch only the named fields, built on the
//!   list-editing primitives in [`edit`];
//! - [`merge`]: duplicates merged into one card without losing a property;
//! - [`convert`]: real 3.0 <-> 4.0 conversion (calcard's writer only changes the VERSION line);
//! - [`write`]: our own serializer (CRLF, 75-octet folding on character boundaries, RFC 6868
//!   parameter encoding, unescaped `data:` URIs) because calcard's writer escapes the comma of
//!   `data:...;base64,` URIs, backslash-escapes parameter values and adds `CHARSET=UTF-8` to
//!   3.0 lines.
//!
//! # Mapping decisions
//!
//! - `TEL` kinds: CELL (or Apple's IPHONE) -> Mobile, FAX -> Fax, PAGER -> Pager, WORK ->
//!   Business, HOME -> Home, anything else (no TYPE, VOICE only, ...) -> Other. Phone.com's
//!   "home" default applies to API input without a type, not to cards: a card that says nothing
//!   about a number's kind is not claiming it is a home number. Fax/pager/cell win over
//!   home/work (`TYPE=WORK,FAX` is a fax).
//! - Primary email: `PREF=1` (the lowest PREF, 4.0) or `TYPE=pref` (3.0); the first email when
//!   none is marked.
//! - `KEY` (Drop's public key, usually hex) is written as `KEY;VALUE=text:<key>`, valid in both
//!   3.0 (RFC 2426 lets KEY be reset to text) and 4.0; a key that is a URI is written as a URI,
//!   and an inline binary key reads back as a `data:` URI.
//! - Phonetic names are Apple's `X-PHONETIC-FIRST-NAME` / `-MIDDLE-NAME` / `-LAST-NAME` in both
//!   versions; an RFC 9554 `N;PHONETIC=...` is read as a fallback.
//! - Drop's module data: `X-ROLODEX-MODULE;MODULE=<name>:<compact JSON>`, one per module.
//! - Groups: `KIND:group` + `MEMBER` (4.0) or `X-ADDRESSBOOKSERVER-KIND:group` +
//!   `X-ADDRESSBOOKSERVER-MEMBER` (3.0, Apple); both are read in any version.
//! - `REV` is bumped by a patch that changes something, only if the card already has one.

mod convert;
mod details;
mod edit;
mod extract;
mod merge;
mod parse;
mod patch;
mod write;

#[cfg(test)]
mod details_tests;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use calcard::vcard::{VCard, VCardEntry, VCardProperty, VCardValue};

use crate::domain::contact::{ContactFields, ContactPatch};

pub use parse::{parse_many, parse_many_after, parse_one, text_from_bytes};

/// The vCard version a card was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVersion {
    V2_1,
    V3,
    V4,
}

impl CardVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CardVersion::V2_1 => "2.1",
            CardVersion::V3 => "3.0",
            CardVersion::V4 => "4.0",
        }
    }

    /// 2.1 and 3.0 share the legacy conventions (`TYPE=pref`, `ENCODING=b`, Apple's
    /// `X-ADDRESSBOOKSERVER-*`); 4.0 uses `PREF=1`, `data:` URIs and `KIND`/`MEMBER`.
    pub(crate) fn is_legacy(self) -> bool {
        !matches!(self, CardVersion::V4)
    }
}

/// The vCard versions we write. 2.1 is read but never written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderVersion {
    V3,
    V4,
}

impl RenderVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            RenderVersion::V3 => "3.0",
            RenderVersion::V4 => "4.0",
        }
    }

    /// The MIME `version` parameter / CardDAV `address-data` version for this version.
    pub fn card_version(self) -> CardVersion {
        match self {
            RenderVersion::V3 => CardVersion::V3,
            RenderVersion::V4 => CardVersion::V4,
        }
    }
}

/// Why a vCard text was rejected. Every message says where (line numbers are 1-based, in the
/// text as sent) and what is wrong, so a client developer or an importing user can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VCardError {
    #[error("the body is empty: expected a vCard (BEGIN:VCARD ... END:VCARD)")]
    Empty,
    #[error("line {line}: not UTF-8 text; vCards must be sent as UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: expected BEGIN:VCARD, found {found:?}")]
    NoBegin { line: usize, found: String },
    #[error("line {line}: BEGIN:VCARD has no matching END:VCARD")]
    MissingEnd { line: usize },
    #[error(
        "more than one vCard in the body (another BEGIN:VCARD at line {line}); send exactly one card"
    )]
    MultipleCards { line: usize },
    #[error("line {line}: unexpected text after END:VCARD: {found:?}")]
    TrailingText { line: usize, found: String },
    #[error(
        "line {line}: not a vCard property line: {text:?} (expected NAME:value or NAME;PARAM=value:value)"
    )]
    InvalidLine { line: usize, text: String },
    #[error(
        "line {line}: the vCard has no VERSION property (add VERSION:3.0 or VERSION:4.0 after BEGIN:VCARD)"
    )]
    MissingVersion { line: usize },
    #[error("line {line}: VERSION {version} is not supported (expected 2.1, 3.0 or 4.0)")]
    UnsupportedVersion { line: usize, version: String },
    #[error("line {line}: the vCard could not be read: {message}")]
    Unreadable { line: usize, message: String },
}

/// One parsed vCard: calcard's property list plus the version it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    vcard: VCard,
    version: CardVersion,
}

/// Properties whose values are (usually inline) binary data.
pub const BINARY_PROPERTIES: [&str; 4] = ["PHOTO", "LOGO", "SOUND", "KEY"];

/// A read-only view of one property, for callers that filter on arbitrary properties
/// (CardDAV `prop-filter` / `param-filter`) and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]

pub struct PropertyView {
    /// Apple-style group prefix (`item1` of `item1.EMAIL`).
    pub group: Option<String>,
    /// Property name in upper case (`EMAIL`, `X-ABLABEL`).
    pub name: String,
    /// Parameters as (upper-case name, value); a multi-valued parameter appears once per value.
    pub params: Vec<(String, String)>,
    /// The value as text: components joined with `;`, list items with `,`, unescaped;
    /// binary data as a `data:` URI.
    pub value: String,
}

/// Shown in PRODID of cards created here.
const PRODID: &str = "-//Rolodex//NONSGML Rolodex//EN";

impl Card {
    /// A new, empty card: VERSION, PRODID and UID. FN is added by [`Card::apply_patch`] or
    /// [`Card::ensure_display_name`].
    pub fn new(version: RenderVersion, uid: &str) -> Card {
        let mut vcard = VCard::default();
        vcard.entries.push(text_entry(
            VCardProperty::Version,
            version.as_str().to_owned(),
        ));
        vcard
            .entries
            .push(text_entry(VCardProperty::Prodid, PRODID.to_owned()));
        vcard
            .entries
            .push(text_entry(VCardProperty::Uid, uid.to_owned()));
        Card {
            vcard,
            version: version.card_version(),
        }
    }

    /// The version the card was written in.
    pub fn version(&self) -> CardVersion {
        self.version
    }

    /// This card with what `others` add (see [`merge`]): duplicates merged into one, nothing
    /// lost. Written in this card's version (3.0 for a 2.1 card).
    pub fn merged_with(&self, others: &[Card]) -> Card {
        merge::merge(self, others)
    }

    /// The UID value exactly as written (with any `urn:uuid:` prefix).
    pub fn uid(&self) -> Option<String> {
        extract::uid(&self.vcard)
    }

    /// Sets UID, replacing an existing one in place.
    pub fn set_uid(&mut self, uid: &str) {
        let value = VCardValue::Text(uid.to_owned());
        if let Some(entry) = self
            .vcard
            .entries
            .iter_mut()
            .find(|e| e.name == VCardProperty::Uid)
        {
            entry.values = vec![value];
            // A VALUE=uri/text parameter may no longer describe the new value.
            entry
                .params
                .retain(|p| p.name != calcard::vcard::VCardParameterName::Value);
        } else {
            let at = self
                .vcard
                .entries
                .iter()
                .position(|e| e.name == VCardProperty::Version)
                .map_or(0, |i| i + 1);
            self.vcard.entries.insert(
                at,
                VCardEntry {
                    group: None,
                    name: VCardProperty::Uid,
                    params: Vec::new(),
                    values: vec![value],
                },
            );
        }
    }

    /// Every model field the card holds.
    pub fn extract(&self) -> ContactFields {
        extract::extract(&self.vcard)
    }

    /// Applies `patch`: each field it names replaces the matching properties; everything else
    /// stays as it was. Returns whether the card changed (a patch that repeats current values
    /// changes nothing, not even REV).
    pub fn apply_patch(&mut self, patch: &ContactPatch) -> bool {
        patch::apply(&mut self.vcard, self.version, patch)
    }

    /// Adds FN when it is missing or empty, derived from N, then ORG, NICKNAME, EMAIL, TEL.
    /// Returns true if FN was added; false if FN was present or nothing could be derived.
    pub fn ensure_display_name(&mut self) -> bool {
        patch::ensure_display_name(&mut self.vcard)
    }

    /// The card as vCard text in `version`: CRLF line ends, lines folded at 75 octets. Same
    /// version: every property as parsed (normalized syntax, same meaning). Other version: a
    /// real conversion (see [`convert`]).
    pub fn render(&self, version: RenderVersion) -> String {
        let entries = convert::convert(&self.vcard.entries, self.version, version);
        write::write_card(&entries, version)
    }

    /// All properties except BEGIN/END/VERSION, in card order.
    pub fn properties(&self) -> Vec<PropertyView> {
        self.vcard
            .entries
            .iter()
            .filter(|e| {
                !matches!(
                    e.name,
                    VCardProperty::Begin | VCardProperty::End | VCardProperty::Version
                )
            })
            .map(write::view)
            .collect()
    }

    /// The values of the card's text properties under `i;unicode-casemap`, one per line: what
    /// CardDAV text-match needles are looked up in before the exact match. Binary properties
    /// are left out (nobody text-matches a photo).
    pub fn match_text(&self) -> String {
        let mut out = String::new();
        for property in self.properties() {
            if BINARY_PROPERTIES.contains(&property.name.as_str()) {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&crate::domain::text::casemap(&property.value));
        }
        out
    }

    /// The calcard representation, for callers that need more than the model.
    pub fn vcard(&self) -> &VCard {
        &self.vcard
    }
}

fn text_entry(name: VCardProperty, value: String) -> VCardEntry {
    VCardEntry {
        group: None,
        name,
        params: Vec::new(),
        values: vec![VCardValue::Text(value)],
    }
}
