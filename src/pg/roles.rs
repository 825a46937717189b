//! Who connects to the managed cluster as what. The cluster's superuser (`rolodex`, created by
//! initdb) is used only here, at every start, to set the cluster up; the server, the CLI and
//! the migrations connect as [`APP_ROLE`], an ordinary login role that owns the `rolodex`
//! database and everything in it and nothing else.
//!
//! Why migrations run as the application role too: it owns the database, so it may create
//! tables, indexes and the trusted `pg_trgm` extension in it (trusted extensions need only
//! CREATE on the database, see the PostgreSQL 13+ `CREATE EXTENSION` docs), and every object a
//! migration creates is then owned by the role that uses it. What a superuser session could do
//! beyond that (read server files with `COPY ... FROM PROGRAM`, load C code, change other
//! roles) is out of reach of any SQL the server runs.
//!
//! Clusters created before this existed have the database and every table owned by the
//! superuser; [`ensure_app_role`] upgrades them in place on the next start: it creates the role
//! and hands it the database and each object in it (extension members excepted: they stay the
//! extension's owner's, which is how PostgreSQL keeps them).

use tokio_postgres::Client;

use super::PgError;

/// The role the application connects as: not a superuser, cannot create roles or databases.
pub(crate) const APP_ROLE: &str = "rolodex_app";

/// Creates [`APP_ROLE`] if missing (and takes any extra powers from it), makes it the owner of
/// `database` (creating that if missing). `admin` is a superuser session on another database.
/// Returns whether the database was created.
pub(crate) async fn ensure_app_role(admin: &Client, database: &str) -> Result<bool, PgError> {
    let db_err = |what: &str| {
        let what = what.to_owned();
        move |e| PgError::Db(what, e)
    };
    let exists = admin
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&APP_ROLE])
        .await
        .map_err(db_err("looking for the application role"))?
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE ROLE {APP_ROLE} LOGIN"))
            .await
            .map_err(db_err("creating the application role"))?;
        tracing::info!(role = APP_ROLE, "created the application role");
    }
    // Also for an existing role: whatever someone granted it by hand, it is only an owner.
    admin
        .batch_execute(&format!(
            "ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS"
        ))
        .await
        .map_err(db_err("restricting the application role"))?;

    let owner: Option<String> = admin
        .query_opt(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .await
        .map_err(db_err("looking for the database"))?
        .map(|row| row.get(0));
    // Identifiers below are constants of this module, no quoting concerns.
    match owner.as_deref() {
        None => {
            admin
                .batch_execute(&format!("CREATE DATABASE {database} OWNER {APP_ROLE}"))
                .await
                .map_err(db_err("creating the database"))?;
            tracing::info!(database, owner = APP_ROLE, "created the database");
            Ok(true)
        }
        Some(APP_ROLE) => Ok(false),
        Some(old) => {
            tracing::info!(
                database,
                from = old,
                to = APP_ROLE,
                "handing the database to the application role"
            );
            admin
                .batch_execute(&format!("ALTER DATABASE {database} OWNER TO {APP_ROLE}"))
                .await
                .map_err(db_err("changing the database's owner"))?;
            Ok(false)
        }
    }
}

/// Hands every object in the connected database that the application role does not own yet
/// (from a cluster created before it existed) to it; `admin` is a superuser session on that
/// database. Returns how many objects changed hands (0 on every start after the first).
pub(crate) async fn transfer_objects(admin: &Client) -> Result<u64, PgError> {
    let db_err = |e| PgError::Db("handing objects to the application role".into(), e);
    admin.batch_execute(TRANSFER).await.map_err(db_err)?;
    let row = admin
        .query_one("SELECT pg_temp.rolodex_transfer($1)", &[&APP_ROLE])
        .await
        .map_err(db_err)?;
    let moved: i64 = row.get(0);
    if moved > 0 {
        tracing::info!(
            objects = moved,
            role = APP_ROLE,
            "handed the database's objects to the application role"
        );
    }
    Ok(u64::try_from(moved).unwrap_or(0))
}

/// A function in `pg_temp` (gone with the session) that loops over the schemas,
/// relations, routines and types outside the system schemas that `$1` does not own and that
/// belong to no extension, and changes their owner. Sequences and indexes that belong to a
/// table (`pg_depend` 'a'/'i', e.g. identity columns) follow their table; `ALTER SEQUENCE` on
/// them would be refused. Schemas owned by `pg_database_owner` (`public` since PostgreSQL 15)
/// already belong to whoever owns the database.
const TRANSFER: &str = r#"
CREATE OR REPLACE FUNCTION pg_temp.rolodex_transfer(app name) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  r record;
  moved bigint := 0;
  app_oid oid := (SELECT oid FROM pg_roles WHERE rolname = app);
BEGIN
  FOR r IN
    SELECT n.nspname FROM pg_namespace n
    WHERE n.nspowner NOT IN (app_oid, 'pg_database_owner'::regrole)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, app);
    moved := moved + 1;
  END LOOP;
  FOR r IN
    SELECT c.oid::regclass AS name,
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                          ELSE 'TABLE' END AS kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND c.relowner <> app_oid
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.name, app);
    moved := moved + 1;
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proowner <> app_oid
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, app);
    moved := moved + 1;
  END LOOP;
  FOR r IN
    SELECT t.oid::regtype AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typowner <> app_oid
      AND (t.typtype IN ('e', 'd', 'r', 'm')
           OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.name, app);
    moved := moved + 1;
  END LOOP;
  RETURN moved;
END
$fn$
"#;
