//! Exporting an address book: every live card as vCard 3.0 or 4.0 (the stored text itself when
//! it already is in that version, else a real conversion), as the Drop messenger's contacts
//! JSON (with tombstones for deleted contacts, as the Drop format expects), or as a Google
//! Contacts CSV. The CLI (`rolodex export`), GraphQL (`exportContacts`) and the download
//! (`GET /export/{book}`) all go through [`Store::export`], so they produce the same bytes.
//!
//! vCard and CSV exports are in the order of every listing of a book: the folded sort name
//! (last, first and middle name, else display name, company, user name; see
//! `store::projection`), then id. So exporting the same contacts gives the same text, and an
//! export imported into an empty book (ids given in file order, the same names) exports to it
//! again. PostgreSQL keeps that order in an index, so these exports read a page of cards at a
//! time by keyset ([`pages`]) and render each page as it goes ([`Export::next_chunk`]): what
//! they hold is a page or two (a vCard export reads the next page while it converts one),
//! whatever the size of the book, plus, for CSV, the names of the book's groups (labels of
//! their members). A vCard export reads only the stored texts; a CSV header
//! depends on the fullest contact, so a CSV export reads the pages twice. A Drop contact keeps
//! no structured name, so a Drop export has an order of its own ([`drop_order`]).

use std::collections::HashMap;

mod drop_order;
mod pages;
mod render;

use self::pages::{After, StoredText};
use self::render::{csv_contact, drop_contact, vcards_page};
use super::projection::member_uid;
use super::{ContactRecord, Principal, ReadAhead, Store, StoreResult};
use crate::domain::contact::CardKind;
use crate::domain::formats::csv_out::CsvColumns;
use crate::domain::formats::drop::DropWriter;
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
    /// One of the principal's address books in `format`, as one text (see [`Store::export`]),
    /// or [`ExportTooLarge`] as soon as that text grows past `max_bytes`, so the caller never
    /// holds more than that (and one page). Exact rather than guessed up front: a CSV or a
    /// Drop JSON text is much shorter than the stored cards it comes from.
    pub async fn export_contacts(
        &self,
        principal: &Principal,
        address_book_id: i64,
        format: ExportFormat,
        max_bytes: usize,
    ) -> StoreResult<Result<String, ExportTooLarge>> {
        let mut export = self
            .export(principal, address_book_id, format, EXPORT_PAGE_CARDS)
            .await?;
        // A vCard text is about as long as the stored cards: reserved at once, it is not
        // grown (and, for a while, held twice) by doubling. Growth beyond that, and the
        // shorter CSV and Drop texts, grow by half at a time and never past `max_bytes`.
        let mut out = match format {
            ExportFormat::VCard3 | ExportFormat::VCard4 => String::with_capacity(
                self.export_text_bytes(address_book_id)
                    .await?
                    .min(max_bytes),
            ),
            ExportFormat::DropJson | ExportFormat::Csv => String::new(),
        };
        while let Some(chunk) = export.next_chunk().await? {
            let needed = out.len() + chunk.len();
            if needed > max_bytes {
                return Ok(Err(ExportTooLarge { max_bytes }));
            }
            if needed > out.capacity() {
                let target = needed.saturating_add(needed / 2).min(max_bytes);
                out.reserve_exact(target - out.len());
            }
            out.push_str(&chunk);
        }
        Ok(Ok(out))
    }

    /// Starts an export of one of the principal's address books in `format`, to be read a
    /// page of `page_cards` cards at a time with [`Export::next_chunk`]. Pages are separate
    /// statements, as in a CardDAV listing: a card changed while the export runs is written
    /// as it is when its page is read, and one deleted meanwhile is left out; one renamed
    /// meanwhile may be written twice (its old name was read, its new one is still ahead)
    /// or not at all (the other way round). A CSV export's columns come from a first pass,
    /// so a contact given more emails or phones between the passes is written with as many
    /// as the columns hold. An export of a book nobody writes to meanwhile is exact.
    pub async fn export(
        &self,
        principal: &Principal,
        address_book_id: i64,
        format: ExportFormat,
        page_cards: usize,
    ) -> StoreResult<Export> {
        self.get_address_book(principal, address_book_id).await?;
        let source = match format {
            ExportFormat::DropJson => Source::Ids {
                ids: self.drop_export_ids(address_book_id).await?,
                position: 0,
            },
            ExportFormat::Csv => Source::Keyset {
                after: After::default(),
                done: false,
            },
            ExportFormat::VCard3 | ExportFormat::VCard4 => Source::Texts {
                after: After::default(),
                done: false,
                ahead: None,
            },
        };
        let mut export = Export {
            store: self.clone(),
            address_book_id,
            format,
            page_cards: page_cards.max(1),
            source,
            started: false,
            state: State::Start,
        };
        if format == ExportFormat::Csv {
            export.state = export.csv_prelude().await?;
        }
        Ok(export)
    }
}

/// An export longer than its caller allows ([`Store::export_contacts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportTooLarge {
    pub max_bytes: usize,
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

/// One page of an export: stored texts for a vCard export, whole records otherwise.
enum Page {
    Texts(Vec<StoredText>),
    Records(Vec<ContactRecord>),
}

/// An export being read a page at a time ([`Store::export`]).
pub struct Export {
    store: Store,
    address_book_id: i64,
    format: ExportFormat,
    page_cards: usize,
    source: Source,
    /// Whether a page has been written (a CSV header goes before the first).
    started: bool,
    state: State,
}

/// A page of stored texts, where the page after it starts, and whether there may be one.
type TextsPage = (Vec<StoredText>, After, bool);

/// Where an export's cards come from.
enum Source {
    /// The stored texts of live cards in listing order, a keyset page at a time, the next
    /// page read while this one is converted (vCard).
    Texts {
        after: After,
        done: bool,
        ahead: Option<ReadAhead<TextsPage>>,
    },
    /// Live contacts in listing order, a keyset page at a time (CSV).
    Keyset { after: After, done: bool },
    /// These cards, in this order (Drop JSON).
    Ids { ids: Vec<i64>, position: usize },
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
                if !self.started {
                    columns.write_header(&mut out);
                }
                self.state = State::Csv { columns, groups_of };
            }
            State::Drop(writer) => self.state = State::Drop(writer),
        }
        let page = self.next_page().await?;
        self.started = true;
        let Some(page) = page else {
            if let State::Drop(writer) = std::mem::replace(&mut self.state, State::Done) {
                writer.finish(&mut out);
            }
            return Ok((!out.is_empty()).then_some(out));
        };
        match (page, &mut self.state, self.format) {
            (Page::Texts(texts), _, format) => {
                let version = match format {
                    ExportFormat::VCard3 => RenderVersion::V3,
                    _ => RenderVersion::V4,
                };
                out.push_str(&vcards_page(texts, version).await?);
            }
            (Page::Records(records), State::Drop(writer), _) => {
                for record in &records {
                    writer.contact(&mut out, &drop_contact(record));
                }
            }
            (Page::Records(records), State::Csv { columns, groups_of }, _) => {
                for record in &records {
                    columns.write_row(&mut out, &csv_contact(record, groups_of));
                }
            }
            (Page::Records(_), _, _) => {}
        }
        Ok(Some(out))
    }

    /// The next page of cards, in export order (those deleted since the export started left
    /// out, but for a Drop export's tombstones); `None` after the last.
    async fn next_page(&mut self) -> StoreResult<Option<Page>> {
        let (store, book, cards) = (&self.store, self.address_book_id, self.page_cards);
        match &mut self.source {
            Source::Texts { after, done, ahead } => {
                while !*done {
                    let (texts, next, more) = match ahead.take() {
                        Some(page) => page.finish().await?,
                        None => {
                            let mut next = after.clone();
                            let (texts, more) = store.export_texts(book, &mut next, cards).await?;
                            (texts, next, more)
                        }
                    };
                    *after = next;
                    *done = !more;
                    if more {
                        let (store, mut next) = (store.clone(), after.clone());
                        *ahead = Some(ReadAhead::start(async move {
                            let (texts, more) = store.export_texts(book, &mut next, cards).await?;
                            Ok((texts, next, more))
                        }));
                    }
                    if !texts.is_empty() {
                        return Ok(Some(Page::Texts(texts)));
                    }
                }
                Ok(None)
            }
            Source::Keyset { after, done } => {
                while !*done {
                    // Groups go out as their members' labels (`csv_prelude`).
                    let (records, more) = store
                        .export_records(book, CardKind::Individual, after, cards)
                        .await?;
                    *done = !more;
                    if !records.is_empty() {
                        return Ok(Some(Page::Records(records)));
                    }
                }
                Ok(None)
            }
            Source::Ids { ids, position } => {
                if *position >= ids.len() {
                    return Ok(None);
                }
                let end = (*position + cards).min(ids.len());
                let page = &ids[*position..end];
                *position = end;
                Ok(Some(Page::Records(
                    store.export_records_by_id(book, page).await?,
                )))
            }
        }
    }

    /// For CSV: the labels groups give their members, and a first pass over the contacts for
    /// the header's columns.
    async fn csv_prelude(&mut self) -> StoreResult<State> {
        let (store, book, cards) = (&self.store, self.address_book_id, self.page_cards);
        let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
        let mut after = After::default();
        loop {
            let (groups, more) = store
                .export_records(book, CardKind::Group, &mut after, cards)
                .await?;
            for group in &groups {
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
            if !more {
                break;
            }
        }
        let mut columns = CsvColumns::default();
        while let Some(page) = self.next_page().await? {
            if let Page::Records(records) = page {
                for record in &records {
                    columns.widen(&record.fields);
                }
            }
        }
        self.source = Source::Keyset {
            after: After::default(),
            done: false,
        };
        Ok(State::Csv { columns, groups_of })
    }
}
