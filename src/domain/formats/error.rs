//! [`FormatError`]: why an import source, or one entry of it, cannot be read. The one error
//! enum of the format layer; its messages are what `rolodex import` prints after `skipped:`,
//! and what GraphQL's import reports per entry.

use crate::domain::contact::ValidationError;
use crate::domain::vcard::VCardError;

/// Why a source (a whole file) or an entry (a card, row or JSON object) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    // ---- a whole source ----
    #[error("a CSV file whose columns are neither Google Contacts' nor Outlook's")]
    UnknownCsvColumns,
    #[error("not a vCard, Drop JSON, Google CSV or Outlook CSV file")]
    UnknownFormat,
    /// serde_json's message (line and column of the error).
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("expected {{\"contacts\": [...]}} (Drop contacts JSON)")]
    NotDropContacts,
    #[error(
        "cannot read the CSV header: line {line}: a quoted field is never closed (missing '\"')"
    )]
    UnreadableCsvHeader { line: usize },

    // ---- one entry ----
    #[error("invalid vCard: {0}")]
    InvalidCard(#[from] VCardError),
    /// A CSV record that runs to the end of the text.
    #[error("line {line}: a quoted field is never closed (missing '\"')")]
    UnclosedQuote { line: usize },
    #[error("the row has {fields} fields but the header names {columns} columns")]
    TooManyFields { fields: usize, columns: usize },
    /// A Drop contact that is not a JSON object (the JSON text of what it is).
    #[error("a contact must be a JSON object, not {0}")]
    NotAnObject(String),
    /// A Drop field of the wrong JSON type: `expected` completes "must …" (`be a string`).
    #[error("`{key}` must {expected}, not {found}")]
    WrongType {
        key: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("`{key}` is not a timestamp: {found}")]
    NotATimestamp { key: &'static str, found: String },
    #[error("`{key}` is out of range: {number}")]
    TimestampOutOfRange { key: &'static str, number: i64 },
    /// A value the contact model refuses.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
}
