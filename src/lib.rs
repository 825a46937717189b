//! Rolodex: a self-hosted contacts server. One PostgreSQL-backed record store, two front ends
//! (GraphQL and CardDAV) serving the same records.
//!
//! # Layout
//!
//! - [`cli`]: the `rolodex` command line (`src/main.rs` only calls it).
//! - [`config`]: settings from flags, `ROLODEX_*` environment variables and a TOML file.
//! - [`limits`]: every limit on what one request may cost, with its default.
//! - [`telemetry`]: logging setup.
//! - [`app`]: shared state and the router mounting every front end.
//! - [`home`]: the page at `/` for a browser, naming the front ends.
//! - [`pg`]: the managed local PostgreSQL (the embedded default).
//! - [`auth`]: Basic/Bearer authentication, password and token hashing.
//! - [`domain`]: pure model and rules: contacts, the vCard mapping, phones, ETags.
//! - [`store`]: the application service both front ends call; owns transactions and tenancy.
//! - [`db`]: diesel schema, rows and the pool; used only by `store`.
//! - [`graphql`]: front end 1, the GraphQL API and playground over the store.
//! - [`dav`]: front end 2, CardDAV (RFC 6352) over the store; `dav::xml` is pure quick-xml.
//! - [`transfer`]: import files on disk (vdirs, format detection), progress bar and summary.
//!
//! Dependencies point one way: front ends -> `store`, `domain`, `auth`; `store` -> `db`,
//! `domain`; `domain` -> nothing inside the crate.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dav;
pub mod db;
pub mod domain;
pub mod download;
#[cfg(test)]
pub(crate) mod fuzzing;
pub mod graphql;
pub mod home;
pub mod limits;
pub mod pg;
pub mod store;
pub mod telemetry;
pub mod transfer;
