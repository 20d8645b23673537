//! Gathering the file facts [`model::predict`](super::model::predict) needs, from the
//! running system: the chain of files the kernel opens (`#!` interpreters up to its
//! depth limit), each one's symlink target, owner and mode, the directories on the
//! way, its mount's flags (`/proc/self/mountinfo`), its filesystem, its first bytes
//! and its `security.capability` value.
//!
//! Facts are read, never changed. A value is read with `lgetxattr` on the resolved
//! path, so what we see is what the kernel hands to a reader in our user namespace
//! (kernel-exec.md §2 row 16): a v3 value for our own root comes back as v2, one for
//! an unmapped root fails with EOVERFLOW, a malformed one with EINVAL.

use super::model::{ElfCheck, Inode, Kind, MAX_REWRITES, Node, Xattr};
use crate::fsinfo;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The kernel reads this many bytes of a file to pick a binary format
/// (`BINPRM_BUF_SIZE`), so a `#!` line is cut there.
const BINPRM_BUF_SIZE: usize = 256;

pub use crate::fsinfo::Mount;

/// The mount `path` (absolute, symlinks resolved) lives on: the longest mount point
/// that is a prefix of it; among mounts stacked on one point the last one wins.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        if path.starts_with(&m.point)
            && best.is_none_or(|b| m.point.as_os_str().len() >= b.point.as_os_str().len())
        {
            best = Some(m);
        }
    }
    best
}

fn inode_of(md: &std::fs::Metadata) -> Inode {
    Inode {
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
    }
}

/// What the first bytes make of a file (`search_binary_handler`: ELF, `#!`).
pub fn kind_of(head: &[u8]) -> Kind {
    if head.starts_with(b"\x7fELF") {
        return Kind::Elf;
    }
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Kind::Unknown;
    };
    // binfmt_script sees the first BINPRM_BUF_SIZE bytes, NUL-padded, of which the
    // last is reserved. Without a newline there, it refuses a name that may be cut
    // off: one with no blank, tab or NUL after it (ENOEXEC), or nothing but blanks.
    if !head.contains(&b'\n') {
        let mut buf = head.to_vec();
        buf.resize(BINPRM_BUF_SIZE - 1, 0);
        let blank = |c: &u8| *c == b' ' || *c == b'\t';
        let Some(start) = buf[2..].iter().position(|c| !blank(c)).map(|i| i + 2) else {
            return Kind::Unknown;
        };
        if !buf[start..].iter().any(|c| blank(c) || *c == 0) {
            return Kind::Unknown;
        }
        if buf[start] == 0 {
            // "#!" and blanks, then the end of a short file: measured EACCES.
            return Kind::NoInterpreter;
        }
    }
    // The first line, leading blanks skipped; the name ends at a blank, a NUL or the
    // end of the line.
    let line = rest.split(|c| *c == b'\n').next().unwrap_or(&[]);
    let start = line
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(line.len());
    let name: Vec<u8> = line[start..]
        .iter()
        .take_while(|c| !matches!(**c, b' ' | b'\t' | 0))
        .copied()
        .collect();
    if name.is_empty() {
        return Kind::Unknown;
    }
    use std::os::unix::ffi::OsStringExt;
    Kind::Script {
        interpreter: PathBuf::from(std::ffi::OsString::from_vec(name)),
    }
}

/// `lgetxattr(path, "security.capability")`, keeping the errors that mean something
/// at exec apart (unlike [`crate::sys::lget`], which folds "not supported" into "no
/// value", as a scan wants).
pub fn read_xattr(path: &Path, follow: bool) -> Xattr {
    let got = if follow {
        crate::sys::get_raw(path)
    } else {
        crate::sys::lget_raw(path)
    };
    match got {
        Ok(v) => Xattr::Value(v),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENODATA) => Xattr::Absent,
            Some(libc::EOPNOTSUPP) => Xattr::Unsupported,
            Some(libc::EINVAL) => Xattr::Malformed,
            Some(libc::EOVERFLOW) => Xattr::ForeignNamespace,
            Some(e) => Xattr::ReadError(e),
            None => Xattr::ReadError(libc::EIO),
        },
    }
}

/// The bytes of one file that verify may look at: opened once, read-only,
/// non-blocking, and only when it is a regular file on a real filesystem. Every read
/// of a file's content goes through [`Content::read_at`], bounded by what the kernel
/// itself reads (the first [`BINPRM_BUF_SIZE`] bytes, the ELF program headers, the
/// loader's name).
pub enum Content {
    File(std::fs::File),
    /// The first bytes of a file in an image (all of it when `size` fits), as a
    /// scan kept them: a read past them asks for more ([`Content::wanted`]).
    Kept {
        head: Vec<u8>,
        size: u64,
        wanted: std::cell::Cell<u64>,
    },
}

/// Why a file's content is out of reach.
pub enum NoContent {
    /// Not a regular file, or on a pseudo filesystem: there is nothing to read, and
    /// reading could block or consume data (/proc/kmsg, a fifo).
    NotRegular,
    /// verify may not read it (exec needs no read permission: mode 0711).
    Denied,
    /// Any other open error.
    Other,
}

impl Content {
    /// Open `real` for reading, never blocking and never on a pseudo filesystem.
    pub fn open(
        real: &Path,
        md: &std::fs::Metadata,
        magic: Option<i64>,
    ) -> Result<Self, NoContent> {
        use std::os::unix::fs::OpenOptionsExt;
        if !md.is_file() || magic.is_some_and(fsinfo::is_pseudo) {
            return Err(NoContent::NotRegular);
        }
        // O_NONBLOCK covers a regular file swapped for a fifo between stat and open.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(real)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => NoContent::Denied,
                _ => NoContent::Other,
            })?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(NoContent::NotRegular);
        }
        Ok(Content::File(file))
    }

    /// How many first bytes a read asked for that a kept head does not hold (0: none).
    pub fn wanted(&self) -> u64 {
        match self {
            Content::File(_) => 0,
            Content::Kept { wanted, .. } => wanted.get(),
        }
    }

    /// Up to `len` bytes at `offset` (fewer at the end of the file), as the kernel's
    /// `kernel_read` would return them; `len` is bounded by the callers.
    pub fn read_at(&self, offset: u64, len: usize) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let file = match self {
            Content::File(f) => f,
            Content::Kept { head, size, wanted } => {
                let end = offset.saturating_add(len as u64).min(*size);
                if end > head.len() as u64 {
                    wanted.set(wanted.get().max(end));
                }
                let from = (offset as usize).min(head.len());
                let to = (end as usize).clamp(from, head.len());
                return head[from..to].to_vec();
            }
        };
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match file.read_at(&mut buf[got..], offset.saturating_add(got as u64)) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        buf.truncate(got);
        buf
    }
}

/// The architecture's ELF machine numbers: the native one, and the one its compat
/// loader takes (`compat_binfmt_elf`: i386 on x86-64, 32-bit Arm on arm64), with the
/// ELF class each loader reads the headers as.
fn machines() -> &'static [(u16, Class)] {
    match std::env::consts::ARCH {
        "x86_64" => &[(62, Class::B64), (3, Class::B32), (6, Class::B32)],
        "aarch64" => &[(183, Class::B64), (40, Class::B32)],
        "x86" => &[(3, Class::B32), (6, Class::B32)],
        "arm" => &[(40, Class::B32)],
        "riscv64" => &[(243, Class::B64)],
        "powerpc64" => &[(21, Class::B64)],
        "s390x" => &[(22, Class::B64)],
        _ => &[],
    }
}

/// The header layout a loader reads: `elf64_hdr`/`elf64_phdr` or the 32-bit ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Class {
    B64,
    B32,
}

const PATH_MAX: u64 = 4096;
const PT_INTERP: u32 = 3;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

/// The loader of this architecture that takes an ELF header, by its `e_machine`
/// (`elf_check_arch`: the native loader checks nothing else of `e_ident`, measured
/// with a 64-bit program marked ELFCLASS32, which runs).
fn class_of(hdr: &[u8]) -> Option<Class> {
    let machine = le16(hdr, 18);
    machines()
        .iter()
        .find(|(m, _)| *m == machine)
        .map(|(_, c)| *c)
}

/// The program headers as `load_elf_phdrs` reads them: None when it refuses them (a
/// wrong entry size, none or over 64 KiB of them, or fewer bytes in the file).
fn program_headers(c: &Content, hdr: &[u8], class: Class) -> Option<Vec<u8>> {
    let (phoff, phentsize, phnum, want) = match class {
        Class::B64 => (le64(hdr, 32), le16(hdr, 54), le16(hdr, 56), 56),
        Class::B32 => (u64::from(le32(hdr, 28)), le16(hdr, 42), le16(hdr, 44), 32),
    };
    let size = usize::from(phentsize) * usize::from(phnum);
    if phentsize != want || size == 0 || size > 65536 {
        return None;
    }
    let ph = c.read_at(phoff, size);
    (ph.len() == size).then_some(ph)
}

/// What `load_elf_binary` finds in the named file before the credentials are computed
/// (everything it can refuse happens before `begin_new_exec`): the header checks, the
/// program headers, and PT_INTERP, the program loader it opens next.
fn elf_check(c: &Content, head: &[u8], files: &dyn Files) -> ElfCheck {
    // bprm->buf: the first bytes, zero-padded.
    let mut hdr = head.to_vec();
    hdr.resize(BINPRM_BUF_SIZE, 0);
    let refused = |why: &str| ElfCheck::Refused {
        errno: libc::ENOEXEC,
        why: why.to_string(),
    };
    let Some(class) = class_of(&hdr) else {
        if binfmt_misc_handlers() {
            return ElfCheck::Foreign {
                machine: le16(&hdr, 18),
            };
        }
        return refused(&format!(
            "an ELF program for another machine (e_machine {}), which this kernel's ELF loader does not run",
            le16(&hdr, 18)
        ));
    };
    let e_type = le16(&hdr, 16);
    if e_type != ET_EXEC && e_type != ET_DYN {
        return refused(&format!(
            "an ELF file of type {e_type}, not an executable or a shared object (ET_EXEC/ET_DYN)"
        ));
    }
    let Some(ph) = program_headers(c, &hdr, class) else {
        return refused(
            "an ELF program whose program headers are missing, cut short or of the wrong size",
        );
    };
    let (entsize, off_at, size_at) = match class {
        Class::B64 => (56, 8, 32),
        Class::B32 => (32, 4, 16),
    };
    for e in ph.chunks_exact(entsize) {
        if le32(e, 0) != PT_INTERP {
            continue;
        }
        let (offset, filesz) = match class {
            Class::B64 => (le64(e, off_at), le64(e, size_at)),
            Class::B32 => (u64::from(le32(e, off_at)), u64::from(le32(e, size_at))),
        };
        if !(2..=PATH_MAX).contains(&filesz) {
            return refused("an ELF program whose PT_INTERP entry has an impossible length");
        }
        let name = c.read_at(offset, filesz as usize);
        if name.len() as u64 != filesz {
            return ElfCheck::Refused {
                errno: libc::EIO,
                why: "an ELF program cut short: the name of its program loader (PT_INTERP) lies past the end of the file".to_string(),
            };
        }
        if name.last() != Some(&0) {
            return refused(
                "an ELF program whose program loader name (PT_INTERP) does not end in a NUL",
            );
        }
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        use std::os::unix::ffi::OsStringExt;
        let path = PathBuf::from(std::ffi::OsString::from_vec(name[..end].to_vec()));
        return ElfCheck::Loader(Box::new(files.node(&path, Role::Loader(class))));
    }
    ElfCheck::Static
}

/// What the ELF loader makes of a program loader (`load_elf_binary`'s checks on the
/// interpreter): a header cut short is EIO, anything but an ELF of the same loader
/// with readable program headers is ELIBBAD.
fn loader_check(c: &Content, class: Class) -> ElfCheck {
    let size = match class {
        Class::B64 => 64,
        Class::B32 => 52,
    };
    let hdr = c.read_at(0, size);
    if hdr.len() < size {
        return ElfCheck::Refused {
            errno: libc::EIO,
            why: "the program loader is shorter than an ELF header".to_string(),
        };
    }
    let bad = |why: &str| ElfCheck::Refused {
        errno: libc::ELIBBAD,
        why: why.to_string(),
    };
    if !hdr.starts_with(b"\x7fELF") {
        return bad("the program loader is not an ELF file");
    }
    if class_of(&hdr) != Some(class) {
        return bad("the program loader is an ELF file for another machine");
    }
    if program_headers(c, &hdr, class).is_none() {
        return bad("the program loader's program headers are missing or cut short");
    }
    ElfCheck::Static
}

/// Whether binfmt_misc has handlers registered (qemu-user and the like may take an
/// ELF for another machine): then a foreign ELF's fate is not the ELF loader's.
fn binfmt_misc_handlers() -> bool {
    std::fs::read_dir("/proc/sys/fs/binfmt_misc").is_ok_and(|d| {
        d.filter_map(Result::ok)
            .any(|e| e.file_name() != "status" && e.file_name() != "register")
    })
}

/// Which file of the exec a node is: the named file or a `#!` interpreter (its
/// content decides the format), or an ELF program's loader (read as one).
#[derive(Clone, Copy)]
pub enum Role {
    Program,
    Loader(Class),
}

/// Where verify finds the facts of the files the kernel opens: the running
/// system, or a container image's root filesystem ([`crate::tree::ImageTree`]).
pub trait Files {
    /// Facts about one file the kernel opens.
    fn node(&self, path: &Path, role: Role) -> Node;
}

/// The running system, through its mount table.
pub struct Host {
    pub mounts: Vec<Mount>,
    /// The caller's working directory, which relative names start from: None for
    /// verify's own, `/proc/PID/cwd` for a `--pid` caller's.
    pub cwd: Option<PathBuf>,
}

impl Host {
    /// The name the system calls get for `path`: a relative one starts at the
    /// caller's working directory, and only there (the directories above it need no
    /// search permission, for the kernel or for verify).
    fn access(&self, path: &Path) -> PathBuf {
        match &self.cwd {
            Some(c) if path.is_relative() => c.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The working directory relative names start from, as an absolute path.
    fn cwd_path(&self) -> Option<PathBuf> {
        match &self.cwd {
            Some(c) => std::fs::read_link(c).ok(),
            None => std::env::current_dir().ok(),
        }
    }
}

impl Files for Host {
    fn node(&self, path: &Path, role: Role) -> Node {
        node(path, self, role)
    }
}

/// A node with nothing known yet.
pub fn blank(path: &Path) -> Node {
    Node {
        path: path.to_path_buf(),
        resolved: None,
        symlink: false,
        inode: None,
        lookup_errno: None,
        dirs: Vec::new(),
        noexec: false,
        nosuid: false,
        mount: None,
        fs: None,
        kind: Kind::Elf,
        xattr: Xattr::Absent,
        elf: ElfCheck::None,
        open_for_writing: false,
    }
}

/// What the first bytes of a program (or a loader) say, read through `c`.
pub fn content_facts(n: &mut Node, c: &Content, role: Role, files: &dyn Files) {
    match role {
        Role::Program => {
            let head = c.read_at(0, BINPRM_BUF_SIZE);
            n.kind = kind_of(&head);
            if n.kind == Kind::Elf {
                n.elf = elf_check(c, &head, files);
            }
        }
        Role::Loader(class) => n.elf = loader_check(c, class),
    }
}

/// Facts about one file the kernel opens, from the running system.
fn node(path: &Path, host: &Host, role: Role) -> Node {
    let mounts = &host.mounts[..];
    let mut n = blank(path);
    // getname() refuses a name that does not fit in PATH_MAX with its NUL, before
    // any lookup.
    if path.as_os_str().len() >= PATH_MAX as usize {
        n.lookup_errno = Some(libc::ENAMETOOLONG);
        return n;
    }
    let access = host.access(path);
    // A magic link (/proc/PID/exe, /proc/PID/fd/N) names its inode even when the
    // file was deleted, and the kernel executes that inode: look through the link
    // itself rather than at the path it prints. A relative name that verify cannot
    // resolve to an absolute one (a directory above the working directory it may not
    // search) is used as it is, from the working directory, as the kernel uses it.
    // The C library's realpath may also resolve such a name (musl's is lexical where
    // no symlink is met), to a path this process cannot stat: then the facts are read
    // through the relative name.
    let (real, io, magic_link) = match std::fs::canonicalize(&access) {
        Ok(r) if path.is_relative() && std::fs::symlink_metadata(&r).is_err() => {
            (r, access.clone(), false)
        }
        Ok(r) => (r.clone(), r, false),
        Err(e) => match std::fs::metadata(&access) {
            Ok(_) if access.starts_with("/proc") && path.is_absolute() => {
                (access.clone(), access.clone(), true)
            }
            Ok(_) if path.is_relative() => {
                let shown = host
                    .cwd_path()
                    .map_or_else(|| path.to_path_buf(), |c| lexical(&c.join(path)));
                (shown, access.clone(), false)
            }
            _ => {
                n.lookup_errno = e.raw_os_error();
                return n;
            }
        },
    };
    n.symlink = !magic_link && path.is_absolute() && crate::output::via_symlink(path, &real)
        || path.is_relative()
            && host
                .cwd_path()
                .is_some_and(|c| lexical(&c.join(path)) != real);
    n.resolved = Some(real.clone());
    let md = match std::fs::metadata(&io) {
        Ok(m) => m,
        Err(e) => {
            n.lookup_errno = e.raw_os_error();
            return n;
        }
    };
    n.inode = Some(inode_of(&md));
    n.dirs = search_dirs(host, path, &real, n.symlink || magic_link);
    if let Some(m) = mount_holding(mounts, &io, &real, magic_link) {
        n.nosuid = m.nosuid;
        n.noexec = m.noexec;
        n.mount = Some(m.point.clone());
        n.fs = Some(m.fstype.clone());
    }
    let magic = fsinfo::fs_type(&io);
    if let Some(name) = magic.and_then(fsinfo::type_name) {
        n.fs = Some(name.to_string());
    }
    // Read only what the kernel reads, and only where reading is harmless.
    match Content::open(&io, &md, magic) {
        Ok(c) => content_facts(&mut n, &c, role, host),
        Err(NoContent::Denied) => n.kind = Kind::Unreadable,
        Err(_) => {}
    }
    if md.is_file() && matches!(role, Role::Program) {
        // NFS serves only MAC labels under security.* (nfs4_xattr_get_nfs4_label):
        // the exec path gets EOPNOTSUPP, so file capabilities never apply there.
        let nfs = magic == Some(fsinfo::NFS_SUPER_MAGIC)
            || n.fs.as_deref().is_some_and(|t| t.starts_with("nfs"));
        n.xattr = if nfs {
            n.fs = Some("NFS".to_string());
            Xattr::Unsupported
        } else {
            read_xattr(&io, magic_link)
        };
    }
    n
}

/// The directories the lookup of `path` searches (each needs search permission): for
/// a relative path, the working directory and those below it on the way (the
/// kernel starts there and never checks the working directory's ancestors), each
/// read through the working directory too; for an absolute one, every ancestor of
/// the resolved file. The directories a symlink passes through on the way are not
/// modelled.
fn search_dirs(host: &Host, path: &Path, real: &Path, linked: bool) -> Vec<(PathBuf, Inode)> {
    let stat = |shown: &Path, at: &Path| {
        std::fs::metadata(at)
            .ok()
            .map(|m| (shown.to_path_buf(), inode_of(&m)))
    };
    if path.is_relative()
        && !linked
        && let Some(cwd) = host.cwd_path()
    {
        let base = host.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
        let mut dirs = Vec::new();
        dirs.extend(stat(&cwd, &base));
        let parts: Vec<_> = path.components().collect();
        let (mut shown, mut at) = (cwd, base);
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            shown = lexical(&shown.join(part));
            at = at.join(part);
            dirs.extend(stat(&shown, &at));
        }
        return dirs;
    }
    let mut dirs: Vec<(PathBuf, Inode)> = real
        .ancestors()
        .skip(1)
        .filter_map(|d| stat(d, d))
        .collect();
    dirs.reverse();
    dirs
}

/// `dir/./a/../b` as `dir/b`, without asking the filesystem (for names verify shows
/// when it cannot resolve them).
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Mark every file of the chain (and each ELF program's loader) that some process
/// has open for writing, which makes the kernel refuse the exec with ETXTBSY. It
/// looks through every process's open files in /proc (those this process may see),
/// so it costs a stat per open file on the system: `fcap verify` asks, the write
/// commands' warnings do not.
pub fn mark_open_for_writing(chain: &mut [Node]) {
    use std::collections::HashSet;
    fn ids(n: &Node, out: &mut HashSet<(u64, u64)>) {
        if let Some(r) = &n.resolved
            && let Ok(m) = std::fs::metadata(r)
        {
            out.insert((m.dev(), m.ino()));
        }
        if let ElfCheck::Loader(l) = &n.elf {
            ids(l, out);
        }
    }
    let mut wanted = HashSet::new();
    for n in chain.iter() {
        ids(n, &mut wanted);
    }
    let busy = open_for_writing(&wanted);
    fn mark(n: &mut Node, busy: &HashSet<(u64, u64)>) {
        if let Some(r) = &n.resolved
            && let Ok(m) = std::fs::metadata(r)
        {
            n.open_for_writing = busy.contains(&(m.dev(), m.ino()));
        }
        if let ElfCheck::Loader(l) = &mut n.elf {
            mark(l, busy);
        }
    }
    for n in chain.iter_mut() {
        mark(n, &busy);
    }
}

/// Which of `wanted` (device, inode) some process holds open with write access: a
/// stat of each `/proc/PID/fd/N`, and its `fdinfo` flags only for the files wanted;
/// and the shared mappings of a file opened for writing, which keep it open after
/// its descriptor is closed: `/proc/PID/maps` shows every MAP_SHARED mapping with an
/// `s`, and only where one of the wanted files is mapped so is `/proc/PID/smaps`
/// read, whose `sh` flag (VM_SHARED, which `do_mmap` clears for a file opened
/// read-only) tells the two apart.
fn open_for_writing(
    wanted: &std::collections::HashSet<(u64, u64)>,
) -> std::collections::HashSet<(u64, u64)> {
    let mut busy = std::collections::HashSet::new();
    if wanted.is_empty() {
        return busy;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return busy;
    };
    for p in procs.filter_map(Result::ok) {
        let pid = p.file_name();
        if !pid.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        if let Ok(maps) = std::fs::read_to_string(p.path().join("maps"))
            && shared_mappings(&maps, false).any(|id| wanted.contains(&id))
            && let Ok(smaps) = std::fs::read_to_string(p.path().join("smaps"))
        {
            busy.extend(shared_mappings(&smaps, true).filter(|id| wanted.contains(id)));
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let Ok(m) = std::fs::metadata(fd.path()) else {
                continue;
            };
            let id = (m.dev(), m.ino());
            if !wanted.contains(&id) || busy.contains(&id) {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let flags = std::fs::read_to_string(info).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
            if flags.is_some_and(|f| f & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32) {
                busy.insert(id);
            }
        }
    }
    busy
}

/// The (device, inode) of each shared file mapping in a `/proc/PID/maps` text
/// (`start-end perms offset major:minor inode path`, perms ending in `s`), or, from
/// a `/proc/PID/smaps` text (`writable`), of each whose `VmFlags:` line has `sh`.
fn shared_mappings(text: &str, writable: bool) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut current: Option<(u64, u64)> = None;
    text.lines().filter_map(move |l| {
        if let Some(flags) = l.strip_prefix("VmFlags:") {
            let hit = current.take();
            return hit.filter(|_| writable && flags.split_whitespace().any(|f| f == "sh"));
        }
        let mut f = l.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            return None;
        };
        if !range.contains('-') || perms.len() != 4 {
            return None;
        }
        current = None;
        let dev = f.nth(1)?;
        let ino: u64 = f.next()?.parse().ok()?;
        if !perms.ends_with('s') || ino == 0 {
            return None;
        }
        let (major, minor) = dev.split_once(':')?;
        let major = u32::from_str_radix(major, 16).ok()?;
        let minor = u32::from_str_radix(minor, 16).ok()?;
        let id = (libc::makedev(major, minor), ino);
        if writable {
            current = Some(id);
            None
        } else {
            Some(id)
        }
    })
}

/// The mount that holds the file at `io` (absolute `real`): the one whose ID `statx`
/// reports for the file itself, so a mount hidden under an over-mount, or stacked
/// under another, is never taken for it; the longest mount-point prefix of `real`
/// only when statx cannot say.
fn mount_holding<'a>(
    mounts: &'a [Mount],
    io: &Path,
    real: &Path,
    follow: bool,
) -> Option<&'a Mount> {
    fsinfo::mount_id(io, follow)
        .and_then(|id| mounts.iter().find(|m| m.id == id))
        .or_else(|| mount_of(mounts, real))
}

/// The chain the kernel opens for `execve(path)`: the file, then each `#!`
/// interpreter, at most one more than the kernel accepts (so the model can see the
/// ELOOP). A relative interpreter is resolved against our working directory, as the
/// kernel resolves it against the caller's. An ELF program carries its loader's facts
/// ([`ElfCheck::Loader`]).
pub fn gather(path: &Path) -> Vec<Node> {
    gather_for(path, None)
}

/// [`gather`] for a caller other than verify: a relative name (the file's, a `#!`
/// interpreter's, a program loader's) starts at process `pid`'s working directory.
pub fn gather_for(path: &Path, pid: Option<u32>) -> Vec<Node> {
    let host = Host {
        mounts: crate::fsinfo::mounts().unwrap_or_default(),
        cwd: pid.map(|p| PathBuf::from(format!("/proc/{p}/cwd"))),
    };
    gather_in(&host, path)
}

/// [`gather`] from any source of files.
pub fn gather_in(files: &dyn Files, path: &Path) -> Vec<Node> {
    let mut chain = vec![files.node(path, Role::Program)];
    // One file past the kernel's depth: it opens that interpreter before it
    // gives up, so a missing one is ENOENT rather than ELOOP.
    while chain.len() <= MAX_REWRITES + 1 {
        let Some(last) = chain.last() else { break };
        let Kind::Script { interpreter } = &last.kind else {
            break;
        };
        if last.inode.is_none() {
            break;
        }
        let next = files.node(&interpreter.clone(), Role::Program);
        chain.push(next);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_point_flags_and_type() {
        let t = b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                 30 22 0:40 / /mnt/with\\040space rw,nosuid,noexec,relatime - tmpfs tmpfs rw\n\
                 31 30 0:41 / /mnt/with\\040space rw,relatime - tmpfs tmpfs rw\n";
        let m = crate::fsinfo::parse_mountinfo(t);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].point, PathBuf::from("/mnt/with space"));
        assert_eq!((m[0].id, m[1].id, m[2].id), (22, 30, 31));
        assert!(m[1].nosuid && m[1].noexec && m[1].fstype == "tmpfs");
        // The mount stacked last on a point hides the one below.
        let top = mount_of(&m, Path::new("/mnt/with space/f")).unwrap();
        assert!(!top.nosuid);
        assert_eq!(
            mount_of(&m, Path::new("/usr/bin/x")).unwrap().fstype,
            "ext4"
        );
        // A prefix must end at a component boundary.
        assert_eq!(
            mount_of(&m, Path::new("/mnt/with spacer")).unwrap().point,
            PathBuf::from("/")
        );
    }

    #[test]
    fn shared_mappings_are_read_from_maps() {
        let maps = "7f03-7f04 rw-s 00000000 fe:00 10010946 /tmp/m1\n\
                    7f05-7f06 r--p 00000000 fe:00 77 /usr/lib/libc.so.6\n\
                    7f07-7f08 rw-s 00000000 00:01 0 /dev/zero (deleted)\n\
                    7ffd-7ffe rw-p 00000000 00:00 0 [stack]\n";
        let got: Vec<(u64, u64)> = shared_mappings(maps, false).collect();
        assert_eq!(got, vec![(libc::makedev(0xfe, 0), 10010946)]);
        // smaps: only the mapping whose flags hold VM_SHARED.
        let smaps = "7f03-7f04 r--s 00000000 fe:00 5 /tmp/rw\nSize: 4 kB\n\
                     VmFlags: rd sh mr mw me ms sd\n\
                     7f05-7f06 r--s 00000000 fe:00 6 /tmp/ro\nSize: 4 kB\n\
                     VmFlags: rd mr me ms sd\n";
        let got: Vec<(u64, u64)> = shared_mappings(smaps, true).collect();
        assert_eq!(got, vec![(libc::makedev(0xfe, 0), 5)]);
    }

    #[test]
    fn first_bytes_pick_the_format() {
        assert_eq!(kind_of(b"\x7fELF\x02\x01"), Kind::Elf);
        assert_eq!(
            kind_of(b"#! \t/usr/bin/env node\nx"),
            Kind::Script {
                interpreter: PathBuf::from("/usr/bin/env")
            }
        );
        assert_eq!(
            kind_of(b"#!/bin/sh"),
            Kind::Script {
                interpreter: PathBuf::from("/bin/sh")
            }
        );
        assert_eq!(kind_of(b"#!   \n/bin/sh"), Kind::Unknown);
        // No newline in the kernel's buffer: a name that may be cut off is refused,
        // and "#!" with nothing after it is EACCES (both measured on 6.18).
        let mut long = b"#!/".to_vec();
        long.extend([b'a'; 300]);
        assert_eq!(kind_of(&long[..BINPRM_BUF_SIZE]), Kind::Unknown);
        let mut blanks = b"#!".to_vec();
        blanks.extend([b' '; 300]);
        assert_eq!(kind_of(&blanks[..BINPRM_BUF_SIZE]), Kind::Unknown);
        assert_eq!(kind_of(b"#!"), Kind::NoInterpreter);
        assert_eq!(kind_of(b"#! \t"), Kind::NoInterpreter);
        assert_eq!(kind_of(b"echo hi\n"), Kind::Unknown);
    }

    #[test]
    fn the_real_system_is_read() {
        let chain = gather(Path::new("/bin/sh"));
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].kind, Kind::Elf);
        assert!(chain[0].inode.is_some());
        assert!(chain[0].mount.is_some());
        let gone = gather(Path::new("/nonexistent/fcap"));
        assert_eq!(gone[0].lookup_errno, Some(libc::ENOENT));
    }
}
