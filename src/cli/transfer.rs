//! `import` and `export` of address books in the supported formats.

use super::{ExportArgs, ExportFormatArg, ImportArgs};
use crate::store::{
    AddressBook, DEFAULT_ADDRESS_BOOK, EXPORT_PAGE_CARDS, ExportFormat, ImportOptions, Principal,
    Store,
};

/// The user's principal and one of their address books (the default one unless named).
pub(super) async fn user_book(
    store: &Store,
    user_name: &str,
    slug: Option<&str>,
) -> Result<(Principal, AddressBook), String> {
    let principal = store
        .principal_for_user(user_name)
        .await
        .map_err(|e| format!("user {user_name:?}: {e}"))?;
    let slug = slug.unwrap_or(DEFAULT_ADDRESS_BOOK);
    let book = store
        .address_book_by_slug(&principal, slug)
        .await
        .map_err(|e| format!("address book {slug:?} of {user_name}: {e}"))?;
    Ok((principal, book))
}

pub(super) async fn import(store: &Store, args: ImportArgs) -> Result<(), String> {
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
        return Err(format!(
            "{} skipped (reasons above); everything else was {}",
            summary.skipped,
            if args.dry_run { "checked" } else { "imported" }
        ));
    }
    Ok(())
}

pub(super) async fn export(store: &Store, args: ExportArgs) -> Result<(), String> {
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
        .await
        .map_err(|e| e.to_string())?;
    crate::transfer::write_export(export, args.output.as_deref()).await
}
