//! The OCI `process` section and runc's way of turning it into the caller of
//! `execve` (libcontainer `finalizeNamespace`, runc 1.1).

use crate::caps::CapSet;
use crate::verify::model::Caller;

/// Which descriptor setting produced a part of the process section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The process-section field: `user.uid`, `capabilities.bounding`, …
    pub field: &'static str,
    /// Where it came from: a JSON path, `FILE:LINE (yaml.path)`, a default, …
    pub from: String,
}

/// An OCI runtime `process` section, reduced to what decides the exec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub bounding: CapSet,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
    pub no_new_privs: bool,
    /// SECBIT_NOROOT (systemd `SecureBits=noroot`; OCI has no such field).
    pub noroot: bool,
    pub args: Vec<String>,
    pub cwd: String,
    /// `PATH` from `env`, used to find a bare `args[0]`.
    pub path_env: Option<String>,
    /// Capability names runc ignores with a warning (unknown, wrong case).
    pub ignored: Vec<String>,
    pub origins: Vec<Origin>,
}

/// The runtime process that applies the section (runc running as root): its sets
/// bound what `capset` may grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub bounding: CapSet,
}

/// Why runc cannot apply a process section: `capset` fails with EPERM ("unable to
/// apply caps: operation not permitted") and the entrypoint never runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `effective` holds capabilities that are not in `permitted`.
    EffectiveNotPermitted(CapSet),
    /// `permitted` holds capabilities the runtime itself does not have.
    PermittedBeyondRuntime(CapSet),
    /// `inheritable` holds capabilities outside the new bounding set.
    InheritableOutsideBounding(CapSet),
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::EffectiveNotPermitted(s) => format!(
                "the runtime cannot apply the process section: effective {} not in permitted (capset fails with EPERM, the container does not start)",
                s.names().join(",")
            ),
            Refusal::PermittedBeyondRuntime(s) => format!(
                "the runtime cannot apply the process section: permitted {} not held by the runtime itself (outside this machine's bounding set; capset fails with EPERM, the container does not start)",
                s.names().join(",")
            ),
            Refusal::InheritableOutsideBounding(s) => format!(
                "the runtime cannot apply the process section: inheritable {} outside the bounding set (capset fails with EPERM, the container does not start)",
                s.names().join(",")
            ),
        }
    }
}

impl Process {
    /// The caller runc builds from this section, in runc's order:
    ///
    /// 1. bounding: every capability not listed is dropped (one the runtime's own
    ///    bounding set lacks stays absent);
    /// 2. `PR_SET_KEEPCAPS`, `setgroups(additionalGids)`, `setresgid`, `setresuid`:
    ///    the permitted set survives, the effective set is cleared for a non-root
    ///    uid (`cap_emulate_setxuid`);
    /// 3. one `capset` of effective/permitted/inheritable, which the kernel
    ///    (`cap_capset`) refuses unless permitted ⊆ the runtime's permitted,
    ///    effective ⊆ permitted, inheritable ⊆ old inheritable ∪ bounding and,
    ///    without CAP_SETPCAP in effective (a non-root uid), ⊆ old inheritable ∪
    ///    permitted;
    /// 4. each ambient capability raised alone: `PR_CAP_AMBIENT_RAISE` needs it in
    ///    permitted and inheritable; runc skips one that fails (measured with runc
    ///    1.1.5: ambient {chown, kill} with inheritable {kill} gives CapAmb = kill);
    /// 5. no_new_privs.
    pub fn to_caller(&self, rt: &Runtime) -> Result<Caller, Refusal> {
        let bounding = self.bounding & rt.bounding;
        let beyond = self.permitted - rt.permitted;
        if !beyond.is_empty() {
            return Err(Refusal::PermittedBeyondRuntime(beyond));
        }
        let extra = self.effective - self.permitted;
        if !extra.is_empty() {
            return Err(Refusal::EffectiveNotPermitted(extra));
        }
        let mut allowed = rt.inheritable | bounding;
        if self.uid != 0 {
            allowed = allowed & (rt.inheritable | rt.permitted);
        }
        let outside = self.inheritable - allowed;
        if !outside.is_empty() {
            return Err(Refusal::InheritableOutsideBounding(outside));
        }
        Ok(Caller {
            uid: self.uid,
            euid: self.uid,
            gid: self.gid,
            egid: self.gid,
            fsuid: self.uid,
            fsgid: self.gid,
            groups: self.additional_gids.clone(),
            inheritable: self.inheritable,
            permitted: self.permitted,
            effective: self.effective,
            ambient: self.ambient & self.permitted & self.inheritable,
            bounding,
            noroot: self.noroot,
            no_new_privs: self.no_new_privs,
            untrusted_tracer: false,
            shared_fs: false,
            userns: None,
            own_ns: None,
        })
    }

    /// Record where a field came from.
    pub fn origin(&mut self, field: &'static str, from: impl Into<String>) {
        self.origins.push(Origin {
            field,
            from: from.into(),
        });
    }

    /// Where `field` was set, if recorded.
    pub fn origin_of(&self, field: &str) -> Option<&str> {
        self.origins
            .iter()
            .rev()
            .find(|o| o.field == field)
            .map(|o| o.from.as_str())
    }

    /// The section as OCI JSON (capability names in runc's `CAP_X` spelling).
    pub fn to_json(&self) -> serde_json::Value {
        let names = |s: CapSet| -> Vec<String> {
            s.names().iter().map(|n| n.to_ascii_uppercase()).collect()
        };
        serde_json::json!({
            "user": { "uid": self.uid, "gid": self.gid, "additionalGids": self.additional_gids },
            "args": self.args,
            "cwd": self.cwd,
            "capabilities": {
                "bounding": names(self.bounding),
                "effective": names(self.effective),
                "permitted": names(self.permitted),
                "inheritable": names(self.inheritable),
                "ambient": names(self.ambient),
            },
            "noNewPrivileges": self.no_new_privs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[u32]) -> CapSet {
        caps.iter()
            .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c))
    }

    const RT: Runtime = Runtime {
        permitted: CapSet(0x1fffeffffff),
        inheritable: CapSet::EMPTY,
        bounding: CapSet(0x1fffeffffff),
    };

    #[test]
    fn runc_spec_default_as_non_root_keeps_only_listed_ambient_that_is_inheritable() {
        // `runc spec`'s lists with uid 1000: ambient is asked but not inheritable.
        let p = Process {
            uid: 1000,
            gid: 1000,
            bounding: set(&[5, 10, 29]),
            effective: set(&[5, 10, 29]),
            permitted: set(&[5, 10, 29]),
            ambient: set(&[5, 10, 29]),
            ..Process::default()
        };
        let c = p.to_caller(&RT).unwrap();
        assert_eq!(c.ambient, CapSet::EMPTY);
        assert_eq!(c.permitted, set(&[5, 10, 29]));
        let c = Process {
            inheritable: set(&[5]),
            ..p
        }
        .to_caller(&RT)
        .unwrap();
        assert_eq!(c.ambient, set(&[5]));
    }

    #[test]
    fn capset_refusals_follow_the_kernel() {
        let base = Process {
            bounding: set(&[0]),
            permitted: set(&[0, 5]),
            ..Process::default()
        };
        assert_eq!(
            Process {
                effective: set(&[7]),
                ..base.clone()
            }
            .to_caller(&RT),
            Err(Refusal::EffectiveNotPermitted(set(&[7])))
        );
        assert_eq!(
            Process {
                inheritable: set(&[5]),
                ..base.clone()
            }
            .to_caller(&RT),
            Err(Refusal::InheritableOutsideBounding(set(&[5])))
        );
        // CAP_SYS_RESOURCE is missing from this machine's bounding set.
        assert_eq!(
            Process {
                permitted: set(&[24]),
                ..base.clone()
            }
            .to_caller(&RT),
            Err(Refusal::PermittedBeyondRuntime(set(&[24])))
        );
        // Permitted outside the bounding set is allowed: capset does not check it.
        let c = base.to_caller(&RT).unwrap();
        assert_eq!((c.bounding, c.permitted), (set(&[0]), set(&[0, 5])));
    }
}
