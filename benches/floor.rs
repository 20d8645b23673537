//! The floor under any recursive capability scan, measured on this machine.
//!
//!     cargo bench --bench floor -- [DIR] [RUNS]        (defaults: /usr, 15)
//!
//! Whatever a scanner does per file, it must read every directory, and it must ask
//! the kernel about every regular file at least once (nothing in a directory entry
//! says whether the file has attributes). This walks DIR on one thread with nothing
//! else (`openat`, `getdents64`, `close` per directory; no paths built, nothing
//! reported, mount points not checked; the end of a directory is taken from a short
//! `getdents64` reply, which holds on ext4 and tmpfs), first with no call per file, then with one
//! `listxattrat(2)` per regular file asking only for the size of its attribute list,
//! the cheapest call that settles a file, and last with a `statx(2)` for the mode and
//! owner before it (what `fcap audit` must also know of every file: set-ID bits are
//! not in a directory entry either). It prints the best CPU time of RUNS runs of
//! each. `scripts/bench.sh` divides getcap's time by these to show the best ratio
//! any scanner could reach on this machine's cores, and compares `fcap audit` with
//! the last.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use fcap::scan::{DIR_FLAGS, DIRENT_BUF, MAX_DIRENT};

struct Counts {
    dirs: u64,
    files: u64,
}

/// What the walk asks about each regular file.
#[derive(Clone, Copy, PartialEq)]
enum PerFile {
    Nothing,
    List,
    StatAndList,
}

fn walk(dir: &OwnedFd, buf: &mut Vec<u8>, per_file: PerFile, n: &mut Counts) {
    n.dirs += 1;
    let mut subdirs: Vec<Vec<u8>> = Vec::new();
    loop {
        // SAFETY: the fd is open and the buffer is valid for its whole length.
        let got = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if got <= 0 {
            break;
        }
        // ext4 and tmpfs fill the buffer until the directory ends: a reply with room
        // for another record is the last one (the confirming empty call is skipped,
        // as fcap skips it there).
        let last = (got as usize) <= buf.len() - MAX_DIRENT;
        // The same record parser as fcap's scan.
        for (d_type, name_z) in fcap::scan::dirents(&buf[..got as usize]) {
            match d_type {
                libc::DT_DIR if name_z != b".\0" && name_z != b"..\0" => {
                    subdirs.push(name_z.to_vec())
                }
                libc::DT_REG => {
                    n.files += 1;
                    if per_file == PerFile::StatAndList {
                        // The same call fcap's scan makes (mode, owner, nothing else).
                        let _ = fcap::scan::stat_at(dir, name_z);
                    }
                    if per_file != PerFile::Nothing {
                        // The size only, as fcap's scan asks it.
                        let _ = fcap::scan::listxattrat(dir, name_z, &mut []);
                    }
                }
                _ => {}
            }
        }
        if last {
            break;
        }
    }
    for name in subdirs {
        // SAFETY: `name` is NUL-terminated and the parent fd is open.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr().cast(), DIR_FLAGS) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this fd.
            walk(&unsafe { OwnedFd::from_raw_fd(fd) }, buf, per_file, n);
        }
    }
}

/// CPU time (user + system) this process has used, in milliseconds.
fn cpu_ms() -> f64 {
    // SAFETY: a zeroed rusage is a valid out-buffer.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(u.ru_utime) + ms(u.ru_stime)
}

fn main() {
    // `cargo bench` appends `--bench`; take the first two other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = args.first().map_or("/usr", String::as_str);
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(15);
    let Ok(c) = CString::new(std::path::Path::new(root).as_os_str().as_bytes()) else {
        eprintln!("floor: bad path {root:?}");
        std::process::exit(2);
    };
    let mut buf = vec![0u8; DIRENT_BUF];
    for (label, per_file) in [
        ("directories only", PerFile::Nothing),
        ("+ 1 listxattrat per file", PerFile::List),
        // (bench.sh finds this line by "statx", the one above by "per file")
        ("+ 1 statx + 1 listxattrat", PerFile::StatAndList),
    ] {
        let mut best = f64::MAX;
        let mut n = Counts { dirs: 0, files: 0 };
        for _ in 0..runs.max(1) {
            // SAFETY: `c` is NUL-terminated.
            let fd = unsafe { libc::open(c.as_ptr(), DIR_FLAGS) };
            if fd < 0 {
                eprintln!(
                    "floor: cannot open {root}: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(2);
            }
            n = Counts { dirs: 0, files: 0 };
            let t0 = cpu_ms();
            // SAFETY: the kernel just returned this fd.
            walk(
                &unsafe { OwnedFd::from_raw_fd(fd) },
                &mut buf,
                per_file,
                &mut n,
            );
            best = best.min(cpu_ms() - t0);
        }
        println!(
            "floor {label:<26} {best:8.1} ms cpu  ({} directories, {} regular files)",
            n.dirs, n.files
        );
    }
}
