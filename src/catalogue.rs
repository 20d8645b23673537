//! What each capability permits, in plain words, and how dangerous it is to hand out.
//!
//! This is the long form behind `fcap explain` and the `DANGER` column of `fcap list`;
//! the one-liners live in [`crate::caps::SUMMARIES`]. The danger levels answer one
//! question: "if any user who can run this file gets the capability, what can that
//! user do?"
//!
//! * **root-equivalent**: a short, well-known path to full root. The list is
//!   [`crate::caps::ROOT_EQUIVALENT`], and a unit test keeps this table in step with it.
//! * **high**: takes over a large part of the system (network, kernel tracing, MAC
//!   policy), or reaches root under common conditions.
//! * **moderate**: can hurt other users or the system (denial of service, reading
//!   other users' data in one subsystem), but not take it over by itself.
//! * **low**: a narrow permission that is routinely granted to services.
//!
//! Sources: capabilities(7), the kernel's `include/uapi/linux/capability.h` comments,
//! and the escalation paths collected in `../shared/spec/users-and-peers.md`.

use crate::caps;
use std::fmt;

/// How much power a capability hands to whoever runs a file that carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Danger {
    Low,
    Moderate,
    High,
    RootEquivalent,
}

impl Danger {
    /// The label used in human output and JSON: `root-equivalent`, `high`, `moderate`, `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Danger::RootEquivalent => "root-equivalent",
            Danger::High => "high",
            Danger::Moderate => "moderate",
            Danger::Low => "low",
        }
    }

    /// One sentence on what the level means for the person granting it.
    pub fn meaning(self) -> &'static str {
        match self {
            Danger::RootEquivalent => {
                "anyone who can run a file carrying it can become root; grant it only to programs only root may run"
            }
            Danger::High => {
                "takes control of a large part of the system, or reaches root under common conditions"
            }
            Danger::Moderate => {
                "can harm other users or the system, but does not take it over on its own"
            }
            Danger::Low => "a narrow permission that services are routinely given",
        }
    }
}

impl fmt::Display for Danger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The long description of one capability.
#[derive(Debug)]
pub struct Detail {
    pub danger: Danger,
    /// What the kernel lets a holder do, as one paragraph.
    pub permits: &'static str,
    /// Why the danger level is what it is, alternatives, and pitfalls.
    pub notes: &'static [&'static str],
}

const fn d(danger: Danger, permits: &'static str, notes: &'static [&'static str]) -> Detail {
    Detail {
        danger,
        permits,
        notes,
    }
}

use Danger::{High, Low, Moderate, RootEquivalent};

/// One entry per capability number 0..=40, in the order of [`caps::NAMES`].
pub const DETAILS: [Detail; 41] = [
    // 0 cap_chown
    d(
        RootEquivalent,
        "Change the owner and the group of any file with chown(2), whoever owns it and whatever groups the caller is in.",
        &[
            "Root-equivalent: take ownership of /etc/shadow or /etc/sudoers, edit it, and log in as root.",
        ],
    ),
    // 1 cap_dac_override
    d(
        RootEquivalent,
        "Skip the read, write and execute permission checks (mode bits and ACLs) on files and directories. Executing still needs at least one execute bit set; immutable files and LSM policies still apply.",
        &["Root-equivalent: write /etc/passwd, /etc/shadow, root's authorized_keys or a cron job."],
    ),
    // 2 cap_dac_read_search
    d(
        RootEquivalent,
        "Read any file and list or search any directory regardless of permissions, and open files by handle with open_by_handle_at(2).",
        &[
            "Root-equivalent: read /etc/shadow, SSH host keys and every secret on disk; open_by_handle_at is the call behind the 'Shocker' container escape.",
        ],
    ),
    // 3 cap_fowner
    d(
        RootEquivalent,
        "Do what only a file's owner may do, on any file: chmod(2), set timestamps, set ACLs and extended attributes, set O_NOATIME, and delete files from sticky directories such as /tmp.",
        &[
            "Root-equivalent: chmod /etc/shadow to world-writable, or make a copy of a root-owned program set-user-ID.",
        ],
    ),
    // 4 cap_fsetid
    d(
        Moderate,
        "Keep the set-user-ID and set-group-ID bits when a file is written or its owner changes (the kernel normally clears them), and set the set-group-ID bit on files whose group the caller is not in.",
        &[
            "Dangerous together with a way to modify set-user-ID programs; harmless to most services.",
        ],
    ),
    // 5 cap_kill
    d(
        Moderate,
        "Send any signal to any process, including processes of root and of other users.",
        &["Can stop or kill security daemons and other users' work; no direct way to root."],
    ),
    // 6 cap_setgid
    d(
        RootEquivalent,
        "Set any group ID and any supplementary group list (setgid, setgroups), write group ID maps of user namespaces, and send forged group IDs over UNIX sockets.",
        &[
            "Root-equivalent: join the 'disk' group (raw access to the root filesystem), 'shadow', or 'docker'.",
        ],
    ),
    // 7 cap_setuid
    d(
        RootEquivalent,
        "Set any user ID (setuid, setreuid, setresuid, setfsuid), write user ID maps of user namespaces, and send forged user IDs over UNIX sockets.",
        &["Root-equivalent by definition: setuid(0)."],
    ),
    // 8 cap_setpcap
    d(
        RootEquivalent,
        "Add any capability of the bounding set to the caller's inheritable set, drop capabilities from the bounding set, and change the securebits flags.",
        &[
            "Counted as root-equivalent: with a full inheritable set, executing any file that carries inheritable file capabilities hands those capabilities over, and securebits change how root itself is treated.",
        ],
    ),
    // 9 cap_linux_immutable
    d(
        Moderate,
        "Set and clear the immutable and append-only attributes of files (chattr +i, +a).",
        &[
            "Can remove the append-only protection of log files, or make files nobody can delete until the flag is cleared.",
        ],
    ),
    // 10 cap_net_bind_service
    d(
        Low,
        "Bind TCP, UDP and SCTP sockets to privileged ports: the ports below net.ipv4.ip_unprivileged_port_start (1024 unless changed).",
        &[
            "The capability a web server needs to listen on ports 80 and 443 without running as root.",
            "The port limit is a sysctl per network namespace: with net.ipv4.ip_unprivileged_port_start=0 (Docker since 20.10, Podman and containerd 2.0 set it in containers that have their own network) every port is unprivileged and this capability changes nothing.",
            "Alternatives: systemd socket activation or AmbientCapabilities=CAP_NET_BIND_SERVICE for a service, or a reverse proxy on the privileged port.",
            "Granted to an interpreter (node, python), it applies to every script that interpreter runs, not just yours.",
        ],
    ),
    // 11 cap_net_broadcast
    d(
        Low,
        "Meant for socket broadcasts and listening to multicast; the kernel does not check it anywhere today.",
        &["Granting it has no effect on current kernels."],
    ),
    // 12 cap_net_admin
    d(
        High,
        "Administer the network: configure interfaces, addresses and routes, change firewall (netfilter, nftables) and traffic-control rules, enable promiscuous mode, bind any address for transparent proxying, and set privileged socket options such as SO_MARK.",
        &[
            "Can redirect or intercept the host's traffic and switch off its firewall; it also opens a large kernel attack surface.",
        ],
    ),
    // 13 cap_net_raw
    d(
        Moderate,
        "Open RAW and PACKET sockets (craft any packet, capture traffic on the interfaces) and bind any address for transparent proxying.",
        &[
            "Lets a program sniff every packet the host sees and spoof packets. ping and packet-capture tools need it.",
            "For ping alone, the sysctl net.ipv4.ping_group_range allows unprivileged ICMP sockets instead.",
        ],
    ),
    // 14 cap_ipc_lock
    d(
        Low,
        "Lock memory into RAM beyond RLIMIT_MEMLOCK (mlock, mlockall, MAP_LOCKED, SHM_LOCK) and use huge pages for shared memory.",
        &["At worst it pins enough memory to starve the rest of the system."],
    ),
    // 15 cap_ipc_owner
    d(
        Moderate,
        "Skip the permission checks on System V IPC objects: message queues, semaphore sets and shared memory segments of any user.",
        &[
            "Reads and modifies the shared memory of other programs, such as databases that use System V shared memory.",
        ],
    ),
    // 16 cap_sys_module
    d(
        RootEquivalent,
        "Load and unload kernel modules (init_module, finit_module, delete_module).",
        &["Root-equivalent and more: a module runs arbitrary code inside the kernel."],
    ),
    // 17 cap_sys_rawio
    d(
        RootEquivalent,
        "Raw hardware access: I/O ports (iopl, ioperm), /dev/mem and /proc/kcore, raw SCSI commands, model-specific registers and the FIBMAP ioctl.",
        &["Root-equivalent: rewrite kernel memory or the disk below the filesystem."],
    ),
    // 18 cap_sys_chroot
    d(
        High,
        "Change the root directory with chroot(2); with CAP_SYS_ADMIN, also enter other mount namespaces with setns(2).",
        &[
            "A chroot holding a hard link to a set-user-ID-root program and a forged dynamic loader gives root. fs.protected_hardlinks=1 (the default on current distributions) blocks hard links to files the caller does not own.",
        ],
    ),
    // 19 cap_sys_ptrace
    d(
        RootEquivalent,
        "Trace and inspect any process: ptrace(2), process_vm_readv/writev, /proc/PID/mem, and kcmp(2).",
        &["Root-equivalent: inject code into any process that runs as root."],
    ),
    // 20 cap_sys_pacct
    d(
        Low,
        "Switch process accounting on and off with acct(2).",
        &["The accounting file is opened with the caller's own permissions."],
    ),
    // 21 cap_sys_admin
    d(
        RootEquivalent,
        "A catch-all for system administration: mount and unmount filesystems, create and enter namespaces, swapon, sethostname, quotas, keyrings, trusted and security extended attributes, many device ioctls, and more than a hundred other checks in the kernel.",
        &[
            "Root-equivalent: mount a filesystem over /etc, among many other ways. Look for a narrower capability first.",
        ],
    ),
    // 22 cap_sys_boot
    d(
        High,
        "Reboot and power off the machine (reboot(2)) and load a new kernel for later execution (kexec_load, kexec_file_load).",
        &[
            "Arguably root-equivalent: kexec boots a kernel of the caller's choosing, unless the kernel is locked down or only accepts signed images.",
        ],
    ),
    // 23 cap_sys_nice
    d(
        Moderate,
        "Raise priorities (negative nice values), use real-time scheduling (SCHED_FIFO, SCHED_RR), and change the scheduling, CPU affinity and I/O priority of any process.",
        &["A real-time busy loop can freeze a machine; no direct way to root."],
    ),
    // 24 cap_sys_resource
    d(
        Moderate,
        "Exceed resource limits: raise hard rlimits, use the blocks ext4 reserves for root, override disk quotas, and pass the limits on message queues, pipes and consoles.",
        &["Can fill disks and memory that the limits were protecting."],
    ),
    // 25 cap_sys_time
    d(
        Moderate,
        "Set the system clock (settimeofday, clock_settime, adjtimex) and the hardware real-time clock.",
        &[
            "A wrong clock breaks TLS certificate checks, Kerberos, one-time passwords, log timelines and scheduled jobs.",
        ],
    ),
    // 26 cap_sys_tty_config
    d(
        Moderate,
        "Configure virtual terminals: vhangup(2), keyboard maps and other privileged console ioctls.",
        &[
            "A changed console keymap can turn keys that root types at the console into commands of the caller's choosing.",
        ],
    ),
    // 27 cap_mknod
    d(
        High,
        "Create block and character device files with mknod(2).",
        &[
            "Arguably root-equivalent on a host: a device node for the root disk, owned by the caller, gives raw access to every file on it. Containers normally block this with the device cgroup.",
        ],
    ),
    // 28 cap_lease
    d(
        Low,
        "Take file leases (fcntl F_SETLEASE) on files the caller does not own.",
        &["Can delay other programs that open the file, for a bounded time."],
    ),
    // 29 cap_audit_write
    d(
        Low,
        "Write user-space records into the kernel audit log.",
        &["Can forge audit records (for example fake login events)."],
    ),
    // 30 cap_audit_control
    d(
        High,
        "Switch kernel auditing on and off, change audit rules, and read the audit status and rules.",
        &["Can blind the audit trail that would record an attack."],
    ),
    // 31 cap_setfcap
    d(
        RootEquivalent,
        "Set file capabilities (the security.capability attribute) on files, and map user ID 0 into a new user namespace.",
        &[
            "Root-equivalent: copy a program, grant the copy cap_setuid, run it. fcap grant, revoke, set and apply need this capability themselves.",
        ],
    ),
    // 32 cap_mac_override
    d(
        High,
        "Override Mandatory Access Control checks; only the Smack security module uses it.",
        &["On a Smack system it bypasses the policy; elsewhere it has no effect."],
    ),
    // 33 cap_mac_admin
    d(
        High,
        "Change Mandatory Access Control policy and state: load or replace AppArmor profiles, configure Smack, and let SELinux set labels the policy does not know.",
        &["Can switch off the confinement of every other program on the machine."],
    ),
    // 34 cap_syslog
    d(
        Moderate,
        "Use the privileged syslog(2) operations (read and clear the kernel log when dmesg_restrict is set, set the console log level) and see kernel addresses where kptr_restrict=1 hides them.",
        &["Kernel addresses defeat address-space randomisation, which helps kernel exploits."],
    ),
    // 35 cap_wake_alarm
    d(
        Low,
        "Set timers that wake the system from suspend (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM).",
        &["At worst it drains a laptop's battery."],
    ),
    // 36 cap_block_suspend
    d(
        Low,
        "Keep the system from suspending (EPOLLWAKEUP, /proc/sys/kernel/wake_lock).",
        &["At worst it drains a laptop's battery."],
    ),
    // 37 cap_audit_read
    d(
        Moderate,
        "Read the kernel audit log through a multicast netlink socket.",
        &["Audit records can hold every user's commands, file names and authentication events."],
    ),
    // 38 cap_perfmon
    d(
        High,
        "Use performance monitoring without restrictions: perf_event_open(2) system-wide and on the kernel, whatever perf_event_paranoid says, and (with CAP_BPF) load tracing BPF programs.",
        &["Observes every process on the machine; with CAP_BPF it can read kernel memory."],
    ),
    // 39 cap_bpf
    d(
        High,
        "Create BPF maps, load BPF programs and use privileged BPF features; several program types need CAP_PERFMON or CAP_NET_ADMIN as well.",
        &[
            "Exposes a large kernel attack surface; combined with CAP_PERFMON or CAP_NET_ADMIN it reads kernel memory or rewrites traffic.",
        ],
    ),
    // 40 cap_checkpoint_restore
    d(
        Moderate,
        "Checkpoint and restore support (CRIU): choose the PID of new processes (ns_last_pid, clone3 set_tid) and read the /proc/PID/map_files links of other processes.",
        &["Helps an attacker impersonate a process by reusing its PID."],
    ),
];

/// The long description of capability `n`, or `None` past the table.
pub fn detail(n: u32) -> Option<&'static Detail> {
    DETAILS.get(n as usize)
}

/// How dangerous capability `n` is, or `None` for numbers fcap does not know.
/// Root-equivalence comes from [`caps::is_root_equivalent`], the one list `grant` and
/// `explain` share.
pub fn danger(n: u32) -> Option<Danger> {
    if caps::is_root_equivalent(n) {
        return Some(Danger::RootEquivalent);
    }
    detail(n).map(|d| d.danger)
}

/// Where the unprivileged-port limit of this network namespace lives.
pub const UNPRIVILEGED_PORT_START: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";

/// `net.ipv4.ip_unprivileged_port_start` of the caller's network namespace, if readable.
pub fn unprivileged_port_start() -> Option<u32> {
    std::fs::read_to_string(UNPRIVILEGED_PORT_START)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What the port limit means on this system, as one sentence for `explain`.
pub fn port_note(start: Option<u32>) -> String {
    match start {
        Some(0) => "Here net.ipv4.ip_unprivileged_port_start is 0: every port is unprivileged, so this capability changes nothing in this network namespace.".to_string(),
        Some(1) => "Here net.ipv4.ip_unprivileged_port_start is 1: only port 0 would need this capability.".to_string(),
        Some(p) => format!(
            "Here net.ipv4.ip_unprivileged_port_start is {p}: binding ports 1-{} needs this capability.",
            p - 1
        ),
        None => format!("{UNPRIVILEGED_PORT_START} could not be read, so the port limit here is unknown."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_equivalent_entries_match_the_shared_list() {
        for n in 0..DETAILS.len() as u32 {
            assert_eq!(
                DETAILS[n as usize].danger == Danger::RootEquivalent,
                caps::is_root_equivalent(n),
                "{}",
                caps::name(n)
            );
        }
    }

    #[test]
    fn every_entry_says_something() {
        for (n, e) in DETAILS.iter().enumerate() {
            assert!(e.permits.len() > 40, "{}", caps::NAMES[n]);
            assert!(!e.notes.is_empty(), "{}", caps::NAMES[n]);
            assert!(e.permits.ends_with('.'), "{}", caps::NAMES[n]);
        }
        assert_eq!(danger(41), None);
        assert_eq!(danger(7), Some(Danger::RootEquivalent));
    }

    #[test]
    fn port_note_covers_the_edges() {
        assert!(port_note(Some(0)).contains("changes nothing"));
        assert!(port_note(Some(1024)).contains("ports 1-1023"));
        assert!(port_note(None).contains("could not be read"));
    }
}
