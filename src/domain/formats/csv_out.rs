//! Rolodex's CSV export: Google Contacts' current column set (`First Name,...,Labels,E-mail 1 -
//! Label,E-mail 1 - Value,...`, as many numbered groups as the contacts need) plus a trailing
//! `UID` column, because that is what Google Contacts and most other tools import, and the UID
//! makes re-importing the file update the same cards. Groups travel as labels.
//!
//! Google's format has one label per email, phone, address or website: a free label (Apple's
//! custom ones, Google's own) is written there, else the word for the value's kind; reading it
//! back, a label that names a kind sets the kind ("Work Fax"), any other is kept as the label.
//! Related people are `Relation N - Label/Value`; the anniversary is the event labelled
//! "Anniversary".

use super::csv::write_record;
use super::rows::UID_COLUMN;
use crate::domain::contact::{
    Address, AddressKind, ContactFields, EmailKind, PhoneKind, WebsiteKind,
};

/// One contact to export as a Google CSV row.
#[derive(Debug, Clone)]
pub struct CsvContact<'a> {
    pub uid: &'a str,
    pub fields: &'a ContactFields,
    /// CATEGORIES plus the names of the groups the contact is a member of.
    pub labels: Vec<String>,
}

const NAME_COLUMNS: [&str; 17] = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Phonetic First Name",
    "Phonetic Middle Name",
    "Phonetic Last Name",
    "Name Prefix",
    "Name Suffix",
    "Nickname",
    "File As",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Birthday",
    "Notes",
    "Photo",
    "Labels",
];

const ADDRESS_PARTS: [&str; 9] = [
    "Label",
    "Formatted",
    "Street",
    "City",
    "PO Box",
    "Region",
    "Postal Code",
    "Country",
    "Extended Address",
];

fn phone_label(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Home => "Home",
        PhoneKind::Business => "Work",
        PhoneKind::Mobile => "Mobile",
        PhoneKind::Fax => "Work Fax",
        PhoneKind::Pager => "Pager",
        PhoneKind::Other => "Other",
    }
}

fn formatted(address: &Address) -> String {
    let locality: Vec<&str> = [&address.city, &address.state, &address.zip]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    [
        address.street.clone(),
        (!locality.is_empty()).then(|| locality.join(" ")),
        address.country.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

/// The contacts as a Google Contacts CSV (current column set) with a trailing `UID` column.
pub fn write(contacts: &[CsvContact<'_>]) -> String {
    let mut columns = CsvColumns::default();
    for contact in contacts {
        columns.widen(contact.fields);
    }
    let mut out = String::new();
    columns.write_header(&mut out);
    for contact in contacts {
        columns.write_row(&mut out, contact);
    }
    out
}

/// How many numbered column groups a CSV export has: as many as its fullest contact needs,
/// at least one of each. An export streamed a page at a time learns them in a first pass
/// ([`CsvColumns::widen`] for every contact), then writes the header and the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvColumns {
    emails: usize,
    phones: usize,
    addresses: usize,
    websites: usize,
    relations: usize,
}

impl CsvColumns {
    /// Makes room for `fields`.
    pub fn widen(&mut self, fields: &ContactFields) {
        self.emails = self.emails.max(fields.emails.len());
        self.phones = self.phones.max(fields.phones.len());
        self.addresses = self.addresses.max(fields.addresses.len());
        self.websites = self.websites.max(fields.details.websites.len());
        self.relations = self.relations.max(fields.details.related_people.len());
    }

    /// The numbered groups actually written: at least one of each.
    fn at_least_one(self) -> CsvColumns {
        CsvColumns {
            emails: self.emails.max(1),
            phones: self.phones.max(1),
            addresses: self.addresses.max(1),
            websites: self.websites.max(1),
            relations: self.relations.max(1),
        }
    }

    /// The header line.
    pub fn write_header(&self, out: &mut String) {
        let CsvColumns {
            emails,
            phones,
            addresses,
            websites,
            relations,
        } = self.at_least_one();
        let mut header: Vec<String> = NAME_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        for n in 1..=emails {
            header.push(format!("E-mail {n} - Label"));
            header.push(format!("E-mail {n} - Value"));
        }
        for n in 1..=phones {
            header.push(format!("Phone {n} - Label"));
            header.push(format!("Phone {n} - Value"));
        }
        for n in 1..=addresses {
            for part in ADDRESS_PARTS {
                header.push(format!("Address {n} - {part}"));
            }
        }
        for n in 1..=websites {
            header.push(format!("Website {n} - Label"));
            header.push(format!("Website {n} - Value"));
        }
        for n in 1..=relations {
            header.push(format!("Relation {n} - Label"));
            header.push(format!("Relation {n} - Value"));
        }
        header.push("Event 1 - Label".to_owned());
        header.push("Event 1 - Value".to_owned());
        header.push(UID_COLUMN.to_owned());
        write_record(out, &header);
    }

    /// One contact's line.
    pub fn write_row(&self, out: &mut String, contact: &CsvContact<'_>) {
        let CsvColumns {
            emails,
            phones,
            addresses,
            websites,
            relations,
        } = self.at_least_one();
        let f = contact.fields;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut row: Vec<String> = vec![
            text(&f.first_name),
            text(&f.middle_name),
            text(&f.last_name),
            text(&f.phonetic_first_name),
            text(&f.phonetic_middle_name),
            text(&f.phonetic_last_name),
            text(&f.prefix),
            text(&f.suffix),
            text(&f.nickname),
            text(&f.display_name),
            text(&f.company),
            text(&f.job_title),
            text(&f.department),
            f.details
                .birthday
                .map(|b| b.to_string())
                .unwrap_or_default(),
            text(&f.note),
            text(&f.avatar_url),
            contact.labels.join(" ::: "),
        ];
        for n in 0..emails {
            match f.emails.get(n) {
                Some(email) => {
                    let label = email.label.as_deref().unwrap_or("Other");
                    let primary = email.kind == EmailKind::Primary;
                    row.push(if primary {
                        format!("* {label}")
                    } else {
                        label.to_owned()
                    });
                    row.push(email.address.clone());
                }
                None => row.extend([String::new(), String::new()]),
            }
        }
        for n in 0..phones {
            match f.phones.get(n) {
                Some(phone) => {
                    let label = phone.label.as_deref().unwrap_or(phone_label(phone.kind));
                    row.push(label.to_owned());
                    row.push(phone.number.clone());
                }
                None => row.extend([String::new(), String::new()]),
            }
        }
        for n in 0..addresses {
            match f.addresses.get(n) {
                Some(a) => {
                    let label = a.label.as_deref().unwrap_or(match a.kind {
                        AddressKind::Home => "Home",
                        AddressKind::Business => "Work",
                        AddressKind::Other => "Other",
                    });
                    row.extend([
                        label.to_owned(),
                        formatted(a),
                        text(&a.street),
                        text(&a.city),
                        String::new(),
                        text(&a.state),
                        text(&a.zip),
                        text(&a.country),
                        String::new(),
                    ]);
                }
                None => row.extend(std::iter::repeat_n(String::new(), ADDRESS_PARTS.len())),
            }
        }
        for n in 0..websites {
            match f.details.websites.get(n) {
                Some(site) => {
                    let label = site.label.as_deref().unwrap_or(match site.kind {
                        WebsiteKind::Home => "Home",
                        WebsiteKind::Work => "Work",
                        WebsiteKind::Other => "Other",
                    });
                    row.extend([label.to_owned(), site.url.clone()]);
                }
                None => row.extend([String::new(), String::new()]),
            }
        }
        for n in 0..relations {
            match f.details.related_people.get(n) {
                Some(person) => {
                    let label = person.label.as_deref().unwrap_or(person.kind.word());
                    row.extend([label.to_owned(), person.name.clone()]);
                }
                None => row.extend([String::new(), String::new()]),
            }
        }
        match f.details.anniversary {
            Some(date) => row.extend(["Anniversary".to_owned(), date.to_string()]),
            None => row.extend([String::new(), String::new()]),
        }
        row.push(contact.uid.to_owned());
        write_record(out, &row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::{
        ContactDetails, Email, PartialDate, Phone, RelatedPerson, RelationKind, Website,
    };
    use crate::domain::formats::{PatchRecord, Record, google, rows};

    fn patches(text: &str) -> Vec<PatchRecord> {
        google::read(text)
            .unwrap()
            .into_iter()
            .map(|e| match e.record {
                Ok(Record::Patch(p)) => *p,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn export_reads_back() {
        let mut fields = ContactFields {
            display_name: Some("Dr. Ada Lovelace".into()),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            note: Some("line one\nline \"two\", too".into()),
            ..ContactFields::default()
        };
        fields.emails.push(Email {
            kind: EmailKind::Primary,
            address: "ada@example.org".into(),
            label: Some("Analytical".into()),
        });
        fields.emails.push(Email {
            kind: EmailKind::Alternate,
            address: "ada@old.example".into(),
            label: None,
        });
        fields.phones.push(Phone {
            kind: PhoneKind::Fax,
            number: "+1 555 0100".into(),
            normalized: None,
            label: None,
        });
        fields.phones.push(Phone {
            kind: PhoneKind::Other,
            number: "+1 555 0199".into(),
            normalized: None,
            label: Some("Boat".into()),
        });
        fields.addresses.push(Address {
            kind: AddressKind::Business,
            street: Some("1 Main St\nSuite 2".into()),
            city: Some("Springfield".into()),
            ..Address::default()
        });
        // Google's CSV has one label per value: a free label stands in for the kind word.
        fields.addresses.push(Address {
            kind: AddressKind::Other,
            city: Some("Cambridge".into()),
            label: Some("Lab".into()),
            ..Address::default()
        });
        fields.details = ContactDetails {
            birthday: PartialDate::new(Some(1815), 12, 10).ok(),
            anniversary: PartialDate::new(None, 7, 8).ok(),
            websites: vec![
                Website {
                    kind: WebsiteKind::Work,
                    url: "https://ada.example".into(),
                    label: None,
                },
                Website {
                    kind: WebsiteKind::Other,
                    url: "https://notes.example".into(),
                    label: Some("Notes".into()),
                },
            ],
            related_people: vec![
                RelatedPerson {
                    kind: RelationKind::Spouse,
                    name: "William King".into(),
                    label: None,
                },
                RelatedPerson {
                    kind: RelationKind::Other,
                    name: "Mary Somerville".into(),
                    label: Some("Tutor".into()),
                },
            ],
        };
        let text = write(&[CsvContact {
            uid: "u-1",
            fields: &fields,
            labels: vec!["Friends".into(), "Work".into()],
        }]);
        assert!(google::is_google_header(&rows::Header::new(
            &rows::header_of(&text).unwrap()
        )));
        let rows = patches(&text);
        let p = &rows[0];
        assert_eq!(p.uid, "u-1");
        assert_eq!(p.patch.display_name, Some(fields.display_name.clone()));
        assert_eq!(p.patch.note, Some(fields.note.clone()));
        assert_eq!(p.patch.emails, Some(fields.emails.clone()));
        assert_eq!(p.patch.phones, Some(fields.phones.clone()));
        assert_eq!(p.patch.addresses, Some(fields.addresses.clone()));
        assert_eq!(
            p.patch.categories,
            Some(vec!["Friends".into(), "Work".into()])
        );
        assert_eq!(p.patch.birthday, Some(fields.details.birthday));
        assert_eq!(p.patch.anniversary, Some(fields.details.anniversary));
        assert_eq!(p.patch.websites, Some(fields.details.websites.clone()));
        assert_eq!(
            p.patch.related_people,
            Some(fields.details.related_people.clone())
        );
        assert!(p.extras.is_empty(), "{:?}", p.extras);
    }
}
