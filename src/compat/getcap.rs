//! `getcap` as libcap 2.66 runs it (libcap.md §3.2, setcap-compat.md §2).
//!
//! Options are read like glibc's `getopt("rvhnl")`: anywhere on the line (unless
//! POSIXLY_CORRECT is set), clustered (`-rv`), `--` ends them. After that the exit
//! status is always 0, even for missing files. `-r` walks like glibc's
//! `nftw(FTW_PHYS)`: pre-order, in the directory's own (readdir) order, never
//! following symlinks, which is why it does not use fcap's sorted scan.

use super::{license, raw};
use crate::filecaps::FileCaps;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

const USAGE: &str = "usage: getcap [-h] [-l] [-n] [-r] [-v] FILE [FILE ...]";

fn help() -> String {
    format!(
        "getcap (fcap {version}): a drop-in for libcap 2.66's getcap, built into fcap.

{USAGE}

Prints each regular file's capabilities as 'FILE TEXT'; files without any print
nothing.

  -r    walk directories recursively (symlinks are not followed)
  -v    also print files without capabilities, and '(Not a regular file)' entries
  -n    append ' [rootid=N]' to namespaced (v3) values
  -h    this help, exit status 0

Exit status: 0, even for a missing file (the error goes to standard error); 1 for
bad usage.

This is fcap's getcap-compatible mode: the same arguments, output and exit status
as libcap's getcap. fcap's own reader (sorted -r, --json, a human view, verify
what a process gets): run 'fcap --help'.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[derive(Default)]
struct Opts {
    recursive: bool,
    verbose: bool,
    rootid: bool,
}

/// Run getcap with its arguments (without the program name).
pub fn run(args: &[OsString], out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut o = Opts::default();
    let mut files: Vec<&OsStr> = Vec::new();
    // glibc's getopt permutes unless POSIXLY_CORRECT is set: then the first
    // non-option ends the options.
    let posix = std::env::var_os("POSIXLY_CORRECT").is_some();
    let mut options_done = false;
    for a in args {
        let b = a.as_bytes();
        if options_done || b.len() < 2 || b[0] != b'-' {
            files.push(a);
            if posix {
                options_done = true;
            }
            continue;
        }
        if b == b"--" {
            options_done = true;
            continue;
        }
        for &c in &b[1..] {
            match c {
                b'r' => o.recursive = true,
                b'v' => o.verbose = true,
                b'n' => o.rootid = true,
                b'h' => {
                    eprint!("{}", help());
                    return Ok(0);
                }
                b'l' => return license(out, "getcap"),
                _ => {
                    return super::fail(format!(
                        "getcap: unknown option '-{}'; {USAGE}",
                        (c as char).escape_debug()
                    ));
                }
            }
        }
    }
    if files.is_empty() {
        return super::fail(format!("getcap: no file given; {USAGE}"));
    }
    for f in files {
        let meta = match std::fs::symlink_metadata(f) {
            Ok(m) => m,
            Err(e) => {
                lstat_error(f, &e);
                continue;
            }
        };
        if o.recursive {
            walk(f.as_bytes(), &o, out)?;
        } else {
            visit(f, Kind::of(&meta), &o, out)?;
        }
    }
    Ok(0)
}

fn lstat_error(f: &OsStr, e: &io::Error) {
    crate::error::print(&anyhow::anyhow!(
        "getcap: {}: {}",
        super::quoted(f),
        crate::error::strerror(e)
    ));
}

/// nftw's view of an entry: only `File` is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Other,
}

impl Kind {
    /// getcap without -r reads only regular files; nftw (with -r) reads anything that
    /// is neither a directory nor a symlink (fifos and devices included).
    fn of(m: &std::fs::Metadata) -> Kind {
        if m.file_type().is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }

    fn in_walk(m: &std::fs::Metadata) -> Kind {
        let t = m.file_type();
        if t.is_dir() || t.is_symlink() {
            Kind::Other
        } else {
            Kind::File
        }
    }
}

/// getcap's `do_getcap` for one entry.
fn visit(path: &OsStr, kind: Kind, o: &Opts, out: &mut dyn Write) -> io::Result<()> {
    if kind != Kind::File {
        if o.verbose {
            out.write_all(raw(path))?;
            out.write_all(b" (Not a regular file)\n")?;
        }
        return Ok(());
    }
    let value = crate::sys::lget_raw(Path::new(path));
    let caps = match value {
        Ok(v) => FileCaps::decode(&v).map_err(|e| e.to_string()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => {
            if o.verbose {
                out.write_all(raw(path))?;
                out.write_all(b"\n")?;
            }
            return Ok(());
        }
        Err(e) => Err(crate::error::strerror(&e)),
    };
    match caps {
        Ok(c) => {
            out.write_all(raw(path))?;
            write!(out, " {}", c.to_text())?;
            // libcap prints the rootid with %d, and not for 0 or -1.
            match c.rootid {
                Some(r) if o.rootid && r != 0 && r != u32::MAX => {
                    writeln!(out, " [rootid={}]", r as i32)?
                }
                _ => writeln!(out)?,
            }
        }
        Err(why) => crate::error::print(&anyhow::anyhow!(
            "getcap: cannot read the capabilities of {}: {why}",
            super::quoted(path)
        )),
    }
    Ok(())
}

/// `nftw(path, FTW_PHYS)` as glibc runs it: trailing slashes are stripped from the
/// start (but "/" stays), a directory is reported before its entries, entries come
/// in readdir order, an unreadable directory is reported and skipped, and an error
/// other than EACCES/ENOENT stops the whole walk of this argument.
fn walk(start: &[u8], o: &Opts, out: &mut dyn Write) -> io::Result<()> {
    let mut len = start.len();
    while len > 1 && start[len - 1] == b'/' {
        len -= 1;
    }
    let mut path = start[..len].to_vec();
    match std::fs::symlink_metadata(OsStr::from_bytes(&path)) {
        Ok(m) if m.file_type().is_dir() => {
            walk_dir(&mut path, o, out)?;
        }
        Ok(m) => visit(OsStr::from_bytes(&path), Kind::in_walk(&m), o, out)?,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::ENOENT)) => {
            visit(OsStr::from_bytes(&path), Kind::Other, o, out)?
        }
        Err(_) => {}
    }
    Ok(())
}

/// One directory: `Ok(false)` when the walk must stop (nftw returned -1).
fn walk_dir(path: &mut Vec<u8>, o: &Opts, out: &mut dyn Write) -> io::Result<bool> {
    let entries = match std::fs::read_dir(OsStr::from_bytes(path)) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            visit(OsStr::from_bytes(path), Kind::Other, o, out)?;
            return Ok(true);
        }
        Err(_) => return Ok(false),
    };
    visit(OsStr::from_bytes(path), Kind::Other, o, out)?;
    let base = path.len();
    if path.last() != Some(&b'/') {
        path.push(b'/');
    }
    let dir_len = path.len();
    // A read error ends this directory's listing, as readdir returning NULL does.
    for entry in entries.map_while(Result::ok) {
        path.truncate(dir_len);
        path.extend_from_slice(&entry.file_name().into_vec());
        let meta = std::fs::symlink_metadata(OsStr::from_bytes(path));
        let keep_going = match meta {
            Ok(m) if m.file_type().is_dir() => walk_dir(path, o, out)?,
            Ok(m) => {
                visit(OsStr::from_bytes(path), Kind::in_walk(&m), o, out)?;
                true
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::ENOENT)) => {
                visit(OsStr::from_bytes(path), Kind::Other, o, out)?;
                true
            }
            Err(_) => false,
        };
        if !keep_going {
            path.truncate(base);
            return Ok(false);
        }
    }
    path.truncate(base);
    Ok(true)
}
