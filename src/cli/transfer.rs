//! `import` and `export` of address books in the supported formats.

use super::{CliError, ExportArgs, ExportFormatArg, ImportArgs};
use crate::store::{
    AddressBook, DEFAULT_ADDRESS_BOOK, EXPORT_PAGE_CARDS, ExportFormat, ImportOptions, Principal,
    Store,
};

/// The user's principal and one of their address books (the default one unless named).
pub(super) async fn user_book(
    store: &Store,
    user_name: &str,
    slug: Option<&str>,
) -> Result<(Principal, AddressBook), CliError> {
    let principal = store
        .principal_for_user(user_name)
        .await
        .map_err(|source| CliError::User {
            user: user_name.to_owned(),
            source,
        })?;
    let slug = slug.unwrap_or(DEFAULT_ADDRESS_BOOK);
    let book = store
        .address_book_by_slug(&principal, slug)
        .await
        .map_err(|source| CliError::Book {
            user: user_name.to_owned(),
            slug: slug.to_owned(),
            source,
        })?;
    Ok((principal, book))
}

pub(super) async fn import(store: &Store, args: ImportArgs) -> Result<(), CliError> {
    let (principal, book) = user_book(store, &args.user, args.address_book.as_deref()).await?;
    let options = ImportOptions {
        dry_run: args.dry_run,
        ..ImportOptions::default()
    };
    let summary = crate::transfer::import_paths(
        store,
        &principal,
        book.id,
        &args.paths,
        &options,
        &mut std::io::stdout(),
    )
    .await?;
    if summary.skipped > 0 {
        return Err(CliError::Skipped {
            skipped: summary.skipped,
            dry_run: args.dry_run,
        });
    }
    Ok(())
}

pub(super) async fn export(store: &Store, args: ExportArgs) -> Result<(), CliError> {
    let (principal, book) = user_book(store, &args.user, args.address_book.as_deref()).await?;
    let format = match args.format {
        ExportFormatArg::Vcf3 => ExportFormat::VCard3,
        ExportFormatArg::Vcf4 => ExportFormat::VCard4,
        ExportFormatArg::DropJson => ExportFormat::DropJson,
        ExportFormatArg::Csv => ExportFormat::Csv,
    };
    // Written a page at a time: the export's memory does not grow with the book.
    let export = store
        .export(&principal, book.id, format, EXPORT_PAGE_CARDS)
        .await?;
    Ok(crate::transfer::write_export(export, args.output.as_deref()).await?)
}
