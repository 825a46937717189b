//! Import and export against a real PostgreSQL, with files as the products write them
//! (tests/fixtures/import/): an Apple Contacts export with a group and photos, Google Contacts
//! CSV (both column sets), an Outlook CSV in Windows-1252, an Android vCard 2.1 export, a Drop
//! contacts JSON with module data and a deleted entry, and a file with broken cards among good
//! ones. Counts and fields are checked after import; re-importing changes nothing; export ->
//! import into an empty book -> export gives the same bytes in every format; the batched write
//! keeps the single-write invariants; the CLI and GraphQL run the same code path.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rolodex::domain::contact::{AddressKind, EmailKind, PhoneKind};
use rolodex::domain::formats::derived_uid;
use rolodex::domain::vcard::CardVersion;
use rolodex::domain::{etag, vcard};
use rolodex::store::{
    ContactListQuery, ContactRecord, ExportFormat, ImportAction, ImportOptions, Principal, Store,
};
use rolodex::transfer::{self, Summary};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

struct Book {
    store: Store,
    user: Principal,
    id: i64,
}

impl Book {
    async fn new(prefix: &str) -> Book {
        let store = common::store().await;
        let user = common::user(&store, prefix).await;
        let id = common::default_book(&store, &user).await;
        Book { store, user, id }
    }

    /// Imports files through the CLI's code path; returns the totals and the report.
    async fn import_with(&self, paths: &[PathBuf], options: &ImportOptions) -> (Summary, String) {
        let mut out: Vec<u8> = Vec::new();
        let summary =
            transfer::import_paths(&self.store, &self.user, self.id, paths, options, &mut out)
                .await
                .expect("import");
        (summary, String::from_utf8(out).expect("utf-8 report"))
    }

    async fn import(&self, names: &[&str]) -> (Summary, String) {
        let paths: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
        self.import_with(&paths, &ImportOptions::default()).await
    }

    /// Importing again adds, updates and writes nothing.
    async fn assert_reimport_unchanged(&self, names: &[&str]) {
        let before = self.revision().await;
        let live = self.live().await.len();
        let (summary, _) = self.import(names).await;
        assert_eq!(
            (summary.added, summary.updated),
            (0, 0),
            "re-import changed something: {summary:?}"
        );
        assert_eq!(
            self.revision().await,
            before,
            "re-import bumped the revision"
        );
        assert_eq!(self.live().await.len(), live);
    }

    async fn revision(&self) -> i64 {
        self.store
            .get_address_book(&self.user, self.id)
            .await
            .expect("book")
            .revision
    }

    async fn live(&self) -> Vec<ContactRecord> {
        let mut all = Vec::new();
        let mut after_id = None;
        loop {
            let page = self
                .store
                .list_contacts(
                    &self.user,
                    &ContactListQuery {
                        address_book_id: Some(self.id),
                        after_id,
                        limit: 1000,
                        ..ContactListQuery::default()
                    },
                )
                .await
                .expect("list");
            after_id = page.items.last().map(|r| r.id);
            all.extend(page.items);
            if !page.has_more {
                return all;
            }
        }
    }

    async fn named(&self, name: &str) -> ContactRecord {
        let live = self.live().await;
        live.iter()
            .find(|r| r.fields.display_name.as_deref() == Some(name))
            .cloned()
            .unwrap_or_else(|| {
                let names: Vec<_> = live.iter().map(|r| r.fields.display_name.clone()).collect();
                panic!("no contact named {name:?} among {names:?}")
            })
    }

    async fn export(&self, format: ExportFormat) -> String {
        self.store
            .export_contacts(&self.user, self.id, format, usize::MAX)
            .await
            .expect("export")
            .expect("no limit")
    }
}

/// Values of a property of the stored card.
fn prop(record: &ContactRecord, name: &str) -> Vec<String> {
    vcard::parse_one(&record.vcard)
        .expect("stored card parses")
        .properties()
        .into_iter()
        .filter(|p| p.name == name)
        .map(|p| p.value)
        .collect()
}

fn digits(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

fn emails(record: &ContactRecord) -> Vec<(EmailKind, &str)> {
    record
        .fields
        .emails
        .iter()
        .map(|e| (e.kind, e.address.as_str()))
        .collect()
}

fn phones(record: &ContactRecord) -> Vec<(PhoneKind, &str)> {
    record
        .fields
        .phones
        .iter()
        .map(|p| (p.kind, p.number.as_str()))
        .collect()
}

fn some(value: &str) -> Option<String> {
    Some(value.to_owned())
}

#[tokio::test]
async fn apple_contacts_export_with_a_group_and_photos() {
    let book = Book::new("apple").await;
    let (summary, report) = book.import(&["apple-contacts.vcf"]).await;
    assert_eq!(
        summary,
        Summary {
            added: 4,
            ..Summary::default()
        },
        "{report}"
    );

    let picard = book.named("Captain Jean-Luc Elliott Picard").await;
    let f = &picard.fields;
    assert_eq!(picard.uid, "6F9A3C1E-2B4D-4E8F-9A1B-3C5D7E9F1A2B");
    assert_eq!(picard.vcard_version, CardVersion::V3);
    assert_eq!(
        (&f.prefix, &f.first_name, &f.middle_name, &f.last_name),
        (
            &some("Captain"),
            &some("Jean-Luc"),
            &some("Elliott"),
            &some("Picard")
        )
    );
    assert_eq!(f.nickname, some("Captain Picard"));
    assert_eq!(
        (&f.company, &f.department, &f.job_title),
        (
            &some("United Federation of Planets"),
            &some("Starfleet"),
            &some("Ship's Captain")
        )
    );
    assert_eq!(
        (&f.phonetic_first_name, &f.phonetic_last_name),
        (&some("zhahn look"), &some("pee-KAR"))
    );
    assert_eq!(
        emails(&picard),
        vec![
            (EmailKind::Primary, "jean-luc.picard@example.com"),
            (EmailKind::Alternate, "captain@enterprise.example.org"),
        ]
    );
    assert_eq!(
        phones(&picard),
        vec![
            (PhoneKind::Mobile, "(999) 999-9999"),
            (PhoneKind::Business, "+1 415 555 0100"),
            (PhoneKind::Fax, "415-555-0101"),
        ]
    );
    let address = &f.addresses[0];
    assert_eq!(address.kind, AddressKind::Home);
    assert_eq!(
        (
            &address.street,
            &address.city,
            &address.state,
            &address.zip,
            &address.country
        ),
        (
            &some("1212 Federation Way"),
            &some("San Francisco"),
            &some("CA"),
            &some("99999"),
            &some("USA")
        )
    );
    assert_eq!(f.note, some("Tea, Earl Grey, hot.\nMake it so."));
    assert_eq!(f.categories, vec!["Bridge Crew".to_owned()]);
    assert!(f.has_inline_photo);
    // What the model does not know is kept in the stored card.
    for name in ["X-SOCIALPROFILE", "X-ABDATE", "PHOTO", "BDAY", "REV"] {
        assert_eq!(
            prop(&picard, name).len(),
            1,
            "{name} lost: {}",
            picard.vcard
        );
    }

    let crusher = book.named("Dr. Beverly Crusher").await;
    assert!(crusher.fields.has_inline_photo);
    assert_eq!(crusher.fields.job_title, some("Chief Medical Officer"));
    assert_eq!(
        prop(&crusher, "URL"),
        vec!["https://medical.enterprise.example.org/crusher".to_owned()]
    );
    assert_eq!(
        phones(&crusher),
        vec![(PhoneKind::Other, "+1 415 555 0142")]
    );

    let android = book.named("Soong-type Android").await;
    assert_eq!(android.fields.company, some("Soong Cybernetics"));

    let group = book.named("Bridge Crew").await;
    assert_eq!(group.kind, rolodex::domain::contact::CardKind::Group);
    assert_eq!(group.fields.members.len(), 2);
    let memberships = book
        .store
        .group_summaries(&book.user, &[picard.id, crusher.id, android.id])
        .await
        .expect("groups");
    for member in [picard.id, crusher.id] {
        assert_eq!(memberships[&member][0].name, "Bridge Crew");
    }
    assert!(memberships.get(&android.id).is_none_or(Vec::is_empty));

    book.assert_reimport_unchanged(&["apple-contacts.vcf"])
        .await;
}

#[tokio::test]
async fn google_contacts_csv_in_both_column_sets() {
    let book = Book::new("google").await;
    let files = ["google-contacts.csv", "google-contacts-2024.csv"];
    let (summary, report) = book.import(&files).await;
    assert_eq!(
        summary,
        Summary {
            added: 4,
            repaired: 1,
            ..Summary::default()
        },
        "{report}"
    );
    assert!(
        report.contains("google-contacts.csv: row 3 (line 7): repaired: derived missing FN"),
        "{report}"
    );

    let ada = book.named("Ada Lovelace").await;
    let f = &ada.fields;
    assert_eq!(ada.vcard_version, CardVersion::V4);
    assert_eq!(
        (&f.prefix, &f.first_name, &f.last_name, &f.nickname),
        (
            &some("Countess"),
            &some("Ada"),
            &some("Lovelace"),
            &some("Enchantress of Numbers")
        )
    );
    assert_eq!(
        (&f.company, &f.job_title, &f.department),
        (
            &some("Analytical Engines Ltd"),
            &some("Programmer"),
            &some("Research")
        )
    );
    assert_eq!(
        emails(&ada),
        vec![
            (EmailKind::Primary, "ada@lovelace.example"),
            (EmailKind::Alternate, "ada@engines.example"),
            (EmailKind::Alternate, "countess@engines.example"),
        ]
    );
    assert_eq!(
        phones(&ada),
        vec![
            (PhoneKind::Mobile, "+44 7700 900123"),
            (PhoneKind::Fax, "+44 20 7946 0999"),
            (PhoneKind::Home, "+44 20 7946 0000"),
        ]
    );
    let address = &f.addresses[0];
    assert_eq!(address.kind, AddressKind::Home);
    assert_eq!(
        (
            &address.street,
            &address.city,
            &address.zip,
            &address.country
        ),
        (
            &some("12 St James's Square"),
            &some("London"),
            &some("SW1Y 4JH"),
            &some("United Kingdom")
        )
    );
    assert_eq!(
        f.note,
        some("Wrote the first program.\nLikes poetical science.")
    );
    assert_eq!(
        f.avatar_url,
        some("https://lh3.googleusercontent.com/contacts/ada-photo")
    );
    assert_eq!(f.categories, vec!["Mathematicians", "starred"]);
    assert_eq!(digits(&prop(&ada, "BDAY")[0]), "18151210");
    assert_eq!(prop(&ada, "URL"), vec!["https://ada.example/profile"]);

    let alan = book.named("Alan Turing").await;
    assert_eq!(alan.fields.middle_name, some("Mathison"));
    assert_eq!(
        alan.fields.categories,
        vec!["Mathematicians", "Codebreakers"]
    );
    assert_eq!(phones(&alan), vec![(PhoneKind::Business, "(555) 010-1912")]);
    let work = &alan.fields.addresses[0];
    assert_eq!(work.kind, AddressKind::Business);
    assert_eq!(
        work.street,
        some("Bletchley Park, Sherwood Drive, Milton Keynes MK3 6EB, UK")
    );

    let nameless = book.named("no-name@example.org").await;
    assert_eq!(prop(&nameless, "BDAY"), vec!["--0623"]);

    let hedy = book.named("Hedy Lamarr").await;
    let f = &hedy.fields;
    assert_eq!(
        (&f.phonetic_first_name, &f.phonetic_last_name),
        (&some("HEH-dee"), &some("LA-mar"))
    );
    assert_eq!(f.job_title, some("Actress; Inventor"));
    assert_eq!(f.categories, vec!["Inventors"]);
    assert_eq!(
        emails(&hedy),
        vec![(EmailKind::Primary, "hedy@mgm.example")]
    );
    assert_eq!(f.addresses[0].kind, AddressKind::Business);
    assert_eq!(f.addresses[0].state, some("CA"));
    assert_eq!(digits(&prop(&hedy, "BDAY")[0]), "19141109");

    book.assert_reimport_unchanged(&files).await;
}

#[tokio::test]
async fn outlook_csv_in_windows_1252() {
    let book = Book::new("outlook").await;
    let (summary, report) = book.import(&["outlook-contacts.csv"]).await;
    // The third row holds only Outlook's defaults (0/0/00, Normal, False...): no contact.
    assert_eq!(
        summary,
        Summary {
            added: 2,
            repaired: 1,
            ..Summary::default()
        },
        "{report}"
    );
    assert!(report.contains("decoded as Windows-1252"), "{report}");
    assert!(
        report.contains("row 2 (line 3): repaired: ignored E-mail Address \"/o=ExchangeLabs"),
        "{report}"
    );

    let grace = book.named("Rear Admiral Grace Brewster Hopper").await;
    let f = &grace.fields;
    assert_eq!(
        (&f.company, &f.department, &f.job_title),
        (
            &some("US Navy"),
            &some("Naval Data Automation Command"),
            &some("Director")
        )
    );
    assert_eq!(
        phones(&grace),
        vec![
            (PhoneKind::Mobile, "+1 (202) 555-0199"),
            (PhoneKind::Business, "+1 (202) 555-0100"),
            (PhoneKind::Fax, "+1 (202) 555-0101"),
        ]
    );
    assert_eq!(
        emails(&grace),
        vec![
            (EmailKind::Primary, "grace.hopper@navy.example"),
            (EmailKind::Alternate, "amazing.grace@cobol.example"),
        ]
    );
    let address = &f.addresses[0];
    assert_eq!(address.kind, AddressKind::Business);
    assert_eq!(address.street, some("1 Navy Pentagon\nRoom 4E100"));
    assert_eq!(
        (
            &address.city,
            &address.state,
            &address.zip,
            &address.country
        ),
        (
            &some("Washington"),
            &some("DC"),
            &some("20350"),
            &some("United States of America")
        )
    );
    assert_eq!(f.categories, vec!["Navy", "Pioneers"]);
    assert_eq!(
        f.note,
        some("\"It's easier to ask forgiveness than it is to get permission.\"")
    );
    assert_eq!(digits(&prop(&grace, "BDAY")[0]), "19061209");
    assert_eq!(prop(&grace, "URL"), vec!["https://cobol.example/grace"]);

    let katherine = book.named("Katherine Johnson").await;
    assert_eq!(
        katherine.fields.note,
        some("Calculated Glenn’s orbit — by hand. Née Coleman.")
    );
    assert_eq!(
        emails(&katherine),
        vec![(EmailKind::Primary, "katherine@nasa.example")]
    );
    assert_eq!(katherine.fields.addresses[0].kind, AddressKind::Home);
    assert_eq!(phones(&katherine), vec![(PhoneKind::Home, "757-555-0134")]);

    book.assert_reimport_unchanged(&["outlook-contacts.csv"])
        .await;
}

#[tokio::test]
async fn android_vcard_21_export() {
    let book = Book::new("android").await;
    let (summary, report) = book.import(&["android-contacts-2.1.vcf"]).await;
    assert_eq!(
        summary,
        Summary {
            added: 3,
            repaired: 3,
            ..Summary::default()
        },
        "{report}"
    );
    assert_eq!(report.matches("converted vCard 2.1 to 3.0").count(), 3);
    assert_eq!(report.matches("added missing UID").count(), 3);
    assert!(
        report.contains("card 3 (line 28): repaired: derived missing FN"),
        "{report}"
    );

    let jose = book.named("José Müller").await;
    let f = &jose.fields;
    assert_eq!(
        (&f.first_name, &f.last_name),
        (&some("José"), &some("Müller"))
    );
    assert_eq!(f.company, some("Café Müller GmbH"));
    assert_eq!(f.note, some("Trifft sich gern im Café.\nZweite Zeile"));
    assert_eq!(f.addresses[0].street, some("Straße des 17. Juni 135"));
    assert_eq!(f.addresses[0].city, some("Berlin"));
    assert_eq!(
        phones(&jose),
        vec![
            (PhoneKind::Mobile, "+49 170 1234567"),
            (PhoneKind::Home, "+49 30 1234567"),
            (PhoneKind::Fax, "+49 30 7654321"),
        ]
    );
    assert!(f.has_inline_photo);
    // Stored as 3.0, the 2.1 encodings gone.
    assert_eq!(jose.vcard_version, CardVersion::V3);
    assert!(jose.vcard.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"));
    assert!(!jose.vcard.contains("QUOTED-PRINTABLE"), "{}", jose.vcard);
    assert_eq!(prop(&jose, "X-ANDROID-CUSTOM").len(), 1);

    let soren = book.named("Søren Østergaard").await;
    assert_eq!(
        emails(&soren),
        vec![(EmailKind::Primary, "soeren@example.dk")]
    );
    let luigi = book.named("Luigi's Pizza").await;
    assert_eq!(prop(&luigi, "URL"), vec!["https://luigis.example.it"]);

    // The derived UIDs are deterministic: importing again finds the same cards.
    book.assert_reimport_unchanged(&["android-contacts-2.1.vcf"])
        .await;
}

#[tokio::test]
async fn drop_json_with_module_data_and_a_deleted_entry() {
    let book = Book::new("drop").await;
    let (summary, report) = book.import(&["drop-contacts.json"]).await;
    // Mallory is deleted in the file and was never here: counted, nothing recorded.
    assert_eq!(
        summary,
        Summary {
            added: 3,
            deleted: 1,
            repaired: 1,
            ..Summary::default()
        },
        "{report}"
    );
    assert!(
        report.contains("contact 4: repaired: derived missing FN"),
        "{report}"
    );

    let alice = book.named("Alice").await;
    let f = &alice.fields;
    assert_eq!(alice.uid, derived_uid("drop-contact:1001"));
    assert_eq!(
        emails(&alice),
        vec![(EmailKind::Primary, "alice@example.org")]
    );
    assert_eq!(phones(&alice), vec![(PhoneKind::Mobile, "+49123456789012")]);
    assert_eq!(
        f.public_key,
        some("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    );
    assert_eq!(
        f.owner_identity,
        some("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        f.drop_urls,
        vec!["example.org/jkl", "https://drop.example.net/alice"]
    );
    assert_eq!(
        Value::Object(f.module_data.clone()),
        json!({
            "person": {"mail_address": "example@example.org"},
            "chat": {"greeting": "Hi, Bob; see C:\\tmp\n", "tags": ["a", "b"], "pinned": true, "unread": 3}
        })
    );
    assert_eq!(prop(&alice, "X-ROLODEX-DROP-ID"), vec!["1001"]);
    // Milliseconds in the file (values > 10^11).
    assert_eq!(digits(&prop(&alice, "CREATED")[0]), "20150130081030");
    assert_eq!(digits(&prop(&alice, "REV")[0]), "20150130081039");

    let bob = book.named("Bob").await;
    assert_eq!(bob.fields.public_key, some("0a0b0c0d0e0f"));
    assert_eq!(digits(&prop(&bob, "REV")[0]), "20150130092639");

    let carol = book.named("carol@example.com").await;
    assert_eq!(
        Value::Object(carol.fields.module_data.clone()),
        json!({"calendar": {"timezone": "Europe/Berlin", "slots": [9, 10, 11]}})
    );
    assert!(
        book.live()
            .await
            .iter()
            .all(|r| r.fields.display_name.as_deref() != Some("Mallory"))
    );

    // The export carries every field back, timestamps in seconds.
    let exported: Value = serde_json::from_str(&book.export(ExportFormat::DropJson).await).unwrap();
    let contacts = exported["contacts"].as_array().unwrap();
    let alice_out = contacts.iter().find(|c| c["alias"] == "Alice").unwrap();
    assert_eq!(alice_out["id"], 1001);
    assert_eq!(alice_out["created"], 1_422_605_430);
    assert_eq!(alice_out["updated"], 1_422_605_439);
    assert_eq!(alice_out["deleted"], 0);
    assert_eq!(alice_out["email"], "alice@example.org");
    assert_eq!(alice_out["phone"], "+49123456789012");
    assert_eq!(
        alice_out["keys"]["public_key"],
        f.public_key.clone().unwrap()
    );
    assert_eq!(alice_out["my_identity"], f.owner_identity.clone().unwrap());
    assert_eq!(alice_out["module_data"]["chat"]["unread"], 3);

    book.assert_reimport_unchanged(&["drop-contacts.json"])
        .await;

    // A tombstone for a contact that is here deletes it; the export then shows the deletion.
    let dir = crate::common::temp_dir("import-export");
    let tombstone = dir.path().join("deleted.json");
    std::fs::write(
        &tombstone,
        r#"{"contacts": [{"id": 1002, "deleted": 1422700000, "alias": "Bob"}]}"#,
    )
    .unwrap();
    let before = book.revision().await;
    let (summary, _) = book
        .import_with(&[tombstone], &ImportOptions::default())
        .await;
    assert_eq!(summary.deleted, 1);
    assert_eq!(book.revision().await, before + 1);
    assert_eq!(book.live().await.len(), 2);
    let exported: Value = serde_json::from_str(&book.export(ExportFormat::DropJson).await).unwrap();
    let bob_out = exported["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == 1002)
        .expect("Bob's tombstone is exported");
    assert_ne!(bob_out["deleted"], 0);
}

#[tokio::test]
async fn broken_cards_are_skipped_with_position_and_reason() {
    let book = Book::new("broken").await;
    let (summary, report) = book.import(&["broken-cards.vcf"]).await;
    assert_eq!(
        summary,
        Summary {
            added: 3,
            repaired: 1,
            skipped: 3,
            ..Summary::default()
        },
        "{report}"
    );
    for expected in [
        "broken-cards.vcf: card 2 (line 8): skipped: invalid vCard: line 12: not a vCard property line",
        "broken-cards.vcf: card 4 (line 20): skipped: invalid vCard: line 21: VERSION 5.0 is not supported",
        "broken-cards.vcf: card 6 (line 31): skipped: invalid vCard: line 31: BEGIN:VCARD has no matching END:VCARD",
        "broken-cards.vcf: card 3 (line 14): repaired: derived missing FN",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
    let mut names: Vec<String> = book
        .live()
        .await
        .into_iter()
        .filter_map(|r| r.fields.display_name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["Ada Lovelace", "Grace Hopper", "Linus Torvalds"]
    );
    book.assert_reimport_unchanged(&["broken-cards.vcf"]).await;
}

const ALL_FIXTURES: [&str; 7] = [
    "apple-contacts.vcf",
    "android-contacts-2.1.vcf",
    "broken-cards.vcf",
    "drop-contacts.json",
    "google-contacts.csv",
    "google-contacts-2024.csv",
    "outlook-contacts.csv",
];

#[tokio::test]
async fn export_import_export_gives_the_same_contacts_in_every_format() {
    let source = Book::new("export-src").await;
    source.import(&ALL_FIXTURES).await;
    let dir = crate::common::temp_dir("import-export");
    for (format, file) in [
        (ExportFormat::VCard3, "out.vcf"),
        (ExportFormat::VCard4, "out4.vcf"),
        (ExportFormat::DropJson, "out.json"),
        (ExportFormat::Csv, "out.csv"),
    ] {
        let first = source.export(format).await;
        let path = dir.path().join(file);
        std::fs::write(&path, &first).unwrap();
        let target = Book::new("export-dst").await;
        let (summary, report) = target
            .import_with(std::slice::from_ref(&path), &ImportOptions::default())
            .await;
        assert_eq!(summary.skipped, 0, "{format:?}: {report}");
        let second = target.export(format).await;
        assert!(
            first == second,
            "{format:?} export -> import -> export differs:\n--- first\n{first}\n--- second\n{second}"
        );
        // And importing the export back into the source changes nothing.
        let before = source.revision().await;
        let (summary, report) = source
            .import_with(std::slice::from_ref(&path), &ImportOptions::default())
            .await;
        assert_eq!(
            (summary.added, summary.updated, summary.skipped),
            (0, 0, 0),
            "{format:?}: {report}"
        );
        assert_eq!(source.revision().await, before);
    }
    // vCard exports hold every card, groups included; Drop and CSV only people.
    let live = source.live().await.len();
    let vcf = source.export(ExportFormat::VCard4).await;
    assert_eq!(vcf.matches("BEGIN:VCARD").count(), live);
    let vcf3 = source.export(ExportFormat::VCard3).await;
    assert!(vcf3.contains("X-ADDRESSBOOKSERVER-KIND:group"));
    assert!(!vcf3.contains("VERSION:4.0"));
}

/// An export is read a page at a time; any page size gives the same bytes (people, groups,
/// tombstones and Drop's choice among them, CSV columns sized by the fullest contact). The
/// generated cards make a whole-book page big enough to be converted on several threads
/// (pages of 1, 2 and 7 are converted inline), and their versions differ from the fixtures'.
#[tokio::test]
async fn exports_are_the_same_bytes_whatever_the_page_size() {
    let book = Book::new("export-pages").await;
    book.import(&ALL_FIXTURES).await;
    let dir = crate::common::temp_dir("export-pages");
    let many = dir.path().join("many.vcf");
    std::fs::write(&many, generated(150, "pages")).unwrap();
    let (summary, report) = book
        .import_with(std::slice::from_ref(&many), &ImportOptions::default())
        .await;
    assert_eq!(summary.added, 150, "{report}");
    let victim = book.named("Dr. Beverly Crusher").await;
    book.store
        .delete_contact_by_href(
            &book.user,
            book.id,
            &victim.href,
            rolodex::store::Precondition::IfMatch(victim.etag.clone()),
        )
        .await
        .expect("delete");
    for format in [
        ExportFormat::VCard3,
        ExportFormat::VCard4,
        ExportFormat::DropJson,
        ExportFormat::Csv,
    ] {
        let whole = book.export(format).await;
        assert!(!whole.is_empty(), "{format:?}");
        if matches!(format, ExportFormat::VCard3 | ExportFormat::VCard4) {
            let cards = whole.matches("BEGIN:VCARD").count();
            assert_eq!(
                cards,
                book.live().await.len(),
                "{format:?}: every live card"
            );
            for i in [0, 75, 149] {
                assert_eq!(whole.matches(&format!("UID:pages-{i}\r\n")).count(), 1);
            }
        }
        for page_cards in [1, 2, 7] {
            let mut export = book
                .store
                .export(&book.user, book.id, format, page_cards)
                .await
                .expect("export");
            let mut paged = String::new();
            while let Some(chunk) = export.next_chunk().await.expect("chunk") {
                paged.push_str(&chunk);
            }
            assert!(
                paged == whole,
                "{format:?} in pages of {page_cards} differs:\n{whole}\n---\n{paged}"
            );
        }
    }
}

/// A vCard file of `count` cards with UIDs `prefix-N`.
fn generated(count: usize, prefix: &str) -> String {
    (0..count)
        .map(|i| {
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{prefix}-{i}\r\nFN:Person {i}\r\nN:{i};Person;;;\r\n\
                 EMAIL:p{i}@example.org\r\nTEL;TYPE=CELL:+1 555 01{:02}\r\nEND:VCARD\r\n",
                i % 100
            )
        })
        .collect()
}

#[tokio::test]
async fn batched_writes_keep_revisions_change_log_notifications_and_etags() {
    let book = Book::new("batch").await;
    // Listen on the change channel as a second server process would.
    let (client, mut connection) =
        tokio_postgres::connect(&common::database_url(), tokio_postgres::NoTls)
            .await
            .expect("listen connection");
    let (sender, mut notes) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        use futures_util::StreamExt;
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(note) = message {
                let _ = sender.send(note.payload().to_owned());
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", rolodex::store::CHANGE_CHANNEL))
        .await
        .expect("LISTEN");

    let count = 1234;
    let dir = crate::common::temp_dir("import-export");
    let path = dir.path().join("many.vcf");
    std::fs::write(&path, generated(count, "batch")).unwrap();
    let before = book.revision().await;
    let (summary, _) = book
        .import_with(std::slice::from_ref(&path), &ImportOptions::default())
        .await;
    assert_eq!(summary.added, count);
    // One revision per card, as if each had been PUT on its own.
    assert_eq!(book.revision().await, before + count as i64);
    let changes = book
        .store
        .changes_since(&book.user, book.id, before)
        .await
        .expect("changes");
    assert_eq!(changes.changes.len(), count);
    let mut revisions: Vec<i64> = changes.changes.iter().map(|c| c.revision).collect();
    revisions.dedup();
    assert_eq!(revisions.len(), count, "every card has its own revision");
    // ETag = hash of the stored bytes; child rows written (searchable by email).
    for record in book.live().await.iter().step_by(97) {
        assert_eq!(record.etag, etag::of_bytes(record.vcard.as_bytes()));
        assert_eq!(record.fields.emails.len(), 1);
        assert_eq!(record.fields.phones.len(), 1);
    }
    // One notification per card, with the payload the subscription layer reads.
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen < count {
        let note = tokio::time::timeout_at(deadline, notes.recv())
            .await
            .expect("all notifications arrive")
            .expect("channel open");
        let payload: Value = serde_json::from_str(&note).unwrap();
        if payload["address_book_id"] == book.id {
            assert_eq!(payload["op"], "put");
            assert!(payload["revision"].as_i64().unwrap() > before);
            seen += 1;
        }
    }

    // Changing some cards updates exactly those (one revision each); the rest are unchanged.
    let mut text = generated(count, "batch");
    text = text.replace("FN:Person 7\r\n", "FN:Person Seven\r\n");
    text = text.replace("FN:Person 1000\r\n", "FN:Person Thousand\r\n");
    std::fs::write(&path, text).unwrap();
    let before = book.revision().await;
    let (summary, _) = book
        .import_with(std::slice::from_ref(&path), &ImportOptions::default())
        .await;
    assert_eq!((summary.updated, summary.unchanged), (2, count - 2));
    assert_eq!(book.revision().await, before + 2);
    assert_eq!(book.named("Person Thousand").await.uid, "batch-1000");
}

#[tokio::test]
async fn a_uid_repeated_in_one_file_updates_rather_than_duplicates() {
    let book = Book::new("dupe").await;
    let card = |name: &str| {
        format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:same-uid\r\nFN:{name}\r\nEND:VCARD\r\n")
    };
    let text = format!("{}{}{}", card("First"), card("Second"), card("Second"));
    let results = book
        .store
        .import_entries(
            &book.user,
            book.id,
            rolodex::domain::formats::read(rolodex::domain::formats::Format::VCard, &text).unwrap(),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    let actions: Vec<_> = results
        .iter()
        .map(|r| r.outcome.as_ref().ok().copied())
        .collect();
    assert_eq!(
        actions,
        vec![
            Some(ImportAction::Created),
            Some(ImportAction::Updated),
            Some(ImportAction::Unchanged)
        ]
    );
    let live = book.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].fields.display_name, some("Second"));
    assert_eq!(results[0].contact_id, Some(live[0].id));
}

#[tokio::test]
async fn dry_run_reports_and_writes_nothing() {
    let book = Book::new("dry").await;
    let dry = ImportOptions {
        dry_run: true,
        ..ImportOptions::default()
    };
    let files = [fixture("apple-contacts.vcf"), fixture("drop-contacts.json")];
    let empty = book.revision().await;
    let (summary, report) = book.import_with(&files, &dry).await;
    assert_eq!(
        (summary.added, summary.deleted, summary.repaired),
        (7, 1, 1)
    );
    assert!(
        report.contains("card 1 (line 1): would be added (UID 6F9A3C1E"),
        "{report}"
    );
    assert!(
        report.ends_with(
            "dry run, nothing written: 7 added, 0 updated, 0 unchanged, 1 deleted, 1 repaired, 0 skipped\n"
        ),
        "{report}"
    );
    assert_eq!(book.revision().await, empty);
    assert!(book.live().await.is_empty());

    // After the real import, a dry run of a changed file reports the update and writes nothing.
    book.import_with(&files, &ImportOptions::default()).await;
    let revision = book.revision().await;
    let dir = crate::common::temp_dir("import-export");
    let changed = dir.path().join("changed.json");
    std::fs::write(
        &changed,
        r#"{"contacts": [{"id": 1002, "alias": "Robert"}, {"id": 1001, "deleted": 1}]}"#,
    )
    .unwrap();
    let (summary, report) = book.import_with(&[changed], &dry).await;
    assert_eq!((summary.updated, summary.deleted), (1, 1), "{report}");
    assert!(report.contains("would update the stored card"), "{report}");
    assert!(report.contains("would delete the stored card"), "{report}");
    assert_eq!(book.revision().await, revision);
    assert_eq!(book.named("Bob").await.fields.display_name, some("Bob"));
}

#[tokio::test]
async fn vdir_folders_are_read_recursively() {
    let book = Book::new("vdir").await;
    let dir = crate::common::temp_dir("import-export");
    let one =
        |uid: &str| format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n");
    std::fs::write(dir.path().join("a.vcf"), one("vdir-a")).unwrap();
    std::fs::write(dir.path().join("b.VCF"), one("vdir-b")).unwrap();
    std::fs::write(dir.path().join(".hidden.vcf"), one("vdir-hidden")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a card").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/c.vcf"), one("vdir-c")).unwrap();
    let (summary, report) = book
        .import_with(&[dir.path().to_owned()], &ImportOptions::default())
        .await;
    assert_eq!(summary.added, 3, "{report}");
    let mut uids: Vec<String> = book.live().await.into_iter().map(|r| r.uid).collect();
    uids.sort();
    assert_eq!(uids, vec!["vdir-a", "vdir-b", "vdir-c"]);
}

fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", common::database_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rolodex")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn cli_import_export_and_exit_codes() {
    let book = Book::new("cli").await;
    let user = book.user.user_name.clone();
    let apple = fixture("apple-contacts.vcf");
    let drop = fixture("drop-contacts.json");
    let files = [apple.to_str().unwrap(), drop.to_str().unwrap()];

    let mut args = vec!["import", "--user", &user, "--dry-run"];
    args.extend(files);
    let dry = cli(&args);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(book.live().await.is_empty());

    args.retain(|a| *a != "--dry-run");
    let run = cli(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert_eq!(
        stdout.lines().last(),
        Some("7 added, 0 updated, 0 unchanged, 1 deleted, 1 repaired, 0 skipped"),
        "{stdout}"
    );
    assert_eq!(book.live().await.len(), 7);

    // Export: the file holds exactly what the store (and GraphQL) returns.
    let dir = crate::common::temp_dir("import-export");
    let out = dir.path().join("contacts.vcf");
    let export = cli(&[
        "export",
        "--user",
        &user,
        "--format",
        "vcf4",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        book.export(ExportFormat::VCard4).await
    );
    let to_stdout = cli(&["export", "--user", &user, "--format", "drop-json"]);
    assert!(to_stdout.status.success());
    assert_eq!(
        text(&to_stdout.stdout),
        book.export(ExportFormat::DropJson).await
    );

    // Anything skipped: the reasons on stdout, a non-zero exit.
    let broken = fixture("broken-cards.vcf");
    let failed = cli(&["import", "--user", &user, broken.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(text(&failed.stdout).contains("card 4 (line 20): skipped"));
    assert!(
        text(&failed.stderr).contains("3 skipped"),
        "{}",
        text(&failed.stderr)
    );

    // Unknown users and address books are errors, not empty imports.
    let nobody = cli(&[
        "import",
        "--user",
        "nobody-at-all",
        broken.to_str().unwrap(),
    ]);
    assert!(!nobody.status.success());
    let no_book = cli(&[
        "export",
        "--user",
        &user,
        "--address-book",
        "nope",
        "--format",
        "csv",
    ]);
    assert!(!no_book.status.success());
}

#[tokio::test]
async fn the_export_download_sends_the_same_bytes_as_the_export() {
    let book = Book::new("download").await;
    book.import(&["apple-contacts.vcf", "google-contacts.csv"])
        .await;
    let token = common::token(&book.store, &book.user).await;
    let base = common::serve(&book.store).await;
    let http = reqwest::Client::new();
    let get = |path: String| http.get(format!("{base}{path}")).bearer_auth(&token).send();
    for (name, format, content_type, file) in [
        ("vcf3", ExportFormat::VCard3, "text/vcard", "contacts.vcf"),
        ("vcf4", ExportFormat::VCard4, "text/vcard", "contacts.vcf"),
        (
            "drop-json",
            ExportFormat::DropJson,
            "application/json",
            "contacts.json",
        ),
        ("csv", ExportFormat::Csv, "text/csv", "contacts.csv"),
    ] {
        let response = get(format!("/export/contacts?format={name}"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let header = |h: &str| response.headers()[h].to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with(content_type), "{name}");
        assert_eq!(
            header("content-disposition"),
            format!("attachment; filename=\"{file}\"")
        );
        assert_eq!(header("cache-control"), "no-store");
        assert_eq!(
            response.text().await.unwrap(),
            book.export(format).await,
            "{name}"
        );
    }
    // vCard 4.0 unless asked otherwise.
    let plain = get("/export/contacts".to_owned()).await.unwrap();
    assert_eq!(
        plain.text().await.unwrap(),
        book.export(ExportFormat::VCard4).await
    );

    let unknown = get("/export/contacts?format=pdf".to_owned()).await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("vcf4"));
    let missing = get("/export/nope?format=vcf4".to_owned()).await.unwrap();
    assert_eq!(missing.status(), 404);
    // Bytes that are no text, in the name or the query: refused, never a 500.
    for hostile in ["/export/%ff%fe?format=vcf4", "/export/contacts?format=%ff"] {
        let response = get(hostile.to_owned()).await.unwrap();
        assert_eq!(response.status(), 400, "{hostile}");
    }
    // Another user's token reaches only that user's own books: this user has no "contacts"
    // with these cards, and no way to name the first user's.
    let other_user = common::user(&book.store, "download-other").await;
    let other_token = common::token(&book.store, &other_user).await;
    let theirs = http
        .get(format!("{base}/export/contacts"))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 200);
    assert!(!theirs.text().await.unwrap().contains("BEGIN:VCARD"));
    let anonymous = http
        .get(format!("{base}/export/contacts"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
}

/// `exportContacts` returns at most `graphql_max_export_bytes`: an export that fits exactly is
/// returned, one byte longer fails with TOO_LARGE naming the download, which still sends the
/// whole text.
#[tokio::test]
async fn an_export_over_the_graphql_limit_points_to_the_download() {
    let book = Book::new("gql-export-limit").await;
    book.import(&["apple-contacts.vcf", "google-contacts.csv"])
        .await;
    let whole = book.export(ExportFormat::VCard4).await;
    let token = common::token(&book.store, &book.user).await;
    let http = reqwest::Client::new();
    for (max_bytes, fits) in [(whole.len(), true), (whole.len() - 1, false), (10, false)] {
        let base = common::serve_with_limits(
            &book.store,
            rolodex::limits::Limits {
                graphql_max_export_bytes: max_bytes,
                ..Default::default()
            },
        )
        .await;
        let body =
            common::graphql(&base, &token, "{ exportContacts(format: VCF4) }", json!({})).await;
        if fits {
            assert_eq!(
                body["data"]["exportContacts"].as_str(),
                Some(whole.as_str())
            );
            continue;
        }
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "TOO_LARGE", "{body}");
        assert_eq!(error["extensions"]["field"], "exportContacts");
        assert_eq!(error["extensions"]["limit"], max_bytes);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("GET /export/contacts"),
            "{body}"
        );
        assert!(body["data"].is_null(), "{body}");
        let download = http
            .get(format!("{base}/export/contacts?format=vcf4"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), 200);
        assert_eq!(download.text().await.unwrap(), whole);
    }
}

#[tokio::test]
async fn graphql_export_and_import_use_the_same_code_path() {
    let book = Book::new("gql-io").await;
    book.import(&["apple-contacts.vcf", "google-contacts.csv"])
        .await;
    let token = common::token(&book.store, &book.user).await;
    let base = common::serve(&book.store).await;
    let post =
        |query: &'static str, variables: Value| common::graphql(&base, &token, query, variables);
    for (name, format) in [
        ("VCF3", ExportFormat::VCard3),
        ("VCF4", ExportFormat::VCard4),
        ("DROP_JSON", ExportFormat::DropJson),
        ("CSV", ExportFormat::Csv),
    ] {
        let body = post(
            "query($f: ExportContactsFormat!) { exportContacts(format: $f) }",
            json!({ "f": name }),
        )
        .await;
        assert_eq!(
            body["data"]["exportContacts"].as_str(),
            Some(book.export(format).await.as_str()),
            "{body}"
        );
    }

    // importVCards recognizes Drop JSON (and CSV) too, with per-entry results.
    let drop = std::fs::read_to_string(fixture("drop-contacts.json")).unwrap();
    let body = post(
        "mutation($t: String!) { importVCards(text: $t) { created updated unchanged deleted failed results { position status repairs contact { displayName publicKey } } } }",
        json!({ "t": drop }),
    )
    .await;
    let payload = &body["data"]["importVCards"];
    assert_eq!(payload["created"], 3, "{body}");
    assert_eq!(payload["deleted"], 1);
    assert_eq!(payload["results"][2]["status"], "DELETED");
    assert_eq!(payload["results"][0]["contact"]["displayName"], "Alice");
    assert_eq!(
        payload["results"][0]["contact"]["publicKey"],
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    );
    let garbage = post(
        "mutation($t: String!) { importVCards(text: $t) { created } }",
        json!({ "t": "just some words" }),
    )
    .await;
    assert_eq!(garbage["errors"][0]["extensions"]["code"], "VALIDATION");
}
