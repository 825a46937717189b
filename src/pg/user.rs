//! Which OS user runs the cluster. PostgreSQL refuses to run as root, so a root rolodex runs
//! initdb and postgres as an unprivileged system user: `postgres` (created by Debian's
//! postgresql package) or the one named by `--pg-user` / `ROLODEX_PG_USER` / `pg_user`. It
//! hands that user the data dir and checks up front that it can reach it.
//!
//! There is deliberately no fallback to `nobody`: that account is shared by every daemon that
//! drops privileges to it (and by NFS's root squashing), so any of them could then read the
//! cluster's files and connect to its superuser socket.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::PgError;
use super::owned_fs;
use super::sys::{self, UserEntry};

/// The user a root rolodex runs PostgreSQL as unless told otherwise.
pub const DEFAULT_PG_USER: &str = "postgres";

/// Accounts never used for the cluster, even when named: root (PostgreSQL refuses it) and the
/// shared `nobody`.
const REFUSED_USERS: [&str; 2] = ["root", "nobody"];

#[derive(Debug)]
pub(crate) enum RunAs {
    /// Not root: initdb and postgres run as ourselves, nothing to chown.
    CurrentUser,
    /// Root: drop to this user for every PostgreSQL process.
    Unprivileged { user: UserEntry, groups: Vec<u32> },
}

impl RunAs {
    /// `requested` is `--pg-user`; it only matters when running as root.
    pub(crate) fn detect(requested: Option<&str>) -> Result<RunAs, PgError> {
        if !sys::running_as_root() {
            if let Some(name) = requested {
                tracing::debug!(
                    pg_user = name,
                    "not running as root: --pg-user is ignored, PostgreSQL runs as the current user"
                );
            }
            return Ok(RunAs::CurrentUser);
        }
        let name = requested.unwrap_or(DEFAULT_PG_USER);
        let explicit = requested.is_some();
        let refused = |reason: &str| PgError::RunAsUser {
            name: name.to_owned(),
            explicit,
            reason: reason.to_owned(),
        };
        if REFUSED_USERS.contains(&name) {
            return Err(refused(
                "is not a dedicated account (root is refused by PostgreSQL; `nobody` is shared \
                 by other daemons, which could then reach the cluster)",
            ));
        }
        let entry = sys::lookup_user(name)
            .map_err(|e| PgError::Io(format!("looking up user {name:?}"), e))?;
        match entry {
            None => Err(refused("does not exist")),
            Some(user) if user.uid == 0 => Err(refused("has uid 0, i.e. is root")),
            Some(user) => {
                let groups = sys::group_ids(&user.name, user.gid);
                tracing::debug!(user = %user.name, uid = user.uid, "running as root; PostgreSQL will run as an unprivileged user");
                Ok(RunAs::Unprivileged { user, groups })
            }
        }
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

    /// Gives one directory to the run-as user, through a descriptor opened without following
    /// a symlink at its name. No-op when not root.
    pub(crate) fn chown_dir(&self, path: &Path) -> Result<(), PgError> {
        match self {
            RunAs::CurrentUser => Ok(()),
            RunAs::Unprivileged { user, .. } => owned_fs::chown_dir(path, user.uid, user.gid)
                .map_err(|e| PgError::Io(format!("chown {}", path.display()), e)),
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
        owned_fs::chown_tree(root, user.uid, user.gid)
            .map_err(|e| PgError::Io(format!("changing the owner of {}", root.display()), e))
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

    /// Creates (if needed) a private directory for this user: mode 0700, owned by the run-as
    /// user (chmod and chown through the descriptor, see `owned_fs`).
    pub(crate) fn private_dir(&self, dir: &Path) -> Result<(), PgError> {
        let (uid, gid) = match self {
            RunAs::CurrentUser => (sys::effective_uid(), None),
            RunAs::Unprivileged { user, .. } => (user.uid, Some(user.gid)),
        };
        owned_fs::private_dir(dir, uid, gid)
            .map_err(|e| PgError::Io(format!("preparing directory {}", dir.display()), e))
    }

    /// The uid PostgreSQL runs as.
    pub(crate) fn uid(&self) -> u32 {
        match self {
            RunAs::CurrentUser => sys::effective_uid(),
            RunAs::Unprivileged { user, .. } => user.uid,
        }
    }
}
