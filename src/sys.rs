//! Thin, safe wrappers over the few syscalls the tool needs on `security.capability`.
//!
//! We call libc directly instead of going through the `xattr` crate on these paths for
//! two reasons: the scan does one `lgetxattr` per regular file with a fixed 24-byte
//! buffer (no size probe, no allocation), and the write path must work on an fd that
//! was opened with `O_NOFOLLOW` (no path is resolved twice).

use crate::filecaps::{XATTR_CAPS_SZ_3, XATTR_NAME_C};
use std::ffi::CString;
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
    let c = cpath(path)?;
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

/// Raise capability `cap` in this thread's effective set, keeping the other sets, as
/// libcap's `cap_set_proc` does for setcap before its first write. Fails with EPERM
/// when `cap` is not in the permitted set (a non-root caller, or root whose bounding
/// set lacks it).
pub fn raise_effective(cap: u32) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two `Data` records for version 3, which `data` holds.
    if unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    let word = usize::try_from(cap / 32).unwrap_or(0).min(1);
    data[word].effective |= 1 << (cap % 32);
    // SAFETY: as above; capset only reads the two records.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
