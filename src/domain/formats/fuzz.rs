//! Property-based fuzzing of the import and export formats (issue 11): real export files from
//! `tests/fixtures/import/` mutated (`domain::mutation`), generated rows, contacts and JSON, and
//! raw bytes. Properties: no reader or writer panics; every record a reader accepts builds a
//! card (new or merged into a stored one) that renders and parses again; what the writers
//! write reads back; the byte decoder keeps UTF-8 and UTF-16 text as it was.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::domain::contact::{
    Address, AddressKind, ContactFields, Email, EmailKind, Phone, PhoneKind,
};
use crate::domain::mutation;
use crate::domain::vcard::{self, RenderVersion};

// Bytes: Outlook's export is Windows-1252, as real ones are; `decode` turns each into text.
const CSV_FILES: [&[u8]; 3] = [
    include_bytes!("../../../tests/fixtures/import/google-contacts.csv"),
    include_bytes!("../../../tests/fixtures/import/google-contacts-2024.csv"),
    include_bytes!("../../../tests/fixtures/import/outlook-contacts.csv"),
];
const DROP_JSON: &str = include_str!("../../../tests/fixtures/import/drop-contacts.json");
const APPLE_VCF: &str = include_str!("../../../tests/fixtures/import/apple-contacts.vcf");
const ANDROID_VCF: &str = include_str!("../../../tests/fixtures/import/android-contacts-2.1.vcf");
const BROKEN_VCF: &str = include_str!("../../../tests/fixtures/import/broken-cards.vcf");

/// What CSV and JSON readers stumble over, on top of the common snippets.
const CSV_SNIPPETS: &[&str] = &[
    "\"",
    "\"\"",
    ",",
    ",,,,",
    "\r\n",
    "\n",
    " ::: ",
    ":::",
    "* ",
    "0/0/00",
    "13/45/2020",
    "--1231",
    "1815-12-10",
    "http://",
    "https:// x",
    "\u{feff}",
    "手机 138 0013 8000",
    "12€",
    "ΓΙΏΡΓΟΣ",
    "E-mail 1 - Value",
    "Phone 2 - Value",
    "Address 3 - Formatted",
    "Website 1 - Value",
    "Birthday",
    "UID",
];

const JSON_SNIPPETS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "0",
    "-1",
    "1e400",
    "99999999999999999999",
    "1422605439969",
    "\\u0000",
    "\\ud800",
    "\\\"",
    "\"deleted\": 1,",
    "\"uid\": \"\",",
    "\"keys\": [],",
    "\"module_data\": {\"a\": [[[[]]]]},",
    "\"phone\": \"手机 138 0013 8000\",",
    "\"alias\": \"ΓΙΏΡΓΟΣ\",",
];

fn mutated(
    seeds: &'static [&'static str],
    extra: &'static [&'static str],
) -> BoxedStrategy<String> {
    (prop::sample::select(seeds), mutation::mutations(extra, 6))
        .prop_map(|(text, mutations)| mutation::apply(text, &mutations))
        .boxed()
}

/// The header and one data row of an export, as written there (quoting and line ends kept):
/// every row of a file goes through the same code, so one row at a time lets the cases go to
/// the mutations rather than to re-reading the untouched rows.
fn header_and_row(text: &str, row: usize) -> String {
    let starts: Vec<usize> = csv::read(text).iter().map(|r| r.line).collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // Records start on increasing 1-based lines; record `i` runs up to the next one's start.
    let span = |i: usize| {
        let start = starts.get(i).map_or(lines.len(), |l| l - 1);
        let end = starts.get(i + 1).map_or(lines.len(), |l| l - 1);
        lines.get(start..end).unwrap_or_default().concat()
    };
    let data_rows = starts.len().saturating_sub(1).max(1);
    span(0) + &span(1 + row % data_rows)
}

/// One row of a CSV export (decoded as an import decodes it), mutated.
fn mutated_csv() -> BoxedStrategy<String> {
    (
        prop::sample::select(&CSV_FILES[..]),
        any::<usize>(),
        mutation::mutations(CSV_SNIPPETS, 6),
    )
        .prop_map(|(bytes, row, mutations)| {
            let text = header_and_row(&decode::decode(bytes).0, row);
            mutation::apply(&text, &mutations)
        })
        .boxed()
}

/// One row of a CSV export with bytes inserted and overwritten: not text any more until
/// decoded.
fn mutated_csv_bytes() -> BoxedStrategy<Vec<u8>> {
    (
        (prop::sample::select(&CSV_FILES[..]), any::<usize>()),
        prop::collection::vec(
            (
                any::<usize>(),
                prop::collection::vec(any::<u8>(), 1..4),
                any::<bool>(),
            ),
            1..6,
        ),
    )
        .prop_map(|((bytes, row), edits)| {
            let mut bytes = header_and_row(&decode::decode(bytes).0, row).into_bytes();
            for (at, insert, overwrite) in edits {
                let at = at % (bytes.len() + 1);
                if overwrite {
                    for (offset, byte) in insert.into_iter().enumerate() {
                        if let Some(slot) = bytes.get_mut(at + offset) {
                            *slot = byte;
                        }
                    }
                } else {
                    bytes.splice(at..at, insert);
                }
            }
            bytes
        })
        .boxed()
}

/// A stored card to merge records into, as the importer does for a UID it already has: small
/// (merging is the costly path) but with what merging must keep — an Apple label group, a
/// category that is also a group's name, REV.
fn stored_base() -> (vcard::Card, Stored) {
    let card = vcard::parse_one(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:base\r\nFN:Base Card\r\nN:Card;Base;;;\r\n\
         item1.EMAIL;type=INTERNET;type=pref:base@example.org\r\n\
         item1.X-ABLabel:_$!<Other>!$_\r\nTEL;type=CELL:+1 415 555 0100\r\n\
         CATEGORIES:Friends\r\nREV:2024-03-05T10:11:12Z\r\nEND:VCARD\r\n",
    )
    .unwrap_or_else(|e| panic!("base card: {e}"));
    let stored = Stored {
        created: Utc
            .timestamp_opt(1_422_605_430, 0)
            .single()
            .unwrap_or_default(),
        updated: Utc
            .timestamp_opt(1_422_605_439, 0)
            .single()
            .unwrap_or_default(),
        group_names: vec!["Friends".into()],
    };
    (card, stored)
}

/// Every record of `entries` builds a card, alone and (the first) merged into a stored card,
/// and the card renders in both versions to text that parses again.
fn check_entries(entries: &[Entry]) -> Result<(), TestCaseError> {
    let (base, stored) = stored_base();
    for (index, entry) in entries.iter().enumerate() {
        let _ = entry.uid();
        match &entry.record {
            Ok(Record::Patch(record)) => {
                // Merging runs the same code for every record: the first one stands for all.
                let merge = (index == 0).then(|| (base.clone(), &stored));
                for merged_into in [None, merge] {
                    let merged = merged_into.is_some();
                    let built = card::build(merged_into, record).map_err(|e| {
                        TestCaseError::fail(format!(
                            "record does not build (merged: {merged}): {e}\n{record:?}"
                        ))
                    })?;
                    check_card(&built.card)?;
                }
            }
            Ok(Record::Card(card)) => check_card(card)?,
            Ok(Record::Tombstone { .. }) | Err(_) => {}
        }
    }
    Ok(())
}

fn check_card(card: &vcard::Card) -> Result<(), TestCaseError> {
    let _ = card.extract();
    for version in [RenderVersion::V3, RenderVersion::V4] {
        let out = card.render(version);
        if let Err(e) = vcard::parse_one(&out) {
            return Err(TestCaseError::fail(format!(
                "{version:?} rendering does not parse: {e}\n{out}"
            )));
        }
    }
    Ok(())
}

/// Reads `text` the way an import does: detect, then the reader for the format. Returns the
/// format detected.
fn import(file_name: Option<&str>, text: &str) -> Result<Option<Format>, TestCaseError> {
    let format = detect(file_name, text).ok();
    if let Some(format) = format
        && let Ok(entries) = read(format, text)
    {
        check_entries(&entries)?;
    }
    Ok(format)
}

/// Names and other text as people type them, without the surrounding blanks a reader trims.
/// (Explicit characters: generating from Unicode classes costs more than the test.)
fn name() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        "[a-zA-Z0-9éÉüßΓΙΏΡΣσςΟ李手€]([a-zA-Z0-9éüΓΙΏΡΣσςΟ李 ,.'\"€;\\\\-]{0,10}[a-z0-9éΣς李])?",
    )
}

/// A contact to export. It always has a display name: a row with nothing but its UID is no
/// contact, and readers skip it.
fn contact_fields() -> impl Strategy<Value = ContactFields> {
    (
        (
            name().prop_map(|n| n.or_else(|| Some("Anonymous".into()))),
            name(),
            name(),
            name(),
            name(),
        ),
        prop::collection::vec(("[a-zé0-9._+-]{1,8}@[a-z0-9.-]{1,8}", any::<bool>()), 0..3),
        prop::collection::vec(("\\+?[0-9][0-9 ()-]{3,14}", 0..6_u8), 0..3),
        prop::collection::vec((name(), name(), name()), 0..2),
        "[a-zA-Z0-9éΣς李 ,;:\"\n]{0,20}",
    )
        .prop_map(
            |((display, first, last, company, title), emails, phones, addresses, note)| {
                let mut fields = ContactFields {
                    display_name: display,
                    first_name: first,
                    last_name: last,
                    company,
                    job_title: title,
                    note: Some(note.trim().to_owned()).filter(|n| !n.is_empty()),
                    ..ContactFields::default()
                };
                fields.emails = emails
                    .into_iter()
                    .enumerate()
                    .map(|(i, (address, _))| Email {
                        label: None,
                        kind: if i == 0 {
                            EmailKind::Primary
                        } else {
                            EmailKind::Alternate
                        },
                        address,
                    })
                    .collect();
                fields.phones = phones
                    .into_iter()
                    .map(|(number, kind)| Phone {
                        label: None,
                        kind: match kind {
                            0 => PhoneKind::Home,
                            1 => PhoneKind::Business,
                            2 => PhoneKind::Mobile,
                            3 => PhoneKind::Fax,
                            4 => PhoneKind::Pager,
                            _ => PhoneKind::Other,
                        },
                        number: number.trim().to_owned(),
                        normalized: None,
                    })
                    .collect();
                fields.addresses = addresses
                    .into_iter()
                    .filter(|(street, city, country)| {
                        street.is_some() || city.is_some() || country.is_some()
                    })
                    .map(|(street, city, country)| Address {
                        kind: AddressKind::Home,
                        street,
                        city,
                        country,
                        ..Address::default()
                    })
                    .collect();
                fields
            },
        )
}

/// JSON values of bounded depth, for Drop contacts with fields of every type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Drop contact: the spec's keys with values of any type, plus stray keys.
fn drop_contact() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(
        &[
            "id",
            "uid",
            "alias",
            "email",
            "phone",
            "keys",
            "public_key",
            "my_identity",
            "drop_urls",
            "module_data",
            "created",
            "updated",
            "deleted",
            "other",
        ][..],
    );
    prop::collection::vec((keys, json_value()), 0..8).prop_map(|pairs| {
        let mut object = Map::new();
        for (key, value) in pairs {
            object.insert(key.to_owned(), value);
        }
        Value::Object(object)
    })
}

/// Half the usual cases for the CSV imports: each case reads a row (hashing its cells for a
/// UID, slow in a debug build) and builds and renders two cards, several times the work of a
/// case elsewhere. `ROLODEX_FUZZ_CASES` still scales them.
fn csv_import_config() -> ProptestConfig {
    let config = crate::fuzzing::config();
    ProptestConfig {
        cases: config.cases.div_ceil(2),
        ..config
    }
}

proptest! {
    #![proptest_config(csv_import_config())]

    /// Mutated Google and Outlook exports: detected and read; every row that reads builds. The
    /// other reader copes with the text too.
    #[test]
    fn fuzz_mutated_csv_imports(text in mutated_csv()) {
        match import(Some("contacts.csv"), &text)? {
            Some(Format::GoogleCsv) => {
                let _ = outlook::read(&text);
            }
            Some(Format::OutlookCsv) => {
                let _ = google::read(&text);
            }
            _ => {
                let _ = csv::read(&text);
                let _ = google::read(&text);
                let _ = outlook::read(&text);
            }
        }
    }

    /// CSV exports damaged at the byte level (a UTF-8 file cut mid-character, Windows-1252
    /// bytes in UTF-8, stray NULs): decoded, detected and read.
    #[test]
    fn fuzz_mutated_csv_bytes(bytes in mutated_csv_bytes()) {
        let (text, _) = decode::decode(&bytes);
        import(Some("contacts.csv"), &text)?;
    }
}

proptest! {
    #![proptest_config(crate::fuzzing::config())]

    /// Mutated Drop exports: read; every contact that reads builds.
    #[test]
    fn fuzz_mutated_drop_imports(text in mutated(&[DROP_JSON], JSON_SNIPPETS)) {
        import(Some("contacts.json"), &text)?;
        let _ = drop::read(&text);
    }

    /// Drop contacts whose fields hold any JSON: an entry fails or builds, never the file.
    #[test]
    fn fuzz_drop_contacts_of_any_shape(contacts in prop::collection::vec(drop_contact(), 0..4)) {
        let text = serde_json::json!({ "contacts": contacts }).to_string();
        let entries = drop::read(&text);
        prop_assert!(entries.is_ok(), "{entries:?}");
        let entries = entries.unwrap_or_default();
        prop_assert_eq!(entries.len(), contacts.len());
        check_entries(&entries)?;
    }

    /// Mutated vCard files through the vCard importer (UID and FN repairs included).
    #[test]
    fn fuzz_mutated_vcf_imports(text in mutated(&[APPLE_VCF, ANDROID_VCF, BROKEN_VCF], &[])) {
        import(Some("contacts.vcf"), &text)?;
        let _ = vcf::read(&text);
    }

    /// The CSV writer and reader agree on every field (a CRLF inside a field reads as LF).
    #[test]
    fn fuzz_csv_fields_round_trip(
        rows in prop::collection::vec(prop::collection::vec("[\\PC\r\n\",]{0,8}", 1..5), 0..5),
    ) {
        let mut out = String::new();
        for row in &rows {
            csv::write_record(&mut out, row);
        }
        let expected: Vec<Vec<String>> = rows
            .iter()
            // A record of one empty field is a blank line, which readers skip.
            .filter(|row| !(row.len() == 1 && row[0].is_empty()))
            .map(|row| row.iter().map(|f| f.replace("\r\n", "\n")).collect())
            .collect();
        let read: Vec<Vec<String>> = csv::read(&out)
            .into_iter()
            .map(|r| r.fields.unwrap_or_default())
            .collect();
        prop_assert_eq!(read, expected);
    }

    /// Rolodex's CSV export reads back as Google CSV with the same contacts.
    #[test]
    fn fuzz_csv_export_reads_back(contacts in prop::collection::vec(contact_fields(), 1..4)) {
        let uids: Vec<String> = (0..contacts.len()).map(|i| format!("u-{i}")).collect();
        let rows: Vec<csv_out::CsvContact<'_>> = contacts
            .iter()
            .zip(&uids)
            .map(|(fields, uid)| csv_out::CsvContact {
                uid,
                fields,
                labels: Vec::new(),
            })
            .collect();
        let text = csv_out::write(&rows);
        prop_assert_eq!(detect(Some("export.csv"), &text), Ok(Format::GoogleCsv));
        let entries = google::read(&text);
        prop_assert!(entries.is_ok(), "{entries:?}");
        let entries = entries.unwrap_or_default();
        for (entry, fields) in entries.iter().zip(&contacts) {
            let Ok(Record::Patch(record)) = &entry.record else {
                return Err(TestCaseError::fail(format!("{:?}\n{text}", entry.record)));
            };
            prop_assert_eq!(&record.patch.first_name, &fields.first_name.clone().map(Some));
            prop_assert_eq!(&record.patch.last_name, &fields.last_name.clone().map(Some));
            prop_assert_eq!(&record.patch.company, &fields.company.clone().map(Some));
            prop_assert_eq!(&record.patch.note, &fields.note.clone().map(Some));
            let phones: Vec<&str> = record.patch.phones.iter().flatten().map(|p| p.number.as_str()).collect();
            let expected: Vec<&str> = fields.phones.iter().map(|p| p.number.as_str()).collect();
            prop_assert_eq!(phones, expected);
        }
        // Every contact is there, in order, under its UID.
        let read_uids: Vec<Option<String>> = entries.iter().map(Entry::uid).collect();
        let expected: Vec<Option<String>> = uids.iter().cloned().map(Some).collect();
        prop_assert_eq!(read_uids, expected);
    }

    /// The Drop export reads back with the same UIDs, names and addresses.
    #[test]
    fn fuzz_drop_export_reads_back(contacts in prop::collection::vec(contact_fields(), 1..4)) {
        let time = Utc.timestamp_opt(1_422_605_430, 0).single().unwrap_or_default();
        let uids: Vec<String> = (0..contacts.len()).map(|i| format!("u-{i}")).collect();
        let written: Vec<drop::DropContact<'_>> = contacts
            .iter()
            .zip(&uids)
            .map(|(fields, uid)| drop::DropContact {
                uid,
                fields,
                drop_id: None,
                created: time,
                updated: time,
                deleted: None,
            })
            .collect();
        let text = drop::write(&written);
        let entries = drop::read(&text);
        prop_assert!(entries.is_ok(), "{entries:?}");
        let entries = entries.unwrap_or_default();
        prop_assert_eq!(entries.len(), contacts.len());
        for ((entry, fields), uid) in entries.iter().zip(&contacts).zip(&uids) {
            let Ok(Record::Patch(record)) = &entry.record else {
                return Err(TestCaseError::fail(format!("{:?}\n{text}", entry.record)));
            };
            prop_assert_eq!(&record.uid, uid);
            prop_assert_eq!(
                record.patch.display_name.clone().flatten(),
                fields.display_name.clone()
            );
            let email = record.patch.emails.iter().flatten().next().map(|e| e.address.clone());
            prop_assert_eq!(email, fields.emails.first().map(|e| e.address.clone()));
        }
    }

    /// Any bytes decode to text; UTF-8 comes back unchanged, UTF-16 with a byte-order mark as
    /// the text it encodes.
    #[test]
    fn fuzz_decode_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        text in "\\PC{0,40}",
    ) {
        let _ = decode::decode(&bytes);
        prop_assert_eq!(decode::decode(text.as_bytes()), (text.clone(), None));
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend(text.as_bytes());
        prop_assert_eq!(decode::decode(&with_bom).0, text.clone());
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        prop_assert_eq!(decode::decode(&le).0, text.clone());
        prop_assert_eq!(decode::decode(&be).0, text);
    }

    /// Format detection copes with any text and file name.
    #[test]
    fn fuzz_detect(text in "(?s).{0,80}", file_name in prop::option::of("\\PC{0,12}")) {
        let _ = detect(file_name.as_deref(), &text);
    }
}
