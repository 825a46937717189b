//! CSV tables as the contact exporters write them: a header row naming the columns, then one
//! contact per row. Shared by the Google and Outlook mappings: column lookup by name (any case),
//! the deterministic UID of a row, and the walk from records to import entries.

use std::collections::HashMap;

use super::csv::{self, CsvRecord};
use super::{Entry, FormatError, PatchRecord, Record, derived_uid};
use crate::domain::contact::ContactPatch;

/// Column name of the UID a Rolodex CSV export adds (other tools ignore unknown columns).
pub const UID_COLUMN: &str = "UID";

/// A header: column name (lower case) -> index.
pub struct Header {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Header {
    pub fn new(names: &[String]) -> Header {
        let mut index = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            index.entry(name.trim().to_lowercase()).or_insert(i);
        }
        Header {
            names: names.iter().map(|n| n.trim().to_owned()).collect(),
            index,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(&name.to_lowercase())
    }
}

/// One data row under its header.
pub struct Row<'a> {
    header: &'a Header,
    fields: &'a [String],
}

impl Row<'_> {
    /// Whether the header has this column (whatever the row holds).
    pub fn has_column(&self, name: &str) -> bool {
        self.header.has(name)
    }

    /// The trimmed value of a column, `None` when the column is absent or the cell empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = *self.header.index.get(&name.to_lowercase())?;
        let value = self.fields.get(i)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// The first of several alternative column names that has a value.
    pub fn any(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| self.get(name))
    }

    pub fn owned(&self, names: &[&str]) -> Option<String> {
        self.any(names).map(str::to_owned)
    }

    /// The UID column, else a UID derived from the row's non-empty cells (by column name, so a
    /// re-ordered export of the same contact finds the same card).
    pub fn uid(&self) -> String {
        if let Some(uid) = self.get(UID_COLUMN) {
            return uid.to_owned();
        }
        let mut cells: Vec<(String, &str)> = self
            .header
            .names
            .iter()
            .zip(self.fields)
            .map(|(name, value)| (name.to_lowercase(), value.trim()))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        cells.sort();
        let seed: Vec<String> = cells.iter().map(|(n, v)| format!("{n}={v}")).collect();
        derived_uid(&format!("csv-row:{}", seed.join("\u{1f}")))
    }
}

/// The header of a CSV text (its first record), if it reads.
pub fn header_of(text: &str) -> Option<Vec<String>> {
    let first = csv::read(text).into_iter().next()?;
    first.fields.ok()
}

/// Reads a table, mapping each non-blank data row with `map` (which also gets the repairs list).
pub fn read_table(
    text: &str,
    map: impl Fn(&Row<'_>, &mut Vec<String>) -> Result<PatchRecord, FormatError>,
) -> Result<Vec<Entry>, FormatError> {
    let mut records = csv::read(text).into_iter();
    let header = match records.next() {
        Some(CsvRecord {
            fields: Ok(names), ..
        }) => Header::new(&names),
        Some(CsvRecord {
            fields: Err(_),
            line,
        }) => return Err(FormatError::UnreadableCsvHeader { line }),
        None => return Ok(Vec::new()),
    };
    let mut entries = Vec::new();
    for record in records {
        let position = entries.len() + 1;
        let mut repairs = Vec::new();
        let record_result = match &record.fields {
            Err(error) => Err(error.clone()),
            Ok(fields) if fields.iter().all(|f| f.trim().is_empty()) => continue,
            Ok(fields)
                if fields.len() > header.names.len()
                    && fields
                        .iter()
                        .skip(header.names.len())
                        .any(|f| !f.trim().is_empty()) =>
            {
                Err(FormatError::TooManyFields {
                    fields: fields.len(),
                    columns: header.names.len(),
                })
            }
            Ok(fields) => {
                let row = Row {
                    header: &header,
                    fields,
                };
                match map(&row, &mut repairs) {
                    // Only defaults (Outlook writes `0/0/00`, `Normal`... in every row).
                    Ok(record)
                        if record.patch == ContactPatch::default() && record.extras.is_empty() =>
                    {
                        continue;
                    }
                    other => other.map(|record| Record::Patch(Box::new(record))),
                }
            }
        };
        entries.push(Entry {
            position,
            line: record.line,
            record: record_result,
            repairs,
        });
    }
    Ok(entries)
}

/// Split a multi-value cell: Google joins values with ` ::: `.
pub fn split_multi(value: &str) -> impl Iterator<Item = &str> {
    value.split(":::").map(str::trim).filter(|v| !v.is_empty())
}

/// A date cell as a vCard date: `1980-01-02`, `--01-02` (no year), `19800102`, or the US
/// `1/2/1980` Outlook writes. `None` for anything else (and for Outlook's empty `0/0/00`).
pub fn vcard_date(value: &str) -> Option<String> {
    let value = value.trim();
    let all_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let valid = |month: u32, day: u32| (1..=12).contains(&month) && (1..=31).contains(&day);
    if let Some((m, rest)) = value.split_once('/') {
        let (d, y) = rest.split_once('/')?;
        let (month, day) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
        if y.len() != 4 || !all_digits(y) || !valid(month, day) {
            return None;
        }
        return Some(format!("{y}-{month:02}-{day:02}"));
    }
    let (year, md) = match value.strip_prefix("--") {
        Some(rest) => (None, rest.replace('-', "")),
        None => {
            let digits = value.replace('-', "");
            if digits.len() != 8 || !all_digits(&digits) {
                return None;
            }
            let (year, md) = digits.split_at_checked(4)?;
            (Some(year.to_owned()), md.to_owned())
        }
    };
    if md.len() != 4 || !all_digits(&md) || year.as_deref().is_some_and(|y| !all_digits(y)) {
        return None;
    }
    let (month, day) = md.split_at_checked(2)?;
    let (month, day) = (month.parse::<u32>().ok()?, day.parse::<u32>().ok()?);
    if !valid(month, day) {
        return None;
    }
    Some(match year {
        Some(year) => format!("{year}-{month:02}-{day:02}"),
        None => format!("--{month:02}-{day:02}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(vcard_date("1815-12-10").as_deref(), Some("1815-12-10"));
        assert_eq!(vcard_date("18151210").as_deref(), Some("1815-12-10"));
        assert_eq!(vcard_date("--12-10").as_deref(), Some("--12-10"));
        assert_eq!(vcard_date("--1210").as_deref(), Some("--12-10"));
        assert_eq!(vcard_date("12/10/1815").as_deref(), Some("1815-12-10"));
        assert_eq!(vcard_date("0/0/00"), None);
        assert_eq!(vcard_date("next tuesday"), None);
        assert_eq!(vcard_date("1815-13-10"), None);
    }

    #[test]
    fn row_uids_ignore_column_order() {
        let a = read_table("Given Name,Family Name\nAda,Lovelace\n", |row, _| {
            Ok(PatchRecord {
                uid: row.uid(),
                patch: ContactPatch {
                    note: Some(Some("x".into())),
                    ..ContactPatch::default()
                },
                extras: vec![],
                name_expected: false,
            })
        })
        .unwrap();
        let b = read_table("Family Name,Given Name,Notes\nLovelace,Ada,\n", |row, _| {
            Ok(PatchRecord {
                uid: row.uid(),
                patch: ContactPatch {
                    note: Some(Some("x".into())),
                    ..ContactPatch::default()
                },
                extras: vec![],
                name_expected: false,
            })
        })
        .unwrap();
        let uid = |entries: &[Entry]| match &entries[0].record {
            Ok(Record::Patch(p)) => p.uid.clone(),
            _ => panic!(),
        };
        assert_eq!(uid(&a), uid(&b));
    }
}
