//! A small namespace-resolved element tree read from a request body with quick-xml.
//!
//! Request bodies are small (a multiget of a few thousand hrefs at most), so a tree is simpler
//! to interpret than events and costs little. Reading is defensive: no DOCTYPE (so no entity
//! definitions and no expansion attacks), only the five predefined entities and character
//! references, a nesting limit, an element-count limit and attribute limits. Every step is
//! linear in the body: the tree holds at most a bounded multiple of the body's size, and the
//! work per element is bounded by [`MAX_NAME_LEN`], [`MAX_ATTRIBUTES`] and
//! [`MAX_NAMESPACE_BINDINGS`].
//!
//! What the tree holds is well-formed XML 1.0 with namespaces: names are NCNames, text and
//! attribute values are XML characters (XML 1.0 §2.2), so anything echoed back from it (a
//! property name in a 404 propstat, an href) can be written without loss.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::events::attributes::Attribute;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::names::{XMLNS_NS, is_ncname};

/// Deepest element nesting accepted. Real DAV bodies are under 10 levels deep.
pub const MAX_DEPTH: usize = 32;
/// Most elements accepted in one body (a multiget of 10,000 hrefs has ~10,005).
pub const MAX_ELEMENTS: usize = 200_000;
/// Most attributes on one element, namespace declarations included. Real DAV elements carry
/// at most three (`text-match`: collation, match-type, negate-condition) plus a few `xmlns`.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most attributes kept from one body (an addressbook-query with 10,000 prop-filters, each
/// with a name and a text-match with three attributes, has 40,000). Each is two strings in the
/// tree, so this bounds what a body of tiny attributes (` a=""`, five bytes) can cost.
pub const MAX_TOTAL_ATTRIBUTES: usize = 200_000;
/// Most namespace bindings in scope at once (quick-xml's default is 128). Resolving each
/// element's prefix scans the bindings in scope, so this bounds the work per element; real
/// clients declare two to five namespaces.
pub const MAX_NAMESPACE_BINDINGS: usize = 32;
/// Longest element or attribute name (prefix included) and namespace name, in bytes. Every
/// element holds its own copy of its namespace name, so without this bound one long
/// `xmlns="..."` shared by 200,000 empty children would cost 200,000 copies of it.
pub const MAX_NAME_LEN: usize = 256;
/// Longest `xmlns` attribute value, as written, read for each element in its scope. Larger than
/// [`MAX_NAME_LEN`] because one character may be written as a reference (`&quot;`, six bytes
/// for one), so a namespace name of [`MAX_NAME_LEN`] written back by us still reads.
const MAX_RAW_NAMESPACE_LEN: usize = 8 * MAX_NAME_LEN;

/// How much of a client's input an error message quotes.
const MAX_QUOTED: usize = 64;

/// Why a body is not acceptable XML. Every variant is a client error (4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the request body is not UTF-8 XML")]
    NotUtf8,
    #[error("the request body is empty")]
    Empty,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    #[error("undefined entity &{0};")]
    UnknownEntity(String),
    #[error("XML nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    #[error("more than {MAX_ELEMENTS} XML elements")]
    TooManyElements,
    /// More than [`MAX_ATTRIBUTES`] on one element or [`MAX_TOTAL_ATTRIBUTES`] in the body.
    #[error(
        "more than {MAX_ATTRIBUTES} attributes on one XML element or {MAX_TOTAL_ATTRIBUTES} in \
         the body"
    )]
    TooManyAttributes,
    /// A name or namespace name longer than [`MAX_NAME_LEN`] bytes.
    #[error("an XML name or namespace longer than {MAX_NAME_LEN} bytes")]
    NameTooLong,
    /// A name that is not an NCName (Namespaces in XML 1.0 §3), e.g. `<a"b>` or `<a:b:c>`.
    #[error("invalid XML name {0:?}")]
    BadName(String),
    /// A character XML 1.0 does not allow (§2.2), literal or as a character reference
    /// (§4.1): C0 controls other than tab, LF and CR, U+FFFE and U+FFFF.
    #[error("character U+{0:04X} is not allowed in XML")]
    BadCharacter(u32),
    #[error("unexpected element {0}")]
    Unexpected(String),
}

/// XML 1.0 §2.2 `Char`: what XML text can carry. Rust strings cannot hold surrogates, so only
/// the controls and the two non-characters U+FFFE / U+FFFF are left out.
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// At most [`MAX_QUOTED`] characters of `text` (cut on a character boundary), for messages
/// that quote a client's input without echoing megabytes of it.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// One element: resolved namespace, local name, unqualified attributes, children and the
/// concatenated text directly inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: String,
    pub local: String,
    /// (local name, value) of attributes other than namespace declarations.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The first child with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// An attribute value by local name, ASCII case-insensitively (vdirsyncer writes
    /// `Content-Type=` where RFC 6352 says `content-type=`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn display_name(&self) -> String {
        format!("{{{}}}{}", self.ns, self.local)
    }
}

/// Parses a whole body into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    reader
        .resolver_mut()
        .set_max_namespace_bindings(MAX_NAMESPACE_BINDINGS);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = Count::default();
    let mut namespaces = NamespaceCache::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(XmlError::Malformed("more than one root element".to_owned()));
            }
            Event::Start(start) => {
                let element = element(
                    namespace(resolved, &mut namespaces)?,
                    &start,
                    &mut count,
                    &stack,
                )?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = element(
                    namespace(resolved, &mut namespaces)?,
                    &start,
                    &mut count,
                    &stack,
                )?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(XmlError::Malformed("unbalanced end tag".to_owned()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                check_chars(&content)?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed(
                            "text outside the root element".to_owned(),
                        ));
                    }
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                check_chars(&content)?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&content),
                    None => {
                        return Err(XmlError::Malformed(
                            "CDATA outside the root element".to_owned(),
                        ));
                    }
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                match stack.last_mut() {
                    Some(current) => current.text.push(resolved),
                    None => {
                        return Err(XmlError::Malformed(
                            "reference outside the root element".to_owned(),
                        ));
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".to_owned()));
    }
    root.ok_or(XmlError::Empty)
}

/// A quick-xml error as [`XmlError::Malformed`], its message cut short: some quote the input
/// (a mismatched end tag names both tags).
fn malformed(error: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(excerpt(&error.to_string()).into_owned())
}

/// Namespace names already read: an element's namespace comes as its binding's raw `xmlns`
/// value, and without this a long value declared once and used by 200,000 elements would be
/// normalized (or hashed) 200,000 times. Keyed by where quick-xml keeps the raw value (a
/// binding's bytes stay put while it is in scope), which costs nothing to hash; the key is only
/// a hint: the raw value is compared (one memcmp) before a cached name is used.
type NamespaceCache = std::collections::HashMap<(usize, usize), (String, String)>;

/// The namespace name of an element. quick-xml hands over the `xmlns` attribute's raw value;
/// the namespace name is that value normalized like any attribute value (Namespaces in XML 1.0
/// §2.2 refers to the attribute value, XML 1.0 §3.3.3), so `xmlns="a&amp;b"` is `a&b`.
fn namespace(resolved: ResolveResult<'_>, cache: &mut NamespaceCache) -> Result<String, XmlError> {
    let raw = match resolved {
        ResolveResult::Bound(ns) => ns.into_inner(),
        ResolveResult::Unbound => return Ok(String::new()),
        ResolveResult::Unknown(prefix) => {
            return Err(XmlError::Malformed(format!(
                "undeclared namespace prefix {:?}",
                excerpt(&prefix)
            )));
        }
    };
    if raw.len() > MAX_RAW_NAMESPACE_LEN {
        return Err(XmlError::NameTooLong);
    }
    let key = (raw.as_ptr() as usize, raw.len());
    if let Some((seen, ns)) = cache.get(&key)
        && seen == raw
    {
        return Ok(ns.clone());
    }
    let ns = attribute_value(&Attribute {
        key: quick_xml::name::QName("xmlns"),
        value: Cow::Borrowed(raw),
    })?;
    if ns.len() > MAX_NAME_LEN {
        return Err(XmlError::NameTooLong);
    }
    if ns == XMLNS_NS {
        // Namespaces in XML 1.0 §3: no element is in the xmlns namespace.
        return Err(XmlError::Malformed(format!(
            "element in the reserved namespace {XMLNS_NS}"
        )));
    }
    cache.insert(key, (raw.to_owned(), ns.clone()));
    Ok(ns)
}

/// Checks a qualified name (`prefix:local` or `local`): both parts NCNames, bounded length.
fn check_qname(name: &str) -> Result<(), XmlError> {
    if name.len() > MAX_NAME_LEN {
        return Err(XmlError::NameTooLong);
    }
    let (prefix, local) = match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    };
    if prefix.is_some_and(|p| !is_ncname(p)) || !is_ncname(local) {
        return Err(XmlError::BadName(excerpt(name).into_owned()));
    }
    Ok(())
}

fn check_chars(text: &str) -> Result<(), XmlError> {
    match text.chars().find(|c| !is_xml_char(*c)) {
        Some(c) => Err(XmlError::BadCharacter(c as u32)),
        None => Ok(()),
    }
}

/// An attribute value normalized (XML 1.0 §3.3.3): references resolved, tab/CR/LF as spaces.
fn attribute_value(attribute: &Attribute<'_>) -> Result<String, XmlError> {
    let value = attribute
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                _,
                name,
            )) => XmlError::UnknownEntity(excerpt(&name).into_owned()),
            other => malformed(other),
        })?;
    check_chars(&value)?;
    Ok(value.into_owned())
}

/// Elements and attributes read so far.
#[derive(Default)]
struct Count {
    elements: usize,
    attributes: usize,
}

/// Builds an element from its start tag, counting it against the limits; `stack` holds its
/// open ancestors.
fn element(
    ns: String,
    start: &quick_xml::events::BytesStart<'_>,
    count: &mut Count,
    stack: &[Element],
) -> Result<Element, XmlError> {
    count.elements += 1;
    if count.elements > MAX_ELEMENTS {
        return Err(XmlError::TooManyElements);
    }
    if stack.len() >= MAX_DEPTH {
        return Err(XmlError::TooDeep);
    }
    let name = start.name();
    check_qname(name.as_ref())?;
    let local = name.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    // quick-xml has already walked every attribute once, looking for namespace declarations
    // (linear). Its duplicate check here is linear per tag too (a hash set past 32 names, since
    // 0.42); stopping at MAX_ATTRIBUTES bounds what is checked and kept.
    for (index, attribute) in start.attributes().enumerate() {
        if index >= MAX_ATTRIBUTES {
            return Err(XmlError::TooManyAttributes);
        }
        let attribute: Attribute<'_> = attribute.map_err(malformed)?;
        let key = attribute.key;
        check_qname(key.as_ref())?;
        let value = attribute_value(&attribute)?;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        count.attributes += 1;
        if count.attributes > MAX_TOTAL_ATTRIBUTES {
            return Err(XmlError::TooManyAttributes);
        }
        attrs.push((key.local_name().as_ref().to_owned(), value));
    }
    Ok(Element {
        ns,
        local,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            // XML 1.0 §4.1: a character reference must name a Char.
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(Some(c)) => Err(XmlError::BadCharacter(c as u32)),
            _ => Err(XmlError::Malformed(format!(
                "invalid character reference &{};",
                excerpt(reference)
            ))),
        };
    }
    match &**reference {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::UnknownEntity(excerpt(other).into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_attributes_and_text() {
        let root = parse(
            br#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns="urn:x"><d:prop><foo a="1&amp;2"/><d:href>/a&amp;b&#x20;c</d:href></d:prop></d:propfind>"#,
        )
        .unwrap();
        assert!(root.is("DAV:", "propfind"));
        let prop = root.child("DAV:", "prop").unwrap();
        assert!(prop.children[0].is("urn:x", "foo"));
        assert_eq!(prop.children[0].attr("A"), Some("1&2"));
        assert_eq!(prop.children[1].text, "/a&b c");
    }

    #[test]
    fn rejects_doctype_entities_and_depth() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>"#;
        assert_eq!(parse(bomb), Err(XmlError::Doctype));
        assert_eq!(
            parse(b"<a>&lol;</a>"),
            Err(XmlError::UnknownEntity("lol".into()))
        );
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
        assert!(matches!(parse(b"<a><b></a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<a/><b/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<x:a/>"), Err(XmlError::Malformed(_))));
        assert_eq!(parse(b"  "), Err(XmlError::Empty));
        assert_eq!(parse(b"\xff<a/>"), Err(XmlError::NotUtf8));
    }

    /// `<prop a0="" a1="" ...>` with `n` attributes.
    fn with_attributes(n: usize) -> String {
        let mut body = String::from(r#"<d:propfind xmlns:d="DAV:"><d:prop"#);
        for i in 0..n {
            body.push_str(&format!(r#" a{i}="""#));
        }
        body.push_str("/></d:propfind>");
        body
    }

    #[test]
    fn bounds_attributes_per_element_and_per_body() {
        // The root's xmlns declaration counts on the root, not on prop.
        let fine = parse(with_attributes(MAX_ATTRIBUTES).as_bytes()).unwrap();
        assert_eq!(fine.children[0].attrs.len(), MAX_ATTRIBUTES);
        assert_eq!(
            parse(with_attributes(MAX_ATTRIBUTES + 1).as_bytes()),
            Err(XmlError::TooManyAttributes)
        );
        // Tens of thousands of attributes on one element: refused, not stored.
        assert_eq!(
            parse(with_attributes(50_000).as_bytes()),
            Err(XmlError::TooManyAttributes)
        );
        // Many elements, each within the per-element limit, add up to the body's limit.
        let per = "<p a=\"\" b=\"\" c=\"\" d=\"\"/>";
        let body = format!("<r>{}</r>", per.repeat(MAX_TOTAL_ATTRIBUTES / 4 + 1));
        assert_eq!(parse(body.as_bytes()), Err(XmlError::TooManyAttributes));
        let body = format!("<r>{}</r>", per.repeat(MAX_TOTAL_ATTRIBUTES / 4));
        assert!(parse(body.as_bytes()).is_ok());
    }

    #[test]
    fn bounds_names_and_namespaces() {
        let long = "n".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            parse(format!("<{long}/>").as_bytes()),
            Err(XmlError::NameTooLong)
        );
        assert_eq!(
            parse(format!(r#"<a {long}="1"/>"#).as_bytes()),
            Err(XmlError::NameTooLong)
        );
        // One long default namespace shared by many children would be copied into each.
        let body = format!(r#"<a xmlns="urn:{long}"><b/><b/></a>"#);
        assert_eq!(parse(body.as_bytes()), Err(XmlError::NameTooLong));
        // The bound is on the namespace name, not on how it is written...
        let quotes = "&quot;".repeat(MAX_NAME_LEN);
        let root = parse(format!(r#"<a xmlns="{quotes}"/>"#).as_bytes()).unwrap();
        assert_eq!(root.ns, "\"".repeat(MAX_NAME_LEN));
        // ... though how it is written is bounded too: it is read again for every element.
        let padded = format!("&#x{}41;", "0".repeat(8 * MAX_NAME_LEN));
        assert_eq!(
            parse(format!(r#"<a xmlns="{padded}"/>"#).as_bytes()),
            Err(XmlError::NameTooLong)
        );
        let mut many = String::from("<a");
        for i in 0..=MAX_NAMESPACE_BINDINGS {
            many.push_str(&format!(r#" xmlns:p{i}="urn:{i}""#));
        }
        many.push_str("/>");
        assert!(matches!(
            parse(many.as_bytes()),
            Err(XmlError::Malformed(_))
        ));
        let fits = "n".repeat(MAX_NAME_LEN);
        assert_eq!(parse(format!("<{fits}/>").as_bytes()).unwrap().local, fits);
    }

    #[test]
    fn refuses_names_xml_cannot_carry() {
        for body in [
            "<1a/>",
            r#"<a:b:c xmlns:a="urn:x"/>"#,
            r#"<a b:c:d="1" xmlns:b="urn:x"/>"#,
            "<a\u{aa}b/>",
            r#"<a x"y="1"/>"#,
        ] {
            assert!(
                matches!(
                    parse(body.as_bytes()),
                    Err(XmlError::BadName(_) | XmlError::Malformed(_))
                ),
                "{body}"
            );
        }
        assert_eq!(
            parse(b"<a\xc2\xaab/>"),
            Err(XmlError::BadName("a\u{aa}b".into()))
        );
        // No element may be in the xmlns namespace (Namespaces in XML 1.0 §3).
        assert!(matches!(
            parse(br#"<a xmlns="http://www.w3.org/2000/xmlns/"/>"#),
            Err(XmlError::Malformed(_))
        ));
        // Non-ASCII names that are XML names are fine.
        assert_eq!(parse("<Jürgen/>".as_bytes()).unwrap().local, "Jürgen");
    }

    #[test]
    fn refuses_characters_xml_cannot_carry() {
        assert_eq!(parse(b"<a>x\x01y</a>"), Err(XmlError::BadCharacter(1)));
        assert_eq!(parse(b"<a>x\x00y</a>"), Err(XmlError::BadCharacter(0)));
        assert_eq!(parse(b"<a>&#1;</a>"), Err(XmlError::BadCharacter(1)));
        assert_eq!(
            parse(b"<a>&#xFFFE;</a>"),
            Err(XmlError::BadCharacter(0xfffe))
        );
        assert_eq!(
            parse(b"<a><![CDATA[\x02]]></a>"),
            Err(XmlError::BadCharacter(2))
        );
        assert_eq!(parse(br#"<a b="&#27;"/>"#), Err(XmlError::BadCharacter(27)));
        assert_eq!(parse(b"<a b=\"\x1b\"/>"), Err(XmlError::BadCharacter(27)));
        // Tab, LF and CR are characters; a CR written as a reference survives.
        assert_eq!(parse(b"<a>\t&#13;\n</a>").unwrap().text, "\t\r\n");
        assert!(matches!(parse(b"<a>&#0;</a>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn a_binding_in_the_place_of_an_earlier_one_is_read_afresh() {
        // The second `xmlns` is stored where the first was (same place, same length): the
        // namespace cache must not hand out the first one's name.
        let root = parse(
            br#"<a><b xmlns="urn:one"><c/></b><b xmlns="urn:two"><c/></b><b xmlns="urn:&#x6F;ne"/></a>"#,
        )
        .unwrap();
        let names: Vec<_> = root.children.iter().map(|b| b.ns.as_str()).collect();
        assert_eq!(names, ["urn:one", "urn:two", "urn:one"]);
        assert_eq!(root.children[1].children[0].ns, "urn:two");
    }

    #[test]
    fn namespace_names_are_normalized_attribute_values() {
        let root = parse(br#"<a xmlns="urn:a&amp;b"><x:b xmlns:x="urn:&#x63;"/></a>"#).unwrap();
        assert_eq!(root.ns, "urn:a&b");
        assert_eq!(root.children[0].ns, "urn:c");
        assert_eq!(
            parse(br#"<a xmlns="urn:&nope;"/>"#),
            Err(XmlError::UnknownEntity("nope".into()))
        );
    }

    #[test]
    fn error_messages_quote_little() {
        let long = format!("<a>&{};</a>", "é".repeat(10_000));
        let Err(XmlError::UnknownEntity(name)) = parse(long.as_bytes()) else {
            panic!("unknown entity")
        };
        assert_eq!(name.chars().count(), MAX_QUOTED + 1);
        assert!(name.ends_with('…'));
        let mismatch = format!("<{a}></{b}>", a = "a".repeat(200), b = "b".repeat(200));
        let Err(XmlError::Malformed(message)) = parse(mismatch.as_bytes()) else {
            panic!("malformed")
        };
        assert!(message.len() < 300, "{message}");
        assert_eq!(excerpt("ü"), "ü");
    }
}
