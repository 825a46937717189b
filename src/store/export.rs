//! Exporting an address book: every live card as vCard 3.0 or 4.0 (the stored text itself when
//! it already is in that version, else a real conversion), as the Drop messenger's contacts
//! JSON (with tombstones for deleted contacts, as the Drop format expects), or as a Google
//! Contacts CSV. The CLI (`rolodex export`) and GraphQL (`exportContacts`) both call
//! [`Store::export_contacts`], so they return the same bytes.
//!
//! Output is sorted by display name, then UID, so exporting the same contacts gives the same
//! text whatever their database ids.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::projection::member_uid;
use super::reads::{ContactListQuery, MAX_PAGE_SIZE};
use super::represent::representation;
use super::{ContactRecord, Principal, Store, StoreResult};
use crate::domain::contact::CardKind;
use crate::domain::formats::csv_out::{self, CsvContact};
use crate::domain::formats::drop;
use crate::domain::formats::drop::{DropContact, X_DROP_ID};
use crate::domain::text;
use crate::domain::vcard::{self, Card, PropertyView, RenderVersion};

/// The formats an address book exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    VCard3,
    VCard4,
    DropJson,
    Csv,
}

impl ExportFormat {
    /// `vcf3`, `vcf4`, `drop-json`, `csv` (the CLI's names).
    pub fn parse(name: &str) -> Option<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "vcf3" => Some(ExportFormat::VCard3),
            "vcf4" | "vcf" => Some(ExportFormat::VCard4),
            "drop-json" | "drop" | "json" => Some(ExportFormat::DropJson),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }

    /// MIME type of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::VCard3 | ExportFormat::VCard4 => "text/vcard; charset=utf-8",
            ExportFormat::DropJson => "application/json",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl Store {
    /// One of the principal's address books in `format`.
    pub async fn export_contacts(
        &self,
        principal: &Principal,
        address_book_id: i64,
        format: ExportFormat,
    ) -> StoreResult<String> {
        self.get_address_book(principal, address_book_id).await?;
        let mut records = Vec::new();
        let mut after_id = None;
        loop {
            let page = self
                .list_contacts(
                    principal,
                    &ContactListQuery {
                        address_book_id: Some(address_book_id),
                        kind: None,
                        include_deleted: format == ExportFormat::DropJson,
                        after_id,
                        limit: MAX_PAGE_SIZE,
                    },
                )
                .await?;
            after_id = page.items.last().map(|r| r.id);
            records.extend(page.items);
            if !page.has_more {
                break;
            }
        }
        records.sort_by_cached_key(|r| {
            (
                r.deleted_at.is_some(),
                text::fold(r.fields.display_name.as_deref().unwrap_or_default()),
                r.uid.clone(),
            )
        });
        Ok(match format {
            ExportFormat::VCard3 => vcards(&records, RenderVersion::V3),
            ExportFormat::VCard4 => vcards(&records, RenderVersion::V4),
            ExportFormat::DropJson => drop_json(&records),
            ExportFormat::Csv => csv(&records),
        })
    }
}

fn vcards(records: &[ContactRecord], version: RenderVersion) -> String {
    let mut out = String::new();
    for record in records {
        // Never drops a card: one that no longer parses goes out as stored.
        out.push_str(&representation(
            &record.vcard,
            record.vcard_version,
            Some(version),
        ));
        if !out.ends_with('\n') {
            out.push_str("\r\n");
        }
    }
    out
}

fn properties(record: &ContactRecord) -> Vec<PropertyView> {
    vcard::parse_one(&record.vcard)
        .map(|card: Card| card.properties())
        .unwrap_or_default()
}

fn first_value(properties: &[PropertyView], name: &str) -> Option<String> {
    properties
        .iter()
        .find(|p| p.name == name && !p.value.trim().is_empty())
        .map(|p| p.value.trim().to_owned())
}

/// A REV/CREATED value (`20150130T081030Z`, `2015-01-30T08:10:30Z`, or a date) as UTC.
fn timestamp(value: &str) -> Option<DateTime<Utc>> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.len() {
        8 => format!("{digits}000000"),
        n if n >= 14 => digits[..14].to_owned(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&digits, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

fn drop_json(records: &[ContactRecord]) -> String {
    let live: std::collections::HashSet<&str> = records
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.uid.as_str())
        .collect();
    // The latest tombstone of each UID that has no live card.
    let mut tombstones: HashMap<&str, &ContactRecord> = HashMap::new();
    for record in records.iter().filter(|r| r.deleted_at.is_some()) {
        if live.contains(record.uid.as_str()) {
            continue;
        }
        let entry = tombstones.entry(record.uid.as_str()).or_insert(record);
        if record.deleted_at > entry.deleted_at {
            *entry = record;
        }
    }
    let contacts: Vec<DropContact<'_>> = records
        .iter()
        .filter(|r| r.kind == CardKind::Individual)
        .filter(|r| {
            r.deleted_at.is_none() || tombstones.get(r.uid.as_str()).is_some_and(|t| t.id == r.id)
        })
        .map(|record| {
            let properties = properties(record);
            DropContact {
                uid: &record.uid,
                fields: &record.fields,
                drop_id: first_value(&properties, X_DROP_ID),
                created: first_value(&properties, "CREATED")
                    .and_then(|v| timestamp(&v))
                    .unwrap_or(record.created_at),
                updated: first_value(&properties, "REV")
                    .and_then(|v| timestamp(&v))
                    .unwrap_or(record.updated_at),
                deleted: record.deleted_at,
            }
        })
        .collect();
    drop::write(&contacts)
}

fn csv(records: &[ContactRecord]) -> String {
    // Group names by member UID: groups travel as labels in CSV.
    let mut groups_of: HashMap<&str, Vec<String>> = HashMap::new();
    for group in records.iter().filter(|r| r.kind == CardKind::Group) {
        let Some(name) = group.fields.display_name.as_deref() else {
            continue;
        };
        for member in &group.fields.members {
            groups_of
                .entry(member_uid(member))
                .or_default()
                .push(name.to_owned());
        }
    }
    let contacts: Vec<CsvContact<'_>> = records
        .iter()
        .filter(|r| r.kind == CardKind::Individual)
        .map(|record| {
            let mut labels: Vec<String> = Vec::new();
            let groups = groups_of.get(record.uid.as_str()).into_iter().flatten();
            for label in record.fields.categories.iter().chain(groups) {
                if !labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                    labels.push(label.clone());
                }
            }
            CsvContact {
                uid: &record.uid,
                fields: &record.fields,
                labels,
            }
        })
        .collect();
    csv_out::write(&contacts)
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps_in_any_vcard_form() {
        let expected = "2015-01-30T08:10:30Z";
        for value in [
            "20150130T081030Z",
            "2015-01-30T08:10:30Z",
            "2015-01-30T08:10:30.969Z",
        ] {
            assert_eq!(
                timestamp(value)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                expected
            );
        }
        assert!(timestamp("2015").is_none());
    }
}
