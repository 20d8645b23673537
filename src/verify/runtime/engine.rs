//! What each engine puts in the process section for a container: its default
//! capability list, how `add`/`drop` combine, and what a non-root user keeps
//! (shared spec runtimes.md §2-3).

use crate::caps::CapSet;

/// The engine that writes the OCI config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// containerd's CRI plugin (most Kubernetes clusters).
    Containerd,
    /// CRI-O.
    #[value(name = "cri-o")]
    CriO,
    /// Docker/moby (also cri-dockerd and Compose).
    Docker,
    /// Podman.
    Podman,
}

const fn bits(list: &[u32]) -> CapSet {
    let mut s = 0u64;
    let mut i = 0;
    while i < list.len() {
        s |= 1 << list[i];
        i += 1;
    }
    CapSet(s)
}

/// moby `oci/caps/defaults.go`; containerd's CRI uses the same list.
pub const MOBY_DEFAULT: CapSet = bits(&[0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29]);
/// CRI-O's `default_capabilities`: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, SETGID,
/// SETUID, SETPCAP, NET_BIND_SERVICE, KILL (no NET_RAW, MKNOD, AUDIT_WRITE,
/// SYS_CHROOT, SETFCAP).
pub const CRIO_DEFAULT: CapSet = bits(&[0, 1, 4, 3, 6, 7, 8, 10, 5]);
/// Podman 4+ `containers.conf` default: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
/// NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.
pub const PODMAN_DEFAULT: CapSet = bits(&[0, 1, 3, 4, 5, 10, 31, 6, 8, 7, 18]);

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Containerd => "containerd",
            Engine::CriO => "CRI-O",
            Engine::Docker => "Docker",
            Engine::Podman => "Podman",
        }
    }

    pub fn default_caps(self) -> CapSet {
        match self {
            Engine::Containerd | Engine::Docker => MOBY_DEFAULT,
            Engine::CriO => CRIO_DEFAULT,
            Engine::Podman => PODMAN_DEFAULT,
        }
    }
}

/// A capability name as engine `e` spells it for runc. moby (`NormalizeLegacyCapabilities`),
/// CRI-O (`toCAPPrefixed`, then runtime-tools' upper-casing) and Podman upper-case it
/// and add `CAP_` when it is missing; containerd's CRI (`WithCapabilities`) adds `CAP_`
/// to every name, so `CAP_NET_ADMIN` in a pod becomes `CAP_CAP_NET_ADMIN`, which no
/// kernel knows.
pub fn spelled(e: Engine, name: &str) -> String {
    let up = name.to_ascii_uppercase();
    if e == Engine::Containerd || !up.starts_with("CAP_") {
        format!("CAP_{up}")
    } else {
        up
    }
}

/// [`spelled`] as a capability number; None for a name runc does not know.
pub fn normalise(e: Engine, name: &str) -> Option<u32> {
    super::oci::runc_cap(&spelled(e, name))
}

/// Whether a name is the `ALL` keyword (every engine compares it case-insensitively).
fn is_all(name: &str) -> bool {
    name.eq_ignore_ascii_case("all")
}

/// The capability list after `add`/`drop` (names as written), and the names, as the
/// engine spells them, that runc does not know. `all` is every capability available
/// here (the runtime's own set), which `ALL` and `privileged` stand for, except on
/// CRI-O, whose `ALL` is every capability the kernel knows
/// (`getOCICapabilitiesList`). A capability named outright is passed on even when it
/// is not available (only moby refuses it, see [`unavailable`]): runc then fails to
/// apply it for a process that should hold it.
///
/// * moby (`TweakCapabilities`): add `ALL` gives every capability except the dropped
///   ones; otherwise drop `ALL` leaves only the added ones; otherwise drops are removed
///   from the defaults, then adds are added: **add wins**.
/// * Podman: as moby, except that add `ALL` ignores the drops (containers/common
///   `MergeCapabilities` returns the whole bounding set).
/// * containerd, CRI-O: add `ALL`, then drop `ALL`, then each add, then each drop:
///   **drop wins**.
pub fn resolve(
    e: Engine,
    add: &[String],
    drop: &[String],
    privileged: bool,
    all: CapSet,
) -> (CapSet, Vec<String>) {
    let mut unknown = Vec::new();
    let mut set_of = |list: &[String]| -> CapSet {
        list.iter()
            .filter(|n| !is_all(n))
            .fold(CapSet::EMPTY, |a, n| match normalise(e, n) {
                Some(c) => a | CapSet::single(c),
                None => {
                    let name = spelled(e, n);
                    if !unknown.contains(&name) {
                        unknown.push(name);
                    }
                    a
                }
            })
    };
    let (adds, drops) = (set_of(add), set_of(drop));
    if privileged {
        return (all, unknown);
    }
    let has_all = |l: &[String]| l.iter().any(|n| is_all(n));
    let caps = match e {
        Engine::Docker if has_all(add) => all - drops,
        Engine::Podman if has_all(add) => all,
        Engine::Docker | Engine::Podman => {
            let base = if has_all(drop) {
                CapSet::EMPTY
            } else {
                e.default_caps()
            };
            (base - drops) | adds
        }
        Engine::Containerd | Engine::CriO => {
            let mut s = e.default_caps();
            if has_all(add) {
                s = if e == Engine::CriO {
                    CapSet::all()
                } else {
                    all
                };
            }
            if has_all(drop) {
                s = CapSet::EMPTY;
            }
            (s | adds) - drops
        }
    };
    (caps, unknown)
}

/// The capabilities named in `add` or `drop` that are not available here: moby
/// (since 23.0, `NormalizeLegacyCapabilities` on both lists) refuses to create the
/// container for one ("capability not supported by your kernel or not available in
/// the current environment").
pub fn unavailable(e: Engine, add: &[String], drop: &[String], all: CapSet) -> Vec<String> {
    add.iter()
        .chain(drop)
        .filter(|n| normalise(e, n).is_some_and(|c| !all.has(c)))
        .map(|n| spelled(e, n))
        .collect()
}

/// The five sets an engine writes for `caps` and this uid:
/// (bounding, effective, permitted, inheritable, ambient).
///
/// * containerd, CRI-O: the list in bounding, effective and permitted for every
///   uid, inheritable and ambient empty;
/// * moby: the same for root; a non-root user gets the bounding set only ("to match
///   what execve does");
/// * Podman: root as moby; a non-root user gets the bounding set, and the added
///   capabilities (`cap_add`, within this machine's bounding set) in effective,
///   permitted, inheritable and ambient.
pub fn sets(e: Engine, uid: u32, caps: CapSet, added: CapSet) -> [CapSet; 5] {
    let none = CapSet::EMPTY;
    match e {
        Engine::Containerd | Engine::CriO => [caps, caps, caps, none, none],
        _ if uid == 0 => [caps, caps, caps, none, none],
        Engine::Docker => [caps, none, none, none, none],
        Engine::Podman => {
            let a = added & caps;
            [caps, a, a, a, a]
        }
    }
}

/// Write [`sets`] into `p` for its uid, `caps` the resolved list and `add` the names
/// the descriptor added (Podman raises those for a non-root user).
pub fn apply(p: &mut super::Process, e: Engine, caps: CapSet, add: &[String]) {
    let added = add
        .iter()
        .filter_map(|n| normalise(e, n))
        .fold(CapSet::EMPTY, |a, c| a | CapSet::single(c));
    [
        p.bounding,
        p.effective,
        p.permitted,
        p.inheritable,
        p.ambient,
    ] = sets(e, p.uid, caps, added);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const ALL: CapSet = CapSet(0x1ffffffffff);

    #[test]
    fn add_and_drop_the_same_cap_differs_by_engine() {
        let (d, _) = resolve(
            Engine::Docker,
            &s(&["NET_ADMIN"]),
            &s(&["net_admin"]),
            false,
            ALL,
        );
        assert!(d.has(12), "moby: add wins");
        let (c, _) = resolve(
            Engine::Containerd,
            &s(&["NET_ADMIN"]),
            &s(&["NET_ADMIN"]),
            false,
            ALL,
        );
        assert!(!c.has(12), "containerd: drop wins");
    }

    #[test]
    fn drop_all_add_one_and_names_are_normalised() {
        for e in [
            Engine::Docker,
            Engine::Containerd,
            Engine::CriO,
            Engine::Podman,
        ] {
            let (c, u) = resolve(
                e,
                &s(&["net_bind_service", "FOO"]),
                &s(&["all"]),
                false,
                ALL,
            );
            assert_eq!(c, CapSet::single(10), "{e:?}");
            assert_eq!(u, s(&["CAP_FOO"]));
        }
        let (c, _) = resolve(Engine::Containerd, &s(&["ALL"]), &s(&["CHOWN"]), false, ALL);
        assert_eq!(c, ALL - CapSet::single(0));
        assert_eq!(resolve(Engine::CriO, &[], &[], false, ALL).0, CRIO_DEFAULT);
        assert_eq!(resolve(Engine::Docker, &[], &[], true, ALL).0, ALL);
    }

    #[test]
    fn mobys_add_all_keeps_the_drops_out() {
        // TweakCapabilities: "Add all capabilities except ones on capDrop".
        let (c, _) = resolve(
            Engine::Docker,
            &s(&["all"]),
            &s(&["NET_RAW", "cap_sys_admin"]),
            false,
            ALL,
        );
        assert_eq!(c, ALL - CapSet::single(13) - CapSet::single(21));
        // ALL in both lists: the add wins, every capability.
        let (c, _) = resolve(Engine::Docker, &s(&["ALL"]), &s(&["ALL"]), false, ALL);
        assert_eq!(c, ALL);
    }

    #[test]
    fn containerd_prefixes_every_name_the_others_accept_the_prefix() {
        let add = s(&["CAP_NET_BIND_SERVICE", "cap_kill"]);
        let drop = s(&["ALL"]);
        let (c, u) = resolve(Engine::Containerd, &add, &drop, false, ALL);
        assert_eq!(c, CapSet::EMPTY, "containerd grants nothing");
        assert_eq!(u, s(&["CAP_CAP_NET_BIND_SERVICE", "CAP_CAP_KILL"]));
        // A prefixed drop drops nothing either: the default list stays.
        let (c, _) = resolve(Engine::Containerd, &[], &s(&["CAP_CHOWN"]), false, ALL);
        assert_eq!(c, MOBY_DEFAULT);
        for e in [Engine::Docker, Engine::CriO, Engine::Podman] {
            let (c, u) = resolve(e, &add, &drop, false, ALL);
            assert_eq!(
                (c, u.len()),
                (CapSet::single(10) | CapSet::single(5), 0),
                "{e:?}"
            );
        }
    }

    #[test]
    fn non_root_sets_differ_by_engine() {
        let caps = CapSet::single(10);
        assert_eq!(sets(Engine::Containerd, 1000, caps, caps)[2], caps);
        assert_eq!(sets(Engine::Docker, 1000, caps, caps)[2], CapSet::EMPTY);
        assert_eq!(sets(Engine::Docker, 0, caps, caps)[2], caps);
        assert_eq!(sets(Engine::Podman, 1000, caps, caps)[4], caps);
    }
}
