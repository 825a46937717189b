//! Duplicate-detection benchmark: a generated address book of N people in which some were
//! entered two or three times (from "different sources": other case, other phone format,
//! accents dropped, name words swapped, a short first name), together with the traps a
//! detector must not fall into (colleagues sharing a switchboard number, strangers sharing a
//! name). Imports it, times `find_duplicates`, and scores the answer against the known sets:
//! precision and recall over pairs. `bench/dedupe` runs it at 10,000 and 100,000 contacts.
//!
//! ```text
//! cargo run --release --example dedupe_bench -- 10000 100000   # managed PostgreSQL, temp dir
//! DATABASE_URL=postgres://... cargo run --release --example dedupe_bench -- 10000
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Instant;

use rolodex::db::PoolSettings;
use rolodex::pg::ManagedPostgres;
use rolodex::store::{DEFAULT_ADDRESS_BOOK, DuplicateQuery, ImportOptions, Store};

const FIRST: [&str; 40] = [
    "Maria",
    "José",
    "Jonathan",
    "Zoë",
    "Aisha",
    "Kenji",
    "Olga",
    "Pedro",
    "Léa",
    "Ahmed",
    "Chloé",
    "Lars",
    "Ana",
    "Björn",
    "Fatima",
    "Hiroshi",
    "Ingrid",
    "Jamal",
    "Katarzyna",
    "Luca",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samuel",
    "Tomás",
    "Uma",
    "Victor",
    "Wanda",
    "Xavier",
    "Yusuf",
    "Zara",
    "Elena",
    "François",
    "Greta",
    "Hugo",
    "Irene",
    "Jürgen",
];
const SYLLABLES: [&str; 30] = [
    "gar", "cía", "ber", "mül", "ler", "son", "nak", "ova", "ros", "tan", "vel", "din", "kar",
    "lin", "mor", "nes", "pol", "que", "rin", "sal", "tor", "ull", "var", "wes", "yam", "zel",
    "bro", "cha", "dun", "fel",
];

/// A generated person: one name, one email, one phone.
struct Person {
    first: String,
    last: String,
    email: String,
    phone: u64,
}

fn person(i: usize) -> Person {
    let first = FIRST[i % FIRST.len()].to_owned();
    let a = SYLLABLES[(i / FIRST.len()) % SYLLABLES.len()];
    let b = SYLLABLES[(i / (FIRST.len() * SYLLABLES.len())) % SYLLABLES.len()];
    let c = SYLLABLES[(i / 7 + i / 13) % SYLLABLES.len()];
    let mut last: String = format!("{a}{b}{c}");
    if let Some(initial) = last.get_mut(0..1) {
        initial.make_ascii_uppercase();
    }
    let email = format!(
        "{}.{}{}@example.org",
        rolodex::domain::text::fold(&first),
        rolodex::domain::text::fold(&last),
        i
    );
    Person {
        first,
        last,
        email,
        phone: 4_155_000_000 + i as u64 * 7 % 9_999_999,
    }
}

fn card(uid: &str, first: &str, last: &str, email: Option<&str>, tel: Option<&str>) -> String {
    let mut text = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n"
    );
    if let Some(email) = email {
        let _ = write!(text, "EMAIL;TYPE=INTERNET:{email}\r\n");
    }
    if let Some(tel) = tel {
        let _ = write!(text, "TEL;TYPE=CELL:{tel}\r\n");
    }
    text.push_str("END:VCARD\r\n");
    text
}

fn strip_accents(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

/// The book's text and the known duplicate sets (by UID).
fn generated_book(people: usize) -> (String, Vec<Vec<String>>) {
    let mut text = String::with_capacity(people * 220);
    let mut truth: Vec<Vec<String>> = Vec::new();
    for i in 0..people {
        let p = person(i);
        let uid = format!("p{i}");
        let e164 = format!(
            "+1 {} {:03} {:04}",
            p.phone / 10_000_000,
            p.phone / 10_000 % 1000,
            p.phone % 10_000
        );
        text.push_str(&card(&uid, &p.first, &p.last, Some(&p.email), Some(&e164)));
        let national = format!(
            "({}) {}-{:04}",
            p.phone / 10_000_000 % 1000,
            p.phone / 10_000 % 1000,
            p.phone % 10_000
        );
        // One person in twenty was entered again from another source.
        match i % 100 {
            0..=1 => {
                // Google-style: other case, national format, accents dropped.
                text.push_str(&card(
                    &format!("{uid}-g"),
                    &strip_accents(&p.first),
                    &strip_accents(&p.last),
                    Some(&p.email.to_uppercase()),
                    Some(&national),
                ));
                truth.push(vec![uid.clone(), format!("{uid}-g")]);
            }
            2 => {
                // Name words swapped, same phone, no email.
                text.push_str(&card(
                    &format!("{uid}-s"),
                    &p.last,
                    &p.first,
                    None,
                    Some(&national),
                ));
                truth.push(vec![uid.clone(), format!("{uid}-s")]);
            }
            3 => {
                // A short first name and the same email.
                let short: String = p.first.chars().take(3).collect();
                text.push_str(&card(
                    &format!("{uid}-n"),
                    &short,
                    &p.last,
                    Some(&p.email),
                    None,
                ));
                truth.push(vec![uid.clone(), format!("{uid}-n")]);
            }
            4 => {
                // Three sources.
                text.push_str(&card(
                    &format!("{uid}-g"),
                    &strip_accents(&p.first),
                    &strip_accents(&p.last),
                    Some(&p.email.to_uppercase()),
                    None,
                ));
                text.push_str(&card(
                    &format!("{uid}-s"),
                    &p.last,
                    &p.first,
                    None,
                    Some(&national),
                ));
                truth.push(vec![uid.clone(), format!("{uid}-g"), format!("{uid}-s")]);
            }
            // Traps. Colleagues: five people of one company share its switchboard number.
            50..=54 => {
                let switchboard = format!("+1 650 555 {:04}", i / 100 % 10_000);
                let colleague = person(i + 1_000_003);
                text.push_str(&card(
                    &format!("{uid}-c"),
                    &colleague.first,
                    &colleague.last,
                    Some(&colleague.email),
                    Some(&switchboard),
                ));
            }
            // A stranger with the same name.
            60 => {
                let stranger = person(i + 2_000_003);
                text.push_str(&card(
                    &format!("{uid}-x"),
                    &p.first,
                    &p.last,
                    Some(&stranger.email),
                    None,
                ));
            }
            _ => {}
        }
    }
    (text, truth)
}

fn pairs_of(sets: &[Vec<String>]) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for set in sets {
        for (i, a) in set.iter().enumerate() {
            for b in &set[i + 1..] {
                out.insert(if a < b {
                    (a.clone(), b.clone())
                } else {
                    (b.clone(), a.clone())
                });
            }
        }
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    let work = tempfile::Builder::new()
        .prefix("rolodex-dedupe-bench-")
        .tempdir()?;
    let (url, managed) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let pg = ManagedPostgres::start(work.path(), None).await?;
            (pg.database_url(), Some(pg))
        }
    };
    let store = Store::connect(&url, &PoolSettings::default()).await?;
    store.migrate().await?;
    println!(
        "| people | contacts | duplicate sets (known) | sets found | precision | recall | find_duplicates |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for people in sizes {
        let name = format!("dedupe-{people}-{}", uuid::Uuid::new_v4().simple());
        let hash = rolodex::auth::secret::hash_password("bench")?;
        store.create_user(&name, &hash).await?;
        let principal = store.principal_for_user(&name).await?;
        let book = store
            .address_book_by_slug(&principal, DEFAULT_ADDRESS_BOOK)
            .await?;
        let (text, truth) = generated_book(people);
        let entries =
            rolodex::domain::formats::read(rolodex::domain::formats::Format::VCard, &text)?;
        let contacts = entries.len();
        store
            .import_entries(
                &principal,
                book.id,
                entries,
                &ImportOptions::default(),
                &mut |_| {},
            )
            .await?;
        let query = DuplicateQuery {
            address_book_id: Some(book.id),
            across_books: false,
            min_score: 0.5,
            limit: None,
        };
        // One warm-up, then the median of five.
        store.find_duplicates(&principal, &query).await?;
        let mut times = Vec::new();
        let mut found = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            found = store.find_duplicates(&principal, &query).await?;
            times.push(started.elapsed());
        }
        times.sort();
        let found_sets: Vec<Vec<String>> = found
            .iter()
            .map(|s| s.contacts.iter().map(|c| c.uid.clone()).collect())
            .collect();
        let (expected, got) = (pairs_of(&truth), pairs_of(&found_sets));
        let hits = got.intersection(&expected).count();
        if std::env::var("DEDUPE_BENCH_SHOW_MISSES").is_ok() {
            for (a, b) in expected.difference(&got).take(10) {
                eprintln!("missed: {a} {b}");
            }
            for (a, b) in got.difference(&expected).take(10) {
                eprintln!("wrong: {a} {b}");
            }
        }
        let precision = if got.is_empty() {
            1.0
        } else {
            hits as f64 / got.len() as f64
        };
        let recall = hits as f64 / expected.len().max(1) as f64;
        println!(
            "| {people} | {contacts} | {} | {} | {:.3} | {:.3} | {:.0} ms |",
            truth.len(),
            found.len(),
            precision,
            recall,
            times[times.len() / 2].as_secs_f64() * 1000.0
        );
    }
    drop(store);
    if let Some(pg) = managed {
        pg.stop().await?;
    }
    Ok(())
}
