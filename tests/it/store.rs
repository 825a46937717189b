//! The record store against a real PostgreSQL: CRUD, ETag preconditions, concurrent writers,
//! the change log, tenant isolation and atomicity of failed writes.

use crate::common;

use rolodex::domain::contact::{CardKind, ContactPatch, Email, EmailKind, Phone, PhoneKind};
use rolodex::domain::vcard::CardVersion;
use rolodex::store::{ChangeOp, ContactListQuery, Precondition, StoreError};

fn picard() -> ContactPatch {
    ContactPatch {
        prefix: Some(Some("Captain".into())),
        first_name: Some(Some("Jean-Luc".into())),
        last_name: Some(Some("Picard".into())),
        nickname: Some(Some("Captain Picard".into())),
        company: Some(Some("United Federation of Planets".into())),
        department: Some(Some("Starfleet".into())),
        job_title: Some(Some("Ship's Captain".into())),
        emails: Some(vec![Email {
            label: None,
            kind: EmailKind::Primary,
            address: "jean-luc.picard@example.com".into(),
        }]),
        phones: Some(vec![Phone {
            label: None,
            kind: PhoneKind::Business,
            number: "(999) 999-9999".into(),
            normalized: None,
        }]),
        ..ContactPatch::default()
    }
}

fn card(uid: &str, name: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nX-CUSTOM-THING;X-PARAM=1:kept\r\nEND:VCARD\r\n"
    )
}

#[tokio::test]
async fn crud_through_the_store() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;

    let created = store.create_contact(&alice, book, &picard()).await.unwrap();
    assert_eq!(created.fields.first_name.as_deref(), Some("Jean-Luc"));
    assert_eq!(
        created.fields.display_name.as_deref(),
        Some("Captain Jean-Luc Picard")
    );
    assert_eq!(
        created.fields.phones[0].normalized.as_deref(),
        Some("+19999999999")
    );
    assert_eq!(created.href, format!("{}.vcf", created.uid));
    assert_eq!(created.vcard_version, CardVersion::V4);

    let fetched = store.get_contact(&alice, created.id).await.unwrap();
    assert_eq!(fetched, created);

    let patch = ContactPatch {
        nickname: Some(Some("Locutus".into())),
        ..ContactPatch::default()
    };
    let patched = store
        .patch_contact(&alice, created.id, &patch, Some(&created.etag))
        .await
        .unwrap();
    assert_eq!(patched.fields.nickname.as_deref(), Some("Locutus"));
    assert_eq!(patched.fields.company, created.fields.company);
    assert_eq!(patched.fields.emails, created.fields.emails);
    assert_ne!(patched.etag, created.etag);
    assert!(patched.revision > created.revision);

    // Full replace: what is not given is cleared.
    let mut replacement = patched.fields.clone();
    replacement.company = None;
    replacement.emails.clear();
    let replaced = store
        .replace_contact(&alice, created.id, &replacement, None)
        .await
        .unwrap();
    assert_eq!(replaced.fields.company, None);
    assert!(replaced.fields.emails.is_empty());
    assert_eq!(replaced.fields.nickname.as_deref(), Some("Locutus"));

    let page = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(!page.has_more);

    store
        .delete_contact(&alice, created.id, None)
        .await
        .unwrap();
    assert!(matches!(
        store.get_contact(&alice, created.id).await,
        Err(StoreError::NotFound)
    ));
    let with_tombstones = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                limit: 10,
                include_deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(with_tombstones.items.len(), 1);
    assert!(with_tombstones.items[0].deleted_at.is_some());
}

#[tokio::test]
async fn groups_are_cards_with_members() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let riker = store
        .create_contact(
            &alice,
            book,
            &ContactPatch {
                first_name: Some(Some("William".into())),
                last_name: Some(Some("Riker".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let group = store
        .create_contact(
            &alice,
            book,
            &ContactPatch {
                kind: Some(CardKind::Group),
                display_name: Some(Some("Bridge Crew".into())),
                members: Some(vec![format!("urn:uuid:{}", riker.uid)]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(group.kind, CardKind::Group);
    assert_eq!(
        group.fields.members,
        vec![format!("urn:uuid:{}", riker.uid)]
    );
    assert!(group.vcard.contains("KIND:group"), "{}", group.vcard);
    let groups = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                kind: Some(CardKind::Group),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 1);
    assert_eq!(
        groups.items[0].fields.display_name.as_deref(),
        Some("Bridge Crew")
    );
}

#[tokio::test]
async fn paging_with_has_more() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    for i in 0..5 {
        store
            .put_vcard(
                &alice,
                book,
                &format!("c{i}.vcf"),
                &card(&format!("u{i}"), &format!("N{i}")),
                Precondition::None,
            )
            .await
            .unwrap();
    }
    let first = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.has_more);
    let mut seen: Vec<String> = first.items.iter().map(|c| c.uid.clone()).collect();
    let mut after = first.items.last().map(|c| c.id);
    loop {
        let page = store
            .list_contacts(
                &alice,
                &ContactListQuery {
                    limit: 2,
                    after_id: after,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.uid.clone()));
        after = page.items.last().map(|c| c.id);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, vec!["u0", "u1", "u2", "u3", "u4"]);
}

#[tokio::test]
async fn stale_etag_is_a_precondition_failure() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let first = store
        .put_vcard(
            &alice,
            book,
            "a.vcf",
            &card("uid-a", "Ann"),
            Precondition::IfNoneMatchAny,
        )
        .await
        .unwrap();
    assert!(first.created);
    let old_etag = first.record.etag.clone();
    let second = store
        .put_vcard(
            &alice,
            book,
            "a.vcf",
            &card("uid-a", "Anne"),
            Precondition::IfMatch(format!("\"{old_etag}\"")),
        )
        .await
        .unwrap();
    assert!(!second.created);

    let stale = store
        .put_vcard(
            &alice,
            book,
            "a.vcf",
            &card("uid-a", "Annie"),
            Precondition::IfMatch(old_etag.clone()),
        )
        .await;
    match stale {
        Err(StoreError::PreconditionFailed { current }) => {
            assert_eq!(current.as_deref(), Some(second.record.etag.as_str()))
        }
        other => panic!("expected a precondition failure, got {other:?}"),
    }
    let stale_patch = store
        .patch_contact(
            &alice,
            first.record.id,
            &ContactPatch {
                nickname: Some(Some("x".into())),
                ..Default::default()
            },
            Some(&old_etag),
        )
        .await;
    assert!(matches!(
        stale_patch,
        Err(StoreError::PreconditionFailed { .. })
    ));
    let create_over = store
        .put_vcard(
            &alice,
            book,
            "a.vcf",
            &card("uid-a", "Other"),
            Precondition::IfNoneMatchAny,
        )
        .await;
    assert!(matches!(
        create_over,
        Err(StoreError::PreconditionFailed { .. })
    ));
    // Nothing of the refused writes landed.
    let now = store.get_contact(&alice, first.record.id).await.unwrap();
    assert_eq!(now.fields.display_name.as_deref(), Some("Anne"));
    assert_eq!(now.etag, second.record.etag);
}

#[tokio::test]
async fn concurrent_writers_with_the_same_etag_exactly_one_wins() {
    let store = common::store().await;
    let other_pool = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    for round in 0..10 {
        let href = format!("race-{round}.vcf");
        let uid = format!("race-{round}");
        let base = store
            .put_vcard(&alice, book, &href, &card(&uid, "Base"), Precondition::None)
            .await
            .unwrap();
        let etag = Precondition::IfMatch(base.record.etag.clone());
        let (card_a, card_b) = (card(&uid, "Writer A"), card(&uid, "Writer B"));
        let (a, b) = tokio::join!(
            store.put_vcard(&alice, book, &href, &card_a, etag.clone()),
            other_pool.put_vcard(&alice, book, &href, &card_b, etag.clone()),
        );
        let winners = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(winners, 1, "round {round}: a={a:?} b={b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert!(matches!(loser, Err(StoreError::PreconditionFailed { .. })));
        let stored = store
            .get_contact_by_href(&alice, book, &href)
            .await
            .unwrap();
        let expected = if stored.fields.display_name.as_deref() == Some("Writer A") {
            "Writer A"
        } else {
            "Writer B"
        };
        assert_eq!(stored.fields.display_name.as_deref(), Some(expected));
    }
}

/// Writers no longer hold the book lock while they write, so two creates of one resource meet
/// in the unique index: the loser must still end up with an exact answer, never a 500.
#[tokio::test]
async fn concurrent_creates_of_one_resource_resolve_exactly() {
    let store = common::store().await;
    let other_pool = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    for round in 0..10 {
        // Both "If-None-Match: *": exactly one creates, the other is told the card exists.
        let (href, uid) = (format!("new-{round}.vcf"), format!("new-{round}"));
        let (card_a, card_b) = (card(&uid, "Writer A"), card(&uid, "Writer B"));
        let (a, b) = tokio::join!(
            store.put_vcard(&alice, book, &href, &card_a, Precondition::IfNoneMatchAny),
            other_pool.put_vcard(&alice, book, &href, &card_b, Precondition::IfNoneMatchAny),
        );
        assert_eq!(
            [&a, &b].iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: a={a:?} b={b:?}"
        );
        let loser = if a.is_ok() { b } else { a };
        assert!(
            matches!(loser, Err(StoreError::PreconditionFailed { .. })),
            "{loser:?}"
        );

        // Unconditional: both succeed, one as the create and one as the replace.
        let (href, uid) = (format!("free-{round}.vcf"), format!("free-{round}"));
        let (card_a, card_b) = (card(&uid, "Writer A"), card(&uid, "Writer B"));
        let (a, b) = tokio::join!(
            store.put_vcard(&alice, book, &href, &card_a, Precondition::None),
            other_pool.put_vcard(&alice, book, &href, &card_b, Precondition::None),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.created != b.created, "round {round}: exactly one create");
        let last = if a.record.revision > b.record.revision {
            a
        } else {
            b
        };
        let stored = store
            .get_contact_by_href(&alice, book, &href)
            .await
            .unwrap();
        assert_eq!(
            stored.etag, last.record.etag,
            "the later revision is stored"
        );

        // The same UID at two hrefs at once: one card, and a UID conflict for the other.
        let uid = format!("twin-{round}");
        let (card_a, card_b) = (card(&uid, "Twin A"), card(&uid, "Twin B"));
        let (href_a, href_b) = (format!("{uid}-a.vcf"), format!("{uid}-b.vcf"));
        let (a, b) = tokio::join!(
            store.put_vcard(&alice, book, &href_a, &card_a, Precondition::None),
            other_pool.put_vcard(&alice, book, &href_b, &card_b, Precondition::None),
        );
        let loser = match (&a, &b) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            _ => panic!("round {round}: a={a:?} b={b:?}"),
        };
        assert!(matches!(loser, StoreError::UidConflict { .. }), "{loser:?}");
    }
    // Every write above got its own revision and change row.
    let changes = store.changes_since(&alice, book, 0).await.unwrap();
    let mut revisions: Vec<i64> = changes.changes.iter().map(|c| c.revision).collect();
    revisions.dedup();
    assert_eq!(revisions.len(), changes.changes.len());
}

#[tokio::test]
async fn change_log_reports_puts_and_deletions_in_order() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let start = store.get_address_book(&alice, book).await.unwrap().revision;

    let a = store
        .put_vcard(&alice, book, "a.vcf", &card("a", "A"), Precondition::None)
        .await
        .unwrap();
    let b = store
        .put_vcard(&alice, book, "b.vcf", &card("b", "B"), Precondition::None)
        .await
        .unwrap();
    let mid = store.get_address_book(&alice, book).await.unwrap().revision;
    store
        .put_vcard(&alice, book, "a.vcf", &card("a", "A2"), Precondition::None)
        .await
        .unwrap();
    store
        .delete_contact(&alice, b.record.id, None)
        .await
        .unwrap();
    let c = store
        .put_vcard(&alice, book, "c.vcf", &card("c", "C"), Precondition::None)
        .await
        .unwrap();

    let all = store.changes_since(&alice, book, start).await.unwrap();
    let summary: Vec<(String, ChangeOp)> =
        all.changes.iter().map(|c| (c.href.clone(), c.op)).collect();
    assert_eq!(
        summary,
        vec![
            ("a.vcf".to_string(), ChangeOp::Put),
            ("b.vcf".to_string(), ChangeOp::Delete),
            ("c.vcf".to_string(), ChangeOp::Put),
        ]
    );
    assert_eq!(all.revision, c.record.revision);
    let revisions: Vec<i64> = all.changes.iter().map(|c| c.revision).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]));

    let since_mid = store.changes_since(&alice, book, mid).await.unwrap();
    assert_eq!(
        since_mid
            .upserts()
            .map(|c| c.contact_id)
            .collect::<Vec<_>>(),
        vec![a.record.id, c.record.id]
    );
    assert_eq!(
        since_mid
            .deletions()
            .map(|c| c.uid.as_str())
            .collect::<Vec<_>>(),
        vec!["b"]
    );

    let none = store
        .changes_since(&alice, book, all.revision)
        .await
        .unwrap();
    assert!(none.changes.is_empty());
    assert!(matches!(
        store.changes_since(&alice, book, all.revision + 1).await,
        Err(StoreError::InvalidSyncToken)
    ));
}

#[tokio::test]
async fn tenant_isolation() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let mallory = common::user(&store, "mallory").await;
    let alice_book = common::default_book(&store, &alice).await;
    let secret = store
        .put_vcard(
            &alice,
            alice_book,
            "secret.vcf",
            &card("secret", "Secret Person"),
            Precondition::None,
        )
        .await
        .unwrap()
        .record;
    let revision_before = store
        .get_address_book(&alice, alice_book)
        .await
        .unwrap()
        .revision;

    assert!(matches!(
        store.get_contact(&mallory, secret.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .get_contact_by_href(&mallory, alice_book, "secret.vcf")
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .get_contacts(&mallory, &[secret.id])
            .await
            .unwrap()
            .is_empty()
    );
    let listed = store
        .list_contacts(
            &mallory,
            &ContactListQuery {
                limit: 100,
                address_book_id: Some(alice_book),
                include_deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert!(matches!(
        store.get_address_book(&mallory, alice_book).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        !store
            .list_address_books(&mallory)
            .await
            .unwrap()
            .iter()
            .any(|b| b.id == alice_book)
    );
    assert!(matches!(
        store
            .patch_contact(
                &mallory,
                secret.id,
                &ContactPatch {
                    nickname: Some(Some("pwned".into())),
                    ..Default::default()
                },
                None
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_contact(&mallory, secret.id, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .delete_contact_by_href(&mallory, alice_book, "secret.vcf", Precondition::None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .put_vcard(
                &mallory,
                alice_book,
                "secret.vcf",
                &card("secret", "Overwritten"),
                Precondition::None
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.changes_since(&mallory, alice_book, 0).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_address_book(&mallory, alice_book).await,
        Err(StoreError::NotFound)
    ));

    // Alice's card and book are untouched.
    let after = store.get_contact(&alice, secret.id).await.unwrap();
    assert_eq!(after, secret);
    assert_eq!(
        store
            .get_address_book(&alice, alice_book)
            .await
            .unwrap()
            .revision,
        revision_before
    );
}

#[tokio::test]
async fn failed_writes_leave_nothing_behind() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    store
        .put_vcard(
            &alice,
            book,
            "one.vcf",
            &card("same-uid", "One"),
            Precondition::None,
        )
        .await
        .unwrap();
    let revision = store.get_address_book(&alice, book).await.unwrap().revision;

    // Same UID at another href: refused, naming the existing resource.
    match store
        .put_vcard(
            &alice,
            book,
            "two.vcf",
            &card("same-uid", "Two"),
            Precondition::None,
        )
        .await
    {
        Err(StoreError::UidConflict { existing_href, .. }) => assert_eq!(existing_href, "one.vcf"),
        other => panic!("expected a UID conflict, got {other:?}"),
    }
    // Malformed card.
    let broken = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Broken\r\n";
    assert!(matches!(
        store
            .put_vcard(&alice, book, "broken.vcf", broken, Precondition::None)
            .await,
        Err(StoreError::InvalidCard(_))
    ));
    // A card without UID.
    let no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n";
    assert!(matches!(
        store
            .put_vcard(&alice, book, "nouid.vcf", no_uid, Precondition::None)
            .await,
        Err(StoreError::Validation(_))
    ));
    // An invalid model value.
    let invalid = ContactPatch {
        emails: Some(vec![Email {
            label: None,
            kind: EmailKind::Primary,
            address: "   ".into(),
        }]),
        ..Default::default()
    };
    assert!(matches!(
        store.create_contact(&alice, book, &invalid).await,
        Err(StoreError::Validation(_))
    ));

    assert_eq!(
        store.get_address_book(&alice, book).await.unwrap().revision,
        revision
    );
    let all = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                limit: 100,
                include_deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.items[0].href, "one.vcf");
    assert_eq!(all.items[0].fields.display_name.as_deref(), Some("One"));
    assert_eq!(
        store
            .changes_since(&alice, book, revision)
            .await
            .unwrap()
            .changes
            .len(),
        0
    );
}

#[tokio::test]
async fn address_books_are_per_user_and_named_uniquely() {
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let books = store.list_address_books(&alice).await.unwrap();
    assert_eq!(books.len(), 1);
    assert_eq!(books[0].slug, "contacts");
    let work = store
        .create_address_book(&alice, "work", "Work", "colleagues")
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_address_book(&alice, "work", "Work again", "")
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create_address_book(&alice, "", "Empty", "").await,
        Err(StoreError::Validation(_))
    ));
    let renamed = store
        .update_address_book(&alice, work.id, Some("Office"), None)
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Office");
    assert_eq!(renamed.description, "colleagues");
    let books = store.list_address_books(&alice).await.unwrap();
    assert_eq!(
        books.iter().map(|b| b.slug.as_str()).collect::<Vec<_>>(),
        vec!["contacts", "work"]
    );
    store.delete_address_book(&alice, work.id).await.unwrap();
    assert_eq!(store.list_address_books(&alice).await.unwrap().len(), 1);
}

/// Change-log retention: entries older than the cutoff are dropped with their tombstones, a
/// token from before them is refused (the client starts over), and a token after them still
/// works.
#[tokio::test]
async fn old_changes_are_pruned_and_their_tokens_refused() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let store = common::store().await;
    let alice = common::user(&store, "prune").await;
    let book = common::default_book(&store, &alice).await;
    let start = store.get_address_book(&alice, book).await.unwrap().revision;
    store
        .put_vcard(
            &alice,
            book,
            "old.vcf",
            &card("old", "Old"),
            Precondition::None,
        )
        .await
        .unwrap();
    let gone = store
        .put_vcard(
            &alice,
            book,
            "gone.vcf",
            &card("gone", "Gone"),
            Precondition::None,
        )
        .await
        .unwrap();
    store
        .delete_contact(&alice, gone.record.id, None)
        .await
        .unwrap();
    let mid = store.get_address_book(&alice, book).await.unwrap().revision;
    store
        .put_vcard(
            &alice,
            book,
            "new.vcf",
            &card("new", "New"),
            Precondition::None,
        )
        .await
        .unwrap();
    // As if the first three writes were two months old. Only this book's rows: other tests
    // share the database and their fresh rows are below the cutoff's age.
    let mut conn = AsyncPgConnection::establish(&common::database_url())
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE changes SET changed_at = now() - interval '60 days' \
         WHERE address_book_id = {book} AND revision <= {mid}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE contacts SET deleted_at = now() - interval '60 days' \
         WHERE address_book_id = {book} AND deleted_at IS NOT NULL"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let pruned = store
        .prune_history(chrono::Utc::now() - chrono::Duration::days(30))
        .await
        .unwrap();
    assert!(pruned.changes >= 3 && pruned.tombstones >= 1, "{pruned:?}");
    assert!(matches!(
        store.changes_since(&alice, book, start).await,
        Err(StoreError::InvalidSyncToken)
    ));
    let since_mid = store.changes_since(&alice, book, mid).await.unwrap();
    assert_eq!(
        since_mid
            .changes
            .iter()
            .map(|c| c.href.as_str())
            .collect::<Vec<_>>(),
        ["new.vcf"]
    );
    // The live cards are untouched; only the tombstone is gone.
    let live = store.card_metas(&alice, book, None).await.unwrap();
    let mut names: Vec<&str> = live.iter().map(|c| c.href.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["new.vcf", "old.vcf"]);
}

/// A rename holds one pooled connection, never two: many at once on a small pool all succeed
/// instead of waiting on each other for a second connection.
#[tokio::test]
async fn concurrent_renames_need_one_connection_each() {
    let store = rolodex::store::Store::connect(
        &common::database_url(),
        &rolodex::db::PoolSettings {
            max_connections: 2,
            wait_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let alice = common::user(&store, "rename").await;
    let book = common::default_book(&store, &alice).await;
    let renames = (0..24).map(|i| {
        let (store, alice) = (store.clone(), alice.clone());
        tokio::spawn(async move {
            store
                .update_address_book(&alice, book, Some(&format!("Book {i}")), None)
                .await
        })
    });
    for rename in futures_util::future::join_all(renames).await {
        rename.unwrap().expect("rename");
    }
    let renamed = store.get_address_book(&alice, book).await.unwrap();
    assert!(renamed.display_name.starts_with("Book "));
    // Only the given value changes.
    store
        .update_address_book(&alice, book, None, Some("described"))
        .await
        .unwrap();
    let after = store.get_address_book(&alice, book).await.unwrap();
    assert_eq!(after.display_name, renamed.display_name);
    assert_eq!(after.description, "described");
}

/// Duplicate detection and merge through the store: the same person from Google and from an
/// iPhone is found (colleagues sharing a switchboard and two strangers sharing a name are
/// not), the merge keeps the primary's UID and href, loses nothing, moves group membership,
/// leaves tombstones every sync client sees, and a dismissal is remembered.
#[tokio::test]
async fn duplicates_are_found_merged_and_dismissed() {
    use rolodex::store::DuplicateQuery;
    let store = common::store().await;
    let alice = common::user(&store, "dedupe").await;
    let book = common::default_book(&store, &alice).await;
    let put = |href: &'static str, text: String| {
        let (store, alice) = (store.clone(), alice.clone());
        async move {
            store
                .put_vcard(&alice, book, href, &text, Precondition::None)
                .await
                .unwrap()
                .record
        }
    };
    let google = put(
        "google.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:google-maria\r\nFN:Maria García\r\nN:García;Maria;;;\r\n\
         EMAIL:MARIA.GARCIA@EXAMPLE.ORG\r\nTEL;TYPE=WORK:(415) 555-0101\r\nNOTE:from Google\r\nEND:VCARD\r\n"
            .to_owned(),
    )
    .await;
    let iphone = put(
        "iphone.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:iphone-maria\r\nFN:Maria Garcia\r\nN:Garcia;Maria;;;\r\n\
         EMAIL:maria.garcia@example.org\r\nTEL;TYPE=CELL:+1 415 555 0101\r\nTEL;TYPE=CELL:+1 415 555 0199\r\n\
         X-CUSTOM:iphone only\r\nEND:VCARD\r\n"
            .to_owned(),
    )
    .await;
    for (href, uid, name, email) in [
        (
            "alice.vcf",
            "alice-j",
            "Alice Johnson",
            "alice@acme.example",
        ),
        (
            "robert.vcf",
            "robert-l",
            "Robert Lee",
            "robert@acme.example",
        ),
    ] {
        put(
            href,
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{email}\r\n\
                 TEL;TYPE=WORK:+1 415 555 0000\r\nEND:VCARD\r\n"
            ),
        )
        .await;
    }
    put("smith1.vcf", card("smith-1", "John Smith")).await;
    put("smith2.vcf", card("smith-2", "John Smith")).await;
    let group = put(
        "friends.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:friends\r\nFN:Friends\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n\
         X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:iphone-maria\r\nEND:VCARD\r\n"
            .to_owned(),
    )
    .await;

    let query = DuplicateQuery {
        address_book_id: Some(book),
        across_books: false,
        min_score: 0.5,
        limit: None,
    };
    let sets = store.find_duplicates(&alice, &query).await.unwrap();
    assert_eq!(sets.len(), 1, "{sets:?}");
    let mut ids: Vec<i64> = sets[0].contacts.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut both = vec![google.id, iphone.id];
        both.sort_unstable();
        both
    });
    assert!(sets[0].score > 0.9);
    // Below the threshold, the same name alone shows up, weak.
    let all = store
        .find_duplicates(
            &alice,
            &DuplicateQuery {
                min_score: 0.0,
                ..query.clone()
            },
        )
        .await
        .unwrap();
    assert!(all.iter().any(
        |s| s.score < 0.5 && s.contacts[0].fields.display_name.as_deref() == Some("John Smith")
    ));

    let start = store.get_address_book(&alice, book).await.unwrap().revision;
    // A stale ETag refuses the whole merge.
    assert!(matches!(
        store
            .merge_contacts(
                &alice,
                &[google.id, iphone.id],
                Some(google.id),
                &["\"stale\"".to_owned(), iphone.etag.clone()]
            )
            .await,
        Err(StoreError::PreconditionFailed { .. })
    ));
    let merged = store
        .merge_contacts(
            &alice,
            &[google.id, iphone.id],
            Some(google.id),
            &[google.etag.clone(), iphone.etag.clone()],
        )
        .await
        .unwrap();
    assert_eq!(
        (merged.id, merged.uid.as_str(), merged.href.as_str()),
        (google.id, "google-maria", "google.vcf")
    );
    let text = &merged.vcard;
    assert_eq!(
        text.to_lowercase()
            .matches("maria.garcia@example.org")
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("+1 415 555 0199") && text.contains("X-CUSTOM:iphone only"),
        "{text}"
    );
    assert_eq!(
        merged.fields.phones.len(),
        2,
        "(415) 555-0101 and +1 415 555 0101 are one"
    );
    assert!(matches!(
        store.get_contact(&alice, iphone.id).await,
        Err(StoreError::NotFound)
    ));
    let group = store.get_contact(&alice, group.id).await.unwrap();
    assert!(
        group.vcard.contains("urn:uuid:google-maria") && !group.vcard.contains("iphone-maria"),
        "{}",
        group.vcard
    );
    // Sync clients see one update, the deletion and the group's update.
    let changes = store.changes_since(&alice, book, start).await.unwrap();
    let mut seen: Vec<(String, ChangeOp)> = changes
        .changes
        .iter()
        .map(|c| (c.href.clone(), c.op))
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            ("friends.vcf".to_owned(), ChangeOp::Put),
            ("google.vcf".to_owned(), ChangeOp::Put),
            ("iphone.vcf".to_owned(), ChangeOp::Delete)
        ]
    );
    assert!(
        store
            .find_duplicates(&alice, &query)
            .await
            .unwrap()
            .is_empty()
    );

    // Dismissed contacts are never suggested together again.
    let smiths: Vec<i64> = all
        .iter()
        .find(|s| s.contacts[0].fields.display_name.as_deref() == Some("John Smith"))
        .unwrap()
        .contacts
        .iter()
        .map(|c| c.id)
        .collect();
    store.dismiss_duplicates(&alice, &smiths).await.unwrap();
    // Read by a fresh store (its own pool, as a restarted server): the dismissal is stored.
    let restarted = common::store().await;
    let after = restarted
        .find_duplicates(
            &alice,
            &DuplicateQuery {
                min_score: 0.0,
                ..query.clone()
            },
        )
        .await
        .unwrap();
    assert!(
        after
            .iter()
            .all(|s| !s.contacts.iter().any(|c| smiths.contains(&c.id)))
    );
    // Another user's contacts cannot be merged or dismissed.
    let mallory = common::user(&store, "mallory").await;
    assert!(matches!(
        store.dismiss_duplicates(&mallory, &smiths).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.merge_contacts(&mallory, &smiths, None, &[]).await,
        Err(StoreError::NotFound)
    ));
}
