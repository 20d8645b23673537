//! What kind of filesystem a path is on, from `statfs(2)` magic numbers.
//!
//! Used to skip pseudo filesystems in a scan (they never hold file capabilities, and
//! walking `/proc` is slow and racy) and to name the filesystem in error messages.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// `statfs(2)` `f_type` values (from `linux/magic.h`).
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const SYSFS_MAGIC: i64 = 0x6265_6572;
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
pub const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
pub const DEBUGFS_MAGIC: i64 = 0x6462_6720;
pub const TRACEFS_MAGIC: i64 = 0x7472_6163;
pub const SECURITYFS_MAGIC: i64 = 0x7365_6375;
pub const SELINUX_MAGIC: i64 = 0xf97c_ff8c;
pub const PSTOREFS_MAGIC: i64 = 0x6165_676c;
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
pub const EFIVARFS_MAGIC: i64 = 0xde5e_81e4;
pub const CONFIGFS_MAGIC: i64 = 0x6265_6570;
pub const FUSECTL_SUPER_MAGIC: i64 = 0x6573_5546;
pub const MQUEUE_MAGIC: i64 = 0x1980_0202;
pub const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;
pub const BINFMTFS_MAGIC: i64 = 0x4249_4e4d;
pub const NFS_SUPER_MAGIC: i64 = 0x6969;
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
pub const RAMFS_MAGIC: i64 = 0x8584_58f6;
pub const EXT4_SUPER_MAGIC: i64 = 0xef53;
pub const XFS_SUPER_MAGIC: i64 = 0x5846_5342;
pub const BTRFS_SUPER_MAGIC: i64 = 0x9123_683e;
pub const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Filesystems that cannot hold file capabilities and are skipped by a scan.
pub fn is_pseudo(f_type: i64) -> bool {
    matches!(
        f_type,
        PROC_SUPER_MAGIC
            | SYSFS_MAGIC
            | DEVPTS_SUPER_MAGIC
            | CGROUP_SUPER_MAGIC
            | CGROUP2_SUPER_MAGIC
            | DEBUGFS_MAGIC
            | TRACEFS_MAGIC
            | SECURITYFS_MAGIC
            | SELINUX_MAGIC
            | PSTOREFS_MAGIC
            | BPF_FS_MAGIC
            | EFIVARFS_MAGIC
            | CONFIGFS_MAGIC
            | FUSECTL_SUPER_MAGIC
            | MQUEUE_MAGIC
            | BINFMTFS_MAGIC
    )
}

/// A readable name for a filesystem type.
pub fn type_name(f_type: i64) -> Option<&'static str> {
    Some(match f_type {
        PROC_SUPER_MAGIC => "procfs",
        SYSFS_MAGIC => "sysfs",
        DEVPTS_SUPER_MAGIC => "devpts",
        CGROUP_SUPER_MAGIC | CGROUP2_SUPER_MAGIC => "cgroupfs",
        DEBUGFS_MAGIC => "debugfs",
        TRACEFS_MAGIC => "tracefs",
        SECURITYFS_MAGIC => "securityfs",
        NFS_SUPER_MAGIC => "NFS",
        TMPFS_MAGIC => "tmpfs",
        RAMFS_MAGIC => "ramfs",
        EXT4_SUPER_MAGIC => "ext4",
        XFS_SUPER_MAGIC => "xfs",
        BTRFS_SUPER_MAGIC => "btrfs",
        OVERLAYFS_SUPER_MAGIC => "overlayfs",
        HUGETLBFS_MAGIC => "hugetlbfs",
        _ => return None,
    })
}

/// `statfs(path).f_type`.
pub fn fs_type(path: &Path) -> Option<i64> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs writes into a zeroed, properly sized struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a valid out-pointer.
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
}

/// `fstatfs(fd).f_type`.
pub fn fd_fs_type(fd: std::os::fd::BorrowedFd<'_>) -> Option<i64> {
    use std::os::fd::AsRawFd;
    // SAFETY: as in `fs_type`.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is borrowed and open; `st` is a valid out-pointer.
    (unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } == 0).then_some(st.f_type as i64)
}

/// The filesystem's name for messages: "ramfs", or "filesystem type 0x…".
pub fn fs_name(path: &Path) -> Option<String> {
    let t = fs_type(path).or_else(|| path.parent().and_then(fs_type))?;
    Some(match type_name(t) {
        Some(n) => n.to_string(),
        None => format!("filesystem type {t:#x}"),
    })
}

/// One line of `/proc/self/mountinfo`, the parts fcap uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The mount ID (field 1), what `statx(STATX_MNT_ID)` reports for a file on it.
    pub id: u64,
    pub point: PathBuf,
    pub nosuid: bool,
    pub noexec: bool,
    pub fstype: String,
}

/// The ID of the mount that holds the file at `path` (`statx` with `STATX_MNT_ID`,
/// Linux 5.8+; a final symlink is followed only when asked: a magic link such as
/// `/proc/PID/exe`). Unlike a path prefix, it names the
/// mount the lookup really ends on when another mount hides one below (a mount
/// under an over-mount, mounts stacked on one point). By path, not through an open
/// file: opening even with O_PATH is an open of /proc/kmsg that verify promises never
/// to make.
pub fn mount_id(path: &Path, follow: bool) -> Option<u64> {
    const STATX_MNT_ID: u32 = 0x1000;
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statx is a valid value of this plain C struct.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `stx` a live, writable statx buffer.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW },
            STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// This process's mounts, or `None` when `/proc/self/mountinfo` cannot be read.
pub fn mounts() -> Option<Vec<Mount>> {
    std::fs::read("/proc/self/mountinfo")
        .ok()
        .map(|t| parse_mountinfo(&t))
}

/// Parse mountinfo (proc(5)), byte-wise since a mount point need not be UTF-8:
/// `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw`. Field 5
/// is the mount point (space, tab, newline and backslash as octal escapes), field 6
/// the per-mount options, and the filesystem type follows the ` - ` separator.
pub fn parse_mountinfo(text: &[u8]) -> Vec<Mount> {
    text.split(|b| *b == b'\n')
        .filter_map(|l| {
            let sep = l.windows(3).position(|w| w == b" - ")?;
            let (left, right) = (&l[..sep], &l[sep + 3..]);
            let mut f = left.split(|b| *b == b' ');
            let id = std::str::from_utf8(f.next()?).ok()?.parse().ok()?;
            let mut f = f.skip(3);
            let point = PathBuf::from(std::ffi::OsString::from_vec(unoctal(f.next()?)));
            let opts: Vec<&[u8]> = f.next()?.split(|b| *b == b',').collect();
            let fstype = right.split(|b| *b == b' ').next().unwrap_or_default();
            Some(Mount {
                id,
                point,
                nosuid: opts.contains(&&b"nosuid"[..]),
                noexec: opts.contains(&&b"noexec"[..]),
                fstype: String::from_utf8_lossy(fstype).into_owned(),
            })
        })
        .collect()
}

/// Undo mountinfo's `\ooo` escapes (a value over 255 is left as written).
fn unoctal(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && let Some(d) = s.get(i + 1..i + 4)
            && d.iter().all(|c| (b'0'..=b'7').contains(c))
            && let Ok(v) = u8::try_from(
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0'),
            )
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_is_parsed_byte_wise() {
        let t = b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                  30 22 0:40 / /mnt/a\\040b\\134c\xff rw,nosuid,noexec - tmpfs tmpfs rw\n\
                  31 22 0:41 / /x\\777\\9 rw - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[1].point,
            PathBuf::from(std::ffi::OsString::from_vec(b"/mnt/a b\\c\xff".to_vec()))
        );
        assert!(m[1].nosuid && m[1].noexec && m[1].fstype == "tmpfs");
        assert!(!m[0].nosuid && m[0].fstype == "ext4");
        assert_eq!(m[2].point, PathBuf::from("/x\\777\\9"));
        assert!(mounts().is_some_and(|m| m.iter().any(|m| m.point == Path::new("/proc"))));
    }

    #[test]
    fn proc_and_sys_are_pseudo() {
        assert_eq!(fs_type(Path::new("/proc")), Some(PROC_SUPER_MAGIC));
        assert!(is_pseudo(fs_type(Path::new("/proc/self")).unwrap()));
        assert!(is_pseudo(fs_type(Path::new("/sys")).unwrap()));
        assert!(!is_pseudo(fs_type(Path::new("/usr")).unwrap()));
        assert_eq!(
            fs_name(Path::new("/proc/self/status")).as_deref(),
            Some("procfs")
        );
    }
}
