//! The results: the JSON document (everything, samples included), and the human-readable
//! forms built from it (one-line phase summaries while running, markdown tables at the end).

mod markdown;

use std::path::Path;

use serde::Serialize;

use crate::env::Environment;
use crate::phases::{Metric, Outcome, PhaseId, RunRecord};
use crate::stats::Measurement;

pub use markdown::render as markdown;

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub sizes: Vec<usize>,
    pub peer_sizes: Vec<usize>,
    pub servers: Vec<String>,
    pub upload_connections: usize,
    pub multiget_batch: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub environment: Environment,
    pub config: Config,
    /// False while the run is still going (the files are rewritten after each server).
    pub complete: bool,
    pub total_wall_s: f64,
    pub runs: Vec<RunRecord>,
}

impl Report {
    pub fn run(&self, server: crate::servers::Kind, n: usize) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.server == server && r.n == n)
    }

    /// Writes `latest.json` and `latest.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_atomically(&dir.join("latest.json"), &(json + "\n"))?;
        write_atomically(&dir.join("latest.md"), &markdown(self))
    }
}

/// A reader never sees half a file, even if the run is interrupted mid-write.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn format_seconds(s: f64) -> String {
    if s < 0.001 {
        format!("{:.3} ms", s * 1000.0)
    } else if s < 0.1 {
        format!("{:.2} ms", s * 1000.0)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 100.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}

/// 12345.6 -> "12,346".
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn format_mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// The headline figure of a measurement: a throughput for upload, a median time otherwise
/// (the import shows both).
pub fn figure(phase: PhaseId, m: &Measurement) -> String {
    match (phase.metric(), phase) {
        (Metric::Throughput, _) => format!("{} cards/s", thousands(m.cards_per_s.unwrap_or(0.0))),
        (Metric::Time, PhaseId::Import) => format!(
            "{} ({} cards/s)",
            format_seconds(m.median_s),
            thousands(m.cards_per_s.unwrap_or(0.0))
        ),
        (Metric::Time, _) => format_seconds(m.median_s),
    }
}

/// One line for the progress log.
pub fn summary(phase: PhaseId, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(m) => format!(
            "{} (min {}, p90 {}, {} samples)",
            figure(phase, m),
            format_seconds(m.min_s),
            format_seconds(m.p90_s),
            m.samples
        ),
        Outcome::Fail { reason } => format!("FAIL: {reason}"),
        Outcome::NotApplicable => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(format_seconds(0.01234), "12.34 ms");
        assert_eq!(format_seconds(0.5), "500 ms");
        assert_eq!(format_seconds(12.345), "12.35 s");
        assert_eq!(format_seconds(0.0004), "0.400 ms");
    }
}
