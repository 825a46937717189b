//! How a stored card is represented for a requested vCard version: the one rule that CardDAV
//! (GET, `address-data`), GraphQL (`vcard(version:)`) and export all follow, so the same card
//! asked the same way gives the same bytes through every door.

use std::borrow::Cow;

use crate::domain::vcard::{self, CardVersion, RenderVersion};

/// The version a stored card is converted to when `asked` for, or `None` to serve the stored
/// bytes. See [`representation`] for the rule.
pub fn conversion(stored: CardVersion, asked: Option<RenderVersion>) -> Option<RenderVersion> {
    match asked {
        Some(version) if version.card_version() == stored => None,
        other => other,
    }
}

/// The text to send for a stored card when `asked` names a version (or `None` when the caller
/// named none).
///
/// The rule:
/// - **Nothing asked: the stored bytes**, whatever their version, 2.1 included. The card's
///   strong ETag is the hash of those bytes, and RFC 6352 §6.3.2.3 ties the ETag of an address
///   object to the octets a GET returns (a client that PUT a card and got an ETag back may keep
///   its own copy as the server's). So a CardDAV GET without `Accept: text/vcard;
///   version=...`, an `address-data` without `version` (CardDAV), GraphQL's `vcard` without
///   `version` all get what was stored: a 2.1 card PUT by an old client comes back as 2.1 to
///   the client that wrote it (README, "Deliberate deviations"). Model writes (GraphQL, import)
///   store 3.0 or 4.0, never 2.1.
/// - **A version asked that the card is stored in: the stored bytes.**
/// - **Another version asked: a conversion**, the card rendered anew with the asked `VERSION`
///   (RFC 6350 §6.7.9); a 2.1 card goes through the same parser. CardDAV asks through `Accept`
///   (RFC 6352 §5.1.1) or `address-data version` (RFC 6352 §10.4); Apple clients that ask for
///   nothing are taken as asking for 3.0 by the CardDAV front end (docs/carddav-clients.md §6),
///   since they reject 4.0. Export asks for the version of the chosen format.
///
/// A stored card that no longer parses (a parser change) is served as stored rather than not at
/// all, and logged: the bytes are still the ones the client sent.
pub fn representation(
    stored_text: &str,
    stored: CardVersion,
    asked: Option<RenderVersion>,
) -> Cow<'_, str> {
    let Some(version) = conversion(stored, asked) else {
        return Cow::Borrowed(stored_text);
    };
    match vcard::parse_one(stored_text) {
        Ok(card) => Cow::Owned(card.render(version)),
        Err(error) => {
            tracing::warn!(%error, "stored card does not parse; serving it unconverted");
            Cow::Borrowed(stored_text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V21: &str = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;Jane\r\nFN:Jane Doe\r\nTEL;CELL:+1 555 0100\r\nUID:jane\r\nEND:VCARD\r\n";

    #[test]
    fn nothing_asked_is_the_stored_bytes_in_every_version() {
        for stored in [CardVersion::V2_1, CardVersion::V3, CardVersion::V4] {
            assert_eq!(conversion(stored, None), None);
        }
        assert!(matches!(
            representation(V21, CardVersion::V2_1, None),
            Cow::Borrowed(V21)
        ));
    }

    #[test]
    fn the_stored_version_asked_is_the_stored_bytes_and_another_is_converted() {
        use CardVersion::*;
        use RenderVersion as R;
        assert_eq!(conversion(V3, Some(R::V3)), None);
        assert_eq!(conversion(V4, Some(R::V4)), None);
        assert_eq!(conversion(V3, Some(R::V4)), Some(R::V4));
        assert_eq!(conversion(V4, Some(R::V3)), Some(R::V3));
        assert_eq!(conversion(V2_1, Some(R::V3)), Some(R::V3));
        assert_eq!(conversion(V2_1, Some(R::V4)), Some(R::V4));
        let as_3 = representation(V21, V2_1, Some(R::V3));
        assert!(as_3.contains("VERSION:3.0"), "{as_3}");
    }

    #[test]
    fn a_card_that_no_longer_parses_is_served_as_stored() {
        let broken = "BEGIN:VCARD\r\nnot a property\r\n";
        assert_eq!(
            representation(broken, CardVersion::V3, Some(RenderVersion::V4)),
            broken
        );
    }
}
