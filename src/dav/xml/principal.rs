//! The WebDAV ACL principal REPORTs (RFC 3744 9) read from an element tree:
//! `acl-principal-prop-set` (9.2), `principal-match` (9.3), `principal-property-search`
//! (9.4) and `principal-search-property-set` (9.5).

use super::names::{DAV, QName};
use super::request::{Props, RequestError, props_of};
use super::tree::Element;

/// Most `property-search` elements in one principal-property-search: each is matched against
/// every principal listed (here one), and real clients send one to three.
pub const MAX_PROPERTY_SEARCHES: usize = 16;
/// Longest `match` text of a principal-property-search, in characters.
pub const MAX_MATCH_CHARS: usize = 256;

/// One `property-search`: the properties to look in and the text to find in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertySearch {
    pub props: Vec<QName>,
    pub text: String,
}

/// A principal REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalReport {
    AclPrincipalPropSet {
        props: Props,
    },
    /// `self`, or `principal-property` naming a property whose value is a principal href.
    Match {
        principal_property: Option<QName>,
        props: Props,
    },
    PropertySearch {
        searches: Vec<PropertySearch>,
        /// `test="anyof"`; all of them must match otherwise (the default, 9.4).
        any_of: bool,
        props: Props,
    },
    SearchPropertySet,
}

/// The principal report a REPORT body asks for, or `None` when it is another report.
pub fn principal_report(root: &Element) -> Result<Option<PrincipalReport>, RequestError> {
    if root.ns != DAV {
        return Ok(None);
    }
    let props = || props_of(root).map(|p| p.unwrap_or_else(Props::all));
    let report = match root.local.as_str() {
        "acl-principal-prop-set" => PrincipalReport::AclPrincipalPropSet { props: props()? },
        "principal-search-property-set" => PrincipalReport::SearchPropertySet,
        "principal-match" => {
            let principal_property = match (
                root.child(DAV, "self"),
                root.child(DAV, "principal-property"),
            ) {
                (Some(_), None) => None,
                (None, Some(property)) => {
                    let named = property.children.first().ok_or_else(|| {
                        RequestError::Invalid("principal-property names no property".to_owned())
                    })?;
                    Some(QName::new(&named.ns, &named.local))
                }
                _ => {
                    return Err(RequestError::Invalid(
                        "principal-match needs exactly one of self and principal-property"
                            .to_owned(),
                    ));
                }
            };
            PrincipalReport::Match {
                principal_property,
                props: props()?,
            }
        }
        "principal-property-search" => {
            let mut searches = Vec::new();
            for search in root.children_named(DAV, "property-search") {
                if searches.len() == MAX_PROPERTY_SEARCHES {
                    return Err(RequestError::Invalid(format!(
                        "more than {MAX_PROPERTY_SEARCHES} property-search elements"
                    )));
                }
                let props: Vec<QName> = search
                    .child(DAV, "prop")
                    .map(|p| {
                        p.children
                            .iter()
                            .map(|c| QName::new(&c.ns, &c.local))
                            .collect()
                    })
                    .unwrap_or_default();
                let text = search
                    .child(DAV, "match")
                    .map(|m| m.text.trim().to_owned())
                    .unwrap_or_default();
                if text.chars().count() > MAX_MATCH_CHARS {
                    return Err(RequestError::Invalid(format!(
                        "a match text longer than {MAX_MATCH_CHARS} characters"
                    )));
                }
                searches.push(PropertySearch { props, text });
            }
            if searches.is_empty() {
                return Err(RequestError::Invalid(
                    "principal-property-search needs a property-search".to_owned(),
                ));
            }
            PrincipalReport::PropertySearch {
                searches,
                any_of: root
                    .attr("test")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("anyof")),
                props: props()?,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(report))
}

/// The body of a principal-search-property-set answer (9.5): the properties a search may name.
pub const SEARCH_PROPERTY_SET: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
    "<d:principal-search-property-set xmlns:d=\"DAV:\">",
    "<d:principal-search-property><d:prop><d:displayname/></d:prop>",
    "<d:description xml:lang=\"en\">Name</d:description></d:principal-search-property>",
    "</d:principal-search-property-set>\n"
);
