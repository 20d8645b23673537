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

fn finish(n: isize, buf: &mut [u8; XATTR_CAPS_SZ_3 + 8]) -> io::Result<RawCaps> {
    if n >= 0 {
        return Ok(Some(buf[..n as usize].to_vec()));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
        _ => Err(e),
    }
}

/// `lgetxattr(path, "security.capability")`: never follows a final symlink.
///
/// The buffer is a little larger than the largest valid value so that an oversized
/// value (which the kernel would only hand out from a raw on-disk read) still
/// decodes to a precise "too long" error instead of a bare ERANGE.
pub fn lget(path: &Path) -> io::Result<RawCaps> {
    path_get(path, libc::lgetxattr)
}

/// `getxattr(path)`, following symlinks: only for `/proc/self/fd/N` magic links, which
/// resolve to the inode the fd holds (see `write::Handle`).
pub fn get(path: &Path) -> io::Result<RawCaps> {
    path_get(path, libc::getxattr)
}

type GetXattr = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *mut libc::c_void,
    libc::size_t,
) -> libc::ssize_t;

fn path_get(path: &Path, call: GetXattr) -> io::Result<RawCaps> {
    let c = cpath(path)?;
    let mut buf = [0u8; XATTR_CAPS_SZ_3 + 8];
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
    finish(n, &mut buf)
}

/// `fgetxattr(fd, "security.capability")`.
pub fn fget(fd: BorrowedFd<'_>) -> io::Result<RawCaps> {
    let mut buf = [0u8; XATTR_CAPS_SZ_3 + 8];
    // SAFETY: as in `lget`; the fd is borrowed and open for the call's duration.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            XATTR_NAME_C.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    finish(n, &mut buf)
}

/// `fsetxattr(fd, "security.capability", value)`.
pub fn fset(fd: BorrowedFd<'_>, value: &[u8]) -> io::Result<()> {
    // SAFETY: the value pointer and length describe a live slice.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            XATTR_NAME_C.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `fremovexattr(fd, "security.capability")`; a missing attribute is not an error.
pub fn fremove(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the name is a static C string and the fd is borrowed.
    let r = unsafe { libc::fremovexattr(fd.as_raw_fd(), XATTR_NAME_C.as_ptr()) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENODATA) {
        Ok(())
    } else {
        Err(e)
    }
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `setxattr(path)`; see [`get`] for which paths this is for.
pub fn set(path: &Path, value: &[u8]) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: NUL-terminated path and name; the value slice is live.
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            XATTR_NAME_C.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `removexattr(path)`; a missing attribute is not an error. See [`get`].
pub fn remove(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: NUL-terminated path and name.
    let r = unsafe { libc::removexattr(c.as_ptr(), XATTR_NAME_C.as_ptr()) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENODATA) {
        Ok(())
    } else {
        Err(e)
    }
}
