//! The capability catalogue and the 64-bit capability set.
//!
//! Numbers 0..=40 carry libcap 2.66's names (`cap_chown` .. `cap_checkpoint_restore`);
//! the kernel's ABI has room for 64 bits, and numbers past the table are printed as
//! plain decimals, exactly as `cap_to_name()` does. What "all" means is decided by the
//! *running* kernel (`/proc/sys/kernel/cap_last_cap`), never by the table length: a
//! kernel with fewer capabilities prints `all=ep` differently (libcap.md §2.3).

use std::fmt;
use std::sync::OnceLock;

/// libcap 2.66's name table (`__CAP_BITS` = 41), indexed by capability number.
pub const NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// The ABI limit: capability sets are two 32-bit words (`__CAP_MAXBITS`).
pub const MAX_BITS: u32 = 64;

/// Well-known capability numbers used by the tool itself.
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SETFCAP: u32 = 31;

/// Name of capability `n`: the table name, or the decimal number past the table.
pub fn name(n: u32) -> String {
    match NAMES.get(n as usize) {
        Some(s) => (*s).to_string(),
        None => n.to_string(),
    }
}

/// How many capabilities the running kernel knows (`cap_last_cap` + 1).
///
/// Read once from `/proc/sys/kernel/cap_last_cap`; where procfs is missing (a chroot,
/// some containers) fall back to probing `PR_CAPBSET_READ` like libcap's
/// `cap_max_bits()` does, and to the table size as a last resort.
pub fn kernel_cap_count() -> u32 {
    static COUNT: OnceLock<u32> = OnceLock::new();
    *COUNT.get_or_init(|| {
        if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            && let Ok(last) = s.trim().parse::<u32>()
            && last < MAX_BITS
        {
            return last + 1;
        }
        probe_cap_count().unwrap_or(NAMES.len() as u32)
    })
}

/// Binary search over `prctl(PR_CAPBSET_READ, n)`, which fails with EINVAL for
/// numbers the kernel does not know.
fn probe_cap_count() -> Option<u32> {
    let known = |n: u32| in_bounding_set(n).is_some();
    if !known(0) {
        return None;
    }
    let (mut lo, mut hi) = (1u32, MAX_BITS);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if known(mid) { lo = mid + 1 } else { hi = mid }
    }
    Some(lo)
}

/// Whether capability `n` is in this thread's bounding set, or `None` when the running
/// kernel does not know `n` (PR_CAPBSET_READ fails with EINVAL).
pub fn in_bounding_set(n: u32) -> Option<bool> {
    // SAFETY: PR_CAPBSET_READ only reads the calling thread's bounding set; no pointers.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, n as libc::c_ulong, 0, 0, 0) };
    (r >= 0).then_some(r == 1)
}

/// (the running kernel knows `n`, `n` is in this thread's bounding set). The
/// bounding-set probe is the kernel's own answer; cap_last_cap is the fallback
/// when prctl is filtered (seccomp).
pub fn support(n: u32) -> (bool, bool) {
    let bound = in_bounding_set(n);
    (
        bound.is_some() || n < kernel_cap_count(),
        bound.unwrap_or(false),
    )
}

/// An error from looking up one capability name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCap {
    pub given: String,
    /// The names the user probably meant, best first (at most three).
    pub suggestions: Vec<&'static str>,
}

impl fmt::Display for UnknownCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown capability '{}'", self.given)?;
        write!(f, "{}", did_you_mean(&self.suggestions))
    }
}

/// ` (did you mean 'a'?)`, ` (did you mean 'a', 'b' or 'c'?)`, or nothing.
pub fn did_you_mean(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        [rest @ .., last] => format!(" (did you mean {} or {last}?)", rest.join(", ")),
    }
}

impl std::error::Error for UnknownCap {}

/// Look up a capability by the names users write: `cap_net_raw`, `CAP_NET_RAW`,
/// `net_raw` (any case), or a number below 64 (decimal, `0x` hex or `0` octal, as
/// libcap's `strtoul(…, 0)` reads them).
pub fn lookup(given: &str) -> Result<u32, UnknownCap> {
    let unknown = || UnknownCap {
        given: given.to_string(),
        suggestions: suggest(given),
    };
    if given.starts_with(|c: char| c.is_ascii_digit()) {
        return match parse_c_ulong(given) {
            Some((n, rest)) if rest.is_empty() && n < u64::from(MAX_BITS) => Ok(n as u32),
            _ => Err(unknown()),
        };
    }
    let lower = given.to_ascii_lowercase();
    let full = if lower.starts_with("cap_") {
        lower
    } else {
        format!("cap_{lower}")
    };
    NAMES
        .iter()
        .position(|n| *n == full)
        .map(|i| i as u32)
        .ok_or_else(unknown)
}

/// The table names a user most likely meant by an unknown one: names that contain
/// it as whole words (`bind`, `net_bind` → cap_net_bind_service), else names that
/// contain it at all, else the closest by edit distance (about one typo per four
/// characters, like clap's suggestions: `net_bind_servce`). At most three, so a
/// suggestion stays a suggestion rather than a listing ('fcap list' is that).
pub fn suggest(given: &str) -> Vec<&'static str> {
    let lower = given.to_ascii_lowercase().replace('-', "_");
    let bare = lower.strip_prefix("cap_").unwrap_or(&lower);
    if bare.len() < 2 {
        return Vec::new();
    }
    let words = |n: &str| format!("_{}_", &n[4..]);
    let whole = format!("_{bare}_");
    let by_word: Vec<&'static str> = NAMES
        .iter()
        .copied()
        .filter(|n| words(n).contains(&whole))
        .collect();
    let hits = if !by_word.is_empty() {
        by_word
    } else if bare.len() >= 3 {
        NAMES
            .iter()
            .copied()
            .filter(|n| n[4..].contains(bare))
            .collect()
    } else {
        Vec::new()
    };
    if !hits.is_empty() {
        return hits.into_iter().take(3).collect();
    }
    let Some((dist, best)) = NAMES
        .iter()
        .map(|n| (edit_distance(bare, &n[4..]), *n))
        .min_by_key(|(d, _)| *d)
    else {
        return Vec::new();
    };
    if dist <= 1.max(bare.len() / 4) {
        vec![best]
    } else {
        Vec::new()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// C's `strtoul(s, &end, 0)` for the digits libcap accepts: returns the value and the
/// unparsed rest, or `None` on overflow. `0x` needs a hex digit after it, otherwise
/// strtoul reads just the `0` (and so do we).
pub fn parse_c_ulong(s: &str) -> Option<(u64, &str)> {
    let b = s.as_bytes();
    let (radix, start) =
        if b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' && b[2].is_ascii_hexdigit() {
            (16, 2)
        } else if b.first() == Some(&b'0') {
            (8, 0)
        } else {
            (10, 0)
        };
    let digits = b[start..]
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    let end = start + digits;
    let mut v: u64 = 0;
    for c in &b[start..end] {
        let d = u64::from((*c as char).to_digit(radix)?);
        v = v.checked_mul(u64::from(radix))?.checked_add(d)?;
    }
    Some((v, &s[end..]))
}

/// A set of capability numbers 0..64, as the kernel stores it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

impl CapSet {
    pub const EMPTY: CapSet = CapSet(0);

    /// Every capability the running kernel knows.
    pub fn all() -> CapSet {
        CapSet::first(kernel_cap_count())
    }

    /// Bits `0..n`.
    pub fn first(n: u32) -> CapSet {
        CapSet(if n >= 64 { u64::MAX } else { (1u64 << n) - 1 })
    }

    pub fn single(n: u32) -> CapSet {
        CapSet(1u64.checked_shl(n).unwrap_or(0))
    }

    pub fn has(self, n: u32) -> bool {
        n < 64 && self.0 & (1 << n) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Ascending capability numbers in the set.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |n| self.has(*n))
    }

    /// `cap_*` names in ascending order (numbers past the table as decimals).
    pub fn names(self) -> Vec<String> {
        self.iter().map(name).collect()
    }
}

impl fmt::Display for CapSet {
    /// Comma-joined names, or `(none)`: the human form used in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        f.write_str(&self.names().join(","))
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapSet({:#x}={})", self.0, self)
    }
}

impl std::ops::BitOr for CapSet {
    type Output = CapSet;
    fn bitor(self, o: CapSet) -> CapSet {
        CapSet(self.0 | o.0)
    }
}
impl std::ops::BitAnd for CapSet {
    type Output = CapSet;
    fn bitand(self, o: CapSet) -> CapSet {
        CapSet(self.0 & o.0)
    }
}
impl std::ops::Not for CapSet {
    type Output = CapSet;
    fn not(self) -> CapSet {
        CapSet(!self.0)
    }
}
impl std::ops::Sub for CapSet {
    type Output = CapSet;
    fn sub(self, o: CapSet) -> CapSet {
        CapSet(self.0 & !o.0)
    }
}

/// One line per capability, in the project's own words (used by `read -l` and `list`).
pub const SUMMARIES: [&str; 41] = [
    "change the owner and group of any file",
    "bypass read, write and execute permission checks on files",
    "bypass read permission on files and search permission on directories",
    "act as the owner of any file (chmod, utime, set ACLs and xattrs)",
    "keep set-user-ID and set-group-ID bits when modifying files",
    "send signals to any process",
    "change group IDs and supplementary groups arbitrarily",
    "change user IDs arbitrarily (become any user)",
    "grant or drop capabilities in its bounding set and securebits",
    "set the immutable and append-only file attributes",
    "bind TCP/UDP sockets to privileged ports (below 1024)",
    "make socket broadcasts and listen to multicast (unused by the kernel)",
    "configure network interfaces, routing, firewalls and more",
    "use raw and packet sockets (ping, packet capture)",
    "lock memory (mlock, mlockall, huge pages)",
    "bypass permission checks on System V IPC objects",
    "load and unload kernel modules",
    "access I/O ports and raw devices (/dev/mem, iopl)",
    "use chroot(2)",
    "trace and inspect any process (ptrace, process_vm_readv)",
    "turn process accounting on and off",
    "a broad set of system administration operations (mount, namespaces, quotas...)",
    "reboot the system and load new kernels (kexec)",
    "raise process priority and change scheduling of any process",
    "exceed resource limits and quotas",
    "set the system clock",
    "configure virtual terminals (vhangup, some ioctls)",
    "create device and special files with mknod(2)",
    "take file leases on files it does not own",
    "write records to the kernel audit log",
    "configure the kernel audit subsystem",
    "set file capabilities on any file",
    "override Mandatory Access Control (Smack)",
    "configure Mandatory Access Control (Smack)",
    "read the kernel log and use syslog(2) privileged operations",
    "set alarms that wake the system from suspend",
    "prevent the system from suspending (epoll wakeups)",
    "read the audit log through a multicast netlink socket",
    "use performance monitoring (perf_event_open) system-wide",
    "load BPF programs and create BPF maps",
    "checkpoint and restore processes (set PIDs, CRIU)",
];

/// The one-line summary of capability `n`, or a note for numbers past the table.
pub fn summary(n: u32) -> &'static str {
    SUMMARIES
        .get(n as usize)
        .copied()
        .unwrap_or("not known to this version of fcap")
}

/// Capabilities that give, or trivially lead to, full root: granting one of these to a
/// file makes every user who can run it as good as root (capabilities(7) and the
/// well-known escalation paths: load a module, ptrace root, write any file, set any
/// uid, set file capabilities, raw device access).
pub const ROOT_EQUIVALENT: [u32; 12] = [
    0,  // cap_chown: take ownership of /etc/shadow, then edit it
    1,  // cap_dac_override: write any file
    2,  // cap_dac_read_search: read any file (shadow, keys), open_by_handle_at escapes
    3,  // cap_fowner: chmod any file
    6,  // cap_setgid
    7,  // cap_setuid
    8,  // cap_setpcap
    16, // cap_sys_module
    17, // cap_sys_rawio
    19, // cap_sys_ptrace
    21, // cap_sys_admin
    31, // cap_setfcap
];

/// True for capabilities in [`ROOT_EQUIVALENT`].
pub fn is_root_equivalent(n: u32) -> bool {
    ROOT_EQUIVALENT.contains(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_matches_the_caps_crate() {
        for (n, nm) in NAMES.iter().enumerate() {
            assert_eq!(lookup(nm), Ok(n as u32));
            assert_eq!(lookup(&nm.to_uppercase()), Ok(n as u32));
            assert_eq!(lookup(&nm[4..]), Ok(n as u32));
            // The caps crate numbers its enum after the kernel header; a rename or a
            // renumbering there would show up here.
            let c = caps::Capability::from_str_canonical(nm);
            assert_eq!(c.map(|c| c.index() as usize), Some(n), "{nm}");
        }
    }

    trait FromCanon {
        fn from_str_canonical(s: &str) -> Option<caps::Capability>;
    }
    impl FromCanon for caps::Capability {
        fn from_str_canonical(s: &str) -> Option<caps::Capability> {
            s.to_uppercase().parse().ok()
        }
    }

    #[test]
    fn numbers_follow_strtoul_base_rules() {
        assert_eq!(lookup("12"), Ok(12));
        assert_eq!(lookup("0x10"), Ok(16));
        assert_eq!(lookup("0X29"), Ok(41));
        assert_eq!(lookup("041"), Ok(33));
        assert_eq!(lookup("63"), Ok(63));
        assert!(lookup("64").is_err());
        assert!(lookup("08").is_err());
        assert!(lookup("99999999999999999999999").is_err());
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let e = lookup("net_bind_servce").unwrap_err();
        assert_eq!(e.suggestions, ["cap_net_bind_service"]);
        assert_eq!(
            e.to_string(),
            "unknown capability 'net_bind_servce' (did you mean 'cap_net_bind_service'?)"
        );
        for typed in [
            "net_bind",
            "bind",
            "NET_BIND",
            "cap_net_bind_servce",
            "CAP_NET_BIND",
        ] {
            assert_eq!(suggest(typed), ["cap_net_bind_service"], "{typed}");
        }
        // Whole words first: "admin" is cap_sys_admin, cap_net_admin...; "raw" one.
        assert_eq!(suggest("raw"), ["cap_net_raw"]);
        assert_eq!(suggest("sys_adm"), ["cap_sys_admin"]);
        assert_eq!(
            lookup("net").unwrap_err().to_string(),
            "unknown capability 'net' (did you mean 'cap_net_bind_service', 'cap_net_broadcast' or 'cap_net_admin'?)"
        );
        assert!(lookup("frobnicate").unwrap_err().suggestions.is_empty());
        assert!(lookup("cap_").is_err());
        assert!(lookup("cap_41").is_err());
    }

    #[test]
    fn names_past_the_table_are_decimal() {
        assert_eq!(name(40), "cap_checkpoint_restore");
        assert_eq!(name(41), "41");
        assert_eq!(
            CapSet(0b101).names(),
            vec!["cap_chown", "cap_dac_read_search"]
        );
    }

    #[test]
    fn kernel_count_matches_procfs() {
        let s = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        assert_eq!(kernel_cap_count(), s.trim().parse::<u32>().unwrap() + 1);
        assert_eq!(probe_cap_count(), Some(kernel_cap_count()));
    }
}
