//! Import sources on disk and the reporting around an import, for the CLI (`rolodex import`)
//! and the import benchmark: files and vdir folders, reading and format detection (the formats
//! themselves are in `domain::formats`), the progress bar drawn on a terminal, per-entry report
//! lines and the one-line summary; and writing an export out. The store does the importing and
//! exporting.

mod parts;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::parts::{Parts, VcfParts};
use crate::domain::formats::{self, Entry, Format, FormatError, decode};
use crate::store::{
    Export, ImportAction, ImportOptions, ImportedCard, Principal, Store, StoreError,
};

/// Why an import or export on disk failed (or, for [`read_source`], why one file is skipped).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{}: {source}", .path.display())]
    Walk {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
    /// The file cannot be read (its path is in the report line already).
    #[error("{0}")]
    Read(std::io::Error),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("cannot write the report: {0}")]
    Report(std::io::Error),
    /// The book is not the principal's, or the database is unavailable.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {}: {source}", .path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the export: {0}")]
    WriteStdout(std::io::Error),
}

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
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TransferError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|source| TransferError::Walk {
                path: path.clone(),
                source,
            })?;
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(TransferError::Missing(path.clone()));
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
pub fn read_source(path: &Path) -> Result<Source, TransferError> {
    let bytes = std::fs::read(path).map_err(TransferError::Read)?;
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
///
/// Files are imported one after the other, a vCard file a part at a time ([`parts`]), and
/// report lines are written as batches finish: what the import holds is one part and one
/// batch, whatever the size or number of the files.
pub async fn import_paths(
    store: &Store,
    principal: &Principal,
    address_book_id: i64,
    paths: &[PathBuf],
    options: &ImportOptions,
    out: &mut (dyn Write + Send),
) -> Result<Summary, TransferError> {
    let files = expand(paths)?;
    let mut importer = store.importer(principal, address_book_id, options).await?;
    let mut report = Report {
        out,
        dry_run: options.dry_run,
        summary: Summary::default(),
        sources: Vec::new(),
        origins: VecDeque::new(),
    };
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let mut bar =
        ProgressBar::new(usize::try_from(sizes.iter().sum::<u64>()).unwrap_or(usize::MAX));
    let mut bytes_done = 0u64;
    for (path, size) in files.into_iter().zip(sizes) {
        let origin = path.display().to_string();
        match open_parts(&path) {
            Ok((mut parts, format, encoding_note)) => {
                if let Some(note) = encoding_note {
                    report.line(&format!("{origin}: {note}"))?;
                }
                let source = report.sources.len();
                report.sources.push((origin.clone(), format));
                loop {
                    let part = match parts.next_part() {
                        Ok(Some(part)) => part,
                        Ok(None) => break,
                        Err(reason) => {
                            report.line(&format!("{origin}: the rest skipped: {reason}"))?;
                            report.summary.skipped += 1;
                            break;
                        }
                    };
                    report
                        .origins
                        .extend(std::iter::repeat_n(source, part.len()));
                    let results = importer.add(part).await?;
                    report.results(results)?;
                    let done = bytes_done + parts.bytes_read();
                    bar.update(usize::try_from(done).unwrap_or(usize::MAX));
                }
            }
            Err(reason) => {
                report.line(&format!("{origin}: skipped: {reason}"))?;
                report.summary.skipped += 1;
            }
        }
        bytes_done += size;
        bar.update(usize::try_from(bytes_done).unwrap_or(usize::MAX));
    }
    let results = importer.finish().await?;
    report.results(results)?;
    bar.finish();
    let line = report.summary.line(options.dry_run);
    report.line(&line)?;
    Ok(report.summary)
}

/// A file's entries, its format and how it was decoded: a UTF-8 vCard file in parts, any
/// other read whole ([`read_source`]).
fn open_parts(path: &Path) -> Result<(Parts, Format, Option<&'static str>), TransferError> {
    if let Some((parts, _cards)) = VcfParts::open(path).map_err(TransferError::Read)? {
        return Ok((Parts::VCard(Box::new(parts)), Format::VCard, None));
    }
    let source = read_source(path)?;
    Ok((
        Parts::Whole(Some(source.entries)),
        source.format,
        source.encoding_note,
    ))
}

/// The report of an import being written: results are matched to the file they came from in
/// the order they were given.
struct Report<'a> {
    out: &'a mut (dyn Write + Send),
    dry_run: bool,
    summary: Summary,
    /// Each file read: its name and format.
    sources: Vec<(String, Format)>,
    /// The file of each entry given to the importer whose result has not come back yet.
    origins: VecDeque<usize>,
}

impl Report<'_> {
    fn line(&mut self, line: &str) -> Result<(), TransferError> {
        writeln!(self.out, "{line}").map_err(TransferError::Report)
    }

    fn results(&mut self, results: Vec<ImportedCard>) -> Result<(), TransferError> {
        for card in &results {
            self.summary.add(card);
            let source = self.origins.pop_front().unwrap_or_default();
            let Some((origin, format)) = self.sources.get(source) else {
                continue;
            };
            for line in report_lines(origin, *format, card, self.dry_run) {
                writeln!(self.out, "{line}").map_err(TransferError::Report)?;
            }
        }
        Ok(())
    }
}

/// Writes an export to the file at `output`, or to standard output, a page at a time as the
/// store reads it (see [`crate::store::Export`]).
pub async fn write_export(mut export: Export, output: Option<&Path>) -> Result<(), TransferError> {
    let cannot_write = |e: std::io::Error| match output {
        Some(path) => TransferError::WriteFile {
            path: path.to_owned(),
            source: e,
        },
        None => TransferError::WriteStdout(e),
    };
    let mut sink: Box<dyn Write + Send> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(cannot_write)?,
        )),
        None => Box::new(std::io::stdout()),
    };
    while let Some(chunk) = export.next_chunk().await? {
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

/// A progress bar on standard error over the bytes of the files imported, drawn only when it
/// is a terminal and the import is long enough to need one.
pub struct ProgressBar {
    total: usize,
    enabled: bool,
    last: Option<Instant>,
}

const BAR_WIDTH: usize = 30;
/// Imports of fewer bytes than this finish before a bar is worth drawing.
const MIN_BYTES_FOR_BAR: usize = 256 * 1024;

impl ProgressBar {
    pub fn new(total: usize) -> ProgressBar {
        ProgressBar {
            total,
            enabled: std::io::stderr().is_terminal() && total >= MIN_BYTES_FOR_BAR,
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
            "\rimporting [{}{}] {percent:>3}%",
            "#".repeat(filled),
            "-".repeat(BAR_WIDTH - filled),
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
