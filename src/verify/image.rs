//! verify's facts from a container image: the same chain of files the kernel
//! opens ([`facts::gather_in`]), with each file's owner, mode, capabilities and
//! first bytes taken from the image's final root filesystem and every symlink and
//! `#!` line followed inside the image, never on the host.
//!
//! One scan keeps the directories, the symlinks, and the first bytes of every
//! executable (within a budget), which is all a chain usually needs. When the chain
//! names a file the scan did not keep (a program that is not executable, a head
//! that is too short, more executables than the budget holds), the image is read
//! again for exactly those files: a few passes at most, each as bounded as the first.

use super::facts::{self, Content, Files, Role};
use super::model::{Inode, Kind as FileKind, Node, S_IFDIR, S_IFREG, Xattr};
use crate::filecaps::FileCaps;
use crate::image::Image;
use crate::image::apply::{Kept, Want, clean};
use crate::image::tar::{CapRecord, Kind};
use crate::tree::ImageTree;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// First bytes kept of each executable: the `#!` line, the ELF header, its program
/// headers and the loader's name all lie there in ordinary programs.
pub const HEAD: usize = 4096;
/// The most an account file (`/etc/passwd`, `/etc/group`) may hold.
const ACCOUNTS: usize = 1 << 20;
const MAX_PASSES: usize = 6;
/// Where a bare command is looked for when the image config sets no PATH
/// (Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The facts of one image, for one `verify`.
pub struct Gathered {
    pub tree: ImageTree,
    /// The file the chain starts at (a bare command found on PATH).
    pub program: PathBuf,
    pub chain: Vec<Node>,
    pub passwd: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    /// How many times the image was read.
    pub passes: usize,
}

struct ImageFiles<'a> {
    tree: &'a ImageTree,
    asked: &'a HashMap<Vec<u8>, usize>,
    need: RefCell<HashMap<Vec<u8>, usize>>,
}

impl ImageFiles<'_> {
    /// Ask the next pass for `len` first bytes of `path`, unless this pass already
    /// asked for that much (then the file is not there, or that is all it has).
    fn need(&self, path: &[u8], len: usize) {
        if self.asked.get(path).is_some_and(|&had| had >= len) {
            return;
        }
        let mut need = self.need.borrow_mut();
        let e = need.entry(path.to_vec()).or_insert(0);
        *e = (*e).max(len);
    }

    /// A whole small file, following symlinks inside the image.
    fn whole(&self, path: &str) -> Option<Vec<u8>> {
        let real = self.tree.resolve(path.as_bytes(), true).ok()?;
        match self.tree.snap.files.get(&real) {
            Some(k) if matches!(k.kind, Kind::Regular | Kind::HardLink) => match &k.head {
                Some(h) if h.len() as u64 >= k.size.min(ACCOUNTS as u64) => Some(h.clone()),
                _ => {
                    self.need(&real, ACCOUNTS);
                    self.need_target(k);
                    None
                }
            },
            Some(_) => None,
            None => {
                self.need(&real, ACCOUNTS);
                None
            }
        }
    }

    /// A hard link's bytes are its target's.
    fn need_target(&self, k: &Kept) {
        if !k.link.is_empty() && matches!(k.kind, Kind::Regular | Kind::HardLink) {
            self.need(&k.link, HEAD);
        }
    }
}

fn id32(id: u64) -> u32 {
    // An id beyond 32 bits cannot be a kernel uid; the overflow uid stands for it.
    u32::try_from(id).unwrap_or(65534)
}

fn inode_of(k: &Kept) -> Inode {
    let kind = match k.kind {
        Kind::Regular | Kind::HardLink => S_IFREG,
        Kind::Dir => S_IFDIR,
        Kind::Symlink => 0o120_000,
        Kind::Other => 0o010_000,
    };
    Inode {
        mode: kind | (k.mode & 0o7777),
        uid: id32(k.uid),
        gid: id32(k.gid),
    }
}

/// The value as the kernel would see it once a runtime unpacked the layer: moby and
/// containerd write only SCHILY records (not LIBARCHIVE ones, nor containerd's old
/// misspelling), and the kernel refuses to store a malformed value (unpacking
/// fails there).
fn xattr_of(k: &Kept) -> Xattr {
    match &k.cap {
        Some(CapRecord::Schily(v)) => match FileCaps::decode(v) {
            Ok(_) => Xattr::Value(v.clone()),
            Err(_) => Xattr::Malformed,
        },
        Some(CapRecord::LibarchiveOnly(_) | CapRecord::Misspelt(_) | CapRecord::BadBase64)
        | None => Xattr::Absent,
    }
}

impl Files for ImageFiles<'_> {
    fn node(&self, path: &Path, role: Role) -> Node {
        let mut n = facts::blank(path);
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() >= 4096 {
            n.lookup_errno = Some(libc::ENAMETOOLONG);
            return n;
        }
        let real = match self.tree.resolve(bytes, true) {
            Ok(r) => r,
            Err(e) => {
                n.lookup_errno = e.raw_os_error();
                return n;
            }
        };
        n.symlink = clean(bytes).is_ok_and(|c| c != real);
        let shown = PathBuf::from(std::ffi::OsStr::from_bytes(&real));
        n.resolved = Some(shown.clone());
        let Some(k) = self.tree.snap.files.get(&real) else {
            // Not kept: perhaps a file that is not executable. Ask for it.
            self.need(&real, HEAD);
            n.lookup_errno = Some(libc::ENOENT);
            return n;
        };
        n.inode = Some(inode_of(k));
        n.fs = Some("image".to_string());
        // Every directory on the way needs search permission. A directory the
        // layers never listed is created by the runtime as root's, mode 0755.
        let mut dirs: Vec<(PathBuf, Inode)> = shown
            .ancestors()
            .skip(1)
            .map(|d| {
                let ino = self
                    .tree
                    .snap
                    .files
                    .get(d.as_os_str().as_bytes())
                    .filter(|k| k.kind == Kind::Dir)
                    .map_or(
                        Inode {
                            mode: S_IFDIR | 0o755,
                            uid: 0,
                            gid: 0,
                        },
                        inode_of,
                    );
                (d.to_path_buf(), ino)
            })
            .collect();
        dirs.reverse();
        n.dirs = dirs;
        if !matches!(k.kind, Kind::Regular | Kind::HardLink) {
            return n;
        }
        match &k.head {
            Some(head) => {
                let c = Content::Kept {
                    head: head.clone(),
                    size: k.size,
                    wanted: std::cell::Cell::new(0),
                };
                facts::content_facts(&mut n, &c, role, self);
                let more = usize::try_from(c.wanted()).unwrap_or(usize::MAX);
                if more > head.len() {
                    self.need(&real, more.max(HEAD));
                    self.need_target(k);
                }
            }
            None => {
                // Nothing kept of its content yet: ask, and say so until then.
                self.need(&real, HEAD);
                self.need_target(k);
                n.kind = FileKind::Unreadable;
            }
        }
        if matches!(role, Role::Program) {
            n.xattr = xattr_of(k);
        }
        n
    }
}

/// Where a bare command (no `/`) is found: each directory of `path_env` in turn.
fn candidates(program: &Path, path_env: Option<&str>) -> Vec<PathBuf> {
    let bytes = program.as_os_str().as_bytes();
    if bytes.contains(&b'/') {
        return vec![program.to_path_buf()];
    }
    path_env
        .unwrap_or(DEFAULT_PATH)
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| Path::new(d).join(program))
        .collect()
}

/// Read the image for the chain `program` starts, and its account files.
pub fn gather(image: Image, program: &Path) -> anyhow::Result<Gathered> {
    let workdir = PathBuf::from(image.resolved.workdir.as_deref().unwrap_or("/"));
    let cands = candidates(program, image.resolved.path_env.as_deref());
    // A relative command (./run.sh) starts at the config's WorkingDir.
    let cands: Vec<PathBuf> = cands.into_iter().map(|c| workdir.join(c)).collect();
    let mut want = Want {
        dirs: true,
        exec_heads: HEAD,
        // (`audit --profile` judges every set-ID file of the same scan.)
        setid: true,
        ..Default::default()
    };
    for f in ["/etc/passwd", "/etc/group"] {
        want.heads.insert(f.as_bytes().to_vec(), ACCOUNTS);
    }
    for c in &cands {
        if let Ok(p) = clean(c.as_os_str().as_bytes()) {
            want.heads.insert(p, HEAD);
        }
    }
    let mut image = image;
    let mut pass = 0;
    loop {
        pass += 1;
        let snap = image.scan(&want)?;
        let tree = ImageTree { image, snap };
        let files = ImageFiles {
            tree: &tree,
            asked: &want.heads,
            need: RefCell::new(HashMap::new()),
        };
        // The first candidate that resolves to something is the program.
        let chosen = cands
            .iter()
            .find(|c| {
                tree.resolve(c.as_os_str().as_bytes(), true)
                    .is_ok_and(|r| tree.snap.files.contains_key(&r))
            })
            .or(cands.first())
            .cloned()
            .unwrap_or_else(|| program.to_path_buf());
        let chain = facts::gather_in(&files, &chosen);
        let passwd = files.whole("/etc/passwd");
        let group = files.whole("/etc/group");
        let need = files.need.into_inner();
        if need.is_empty() || pass >= MAX_PASSES {
            return Ok(Gathered {
                tree,
                program: chosen,
                chain,
                passwd,
                group,
                passes: pass,
            });
        }
        for (p, len) in need {
            let e = want.heads.entry(p).or_insert(0);
            *e = (*e).max(len);
        }
        image = tree.image;
    }
}
