//! Changing capabilities inside an image: the changes are computed by the same
//! merge rules as on the host (the caller's `compute`), then written as one new
//! layer of whole-file copy-ups appended to the image ([`super::out`] writes the
//! result).
//!
//! Why each rule of the new layer (image-write notes, and what runtimes do):
//!
//! * An OCI changeset has no metadata-only change: a file's new capabilities need
//!   the whole file again, with its content, owner, mode, mtime and other xattrs.
//! * The value is a raw binary `SCHILY.xattr.security.capability` pax record (what
//!   moby, containerd and umoci apply); a revoke is the copy-up without it.
//! * Every name of a hard-linked file is written, the first as data and the others
//!   as link entries to it in this layer, each with the same record: Docker and
//!   containerd chown every entry, and the kernel clears the capability on a chown,
//!   so a link entry without the record would take it from every name.
//! * Paths are the real paths in the final tree (symlinks resolved inside the
//!   image), and no directory entries are written: a directory entry over a lower
//!   symlink (merged-usr `bin -> usr/bin`) would replace the link.
//! * Fixed order (the order the data is found in the layers) and fixed headers
//!   (no "now", no pid in pax names), so the same input gives the same bytes.

use super::apply::{self, Kept, Want};
use super::tar::{self, CapRecord, Kind};
use super::{Compression, Image, ZstdCtx, layout, zstd_decoder};
use crate::error::{at_path, quote};
use crate::filecaps::FileCaps;
use crate::tree::ImageTree;
use crate::write::{Change, Current};
use anyhow::anyhow;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How many times a scan is repeated to learn a target it did not keep (a name
/// reached only through a symlink or a hard link whose base name differs).
const RESCANS: usize = 4;

/// One file to change, and what the change is.
pub struct Item {
    pub change: Change,
    /// The file's data entry in the final tree (a hard link's target).
    inode: Vec<u8>,
    /// The new mode bits (a `--strip-setid` clears some).
    pub mode: Option<u32>,
}

/// An opened image with the files the user named found in it.
pub struct Found {
    pub tree: ImageTree,
    /// Per path as given: the real path in the image, or why it cannot be changed.
    pub targets: Vec<Result<(PathBuf, Vec<u8>), anyhow::Error>>,
}

/// `path` as an image path (`/usr/bin/x`).
fn image_path(p: &Path) -> Vec<u8> {
    let b = p.as_os_str().as_bytes();
    if b.starts_with(b"/") {
        b.to_vec()
    } else {
        [b"/", b].concat()
    }
}

fn base(p: &[u8]) -> Vec<u8> {
    p.rsplit(|&b| b == b'/').next().unwrap_or(p).to_vec()
}

/// The data entry of the file at `real` (itself, or a hard link's target).
fn inode_of(k: &Kept, real: &[u8]) -> Vec<u8> {
    if matches!(k.kind, Kind::Regular | Kind::HardLink) && !k.link.is_empty() {
        k.link.clone()
    } else {
        real.to_vec()
    }
}

/// Scan `image`, copying aside into `spool` the data of the entries that may be
/// targets, and find each path: resolved inside the image (`follow`: the last
/// component too), a regular file. The scan is repeated only when a target was
/// not kept (see [`RESCANS`]). What `extra` asks for besides (`--prune`'s capped
/// files, `--strip-setid`'s set-ID ones) it may have copied aside too
/// ([`Want::spool_privileged`]); a file not copied aside is read again from its
/// layer when the new layer is written.
pub fn find(
    image: Image,
    paths: &[PathBuf],
    follow: bool,
    spool: Option<&Path>,
    extra: impl Fn(&mut Want),
) -> anyhow::Result<Found> {
    let mut names: HashSet<Vec<u8>> = paths.iter().map(|p| base(&image_path(p))).collect();
    let mut image = image;
    let mut rounds = 0;
    loop {
        let mut want = Want {
            names: std::sync::RwLock::new(names.clone()),
            by_name: true,
            spool: spool.map(Path::to_path_buf),
            ..Want::default()
        };
        extra(&mut want);
        let snap = image.scan(&want)?;
        let tree = ImageTree { image, snap };
        // Names the scan did not keep but the image has: learn them and scan again.
        let mut missing = Vec::new();
        let targets: Vec<_> = paths
            .iter()
            .map(|p| locate(&tree, p, follow, &mut missing))
            .collect();
        missing.retain(|m| !names.contains(m));
        if missing.is_empty() || rounds == RESCANS {
            return Ok(Found { tree, targets });
        }
        names.extend(missing);
        rounds += 1;
        image = tree.image;
    }
}

/// Find one path in the tree. A real path whose entry was not kept (its base name
/// differs from the one given) goes into `missing` for another scan.
fn locate(
    tree: &ImageTree,
    given: &Path,
    follow: bool,
    missing: &mut Vec<Vec<u8>>,
) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let place = || format!(" in {}", quote(&tree.image.name));
    let raw = image_path(given);
    let real = tree
        .resolve(&raw, follow)
        .map_err(|e| at_path(given, format!("{}{}", crate::error::strerror(&e), place())))?;
    if !follow {
        let lexical = apply::clean(&raw).map_err(|e| at_path(given, e))?;
        if lexical != real
            || tree
                .snap
                .files
                .get(&real)
                .is_some_and(|k| k.kind == Kind::Symlink)
        {
            return Err(at_path(
                given,
                format!(
                    "goes through a symbolic link{} (to '{}'); name the file itself",
                    place(),
                    crate::output::escape_bytes(&tree.resolve(&raw, true).unwrap_or(real))
                ),
            ));
        }
    }
    let shown = PathBuf::from(std::ffi::OsStr::from_bytes(&real));
    let Some(k) = tree.snap.files.get(&real) else {
        if tree.snap.exists(&real) {
            missing.push(base(&real));
            return Err(at_path(
                given,
                format!("could not be found again{}", place()),
            ));
        }
        return Err(at_path(
            given,
            format!(
                "{}{}",
                crate::error::strerror(&io::Error::from_raw_os_error(libc::ENOENT)),
                place()
            ),
        ));
    };
    match k.kind {
        Kind::Regular | Kind::HardLink => {}
        Kind::Dir => {
            return Err(at_path(
                given,
                format!(
                    "is a directory{}; file capabilities can only be set on regular files",
                    place()
                ),
            ));
        }
        _ => {
            return Err(at_path(
                given,
                format!(
                    "not a regular file{}; file capabilities can only be set on regular files",
                    place()
                ),
            ));
        }
    }
    let inode = inode_of(k, &real);
    if inode != real && !tree.snap.files.contains_key(&inode) && tree.snap.exists(&inode) {
        missing.push(base(&inode));
    }
    Ok((shown, real))
}

/// What the image's tar says a file carries, as the write path sees a host file.
/// `raw` is the record a runtime applies (a LIBARCHIVE-only value is none: the copy-up
/// with a SCHILY record is then a change even when the value is the same).
fn current(k: &Kept) -> (Current, Option<Vec<u8>>, bool) {
    match &k.cap {
        // No runtime applies containerd's old misspelt record: the file has none.
        None | Some(CapRecord::Misspelt(_)) => (Current::None, None, true),
        Some(CapRecord::Schily(v)) => (
            match FileCaps::decode(v) {
                Ok(c) => Current::Caps(c),
                Err(e) => Current::Malformed(e.to_string()),
            },
            Some(v.clone()),
            true,
        ),
        Some(CapRecord::LibarchiveOnly(v)) => (
            match FileCaps::decode(v) {
                Ok(c) => Current::Caps(c),
                Err(e) => Current::Malformed(e.to_string()),
            },
            None,
            false,
        ),
        Some(CapRecord::BadBase64) => (
            Current::Malformed(
                "its LIBARCHIVE.xattr.security.capability record is not base64".into(),
            ),
            None,
            false,
        ),
    }
}

impl Found {
    /// The change for one target, computed by `compute` from the value the file has
    /// so far in this run (a second name of the same file sees the first's change,
    /// as on the host).
    pub fn change(
        &self,
        given: &Path,
        real: &[u8],
        done: &mut HashMap<Vec<u8>, Item>,
        compute: impl FnOnce(&Current) -> anyhow::Result<Option<FileCaps>>,
    ) -> anyhow::Result<Change> {
        let files = &self.tree.snap.files;
        let k = files
            .get(real)
            .ok_or_else(|| at_path(given, "vanished from the scan"))?;
        let inode = inode_of(k, real);
        let (before, raw, runtime_ok) = match done.get(&inode) {
            Some(it) => (
                it.change.after.map_or(Current::None, Current::Caps),
                it.change.after.map(|c| c.encode()),
                true,
            ),
            None => current(k),
        };
        let after = compute(&before).map_err(|e| at_path(given, format!("{e:#}")))?;
        let new_raw = after.map(|c| c.encode());
        let changed = !runtime_ok || raw != new_raw;
        let target = PathBuf::from(std::ffi::OsStr::from_bytes(real));
        let ch = Change {
            path: given.to_path_buf(),
            target,
            before,
            after,
            changed,
            dev_ino: (0, 0),
        };
        if changed || done.contains_key(&inode) {
            let prev_mode = done.get(&inode).and_then(|i| i.mode);
            let first_changed = done.get(&inode).is_some_and(|i| i.change.changed);
            let mut c = ch.clone();
            c.changed = changed || first_changed;
            done.insert(
                inode.clone(),
                Item {
                    change: c,
                    inode,
                    mode: prev_mode,
                },
            );
        }
        Ok(ch)
    }
}

impl Found {
    /// The data entry of the file at `real`.
    pub fn inode(&self, real: &[u8]) -> Vec<u8> {
        match self.tree.snap.files.get(real) {
            Some(k) => inode_of(k, real),
            None => real.to_vec(),
        }
    }

    /// One name of every regular file in the final tree with a capability record
    /// (`--prune`'s candidates), by data entry.
    pub fn capped(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut out = BTreeMap::new();
        for (p, k) in &self.tree.snap.files {
            if k.cap.is_some() && matches!(k.kind, Kind::Regular | Kind::HardLink) {
                out.entry(inode_of(k, p)).or_insert_with(|| p.clone());
            }
        }
        out
    }

    /// Every regular file with the setuid or setgid bit, by data entry, with its mode.
    pub fn setid(&self) -> BTreeMap<Vec<u8>, (Vec<u8>, u32)> {
        let mut out = BTreeMap::new();
        for (p, k) in &self.tree.snap.files {
            if matches!(k.kind, Kind::Regular | Kind::HardLink) && k.mode & 0o6000 != 0 {
                out.entry(inode_of(k, p))
                    .or_insert_with(|| (p.clone(), k.mode));
            }
        }
        out
    }

    /// Give the file at `real` the mode `mode` in the copy-up (its capabilities as
    /// they are, or as this run changed them).
    pub fn set_mode(
        &self,
        real: &[u8],
        mode: u32,
        done: &mut HashMap<Vec<u8>, Item>,
    ) -> anyhow::Result<()> {
        let shown = PathBuf::from(std::ffi::OsStr::from_bytes(real));
        let inode = self.inode(real);
        if let Some(it) = done.get_mut(&inode) {
            it.mode = Some(mode);
            it.change.changed = true;
            return Ok(());
        }
        let k = self
            .tree
            .snap
            .files
            .get(real)
            .ok_or_else(|| at_path(&shown, "vanished from the scan"))?;
        let (before, _, _) = current(k);
        let after = match &before {
            Current::None => None,
            Current::Caps(c) => Some(*c),
            Current::Malformed(why) => {
                return Err(at_path(
                    &shown,
                    format!(
                        "{why}; a copy-up would carry it on: remove it first (fcap revoke all {} --image ...)",
                        quote(&shown)
                    ),
                ));
            }
        };
        done.insert(
            inode.clone(),
            Item {
                change: Change {
                    path: shown.clone(),
                    target: shown,
                    before,
                    after,
                    changed: true,
                    dev_ino: (0, 0),
                },
                inode,
                mode: Some(mode),
            },
        );
        Ok(())
    }
}

/// Every name of the file whose data entry is `inode`, the data entry first.
fn names_of(files: &BTreeMap<Vec<u8>, Kept>, inode: &[u8]) -> Vec<Vec<u8>> {
    let mut v = vec![inode.to_vec()];
    for (p, k) in files {
        if p != inode && matches!(k.kind, Kind::Regular | Kind::HardLink) && k.link == inode {
            v.push(p.clone());
        }
    }
    v
}

/// A writer that hashes what passes and counts it.
struct Hashing<W> {
    w: W,
    h: Sha256,
    n: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.w.write(b)?;
        self.h.update(&b[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// The new layer, written: where its blob is, its digest and size, and its diff_id.
pub struct NewLayer {
    pub file: PathBuf,
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
    /// How many entries it holds (names written).
    pub entries: usize,
}

/// The tar header fields of one copy-up.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    pax: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Every name of one file (the data entry first) and its change.
type Group<'a> = (Vec<Vec<u8>>, &'a Item);

/// Write the layer of copy-ups for `items` to `dest` (gzip, fixed header), reading
/// each file's data once from the layer that holds it.
pub fn layer(found: &Found, items: &[&Item], dest: &Path) -> anyhow::Result<NewLayer> {
    let files = &found.tree.snap.files;
    let image = &found.tree.image;
    // Data copied aside by the scan is written from there; the rest is read again
    // from its layer (data entry → every name and the item, per layer).
    let mut spooled: Vec<(Vec<Vec<u8>>, &Item, &Kept, &apply::Spooled)> = Vec::new();
    let mut wanted: BTreeMap<usize, HashMap<Vec<u8>, Group>> = BTreeMap::new();
    for it in items {
        let names = names_of(files, &it.inode);
        let k = files.get(&it.inode).ok_or_else(|| {
            anyhow!(
                "{}: the data of {} is in a layer entry fcap did not find again",
                quote(&image.name),
                crate::output::escape_bytes(&it.inode)
            )
        })?;
        match &k.data {
            Some(d) => spooled.push((names, *it, k, d)),
            None => {
                wanted
                    .entry(k.layer)
                    .or_default()
                    .insert(it.inode.clone(), (names, *it));
            }
        }
    }
    let at_dest = |e: io::Error| crate::error::io_at_path(dest, &e, true);
    let f = std::fs::File::create(dest).map_err(at_dest)?;
    let gz = flate2::GzBuilder::new().mtime(0).write(
        Hashing {
            w: io::BufWriter::new(f),
            h: Sha256::new(),
            n: 0,
        },
        flate2::Compression::new(6),
    );
    let mut tw = Hashing {
        w: gz,
        h: Sha256::new(),
        n: 0,
    };
    let mut entries = 0;
    for (names, item, k, d) in spooled {
        let meta = Meta {
            mode: item.mode.unwrap_or(k.mode),
            uid: k.uid,
            gid: k.gid,
            mtime: d.mtime,
            size: d.len,
            pax: records(&d.xattrs, item),
        };
        let mut r = Spool { f: &d.file, at: 0 };
        entries += copy_up(&mut tw, &names, &meta, &mut |w| {
            io::copy(&mut r, w).map_err(|e| anyhow!("{e}"))
        })
        .map_err(|e| anyhow!("{}: {e:#}", quote(dest)))?;
    }
    let mut zstd = None;
    for (li, want) in &wanted {
        let layer = &image.resolved.layers[*li];
        let at =
            |e: &dyn std::fmt::Display| anyhow!("{}: {}: {e}", quote(&image.name), layer.label);
        let mut tr = image.layer_tar(layer, &mut zstd).map_err(|e| at(&e))?;
        let mut left: HashSet<&Vec<u8>> = want.keys().collect();
        while !left.is_empty() {
            let Some(h) = tr.next_entry().map_err(|e| at(&e))? else {
                break;
            };
            if h.kind != Kind::Regular {
                continue;
            }
            let Ok(clean) = apply::clean(&h.name) else {
                continue;
            };
            let landed = found.tree.resolve(&clean, false).unwrap_or(clean);
            let Some((names, item)) = want.get(&landed) else {
                continue;
            };
            if !left.remove(&landed) {
                continue;
            }
            if h.sparse {
                return Err(at(&format!(
                    "{} is a GNU sparse file; fcap cannot copy it into a new layer",
                    crate::output::escape_bytes(&landed)
                )));
            }
            let meta = Meta {
                mode: item.mode.unwrap_or(h.mode),
                uid: h.uid,
                gid: h.gid,
                mtime: h.mtime,
                size: h.size,
                pax: records(&h.xattrs, item),
            };
            entries += copy_up(&mut tw, names, &meta, &mut |w| {
                tr.copy_to(w).map_err(|e| at(&e))
            })?;
        }
        if let Some(l) = left.iter().next() {
            return Err(at(&format!(
                "no entry holds the data of {} (fcap found it in this layer while scanning)",
                crate::output::escape_bytes(l)
            )));
        }
    }
    tw.write_all(&[0u8; 1024]).map_err(at_dest)?;
    let diff_id = format!("sha256:{}", layout::hex(&tw.h.finalize()));
    let mut inner = tw.w.finish().map_err(at_dest)?;
    inner.flush().map_err(at_dest)?;
    let size = inner.n;
    let digest = format!("sha256:{}", layout::hex(&inner.h.finalize()));
    let file = inner
        .w
        .into_inner()
        .map_err(|e| crate::error::io_at_path(dest, e.error(), true))?;
    file.sync_all().map_err(at_dest)?;
    Ok(NewLayer {
        file: dest.to_path_buf(),
        digest,
        size,
        diff_id,
        entries,
    })
}

/// A spooled file read from its start, without moving a shared file position.
struct Spool<'a> {
    f: &'a std::fs::File,
    at: u64,
}

impl Read for Spool<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.f.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// The pax records of a copy-up: the file's other xattrs, then the new value (none
/// for a revoke), sorted so the bytes do not depend on the input's order.
fn records(xattrs: &[(Vec<u8>, Vec<u8>)], item: &Item) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = xattrs
        .iter()
        .map(|(n, v)| ([&b"SCHILY.xattr."[..], n].concat(), v.clone()))
        .collect();
    if let Some(c) = item.change.after {
        pax.push((b"SCHILY.xattr.security.capability".to_vec(), c.encode()));
    }
    pax.sort();
    pax
}

/// One file into the layer: the data entry under the first name (its bytes from
/// `data`, which must give exactly `meta.size`), then a link entry to it for every
/// other name, with the same records. Returns the number of entries written.
fn copy_up(
    tw: &mut dyn Write,
    names: &[Vec<u8>],
    meta: &Meta,
    data: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<u64>,
) -> anyhow::Result<usize> {
    header(tw, &names[0], b'0', b"", meta)?;
    let n = data(tw)?;
    if n != meta.size {
        anyhow::bail!(
            "the data of {} has {n} bytes where its header says {}",
            crate::output::escape_bytes(&names[0]),
            meta.size
        );
    }
    pad(tw, meta.size)?;
    let link = Meta {
        size: 0,
        pax: meta.pax.clone(),
        ..*meta
    };
    for other in &names[1..] {
        header(tw, other, b'1', &names[0], &link)?;
    }
    Ok(names.len())
}

const BLOCK: usize = 512;

/// A member of an image archive (a blob or a document; `dir`: a directory), with
/// fixed owner, mode and time so the same image gives the same archive.
pub(crate) fn archive_member(
    w: &mut dyn Write,
    name: &[u8],
    size: u64,
    dir: bool,
) -> io::Result<()> {
    let m = Meta {
        mode: if dir { 0o755 } else { 0o644 },
        uid: 0,
        gid: 0,
        mtime: 0,
        size,
        pax: Vec::new(),
    };
    header(w, name, if dir { b'5' } else { b'0' }, b"", &m)
}

/// The padding after a member's data.
pub(crate) fn archive_pad(w: &mut dyn Write, size: u64) -> io::Result<()> {
    pad(w, size)
}

fn pad(w: &mut dyn Write, size: u64) -> io::Result<()> {
    let p = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    w.write_all(&[0u8; BLOCK][..p as usize])
}

/// One pax record: `LEN KEY=VALUE\n`, LEN counting the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Write a ustar header (and a pax header before it when a name, an id or the
/// size does not fit, or there are records) for a layer entry at image path `path`.
fn header(w: &mut dyn Write, path: &[u8], flag: u8, link: &[u8], m: &Meta) -> io::Result<()> {
    let name = path.strip_prefix(b"/").unwrap_or(path);
    let link = link.strip_prefix(b"/").unwrap_or(link);
    let mut pax = Vec::new();
    if name.len() > 100 {
        pax_record(&mut pax, b"path", name);
    }
    if link.len() > 100 {
        pax_record(&mut pax, b"linkpath", link);
    }
    if m.uid > 0o7_777_777 {
        pax_record(&mut pax, b"uid", m.uid.to_string().as_bytes());
    }
    if m.gid > 0o7_777_777 {
        pax_record(&mut pax, b"gid", m.gid.to_string().as_bytes());
    }
    if m.size > 0o77_777_777_777 {
        pax_record(&mut pax, b"size", m.size.to_string().as_bytes());
    }
    for (k, v) in &m.pax {
        pax_record(&mut pax, k, v);
    }
    if !pax.is_empty() {
        // Go's name for it (no pid, unlike GNU tar's default).
        let (dir, file) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => (&b""[..], name),
        };
        let mut pname = Vec::new();
        if !dir.is_empty() {
            pname.extend_from_slice(dir);
            pname.push(b'/');
        }
        pname.extend_from_slice(b"PaxHeaders.0/");
        pname.extend_from_slice(file);
        pname.truncate(100);
        let pm = Meta {
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: m.mtime,
            size: pax.len() as u64,
            pax: Vec::new(),
        };
        w.write_all(&ustar(&pname, b'x', b"", &pm))?;
        w.write_all(&pax)?;
        pad(w, pax.len() as u64)?;
    }
    w.write_all(&ustar(name, flag, link, m))
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!(
        "{:0width$o}",
        v.min(8u64.pow(field.len() as u32 - 1) - 1),
        width = field.len() - 1
    );
    field[..s.len()].copy_from_slice(s.as_bytes());
}

fn ustar(name: &[u8], flag: u8, link: &[u8], m: &Meta) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let n = name.len().min(100);
    b[..n].copy_from_slice(&name[..n]);
    octal(&mut b[100..108], u64::from(m.mode & 0o7777));
    octal(&mut b[108..116], m.uid);
    octal(&mut b[116..124], m.gid);
    octal(&mut b[124..136], m.size);
    octal(&mut b[136..148], m.mtime);
    b[156] = flag;
    let l = link.len().min(100);
    b[157..157 + l].copy_from_slice(&link[..l]);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
    let s = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(s.as_bytes());
    b
}

/// Copy-ups to write: every changed file once.
pub fn changed(done: &HashMap<Vec<u8>, Item>) -> Vec<&Item> {
    let mut v: Vec<&Item> = done.values().filter(|i| i.change.changed).collect();
    v.sort_by(|a, b| a.inode.cmp(&b.inode));
    v
}

impl Image {
    /// A layer's entries, read again (the scan verified its digest already).
    pub(crate) fn layer_tar<'a>(
        &self,
        layer: &layout::Layer,
        zstd: &'a mut ZstdCtx,
    ) -> io::Result<tar::Reader<BufReader<Box<dyn Read + Send + 'a>>>> {
        let raw = match self.store() {
            Some(s) => s.open(&layer.bytes)?,
            None => return Err(io::Error::other("no image store")),
        };
        let mut br = BufReader::with_capacity(1 << 17, raw);
        let comp = Compression::sniff(br.fill_buf()?);
        let dec: Box<dyn Read + Send + 'a> = match comp {
            Compression::None => Box::new(br),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
            Compression::Zstd => Box::new(zstd_decoder(br, zstd)?),
        };
        Ok(tar::Reader::new(BufReader::with_capacity(1 << 17, dec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        for n in [0usize, 1, 80, 88, 89, 90, 985, 986, 995, 996, 9989] {
            let mut out = Vec::new();
            pax_record(&mut out, b"k", &vec![b'v'; n]);
            let sp = out.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value of {n} bytes");
        }
    }

    /// What the writer emits, the reader (Go's rules) reads back: a long name, an
    /// id too large for the header, binary records, a link entry.
    #[test]
    fn copy_up_entries_read_back() {
        let long = [b"/usr/".as_slice(), &[b'x'; 150]].concat();
        let cap = [1u8, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let meta = Meta {
            mode: 0o4755,
            uid: 1 << 22,
            gid: 7,
            mtime: 1_234_567_890,
            size: 3,
            pax: vec![(b"SCHILY.xattr.security.capability".to_vec(), cap.to_vec())],
        };
        let mut out = Vec::new();
        let names = vec![long.clone(), b"/usr/bin/b".to_vec()];
        let n = copy_up(&mut out, &names, &meta, &mut |w| {
            w.write_all(b"abc")?;
            Ok(3)
        })
        .unwrap();
        assert_eq!(n, 2);
        out.extend_from_slice(&[0u8; 1024]);
        let mut r = tar::Reader::new(&out[..]);
        let a = r.next_entry().unwrap().unwrap();
        assert_eq!(a.name, &long[1..]);
        assert_eq!(
            (a.kind, a.mode, a.uid, a.gid, a.mtime, a.size),
            (Kind::Regular, 0o4755, 1 << 22, 7, 1_234_567_890, 3)
        );
        assert_eq!(a.cap, Some(CapRecord::Schily(cap.to_vec())));
        let b = r.next_entry().unwrap().unwrap();
        assert_eq!(
            (b.kind, &b.name[..], &b.link[..]),
            (Kind::HardLink, &b"usr/bin/b"[..], &long[1..])
        );
        assert_eq!(b.cap, Some(CapRecord::Schily(cap.to_vec())));
        assert!(r.next_entry().unwrap().is_none());
    }
}
