//! Reading capabilities from paths: one file, or a whole tree.
//!
//! The walk never follows symlinks, never leaves the given root for a pseudo filesystem
//! (procfs, sysfs, cgroupfs… cannot hold file capabilities), and uses the directory
//! entry's type instead of a `stat` per file: a regular file costs one `lgetxattr`.

use crate::error::{at_path, strerror};
use crate::filecaps::FileCaps;
use crate::{fsinfo, sys};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
}

/// Options of a recursive scan.
#[derive(Debug, Default, Clone)]
pub struct WalkOpts {
    /// Stay on the root's filesystem (`-x`).
    pub one_file_system: bool,
    /// Report directories, symlinks and files without capabilities too (`-v`).
    pub verbose: bool,
}

/// Read the capabilities of the file at `path` (never following a final symlink).
pub fn read_caps(path: &Path) -> Found {
    match sys::lget(path) {
        Ok(None) => Found::File(None),
        Ok(Some(raw)) => match FileCaps::decode(&raw) {
            Ok(c) => Found::File(Some(c)),
            Err(e) => Found::Unreadable(at_path(path, e)),
        },
        Err(e) => Found::Unreadable(read_error(path, &e)),
    }
}

/// The message for a failed `getxattr` of `security.capability`.
pub fn read_error(path: &Path, e: &io::Error) -> anyhow::Error {
    let why = match e.raw_os_error() {
        // The kernel's getxattr only hands out well-formed v2/v3 values.
        Some(libc::EINVAL) => "malformed security.capability value (EINVAL); the kernel refuses to execute this file; replace it with 'fcap set' or remove it with 'fcap revoke all'".to_string(),
        Some(libc::EOVERFLOW) => "the capability value is bound to a user namespace whose root is not mapped in this one (EOVERFLOW); it grants nothing here".to_string(),
        Some(libc::ERANGE) => "security.capability is longer than any valid value (ERANGE); the kernel refuses to execute this file".to_string(),
        _ => format!("cannot read capabilities: {}", strerror(e)),
    };
    at_path(path, why)
}

/// Join a directory path and a name the way nftw spells paths: `dir/name`, without a
/// doubled slash when the root is `/`.
fn join(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let mut p = dir.as_os_str().to_owned();
    if !p.as_encoded_bytes().ends_with(b"/") {
        p.push("/");
    }
    p.push(name);
    PathBuf::from(p)
}

/// Strip trailing slashes from a start path (`g/` walks as `g`), as glibc's nftw does.
pub fn trim_root(root: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let b = root.as_os_str().as_bytes();
    let mut end = b.len();
    while end > 1 && b[end - 1] == b'/' {
        end -= 1;
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&b[..end]))
}

/// Walk `root` recursively, calling `emit` for every entry worth reporting and `fail`
/// for every error; the walk goes on after an error.
pub fn walk(
    root: &Path,
    opts: &WalkOpts,
    emit: &mut dyn FnMut(Entry),
    fail: &mut dyn FnMut(anyhow::Error),
) {
    let root = trim_root(root);
    let meta = match fs::symlink_metadata(&root) {
        Ok(m) => m,
        Err(e) => return fail(at_path(&root, describe(&e))),
    };
    if !meta.is_dir() {
        visit_file(root, meta.file_type(), opts, emit);
        return;
    }
    let dev = meta.dev();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        if opts.verbose {
            emit(Entry {
                path: dir.clone(),
                found: Found::NotRegular,
            });
        }
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                fail(at_path(
                    &dir,
                    format!("cannot read directory: {}", describe(&e)),
                ));
                continue;
            }
        };
        for ent in rd {
            let ent = match ent {
                Ok(ent) => ent,
                Err(e) => {
                    fail(at_path(
                        &dir,
                        format!("cannot read directory: {}", describe(&e)),
                    ));
                    break;
                }
            };
            let path = join(&dir, &ent.file_name());
            // d_type from getdents; std only stats when the filesystem reports DT_UNKNOWN.
            let Ok(ft) = ent.file_type() else {
                fail(at_path(&path, "cannot determine the file type"));
                continue;
            };
            if ft.is_dir() {
                if crosses_into_skipped(&path, dev, opts) {
                    continue;
                }
                stack.push(path);
            } else {
                visit_file(path, ft, opts, emit);
            }
        }
    }
}

/// True when a subdirectory is a mount point to leave alone: a pseudo filesystem,
/// or (with `-x`) any other filesystem.
fn crosses_into_skipped(path: &Path, root_dev: u64, opts: &WalkOpts) -> bool {
    let Ok(m) = fs::symlink_metadata(path) else {
        return false;
    };
    if m.dev() == root_dev {
        return false;
    }
    opts.one_file_system || fsinfo::fs_type(path).is_some_and(fsinfo::is_pseudo)
}

fn visit_file(path: PathBuf, ft: fs::FileType, opts: &WalkOpts, emit: &mut dyn FnMut(Entry)) {
    if ft.is_symlink() {
        if opts.verbose {
            emit(Entry {
                path,
                found: Found::NotRegular,
            });
        }
        return;
    }
    // Like nftw's FTW_F, fifos, sockets and devices are "files" that simply have no
    // capabilities; reading their xattr by path neither opens nor blocks on them.
    let found = read_caps(&path);
    if opts.verbose || !matches!(found, Found::File(None)) {
        emit(Entry { path, found });
    }
}

fn describe(e: &io::Error) -> String {
    strerror(e)
}
