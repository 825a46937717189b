//! The acting principal: who a request or CLI command acts as. Every store call takes one, and
//! every query the store runs is scoped to its user.

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub user_name: String,
}
