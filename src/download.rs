//! `GET /export/{book}?format=vcf3|vcf4|drop-json|csv`: an address book exported as a download,
//! the same bytes as `rolodex export` and GraphQL's `exportContacts` (`Store::export`), written
//! to the response a page of cards at a time. GraphQL's field answers one JSON string, so the
//! server holds the whole text and its serialized copy (up to `graphql_max_export_bytes`);
//! this holds a page or two of cards whatever the size of the book (20 MiB of RSS at a
//! million cards, bench/results/memory.md).
//!
//! Authenticated like every route (HTTP Basic with a password or app password, or a Bearer
//! token); a book that is not the user's, or none, is 404. Exports share one cap on how many
//! run at once with `exportContacts` ([`ExportPermits`], `graphql_max_concurrent_exports`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Authenticator;
use crate::auth::extract::Authenticated;
use crate::limits::Limits;
use crate::store::{EXPORT_PAGE_CARDS, ExportFormat, Store, StoreError};

/// How long an export waits for one of the permits before it is refused.
pub const EXPORT_WAIT: Duration = Duration::from_secs(30);

/// Permits for whole-book exports running at once, across all users and both routes (each
/// keeps PostgreSQL and the CPU busy for the length of a book, and GraphQL's holds the whole
/// text).
#[derive(Clone)]
pub struct ExportPermits(Arc<Semaphore>);

impl ExportPermits {
    pub fn new(limits: &Limits) -> ExportPermits {
        ExportPermits(Arc::new(Semaphore::new(
            limits.graphql_max_concurrent_exports.max(1),
        )))
    }

    /// A permit, waiting at most [`EXPORT_WAIT`]; `None` when none came free.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(EXPORT_WAIT, Arc::clone(&self.0).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Store: FromRef<S>,
    Authenticator: FromRef<S>,
    ExportPermits: FromRef<S>,
{
    Router::new().route("/export/{book}", get(download))
}

#[derive(Debug, Deserialize)]
struct Format {
    /// `vcf3`, `vcf4` (the default), `drop-json` or `csv`.
    format: Option<String>,
}

async fn download(
    State(store): State<Store>,
    State(permits): State<ExportPermits>,
    caller: Authenticated,
    Path(slug): Path<String>,
    Query(query): Query<Format>,
) -> Response {
    let Some(format) = query
        .format
        .as_deref()
        .map_or(Some(ExportFormat::VCard4), ExportFormat::parse)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "unknown format: use vcf3, vcf4, drop-json or csv\n",
        )
            .into_response();
    };
    let principal = caller.principal;
    let book = match store.address_book_by_slug(&principal, &slug).await {
        Ok(book) => book,
        Err(error) => return refused(&error),
    };
    let Some(permit) = permits.acquire().await else {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many exports are running; try again shortly\n",
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    let export = match store
        .export(&principal, book.id, format, EXPORT_PAGE_CARDS)
        .await
    {
        Ok(export) => export,
        Err(error) => return refused(&error),
    };
    // The permit goes with the body: it is given back when the last page is sent, or when
    // the client goes away.
    let stream = futures_util::stream::unfold(Some((export, permit)), |state| async move {
        let (mut export, permit) = state?;
        match export.next_chunk().await {
            Ok(Some(chunk)) => Some((
                Ok::<Bytes, std::io::Error>(Bytes::from(chunk)),
                Some((export, permit)),
            )),
            Ok(None) => None,
            Err(error) => {
                // The 200 is sent: the body is cut off here, so the client sees a failed
                // transfer rather than a short export.
                tracing::warn!(%error, "export download cut off by a store error");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.{}\"",
        file_stem(&book.slug),
        extension(format)
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer to a request that cannot be served.
fn refused(error: &StoreError) -> Response {
    match error {
        StoreError::NotFound => (StatusCode::NOT_FOUND, "no such address book\n").into_response(),
        StoreError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
        other => {
            tracing::error!(error = %other, "export download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the export failed\n").into_response()
        }
    }
}

/// The book's slug as a file name: characters outside `[A-Za-z0-9._-]` become `_`, so the
/// header needs no quoting rules.
fn file_stem(slug: &str) -> String {
    slug.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn extension(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::VCard3 | ExportFormat::VCard4 => "vcf",
        ExportFormat::DropJson => "json",
        ExportFormat::Csv => "csv",
    }
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(file_stem("contacts"), "contacts");
        assert_eq!(file_stem("Work \"2026\"/ä"), "Work__2026___");
    }
}
