//! Entity tags: a strong ETag is a hash of the stored bytes, so two stores of the same bytes
//! agree and any change to the card changes the tag.

use sha2::{Digest, Sha256};

/// The ETag of stored card bytes, unquoted (front ends add the quotes of the wire form).
pub fn of_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    // 128 bits are plenty to tell versions of one resource apart, and keep headers short.
    hex::encode(&digest[..16])
}

/// The quoted strong form used in HTTP headers and `getetag`.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Strips quotes and a weak prefix from a client-supplied tag, so `"abc"`, `W/"abc"` and `abc`
/// (GraphQL callers often pass the bare value) all compare equal to the stored `abc`.
pub fn normalize(client_tag: &str) -> &str {
    let tag = client_tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag)
}

/// Whether a client-supplied tag names the stored ETag.
pub fn matches(client_tag: &str, stored: &str) -> bool {
    normalize(client_tag) == stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_changes_with_bytes_and_is_stable() {
        let a = of_bytes(b"BEGIN:VCARD\r\nEND:VCARD\r\n");
        assert_eq!(a, of_bytes(b"BEGIN:VCARD\r\nEND:VCARD\r\n"));
        assert_ne!(a, of_bytes(b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn client_tags_in_any_form_match() {
        assert!(matches("\"abc\"", "abc"));
        assert!(matches("W/\"abc\"", "abc"));
        assert!(matches("abc", "abc"));
        assert!(!matches("\"abd\"", "abc"));
        assert_eq!(quoted("abc"), "\"abc\"");
    }
}
