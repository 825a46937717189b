//! Import benchmark: generates a vCard file of 10,000 realistic cards (names, organization, two
//! emails, two phone numbers, an address, a note, categories), imports it through the same path
//! as `rolodex import` (file reading, format detection, batched store writes), then imports it
//! again (everything unchanged). Prints the times; the numbers are in the README.
//!
//! ```text
//! cargo run --release --example import_bench            # managed PostgreSQL in a temp dir
//! DATABASE_URL=postgres://... cargo run --release --example import_bench
//! cargo run --release --example import_bench -- 20000   # another card count
//! cargo run --release --example import_bench -- 10000 1 # one card per transaction
//! ```

use std::fmt::Write as _;
use std::time::Instant;

use rolodex::db::PoolSettings;
use rolodex::pg::ManagedPostgres;
use rolodex::store::{DEFAULT_ADDRESS_BOOK, ImportOptions, Store};

const FIRST: [&str; 12] = [
    "Ada",
    "Alan",
    "Grace",
    "Hedy",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Edsger",
    "Frances",
    "Ken",
];
const LAST: [&str; 12] = [
    "Lovelace", "Turing", "Hopper", "Lamarr", "Johnson", "Torvalds", "Hamilton", "Ritchie",
    "Liskov", "Dijkstra", "Allen", "Thompson",
];
const CITIES: [&str; 6] = ["Berlin", "London", "Paris", "Zürich", "Boston", "Kyoto"];

fn cards(count: usize) -> String {
    let mut text = String::with_capacity(count * 520);
    for i in 0..count {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len()) % LAST.len()];
        let city = CITIES[i % CITIES.len()];
        let _ = write!(
            text,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//Mac OS X 14.4//EN\r\n\
             N:{last};{first};;;\r\nFN:{first} {last} {i}\r\nORG:Example Corp {n};Engineering\r\n\
             TITLE:Engineer\r\nEMAIL;type=INTERNET;type=pref:{f}.{l}.{i}@example.org\r\n\
             EMAIL;type=INTERNET;type=WORK:{f}{i}@work.example.com\r\n\
             TEL;type=CELL;type=pref:+1 415 555 {p:04}\r\nTEL;type=WORK:+49 30 {w:07}\r\n\
             ADR;type=HOME:;;{i} Main Street;{city};;{z:05};Country\r\n\
             NOTE:Generated card {i} for the import benchmark.\r\nCATEGORIES:Bench,Team {t}\r\n\
             UID:bench-{i:06}\r\nEND:VCARD\r\n",
            n = i % 97,
            f = first.to_lowercase(),
            l = last.to_lowercase(),
            p = i % 10_000,
            w = 1_000_000 + i,
            z = 10_000 + i % 80_000,
            t = i % 10,
        );
    }
    text
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let batch_size: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(rolodex::store::DEFAULT_BATCH_SIZE);
    let work = tempfile::Builder::new()
        .prefix("rolodex-bench-")
        .tempdir()?;
    // The managed cluster runs as an unprivileged user when we are root.
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let (url, managed) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let pg = ManagedPostgres::start(&work.path().join("pg"), None).await?;
            (pg.database_url(), Some(pg))
        }
    };
    let store = Store::connect(&url, &PoolSettings::default()).await?;
    store.migrate().await?;
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let hash = rolodex::auth::secret::hash_password("bench password")?;
    store.create_user(&name, &hash).await?;
    let principal = store.principal_for_user(&name).await?;
    let book = store
        .address_book_by_slug(&principal, DEFAULT_ADDRESS_BOOK)
        .await?;

    let path = work.path().join("bench.vcf");
    std::fs::write(&path, cards(count))?;
    println!(
        "{count} cards, {:.1} MB, {batch_size} cards per transaction, {} cores",
        std::fs::metadata(&path)?.len() as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let paths = [path];
    let options = ImportOptions {
        batch_size,
        ..ImportOptions::default()
    };
    for label in ["first import", "re-import (all unchanged)"] {
        let start = Instant::now();
        let summary = rolodex::transfer::import_paths(
            &store,
            &principal,
            book.id,
            &paths,
            &options,
            &mut std::io::sink(),
        )
        .await?;
        println!(
            "{label}: {:.2} s ({})",
            start.elapsed().as_secs_f64(),
            summary.line(false)
        );
    }
    drop(store);
    if let Some(pg) = managed {
        pg.stop().await?;
    }
    Ok(())
}
