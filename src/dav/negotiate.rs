//! vCard version negotiation: which version a CardDAV request asks for (`Accept: text/vcard;
//! version=4.0` on GET, `address-data version="3.0"` in a REPORT), and that an Apple client
//! that asked for nothing asks for 3.0 — macOS/iOS reject 4.0 cards and fail the whole sync
//! (docs/carddav-clients.md §6). What is then served for the asked version is the store's one
//! rule, [`crate::store::representation`]: the stored bytes unless another version was asked.
//!
//! The ETag stays the stored card's ETag whatever representation is served: clients send it
//! back in `If-Match`, and the store compares it with the stored bytes.

use axum::http::HeaderMap;
use axum::http::header;

use crate::domain::vcard::{CardVersion, RenderVersion};

/// Markers of Apple's contacts daemons in User-Agent (`macOS/13.0 (22A380) AddressBook/2487`,
/// `iOS/16.0 (20A362) dataaccessd/1.0`, `Mac OS X/10.15.7 (19H2) AddressBook/2452.2`). Matched
/// with the slash, so Thunderbird's `Intel Mac OS X 10.15;` is not taken for Apple Contacts.
const APPLE_MARKERS: &[&str] = &[
    "AddressBook/",
    "dataaccessd/",
    "macOS/",
    "iOS/",
    "iPadOS/",
    "Mac OS X/",
    "Mac_OS_X/",
];

/// Whether the request comes from Apple Contacts (macOS) or the iOS contacts daemon.
pub fn is_apple(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| APPLE_MARKERS.iter().any(|m| ua.contains(m)))
}

/// The version a request asks for: the one it named, else 3.0 for an Apple client, else none
/// (the stored bytes).
pub fn asked_version(named: Option<RenderVersion>, apple: bool) -> Option<RenderVersion> {
    named.or(apple.then_some(RenderVersion::V3))
}

/// The version asked for by `Accept` on GET: the `text/vcard` range with a `version` parameter
/// and the highest q-value. `None` when no range names a version we serve. When the stored
/// version is among the best, that one wins (no conversion). Several `Accept` fields are one
/// list (RFC 9110 §5.3). Linear in the header's length.
pub fn accepted_version(headers: &HeaderMap, stored: CardVersion) -> Option<RenderVersion> {
    let mut best: Vec<(RenderVersion, u16)> = Vec::new();
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("text/vcard") {
            continue;
        }
        let mut version = None;
        let mut q = 1000u16;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            let key = key.trim();
            if key.eq_ignore_ascii_case("version") {
                version = match value {
                    "3.0" => Some(RenderVersion::V3),
                    "4.0" => Some(RenderVersion::V4),
                    _ => None,
                };
            } else if key.eq_ignore_ascii_case("q") {
                q = parse_q(value);
            }
        }
        if let Some(version) = version
            && q > 0
        {
            best.push((version, q));
        }
    }
    let top = best.iter().map(|(_, q)| *q).max()?;
    let mut candidates = best.iter().filter(|(_, q)| *q == top).map(|(v, _)| *v);
    let first = candidates.next()?;
    let stored_version = match stored {
        CardVersion::V4 => Some(RenderVersion::V4),
        CardVersion::V3 => Some(RenderVersion::V3),
        CardVersion::V2_1 => None,
    };
    match stored_version {
        Some(v) if first == v || candidates.any(|c| c == v) => Some(v),
        _ => Some(first),
    }
}

/// q-value in thousandths (`0.8` -> 800), per RFC 9110 §12.4.2:
/// `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`. Anything else (`NaN`, `1.5`, `-1`,
/// `0.0001`) is malformed and counts as 1, as if no q were given.
fn parse_q(value: &str) -> u16 {
    let (int, frac) = match value.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (value, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 1000;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
    match int {
        "0" => thousandths,
        // "1" with a non-zero fraction is malformed too.
        _ => 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn apple_user_agents() {
        for ua in [
            "macOS/13.0 (22A380) AddressBook/2487.200.9",
            "iOS/16.0 (20A362) dataaccessd/1.0",
            "Mac OS X/10.15.7 (19H2) AddressBook/2452.2",
            "Mac_OS_X/10.9.5 (13F34) AddressBook/1579",
        ] {
            assert!(is_apple(&headers(header::USER_AGENT, ua)), "{ua}");
        }
        for ua in [
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:115.0) Gecko/20100101 Thunderbird/115.0",
            "DAVx5/4.3 (2023/05/01; dav4jvm; okhttp/4.11.0) Android/13",
            "vdirsyncer/0.19.2",
        ] {
            assert!(!is_apple(&headers(header::USER_AGENT, ua)), "{ua}");
        }
    }

    #[test]
    fn conversions() {
        let conversion =
            |stored, named, apple| crate::store::conversion(stored, asked_version(named, apple));
        use CardVersion::{V2_1, V3, V4};
        assert_eq!(conversion(V4, None, false), None);
        assert_eq!(conversion(V4, None, true), Some(RenderVersion::V3));
        assert_eq!(conversion(V3, None, true), None);
        assert_eq!(conversion(V2_1, None, true), Some(RenderVersion::V3));
        assert_eq!(
            conversion(V3, Some(RenderVersion::V4), true),
            Some(RenderVersion::V4)
        );
        assert_eq!(conversion(V4, Some(RenderVersion::V4), true), None);
    }

    #[test]
    fn accept_header() {
        let h = headers(header::ACCEPT, "text/vcard; version=4.0");
        assert_eq!(
            accepted_version(&h, CardVersion::V3),
            Some(RenderVersion::V4)
        );
        let h = headers(
            header::ACCEPT,
            "text/vcard;version=3.0;q=0.5, text/vcard;version=4.0",
        );
        assert_eq!(
            accepted_version(&h, CardVersion::V3),
            Some(RenderVersion::V4)
        );
        let h = headers(
            header::ACCEPT,
            "text/vcard;version=3.0, text/vcard;version=4.0",
        );
        assert_eq!(
            accepted_version(&h, CardVersion::V3),
            Some(RenderVersion::V3)
        );
        let h = headers(header::ACCEPT, "text/vcard, */*");
        assert_eq!(accepted_version(&h, CardVersion::V3), None);
        let h = headers(header::ACCEPT, "text/vcard;version=2.1");
        assert_eq!(accepted_version(&h, CardVersion::V3), None);
    }

    #[test]
    fn q_values_follow_rfc_9110() {
        assert_eq!(parse_q("0"), 0);
        assert_eq!(parse_q("0."), 0);
        assert_eq!(parse_q("0.5"), 500);
        assert_eq!(parse_q("0.125"), 125);
        assert_eq!(parse_q("1.000"), 1000);
        for malformed in [
            "NaN", "inf", "-0.5", "1.5", "0.0001", "2", "", "0.x", "+0.5", "1e-3",
        ] {
            assert_eq!(parse_q(malformed), 1000, "{malformed}");
        }
        // A NaN q used to count as 0 and drop the range; malformed counts as 1.
        let h = headers(
            header::ACCEPT,
            "text/vcard;version=4.0;q=NaN, text/vcard;version=3.0;q=0.9",
        );
        assert_eq!(
            accepted_version(&h, CardVersion::V3),
            Some(RenderVersion::V4)
        );
    }

    #[test]
    fn several_accept_fields_are_one_list() {
        let mut h = HeaderMap::new();
        h.append(
            header::ACCEPT,
            HeaderValue::from_static("text/vcard;version=3.0;q=0.1"),
        );
        h.append(
            header::ACCEPT,
            HeaderValue::from_static("TEXT/VCARD; VERSION=4.0"),
        );
        assert_eq!(
            accepted_version(&h, CardVersion::V3),
            Some(RenderVersion::V4)
        );
    }

    /// One media range of an Accept header, from pieces clients send and pieces they get wrong.
    fn media_range() -> impl Strategy<Value = String> {
        let media = prop::sample::select(vec![
            "text/vcard",
            "TEXT/VCard",
            " text/vcard ",
            "text/x-vcard",
            "*/*",
            "text/*",
            "",
        ]);
        let param = prop_oneof![
            prop::sample::select(vec![
                "version=3.0",
                "version=4.0",
                "VERSION=\"4.0\"",
                "version = 3.0 ",
                "version=2.1",
                "version",
                "q=0",
                "q=0.5",
                "q=0.500",
                "q=1",
                "q=1.0",
                "q=NaN",
                "q=inf",
                "q=-1",
                "q=1.5",
                "q=0.0001",
                "q=",
                "charset=utf-8",
                "=",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,10}",
        ];
        (media, prop::collection::vec(param, 0..4)).prop_map(|(media, params)| {
            std::iter::once(media.to_owned())
                .chain(params)
                .collect::<Vec<_>>()
                .join(";")
        })
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// Any Accept header: a version some `text/vcard` range with q > 0 names, or `None`
        /// when none does. Never a panic.
        #[test]
        fn fuzz_accept(
            ranges in prop::collection::vec(media_range(), 0..6),
            stored in prop::sample::select(vec![CardVersion::V2_1, CardVersion::V3, CardVersion::V4]),
        ) {
            let accept = ranges.join(",");
            let Ok(value) = HeaderValue::from_str(&accept) else {
                return Ok(());
            };
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, value);
            let named = |version: &str| {
                // A random parameter may hold a comma: the header is what is split.
                accept.split(',').any(|range| {
                    let mut parts = range.split(';');
                    let media = parts.next().unwrap_or_default().trim();
                    let params: Vec<(String, String)> = parts
                        .filter_map(|p| p.split_once('='))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
                        .collect();
                    let version_named = params
                        .iter()
                        .rev()
                        .find(|(k, _)| k == "version")
                        .is_some_and(|(_, v)| v == version);
                    let q = params.iter().rev().find(|(k, _)| k == "q").map_or(1000, |(_, v)| parse_q(v));
                    media.eq_ignore_ascii_case("text/vcard") && version_named && q > 0
                })
            };
            match accepted_version(&h, stored) {
                Some(RenderVersion::V3) => prop_assert!(named("3.0"), "{accept}"),
                Some(RenderVersion::V4) => prop_assert!(named("4.0"), "{accept}"),
                None => prop_assert!(!named("3.0") && !named("4.0"), "{accept}"),
            }
        }

        /// Arbitrary header bytes (whatever `HeaderValue` admits) in Accept and User-Agent.
        #[test]
        fn fuzz_header_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200), q in ".{0,12}") {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let mut h = HeaderMap::new();
                h.insert(header::ACCEPT, value.clone());
                h.insert(header::USER_AGENT, value);
                let _ = accepted_version(&h, CardVersion::V3);
                let _ = is_apple(&h);
            }
            prop_assert!(parse_q(&q) <= 1000);
        }

        /// Apple's markers are found anywhere in a User-Agent, and nothing else is taken for
        /// them.
        #[test]
        fn fuzz_user_agent(before in "[ -~]{0,30}", marker in prop::sample::select(APPLE_MARKERS), after in "[ -~]{0,30}") {
            let ua = format!("{before}{marker}{after}");
            let mut h = HeaderMap::new();
            h.insert(header::USER_AGENT, HeaderValue::from_str(&ua).unwrap());
            prop_assert!(is_apple(&h));
            let plain = before.replace('/', " ");
            h.insert(header::USER_AGENT, HeaderValue::from_str(&plain).unwrap());
            prop_assert!(!is_apple(&h));
        }
    }
}
