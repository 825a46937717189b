//! The managed cluster's roles, against the real PostgreSQL binaries: the server connects as
//! `rolodex_app`, which owns the `rolodex` database and everything in it but is no superuser,
//! and a cluster of an older rolodex (everything owned by the superuser, no such role) is
//! upgraded in place by the next start of the real CLI, its data intact.

use std::process::Command;

use rolodex::db::PoolSettings;
use rolodex::pg::ManagedPostgres;
use rolodex::store::{Precondition, Store};

const BIN: &str = env!("CARGO_BIN_EXE_rolodex");

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// Owners of the database and of every table and sequence in it, as `name=owner` lines.
async fn owners(admin: &tokio_postgres::Client) -> Vec<String> {
    admin
        .query(
            "SELECT 'database=' || pg_get_userbyid(datdba) FROM pg_database \
               WHERE datname = 'rolodex' \
             UNION ALL \
             SELECT c.relname || '=' || pg_get_userbyid(c.relowner) FROM pg_class c \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// What an application session may do: the role's attributes and a few superuser-only acts.
async fn assert_not_superuser(app: &tokio_postgres::Client) {
    let row = app
        .query_one(
            "SELECT current_user::text, rolsuper, rolcreaterole, rolcreatedb \
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "rolodex_app");
    assert!(!row.get::<_, bool>(1) && !row.get::<_, bool>(2) && !row.get::<_, bool>(3));
    for sql in [
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "SELECT pg_read_file('/etc/passwd')",
        "CREATE ROLE intruder SUPERUSER",
        "CREATE DATABASE other",
        "ALTER SYSTEM SET log_statement = 'all'",
    ] {
        let err = app.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
}

#[tokio::test]
async fn a_new_cluster_serves_the_application_as_a_plain_owner() {
    let dir = crate::common::temp_dir("pg-roles");
    let pg = ManagedPostgres::start(dir.path(), None)
        .await
        .expect("start");
    let store = Store::connect(&pg.database_url(), &PoolSettings::default())
        .await
        .unwrap();
    store
        .migrate()
        .await
        .expect("migrations run as the application role");
    let app = client(&pg.database_url()).await;
    assert_not_superuser(&app).await;
    let owners = owners(&client(&pg.superuser_url()).await).await;
    assert!(owners.len() > 5, "{owners:?}");
    assert!(
        owners.iter().all(|o| o.ends_with("=rolodex_app")),
        "{owners:?}"
    );
    drop(store);
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn a_cluster_of_an_older_version_is_upgraded_in_place() {
    let dir = crate::common::temp_dir("pg-roles");
    let data_dir = dir.path();
    let pg = ManagedPostgres::start(data_dir, None).await.expect("start");
    // Make it what earlier versions left: database, tables and the pg_trgm extension created by
    // the superuser, which the server also connected as; no application role.
    {
        let admin = client(&pg.superuser_url()).await;
        admin
            .batch_execute("REASSIGN OWNED BY rolodex_app TO rolodex; DROP ROLE rolodex_app")
            .await
            .unwrap();
        let store = Store::connect(&pg.superuser_url(), &PoolSettings::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let hash = rolodex::auth::secret::hash_password("old password").unwrap();
        store.create_user("old-alice", &hash).await.unwrap();
        let alice = store.principal_for_user("old-alice").await.unwrap();
        let book = store
            .address_book_by_slug(&alice, rolodex::store::DEFAULT_ADDRESS_BOOK)
            .await
            .unwrap();
        store
            .put_vcard(
                &alice,
                book.id,
                "ada.vcf",
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n",
                Precondition::None,
            )
            .await
            .unwrap();
        let owners = owners(&admin).await;
        assert!(owners.iter().all(|o| o.ends_with("=rolodex")), "{owners:?}");
    }
    pg.stop().await.unwrap();

    // The new version's CLI starts the cluster (upgrading it), migrates and works on it.
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let users = run(&["user", "list"]);
    assert!(users.contains("old-alice"), "{users}");
    run(&[
        "address-book",
        "create",
        "old-alice",
        "work",
        "--name",
        "Work",
    ]);
    let exported = run(&["export", "--user", "old-alice", "--format", "vcf3"]);
    assert!(exported.contains("FN:Ada Lovelace"), "{exported}");

    let pg = ManagedPostgres::start(data_dir, None)
        .await
        .expect("restart");
    let owners = owners(&client(&pg.superuser_url()).await).await;
    assert!(owners.len() > 5, "{owners:?}");
    assert!(
        owners.iter().all(|o| o.ends_with("=rolodex_app")),
        "{owners:?}"
    );
    let app = client(&pg.database_url()).await;
    assert_not_superuser(&app).await;
    let cards: i64 = app
        .query_one("SELECT count(*) FROM contacts WHERE uid = 'ada'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(cards, 1);
    pg.stop().await.unwrap();
}
