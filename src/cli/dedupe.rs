//! `rolodex dedupe`: prints the duplicate sets of a user's address book and, with `--apply`,
//! merges each set into its most complete contact.

use super::CliError;
use super::transfer::user_book;
use crate::domain::dedupe::DuplicateReason;
use crate::store::{ContactRecord, DuplicateQuery, Store};

/// Flags of `rolodex dedupe`.
#[derive(Debug, clap::Args)]
pub(crate) struct DedupeArgs {
    /// The user whose address book is searched.
    #[arg(long)]
    user: String,
    /// Slug of the address book (default: "contacts").
    #[arg(long)]
    address_book: Option<String>,
    /// Report sets scoring at least this, in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    min_score: f64,
    /// Merge each set into its most complete contact (the first one printed).
    #[arg(long, conflicts_with = "dry_run")]
    apply: bool,
    /// Only report (the default).
    #[arg(long)]
    dry_run: bool,
}

fn reason(reason: &DuplicateReason) -> &'static str {
    match reason {
        DuplicateReason::SameEmail => "same email",
        DuplicateReason::SamePhone => "same phone",
        DuplicateReason::SameName => "same name",
        DuplicateReason::SimilarName => "similar name",
    }
}

fn label(contact: &ContactRecord) -> String {
    let name = contact
        .fields
        .display_name
        .clone()
        .unwrap_or_else(|| "(no name)".to_owned());
    match contact.fields.emails.first() {
        Some(email) => format!("{name} <{}>", email.address),
        None => name,
    }
}

pub(super) async fn dedupe(store: &Store, args: DedupeArgs) -> Result<(), CliError> {
    if !(0.0..=1.0).contains(&args.min_score) {
        return Err(CliError::MinScore);
    }
    let (principal, book) = user_book(store, &args.user, args.address_book.as_deref()).await?;
    let sets = store
        .find_duplicates(
            &principal,
            &DuplicateQuery {
                address_book_id: Some(book.id),
                across_books: false,
                min_score: args.min_score,
                limit: None,
            },
        )
        .await?;
    let mut merged_contacts = 0;
    for set in &sets {
        let reasons: Vec<&str> = set.reasons.iter().map(reason).collect();
        println!("score {:.2} ({})", set.score, reasons.join(", "));
        for (i, contact) in set.contacts.iter().enumerate() {
            let marker = if args.apply && i == 0 { "keep" } else { "    " };
            println!("  {marker} {}", label(contact));
        }
        if args.apply {
            let ids: Vec<i64> = set.contacts.iter().map(|c| c.id).collect();
            let etags: Vec<String> = set.contacts.iter().map(|c| c.etag.clone()).collect();
            store
                .merge_contacts(&principal, &ids, Some(ids[0]), &etags)
                .await
                .map_err(|source| CliError::Merge {
                    into: label(&set.contacts[0]),
                    source,
                })?;
            merged_contacts += ids.len();
        }
    }
    let contacts: usize = sets.iter().map(|s| s.contacts.len()).sum();
    if args.apply {
        println!(
            "{} sets, {merged_contacts} contacts merged into {}",
            sets.len(),
            sets.len()
        );
    } else {
        println!(
            "{} sets, {contacts} contacts (dry run: nothing changed; --apply merges them)",
            sets.len()
        );
    }
    Ok(())
}
