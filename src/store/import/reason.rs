//! [`SkipReason`]: why one entry of an import was not stored. Every other entry still is; the
//! reason is reported beside the entry's position (`rolodex import`, GraphQL's import results).

use crate::domain::formats::FormatError;
use crate::domain::vcard::VCardError;
use crate::store::{CardLimitExceeded, StoreError};

/// Why an entry was skipped.
#[derive(Debug, thiserror::Error)]
pub enum SkipReason {
    /// The entry itself cannot be read (a broken card, a bad CSV row or Drop contact).
    #[error(transparent)]
    Unreadable(#[from] FormatError),
    /// A tombstone reached the card planner (tombstones are applied on their own).
    #[error("a tombstone is not a card")]
    Tombstone,
    /// The card a CSV or Drop record applies to cannot be read back.
    #[error("the stored card with UID {uid:?} cannot be read: {source}")]
    StoredUnreadable { uid: String, source: VCardError },
    #[error("cannot build the card: {0}")]
    Build(VCardError),
    /// The card as it would be stored is beyond the card limits.
    #[error(transparent)]
    TooLarge(#[from] CardLimitExceeded),
    /// The card as it would be stored does not read back.
    #[error("invalid vCard: {0}")]
    InvalidCard(VCardError),
    #[error("the card's UID changed while storing it ({0:?})")]
    UidChanged(String),
    #[error("no free resource name for UID {0:?}")]
    NoFreeName(String),
    /// Another writer changed the card between planning and writing, every time.
    #[error("the card changed during the import; import the file again")]
    ChangedMeanwhile,
    /// The database refused this card (its batch was written again one card at a time).
    #[error(transparent)]
    Refused(StoreError),
    /// The batch wrote fewer cards than it planned.
    #[error("not written")]
    NotWritten,
}
