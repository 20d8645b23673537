//! Applying layers as a container runtime does (OCI image-spec `layer.md`), while
//! remembering only what the caller wants: capped files, hard links, and for
//! `verify` the directories, symlinks and first bytes of a few files.
//!
//! Layers are read in parallel, one worker per layer, and merged in order:
//!
//! * A worker applies its own layer's entries to each other (a later entry replaces
//!   an earlier one, a non-directory replaces a directory's subtree) and collects
//!   what its layer does to the layers below: whiteouts, opaque directories, and
//!   the paths it replaces.
//! * The paths a layer replaces matter only where a lower layer left something we
//!   keep. While the layers below are still being read a worker cannot know that,
//!   so it holds those paths (at most [`PENDING`]; then it waits), and once the
//!   lower layers are merged it keeps only the ones that hit. Memory follows what is
//!   kept, never the number of entries or the bytes.
//! * Whiteouts and opaque markers hide lower layers only, never their own layer's
//!   entries, whichever comes first in the tar.
//! * A layer is applied as containerd's and Docker's overlay snapshotters apply it:
//!   into an empty directory. Its paths resolve through its own symlinks only, a
//!   directory it needs but has no entry for replaces a lower non-directory, a
//!   hard link names a file of the same layer, and the entries naming one inode
//!   leave the last one's capability on every name (see [`Inodes`], [`land`]).

use super::tar::{self, CapRecord, Kind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, RwLock};

/// How many replaced paths a worker holds before it waits for the layers below.
const PENDING: usize = 1 << 18;

/// What a scan keeps of an entry.
#[derive(Clone, Debug)]
pub struct Kept {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub cap: Option<CapRecord>,
    /// The layer that wrote it.
    pub layer: usize,
    /// A symlink's target as written; for every name of a hard-linked file but
    /// the first, the first (the inode's data entry), as a clean path.
    pub link: Vec<u8>,
    /// The first bytes, for files `verify` asked for.
    pub head: Option<Vec<u8>>,
    /// A hard-linked file whose entries carry different capability records: podman
    /// and umoci give it another value than containerd and Docker (see [`Inodes`]).
    pub mixed: bool,
    /// The data, copied aside during the scan for a writer ([`Want::spool`]).
    pub data: Option<std::sync::Arc<Spooled>>,
    /// A capability the tar gave this inode that Docker and containerd lose: a later
    /// hard-link entry to it has no record of its own, and they lchown every link
    /// entry (which clears `security.capability`) before setting only that entry's
    /// records (`audit`'s FC161).
    pub lost_cap: Option<CapRecord>,
}

/// What to keep.
#[derive(Default, Debug)]
pub struct Want {
    /// Every entry (`read -v`).
    pub all: bool,
    /// Directories (`verify` checks their owner and mode).
    pub dirs: bool,
    /// These paths whatever they are (`check`'s listed files).
    pub paths: HashSet<Vec<u8>>,
    /// Entries with one of these base names, whatever they are: a writer's targets,
    /// named before the layers say which directories are symlinks. A symlink kept
    /// so adds the base name of what it points to (`python3 -> python3.11`), so a
    /// target reached through it is usually found in the same scan.
    pub names: std::sync::RwLock<HashSet<Vec<u8>>>,
    /// Whether `names` is in use (it is not looked at otherwise).
    pub by_name: bool,
    /// These paths with (at most) this many first bytes.
    pub heads: HashMap<Vec<u8>, usize>,
    /// Every executable regular file with this many first bytes (0: none), until
    /// [`HEAD_BUDGET`] bytes are kept: `verify` then finds a program, its `#!`
    /// interpreters and its ELF loader in one pass over the image.
    pub exec_heads: usize,
    /// Where to copy aside the data of the regular files `names` keeps (a writer's
    /// copy-ups, so their layers are not decompressed twice).
    pub spool: Option<std::path::PathBuf>,
    /// Copy aside every file with a capability record too, and with `setid` every
    /// set-ID file (`apply --image --prune`, `--strip-setid`).
    pub spool_privileged: bool,
    /// Regular files with a set-user-ID or set-group-ID bit (`audit`, and
    /// `apply --image --strip-setid`).
    pub setid: bool,
}

/// The most bytes of executables' heads one scan keeps.
pub const HEAD_BUDGET: usize = 64 << 20;

impl Want {
    fn keeps(&self, path: &[u8], h: &tar::Header) -> bool {
        // Symlinks always: paths resolve through them in the final tree, a
        // layer's entries land where its own lead, and a directory a later layer
        // implies where a lower one has a symlink is worth a warning.
        self.all
            || h.cap.is_some()
            || matches!(h.kind, Kind::HardLink | Kind::Symlink)
            || (self.dirs && h.kind == Kind::Dir)
            || (self.setid && h.kind == Kind::Regular && h.mode & 0o6000 != 0)
            || self.paths.contains(path)
            || self.named(path)
            || self.heads.contains_key(path)
            || self.exec_heads(h) > 0
    }

    fn named(&self, path: &[u8]) -> bool {
        self.by_name
            && self
                .names
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(path.rsplit(|&b| b == b'/').next().unwrap_or(path))
    }

    fn exec_heads(&self, h: &tar::Header) -> usize {
        if h.kind == Kind::Regular && h.mode & 0o111 != 0 {
            self.exec_heads
        } else {
            0
        }
    }
}

/// What one layer does.
#[derive(Default)]
pub struct LayerOut {
    own: BTreeMap<Vec<u8>, Kept>,
    whiteouts: Vec<Vec<u8>>,
    opaques: Vec<Vec<u8>>,
    /// Paths of this layer's entries that replace something below.
    replaced: Vec<(Vec<u8>, Put)>,
    /// Hard link targets this layer did not keep, with the first link's name:
    /// a file of its own we skipped, or a lower layer's (which fails).
    outside: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What a layer puts at a path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Put {
    /// A non-directory: it replaces whatever was there, a directory's subtree too.
    File,
    /// A directory entry: it replaces only a non-directory.
    Dir,
    /// A directory the applier makes because an entry is below it and the layer
    /// has no entry of its own for it: it too replaces only a non-directory.
    Implied,
}

impl Put {
    fn dir(self) -> bool {
        self != Put::File
    }
}

/// A clean image-absolute path (`/usr/bin/x`), or why the name is refused.
pub fn clean(name: &[u8]) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(name.len() + 1);
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                let Some(i) = out.iter().rposition(|&b| b == b'/') else {
                    return Err(format!(
                        "entry {} climbs out of the image root",
                        crate::output::escape_bytes(name)
                    ));
                };
                out.truncate(i);
            }
            c => {
                out.push(b'/');
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

/// What a path component is, to [`resolve_in`].
pub enum Step {
    /// A symlink with this target.
    Link(Vec<u8>),
    /// Something that is not a directory (a lookup through it fails, ENOTDIR).
    NotDir,
    /// A directory, or nothing known.
    Plain,
}

/// The kernel's limit on symlinks in one lookup.
const MAX_LINKS: usize = 40;

/// `path` inside an image root: every symlink on the way replaced by its target
/// (the last one too when `follow_last`), relative targets taken from the link's
/// directory, absolute ones and `..` never leaving the root, as the kernel and
/// containerd's `fs.RootPath` resolve inside a container's root. `step` says what
/// each component is. Err(errno): ELOOP past 40 links, ENOTDIR through a file.
pub fn resolve_in(
    path: &[u8],
    follow_last: bool,
    step: &dyn Fn(&[u8]) -> Step,
) -> Result<Vec<u8>, i32> {
    if plain(path, follow_last, step) {
        return Ok(path.to_vec());
    }
    let parts = |p: &[u8]| -> Vec<Vec<u8>> {
        p.split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(<[u8]>::to_vec)
            .rev()
            .collect()
    };
    let mut todo = parts(path);
    let mut at: Vec<u8> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c == b".." {
            let cut = at.iter().rposition(|&b| b == b'/').unwrap_or(0);
            at.truncate(cut);
            continue;
        }
        let mut next = at.clone();
        next.push(b'/');
        next.extend_from_slice(&c);
        let last = todo.is_empty();
        match step(&next) {
            Step::Link(target) if !last || follow_last => {
                hops += 1;
                if hops > MAX_LINKS {
                    return Err(libc::ELOOP);
                }
                if target.starts_with(b"/") {
                    at.clear();
                }
                todo.extend(parts(&target));
            }
            Step::NotDir if !last => return Err(libc::ENOTDIR),
            _ => at = next,
        }
    }
    if at.is_empty() {
        at.push(b'/');
    }
    Ok(at)
}

/// Whether `path` resolves to itself: already clean (absolute, no empty, `.` or
/// `..` component) and no component on the way a symlink or a non-directory (the
/// last one may be anything but a link to follow). The same lookups as the walk
/// of [`resolve_in`] but no allocation: nearly every entry of a layer is such a
/// path, and [`resolve_in`] runs for each (musl's allocator takes a lock per call).
fn plain(path: &[u8], follow_last: bool, step: &dyn Fn(&[u8]) -> Step) -> bool {
    if path == b"/" {
        return true;
    }
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    let mut end = 0;
    for c in rest.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." || c == b".." {
            return false;
        }
        end += 1 + c.len();
        let last = end == path.len();
        match step(&path[..end]) {
            Step::Plain => {}
            Step::Link(_) if last && !follow_last => {}
            Step::NotDir if last => {}
            _ => return false,
        }
    }
    true
}

/// Where an entry really lands: the directories on its way resolved through the
/// symlinks `link` knows (a lower layer's `lib -> usr/lib` puts `lib/c` at
/// `/usr/lib/c`), as containerd's applier resolves a parent (`fs.RootPath`) and the
/// kernel does for moby's. The last component is followed too when `follow_last`
/// (an opaque marker's directory). A lookup that fails (a link loop) leaves the
/// name as it is.
pub fn through_links(
    path: &[u8],
    follow_last: bool,
    link: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    resolve_in(path, follow_last, &|q| {
        link(q).map_or(Step::Plain, Step::Link)
    })
    .or_else(|_| clean(path))
    .unwrap_or_else(|_| path.to_vec())
}

/// The symlink at `p` in `m`, if there is one.
fn link_in(m: &BTreeMap<Vec<u8>, Kept>, p: &[u8]) -> Option<Vec<u8>> {
    m.get(p)
        .filter(|k| k.kind == Kind::Symlink)
        .map(|k| k.link.clone())
}

/// The prefix every path below `p` starts with.
fn below_of(p: &[u8]) -> Vec<u8> {
    let mut s = p.to_vec();
    if s != b"/" {
        s.push(b'/');
    }
    s
}

/// Remove `p` (unless `keep_self`) and everything below it.
fn remove_tree(m: &mut BTreeMap<Vec<u8>, Kept>, p: &[u8], keep_self: bool) {
    if !keep_self {
        m.remove(p);
    }
    let pre = below_of(p);
    let doomed: Vec<Vec<u8>> = m
        .range::<[u8], _>((Bound::Included(&pre[..]), Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(&pre))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        m.remove(&k);
    }
}

/// Whether replacing `p` changes anything kept in `m`.
fn hits(m: &BTreeMap<Vec<u8>, Kept>, p: &[u8], dir: bool) -> bool {
    if dir {
        return m.get(p).is_some_and(|k| k.kind != Kind::Dir);
    }
    if m.contains_key(p) {
        return true;
    }
    let pre = below_of(p);
    m.range::<[u8], _>((Bound::Included(&pre[..]), Bound::Unbounded))
        .next()
        .is_some_and(|(k, _)| k.starts_with(&pre))
}

/// A fixed-size Bloom filter of every path and every entry's directory, by layer:
/// it answers "is anything there" (a hard link's target in its own layer, a PATH to
/// list in any) without remembering every path. A false "yes" (1 in 700 at a
/// million entries for one layer, measured; that times the layers for any layer)
/// only misses such an error; a "no" is always right. Blocked: the five bits of a
/// path lie in one 64-byte block, so an insert or a lookup costs one cache miss.
pub struct Seen {
    blocks: Vec<Block>,
    /// How many layers inserted paths (a lookup in any layer asks each).
    layers: AtomicUsize,
}

#[repr(align(64))]
struct Block([AtomicU64; 8]);

/// 2 MiB.
const SEEN_BLOCKS: u64 = 1 << 15;

impl Default for Seen {
    fn default() -> Seen {
        Seen::new()
    }
}

impl Seen {
    pub fn new() -> Seen {
        Seen {
            blocks: (0..SEEN_BLOCKS)
                .map(|_| Block(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            layers: AtomicUsize::new(0),
        }
    }
    /// The block of `p` in `layer`, and five bit numbers (0..512) in it.
    fn probes(&self, p: &[u8], layer: usize) -> (&Block, impl Iterator<Item = u64>) {
        // FNV-1a picks the block; a second mix of it, nine bits at a time, the bits.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in p {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ layer as u64).wrapping_mul(0x0100_0000_01b3);
        let h2 = (h ^ (h >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = &self.blocks[((h >> 7) % SEEN_BLOCKS) as usize];
        (block, (0..5u64).map(move |i| (h2 >> (9 * i)) & 511))
    }
    fn insert(&self, p: &[u8], layer: usize) {
        // A read first: the count changes once per layer, and an atomic write per
        // entry would bounce its cache line between the workers.
        if self.layers.load(Ordering::Relaxed) <= layer {
            self.layers.fetch_max(layer + 1, Ordering::Relaxed);
        }
        let (block, bits) = self.probes(p, layer);
        for b in bits {
            block.0[(b / 64) as usize].fetch_or(1 << (b % 64), Ordering::Relaxed);
        }
    }
    /// Whether layer `layer` has an entry at `p` (or one below it).
    pub fn contains_in(&self, p: &[u8], layer: usize) -> bool {
        let (block, mut bits) = self.probes(p, layer);
        bits.all(|b| block.0[(b / 64) as usize].load(Ordering::Relaxed) & (1 << (b % 64)) != 0)
    }
    /// Whether any layer has an entry at `p` (or one below it).
    pub fn contains(&self, p: &[u8]) -> bool {
        (0..self.layers.load(Ordering::Relaxed)).any(|l| self.contains_in(p, l))
    }
}

/// What the workers and the merger share.
pub struct Shared<'a> {
    pub want: &'a Want,
    /// The tree so far: every layer below `merged`, applied.
    pub state: RwLock<BTreeMap<Vec<u8>, Kept>>,
    pub merged: AtomicUsize,
    pub lock: Mutex<()>,
    pub wake: Condvar,
    pub stop: AtomicBool,
    pub seen: Seen,
    /// Bytes of executables' heads still to keep.
    budget: AtomicUsize,
    /// Where runtimes disagree, found while applying the layers.
    pub warnings: Mutex<Vec<String>>,
}

impl Shared<'_> {
    pub fn new(want: &Want) -> Shared<'_> {
        Shared {
            want,
            state: RwLock::new(BTreeMap::new()),
            merged: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            seen: Seen::new(),
            budget: AtomicUsize::new(HEAD_BUDGET),
            warnings: Mutex::new(Vec::new()),
        }
    }

    fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w);
    }

    /// Wait until every layer below `layer` is merged; false when the scan stopped.
    fn wait_below(&self, layer: usize) -> bool {
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.merged.load(Ordering::Acquire) < layer {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        true
    }

    pub fn notify(&self) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }
}

/// What a worker returns when the scan stopped because another layer failed.
pub const STOPPED: &str = "stopped";

/// Read one layer's entries into what it does.
pub fn read_layer<R: tar::Skip>(
    r: &mut tar::Reader<R>,
    layer: usize,
    sh: &Shared,
) -> Result<LayerOut, String> {
    let mut out = LayerOut::default();
    let mut below = Below {
        pending: Vec::new(),
        known: layer == 0,
    };
    let mut last_dir: Vec<u8> = Vec::new();
    let mut inodes = Inodes::default();
    while let Some(h) = r.next_entry().map_err(|e| e.to_string())? {
        if sh.stop.load(Ordering::Relaxed) {
            return Err(STOPPED.into());
        }
        let path = clean(&h.name)?;
        let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b"/"[..], &path[..]),
        };
        let whiteout = base.strip_prefix(b".wh.");
        // The directory the entry needs: the applier makes it (and its parents)
        // in the layer's empty directory where the layer has no entry for it.
        let needs = match whiteout {
            Some(b"") => dir
                .get(..dir.iter().rposition(|&b| b == b'/').unwrap_or(0))
                .unwrap_or(b""),
            _ => dir,
        };
        // Entries come grouped by directory: this runs once per run of them.
        if needs != last_dir {
            // Every path, and the directory it is in (a layer may list files
            // without their directories), for "is anything there" questions.
            sh.seen.insert(needs, layer);
            for d in implied_dirs(needs, &last_dir).collect::<Vec<_>>() {
                below.note(sh, layer, &mut out, d, Put::Implied)?;
            }
            last_dir = needs.to_vec();
        }
        if let Some(name) = whiteout {
            if name == b".wh..opq" {
                out.opaques.push(dir.to_vec());
            } else if name.is_empty() {
                // ".wh." alone names the directory itself: containerd and moby
                // join an empty name to it and remove the directory.
                out.whiteouts.push(dir.to_vec());
            } else if !name.starts_with(b".wh.") {
                let mut p = below_of(dir);
                p.extend_from_slice(name);
                out.whiteouts.push(p);
            }
            // Other ".wh..wh." names are aufs bookkeeping, not files.
            continue;
        }
        // A value the kernel will not store fails the runtime's unpacking of the
        // whole image, whatever later layers do with the file.
        if let Some(CapRecord::Schily(v)) = &h.cap
            && let Some(why) = crate::filecaps::FileCaps::setxattr_refusal(v)
        {
            // Docker 20.10 reads records through Go's `Xattrs`, which drops an
            // empty one; containerd sets every `SCHILY.xattr.` record.
            let who = if v.is_empty() {
                "containerd fails to unpack the image there (Docker 20.10 skips an empty record)"
            } else {
                "containerd, Docker and umoci fail to unpack the image there"
            };
            return Err(format!(
                "{}: {why}; {who}",
                crate::output::escape_bytes(&path)
            ));
        }
        let is_dir = h.kind == Kind::Dir;
        sh.seen.insert(&path, layer);
        // Within the layer: the later entry wins.
        if is_dir {
            if out.own.get(&path).is_some_and(|k| k.kind != Kind::Dir) {
                out.own.remove(&path);
            }
        } else {
            remove_tree(&mut out.own, &path, false);
        }
        if path != b"/" {
            let put = if is_dir { Put::Dir } else { Put::File };
            below.note(sh, layer, &mut out, &path, put)?;
        }
        if h.kind == Kind::Symlink && sh.want.named(&path) {
            let to = h.link.rsplit(|&b| b == b'/').next().unwrap_or(&h.link);
            if !to.is_empty() && to != b".." && to != b"." {
                sh.want
                    .names
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(to.to_vec());
            }
        }
        if !sh.want.keeps(&path, &h) {
            continue;
        }
        let asked = sh.want.heads.get(&path).copied().unwrap_or(0);
        let mut len = asked.max(sh.want.exec_heads(&h));
        if asked == 0 && len > 0 {
            // Executables' heads share a budget; asked-for heads do not.
            let cost = len.min(usize::try_from(h.size).unwrap_or(usize::MAX));
            let spent = sh
                .budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    b.checked_sub(cost)
                });
            if spent.is_err() {
                len = 0;
            }
        }
        let head = if len > 0 && h.kind == Kind::Regular {
            Some(r.head(len).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let data = match &sh.want.spool {
            Some(dir)
                if head.is_none()
                    && h.kind == Kind::Regular
                    && !h.sparse
                    && (sh.want.named(&path)
                        || sh.want.spool_privileged
                            && (h.cap.is_some() || sh.want.setid && h.mode & 0o6000 != 0)) =>
            {
                Some(std::sync::Arc::new(spool(r, dir, &h)?))
            }
            _ => None,
        };
        let mut k = Kept {
            data,
            kind: h.kind,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            size: h.size,
            cap: h.cap,
            layer,
            link: h.link,
            head,
            mixed: false,
            lost_cap: None,
        };
        if k.kind == Kind::HardLink {
            k.link = clean(&k.link)?;
            if let Some(target) = inodes.link(&mut out.own, &path, &mut k)? {
                // The applier links to what the layer's directory holds now: an
                // earlier entry of this layer (a lower layer's file is not there).
                if !sh.seen.contains_in(&target, layer) {
                    return Err(format!(
                        "hard link {} names {}, which no earlier entry of this layer created (containerd and Docker apply each layer into an empty directory, so a link to a lower layer's file fails too)",
                        crate::output::escape_bytes(&path),
                        crate::output::escape_bytes(&target)
                    ));
                }
                out.outside.push((target, path.clone()));
            }
        }
        out.own.insert(path, k);
    }
    out.replaced.append(&mut below.pending);
    Ok(out)
}

/// An entry's data copied to an unnamed file, with the header fields a copy-up
/// needs that [`Kept`] does not hold.
#[derive(Debug)]
pub struct Spooled {
    pub file: std::fs::File,
    pub len: u64,
    pub mtime: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Copy the current entry's data into a new unnamed file in `dir`.
fn spool<R: tar::Skip>(
    r: &mut tar::Reader<R>,
    dir: &std::path::Path,
    h: &tar::Header,
) -> Result<Spooled, String> {
    use std::io::Write;
    let why = |e: &dyn std::fmt::Display| {
        format!(
            "cannot copy {} aside in {}: {e}",
            crate::output::escape_bytes(&h.name),
            crate::error::quote(dir)
        )
    };
    let file = crate::sys::unnamed_file(dir).map_err(|e| why(&crate::error::strerror(&e)))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 17, &file);
    let len = r.copy_to(&mut w).map_err(|e| why(&e))?;
    w.flush().map_err(|e| why(&crate::error::strerror(&e)))?;
    drop(w);
    Ok(Spooled {
        file,
        len,
        mtime: h.mtime,
        xattrs: h.xattrs.clone(),
    })
}

/// What a layer's paths replace in the layers below, as far as known.
struct Below {
    /// Replaced paths not yet checked against the layers below.
    pending: Vec<(Vec<u8>, Put)>,
    /// Whether every layer below is merged.
    known: bool,
}

impl Below {
    /// The layer puts something at `path`: keep it in `out.replaced` if it hits
    /// what is kept below, or hold it until that is known.
    fn note(
        &mut self,
        sh: &Shared,
        layer: usize,
        out: &mut LayerOut,
        path: &[u8],
        put: Put,
    ) -> Result<(), String> {
        if !self.known && sh.merged.load(Ordering::Acquire) >= layer {
            self.known = true;
            let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
            self.pending.retain(|(p, d)| hit(&st, &out.own, p, d.dir()));
            out.replaced.append(&mut self.pending);
        }
        if self.known {
            let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
            if hit(&st, &out.own, path, put.dir()) {
                out.replaced.push((path.to_vec(), put));
            }
            return Ok(());
        }
        self.pending.push((path.to_vec(), put));
        if self.pending.len() >= PENDING {
            if !sh.wait_below(layer) {
                return Err(STOPPED.into());
            }
            self.known = true;
            let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
            self.pending.retain(|(p, d)| hit(&st, &out.own, p, d.dir()));
            out.replaced.append(&mut self.pending);
        }
        Ok(())
    }
}

/// The names of each inode a layer's hard links share, by the path of the entry
/// that made the inode.
///
/// containerd's and Docker's appliers `lchown` every link entry, which clears the
/// inode's capability (the kernel does so on any chown), then set that entry's own
/// records, owner and mode (tested against both in `tests/it/image_engines.rs`). So an
/// inode ends with the capability, owner and mode of the last entry naming it, on
/// every name: a GNU tar layer, which puts the record on the data entry only,
/// leaves none. podman's storage skips a chown to the same owner and umoci applies
/// no metadata to a link entry: they keep the data entry's value.
#[derive(Default)]
struct Inodes {
    names: HashMap<Vec<u8>, Vec<Vec<u8>>>,
}

impl Inodes {
    /// `link` (at `path`, already cleaned) joins the inode of its target. Returns
    /// the target when the layer kept no entry for it (see [`LayerOut::outside`]).
    fn link(
        &mut self,
        own: &mut BTreeMap<Vec<u8>, Kept>,
        path: &[u8],
        link: &mut Kept,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut outside = None;
        let root = match own.get(&link.link) {
            Some(t) if t.kind == Kind::Dir => {
                return Err(format!(
                    "hard link {} names a directory, {}",
                    crate::output::escape_bytes(path),
                    crate::output::escape_bytes(&link.link)
                ));
            }
            // A hard link to a symlink is that symlink again (linkat does not
            // follow it); it has no capabilities.
            Some(t) if t.kind == Kind::Symlink => {
                link.kind = Kind::Symlink;
                link.link.clone_from(&t.link);
                link.cap = None;
                return Ok(None);
            }
            // A link to a link names the same inode.
            Some(t) if !t.link.is_empty() => t.link.clone(),
            Some(_) => link.link.clone(),
            None => {
                // A file of this layer we did not keep (it has no record), or a
                // path of a lower layer, which read_layer refuses: keep its place.
                let mut t = link.clone();
                t.kind = Kind::Regular;
                t.link.clear();
                t.cap = None;
                own.insert(link.link.clone(), t);
                outside = Some(link.link.clone());
                link.link.clone()
            }
        };
        link.link.clone_from(&root);
        let names = self.names.entry(root.clone()).or_default();
        names.retain(|n| n != path);
        let data = own.get(&root).cloned();
        let mixed = data.as_ref().is_some_and(|t| t.mixed || t.cap != link.cap);
        // A link entry without a record clears the value the inode had; one with a
        // record sets it again.
        let lost = match (&link.cap, &data) {
            (None, Some(t)) => t.cap.clone().or_else(|| t.lost_cap.clone()),
            _ => None,
        };
        for n in names.iter().chain(std::iter::once(&root)) {
            // Only names that still are this inode (a later entry may have
            // replaced one).
            if let Some(k) = own.get_mut(n)
                && (*n == root || k.link == root)
            {
                k.cap.clone_from(&link.cap);
                k.mixed = mixed;
                k.lost_cap.clone_from(&lost);
                k.mode = link.mode;
                k.uid = link.uid;
                k.gid = link.gid;
            }
        }
        names.push(path.to_vec());
        link.mixed = mixed;
        link.lost_cap = lost;
        if let Some(t) = data {
            link.kind = t.kind;
            link.size = t.size;
            if link.head.is_none() {
                link.head = t.head;
            }
        }
        Ok(outside)
    }
}

/// Where a layer's entries land: through the layer's own symlinks only. The overlay
/// snapshotters of containerd and Docker apply a layer into an empty upper
/// directory, where a lower layer's symlink is not: an entry below a lower
/// `lib -> usr/lib` makes a real directory `lib` that hides the link in the
/// container (tested against both in `tests/it/image_engines.rs`; containerd's applier
/// over a non-overlay snapshotter, podman with vfs storage and umoci follow the
/// link instead, and fcap warns where that differs).
fn land(own: &Tree, p: &[u8], follow_last: bool) -> Vec<u8> {
    through_links(p, follow_last, &|q| link_in(own, q))
}

type Tree = BTreeMap<Vec<u8>, Kept>;

/// Whether the entry at `p` replaces something kept below.
fn hit(st: &Tree, own: &Tree, p: &[u8], dir: bool) -> bool {
    hits(st, &land(own, p, false), dir)
}

/// The directories an entry in `dir` needs, `dir` and its parents up to (not
/// including) the root or the first one `done` already covers: each replaces a
/// lower layer's non-directory there (as a directory entry would).
fn implied_dirs<'a>(dir: &'a [u8], done: &[u8]) -> impl Iterator<Item = &'a [u8]> {
    let done = below_of(done);
    std::iter::successors(Some(dir), |d| {
        d.iter().rposition(|&b| b == b'/').map(|i| &d[..i])
    })
    .take_while(move |d| !d.is_empty() && !done.starts_with(&below_of(d)))
}

/// Apply one layer (the next in order) to the tree.
pub fn merge(sh: &Shared, layer: usize, out: LayerOut) -> Result<(), String> {
    let mut st = sh.state.write().unwrap_or_else(|e| e.into_inner());
    // Every path of the layer, where it really lands (through its own symlinks),
    // the replaced ones in their order.
    let own_tree = &out.own;
    let replaced: Vec<(Vec<u8>, Put)> = out
        .replaced
        .iter()
        .map(|(p, put)| (land(own_tree, p, false), *put))
        .collect();
    let whiteouts: Vec<Vec<u8>> = out
        .whiteouts
        .iter()
        .map(|w| land(own_tree, w, false))
        .collect();
    let opaques: Vec<Vec<u8>> = out
        .opaques
        .iter()
        .map(|o| land(own_tree, o, true))
        .collect();
    let own: Vec<(Vec<u8>, Kept)> = own_tree
        .iter()
        .map(|(p, k)| {
            let mut k = k.clone();
            if !k.link.is_empty() && k.kind != Kind::Symlink {
                k.link = land(own_tree, &k.link, false);
            }
            (land(own_tree, p, false), k)
        })
        .collect();
    let outside: Vec<(Vec<u8>, &Vec<u8>)> = out
        .outside
        .iter()
        .map(|(t, name)| (land(own_tree, t, false), name))
        .collect();
    // A directory made only because entries are below it, where a lower layer has
    // a symlink: the container sees a directory; runtimes that apply a layer on
    // top of the lower ones (podman with vfs, umoci) follow the link instead.
    for (p, put) in &replaced {
        if *put == Put::Implied
            && !replaced.iter().any(|(q, d)| q == p && *d != Put::Implied)
            && let Some(k) = st.get(p).filter(|k| k.kind == Kind::Symlink)
        {
            sh.warn(format!(
                "{}: a layer has entries below it but none for it: containerd and Docker (overlay) make it a directory that hides the symlink to {} of a lower layer; podman with vfs storage and umoci follow the symlink instead",
                crate::output::escape_bytes(p),
                crate::output::escape_bytes(&k.link)
            ));
        }
    }
    for w in &whiteouts {
        remove_tree(&mut st, w, false);
    }
    for o in &opaques {
        remove_tree(&mut st, o, true);
    }
    for (p, put) in &replaced {
        if put.dir() {
            if st.get(p).is_some_and(|k| k.kind != Kind::Dir) {
                st.remove(p);
            }
        } else {
            remove_tree(&mut st, p, false);
        }
    }
    // A link target the layer did not keep is a file of its own we skipped (no
    // record; read_layer made sure the layer has an earlier entry there), unless it
    // is a directory, which no one can link to.
    for (target, name) in outside {
        if st.get(&target).is_some_and(|t| t.kind == Kind::Dir) {
            return Err(format!(
                "hard link {} names a directory, {}",
                crate::output::escape_bytes(name),
                crate::output::escape_bytes(&target)
            ));
        }
    }
    for (path, k) in own {
        st.insert(path, k);
    }
    drop(st);
    sh.merged.store(layer + 1, Ordering::Release);
    sh.notify();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_inside_the_root() {
        assert_eq!(clean(b"./usr/bin/x").unwrap(), b"/usr/bin/x");
        assert_eq!(clean(b"/usr//bin/./x/").unwrap(), b"/usr/bin/x");
        assert_eq!(clean(b"usr/../etc/p").unwrap(), b"/etc/p");
        assert_eq!(clean(b"./").unwrap(), b"/");
        assert!(clean(b"usr/../../etc/shadow").is_err());
    }

    #[test]
    fn paths_resolve_through_links_whether_plain_or_not() {
        // /lib -> usr/lib, /usr/bin/sh -> dash, /etc/passwd a file.
        let step = |p: &[u8]| match p {
            b"/lib" => Step::Link(b"usr/lib".to_vec()),
            b"/usr/bin/sh" => Step::Link(b"dash".to_vec()),
            b"/etc/passwd" => Step::NotDir,
            _ => Step::Plain,
        };
        let r = |p: &[u8], follow| resolve_in(p, follow, &step);
        assert_eq!(r(b"/", false).unwrap(), b"/");
        assert_eq!(r(b"/usr/lib/x", false).unwrap(), b"/usr/lib/x");
        assert_eq!(r(b"/lib/x", false).unwrap(), b"/usr/lib/x");
        assert_eq!(r(b"/lib", false).unwrap(), b"/lib");
        assert_eq!(r(b"/lib", true).unwrap(), b"/usr/lib");
        assert_eq!(r(b"/usr/bin/sh", false).unwrap(), b"/usr/bin/sh");
        assert_eq!(r(b"/usr/bin/sh", true).unwrap(), b"/usr/bin/dash");
        assert_eq!(r(b"/etc/passwd", true).unwrap(), b"/etc/passwd");
        assert_eq!(r(b"/etc/passwd/x", false), Err(libc::ENOTDIR));
        assert_eq!(r(b"usr//bin/./x/", false).unwrap(), b"/usr/bin/x");
        assert_eq!(r(b"/usr/../lib/x", false).unwrap(), b"/usr/lib/x");
    }

    #[test]
    fn the_bloom_filter_never_forgets() {
        let s = Seen::new();
        for i in 0..10_000 {
            s.insert(format!("/usr/lib/{i}").as_bytes(), 0);
        }
        assert!((0..10_000).all(|i| s.contains(format!("/usr/lib/{i}").as_bytes())));
        let false_yes = (0..10_000)
            .filter(|i| s.contains(format!("/opt/{i}").as_bytes()))
            .count();
        assert!(false_yes < 5, "{false_yes}");
        // By layer: a path of layer 0 is not one of layer 1's.
        s.insert(b"/lower", 0);
        s.insert(b"/upper", 1);
        assert!(s.contains_in(b"/lower", 0) && s.contains_in(b"/upper", 1));
        assert!(!s.contains_in(b"/lower", 1) && !s.contains_in(b"/upper", 0));
        assert!(s.contains(b"/lower") && s.contains(b"/upper"));
    }
}
