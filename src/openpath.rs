//! Opening a path one piece at a time, relative to the directory reached so far.
//!
//! Two reasons not to hand a whole path to one syscall:
//!
//! * **Length.** The kernel refuses a path of `PATH_MAX` (4096) bytes or more in one
//!   call (ENAMETOOLONG), yet a tree can be deeper than that: the scan walks it
//!   relative to directory fds and `fcap read -r` prints such paths, so a manifest can
//!   list them, and `check`/`apply` must reach them.
//! * **Symlinks in the directories.** A manifest names the file itself. If
//!   `/home/alice/bin` turns into a symlink to a root-owned directory, a root-run
//!   `apply` of `/home/alice/bin/tool` must not write the root-owned `tool`. With
//!   [`Links::Refuse`] each directory is opened with `O_NOFOLLOW`, so the link is
//!   found, and named, before anything is opened through it.
//!
//! Every piece is opened `O_PATH`: no read permission needed, no side effect on a
//! device, and the fd pins the directory so a rename behind us cannot redirect the
//! rest of the walk.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What to do with a symlink among the directories of a path (the last component is
/// never followed here; the caller decides about it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow them, as the kernel's own path walk does (for reading).
    Follow,
    /// Stop at the first one and report it as [`OpenError::Link`] (for writing).
    Refuse,
}

/// Why a path could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// `link` (the path up to and including that component) is a symlink to `to`.
    Link {
        link: PathBuf,
        to: PathBuf,
    },
}

/// The directory that holds a path's last component, open, and that component.
#[derive(Debug)]
pub struct Parent {
    pub dir: OwnedFd,
    /// The last component; `.` when the path names a directory itself (`/`, `a/..`,
    /// `a/`), which then fails as "not a regular file" like any directory.
    pub name: CString,
}

impl Parent {
    /// `O_PATH|O_NOFOLLOW` open of the last component: a symlink there is opened as
    /// the link itself, for the caller to look at with `metadata()`.
    pub fn open_last(&self) -> io::Result<File> {
        let fd = openat(&self.dir, &self.name, libc::O_PATH | libc::O_NOFOLLOW)?;
        Ok(File::from(fd))
    }
}

/// Longest piece handed to one `openat` when following links (below `PATH_MAX`, with
/// room for the NUL).
const CHUNK: usize = 4000;

/// True when the kernel takes `path` in one call.
pub fn fits(path: &Path) -> bool {
    path.as_os_str().len() < libc::PATH_MAX as usize
}

/// Open the directory holding `path`'s last component.
pub fn parent(path: &Path, links: Links) -> Result<Parent, OpenError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(OpenError::Io(io::Error::from_raw_os_error(libc::ENOENT)));
    }
    let start: &[u8] = if bytes[0] == b'/' { b"/" } else { b"." };
    let mut dir = openat_cwd(start)?;
    // Components with their end offset in `bytes` (to name a link by its prefix).
    let mut comps: Vec<(&[u8], usize)> = Vec::new();
    let mut off = 0;
    for c in bytes.split(|b| *b == b'/') {
        off += c.len();
        if !c.is_empty() && c != b"." {
            comps.push((c, off));
        }
        off += 1;
    }
    // The last component is the name, unless the path ends in a way that names a
    // directory (`/`, `..`, a trailing slash): then every component is a directory.
    let names_dir = bytes.ends_with(b"/") || comps.last().is_none_or(|(c, _)| *c == b"..");
    let name: &[u8] = if names_dir {
        b"."
    } else {
        comps.pop().map_or(b".", |(c, _)| c)
    };
    match links {
        Links::Refuse => {
            for (c, end) in comps {
                let cc = cstr(c)?;
                dir = match openat(
                    &dir,
                    &cc,
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                ) {
                    Ok(fd) => fd,
                    Err(e) => return Err(diagnose(&dir, &cc, e, &bytes[..end])),
                };
            }
        }
        Links::Follow => {
            // Whole runs of components at once: the kernel follows links inside a run
            // exactly as it would in one long path.
            let mut run: Vec<u8> = Vec::new();
            for (c, _) in comps {
                if !run.is_empty() && run.len() + 1 + c.len() > CHUNK {
                    dir = openat(&dir, &cstr(&run)?, libc::O_PATH | libc::O_DIRECTORY)?;
                    run.clear();
                }
                if !run.is_empty() {
                    run.push(b'/');
                }
                run.extend_from_slice(c);
            }
            if !run.is_empty() {
                dir = openat(&dir, &cstr(&run)?, libc::O_PATH | libc::O_DIRECTORY)?;
            }
        }
    }
    Ok(Parent {
        dir,
        name: cstr(name)?,
    })
}

/// Open `path` itself (`O_PATH`, the last component not followed).
pub fn open(path: &Path, links: Links) -> Result<File, OpenError> {
    Ok(parent(path, links)?.open_last()?)
}

/// `lstat` of a path of any length (directories' links followed).
pub fn symlink_metadata(path: &Path) -> io::Result<std::fs::Metadata> {
    if fits(path) {
        return std::fs::symlink_metadata(path);
    }
    match open(path, Links::Follow) {
        Ok(f) => f.metadata(),
        Err(OpenError::Io(e)) => Err(e),
        // Not produced with Links::Follow.
        Err(OpenError::Link { .. }) => Err(io::Error::from_raw_os_error(libc::ELOOP)),
    }
}

/// `/proc/self/fd/N`: the kernel resolves it to the inode `f` holds, with no name
/// lookup, so a path-based xattr call through it acts on that very inode (the way to
/// reach the attributes of an `O_PATH` fd, which `fgetxattr` refuses with EBADF).
pub fn proc_path(f: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

/// Why opening `name` in `dir` as a directory failed: a symlink (named, with its
/// target) or the error itself.
fn diagnose(dir: &OwnedFd, name: &CString, e: io::Error, prefix: &[u8]) -> OpenError {
    if !matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)) {
        return OpenError::Io(e);
    }
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `name` is NUL-terminated, the fd is open, and the buffer length passed
    // is its real size.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    match usize::try_from(n) {
        Ok(n) => OpenError::Link {
            link: PathBuf::from(OsStr::from_bytes(prefix)),
            to: PathBuf::from(OsStr::from_bytes(&buf[..n])),
        },
        // EINVAL: not a symlink, so the first error stands (a file used as a
        // directory: ENOTDIR).
        Err(_) => OpenError::Io(e),
    }
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> OpenError {
        OpenError::Io(e)
    }
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn openat_cwd(path: &[u8]) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    finish(
        // SAFETY: `c` is NUL-terminated.
        unsafe {
            libc::openat(
                libc::AT_FDCWD,
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        },
    )
}

fn openat(dir: &OwnedFd, name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and the directory fd is open.
    finish(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) })
}

fn finish(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(p: &str) -> String {
        let parent = parent(Path::new(p), Links::Follow).unwrap();
        parent.name.to_string_lossy().into_owned()
    }

    #[test]
    fn the_last_component_is_the_name_unless_the_path_names_a_directory() {
        assert_eq!(name_of("/proc/self/status"), "status");
        assert_eq!(name_of("/"), ".");
        assert_eq!(name_of("/proc/"), ".");
        assert_eq!(name_of("/proc/.."), ".");
        assert_eq!(name_of("/proc/./"), ".");
        assert_eq!(name_of("."), ".");
        assert!(matches!(
            parent(Path::new(""), Links::Follow),
            Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ENOENT)
        ));
    }

    #[test]
    fn a_directory_link_is_followed_or_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::fs::write(d.path().join("real/f"), b"").unwrap();
        std::os::unix::fs::symlink("real", d.path().join("link")).unwrap();
        let via = d.path().join("link/f");
        assert!(
            open(&via, Links::Follow)
                .unwrap()
                .metadata()
                .unwrap()
                .is_file()
        );
        match parent(&via, Links::Refuse) {
            Err(OpenError::Link { link, to }) => {
                assert_eq!(link, d.path().join("link"));
                assert_eq!(to, Path::new("real"));
            }
            other => panic!("{other:?}"),
        }
        // A file used as a directory is ENOTDIR, not a link.
        let through = d.path().join("real/f/x");
        assert!(matches!(
            parent(&through, Links::Refuse),
            Err(OpenError::Io(e)) if e.raw_os_error() == Some(libc::ENOTDIR)
        ));
    }

    #[test]
    fn a_path_longer_than_path_max_is_reached() {
        let d = tempfile::tempdir().unwrap();
        let mut p = d.path().to_path_buf();
        let mut rel = PathBuf::new();
        for _ in 0..40 {
            rel.push("d".repeat(120));
        }
        // Built relative to a directory fd, as a deep tree is.
        let mut here = File::open(d.path()).unwrap();
        for c in rel.components() {
            let name = CString::new(c.as_os_str().as_bytes()).unwrap();
            // SAFETY: valid fd and NUL-terminated name.
            let made = unsafe { libc::mkdirat(here.as_raw_fd(), name.as_ptr(), 0o755) };
            assert_eq!(made, 0);
            let fd = openat(
                &OwnedFd::from(here.try_clone().unwrap()),
                &name,
                libc::O_RDONLY | libc::O_DIRECTORY,
            )
            .unwrap();
            here = File::from(fd);
        }
        p.push(&rel);
        p.push("f");
        assert!(!fits(&p));
        assert!(matches!(
            symlink_metadata(&p),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT)
        ));
        let name = CString::new("f").unwrap();
        // SAFETY: valid fd, NUL-terminated name, and the mode O_CREAT needs.
        let fd = unsafe {
            libc::openat(
                here.as_raw_fd(),
                name.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            )
        };
        finish(fd).unwrap();
        assert!(symlink_metadata(&p).unwrap().is_file());
        assert!(
            open(&p, Links::Refuse)
                .unwrap()
                .metadata()
                .unwrap()
                .is_file()
        );
    }
}
