//! An import file read a part at a time: a UTF-8 vCard file (the usual large one: a phone's
//! or another server's whole book) is read a line at a time and cut where a card starts
//! ([`vcf::Splitter`]) into parts of about [`PART_CARDS`] cards, each read into entries as the
//! import needs it ([`vcf::read_part`]), so the file is never held whole. The entries are the
//! ones the whole text would give (positions, line numbers, errors).
//!
//! Any other file (CSV, Drop JSON, UTF-16, Windows-1252) is read whole, as before: its
//! encoding or format needs the whole text (a CSV's header, a JSON document).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;

use crate::domain::formats::{Entry, vcf};

/// Cards per part of a streamed vCard file: the size of an import batch, so a part is one
/// batch of planning and writing.
pub const PART_CARDS: usize = crate::store::DEFAULT_BATCH_SIZE;

/// A vCard file being read a part at a time.
pub struct VcfParts {
    reader: BufReader<File>,
    splitter: vcf::Splitter,
    /// A line read for the next part (it starts a card).
    carried: Option<String>,
    /// The file's leading byte-order marks are still to be skipped.
    at_start: bool,
    entries_before: usize,
    lines_before: usize,
    bytes_read: u64,
    part_cards: usize,
    done: bool,
}

impl VcfParts {
    /// `path` as a vCard file read in parts, with about how many cards it holds; `None` when
    /// it is not a UTF-8 vCard file (it is then read whole). Reads the file once to tell.
    pub fn open(path: &Path) -> std::io::Result<Option<(VcfParts, usize)>> {
        VcfParts::open_with(path, PART_CARDS)
    }

    /// [`VcfParts::open`] with parts of `part_cards` cards.
    fn open_with(path: &Path, part_cards: usize) -> std::io::Result<Option<(VcfParts, usize)>> {
        let mut reader = BufReader::new(File::open(path)?);
        let mut line = Vec::new();
        let mut splitter = vcf::Splitter::default();
        let mut cards = 0usize;
        let mut first = true;
        let mut seen_content = false;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let mut bytes = line.as_slice();
            if first {
                while let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                    bytes = rest;
                }
                first = false;
            }
            // UTF-16 (zero bytes) or not UTF-8: the whole-file decoder decides.
            if bytes.contains(&0) {
                return Ok(None);
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Ok(None);
            };
            if !seen_content {
                let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
                if !start.is_empty() {
                    // As `formats::detect` decides by content.
                    if !start
                        .get(..11)
                        .is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD"))
                    {
                        return Ok(None);
                    }
                    seen_content = true;
                }
            }
            if splitter.starts_card(text) {
                cards += 1;
            }
        }
        if !seen_content {
            return Ok(None);
        }
        reader.rewind()?;
        let parts = VcfParts {
            reader,
            splitter: vcf::Splitter::default(),
            carried: None,
            at_start: true,
            entries_before: 0,
            lines_before: 0,
            bytes_read: 0,
            part_cards: part_cards.max(1),
            done: false,
        };
        Ok(Some((parts, cards)))
    }

    /// The entries of the next part; `None` at the end of the file.
    pub fn next_part(&mut self) -> std::io::Result<Option<Vec<Entry>>> {
        if self.done {
            return Ok(None);
        }
        let mut text = String::new();
        let mut lines = 0usize;
        let mut cards = 0usize;
        if let Some(line) = self.carried.take() {
            text.push_str(&line);
            lines += 1;
            cards += 1;
        }
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            if self.reader.read_until(b'\n', &mut bytes)? == 0 {
                self.done = true;
                break;
            }
            self.bytes_read += bytes.len() as u64;
            let mut line = bytes.as_slice();
            if self.at_start {
                while let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                    line = rest;
                }
                self.at_start = false;
            }
            // Checked when the file was opened; a file changed since then is refused here.
            let line = std::str::from_utf8(line)
                .map_err(|_| std::io::Error::other("the file changed while it was read"))?;
            if self.splitter.starts_card(line) {
                if cards >= self.part_cards {
                    self.carried = Some(line.to_owned());
                    break;
                }
                cards += 1;
            }
            text.push_str(line);
            lines += 1;
        }
        if text.is_empty() {
            return Ok(None);
        }
        let entries = vcf::read_part(&text, self.entries_before, self.lines_before);
        self.entries_before += entries.len();
        self.lines_before += lines;
        Ok(Some(entries))
    }
}

/// The entries of one import file, read whole or in parts.
pub enum Parts {
    Whole(Option<Vec<Entry>>),
    VCard(Box<VcfParts>),
}

impl Parts {
    /// Bytes of the file read so far (0 for a file read whole).
    pub fn bytes_read(&self) -> u64 {
        match self {
            Parts::Whole(_) => 0,
            Parts::VCard(parts) => parts.bytes_read,
        }
    }

    pub fn next_part(&mut self) -> std::io::Result<Option<Vec<Entry>>> {
        match self {
            Parts::Whole(entries) => Ok(entries.take()),
            Parts::VCard(parts) => parts.next_part(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cut anywhere, a file reads as its whole text does: positions, lines and reasons of
    /// good cards, a folded line that reads "END:VCARD", a card missing its END, stray text, a
    /// byte-order mark.
    #[test]
    fn parts_read_as_the_whole_text() {
        let text = "\u{feff}BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nNOTE:x\r\n END:VCARD\r\nEND:VCARD\r\n\
                    stray text\r\nmore stray\r\n\
                    BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:B\r\n\
                    BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:C\r\nEND:VCARD\r\n\r\n\
                    BEGIN:VCARD\r\nVERSION:9.9\r\nFN:D\r\nEND:VCARD\r\n\
                    BEGIN:VCARD\nVERSION:2.1\nN:E;F\nEND:VCARD\n\
                    BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g\r\nFN:G";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cards.vcf");
        std::fs::write(&path, text).unwrap();
        let whole = format!("{:?}", vcf::read(text.trim_start_matches('\u{feff}')));
        for part_cards in [1, 2, 3, 100] {
            let (mut parts, cards) = VcfParts::open_with(&path, part_cards).unwrap().unwrap();
            assert_eq!(cards, 6);
            let mut entries = Vec::new();
            while let Some(part) = parts.next_part().unwrap() {
                entries.extend(part);
            }
            assert_eq!(format!("{entries:?}"), whole, "parts of {part_cards}");
            assert_eq!(parts.bytes_read, text.len() as u64);
        }
    }

    #[test]
    fn other_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("a.csv", b"First Name,Last Name\r\nA,B\r\n".to_vec()),
            ("b.json", b"{\"contacts\": []}".to_vec()),
            (
                "c.vcf",
                b"BEGIN:VCARD\r\nFN:Caf\xe9\r\nEND:VCARD\r\n".to_vec(),
            ),
            ("d.vcf", b"\xff\xfeB\0E\0".to_vec()),
            ("e.vcf", b"  \r\n".to_vec()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert!(VcfParts::open(&path).unwrap().is_none(), "{name}");
        }
    }
}
