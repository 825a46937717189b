//! The CardDAV URL space and its percent-encoding.
//!
//! ```text
//! /dav/                                       root
//! /dav/principals/<user>/                     a user's principal
//! /dav/addressbooks/<user>/                   a user's address-book home
//! /dav/addressbooks/<user>/<slug>/            an address book
//! /dav/addressbooks/<user>/<slug>/<name>      a card (name stored decoded in `href`)
//! ```
//!
//! Paths are decoded per segment; every href we write is encoded with one rule — everything
//! but RFC 3986 unreserved characters is percent-encoded, as Python's `quote` and most clients
//! do — so a card PUT as `a%40b.vcf` is listed as `a%40b.vcf` and the two never drift apart
//! (CARDDAV-INTEROP item 15).

pub const ROOT: &str = "/dav/";
pub const PRINCIPALS: &str = "/dav/principals/";
pub const HOMES: &str = "/dav/addressbooks/";
pub const WELL_KNOWN: &str = "/.well-known/carddav";

/// What a request path names. Ownership is checked by the handlers, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Root,
    Principals,
    Principal {
        user: String,
    },
    Homes,
    Home {
        user: String,
    },
    Book {
        user: String,
        slug: String,
    },
    Card {
        user: String,
        slug: String,
        name: String,
    },
}

impl Target {
    /// The user whose namespace this is, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Target::Root | Target::Principals | Target::Homes => None,
            Target::Principal { user }
            | Target::Home { user }
            | Target::Book { user, .. }
            | Target::Card { user, .. } => Some(user),
        }
    }
}

/// Why a path cannot be understood. Both are answered like a missing resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a path this server serves (too deep, empty segment, unknown top level).
    NotFound,
    /// A percent-escape that is not valid hex, not UTF-8, or a NUL (which no name may hold:
    /// PostgreSQL text cannot store it).
    BadEncoding,
}

/// Most segments after `/dav/` (addressbooks, user, book, card).
const MAX_SEGMENTS: usize = 4;

/// Parses a request path (without query). `/dav` and `/dav/` are the root.
pub fn parse(path: &str) -> Result<Target, PathError> {
    let rest = path.strip_prefix("/dav").ok_or(PathError::NotFound)?;
    if rest.is_empty() || rest == "/" {
        return Ok(Target::Root);
    }
    let rest = rest.strip_prefix('/').ok_or(PathError::NotFound)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments = Vec::with_capacity(MAX_SEGMENTS);
    for raw in rest.split('/') {
        if segments.len() == MAX_SEGMENTS {
            // Deeper than anything served: stop before decoding the rest of a long path.
            return Err(PathError::NotFound);
        }
        if raw.is_empty() {
            // `//` would make a collection with an empty name (CARDDAV-INTEROP item 19).
            return Err(PathError::NotFound);
        }
        let segment = decode(raw).ok_or(PathError::BadEncoding)?;
        if segment == "." || segment == ".." {
            return Err(PathError::NotFound);
        }
        segments.push(segment);
    }
    let mut segments = segments.into_iter();
    let top = segments.next().ok_or(PathError::NotFound)?;
    let (a, b, c) = (segments.next(), segments.next(), segments.next());
    match (top.as_str(), a, b, c) {
        ("principals", None, None, None) => Ok(Target::Principals),
        ("principals", Some(user), None, None) => Ok(Target::Principal { user }),
        ("addressbooks", None, None, None) => Ok(Target::Homes),
        ("addressbooks", Some(user), None, None) => Ok(Target::Home { user }),
        ("addressbooks", Some(user), Some(slug), None) => Ok(Target::Book { user, slug }),
        ("addressbooks", Some(user), Some(slug), Some(name)) => {
            Ok(Target::Card { user, slug, name })
        }
        _ => Err(PathError::NotFound),
    }
}

/// Parses an href from a request body: an absolute URL, a network-path reference
/// (`//host/path`) or an absolute path, possibly with a query or fragment (ignored). A
/// `scheme://` prefix is recognised only where RFC 3986 §3.1 allows a scheme, so a path that
/// merely contains `://` (`/dav/.../a://b.vcf`) stays a path.
pub fn parse_href(href: &str) -> Result<Target, PathError> {
    let href = href.trim();
    let after_authority = |rest: &str| -> usize {
        // RFC 3986 §3.2: the authority ends at the first '/', '?' or '#'.
        rest.find(['/', '?', '#']).unwrap_or(rest.len())
    };
    let path = if let Some(rest) = href.strip_prefix("//") {
        &rest[after_authority(rest)..]
    } else {
        match href.split_once("://") {
            Some((scheme, rest)) if is_scheme(scheme) => &rest[after_authority(rest)..],
            _ => href,
        }
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    parse(path)
}

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `segment` percent-encoded (upper-case hex; unreserved characters as they are).
pub fn encode_into(out: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() + 8);
    encode_into(&mut out, segment);
    out
}

/// Decodes `%XX` escapes; `None` on a malformed escape, a result that is not UTF-8, or a NUL
/// (literal or `%00`): no name this server stores can hold one.
pub fn decode(segment: &str) -> Option<String> {
    if segment.contains('\0') {
        return None;
    }
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            let byte = hi << 4 | lo;
            if byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub fn principal_href(user: &str) -> String {
    let mut out = String::from(PRINCIPALS);
    encode_into(&mut out, user);
    out.push('/');
    out
}

pub fn home_href(user: &str) -> String {
    let mut out = String::from(HOMES);
    encode_into(&mut out, user);
    out.push('/');
    out
}

pub fn book_href(user: &str, slug: &str) -> String {
    let mut out = home_href(user);
    encode_into(&mut out, slug);
    out.push('/');
    out
}

/// A card's href: its book's href (computed once per request) plus the encoded name.
pub fn card_href(book_href: &str, name: &str) -> String {
    let mut out = String::with_capacity(book_href.len() + name.len() + 8);
    out.push_str(book_href);
    encode_into(&mut out, name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_space() {
        assert_eq!(parse("/dav"), Ok(Target::Root));
        assert_eq!(parse("/dav/"), Ok(Target::Root));
        assert_eq!(parse("/dav/principals/"), Ok(Target::Principals));
        assert_eq!(
            parse("/dav/principals/a%40b.c/"),
            Ok(Target::Principal {
                user: "a@b.c".into()
            })
        );
        assert_eq!(
            parse("/dav/addressbooks/alice/contacts"),
            Ok(Target::Book {
                user: "alice".into(),
                slug: "contacts".into()
            })
        );
        assert_eq!(
            parse("/dav/addressbooks/alice/contacts/J%C3%BCrgen%20x%2Fy.vcf"),
            Ok(Target::Card {
                user: "alice".into(),
                slug: "contacts".into(),
                name: "Jürgen x/y.vcf".into()
            })
        );
        assert_eq!(parse("/dav/addressbooks/a/b/c/d"), Err(PathError::NotFound));
        assert_eq!(parse("/dav/addressbooks//b/"), Err(PathError::NotFound));
        assert_eq!(parse("/dav/addressbooks/a/../"), Err(PathError::NotFound));
        assert_eq!(parse("/dav/other/"), Err(PathError::NotFound));
        assert_eq!(parse("/davx/"), Err(PathError::NotFound));
        assert_eq!(parse("/dav/addressbooks/%zz/"), Err(PathError::BadEncoding));
        assert_eq!(parse("/dav/addressbooks/%ff/"), Err(PathError::BadEncoding));
    }

    #[test]
    fn hrefs_in_any_form() {
        let card = Target::Card {
            user: "u".into(),
            slug: "s".into(),
            name: "a@b.vcf".into(),
        };
        assert_eq!(
            parse_href("/dav/addressbooks/u/s/a%40b.vcf"),
            Ok(card.clone())
        );
        assert_eq!(
            parse_href("/dav/addressbooks/u/s/a@b.vcf"),
            Ok(card.clone())
        );
        assert_eq!(
            parse_href("https://host:8080/dav/addressbooks/u/s/a%40b.vcf?x#y"),
            Ok(card)
        );
    }

    #[test]
    fn encoding_round_trips() {
        for name in [
            "a@b.vcf",
            "with space.vcf",
            "100%.vcf",
            "Jürgen.vcf",
            "plain-1_2~.vcf",
        ] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name));
        }
        assert_eq!(encode("a@b c.vcf"), "a%40b%20c.vcf");
        assert_eq!(
            card_href("/dav/addressbooks/u/s/", "ü"),
            "/dav/addressbooks/u/s/%C3%BC"
        );
    }

    #[test]
    fn only_a_real_scheme_makes_an_absolute_url() {
        let card = |name: &str| Target::Card {
            user: "u".into(),
            slug: "s".into(),
            name: name.into(),
        };
        // A path that contains "://" is a path, not a URL with a scheme.
        assert_eq!(
            parse_href("/dav/addressbooks/u/s/a:%2F%2Fb.vcf"),
            Ok(card("a://b.vcf"))
        );
        assert_eq!(
            parse_href("/dav/addressbooks/u/s/x.vcf?from=https://elsewhere/"),
            Ok(card("x.vcf"))
        );
        assert_eq!(
            parse_href("//host:1/dav/addressbooks/u/s/x.vcf"),
            Ok(card("x.vcf"))
        );
        assert_eq!(
            parse_href("webcal+x.1://h/dav/addressbooks/u/s/x.vcf"),
            Ok(card("x.vcf"))
        );
        assert_eq!(parse_href("https://host?q=/dav/"), Err(PathError::NotFound));
        assert_eq!(parse_href("https://host"), Err(PathError::NotFound));
        assert_eq!(parse_href("1x://h/dav/"), Err(PathError::NotFound));
        assert_eq!(parse_href("ü://h/dav/"), Err(PathError::NotFound));
        assert_eq!(parse_href(""), Err(PathError::NotFound));
    }

    #[test]
    fn nul_is_never_a_name() {
        assert_eq!(decode("a%00b"), None);
        assert_eq!(decode("a\0b"), None);
        assert_eq!(
            parse("/dav/addressbooks/u/s/a%00.vcf"),
            Err(PathError::BadEncoding)
        );
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%C3"), None);
        assert_eq!(decode("%C3%BC"), Some("ü".into()));
    }

    #[test]
    fn long_paths_are_refused_early() {
        let deep = format!("/dav/addressbooks/u/s/c{}", "/%zz".repeat(100_000));
        // Not found for depth, before the malformed escapes deeper down are looked at.
        assert_eq!(parse(&deep), Err(PathError::NotFound));
    }
}
