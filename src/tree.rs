//! One view of "a tree of files with capabilities" for `read -r`, `check` and
//! `verify`: the host's filesystem, or the root filesystem an image's layers make.
//!
//! The commands keep their rules (output lines, JSON, manifest comparison, the exec
//! model) and ask this view for entries; only where the facts come from differs.

use crate::error::at_path;
use crate::filecaps::FileCaps;
use crate::image::apply::{Kept, Step, Want};
use crate::image::tar::{CapRecord, Kind};
use crate::image::{Image, Snapshot};
use crate::scan::{self, Entry, Found, WalkOpts};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where files come from.
pub enum Tree {
    Host,
    Image(Box<ImageTree>),
}

/// An image and what a scan kept of its final root filesystem.
pub struct ImageTree {
    pub image: Image,
    pub snap: Snapshot,
}

/// A file as `check` needs it: an identity (hard links share one) and whether it
/// is a regular file.
pub struct Stat {
    pub id: (u64, u64),
    pub is_file: bool,
}

impl Tree {
    /// Open an image and apply its layers, keeping what `want` asks for.
    pub fn image(arg: &Path, platform: Option<&str>, want: &Want) -> anyhow::Result<Tree> {
        let image = Image::open(arg, platform)?;
        let snap = image.scan(want)?;
        Ok(Tree::Image(Box::new(ImageTree { image, snap })))
    }

    /// Every entry at or under `root` worth reporting (see [`scan::walk`]), in no
    /// particular order.
    pub fn walk(
        &self,
        root: &Path,
        opts: &WalkOpts,
        emit: &mut dyn FnMut(Entry),
        fail: &mut dyn FnMut(anyhow::Error),
    ) {
        match self {
            Tree::Host => scan::walk(root, opts, emit, fail),
            Tree::Image(t) => t.walk(root, opts, emit, fail),
        }
    }

    /// What is at `path` (not following a final symlink).
    pub fn stat(&self, path: &Path) -> io::Result<Stat> {
        match self {
            Tree::Host => {
                let m = crate::openpath::symlink_metadata(path)?;
                Ok(Stat {
                    id: (m.dev(), m.ino()),
                    is_file: m.is_file(),
                })
            }
            Tree::Image(t) => t.stat(path),
        }
    }

    /// The capabilities of the regular file at `path`.
    pub fn read_caps(&self, path: &Path) -> Found {
        match self {
            Tree::Host => scan::read_caps(path),
            Tree::Image(t) => match t.lookup(path) {
                Ok(Some((p, k))) => t.found(&p, k),
                Ok(None) => Found::File(None),
                Err(e) => Found::Unreadable(at_path(path, crate::error::strerror(&e))),
            },
        }
    }

    /// How messages name where a path is: "" for the host, " in IMAGE" for an image.
    pub fn place(&self) -> String {
        match self {
            Tree::Host => String::new(),
            Tree::Image(t) => format!(" in {}", crate::error::quote(&t.image.name)),
        }
    }
}

impl ImageTree {
    /// The entry at `path`, symlinks in the directories on the way resolved inside
    /// the image (never on the host). `Ok(None)`: nothing kept there (an existing
    /// file we did not keep has no capabilities).
    pub fn lookup(&self, path: &Path) -> io::Result<Option<(Vec<u8>, &Kept)>> {
        let real = self.resolve(path.as_os_str().as_bytes(), false)?;
        Ok(self.snap.files.get(&real).map(|k| (real, k)))
    }

    /// `path` with every symlink on the way replaced by its target (the final one
    /// too when `follow`), relative targets taken from the link's directory and
    /// absolute ones from the image root.
    pub fn resolve(&self, path: &[u8], follow: bool) -> io::Result<Vec<u8>> {
        crate::image::apply::resolve_in(path, follow, &|p| match self.snap.files.get(p) {
            Some(k) if k.kind == Kind::Symlink => Step::Link(k.link.clone()),
            Some(k) if k.kind != Kind::Dir => Step::NotDir,
            _ => Step::Plain,
        })
        .map_err(io::Error::from_raw_os_error)
    }

    fn stat(&self, path: &Path) -> io::Result<Stat> {
        let real = self.resolve(path.as_os_str().as_bytes(), false)?;
        let id = |p: &[u8]| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            p.hash(&mut h);
            (0, h.finish())
        };
        match self.snap.files.get(&real) {
            Some(k) => {
                let inode =
                    if k.kind == Kind::HardLink || !k.link.is_empty() && k.kind == Kind::Regular {
                        &k.link[..]
                    } else {
                        &real[..]
                    };
                Ok(Stat {
                    id: id(inode),
                    is_file: k.kind == Kind::Regular || k.kind == Kind::HardLink,
                })
            }
            // Not kept: it has no capabilities; whether it exists at all, the scan's
            // record of every path answers.
            None if self.snap.exists(&real) => Ok(Stat {
                id: id(&real),
                is_file: true,
            }),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    /// The entry for one kept file, as a host scan would report it.
    pub fn found(&self, path: &[u8], k: &Kept) -> Found {
        // Like the host scan (and nftw's FTW_F behind getcap -r), fifos, sockets and
        // devices are files that simply have no capabilities: only directories and
        // symlinks are "not a regular file".
        if matches!(k.kind, Kind::Dir | Kind::Symlink) {
            return Found::NotRegular;
        }
        // `IMAGE: layer L: 'PATH': cause`, like every other error about an image.
        let bad = |cause: &dyn std::fmt::Display| {
            let shown = Path::new(std::ffi::OsStr::from_bytes(path));
            let layer = self.image.resolved.layers.get(k.layer);
            let label = layer.map_or(String::new(), |l| format!("{}: ", l.label));
            Found::Unreadable(at_path(
                &self.image.name,
                format!("{label}{}: {cause}", crate::error::quote(shown)),
            ))
        };
        match &k.cap {
            // No runtime applies the misspelt record: the file has none (a warning
            // says so).
            None | Some(CapRecord::Misspelt(_)) => Found::File(None),
            Some(CapRecord::Schily(v) | CapRecord::LibarchiveOnly(v)) => {
                match FileCaps::decode(v) {
                    Ok(c) => Found::File(Some(c)),
                    Err(e) => bad(&e),
                }
            }
            Some(CapRecord::BadBase64) => {
                bad(&"its LIBARCHIVE.xattr.security.capability record is not base64")
            }
        }
    }

    fn walk(
        &self,
        root: &Path,
        opts: &WalkOpts,
        emit: &mut dyn FnMut(Entry),
        fail: &mut dyn FnMut(anyhow::Error),
    ) {
        let given = root;
        let root = match self.resolve(given.as_os_str().as_bytes(), false) {
            Ok(r) => r,
            Err(e) => {
                return fail(at_path(
                    given,
                    format!("{}{}", crate::error::strerror(&e), self_place(self)),
                ));
            }
        };
        // Entries are named under the path as given, as a host walk names them
        // (`/lib/x`, not `/usr/lib/x`, when the image's /lib is a symlink).
        // A '..' after a symlink goes where the link leads: no lexical name then.
        let raw = given.as_os_str().as_bytes();
        let named = match crate::image::apply::clean(raw) {
            Ok(n) if n != root && !raw.split(|&b| b == b'/').any(|c| c == b"..") => n,
            _ => root.clone(),
        };
        let shown = |p: &[u8]| -> Vec<u8> { [&named[..], &p[root.len()..]].concat() };
        let pre = if root == b"/" {
            root.clone()
        } else {
            [&root[..], b"/"].concat()
        };
        let under = self
            .snap
            .files
            .range(root.clone()..)
            .take_while(|(p, _)| **p == root || p.starts_with(&pre));
        // A path the image does not have is an error, as on the host (the scan's
        // record of every path and every entry's directory says what is there).
        let anything = self
            .snap
            .files
            .range(root.clone()..)
            .next()
            .is_some_and(|(p, _)| *p == root || p.starts_with(&pre));
        if root != b"/" && !anything && !self.snap.exists(&root) {
            let e = std::io::Error::from_raw_os_error(libc::ENOENT);
            return fail(at_path(
                given,
                format!("{}{}", crate::error::strerror(&e), self_place(self)),
            ));
        }
        let mut excluded: Option<Vec<u8>> = None;
        let mut implied = std::collections::HashSet::new();
        for (p, k) in under {
            if let Some(x) = &excluded {
                if p.starts_with(x) {
                    continue;
                }
                excluded = None;
            }
            let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
            let as_named = shown(p);
            if opts.exclude.iter().any(|x| x.matches(&as_named, name)) {
                excluded = Some([&p[..], b"/"].concat());
                continue;
            }
            // Parents excluded by a whole-path pattern are not always kept entries.
            if !opts.exclude.is_empty() && self.parent_excluded(&as_named, &named, opts) {
                continue;
            }
            let found = self.found(p, k);
            let meta = opts.setid.then(|| meta_of(k)).flatten();
            // (A capability a runtime loses at a hard link is audit's finding too.)
            let setid = meta.is_some_and(|m| m.setuid() || m.setgid())
                || opts.setid && k.lost_cap.is_some();
            if !opts.setid {
                // (audit reports these as findings of its own.) Every kept entry:
                // a file a runtime leaves without capabilities is worth a word too.
                self.warn_about(&as_named, k);
            }
            if opts.verbose || setid || !matches!(found, Found::File(None) | Found::NotRegular) {
                emit(Entry {
                    path: PathBuf::from(std::ffi::OsStr::from_bytes(&as_named)),
                    found,
                    layer: Some(k.layer),
                    meta,
                });
            }
            if opts.verbose {
                self.implied_dirs(p, &root, &mut implied, &mut |d| {
                    emit(Entry {
                        path: PathBuf::from(std::ffi::OsStr::from_bytes(&shown(d))),
                        found: Found::NotRegular,
                        layer: None,
                        meta: None,
                    })
                });
            }
        }
        // The root is always there, even when no layer has an entry for it.
        if opts.verbose
            && root == b"/"
            && !self.snap.files.contains_key(&root)
            && implied.is_empty()
        {
            emit(Entry {
                path: PathBuf::from("/"),
                found: Found::NotRegular,
                layer: None,
                meta: None,
            });
        }
    }

    /// With -v, the directories above `p` (up to `root`) that no layer has an entry
    /// for: a runtime creates them when it unpacks, so they are there (getcap -v
    /// lists them too). Each is reported once.
    fn implied_dirs(
        &self,
        p: &[u8],
        root: &[u8],
        done: &mut std::collections::HashSet<Vec<u8>>,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        let mut at = p;
        while at.len() > root.len() {
            let cut = at.iter().rposition(|&b| b == b'/').unwrap_or(0);
            at = if cut == 0 { b"/" } else { &at[..cut] };
            if at.len() < root.len() || self.snap.files.contains_key(at) {
                // A kept entry is walked itself (and its own parents with it).
                break;
            }
            if !done.insert(at.to_vec()) {
                break;
            }
            emit(at);
        }
    }

    fn parent_excluded(&self, p: &[u8], root: &[u8], opts: &WalkOpts) -> bool {
        let mut at = p;
        while let Some(i) = at.iter().rposition(|&b| b == b'/') {
            at = &at[..i];
            if at.len() <= root.len() {
                return false;
            }
            let name = at.rsplit(|&b| b == b'/').next().unwrap_or(at);
            if opts.exclude.iter().any(|x| x.matches(at, name)) {
                return true;
            }
        }
        false
    }

    /// What a runtime would do differently from what the tar says.
    fn warn_about(&self, p: &[u8], k: &Kept) {
        let shown = crate::output::escape_bytes(p);
        if k.mixed {
            crate::error::warn(&format!(
                "{shown}: the tar entries of this hard-linked file carry different capability records (GNU tar writes one on the first name only); containerd and Docker leave the last entry's on every name, as listed; podman and umoci keep another"
            ));
        }
        match &k.cap {
            Some(CapRecord::LibarchiveOnly(_)) => crate::error::warn(&format!(
                "{shown}: the capability is only in a LIBARCHIVE.xattr pax record (bsdtar); moby and containerd apply only SCHILY.xattr records, so a container would not get it"
            )),
            Some(CapRecord::Misspelt(_)) => crate::error::warn(&format!(
                "{shown}: the capability is only in a SCHILY.xattrs. pax record (containerd's spelling before 2018); no runtime of today applies it, so a container would not get it"
            )),
            Some(CapRecord::Schily(v)) => {
                if let Ok(FileCaps {
                    rootid: Some(r), ..
                }) = FileCaps::decode(v)
                {
                    crate::error::warn(&format!(
                        "{shown}: a v3 value bound to rootid {r}: it applies only in a user namespace whose root is uid {r} on the host (moby rewrites v3 to v2 when it builds a layer; containerd and umoci keep it)"
                    ));
                }
            }
            _ => {}
        }
    }
}

/// A kept regular file's mode and owner as the host scan gives them (ids beyond
/// 32 bits, which no kernel has, as the overflow id).
fn meta_of(k: &Kept) -> Option<scan::Meta> {
    let id = |i: u64| u32::try_from(i).unwrap_or(65534);
    matches!(k.kind, Kind::Regular | Kind::HardLink).then(|| scan::Meta {
        mode: libc::S_IFREG | (k.mode & 0o7777),
        uid: id(k.uid),
        gid: id(k.gid),
    })
}

fn self_place(t: &ImageTree) -> String {
    format!(" in {}", crate::error::quote(&t.image.name))
}
