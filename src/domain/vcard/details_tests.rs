//! Tests of the details mapping (`details`): cards as Apple Contacts, DAVx5, Evolution and
//! RFC 6350 write them, and patches that must read back as they were written in both versions.

use super::*;
use crate::domain::contact::{
    ContactPatch, Email, EmailKind, PartialDate, Phone, PhoneKind, RelatedPerson, RelationKind,
    Website, WebsiteKind,
};

fn date(year: Option<u16>, month: u8, day: u8) -> PartialDate {
    PartialDate::new(year, month, day).unwrap()
}

fn person(kind: RelationKind, name: &str, label: Option<&str>) -> RelatedPerson {
    RelatedPerson {
        kind,
        name: name.into(),
        label: label.map(Into::into),
    }
}

const APPLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:apple-1\r\nFN:Ann Smith\r\nN:Smith;Ann;;;\r\n\
item1.EMAIL;type=INTERNET;type=pref:ann@uni.example\r\nitem1.X-ABLabel:University\r\n\
item2.EMAIL;type=INTERNET:ann@example.org\r\nitem2.X-ABLabel:_$!<Other>!$_\r\n\
item3.TEL:+1 415 555 0100\r\nitem3.X-ABLabel:Boat\r\n\
BDAY;X-APPLE-OMIT-YEAR=1604;value=date:1604-04-12\r\n\
item4.X-ABDATE;type=pref:2004-06-12\r\nitem4.X-ABLabel:_$!<Anniversary>!$_\r\n\
item5.URL;type=pref:https://ann.example\r\nitem5.X-ABLabel:_$!<HomePage>!$_\r\n\
URL;type=WORK:https://work.example/ann\r\n\
item6.X-ABRELATEDNAMES;type=pref:Bob Smith\r\nitem6.X-ABLabel:_$!<Spouse>!$_\r\n\
item7.X-ABRELATEDNAMES:Carol\r\nitem7.X-ABLabel:Godmother\r\n\
X-SOCIALPROFILE;type=twitter:https://twitter.com/ann\r\nEND:VCARD\r\n";

#[test]
fn apple_details_and_labels_are_read() {
    let fields = parse_one(APPLE).unwrap().extract();
    let details = &fields.details;
    assert_eq!(details.birthday, Some(date(None, 4, 12)));
    assert_eq!(details.anniversary, Some(date(Some(2004), 6, 12)));
    assert_eq!(
        details.websites,
        vec![
            Website {
                kind: WebsiteKind::Other,
                url: "https://ann.example".into(),
                label: Some("HomePage".into()),
            },
            Website {
                kind: WebsiteKind::Work,
                url: "https://work.example/ann".into(),
                label: None,
            },
        ]
    );
    assert_eq!(
        details.related_people,
        vec![
            person(RelationKind::Spouse, "Bob Smith", None),
            person(RelationKind::Other, "Carol", Some("Godmother")),
        ]
    );
    assert_eq!(fields.emails[0].label.as_deref(), Some("University"));
    assert_eq!(
        fields.emails[1].label, None,
        "Apple's built-in Other is no label"
    );
    assert_eq!(fields.phones[0].label.as_deref(), Some("Boat"));
}

#[test]
fn rfc_6350_and_other_clients_details_are_read() {
    let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:v4\r\nFN:Ann\r\nBDAY:--0412\r\n\
        ANNIVERSARY:20040612\r\nRELATED;TYPE=child;VALUE=text:Tom\r\n\
        RELATED;TYPE=co-worker:urn:uuid:0b6a\r\nURL;TYPE=home:https://ann.example\r\nEND:VCARD\r\n";
    let details = parse_one(v4).unwrap().extract().details;
    assert_eq!(details.birthday, Some(date(None, 4, 12)));
    assert_eq!(details.anniversary, Some(date(Some(2004), 6, 12)));
    assert_eq!(details.websites[0].kind, WebsiteKind::Home);
    assert_eq!(
        details.related_people,
        vec![
            person(RelationKind::Child, "Tom", None),
            person(RelationKind::Colleague, "urn:uuid:0b6a", None),
        ]
    );

    let evolution = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:evo\r\nFN:Ann\r\n\
        X-EVOLUTION-SPOUSE:Bob\r\nX-EVOLUTION-ASSISTANT:Dee\r\nX-ANNIVERSARY:2004-06-12\r\n\
        BDAY:1990-04-12T00:00:00Z\r\nEND:VCARD\r\n";
    let details = parse_one(evolution).unwrap().extract().details;
    assert_eq!(details.birthday, Some(date(Some(1990), 4, 12)));
    assert_eq!(details.anniversary, Some(date(Some(2004), 6, 12)));
    assert_eq!(
        details.related_people,
        vec![
            person(RelationKind::Spouse, "Bob", None),
            person(RelationKind::Assistant, "Dee", None),
        ]
    );
}

fn everything() -> ContactPatch {
    ContactPatch {
        birthday: Some(Some(date(None, 2, 29))),
        anniversary: Some(Some(date(Some(2010), 9, 1))),
        websites: Some(vec![
            Website {
                kind: WebsiteKind::Work,
                url: "https://work.example".into(),
                label: None,
            },
            Website {
                kind: WebsiteKind::Other,
                url: "https://blog.example".into(),
                label: Some("Blog".into()),
            },
        ]),
        related_people: Some(vec![
            person(RelationKind::Spouse, "Bob", None),
            person(RelationKind::Mother, "Eve", None),
            person(RelationKind::Assistant, "Dee", None),
            person(RelationKind::Other, "Carol", Some("Godmother")),
        ]),
        emails: Some(vec![Email {
            kind: EmailKind::Primary,
            address: "ann@uni.example".into(),
            label: Some("University".into()),
        }]),
        phones: Some(vec![Phone {
            kind: PhoneKind::Other,
            number: "+1 415 555 0100".into(),
            normalized: None,
            label: Some("Boat".into()),
        }]),
        ..ContactPatch::default()
    }
}

#[test]
fn patched_details_read_back_in_both_versions_and_after_conversion() {
    for version in [RenderVersion::V3, RenderVersion::V4] {
        let mut card = Card::new(version, "u-1");
        let patch = everything();
        assert!(card.apply_patch(&patch));
        let text = card.render(version);
        let check = |card: &Card, how: &str| {
            let fields = card.extract();
            assert_eq!(
                Some(fields.details.birthday),
                patch.birthday,
                "{how}\n{text}"
            );
            assert_eq!(Some(fields.details.anniversary), patch.anniversary, "{how}");
            assert_eq!(
                Some(&fields.details.websites),
                patch.websites.as_ref(),
                "{how}"
            );
            assert_eq!(
                Some(&fields.details.related_people),
                patch.related_people.as_ref(),
                "{how}\n{text}"
            );
            assert_eq!(
                fields.emails[0].label.as_deref(),
                Some("University"),
                "{how}"
            );
            assert_eq!(fields.phones[0].label.as_deref(), Some("Boat"), "{how}");
        };
        check(&card, "patched");
        let reread = parse_one(&text).unwrap();
        check(&reread, "re-read");
        let other = match version {
            RenderVersion::V3 => RenderVersion::V4,
            RenderVersion::V4 => RenderVersion::V3,
        };
        check(&parse_one(&reread.render(other)).unwrap(), "converted");
        // The same values again change nothing.
        let mut again = reread.clone();
        assert!(!again.apply_patch(&patch), "{text}");
    }
}

#[test]
fn apple_forms_are_written_to_3_0_cards() {
    let mut card = parse_one(APPLE).unwrap();
    card.apply_patch(&ContactPatch {
        birthday: Some(Some(date(None, 5, 1))),
        anniversary: Some(Some(date(None, 6, 2))),
        related_people: Some(vec![person(RelationKind::Assistant, "Dee", None)]),
        ..ContactPatch::default()
    });
    let text = card.render(RenderVersion::V3);
    assert!(text.contains("BDAY;X-APPLE-OMIT-YEAR=1604"), "{text}");
    assert!(text.contains("1604-05-01"), "{text}");
    assert!(
        text.contains(".X-ABDATE;X-APPLE-OMIT-YEAR=1604:1604-06-02"),
        "{text}"
    );
    assert!(text.contains(".X-ABLabel:_$!<Anniversary>!$_"), "{text}");
    // The first related person's property is reused (group and parameters kept).
    assert!(
        text.contains("item6.X-ABRELATEDNAMES;TYPE=pref:Dee"),
        "{text}"
    );
    assert!(text.contains(".X-ABLabel:_$!<Assistant>!$_"), "{text}");
    assert!(
        !text.contains("Godmother"),
        "old relations are replaced: {text}"
    );
    // What the patch did not name is untouched, labels and unknown properties included.
    assert!(text.contains("item1.X-ABLabel:University"), "{text}");
    assert!(text.contains("X-SOCIALPROFILE"), "{text}");
    assert!(text.contains("https://ann.example"), "{text}");
}

#[test]
fn clearing_details_removes_their_properties_and_helpers() {
    let mut card = parse_one(APPLE).unwrap();
    card.apply_patch(&ContactPatch {
        birthday: Some(None),
        anniversary: Some(None),
        websites: Some(Vec::new()),
        related_people: Some(Vec::new()),
        ..ContactPatch::default()
    });
    let text = card.render(RenderVersion::V3);
    for gone in [
        "BDAY",
        "X-ABDATE",
        "Anniversary",
        "URL",
        "X-ABRELATEDNAMES",
        "HomePage",
    ] {
        assert!(!text.contains(gone), "{gone} left in\n{text}");
    }
    assert!(text.contains("item1.X-ABLabel:University"), "{text}");
    assert_eq!(card.extract().details, Default::default());
}

#[test]
fn relabelling_keeps_the_value_and_its_group() {
    let mut card = parse_one(APPLE).unwrap();
    let mut emails = card.extract().emails;
    emails[0].label = Some("Alumni".into());
    emails[1].label = Some("Personal".into());
    assert!(card.apply_patch(&ContactPatch {
        emails: Some(emails.clone()),
        ..ContactPatch::default()
    }));
    let text = card.render(RenderVersion::V3);
    assert!(text.contains("item1.EMAIL;"), "{text}");
    assert!(text.contains("item1.X-ABLabel:Alumni"), "{text}");
    assert!(text.contains("item2.X-ABLabel:Personal"), "{text}");
    assert_eq!(card.extract().emails, emails);
}

mod fuzz {
    //! Property tests of the details mapping: any details and labels a patch sets read back
    //! the same from the card, its re-parsed text and its conversion to the other version; date
    //! parsing never panics and reads back what it prints.

    use proptest::prelude::*;

    use super::*;
    use crate::domain::contact::ContactDetails;

    /// Text that is not blank and is no relation word or "Other" (those read back as kinds).
    fn free_text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9 ,;:.é€-]{0,12}".prop_map(|t| format!("L{}", t.trim_end()))
    }

    fn label() -> impl Strategy<Value = Option<String>> {
        prop::option::of(free_text())
    }

    fn date() -> impl Strategy<Value = PartialDate> {
        (prop::option::of(1u16..=9999), 1u8..=12, 1u8..=28)
            .prop_map(|(year, month, day)| PartialDate::new(year, month, day).unwrap())
    }

    fn website() -> impl Strategy<Value = Website> {
        (
            prop::sample::select(vec![
                WebsiteKind::Home,
                WebsiteKind::Work,
                WebsiteKind::Other,
            ]),
            "[a-z0-9]{1,8}",
            label(),
        )
            .prop_map(|(kind, host, label)| Website {
                kind,
                url: format!("https://{host}.example/p,q;r"),
                label,
            })
    }

    fn related() -> impl Strategy<Value = RelatedPerson> {
        (
            prop::sample::select(RelationKind::ALL.to_vec()),
            free_text(),
            label(),
        )
            .prop_map(|(kind, name, label)| RelatedPerson { kind, name, label })
    }

    fn patch() -> impl Strategy<Value = ContactPatch> {
        (
            prop::option::of(date()),
            prop::option::of(date()),
            prop::collection::vec(website(), 0..4),
            prop::collection::vec(related(), 0..4),
            prop::collection::vec(label(), 0..4),
        )
            .prop_map(|(birthday, anniversary, websites, related, email_labels)| {
                let emails = email_labels
                    .into_iter()
                    .enumerate()
                    .map(|(i, label)| Email {
                        kind: if i == 0 {
                            EmailKind::Primary
                        } else {
                            EmailKind::Alternate
                        },
                        address: format!("a{i}@example.org"),
                        label,
                    })
                    .collect();
                ContactPatch {
                    birthday: Some(birthday),
                    anniversary: Some(anniversary),
                    websites: Some(websites),
                    related_people: Some(related),
                    emails: Some(emails),
                    ..ContactPatch::default()
                }
            })
    }

    fn expected(patch: &ContactPatch) -> (ContactDetails, Vec<Option<String>>) {
        // A related person of a listed kind with no label of its own reads back as that kind.
        let details = ContactDetails {
            birthday: patch.birthday.flatten(),
            anniversary: patch.anniversary.flatten(),
            websites: patch.websites.clone().unwrap_or_default(),
            related_people: patch.related_people.clone().unwrap_or_default(),
        };
        let labels = (patch.emails.iter().flatten())
            .map(|e| e.label.clone())
            .collect();
        (details, labels)
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config())]

        #[test]
        fn fuzz_details_read_back(patch in patch(), start in prop::sample::select(vec![0usize, 1, 2])) {
            let mut card = match start {
                0 => Card::new(RenderVersion::V3, "u"),
                1 => Card::new(RenderVersion::V4, "u"),
                _ => parse_one(APPLE).unwrap(),
            };
            card.apply_patch(&patch);
            let want = expected(&patch);
            let read = |card: &Card| {
                let fields = card.extract();
                (fields.details, fields.emails.into_iter().map(|e| e.label).collect::<Vec<_>>())
            };
            prop_assert_eq!(&read(&card), &want);
            let version = if card.version() == CardVersion::V4 { RenderVersion::V4 } else { RenderVersion::V3 };
            let text = card.render(version);
            let reread = parse_one(&text).unwrap();
            prop_assert_eq!(&read(&reread), &want, "{}", text);
            for other in [RenderVersion::V3, RenderVersion::V4] {
                let converted = reread.render(other);
                prop_assert_eq!(&read(&parse_one(&converted).unwrap()), &want, "{}", converted);
            }
            // The same values again change nothing.
            let mut again = reread.clone();
            prop_assert!(!again.apply_patch(&patch), "{}", text);
        }

        #[test]
        fn fuzz_date_parse(text in ".{0,24}", date in date()) {
            let _ = PartialDate::parse(&text);
            prop_assert_eq!(PartialDate::parse(&date.to_string()), Ok(date));
        }
    }
}
