//! The acting principal: who a request or CLI command acts as, and the kinds of credential that
//! authenticate one. Every store call takes a principal, and every query the store runs is
//! scoped to its user.

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub user_name: String,
}

/// What a credential may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `Authorization: Bearer <token>` (GraphQL, scripts).
    Token,
    /// A password for HTTP Basic (CardDAV clients), usable instead of the account password.
    AppPassword,
}

impl CredentialKind {
    /// What people call it, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            CredentialKind::Token => "token",
            CredentialKind::AppPassword => "app password",
        }
    }
}
