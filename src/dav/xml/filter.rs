//! The `<C:filter>` of an addressbook-query (RFC 6352 10.5) as typed data: prop-filters,
//! param-filters and text-matches with their collation, match type and negation. Evaluation
//! against cards lives in `dav::query`.

use super::names::CARDDAV;
use super::request::RequestError;
use super::tree::{Element, excerpt};

/// `<C:filter>` of an addressbook-query (RFC 6352 10.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// `test="allof"`; the default is anyof.
    pub all_of: bool,
    pub props: Vec<PropFilter>,
}

impl Filter {
    /// How many `prop-filter`, `param-filter` and `text-match` elements (RFC 6352 §10.5.1,
    /// §10.5.2, §10.5.4) this filter holds, counting those inside param-filters. Evaluating
    /// the filter costs about this much per card, so a handler can refuse a query whose filter
    /// is larger than it is willing to run against every card of a book. Elements the parser
    /// does not read (unknown names, a second text-match in a param-filter) are not counted.
    pub fn element_count(&self) -> usize {
        self.props
            .iter()
            .map(|p| {
                1 + p.text_matches.len()
                    + p.param_filters.len()
                    + p.param_filters
                        .iter()
                        .filter(|f| f.text_match.is_some())
                        .count()
            })
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// Property name, upper case.
    pub name: String,
    pub all_of: bool,
    pub is_not_defined: bool,
    pub text_matches: Vec<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    /// Parameter name, upper case.
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub match_type: MatchType,
    pub negate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    AsciiCasemap,
    UnicodeCasemap,
    Octet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

fn is_all_of(element: &Element) -> bool {
    element
        .attr("test")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("allof"))
}

pub(super) fn parse_filter(filter: &Element) -> Result<Filter, RequestError> {
    let props = filter
        .children_named(CARDDAV, "prop-filter")
        .map(parse_prop_filter)
        .collect::<Result<_, _>>()?;
    Ok(Filter {
        all_of: is_all_of(filter),
        props,
    })
}

fn required_name(element: &Element) -> Result<String, RequestError> {
    match element.attr("name").map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_ascii_uppercase()),
        _ => Err(RequestError::Invalid(format!(
            "{} needs a name attribute",
            element.local
        ))),
    }
}

fn parse_prop_filter(element: &Element) -> Result<PropFilter, RequestError> {
    Ok(PropFilter {
        name: required_name(element)?,
        all_of: is_all_of(element),
        is_not_defined: element.child(CARDDAV, "is-not-defined").is_some(),
        text_matches: element
            .children_named(CARDDAV, "text-match")
            .map(parse_text_match)
            .collect::<Result<_, _>>()?,
        param_filters: element
            .children_named(CARDDAV, "param-filter")
            .map(|p| {
                Ok(ParamFilter {
                    name: required_name(p)?,
                    is_not_defined: p.child(CARDDAV, "is-not-defined").is_some(),
                    text_match: p
                        .child(CARDDAV, "text-match")
                        .map(parse_text_match)
                        .transpose()?,
                })
            })
            .collect::<Result<_, RequestError>>()?,
    })
}

fn parse_text_match(element: &Element) -> Result<TextMatch, RequestError> {
    let collation = match element.attr("collation").map(str::trim) {
        None | Some("") | Some("i;unicode-casemap") => Collation::UnicodeCasemap,
        Some("i;ascii-casemap") => Collation::AsciiCasemap,
        Some("i;octet") => Collation::Octet,
        Some(other) => {
            return Err(RequestError::UnsupportedCollation(
                excerpt(other).into_owned(),
            ));
        }
    };
    let match_type = match element.attr("match-type").map(str::trim) {
        None | Some("") | Some("contains") => MatchType::Contains,
        Some("equals") => MatchType::Equals,
        Some("starts-with") => MatchType::StartsWith,
        Some("ends-with") => MatchType::EndsWith,
        Some(other) => {
            return Err(RequestError::Invalid(format!(
                "unknown match-type {:?}",
                excerpt(other)
            )));
        }
    };
    let negate = element
        .attr("negate-condition")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("yes"));
    Ok(TextMatch {
        text: element.text.clone(),
        collation,
        match_type,
        negate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml::tree::parse;

    fn filter(body: &str) -> Filter {
        parse_filter(&parse(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn element_count_counts_every_filter_element() {
        assert_eq!(Filter::default().element_count(), 0);
        let f = filter(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav">
                 <C:prop-filter name="FN"/>
                 <C:prop-filter name="EMAIL">
                   <C:text-match>a</C:text-match><C:text-match>b</C:text-match>
                   <C:param-filter name="TYPE"><C:text-match>work</C:text-match></C:param-filter>
                   <C:param-filter name="PREF"><C:is-not-defined/></C:param-filter>
                 </C:prop-filter>
               </C:filter>"#,
        );
        // 2 prop-filters, 2 text-matches, 2 param-filters, 1 text-match in a param-filter.
        assert_eq!(f.element_count(), 7);
        // Elements the parser does not read (unknown names) are not counted.
        let f = filter(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:x="urn:x">
                 <x:prop-filter name="FN"/><C:prop-filter name="N"><x:text-match/></C:prop-filter>
               </C:filter>"#,
        );
        assert_eq!(f.element_count(), 1);
    }

    #[test]
    fn element_count_grows_with_the_body() {
        let body = format!(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav">{}</C:filter>"#,
            r#"<C:prop-filter name="FN"><C:text-match>x</C:text-match></C:prop-filter>"#
                .repeat(5_000)
        );
        assert_eq!(filter(&body).element_count(), 10_000);
    }

    #[test]
    fn refusals_quote_little() {
        let body = format!(
            r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav"><C:prop-filter name="FN"><C:text-match collation="{}"/></C:prop-filter></C:filter>"#,
            "ü".repeat(10_000)
        );
        let Err(RequestError::UnsupportedCollation(name)) =
            parse_filter(&parse(body.as_bytes()).unwrap())
        else {
            panic!("collation")
        };
        assert!(name.len() < 200);
    }
}
