//! Reading vCard text.
//!
//! calcard is lenient: it skips lines it cannot read, accepts a card without END:VCARD and
//! reports no line numbers. A CardDAV server must instead answer a bad PUT with an error the
//! client can act on, and an import must say which card of a file failed and why. So a
//! structural pass runs first — it splits the text into cards at BEGIN/END lines, checks every
//! (unfolded) line is a property line and reads VERSION, all with line numbers — and calcard then
//! parses each card that passed. A last step covers what calcard leaves undone: RFC 6868
//! parameter decoding (`^n`, `^'`, `^^`), vCard 2.1 bare parameters (`TEL;CELL`, `PHOTO;JPEG`,
//! `;QUOTED-PRINTABLE`) and media types of inline binary values.

use calcard::common::{IanaParse, PartialDateTime};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardType,
    VCardValue, VCardValueType,
};
use calcard::{Entry, Parser};

use super::{Card, CardVersion, VCardError, convert};

/// Longest excerpt of an offending line quoted in an error message.
const EXCERPT_CHARS: usize = 60;

/// Exactly one card (a CardDAV PUT body). Blank lines around it are fine; anything else before
/// or after it, a second card, a missing END:VCARD, a line that is not a property, or a missing
/// or unknown VERSION is an error naming the line.
pub fn parse_one(text: &str) -> Result<Card, VCardError> {
    let text = strip_bom(text);
    if text.trim().is_empty() {
        return Err(VCardError::Empty);
    }
    let mut pieces = scan(text, 0).into_iter();
    let first = pieces.next().ok_or(VCardError::Empty)?;
    let segment = match first {
        Piece::Stray { line, found } => return Err(VCardError::NoBegin { line, found }),
        Piece::Card(segment) => segment,
    };
    match pieces.next() {
        Some(Piece::Card(next)) => {
            // A card missing its END that runs into the next BEGIN is reported as the missing
            // END: that is the actual mistake.
            if let Some(error) = segment.error {
                return Err(error);
            }
            return Err(VCardError::MultipleCards { line: next.line });
        }
        Some(Piece::Stray { line, found }) => {
            if let Some(error) = segment.error {
                return Err(error);
            }
            return Err(VCardError::TrailingText { line, found });
        }
        None => {}
    }
    build(text, segment)
}

/// Every card in a file (import), in order. Each result carries its 1-based position in the
/// file and the line where it starts; a bad card (or text outside any card) is reported in its
/// place and does not stop the rest. An empty or blank text yields no results.
pub fn parse_many(text: &str) -> Vec<(usize, usize, Result<Card, VCardError>)> {
    parse_many_after(text, 0)
}

/// [`parse_many`] of a part of a file that follows `lines_before` lines: line numbers (in the
/// results and in their errors) count from there.
pub fn parse_many_after(
    text: &str,
    lines_before: usize,
) -> Vec<(usize, usize, Result<Card, VCardError>)> {
    let text = strip_bom(text);
    scan(text, lines_before)
        .into_iter()
        .enumerate()
        .map(|(index, piece)| match piece {
            Piece::Stray { line, found } => {
                (index + 1, line, Err(VCardError::NoBegin { line, found }))
            }
            Piece::Card(segment) => {
                let line = segment.line;
                (index + 1, line, build(text, segment))
            }
        })
        .collect()
}

/// The body as UTF-8 text (a leading byte-order mark removed), or [`VCardError::NotUtf8`]
/// naming the line of the first invalid byte. For callers holding raw bytes (HTTP bodies,
/// files).
pub fn text_from_bytes(bytes: &[u8]) -> Result<&str, VCardError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = bytes.get(..error.valid_up_to()).unwrap_or_default();
        VCardError::NotUtf8 {
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
        }
    })
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// One stretch of the input: a card between BEGIN:VCARD and END:VCARD, or text outside any.
enum Piece {
    Card(Segment),
    Stray { line: usize, found: String },
}

struct Segment {
    /// Line of BEGIN:VCARD.
    line: usize,
    /// Byte range of the card in the input, BEGIN line through END line.
    start: usize,
    end: usize,
    /// Physical lines between BEGIN and END: (line number, text without line end).
    lines: Vec<(usize, String)>,
    /// A structural problem found while splitting (missing END).
    error: Option<VCardError>,
}

fn is_marker(line: &str, marker: &str) -> bool {
    strip_bom(line.trim()).eq_ignore_ascii_case(marker)
}

fn excerpt(line: &str) -> String {
    let trimmed = line.trim();
    let mut out: String = trimmed.chars().take(EXCERPT_CHARS).collect();
    if trimmed.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn scan(text: &str, lines_before: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut current: Option<Segment> = None;
    // Whether the previous non-blank line outside a card was already reported as stray text.
    let mut in_stray = false;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let number = lines_before + index + 1;
        let start = offset;
        offset += raw.len();
        let content = raw.trim_end_matches(['\n', '\r']);
        match current.as_mut() {
            None => {
                if content.trim().is_empty() {
                    continue;
                }
                if is_marker(content, "BEGIN:VCARD") {
                    in_stray = false;
                    current = Some(Segment {
                        line: number,
                        start,
                        end: start,
                        lines: Vec::new(),
                        error: None,
                    });
                } else if !in_stray {
                    in_stray = true;
                    pieces.push(Piece::Stray {
                        line: number,
                        found: excerpt(content),
                    });
                }
            }
            Some(segment) => {
                // An indented line continues the line before it (RFC 6350 3.2), even when its
                // text is "END:VCARD": taking it for the end cut a folded value in two.
                if content.starts_with([' ', '\t']) {
                    segment.lines.push((number, content.to_owned()));
                } else if is_marker(content, "END:VCARD") {
                    segment.end = offset;
                    if let Some(done) = current.take() {
                        pieces.push(Piece::Card(done));
                    }
                } else if is_marker(content, "BEGIN:VCARD") {
                    segment.end = start;
                    segment.error = Some(VCardError::MissingEnd { line: segment.line });
                    if let Some(done) = current.take() {
                        pieces.push(Piece::Card(done));
                    }
                    current = Some(Segment {
                        line: number,
                        start,
                        end: start,
                        lines: Vec::new(),
                        error: None,
                    });
                } else {
                    segment.lines.push((number, content.to_owned()));
                }
            }
        }
    }
    if let Some(mut segment) = current {
        segment.end = text.len();
        segment.error = Some(VCardError::MissingEnd { line: segment.line });
        pieces.push(Piece::Card(segment));
    }
    pieces
}

/// A logical (unfolded) property line.
struct Logical {
    line: usize,
    text: String,
}

fn is_base64_line(line: &str) -> bool {
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// The part of a property line before the value: `group.NAME;PARAM=...`.
fn head(line: &str) -> &str {
    // Parameter values may be quoted and contain ':'.
    let mut in_quote = false;
    for (index, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            // `index` comes from `char_indices`: a character boundary.
            ':' if !in_quote => return &line[..index],
            _ => {}
        }
    }
    line
}

/// Unfolds physical lines: RFC folding (leading space/tab), vCard 2.1 quoted-printable soft
/// line breaks (`=` at the end of a line) and 2.1 base64 blocks whose lines are not indented.
fn unfold(lines: &[(usize, String)]) -> Vec<Logical> {
    let mut logical: Vec<Logical> = Vec::new();
    let mut qp_continues = false;
    let mut in_base64 = false;
    for (number, content) in lines {
        if let Some(rest) = content.strip_prefix([' ', '\t'])
            && let Some(last) = logical.last_mut()
        {
            if last.text.is_empty() {
                // After a blank line: the line is reported where its text starts.
                last.line = *number;
            }
            last.text.push_str(rest);
            qp_continues = qp_continues && content.ends_with('=');
            continue;
        }
        if content.trim().is_empty() {
            qp_continues = false;
            in_base64 = false;
            // calcard reads "\r\n\r\n " as the blank line folded: indented lines after a
            // blank line make a line of their own, not more of the property before the blank.
            // (Checking them as part of that property let a PHOTO hide a garbage line that
            // calcard then read as a property named "IDAwMDBAY/9k", which no writer can
            // write back as a valid line.) A blank line nothing continues is dropped below.
            logical.push(Logical {
                line: *number,
                text: String::new(),
            });
            continue;
        }
        if (qp_continues || (in_base64 && is_base64_line(content.trim())))
            && let Some(last) = logical.last_mut()
        {
            last.text.push_str(content);
            qp_continues = qp_continues && content.ends_with('=');
            continue;
        }
        let upper_head = head(content).to_ascii_uppercase();
        qp_continues = upper_head.contains("QUOTED-PRINTABLE") && content.ends_with('=');
        in_base64 = upper_head.contains("BASE64") || upper_head.contains("ENCODING=B");
        logical.push(Logical {
            line: *number,
            text: content.clone(),
        });
    }
    logical.retain(|l| !l.text.is_empty());
    logical
}

/// `[group.]NAME` followed by `:` or by parameters and a `:`.
fn is_property_line(line: &str) -> bool {
    let Some((name, rest)) = line
        .find([';', ':'])
        .and_then(|end| line.split_at_checked(end))
    else {
        return false;
    };
    let name_ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    name_ok && (rest.starts_with(':') || head(line).len() < line.len())
}

/// Property name of a logical line, without group, upper case.
fn property_name(line: &str) -> String {
    let name = line.split([';', ':']).next().unwrap_or_default();
    name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase()
}

fn build(text: &str, segment: Segment) -> Result<Card, VCardError> {
    if let Some(error) = segment.error {
        return Err(error);
    }
    let logical = unfold(&segment.lines);
    if let Some(bad) = logical.iter().find(|l| !is_property_line(&l.text)) {
        return Err(VCardError::InvalidLine {
            line: bad.line,
            text: excerpt(&bad.text),
        });
    }
    let version_line = logical
        .iter()
        .find(|l| property_name(&l.text) == "VERSION" && !head(&l.text).contains('.'))
        .ok_or(VCardError::MissingVersion { line: segment.line })?;
    let value = version_line
        .text
        .get(head(&version_line.text).len() + 1..)
        .unwrap_or_default()
        .trim();
    let version = match value {
        "2.1" => CardVersion::V2_1,
        "3.0" => CardVersion::V3,
        "4.0" => CardVersion::V4,
        other => {
            return Err(VCardError::UnsupportedVersion {
                line: version_line.line,
                version: excerpt(other),
            });
        }
    };

    let raw = text.get(segment.start..segment.end).unwrap_or_default();
    let source = if version == CardVersion::V2_1 {
        std::borrow::Cow::Owned(fix_bare_quoted_printable(raw))
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    let mut vcard = match Parser::new(&source).entry() {
        Entry::VCard(vcard) => vcard,
        Entry::InvalidLine(line) => {
            return Err(VCardError::InvalidLine {
                line: segment.line,
                text: excerpt(&line),
            });
        }
        Entry::UnterminatedComponent(_) => {
            return Err(VCardError::MissingEnd { line: segment.line });
        }
        other => {
            return Err(VCardError::Unreadable {
                line: segment.line,
                message: format!("unexpected content ({other:?})"),
            });
        }
    };
    // The structural pass and calcard can disagree on where a line ends (a parameter that
    // only looks like ENCODING=QUOTED-PRINTABLE, folding after a blank line); what counts is
    // what calcard read. A name no vCard line can carry would be written back as a line no
    // parser accepts, so the card could be stored but never served or edited: refuse it now.
    if let Some(bad) = vcard.entries.iter().find_map(invalid_name) {
        let line = logical
            .iter()
            .find(|l| l.text.contains(bad))
            .map_or(segment.line, |l| l.line);
        return Err(VCardError::InvalidLine {
            line,
            text: excerpt(bad),
        });
    }
    normalize(&mut vcard, version);
    if version.is_legacy() {
        fix_legacy_dates(&mut vcard, &logical);
    }
    Ok(Card { vcard, version })
}

/// A vCard name token (RFC 6350 3.3: letters, digits and `-`; `_` as some writers use it).
fn is_name_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The first group, property or parameter name of `entry` that is no name token.
fn invalid_name(entry: &VCardEntry) -> Option<&str> {
    let group = entry.group.as_deref().filter(|g| !is_name_token(g));
    let name = match &entry.name {
        VCardProperty::Other(name) if !is_name_token(name) => Some(name.as_str()),
        _ => None,
    };
    let param = entry.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(name) if !is_name_token(name) => Some(name.as_str()),
        _ => None,
    });
    group.or(name).or(param)
}

/// vCard 2.1 allows `;QUOTED-PRINTABLE` without `ENCODING=`; calcard only decodes the long
/// form, so property lines get the long form before parsing.
fn fix_bare_quoted_printable(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 32);
    for line in raw.split_inclusive('\n') {
        let line_head = head(line);
        let upper = line_head.to_ascii_uppercase();
        if !line.starts_with([' ', '\t'])
            && upper.contains(";QUOTED-PRINTABLE")
            && !upper.contains("ENCODING=QUOTED-PRINTABLE")
        {
            let mut head_fixed = String::with_capacity(line_head.len() + 9);
            for (i, part) in line_head.split(';').enumerate() {
                if i > 0 {
                    head_fixed.push(';');
                }
                if part.eq_ignore_ascii_case("QUOTED-PRINTABLE") {
                    head_fixed.push_str("ENCODING=QUOTED-PRINTABLE");
                } else {
                    head_fixed.push_str(part);
                }
            }
            out.push_str(&head_fixed);
            // `head` returns a prefix of `line`.
            out.push_str(line.strip_prefix(line_head).unwrap_or_default());
        } else {
            out.push_str(line);
        }
    }
    out
}

/// RFC 6868 parameter value decoding: `^n` newline, `^'` double quote, `^^` caret. Any other
/// `^` is kept as written.
pub(super) fn decode_param(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('n' | 'N') => {
                    out.push('\n');
                    chars.next();
                }
                Some('\'') => {
                    out.push('"');
                    chars.next();
                }
                Some('^') => {
                    out.push('^');
                    chars.next();
                }
                _ => out.push('^'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn normalize(vcard: &mut VCard, version: CardVersion) {
    for entry in &mut vcard.entries {
        for param in &mut entry.params {
            if let VCardParameterValue::Text(text) = &mut param.value
                && text.contains('^')
            {
                *text = decode_param(text);
            }
            if param.value == VCardParameterValue::Null {
                match &param.name {
                    // A bare parameter (`TEL;CELL`, `EMAIL;INTERNET`, `PHOTO;JPEG`) is a TYPE
                    // value in 2.1; 3.0/4.0 writers that do this mean the same.
                    VCardParameterName::Other(name) => {
                        let name = name.clone();
                        param.name = VCardParameterName::Type;
                        param.value = match VCardType::parse(name.as_bytes()) {
                            Some(known) => VCardParameterValue::Type(known),
                            None => VCardParameterValue::Text(name),
                        };
                    }
                    VCardParameterName::Pref if version.is_legacy() => {
                        param.name = VCardParameterName::Type;
                        param.value = VCardParameterValue::Text("pref".into());
                    }
                    _ => {}
                }
            }
        }
        let needs_media_type = entry
            .values
            .iter()
            .any(|v| matches!(v, VCardValue::Binary(data) if data.content_type.is_none()));
        if needs_media_type {
            let from_type = entry.params.iter().find_map(|p| match (&p.name, &p.value) {
                (VCardParameterName::Type, VCardParameterValue::Text(token)) => {
                    convert::media_type_for_token(token)
                }
                (VCardParameterName::Mediatype, VCardParameterValue::Text(media)) => {
                    Some(media.to_ascii_lowercase())
                }
                _ => None,
            });
            for value in &mut entry.values {
                if let VCardValue::Binary(data) = value
                    && data.content_type.is_none()
                {
                    data.content_type = from_type
                        .clone()
                        .or_else(|| convert::sniff_media_type(&data.data).map(str::to_owned));
                }
            }
        }
    }
}

/// calcard 0.3.14 misreads 3.0 dates in basic format (`BDAY:19850412` becomes year 65535) and
/// year-less dates (`--06-12`). Date properties of 2.1/3.0 cards are therefore re-read from
/// the text here; a value that is no recognizable date is kept as text rather than guessed.
fn fix_legacy_dates(vcard: &mut VCard, logical: &[Logical]) {
    const DATE_PROPERTIES: [(VCardProperty, &str); 3] = [
        (VCardProperty::Bday, "BDAY"),
        (VCardProperty::Anniversary, "ANNIVERSARY"),
        (VCardProperty::Deathdate, "DEATHDATE"),
    ];
    for (property, name) in DATE_PROPERTIES {
        let mut raw_values = logical
            .iter()
            .filter(|l| property_name(&l.text) == name)
            .map(|l| {
                l.text
                    .get(head(&l.text).len() + 1..)
                    .unwrap_or_default()
                    .trim()
            });
        for entry in vcard.entries.iter_mut().filter(|e| e.name == property) {
            let Some(raw) = raw_values.next() else {
                break;
            };
            let is_text = entry.params.iter().any(|p| {
                p.name == VCardParameterName::Value
                    && p.value == VCardParameterValue::ValueType(VCardValueType::Text)
            });
            if is_text || raw.contains('\\') {
                continue;
            }
            entry.values = vec![match parse_legacy_date(raw) {
                Some(date) => VCardValue::PartialDateTime(date),
                None => VCardValue::Text(raw.to_owned()),
            }];
        }
    }
}

fn fixed_digits<T: std::str::FromStr>(text: &str, len: usize) -> Option<T> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// ISO 8601 dates as 2.1/3.0 writers send them: `1985-04-12`, `19850412`, `1985-04`, `1985`,
/// `--04-12`, `--0412`, `---12`, each optionally followed by `T` and a time (`10:22:00`,
/// `102200`, `10:22`), fraction ignored, and a zone (`Z`, `-05:00`, `-0500`, `-05`).
pub(super) fn parse_legacy_date(text: &str) -> Option<PartialDateTime> {
    let mut dt = PartialDateTime::default();
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    if let Some(rest) = date.strip_prefix("---") {
        dt.day = Some(fixed_digits(rest, 2)?);
    } else if let Some(rest) = date.strip_prefix("--") {
        let rest = rest.replace('-', "");
        dt.month = Some(fixed_digits(rest.get(..2)?, 2)?);
        if rest.len() > 2 {
            dt.day = Some(fixed_digits(rest.get(2..)?, 2)?);
        }
    } else if !date.is_empty() {
        let compact = date.replace('-', "");
        dt.year = Some(fixed_digits(compact.get(..4)?, 4)?);
        match compact.len() {
            4 => {}
            6 => dt.month = Some(fixed_digits(compact.get(4..6)?, 2)?),
            8 => {
                dt.month = Some(fixed_digits(compact.get(4..6)?, 2)?);
                dt.day = Some(fixed_digits(compact.get(6..8)?, 2)?);
            }
            _ => return None,
        }
    }
    if dt.month.is_some_and(|m| !(1..=12).contains(&m))
        || dt.day.is_some_and(|d| !(1..=31).contains(&d))
    {
        return None;
    }
    if let Some(time) = time {
        let (clock, zone) = match time.find(['Z', 'z', '+', '-']) {
            // `at` is where an ASCII character starts: a character boundary.
            Some(at) => (&time[..at], Some(&time[at..])),
            None => (time, None),
        };
        let clock = clock.split('.').next().unwrap_or_default().replace(':', "");
        let mut parts = [None; 3];
        for (i, slot) in parts.iter_mut().enumerate() {
            if let Some(two) = clock.get(i * 2..i * 2 + 2) {
                *slot = Some(fixed_digits::<u8>(two, 2)?);
            }
        }
        if clock.len() % 2 != 0 || clock.len() > 6 || clock.is_empty() {
            return None;
        }
        [dt.hour, dt.minute, dt.second] = parts;
        if let Some(zone) = zone {
            if zone.eq_ignore_ascii_case("z") {
                dt.tz_hour = Some(0);
                dt.tz_minute = Some(0);
            } else {
                // "Z" followed by more text is no zone.
                let offset = zone.strip_prefix(['+', '-'])?;
                dt.tz_minus = zone.starts_with('-');
                let digits = offset.replace(':', "");
                dt.tz_hour = Some(fixed_digits(digits.get(..2)?, 2)?);
                if digits.len() == 4 {
                    dt.tz_minute = Some(fixed_digits(digits.get(2..)?, 2)?);
                } else if digits.len() != 2 {
                    return None;
                }
            }
        }
    }
    (dt.year.is_some() || dt.month.is_some() || dt.day.is_some() || dt.hour.is_some()).then_some(dt)
}
