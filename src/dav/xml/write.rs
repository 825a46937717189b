//! Writing DAV XML: `multistatus` bodies and `DAV:error` bodies, straight into one `String`.
//!
//! A PROPFIND over 10,000 cards writes 10,000 responses, so the writer appends to a single
//! buffer and reuses its per-response scratch buffers instead of building a tree. Property
//! values are written through small typed methods, so escaping happens in exactly one place.

use std::fmt::Write as _;

use axum::http::StatusCode;

use super::names::{QName, XML_NS, is_writable, prefix_for};
use super::tree::is_xml_char;

const HEADER: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
const ROOT_NAMESPACES: &str = concat!(
    " xmlns:d=\"DAV:\"",
    " xmlns:card=\"urn:ietf:params:xml:ns:carddav\"",
    " xmlns:cs=\"http://calendarserver.org/ns/\""
);

/// `HTTP/1.1 200 OK` and friends.
pub fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// Appends `text` escaped for element content. CR is written as a character reference
/// because XML parsers turn a literal CRLF into LF (XML 1.0 §2.11), and a vCard's CRLF line
/// ends must survive the trip. Characters XML 1.0 cannot carry at all, literally or as a
/// reference (§2.2: C0 controls other than tab, LF and CR, U+FFFE, U+FFFF), become U+FFFD, so
/// any string yields well-formed XML. Quotes stay literal (ETags read `"..."`, which simple
/// clients expect).
pub fn escape_into(out: &mut String, text: &str) {
    escape(out, text, false);
}

/// Appends `text` escaped for a double-quoted attribute value. Tab, LF and CR are written as
/// references, which attribute-value normalization (XML 1.0 §3.3.3) keeps, unlike the literal
/// characters it turns into spaces.
pub fn escape_attribute_into(out: &mut String, text: &str) {
    escape(out, text, true);
}

fn escape(out: &mut String, text: &str, attribute: bool) {
    // Most of what a listing writes (hrefs, ETags, dates) is printable ASCII with nothing to
    // escape: copied at once instead of char by char.
    if text.bytes().all(|b| {
        (0x20..0x7f).contains(&b) && !matches!(b, b'&' | b'<' | b'>') && !(attribute && b == b'"')
    }) {
        out.push_str(text);
        return;
    }
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' if attribute => "&quot;",
            '\r' => "&#13;",
            '\t' | '\n' if attribute => {
                if c == '\t' {
                    "&#9;"
                } else {
                    "&#10;"
                }
            }
            '\t' | '\n' => continue,
            c if !is_xml_char(c) => "\u{fffd}",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(replacement);
        start = i + c.len_utf8();
    }
    out.push_str(&text[start..]);
}

/// Writes `<name>` (or `<name/>` when `empty`); names in our namespaces use the prefixes
/// declared on the root, others declare their namespace as the default on the element. A name
/// that cannot be written as well-formed XML (see [`is_writable`]) writes nothing and returns
/// false; the caller then leaves the whole element out.
#[must_use]
fn open_tag(out: &mut String, name: &QName, empty: bool) -> bool {
    if !is_writable(name) {
        return false;
    }
    out.push('<');
    if let Some(prefix) = qualifying_prefix(&name.ns) {
        out.push_str(prefix);
        out.push(':');
        out.push_str(&name.local);
    } else {
        out.push_str(&name.local);
        out.push_str(" xmlns=\"");
        escape_attribute_into(out, &name.ns);
        out.push('"');
    }
    out.push_str(if empty { "/>" } else { ">" });
    true
}

/// The prefix an element in `ns` is written with, if any: ours, or `xml`, which is bound
/// without a declaration and may not be declared as a default namespace (Namespaces in XML 1.0
/// §3).
fn qualifying_prefix(ns: &str) -> Option<&'static str> {
    if ns == XML_NS {
        return Some("xml");
    }
    prefix_for(ns)
}

fn close_tag(out: &mut String, name: &QName) {
    out.push_str("</");
    if let Some(prefix) = qualifying_prefix(&name.ns) {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(&name.local);
    out.push('>');
}

/// A `multistatus` body under construction.
pub struct Multistatus {
    buf: String,
    /// Scratch: the 200 propstat's `prop` content of the response being written.
    ok: String,
    /// Scratch: other propstats of the response being written, by status.
    other: Vec<(StatusCode, String)>,
    /// `Prefer: return=minimal` / `Brief: t`: leave out 404 propstats.
    minimal: bool,
}

impl Multistatus {
    pub fn new(minimal: bool) -> Multistatus {
        Multistatus::with_capacity(minimal, 4096)
    }

    pub fn with_capacity(minimal: bool, bytes: usize) -> Multistatus {
        let mut buf = String::with_capacity(bytes);
        buf.push_str(HEADER);
        buf.push_str("<d:multistatus");
        buf.push_str(ROOT_NAMESPACES);
        buf.push_str(">\n");
        Multistatus {
            buf,
            ok: String::with_capacity(512),
            other: Vec::new(),
            minimal,
        }
    }

    /// Makes room for `additional` more bytes (a listing knows roughly how much it writes).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Starts a response with propstats for `href` (already percent-encoded).
    pub fn response(&mut self, href: &str) -> Response<'_> {
        self.ok.clear();
        self.other.clear();
        self.buf.push_str("<d:response><d:href>");
        escape_into(&mut self.buf, href);
        self.buf.push_str("</d:href>");
        Response { ms: self }
    }

    /// A response that is only a status (a deleted member in sync-collection, a multiget href
    /// that does not exist).
    pub fn status_response(&mut self, href: &str, status: StatusCode) {
        self.status_response_with_error(href, status, None);
    }

    /// A status response with a `DAV:error` naming a condition (507 truncation).
    pub fn status_response_with_error(
        &mut self,
        href: &str,
        status: StatusCode,
        error: Option<&QName>,
    ) {
        self.buf.push_str("<d:response><d:href>");
        escape_into(&mut self.buf, href);
        self.buf.push_str("</d:href><d:status>");
        self.buf.push_str(&status_line(status));
        self.buf.push_str("</d:status>");
        if let Some(error) = error {
            self.buf.push_str("<d:error>");
            let _ = open_tag(&mut self.buf, error, true);
            self.buf.push_str("</d:error>");
        }
        self.buf.push_str("</d:response>\n");
    }

    /// The `sync-token` element of a sync-collection answer.
    pub fn sync_token(&mut self, token: &str) {
        self.buf.push_str("<d:sync-token>");
        escape_into(&mut self.buf, token);
        self.buf.push_str("</d:sync-token>\n");
    }

    pub fn finish(mut self) -> String {
        self.buf.push_str("</d:multistatus>\n");
        self.buf
    }

    /// Takes what has been written so far (the start of the body, for a streamed answer); the
    /// next take or [`Multistatus::finish`] continues where it ends.
    pub fn take_written(&mut self) -> String {
        std::mem::take(&mut self.buf)
    }
}

/// One `response` element being filled with properties; written out by [`Response::finish`].
pub struct Response<'a> {
    ms: &'a mut Multistatus,
}

impl Response<'_> {
    /// `<name>escaped text</name>`.
    pub fn text(&mut self, name: &QName, value: &str) {
        let out = &mut self.ms.ok;
        if open_tag(out, name, false) {
            escape_into(out, value);
            close_tag(out, name);
        }
    }

    /// `<name>number</name>`.
    pub fn number(&mut self, name: &QName, value: i64) {
        let out = &mut self.ms.ok;
        if open_tag(out, name, false) {
            let _ = write!(out, "{value}");
            close_tag(out, name);
        }
    }

    /// `<name/>`.
    pub fn empty(&mut self, name: &QName) {
        let _ = open_tag(&mut self.ms.ok, name, true);
    }

    /// `<name>` + trusted inner XML (built from constants by the caller) + `</name>`.
    pub fn raw(&mut self, name: &QName, inner: &str) {
        let out = &mut self.ms.ok;
        if open_tag(out, name, false) {
            out.push_str(inner);
            close_tag(out, name);
        }
    }

    /// A whole property element stored verbatim (a dead property, RFC 4918 4.3): well-formed
    /// and self-contained, as `xml::dead` cut it from the request that set it.
    pub fn verbatim(&mut self, element: &str) {
        self.ms.ok.push_str(element);
    }

    /// `<name><d:href>href</d:href></name>`.
    pub fn href(&mut self, name: &QName, href: &str) {
        let out = &mut self.ms.ok;
        if open_tag(out, name, false) {
            out.push_str("<d:href>");
            escape_into(out, href);
            out.push_str("</d:href>");
            close_tag(out, name);
        }
    }

    /// A property reported with a non-200 status (404 unknown, 403 protected, 424 failed
    /// dependency), grouped into one propstat per status.
    pub fn with_status(&mut self, name: &QName, status: StatusCode) {
        if self.ms.minimal && status == StatusCode::NOT_FOUND {
            return;
        }
        if !is_writable(name) {
            return;
        }
        let index = match self.ms.other.iter().position(|(s, _)| *s == status) {
            Some(index) => index,
            None => {
                self.ms.other.push((status, String::new()));
                self.ms.other.len() - 1
            }
        };
        let _ = open_tag(&mut self.ms.other[index].1, name, true);
    }

    pub fn finish(self) {
        let ms = self.ms;
        if !ms.ok.is_empty() {
            ms.buf.push_str("<d:propstat><d:prop>");
            ms.buf.push_str(&ms.ok);
            ms.buf
                .push_str("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
        }
        for (status, props) in &ms.other {
            ms.buf.push_str("<d:propstat><d:prop>");
            ms.buf.push_str(props);
            ms.buf.push_str("</d:prop><d:status>");
            ms.buf.push_str(&status_line(*status));
            ms.buf.push_str("</d:status>");
            if *status == StatusCode::FORBIDDEN {
                // RFC 4918 16: the reason a PROPPATCH could not change a property.
                ms.buf
                    .push_str("<d:error><d:cannot-modify-protected-property/></d:error>");
            }
            ms.buf.push_str("</d:propstat>");
        }
        if ms.ok.is_empty() && ms.other.is_empty() {
            // A response must carry a propstat or a status (RFC 4918 14.24).
            ms.buf.push_str("<d:status>HTTP/1.1 200 OK</d:status>");
        }
        ms.buf.push_str("</d:response>\n");
    }
}

/// The body of an error response: `<d:error><condition/>...</d:error>`, with an optional href
/// inside the condition (CARDDAV:no-uid-conflict) and a human-readable description.
pub fn error_body(condition: &QName, href: Option<&str>, description: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(HEADER);
    out.push_str("<d:error");
    out.push_str(ROOT_NAMESPACES);
    out.push('>');
    match href {
        Some(href) => {
            if open_tag(&mut out, condition, false) {
                out.push_str("<d:href>");
                escape_into(&mut out, href);
                out.push_str("</d:href>");
                close_tag(&mut out, condition);
            }
        }
        None => {
            let _ = open_tag(&mut out, condition, true);
        }
    }
    // RFC 4918 14.5 and 16: every child element of `error` is a condition code, so the human
    // explanation is a comment beside the condition, not an element (a DAV:responsedescription
    // here would read as a condition no client knows).
    if let Some(description) = description {
        out.push_str("<!-- ");
        comment_into(&mut out, description);
        out.push_str(" -->");
    }
    out.push_str("</d:error>\n");
    out
}

/// Text that XML 1.0 allows inside a comment: no `--`, no trailing `-`, and only characters
/// XML can carry.
fn comment_into(out: &mut String, text: &str) {
    let mut previous_dash = false;
    for c in text.chars() {
        let c = if super::tree::is_xml_char(c) {
            c
        } else {
            '\u{FFFD}'
        };
        if c == '-' && previous_dash {
            // "--" may not appear in a comment.
            out.push(' ');
        }
        out.push(c);
        previous_dash = c == '-';
    }
    if previous_dash {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_keeps_crlf() {
        let mut out = String::new();
        escape_into(&mut out, "A&B <c> \"d\"\r\nE\u{1}");
        assert_eq!(out, "A&amp;B &lt;c&gt; \"d\"&#13;\nE\u{fffd}");
        let mut out = String::new();
        escape_attribute_into(&mut out, "a\"b\n");
        assert_eq!(out, "a&quot;b&#10;");
    }

    /// The escaping rules char by char, without the printable-ASCII shortcut.
    fn escaped_slowly(text: &str, attribute: bool) -> String {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' if attribute => out.push_str("&quot;"),
                '\r' => out.push_str("&#13;"),
                '\t' if attribute => out.push_str("&#9;"),
                '\n' if attribute => out.push_str("&#10;"),
                c if c == '\t' || c == '\n' || is_xml_char(c) => out.push(c),
                _ => out.push('\u{fffd}'),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_ascii_shortcut_escapes_like_the_rules(
            text in "[ -~\t\r\n\u{0}-\u{1f}\u{80}-\u{10ffff}]{0,40}",
        ) {
            for attribute in [false, true] {
                let mut out = String::new();
                escape(&mut out, &text, attribute);
                proptest::prop_assert_eq!(out, escaped_slowly(&text, attribute));
            }
        }
    }

    #[test]
    fn writes_grouped_propstats() {
        let mut ms = Multistatus::new(false);
        let mut r = ms.response("/dav/a%40b.vcf");
        r.text(&QName::dav("getetag"), "\"x\"");
        r.with_status(&QName::new("urn:x", "foo"), StatusCode::NOT_FOUND);
        r.with_status(&QName::new("urn:x", "bar"), StatusCode::NOT_FOUND);
        r.finish();
        ms.sync_token("t");
        let body = ms.finish();
        assert!(body.contains(
            "<d:response><d:href>/dav/a%40b.vcf</d:href><d:propstat><d:prop><d:getetag>\"x\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><foo xmlns=\"urn:x\"/><bar xmlns=\"urn:x\"/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"
        ));
        assert!(body.ends_with("<d:sync-token>t</d:sync-token>\n</d:multistatus>\n"));
        // The output is well-formed XML.
        assert!(crate::dav::xml::tree::parse(body.as_bytes()).is_ok());
    }

    #[test]
    fn minimal_drops_not_found() {
        let mut ms = Multistatus::new(true);
        let mut r = ms.response("/x");
        r.with_status(&QName::dav("nope"), StatusCode::NOT_FOUND);
        r.finish();
        let body = ms.finish();
        assert!(!body.contains("404"));
        assert!(body.contains("<d:status>HTTP/1.1 200 OK</d:status>"));
    }

    #[test]
    fn error_bodies() {
        let body = error_body(
            &QName::carddav("no-uid-conflict"),
            Some("/dav/a.vcf"),
            Some("UID <x> taken"),
        );
        assert!(body.contains(
            "<card:no-uid-conflict><d:href>/dav/a.vcf</d:href></card:no-uid-conflict><!-- UID <x> taken --></d:error>"
        ));
        let root = crate::dav::xml::tree::parse(body.as_bytes()).unwrap();
        assert_eq!(root.children.len(), 1, "only the condition is an element");
        let dashes = error_body(&QName::dav("x"), None, Some("a -- b -"));
        assert!(dashes.contains("<!-- a - - b -  -->"), "{dashes}");
        assert!(crate::dav::xml::tree::parse(dashes.as_bytes()).is_ok());
    }

    #[test]
    fn every_character_xml_cannot_carry_becomes_a_replacement() {
        let mut out = String::new();
        escape_into(
            &mut out,
            "a\0b\u{8}c\u{b}\u{c}\u{1f}\u{fffe}\u{ffff}\u{10ffff}\td",
        );
        assert_eq!(
            out,
            "a\u{fffd}b\u{fffd}c\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{10ffff}\td"
        );
        let mut ms = Multistatus::new(false);
        let mut r = ms.response("/\u{1}x");
        r.text(&QName::dav("displayname"), "\u{0}A\r\nB ]]> &amp;");
        r.finish();
        let body = ms.finish();
        let root = crate::dav::xml::tree::parse(body.as_bytes()).unwrap();
        let response = &root.children[0];
        assert_eq!(response.children[0].text, "/\u{fffd}x");
        let prop = &response.children[1].children[0];
        assert_eq!(prop.children[0].text, "\u{fffd}A\r\nB ]]> &amp;");
    }

    #[test]
    fn names_xml_cannot_carry_are_left_out() {
        let mut ms = Multistatus::new(false);
        let mut r = ms.response("/x");
        r.text(&QName::new("urn:x", "a\"b"), "v");
        r.empty(&QName::new("urn:x", "1a"));
        r.href(&QName::new("urn:x", ""), "/y");
        r.number(&QName::new("http://www.w3.org/2000/xmlns/", "n"), 1);
        r.with_status(&QName::new("urn:x", "x:y"), StatusCode::NOT_FOUND);
        r.text(&QName::new(XML_NS, "lang"), "en");
        r.text(&QName::new("urn:a&\"b\t", "ok"), "v");
        r.finish();
        let body = ms.finish();
        let root = crate::dav::xml::tree::parse(body.as_bytes()).unwrap();
        let prop = &root.children[0].children[1].children[0];
        let names: Vec<_> = prop
            .children
            .iter()
            .map(|c| (c.ns.as_str(), c.local.as_str()))
            .collect();
        assert_eq!(names, [(XML_NS, "lang"), ("urn:a&\"b\t", "ok")]);
        assert_eq!(root.children[0].children.len(), 2, "only the 200 propstat");
    }
}
