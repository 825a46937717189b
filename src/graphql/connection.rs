//! Relay cursor connections over offset windows: `first/after` and `last/before`, `pageInfo`,
//! `totalCount`. Cursors are opaque (base64 of the position in the ordered result).

use async_graphql::{ComplexObject, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::validation;
use super::types::Contact;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;
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

fn position(cursor: &str, field: &str) -> async_graphql::Result<i64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("pos:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .ok_or_else(|| validation(field, "not a cursor returned by this API"))
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

fn size(value: Option<i32>, field: &str) -> async_graphql::Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(n) if n < 0 => Err(validation(field, "must not be negative")),
        Some(n) if i64::from(n) > MAX_PAGE_SIZE => Err(validation(
            field,
            &format!("at most {MAX_PAGE_SIZE} items per page"),
        )),
        Some(n) => Ok(Some(i64::from(n))),
    }
}

/// Turns the arguments and the total count into a window (Relay's algorithm: slice by
/// after/before, then take the first `first`, then the last `last`).
pub fn resolve(args: &PageArgs, total: i64) -> async_graphql::Result<Window> {
    let first = size(args.first, "first")?;
    let last = size(args.last, "last")?;
    let mut start = match &args.after {
        Some(c) => position(c, "after")? + 1,
        None => 0,
    };
    let mut end = match &args.before {
        Some(c) => position(c, "before")?.min(total),
        None => total,
    };
    start = start.min(end);
    if first.is_none() && last.is_none() {
        end = end.min(start + DEFAULT_PAGE_SIZE);
    }
    if let Some(first) = first {
        end = end.min(start + first);
    }
    if let Some(last) = last {
        start = start.max(end - last);
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
            cursor: cursor(window.offset + i as i64),
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
        let w = resolve(&args, total).unwrap();
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
                5
            )
            .is_err()
        );
        assert!(
            resolve(
                &PageArgs {
                    after: Some("junk".into()),
                    ..Default::default()
                },
                5
            )
            .is_err()
        );
    }
}
