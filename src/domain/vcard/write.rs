//! The serializer: calcard properties -> vCard text.
//!
//! Our own rather than calcard's `write_to`, which (0.3.14) escapes the comma of
//! `data:image/jpeg;base64\,...` URIs (clients then fail to decode the photo), writes
//! backslash escapes in parameter values instead of RFC 6868 (`^n`, `^'`, `^^`) and adds
//! `CHARSET=UTF-8` to 3.0 lines (a 2.1 parameter). Output: CRLF line ends, lines folded at 75
//! octets without splitting a UTF-8 character or an escape sequence, continuation lines
//! starting with one space.
//!
//! Escaping follows the property's value type: text values escape `\`, newline, `,` and `;`;
//! URIs, dates and extension (`X-`) properties escape only `\` and newline. Extension values
//! are read back unescaped by every parser, so writing their commas and semicolons raw keeps
//! vendor formats such as `X-ANDROID-CUSTOM:vnd.android...;Wesley;3;;;` byte-identical.

use base64::Engine;
use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue, VCardValueType,
};

use super::extract::kind_str;
use super::{PropertyView, RenderVersion};

/// RFC 6350 3.2: lines SHOULD NOT be longer than 75 octets, excluding the line break.
const MAX_LINE_OCTETS: usize = 75;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One value (escaped commas/semicolons are literal).
    Single,
    /// Comma-separated list (NICKNAME, CATEGORIES).
    List,
    /// Semicolon-separated components (ORG, GENDER, CLIENTPIDMAP).
    Compound,
    /// Semicolon-separated components that may hold comma lists (N, ADR).
    Structured,
}

fn layout(name: &VCardProperty) -> Layout {
    match name {
        VCardProperty::N | VCardProperty::Adr => Layout::Structured,
        VCardProperty::Nickname | VCardProperty::Categories => Layout::List,
        VCardProperty::Org | VCardProperty::Gender | VCardProperty::Clientpidmap => {
            Layout::Compound
        }
        _ => Layout::Single,
    }
}

fn default_type(name: &VCardProperty) -> VCardValueType {
    match name {
        VCardProperty::Source
        | VCardProperty::Photo
        | VCardProperty::Impp
        | VCardProperty::Geo
        | VCardProperty::Logo
        | VCardProperty::Member
        | VCardProperty::Related
        | VCardProperty::Sound
        | VCardProperty::Uid
        | VCardProperty::Url
        | VCardProperty::Key
        | VCardProperty::Fburl
        | VCardProperty::Caladruri
        | VCardProperty::Caluri
        | VCardProperty::OrgDirectory
        | VCardProperty::ContactUri
        | VCardProperty::Socialprofile => VCardValueType::Uri,
        VCardProperty::Bday | VCardProperty::Anniversary | VCardProperty::Deathdate => {
            VCardValueType::DateAndOrTime
        }
        VCardProperty::Rev | VCardProperty::Created => VCardValueType::Timestamp,
        VCardProperty::Tz => VCardValueType::UtcOffset,
        VCardProperty::Language => VCardValueType::LanguageTag,
        _ => VCardValueType::Text,
    }
}

/// The value type in effect: the first VALUE parameter, else the property's default. An
/// unknown VALUE (Thunderbird's `VALUE=URL`) counts as a URI: not text, so not escaped.
fn value_type(entry: &VCardEntry) -> VCardValueType {
    entry
        .params
        .iter()
        .find(|p| p.name == VCardParameterName::Value)
        .map(|p| match &p.value {
            VCardParameterValue::ValueType(t) => *t,
            _ => VCardValueType::Uri,
        })
        .unwrap_or_else(|| default_type(&entry.name))
}

fn is_date_type(t: VCardValueType) -> bool {
    matches!(
        t,
        VCardValueType::Date
            | VCardValueType::DateAndOrTime
            | VCardValueType::DateTime
            | VCardValueType::Time
            | VCardValueType::Timestamp
            | VCardValueType::UtcOffset
    )
}

/// One logical line being built, with the byte offsets where folding must not happen (inside
/// escape sequences and names).
#[derive(Default)]
struct Line {
    buf: String,
    no_break: Vec<usize>,
}

impl Line {
    /// Text that must stay on one physical line (up to 74 octets).
    fn atom(&mut self, text: &str) {
        let start = self.buf.len();
        self.buf.push_str(text);
        self.no_break
            .extend(text.char_indices().skip(1).map(|(i, _)| start + i));
    }

    /// Text that may be folded between any two characters.
    fn text(&mut self, text: &str) {
        self.buf.push_str(text);
    }

    fn can_break(&self, at: usize) -> bool {
        let bytes = self.buf.as_bytes();
        self.buf.is_char_boundary(at)
            && self.no_break.binary_search(&at).is_err()
            // Some parsers trim line ends or line starts: keep spaces off fold edges.
            && bytes.get(at) != Some(&b' ')
            && bytes.get(at.wrapping_sub(1)) != Some(&b' ')
    }

    fn finish(self, out: &mut String) {
        let mut pos = 0;
        let mut limit = MAX_LINE_OCTETS;
        while self.buf.len() - pos > limit {
            let max = pos + limit;
            let mut cut = max;
            while cut > pos && !self.can_break(cut) {
                cut -= 1;
            }
            if cut == pos {
                // Nothing allowed in this window (a very long atom): any character boundary.
                cut = max;
                while cut > pos && !self.buf.is_char_boundary(cut) {
                    cut -= 1;
                }
            }
            // `pos` and `cut` are character boundaries (`can_break` and the loop above check
            // `is_char_boundary`), and `cut > pos`: a window of 74+ octets holds a boundary.
            out.push_str(&self.buf[pos..cut]);
            out.push_str("\r\n ");
            pos = cut;
            // The leading space of a continuation line counts toward its length.
            limit = MAX_LINE_OCTETS - 1;
        }
        out.push_str(&self.buf[pos..]);
        out.push_str("\r\n");
    }
}

/// The whole card; `entries` are already converted for `version` (see `convert`).
pub(super) fn write_card(entries: &[VCardEntry], version: RenderVersion) -> String {
    let mut out = String::with_capacity(64 + entries.len() * 48);
    out.push_str("BEGIN:VCARD\r\nVERSION:");
    out.push_str(version.as_str());
    out.push_str("\r\n");
    for entry in entries {
        if !matches!(
            entry.name,
            VCardProperty::Begin | VCardProperty::End | VCardProperty::Version
        ) {
            write_entry(&mut out, entry, version == RenderVersion::V4);
        }
    }
    out.push_str("END:VCARD\r\n");
    out
}

fn write_entry(out: &mut String, entry: &VCardEntry, v4: bool) {
    let mut line = Line::default();
    if let Some(group) = &entry.group {
        line.atom(group);
        line.atom(".");
    }
    line.atom(entry.name.as_str());

    let mut previous: Option<&VCardParameterName> = None;
    for param in &entry.params {
        if param.value == VCardParameterValue::Null {
            line.atom(";");
            line.atom(param.name.as_str());
            previous = None;
            continue;
        }
        if previous == Some(&param.name) {
            line.atom(",");
        } else {
            line.atom(";");
            line.atom(param.name.as_str());
            line.atom("=");
        }
        write_param_value(&mut line, &param_text(&param.value));
        previous = Some(&param.name);
    }
    let binary = entry
        .values
        .iter()
        .any(|v| matches!(v, VCardValue::Binary(_)));
    if binary && !v4 {
        line.atom(";ENCODING=b");
    }
    line.atom(":");

    let typ = value_type(entry);
    let shape = layout(&entry.name);
    let is_extension = matches!(entry.name, VCardProperty::Other(_));
    let escape_separators =
        (typ == VCardValueType::Text && !is_extension) || shape != Layout::Single;
    let separator = if shape == Layout::List { "," } else { ";" };
    for (index, value) in entry.values.iter().enumerate() {
        if index > 0 {
            line.atom(separator);
        }
        match value {
            VCardValue::Text(text) => write_text(&mut line, text, escape_separators),
            VCardValue::Component(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        line.atom(",");
                    }
                    write_text(&mut line, item, true);
                }
            }
            VCardValue::Integer(i) => line.text(&i.to_string()),
            VCardValue::Float(f) => line.text(&f.to_string()),
            VCardValue::Boolean(b) => line.atom(if *b { "TRUE" } else { "FALSE" }),
            VCardValue::PartialDateTime(dt) => line.text(&format_date(dt, typ, &entry.name, v4)),
            VCardValue::Binary(data) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&data.data);
                if v4 {
                    line.text("data:");
                    line.text(&uri_media_type(data.content_type.as_deref()));
                    line.text(";base64,");
                }
                line.text(&encoded);
            }
            VCardValue::Kind(kind) => line.atom(kind_str(*kind)),
            VCardValue::Sex(_) | VCardValue::GramGender(_) => {
                line.atom(value.as_text().unwrap_or_default())
            }
        }
    }
    line.finish(out);
}

/// The media type of a `data:` URI as written: only the characters a MIME type is made of. A
/// parsed card can carry anything there (calcard takes `data:\nimage/jpeg;base64,...` or a
/// MEDIATYPE parameter as it comes), and a line break or a comma written raw would end the line
/// or the media type early, so the rendering would not parse again.
fn uri_media_type(content_type: Option<&str>) -> String {
    let media: String = content_type
        .unwrap_or_default()
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '+' | '.' | '_' | ';' | '=')
        })
        .collect();
    if media.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        media
    }
}

fn format_date(
    dt: &PartialDateTime,
    typ: VCardValueType,
    name: &VCardProperty,
    v4: bool,
) -> String {
    let typ = if is_date_type(typ) {
        typ
    } else if is_date_type(default_type(name)) {
        default_type(name)
    } else {
        VCardValueType::DateAndOrTime
    };
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = if v4 {
        dt.format_as_vcard(&mut text, &typ)
    } else {
        dt.format_as_legacy_vcard(&mut text, &typ)
    };
    text
}

fn write_text(line: &mut Line, text: &str, escape_separators: bool) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => line.atom("\\\\"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    line.atom("\\n");
                }
            }
            '\n' => line.atom("\\n"),
            ',' if escape_separators => line.atom("\\,"),
            ';' if escape_separators => line.atom("\\;"),
            _ => {
                let mut buf = [0u8; 4];
                line.text(c.encode_utf8(&mut buf));
            }
        }
    }
}

fn param_text(value: &VCardParameterValue) -> String {
    match value {
        VCardParameterValue::Text(text) => text.clone(),
        VCardParameterValue::Integer(i) => i.to_string(),
        VCardParameterValue::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
        VCardParameterValue::Timestamp(t) => chrono::DateTime::from_timestamp(*t, 0)
            .map(|d| d.format("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_else(|| t.to_string()),
        VCardParameterValue::ValueType(t) => value_type_name(*t).into(),
        other => other.clone().into_text().into_owned(),
    }
}

fn value_type_name(t: VCardValueType) -> &'static str {
    match t {
        VCardValueType::Boolean => "boolean",
        VCardValueType::Date => "date",
        VCardValueType::DateAndOrTime => "date-and-or-time",
        VCardValueType::DateTime => "date-time",
        VCardValueType::Float => "float",
        VCardValueType::Integer => "integer",
        VCardValueType::LanguageTag => "language-tag",
        VCardValueType::Text => "text",
        VCardValueType::Time => "time",
        VCardValueType::Timestamp => "timestamp",
        VCardValueType::Uri => "uri",
        VCardValueType::UtcOffset => "utc-offset",
    }
}

/// RFC 6868 encoding, quoting values that contain separators or spaces.
fn write_param_value(line: &mut Line, value: &str) {
    let quote = value.contains([',', ';', ':', ' ', '\t']);
    if quote {
        line.atom("\"");
    }
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '^' => line.atom("^^"),
            '"' => line.atom("^'"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    line.atom("^n");
                }
            }
            '\n' => line.atom("^n"),
            c if c.is_control() && c != '\t' => {}
            c => {
                let mut buf = [0u8; 4];
                line.text(c.encode_utf8(&mut buf));
            }
        }
    }
    if quote {
        line.atom("\"");
    }
}

/// Read-only view of one property (see [`PropertyView`]).
pub(super) fn view(entry: &VCardEntry) -> PropertyView {
    let typ = value_type(entry);
    let separator = if layout(&entry.name) == Layout::List {
        ","
    } else {
        ";"
    };
    let value = entry
        .values
        .iter()
        .map(|v| match v {
            VCardValue::Text(t) => t.clone(),
            VCardValue::Component(items) => items.join(","),
            VCardValue::Binary(data) => data.to_unwrapped_string(),
            VCardValue::PartialDateTime(dt) => format_date(dt, typ, &entry.name, true),
            VCardValue::Kind(kind) => kind_str(*kind).to_owned(),
            VCardValue::Integer(i) => i.to_string(),
            VCardValue::Float(f) => f.to_string(),
            VCardValue::Boolean(b) => b.to_string(),
            other => other.as_text().unwrap_or_default().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(separator);
    PropertyView {
        group: entry.group.clone(),
        name: entry.name.as_str().to_ascii_uppercase(),
        params: entry
            .params
            .iter()
            .map(|p| (p.name.as_str().to_ascii_uppercase(), param_text(&p.value)))
            .collect(),
        value,
    }
}
