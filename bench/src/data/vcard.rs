//! Rendering a [`Card`] as vCard 3.0 text (RFC 2426): property order, TEXT escaping and
//! line folding at 75 octets; and unfolding, for checking what servers send back.

use base64::Engine as _;

use super::Card;

impl Card {
    pub(super) fn render(&self, note: Option<&str>) -> String {
        let mut out = String::with_capacity(1024);
        let mut line = |text: String| fold_line(&mut out, &text);
        line("BEGIN:VCARD".into());
        line("VERSION:3.0".into());
        line("PRODID:-//Rolodex bench//generated//EN".into());
        line(format!("UID:{}", self.uid));
        line(format!("FN:{}", escape(&self.full_name)));
        line(format!(
            "N:{};{};{};{};{}",
            escape(self.family),
            escape(self.given),
            escape(self.middle.unwrap_or("")),
            escape(self.prefix.unwrap_or("")),
            escape(self.suffix.unwrap_or("")),
        ));
        if let Some(nickname) = self.nickname {
            line(format!("NICKNAME:{}", escape(nickname)));
        }
        if let Some((company, department)) = self.org {
            match department {
                Some(department) => line(format!("ORG:{};{}", escape(company), escape(department))),
                None => line(format!("ORG:{}", escape(company))),
            }
        }
        if let Some(title) = self.title {
            line(format!("TITLE:{}", escape(title)));
        }
        for email in &self.emails {
            line(format!("EMAIL;TYPE={}:{}", email.types, email.address));
        }
        for tel in &self.tels {
            line(format!("TEL;TYPE={}:{}", tel.types, tel.number));
        }
        for adr in &self.adrs {
            line(format!(
                "ADR;TYPE={}:;;{};{};{};{};{}",
                adr.types,
                escape(&adr.street),
                escape(adr.city),
                escape(adr.region),
                escape(&adr.zip),
                escape(adr.country),
            ));
        }
        if let Some(birthday) = &self.birthday {
            line(format!("BDAY:{birthday}"));
        }
        if !self.categories.is_empty() {
            let values: Vec<String> = self.categories.iter().map(|c| escape(c)).collect();
            line(format!("CATEGORIES:{}", values.join(",")));
        }
        if let Some(note) = note {
            line(format!("NOTE:{}", escape(note)));
        }
        if let Some(png) = &self.photo_png {
            let b64 = base64::engine::general_purpose::STANDARD.encode(png);
            line(format!("PHOTO;ENCODING=b;TYPE=PNG:{b64}"));
        }
        line("END:VCARD".into());
        out
    }
}

/// vCard 3.0 TEXT escaping (RFC 2426 §5): backslash, comma, semicolon and newline.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (never inside a UTF-8 sequence) as RFC 2425
/// asks, with CRLF line ends.
fn fold_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// Undoes line folding, so a check for a value cannot miss it because a server re-folded
/// the card differently.
pub fn unfold(text: &str) -> String {
    text.replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "")
}
