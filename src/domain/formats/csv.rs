//! A small RFC 4180 reader and writer: quoted fields with doubled quotes, commas and line
//! breaks inside quotes, CRLF or LF record ends. Lenient where real exports are sloppy: a quote
//! inside an unquoted field is taken literally, and text after a closing quote is kept.

use super::FormatError;

/// One record of a CSV text: the line it starts on (1-based) and its fields, or why it could
/// not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    pub line: usize,
    pub fields: Result<Vec<String>, FormatError>,
}

/// Splits `text` into records. Blank lines are skipped. An unterminated quoted field is reported
/// on its record (which then runs to the end of the text).
pub fn read(text: &str) -> Vec<CsvRecord> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut error = None;
        loop {
            let Some(c) = chars.next() else {
                if in_quotes {
                    error = Some(FormatError::UnclosedQuote { line: start_line });
                }
                break;
            };
            if in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => in_quotes = false,
                    '\n' => {
                        line += 1;
                        field.push('\n');
                    }
                    '\r' if chars.peek() == Some(&'\n') => {}
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    quoted = false;
                }
                '"' if field.is_empty() && !quoted => {
                    quoted = true;
                    in_quotes = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => {
                    line += 1;
                    break;
                }
                _ => field.push(c),
            }
        }
        fields.push(field);
        let blank = fields.len() == 1 && fields[0].is_empty() && error.is_none();
        if !blank {
            records.push(CsvRecord {
                line: start_line,
                fields: match error {
                    Some(error) => Err(error),
                    None => Ok(fields),
                },
            });
        }
    }
    records
}

/// Appends one record to `out`, quoting fields that need it, ending with CRLF.
pub fn write_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = field.as_ref();
        let needs_quotes = field.contains([',', '"', '\r', '\n'])
            || field.starts_with(char::is_whitespace)
            || field.ends_with(char::is_whitespace);
        if needs_quotes {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        read(text)
            .into_iter()
            .map(|r| r.fields.expect("record"))
            .collect()
    }

    #[test]
    fn reads_quotes_commas_and_line_breaks() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n\r\nlast,,\n";
        assert_eq!(
            fields(text),
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\nlines"],
                vec!["last", "", ""],
            ]
        );
        let lines: Vec<usize> = read(text).iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![1, 2, 5]);
    }

    #[test]
    fn no_final_newline_and_bom() {
        assert_eq!(
            fields("\u{feff}a,b\nc,d"),
            vec![vec!["a", "b"], vec!["c", "d"]]
        );
    }

    #[test]
    fn lenient_about_stray_quotes() {
        assert_eq!(fields("5\" disk,ok\n"), vec![vec!["5\" disk", "ok"]]);
    }

    #[test]
    fn unterminated_quote_is_an_error_on_its_record() {
        let records = read("a,b\n\"open,c\nd\n");
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[1].fields.as_ref().unwrap_err(),
            &FormatError::UnclosedQuote { line: 2 }
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let rows = vec![
            vec![
                "plain",
                "with, comma",
                "with \"quote\"",
                "multi\nline",
                " padded",
                "",
            ],
            vec!["é", "ü", "", "", "", "x"],
        ];
        let mut out = String::new();
        for row in &rows {
            write_record(&mut out, row);
        }
        assert!(out.ends_with("\r\n"));
        assert_eq!(fields(&out), rows);
    }
}
