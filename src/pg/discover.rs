//! Finding the PostgreSQL server binaries on this machine and learning their major version.
//!
//! Search order: explicit override dir, `pg_config --bindir`, `initdb`/`postgres` on PATH, then
//! the distribution layouts (`/usr/lib/postgresql/<v>/bin`, `/usr/pgsql-<v>/bin`), highest
//! version first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::PgError;

/// Returns the directory holding `initdb` and `postgres`.
///
/// An explicit override is authoritative: if it does not hold the binaries we fail rather than
/// silently running some other installation the operator did not ask for.
pub fn find_binaries(override_dir: Option<&Path>) -> Result<PathBuf, PgError> {
    if let Some(dir) = override_dir {
        if has_server_binaries(dir) {
            return Ok(canonical_or_same(dir));
        }
        tracing::warn!(dir = %dir.display(), "PostgreSQL bin dir override does not contain initdb and postgres");
        return Err(PgError::BinariesNotFound);
    }
    let found = from_pg_config()
        .or_else(from_path)
        .or_else(from_well_known_dirs);
    match found {
        Some(dir) => {
            tracing::debug!(dir = %dir.display(), "using PostgreSQL server binaries");
            Ok(dir)
        }
        None => Err(PgError::BinariesNotFound),
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    // metadata() follows symlinks, which is what exec does too.
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn canonical_or_same(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

/// `pg_config` may belong to a client-only (libpq-dev) install, so its bindir only counts when
/// the server binaries are actually there.
fn from_pg_config() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = PathBuf::from(text.trim());
    has_server_binaries(&dir).then(|| canonical_or_same(&dir))
}

/// `initdb` on PATH is often a symlink (e.g. /usr/local/bin/initdb) or a wrapper dir; initdb
/// execs the `postgres` next to its real location, so we resolve the link and require both there.
fn from_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        let initdb = dir.join("initdb");
        if !is_executable(&initdb) {
            return None;
        }
        let real_dir = initdb.canonicalize().ok()?.parent()?.to_path_buf();
        has_server_binaries(&real_dir).then_some(real_dir)
    })
}

fn from_well_known_dirs() -> Option<PathBuf> {
    let mut candidates: Vec<(Vec<u64>, PathBuf)> = Vec::new();
    // Debian/Ubuntu: /usr/lib/postgresql/<version>/bin
    collect_versioned(Path::new("/usr/lib/postgresql"), "", &mut candidates);
    // RHEL/Fedora PGDG packages: /usr/pgsql-<version>/bin
    collect_versioned(Path::new("/usr"), "pgsql-", &mut candidates);
    candidates.sort();
    candidates.into_iter().rev().map(|(_, dir)| dir).next()
}

fn collect_versioned(parent: &Path, prefix: &str, out: &mut Vec<(Vec<u64>, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(key) = version_key(version) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if has_server_binaries(&bin) {
            out.push((key, bin));
        }
    }
}

/// "15" -> [15], "9.6" -> [9, 6]; anything else is not a version directory.
fn version_key(s: &str) -> Option<Vec<u64>> {
    s.split('.').map(|part| part.parse().ok()).collect()
}

/// Major version of the binaries in the format `PG_VERSION` uses ("15", or "9.6" before 10),
/// from `postgres --version`.
pub(crate) async fn server_major_version(bindir: &Path) -> Result<String, PgError> {
    let postgres = bindir.join("postgres");
    let out = tokio::process::Command::new(&postgres)
        .arg("--version")
        .output()
        .await
        .map_err(|e| PgError::Io(format!("running {} --version", postgres.display()), e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    major_from_version_output(&text).ok_or_else(|| PgError::StartFailed {
        message: format!(
            "could not determine the PostgreSQL version from `{} --version` (output: {:?})",
            postgres.display(),
            text.trim()
        ),
        log_tail: String::new(),
    })
}

/// Parses e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" or "... 17devel".
fn major_from_version_output(text: &str) -> Option<String> {
    let version = text
        .split("(PostgreSQL)")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let mut parts = version.split('.');
    let first = leading_number(parts.next()?)?;
    if first >= 10 {
        Some(first.to_string())
    } else {
        let second = leading_number(parts.next()?)?;
        Some(format!("{first}.{second}"))
    }
}

fn leading_number(s: &str) -> Option<u64> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Locale arguments for initdb: C.UTF-8 gives byte-order collation (stable across glibc
/// upgrades, unlike en_US) with proper Unicode character classes for lower()/upper() on names;
/// `--no-locale` is the fallback where the C library lacks it.
pub(crate) fn initdb_locale_arg() -> &'static str {
    // glibc normalises "C.UTF-8" and "C.utf8" to the same locale.
    if super::sys::locale_available("C.UTF-8") {
        "--locale=C.UTF-8"
    } else {
        "--no-locale"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n";
        assert_eq!(major_from_version_output(v).as_deref(), Some("15"));
        assert_eq!(
            major_from_version_output("postgres (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            major_from_version_output("postgres (PostgreSQL) 18devel").as_deref(),
            Some("18")
        );
        assert_eq!(major_from_version_output("garbage"), None);
    }

    #[test]
    fn version_dirs_sort_numerically() {
        let mut v = [version_key("9.6"), version_key("15"), version_key("13")];
        v.sort();
        assert_eq!(v.last(), Some(&Some(vec![15])));
        assert_eq!(version_key("latest"), None);
    }
}
