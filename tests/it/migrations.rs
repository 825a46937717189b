//! Every migration applies and reverts cleanly: up, all the way down, and up again, on a fresh
//! database of the test cluster.

use crate::common;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::MigrationHarness;

/// A new, empty database on the shared test cluster: the superuser's connection (creating a
/// database takes more than the application role may do, and it drops the database after),
/// the database's name and a URL to it.
async fn scratch_database(prefix: &str) -> (AsyncPgConnection, String, String) {
    let url = common::admin_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    // Same server, the new database.
    let db_url = common::url_with_database(&url, &name);
    (admin, name, db_url)
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_go_up_down_and_up_again() {
    let (mut admin, name, fresh_url) = scratch_database("migrations").await;

    let fresh = AsyncPgConnection::establish(&fresh_url).await.unwrap();
    let applied = tokio::task::spawn_blocking(move || {
        let mut harness = AsyncConnectionWrapper::<AsyncPgConnection>::from(fresh);
        let up = harness
            .run_pending_migrations(rolodex::db::MIGRATIONS)
            .unwrap()
            .len();
        let down = harness
            .revert_all_migrations(rolodex::db::MIGRATIONS)
            .unwrap()
            .len();
        let again = harness
            .run_pending_migrations(rolodex::db::MIGRATIONS)
            .unwrap()
            .len();
        (up, down, again)
    })
    .await
    .unwrap();
    assert!(applied.0 >= 3);
    assert_eq!(applied.0, applied.1, "not every migration reverted");
    assert_eq!(
        applied.0, applied.2,
        "migrations did not apply again after a full revert"
    );

    // The schema works after the round trip.
    let store = rolodex::store::Store::connect(&fresh_url, &Default::default())
        .await
        .unwrap();
    let hash = rolodex::auth::secret::hash_password("x").unwrap();
    store.create_user("after-roundtrip", &hash).await.unwrap();
    drop(store);
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// Migration 000004 adds `match_text`, which only the vCard parser can compute: cards stored
/// before it are indexed when the server migrates, and then found by a text query.
#[tokio::test(flavor = "multi_thread")]
async fn cards_stored_before_the_match_index_are_indexed_at_migrate() {
    use rolodex::store::{Precondition, TextCandidates};
    let store = common::store().await;
    let alice = common::user(&store, "alice").await;
    let book = common::default_book(&store, &alice).await;
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:old-card\r\nFN:Ödön Horváth\r\nEND:VCARD\r\n";
    store
        .put_vcard(&alice, book, "old.vcf", card, Precondition::None)
        .await
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&common::database_url())
        .await
        .unwrap();
    // As a database upgraded from before the migration looks.
    diesel::sql_query("UPDATE contacts SET match_text = NULL WHERE uid = 'old-card'")
        .execute(&mut conn)
        .await
        .unwrap();
    let needle = TextCandidates {
        any_of: vec![vec![rolodex::domain::text::casemap("HORVÁTH")]],
    };
    let before = store
        .card_metas_matching(&alice, book, &needle)
        .await
        .unwrap()
        .expect("the needle narrows");
    assert!(before.is_empty(), "an unindexed card cannot be a candidate");

    store.migrate().await.unwrap();
    let after = store
        .card_metas_matching(&alice, book, &needle)
        .await
        .unwrap()
        .expect("the needle narrows");
    assert_eq!(
        after.iter().map(|c| c.href.as_str()).collect::<Vec<_>>(),
        ["old.vcf"]
    );
}

/// Cards folded before σ, ς and Σ were made equal (migration 000008) are re-folded when the
/// server migrates: an upper-case Greek search, a search by email and a CardDAV text-match all
/// find them afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn cards_folded_before_the_final_sigma_fix_are_refolded_at_migrate() {
    use rolodex::store::{ContactFilter, ContactOrder, Precondition, TextCandidates};
    let store = common::store().await;
    let alice = common::user(&store, "sigma").await;
    let book = common::default_book(&store, &alice).await;
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:old-greek\r\nFN:Γιώργος Παπαδόπουλος\r\n\
                N:Παπαδόπουλος;Γιώργος;;;\r\nEMAIL:γιώργος@example.org\r\nEND:VCARD\r\n";
    store
        .put_vcard(&alice, book, "greek.vcf", card, Precondition::None)
        .await
        .unwrap();
    // As the old folds left them: a final sigma stays ς, and the row is marked for re-indexing
    // the way migration 000008 marks every non-ASCII card.
    let mut conn = AsyncPgConnection::establish(&common::database_url())
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE contacts SET match_text = NULL, \
           search_text = 'γιωργος παπαδοπουλος', sort_name = 'παπαδοπουλος γιωργος' \
         WHERE address_book_id = {book} AND uid = 'old-greek'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE contact_emails SET address_folded = 'γιώργος@example.org' WHERE contact_id IN \
         (SELECT id FROM contacts WHERE address_book_id = {book} AND uid = 'old-greek')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let search = |text: &str| ContactFilter {
        search: Some(text.to_owned()),
        ..ContactFilter::default()
    };
    let found = |filter: ContactFilter| {
        let (store, alice) = (store.clone(), alice.clone());
        async move {
            store
                .query_contacts(&alice, &filter, ContactOrder::default(), 0, 10)
                .await
                .unwrap()
                .records
                .len()
        }
    };
    assert_eq!(found(search("ΓΙΏΡΓΟΣ")).await, 0, "the old fold misses it");

    store.migrate().await.unwrap();
    assert_eq!(found(search("ΓΙΏΡΓΟΣ")).await, 1);
    assert_eq!(found(search("ΓΙΩΡΓΟΣ@EXAMPLE")).await, 1);
    let needle = TextCandidates {
        any_of: vec![vec![rolodex::domain::text::casemap("ΓΙΏΡΓΟΣ")]],
    };
    let candidates = store
        .card_metas_matching(&alice, book, &needle)
        .await
        .unwrap()
        .expect("the needle narrows");
    assert_eq!(candidates.len(), 1);
}

/// Cards written before migration 000012 get their birthday, anniversary, websites, related
/// people and labels read from the stored card when the server migrates.
#[tokio::test(flavor = "multi_thread")]
async fn cards_stored_before_details_get_them_at_migrate() {
    use rolodex::store::Precondition;
    let store = common::store().await;
    let alice = common::user(&store, "details").await;
    let book = common::default_book(&store, &alice).await;
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:old-details\r\nFN:Ann Smith\r\n\
                item1.EMAIL:ann@uni.example\r\nitem1.X-ABLabel:University\r\n\
                BDAY:1990-04-12\r\nitem2.X-ABRELATEDNAMES:Bob\r\n\
                item2.X-ABLabel:_$!<Spouse>!$_\r\nURL:https://ann.example\r\nEND:VCARD\r\n";
    store
        .put_vcard(&alice, book, "old.vcf", card, Precondition::None)
        .await
        .unwrap();
    let read = || {
        let (store, alice) = (store.clone(), alice.clone());
        async move {
            store
                .get_contact_by_href(&alice, book, "old.vcf")
                .await
                .unwrap()
                .fields
        }
    };
    let fresh = read().await;
    assert_eq!(fresh.emails[0].label.as_deref(), Some("University"));
    assert_eq!(fresh.details.related_people[0].name, "Bob");
    // As an older server left the row: no details column value, no labels.
    let mut conn = AsyncPgConnection::establish(&common::database_url())
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE contacts SET details = NULL WHERE address_book_id = {book} AND uid = 'old-details'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE contact_emails SET label = NULL WHERE contact_id IN \
         (SELECT id FROM contacts WHERE address_book_id = {book} AND uid = 'old-details')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let old = read().await;
    assert_eq!(old.emails[0].label, None);
    assert_eq!(old.details, Default::default());

    store.migrate().await.unwrap();
    let migrated = read().await;
    assert_eq!(migrated.emails, fresh.emails);
    assert_eq!(migrated.details, fresh.details);
    assert_eq!(
        migrated.details.birthday.map(|d| d.to_string()).as_deref(),
        Some("1990-04-12")
    );
}

/// Migration 000010 was added after 000011 had shipped: a database that already applied 000011
/// still gets 000010, because diesel applies every migration whose version is not recorded,
/// in version order, not only those after the newest one applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_migration_older_than_the_newest_applied_one_still_applies() {
    use diesel::migration::MigrationSource;
    use diesel::pg::Pg;
    let (mut admin, name, gap_url) = scratch_database("migrations_gap").await;
    let conn = AsyncPgConnection::establish(&gap_url).await.unwrap();
    let applied = tokio::task::spawn_blocking(move || {
        let mut harness = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        // As a database migrated before 000010 existed: everything else, 000011 included.
        let all = MigrationSource::<Pg>::migrations(&rolodex::db::MIGRATIONS).unwrap();
        // Creates diesel's bookkeeping table, as the first run of any migration does.
        assert!(harness.applied_migrations().unwrap().is_empty());
        for migration in &all {
            if !migration.name().to_string().contains("000010") {
                harness.run_migration(migration.as_ref()).unwrap();
            }
        }
        let pending: Vec<String> = harness
            .run_pending_migrations(rolodex::db::MIGRATIONS)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        pending
    })
    .await
    .unwrap();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert!(applied[0].contains("000010"), "{applied:?}");
    // Its table is there.
    let mut conn = AsyncPgConnection::establish(&gap_url).await.unwrap();
    diesel::sql_query(
        "SELECT id, address_book_id, contact_id, namespace, name, xml FROM dead_properties",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// A migration that fails is reported as a failed migration, naming it and PostgreSQL's
/// reason, by the store and by `rolodex migrate`: not as an unavailable database, which
/// would send an administrator looking at the network instead of the schema.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_is_reported_as_one() {
    let (mut admin, name, url) = scratch_database("broken_migration").await;
    // Something else already owns a table the first migration creates.
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query("CREATE TABLE users (not_ours INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);

    let store = rolodex::store::Store::connect(&url, &Default::default())
        .await
        .unwrap();
    let error = store.migrate().await.unwrap_err();
    assert!(
        matches!(error, rolodex::store::StoreError::Migration(_)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("migration failed: "), "{message}");
    assert!(message.contains("000001_accounts"), "{message}");
    assert!(message.contains("already exists"), "{message}");
    drop(store);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rolodex"))
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot bring the database up to date: migration failed: "),
        "{stderr}"
    );
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(!stderr.contains("unavailable"), "{stderr}");

    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
