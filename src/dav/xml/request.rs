//! Typed DAV requests read from an element tree: PROPFIND, PROPPATCH, extended MKCOL and the
//! three REPORTs (addressbook-multiget, addressbook-query, sync-collection).

use std::collections::HashSet;

use super::filter::{Filter, parse_filter};
use super::names::{CARDDAV, DAV, Known, QName};
use super::tree::{Element, XmlError, excerpt};
use crate::domain::vcard::RenderVersion;

/// Why a request body cannot be served. Each maps to one 4xx in `dav::error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("{0}")]
    Invalid(String),
    /// A REPORT this server does not implement (DAV:supported-report).
    #[error("unsupported report {0}")]
    UnsupportedReport(String),
    /// A text-match collation other than i;ascii-casemap, i;unicode-casemap, i;octet.
    #[error("unsupported collation {0:?}")]
    UnsupportedCollation(String),
    /// address-data asking for a media type or version we cannot produce.
    #[error("unsupported address data: {0}")]
    UnsupportedAddressData(String),
}

/// A property a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedProp {
    pub name: QName,
    pub known: Option<Known>,
}

impl RequestedProp {
    pub fn known(known: Known) -> RequestedProp {
        RequestedProp {
            name: known.name(),
            known: Some(known),
        }
    }

    fn from_element(element: &Element) -> RequestedProp {
        RequestedProp {
            known: Known::from_name(&element.ns, &element.local),
            name: QName::new(&element.ns, &element.local),
        }
    }
}

/// What a PROPFIND (or a REPORT's `prop`) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropSelection {
    /// `allprop`, with the extra properties of an `include` element.
    All {
        include: Vec<RequestedProp>,
    },
    /// `propname`: names only.
    Names,
    Props(Vec<RequestedProp>),
}

/// A property selection plus the vCard version asked for in `address-data`, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props {
    pub selection: PropSelection,
    pub address_version: Option<RenderVersion>,
}

impl Props {
    pub fn all() -> Props {
        Props {
            selection: PropSelection::All {
                include: Vec::new(),
            },
            address_version: None,
        }
    }

    /// How many distinct properties the request names (`prop` children, or `include` children
    /// with allprop; 0 for propname). A PROPFIND or REPORT answers each of them for every
    /// resource it lists, so the response grows with this times the resources: a handler can
    /// refuse more than it is willing to write per resource.
    pub fn property_count(&self) -> usize {
        match &self.selection {
            PropSelection::Props(props) | PropSelection::All { include: props } => props.len(),
            PropSelection::Names => 0,
        }
    }

    /// Whether any requested property needs the card text.
    pub fn wants_address_data(&self) -> bool {
        match &self.selection {
            PropSelection::Props(props) => {
                props.iter().any(|p| p.known == Some(Known::AddressData))
            }
            PropSelection::All { include } => {
                include.iter().any(|p| p.known == Some(Known::AddressData))
            }
            PropSelection::Names => false,
        }
    }
}

/// PROPFIND body; an empty body means allprop (RFC 4918 9.1).
pub fn propfind(root: Option<&Element>) -> Result<Props, RequestError> {
    let Some(root) = root else {
        return Ok(Props::all());
    };
    if !root.is(DAV, "propfind") {
        return Err(RequestError::Invalid(format!(
            "expected DAV:propfind, found {}",
            root.display_name()
        )));
    }
    props_of(root)?
        .ok_or_else(|| RequestError::Invalid("propfind needs prop, allprop or propname".to_owned()))
}

/// The `prop` / `allprop` / `propname` child of a PROPFIND or REPORT element.
pub fn props_of(parent: &Element) -> Result<Option<Props>, RequestError> {
    if let Some(prop) = parent.child(DAV, "prop") {
        let mut address_version = None;
        for child in prop.children_named(CARDDAV, "address-data") {
            address_version = address_data_version(child)?;
        }
        return Ok(Some(Props {
            selection: PropSelection::Props(distinct_props(&prop.children)),
            address_version,
        }));
    }
    if parent.child(DAV, "allprop").is_some() {
        let include = parent
            .child(DAV, "include")
            .map(|i| distinct_props(&i.children))
            .unwrap_or_default();
        return Ok(Some(Props {
            selection: PropSelection::All { include },
            address_version: None,
        }));
    }
    if parent.child(DAV, "propname").is_some() {
        return Ok(Some(Props {
            selection: PropSelection::Names,
            address_version: None,
        }));
    }
    Ok(None)
}

/// The properties named by `elements`, each once, in order of first appearance. A property
/// asked for twice is answered once (RFC 4918 §14.18 names each property of a `prop` once).
/// A set makes this linear: a list scan per property would be quadratic in a body of
/// thousands of names.
fn distinct_props(elements: &[Element]) -> Vec<RequestedProp> {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(elements.len());
    elements
        .iter()
        .filter(|e| seen.insert((e.ns.as_str(), e.local.as_str())))
        .map(RequestedProp::from_element)
        .collect()
}

/// `<C:address-data content-type="text/vcard" version="4.0"/>`: the version asked for.
fn address_data_version(element: &Element) -> Result<Option<RenderVersion>, RequestError> {
    if let Some(content_type) = element.attr("content-type") {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !is_vcard_media_type(media) {
            return Err(RequestError::UnsupportedAddressData(format!(
                "content-type {:?} (only text/vcard is served)",
                excerpt(content_type)
            )));
        }
    }
    match element.attr("version").map(str::trim) {
        None | Some("") => Ok(None),
        Some("3.0") => Ok(Some(RenderVersion::V3)),
        Some("4.0") => Ok(Some(RenderVersion::V4)),
        Some(other) => Err(RequestError::UnsupportedAddressData(format!(
            "vCard version {:?} (3.0 and 4.0 are served)",
            excerpt(other)
        ))),
    }
}

/// The vCard media types accepted on input (docs/carddav-clients.md §13).
pub fn is_vcard_media_type(media: &str) -> bool {
    [
        "text/vcard",
        "text/x-vcard",
        "application/vcard",
        "text/directory",
    ]
    .iter()
    .any(|m| m.eq_ignore_ascii_case(media.trim()))
}

/// One `set` or `remove` of a PROPPATCH (or the `set` of an extended MKCOL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOp {
    pub prop: RequestedProp,
    /// Text content for `set`; `None` for `remove`.
    pub value: Option<String>,
    /// Child element names inside the value (for `resourcetype`).
    pub value_children: Vec<QName>,
}

/// PROPPATCH body: `propertyupdate` with `set`/`remove` in document order.
pub fn proppatch(root: &Element) -> Result<Vec<PatchOp>, RequestError> {
    if !root.is(DAV, "propertyupdate") {
        return Err(RequestError::Invalid(format!(
            "expected DAV:propertyupdate, found {}",
            root.display_name()
        )));
    }
    let mut ops = Vec::new();
    for action in &root.children {
        let set = if action.is(DAV, "set") {
            true
        } else if action.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in action.children_named(DAV, "prop") {
            for element in &prop.children {
                ops.push(patch_op(element, set));
            }
        }
    }
    if ops.is_empty() {
        return Err(RequestError::Invalid(
            "propertyupdate names no property".to_owned(),
        ));
    }
    Ok(ops)
}

fn patch_op(element: &Element, set: bool) -> PatchOp {
    PatchOp {
        prop: RequestedProp::from_element(element),
        value: set.then(|| element.text.trim().to_owned()),
        value_children: element
            .children
            .iter()
            .map(|c| QName::new(&c.ns, &c.local))
            .collect(),
    }
}

/// Extended MKCOL body (RFC 5689): the properties to set on the new collection.
pub fn mkcol(root: &Element) -> Result<Vec<PatchOp>, RequestError> {
    if !root.is(DAV, "mkcol") {
        return Err(RequestError::Invalid(format!(
            "expected DAV:mkcol, found {}",
            root.display_name()
        )));
    }
    Ok(root
        .children_named(DAV, "set")
        .flat_map(|set| set.children_named(DAV, "prop"))
        .flat_map(|prop| prop.children.iter())
        .map(|element| patch_op(element, true))
        .collect())
}

/// A REPORT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Multiget {
        props: Props,
        hrefs: Vec<String>,
    },
    Query {
        props: Props,
        filter: Filter,
        limit: Option<usize>,
    },
    Sync {
        props: Props,
        /// `None` for the initial sync (empty `sync-token` element).
        token: Option<String>,
        limit: Option<usize>,
    },
}

pub fn report(root: &Element) -> Result<Report, RequestError> {
    if root.is(CARDDAV, "addressbook-multiget") {
        let props = props_of(root)?.unwrap_or_else(Props::all);
        // Each href once, in order of first appearance; a set keeps this linear in the
        // number of hrefs (RFC 6352 §8.7 allows thousands in one multiget).
        let mut seen: HashSet<&str> = HashSet::new();
        let hrefs: Vec<String> = root
            .children_named(DAV, "href")
            .map(|href| href.text.trim())
            .filter(|href| !href.is_empty() && seen.insert(href))
            .map(str::to_owned)
            .collect();
        return Ok(Report::Multiget { props, hrefs });
    }
    if root.is(CARDDAV, "addressbook-query") {
        let props = props_of(root)?.unwrap_or_else(Props::all);
        let filter = match root.child(CARDDAV, "filter") {
            Some(filter) => parse_filter(filter)?,
            None => Filter::default(),
        };
        let limit = limit_of(root.child(CARDDAV, "limit"), CARDDAV)?;
        return Ok(Report::Query {
            props,
            filter,
            limit,
        });
    }
    if root.is(DAV, "sync-collection") {
        let props = props_of(root)?.unwrap_or_else(Props::all);
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(level) = root.child(DAV, "sync-level") {
            let level = level.text.trim();
            if level != "1" && !level.eq_ignore_ascii_case("infinite") {
                return Err(RequestError::Invalid(format!(
                    "sync-level {:?} (expected 1 or infinite)",
                    excerpt(level)
                )));
            }
        }
        let limit = limit_of(root.child(DAV, "limit"), DAV)?;
        return Ok(Report::Sync {
            props,
            token,
            limit,
        });
    }
    Err(RequestError::UnsupportedReport(root.display_name()))
}

/// `<limit><nresults>N</nresults></limit>` (CardDAV and RFC 6578 use the same shape, in their
/// own namespaces; accept either).
fn limit_of(limit: Option<&Element>, ns: &str) -> Result<Option<usize>, RequestError> {
    let Some(limit) = limit else {
        return Ok(None);
    };
    let nresults = limit
        .child(ns, "nresults")
        .or_else(|| limit.children.iter().find(|c| c.local == "nresults"));
    let Some(nresults) = nresults else {
        return Ok(None);
    };
    nresults
        .text
        .trim()
        .parse::<usize>()
        .map(Some)
        .map_err(|_| {
            RequestError::Invalid(format!(
                "nresults {:?} is not a number",
                excerpt(&nresults.text)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml::filter::{Collation, MatchType};
    use crate::dav::xml::tree::parse;

    #[test]
    fn propfind_forms() {
        assert_eq!(propfind(None).unwrap(), Props::all());
        let root = parse(
            br#"<propfind xmlns="DAV:"><prop><getetag/><x xmlns="urn:y"/></prop></propfind>"#,
        )
        .unwrap();
        let props = propfind(Some(&root)).unwrap();
        let PropSelection::Props(list) = props.selection else {
            panic!("props")
        };
        assert_eq!(list[0].known, Some(Known::GetEtag));
        assert_eq!(list[1].known, None);
        assert!(list[1].name.is("urn:y", "x"));
        let root = parse(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap();
        assert_eq!(
            propfind(Some(&root)).unwrap().selection,
            PropSelection::Names
        );
    }

    #[test]
    fn multiget_with_version() {
        let root = parse(
            br#"<C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
                <prop><getetag/><C:address-data Content-Type="text/vcard" version="4.0"/></prop>
                <href>/a.vcf</href><href>/a.vcf</href><href> /b.vcf </href></C:addressbook-multiget>"#,
        )
        .unwrap();
        let Report::Multiget { props, hrefs } = report(&root).unwrap() else {
            panic!("multiget")
        };
        assert_eq!(props.address_version, Some(RenderVersion::V4));
        assert!(props.wants_address_data());
        assert_eq!(hrefs, vec!["/a.vcf", "/b.vcf"]);
    }

    #[test]
    fn query_filter() {
        let root = parse(
            br#"<C:addressbook-query xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
              <d:prop><d:getetag/></d:prop>
              <C:filter test="allof"><C:prop-filter name="fn"/>
                <C:prop-filter name="EMAIL" test="anyof">
                  <C:text-match collation="i;ascii-casemap" match-type="ends-with" negate-condition="yes">@x.org</C:text-match>
                  <C:param-filter name="type"><C:is-not-defined/></C:param-filter>
                </C:prop-filter></C:filter>
              <C:limit><C:nresults>5</C:nresults></C:limit></C:addressbook-query>"#,
        )
        .unwrap();
        let Report::Query { filter, limit, .. } = report(&root).unwrap() else {
            panic!("query")
        };
        assert_eq!(limit, Some(5));
        assert!(filter.all_of);
        assert_eq!(filter.props[0].name, "FN");
        assert!(filter.props[0].text_matches.is_empty());
        let email = &filter.props[1];
        assert_eq!(email.text_matches[0].match_type, MatchType::EndsWith);
        assert!(email.text_matches[0].negate);
        assert_eq!(email.text_matches[0].collation, Collation::AsciiCasemap);
        assert!(email.param_filters[0].is_not_defined);

        let bad = parse(br#"<C:addressbook-query xmlns:C="urn:ietf:params:xml:ns:carddav"><C:filter><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#).unwrap();
        assert_eq!(
            report(&bad),
            Err(RequestError::UnsupportedCollation("i;klingon".into()))
        );
    }

    #[test]
    fn sync_collection() {
        let root = parse(br#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#).unwrap();
        let Report::Sync { token, limit, .. } = report(&root).unwrap() else {
            panic!("sync")
        };
        assert_eq!(token, None);
        assert_eq!(limit, None);
        let other = parse(br#"<d:expand-property xmlns:d="DAV:"/>"#).unwrap();
        assert!(matches!(
            report(&other),
            Err(RequestError::UnsupportedReport(_))
        ));
    }

    #[test]
    fn proppatch_ops() {
        let root = parse(br#"<d:propertyupdate xmlns:d="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:displayname> Work </d:displayname><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:set><d:remove><d:prop><C:addressbook-description/></d:prop></d:remove></d:propertyupdate>"#).unwrap();
        let ops = proppatch(&root).unwrap();
        assert_eq!(ops[0].value.as_deref(), Some("Work"));
        assert_eq!(ops[1].prop.known, Some(Known::ResourceType));
        assert!(ops[1].value_children[0].is(DAV, "collection"));
        assert_eq!(ops[2].value, None);
    }

    #[test]
    fn duplicates_are_dropped_in_order_of_first_appearance() {
        let root = parse(
            br#"<propfind xmlns="DAV:" xmlns:x="urn:x"><prop><x:a/><getetag/><x:a/><a/><getetag/></prop></propfind>"#,
        )
        .unwrap();
        let PropSelection::Props(list) = propfind(Some(&root)).unwrap().selection else {
            panic!("props")
        };
        let names: Vec<_> = list.iter().map(|p| (&*p.name.ns, &*p.name.local)).collect();
        assert_eq!(names, [("urn:x", "a"), ("DAV:", "getetag"), ("DAV:", "a")]);
        let root = parse(
            br#"<propfind xmlns="DAV:"><allprop/><include><getetag/><getetag/><owner/></include></propfind>"#,
        )
        .unwrap();
        let PropSelection::All { include } = propfind(Some(&root)).unwrap().selection else {
            panic!("allprop")
        };
        assert_eq!(include.len(), 2);
        let root = parse(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap();
        assert_eq!(propfind(Some(&root)).unwrap().property_count(), 0);
    }

    /// Tens of thousands of hrefs and properties, each twice: de-duplication used to scan the
    /// list kept so far for each one (seconds at 40,000); it is linear now.
    #[test]
    fn large_multiget_and_propfind_deduplicate() {
        const N: usize = 40_000;
        let mut body = String::from(
            r#"<C:addressbook-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop>"#,
        );
        for i in 0..N {
            body.push_str(&format!("<p{i}/>"));
        }
        body.push_str("<p0/></prop>");
        for round in 0..2 {
            for i in 0..N {
                body.push_str(&format!("<href>/dav/addressbooks/u/s/{i}.vcf</href>"));
            }
            if round == 0 {
                body.push_str("<href>  </href>");
            }
        }
        body.push_str("</C:addressbook-multiget>");
        let root = parse(body.as_bytes()).unwrap();
        let Report::Multiget { props, hrefs } = report(&root).unwrap() else {
            panic!("multiget")
        };
        assert_eq!(hrefs.len(), N);
        assert_eq!(hrefs[0], "/dav/addressbooks/u/s/0.vcf");
        assert_eq!(hrefs[N - 1], format!("/dav/addressbooks/u/s/{}.vcf", N - 1));
        let PropSelection::Props(list) = props.selection else {
            panic!("props")
        };
        assert_eq!(list.len(), N);
        assert!(list[N - 1].name.is(DAV, &format!("p{}", N - 1)));
        let props = Props {
            selection: PropSelection::Props(list),
            address_version: None,
        };
        assert_eq!(props.property_count(), N);
    }

    #[test]
    fn refusals_quote_little() {
        let body = format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-level>{}</d:sync-level></d:sync-collection>"#,
            "é".repeat(10_000)
        );
        let Err(RequestError::Invalid(message)) = report(&parse(body.as_bytes()).unwrap()) else {
            panic!("invalid")
        };
        assert!(message.len() < 200, "{message}");
    }
}
