//! The on-disk side of the managed cluster: the data directory layout, the exclusive lock that
//! marks "a live rolodex owns this directory", the postgres log file, initdb and the
//! cluster/binaries version check, and where the Unix socket lives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::PgError;
use super::owned_fs;
use super::process::PORT;
use super::sys;
use super::user::RunAs;

/// Start a fresh log at start once the old one passes this size (initdb's output and the
/// postmaster's stdout go to it directly; its stderr is rotated while it runs, see `log`).
const LOG_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// `sizeof(sun_path)` on Linux is 108 including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Paths inside rolodex's data directory. `data_dir` is canonical, so every path below is too.
#[derive(Debug)]
pub(crate) struct Layout {
    pub data_dir: PathBuf,
    pub pgdata: PathBuf,
    pub log_file: PathBuf,
    lock_file: PathBuf,
    run_dir: PathBuf,
    /// initdb writes here and the result is renamed to `pgdata` only on success, so an existing
    /// `pgdata` is always a complete cluster even if a first start was killed mid-initdb.
    staging: PathBuf,
}

impl Layout {
    /// Creates the data dir if missing (mode 0700; missing parents get the default mode so an
    /// unprivileged postgres user can still traverse them) and resolves it.
    pub(crate) fn prepare(data_dir: &Path) -> Result<Layout, PgError> {
        let io_err = |what: &str, e| PgError::Io(format!("{what} {}", data_dir.display()), e);
        if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io_err("creating parent of", e))?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(data_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && data_dir.is_dir() => {}
            Err(e) => return Err(io_err("creating data directory", e)),
        }
        let data_dir = data_dir
            .canonicalize()
            .map_err(|e| io_err("resolving", e))?;
        Ok(Layout {
            pgdata: data_dir.join("pgdata"),
            log_file: data_dir.join("postgres.log"),
            lock_file: data_dir.join("rolodex.lock"),
            run_dir: data_dir.join("run"),
            staging: data_dir.join("pgdata.initdb"),
            data_dir,
        })
    }
}

/// Takes the data dir lock for the lifetime of the returned file. Failing to get it means
/// another rolodex is running on this directory right now; getting it means any postmaster
/// still running on our cluster is an orphan. Our pid goes into the file for the error message.
pub(crate) fn lock_data_dir(layout: &Layout) -> Result<File, PgError> {
    let path = &layout.lock_file;
    let io_err = |what: &str, e| PgError::Io(format!("{what} {}", path.display()), e);
    // Truncated and written below: never through a link the cluster's user planted.
    let mut file = owned_fs::open_regular(path, owned_fs::Access::ReadWrite)
        .map_err(|e| io_err("opening", e))?;
    if !sys::try_lock_exclusive(&file).map_err(|e| io_err("locking", e))? {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(PgError::DataDirInUse {
            data_dir: layout.data_dir.clone(),
            owner_pid: text.trim().parse().ok(),
        });
    }
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .map_err(|e| io_err("writing", e))?;
    Ok(file)
}

/// Opens `postgres.log` for appending (rotating an oversized one to `postgres.log.1`) and
/// returns it with its current length, so error messages can show only this start's output.
/// The file stays root's when rolodex runs as root: PostgreSQL only ever writes to it through
/// the descriptors it is handed, so it needs no ownership (and no chown through a path that the
/// unprivileged user could have replaced).
pub(crate) fn open_log(layout: &Layout) -> Result<(File, u64), PgError> {
    let path = &layout.log_file;
    let io_err = |what: &str, e| PgError::Io(format!("{what} {}", path.display()), e);
    // lstat: a symlink's size says nothing, and rename moves the link itself, not its target.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
        std::fs::rename(path, path.with_extension("log.1")).map_err(|e| io_err("rotating", e))?;
    }
    let file = super::log::open_append(path).map_err(|e| io_err("opening", e))?;
    let len = file.metadata().map_err(|e| io_err("stat", e))?.len();
    Ok((file, len))
}

/// The last lines postgres/initdb wrote to the log since `offset`.
pub(crate) fn log_tail(path: &Path, offset: u64) -> String {
    const MAX_BYTES: u64 = 8 * 1024;
    const MAX_LINES: usize = 30;
    // Shown in error messages: never the content of a file a planted link points to.
    let Ok(mut file) = owned_fs::open_regular(path, owned_fs::Access::Read) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = offset.max(len.saturating_sub(MAX_BYTES)).min(len);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(MAX_LINES)..].join("\n")
}

/// Ensures `pgdata` holds a cluster of the binaries' major version, running initdb if there is
/// none yet. Returns true if it created the cluster.
pub(crate) async fn ensure_cluster(
    bindir: &Path,
    binaries_major: &str,
    layout: &Layout,
    run_as: &RunAs,
    log: &File,
    log_offset: u64,
) -> Result<bool, PgError> {
    let version_file = layout.pgdata.join("PG_VERSION");
    if version_file.exists() {
        // Shown in the error below, so bounded and never read through a link.
        let cluster = owned_fs::read_small(&version_file, 64)
            .map_err(|e| PgError::Io(format!("reading {}", version_file.display()), e))?
            .trim()
            .to_owned();
        if cluster != binaries_major {
            return Err(PgError::VersionMismatch {
                pgdata: layout.pgdata.clone(),
                cluster,
                binaries: binaries_major.to_owned(),
                bindir: bindir.to_path_buf(),
            });
        }
        return Ok(false);
    }
    if layout.pgdata.exists() {
        // An empty directory is fine to replace; anything else might be someone's data.
        if std::fs::remove_dir(&layout.pgdata).is_err() {
            return Err(PgError::StartFailed {
                message: format!(
                    "{} exists but is not a PostgreSQL cluster (no PG_VERSION); move it aside so \
                     rolodex can create a fresh one",
                    layout.pgdata.display()
                ),
                log_tail: String::new(),
            });
        }
    }
    if layout.staging.exists() {
        tracing::warn!(path = %layout.staging.display(), "removing the remains of an interrupted initdb");
        std::fs::remove_dir_all(&layout.staging)
            .map_err(|e| PgError::Io(format!("removing {}", layout.staging.display()), e))?;
    }
    tracing::info!(pgdata = %layout.pgdata.display(), "creating PostgreSQL cluster (initdb)");
    let initdb = bindir.join("initdb");
    let dup = || {
        log.try_clone()
            .map_err(|e| PgError::Io("duplicating log fd".into(), e))
    };
    let mut cmd = Command::new(&initdb);
    cmd.arg("-D")
        .arg(&layout.staging)
        .arg(format!("--username={}", super::SUPERUSER))
        .arg("--encoding=UTF8")
        .arg(super::discover::initdb_locale_arg())
        // Only the owner (and root) can reach the 0700 socket dir, so trust on the socket is
        // exactly "the OS user that owns the cluster". Refuse TCP outright in case someone later
        // enables listen_addresses by hand.
        .arg("--auth-local=trust")
        .arg("--auth-host=reject")
        .arg("--data-checksums")
        .stdin(Stdio::null())
        .stdout(dup()?)
        .stderr(dup()?)
        .current_dir(&layout.data_dir);
    run_as.apply(&mut cmd, &layout.data_dir);
    let status = tokio::process::Command::from(cmd)
        .status()
        .await
        .map_err(|e| PgError::Io(format!("running {}", initdb.display()), e))?;
    if !status.success() {
        return Err(PgError::StartFailed {
            message: format!(
                "initdb failed ({status}); full output in {}",
                layout.log_file.display()
            ),
            log_tail: log_tail(&layout.log_file, log_offset),
        });
    }
    std::fs::rename(&layout.staging, &layout.pgdata).map_err(|e| {
        PgError::Io(
            format!(
                "renaming {} to {}",
                layout.staging.display(),
                layout.pgdata.display()
            ),
            e,
        )
    })?;
    Ok(true)
}

/// Picks and prepares the socket directory. Preferred: `<data_dir>/run`. If the socket path
/// would not fit in `sun_path`, or the path contains characters postgres's
/// `unix_socket_directories` list syntax would split on, use a private dir under /tmp instead.
/// Returns the dir and whether it is such a temporary one (to remove on stop).
pub(crate) fn socket_dir(layout: &Layout, run_as: &RunAs) -> Result<(PathBuf, bool), PgError> {
    if socket_dir_usable(&layout.run_dir) {
        run_as.private_dir(&layout.run_dir)?;
        return Ok((layout.run_dir.clone(), false));
    }
    // Stable per data dir, so restarts reuse it instead of littering /tmp.
    let base = format!(
        "/tmp/rolodex-{:016x}",
        fnv1a(layout.data_dir.as_os_str().as_bytes())
    );
    tracing::debug!(
        preferred = %layout.run_dir.display(),
        fallback = %base,
        "socket path under the data dir is too long for a Unix socket (or has unsafe characters); using a private dir under /tmp"
    );
    let candidates = std::iter::once(base.clone())
        .chain((0..100).map(|n| format!("{base}-{}-{n}", std::process::id())));
    for candidate in candidates {
        let dir = PathBuf::from(candidate);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                run_as.chown_dir(&dir)?;
                return Ok((dir, true));
            }
            // Reuse an existing one only if it is unmistakably ours: a real directory (not a
            // symlink) owned by the run-as user and closed to everyone else.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| {
                    m.is_dir() && m.uid() == run_as.uid() && m.permissions().mode() & 0o077 == 0
                });
                if ours {
                    return Ok((dir, true));
                }
            }
            Err(e) => return Err(PgError::Io(format!("creating {}", dir.display()), e)),
        }
    }
    Err(PgError::StartFailed {
        message: format!("could not create a private socket directory under /tmp ({base}*)"),
        log_tail: String::new(),
    })
}

fn socket_dir_usable(dir: &Path) -> bool {
    let socket_len = dir.as_os_str().len() + format!("/.s.PGSQL.{PORT}").len();
    let plain = dir.to_str().is_some_and(|s| {
        !s.chars()
            .any(|c| c == ',' || c == '"' || c == '\\' || c.is_whitespace())
    });
    socket_len <= MAX_SOCKET_PATH && plain
}

/// FNV-1a: a tiny hash that, unlike std's, is stable across Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_dir_rules() {
        assert!(socket_dir_usable(Path::new("/var/lib/rolodex/run")));
        assert!(!socket_dir_usable(Path::new("/srv/my data/run")));
        assert!(!socket_dir_usable(Path::new("/srv/a,b/run")));
        let long = format!("/{}", "x".repeat(100));
        assert!(!socket_dir_usable(Path::new(&long)));
        // 107 bytes exactly is the limit.
        let exact = format!(
            "/{}",
            "x".repeat(MAX_SOCKET_PATH - 1 - ".s.PGSQL.5432".len() - 1)
        );
        assert!(socket_dir_usable(Path::new(&exact)));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
