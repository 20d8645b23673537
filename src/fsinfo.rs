//! What kind of filesystem a path is on, from `statfs(2)` magic numbers.
//!
//! Used to skip pseudo filesystems in a scan (they never hold file capabilities, and
//! walking `/proc` is slow and racy) and to name the filesystem in error messages.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

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
