//! Which OS user runs the cluster. PostgreSQL refuses to run as root, so a root rolodex runs
//! initdb and postgres as an unprivileged system user (`postgres` if it exists, else `nobody`),
//! hands it ownership of the data dir, and checks up front that it can reach that dir.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::PgError;
use super::sys::{self, UserEntry};

/// Candidate users when started as root, in order of preference. Debian's postgresql package
/// creates `postgres`; `nobody` exists everywhere.
const UNPRIVILEGED_USERS: [&str; 2] = ["postgres", "nobody"];

#[derive(Debug)]
pub(crate) enum RunAs {
    /// Not root: initdb and postgres run as ourselves, nothing to chown.
    CurrentUser,
    /// Root: drop to this user for every PostgreSQL process.
    Unprivileged { user: UserEntry, groups: Vec<u32> },
}

impl RunAs {
    pub(crate) fn detect() -> Result<RunAs, PgError> {
        if !sys::running_as_root() {
            return Ok(RunAs::CurrentUser);
        }
        for name in UNPRIVILEGED_USERS {
            let entry = sys::lookup_user(name)
                .map_err(|e| PgError::Io(format!("looking up user {name:?}"), e))?;
            if let Some(user) = entry.filter(|u| u.uid != 0) {
                let groups = sys::group_ids(&user.name, user.gid);
                tracing::debug!(user = %user.name, uid = user.uid, "running as root; PostgreSQL will run as an unprivileged user");
                return Ok(RunAs::Unprivileged { user, groups });
            }
        }
        Err(PgError::StartFailed {
            message: "running as root, but neither a `postgres` nor a `nobody` user exists to run \
                      PostgreSQL as (it refuses to run as root); create a `postgres` system user \
                      or run rolodex as an unprivileged user"
                .to_owned(),
            log_tail: String::new(),
        })
    }

    /// Applies the user switch to a command about to run a PostgreSQL binary.
    pub(crate) fn apply(&self, cmd: &mut Command, data_dir: &Path) {
        if let RunAs::Unprivileged { user, .. } = self {
            // std drops supplementary groups (setgroups(0)) before setuid when uid is set.
            cmd.uid(user.uid).gid(user.gid);
            // Root's HOME (/root) is unreadable to this user; give it its own home if it has a
            // real one (nobody's is /nonexistent), else the data dir it owns.
            let home = if user.home.is_dir() {
                user.home.clone()
            } else {
                data_dir.to_path_buf()
            };
            cmd.env("HOME", home)
                .env("USER", &user.name)
                .env("LOGNAME", &user.name);
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            RunAs::CurrentUser => "the current user".to_owned(),
            RunAs::Unprivileged { user, .. } => format!("user `{}`", user.name),
        }
    }

    /// Gives one path (not following symlinks) to the run-as user. No-op when not root.
    pub(crate) fn chown(&self, path: &Path) -> Result<(), PgError> {
        match self {
            RunAs::CurrentUser => Ok(()),
            RunAs::Unprivileged { user, .. } => {
                std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
                    .map_err(|e| PgError::Io(format!("chown {}", path.display()), e))
            }
        }
    }

    /// Makes the whole cluster directory the run-as user's. Only walks the tree when the top
    /// directory has the wrong owner (e.g. the cluster was created by an earlier run as another
    /// user), so a normal restart of a large cluster costs one stat.
    pub(crate) fn chown_tree_if_needed(&self, root: &Path) -> Result<(), PgError> {
        let RunAs::Unprivileged { user, .. } = self else {
            return Ok(());
        };
        let meta = std::fs::symlink_metadata(root)
            .map_err(|e| PgError::Io(format!("stat {}", root.display()), e))?;
        if meta.uid() == user.uid && meta.gid() == user.gid {
            return Ok(());
        }
        tracing::info!(path = %root.display(), user = %user.name, "changing ownership of the PostgreSQL cluster");
        let mut stack = vec![root.to_path_buf()];
        while let Some(path) = stack.pop() {
            self.chown(&path)?;
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| PgError::Io(format!("stat {}", path.display()), e))?;
            // Never follow symlinks (pg_wal / tablespaces may point elsewhere on purpose).
            if meta.is_dir() {
                let entries = std::fs::read_dir(&path)
                    .map_err(|e| PgError::Io(format!("reading {}", path.display()), e))?;
                for entry in entries {
                    let entry =
                        entry.map_err(|e| PgError::Io(format!("reading {}", path.display()), e))?;
                    stack.push(entry.path());
                }
            }
        }
        Ok(())
    }

    /// Checks that the run-as user can traverse every ancestor of `path` (and, if
    /// `include_self`, `path` itself). A root-owned 0700 ancestor such as /root would otherwise
    /// surface as an obscure "permission denied" from initdb or postgres.
    pub(crate) fn check_reachable(&self, path: &Path, include_self: bool) -> Result<(), PgError> {
        let RunAs::Unprivileged { user, groups } = self else {
            return Ok(());
        };
        let mut dirs: Vec<PathBuf> = path.ancestors().skip(1).map(Path::to_path_buf).collect();
        if include_self {
            dirs.push(path.to_path_buf());
        }
        for dir in dirs {
            let meta = std::fs::metadata(&dir)
                .map_err(|e| PgError::Io(format!("stat {}", dir.display()), e))?;
            let mode = meta.permissions().mode();
            let executable = if meta.uid() == user.uid {
                mode & 0o100 != 0
            } else if groups.contains(&meta.gid()) {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !executable {
                return Err(PgError::Unreachable {
                    path: dir,
                    target: path.to_path_buf(),
                    user: user.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Creates (if needed) a private directory for this user: mode 0700, owned by the run-as user.
    pub(crate) fn private_dir(&self, dir: &Path) -> Result<(), PgError> {
        use std::os::unix::fs::DirBuilderExt;
        let io_err = |what: &str, e: io::Error| PgError::Io(format!("{what} {}", dir.display()), e);
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("creating", e)),
        }
        // An attacker-planted symlink must not make us chmod/chown something else.
        let meta = std::fs::symlink_metadata(dir).map_err(|e| io_err("stat", e))?;
        if !meta.is_dir() {
            return Err(io_err(
                "expected a directory at",
                io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"),
            ));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("chmod", e))?;
        self.chown(dir)
    }

    /// The uid PostgreSQL runs as.
    pub(crate) fn uid(&self) -> u32 {
        match self {
            RunAs::CurrentUser => sys::effective_uid(),
            RunAs::Unprivileged { user, .. } => user.uid,
        }
    }
}
