//! Import and export formats, as pure text <-> records: vCard files, the Drop messenger's
//! contacts JSON, Google Contacts CSV and Outlook CSV in; Drop JSON and CSV out (vCard export is
//! the stored cards themselves, see `store::export`). No IO: the store writes records, the CLI
//! reads files.
//!
//! An import source becomes a list of [`Entry`]s, one per card, row or JSON object, each with
//! its position, the line it starts on, the [`Record`] to store (or why it cannot be stored) and
//! the repairs made to it. Records are of three kinds: a whole card (vCard files: it replaces
//! the stored card with its UID), a [`PatchRecord`] (CSV and Drop: the fields that format
//! carries, applied to the stored card with its UID or to a new card, see [`card`]) and a
//! tombstone (a Drop entry marked deleted).
//!
//! Every record has a UID, so importing the same source twice finds the same cards: the card's
//! own, else one derived deterministically (from the card text, the Drop `id`, or the CSV row).
//!
//! - [`detect`]: which format a file is, by content and extension;
//! - [`decode`]: bytes -> text (UTF-8, UTF-16, Windows-1252);
//! - [`vcf`], [`drop`], [`google`], [`outlook`]: the formats read; [`csv`] and [`rows`]
//!   underneath; [`csv_out`] and [`drop`] the formats written;
//! - [`card`]: records -> cards;
//! - [`FormatError`]: why a source or an entry cannot be read.

pub mod card;
pub mod csv;
pub mod csv_out;
pub mod decode;
pub mod drop;
mod error;
#[cfg(test)]
mod fuzz;
pub mod google;
pub mod outlook;
pub mod rows;
pub mod vcf;

use sha2::{Digest, Sha256};

use crate::domain::contact::ContactPatch;
use crate::domain::vcard::Card;

pub use card::{BuiltCard, Extra, ExtraKind, Stored, stored_version};
pub use error::FormatError;

/// The formats an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    VCard,
    DropJson,
    GoogleCsv,
    OutlookCsv,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::VCard => "vCard",
            Format::DropJson => "Drop JSON",
            Format::GoogleCsv => "Google CSV",
            Format::OutlookCsv => "Outlook CSV",
        }
    }
}

/// One card, row or object of an import source.
#[derive(Debug)]
pub struct Entry {
    /// 1-based position in its source (cards of a file, data rows of a CSV, items of the
    /// `contacts` array).
    pub position: usize,
    /// Line where it starts; 0 when the format has no useful line (JSON).
    pub line: usize,
    /// What to store, or why it is skipped.
    pub record: Result<Record, FormatError>,
    /// Repairs made while reading it.
    pub repairs: Vec<String>,
}

impl Entry {
    /// The UID the entry is stored under.
    pub fn uid(&self) -> Option<String> {
        match self.record.as_ref().ok()? {
            Record::Card(card) => card.uid(),
            Record::Patch(patch) => Some(patch.uid.clone()),
            Record::Tombstone { uid } => Some(uid.clone()),
        }
    }
}

#[derive(Debug)]
pub enum Record {
    /// A whole card: replaces the stored card with its UID.
    Card(Card),
    /// Model values: applied to the stored card with its UID, or to a new card.
    Patch(Box<PatchRecord>),
    /// Delete the card with this UID, if there is one.
    Tombstone { uid: String },
}

/// The fields a CSV row or Drop contact carries.
#[derive(Debug, Clone)]
pub struct PatchRecord {
    pub uid: String,
    /// Only the fields the format carries are set.
    pub patch: ContactPatch,
    /// Properties outside the model (BDAY, URL, REV, CREATED, the Drop id).
    pub extras: Vec<Extra>,
    /// Whether the format has a name field, so deriving FN is a repair worth reporting.
    pub name_expected: bool,
}

/// A UID derived from `seed` (a UUID-shaped hash): the same seed always gives the same UID.
pub fn derived_uid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Which format `text` is in, from its content first and then the file name's extension.
pub fn detect(file_name: Option<&str>, text: &str) -> Result<Format, FormatError> {
    let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let extension = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    if start
        .get(..11)
        .is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD"))
    {
        return Ok(Format::VCard);
    }
    if start.starts_with(['{', '[']) {
        return Ok(Format::DropJson);
    }
    if let Some(names) = rows::header_of(start) {
        let header = rows::Header::new(&names);
        if google::is_google_header(&header) {
            return Ok(Format::GoogleCsv);
        }
        if outlook::is_outlook_header(&header) {
            return Ok(Format::OutlookCsv);
        }
    }
    match extension.as_deref() {
        Some("vcf" | "vcard") => Ok(Format::VCard),
        Some("json") => Ok(Format::DropJson),
        Some("csv") => Err(FormatError::UnknownCsvColumns),
        _ if start.is_empty() => Ok(Format::VCard),
        _ => Err(FormatError::UnknownFormat),
    }
}

/// Every entry of `text` in `format`. Fails only when the source as a whole cannot be read (not
/// JSON, no CSV header); a bad card or row is an entry with its reason.
pub fn read(format: Format, text: &str) -> Result<Vec<Entry>, FormatError> {
    match format {
        Format::VCard => Ok(vcf::read(text)),
        Format::DropJson => drop::read(text),
        Format::GoogleCsv => google::read(text),
        Format::OutlookCsv => outlook::read(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content_then_extension() {
        assert_eq!(
            detect(Some("x.txt"), "\u{feff}\r\nBEGIN:VCARD\r\n"),
            Ok(Format::VCard)
        );
        assert_eq!(detect(None, " {\"contacts\": []}"), Ok(Format::DropJson));
        assert_eq!(
            detect(
                Some("contacts.csv"),
                "Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value\r\n"
            ),
            Ok(Format::GoogleCsv)
        );
        assert_eq!(
            detect(
                None,
                "First Name,Middle Name,Last Name,Labels,File As,E-mail 1 - Label\n"
            ),
            Ok(Format::GoogleCsv)
        );
        assert_eq!(
            detect(
                None,
                "\"First Name\",\"Last Name\",\"E-mail Address\",\"Business Phone\"\r\n"
            ),
            Ok(Format::OutlookCsv)
        );
        assert!(detect(Some("a.csv"), "foo,bar\n1,2\n").is_err());
        assert_eq!(
            detect(Some("broken.vcf"), "VERSION:3.0\n"),
            Ok(Format::VCard)
        );
        assert!(detect(Some("notes.txt"), "hello").is_err());
    }

    #[test]
    fn derived_uids_are_stable() {
        assert_eq!(derived_uid("a"), derived_uid("a"));
        assert_ne!(derived_uid("a"), derived_uid("b"));
        assert_eq!(derived_uid("a").len(), 36);
    }
}
