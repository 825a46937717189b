//! Opaque global IDs (Relay): base64url of `Kind:number`. Clients must treat them as opaque;
//! `databaseId` exposes the number for APIs (like Phone.com's) that use integer ids.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::validation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Contact,
    Group,
    AddressBook,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Contact => "Contact",
            NodeKind::Group => "Group",
            NodeKind::AddressBook => "AddressBook",
        }
    }
}

pub fn encode(kind: NodeKind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes any global ID.
pub fn decode(id: &ID) -> Option<(NodeKind, i64)> {
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_str().trim_end_matches('='))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, number) = text.split_once(':')?;
    let kind = match kind {
        "Contact" => NodeKind::Contact,
        "Group" => NodeKind::Group,
        "AddressBook" => NodeKind::AddressBook,
        _ => return None,
    };
    Some((kind, number.parse().ok()?))
}

/// Decodes an ID argument that must name a `kind`. A plain integer is accepted too (the seed
/// APIs use integer ids). A well-formed ID of another kind is a validation error naming `field`.
pub fn expect(id: &ID, kind: NodeKind, field: &str) -> async_graphql::Result<i64> {
    if let Ok(number) = id.as_str().parse::<i64>() {
        return Ok(number);
    }
    match decode(id) {
        Some((found, number)) if found == kind => Ok(number),
        Some((found, _)) => Err(validation(
            field,
            &format!("expected a {} id, got a {} id", kind.name(), found.name()),
        )),
        None => Err(validation(field, "not a valid id")),
    }
}

/// Group ids and contact ids share one number space (groups are cards); accept either form.
pub fn expect_card(id: &ID, field: &str) -> async_graphql::Result<i64> {
    match decode(id) {
        Some((NodeKind::Contact | NodeKind::Group, number)) => Ok(number),
        _ => expect(id, NodeKind::Contact, field),
    }
}
