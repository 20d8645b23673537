//! The one write path for `security.capability`: every command that changes a file's
//! capabilities (grant, revoke, set, apply) goes through [`modify`].
//!
//! Security review of this path (why each step is here):
//!
//! 1. **Resolve once.** A symlink named by the user is resolved to the real file
//!    (`realpath`), because the kernel reads the capabilities of the file it executes.
//!    With `follow = false` a symlink is refused instead.
//! 2. **Open without following anything.** The resolved path is opened with
//!    `openat2(RESOLVE_NO_SYMLINKS)` and `O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC`, so a
//!    component swapped for a symlink between steps 1 and 2 makes the open fail
//!    (ELOOP) instead of redirecting a privileged write (the TOCTOU of
//!    CVE-2026-4878 in libcap's path-based `cap_set_file`). `O_NONBLOCK` means a fifo
//!    cannot hang us; the `fstat` below then refuses it.
//! 3. **Check the inode, not the name.** `fstat` on the fd requires a regular file; the
//!    device and inode reported are those of the fd.
//! 4. **Serialise writers.** An exclusive `flock` on the fd makes read-modify-write
//!    atomic between concurrent fcap processes: parallel grants of different
//!    capabilities on one file all land.
//! 5. **Read, compute, write on the same fd** (`fgetxattr`, `fsetxattr`,
//!    `fremovexattr`). Nothing is written when the new value equals the old bytes,
//!    so a repeated grant is a true no-op (`changed: false`).

use crate::error::{at_path, io_at_path};
use crate::filecaps::FileCaps;
use crate::sys;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a file carries before a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    /// No `security.capability` at all.
    None,
    /// A well-formed value.
    Caps(FileCaps),
    /// A value the kernel would refuse at exec (the reason is in the error).
    Malformed(String),
}

impl Current {
    /// The value as canonical text, or `None` when the file has no capabilities.
    pub fn text(&self) -> Option<String> {
        match self {
            Current::None => None,
            Current::Caps(c) => Some(c.to_text()),
            Current::Malformed(_) => Some("(malformed)".to_string()),
        }
    }

    fn from_raw(raw: Option<&[u8]>) -> Current {
        match raw {
            None => Current::None,
            Some(b) => match FileCaps::decode(b) {
                Ok(c) => Current::Caps(c),
                Err(e) => Current::Malformed(e.to_string()),
            },
        }
    }
}

/// How to write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOpts {
    /// Follow a symlink given by the user to the real file (else refuse it).
    pub follow: bool,
    /// Compute and report, but write nothing.
    pub dry_run: bool,
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct Change {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// The file actually written (symlinks resolved).
    pub target: PathBuf,
    pub before: Current,
    /// The new value; `None` means the attribute is (or would be) absent.
    pub after: Option<FileCaps>,
    /// True when the bytes on disk changed (or would change, with `dry_run`).
    pub changed: bool,
    /// Device and inode of the file that was opened (and written).
    pub dev_ino: (u64, u64),
}

impl Change {
    /// The JSON object `grant`, `revoke`, `set` and `apply` print for one file.
    pub fn to_json(&self) -> serde_json::Value {
        use crate::output::escape_path;
        serde_json::json!({
            "path": escape_path(&self.path),
            "target": escape_path(&self.target),
            "before": self.before.text(),
            "after": self.after.map(|c| c.to_text()),
            "changed": self.changed,
        })
    }
}

/// Resolve `path`, open the real file safely, and replace its value with what
/// `compute` returns for the current one (`None` removes the attribute).
///
/// `compute` may refuse with an error (e.g. a malformed current value for `grant`);
/// then nothing is written and the error names the path.
pub fn modify(
    path: &Path,
    opts: WriteOpts,
    compute: impl FnOnce(&Current) -> anyhow::Result<Option<FileCaps>>,
) -> anyhow::Result<Change> {
    let (target, meta) = resolve(path, opts.follow)?;
    // Refuse devices, fifos and sockets before opening them: opening a device can
    // have side effects. The fstat below re-checks the inode actually opened.
    if let Some(m) = meta.or_else(|| std::fs::symlink_metadata(&target).ok())
        && !m.file_type().is_file()
    {
        return Err(not_regular(path, &m));
    }
    let handle = Handle::open(&target).map_err(|e| open_error(path, &target, &e, !opts.dry_run))?;
    let meta = handle.metadata().map_err(|e| io_at_path(path, &e, false))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, &meta));
    }
    // procfs, sysfs, cgroupfs and friends: their files are never executed, and some
    // (kernfs) would even store the attribute in memory. Refuse before any write.
    if let Some(t) = crate::fsinfo::fd_fs_type(handle.file.as_fd())
        && crate::fsinfo::is_pseudo(t)
    {
        let name = crate::fsinfo::type_name(t).unwrap_or("a pseudo filesystem");
        return Err(at_path(
            path,
            format!(
                "is on {name}, a pseudo filesystem whose files are never executed; file capabilities there mean nothing"
            ),
        ));
    }
    handle.lock().map_err(|e| io_at_path(path, &e, true))?;
    // `raw` is None when the kernel will not hand the value out at all: then any new
    // value is a change.
    let (raw, before) = match handle.get() {
        Ok(raw) => {
            let before = Current::from_raw(raw.as_deref());
            (Some(raw), before)
        }
        Err(e) => match crate::filecaps::unreadable_value(&e) {
            Some(why) => (None, Current::Malformed(why)),
            None => return Err(io_at_path(path, &e, false)),
        },
    };
    let after = compute(&before).map_err(|e| at_path(path, format!("{e:#}")))?;
    let new_raw = after.map(|c| c.encode());
    let changed = raw.as_ref() != Some(&new_raw);
    if changed && !opts.dry_run {
        let r = match &new_raw {
            Some(v) => handle.set(v),
            None => handle.remove(),
        };
        r.map_err(|e| io_at_path(path, &e, true))?;
    }
    Ok(Change {
        path: path.to_path_buf(),
        target,
        before,
        after,
        changed,
        dev_ino: (meta.dev(), meta.ino()),
    })
}

/// Store `value` on the regular file `path` (or remove the attribute, `None`) exactly
/// as asked, the way libcap's `cap_set_file` does for the setcap drop-in: a symlink or
/// a non-regular file is refused, nothing is compared first (an unchanged value is
/// written again, so a read-only or immutable file still fails), and removing an
/// absent attribute is an error. It opens and checks the file like [`modify`].
pub fn put_exact(path: &Path, value: Option<&[u8]>) -> anyhow::Result<()> {
    let (target, meta) = resolve(path, false)?;
    if let Some(m) = meta
        && !m.file_type().is_file()
    {
        return Err(not_regular(path, &m));
    }
    let handle = Handle::open(&target).map_err(|e| open_error(path, &target, &e, true))?;
    let meta = handle.metadata().map_err(|e| io_at_path(path, &e, false))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, &meta));
    }
    let r = match value {
        Some(v) => handle.set(v),
        None => match handle.get() {
            Ok(None) => return Err(at_path(path, "has no capabilities to remove")),
            _ => handle.remove(),
        },
    };
    r.map_err(|e| io_at_path(path, &e, true))
}

/// The open file: a readable fd, or, when the caller may not read the file, an
/// `O_PATH` fd.
///
/// Writing `security.capability` needs CAP_SETFCAP, not read permission: setcap works
/// for a caller holding only CAP_SETFCAP on a root-owned mode-0700 file. An `O_PATH` fd
/// still pins the inode; its xattrs are reached through `/proc/self/fd/N`, which the
/// kernel resolves to that very inode (no name lookup that could be swapped). The one
/// thing lost is the `flock` (it needs a real open file), so two such callers racing on
/// one unreadable file are not serialised.
struct Handle {
    file: File,
    /// False for an `O_PATH` fd: no read, no lock, xattrs through `/proc/self/fd/N`.
    readable: bool,
}

impl Handle {
    fn open(real: &Path) -> io::Result<Handle> {
        let (fd, readable) =
            match open_no_follow(real, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY) {
                Ok(fd) => (fd, true),
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                    (open_no_follow(real, libc::O_PATH).map_err(|_| e)?, false)
                }
                Err(e) => return Err(e),
            };
        Ok(Handle {
            file: File::from(fd),
            readable,
        })
    }

    /// fstat (statx with AT_EMPTY_PATH) works on an `O_PATH` fd too.
    fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.file.metadata()
    }

    fn lock(&self) -> io::Result<()> {
        if self.readable {
            lock(&self.file)
        } else {
            Ok(())
        }
    }

    fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    fn get(&self) -> io::Result<Option<Vec<u8>>> {
        if self.readable {
            sys::fget(self.file.as_fd())
        } else {
            sys::get(&self.proc_path())
        }
    }

    fn set(&self, v: &[u8]) -> io::Result<()> {
        if self.readable {
            sys::fset(self.file.as_fd(), v)
        } else {
            sys::set(&self.proc_path(), v)
        }
    }

    fn remove(&self) -> io::Result<()> {
        if self.readable {
            sys::fremove(self.file.as_fd())
        } else {
            sys::remove(&self.proc_path())
        }
    }
}

/// Step 1: the real file behind `path`, and its `lstat` when `path` was not itself a
/// symlink (then it is the same file, and need not be looked at again).
fn resolve(path: &Path, follow: bool) -> anyhow::Result<(PathBuf, Option<std::fs::Metadata>)> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| io_at_path(path, &e, false))?;
    if meta.file_type().is_symlink() && !follow {
        // Name the target so the user (or the manifest) can point at the file itself:
        // the kernel uses the capabilities of the file it executes.
        let hint = match std::fs::canonicalize(path) {
            Ok(t) => format!(
                " to '{}'; name that file itself",
                crate::output::escape_path(&t)
            ),
            Err(_) => "; name the file it points to itself".to_string(),
        };
        return Err(at_path(
            path,
            format!(
                "is a symbolic link{hint}, since the kernel uses the capabilities of the file it executes"
            ),
        ));
    }
    // Without following, only the directories are resolved: the final name is kept,
    // so if it turns into a symlink after the check above, the O_NOFOLLOW open
    // refuses it (ELOOP) instead of canonicalize() quietly following it to another
    // file (found by the symlink-swap test).
    let resolved = match (follow, path.file_name()) {
        (false, Some(name)) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            std::fs::canonicalize(parent).map(|dir| dir.join(name))
        }
        _ => std::fs::canonicalize(path),
    };
    let target = resolved.map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::ENOENT) => "dangling symbolic link: its target does not exist".to_string(),
            _ => crate::error::describe_io(path, &e, false),
        };
        at_path(path, why)
    })?;
    Ok((target, (!meta.file_type().is_symlink()).then_some(meta)))
}

/// Step 2: open a fully resolved path without following any symlink in it.
fn open_no_follow(real: &Path, mode: libc::c_int) -> io::Result<OwnedFd> {
    let c = std::ffi::CString::new(real.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let flags = mode | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: open_how is a plain struct; zeroed is a valid initial value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: `c` is NUL-terminated; `how` is valid for the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let fd = if fd < 0
        && matches!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EPERM)
        ) {
        // Kernels before 5.6, or a seccomp filter that answers EPERM for syscalls it
        // does not know: the final component still cannot be a symlink.
        // SAFETY: as above.
        i64::from(unsafe { libc::open(c.as_ptr(), flags) })
    } else {
        fd
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn open_error(path: &Path, target: &Path, e: &io::Error, writing: bool) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => at_path(
            path,
            format!(
                "'{}' changed into a symbolic link while being opened; nothing was written",
                crate::output::escape_path(target)
            ),
        ),
        Some(libc::ENXIO) | Some(libc::ENODEV) => {
            at_path(path, "not a regular file (a device or socket)")
        }
        // The open is the first step of a write: a caller that cannot even open the
        // file needs the same hint as one the kernel refuses the xattr write.
        _ => io_at_path(path, e, writing),
    }
}

fn lock(f: &File) -> io::Result<()> {
    // SAFETY: flock on a valid, owned fd.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn not_regular(path: &Path, m: &std::fs::Metadata) -> anyhow::Error {
    at_path(
        path,
        format!(
            "not a regular file ({}); file capabilities can only be set on regular files",
            kind(m)
        ),
    )
}

fn kind(m: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a fifo"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}
