//! What a change-log entry records about a card: written (created or replaced) or deleted. The
//! store's change feed and the front ends that report it share this one type.

/// The operation a change-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    Put,
    Delete,
}
