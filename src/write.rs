//! The one write path for `security.capability`: every command that changes a file's
//! capabilities (grant, revoke, set, apply) goes through [`modify`].
//!
//! Security review of this path (why each step is here):
//!
//! 1. **Resolve once, then walk without links.** A symlink named by the user is
//!    resolved to the real file (`realpath`), because the kernel reads the
//!    capabilities of the file it executes. That path, or with `follow = false` the
//!    path as given, is then opened one directory at a time with `O_NOFOLLOW`
//!    ([`crate::openpath`]), so a component swapped for a symlink in between is
//!    refused instead of redirecting a privileged write (the TOCTOU of CVE-2026-4878
//!    in libcap's path-based `cap_set_file`). With `follow = false` (`-P`, `apply`) a
//!    symlink anywhere in the path, a directory included, is refused and named.
//! 2. **Pin the inode.** The last component is opened `O_PATH|O_NOFOLLOW`: nothing is
//!    really opened yet, so a device or fifo has no side effect and cannot hang us.
//! 3. **Check the inode, not the name.** `fstat` on that fd requires a regular file
//!    not on a pseudo filesystem; only then is it reopened for reading through
//!    `/proc/self/fd/N`, which is that same inode whatever happens to the name.
//! 4. **Serialise writers, boundedly.** An exclusive `flock` on the fd makes
//!    read-modify-write atomic between concurrent fcap processes (parallel grants of
//!    different capabilities on one file all land), but a lock anyone else holds is
//!    waited for only a few seconds: see [`lock`] for why.
//! 5. **Read, compute, write on the same fd** (`fgetxattr`, `fsetxattr`,
//!    `fremovexattr`). Nothing is written when the new value equals the old bytes,
//!    so a repeated grant is a true no-op (`changed: false`).

use crate::error::{at_path, io_at_path};
use crate::filecaps::FileCaps;
use crate::openpath::{self, Links, OpenError, Parent};
use crate::sys;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    let mode = if opts.follow {
        Follow::All
    } else {
        Follow::None
    };
    let (target, parent) = resolve(path, mode)?;
    // An O_PATH fd first: it opens nothing (a device or fifo has no side effect) and
    // pins the inode that every later step acts on.
    let pinned = parent
        .open_last()
        .map_err(|e| open_error(path, &target, &e, !opts.dry_run))?;
    let meta = pinned.metadata().map_err(|e| io_at_path(path, &e, false))?;
    if meta.file_type().is_symlink() {
        return Err(final_link(path, &target, opts.follow));
    }
    if !meta.file_type().is_file() {
        return Err(not_regular(path, &meta));
    }
    // procfs, sysfs, cgroupfs and friends: their files are never executed, and some
    // (kernfs) would even store the attribute in memory. Refuse before any write.
    if let Some(t) = crate::fsinfo::fd_fs_type(pinned.as_fd())
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
    let handle = Handle::open(pinned, &parent, &meta)
        .map_err(|e| open_error(path, &target, &e, !opts.dry_run))?;
    if !handle.lock().map_err(|e| io_at_path(path, &e, true))? {
        crate::error::warn(&format!(
            "{}: another process holds a lock on this file (fcap's own writers hold it for a moment only; this run waits up to {} s for it, once); writing without it",
            crate::error::quote(path),
            LOCK_PATIENCE.as_secs()
        ));
    }
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
/// absent attribute is an error. It opens and checks the file like [`modify`], but
/// follows links among the directories as setcap does (`setcap … /bin/ping` in
/// maintainer scripts, with `/bin` a link on merged-usr systems).
pub fn put_exact(path: &Path, value: Option<&[u8]>) -> anyhow::Result<()> {
    let (target, parent) = resolve(path, Follow::Dirs)?;
    let pinned = parent
        .open_last()
        .map_err(|e| open_error(path, &target, &e, true))?;
    let meta = pinned.metadata().map_err(|e| io_at_path(path, &e, false))?;
    if meta.file_type().is_symlink() {
        return Err(final_link(path, &target, false));
    }
    if !meta.file_type().is_file() {
        return Err(not_regular(path, &meta));
    }
    let handle =
        Handle::open(pinned, &parent, &meta).map_err(|e| open_error(path, &target, &e, true))?;
    let r = match value {
        Some(v) => handle.set(v),
        None => match handle.get() {
            Ok(None) => return Err(at_path(path, "has no capabilities to remove")),
            _ => handle.remove(),
        },
    };
    r.map_err(|e| io_at_path(path, &e, true))
}

/// The open file: a readable fd, or, when the caller may not read the file, the
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
    /// Reopen the pinned inode for reading through `/proc/self/fd/N` (the same inode,
    /// whatever happened to its name since). Without /proc, open the name again and
    /// make sure it is still the pinned inode.
    fn open(pinned: File, parent: &Parent, meta: &std::fs::Metadata) -> io::Result<Handle> {
        let mode = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        let proc = std::ffi::CString::new(openpath::proc_path(&pinned).as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: `proc` is NUL-terminated.
        let mut fd = unsafe { libc::open(proc.as_ptr(), mode) };
        if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
            // SAFETY: the parent fd is open and the name NUL-terminated.
            fd = unsafe {
                libc::openat(
                    parent.dir.as_raw_fd(),
                    parent.name.as_ptr(),
                    mode | libc::O_NOFOLLOW,
                )
            };
        }
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EACCES) {
                return Ok(Handle {
                    file: pinned,
                    readable: false,
                });
            }
            return Err(e);
        }
        // SAFETY: the kernel just returned this fd to us and nothing else owns it.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let now = file.metadata()?;
        if (now.dev(), now.ino()) != (meta.dev(), meta.ino()) {
            // Only on the no-/proc path: the name now holds another file.
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        Ok(Handle {
            file,
            readable: true,
        })
    }

    /// True when locked; false when another process held the lock past the patience
    /// (then the write goes on without it: see [`lock`]).
    fn lock(&self) -> io::Result<bool> {
        if self.readable {
            lock(&self.file)
        } else {
            Ok(true)
        }
    }

    fn proc_path(&self) -> PathBuf {
        openpath::proc_path(&self.file)
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

/// Step 1: the file to write, as a path for messages (`target`) and as its open
/// directory plus last name, reached without following any symlink.
///
/// * [`Follow::All`] (grant/revoke/set by default): a symlink the user names is
///   resolved to the real file (`realpath`, so `target` names it and the line printed
///   shows `path → target` whenever any component was a link), then that resolved
///   path is walked refusing links, so a component swapped for a link in between is
///   refused rather than followed. The path goes whole to the kernel here, as
///   setcap's does: longer than PATH_MAX, it fails with a hint to use `-P`.
/// * [`Follow::Dirs`] (the setcap drop-in): the same for the directories only; a
///   last component that is a link is refused, as libcap refuses it.
/// * [`Follow::None`] (`-P`, and `apply`, whose manifest names the file itself): the
///   path is walked as given, one component at a time, and a symlink anywhere in it,
///   the directories included, is refused and named. Whoever controls a directory on
///   the path could otherwise aim a root-run write at another file. This also reaches
///   paths deeper than PATH_MAX, which `fcap read -r` lists.
fn resolve(path: &Path, mode: Follow) -> anyhow::Result<(PathBuf, Parent)> {
    if mode == Follow::None {
        let parent = openpath::parent(path, Links::Refuse).map_err(|e| walk_error(path, e))?;
        let shown = crate::output::lexical_absolute(path).unwrap_or_else(|| path.to_path_buf());
        return Ok((shown, parent));
    }
    std::fs::symlink_metadata(path).map_err(|e| {
        let why = match e.raw_os_error() {
            Some(libc::ENAMETOOLONG) if !openpath::fits(path) => format!(
                "{}: the path is longer than the kernel takes in one call (PATH_MAX, {} bytes); with -P (--no-dereference) fcap opens it one directory at a time",
                crate::error::strerror(&e),
                libc::PATH_MAX
            ),
            _ => crate::error::describe_io(path, &e, false),
        };
        at_path(path, why)
    })?;
    // Only the directories for `Dirs`: the last name is kept, so if it turns into a
    // symlink after the lstat above, the walk below refuses it rather than
    // canonicalize() quietly following it to another file.
    let resolved = match (mode, path.file_name()) {
        (Follow::Dirs, Some(name)) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            std::fs::canonicalize(dir).map(|d| d.join(name))
        }
        _ => std::fs::canonicalize(path),
    };
    let target = resolved.map_err(|e| {
        let why = match e.raw_os_error() {
            // The name exists (lstat said so) but resolving it found nothing.
            Some(libc::ENOENT) => "dangling symbolic link: its target does not exist".to_string(),
            _ => crate::error::describe_io(path, &e, false),
        };
        at_path(path, why)
    })?;
    let parent = openpath::parent(&target, Links::Refuse).map_err(|e| match e {
        OpenError::Link { .. } => swapped(path, &target),
        OpenError::Io(e) => io_at_path(path, &e, false),
    })?;
    Ok((target, parent))
}

/// Which symlinks on a path a write goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// Every one, the last included (grant/revoke/set by default).
    All,
    /// Those among the directories only (the setcap drop-in, as libcap).
    Dirs,
    /// None at all (`-P`, `apply`).
    None,
}

/// The error for a path whose walk failed: the symlink named, with where it leads
/// and the real path to list instead when it can be found.
fn walk_error(path: &Path, e: OpenError) -> anyhow::Error {
    match e {
        OpenError::Io(e) => io_at_path(path, &e, false),
        OpenError::Link { link, to } => {
            let real = match std::fs::canonicalize(path) {
                Ok(t) => format!(
                    "; name the file itself, '{}'",
                    crate::output::escape_path(&t)
                ),
                Err(_) => "; name the file itself".to_string(),
            };
            at_path(
                path,
                format!(
                    "'{}' is a symbolic link (to '{}'); nothing was written, since a link in the path lets whoever controls it aim the write at another file{real}",
                    crate::output::escape_path(&link),
                    crate::output::escape_path(&to)
                ),
            )
        }
    }
}

/// The error for a last component that is a symlink.
fn final_link(path: &Path, target: &Path, follow: bool) -> anyhow::Error {
    if follow {
        // It was resolved, so it changed since.
        return swapped(path, target);
    }
    // Name the target so the user (or the manifest) can point at the file itself:
    // the kernel uses the capabilities of the file it executes.
    let hint = match std::fs::canonicalize(path) {
        Ok(t) => format!(
            " to '{}'; name that file itself",
            crate::output::escape_path(&t)
        ),
        Err(_) => "; name the file it points to itself".to_string(),
    };
    at_path(
        path,
        format!(
            "is a symbolic link{hint}, since the kernel uses the capabilities of the file it executes"
        ),
    )
}

fn swapped(path: &Path, target: &Path) -> anyhow::Error {
    at_path(
        path,
        format!(
            "'{}' changed into a symbolic link while being opened; nothing was written",
            crate::output::escape_path(target)
        ),
    )
}

fn open_error(path: &Path, target: &Path, e: &io::Error, writing: bool) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => swapped(path, target),
        Some(libc::ENXIO) | Some(libc::ENODEV) => {
            at_path(path, "not a regular file (a device or socket)")
        }
        // The open is the first step of a write: a caller that cannot even open the
        // file needs the same hint as one the kernel refuses the xattr write.
        _ => io_at_path(path, e, writing),
    }
}

/// How long a write waits for a lock held by another process. fcap's own writers hold
/// it for a read and a write of one attribute (microseconds; eight racing processes
/// clear in milliseconds), so a lock held longer is someone else's.
const LOCK_PATIENCE: Duration = Duration::from_secs(3);

/// Set once this process has given up waiting on one file: a stranger is holding
/// locks, and later files get one try each instead of another wait, so a manifest
/// of a thousand locked files costs [`LOCK_PATIENCE`] once, not a thousand times.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// Step 4: serialise read-modify-write cycles between fcap processes.
///
/// Why a bounded try and not a plain `flock(LOCK_EX)`: the lock is on the file
/// itself, and anyone who can read the file can lock it too
/// (`setpriv --reuid=65534 flock -s /usr/bin/ping sleep 600`); a blocking lock
/// would then stall every grant, `apply` and the package-manager hook forever.
/// The lock cannot move to a file only root may open (a lock file under a root-only
/// `/run/fcap`): a caller holding only CAP_SETFCAP could neither create nor open it,
/// containers sharing a file do not share a `/run`, `/run` may be read-only, and
/// every run would leave state on the host.
///
/// So: try without blocking, back off (1 ms doubling to 100 ms) while the holder is
/// likely another fcap, and give up after [`LOCK_PATIENCE`]. Giving up writes without
/// the lock, with a warning: what is lost is only the ordering between two fcap
/// processes writing that same file while a stranger holds its lock, never which file
/// is written or what it is given. Returns whether the lock was taken.
fn lock(f: &File) -> io::Result<bool> {
    let mut pause = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    loop {
        // SAFETY: flock on a valid, owned fd.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => {}
            _ => return Err(e),
        }
        if waited >= LOCK_PATIENCE || GAVE_UP.load(Ordering::Relaxed) {
            GAVE_UP.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        std::thread::sleep(pause);
        waited += pause;
        pause = (pause * 2).min(Duration::from_millis(100));
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
