//! Property-based fuzzing of CardDAV request XML: the tree reader, the PROPFIND / PROPPATCH /
//! MKCOL / REPORT interpreters, the addressbook-query filter parser and the multistatus writer.
//!
//! Inputs are random bytes, soups of XML-ish tokens, generated well-formed documents, and real
//! clients' request bodies (`tests/fixtures/dav`) mutated: bytes inserted, deleted, replaced,
//! non-ASCII spliced in, truncated, slices repeated, elements nested. The properties: nothing
//! panics; a refusal is a typed error with a short message; what the tree holds is well-formed
//! XML (NCNames, XML 1.0 characters) and reads back unchanged after being written; what the
//! writer produces from any strings reads back with the same text, up to the documented
//! replacement of characters XML 1.0 cannot carry (U+FFFD).
//!
//! Case counts come from [`crate::fuzzing::config`] (`ROLODEX_FUZZ_CASES`).

use std::collections::HashSet;
use std::sync::LazyLock;

use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::sample::Index;

use super::filter::parse_filter;
use super::names::{CALENDARSERVER, CARDDAV, DAV, QName, XML_NS, XMLNS_NS, is_ncname, is_writable};
use super::request::{self, PropSelection, Report};
use super::tree::{self, Element, MAX_ATTRIBUTES, is_xml_char};
use super::write::{Multistatus, error_body, escape_attribute_into, escape_into};

/// Real clients' bodies, placeholders filled as `tests/it/dav.rs` fills them.
static FIXTURES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let hrefs = "<href>/dav/addressbooks/alice/contacts/picard.vcf</href>\
                 <href>/dav/addressbooks/alice/contacts/a%40b.vcf</href>";
    let d_hrefs = "<d:href>/dav/addressbooks/alice/contacts/picard.vcf</d:href>\
                   <d:href>https://h/dav/addressbooks/alice/contacts/J%C3%BCrgen.vcf</d:href>";
    [
        include_str!("../../../tests/fixtures/dav/davx5-book.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/davx5-multiget.xml").replace("{{HREFS}}", hrefs),
        include_str!("../../../tests/fixtures/dav/davx5-sync-initial.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/davx5-sync.xml")
            .replace("{{TOKEN}}", "http://rolodex/sync/42"),
        include_str!("../../../tests/fixtures/dav/evolution-query.xml").replace("{{TEXT}}", "jürg"),
        include_str!("../../../tests/fixtures/dav/macos-current-user-principal.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/macos-home.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/macos-me-card.xml")
            .replace("{{CARD_HREF}}", "/dav/addressbooks/alice/contacts/me.vcf"),
        include_str!("../../../tests/fixtures/dav/macos-principal.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/thunderbird-multiget.xml")
            .replace("{{HREFS}}", d_hrefs),
        include_str!("../../../tests/fixtures/dav/thunderbird-propfind.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/tsdav-query-empty-prop-filter.xml").to_owned(),
        include_str!("../../../tests/fixtures/dav/vdirsyncer-mkcol.xml").to_owned(),
    ]
    .into()
});

/// Pieces of XML syntax (and near misses) that random soups and mutations are made of.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "=",
    "\"",
    "'",
    ":",
    "&",
    ";",
    " ",
    "\n",
    "\r\n",
    "&amp;",
    "&lt;",
    "&#13;",
    "&#x1;",
    "&#0;",
    "&#x110000;",
    "&#xFFFE;",
    "&nope;",
    "&#;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    "<?pi x?>",
    "<!DOCTYPE a [<!ENTITY e \"x\">]>",
    "xmlns=\"DAV:\"",
    "xmlns:d=\"DAV:\"",
    "xmlns:C=\"urn:ietf:params:xml:ns:carddav\"",
    "xmlns=\"\"",
    "xmlns:x=\"\"",
    "xmlns=\"http://www.w3.org/2000/xmlns/\"",
    "xmlns:xml=\"urn:x\"",
    "d:",
    "C:",
    "x:",
    "prop",
    "href",
    "propfind",
    "allprop",
    "include",
    "propname",
    "getetag",
    "propertyupdate",
    "set",
    "remove",
    "mkcol",
    "addressbook-multiget",
    "addressbook-query",
    "sync-collection",
    "sync-token",
    "sync-level",
    "limit",
    "nresults",
    "filter",
    "prop-filter",
    "param-filter",
    "text-match",
    "is-not-defined",
    "address-data",
    "name=\"FN\"",
    "test=\"allof\"",
    "collation=\"i;octet\"",
    "collation=\"i;klingon\"",
    "match-type=\"ends-with\"",
    "negate-condition=\"yes\"",
    "content-type=\"text/vcard\"",
    "version=\"4.0\"",
    "version=\"5.0\"",
    "ü",
    "€",
    "\u{feff}",
    "\u{0}",
    "\u{1}",
    "\u{fffe}",
    "\u{10ffff}",
    "𝄞",
];

/// Non-ASCII (and not-UTF-8) byte strings spliced into bodies.
const SPLICES: &[&[u8]] = &[
    "ü".as_bytes(),
    "€".as_bytes(),
    "𝄞".as_bytes(),
    "\u{feff}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{fffd}".as_bytes(),
    "\u{fffe}".as_bytes(),
    "\u{ffff}".as_bytes(),
    "\u{10ffff}".as_bytes(),
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{aa}".as_bytes(),
    "\u{b7}".as_bytes(),
    "\u{300}".as_bytes(),
    b"\xc3",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"\x1b",
];

/// One edit of a body.
#[derive(Debug, Clone)]
enum Mutation {
    InsertBytes(Index, Vec<u8>),
    InsertToken(Index, Index),
    Splice(Index, Index),
    Delete(Index, usize),
    Replace(Index, u8),
    Truncate(Index),
    /// Repeat the slice at `.0` of length `.1`, `.2` times (repeated elements).
    Repeat(Index, usize, usize),
    /// Open `.2` elements at `.0` and close them at `.1` (nesting).
    Nest(Index, Index, usize),
    /// Copy a slice elsewhere.
    Copy(Index, usize, Index),
}

/// Edits weighted so that most bodies stay UTF-8 and get past the first syntax error into the
/// interpreters; raw bytes still come often enough to exercise the refusals.
fn mutation() -> impl Strategy<Value = Mutation> {
    let ix = any::<Index>;
    let byte = prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()];
    prop_oneof![
        1 => (ix(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        4 => (ix(), ix()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        1 => (ix(), ix()).prop_map(|(i, s)| Mutation::Splice(i, s)),
        3 => (ix(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (ix(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => ix().prop_map(Mutation::Truncate),
        3 => (ix(), 1usize..64, 2usize..200).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        2 => (ix(), ix(), 1usize..40).prop_map(|(a, b, k)| Mutation::Nest(a, b, k)),
        3 => (ix(), 1usize..64, ix()).prop_map(|(a, n, b)| Mutation::Copy(a, n, b)),
    ]
}

/// A position in `0..=len`.
fn at(index: &Index, len: usize) -> usize {
    index.index(len + 1)
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    let len = body.len();
    match mutation {
        Mutation::InsertBytes(i, bytes) => {
            let i = at(i, len);
            body.splice(i..i, bytes.iter().copied());
        }
        Mutation::InsertToken(i, t) => {
            let i = at(i, len);
            body.splice(i..i, t.get(TOKENS).bytes());
        }
        Mutation::Splice(i, s) => {
            let i = at(i, len);
            body.splice(i..i, s.get(SPLICES).iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(i, len);
            body.drain(i..(i + n).min(len));
        }
        Mutation::Replace(i, b) => {
            if len > 0 {
                body[i.index(len)] = *b;
            }
        }
        Mutation::Truncate(i) => body.truncate(at(i, len)),
        Mutation::Repeat(i, n, k) => {
            let i = at(i, len);
            let slice = body[i..(i + n).min(len)].to_vec();
            let end = i + slice.len();
            for _ in 1..*k {
                body.splice(end..end, slice.iter().copied());
            }
        }
        Mutation::Nest(a, b, k) => {
            let (a, b) = (at(a, len), at(b, len));
            let (a, b) = (a.min(b), a.max(b));
            body.splice(b..b, "</n>".repeat(*k).into_bytes());
            body.splice(a..a, "<n>".repeat(*k).into_bytes());
        }
        Mutation::Copy(a, n, b) => {
            let a = at(a, len);
            let slice = body[a..(a + n).min(len)].to_vec();
            let b = at(b, len);
            body.splice(b..b, slice);
        }
    }
}

/// A fixture with mutations applied.
fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..5)).prop_map(|(fixture, mutations)| {
        let mut body = fixture.get(&FIXTURES[..]).as_bytes().to_vec();
        for m in &mutations {
            apply(&mut body, m);
        }
        body
    })
}

/// A concatenation of XML tokens, names and random text, inside a root element half the time.
fn token_soup() -> impl Strategy<Value = String> {
    let parts = prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(TOKENS).prop_map(str::to_owned),
            1 => ncname(),
            1 => ".{0,6}",
        ],
        0..64,
    );
    (parts, any::<bool>()).prop_map(|(parts, wrap)| {
        let soup = parts.concat();
        if wrap {
            format!(r#"<d:propfind xmlns:d="DAV:" xmlns:C="{CARDDAV}">{soup}</d:propfind>"#)
        } else {
            soup
        }
    })
}

/// Names of the DAV and CardDAV request vocabulary, for generated requests.
const VOCABULARY: &[&str] = &[
    "propfind",
    "prop",
    "allprop",
    "include",
    "propname",
    "getetag",
    "displayname",
    "resourcetype",
    "collection",
    "addressbook",
    "propertyupdate",
    "set",
    "remove",
    "mkcol",
    "addressbook-multiget",
    "addressbook-query",
    "sync-collection",
    "sync-token",
    "sync-level",
    "href",
    "limit",
    "nresults",
    "filter",
    "prop-filter",
    "param-filter",
    "text-match",
    "is-not-defined",
    "address-data",
    "addressbook-description",
    "me-card",
];

/// Attribute names and values the request interpreters read.
const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("name", &["FN", "email", "", "  ", "TYPE", "ü"]),
    ("test", &["allof", "anyof", "ALLOF", "x"]),
    (
        "collation",
        &["i;octet", "i;ascii-casemap", "i;unicode-casemap", "", "i;x"],
    ),
    (
        "match-type",
        &["equals", "contains", "starts-with", "ends-with", "", "x"],
    ),
    ("negate-condition", &["yes", "no", "YES"]),
    (
        "content-type",
        &["text/vcard", "text/vcard; charset=utf-8", "text/html", ""],
    ),
    ("Content-Type", &["text/vcard", "application/json"]),
    ("version", &["3.0", "4.0", " 4.0 ", "2.1", ""]),
];

/// Texts the request interpreters read (hrefs, tokens, numbers), and anything.
fn request_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "",
            " ",
            "1",
            "infinite",
            "0",
            "5",
            "-1",
            "99999999999999999999999",
            "/dav/addressbooks/alice/contacts/a.vcf",
            " /dav/addressbooks/alice/contacts/a.vcf ",
            "http://rolodex/sync/1",
            "Work",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Trees made of the DAV / CardDAV vocabulary: well-formed, and they reach deep into the
/// interpreters (nonsense in the right places, as a confused client would send).
fn request_tree() -> impl Strategy<Value = Element> {
    let attrs = prop::collection::vec((any::<Index>(), any::<Index>()), 0..3).prop_map(|picks| {
        let mut attrs: Vec<(String, String)> = Vec::new();
        for (name, value) in picks {
            let (name, values) = name.get(ATTRIBUTES);
            if !attrs.iter().any(|(n, _)| n == name) {
                attrs.push(((*name).to_owned(), (*value.get(values)).to_owned()));
            }
        }
        attrs
    });
    let leaf = (
        prop_oneof![4 => Just(DAV), 4 => Just(CARDDAV), 1 => Just("urn:x")],
        prop::sample::select(VOCABULARY),
        attrs,
        request_text(),
    )
        .prop_map(|(ns, local, attrs, text)| Element {
            ns: ns.to_owned(),
            local: local.to_owned(),
            attrs,
            children: Vec::new(),
            text,
        });
    let tree = leaf.prop_recursive(5, 64, 8, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..8)).prop_map(|(mut parent, children)| {
            parent.text.clear();
            parent.children = children;
            parent
        })
    });
    // Mostly rooted at a request element, so the interpreters get past the root.
    let roots = prop::sample::select(vec![
        (DAV, "propfind"),
        (DAV, "propertyupdate"),
        (DAV, "mkcol"),
        (DAV, "sync-collection"),
        (CARDDAV, "addressbook-multiget"),
        (CARDDAV, "addressbook-query"),
    ]);
    (tree, proptest::option::weighted(0.8, roots)).prop_map(|(mut root, name)| {
        if let Some((ns, local)) = name {
            root.ns = ns.to_owned();
            root.local = local.to_owned();
        }
        root
    })
}

fn ncname() -> impl Strategy<Value = String> {
    "[A-Za-z_\u{c0}-\u{d6}\u{4e00}-\u{4e05}][A-Za-z0-9._\u{b7}\u{300}-\u{302}ü-]{0,8}"
}

/// Namespace names: ours, reserved ones, awkward ones and arbitrary short strings.
fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            DAV,
            CARDDAV,
            CALENDARSERVER,
            "",
            "urn:x",
            "urn:a&b<\"'>",
            "http://ü.example/ns",
            XML_NS,
            XMLNS_NS,
        ])
        .prop_map(str::to_owned),
        ".{0,40}",
    ]
}

/// `text` as it reads back after writing: characters XML 1.0 cannot carry become U+FFFD.
fn carried(text: &str) -> String {
    text.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
        .collect()
}

/// Writes a tree back as XML: every element declares its namespace as the default; attributes
/// are unprefixed, but a local name already used on the element gets a prefix of its own
/// (`p1:`, `p2:`, declared on the element) so the copies stay distinct.
fn serialize(element: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&element.local);
    out.push_str(" xmlns=\"");
    escape_attribute_into(out, &element.ns);
    out.push('"');
    let mut seen: Vec<&str> = Vec::new();
    let mut prefixes = 0;
    for (name, value) in &element.attrs {
        // An unprefixed `xmlns` would be a declaration, so that local name always gets one.
        let copies =
            seen.iter().filter(|n| **n == name.as_str()).count() + usize::from(name == "xmlns");
        seen.push(name);
        out.push(' ');
        if copies > 0 {
            if copies > prefixes {
                out.push_str(&format!("xmlns:p{copies}=\"urn:p{copies}\" "));
                prefixes = copies;
            }
            out.push_str(&format!("p{copies}:"));
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_attribute_into(out, value);
        out.push('"');
    }
    out.push('>');
    escape_into(out, &element.text);
    for child in &element.children {
        serialize(child, out);
    }
    out.push_str("</");
    out.push_str(&element.local);
    out.push('>');
}

/// What the tree promises: names are NCNames, text and values are XML characters, no element is
/// in the xmlns namespace, and limits hold.
fn check_tree(element: &Element, depth: usize) -> Result<(), TestCaseError> {
    prop_assert!(depth <= tree::MAX_DEPTH);
    prop_assert!(is_ncname(&element.local), "{:?}", element.local);
    prop_assert!(element.ns != XMLNS_NS);
    prop_assert!(element.ns.len() <= tree::MAX_NAME_LEN);
    prop_assert!(element.ns.chars().all(is_xml_char));
    prop_assert!(element.text.chars().all(is_xml_char));
    prop_assert!(element.attrs.len() <= MAX_ATTRIBUTES);
    for (name, value) in &element.attrs {
        prop_assert!(is_ncname(name), "{name:?}");
        prop_assert!(value.chars().all(is_xml_char));
    }
    for child in &element.children {
        check_tree(child, depth + 1)?;
    }
    Ok(())
}

/// Refusals carry short messages: they quote at most a little of the input.
fn check_message(message: String) -> Result<(), TestCaseError> {
    prop_assert!(!message.is_empty());
    prop_assert!(
        message.len() <= 1024,
        "{} bytes: {message:.200}",
        message.len()
    );
    Ok(())
}

/// Whether [`serialize`] can write `element` within the reader's limits: the prefixes it may
/// add to attributes need room in the per-element count and in the name length.
fn serializable(element: &Element) -> bool {
    element.attrs.len() <= MAX_ATTRIBUTES / 2
        && element
            .attrs
            .iter()
            .all(|(name, _)| name.len() <= tree::MAX_NAME_LEN - 8)
        && element.children.iter().all(serializable)
}

fn distinct(names: &[request::RequestedProp]) -> bool {
    let mut seen = HashSet::new();
    names.iter().all(|p| seen.insert(&p.name))
}

/// Runs every interpreter over a parsed tree and checks what they promise.
fn interpret(root: &Element) -> Result<(), TestCaseError> {
    let selection_ok = |selection: &PropSelection| match selection {
        PropSelection::Props(props) | PropSelection::All { include: props } => {
            // De-duplicated, and every name can be echoed in a propstat.
            distinct(props) && props.iter().all(|p| is_writable(&p.name))
        }
        PropSelection::Names => true,
    };
    match request::propfind(Some(root)) {
        Ok(props) => prop_assert!(selection_ok(&props.selection)),
        Err(e) => check_message(e.to_string())?,
    }
    for ops in [request::proppatch(root), request::mkcol(root)] {
        match ops {
            Ok(ops) => prop_assert!(ops.iter().all(|op| is_writable(&op.prop.name))),
            Err(e) => check_message(e.to_string())?,
        }
    }
    match request::report(root) {
        Ok(Report::Multiget { props, hrefs }) => {
            prop_assert!(selection_ok(&props.selection));
            let mut seen = HashSet::new();
            for href in &hrefs {
                prop_assert!(!href.is_empty() && href.trim() == href);
                prop_assert!(seen.insert(href), "duplicate href {href:?}");
            }
        }
        Ok(Report::Query { props, filter, .. }) => {
            prop_assert!(selection_ok(&props.selection));
            prop_assert!(filter.element_count() >= filter.props.len());
        }
        Ok(Report::Sync { props, .. }) => prop_assert!(selection_ok(&props.selection)),
        Err(e) => check_message(e.to_string())?,
    }
    // The filter parser on every element (it reads the prop-filter children of any).
    let mut stack = vec![root];
    while let Some(element) = stack.pop() {
        match parse_filter(element) {
            Ok(filter) => prop_assert!(filter.element_count() >= filter.props.len()),
            Err(e) => check_message(e.to_string())?,
        }
        stack.extend(element.children.iter());
    }
    Ok(())
}

/// The whole request path for one body: parse, check, interpret, write back and read again.
fn check_body(body: &[u8]) -> Result<(), TestCaseError> {
    let root = match tree::parse(body) {
        Ok(root) => root,
        Err(e) => return check_message(e.to_string()),
    };
    check_tree(&root, 1)?;
    interpret(&root)?;
    // Written back, the tree reads the same (when the extra prefix declarations the writer
    // may need for same-named attributes still fit the per-element limit).
    if serializable(&root) {
        let mut out = String::new();
        serialize(&root, &mut out);
        prop_assert_eq!(tree::parse(out.as_bytes()), Ok(root), "{}", out);
    }
    Ok(())
}

/// Text for elements and attribute values: mostly the characters that need care (markup,
/// whitespace, controls, non-characters, non-ASCII), sometimes anything.
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => r#"[a-zü€𝄞 &<>"'\]\t\r\n\x00-\x1f\x7f\x{85}\x{2028}\x{fffd}-\x{ffff}]{0,16}"#,
        1 => any::<String>(),
    ]
}

/// A well-formed element tree with arbitrary text and attribute values.
fn element_tree() -> impl Strategy<Value = Element> {
    let attrs = prop::collection::btree_map(
        "[a-z][a-z0-9-]{0,6}".prop_filter("not a declaration", |n| n != "xmlns"),
        xml_text(),
        0..4,
    );
    let leaf = (
        namespace().prop_filter("element namespace", |ns| ns != XMLNS_NS),
        ncname(),
        attrs,
        xml_text(),
    )
        .prop_map(|(ns, local, attrs, text)| Element {
            ns,
            local,
            attrs: attrs.into_iter().collect(),
            children: Vec::new(),
            text,
        });
    leaf.prop_recursive(4, 24, 4, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..4)).prop_map(|(mut parent, children)| {
            parent.children = children;
            parent
        })
    })
}

/// `element` as it reads back: its strings with the characters XML cannot carry replaced.
fn as_read(element: &Element) -> Element {
    Element {
        ns: carried(&element.ns),
        local: element.local.clone(),
        attrs: element
            .attrs
            .iter()
            .map(|(n, v)| (n.clone(), carried(v)))
            .collect(),
        children: element.children.iter().map(as_read).collect(),
        text: carried(&element.text),
    }
}

/// A property name for the writer: usually writable, sometimes anything at all.
fn prop_name() -> impl Strategy<Value = QName> {
    (namespace(), prop_oneof![4 => ncname(), 1 => ".{0,12}"])
        .prop_map(|(ns, local)| QName::new(&ns, &local))
}

proptest! {
    #![proptest_config(crate::fuzzing::config())]

    /// Arbitrary bytes: parsed or refused, never a panic.
    #[test]
    fn fuzz_tree_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check_body(&body)?;
    }

    /// Soups of XML syntax reach deeper into the reader than random bytes.
    #[test]
    fn fuzz_tree_token_soup(body in token_soup()) {
        check_body(body.as_bytes())?;
    }

    /// Real clients' bodies, mutated, through the reader and every interpreter.
    #[test]
    fn fuzz_requests_mutated_fixtures(body in mutated_body()) {
        check_body(&body)?;
    }

    /// Requests made of the DAV vocabulary in random shapes, through every interpreter.
    #[test]
    fn fuzz_requests_generated(root in request_tree()) {
        let mut body = String::new();
        serialize(&root, &mut body);
        check_body(body.as_bytes())?;
    }

    /// Any well-formed tree, with arbitrary text and attribute values, written and read back.
    #[test]
    fn fuzz_tree_round_trip(element in element_tree()) {
        let mut out = String::new();
        serialize(&element, &mut out);
        let read = tree::parse(out.as_bytes());
        prop_assert_eq!(&read, &Ok(as_read(&element)), "{}", out);
        check_body(out.as_bytes())?;
    }

    /// Generated addressbook-query filters: parsed, counted, never a panic.
    #[test]
    fn fuzz_filter(
        props in prop::collection::vec(
            (
                prop::sample::select(vec!["FN", "EMAIL", "", " tel ", "ü"]),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "", "i;octet", "i;ascii-casemap", "i;unicode-casemap", "i;nope",
                        ]),
                        prop::sample::select(vec![
                            "", "equals", "contains", "starts-with", "ends-with", "near",
                        ]),
                        any::<bool>(),
                        ".{0,8}",
                    ),
                    0..3,
                ),
                prop::collection::vec((prop::sample::select(vec!["TYPE", ""]), any::<bool>()), 0..3),
            ),
            0..6,
        ),
        all_of in any::<bool>(),
    ) {
        let mut body = format!(
            r#"<C:filter xmlns:C="{CARDDAV}" test="{}">"#,
            if all_of { "allof" } else { "anyof" }
        );
        let mut expected = 0;
        let mut valid = true;
        for (name, matches, params) in &props {
            expected += 1 + matches.len() + params.len();
            valid &= !name.trim().is_empty();
            body.push_str(r#"<C:prop-filter name=""#);
            escape_attribute_into(&mut body, name);
            body.push_str(r#"">"#);
            for (collation, match_type, negate, text) in matches {
                valid &= *collation != "i;nope" && *match_type != "near";
                body.push_str(&format!(
                    r#"<C:text-match collation="{collation}" match-type="{match_type}" negate-condition="{}">"#,
                    if *negate { "yes" } else { "no" }
                ));
                escape_into(&mut body, text);
                body.push_str("</C:text-match>");
            }
            for (name, with_match) in params {
                valid &= !name.is_empty();
                expected += usize::from(*with_match);
                body.push_str(&format!(r#"<C:param-filter name="{name}">"#));
                body.push_str(if *with_match {
                    "<C:text-match>x</C:text-match>"
                } else {
                    "<C:is-not-defined/>"
                });
                body.push_str("</C:param-filter>");
            }
            body.push_str("</C:prop-filter>");
        }
        body.push_str("</C:filter>");
        let root = tree::parse(body.as_bytes()).unwrap();
        match parse_filter(&root) {
            Ok(filter) => {
                prop_assert!(valid, "accepted {body}");
                prop_assert_eq!(filter.all_of, all_of);
                prop_assert_eq!(filter.element_count(), expected);
            }
            Err(e) => {
                prop_assert!(!valid, "refused {body}: {e}");
                check_message(e.to_string())?;
            }
        }
        check_body(body.as_bytes())?;
        // The same filter inside an addressbook-query REPORT.
        let query = format!(
            r#"<C:addressbook-query xmlns:C="{CARDDAV}" xmlns:d="DAV:"><d:prop><d:getetag/></d:prop>{body}</C:addressbook-query>"#
        );
        match request::report(&tree::parse(query.as_bytes()).unwrap()) {
            Ok(Report::Query { filter, .. }) => {
                prop_assert!(valid);
                prop_assert_eq!(filter.element_count(), expected);
            }
            Ok(other) => prop_assert!(false, "{other:?}"),
            Err(e) => prop_assert!(!valid, "refused {query}: {e}"),
        }
        check_body(query.as_bytes())?;
    }

    /// Any hrefs, property names, values and tokens: the multistatus is XML our reader takes,
    /// with the same text where XML can carry it.
    #[test]
    fn fuzz_multistatus_writer(
        href in any::<String>(),
        values in prop::collection::vec((prop_name(), any::<String>()), 0..6),
        failed in prop::collection::vec(prop_name(), 0..4),
        gone in any::<String>(),
        token in any::<String>(),
        minimal in any::<bool>(),
    ) {
        let mut ms = Multistatus::new(minimal);
        let mut response = ms.response(&href);
        for (name, value) in &values {
            response.text(name, value);
        }
        for name in &failed {
            response.with_status(name, StatusCode::NOT_FOUND);
        }
        response.finish();
        ms.status_response_with_error(&gone, StatusCode::INSUFFICIENT_STORAGE, Some(&QName::dav("number-of-matches-within-limits")));
        ms.sync_token(&token);
        let body = ms.finish();
        let root = tree::parse(body.as_bytes());
        prop_assert!(root.is_ok(), "{:?}\n{}", root, body);
        let root = root.unwrap();
        prop_assert!(root.is(DAV, "multistatus"));
        let first = &root.children[0];
        prop_assert_eq!(&first.child(DAV, "href").unwrap().text, &carried(&href));
        // The 200 propstat holds the writable names, in order, with their values.
        let written: Vec<_> = values.iter().filter(|(n, _)| is_writable(n)).collect();
        let ok = first
            .children_named(DAV, "propstat")
            .find(|p| p.child(DAV, "status").is_some_and(|s| s.text.contains(" 200 ")));
        let read: Vec<(String, String, String)> = ok
            .map(|p| p.child(DAV, "prop").unwrap().children.iter()
                .map(|c| (c.ns.clone(), c.local.clone(), c.text.clone()))
                .collect())
            .unwrap_or_default();
        let expected: Vec<(String, String, String)> = written
            .iter()
            .map(|(n, v)| (carried(&n.ns), n.local.to_string(), carried(v)))
            .collect();
        prop_assert_eq!(read, expected);
        let second = &root.children[1];
        prop_assert_eq!(&second.child(DAV, "href").unwrap().text, &carried(&gone));
        prop_assert_eq!(&root.child(DAV, "sync-token").unwrap().text, &carried(&token));
    }

    /// `DAV:error` bodies with any condition, href and description.
    #[test]
    fn fuzz_error_body(condition in prop_name(), href in proptest::option::of(any::<String>()), description in proptest::option::of(any::<String>())) {
        let body = error_body(&condition, href.as_deref(), description.as_deref());
        let root = tree::parse(body.as_bytes());
        prop_assert!(root.is_ok(), "{:?}\n{}", root, body);
        let root = root.unwrap();
        if is_writable(&condition) {
            let written = &root.children[0];
            prop_assert!(written.is(&carried(&condition.ns), &condition.local));
            if let Some(href) = &href {
                prop_assert_eq!(&written.child(DAV, "href").unwrap().text, &carried(href));
            }
        }
        // The description is a comment: the only element inside `error` is the condition
        // (RFC 4918 16), whatever the text.
        prop_assert_eq!(root.children.len(), usize::from(is_writable(&condition)));
        if description.is_some() {
            prop_assert!(body.contains("<!-- "), "{}", body);
        }
    }
}
