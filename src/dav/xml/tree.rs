//! A small namespace-resolved element tree read from a request body with quick-xml.
//!
//! Request bodies are small (a multiget of a few thousand hrefs at most), so a tree is simpler
//! to interpret than events and costs little. Reading is defensive: no DOCTYPE (so no entity
//! definitions and no expansion attacks), only the five predefined entities and character
//! references, a nesting limit and an element-count limit.

use quick_xml::events::Event;
use quick_xml::events::attributes::Attribute;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Deepest element nesting accepted. Real DAV bodies are under 10 levels deep.
pub const MAX_DEPTH: usize = 32;
/// Most elements accepted in one body (a multiget of 10,000 hrefs has ~10,005).
pub const MAX_ELEMENTS: usize = 200_000;

/// Why a body is not acceptable XML. Every variant is a client error (400).
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
    #[error("unexpected element {0}")]
    Unexpected(String),
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

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(XmlError::Malformed(format!(
                    "undeclared namespace prefix {prefix:?}"
                )));
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() && stack.is_empty() => {
                let _ = start;
                return Err(XmlError::Malformed("more than one root element".to_owned()));
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let element = element(ns, &start)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let element = element(ns, &start)?;
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

fn element(ns: String, start: &quick_xml::events::BytesStart<'_>) -> Result<Element, XmlError> {
    let local = start.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for attribute in start.attributes() {
        let attribute: Attribute<'_> = attribute.map_err(|e| XmlError::Malformed(e.to_string()))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| match e {
                quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                    _,
                    name,
                )) => XmlError::UnknownEntity(name),
                other => XmlError::Malformed(other.to_string()),
            })?;
        attrs.push((key.local_name().as_ref().to_owned(), value.into_owned()));
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
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::Malformed(format!(
                "invalid character reference &{};",
                &**reference
            ))),
        };
    }
    match &**reference {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::UnknownEntity(other.to_owned())),
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
}
