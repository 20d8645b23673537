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

use super::model::{Inode, Kind, MAX_REWRITES, Node, Xattr};
use crate::fsinfo;
use std::io::Read;
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
pub fn read_xattr(path: &Path) -> Xattr {
    match crate::sys::lget_raw(path) {
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

/// Facts about one file on the chain.
fn node(path: &Path, mounts: &[Mount]) -> Node {
    let mut n = Node {
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
    };
    let real = match std::fs::canonicalize(path) {
        Ok(r) => r,
        Err(e) => {
            n.lookup_errno = e.raw_os_error();
            return n;
        }
    };
    n.symlink = crate::output::via_symlink(path, &real);
    n.resolved = Some(real.clone());
    let md = match std::fs::metadata(&real) {
        Ok(m) => m,
        Err(e) => {
            n.lookup_errno = e.raw_os_error();
            return n;
        }
    };
    n.inode = Some(inode_of(&md));
    // Search permission is checked on the resolved path's directories; the ones a
    // symlink passed through on the way are not modelled.
    let mut dirs: Vec<(PathBuf, Inode)> = real
        .ancestors()
        .skip(1)
        .filter_map(|d| {
            std::fs::metadata(d)
                .ok()
                .map(|m| (d.to_path_buf(), inode_of(&m)))
        })
        .collect();
    dirs.reverse();
    n.dirs = dirs;
    if let Some(m) = mount_of(mounts, &real) {
        n.nosuid = m.nosuid;
        n.noexec = m.noexec;
        n.mount = Some(m.point.clone());
        n.fs = Some(m.fstype.clone());
    }
    let magic = fsinfo::fs_type(&real);
    if let Some(name) = magic.and_then(fsinfo::type_name) {
        n.fs = Some(name.to_string());
    }
    // Read only what the kernel reads, and only where reading is harmless: a file on a
    // pseudo filesystem (/proc/kmsg, a sysfs attribute) can block or consume data, and
    // never holds a program; O_NONBLOCK covers a regular file swapped for a fifo.
    let pseudo = magic.is_some_and(fsinfo::is_pseudo);
    if md.is_file() && !pseudo {
        use std::os::unix::fs::OpenOptionsExt;
        let mut head = Vec::with_capacity(BINPRM_BUF_SIZE);
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&real);
        match opened {
            Ok(f) => {
                let regular = f.metadata().is_ok_and(|m| m.is_file());
                if regular {
                    let _ = f.take(BINPRM_BUF_SIZE as u64).read_to_end(&mut head);
                    n.kind = kind_of(&head);
                }
            }
            // Exec needs no read permission (mode 0711); we do, to see the format.
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => n.kind = Kind::Unreadable,
            Err(_) => {}
        }
        // NFS serves only MAC labels under security.* (nfs4_xattr_get_nfs4_label):
        // the exec path gets EOPNOTSUPP, so file capabilities never apply there.
        let nfs = magic == Some(fsinfo::NFS_SUPER_MAGIC)
            || n.fs.as_deref().is_some_and(|t| t.starts_with("nfs"));
        n.xattr = if nfs {
            n.fs = Some("NFS".to_string());
            Xattr::Unsupported
        } else {
            read_xattr(&real)
        };
    }
    n
}

/// The chain the kernel opens for `execve(path)`: the file, then each `#!`
/// interpreter, at most one more than the kernel accepts (so the model can see the
/// ELOOP). A relative interpreter is resolved against our working directory, as the
/// kernel resolves it against the caller's.
pub fn gather(path: &Path) -> Vec<Node> {
    let mounts = crate::fsinfo::mounts().unwrap_or_default();
    let mut chain = vec![node(path, &mounts)];
    while chain.len() <= MAX_REWRITES {
        let Some(last) = chain.last() else { break };
        let Kind::Script { interpreter } = &last.kind else {
            break;
        };
        if last.inode.is_none() {
            break;
        }
        let next = node(&interpreter.clone(), &mounts);
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
