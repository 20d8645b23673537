//! Reading capabilities from paths: one file, or a whole tree.
//!
//! The walk never follows symlinks, never enters a pseudo filesystem below the root
//! (procfs, sysfs, cgroupfs… cannot hold file capabilities), stays on the root's
//! filesystem with `-x`, reports errors and goes on. It finds exactly what libcap's
//! `getcap -r` (`nftw(FTW_PHYS)`) finds, with about a third of its syscalls:
//!
//! * **One syscall per regular file**, relative to the open directory (no path walk):
//!   `listxattrat(2)` where the filesystem lists attributes reliably (a file without
//!   any attribute is settled there), else `getxattrat(2)`; `lgetxattr` on kernels
//!   before 6.13. The directory entry's type (`d_type`) says what an entry is;
//!   `fstatat` only runs for `DT_UNKNOWN`. getcap makes three (`stat`, `getxattr`,
//!   `capget`) on full paths.
//! * **Three per directory**: `openat` relative to the parent, one `getdents64` into a
//!   128 KiB buffer (the confirming empty read is skipped where a short reply is known
//!   to mean the end), `close`.
//! * **Mount points come from `/proc/self/mountinfo`**, read once; only a directory
//!   that is a mount point is `fstat`ed/`fstatfs`ed. Without mountinfo every
//!   directory is `fstat`ed instead (same result, more syscalls).
//! * **Parallel.** One worker per core, each walking depth-first from its own stack
//!   and handing its shallowest pending directories to idle workers.
//! * **Little allocation.** A path is only built for a hit (or, with `-v`, for every
//!   entry) and for a directory still to be walked (in the buffer of a directory
//!   done); only the hits are sorted, by the caller. Under musl, whose allocator takes
//!   one lock for every call, an allocation per directory made the workers wait for
//!   each other.

use crate::error::{at_path, strerror};
use crate::filecaps::{FileCaps, XATTR_CAPS_SZ_3, XATTR_NAME_C};
use crate::{fsinfo, sys};
use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What one path turned out to be.
#[derive(Debug)]
pub enum Found {
    /// A file whose capabilities were read: `None` when it has none.
    File(Option<FileCaps>),
    /// A file whose capabilities could not be read (malformed value, EOVERFLOW…).
    Unreadable(anyhow::Error),
    /// A directory, symlink or other entry that getcap calls "not a regular file".
    NotRegular,
}

/// One entry of a scan.
#[derive(Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub found: Found,
    /// For an image: the layer (0-based) that wrote the file.
    pub layer: Option<usize>,
    /// A regular file's mode and owner, when the scan was asked for them
    /// ([`WalkOpts::setid`]).
    pub meta: Option<Meta>,
}

/// The mode (type and permission bits) and owner of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    pub fn is_regular(self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// A regular file whose set-user-ID bit the kernel honours at exec.
    pub fn setuid(self) -> bool {
        self.is_regular() && self.mode & libc::S_ISUID != 0
    }

    /// A regular file whose set-group-ID bit the kernel honours at exec: only with
    /// the group execute bit (without it the bit marks mandatory locking).
    pub fn setgid(self) -> bool {
        self.is_regular() && self.mode & libc::S_ISGID != 0 && self.mode & libc::S_IXGRP != 0
    }
}

/// Options of a recursive scan.
#[derive(Debug, Default, Clone)]
pub struct WalkOpts {
    /// Stay on the root's filesystem (`-x`).
    pub one_file_system: bool,
    /// Report directories, symlinks and files without capabilities too (`-v`).
    pub verbose: bool,
    /// Entries to leave out: an excluded directory is not entered at all.
    pub exclude: Vec<Pattern>,
    /// Live counters for a progress display.
    pub progress: Option<Arc<Progress>>,
    /// Read every regular file's mode and owner too (one `statx` each), give them
    /// in [`Entry::meta`], and report set-user-ID and set-group-ID files as hits
    /// even without capabilities (`fcap audit`).
    pub setid: bool,
}

/// Counters a scan updates while it runs (once per directory, not per file, so the
/// workers do not fight over one cache line).
#[derive(Debug, Default)]
pub struct Progress {
    /// Regular (and other non-directory, non-symlink) files looked at.
    pub files: AtomicU64,
    /// Files found with a `security.capability` value.
    pub hits: AtomicU64,
    /// Set by the caller when the scan is over.
    pub done: AtomicBool,
}

/// Read the capabilities of the file at `path` (never following a final symlink).
pub fn read_caps(path: &Path) -> Found {
    match lget_any(path) {
        Ok(raw) => decode(path, raw),
        Err(e) => Found::Unreadable(read_error(path, &e)),
    }
}

/// `lgetxattr` of a path of any length: one deeper than PATH_MAX (the walk finds
/// such files and prints their paths) is opened a piece at a time, and its attribute
/// read through the `O_PATH` fd.
fn lget_any(path: &Path) -> io::Result<sys::RawCaps> {
    if crate::openpath::fits(path) {
        return sys::lget(path);
    }
    let f = match crate::openpath::open(path, crate::openpath::Links::Follow) {
        Ok(f) => f,
        Err(crate::openpath::OpenError::Io(e)) => return Err(e),
        Err(crate::openpath::OpenError::Link { .. }) => {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
    };
    if f.metadata()?.file_type().is_symlink() {
        // As lgetxattr on a symlink: no capabilities.
        return Ok(None);
    }
    sys::get(&crate::openpath::proc_path(&f))
}

fn decode(path: &Path, raw: sys::RawCaps) -> Found {
    match raw {
        None => Found::File(None),
        Some(raw) => match FileCaps::decode(&raw) {
            Ok(c) => Found::File(Some(c)),
            Err(e) => Found::Unreadable(at_path(path, e)),
        },
    }
}

/// The message for a failed `getxattr` of `security.capability`.
pub fn read_error(path: &Path, e: &io::Error) -> anyhow::Error {
    let why = match (crate::filecaps::unreadable_value(e), e.raw_os_error()) {
        (Some(why), _) => format!(
            "{why}; replace it: fcap set TEXT {p}; or remove it: fcap revoke all {p}",
            p = crate::error::quote(path)
        ),
        (None, Some(libc::EOVERFLOW)) => "the capability value is bound to a user namespace whose root is not mapped in this one (EOVERFLOW); it grants nothing here".to_string(),
        (None, _) => format!("cannot read capabilities: {}", strerror(e)),
    };
    at_path(path, why)
}

/// Join a directory path and a name the way nftw spells paths: `dir/name`, without a
/// doubled slash when the root is `/`.
fn join_bytes(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + name.len() + 1);
    join_into(&mut p, dir, name);
    p
}

/// [`join_bytes`] into a buffer (emptied first).
fn join_into(p: &mut Vec<u8>, dir: &[u8], name: &[u8]) {
    p.clear();
    p.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
}

fn to_path(b: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(b))
}

/// Strip trailing slashes from a start path (`g/` walks as `g`), as glibc's nftw does.
pub fn trim_root(root: &Path) -> PathBuf {
    let b = root.as_os_str().as_bytes();
    let mut end = b.len();
    while end > 1 && b[end - 1] == b'/' {
        end -= 1;
    }
    PathBuf::from(OsStr::from_bytes(&b[..end]))
}

/// An `--exclude` pattern.
///
/// * Without a `/` it is matched against each entry's name, at any depth:
///   `node_modules`, `*.so`, `.git`.
/// * With a `/` it is matched against the whole path as the scan spells it (the root
///   as given, then `/name`…): `/usr/share/doc`, `/var/lib/docker/*`.
///
/// `*` matches any run of characters except `/`, `**` any run including `/`, `?` one
/// character except `/`; everything else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    glob: Vec<u8>,
    whole_path: bool,
}

impl Pattern {
    pub fn new(text: &OsStr) -> Pattern {
        let glob = trim_root(Path::new(text)).into_os_string().into_vec();
        let whole_path = glob.contains(&b'/');
        Pattern { glob, whole_path }
    }

    pub fn matches(&self, path: &[u8], name: &[u8]) -> bool {
        glob_match(&self.glob, if self.whole_path { path } else { name })
    }
}

/// Wildcard matching with backtracking over the last `*`/`**` (linear in practice).
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after a mismatch: (pattern index after the star, string index,
    // whether the star may swallow '/').
    let mut back: Option<(usize, usize, bool)> = None;
    while i < s.len() {
        if pat.get(p) == Some(&b'*') {
            let deep = pat.get(p + 1) == Some(&b'*');
            p += if deep { 2 } else { 1 };
            back = Some((p, i, deep));
            continue;
        }
        let ok = match pat.get(p) {
            Some(b'?') => s[i] != b'/',
            Some(c) => *c == s[i],
            None => false,
        };
        if ok {
            p += 1;
            i += 1;
            continue;
        }
        match back {
            Some((bp, bi, deep)) if deep || s[bi] != b'/' => {
                back = Some((bp, bi + 1, deep));
                p = bp;
                i = bi + 1;
            }
            _ => return false,
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// Walk `root` recursively, calling `emit` for every entry worth reporting and `fail`
/// for every error; the walk goes on after an error. Entries come in no particular
/// order: sort them if order matters.
pub fn walk(
    root: &Path,
    opts: &WalkOpts,
    emit: &mut dyn FnMut(Entry),
    fail: &mut dyn FnMut(anyhow::Error),
) {
    let root = trim_root(root);
    let meta = match std::fs::symlink_metadata(&root) {
        Ok(m) => m,
        Err(e) => return fail(at_path(&root, strerror(&e))),
    };
    if !meta.is_dir() {
        if meta.file_type().is_symlink() {
            if opts.verbose {
                emit(Entry {
                    path: root,
                    found: Found::NotRegular,
                    layer: None,
                    meta: None,
                });
            }
            return;
        }
        let found = read_caps(&root);
        let meta = opts.setid.then(|| Meta {
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
        });
        let setid = meta.is_some_and(|m| m.setuid() || m.setgid());
        if opts.verbose || setid || !matches!(found, Found::File(None)) {
            emit(Entry {
                path: root,
                found,
                layer: None,
                meta,
            });
        }
        return;
    }
    let root_bytes = root.as_os_str().as_bytes().to_vec();
    let shared = Shared {
        queue: Mutex::new(Queue {
            jobs: vec![Job {
                path: root_bytes.clone(),
                parent: None,
                dev: meta.dev(),
                fs: fsinfo::fs_type(&root).unwrap_or(0),
            }],
            idle: 0,
            done: false,
        }),
        wake: Condvar::new(),
        idle: AtomicUsize::new(0),
        threads: AtomicUsize::new(threads()),
        root: root_bytes,
        root_dev: meta.dev(),
        mounts: mount_points(&root),
        opts,
    };
    let results: Vec<Harvest> = std::thread::scope(|s| {
        // This thread is one of the workers. A worker that cannot be started is
        // taken off the count, so the others still know when everyone is idle.
        let mut handles = Vec::new();
        for _ in 1..shared.threads.load(Ordering::Relaxed) {
            match std::thread::Builder::new().spawn_scoped(s, || Worker::new(&shared).run()) {
                Ok(h) => handles.push(h),
                Err(_) => {
                    shared.threads.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        let mut all = vec![Worker::new(&shared).run()];
        all.extend(handles.into_iter().filter_map(|h| h.join().ok()));
        all
    });
    let mut errors = Vec::new();
    for r in results {
        r.entries.into_iter().for_each(&mut *emit);
        errors.extend(r.errors);
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, e) in errors {
        fail(e);
    }
}

/// Put walk results in the order every command prints them: by the bytes of the
/// path, as `LC_ALL=C sort` would (not component-wise, as `Path` compares).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
}

/// The records of a `getdents64` reply, as `(d_type, name with its NUL)`: the name
/// is what the `*at` syscalls take, without a copy. Each `linux_dirent64` record is
/// `u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, char d_name[]`; a record that
/// does not fit ends the walk, and one without a NUL is passed over.
pub fn dirents(mut recs: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        while recs.len() >= 19 {
            let reclen = usize::from(u16::from_ne_bytes([recs[16], recs[17]]));
            if reclen < 19 || reclen > recs.len() {
                return None;
            }
            let (rec, rest) = recs.split_at(reclen);
            recs = rest;
            if let Some(nul) = rec[19..].iter().position(|b| *b == 0) {
                return Some((rec[18], &rec[19..19 + nul + 1]));
            }
        }
        None
    })
}

/// How many workers: one per core the process may use (at most 16), or
/// `FCAP_SCAN_THREADS` (for benchmarks and machines shared with other work).
pub fn threads() -> usize {
    std::env::var("FCAP_SCAN_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=256).contains(n))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(16)))
}

/// The mount points strictly below `root`, spelled as the walk will spell them, or
/// `None` when they cannot be known (no procfs): then every directory is checked.
fn mount_points(root: &Path) -> Option<HashSet<Vec<u8>>> {
    let real = std::fs::canonicalize(root).ok()?;
    let real = real.as_os_str().as_bytes();
    let mut set = HashSet::new();
    for m in fsinfo::mounts()? {
        let mp = m.point.as_os_str().as_bytes();
        let rel = if real == b"/" {
            mp.strip_prefix(b"/")
        } else {
            mp.strip_prefix(real).and_then(|r| r.strip_prefix(b"/"))
        };
        if let Some(rel) = rel.filter(|r| !r.is_empty()) {
            set.insert(join_bytes(root.as_os_str().as_bytes(), rel));
        }
    }
    Some(set)
}

/// State every worker shares.
struct Shared<'a> {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// A lock-free copy of `Queue::idle`, so busy workers can cheaply ask whether
    /// anyone is waiting for work.
    idle: AtomicUsize,
    /// Workers taking part (all of them idle with no job left: the walk is over).
    threads: AtomicUsize,
    root: Vec<u8>,
    root_dev: u64,
    mounts: Option<HashSet<Vec<u8>>>,
    opts: &'a WalkOpts,
}

/// A directory to read, with the device and filesystem type of its parent (which
/// it shares unless it is a mount point).
struct Job {
    path: Vec<u8>,
    /// The open parent directory, to open this one relative to it (no path walk,
    /// no PATH_MAX limit); `None`: open by path.
    parent: Option<Arc<DirFd>>,
    dev: u64,
    fs: i64,
}

/// An open directory that pending subdirectory jobs may hold on to.
struct DirFd(OwnedFd);

/// Open directories kept for their pending subdirectories. With depth-first
/// walking this is about one per level, but a pathological tree (two children per
/// level, thousands of levels deep) must not run the process out of descriptors:
/// past the budget, subdirectories are opened by path instead.
static HELD_FDS: AtomicUsize = AtomicUsize::new(0);
const MAX_HELD_FDS: usize = 256;

impl DirFd {
    fn new(fd: OwnedFd) -> Arc<DirFd> {
        HELD_FDS.fetch_add(1, Ordering::Relaxed);
        Arc::new(DirFd(fd))
    }
}

impl Drop for DirFd {
    fn drop(&mut self) {
        HELD_FDS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Filesystems whose `listxattr` lists every `security.*` attribute a `getxattr`
/// would return: on them a file without any extended attribute (nearly every file)
/// is settled by `listxattrat`, which skips the capability LSM's `getxattr` hooks
/// and is about 15 % cheaper. Elsewhere `getxattrat` is asked directly.
///
/// The list is asked for by size only (a size of 0 copies nothing and allocates
/// nothing in the kernel, another 5 % less CPU): 0 means no attribute at all, and
/// anything else goes on to `getxattrat`. Where most files carry some attribute
/// (an SELinux or Smack label), that would be two calls per file, so a worker that
/// sees it happen reads the names instead (see [`Worker::names_first`]).
fn lists_reliably(fs: i64) -> bool {
    matches!(
        fs,
        fsinfo::EXT4_SUPER_MAGIC
            | fsinfo::TMPFS_MAGIC
            | fsinfo::XFS_SUPER_MAGIC
            | fsinfo::BTRFS_SUPER_MAGIC
    )
}

/// Filesystems whose `readdir` fills the buffer until it is full or the directory
/// ends (ext4's linear and htree readers, tmpfs' offset reader): a reply with room
/// left for another record means the end, and the usual empty `getdents64` that
/// confirms it can be skipped (one syscall per directory).
fn fills_readdir(fs: i64) -> bool {
    matches!(fs, fsinfo::EXT4_SUPER_MAGIC | fsinfo::TMPFS_MAGIC)
}

/// The largest `linux_dirent64` record: 19 header bytes, a 255-byte name and its
/// NUL, rounded up to 8.
pub const MAX_DIRENT: usize = 280;

/// The longest name a directory entry has (`NAME_MAX`).
const MAX_NAME: usize = 255;

struct Queue {
    /// Directories nobody has taken yet.
    jobs: Vec<Job>,
    /// Workers waiting for a job.
    idle: usize,
    /// Every worker was idle with no job left: the walk is over.
    done: bool,
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked cannot leave the queue half-updated (every update is
        // one push or pop), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next directory for a worker whose own stack is empty; `None` when the
    /// whole walk is over.
    fn take(&self) -> Option<Job> {
        let mut q = self.lock();
        loop {
            if let Some(j) = q.jobs.pop() {
                return Some(j);
            }
            if q.done {
                return None;
            }
            q.idle += 1;
            self.idle.store(q.idle, Ordering::Relaxed);
            if q.idle == self.threads.load(Ordering::Relaxed) {
                q.done = true;
                self.wake.notify_all();
                return None;
            }
            q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            q.idle -= 1;
            self.idle.store(q.idle, Ordering::Relaxed);
        }
    }

    fn give(&self, jobs: impl Iterator<Item = Job>) {
        self.lock().jobs.extend(jobs);
        self.wake.notify_all();
    }
}

/// What one worker found.
#[derive(Default)]
struct Harvest {
    entries: Vec<Entry>,
    errors: Vec<(Vec<u8>, anyhow::Error)>,
}

struct Worker<'a, 'b> {
    shared: &'a Shared<'b>,
    buf: Vec<u8>,
    /// A directory holder to reuse (see [`Worker::hold`]).
    spare: Option<Arc<DirFd>>,
    /// A NUL-terminated path for path-based calls (see [`Worker::lget_joined`]).
    cpath: Vec<u8>,
    /// Paths of directories done, to reuse for new jobs (see [`Worker::job_path`]).
    paths: Vec<Vec<u8>>,
    out: Harvest,
    files: u64,
    hits: u64,
    /// Files asked `listxattrat` for its size, and how many of them had some
    /// attribute but no capability (a second call spent for nothing).
    sized: u64,
    labelled: u64,
}

/// How many paths of directories done a worker keeps for new jobs: a directory
/// with more subdirectories than that allocates for the rest.
const SPARE_PATHS: usize = 64;

/// `getdents64` buffer: big enough for a few thousand names per call.
pub const DIRENT_BUF: usize = 128 * 1024;

impl<'a, 'b> Worker<'a, 'b> {
    fn new(shared: &'a Shared<'b>) -> Self {
        Worker {
            shared,
            buf: vec![0; DIRENT_BUF],
            spare: None,
            cpath: Vec::new(),
            paths: Vec::new(),
            out: Harvest::default(),
            files: 0,
            hits: 0,
            sized: 0,
            labelled: 0,
        }
    }

    fn run(mut self) -> Harvest {
        let mut stack: Vec<Job> = Vec::new();
        while let Some(dir) = stack.pop().or_else(|| self.shared.take()) {
            self.dir(dir, &mut stack);
            // Hand the shallowest half of our pending directories (the biggest
            // subtrees) to workers that have nothing to do.
            if stack.len() > 1 && self.shared.idle.load(Ordering::Relaxed) > 0 {
                let n = stack.len() / 2;
                self.shared.give(stack.drain(..n));
            }
        }
        self.out
    }

    fn fail(&mut self, path: &[u8], e: anyhow::Error) {
        self.out.errors.push((path.to_vec(), e));
    }

    fn emit(&mut self, path: Vec<u8>, found: Found) {
        self.emit_meta(path, found, None);
    }

    fn emit_meta(&mut self, path: Vec<u8>, found: Found, meta: Option<Meta>) {
        self.out.entries.push(Entry {
            path: to_path(path),
            found,
            layer: None,
            meta,
        });
    }

    /// Read one directory: files are looked at now, subdirectories go on `stack`.
    fn dir(&mut self, job: Job, stack: &mut Vec<Job>) {
        let opts = self.shared.opts;
        let path = job.path;
        let opened = match &job.parent {
            Some(parent) => open_dir_at(&parent.0, &path),
            None => open_dir(&path),
        };
        // The parent's descriptor is closed once its last pending child is open.
        if let Some(parent) = job.parent {
            self.recycle(parent);
        }
        let fd = match opened {
            Ok(fd) => self.hold(fd),
            Err(e) => {
                // A mount point we would skip anyway (an unreadable debugfs, another
                // filesystem with -x) is skipped silently, as it would be if readable.
                if path != self.shared.root && self.skipped_by_path(&path, job.dev) {
                    return;
                }
                if opts.verbose {
                    self.emit(path.clone(), Found::NotRegular);
                }
                let err = at_path(
                    Path::new(OsStr::from_bytes(&path)),
                    format!("cannot read directory: {}", strerror(&e)),
                );
                return self.fail(&path, err);
            }
        };
        let (dev, fs) = if path == self.shared.root {
            (job.dev, job.fs)
        } else {
            match self.mount(&path, &fd.0, job.dev, job.fs) {
                Some(here) => here,
                None => return,
            }
        };
        let fast_list = lists_reliably(fs);
        if opts.verbose {
            self.emit(path.clone(), Found::NotRegular);
        }
        let (files0, hits0) = (self.files, self.hits);
        loop {
            // SAFETY: the fd is open and the buffer is valid for its whole length.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd.0.as_raw_fd(),
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                let err = at_path(
                    Path::new(OsStr::from_bytes(&path)),
                    format!("cannot read directory: {}", strerror(&e)),
                );
                self.fail(&path, err);
                break;
            }
            if n == 0 {
                break;
            }
            let buf = std::mem::take(&mut self.buf);
            let here = Here {
                dir: &path,
                fd: &fd,
                dev,
                fs,
                fast_list,
            };
            self.entries(&buf[..n as usize], &here, stack);
            self.buf = buf;
            if fills_readdir(fs) && (n as usize) <= DIRENT_BUF - MAX_DIRENT {
                break;
            }
        }
        if let Some(p) = &opts.progress {
            p.files.fetch_add(self.files - files0, Ordering::Relaxed);
            p.hits.fetch_add(self.hits - hits0, Ordering::Relaxed);
        }
        self.recycle(fd);
        if self.paths.len() < SPARE_PATHS {
            self.paths.push(path);
        }
    }

    /// `dir/name` for a subdirectory's job, in the buffer of a directory done if
    /// there is one: with [`Worker::hold`], the walk allocates nothing for most
    /// directories.
    fn job_path(&mut self, dir: &[u8], name: &[u8]) -> Vec<u8> {
        match self.paths.pop() {
            Some(mut p) => {
                join_into(&mut p, dir, name);
                p
            }
            None => join_bytes(dir, name),
        }
    }

    /// A shareable holder for a directory just opened. Most directories have no
    /// subdirectory, so no job ever holds theirs: the holder of the last one done
    /// is reused (its old descriptor closed now) instead of a new allocation per
    /// directory, which musl's allocator serialises between the workers.
    fn hold(&mut self, fd: OwnedFd) -> Arc<DirFd> {
        if let Some(mut spare) = self.spare.take()
            && let Some(d) = Arc::get_mut(&mut spare)
        {
            d.0 = fd;
            return spare;
        }
        DirFd::new(fd)
    }

    /// Done with a directory's holder: keep it for [`Worker::hold`] when no job
    /// holds it any more (else the last job to open its directory drops it).
    fn recycle(&mut self, fd: Arc<DirFd>) {
        if self.spare.is_none() && Arc::strong_count(&fd) == 1 {
            self.spare = Some(fd);
        }
    }

    /// Look at the entries of one `getdents64` reply.
    fn entries(&mut self, recs: &[u8], here: &Here, stack: &mut Vec<Job>) {
        let opts = self.shared.opts;
        let (dir, fd) = (here.dir, &here.fd.0);
        for (mut d_type, name_z) in dirents(recs) {
            let name = &name_z[..name_z.len() - 1];
            if name == b"." || name == b".." {
                continue;
            }
            if !opts.exclude.is_empty() {
                // Name-only patterns need no path: build it only for a whole-path one.
                let full = opts
                    .exclude
                    .iter()
                    .any(|p| p.whole_path)
                    .then(|| join_bytes(dir, name));
                if opts
                    .exclude
                    .iter()
                    .any(|p| p.matches(full.as_deref().unwrap_or(name), name))
                {
                    continue;
                }
            }
            if d_type == libc::DT_UNKNOWN {
                match stat_type(fd, name_z) {
                    Ok(t) => d_type = t,
                    Err(e) => {
                        let p = join_bytes(dir, name);
                        let err = at_path(
                            Path::new(OsStr::from_bytes(&p)),
                            format!("cannot determine the file type: {}", strerror(&e)),
                        );
                        self.fail(&p, err);
                        continue;
                    }
                }
            }
            match d_type {
                libc::DT_DIR => stack.push(Job {
                    path: self.job_path(dir, name),
                    parent: (HELD_FDS.load(Ordering::Relaxed) < MAX_HELD_FDS)
                        .then(|| Arc::clone(here.fd)),
                    dev: here.dev,
                    fs: here.fs,
                }),
                libc::DT_LNK => {
                    if opts.verbose {
                        self.emit(join_bytes(dir, name), Found::NotRegular);
                    }
                }
                // Like nftw's FTW_F, fifos, sockets and devices are "files" that simply
                // have no capabilities; reading their xattr neither opens nor blocks.
                _ => self.file(here, name, name_z),
            }
        }
    }

    fn file(&mut self, here: &Here, name: &[u8], name_z: &[u8]) {
        let (dir, fd) = (here.dir, &here.fd.0);
        self.files += 1;
        let verbose = self.shared.opts.verbose;
        // With `setid`, the mode comes first: a set-ID file is reported whatever
        // its attributes say.
        let meta = if self.shared.opts.setid {
            match stat_at(fd, name_z) {
                Ok(m) => Some(m),
                Err(e) => {
                    let p = join_bytes(dir, name);
                    let err = at_path(
                        Path::new(OsStr::from_bytes(&p)),
                        format!("cannot read the mode: {}", strerror(&e)),
                    );
                    return self.fail(&p, err);
                }
            }
        } else {
            None
        };
        let keep = verbose || meta.is_some_and(|m| m.setuid() || m.setgid());
        let mut sized = false;
        if here.fast_list {
            let names = self.names_first();
            sized = !names;
            self.sized += u64::from(sized);
            if list_at(fd, name_z, names) == Some(false) {
                if keep {
                    self.emit_meta(join_bytes(dir, name), Found::File(None), meta);
                }
                return;
            }
        }
        let raw = get_at(fd, name_z);
        if sized && matches!(raw, Some(Ok(None))) {
            self.labelled += 1;
        }
        let raw = match raw {
            Some(r) => r,
            // No getxattrat: the path-based call does the same, with a path walk.
            None => self.lget_joined(dir, name_z),
        };
        if matches!(raw, Ok(None)) && !keep {
            return;
        }
        // From here on the entry is reported: build its path once.
        let path = join_bytes(dir, name);
        let p = Path::new(OsStr::from_bytes(&path));
        let found = match raw {
            Ok(raw) => decode(p, raw),
            Err(e) => Found::Unreadable(read_error(p, &e)),
        };
        match found {
            Found::File(None) if !keep => {}
            Found::File(None) => self.emit_meta(path, found, meta),
            _ => {
                self.hits += 1;
                self.emit_meta(path, found, meta);
            }
        }
    }

    /// [`lget_any`] of `dir/name`, the path joined in a buffer the worker reuses:
    /// kernels before 6.13 (no `getxattrat`) make this call for every file, and
    /// an allocation per file is not free (musl's allocator takes a global lock).
    fn lget_joined(&mut self, dir: &[u8], name_z: &[u8]) -> io::Result<sys::RawCaps> {
        let c = &mut self.cpath;
        join_into(c, dir, name_z);
        let path = Path::new(OsStr::from_bytes(&c[..c.len() - 1]));
        match CStr::from_bytes_with_nul(c) {
            Ok(z) if crate::openpath::fits(path) => sys::lget_c(z),
            _ => lget_any(path),
        }
    }

    /// Should the next file's attribute names be listed, rather than only their
    /// size? Yes once more than one file in eight of those sized so far had an
    /// attribute other than a capability: names settle such a file in one call.
    fn names_first(&self) -> bool {
        self.sized >= 64 && self.labelled * 8 > self.sized
    }

    /// Where the directory just opened lives, `(device, filesystem type)`, or `None`
    /// when it is a mount point to leave alone: a pseudo filesystem, or (with `-x`)
    /// any other filesystem than the root's. Only mount points cost a syscall.
    fn mount(&self, path: &[u8], fd: &OwnedFd, dev: u64, fs: i64) -> Option<(u64, i64)> {
        if let Some(m) = &self.shared.mounts
            && !m.contains(path)
        {
            return Some((dev, fs));
        }
        // SAFETY: a zeroed `stat` is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is open and `st` is a valid out-pointer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 || st.st_dev == dev {
            return Some((dev, fs));
        }
        let here = fsinfo::fd_fs_type(std::os::fd::AsFd::as_fd(fd)).unwrap_or(0);
        if st.st_dev != self.shared.root_dev
            && (self.shared.opts.one_file_system || fsinfo::is_pseudo(here))
        {
            return None;
        }
        Some((st.st_dev, here))
    }
}

impl Worker<'_, '_> {
    /// [`Worker::mount`] for a directory that could not be opened: by path.
    fn skipped_by_path(&self, path: &[u8], parent_dev: u64) -> bool {
        if let Some(m) = &self.shared.mounts
            && !m.contains(path)
        {
            return false;
        }
        let p = Path::new(OsStr::from_bytes(path));
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            return false;
        };
        meta.dev() != parent_dev
            && meta.dev() != self.shared.root_dev
            && (self.shared.opts.one_file_system
                || fsinfo::fs_type(p).is_some_and(fsinfo::is_pseudo))
    }
}

/// The directory being read, as the per-entry code needs it.
struct Here<'a> {
    dir: &'a [u8],
    fd: &'a Arc<DirFd>,
    dev: u64,
    fs: i64,
    /// `listxattrat` first (see [`lists_reliably`]).
    fast_list: bool,
}

/// How the scan opens a directory. O_NOFOLLOW: a directory swapped for a symlink
/// since it was listed is not followed.
pub const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn open_dir(path: &[u8]) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is NUL-terminated.
    finish_open(unsafe { libc::open(c.as_ptr(), DIR_FLAGS) })
}

/// Open the directory `path` relative to its open parent (by its last component).
fn open_dir_at(parent: &OwnedFd, path: &[u8]) -> io::Result<OwnedFd> {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or(path);
    // A directory entry's name (at most 255 bytes) is made NUL-terminated on the
    // stack: no allocation per directory.
    // (The errors are the kernel's and CString's for such names.)
    if name.len() > MAX_NAME {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    if name.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut z = [0u8; MAX_NAME + 1];
    z[..name.len()].copy_from_slice(name);
    // SAFETY: `z` holds the name and at least one NUL after it; the parent fd is open.
    finish_open(unsafe { libc::openat(parent.as_raw_fd(), z.as_ptr().cast(), DIR_FLAGS) })
}

fn finish_open(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The `d_type` of an entry on a filesystem that does not report one.
fn stat_type(dir: &OwnedFd, name_z: &[u8]) -> io::Result<u8> {
    // SAFETY: a zeroed `stat` is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name_z` is NUL-terminated (it comes from the dirent record) and `st` is
    // a valid out-pointer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name_z.as_ptr().cast(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        _ => libc::DT_REG,
    })
}

/// Mode and owner of `name` in `dir` (not following a symlink): one `statx` that
/// asks for nothing else, and never syncs with a network filesystem's server.
pub fn stat_at(dir: &OwnedFd, name_z: &[u8]) -> io::Result<Meta> {
    // SAFETY: an all-zero statx is a valid value of this plain C struct.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `name_z` is NUL-terminated (it comes from a dirent record or a
    // CString) and `stx` is a live, writable statx buffer.
    let r = unsafe {
        libc::statx(
            dir.as_raw_fd(),
            name_z.as_ptr().cast(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_DONT_SYNC,
            libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_UID | libc::STATX_GID,
            &mut stx,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Meta {
        mode: u32::from(stx.stx_mode),
        uid: stx.stx_uid,
        gid: stx.stx_gid,
    })
}

/// `getxattrat(2)` (Linux 6.13): 464 on every architecture but alpha (numbers
/// from 424 on are shared).
const SYS_GETXATTRAT: libc::c_long = 464;

/// 0: not tried yet, 1: works, 2: the kernel lacks it.
static GETXATTRAT: AtomicU8 = AtomicU8::new(0);

/// `struct xattr_args` of `getxattrat(2)`.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// `listxattrat(2)` (Linux 6.13), numbered like `getxattrat`.
pub const SYS_LISTXATTRAT: libc::c_long = 465;

/// 0: not tried yet or works, 2: the kernel lacks it.
static LISTXATTRAT: AtomicU8 = AtomicU8::new(0);

/// `listxattrat(dir, name_z, AT_SYMLINK_NOFOLLOW)` into `buf`: the size of the list
/// of attribute names (an empty `buf` asks only that).
pub fn listxattrat(dir: &OwnedFd, name_z: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    if name_z.last() != Some(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `name_z` is NUL-terminated (checked) and `buf` is live and writable for
    // the size passed (the kernel writes nothing when it is 0).
    let n = unsafe {
        libc::syscall(
            SYS_LISTXATTRAT,
            dir.as_raw_fd(),
            name_z.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Does `name` in `dir` carry a `security.capability` attribute, by the list of its
/// attribute names (`names`) or only by whether it has any attribute at all?
/// `None`: cannot tell (no syscall, some attribute when only sized, a long list,
/// an error): ask `getxattrat`, which also reports the error properly.
fn list_at(dir: &OwnedFd, name_z: &[u8], names: bool) -> Option<bool> {
    if LISTXATTRAT.load(Ordering::Relaxed) == 2 {
        return None;
    }
    if !names {
        // Only the size: no buffer, so nothing to clear for each of the many files
        // this call settles.
        return match listxattrat(dir, name_z, &mut []) {
            Ok(n) => (n == 0).then_some(false),
            // Any failure: let getxattrat (or the path call) answer, and report the
            // error.
            Err(e) => {
                missing_syscall(&LISTXATTRAT, &e);
                None
            }
        };
    }
    // Room for a handful of names; a longer list (ERANGE) falls back to getxattrat.
    let mut buf = [0u8; 1024];
    // Any failure: let getxattrat (or the path call) answer, and report the error.
    let n = listxattrat(dir, name_z, &mut buf)
        .map_err(|e| missing_syscall(&LISTXATTRAT, &e))
        .ok()?;
    let names = &buf[..n.min(buf.len())];
    Some(
        names
            .split(|b| *b == 0)
            .any(|x| x == XATTR_NAME_C.to_bytes()),
    )
}

/// Is this new `*at` syscall missing here? ENOSYS always means so; EPERM does on its
/// first use, because the seccomp filters of older container runtimes answer EPERM
/// for syscalls they do not know. Records a "missing" answer in `state` (2), and a
/// working call (1) so that a later EPERM is reported as an error.
fn missing_syscall(state: &AtomicU8, e: &io::Error) -> bool {
    let missing = match e.raw_os_error() {
        Some(libc::ENOSYS) => true,
        Some(libc::EPERM) => state.load(Ordering::Relaxed) == 0,
        _ => false,
    };
    state.store(if missing { 2 } else { 1 }, Ordering::Relaxed);
    missing
}

/// `security.capability` of `name` in the directory `dir`, without following a
/// symlink; `None` when the kernel has no `getxattrat` (then use the path).
fn get_at(dir: &OwnedFd, name_z: &[u8]) -> Option<io::Result<sys::RawCaps>> {
    if GETXATTRAT.load(Ordering::Relaxed) == 2 {
        return None;
    }
    // A little larger than the largest valid value, as in `sys::lget`.
    let mut buf = [0u8; XATTR_CAPS_SZ_3 + 8];
    let mut args = XattrArgs {
        value: buf.as_mut_ptr() as u64,
        size: buf.len() as u32,
        flags: 0,
    };
    // SAFETY: `name_z` and the attribute name are NUL-terminated, `args` points at a
    // live buffer of the size it states, and the struct size passed is its real size.
    let n = unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            dir.as_raw_fd(),
            name_z.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            XATTR_NAME_C.as_ptr(),
            &mut args as *mut XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    };
    match sys::value(n as isize, &buf) {
        Err(e) if missing_syscall(&GETXATTRAT, &e) => None,
        r => {
            GETXATTRAT.store(1, Ordering::Relaxed);
            Some(sys::fold_absent(r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eperm_means_missing_only_before_the_syscall_worked() {
        let e = |n| io::Error::from_raw_os_error(n);
        let fresh = AtomicU8::new(0);
        assert!(missing_syscall(&fresh, &e(libc::EPERM)));
        assert_eq!(fresh.load(Ordering::Relaxed), 2);
        let works = AtomicU8::new(0);
        assert!(!missing_syscall(&works, &e(libc::ENODATA)));
        assert!(
            !missing_syscall(&works, &e(libc::EPERM)),
            "a later EPERM is a real error"
        );
        assert!(missing_syscall(&AtomicU8::new(1), &e(libc::ENOSYS)));
    }

    /// A `linux_dirent64` record as the kernel writes it, padded to 8 bytes.
    fn record(d_type: u8, name: &[u8], nul: bool) -> Vec<u8> {
        let len = (19 + name.len() + usize::from(nul)).div_ceil(8) * 8;
        let mut r = vec![0u8; len];
        r[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
        r[18] = d_type;
        r[19..19 + name.len()].copy_from_slice(name);
        if !nul {
            // Fill the padding so that no NUL follows the name.
            r[19 + name.len()..].fill(b'x');
        }
        r
    }

    #[test]
    fn dirents_yields_type_and_name_and_stops_at_a_broken_record() {
        let mut buf = record(libc::DT_DIR, b".", true);
        buf.extend(record(libc::DT_REG, b"no-nul", false));
        buf.extend(record(libc::DT_REG, b"a\xffb", true));
        buf.extend(record(libc::DT_LNK, b"link", true));
        let got: Vec<(u8, &[u8])> = dirents(&buf).collect();
        assert_eq!(
            got,
            [
                (libc::DT_DIR, &b".\0"[..]),
                (libc::DT_REG, b"a\xffb\0"),
                (libc::DT_LNK, b"link\0")
            ]
        );
        // A record claiming more bytes than the reply holds ends the walk.
        let mut cut = record(libc::DT_REG, b"first", true);
        let mut bad = record(libc::DT_REG, b"second", true);
        bad[16..18].copy_from_slice(&200u16.to_ne_bytes());
        cut.extend(bad);
        assert_eq!(dirents(&cut).count(), 1);
        assert_eq!(dirents(&cut[..10]).count(), 0);
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*.so", b"libc.so"));
        assert!(!glob_match(b"*.so", b"libc.so.6"));
        assert!(glob_match(b"*.so*", b"libc.so.6"));
        assert!(glob_match(b"/usr/*/doc", b"/usr/share/doc"));
        assert!(!glob_match(b"/usr/*/doc", b"/usr/a/b/doc"));
        assert!(glob_match(b"/usr/**/doc", b"/usr/a/b/doc"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(!glob_match(b"a?c", b"a/c"));
        assert!(glob_match(b"node_modules", b"node_modules"));
        assert!(!glob_match(b"node_modules", b"node_modules2"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn patterns_pick_name_or_path() {
        let p = Pattern::new(OsStr::new("doc"));
        assert!(p.matches(b"/usr/share/doc", b"doc"));
        let p = Pattern::new(OsStr::new("/usr/share/doc/"));
        assert!(p.matches(b"/usr/share/doc", b"doc"));
        assert!(!p.matches(b"/opt/share/doc", b"doc"));
    }
}
