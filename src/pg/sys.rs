//! Safe wrappers over the handful of libc calls the managed PostgreSQL needs: `flock`, `kill`,
//! `geteuid`, passwd/group lookup and locale probing. Every `unsafe` block of `pg` lives here so
//! the rest of the module is plain safe Rust.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Our effective uid.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// True when running with effective uid 0 (PostgreSQL refuses to run as root).
pub(crate) fn running_as_root() -> bool {
    effective_uid() == 0
}

/// Tries to take an exclusive, non-blocking `flock` on `file`. `Ok(false)` means another open
/// file description (another rolodex) holds it. The lock lives as long as the descriptor, and
/// std opens files with O_CLOEXEC, so the postmaster we spawn never inherits it: a crashed
/// rolodex releases the lock even if its postmaster lives on.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: the fd is valid for the lifetime of `file`; flock touches no memory of ours.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// Sends `signal` to exactly one process. Refuses pids that `kill` would interpret as process
/// groups or "everyone" (0, negative, or out of `pid_t` range) so a garbage pid file can never
/// make us signal more than one process.
pub(crate) fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = checked_pid(pid)?;
    // SAFETY: kill has no memory-safety preconditions; pid is a single positive process id.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a process with this pid exists (including zombies), as `kill(pid, 0)` sees it.
/// This is the same test PostgreSQL applies to the pid in `postmaster.pid`.
pub(crate) fn process_exists(pid: u32) -> bool {
    match send_signal(pid, 0) {
        Ok(()) => true,
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
    }
}

fn checked_pid(pid: u32) -> io::Result<libc::pid_t> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal invalid pid {pid}"),
        )),
    }
}

/// The parts of a passwd entry we use to run PostgreSQL as an unprivileged user.
#[derive(Debug, Clone)]
pub(crate) struct UserEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Looks a user up by name (`getpwnam_r`, thread-safe). `Ok(None)` if there is no such user.
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<UserEntry>> {
    let cname = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: passwd is plain old data; all-zero is a valid (empty) value that getpwnam_r
        // overwrites.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `buf.len()` is the real buffer size.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            let bigger = buf.len() * 4;
            buf.resize(bigger, 0);
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pw_dir points to a NUL-terminated string inside `buf`, which is
        // still alive; we copy it out before `buf` is dropped.
        let home = unsafe { CStr::from_ptr(pwd.pw_dir) };
        return Ok(Some(UserEntry {
            name: name.to_owned(),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home: PathBuf::from(OsStr::from_bytes(home.to_bytes())),
        }));
    }
}

/// All group ids of `user` (primary `gid` included), for the permission walk over the data dir's
/// ancestors. Falls back to just the primary group if the lookup fails.
pub(crate) fn group_ids(user: &str, gid: u32) -> Vec<u32> {
    let Ok(cname) = CString::new(user) else {
        return vec![gid];
    };
    let mut capacity: libc::c_int = 64;
    for _ in 0..8 {
        let mut groups: Vec<libc::gid_t> = vec![0; usize::try_from(capacity).unwrap_or(64)];
        let mut count = capacity;
        // SAFETY: `groups` has room for `count` entries; getgrouplist writes at most that many
        // and reports the real count back through `count`.
        let rc =
            unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(usize::try_from(count).unwrap_or(0));
            return groups;
        }
        // Too small: glibc stores the needed size in `count`.
        capacity = count.max(capacity.saturating_mul(2));
    }
    vec![gid]
}

/// Whether the C library can load the named locale; initdb performs the same check, so this
/// predicts whether `--locale=<name>` will be accepted.
pub(crate) fn locale_available(name: &str) -> bool {
    let Ok(cname) = CString::new(name) else {
        return false;
    };
    // SAFETY: newlocale with a null base allocates a fresh locale object and does not touch the
    // process-global locale; we free it immediately.
    let loc = unsafe { libc::newlocale(libc::LC_ALL_MASK, cname.as_ptr(), std::ptr::null_mut()) };
    if loc.is_null() {
        return false;
    }
    // SAFETY: `loc` was returned by newlocale above and is freed exactly once.
    unsafe { libc::freelocale(loc) };
    true
}
