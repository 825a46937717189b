//! Import sources on disk and the reporting around an import, for the CLI (`rolodex import`)
//! and the import benchmark: files and vdir folders, reading and format detection (the formats
//! themselves are in `domain::formats`), the progress bar drawn on a terminal, per-entry report
//! lines and the one-line summary; and writing an export out. The store does the importing and
//! exporting.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::domain::formats::{self, Entry, Format, decode};
use crate::store::{Export, ImportAction, ImportOptions, ImportedCard, Principal, Store};

/// One file read for import.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    pub entries: Vec<Entry>,
    /// How the bytes were decoded, when that was not plain UTF-8.
    pub encoding_note: Option<&'static str>,
}

/// Files to import from the given paths: files as they are, folders (vdirs) as the `.vcf` /
/// `.vcard` files inside them (recursively, hidden entries skipped), sorted by name.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| format!("{}: {e}", path.display()))?;
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(files)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("vcf") || e.eq_ignore_ascii_case("vcard"))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads one file: decodes it, recognizes its format and reads its entries. Fails when the file
/// cannot be read at all (IO, unknown format, not JSON...).
pub fn read_source(path: &Path) -> Result<Source, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (text, encoding_note) = decode::decode(&bytes);
    let name = path.file_name().and_then(|n| n.to_str());
    let format = formats::detect(name, &text)?;
    let entries = formats::read(format, &text)?;
    Ok(Source {
        path: path.to_owned(),
        format,
        entries,
        encoding_note,
    })
}

/// Imports the files at `paths` (see [`expand`]) into an address book in one run of batches,
/// writing a report line for each skipped or repaired entry (and, in a dry run, each change)
/// and then the summary line to `out`; a progress bar goes to standard error on a terminal. A
/// file that cannot be read at all counts as one skipped entry.
pub async fn import_paths(
    store: &Store,
    principal: &Principal,
    address_book_id: i64,
    paths: &[PathBuf],
    options: &ImportOptions,
    out: &mut (dyn Write + Send),
) -> Result<Summary, String> {
    let files = expand(paths)?;
    let mut summary = Summary::default();
    let mut sources: Vec<(String, Format)> = Vec::new();
    let mut origins: Vec<usize> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let write_error = |e: std::io::Error| format!("cannot write the report: {e}");
    for path in files {
        let origin = path.display().to_string();
        match read_source(&path) {
            Ok(source) => {
                if let Some(note) = source.encoding_note {
                    writeln!(out, "{origin}: {note}").map_err(write_error)?;
                }
                origins.extend(std::iter::repeat_n(sources.len(), source.entries.len()));
                entries.extend(source.entries);
                sources.push((origin, source.format));
            }
            Err(reason) => {
                writeln!(out, "{origin}: skipped: {reason}").map_err(write_error)?;
                summary.skipped += 1;
            }
        }
    }
    let mut bar = ProgressBar::new(entries.len());
    let results = store
        .import_entries(principal, address_book_id, entries, options, &mut |done| {
            bar.update(done)
        })
        .await
        .map_err(|e| e.to_string())?;
    bar.finish();
    for (card, source) in results.iter().zip(origins) {
        summary.add(card);
        let (origin, format) = &sources[source];
        for line in report_lines(origin, *format, card, options.dry_run) {
            writeln!(out, "{line}").map_err(write_error)?;
        }
    }
    writeln!(out, "{}", summary.line(options.dry_run)).map_err(write_error)?;
    Ok(summary)
}

/// Writes an export to the file at `output`, or to standard output, a page at a time as the
/// store reads it (see [`crate::store::Export`]).
pub async fn write_export(mut export: Export, output: Option<&Path>) -> Result<(), String> {
    let mut sink: Box<dyn Write + Send> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    };
    let cannot_write = |e: std::io::Error| match output {
        Some(path) => format!("cannot write {}: {e}", path.display()),
        None => format!("cannot write the export: {e}"),
    };
    while let Some(chunk) = export.next_chunk().await.map_err(|e| e.to_string())? {
        sink.write_all(chunk.as_bytes()).map_err(cannot_write)?;
    }
    sink.flush().map_err(cannot_write)
}

/// How an entry is named in reports: `card 3 (line 20)`, `row 2 (line 3)`, `contact 5`.
pub fn entry_label(format: Format, position: usize, line: usize) -> String {
    let noun = match format {
        Format::VCard => "card",
        Format::DropJson => "contact",
        Format::GoogleCsv | Format::OutlookCsv => "row",
    };
    if line == 0 {
        format!("{noun} {position}")
    } else {
        format!("{noun} {position} (line {line})")
    }
}

/// The report lines for one entry: why it was skipped, what was repaired, and (in a dry run)
/// what would change.
pub fn report_lines(
    origin: &str,
    format: Format,
    card: &ImportedCard,
    dry_run: bool,
) -> Vec<String> {
    let label = entry_label(format, card.position, card.line);
    let mut lines = Vec::new();
    for repair in &card.repairs {
        lines.push(format!("{origin}: {label}: repaired: {repair}"));
    }
    match &card.outcome {
        Err(reason) => lines.push(format!("{origin}: {label}: skipped: {reason}")),
        Ok(action) if dry_run => {
            let what = match action {
                ImportAction::Created => "would be added",
                ImportAction::Updated => "would update the stored card",
                ImportAction::Deleted => "would delete the stored card",
                ImportAction::Unchanged | ImportAction::NothingToDelete => return lines,
            };
            let uid = card.uid.as_deref().unwrap_or_default();
            lines.push(format!("{origin}: {label}: {what} (UID {uid})"));
        }
        Ok(_) => {}
    }
    lines
}

/// Totals of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Tombstones (whether or not there was a card to delete).
    pub deleted: usize,
    /// Entries stored with at least one repair.
    pub repaired: usize,
    /// Entries (or whole files) that could not be imported.
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, card: &ImportedCard) {
        match card.outcome {
            Ok(ImportAction::Created) => self.added += 1,
            Ok(ImportAction::Updated) => self.updated += 1,
            Ok(ImportAction::Unchanged) => self.unchanged += 1,
            Ok(ImportAction::Deleted | ImportAction::NothingToDelete) => self.deleted += 1,
            Err(_) => self.skipped += 1,
        }
        if card.outcome.is_ok() && !card.repairs.is_empty() {
            self.repaired += 1;
        }
    }

    /// `12 added, 3 updated, 40 unchanged, 1 deleted, 2 repaired, 1 skipped`.
    pub fn line(&self, dry_run: bool) -> String {
        let counts = format!(
            "{} added, {} updated, {} unchanged, {} deleted, {} repaired, {} skipped",
            self.added, self.updated, self.unchanged, self.deleted, self.repaired, self.skipped
        );
        if dry_run {
            format!("dry run, nothing written: {counts}")
        } else {
            counts
        }
    }
}

/// A progress bar on standard error, drawn only when it is a terminal and the import is long
/// enough to need one.
pub struct ProgressBar {
    total: usize,
    enabled: bool,
    last: Option<Instant>,
}

const BAR_WIDTH: usize = 30;
/// Imports shorter than this finish before a bar is worth drawing.
const MIN_ENTRIES_FOR_BAR: usize = 200;

impl ProgressBar {
    pub fn new(total: usize) -> ProgressBar {
        ProgressBar {
            total,
            enabled: std::io::stderr().is_terminal() && total >= MIN_ENTRIES_FOR_BAR,
            last: None,
        }
    }

    /// Redraws (at most ten times a second, and always at the end).
    pub fn update(&mut self, done: usize) {
        if !self.enabled {
            return;
        }
        let finished = done >= self.total;
        if !finished
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(Instant::now());
        let done = done.min(self.total);
        let filled = BAR_WIDTH * done / self.total.max(1);
        let percent = 100 * done / self.total.max(1);
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\rimporting [{}{}] {done}/{} {percent:>3}%",
            "#".repeat(filled),
            "-".repeat(BAR_WIDTH - filled),
            self.total
        );
        let _ = stderr.flush();
    }

    /// Clears the bar's line so that the report starts on a clean line.
    pub fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r{}\r", " ".repeat(BAR_WIDTH + 40));
            let _ = stderr.flush();
        }
    }
}
