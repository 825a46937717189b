//! Real-client vCards through the store: stored and read back byte-identical, re-rendered in the
//! other vCard version without losing a field, and patched without losing unknown properties.

use crate::common;

use rolodex::domain::contact::ContactPatch;
use rolodex::domain::vcard::{self, RenderVersion};
use rolodex::store::{Precondition, StoreError};

const CLIENT_FIXTURES: &[&str] = &[
    "apple-3.0.vcf",
    "apple-group-3.0.vcf",
    "davx5-4.0.vcf",
    "thunderbird.vcf",
    "google-3.0.vcf",
    "android-2.1-qp.vcf",
    "drop-fields-4.0.vcf",
];

/// Property names (with their `itemN.` group) that are not part of the model, as written.
fn unknown_property_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with([' ', '\t']))
        .filter_map(|line| line.split([':', ';']).next())
        .filter(|name| {
            let bare = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
            // X-ROLODEX-*, X-PHONETIC-* and Apple's group kind/members are model fields that
            // are spelled differently in the other version; everything else must stay as is.
            let model = [
                "X-ROLODEX",
                "X-PHONETIC",
                "X-ADDRESSBOOKSERVER-KIND",
                "X-ADDRESSBOOKSERVER-MEMBER",
            ];
            (bare.starts_with("X-") && !model.iter().any(|m| bare.starts_with(m)))
                || name.contains('.')
        })
        .map(str::to_owned)
        .collect()
}

/// The fixture as a CardDAV client would PUT it. Google's export has no UID, which CardDAV
/// requires (the importer generates one); give such cards one the way a client would.
fn as_put(name: &str) -> String {
    let text = common::fixture(name);
    if text
        .lines()
        .any(|l| l.to_ascii_uppercase().starts_with("UID"))
    {
        return text;
    }
    let version_end = text
        .find("VERSION:")
        .and_then(|i| text[i..].find('\n').map(|j| i + j + 1));
    let at = version_end.expect("fixture has a VERSION line");
    format!("{}UID:fixture-{name}\r\n{}", &text[..at], &text[at..])
}

#[tokio::test]
async fn a_card_without_uid_is_refused_over_the_put_path() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let google = common::fixture("google-3.0.vcf");
    match store
        .put_vcard(&alice, book, "g.vcf", &google, Precondition::None)
        .await
    {
        Err(StoreError::Validation(e)) => assert_eq!(e.field, "UID"),
        other => panic!("expected a UID validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn client_cards_are_stored_byte_identical() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    for name in CLIENT_FIXTURES {
        let text = as_put(name);
        let put = store
            .put_vcard(&alice, book, name, &text, Precondition::IfNoneMatchAny)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = store.get_contact_by_href(&alice, book, name).await.unwrap();
        assert_eq!(got.vcard, text, "{name} not byte-identical");
        assert_eq!(got.etag, put.record.etag);
        assert_eq!(got.etag, rolodex::domain::etag::of_bytes(text.as_bytes()));
    }
}

#[tokio::test]
async fn client_cards_convert_to_the_other_version_without_loss() {
    for name in CLIENT_FIXTURES {
        let text = common::fixture(name);
        let card = vcard::parse_one(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let original = card.extract();
        for target in [RenderVersion::V3, RenderVersion::V4] {
            let rendered = card.render(target);
            let reparsed = vcard::parse_one(&rendered)
                .unwrap_or_else(|e| panic!("{name} as {target:?} does not parse: {e}\n{rendered}"));
            assert_eq!(
                reparsed.extract(),
                original,
                "{name} as {target:?}:\n{rendered}"
            );
            for property in unknown_property_names(&text) {
                assert!(
                    rendered.contains(&property),
                    "{name} as {target:?} lost {property}:\n{rendered}"
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_properties_survive_a_model_patch() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    for name in CLIENT_FIXTURES {
        let text = as_put(name);
        let stored = store
            .put_vcard(&alice, book, name, &text, Precondition::None)
            .await
            .unwrap()
            .record;
        let patch = ContactPatch {
            nickname: Some(Some("Patched Nick".into())),
            ..Default::default()
        };
        let patched = store
            .patch_contact(&alice, stored.id, &patch, Some(&stored.etag))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(patched.fields.nickname.as_deref(), Some("Patched Nick"));
        let mut expected = stored.fields.clone();
        expected.nickname = Some("Patched Nick".into());
        assert_eq!(
            patched.fields, expected,
            "{name}: patch changed more than the nickname"
        );
        for property in unknown_property_names(&text) {
            assert!(
                patched.vcard.contains(&property),
                "{name}: patch lost {property}:\n{}",
                patched.vcard
            );
        }
    }
}

#[tokio::test]
async fn malformed_cards_are_rejected_with_a_reason_and_nothing_is_stored() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let dir = format!("{}/tests/fixtures/vcards", env!("CARGO_MANIFEST_DIR"));
    let mut malformed: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("malformed-"))
        .collect();
    malformed.sort();
    assert!(malformed.len() >= 3, "expected malformed fixtures in {dir}");
    let revision = store.get_address_book(&alice, book).await.unwrap().revision;
    for name in &malformed {
        let text = common::fixture(name);
        match store
            .put_vcard(&alice, book, name, &text, Precondition::None)
            .await
        {
            Err(StoreError::InvalidCard(reason)) => {
                assert!(!reason.to_string().is_empty(), "{name}: empty reason")
            }
            other => panic!("{name}: expected InvalidCard, got {other:?}"),
        }
    }
    assert_eq!(
        store.get_address_book(&alice, book).await.unwrap().revision,
        revision
    );
    assert!(
        store
            .changes_since(&alice, book, 0)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
}
