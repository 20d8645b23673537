//! Thin, safe wrappers over the few syscalls the tool needs on `security.capability`.
//!
//! We call libc directly instead of going through the `xattr` crate on these paths for
//! two reasons: the scan does one `lgetxattr` per regular file with a fixed 24-byte
//! buffer (no size probe, no allocation), and the write path must work on an fd that
//! was opened with `O_NOFOLLOW` (no path is resolved twice).

use crate::filecaps::{XATTR_CAPS_SZ_3, XATTR_NAME_C};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The raw value of `security.capability`, or `None` when the file has none
/// (ENODATA, or ENOTSUP: a filesystem without xattrs cannot hold any).
pub type RawCaps = Option<Vec<u8>>;

/// The bytes of a successful getxattr-family call, or its errno.
pub fn value(n: isize, buf: &[u8]) -> io::Result<Vec<u8>> {
    match usize::try_from(n) {
        Ok(len) => Ok(buf[..len.min(buf.len())].to_vec()),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

/// Fold "no value here" into `None`: ENODATA, or ENOTSUP (a filesystem without
/// xattrs cannot hold any).
pub fn fold_absent(r: io::Result<Vec<u8>>) -> io::Result<RawCaps> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A set/remove result: 0 or the errno.
fn cvt(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A remove result where a missing attribute is not an error.
fn removed(r: libc::c_int) -> io::Result<()> {
    match cvt(r) {
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(()),
        other => other,
    }
}

/// A buffer a little larger than the largest valid value, so that an oversized
/// value (which the kernel would only hand out from a raw on-disk read) still
/// decodes to a precise "too long" error instead of a bare ERANGE.
type Buf = [u8; XATTR_CAPS_SZ_3 + 8];

/// `lgetxattr(path, "security.capability")`: never follows a final symlink.
pub fn lget(path: &Path) -> io::Result<RawCaps> {
    fold_absent(lget_raw(path))
}

/// [`lget`] of a path that is already NUL-terminated (no allocation: the scan's
/// fallback on kernels without `getxattrat` makes this call for every file).
pub fn lget_c(path: &CStr) -> io::Result<RawCaps> {
    fold_absent(c_get(path, libc::lgetxattr))
}

/// [`lget`] without folding any error: for callers to whom ENOTSUP and ENODATA
/// mean different things (verify).
pub fn lget_raw(path: &Path) -> io::Result<Vec<u8>> {
    path_get(path, libc::lgetxattr)
}

/// `getxattr(path)`, following symlinks: for `/proc/self/fd/N` magic links, which
/// resolve to the inode the fd holds (see `write::Handle`), and for the setcap
/// drop-in's `-v`, which reads a symlink's target as libcap's `cap_get_file` does.
pub fn get(path: &Path) -> io::Result<RawCaps> {
    fold_absent(path_get(path, libc::getxattr))
}

/// [`get`] without folding any error: verify's read of a file named through a magic
/// link (`/proc/PID/exe` of a deleted program), which only a following read reaches.
pub fn get_raw(path: &Path) -> io::Result<Vec<u8>> {
    path_get(path, libc::getxattr)
}

type GetXattr = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *mut libc::c_void,
    libc::size_t,
) -> libc::ssize_t;

fn path_get(path: &Path, call: GetXattr) -> io::Result<Vec<u8>> {
    c_get(&cpath(path)?, call)
}

fn c_get(c: &CStr, call: GetXattr) -> io::Result<Vec<u8>> {
    let mut buf: Buf = [0; XATTR_CAPS_SZ_3 + 8];
    // SAFETY: `c` is NUL-terminated, the name is a static C string, and the buffer
    // length passed is the buffer's real size.
    let n = unsafe {
        call(
            c.as_ptr(),
            XATTR_NAME_C.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    value(n, &buf)
}

/// `fgetxattr(fd, "security.capability")`.
pub fn fget(fd: BorrowedFd<'_>) -> io::Result<RawCaps> {
    let mut buf: Buf = [0; XATTR_CAPS_SZ_3 + 8];
    // SAFETY: as in `path_get`; the fd is borrowed and open for the call's duration.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            XATTR_NAME_C.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    fold_absent(value(n, &buf))
}

/// `fsetxattr(fd, "security.capability", value)`.
pub fn fset(fd: BorrowedFd<'_>, value: &[u8]) -> io::Result<()> {
    // SAFETY: the value pointer and length describe a live slice.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            XATTR_NAME_C.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// `fremovexattr(fd, "security.capability")`; a missing attribute is not an error.
pub fn fremove(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the name is a static C string and the fd is borrowed.
    removed(unsafe { libc::fremovexattr(fd.as_raw_fd(), XATTR_NAME_C.as_ptr()) })
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `setxattr(path)`; see [`get`] for which paths this is for.
pub fn set(path: &Path, value: &[u8]) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: NUL-terminated path and name; the value slice is live.
    cvt(unsafe {
        libc::setxattr(
            c.as_ptr(),
            XATTR_NAME_C.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// `removexattr(path)`; a missing attribute is not an error. See [`get`].
pub fn remove(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: NUL-terminated path and name.
    removed(unsafe { libc::removexattr(c.as_ptr(), XATTR_NAME_C.as_ptr()) })
}

/// This thread's effective, permitted and inheritable sets (`capget`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadCaps {
    pub effective: crate::caps::CapSet,
    pub permitted: crate::caps::CapSet,
    pub inheritable: crate::caps::CapSet,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
const CAP_V3: u32 = 0x2008_0522;

/// `capget` for this thread.
pub fn caps_get() -> io::Result<ThreadCaps> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two `CapData` records for version 3, which `data` holds.
    if unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    let join = |f: fn(&CapData) -> u32| {
        crate::caps::CapSet(u64::from(f(&data[0])) | u64::from(f(&data[1])) << 32)
    };
    Ok(ThreadCaps {
        effective: join(|d| d.effective),
        permitted: join(|d| d.permitted),
        inheritable: join(|d| d.inheritable),
    })
}

/// `capset` for this thread: the kernel refuses (EPERM) a permitted set larger than
/// the current one, an effective set outside the new permitted set, and an
/// inheritable set beyond the permitted or bounding sets without cap_setpcap.
pub fn caps_set(c: &ThreadCaps) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    // Truncation is the point: each record holds one 32-bit half.
    let word = |s: crate::caps::CapSet, i: u32| (s.0 >> (32 * i)) as u32;
    let data = [0, 1].map(|i| CapData {
        effective: word(c.effective, i),
        permitted: word(c.permitted, i),
        inheritable: word(c.inheritable, i),
    });
    // SAFETY: capset reads the two records of version 3.
    if unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A `prctl` whose result is 0 or -1 with errno.
fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the prctl operations used here take integer arguments only.
    cvt(unsafe { libc::prctl(op, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

/// Remove `cap` from this thread's bounding set (needs cap_setpcap).
pub fn bounding_drop(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0)
}

/// SECBIT_KEEP_CAPS: keep the permitted set when the last uid 0 goes.
pub fn keep_caps(on: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(on), 0)
}

/// Empty this thread's ambient set.
pub fn ambient_clear() -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )
}

/// Raise `cap` in the ambient set: EPERM unless it is permitted and inheritable.
pub fn ambient_raise(cap: u32) -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
        libc::c_ulong::from(cap),
    )
}

/// Set no_new_privs, for this process and everything it runs.
pub fn no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)
}

/// `setgroups`, then `setresgid` and `setresuid` with all three ids the same: the
/// order a privileged process must follow (groups and gid while it still may).
/// The error says which call failed.
pub fn switch_ids(uid: u32, gid: u32, groups: &[u32]) -> Result<(), (&'static str, io::Error)> {
    // SAFETY: the pointer and length describe `groups`, which outlives the call.
    cvt(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }).map_err(|e| ("setgroups", e))?;
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::setresgid(gid, gid, gid) }).map_err(|e| ("setresgid", e))?;
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::setresuid(uid, uid, uid) }).map_err(|e| ("setresuid", e))?;
    Ok(())
}

/// Raise capability `cap` in this thread's effective set, keeping the other sets, as
/// libcap's `cap_set_proc` does for setcap before its first write. Fails with EPERM
/// when `cap` is not in the permitted set (a non-root caller, or root whose bounding
/// set lacks it).
pub fn raise_effective(cap: u32) -> io::Result<()> {
    let mut c = caps_get()?;
    c.effective = c.effective | crate::caps::CapSet::single(cap);
    caps_set(&c)
}

/// A new file in `dir` with no name (`O_TMPFILE`): it disappears with its last
/// descriptor, whatever happens to the process. Where the filesystem has no
/// `O_TMPFILE`, a uniquely named file is created and unlinked at once.
pub fn unnamed_file(dir: &Path) -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is NUL-terminated; the mode argument is read for O_TMPFILE.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel just returned this fd and nothing else owns it.
        return Ok(unsafe { std::fs::File::from_raw_fd(fd) });
    }
    let e = io::Error::last_os_error();
    if !matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)
    ) {
        return Err(e);
    }
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = dir.join(format!(".fcap-spool-{}-{n}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)?;
    std::fs::remove_file(&p)?;
    Ok(f)
}
