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
    /// A symlink's target as written; a hard link's target as a clean path.
    pub link: Vec<u8>,
    /// The first bytes, for files `verify` asked for.
    pub head: Option<Vec<u8>>,
    /// A hard link whose target is not yet known to be in the tree.
    pub unresolved: bool,
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
    /// named before the layers say which directories are symlinks.
    pub names: HashSet<Vec<u8>>,
    /// These paths with (at most) this many first bytes.
    pub heads: HashMap<Vec<u8>, usize>,
    /// Every executable regular file with this many first bytes (0: none), until
    /// [`HEAD_BUDGET`] bytes are kept: `verify` then finds a program, its `#!`
    /// interpreters and its ELF loader in one pass over the image.
    pub exec_heads: usize,
    /// Regular files with a set-user-ID or set-group-ID bit (`audit`, and
    /// `apply --image --strip-setid`).
    pub setid: bool,
}

/// The most bytes of executables' heads one scan keeps.
pub const HEAD_BUDGET: usize = 64 << 20;

impl Want {
    fn keeps(&self, path: &[u8], h: &tar::Header) -> bool {
        // Symlinks always: a later layer's entries land where they lead.
        self.all
            || h.cap.is_some()
            || matches!(h.kind, Kind::HardLink | Kind::Symlink)
            || (self.dirs && h.kind == Kind::Dir)
            || (self.setid && h.kind == Kind::Regular && h.mode & 0o6000 != 0)
            || self.paths.contains(path)
            || (!self.names.is_empty()
                && self
                    .names
                    .contains(path.rsplit(|&b| b == b'/').next().unwrap_or(path)))
            || self.heads.contains_key(path)
            || self.exec_heads(h) > 0
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
    /// Paths of this layer's entries that replace something below (`true`: a
    /// directory, which replaces only a non-directory).
    replaced: Vec<(Vec<u8>, bool)>,
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
fn below(p: &[u8]) -> Vec<u8> {
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
    let pre = below(p);
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
    let pre = below(p);
    m.range::<[u8], _>((Bound::Included(&pre[..]), Bound::Unbounded))
        .next()
        .is_some_and(|(k, _)| k.starts_with(&pre))
}

/// A fixed-size Bloom filter of every path and every entry's directory: it answers
/// "is anything there" (a hard link's target, a PATH to list) without remembering
/// every path. A false "yes" (1 in 700 at a million entries, measured) only misses
/// such an error; a "no" is always right. Blocked: the five bits of a path lie in
/// one 64-byte block, so an insert or a lookup costs one cache miss.
pub struct Seen {
    blocks: Vec<Block>,
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
        }
    }
    /// The block of `p`, and five bit numbers (0..512) in it.
    fn probes(&self, p: &[u8]) -> (&Block, impl Iterator<Item = u64>) {
        // FNV-1a picks the block; a second mix of it, nine bits at a time, the bits.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in p {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let h2 = (h ^ (h >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block = &self.blocks[((h >> 7) % SEEN_BLOCKS) as usize];
        (block, (0..5u64).map(move |i| (h2 >> (9 * i)) & 511))
    }
    fn insert(&self, p: &[u8]) {
        let (block, bits) = self.probes(p);
        for b in bits {
            block.0[(b / 64) as usize].fetch_or(1 << (b % 64), Ordering::Relaxed);
        }
    }
    pub fn contains(&self, p: &[u8]) -> bool {
        let (block, mut bits) = self.probes(p);
        bits.all(|b| block.0[(b / 64) as usize].load(Ordering::Relaxed) & (1 << (b % 64)) != 0)
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
        }
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
    // Replaced paths not yet checked against the layers below.
    let mut pending: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut lower_known = layer == 0;
    let mut last_dir: Vec<u8> = Vec::new();
    let mut lander = Lander::default();
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
        if let Some(name) = base.strip_prefix(b".wh.") {
            if name == b".wh..opq" {
                out.opaques.push(dir.to_vec());
            } else if name.is_empty() {
                // ".wh." alone names the directory itself: containerd and moby
                // join an empty name to it and remove the directory.
                out.whiteouts.push(dir.to_vec());
            } else if !name.starts_with(b".wh.") {
                let mut p = below(dir);
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
        // Every path, and the directory it is in (a layer may list files without
        // their directories), for "is anything there" questions.
        sh.seen.insert(&path);
        // Entries come grouped by directory: one insert per run of them.
        if dir != last_dir {
            sh.seen.insert(dir);
            last_dir = dir.to_vec();
        }
        // Within the layer: the later entry wins.
        if is_dir {
            if out.own.get(&path).is_some_and(|k| k.kind != Kind::Dir) {
                out.own.remove(&path);
            }
        } else {
            remove_tree(&mut out.own, &path, false);
        }
        // Against the layers below.
        if !lower_known && sh.merged.load(Ordering::Acquire) >= layer {
            lower_known = true;
            let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
            lander.keep_hits(&st, &out.own, &mut pending);
            out.replaced.append(&mut pending);
        }
        if lower_known {
            let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
            if lander.hit(&st, &out.own, &path, is_dir) {
                out.replaced.push((path.clone(), is_dir));
            }
        } else if path != b"/" {
            pending.push((path.clone(), is_dir));
            if pending.len() >= PENDING {
                if !sh.wait_below(layer) {
                    return Err(STOPPED.into());
                }
                lower_known = true;
                let st = sh.state.read().unwrap_or_else(|e| e.into_inner());
                lander.keep_hits(&st, &out.own, &mut pending);
                out.replaced.append(&mut pending);
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
        let mut k = Kept {
            kind: h.kind,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            size: h.size,
            cap: h.cap,
            layer,
            link: h.link,
            head,
            unresolved: false,
            lost_cap: None,
        };
        if k.kind == Kind::HardLink {
            k.link = clean(&k.link)?;
            match out.own.get_mut(&k.link) {
                Some(t) => link_to(&mut k, t),
                None => k.unresolved = true,
            }
        }
        out.own.insert(path, k);
    }
    out.replaced.append(&mut pending);
    Ok(out)
}

/// A hard link shares its target's inode: one set of capabilities for both names
/// (a record on the link entry, as bsdtar and moby write, sets the inode's).
fn link_to(link: &mut Kept, target: &mut Kept) {
    if link.cap.is_some() {
        target.cap.clone_from(&link.cap);
        target.lost_cap = None;
    } else {
        if target.cap.is_some() {
            target.lost_cap.clone_from(&target.cap);
        }
        link.cap.clone_from(&target.cap);
    }
    link.lost_cap.clone_from(&target.lost_cap);
    link.kind = if target.kind == Kind::HardLink {
        Kind::Regular
    } else {
        target.kind
    };
    link.mode = target.mode;
    link.uid = target.uid;
    link.gid = target.gid;
    link.size = target.size;
    if link.head.is_none() {
        link.head.clone_from(&target.head);
    }
    link.unresolved = false;
}

/// Where a layer's entries land on the tree `st` of the layers below: through the
/// layer's own symlinks (`own`) and those below, except where the layer already
/// put an entry of its own (a directory that replaced a lower `a -> x` link takes
/// `a/n` itself, as the runtime's applier finds it).
#[derive(Default)]
struct Lander {
    /// Where this layer's entries replaced something below, so far.
    shadow: HashSet<Vec<u8>>,
}

type Tree = BTreeMap<Vec<u8>, Kept>;

impl Lander {
    fn land(&self, st: &Tree, own: &Tree, p: &[u8], follow_last: bool) -> Vec<u8> {
        through_links(p, follow_last, &|q| {
            link_in(own, q).or_else(|| {
                if self.shadow.contains(q) {
                    None
                } else {
                    link_in(st, q)
                }
            })
        })
    }

    /// Whether the entry at `p` replaces something below (and then it shadows it).
    fn hit(&mut self, st: &Tree, own: &Tree, p: &[u8], dir: bool) -> bool {
        let at = self.land(st, own, p, false);
        let hit = hits(st, &at, dir);
        if hit {
            self.shadow.insert(at);
        }
        hit
    }

    /// Keep the pending paths that replace something below, in their order.
    fn keep_hits(&mut self, st: &Tree, own: &Tree, pending: &mut Vec<(Vec<u8>, bool)>) {
        pending.retain(|(p, d)| self.hit(st, own, p, *d));
    }
}

/// Apply one layer (the next in order) to the tree.
pub fn merge(sh: &Shared, layer: usize, out: LayerOut) -> Result<(), String> {
    let mut st = sh.state.write().unwrap_or_else(|e| e.into_inner());
    // Every path of the layer, where it really lands (through the symlinks of the
    // layers below and of its own), the replaced ones in their order.
    let mut lander = Lander::default();
    let replaced: Vec<(Vec<u8>, bool)> = out
        .replaced
        .iter()
        .map(|(p, d)| {
            let at = lander.land(&st, &out.own, p, false);
            lander.shadow.insert(at.clone());
            (at, *d)
        })
        .collect();
    let whiteouts: Vec<Vec<u8>> = out
        .whiteouts
        .iter()
        .map(|w| lander.land(&st, &out.own, w, false))
        .collect();
    let opaques: Vec<Vec<u8>> = out
        .opaques
        .iter()
        .map(|o| lander.land(&st, &out.own, o, true))
        .collect();
    let own: Vec<(Vec<u8>, Kept)> = out
        .own
        .iter()
        .map(|(p, k)| {
            let mut k = k.clone();
            if k.unresolved {
                k.link = lander.land(&st, &out.own, &k.link, false);
            }
            (lander.land(&st, &out.own, p, false), k)
        })
        .collect();
    for w in &whiteouts {
        remove_tree(&mut st, w, false);
    }
    for o in &opaques {
        remove_tree(&mut st, o, true);
    }
    for (p, dir) in &replaced {
        if *dir {
            if st.get(p).is_some_and(|k| k.kind != Kind::Dir) {
                st.remove(p);
            }
        } else {
            remove_tree(&mut st, p, false);
        }
    }
    for (path, mut k) in own {
        if k.unresolved {
            if let Some(t) = st.get_mut(&k.link) {
                if t.kind == Kind::Dir {
                    return Err(format!(
                        "layer {layer}: hard link {} names a directory, {}",
                        crate::output::escape_bytes(&path),
                        crate::output::escape_bytes(&k.link)
                    ));
                }
                link_to(&mut k, t);
            } else if sh.seen.contains(&k.link) {
                // An existing file we did not keep: it has no capabilities, unless
                // the link entry gives its inode some.
                k.unresolved = false;
                k.kind = Kind::Regular;
                if k.cap.is_some() {
                    let mut t = k.clone();
                    t.layer = layer;
                    st.insert(k.link.clone(), t);
                }
            } else {
                return Err(format!(
                    "hard link {} names {}, which no entry of this layer or below created",
                    crate::output::escape_bytes(&path),
                    crate::output::escape_bytes(&k.link)
                ));
            }
        }
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
    fn the_bloom_filter_never_forgets() {
        let s = Seen::new();
        for i in 0..10_000 {
            s.insert(format!("/usr/lib/{i}").as_bytes());
        }
        assert!((0..10_000).all(|i| s.contains(format!("/usr/lib/{i}").as_bytes())));
        let false_yes = (0..10_000)
            .filter(|i| s.contains(format!("/opt/{i}").as_bytes()))
            .count();
        assert!(false_yes < 5, "{false_yes}");
    }
}
