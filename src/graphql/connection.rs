//! Relay cursor connections over offset windows: `first/after` and `last/before`, `pageInfo`,
//! `totalCount`. Cursors are opaque (base64 of the position in the ordered result).
//!
//! Cursors and page sizes come from clients: decoding refuses anything but a cursor this API
//! could have issued, and the window arithmetic saturates, so no value panics or overflows.

use async_graphql::{ComplexObject, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::validation;
use super::types::Contact;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: i64 = 20;

#[derive(SimpleObject)]
/// Paging state of a connection.
pub struct PageInfo {
    /// More items follow the last one returned (Protocol's `has_more`).
    pub has_next_page: bool,
    /// Items precede the first one returned.
    pub has_previous_page: bool,
    /// Cursor of the first item returned.
    pub start_cursor: Option<String>,
    /// Cursor of the last item returned; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
/// A contact and its cursor.
pub struct ContactEdge {
    /// Opaque position of this contact in the result.
    pub cursor: String,
    /// The contact.
    pub node: Contact,
}

#[derive(SimpleObject)]
#[graphql(complex)]
/// A page of contacts.
pub struct ContactConnection {
    /// The contacts with their cursors.
    pub edges: Vec<ContactEdge>,
    /// Paging state.
    pub page_info: PageInfo,
    /// Known when the query selected `totalCount` (counting costs a scan of every match).
    #[graphql(skip)]
    pub total: Option<i64>,
}

#[ComplexObject]
impl ContactConnection {
    /// How many contacts match in all.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        self.total
            .ok_or_else(|| async_graphql::Error::new("totalCount was not computed"))
    }
}

pub fn cursor(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("pos:{position}"))
}

/// The longest cursor [`cursor`] issues: base64 of `pos:` and 19 digits.
const MAX_CURSOR_CHARS: usize = 32;

/// The position a cursor names, if it is one [`cursor`] could have issued.
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    // Checked before decoding, so a megabyte of "cursor" costs nothing.
    if cursor.len() > MAX_CURSOR_CHARS {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let digits = text.strip_prefix("pos:")?;
    // Only what `cursor` writes: plain decimal digits (no sign, no spaces).
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()
}

fn position(cursor: &str, field: &str) -> async_graphql::Result<i64> {
    decode_cursor(cursor).ok_or_else(|| validation(field, "not a cursor returned by this API"))
}

/// The arguments of a connection field.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// The window of an ordered result a page covers, before the total is known: the offset to
/// start at and how many to fetch. `last` without `before` needs the total; see [`resolve`].
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub offset: i64,
    pub limit: i64,
}

fn size(value: Option<i32>, field: &str, max_page: usize) -> async_graphql::Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(validation(field, "must not be negative")),
        Some(n) if usize::try_from(n).is_ok_and(|n| n > max_page) => Err(validation(
            field,
            &format!("at most {max_page} items per page"),
        )),
        Some(n) => Ok(Some(i64::from(n))),
    }
}

/// Turns the arguments and the total count into a window (Relay's algorithm: slice by
/// after/before, then take the first `first`, then the last `last`). `first`/`last` over
/// `max_page` are refused. The window always has `0 <= offset` and `0 <= limit <= max_page`
/// (or [`DEFAULT_PAGE_SIZE`]), whatever the cursors and `total` say.
pub fn resolve(args: &PageArgs, total: i64, max_page: usize) -> async_graphql::Result<Window> {
    let first = size(args.first, "first", max_page)?;
    let last = size(args.last, "last", max_page)?;
    let total = total.max(0);
    let mut start = match &args.after {
        Some(c) => position(c, "after")?.saturating_add(1),
        None => 0,
    };
    let mut end = match &args.before {
        Some(c) => position(c, "before")?.min(total),
        None => total,
    };
    start = start.min(end);
    if first.is_none() && last.is_none() {
        end = end.min(start.saturating_add(DEFAULT_PAGE_SIZE));
    }
    if let Some(first) = first {
        end = end.min(start.saturating_add(first));
    }
    if let Some(last) = last {
        start = start.max(end.saturating_sub(last));
    }
    end = end.max(start);
    Ok(Window {
        offset: start,
        limit: end - start,
    })
}

/// The connection for a fetched window; `more_after`: matches follow its last contact.
pub fn connection(
    contacts: Vec<Contact>,
    window: Window,
    more_after: bool,
    total: Option<i64>,
) -> ContactConnection {
    let edges: Vec<ContactEdge> = contacts
        .into_iter()
        .enumerate()
        .map(|(i, node)| ContactEdge {
            cursor: cursor(window.offset.saturating_add(i as i64)),
            node,
        })
        .collect();
    ContactConnection {
        page_info: PageInfo {
            has_next_page: more_after,
            has_previous_page: window.offset > 0,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(args: PageArgs, total: i64) -> (i64, i64) {
        let w = resolve(&args, total, 100).unwrap();
        (w.offset, w.limit)
    }

    #[test]
    fn relay_windows() {
        assert_eq!(
            window(
                PageArgs {
                    first: Some(10),
                    ..Default::default()
                },
                25
            ),
            (0, 10)
        );
        let after = Some(cursor(9));
        assert_eq!(
            window(
                PageArgs {
                    first: Some(10),
                    after,
                    ..Default::default()
                },
                25
            ),
            (10, 10)
        );
        assert_eq!(
            window(
                PageArgs {
                    last: Some(5),
                    ..Default::default()
                },
                25
            ),
            (20, 5)
        );
        let before = Some(cursor(10));
        assert_eq!(
            window(
                PageArgs {
                    last: Some(5),
                    before,
                    ..Default::default()
                },
                25
            ),
            (5, 5)
        );
        assert_eq!(window(PageArgs::default(), 25), (0, 20));
        assert_eq!(
            window(
                PageArgs {
                    first: Some(10),
                    after: Some(cursor(30)),
                    ..Default::default()
                },
                25
            ),
            (25, 0)
        );
        assert!(
            resolve(
                &PageArgs {
                    first: Some(101),
                    ..Default::default()
                },
                5,
                100
            )
            .is_err()
        );
        assert!(
            resolve(
                &PageArgs {
                    after: Some("junk".into()),
                    ..Default::default()
                },
                5,
                100
            )
            .is_err()
        );
    }

    fn encoded(text: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn only_issued_cursors_decode() {
        assert_eq!(decode_cursor(&cursor(0)), Some(0));
        assert_eq!(decode_cursor(&cursor(i64::MAX)), Some(i64::MAX));
        for bad in [
            "",
            "junk",
            "%%%",
            &encoded(b"pos:"),
            &encoded(b"pos:-1"),
            &encoded(b"pos:+1"),
            &encoded(b"pos: 1"),
            &encoded(b"pos:99999999999999999999"),
            &encoded(b"pos:\xff"),
            &encoded(&[0xff, 0xfe, 0x00]),
            &"A".repeat(10_000),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn extreme_cursors_give_empty_windows_not_panics() {
        let after_last = PageArgs {
            first: Some(10),
            after: Some(cursor(i64::MAX)),
            ..Default::default()
        };
        assert_eq!(window(after_last, i64::MAX), (i64::MAX, 0));
        let before_first = PageArgs {
            last: Some(10),
            before: Some(cursor(0)),
            ..Default::default()
        };
        assert_eq!(window(before_first, 25), (0, 0));
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        fn any_cursor() -> impl Strategy<Value = Option<String>> {
            prop_oneof![
                Just(None),
                any::<i64>().prop_map(|n| Some(cursor(n.max(0)))),
                any::<i64>().prop_map(|n| Some(URL_SAFE_NO_PAD.encode(format!("pos:{n}")))),
                proptest::collection::vec(any::<u8>(), 0..40)
                    .prop_map(|bytes| Some(URL_SAFE_NO_PAD.encode(bytes))),
                ".{0,48}".prop_map(Some),
            ]
        }

        proptest! {
            #![proptest_config(crate::fuzzing::config())]

            #[test]
            fn cursor_decoding_never_panics(text in ".{0,64}", bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
                let _ = decode_cursor(&text);
                let _ = decode_cursor(&URL_SAFE_NO_PAD.encode(&bytes));
            }

            #[test]
            fn issued_cursors_round_trip(position in 0..=i64::MAX) {
                prop_assert_eq!(decode_cursor(&cursor(position)), Some(position));
            }

            #[test]
            fn windows_stay_in_range(
                first in proptest::option::of(any::<i32>()),
                last in proptest::option::of(any::<i32>()),
                after in any_cursor(),
                before in any_cursor(),
                total in any::<i64>(),
                max_page in 0usize..1_000,
            ) {
                let args = PageArgs { first, after, last, before };
                if let Ok(window) = resolve(&args, total, max_page) {
                    prop_assert!(window.offset >= 0);
                    prop_assert!(window.limit >= 0);
                    let cap = (max_page as i64).max(DEFAULT_PAGE_SIZE);
                    prop_assert!(window.limit <= cap, "{:?}", window);
                    let _ = connection(Vec::new(), window, false, None);
                }
            }
        }
    }
}
