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

/// The enum columns keep the words (and version numbers) every earlier version stored, so old
/// rows decode as they always did; a stored value no variant names (a newer server's, a hand
/// edit) fails the read with a typed error naming the column type and value, not a panic and not
/// a silent default.
#[tokio::test(flavor = "multi_thread")]
async fn enum_columns_keep_their_stored_words_and_refuse_unknown_ones() {
    use rolodex::domain::contact::CardKind;
    use rolodex::domain::vcard::CardVersion;
    use rolodex::store::{
        ChangeOp, ContactListQuery, CredentialKind, NewCredential, Precondition, Store, StoreError,
    };
    let (mut admin, name, url) = scratch_database("enum_words").await;
    let conn = AsyncPgConnection::establish(&url).await.unwrap();
    tokio::task::spawn_blocking(move || {
        AsyncConnectionWrapper::<AsyncPgConnection>::from(conn)
            .run_pending_migrations(rolodex::db::MIGRATIONS)
            .map(|applied| applied.len())
            .unwrap()
    })
    .await
    .unwrap();
    let store = Store::connect(&url, &Default::default()).await.unwrap();
    let hash = rolodex::auth::secret::hash_password("x").unwrap();
    store.create_user("words", &hash).await.unwrap();
    let alice = store.principal_for_user("words").await.unwrap();
    let book = store
        .address_book_by_slug(&alice, rolodex::store::DEFAULT_ADDRESS_BOOK)
        .await
        .unwrap()
        .id;
    let cards = [
        (
            "v21.vcf",
            "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Old;Android\r\nFN:Android Old\r\nTEL;CELL:+1 415 555 0110\r\nTEL;FAX:+1 415 555 0111\r\nEMAIL;INTERNET:old@example.org\r\nUID:v21\r\nEND:VCARD\r\n",
        ),
        (
            "v30.vcf",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Three;Ann;;;\r\nFN:Ann Three\r\nEMAIL;TYPE=INTERNET,PREF:ann@example.org\r\nEMAIL;TYPE=INTERNET:ann@work.example\r\nTEL;TYPE=HOME:+1 415 555 0120\r\nTEL;TYPE=WORK:+1 415 555 0121\r\nTEL;TYPE=PAGER:+1 415 555 0122\r\nTEL;TYPE=VOICE:+1 415 555 0123\r\nADR;TYPE=HOME:;;1 Main St;Springfield;;;\r\nADR;TYPE=WORK:;;2 Work Rd;Springfield;;;\r\nADR:;;3 Other Ln;Springfield;;;\r\nUID:v30\r\nEND:VCARD\r\n",
        ),
        (
            "v40.vcf",
            "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Crew\r\nMEMBER:urn:uuid:v30\r\nUID:v40\r\nEND:VCARD\r\n",
        ),
        (
            "gone.vcf",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Gone\r\nUID:gone\r\nEND:VCARD\r\n",
        ),
    ];
    for (href, card) in cards {
        store
            .put_vcard(&alice, book, href, card, Precondition::None)
            .await
            .unwrap();
    }
    store
        .delete_contact_by_href(&alice, book, "gone.vcf", Precondition::None)
        .await
        .unwrap();
    for (kind, secret) in [
        (CredentialKind::Token, "hash-token"),
        (CredentialKind::AppPassword, "hash-password"),
    ] {
        let credential = NewCredential {
            kind,
            label: "words",
            secret_hash: secret,
        };
        store
            .create_credential(&alice, credential, None)
            .await
            .unwrap();
    }

    // What is on disk: the same words as ever (migrations 000001, 000002).
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    assert_eq!(
        distinct_words(&mut conn, "SELECT vcard_version FROM contacts").await,
        "21,30,40"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT kind FROM contacts").await,
        "group,individual"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT kind FROM contact_emails").await,
        "alternate,primary"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT kind FROM contact_phones").await,
        "business,fax,home,mobile,other,pager"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT kind FROM contact_addresses").await,
        "business,home,other"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT kind FROM credentials").await,
        "app_password,token"
    );
    assert_eq!(
        distinct_words(&mut conn, "SELECT op FROM changes").await,
        "delete,put"
    );

    // And they read back as their variants.
    let listed = store
        .list_contacts(
            &alice,
            &ContactListQuery {
                address_book_id: Some(book),
                kind: None,
                include_deleted: true,
                after_id: None,
                limit: 10,
            },
        )
        .await
        .unwrap()
        .items;
    let versions: Vec<(&str, CardVersion, CardKind)> = listed
        .iter()
        .map(|r| (r.uid.as_str(), r.vcard_version, r.kind))
        .collect();
    assert_eq!(
        versions,
        [
            ("v21", CardVersion::V2_1, CardKind::Individual),
            ("v30", CardVersion::V3, CardKind::Individual),
            ("v40", CardVersion::V4, CardKind::Group),
            ("gone", CardVersion::V3, CardKind::Individual),
        ]
    );
    let changes = store.changes_since(&alice, book, 0).await.unwrap();
    assert_eq!(changes.deletions().count(), 1);
    assert_eq!(changes.upserts().count(), 3);
    let kinds: Vec<CredentialKind> = store
        .list_credentials(&alice)
        .await
        .unwrap()
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(kinds, [CredentialKind::Token, CredentialKind::AppPassword]);
    assert!(changes.changes.iter().any(|c| c.op == ChangeOp::Delete));

    // Values no variant names, as a newer server or a hand edit could leave them.
    for sql in [
        "ALTER TABLE contacts DROP CONSTRAINT contacts_vcard_version_check",
        "UPDATE contacts SET vcard_version = 22 WHERE uid = 'v21'",
        "ALTER TABLE contact_phones DROP CONSTRAINT contact_phones_kind_check",
        "UPDATE contact_phones SET kind = 'car' WHERE contact_id = \
         (SELECT id FROM contacts WHERE uid = 'v30') AND position = 0",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    for (href, named) in [
        ("v21.vcf", "vcard_version': stored CardVersion value \"22\""),
        ("v30.vcf", "kind': stored PhoneKind value \"car\""),
    ] {
        let error = store
            .get_contact_by_href(&alice, book, href)
            .await
            .unwrap_err();
        let StoreError::Database(diesel::result::Error::DeserializationError(cause)) = &error
        else {
            panic!("{href}: {error:?}");
        };
        // Diesel names the field; the cause beneath names the type and the value.
        let mut message = cause.to_string();
        let mut source = cause.source();
        while let Some(inner) = source {
            message = format!("{message}: {inner}");
            source = inner.source();
        }
        assert!(message.contains(named), "{href}: {message}");
    }
    // The card that holds no unknown value still reads.
    store
        .get_contact_by_href(&alice, book, "v40.vcf")
        .await
        .unwrap();

    drop((store, conn));
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// The distinct values the query's one column holds, as text, sorted and joined by commas.
async fn distinct_words(conn: &mut AsyncPgConnection, query: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Words {
        #[diesel(sql_type = diesel::sql_types::Text)]
        words: String,
    }
    diesel::sql_query(format!(
        "SELECT coalesce(string_agg(DISTINCT w::text, ',' ORDER BY w::text), '') AS words \
         FROM ({query}) AS t(w)"
    ))
    .get_result::<Words>(conn)
    .await
    .unwrap()
    .words
}

/// Several servers starting at once on a new database (a deployment of two processes, a rolling
/// upgrade): one applies the migrations, the others wait for it and find nothing left to do;
/// none fails on a table another just created.
#[tokio::test(flavor = "multi_thread")]
async fn servers_migrating_one_database_at_once_all_succeed() {
    use diesel::migration::MigrationSource;
    let (mut admin, name, url) = scratch_database("concurrent_migrate").await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { rolodex::db::run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().expect("every process migrates").len());
    }
    applied.sort_unstable();
    let all = MigrationSource::<diesel::pg::Pg>::migrations(&rolodex::db::MIGRATIONS)
        .unwrap()
        .len();
    assert_eq!(applied, [0, 0, 0, all], "migrations applied per process");

    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let recorded = diesel::sql_query("SELECT count(*) AS count FROM __diesel_schema_migrations")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .count;
    assert_eq!(usize::try_from(recorded).unwrap(), all);
    drop(conn);
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
