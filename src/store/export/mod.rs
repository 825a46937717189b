//! Exporting an address book: every live card as vCard 3.0 or 4.0 (the stored text itself when
//! it already is in that version, else a real conversion), as the Drop messenger's contacts
//! JSON (with tombstones for deleted contacts, as the Drop format expects), or as a Google
//! Contacts CSV. The CLI (`rolodex export`) and GraphQL (`exportContacts`) both go through
//! [`Store::export`], so they produce the same bytes.
//!
//! Output is sorted by display name, then UID, so exporting the same contacts gives the same
//! text whatever their database ids. The order is the folded display name
//! ([`text::fold`], which PostgreSQL cannot compute), so an export first reads a small key per
//! card (id, kind, UID, display name, deletion time: tens of bytes, no card text), sorts them
//! and keeps only the ids; then it reads the cards a page at a time in that order and renders
//! each page as it goes ([`Export::next_chunk`]). What it holds is those ids and one page,
//! plus, for CSV, the names of the book's groups (labels of their members). A CSV header
//! depends on the fullest contact, so a CSV export reads the pages twice.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

mod render;

use self::render::{csv_contact, drop_contact, vcards};
use super::projection::member_uid;
use super::reads::hydrate;
use super::{ContactRecord, Principal, Store, StoreResult};
use crate::db::models::ContactRow;
use crate::db::schema::contacts;
use crate::domain::contact::CardKind;
use crate::domain::formats::csv_out::CsvColumns;
use crate::domain::formats::drop::DropWriter;
use crate::domain::text;
use crate::domain::vcard::RenderVersion;

/// Cards an export reads per page unless told otherwise (the CLI; the server reads
/// [`crate::limits::Limits::stream_page_cards`]).
pub const EXPORT_PAGE_CARDS: usize = 500;

/// The formats an address book exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    VCard3,
    VCard4,
    DropJson,
    Csv,
}

impl ExportFormat {
    /// `vcf3`, `vcf4`, `drop-json`, `csv` (the CLI's names).
    pub fn parse(name: &str) -> Option<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "vcf3" => Some(ExportFormat::VCard3),
            "vcf4" | "vcf" => Some(ExportFormat::VCard4),
            "drop-json" | "drop" | "json" => Some(ExportFormat::DropJson),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }

    /// MIME type of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::VCard3 | ExportFormat::VCard4 => "text/vcard; charset=utf-8",
            ExportFormat::DropJson => "application/json",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl Store {
    /// One of the principal's address books in `format`, as one text (see [`Store::export`]).
    pub async fn export_contacts(
        &self,
        principal: &Principal,
        address_book_id: i64,
        format: ExportFormat,
    ) -> StoreResult<String> {
        let mut export = self
            .export(principal, address_book_id, format, EXPORT_PAGE_CARDS)
            .await?;
        // The text is about as long as the stored cards: reserved at once, it is not grown
        // (and, for a while, held twice) by doubling.
        let mut out = String::with_capacity(export.size_hint);
        while let Some(chunk) = export.next_chunk().await? {
            out.push_str(&chunk);
        }
        Ok(out)
    }

    /// Starts an export of one of the principal's address books in `format`, to be read a
    /// page of `page_cards` cards at a time with [`Export::next_chunk`]. Pages are separate
    /// statements: a card changed while the export runs is written as it is when its page is
    /// read, and one deleted meanwhile is left out.
    pub async fn export(
        &self,
        principal: &Principal,
        address_book_id: i64,
        format: ExportFormat,
        page_cards: usize,
    ) -> StoreResult<Export> {
        self.get_address_book(principal, address_book_id).await?;
        let with_tombstones = format == ExportFormat::DropJson;
        let mut conn = self.conn().await?;
        let mut select = contacts::table
            .filter(contacts::address_book_id.eq(address_book_id))
            .select((
                contacts::id,
                contacts::kind,
                contacts::uid,
                contacts::display_name,
                contacts::deleted_at,
                diesel::dsl::sql::<diesel::sql_types::Integer>("octet_length(contacts.vcard)"),
            ))
            .order(contacts::id)
            .into_boxed();
        if !with_tombstones {
            select = select.filter(contacts::deleted_at.is_null());
        }
        let rows: Vec<KeyRow> = select.load(&mut conn).await?;
        drop(conn);
        let mut keys: Vec<Key> = rows
            .into_iter()
            .map(|(id, kind, uid, display_name, deleted_at, size)| Key {
                order: (
                    deleted_at.is_some(),
                    text::fold(display_name.as_deref().unwrap_or_default()),
                    uid,
                    id,
                ),
                kind,
                deleted_at,
                size: usize::try_from(size).unwrap_or(0),
            })
            .collect();
        keys.sort_unstable_by(|a, b| a.order.cmp(&b.order));
        let size_hint = keys.iter().map(|k| k.size).sum::<usize>();
        let (ids, groups) = match format {
            ExportFormat::VCard3 | ExportFormat::VCard4 => {
                (keys.iter().map(Key::id).collect(), Vec::new())
            }
            ExportFormat::DropJson => (drop_selection(&keys), Vec::new()),
            ExportFormat::Csv => (
                keys.iter()
                    .filter(|k| k.kind == CardKind::Individual)
                    .map(Key::id)
                    .collect(),
                keys.iter()
                    .filter(|k| k.kind == CardKind::Group)
                    .map(Key::id)
                    .collect(),
            ),
        };
        drop(keys);
        let mut export = Export {
            store: self.clone(),
            address_book_id,
            format,
            page_cards: page_cards.max(1),
            ids,
            position: 0,
            state: State::Start,
            size_hint,
        };
        if format == ExportFormat::Csv {
            export.state = export.csv_prelude(&groups).await?;
        }
        Ok(export)
    }
}

type KeyRow = (
    i64,
    CardKind,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    i32,
);

/// What an export's order and selection need to know about a card.
struct Key {
    /// Live before deleted, then folded display name, UID and id (creation order).
    order: (bool, String, String, i64),
    kind: CardKind,
    deleted_at: Option<DateTime<Utc>>,
    /// Octets of the stored card.
    size: usize,
}

impl Key {
    fn id(&self) -> i64 {
        self.order.3
    }

    fn uid(&self) -> &str {
        &self.order.2
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

/// Where an export being read stands.
enum State {
    Start,
    /// A CSV export: its columns (from a first pass) and the labels groups give their members.
    Csv {
        columns: CsvColumns,
        groups_of: HashMap<String, Vec<String>>,
    },
    Drop(DropWriter),
    Done,
}

/// An export being read a page at a time ([`Store::export`]).
pub struct Export {
    store: Store,
    address_book_id: i64,
    format: ExportFormat,
    page_cards: usize,
    /// The cards to write, in export order.
    ids: Vec<i64>,
    position: usize,
    state: State,
    /// About how long the text is (the stored cards' octets).
    size_hint: usize,
}

impl Export {
    /// The next part of the text (the first one may be only a header); `None` once it is all
    /// written.
    pub async fn next_chunk(&mut self) -> StoreResult<Option<String>> {
        let mut out = String::new();
        match std::mem::replace(&mut self.state, State::Done) {
            State::Done => return Ok(None),
            State::Start => {
                if self.format == ExportFormat::DropJson {
                    self.state = State::Drop(DropWriter::start(&mut out));
                    return Ok(Some(out));
                }
                self.state = State::Start;
            }
            State::Csv { columns, groups_of } => {
                if self.position == 0 {
                    columns.write_header(&mut out);
                }
                self.state = State::Csv { columns, groups_of };
            }
            State::Drop(writer) => self.state = State::Drop(writer),
        }
        let Some(records) = self.next_page().await? else {
            if let State::Drop(writer) = std::mem::replace(&mut self.state, State::Done) {
                writer.finish(&mut out);
            }
            return Ok((!out.is_empty()).then_some(out));
        };
        match (&mut self.state, self.format) {
            (State::Start, ExportFormat::VCard3) => vcards(&mut out, &records, RenderVersion::V3),
            (State::Start, _) => vcards(&mut out, &records, RenderVersion::V4),
            (State::Drop(writer), _) => {
                for record in &records {
                    writer.contact(&mut out, &drop_contact(record));
                }
            }
            (State::Csv { columns, groups_of }, _) => {
                for record in &records {
                    columns.write_row(&mut out, &csv_contact(record, groups_of));
                }
            }
            (State::Done, _) => {}
        }
        Ok(Some(out))
    }

    /// The next page of cards, in export order (those deleted since the export started left
    /// out); `None` after the last one.
    async fn next_page(&mut self) -> StoreResult<Option<Vec<ContactRecord>>> {
        if self.position >= self.ids.len() {
            return Ok(None);
        }
        let end = (self.position + self.page_cards).min(self.ids.len());
        let ids = &self.ids[self.position..end];
        self.position = end;
        let records = self
            .store
            .export_records(
                self.address_book_id,
                ids,
                self.format == ExportFormat::DropJson,
            )
            .await?;
        Ok(Some(records))
    }

    /// For CSV: the labels groups give their members, and a first pass over the contacts for
    /// the header's columns.
    async fn csv_prelude(&mut self, groups: &[i64]) -> StoreResult<State> {
        let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
        for page in groups.chunks(self.page_cards) {
            for group in self
                .store
                .export_records(self.address_book_id, page, false)
                .await?
            {
                let Some(name) = group.fields.display_name.as_deref() else {
                    continue;
                };
                for member in &group.fields.members {
                    groups_of
                        .entry(member_uid(member).to_owned())
                        .or_default()
                        .push(name.to_owned());
                }
            }
        }
        let mut columns = CsvColumns::default();
        while let Some(records) = self.next_page().await? {
            for record in &records {
                columns.widen(&record.fields);
            }
        }
        self.position = 0;
        Ok(State::Csv { columns, groups_of })
    }
}

impl Store {
    /// The cards of a book with these ids (live ones only unless `with_deleted`), in that
    /// order.
    async fn export_records(
        &self,
        address_book_id: i64,
        ids: &[i64],
        with_deleted: bool,
    ) -> StoreResult<Vec<ContactRecord>> {
        let mut conn = self.conn().await?;
        let mut select = contacts::table
            .filter(contacts::address_book_id.eq(address_book_id))
            .filter(contacts::id.eq_any(ids))
            .select(ContactRow::as_select())
            .into_boxed();
        if !with_deleted {
            select = select.filter(contacts::deleted_at.is_null());
        }
        let rows: Vec<ContactRow> = select.load(&mut conn).await?;
        let mut by_id: HashMap<i64, ContactRecord> = hydrate(&mut conn, rows)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
