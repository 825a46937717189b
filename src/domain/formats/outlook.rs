//! Outlook CSV, the column set Outlook (and Google's "Outlook CSV" export) writes: `First
//! Name,Middle Name,Last Name,Title,Suffix,...,E-mail Address,E-mail 2 Address,...,Business
//! Phone,Home Phone,Mobile Phone,...,Business Street,...,Categories,...`. Each kind of number or
//! address has its own fixed columns; categories are separated by `;`; a birthday of `0/0/00`
//! means none.

use super::google;
use super::rows::{self, Row};
use super::{Entry, FormatError, PatchRecord};
use crate::domain::contact::{
    Address, AddressKind, ContactPatch, Email, EmailKind, Phone, PhoneKind, RelatedPerson,
    RelationKind, Website, WebsiteKind,
};

/// Whether a header is Outlook's.
pub fn is_outlook_header(header: &rows::Header) -> bool {
    [
        "E-mail Address",
        "Business Phone",
        "Mobile Phone",
        "Home Street",
        "Business Street",
    ]
    .iter()
    .any(|c| header.has(c))
}

pub fn read(text: &str) -> Result<Vec<Entry>, FormatError> {
    rows::read_table(text, row)
}

const PHONES: [(&str, PhoneKind); 19] = [
    ("Mobile Phone", PhoneKind::Mobile),
    ("Business Phone", PhoneKind::Business),
    ("Business Phone 2", PhoneKind::Business),
    ("Company Main Phone", PhoneKind::Business),
    ("Home Phone", PhoneKind::Home),
    ("Home Phone 2", PhoneKind::Home),
    ("Business Fax", PhoneKind::Fax),
    ("Home Fax", PhoneKind::Fax),
    ("Other Fax", PhoneKind::Fax),
    ("Pager", PhoneKind::Pager),
    ("Primary Phone", PhoneKind::Other),
    ("Other Phone", PhoneKind::Other),
    ("Car Phone", PhoneKind::Other),
    ("Assistant's Phone", PhoneKind::Other),
    ("Callback", PhoneKind::Other),
    ("ISDN", PhoneKind::Other),
    ("Radio Phone", PhoneKind::Other),
    ("TTY/TDD Phone", PhoneKind::Other),
    ("Telex", PhoneKind::Other),
];

const ADDRESSES: [(&str, AddressKind); 3] = [
    ("Business", AddressKind::Business),
    ("Home", AddressKind::Home),
    ("Other", AddressKind::Other),
];

fn row(row: &Row<'_>, repairs: &mut Vec<String>) -> Result<PatchRecord, FormatError> {
    let mut emails = Vec::new();
    for column in ["E-mail Address", "E-mail 2 Address", "E-mail 3 Address"] {
        let Some(address) = row.get(column) else {
            continue;
        };
        // Exchange users export an X.500 name instead of an address.
        if !address.contains('@') {
            repairs.push(format!(
                "ignored {column} {address:?}: not an email address"
            ));
            continue;
        }
        emails.push(Email {
            label: None,
            kind: if emails.is_empty() {
                EmailKind::Primary
            } else {
                EmailKind::Alternate
            },
            address: address.to_owned(),
        });
    }
    let mut phones = Vec::new();
    for (column, kind) in PHONES {
        if let Some(number) = row.get(column) {
            // Outlook repeats the primary number in "Primary Phone"; keep it once.
            if phones
                .iter()
                .any(|p: &Phone| p.number == number && kind == PhoneKind::Other)
            {
                continue;
            }
            phones.push(Phone {
                label: None,
                kind,
                number: number.to_owned(),
                normalized: None,
            });
        }
    }
    let mut addresses = Vec::new();
    for (prefix, kind) in ADDRESSES {
        let part = |suffix: &str| row.owned(&[&format!("{prefix} {suffix}")]);
        let mut street: Vec<String> = ["Street", "Street 2", "Street 3"]
            .iter()
            .filter_map(|s| part(s))
            .collect();
        if let Some(po_box) = part("Address PO Box") {
            street.push(format!("PO Box {po_box}"));
        }
        let address = Address {
            label: None,
            kind,
            street: (!street.is_empty()).then(|| street.join("\n")),
            city: part("City"),
            state: part("State"),
            zip: part("Postal Code"),
            country: row.owned(&[
                &format!("{prefix} Country/Region"),
                &format!("{prefix} Country"),
            ]),
        };
        if address
            != (Address {
                kind,
                ..Address::default()
            })
        {
            addresses.push(address);
        }
    }
    let categories: Vec<String> = row
        .get("Categories")
        .map(|c| {
            c.split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Outlook writes 0/0/00 for "no date".
    let date = |column: &str, what: &str, repairs: &mut Vec<String>| {
        row.get(column)
            .filter(|d| *d != "0/0/00")
            .and_then(|d| google::read_date(d, what, repairs))
    };
    let birthday = date("Birthday", "birthday", repairs);
    let anniversary = date("Anniversary", "anniversary", repairs);
    let websites: Vec<Website> = [
        ("Web Page", WebsiteKind::Work),
        ("Personal Web Page", WebsiteKind::Home),
    ]
    .into_iter()
    .filter_map(|(column, kind)| {
        row.get(column).map(|url| Website {
            kind,
            url: url.to_owned(),
            label: None,
        })
    })
    .collect();
    // Outlook's "Children" cell holds every child, separated by commas or semicolons.
    let related: Vec<RelatedPerson> = [
        ("Spouse", RelationKind::Spouse),
        ("Manager's Name", RelationKind::Manager),
        ("Assistant's Name", RelationKind::Assistant),
        ("Children", RelationKind::Child),
    ]
    .into_iter()
    .filter_map(|(column, kind)| row.get(column).map(|names| (names, kind)))
    .flat_map(|(names, kind)| {
        names
            .split([',', ';'])
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(move |name| RelatedPerson {
                kind,
                name: name.to_owned(),
                label: None,
            })
    })
    .collect();

    let some = |names: &[&str]| row.owned(names).map(Some);
    let patch = ContactPatch {
        prefix: some(&["Title"]),
        first_name: some(&["First Name"]),
        middle_name: some(&["Middle Name"]),
        last_name: some(&["Last Name"]),
        suffix: some(&["Suffix"]),
        phonetic_first_name: some(&["Given Yomi"]),
        phonetic_last_name: some(&["Surname Yomi"]),
        nickname: some(&["Nickname"]),
        company: some(&["Company"]),
        department: some(&["Department"]),
        job_title: some(&["Job Title"]),
        note: some(&["Notes"]),
        emails: (!emails.is_empty()).then_some(emails),
        birthday: birthday.map(Some),
        anniversary: anniversary.map(Some),
        websites: (!websites.is_empty()).then_some(websites),
        related_people: (!related.is_empty()).then_some(related),
        phones: (!phones.is_empty()).then_some(phones),
        addresses: (!addresses.is_empty()).then_some(addresses),
        categories: (!categories.is_empty()).then_some(categories),
        ..ContactPatch::default()
    };
    patch.validate()?;
    Ok(PatchRecord {
        uid: row.uid(),
        patch,
        extras: Vec::new(),
        name_expected: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::formats::Record;

    #[test]
    fn outlook_row() {
        let text = "First Name,Middle Name,Last Name,Title,Suffix,Company,Department,Job Title,Business Street,Business Street 2,Business City,Business State,Business Postal Code,Business Country/Region,Business Phone,Home Phone,Mobile Phone,Primary Phone,E-mail Address,E-mail Type,E-mail 2 Address,Birthday,Categories,Notes,Web Page\r\n\
            Grace,Brewster,Hopper,Rear Admiral,,US Navy,Computing,Director,1 Navy Way,Bldg 4,Arlington,VA,22202,United States of America,+1 703 555 0100,,+1 703 555 0199,+1 703 555 0100,grace@navy.example,SMTP,/o=ExchangeLabs/ou=Exchange,12/9/1906,Navy;Pioneers,\"Found a moth, once.\",https://navy.example/grace\r\n\
            ,,,,,,,,,,,,,,,,,,,,,0/0/00,,,\r\n";
        let entries = read(text).unwrap();
        assert_eq!(entries.len(), 1, "the empty row is no entry");
        let Ok(Record::Patch(record)) = &entries[0].record else {
            panic!("{:?}", entries[0].record)
        };
        let p = &record.patch;
        assert_eq!(p.prefix, Some(Some("Rear Admiral".into())));
        assert_eq!(p.last_name, Some(Some("Hopper".into())));
        assert_eq!(p.note, Some(Some("Found a moth, once.".into())));
        let phones = p.phones.as_ref().unwrap();
        assert_eq!(phones.len(), 2, "{phones:?}");
        assert_eq!(phones[0].kind, PhoneKind::Mobile);
        assert_eq!(p.emails.as_ref().unwrap().len(), 1);
        assert_eq!(entries[0].repairs.len(), 1);
        let address = &p.addresses.as_ref().unwrap()[0];
        assert_eq!(address.street.as_deref(), Some("1 Navy Way\nBldg 4"));
        assert_eq!(address.country.as_deref(), Some("United States of America"));
        assert_eq!(p.categories, Some(vec!["Navy".into(), "Pioneers".into()]));
        assert_eq!(
            p.birthday,
            Some(crate::domain::contact::PartialDate::new(Some(1906), 12, 9).ok())
        );
        let websites = p.websites.as_ref().unwrap();
        assert_eq!(websites[0].url, "https://navy.example/grace");
        assert_eq!(websites[0].kind, WebsiteKind::Work);
    }
}
