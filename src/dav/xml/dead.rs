//! The property elements of a PROPPATCH body as the client wrote them, for storing as dead
//! properties (RFC 4918 4.3, 9.2): the element tree (`tree`) keeps names and text but not
//! the markup, and a dead property's value is kept verbatim — child elements, attributes such
//! as `xml:lang`, mixed content, namespace prefixes.
//!
//! The body is read a second time, after [`super::tree::parse`] accepted it (so it is
//! well-formed, within the size, depth and name limits, and has no DOCTYPE). Each property
//! element under `propertyupdate/set|remove/prop` is cut out of the body by its byte offsets
//! (which quick-xml reports at `<` and `>`, so always on character boundaries; cut with
//! `str::get`, never by indexing), and the namespace declarations it inherits from its
//! ancestors are copied onto it, so it can be written into any other document as it is.
//! Iterative, no recursion: nesting is tracked on a stack bounded by the tree's depth limit.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::PrefixDeclaration;
use quick_xml::reader::Reader;

use super::names::DAV;
use super::tree::{XmlError, is_xml_char};
use super::write::escape_attribute_into;

/// One property element of a PROPPATCH, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawProperty {
    pub ns: String,
    pub local: String,
    /// The whole element, self-contained (every prefix it uses is declared on it or inside).
    pub xml: String,
}

/// An element open while reading: its namespace declarations and resolved name.
struct Open {
    declared: Vec<(String, String)>,
    ns: String,
    local: String,
}

/// A property element being read: where it starts, and the declarations it inherits.
struct Capture {
    start: usize,
    qname_len: usize,
    inherited: Vec<(String, String)>,
    ns: String,
    local: String,
}

/// Every property element of a `propertyupdate` body (already accepted by the tree parser),
/// in document order.
pub fn properties(body: &[u8]) -> Result<Vec<RawProperty>, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    let mut capture: Option<Capture> = None;
    let mut found = Vec::new();
    loop {
        let start = offset(reader.buffer_position())?;
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let open = open(e, &stack)?;
                if capture.is_none() && is_property_position(&stack) {
                    capture = Some(Capture {
                        start,
                        qname_len: e.name().as_ref().len(),
                        inherited: in_scope(&stack, &open.declared),
                        ns: open.ns.clone(),
                        local: open.local.clone(),
                    });
                }
                if empty {
                    if stack.len() == 3 {
                        let end = offset(reader.buffer_position())?;
                        found.push(finish(text, capture.take(), end)?);
                    }
                } else {
                    stack.push(open);
                }
            }
            Event::End(_) => {
                stack.pop();
                if stack.len() == 3
                    && let Some(done) = capture.take()
                {
                    let end = offset(reader.buffer_position())?;
                    found.push(finish(text, Some(done), end)?);
                }
            }
            Event::Comment(ref comment) if capture.is_some() => {
                // XML 1.0 §2.5: no "--" inside a comment and no "-" before its end. The
                // reader does not check this, and a stored comment is written back as is.
                let content = comment.as_ref();
                if content.contains("--") || content.ends_with('-') {
                    return Err(XmlError::Malformed(
                        "a comment containing \"--\" in a property value".to_owned(),
                    ));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

/// Whether the next child of the innermost open element is a property of a PROPPATCH:
/// `DAV:propertyupdate / DAV:set|DAV:remove / DAV:prop / *`.
fn is_property_position(stack: &[Open]) -> bool {
    match stack {
        [update, action, prop] => {
            update.ns == DAV
                && update.local == "propertyupdate"
                && action.ns == DAV
                && (action.local == "set" || action.local == "remove")
                && prop.ns == DAV
                && prop.local == "prop"
        }
        _ => false,
    }
}

fn offset(position: u64) -> Result<usize, XmlError> {
    usize::try_from(position).map_err(|_| XmlError::Malformed("body too large".to_owned()))
}

fn malformed(error: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(super::tree::excerpt(&error.to_string()).into_owned())
}

/// The declarations and resolved name of a start tag.
fn open(start: &BytesStart<'_>, stack: &[Open]) -> Result<Open, XmlError> {
    let mut declared = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(malformed)?;
        let prefix = match attribute.key.as_namespace_binding() {
            Some(PrefixDeclaration::Default) => String::new(),
            Some(PrefixDeclaration::Named(prefix)) => prefix.to_owned(),
            None => continue,
        };
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(malformed)?
            .into_owned();
        declared.push((prefix, value));
    }
    let name = start.name();
    let (prefix, local) = match name.as_ref().split_once(':') {
        Some((prefix, local)) => (prefix, local),
        None => ("", name.as_ref()),
    };
    let ns = declared
        .iter()
        .rev()
        .chain(stack.iter().rev().flat_map(|o| o.declared.iter().rev()))
        .find(|(p, _)| p == prefix)
        .map(|(_, ns)| ns.clone())
        .unwrap_or_default();
    Ok(Open {
        declared,
        ns,
        local: local.to_owned(),
    })
}

/// The declarations in scope at an element from its ancestors, nearest first, without those
/// it makes itself: what it needs copied onto it to stand alone.
fn in_scope(stack: &[Open], own: &[(String, String)]) -> Vec<(String, String)> {
    let mut seen: Vec<&str> = own.iter().map(|(p, _)| p.as_str()).collect();
    let mut inherited = Vec::new();
    for (prefix, ns) in stack.iter().rev().flat_map(|o| o.declared.iter().rev()) {
        if !seen.contains(&prefix.as_str()) {
            seen.push(prefix);
            inherited.push((prefix.clone(), ns.clone()));
        }
    }
    inherited
}

/// The captured element with its inherited declarations written into its start tag.
fn finish(text: &str, capture: Option<Capture>, end: usize) -> Result<RawProperty, XmlError> {
    let capture =
        capture.ok_or_else(|| XmlError::Malformed("unbalanced property element".to_owned()))?;
    let raw = text
        .get(capture.start..end)
        .ok_or_else(|| XmlError::Malformed("property element out of bounds".to_owned()))?;
    let name_end = 1 + capture.qname_len;
    let (head, rest) = match (raw.get(..name_end), raw.get(name_end..)) {
        (Some(head), Some(rest)) => (head, rest),
        _ => {
            return Err(XmlError::Malformed(
                "property element out of bounds".to_owned(),
            ));
        }
    };
    let mut xml = String::with_capacity(raw.len() + 64);
    xml.push_str(head);
    for (prefix, ns) in &capture.inherited {
        // The default namespace too (`xmlns=""` included): unprefixed elements inside the
        // value must keep the one they were read in.
        if prefix.is_empty() {
            xml.push_str(" xmlns=\"");
        } else {
            xml.push_str(" xmlns:");
            xml.push_str(prefix);
            xml.push_str("=\"");
        }
        escape_attribute_into(&mut xml, ns);
        xml.push('"');
    }
    xml.push_str(rest);
    if let Some(c) = xml.chars().find(|c| !is_xml_char(*c)) {
        return Err(XmlError::BadCharacter(c as u32));
    }
    Ok(RawProperty {
        ns: capture.ns,
        local: capture.local,
        xml,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_stand_alone_with_their_inherited_declarations() {
        let body = r#"<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/" xmlns="urn:default">
  <D:set><D:prop>
    <Z:Authors><Z:Author xml:lang="en">Jim &amp; Roy</Z:Author><plain/></Z:Authors>
    <x:color xmlns:x="urn:x">red</x:color>
    <empty/>
  </D:prop></D:set>
  <D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove>
</D:propertyupdate>"#;
        let found = properties(body.as_bytes()).unwrap();
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|p| (p.ns.as_str(), p.local.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("http://ns.example.com/z/", "Authors"),
                ("urn:x", "color"),
                ("urn:default", "empty"),
                ("http://ns.example.com/z/", "Copyright-Owner"),
            ]
        );
        assert_eq!(
            found[0].xml,
            "<Z:Authors xmlns=\"urn:default\" xmlns:Z=\"http://ns.example.com/z/\" \
             xmlns:D=\"DAV:\"><Z:Author xml:lang=\"en\">Jim &amp; Roy</Z:Author><plain/>\
             </Z:Authors>"
        );
        assert!(found[1].xml.starts_with("<x:color xmlns=\"urn:default\""));
        assert!(found[1].xml.ends_with(" xmlns:x=\"urn:x\">red</x:color>"));
        assert_eq!(
            found[2].xml,
            "<empty xmlns=\"urn:default\" xmlns:Z=\"http://ns.example.com/z/\" \
             xmlns:D=\"DAV:\"/>"
        );
        // Each one reads back as the element it was.
        for property in &found {
            let element = super::super::tree::parse(property.xml.as_bytes()).unwrap();
            assert_eq!(
                (element.ns.as_str(), element.local.as_str()),
                (property.ns.as_str(), property.local.as_str())
            );
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        /// Any property value the tree reader accepts is captured, and the captured element
        /// reads back on its own with the same name and text: nothing is lost or left
        /// undeclared, whatever the prefixes, default namespaces and content.
        #[test]
        fn fuzz_captured_properties_stand_alone(
            text in any::<String>(),
            attr in any::<String>(),
            default_ns in prop::sample::select(vec!["", "urn:d", "urn:a&amp;b"]),
            prefixed in any::<bool>(),
            child in prop::sample::select(vec!["", "<c/>", "<Z:c>x</Z:c>", "<![CDATA[<raw>]]>"]),
        ) {
            let mut escaped_text = String::new();
            super::super::write::escape_into(&mut escaped_text, &text);
            let mut escaped_attr = String::new();
            escape_attribute_into(&mut escaped_attr, &attr);
            let name = if prefixed { "Z:p" } else { "p" };
            let body = format!(
                "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"urn:z\" xmlns=\"{default_ns}\">\
                 <D:set><D:prop><{name} a=\"{escaped_attr}\">{escaped_text}{child}</{name}>\
                 </D:prop></D:set></D:propertyupdate>"
            );
            let Ok(tree) = super::super::tree::parse(body.as_bytes()) else {
                return Ok(());
            };
            let expected = &tree.children[0].children[0].children[0];
            let found = properties(body.as_bytes()).unwrap();
            prop_assert_eq!(found.len(), 1);
            let again = super::super::tree::parse(found[0].xml.as_bytes()).unwrap();
            prop_assert_eq!(&again.ns, &expected.ns);
            prop_assert_eq!(&again.local, &expected.local);
            prop_assert_eq!(&again.text, &expected.text);
            prop_assert_eq!(&again.attrs, &expected.attrs);
            prop_assert_eq!(&again.children, &expected.children);
        }
    }

    #[test]
    fn malformed_comments_in_values_are_refused() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x xmlns="u"><!-- a--b --></x></D:prop></D:set></D:propertyupdate>"#;
        assert!(properties(body.as_bytes()).is_err());
    }
}
