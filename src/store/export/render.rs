//! How one page of an export is written: each card as vCard text in the version asked for, as
//! a Drop contact (its Drop id and timestamps read from the card) or as a CSV row (its
//! categories and the names of its groups as labels).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::Semaphore;

use super::pages::StoredText;
use crate::domain::formats::csv_out::CsvContact;
use crate::domain::formats::drop::{DropContact, X_DROP_ID};
use crate::domain::vcard::{self, Card, PropertyView, RenderVersion};
use crate::store::represent::representation;
use crate::store::{ContactRecord, StoreError, StoreResult};

/// A page with more cards than this is converted on the blocking pool, split over its
/// threads: converting a card (parse and render) costs tens of microseconds, so a page of
/// hundreds would stall a runtime worker and leave the other cores idle (measured on
/// 100,000 cards: a one-thread export spent 70 % of its time converting).
const INLINE_RENDER_CARDS: usize = 32;

/// Conversions running at once on the blocking pool, across all exports: one per core, so
/// several exports at once share the cores (with logins' argon2 checks, which run there too)
/// instead of each taking all of them.
fn conversion_permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| Arc::new(Semaphore::new(cores())))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// A page of stored texts as vCards in `version`, in page order.
pub(super) async fn vcards_page(
    texts: Vec<StoredText>,
    version: RenderVersion,
) -> StoreResult<String> {
    if texts.len() <= INLINE_RENDER_CARDS {
        let mut out = String::new();
        vcards(&mut out, &texts, version);
        return Ok(out);
    }
    let texts = Arc::new(texts);
    let per_thread = texts.len().div_ceil(cores());
    let mut parts = Vec::new();
    for start in (0..texts.len()).step_by(per_thread) {
        let permit = Arc::clone(conversion_permits())
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Unavailable(format!("converting cards failed: {e}")))?;
        let texts = Arc::clone(&texts);
        parts.push(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let end = (start + per_thread).min(texts.len());
            let mut out = String::new();
            vcards(&mut out, &texts[start..end], version);
            out
        }));
    }
    let mut out = String::new();
    for part in parts {
        let part = part
            .await
            .map_err(|e| StoreError::Unavailable(format!("converting cards failed: {e}")))?;
        out.push_str(&part);
    }
    Ok(out)
}

fn vcards(out: &mut String, texts: &[StoredText], version: RenderVersion) {
    for text in texts {
        // Never drops a card: one that no longer parses goes out as stored.
        out.push_str(&representation(&text.vcard, text.version, Some(version)));
        if !out.ends_with('\n') {
            out.push_str("\r\n");
        }
    }
}

fn properties(record: &ContactRecord) -> Vec<PropertyView> {
    vcard::parse_one(&record.vcard)
        .map(|card: Card| card.properties())
        .unwrap_or_default()
}

fn first_value(properties: &[PropertyView], name: &str) -> Option<String> {
    properties
        .iter()
        .find(|p| p.name == name && !p.value.trim().is_empty())
        .map(|p| p.value.trim().to_owned())
}

/// A REV/CREATED value (`20150130T081030Z`, `2015-01-30T08:10:30Z`, or a date) as UTC.
fn timestamp(value: &str) -> Option<DateTime<Utc>> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.len() {
        8 => format!("{digits}000000"),
        n if n >= 14 => digits[..14].to_owned(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&digits, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

pub(super) fn drop_contact(record: &ContactRecord) -> DropContact<'_> {
    let properties = properties(record);
    DropContact {
        uid: &record.uid,
        fields: &record.fields,
        drop_id: first_value(&properties, X_DROP_ID),
        created: first_value(&properties, "CREATED")
            .and_then(|v| timestamp(&v))
            .unwrap_or(record.created_at),
        updated: first_value(&properties, "REV")
            .and_then(|v| timestamp(&v))
            .unwrap_or(record.updated_at),
        deleted: record.deleted_at,
    }
}

/// A CSV row's contact: its categories, then the names of its groups, each label once.
pub(super) fn csv_contact<'a>(
    record: &'a ContactRecord,
    groups_of: &HashMap<String, Vec<String>>,
) -> CsvContact<'a> {
    let mut labels: Vec<String> = Vec::new();
    let groups = groups_of.get(record.uid.as_str()).into_iter().flatten();
    for label in record.fields.categories.iter().chain(groups) {
        if !labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
            labels.push(label.clone());
        }
    }
    CsvContact {
        uid: &record.uid,
        fields: &record.fields,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps_in_any_vcard_form() {
        let expected = "2015-01-30T08:10:30Z";
        for value in [
            "20150130T081030Z",
            "2015-01-30T08:10:30Z",
            "2015-01-30T08:10:30.969Z",
        ] {
            assert_eq!(
                timestamp(value)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                expected
            );
        }
        assert!(timestamp("2015").is_none());
    }
}
