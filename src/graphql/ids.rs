//! Opaque global IDs (Relay): base64url of `Kind:number`. Clients must treat them as opaque;
//! `databaseId` exposes the number for APIs (like Phone.com's) that use integer ids.
//!
//! IDs come from clients: decoding accepts only what [`encode`] writes (or a plain integer
//! where one is allowed) and never panics, whatever the bytes.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::validation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Contact,
    Group,
    AddressBook,
    /// A token or app password.
    Credential,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Contact => "Contact",
            NodeKind::Group => "Group",
            NodeKind::AddressBook => "AddressBook",
            NodeKind::Credential => "Credential",
        }
    }
}

pub fn encode(kind: NodeKind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// The longest ID [`encode`] writes: base64 of `AddressBook:` and a 20-character number.
const MAX_ID_CHARS: usize = 48;

/// Decodes any global ID.
pub fn decode(id: &ID) -> Option<(NodeKind, i64)> {
    // Checked before decoding, so a megabyte of "ID" costs nothing.
    if id.as_str().len() > MAX_ID_CHARS + 2 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_str().trim_end_matches('='))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, number) = text.split_once(':')?;
    let kind = match kind {
        "Contact" => NodeKind::Contact,
        "Group" => NodeKind::Group,
        "AddressBook" => NodeKind::AddressBook,
        "Credential" => NodeKind::Credential,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [NodeKind; 4] = [
        NodeKind::Contact,
        NodeKind::Group,
        NodeKind::AddressBook,
        NodeKind::Credential,
    ];

    #[test]
    fn kinds_are_told_apart() {
        let id = encode(NodeKind::Group, 7);
        assert_eq!(decode(&id), Some((NodeKind::Group, 7)));
        assert_eq!(expect_card(&id, "id").unwrap(), 7);
        assert!(expect(&id, NodeKind::AddressBook, "id").is_err());
        assert_eq!(
            expect(&ID("42".into()), NodeKind::Contact, "id").unwrap(),
            42
        );
        assert!(decode(&ID("A".repeat(100_000))).is_none());
        assert!(decode(&ID(URL_SAFE_NO_PAD.encode("Contact:99999999999999999999"))).is_none());
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        #[test]
        fn decoding_never_panics(
            text in ".{0,80}",
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            kind in 0usize..4,
        ) {
            let from_bytes = ID(URL_SAFE_NO_PAD.encode(&bytes));
            for id in [ID(text), from_bytes] {
                let _ = decode(&id);
                let _ = expect(&id, KINDS[kind], "id");
                let _ = expect_card(&id, "id");
            }
        }

        #[test]
        fn encoded_ids_round_trip(number in any::<i64>(), kind in 0usize..4) {
            let id = encode(KINDS[kind], number);
            prop_assert_eq!(decode(&id), Some((KINDS[kind], number)));
            prop_assert_eq!(expect(&id, KINDS[kind], "id").ok(), Some(number));
        }
    }
}
