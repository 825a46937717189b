//! `addressbook-query` (RFC 6352 8.6, 10.5): filters evaluated on the parsed cards, so every
//! property and parameter can be matched — including ones the typed columns do not project
//! (`X-ABLabel`, `TYPE` parameters, `itemN.` groups). Matching is pure ([`card_matches`]).
//!
//! Parsing a whole book per query is too slow for big books, so the handler first derives from
//! the filter the text every matching card must contain ([`candidates`]) and lets the store
//! find those cards through a trigram index; only they are parsed and matched exactly. Filters
//! that can match a card without any text (`is-not-defined`, negated matches, a bare
//! `prop-filter`) read the whole book. Either way the cards are read, matched and answered a
//! slice at a time ([`super::listing`]), so memory does not grow with the book.

use std::borrow::Cow;
use std::sync::Arc;

use axum::response::Response;

use super::listing::{Entry, Listing, Matching};
use super::paths;
use super::xml::filter::{Collation, Filter, MatchType, ParamFilter, PropFilter, TextMatch};
use super::xml::request::Props;
use super::{Ctx, DavError};
use crate::domain::text;
use crate::domain::vcard::{self, PropertyView};
use crate::store::{AddressBook, TextCandidates};

pub async fn handle(
    ctx: &Ctx,
    book: &AddressBook,
    card: Option<&str>,
    props: Props,
    filter: Filter,
    limit: Option<usize>,
) -> Result<Response, DavError> {
    let narrowed = match (card, candidates(&filter)) {
        // On a card URL the query is answered for that card only (RFC 6352 8.6, Depth 0);
        // a card that does not exist is 404 like any other request on its URL.
        (Some(name), _) => {
            let names = [name.to_owned()];
            let cards = ctx
                .store
                .card_metas(&ctx.principal, book.id, Some(&names))
                .await?;
            if cards.is_empty() {
                return Err(DavError::not_found());
            }
            Some(cards)
        }
        (None, Some(needles)) => {
            ctx.store
                .card_metas_matching(&ctx.principal, book.id, &needles)
                .await?
        }
        (None, None) => None,
    };
    let mut cards = match narrowed {
        Some(cards) => cards,
        None => ctx.store.card_metas(&ctx.principal, book.id, None).await?,
    };
    // In href order, so a truncated answer is the same subset every time.
    cards.sort_unstable_by(|a, b| a.href.cmp(&b.href));
    let entries = cards.into_iter().map(Entry::Card).collect();
    let book_href = paths::book_href(ctx.user(), &book.slug);
    Ok(Listing::new(ctx, book.id, book_href, props, entries)
        .matching(Matching {
            filter: Arc::new(filter),
            limit,
        })
        .into_response())
}

/// Text that any card the filter matches must contain (in its match text), or `None` when the
/// filter can match a card without any: the store narrows the book with it before the exact
/// match. Must never exclude a card that [`card_matches`] would accept.
pub fn candidates(filter: &Filter) -> Option<TextCandidates> {
    if filter.props.is_empty() {
        return None;
    }
    let per_prop = filter.props.iter().map(prop_candidates);
    if filter.all_of {
        // Every prop-filter must hold, so any one that needs text narrows soundly.
        per_prop
            .flatten()
            .next()
            .map(|any_of| TextCandidates { any_of })
    } else {
        let mut any_of = Vec::new();
        for groups in per_prop {
            any_of.extend(groups?);
        }
        Some(TextCandidates { any_of })
    }
}

/// The needle groups one prop-filter needs (some group fully present), or `None`.
fn prop_candidates(filter: &PropFilter) -> Option<Vec<Vec<String>>> {
    let name = filter.name.to_ascii_uppercase();
    if filter.is_not_defined || vcard::BINARY_PROPERTIES.contains(&name.as_str()) {
        return None;
    }
    let needles = filter.text_matches.iter().map(candidate_needle);
    if filter.all_of {
        // One property instance must pass every text-match: all usable needles at once.
        let group: Vec<String> = needles.flatten().collect();
        (!group.is_empty()).then(|| vec![group])
    } else {
        // Any text-match (or any param-filter, which needs no text) can be enough.
        if !filter.param_filters.is_empty() || filter.text_matches.is_empty() {
            return None;
        }
        needles.map(|needle| needle.map(|n| vec![n])).collect()
    }
}

/// The casemap-folded text a matching value must contain, when that can be said soundly: not
/// for negations, and not for non-ASCII text under the collations that do not fold it the way
/// the match text is folded.
fn candidate_needle(text_match: &TextMatch) -> Option<String> {
    let usable = !text_match.negate
        && !text_match.text.is_empty()
        && !text_match.text.contains(['\n', '\r'])
        && (text_match.collation == Collation::UnicodeCasemap || text_match.text.is_ascii());
    usable.then(|| text::casemap(&text_match.text))
}

/// Which of the card texts the filter matches. A stored card that no longer parses matches
/// nothing (it is still listed by PROPFIND and sync).
pub fn matching_texts(filter: &Filter, cards: &[String]) -> Vec<bool> {
    if filter.props.is_empty() {
        return vec![true; cards.len()];
    }
    let compiled = Compiled::new(filter);
    cards
        .iter()
        .map(|text| {
            vcard::parse_one(text)
                .map(|parsed| card_matches(&compiled, &parsed.properties()))
                .unwrap_or(false)
        })
        .collect()
}

/// A filter with its needles folded once per request instead of once per card.
pub struct Compiled<'a> {
    filter: &'a Filter,
    needles: Vec<Vec<String>>,
    param_needles: Vec<Vec<Option<String>>>,
}

impl<'a> Compiled<'a> {
    pub fn new(filter: &'a Filter) -> Compiled<'a> {
        Compiled {
            filter,
            needles: filter
                .props
                .iter()
                .map(|p| {
                    p.text_matches
                        .iter()
                        .map(|t| fold(&t.text, t.collation).into_owned())
                        .collect()
                })
                .collect(),
            param_needles: filter
                .props
                .iter()
                .map(|p| {
                    p.param_filters
                        .iter()
                        .map(|f| {
                            f.text_match
                                .as_ref()
                                .map(|t| fold(&t.text, t.collation).into_owned())
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// Whether a card (its properties) passes the filter. An empty filter matches every card.
pub fn card_matches(compiled: &Compiled<'_>, properties: &[PropertyView]) -> bool {
    let filter = compiled.filter;
    if filter.props.is_empty() {
        return true;
    }
    let mut results = filter.props.iter().enumerate().map(|(i, prop_filter)| {
        prop_filter_matches(
            prop_filter,
            &compiled.needles[i],
            &compiled.param_needles[i],
            properties,
        )
    });
    if filter.all_of {
        results.all(|m| m)
    } else {
        results.any(|m| m)
    }
}

/// RFC 6352 10.5.1, per property instance: an empty prop-filter means "is defined"
/// (docs/carddav-clients.md §16); otherwise some instance of the property must satisfy the
/// text-matches and param-filters, combined by the filter's `test`.
fn prop_filter_matches(
    filter: &PropFilter,
    needles: &[String],
    param_needles: &[Option<String>],
    properties: &[PropertyView],
) -> bool {
    let mut named = properties
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(&filter.name))
        .peekable();
    if filter.is_not_defined {
        return named.peek().is_none();
    }
    if filter.text_matches.is_empty() && filter.param_filters.is_empty() {
        return named.peek().is_some();
    }
    named.any(|property| {
        let mut results = filter
            .text_matches
            .iter()
            .zip(needles)
            .map(|(text_match, needle)| text_matches(text_match, needle, &property.value))
            .chain(
                filter
                    .param_filters
                    .iter()
                    .zip(param_needles)
                    .map(|(param, needle)| param_matches(param, needle.as_deref(), property)),
            );
        if filter.all_of {
            results.all(|m| m)
        } else {
            results.any(|m| m)
        }
    })
}

fn param_matches(filter: &ParamFilter, needle: Option<&str>, property: &PropertyView) -> bool {
    let mut values = property
        .params
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(&filter.name))
        .map(|(_, value)| value.as_str())
        .peekable();
    if filter.is_not_defined {
        return values.peek().is_none();
    }
    match (&filter.text_match, needle) {
        (Some(text_match), Some(needle)) => values.any(|v| text_matches(text_match, needle, v)),
        _ => values.peek().is_some(),
    }
}

/// One text-match against one value; `needle` is the match text already folded.
fn text_matches(text_match: &TextMatch, needle: &str, value: &str) -> bool {
    let value = fold(value, text_match.collation);
    let hit = match text_match.match_type {
        MatchType::Equals => *value == *needle,
        MatchType::Contains => value.contains(needle),
        MatchType::StartsWith => value.starts_with(needle),
        MatchType::EndsWith => value.ends_with(needle),
    };
    hit != text_match.negate
}

/// The comparison form of a string under a collation: `i;ascii-casemap` folds ASCII letters
/// only; `i;unicode-casemap` (RFC 5051) folds case over all of Unicode and decomposes
/// compatibility characters (NFKD), so `É` = `é` and `ﬁ` = `fi`, but `é` ≠ `e`.
fn fold(text: &str, collation: Collation) -> Cow<'_, str> {
    match collation {
        Collation::Octet => Cow::Borrowed(text),
        Collation::AsciiCasemap => {
            if text.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(text.to_ascii_lowercase())
            } else {
                Cow::Borrowed(text)
            }
        }
        Collation::UnicodeCasemap => {
            if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Borrowed(text)
            } else {
                // The same fold as the stored match text, so candidates never miss a match.
                Cow::Owned(text::casemap(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml::request::{Report, report};
    use crate::dav::xml::tree::parse;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nFN:José Müller\r\nN:Müller;José;;;\r\nitem1.EMAIL;TYPE=INTERNET,WORK:jose@Example.org\r\nitem1.X-ABLabel:_$!<Work>!$_\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n";

    fn filter_of(filter_xml: &str) -> Filter {
        let body = format!(
            r#"<C:addressbook-query xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop>{filter_xml}</C:addressbook-query>"#
        );
        let Report::Query { filter, .. } = report(&parse(body.as_bytes()).unwrap()).unwrap() else {
            panic!("query")
        };
        filter
    }

    /// Whether the card matches; and, every time, that a match is never lost by the candidate
    /// narrowing the store does first.
    fn check(filter_xml: &str) -> bool {
        let filter = filter_of(filter_xml);
        let card = vcard::parse_one(CARD).unwrap();
        let matched = card_matches(&Compiled::new(&filter), &card.properties());
        if matched && let Some(candidates) = candidates(&filter) {
            let text = card.match_text();
            assert!(
                candidates
                    .any_of
                    .iter()
                    .any(|group| group.iter().all(|needle| text.contains(needle.as_str()))),
                "{filter_xml} matches but {candidates:?} would not select the card"
            );
        }
        matched
    }

    #[test]
    fn text_matches_narrow_and_the_rest_read_everything() {
        let narrowed = |xml: &str| candidates(&filter_of(xml)).map(|c| c.any_of);
        assert_eq!(
            narrowed(
                r#"<C:filter><C:prop-filter name="FN"><C:text-match collation="i;unicode-casemap">MÜLLER</C:text-match></C:prop-filter></C:filter>"#
            ),
            Some(vec![vec!["mu\u{308}ller".to_owned()]])
        );
        assert_eq!(
            narrowed(
                r#"<C:filter><C:prop-filter name="FN"><C:text-match>ann</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"><C:text-match>Ann@</C:text-match></C:prop-filter></C:filter>"#
            ),
            Some(vec![vec!["ann".to_owned()], vec!["ann@".to_owned()]])
        );
        for unbounded in [
            r#"<C:filter><C:prop-filter name="FN"/></C:filter>"#,
            r#"<C:filter><C:prop-filter name="FN"><C:text-match negate-condition="yes">x</C:text-match></C:prop-filter></C:filter>"#,
            r#"<C:filter><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter></C:filter>"#,
            r#"<C:filter><C:prop-filter name="FN"><C:text-match collation="i;octet">É</C:text-match></C:prop-filter></C:filter>"#,
            r#"<C:filter><C:prop-filter name="FN"><C:text-match>a</C:text-match></C:prop-filter><C:prop-filter name="TEL"/></C:filter>"#,
            r#"<C:filter><C:prop-filter name="PHOTO"><C:text-match>a</C:text-match></C:prop-filter></C:filter>"#,
        ] {
            assert_eq!(narrowed(unbounded), None, "{unbounded}");
        }
    }

    #[test]
    fn defined_and_not_defined() {
        assert!(check(r#"<C:filter><C:prop-filter name="FN"/></C:filter>"#));
        assert!(check(
            r#"<C:filter><C:prop-filter name="x-ablabel"/></C:filter>"#
        ));
        assert!(!check(
            r#"<C:filter><C:prop-filter name="NICKNAME"/></C:filter>"#
        ));
        assert!(check(
            r#"<C:filter><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter></C:filter>"#
        ));
        assert!(check(r#"<C:filter/>"#));
    }

    #[test]
    fn collations_and_match_types() {
        let tm = |attrs: &str, text: &str| {
            check(&format!(
                r#"<C:filter><C:prop-filter name="FN"><C:text-match {attrs}>{text}</C:text-match></C:prop-filter></C:filter>"#
            ))
        };
        assert!(tm("", "müller"));
        assert!(tm(r#"collation="i;unicode-casemap""#, "MÜLLER"));
        assert!(!tm(r#"collation="i;ascii-casemap""#, "MÜLLER"));
        assert!(tm(r#"collation="i;ascii-casemap""#, "JOSé"));
        assert!(!tm("", "muller"));
        assert!(tm(r#"match-type="equals""#, "josé müller"));
        assert!(!tm(r#"match-type="equals""#, "josé"));
        assert!(tm(r#"match-type="starts-with""#, "JOS"));
        assert!(tm(r#"match-type="ends-with""#, "LER"));
        assert!(!tm(r#"match-type="ends-with""#, "JOS"));
        assert!(tm(r#"negate-condition="yes""#, "smith"));
        assert!(!tm(r#"negate-condition="yes""#, "müller"));
        assert!(!tm(r#"collation="i;octet""#, "müller"));
    }

    #[test]
    fn params_and_tests() {
        assert!(check(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter></C:filter>"#
        ));
        assert!(!check(
            r#"<C:filter><C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:text-match match-type="equals">home</C:text-match></C:param-filter></C:prop-filter></C:filter>"#
        ));
        assert!(check(
            r#"<C:filter><C:prop-filter name="TEL"><C:param-filter name="PREF"><C:is-not-defined/></C:param-filter></C:prop-filter></C:filter>"#
        ));
        // anyof (default) vs allof over prop-filters
        let both = r#"<C:prop-filter name="NICKNAME"/><C:prop-filter name="FN"/>"#;
        assert!(check(&format!("<C:filter>{both}</C:filter>")));
        assert!(!check(&format!(
            r#"<C:filter test="allof">{both}</C:filter>"#
        )));
        // allof inside one prop-filter
        assert!(!check(
            r#"<C:filter><C:prop-filter name="EMAIL" test="allof"><C:text-match>jose</C:text-match><C:text-match>nobody</C:text-match></C:prop-filter></C:filter>"#
        ));
        assert!(check(
            r#"<C:filter><C:prop-filter name="EMAIL" test="anyof"><C:text-match>jose</C:text-match><C:text-match>nobody</C:text-match></C:prop-filter></C:filter>"#
        ));
    }
}
