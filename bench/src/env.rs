//! What the figures were measured on: date, CPU, the Rolodex build and the peers' versions.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::servers::Tools;

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub date_utc: String,
    pub cpu_count: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub rolodex_bin: String,
    /// `rolodex --version`.
    pub rolodex_version: String,
    /// HEAD of the repository the bench ran from. When `ROLODEX_BIN` pointed at a prebuilt
    /// binary, that binary may have been built from another revision.
    pub rolodex_git_rev: String,
    /// Uncommitted changes under src/ at the time of the run.
    pub rolodex_git_dirty: bool,
    pub rolodex_bin_from_env: bool,
    pub radicale_version: String,
    pub xandikos_version: String,
    pub driver: String,
    /// /proc/loadavg when the run started: other work on the machine skews the figures.
    pub load_average_at_start: String,
}

fn output(program: &Path, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            // Radicale logs before printing its version: the version is the last line.
            String::from_utf8_lossy(&text)
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

pub fn collect(tools: &Tools, repo: &Path, bin_from_env: bool) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let git = Path::new("git");
    let repo_arg = repo.display().to_string();
    Environment {
        date_utc: now_utc(),
        cpu_count: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        rolodex_bin: tools.rolodex.display().to_string(),
        rolodex_version: version(output(&tools.rolodex, &["--version"])),
        rolodex_git_rev: output(git, &["-C", &repo_arg, "rev-parse", "HEAD"]),
        rolodex_git_dirty: !output(
            git,
            &["-C", &repo_arg, "status", "--porcelain", "--", "src"],
        )
        .is_empty(),
        rolodex_bin_from_env: bin_from_env,
        radicale_version: version(output(&tools.venv_bin.join("radicale"), &["--version"])),
        xandikos_version: version(output(&tools.venv_bin.join("xandikos"), &["--version"])),
        driver: format!("rolodex-bench {}", env!("CARGO_PKG_VERSION")),
        load_average_at_start: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// "xandikos 0.4.10" -> "0.4.10" (Radicale prints the bare version already).
fn version(line: String) -> String {
    match line.rsplit_once(' ') {
        Some((_, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => v.to_string(),
        _ => line,
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ` (no date crate for one timestamp).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
