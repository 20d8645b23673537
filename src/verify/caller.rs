//! Who calls `execve`: this process, a running process (`--pid`), or a simulated
//! fresh process (`--user`, `--profile` and the set overrides).
//!
//! The rule for a simulated caller (shared spec verify-caller.md): it is a process
//! that was itself just exec'd in the described state, e.g. a shell started with
//! those ids and sets that then runs `exec FILE`. Its permitted set is therefore what
//! the kernel gave that shell: its ambient set for a non-root user (or root under
//! SECBIT_NOROOT), `bounding ∪ inheritable` for root.

use super::model::{Caller, OwnNs, UserNs};
use super::runtime::engine::{self, Engine};
use crate::caps::{self, CapSet};
use crate::users;
use anyhow::Context;

/// Deployment targets with a known capability setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Docker's default: the bounding set is the 14 capabilities moby grants
    /// (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP,
    /// SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE), empty inheritable and
    /// ambient sets; root unless --user.
    Docker,
    /// A Kubernetes Pod Security "baseline" container: the most a baseline pod may
    /// hold, Docker's defaults without NET_RAW (AUDIT_WRITE, CHOWN, DAC_OVERRIDE,
    /// FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP,
    /// SETUID, SYS_CHROOT), started by --runtime (containerd by default).
    K8sBaseline,
    /// A Kubernetes Pod Security "restricted" container: capabilities drop ALL +
    /// add NET_BIND_SERVICE, no_new_privs (allowPrivilegeEscalation: false), a
    /// non-root user (--user required), started by --runtime (containerd by
    /// default). containerd and CRI-O put the added capability in the bounding,
    /// effective and permitted sets, so a `=ep` entrypoint keeps it; Docker
    /// (cri-dockerd) gives a non-root user the bounding set only. `--drop
    /// net_bind_service` is the same pod without the added capability.
    K8sRestricted,
}

/// Docker's default capability list (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT: [u32; 14] = [
    0,  // chown
    1,  // dac_override
    4,  // fsetid
    3,  // fowner
    27, // mknod
    13, // net_raw
    6,  // setgid
    7,  // setuid
    31, // setfcap
    8,  // setpcap
    10, // net_bind_service
    18, // sys_chroot
    5,  // kill
    29, // audit_write
];

const CAP_NET_RAW: u32 = 13;

/// [`DOCKER_DEFAULT`] as a set.
pub fn docker_default() -> CapSet {
    DOCKER_DEFAULT
        .iter()
        .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c))
}

/// What the command line asks for.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub user: Option<String>,
    pub pid: Option<u32>,
    pub inheritable: Option<CapSet>,
    pub ambient: Option<CapSet>,
    pub bounding: Option<CapSet>,
    pub drop: Option<CapSet>,
    pub no_new_privs: bool,
    pub noroot: bool,
    pub profile: Option<Profile>,
    /// The engine a profile's container runs on (`--runtime`).
    pub runtime: Option<Engine>,
    /// Resolve `user` in an image's account files instead of the host's.
    pub accounts: Option<super::runtime::ImageAccounts>,
}

impl Request {
    fn simulates(&self) -> bool {
        self.user.is_some()
            || self.inheritable.is_some()
            || self.ambient.is_some()
            || self.bounding.is_some()
            || self.drop.is_some()
            || self.no_new_privs
            || self.noroot
            || self.profile.is_some()
    }
}

/// The caller and how it was obtained.
#[derive(Clone, Debug)]
pub struct Described {
    pub caller: Caller,
    /// "this process", "process 1234", "a new process of user nobody"…
    pub source: String,
    pub user_name: Option<String>,
    /// Caveats about what could not be known.
    pub notes: Vec<String>,
}

/// The lines of `/proc/PID/status` that matter (kernel-exec.md §4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub groups: Vec<u32>,
    pub inheritable: CapSet,
    pub permitted: CapSet,
    pub effective: CapSet,
    pub bounding: CapSet,
    pub ambient: CapSet,
    pub no_new_privs: bool,
    pub tracer: u32,
}

/// Parse `/proc/PID/status` text.
pub fn parse_status(text: &str) -> anyhow::Result<Status> {
    let mut s = Status::default();
    let mut seen = 0;
    for line in text.lines() {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let val = val.trim();
        let hex = || u64::from_str_radix(val, 16).map(CapSet);
        let ids = || -> [u32; 4] {
            let v: Vec<u32> = val
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            [0, 1, 2, 3].map(|i| v.get(i).copied().unwrap_or(0))
        };
        match key {
            "Uid" => (s.uid, seen) = (ids(), seen + 1),
            "Gid" => (s.gid, seen) = (ids(), seen + 1),
            "Groups" => {
                s.groups = val
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            }
            "CapInh" => (s.inheritable, seen) = (hex()?, seen + 1),
            "CapPrm" => (s.permitted, seen) = (hex()?, seen + 1),
            "CapEff" => (s.effective, seen) = (hex()?, seen + 1),
            "CapBnd" => (s.bounding, seen) = (hex()?, seen + 1),
            "CapAmb" => s.ambient = hex()?,
            "NoNewPrivs" => s.no_new_privs = val == "1",
            "TracerPid" => s.tracer = val.parse().unwrap_or(0),
            _ => {}
        }
    }
    anyhow::ensure!(
        seen == 6,
        "not a /proc/PID/status file (Uid, Gid or Cap lines missing)"
    );
    Ok(s)
}

fn read_status(pid: &str) -> anyhow::Result<Status> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            anyhow::anyhow!("no process with pid {pid}")
        } else {
            crate::error::io_at_path(std::path::Path::new(&path), &e, false)
        }
    })?;
    parse_status(&text).with_context(|| format!("'{path}'"))
}

/// SECBIT_NOROOT of this thread (`prctl(PR_GET_SECUREBITS)`); /proc does not show
/// securebits, so this is the only source.
fn own_noroot() -> bool {
    // SAFETY: PR_GET_SECUREBITS only reads the calling thread's securebits.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    bits >= 0 && bits & 1 != 0
}

/// Whether the tracer counts as privileged (`ptracer_capable`): approximated by its
/// current effective set (the kernel keeps the set it had at attach time).
fn tracer_trusted(tracer: u32) -> bool {
    read_status(&tracer.to_string())
        .map(|t| t.effective.has(caps::CAP_SYS_PTRACE))
        .unwrap_or(false)
}

fn from_status(s: &Status, noroot: bool) -> Caller {
    Caller {
        uid: s.uid[0],
        euid: s.uid[1],
        gid: s.gid[0],
        egid: s.gid[1],
        fsuid: s.uid[3],
        fsgid: s.gid[3],
        groups: s.groups.clone(),
        inheritable: s.inheritable,
        permitted: s.permitted,
        effective: s.effective,
        ambient: s.ambient,
        bounding: s.bounding,
        noroot,
        no_new_privs: s.no_new_privs,
        untrusted_tracer: s.tracer != 0 && !tracer_trusted(s.tracer),
        shared_fs: false,
        userns: None,
        own_ns: None,
    }
}

/// verify's own user namespace, when it is not the initial one (verify runs inside
/// a container or `unshare --user`): its maps and the overflow ids.
fn own_namespace() -> Option<OwnNs> {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/self/{f}"))
            .ok()
            .and_then(|t| parse_id_map(&t))
    };
    let overflow = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(65534)
    };
    let uid_map = read("uid_map")?;
    if uid_map == [[0, 0, u32::MAX]] {
        return None;
    }
    Some(OwnNs {
        uid_map,
        gid_map: read("gid_map")?,
        overflow_uid: overflow("overflowuid"),
        overflow_gid: overflow("overflowgid"),
    })
}

/// Parse a `uid_map` or `gid_map`: lines of three numbers.
pub fn parse_id_map(text: &str) -> Option<Vec<[u32; 3]>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<u32> = l
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            <[u32; 3]>::try_from(v).ok()
        })
        .collect()
}

/// The user namespace of process `pid`, when it is not ours: its maps as they read
/// from here (the second column in our ids), and whether its parent is ours.
fn user_namespace(pid: u32, notes: &mut Vec<String>) -> Option<UserNs> {
    use std::os::unix::fs::MetadataExt;
    let ns = format!("/proc/{pid}/ns/user");
    let theirs = std::fs::metadata(&ns).ok()?;
    let ours = std::fs::metadata("/proc/self/ns/user").ok()?;
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return None;
    }
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{f}"))
            .ok()
            .and_then(|t| parse_id_map(&t))
            .unwrap_or_default()
    };
    let u = UserNs {
        uid_map: read("uid_map"),
        gid_map: read("gid_map"),
        nested: parent_is_not(&ns, &ours),
    };
    let show = |m: &[[u32; 3]]| {
        if m.is_empty() {
            "nothing".to_string()
        } else {
            m.iter()
                .map(|[i, o, n]| format!("{i}-{} -> {o}-{}", i + (n - 1), o + (n - 1)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    notes.push(format!(
        "process {pid} runs in another user namespace: its uids {} and gids {} (ids here); set-ID bits and DAC override count only over files whose owner and group are mapped there, and its root is uid 0 there",
        show(&u.uid_map),
        show(&u.gid_map)
    ));
    if u.nested {
        notes.push("that user namespace is nested below another one than verify's: the roots of the namespaces in between (which a namespaced file capability may name) are not modelled".to_string());
    }
    Some(u)
}

/// Whether the parent of the user namespace at `ns` (`NS_GET_PARENT`) differs from
/// the one `ours` describes.
fn parent_is_not(ns: &str, ours: &std::fs::Metadata) -> bool {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    const NS_GET_PARENT: libc::c_ulong = 0xb702;
    let Ok(f) = std::fs::File::open(ns) else {
        return false;
    };
    // SAFETY: NS_GET_PARENT takes no argument and returns a new fd or -1.
    let fd = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_PARENT as libc::Ioctl) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the fd was just returned to us and is owned by nobody else.
    let parent = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    parent
        .metadata()
        .is_ok_and(|m| (m.dev(), m.ino()) != (ours.dev(), ours.ino()))
}

/// Build the caller the request describes.
pub fn build(req: &Request) -> anyhow::Result<Described> {
    let own = read_status("self")?;
    let mut notes = Vec::new();
    if let Some(pid) = req.pid {
        let s = read_status(&pid.to_string())?;
        let mut c = from_status(&s, req.noroot);
        c.userns = user_namespace(pid, &mut notes);
        if c.userns.is_none() {
            c.own_ns = own_namespace();
        }
        notes.push(format!(
            "securebits of another process cannot be read (not in /proc/{pid}/status); SECBIT_NOROOT is assumed {}",
            if req.noroot { "set (--noroot)" } else { "clear" }
        ));
        apply_overrides(&mut c, req, &mut notes);
        return Ok(Described {
            user_name: users::user_name(c.uid),
            caller: c,
            source: format!("process {pid}"),
            notes,
        });
    }
    if !req.simulates() {
        let mut c = from_status(&own, own_noroot());
        c.own_ns = own_namespace();
        return Ok(Described {
            user_name: users::user_name(c.uid),
            caller: c,
            source: "this process".to_string(),
            notes,
        });
    }

    // A simulated fresh process.
    let (uid, gid, groups, name) = match &req.user {
        Some(u) => {
            let u = match &req.accounts {
                Some(a) => a.resolve(u)?,
                None => users::lookup(u)?,
            };
            (u.uid, u.gid, u.groups, u.name)
        }
        None => (
            own.uid[0],
            own.gid[0],
            own.groups.clone(),
            users::user_name(own.uid[0]),
        ),
    };
    anyhow::ensure!(
        !(req.profile == Some(Profile::K8sRestricted) && uid == 0),
        "--profile k8s-restricted needs a non-root --user (Pod Security \"restricted\" requires runAsNonRoot)"
    );
    let mut bounding = own.bounding;
    let mut no_new_privs = req.no_new_privs;
    apply_profile(req, &mut bounding, &mut no_new_privs, &mut notes);
    let ambient = req.ambient.unwrap_or(CapSet::EMPTY);
    // The kernel keeps an ambient capability only while it is also inheritable.
    let inheritable = req.inheritable.unwrap_or(CapSet::EMPTY) | ambient;
    let rooted = uid == 0 && !req.noroot;
    let mut permitted = if rooted {
        bounding | inheritable | ambient
    } else {
        ambient
    };
    let mut ambient = ambient;
    let mut inheritable = inheritable;
    let k8s_engine = req.runtime.unwrap_or(Engine::Containerd);
    if matches!(
        req.profile,
        Some(Profile::K8sRestricted | Profile::K8sBaseline)
    ) {
        // Not a freshly exec'd process: the runtime sets the entrypoint's sets
        // directly (shared spec runtimes.md §3), from the pod's capability list,
        // which is the bounding set computed above.
        let [_, _, p, i, a] = engine::sets(k8s_engine, uid, bounding, bounding);
        permitted = permitted | p;
        inheritable = inheritable | i;
        ambient = ambient | a;
    }
    let caller = Caller {
        uid,
        euid: uid,
        gid,
        egid: gid,
        fsuid: uid,
        fsgid: gid,
        groups,
        inheritable,
        permitted,
        effective: permitted,
        ambient,
        bounding,
        noroot: req.noroot,
        no_new_privs,
        untrusted_tracer: false,
        shared_fs: false,
        userns: None,
        own_ns: own_namespace(),
    };
    let who = match (&name, req.user.is_some()) {
        (Some(n), _) => format!("user {n} (uid {uid})"),
        (None, _) => format!("uid {uid}"),
    };
    let source = match req.profile {
        Some(Profile::Docker) => format!("a Docker container's process running as {who}"),
        Some(Profile::K8sRestricted) => format!(
            "a Kubernetes \"restricted\" container on {} running as {who}",
            k8s_engine.name()
        ),
        Some(Profile::K8sBaseline) => format!(
            "a Kubernetes \"baseline\" container on {} running as {who}",
            k8s_engine.name()
        ),
        None => format!("a new process of {who}"),
    };
    Ok(Described {
        caller,
        source,
        user_name: name,
        notes,
    })
}

/// Overrides on a real process's state (`--pid` with `--inheritable` …): the sets are
/// replaced as asked, keeping the kernel's invariants (ambient ⊆ permitted ∩
/// inheritable).
fn apply_overrides(c: &mut Caller, req: &Request, notes: &mut Vec<String>) {
    if let Some(i) = req.inheritable {
        c.inheritable = i;
    }
    apply_profile(req, &mut c.bounding, &mut c.no_new_privs, notes);
    if let Some(a) = req.ambient {
        c.ambient = a;
        c.inheritable = c.inheritable | a;
        c.permitted = c.permitted | a;
        c.effective = c.effective | a;
    }
    c.ambient = c.ambient & c.inheritable & c.permitted;
    c.no_new_privs |= req.no_new_privs;
    c.noroot |= req.noroot;
}

/// The bounding set and no_new_privs a profile imposes, then the explicit
/// `--bounding`/`--drop` on top (so `--profile docker --drop all` is
/// `docker run --cap-drop=ALL`), the same for simulated and `--pid` callers.
fn apply_profile(
    req: &Request,
    bounding: &mut CapSet,
    no_new_privs: &mut bool,
    notes: &mut Vec<String>,
) {
    match req.profile {
        Some(Profile::Docker) => {
            let docker = docker_default();
            if !(docker - *bounding).is_empty() {
                notes.push(format!(
                    "this machine's bounding set lacks {} of Docker's defaults; a container cannot have more than its runtime",
                    (docker - *bounding).names().join(",")
                ));
            }
            *bounding = *bounding & docker;
        }
        Some(Profile::K8sRestricted) => {
            *bounding = *bounding & CapSet::single(caps::CAP_NET_BIND_SERVICE);
            *no_new_privs = true;
        }
        Some(Profile::K8sBaseline) => {
            *bounding = *bounding & (docker_default() - CapSet::single(CAP_NET_RAW));
        }
        None => {}
    }
    if let Some(b) = req.bounding {
        *bounding = b;
    }
    if let Some(d) = req.drop {
        *bounding = *bounding - d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\nGroups:\t4 24 27 \n\
CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000000\n\
CapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000400\nNoNewPrivs:\t1\nTracerPid:\t77\n";

    #[test]
    fn id_maps_are_parsed() {
        assert_eq!(
            parse_id_map("         0     100000      65536\n      65536 4242 1\n"),
            Some(vec![[0, 100000, 65536], [65536, 4242, 1]])
        );
        assert_eq!(parse_id_map(""), Some(vec![]));
        assert_eq!(parse_id_map("0 1\n"), None);
        assert_eq!(parse_id_map("0 x 1\n"), None);
        // Our own namespace is not another one.
        let mut notes = Vec::new();
        assert_eq!(user_namespace(std::process::id(), &mut notes), None);
        assert!(notes.is_empty());
    }

    #[test]
    fn proc_status_is_parsed() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.uid, [1000, 1001, 1002, 1003]);
        assert_eq!(s.gid[3], 53);
        assert_eq!(s.groups, vec![4, 24, 27]);
        assert_eq!(s.ambient, CapSet(0x400));
        assert_eq!(s.bounding, CapSet(0x1fffeffffff));
        assert!(s.no_new_privs);
        assert_eq!(s.tracer, 77);
        assert!(parse_status("Name: x\n").is_err());
    }

    #[test]
    fn simulated_user_has_only_its_ambient_caps() {
        let req = Request {
            user: Some("65534".into()),
            ambient: Some(CapSet::single(10)),
            drop: Some(CapSet::single(13)),
            ..Request::default()
        };
        let d = build(&req).unwrap();
        let c = d.caller;
        assert_eq!((c.uid, c.euid), (65534, 65534));
        assert_eq!(c.permitted, CapSet::single(10));
        assert_eq!(c.inheritable, CapSet::single(10));
        assert!(!c.bounding.has(13));
    }

    #[test]
    fn simulated_root_has_bounding_and_inheritable_unless_noroot() {
        let req = Request {
            user: Some("0".into()),
            drop: Some(CapSet::single(13)),
            ..Request::default()
        };
        let c = build(&req).unwrap().caller;
        assert_eq!(c.permitted, c.bounding);
        let c = build(&Request {
            noroot: true,
            ..req
        })
        .unwrap()
        .caller;
        assert_eq!(c.permitted, CapSet::EMPTY);
    }

    #[test]
    fn profiles_set_what_they_document() {
        let d = build(&Request {
            profile: Some(Profile::Docker),
            user: Some("0".into()),
            ..Request::default()
        })
        .unwrap();
        assert!(d.caller.bounding.iter().count() <= 14);
        assert!(d.caller.bounding.has(caps::CAP_NET_BIND_SERVICE));
        assert!(!d.caller.no_new_privs);
        let k = build(&Request {
            profile: Some(Profile::K8sRestricted),
            user: Some("65534".into()),
            ..Request::default()
        })
        .unwrap()
        .caller;
        let nbs = CapSet::single(caps::CAP_NET_BIND_SERVICE);
        assert_eq!(k.bounding, nbs);
        assert!(k.no_new_privs);
        // containerd (the default): the pod's list is in the permitted set too.
        assert_eq!(
            (k.permitted, k.effective, k.ambient),
            (nbs, nbs, CapSet::EMPTY)
        );
        let req = |runtime, drop| Request {
            profile: Some(Profile::K8sRestricted),
            user: Some("65534".into()),
            runtime,
            drop,
            ..Request::default()
        };
        let d = build(&req(Some(Engine::Docker), None)).unwrap().caller;
        assert_eq!((d.bounding, d.permitted), (nbs, CapSet::EMPTY));
        let without = build(&req(None, Some(nbs))).unwrap().caller;
        assert_eq!(
            (without.bounding, without.permitted),
            (CapSet::EMPTY, CapSet::EMPTY)
        );
        assert!(
            build(&Request {
                profile: Some(Profile::K8sRestricted),
                user: Some("0".into()),
                ..Request::default()
            })
            .is_err()
        );
    }
}
