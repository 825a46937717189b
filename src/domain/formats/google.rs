//! Google Contacts CSV, both column sets Google has written: the older "Google CSV" (`Name,Given
//! Name,Additional Name,Family Name,...,Group Membership,E-mail 1 - Type,E-mail 1 - Value,...,
//! Organization 1 - Name,...`) and the current one (`First Name,Middle Name,Last Name,...,
//! Labels,E-mail 1 - Label,E-mail 1 - Value,...`). Several values of one type share a cell,
//! joined by ` ::: `; a type starting with `* ` marks the primary value.
//!
//! Rolodex's own CSV export (`csv_out`) writes the current column set, so it reads back here.

use super::rows::{self, Row};
use super::{Entry, FormatError, PatchRecord};
use crate::domain::contact::{
    Address, AddressKind, ContactPatch, Email, EmailKind, PartialDate, Phone, PhoneKind,
    RelatedPerson, RelationKind, Website, WebsiteKind,
};

/// Whether a header is one of Google's.
pub fn is_google_header(header: &rows::Header) -> bool {
    [
        "E-mail 1 - Value",
        "Phone 1 - Value",
        "Given Name",
        "Group Membership",
    ]
    .iter()
    .any(|c| header.has(c))
        || (header.has("Labels") && header.has("File As"))
}

pub fn read(text: &str) -> Result<Vec<Entry>, FormatError> {
    rows::read_table(text, row)
}

/// Numbered column groups present in the row's header (`E-mail 1 - ...`, `E-mail 2 - ...`).
fn numbered(row: &Row<'_>, prefix: &str) -> Vec<usize> {
    (1..=50)
        .take_while(|n| {
            ["Value", "Type", "Label", "Street", "Formatted", "Name"]
                .iter()
                .any(|suffix| row.has_column(&format!("{prefix} {n} - {suffix}")))
        })
        .collect()
}

/// The label of a numbered group as written (the primary marker `* ` removed) and whether it
/// marks the primary value.
fn label(row: &Row<'_>, prefix: &str, n: usize) -> (String, bool) {
    let raw = row
        .any(&[
            &format!("{prefix} {n} - Type"),
            &format!("{prefix} {n} - Label"),
        ])
        .unwrap_or_default();
    match raw.strip_prefix('*') {
        Some(rest) => (rest.trim().to_owned(), true),
        None => (raw.trim().to_owned(), false),
    }
}

/// A label the model's kind does not already say: kept as the value's free label.
fn free_label(label: &str, standard: &[&str]) -> Option<String> {
    (!label.is_empty() && !standard.iter().any(|s| s.eq_ignore_ascii_case(label)))
        .then(|| label.to_owned())
}

/// Labels Google (and Rolodex's export) write for the phone kinds.
const PHONE_LABELS: [&str; 11] = [
    "home", "work", "business", "mobile", "cell", "work fax", "home fax", "fax", "pager", "other",
    "main",
];
const PLACE_LABELS: [&str; 4] = ["home", "work", "business", "other"];

fn phone_kind(label: &str) -> PhoneKind {
    if label.contains("fax") {
        PhoneKind::Fax
    } else if label.contains("pager") {
        PhoneKind::Pager
    } else if label.contains("mobile") || label.contains("cell") {
        PhoneKind::Mobile
    } else if label.contains("work") || label.contains("business") {
        PhoneKind::Business
    } else if label.contains("home") {
        PhoneKind::Home
    } else {
        PhoneKind::Other
    }
}

/// A date cell (see [`rows::vcard_date`]); an unreadable one is reported and skipped.
pub(super) fn read_date(text: &str, what: &str, repairs: &mut Vec<String>) -> Option<PartialDate> {
    let date = rows::vcard_date(text).and_then(|d| PartialDate::parse(&d).ok());
    if date.is_none() {
        repairs.push(format!("ignored unreadable {what} {text:?}"));
    }
    date
}

/// A website from its Google label: Home/Work are kinds, anything else a label ("Blog").
fn website(url: &str, label: &str) -> Website {
    let kind = match label.to_lowercase().as_str() {
        "home" | "home page" => WebsiteKind::Home,
        "work" => WebsiteKind::Work,
        _ => WebsiteKind::Other,
    };
    Website {
        kind,
        url: url.to_owned(),
        label: free_label(label, &["home", "home page", "work", "other"]),
    }
}

/// A related person from Google's relation label ("Spouse", "Assistant", or free text).
pub(super) fn related_person(name: &str, label: &str) -> RelatedPerson {
    match RelationKind::from_word(label) {
        Some(kind) => RelatedPerson {
            kind,
            name: name.to_owned(),
            label: None,
        },
        None => RelatedPerson {
            kind: RelationKind::Other,
            name: name.to_owned(),
            label: free_label(label, &[]),
        },
    }
}

fn row(row: &Row<'_>, repairs: &mut Vec<String>) -> Result<PatchRecord, FormatError> {
    let mut emails = Vec::new();
    let mut any_primary = false;
    for n in numbered(row, "E-mail") {
        let (email_label, primary) = label(row, "E-mail", n);
        let Some(value) = row.get(&format!("E-mail {n} - Value")) else {
            continue;
        };
        for address in rows::split_multi(value) {
            let is_primary = primary && !any_primary;
            any_primary |= is_primary;
            emails.push(Email {
                kind: if is_primary {
                    EmailKind::Primary
                } else {
                    EmailKind::Alternate
                },
                address: address.to_owned(),
                label: free_label(&email_label, &["other"]),
            });
        }
    }
    if !any_primary && let Some(first) = emails.first_mut() {
        first.kind = EmailKind::Primary;
    }
    let mut phones = Vec::new();
    for n in numbered(row, "Phone") {
        let (label, _) = label(row, "Phone", n);
        let Some(value) = row.get(&format!("Phone {n} - Value")) else {
            continue;
        };
        for number in rows::split_multi(value) {
            phones.push(Phone {
                kind: phone_kind(&label.to_lowercase()),
                number: number.to_owned(),
                normalized: None,
                label: free_label(&label, &PHONE_LABELS),
            });
        }
    }
    let mut addresses = Vec::new();
    for n in numbered(row, "Address") {
        let (label, _) = label(row, "Address", n);
        let part = |suffix: &str| row.owned(&[&format!("Address {n} - {suffix}")]);
        let mut street_lines: Vec<String> = [part("Street"), part("Extended Address")]
            .into_iter()
            .flatten()
            .collect();
        if let Some(po_box) = part("PO Box") {
            street_lines.push(format!("PO Box {po_box}"));
        }
        let (city, state, zip, country) = (
            part("City"),
            part("Region"),
            part("Postal Code"),
            part("Country"),
        );
        if street_lines.is_empty()
            && city.is_none()
            && state.is_none()
            && zip.is_none()
            && country.is_none()
        {
            // Only the formatted text: keep it whole as the street.
            match part("Formatted") {
                Some(formatted) => street_lines.push(formatted),
                None => continue,
            }
        }
        addresses.push(Address {
            kind: match label.to_lowercase().as_str() {
                "home" => AddressKind::Home,
                "work" | "business" => AddressKind::Business,
                _ => AddressKind::Other,
            },
            label: free_label(&label, &PLACE_LABELS),
            street: (!street_lines.is_empty()).then(|| street_lines.join("\n")),
            city,
            state,
            zip,
            country,
        });
    }
    let categories: Vec<String> = row
        .any(&["Labels", "Group Membership"])
        .map(|labels| {
            rows::split_multi(labels)
                .map(|l| l.trim_start_matches('*').trim().to_owned())
                .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("myContacts"))
                .collect()
        })
        .unwrap_or_default();

    let birthday = row
        .get("Birthday")
        .and_then(|text| read_date(text, "birthday", repairs));
    let websites: Vec<Website> = numbered(row, "Website")
        .into_iter()
        .flat_map(|n| {
            let (label, _) = label(row, "Website", n);
            let values = row.get(&format!("Website {n} - Value")).unwrap_or_default();
            rows::split_multi(values)
                .map(move |url| website(url, &label))
                .collect::<Vec<_>>()
        })
        .collect();
    let related: Vec<RelatedPerson> = numbered(row, "Relation")
        .into_iter()
        .flat_map(|n| {
            let (label, _) = label(row, "Relation", n);
            let values = row
                .get(&format!("Relation {n} - Value"))
                .unwrap_or_default();
            rows::split_multi(values)
                .map(move |name| related_person(name, &label))
                .collect::<Vec<_>>()
        })
        .collect();
    // Events: the one labelled "Anniversary" is the anniversary; others have no home yet.
    let anniversary = numbered(row, "Event").into_iter().find_map(|n| {
        let (label, _) = label(row, "Event", n);
        let value = row.get(&format!("Event {n} - Value"))?;
        label
            .eq_ignore_ascii_case("anniversary")
            .then(|| read_date(value, "anniversary", repairs))
            .flatten()
    });
    let photo = row
        .get("Photo")
        .filter(|p| p.starts_with("http://") || p.starts_with("https://"))
        .filter(|p| !p.contains(char::is_whitespace))
        .map(str::to_owned);

    let some = |names: &[&str]| row.owned(names).map(Some);
    let patch = ContactPatch {
        display_name: some(&["Name", "File As"]),
        prefix: some(&["Name Prefix"]),
        first_name: some(&["Given Name", "First Name"]),
        middle_name: some(&["Additional Name", "Middle Name"]),
        last_name: some(&["Family Name", "Last Name"]),
        suffix: some(&["Name Suffix"]),
        phonetic_first_name: some(&["Given Name Yomi", "Phonetic First Name"]),
        phonetic_middle_name: some(&["Additional Name Yomi", "Phonetic Middle Name"]),
        phonetic_last_name: some(&["Family Name Yomi", "Phonetic Last Name"]),
        nickname: some(&["Nickname"]),
        company: some(&["Organization 1 - Name", "Organization Name"]),
        department: some(&["Organization 1 - Department", "Organization Department"]),
        job_title: some(&["Organization 1 - Title", "Organization Title"]),
        note: some(&["Notes"]),
        avatar_url: photo.map(Some),
        emails: (!emails.is_empty()).then_some(emails),
        phones: (!phones.is_empty()).then_some(phones),
        addresses: (!addresses.is_empty()).then_some(addresses),
        categories: (!categories.is_empty()).then_some(categories),
        birthday: birthday.map(Some),
        anniversary: anniversary.map(Some),
        websites: (!websites.is_empty()).then_some(websites),
        related_people: (!related.is_empty()).then_some(related),
        ..ContactPatch::default()
    };
    patch.validate()?;
    Ok(PatchRecord {
        uid: row.uid(),
        patch,
        extras: Vec::new(),
        name_expected: row.has_column("Name"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::formats::Record;

    fn patches(text: &str) -> Vec<PatchRecord> {
        read(text)
            .unwrap()
            .into_iter()
            .map(|e| match e.record {
                Ok(Record::Patch(p)) => *p,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn older_google_csv() {
        let text = "Name,Given Name,Additional Name,Family Name,Name Prefix,Birthday,Notes,Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,Phone 1 - Type,Phone 1 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Organization 1 - Name,Organization 1 - Title\r\n\
            Ada Lovelace,Ada,,Lovelace,Countess,1815-12-10,Analyst,Friends ::: * myContacts,Home,ada@home.example ::: ada@old.example,* Work,ada@work.example,Mobile,+44 20 7946 0000,Home,,12 St James's Sq,London,,SW1Y 4JH,UK,Analytical Engines Ltd,Programmer\r\n";
        let rows = patches(text);
        let p = &rows[0].patch;
        assert_eq!(p.display_name, Some(Some("Ada Lovelace".into())));
        assert_eq!(p.prefix, Some(Some("Countess".into())));
        assert_eq!(p.company, Some(Some("Analytical Engines Ltd".into())));
        assert_eq!(p.categories, Some(vec!["Friends".into()]));
        let emails = p.emails.as_ref().unwrap();
        assert_eq!(emails.len(), 3);
        assert_eq!(emails[2].kind, EmailKind::Primary);
        assert_eq!(emails[0].kind, EmailKind::Alternate);
        assert_eq!(p.phones.as_ref().unwrap()[0].kind, PhoneKind::Mobile);
        let address = &p.addresses.as_ref().unwrap()[0];
        assert_eq!(address.kind, AddressKind::Home);
        assert_eq!(address.city.as_deref(), Some("London"));
        assert_eq!(p.birthday, Some(PartialDate::new(Some(1815), 12, 10).ok()));
        assert_eq!(
            emails[0].label.as_deref(),
            Some("Home"),
            "email labels are kept"
        );
        assert_eq!(emails[2].label.as_deref(), Some("Work"));
        assert_eq!(address.label, None, "Home is the kind, not a label");
        assert!(rows[0].name_expected);
    }
}
