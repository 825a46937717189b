//! Files and directories that rolodex touches inside a directory someone else may control.
//!
//! Started as root, rolodex gives the data directory to the unprivileged user PostgreSQL runs
//! as, so from then on that user can create, replace or link any name in it. Root must never
//! let such a name lead it elsewhere: a `rolodex.lock -> /etc/shadow` planted there would make a
//! plain `open` truncate the target, a `postgres.log -> /dev/tty` or a FIFO would hang or
//! hijack a terminal, and a hard link to a root-owned file would be written through just the
//! same. Everything here therefore works from file descriptors:
//!
//! * files are opened with `O_NOFOLLOW` (a symlink at the name fails with `ELOOP`, see
//!   open(2)), `O_NOCTTY` and `O_NONBLOCK` (a device or FIFO can neither become our
//!   terminal nor block us), then checked with `fstat` to be a regular file with a single link,
//!   and their ownership is set with `fchown` on that descriptor, never by path;
//! * directory trees are walked through `/proc/self/fd/N/<name>` (see proc(5): the magic link
//!   resolves to the directory already opened, so no component of the path can be swapped for
//!   a symlink between a check and a use), each directory opened with
//!   `O_DIRECTORY | O_NOFOLLOW` and each entry changed with `lchown`, which does not follow a
//!   final symlink (chown(2)).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sys;

/// Flags for every open of a name in a directory an unprivileged user may control.
const SAFE_FLAGS: libc::c_int = libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;

/// How a file is opened by [`open_regular`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read only; the file must exist.
    Read,
    /// Read and write, created if missing (mode 0600), never truncated on open.
    ReadWrite,
    /// Append, created if missing (mode 0600).
    Append,
}

/// Opens `path` without following a symlink at its name and checks that what was opened is a
/// regular file with exactly one link (a hard link to a file elsewhere is refused, whoever owns
/// it). A file created by [`Access::ReadWrite`] or [`Access::Append`] that another user owns is
/// taken over with `fchown` on the open descriptor, so it is ours however it got there.
pub(crate) fn open_regular(path: &Path, access: Access) -> io::Result<File> {
    let mut options = OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::ReadWrite => options.read(true).write(true).create(true).truncate(false),
        Access::Append => options.append(true).create(true),
    };
    let file = options
        .mode(0o600)
        .custom_flags(SAFE_FLAGS)
        .open(path)
        .map_err(|e| explain_symlink(path, e))?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(unsafe_entry(path, "is not a regular file"));
    }
    if meta.nlink() != 1 {
        return Err(unsafe_entry(
            path,
            "has more than one hard link (it may be a link to a file elsewhere)",
        ));
    }
    if access != Access::Read && meta.uid() != sys::effective_uid() {
        std::os::unix::fs::fchown(&file, Some(sys::effective_uid()), None)?;
    }
    Ok(file)
}

/// Reads at most `max` bytes of a regular file opened as by [`open_regular`]: for small files
/// of the cluster (`PG_VERSION`, `postmaster.pid`) whose content an error message may show.
pub(crate) fn read_small(path: &Path, max: u64) -> io::Result<String> {
    let mut text = String::new();
    open_regular(path, Access::Read)?
        .take(max)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Creates (if needed) a directory for the cluster's user: mode 0700, owned by `uid` (and
/// `gid` if given); `chmod` and `chown` go through the descriptor of the directory opened.
pub(crate) fn private_dir(dir: &Path, uid: u32, gid: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let handle = open_dir(dir)?;
    handle.set_permissions(std::fs::Permissions::from_mode(0o700))?;
    std::os::unix::fs::fchown(&handle, Some(uid), gid)
}

/// Gives one directory to `uid`/`gid` through a descriptor opened without following a symlink
/// at its name.
pub(crate) fn chown_dir(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::fchown(open_dir(dir)?, Some(uid), Some(gid))
}

/// Gives the directory tree at `root` to `uid`/`gid` without ever following a symlink, neither
/// at an entry's name nor on the way to it (see the module doc). Symlinks themselves are
/// re-owned, not their targets (a cluster's `pg_wal` may point elsewhere on purpose).
pub(crate) fn chown_tree(root: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let top = open_dir(root)?;
    std::os::unix::fs::fchown(&top, Some(uid), Some(gid))?;
    let mut stack = vec![top];
    while let Some(dir) = stack.pop() {
        let base = fd_path(&dir);
        for entry in std::fs::read_dir(&base)? {
            let entry = entry?;
            let path = base.join(entry.file_name());
            // d_type from getdents: describes the entry itself, never a symlink's target.
            if entry.file_type()?.is_dir() {
                let sub = open_dir(&path)?;
                std::os::unix::fs::fchown(&sub, Some(uid), Some(gid))?;
                stack.push(sub);
            } else {
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            }
        }
    }
    Ok(())
}

/// Opens a directory for use as a handle, failing on a symlink at its name.
fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            // With O_DIRECTORY, Linux reports a symlink at the name as ENOTDIR, not ELOOP.
            let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            if e.raw_os_error() == Some(libc::ENOTDIR) && link {
                unsafe_entry(path, "is a symbolic link; refusing to follow it")
            } else {
                explain_symlink(path, e)
            }
        })
}

/// The path that names exactly this open file (proc(5), `/proc/[pid]/fd/`).
fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// `ELOOP` from `O_NOFOLLOW` means "this name is a symbolic link": say so.
fn explain_symlink(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        unsafe_entry(path, "is a symbolic link; refusing to follow it")
    } else {
        e
    }
}

fn unsafe_entry(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} {what}; it was not created by rolodex: remove it and start again",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_fifos_and_hard_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "untouched").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for access in [Access::Read, Access::ReadWrite, Access::Append] {
            let err = open_regular(&link, access).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        let err = open_regular(&hard, Access::Append).unwrap_err();
        assert!(err.to_string().contains("hard link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");

        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo touches no memory of ours.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Would block forever without O_NONBLOCK.
        let err = read_small(&fifo, 64).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn chown_tree_does_not_follow_links_out_of_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("file"), "x").unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/file"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/escape")).unwrap();
        // As root (as in CI) the tree really changes hands; otherwise it stays ours.
        let (uid, gid) = if sys::running_as_root() {
            (65534, 65534)
        } else {
            (
                sys::effective_uid(),
                std::fs::metadata(&tree).unwrap().gid(),
            )
        };
        let outside_owner = std::fs::metadata(outside.join("file")).unwrap().uid();
        chown_tree(&tree, uid, gid).unwrap();
        assert_eq!(std::fs::metadata(tree.join("a/b/file")).unwrap().uid(), uid);
        assert_eq!(std::fs::metadata(tree.join("a/b")).unwrap().uid(), uid);
        assert_eq!(
            std::fs::symlink_metadata(tree.join("a/escape"))
                .unwrap()
                .uid(),
            uid
        );
        assert_eq!(
            std::fs::metadata(outside.join("file")).unwrap().uid(),
            outside_owner
        );
        assert_eq!(std::fs::metadata(&outside).unwrap().uid(), outside_owner);
        let err = chown_tree(&tree.join("a/escape"), uid, gid).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
