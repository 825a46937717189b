//! Every limit on what one request may cost, in one place: the defaults, their names in the
//! TOML file (`[limits]`) and in the environment (`ROLODEX_` + the key in upper case), and the
//! one struct both front ends and the store read them from.
//!
//! Each limit is refused with a clear client error where it is hit (CardDAV precondition
//! elements, GraphQL `extensions.code`); README's "Limits" section lists them all, and a test
//! checks that it does.

use serde::Deserialize;

/// Declares the limits once: the struct, its defaults, the environment overrides and the
/// table README documents.
macro_rules! limits {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr, )+) => {
        /// Limits on request size and cost. See the module documentation.
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Limits {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for Limits {
            fn default() -> Self {
                Limits { $( $name: $default, )+ }
            }
        }

        impl Limits {
            /// `(key, default, meaning)` of every limit, in declaration order.
            pub fn documented() -> Vec<(&'static str, String, String)> {
                let defaults = Limits::default();
                vec![$(
                    (
                        stringify!($name),
                        defaults.$name.to_string(),
                        [$($doc),+].iter().map(|line| line.trim()).collect::<Vec<_>>().join(" "),
                    ),
                )+]
            }

            /// Applies `ROLODEX_<KEY>` environment variables over these values.
            pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Result<Limits, LimitError> {
                $(
                    let variable = concat!("ROLODEX_", stringify!($name)).to_ascii_uppercase();
                    if let Some(value) = env(&variable) {
                        self.$name = value.trim().parse().map_err(|_| LimitError {
                            variable: variable.clone(),
                            value,
                        })?;
                    }
                )+
                Ok(self)
            }
        }
    };
}

limits! {
    /// Largest request body, in bytes; refused with 413. A body is read only after the request
    /// is authenticated, and one declared larger than this is refused unread.
    max_body_bytes: usize = 16 * 1024 * 1024,
    /// Largest vCard stored (PUT, GraphQL, import), in bytes; advertised as CardDAV
    /// `max-resource-size`, refused with 413 and `CARDDAV:max-resource-size`.
    max_card_bytes: usize = 2 * 1024 * 1024,
    /// Most properties (lines) in one vCard (CardDAV 403 `CARDDAV:valid-address-data`, GraphQL
    /// `TOO_LARGE`).
    max_card_properties: usize = 2_000,
    /// Most bytes of dead properties (names and XML values) one CardDAV address book or card
    /// may hold; a PROPPATCH beyond it changes nothing and is answered 507 for the properties
    /// it sets.
    max_dead_property_bytes: usize = 64 * 1024,
    /// Most `href`s in one CardDAV `addressbook-multiget` (refused with 413). vdirsyncer asks
    /// for every card it lacks in one multiget, so this bounds the book it can first sync.
    max_multiget_hrefs: usize = 10_000,
    /// Most `prop-filter`, `param-filter` and `text-match` elements, together, in one CardDAV
    /// `addressbook-query` (refused with 403 and `CARDDAV:supported-filter`).
    max_filter_elements: usize = 64,
    /// Most properties one CardDAV PROPFIND or REPORT names (each is answered for every
    /// resource listed; refused with 413).
    max_requested_properties: usize = 256,
    /// Cards read from PostgreSQL per page of a streamed whole-book answer (CardDAV PROPFIND
    /// Depth 1 and initial sync-collection on a book, a book's GET); what one such answer
    /// holds in memory is about two pages of card metadata (the next is read while the current
    /// one is sent; ~250 bytes a card), whatever the size of the book. Card texts are read in
    /// slices of at most 4 MiB, whatever this is.
    stream_page_cards: usize = 2000,
    /// Most words in one GraphQL `search` (or lookup) text (`VALIDATION` with
    /// `field: "search"`).
    max_search_terms: usize = 16,
    /// Longest GraphQL `search` text, in characters.
    max_search_chars: usize = 256,
    /// Deepest GraphQL query.
    graphql_max_depth: usize = 16,
    /// Largest GraphQL query complexity; lists cost their page size times their fields, whole-book
    /// fields (exports, change feeds) cost like the largest page of their kind.
    graphql_max_complexity: usize = 20_000,
    /// Most root fields (aliases included) in one GraphQL operation.
    graphql_max_root_fields: usize = 32,
    /// Largest GraphQL page (`first`/`last`).
    graphql_max_page_size: usize = 100,
    /// Whole-book exports (GraphQL `exportContacts` and `GET /export/{book}` downloads
    /// together) running at once across all users; others wait up to 30 s, then get
    /// `UNAVAILABLE` (GraphQL) or 503 (download).
    graphql_max_concurrent_exports: usize = 4,
    /// Longest text `exportContacts` returns, in bytes: the server holds it whole (and its
    /// JSON copy) while answering, for each such field of an operation (at most four fit
    /// the complexity limit). A larger book's export fails with `TOO_LARGE`; the download
    /// (`GET /export/{book}`) has no such limit, being sent a page at a time.
    graphql_max_export_bytes: usize = 64 * 1024 * 1024,
    /// Most subscriptions open at once on one GraphQL WebSocket.
    graphql_max_subscriptions: usize = 16,
    /// Largest GraphQL WebSocket message, in bytes.
    graphql_ws_max_message_bytes: usize = 64 * 1024,
    /// Seconds a GraphQL WebSocket may wait before `connection_init` (then closed with 4408).
    graphql_ws_init_timeout_secs: u64 = 10,
    /// Failed logins per user name within `login_window_secs` before further attempts for that
    /// name are answered 429.
    login_failures_per_user: u32 = 10,
    /// Failed logins per client address within `login_window_secs` before further attempts
    /// from it are answered 429.
    login_failures_per_address: u32 = 30,
    /// The window, in seconds, failed logins are counted over (and the longest `Retry-After`).
    login_window_secs: u64 = 300,
    /// Days the change log keeps entries (and deleted cards their tombstones); a sync token
    /// older than that is refused (`DAV:valid-sync-token`, `INVALID_SYNC_TOKEN`) and the client
    /// syncs from scratch. 0 keeps them forever.
    change_retention_days: u32 = 90,
    /// Size, in bytes, the managed PostgreSQL's log may reach before it is rotated (two files
    /// are kept).
    postgres_log_bytes: u64 = 8 * 1024 * 1024,
}

/// A `ROLODEX_*` limit variable that is not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is not a valid number")]
pub struct LimitError {
    pub variable: String,
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_names_bad_values() {
        let limits = Limits::default()
            .with_env(|name| (name == "ROLODEX_MAX_CARD_BYTES").then(|| "1000".to_owned()))
            .unwrap();
        assert_eq!(limits.max_card_bytes, 1000);
        assert_eq!(
            limits.max_multiget_hrefs,
            Limits::default().max_multiget_hrefs
        );
        let error = Limits::default()
            .with_env(|name| (name == "ROLODEX_MAX_SEARCH_TERMS").then(|| "many".to_owned()))
            .unwrap_err();
        assert_eq!(error.variable, "ROLODEX_MAX_SEARCH_TERMS");
    }

    #[test]
    fn toml_table_reads_keys_and_refuses_unknown_ones() {
        let limits: Limits = toml::from_str("max_card_bytes = 5\n").unwrap();
        assert_eq!(limits.max_card_bytes, 5);
        assert_eq!(limits.max_filter_elements, 64);
        assert!(toml::from_str::<Limits>("max_cards = 5\n").is_err());
    }

    /// README's table is this module's documentation, row for row: a limit added, renamed,
    /// re-described or given another default here fails until README says the same.
    #[test]
    fn every_limit_is_documented_in_readme() {
        let readme = include_str!("../README.md");
        for (key, default, meaning) in Limits::documented() {
            let row = format!("| `{key}` | {default} | {meaning} |");
            assert!(
                readme.contains(&row),
                "README's Limits table lacks the row\n{row}"
            );
        }
    }
}
