//! Property-based fuzzing of the vCard adapter (issue 11: one authenticated user must not be
//! able to crash the server or make a book unservable). Inputs are real fixture cards mutated
//! (`domain::mutation`), cards assembled from the property forms the converters act on, and
//! raw bytes. Properties: nothing panics; every card that parses extracts, converts to 3.0 and
//! 4.0, renders, and its rendering parses again; a model patch applies to it and its result
//! renders and parses too.

use proptest::prelude::*;

use super::*;
use crate::domain::contact::{Address, AddressKind, Email, EmailKind, Phone, PhoneKind};
use crate::domain::mutation;

const FIXTURES: [&str; 11] = [
    include_str!("../../../tests/fixtures/vcards/apple-3.0.vcf"),
    include_str!("../../../tests/fixtures/vcards/apple-group-3.0.vcf"),
    include_str!("../../../tests/fixtures/vcards/davx5-4.0.vcf"),
    include_str!("../../../tests/fixtures/vcards/thunderbird.vcf"),
    include_str!("../../../tests/fixtures/vcards/google-3.0.vcf"),
    include_str!("../../../tests/fixtures/vcards/android-2.1-qp.vcf"),
    include_str!("../../../tests/fixtures/vcards/drop-fields-4.0.vcf"),
    include_str!("../../../tests/fixtures/vcards/malformed-no-end.vcf"),
    include_str!("../../../tests/fixtures/vcards/malformed-garbage-line.vcf"),
    include_str!("../../../tests/fixtures/vcards/malformed-no-begin.vcf"),
    include_str!("../../../tests/fixtures/vcards/malformed-two-cards.vcf"),
];

/// A fixture with up to eight mutations.
fn mutated_fixture() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&FIXTURES[..]),
        mutation::mutations(&[], 8),
    )
        .prop_map(|(text, mutations)| mutation::apply(text, &mutations))
}

/// Property names the adapter treats specially, and a few it does not know.
const NAMES: &[&str] = &[
    "TEL",
    "GEO",
    "EMAIL",
    "ADR",
    "N",
    "FN",
    "ORG",
    "NICKNAME",
    "CATEGORIES",
    "BDAY",
    "ANNIVERSARY",
    "REV",
    "PHOTO",
    "LOGO",
    "KEY",
    "SOUND",
    "KIND",
    "MEMBER",
    "UID",
    "NOTE",
    "URL",
    "IMPP",
    "TZ",
    "GENDER",
    "RELATED",
    "CLIENTPIDMAP",
    "X-ADDRESSBOOKSERVER-KIND",
    "X-ADDRESSBOOKSERVER-MEMBER",
    "X-ROLODEX-MODULE",
    "X-ROLODEX-LAST-ACTIVE",
    "X-PHONETIC-FIRST-NAME",
    "X-ABLabel",
    "X-CUSTOM",
];

const PARAMS: &[&str] = &[
    ";TYPE=CELL",
    ";TYPE=pref",
    ";TYPE=WORK,FAX",
    ";PREF=1",
    ";PREF=x",
    ";VALUE=uri",
    ";VALUE=text",
    ";VALUE=date",
    ";VALUE=URL",
    ";ENCODING=b",
    ";ENCODING=BASE64",
    ";ENCODING=QUOTED-PRINTABLE",
    ";TYPE=JPEG",
    ";MEDIATYPE=image/png",
    ";X-APPLE-OMIT-YEAR=1604",
    ";MODULE=person",
    ";CHARSET=UTF-8",
    ";PHONETIC=ipa",
    ";CELL",
    ";LABEL=\"a^nb;c\"",
    ";TYPE=\"x,y\"",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,24}",
        1 => "(tel:|TEL:|geo:|GEO:|data:|mailto:|urn:uuid:)\\PC{0,12}",
        1 => "(geo:)?[0-9.€-]{0,6}[,;][0-9.€-]{0,6}",
        1 => "[0-9T:Z+-]{0,16}",
        1 => "data:(image/jpeg)?(;base64)?,[A-Za-z0-9+/=]{0,16}",
        1 => "[^\r\n]{0,8}(;[^\r\n]{0,8}){0,7}",
        1 => prop::sample::select(&[
            "12€",
            "手机 138 0013 8000",
            "tel:12€",
            "tel:+1-415-555-0145;ext=7",
            "geo:12€",
            "12€;5",
            "group",
            "--0612",
            "1604-06-12",
            "{\"a\":1}",
            "ΓΙΏΡΓΟΣ",
        ][..]).prop_map(str::to_owned),
    ]
}

/// One property line: optional group, a name, parameters, a value.
fn property_line() -> impl Strategy<Value = String> {
    (
        prop::option::of(prop::sample::select(&["item1.", "item2.", "é."][..])),
        prop::sample::select(NAMES),
        prop::collection::vec(prop::sample::select(PARAMS), 0..3),
        value(),
    )
        .prop_map(|(group, name, params, value)| {
            format!(
                "{}{name}{}:{value}",
                group.unwrap_or_default(),
                params.concat()
            )
        })
}

/// A card of generated properties in any version.
fn assembled_card() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["2.1", "3.0", "4.0"][..]),
        prop::collection::vec(property_line(), 0..10),
    )
        .prop_map(|(version, lines)| {
            let mut text = format!("BEGIN:VCARD\r\nVERSION:{version}\r\n");
            for line in lines {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            text.push_str("END:VCARD\r\n");
            text
        })
}

/// Text for model fields: anything printable, with the separators and escapes vCard cares
/// about, line breaks and non-ASCII.
fn field_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[^\\p{Cc}]{0,12}|[a-zé€手;,:\\\\^\" \n]{0,12}")
}

fn patch() -> impl Strategy<Value = ContactPatch> {
    (
        prop::option::of(field_text()),
        prop::option::of(field_text()),
        prop::option::of(field_text()),
        prop::option::of(field_text()),
        prop::option::of(prop::collection::vec(
            ("[^\\p{Cc}]{1,12}", any::<bool>()),
            0..3,
        )),
        prop::option::of(prop::collection::vec(
            (
                "[0-9+ ()€手机x#;-]{0,6}[0-9][0-9+ ()€手机x#;-]{0,6}",
                0..6_u8,
            ),
            0..3,
        )),
        prop::option::of(prop::collection::vec(
            (field_text(), field_text(), any::<bool>()),
            0..2,
        )),
        prop::option::of(prop::collection::vec("[^\\p{Cc}]{0,8}", 0..3)),
        prop::option::of(field_text()),
        prop::option::of(field_text()),
    )
        .prop_map(
            |(first, last, company, note, emails, phones, addresses, categories, avatar, key)| {
                ContactPatch {
                    first_name: first,
                    last_name: last,
                    company,
                    note,
                    emails: emails.map(|list| {
                        list.into_iter()
                            .map(|(address, primary)| Email {
                                label: None,
                                kind: if primary {
                                    EmailKind::Primary
                                } else {
                                    EmailKind::Alternate
                                },
                                address,
                            })
                            .collect()
                    }),
                    phones: phones.map(|list| {
                        list.into_iter()
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
                                number,
                                normalized: None,
                            })
                            .collect()
                    }),
                    addresses: addresses.map(|list| {
                        list.into_iter()
                            .map(|(street, city, home)| Address {
                                kind: if home {
                                    AddressKind::Home
                                } else {
                                    AddressKind::Business
                                },
                                street,
                                city,
                                ..Address::default()
                            })
                            .collect()
                    }),
                    categories,
                    avatar_url: avatar.map(|a| a.map(|a| format!("https://example.org/{a}"))),
                    public_key: key,
                    ..ContactPatch::default()
                }
            },
        )
}

/// Renders `card` in `version` and parses the result: what a client fetching it in that
/// version gets, and what a model write stores.
fn render_and_reparse(card: &Card, version: RenderVersion) -> Result<Card, TestCaseError> {
    let out = card.render(version);
    for line in out.split("\r\n") {
        prop_assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    let again = parse_one(&out).map_err(|error| {
        TestCaseError::fail(format!(
            "{version:?} rendering does not parse: {error}\n{out}"
        ))
    })?;
    prop_assert_eq!(again.version(), version.card_version());
    Ok(again)
}

/// Everything the server does with a card that parsed.
fn check_card(card: &Card, patch: &ContactPatch) -> Result<(), TestCaseError> {
    let fields = card.extract();
    let _ = card.match_text();
    let _ = card.uid();
    for version in [RenderVersion::V3, RenderVersion::V4] {
        let again = render_and_reparse(card, version)?;
        let _ = again.extract();
        // Serving it back in the other version (an Apple client after a DAVx5 upload) works
        // too.
        render_and_reparse(
            &again,
            match version {
                RenderVersion::V3 => RenderVersion::V4,
                RenderVersion::V4 => RenderVersion::V3,
            },
        )?;
    }

    let mut replaced = card.clone();
    replaced.apply_patch(&ContactPatch::replace_all(&fields));
    replaced.ensure_display_name();
    for version in [RenderVersion::V3, RenderVersion::V4] {
        render_and_reparse(&replaced, version)?;
    }

    if patch.validate().is_ok() {
        let mut patched = card.clone();
        patched.apply_patch(patch);
        patched.ensure_display_name();
        patched.set_uid("urn:uuid:fuzz");
        for version in [RenderVersion::V3, RenderVersion::V4] {
            render_and_reparse(&patched, version)?;
        }
    }
    Ok(())
}

fn check_text(text: &str, patch: &ContactPatch) -> Result<(), TestCaseError> {
    let _ = parse_one(text);
    for (_, _, result) in parse_many(text) {
        if let Ok(card) = result {
            check_card(&card, patch)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::fuzzing::config())]

    /// Mutated real cards: parse, extract, convert, render, patch.
    #[test]
    fn fuzz_mutated_fixture_cards(text in mutated_fixture(), patch in patch()) {
        check_text(&text, &patch)?;
    }

    /// Cards built from the property forms the converters and extractors act on.
    #[test]
    fn fuzz_assembled_cards(text in assembled_card(), patch in patch()) {
        check_text(&text, &patch)?;
    }

    /// Raw bytes as an HTTP body: decoded or refused with a line number; nothing panics.
    #[test]
    fn fuzz_body_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(text) = text_from_bytes(&bytes) {
            check_text(text, &ContactPatch::default())?;
        }
    }
}
