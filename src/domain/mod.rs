//! Pure types and rules: the contact model, the vCard mapping, import/export formats, phone numbers,
//! ETags, search folding, duplicate detection and the acting principal. No IO, no diesel, no axum, no async-graphql.

pub mod change;
pub mod contact;
pub mod dedupe;
pub mod details;
pub mod etag;
pub mod formats;
#[cfg(test)]
pub(crate) mod mutation;
pub mod phone;
pub mod principal;
pub mod text;
pub mod vcard;
