//! The integration suite, one test binary (`cargo test --test it`): linking the crate and
//! starting PostgreSQL once instead of once per file. Each module is one area, as its own
//! `//!` says; `common` is the harness (one cluster for the binary, a template database and a
//! fresh database per test, cleanup that survives a killed process), `ops_support` runs the
//! real `rolodex` binary, `dav_client` speaks CardDAV to the in-process router.
//!
//! Nothing here needs a process of its own, so there is no second binary: no test changes the
//! environment, working directory, umask or signal dispositions (the one piece of process-wide
//! state, `pg_managed`'s debug tracing subscriber, only adds log lines that libtest captures
//! per test and shows with a failure); the tests that need root say so and pass elsewhere, and
//! those that start clusters of their own do so in directories of their own.

mod common;
mod dav_client;
mod ops_support;

mod accounts;
mod backup;
mod cli;
mod cross_front_end;
mod dav;
mod dav_principals;
mod dav_props;
mod dav_rfc;
mod dav_transfer;
mod deploy;
mod graphql;
mod graphql_subscription;
mod hostile;
mod import_export;
mod interop_gql;
mod interop_vdirsyncer;
mod migrations;
mod ops;
mod pg_managed;
mod pg_roles;
mod pg_tls;
mod playground;
mod root_mode;
mod several_servers;
mod store;
mod vcard_roundtrip;
