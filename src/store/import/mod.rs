//! Importing: the entries of an import source ([`Entry`]: vCards, CSV rows, Drop
//! contacts) are stored in batches, each batch in one transaction (see [`batch`]), with a
//! result per entry. One bad entry never aborts the rest: it is reported with its position and
//! reason. Entries are matched to stored cards by UID, so re-importing updates and never
//! duplicates, and an entry whose card is already as it would be stored writes nothing (no
//! revision bump, no change row). A dry run plans everything and writes nothing.
//!
//! An import may be given its entries a part at a time ([`Importer`]; `rolodex import` reads
//! large vCard files that way), holding one batch whatever the size of the source; a dry run
//! still remembers what it would have written (by UID, so later entries plan against it).
//!
//! Batches are planned outside the transaction ([`plan`]: render, compare, extract) and then
//! written under the book lock after checking that the cards they touch have not changed
//! meanwhile (else the batch is planned again). If a batch fails in the database, its cards
//! are written one by one so that only the bad one fails.

mod batch;
mod plan;
mod reason;

use std::collections::{HashMap, HashSet};

use self::batch::Seen;
use self::plan::{Existing, Plan, Write};
use super::writes::Precondition;
use super::{CardLimits, Principal, Store, StoreError, StoreResult};
use chrono::Utc;

use crate::domain::formats::{Entry, Record, Stored};
pub use reason::SkipReason;

/// Entries per batch (and per transaction) unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// How often a batch is planned again when cards it touches changed under it.
const REPLANS: usize = 3;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Entries per transaction.
    pub batch_size: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// What an entry did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// A new card was stored.
    Created,
    /// The card with the entry's UID was replaced.
    Updated,
    /// The card with the entry's UID already was as it would be stored: nothing written.
    Unchanged,
    /// A tombstone deleted the card with its UID.
    Deleted,
    /// A tombstone for a UID with no live card: nothing to do.
    NothingToDelete,
}

/// The result for one entry, in input order.
#[derive(Debug)]
pub struct ImportedCard {
    /// 1-based position in its source.
    pub position: usize,
    /// Line where it starts (0: unknown, JSON).
    pub line: usize,
    pub uid: Option<String>,
    /// What happened, or why the entry was skipped.
    pub outcome: Result<ImportAction, SkipReason>,
    /// Repairs applied before storing.
    pub repairs: Vec<String>,
    /// The stored card (created, updated or unchanged); `None` in a dry run for new cards.
    pub contact_id: Option<i64>,
}

impl Store {
    /// Imports `entries` into an address book of the principal, in batches. `progress` is
    /// called with the number of entries done so far after each batch. Fails as a whole only
    /// when the book is not the principal's or the database is unavailable; everything else is
    /// a per-entry result.
    pub async fn import_entries(
        &self,
        principal: &Principal,
        address_book_id: i64,
        entries: Vec<Entry>,
        options: &ImportOptions,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> StoreResult<Vec<ImportedCard>> {
        let mut importer = self.importer(principal, address_book_id, options).await?;
        let mut results = Vec::with_capacity(entries.len());
        let mut entries = entries.into_iter();
        loop {
            let batch: Vec<Entry> = entries.by_ref().take(importer.batch_size).collect();
            if batch.is_empty() {
                break;
            }
            results.extend(importer.add(batch).await?);
            progress(results.len());
        }
        results.extend(importer.finish().await?);
        progress(results.len());
        Ok(results)
    }

    /// Starts an import into an address book of the principal that is given its entries a
    /// part at a time ([`Importer::add`]), so a source of any size is imported holding one
    /// batch. Fails when the book is not the principal's.
    pub async fn importer<'a>(
        &'a self,
        principal: &'a Principal,
        address_book_id: i64,
        options: &'a ImportOptions,
    ) -> StoreResult<Importer<'a>> {
        // Fail early (and once) when the book is not the principal's.
        self.get_address_book(principal, address_book_id).await?;
        Ok(Importer {
            run: Run {
                store: self,
                principal,
                book: address_book_id,
                options,
                overlay: HashMap::new(),
                results: Vec::new(),
            },
            batch_size: options.batch_size.max(1),
            pending: Vec::new(),
            pending_uids: HashSet::new(),
        })
    }
}

/// An import fed its entries a part at a time. Each batch is its own transaction, as in
/// [`Store::import_entries`]: what an import that stops half-way (the database gone, the
/// process killed) leaves is every batch before it written, whole, and nothing of the rest;
/// importing the source again finishes it (written cards come out unchanged).
pub struct Importer<'a> {
    run: Run<'a>,
    batch_size: usize,
    /// Entries waiting for their batch to fill.
    pending: Vec<Entry>,
    pending_uids: HashSet<String>,
}

impl Importer<'_> {
    /// Takes the next entries of the source; returns the results of the entries finished so
    /// far (in source order; the rest come from later calls and [`Importer::finish`]).
    pub async fn add(&mut self, entries: Vec<Entry>) -> StoreResult<Vec<ImportedCard>> {
        for entry in entries {
            let uid = entry.uid();
            let tombstone = matches!(entry.record, Ok(Record::Tombstone { .. }));
            // A batch holds each UID once (a second card with a UID updates the first), and
            // tombstones go through the single-card delete.
            let repeat = uid.as_ref().is_some_and(|u| self.pending_uids.contains(u));
            if tombstone || repeat || self.pending.len() >= self.batch_size {
                self.run.batch(std::mem::take(&mut self.pending)).await?;
                self.pending_uids.clear();
            }
            if tombstone {
                self.run.tombstone(entry).await?;
                continue;
            }
            if let Some(uid) = uid {
                self.pending_uids.insert(uid);
            }
            self.pending.push(entry);
        }
        Ok(std::mem::take(&mut self.run.results))
    }

    /// Writes what is still pending; returns the last results.
    pub async fn finish(mut self) -> StoreResult<Vec<ImportedCard>> {
        self.run.batch(std::mem::take(&mut self.pending)).await?;
        Ok(self.run.results)
    }
}

/// The state of one import.
struct Run<'a> {
    store: &'a Store,
    principal: &'a Principal,
    book: i64,
    options: &'a ImportOptions,
    /// Dry run: the cards as this import would have left them, by UID (`None`: deleted).
    overlay: HashMap<String, Option<Existing>>,
    results: Vec<ImportedCard>,
}

fn result(
    entry: Entry,
    outcome: Result<ImportAction, SkipReason>,
    id: Option<i64>,
) -> ImportedCard {
    ImportedCard {
        position: entry.position,
        line: entry.line,
        uid: entry.uid(),
        outcome,
        repairs: entry.repairs,
        contact_id: id.filter(|id| *id != 0),
    }
}

impl Run<'_> {
    /// The live cards with these UIDs or resource names (as a dry run would have left them).
    async fn existing(&self, uids: &[String]) -> StoreResult<Vec<Existing>> {
        let hrefs: Vec<String> = uids.iter().map(|u| plan::href_for(u)).collect();
        let mut conn = self.store.conn().await?;
        let uid_refs: Vec<&str> = uids.iter().map(String::as_str).collect();
        let href_refs: Vec<&str> = hrefs.iter().map(String::as_str).collect();
        let rows = batch::live_cards(&mut conn, self.book, &uid_refs, &href_refs, true).await?;
        let groups = batch::group_names(&mut conn, self.book, &uid_refs).await?;
        let mut found: Vec<Existing> = rows
            .into_iter()
            .filter(|card| !self.overlay.contains_key(&card.uid))
            .map(|card| Existing {
                stored: Stored {
                    created: card.created_at,
                    updated: card.updated_at,
                    group_names: groups.get(&card.uid).cloned().unwrap_or_default(),
                },
                id: card.id,
                uid: card.uid,
                href: card.href,
                vcard: card.vcard,
                etag: card.etag,
            })
            .collect();
        found.extend(
            self.overlay
                .values()
                .flatten()
                .filter(|e| uids.contains(&e.uid) || hrefs.contains(&e.href))
                .cloned(),
        );
        Ok(found)
    }

    /// Plans and writes one batch of card/patch entries.
    async fn batch(&mut self, mut entries: Vec<Entry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let uids: Vec<String> = entries.iter().filter_map(Entry::uid).collect();
        for attempt in 0..=REPLANS {
            let existing = self.existing(&uids).await?;
            let plans = plan_all(&mut entries, &existing, self.store.card_limits());
            if self.options.dry_run {
                self.finish_dry(entries, plans);
                return Ok(());
            }
            let writes: Vec<Write> = plans
                .iter()
                .filter_map(|p| match p {
                    Ok(Plan::Write(w)) => Some((**w).clone()),
                    _ => None,
                })
                .collect();
            let seen: Vec<Seen> = existing
                .iter()
                .map(|e| (e.id, e.uid.clone(), e.href.clone(), e.etag.clone()))
                .collect();
            let written = self
                .store
                .put_vcards_batch(self.principal, self.book, &writes, &seen)
                .await;
            let ids = match written {
                Ok(ids) => ids.into_iter().map(Ok).collect(),
                Err(StoreError::PreconditionFailed { .. }) if attempt < REPLANS => continue,
                Err(e @ (StoreError::NotFound | StoreError::Unavailable(_))) => return Err(e),
                // Only this batch's cards are affected: write them one at a time.
                Err(_) => self.one_by_one(&writes, &seen).await,
            };
            self.finish(entries, plans, ids);
            return Ok(());
        }
        Ok(())
    }

    async fn one_by_one(&self, writes: &[Write], seen: &[Seen]) -> Vec<Result<i64, SkipReason>> {
        let mut ids = Vec::with_capacity(writes.len());
        for write in writes {
            let one = std::slice::from_ref(write);
            ids.push(
                match self
                    .store
                    .put_vcards_batch(self.principal, self.book, one, seen)
                    .await
                {
                    Ok(written) => Ok(written.into_iter().next().unwrap_or_default()),
                    Err(StoreError::PreconditionFailed { .. }) => Err(SkipReason::ChangedMeanwhile),
                    Err(e) => Err(SkipReason::Refused(e)),
                },
            );
        }
        ids
    }

    fn finish(
        &mut self,
        entries: Vec<Entry>,
        plans: Vec<Result<Plan, SkipReason>>,
        ids: Vec<Result<i64, SkipReason>>,
    ) {
        let mut ids = ids.into_iter();
        for (entry, plan) in entries.into_iter().zip(plans) {
            let card = match plan {
                Err(reason) => result(entry, Err(reason), None),
                Ok(Plan::Unchanged { id }) => result(entry, Ok(ImportAction::Unchanged), Some(id)),
                Ok(Plan::Write(write)) => {
                    let action = if write.replaces.is_some() {
                        ImportAction::Updated
                    } else {
                        ImportAction::Created
                    };
                    match ids.next() {
                        Some(Ok(id)) => result(entry, Ok(action), Some(id)),
                        Some(Err(reason)) => result(entry, Err(reason), None),
                        None => result(entry, Err(SkipReason::NotWritten), None),
                    }
                }
            };
            self.results.push(card);
        }
    }

    fn finish_dry(&mut self, entries: Vec<Entry>, plans: Vec<Result<Plan, SkipReason>>) {
        for (entry, plan) in entries.into_iter().zip(plans) {
            let card = match plan {
                Err(reason) => result(entry, Err(reason), None),
                Ok(Plan::Unchanged { id }) => result(entry, Ok(ImportAction::Unchanged), Some(id)),
                Ok(Plan::Write(write)) => {
                    let (action, id) = match &write.replaces {
                        Some((id, _)) => (ImportAction::Updated, *id),
                        None => (ImportAction::Created, 0),
                    };
                    self.overlay.insert(
                        write.uid.clone(),
                        Some(Existing {
                            id,
                            uid: write.uid.clone(),
                            href: write.href.clone(),
                            vcard: write.text.clone(),
                            etag: write.etag.clone(),
                            stored: Stored {
                                created: Utc::now(),
                                updated: Utc::now(),
                                group_names: Vec::new(),
                            },
                        }),
                    );
                    result(entry, Ok(action), Some(id))
                }
            };
            self.results.push(card);
        }
    }

    /// Deletes the live card with the tombstone's UID, if there is one.
    async fn tombstone(&mut self, entry: Entry) -> StoreResult<()> {
        let Ok(Record::Tombstone { uid }) = &entry.record else {
            return Ok(());
        };
        let uid = uid.clone();
        let found = self
            .existing(std::slice::from_ref(&uid))
            .await?
            .into_iter()
            .find(|e| e.uid == uid);
        let outcome = match found {
            None => Ok(ImportAction::NothingToDelete),
            Some(_) if self.options.dry_run => {
                self.overlay.insert(uid, None);
                Ok(ImportAction::Deleted)
            }
            Some(card) => match self
                .store
                .delete_contact_by_href(
                    self.principal,
                    self.book,
                    &card.href,
                    Precondition::IfMatch(card.etag),
                )
                .await
            {
                Ok(()) => Ok(ImportAction::Deleted),
                Err(StoreError::NotFound) => Ok(ImportAction::NothingToDelete),
                Err(e @ StoreError::Unavailable(_)) => return Err(e),
                Err(e) => Err(SkipReason::Refused(e)),
            },
        };
        self.results.push(result(entry, outcome, None));
        Ok(())
    }
}

/// Plans every entry of a batch against the cards found for it.
fn plan_all(
    entries: &mut [Entry],
    existing: &[Existing],
    limits: CardLimits,
) -> Vec<Result<Plan, SkipReason>> {
    let by_uid: HashMap<&str, &Existing> = existing.iter().map(|e| (e.uid.as_str(), e)).collect();
    let mut taken: HashSet<String> = existing.iter().map(|e| e.href.clone()).collect();
    entries
        .iter_mut()
        .map(|entry| {
            let uid = entry.uid();
            let found = uid.as_deref().and_then(|u| by_uid.get(u).copied());
            plan::plan(entry, found, &mut taken, limits)
        })
        .collect()
}
