//! Rebuilds the crate when a migration is added or edited: `embed_migrations!` reads the
//! `migrations/` directory at compile time, and cargo would not notice a new one otherwise.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
