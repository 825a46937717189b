//! The order and selection of a Drop JSON export, computed in this process. A Drop contact
//! keeps only its alias of a name, so an export → import → export round trip keeps only the
//! display name's order, not the structured name's that vCard and CSV exports follow: the
//! contacts are sorted by folded display name ([`text::fold`], which PostgreSQL cannot
//! compute), then UID, then id, live ones first, with the latest tombstone of each UID that
//! has no live card after them. So this reads a small key per card of the book (id, kind,
//! UID, display name, deletion time: tens of bytes, no card text) and keeps only the ids, in
//! order: unlike the other formats, a Drop export holds memory in proportion to the book.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::contacts;
use crate::domain::contact::CardKind;
use crate::domain::text;
use crate::store::{Store, StoreResult};

type KeyRow = (i64, CardKind, String, Option<String>, Option<DateTime<Utc>>);

/// What the order and selection need to know about a card.
struct Key {
    /// Live before deleted, then folded display name, UID and id (creation order).
    order: (bool, String, String, i64),
    kind: CardKind,
    deleted_at: Option<DateTime<Utc>>,
}

impl Key {
    fn id(&self) -> i64 {
        self.order.3
    }

    fn uid(&self) -> &str {
        &self.order.2
    }
}

impl Store {
    /// The ids of the contacts a Drop export of the book lists, in export order.
    pub(super) async fn drop_export_ids(&self, book: i64) -> StoreResult<Vec<i64>> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = contacts::table
            .filter(contacts::address_book_id.eq(book))
            .select((
                contacts::id,
                contacts::kind,
                contacts::uid,
                contacts::display_name,
                contacts::deleted_at,
            ))
            .order(contacts::id)
            .load(&mut conn)
            .await?;
        drop(conn);
        let mut keys: Vec<Key> = rows
            .into_iter()
            .map(|(id, kind, uid, display_name, deleted_at)| Key {
                order: (
                    deleted_at.is_some(),
                    text::fold(display_name.as_deref().unwrap_or_default()),
                    uid,
                    id,
                ),
                kind,
                deleted_at,
            })
            .collect();
        keys.sort_unstable_by(|a, b| a.order.cmp(&b.order));
        Ok(drop_selection(&keys))
    }
}

/// The cards a Drop export lists, in export order: individuals, live or else the latest
/// tombstone of a UID that has no live card.
fn drop_selection(keys: &[Key]) -> Vec<i64> {
    let live: HashSet<&str> = keys
        .iter()
        .filter(|k| k.deleted_at.is_none())
        .map(Key::uid)
        .collect();
    let mut tombstones: HashMap<&str, &Key> = HashMap::new();
    for key in keys.iter().filter(|k| k.deleted_at.is_some()) {
        if live.contains(key.uid()) {
            continue;
        }
        let entry = tombstones.entry(key.uid()).or_insert(key);
        if key.deleted_at > entry.deleted_at {
            *entry = key;
        }
    }
    keys.iter()
        .filter(|k| k.kind == CardKind::Individual)
        .filter(|k| {
            k.deleted_at.is_none() || tombstones.get(k.uid()).is_some_and(|t| t.id() == k.id())
        })
        .map(Key::id)
        .collect()
}
