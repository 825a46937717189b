//! The managed PostgreSQL's log, kept bounded: the postmaster's stderr is a pipe that a
//! thread of ours copies into `postgres.log`, moving it to `postgres.log.1` (replacing the
//! previous one) whenever it reaches the configured size. So the log never takes more than
//! twice that size on disk, however long the server runs and whatever clients make it log.
//!
//! What PostgreSQL logs is restricted too (see [`QUIET_SETTINGS`]): never a statement's text
//! or its parameters, which hold users' contact data.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Server settings that keep contact data out of the log: errors are logged without the
/// statement that caused them, without DETAIL (a unique violation's DETAIL quotes the
/// value), and without bind parameters; no statement is logged for its duration or kind.
pub(crate) const QUIET_SETTINGS: &[&str] = &[
    "log_error_verbosity=terse",
    "log_min_error_statement=panic",
    "log_parameter_max_length_on_error=0",
    "log_parameter_max_length=0",
    "log_statement=none",
    "log_min_duration_statement=-1",
    "log_autovacuum_min_duration=-1",
];

/// Longest line copied; the rest of a longer one is dropped (marked with "…").
const MAX_LINE_BYTES: usize = 16 * 1024;

/// Opens a log file for appending without following a symbolic link at its name, and only if
/// it is a regular file of its own: the data directory may belong to the unprivileged user
/// PostgreSQL runs as, and a link planted there must not make a root rolodex write elsewhere
/// (see `owned_fs`).
pub(crate) fn open_append(path: &Path) -> std::io::Result<File> {
    super::owned_fs::open_regular(path, super::owned_fs::Access::Append)
}

/// Appends lines to a file, rotating it at a size.
struct RotatingLog {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
}

impl RotatingLog {
    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.written + line.len() as u64 > self.max_bytes && self.written > 0 {
            self.file.flush()?;
            // rename(2) replaces whatever is at the new name (a planted symlink included)
            // without following it.
            std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
            self.file = open_append(&self.path)?;
            self.written = 0;
        }
        self.file.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }
}

/// Copies `source` (the postmaster's stderr) into the log at `path` until the postmaster
/// closes it, on a thread of its own.
pub(crate) fn pump(
    source: impl Read + Send + 'static,
    path: PathBuf,
    max_bytes: u64,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let file = open_append(&path)?;
    let written = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut log = RotatingLog {
        path,
        file,
        written,
        max_bytes: max_bytes.max(4096),
    };
    std::thread::Builder::new()
        .name("postgres-log".into())
        .spawn(move || {
            let mut reader = BufReader::new(source);
            let mut line = Vec::with_capacity(256);
            loop {
                line.clear();
                match read_bounded_line(&mut reader, &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if let Err(error) = log.write_line(&line) {
                            // Keep draining the pipe: a postmaster blocked on a full stderr
                            // pipe would stop serving.
                            tracing::warn!(%error, "cannot write the PostgreSQL log");
                        }
                    }
                }
            }
        })
}

/// Reads one line (with its newline) into `line`, keeping at most [`MAX_LINE_BYTES`] of it;
/// returns the bytes consumed (0 at the end of the stream).
fn read_bounded_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..=end], true),
            None => (buffer, false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room && !line.ends_with("…\n".as_bytes()) {
            line.extend_from_slice("…\n".as_bytes());
        }
        let used = chunk.len();
        reader.consume(used);
        consumed += used;
        if done {
            return Ok(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_at_its_size_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postgres.log");
        let input: Vec<u8> = (0..2000)
            .flat_map(|i| format!("line {i:05} of the postgres log\n").into_bytes())
            .collect();
        pump(std::io::Cursor::new(input), path.clone(), 8192)
            .unwrap()
            .join()
            .unwrap();
        let current = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(path.with_extension("log.1"))
            .unwrap()
            .len();
        assert!(current <= 8192 && old <= 8192, "{current} {old}");
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.ends_with("line 01999 of the postgres log\n"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_huge_line_is_cut_and_the_next_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postgres.log");
        let mut input = vec![b'x'; 3 * MAX_LINE_BYTES];
        input.extend_from_slice(b"\nnext line\n");
        pump(std::io::Cursor::new(input), path.clone(), 1 << 20)
            .unwrap()
            .join()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() <= MAX_LINE_BYTES + 4);
        assert_eq!(lines[1], "next line");
    }

    #[test]
    fn a_symlink_at_the_log_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "untouched").unwrap();
        let path = dir.path().join("postgres.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(open_append(&path).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    }
}
