//! `address-book`: list, create, rename and delete a user's address books from the server's
//! command line (the owner can do the same through GraphQL, and CardDAV clients with MKCOL).
//! `import --address-book SLUG` needs the book to exist: this is how it comes to.

use clap::Subcommand;

use crate::store::{AddressBook, Principal, Store, StoreError};

#[derive(Debug, Subcommand)]
pub(crate) enum AddressBookCommand {
    /// List a user's address books, the default one first, one per line: slug, display name,
    /// number of cards (tab-separated).
    List { name: String },
    /// Create an address book for a user; SLUG is the last segment of its CardDAV URL.
    Create {
        name: String,
        slug: String,
        /// The name clients show (default: the slug).
        #[arg(long = "name", value_name = "DISPLAY_NAME")]
        display_name: Option<String>,
    },
    /// Change the name clients show for an address book.
    Rename {
        name: String,
        slug: String,
        /// The new display name.
        #[arg(long = "name", value_name = "DISPLAY_NAME")]
        display_name: String,
    },
    /// Delete an address book and every card in it. Refused without --yes.
    Delete {
        name: String,
        slug: String,
        /// Confirm: the book and its cards are deleted, for good.
        #[arg(long)]
        yes: bool,
    },
}

/// Why an address-book command failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum BookError {
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("user {user} has no address book {slug:?}")]
    NoSuchBook { user: String, slug: String },
    #[error(
        "refusing to delete address book {slug} of {user} with {cards} card(s): add --yes to \
         confirm"
    )]
    NotConfirmed {
        user: String,
        slug: String,
        cards: i64,
    },
    #[error("user {user:?}: {source}")]
    Store { user: String, source: StoreError },
}

pub(super) async fn address_book(
    store: &Store,
    command: AddressBookCommand,
) -> Result<(), BookError> {
    run(store, command).await
}

/// Store errors of `user`'s book `slug`, where NotFound means the book does not exist.
fn book_error(user: &str, slug: &str) -> impl FnOnce(StoreError) -> BookError {
    let (user, slug) = (user.to_owned(), slug.to_owned());
    move |source| match source {
        StoreError::NotFound => BookError::NoSuchBook { user, slug },
        source => BookError::Store { user, source },
    }
}

async fn owner(store: &Store, name: &str) -> Result<Principal, BookError> {
    store
        .principal_for_user(name)
        .await
        .map_err(|source| match source {
            StoreError::NotFound => BookError::NoSuchUser(name.to_owned()),
            source => BookError::Store {
                user: name.to_owned(),
                source,
            },
        })
}

async fn book(store: &Store, owner: &Principal, slug: &str) -> Result<AddressBook, BookError> {
    store
        .address_book_by_slug(owner, slug)
        .await
        .map_err(book_error(&owner.user_name, slug))
}

async fn cards_in(store: &Store, owner: &Principal, book: i64) -> Result<i64, BookError> {
    let counts = store
        .address_book_card_counts(owner)
        .await
        .map_err(book_error(&owner.user_name, ""))?;
    Ok(counts.get(&book).copied().unwrap_or(0))
}

async fn run(store: &Store, command: AddressBookCommand) -> Result<(), BookError> {
    match command {
        AddressBookCommand::List { name } => {
            let owner = owner(store, &name).await?;
            let books = store
                .list_address_books(&owner)
                .await
                .map_err(book_error(&name, ""))?;
            let counts = store
                .address_book_card_counts(&owner)
                .await
                .map_err(book_error(&name, ""))?;
            for book in books {
                let cards = counts.get(&book.id).copied().unwrap_or(0);
                println!("{}\t{}\t{cards}", book.slug, book.display_name);
            }
        }
        AddressBookCommand::Create {
            name,
            slug,
            display_name,
        } => {
            let owner = owner(store, &name).await?;
            let display_name = display_name.unwrap_or_else(|| slug.clone());
            let book = store
                .create_address_book(&owner, &slug, &display_name, "")
                .await
                .map_err(book_error(&name, &slug))?;
            tracing::info!(user = %name, slug = %book.slug, "address book created");
            println!(
                "created address book {} ({:?}) of {name}: /dav/addressbooks/{name}/{}/",
                book.slug, book.display_name, book.slug
            );
        }
        AddressBookCommand::Rename {
            name,
            slug,
            display_name,
        } => {
            let owner = owner(store, &name).await?;
            let found = book(store, &owner, &slug).await?;
            let renamed = store
                .update_address_book(&owner, found.id, Some(&display_name), None)
                .await
                .map_err(book_error(&name, &slug))?;
            println!(
                "address book {slug} of {name} is now called {:?}",
                renamed.display_name
            );
        }
        AddressBookCommand::Delete { name, slug, yes } => {
            let owner = owner(store, &name).await?;
            let found = book(store, &owner, &slug).await?;
            let cards = cards_in(store, &owner, found.id).await?;
            if !yes {
                return Err(BookError::NotConfirmed {
                    user: name,
                    slug,
                    cards,
                });
            }
            store
                .delete_address_book(&owner, found.id)
                .await
                .map_err(book_error(&name, &slug))?;
            tracing::info!(user = %name, slug = %slug, cards, "address book deleted");
            println!("deleted address book {slug} of {name} with {cards} card(s)");
        }
    }
    Ok(())
}
