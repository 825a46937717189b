//! Every migration applies and reverts cleanly: up, all the way down, and up again, on a fresh
//! database of the test cluster.

mod common;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::MigrationHarness;

#[tokio::test(flavor = "multi_thread")]
async fn migrations_go_up_down_and_up_again() {
    let url = common::database_url();
    let name = format!("migrations_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    // Same server, the new database: swap the path segment of the URL.
    let at = url
        .rfind("/rolodex")
        .expect("the test URL names database rolodex");
    let fresh_url = format!("{}/{name}{}", &url[..at], &url[at + "/rolodex".len()..]);

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
