//! Callers read from deployment descriptors: the file is read, mapped to a process
//! section by its runtime's module here, and applied as runc (or systemd) applies it.
//! Each descriptor also knows how to map itself again with a suggested change, so a
//! failed `--require` can be answered with a fix that was verified.

use super::engine::Engine;
use super::{ImageAccounts, Process, Refusal, Runtime, Tweak, k8s, moby, oci, systemd};
use crate::caps::CapSet;
use crate::output::escape_path;
use crate::verify::caller::{self, Described};
use crate::verify::model::{self, Caller, Node, Outcome, Prediction};
use std::path::{Path, PathBuf};

/// Which container descriptor the command line names (at most one of `k8s`,
/// `compose`, `docker_args`), with its selectors.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContainerArgs<'a> {
    pub k8s: Option<&'a Path>,
    pub container: Option<&'a str>,
    pub compose: Option<&'a Path>,
    pub service: Option<&'a str>,
    pub docker_args: Option<&'a str>,
    pub runtime: Option<Engine>,
}

/// A caller derived from a deployment descriptor (`--oci-config` …).
pub struct Descriptor {
    /// `oci-config`, …
    pub kind: &'static str,
    pub file: PathBuf,
    pub process: Process,
    /// Set when the runtime cannot apply the section: the entrypoint never runs.
    pub refusal: Option<Refusal>,
    /// Re-derive the section with a suggested change, and say that change in the
    /// descriptor's own terms (for `--require` fixes).
    pub rebuild: Option<Rebuild>,
}

/// Map a descriptor again with a [`Tweak`] applied.
pub type Reapply = Box<dyn Fn(&Tweak) -> anyhow::Result<Process>>;

/// A descriptor's way to apply a [`Tweak`] and to describe it.
pub struct Rebuild {
    pub apply: Reapply,
    pub describe: Box<dyn Fn(&Tweak) -> String>,
}

/// `CAP_X` names of a set, as descriptors spell them.
fn upper(s: CapSet) -> String {
    s.names()
        .iter()
        .map(|n| n.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The state of this process as the runtime that applies a process section: runc
/// runs as root with this machine's capabilities. Its bounding set is also what
/// "every capability" means for `privileged` (containerd's
/// `WithAllCurrentCapabilities`): a capability this machine lacks cannot be granted.
pub fn runtime_state() -> anyhow::Result<Runtime> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| crate::error::io_at_path(Path::new("/proc/self/status"), &e, false))?;
    let s = caller::parse_status(&text)?;
    Ok(Runtime {
        permitted: s.bounding,
        inheritable: s.inheritable,
        bounding: s.bounding,
    })
}

/// Read an OCI config; returns the descriptor, its caller, and the file to verify.
pub fn from_oci(
    file: &Path,
    given: Option<&PathBuf>,
) -> anyhow::Result<(Descriptor, Described, PathBuf, Option<PathBuf>)> {
    let text =
        std::fs::read_to_string(file).map_err(|e| crate::error::io_at_path(file, &e, false))?;
    let cfg = oci::parse(&text).map_err(|e| crate::error::at_path(file, e))?;
    for name in &cfg.process.ignored {
        crate::error::warn(&format!(
            "{}: capability '{name}' is ignored, as runc ignores it (runc wants CAP_X in upper case, known to this kernel)",
            crate::error::quote(file)
        ));
    }
    let bundle = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let rootfs = bundle.join(&cfg.root);
    let path = match given {
        Some(p) => p.clone(),
        None => {
            oci::entrypoint(&cfg.process, &rootfs).map_err(|e| crate::error::at_path(file, e))?
        }
    };
    let base = cfg.process.clone();
    let (mut d, who) = derive("oci-config", file, cfg.process, Vec::new())?;
    d.rebuild = Some(Rebuild {
        apply: Box::new(move |t: &Tweak| {
            let mut p = base.clone();
            for s in [
                &mut p.bounding,
                &mut p.effective,
                &mut p.permitted,
                &mut p.inheritable,
                &mut p.ambient,
            ] {
                *s = *s | t.add;
            }
            p.no_new_privs &= !t.no_nnp;
            Ok(p)
        }),
        describe: Box::new(|t: &Tweak| {
            let mut parts = Vec::new();
            if !t.add.is_empty() {
                parts.push(format!(
                    "add {} to every list of process.capabilities (bounding, effective, permitted, inheritable, ambient)",
                    upper(t.add)
                ));
            }
            if t.no_nnp {
                parts.push("set process.noNewPrivileges to false".to_string());
            }
            parts.join(" and ")
        }),
    });
    let root = given.is_none().then_some(rootfs);
    Ok((d, who, path, root))
}

/// The caller runc builds from a descriptor's process section.
fn derive(
    kind: &'static str,
    file: &Path,
    process: Process,
    notes: Vec<String>,
) -> anyhow::Result<(Descriptor, Described)> {
    let rt = runtime_state()?;
    let (caller, refusal) = match process.to_caller(&rt) {
        Ok(c) => (c, None),
        Err(r) => {
            // A caller for display only: the section as written.
            let p = &process;
            let c = Caller {
                uid: p.uid,
                euid: p.uid,
                gid: p.gid,
                egid: p.gid,
                fsuid: p.uid,
                fsgid: p.gid,
                groups: p.additional_gids.clone(),
                inheritable: p.inheritable,
                permitted: p.permitted,
                effective: p.effective,
                ambient: p.ambient,
                bounding: p.bounding,
                noroot: false,
                no_new_privs: p.no_new_privs,
                untrusted_tracer: false,
                shared_fs: false,
                userns: None,
                own_ns: None,
            };
            (c, Some(r))
        }
    };
    let who = Described {
        caller,
        source: if kind == "systemd" {
            format!(
                "the main process systemd starts for {}",
                crate::error::quote(file)
            )
        } else {
            format!(
                "the process section {} gives, as runc applies it",
                crate::error::quote(file)
            )
        },
        user_name: None,
        notes,
    };
    let d = Descriptor {
        kind,
        file: file.to_path_buf(),
        process,
        refusal,
        rebuild: None,
    };
    Ok((d, who))
}

/// Read a Kubernetes manifest: the chosen container's section and its caller.
fn from_k8s(
    file: &Path,
    container: Option<&str>,
    engine: Engine,
    image: Option<&ImageAccounts>,
) -> anyhow::Result<(Descriptor, Described)> {
    let text =
        std::fs::read_to_string(file).map_err(|e| crate::error::io_at_path(file, &e, false))?;
    let m = k8s::map(
        &text,
        &escape_path(file),
        container,
        engine,
        runtime_state()?.bounding,
        image,
    )
    .map_err(|e| crate::error::at_path(file, e))?;
    for name in &m.process.ignored {
        crate::error::warn(&format!(
            "{}: capability '{name}' is unknown; {} passes it on and runc ignores it",
            crate::error::quote(file),
            engine.name()
        ));
    }
    let mut notes = m.notes;
    notes.extend(m.findings);
    notes.push(format!("runtime: {} (--runtime)", engine.name()));
    let (mut d, w) = derive("kubernetes", file, m.process, notes)?;
    let (name, all, owned) = (
        escape_path(file),
        runtime_state()?.bounding,
        container.map(str::to_string),
    );
    let sc = format!("{}.securityContext", m.container_path);
    let image = image.cloned();
    d.rebuild = Some(Rebuild {
        apply: Box::new(move |t: &Tweak| {
            Ok(k8s::map_tweaked(
                &text,
                &name,
                owned.as_deref(),
                engine,
                all,
                t,
                image.as_ref(),
            )?
            .process)
        }),
        describe: Box::new(move |t: &Tweak| {
            let mut parts = Vec::new();
            if !t.add.is_empty() {
                parts.push(format!(
                    "add {} to {sc}.capabilities.add",
                    t.bare().join(", ")
                ));
            }
            if t.no_nnp {
                parts.push(format!("set {sc}.allowPrivilegeEscalation: true"));
            }
            parts.join(" and ")
        }),
    });
    Ok((d, w))
}

/// Read a unit and its drop-ins: the caller systemd builds and ExecStart='s file.
pub fn from_unit(file: &Path) -> anyhow::Result<(Descriptor, Described, Option<String>)> {
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| crate::error::io_at_path(p, &e, false));
    let mut files = vec![(escape_path(file), read(file)?)];
    let mut dir = file.as_os_str().to_owned();
    dir.push(".d");
    let dir = PathBuf::from(dir);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut confs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        // Drop-ins apply in the order of their file names.
        confs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        for c in confs {
            files.push((escape_path(&c), read(&c)?));
        }
    }
    let host = runtime_state()?.bounding;
    let m =
        systemd::map(&files, &HOST_ACCOUNTS, host).map_err(|e| crate::error::at_path(file, e))?;
    let (mut d, w) = derive("systemd", file, m.process, m.notes)?;
    d.rebuild = Some(Rebuild {
        apply: Box::new(move |t: &Tweak| {
            let mut f = files.clone();
            f.push(("fix.conf".to_string(), unit_fix(t)));
            Ok(systemd::map(&f, &HOST_ACCOUNTS, host)?.process)
        }),
        describe: Box::new(|t: &Tweak| {
            format!(
                "add to [Service] (or a drop-in): {}",
                unit_fix(t).lines().skip(1).collect::<Vec<_>>().join("; ")
            )
        }),
    });
    Ok((d, w, m.exec_start))
}

/// systemd resolves `User=`, `Group=` and `SupplementaryGroups=` on this host.
const HOST_ACCOUNTS: systemd::Accounts = systemd::Accounts {
    user: crate::users::lookup,
    group: crate::users::host_group,
};

/// A drop-in that applies a tweak to a unit: later list assignments merge.
fn unit_fix(t: &Tweak) -> String {
    let mut text = String::from("[Service]\n");
    if !t.add.is_empty() {
        let names = upper(t.add).replace(", ", " ");
        text += &format!("AmbientCapabilities={names}\nCapabilityBoundingSet={names}\n");
    }
    if t.no_nnp {
        text += "NoNewPrivileges=no\n";
    }
    text
}

/// A container descriptor other than an OCI config (--k8s, --compose,
/// --docker-args), if one was given.
pub fn container_descriptor(
    args: &ContainerArgs,
    image: Option<&ImageAccounts>,
) -> anyhow::Result<Option<(Descriptor, Described)>> {
    if let Some(f) = args.k8s {
        let engine = args.runtime.unwrap_or(Engine::Containerd);
        anyhow::ensure!(
            engine != Engine::Podman,
            "--runtime podman: Kubernetes runs containerd, cri-o or docker (cri-dockerd)"
        );
        return from_k8s(f, args.container, engine, image).map(Some);
    }
    let engine = args.runtime.unwrap_or(Engine::Docker);
    let (kind, file, mut settings) = if let Some(f) = &args.compose {
        let text =
            std::fs::read_to_string(f).map_err(|e| crate::error::io_at_path(f, &e, false))?;
        let s = moby::compose(&text, &escape_path(f), args.service)
            .map_err(|e| crate::error::at_path(f, e))?;
        ("compose", f.to_path_buf(), s)
    } else if let Some(line) = args.docker_args {
        let s = moby::docker_args(line).map_err(|e| anyhow::anyhow!("--docker-args: {e}"))?;
        ("docker-args", PathBuf::from("--docker-args"), s)
    } else {
        return Ok(None);
    };
    settings.image = image.cloned();
    let all = runtime_state()?.bounding;
    let (process, mut notes) =
        moby::process(&settings, engine, all).map_err(|e| crate::error::at_path(&file, e))?;
    notes.push(format!("runtime: {} (--runtime)", engine.name()));
    let (mut d, w) = derive(kind, &file, process, notes)?;
    let service = args.service.unwrap_or_default().to_string();
    d.rebuild = Some(Rebuild {
        apply: Box::new(move |t: &Tweak| {
            let mut s = settings.clone();
            s.add
                .extend(t.bare().into_iter().map(|n| (n, String::new())));
            if t.no_nnp {
                s.nnp = None;
            }
            Ok(moby::process(&s, engine, all)?.0)
        }),
        describe: Box::new(move |t: &Tweak| {
            let bare = t.bare();
            let mut parts = Vec::new();
            match kind {
                "compose" => {
                    let svc = if service.is_empty() {
                        "the service".to_string()
                    } else {
                        format!("services.{service}")
                    };
                    if !t.add.is_empty() {
                        parts.push(format!("add {} to {svc}.cap_add", bare.join(", ")));
                    }
                    if t.no_nnp {
                        parts.push(format!("remove no-new-privileges from {svc}.security_opt"));
                    }
                }
                _ => {
                    if !t.add.is_empty() {
                        let flags: Vec<String> =
                            bare.iter().map(|b| format!("--cap-add {b}")).collect();
                        parts.push(format!("add {}", flags.join(" ")));
                    }
                    if t.no_nnp {
                        parts.push("remove --security-opt no-new-privileges".to_string());
                    }
                }
            }
            parts.join(" and ")
        }),
    });
    Ok(Some((d, w)))
}

/// The smallest changes to the descriptor that make `--require` pass: add the
/// missing capabilities its own way, allow new privileges, or both. Each candidate
/// is applied (the descriptor is mapped again with it) and its caller judged by
/// `passes_with` (the same file facts, or the same chain); only those that pass are
/// returned, and only the ones with the fewest edits.
pub fn shortest_fixes(
    d: &Descriptor,
    missing: CapSet,
    passes_with: &dyn Fn(&Caller) -> bool,
) -> anyhow::Result<Vec<(Tweak, String)>> {
    let Some(rb) = &d.rebuild else {
        return Ok(Vec::new());
    };
    let rt = runtime_state()?;
    let passes = |t: &Tweak| -> bool {
        let Ok(p) = (rb.apply)(t) else { return false };
        let Ok(c) = p.to_caller(&rt) else {
            return false;
        };
        passes_with(&c)
    };
    let one = [
        Tweak {
            add: missing,
            no_nnp: false,
        },
        Tweak {
            add: CapSet::EMPTY,
            no_nnp: d.process.no_new_privs,
        },
    ];
    let mut found: Vec<Tweak> = one
        .iter()
        .filter(|t| !t.is_empty() && passes(t))
        .copied()
        .collect();
    if found.is_empty() && d.process.no_new_privs {
        let both = Tweak {
            add: missing,
            no_nnp: true,
        };
        if passes(&both) {
            found.push(both);
        }
    }
    Ok(found.into_iter().map(|t| (t, (rb.describe)(&t))).collect())
}

/// The prediction for a descriptor's caller: the model's, or nothing exec'd when the
/// runtime refuses the process section before the entrypoint runs.
pub fn predict(desc: Option<&Descriptor>, who: &Described, chain: &[Node]) -> Prediction {
    match desc.and_then(|d| d.refusal.as_ref()) {
        None => model::predict(&who.caller, chain),
        Some(r) => Prediction::unexecuted(
            &who.caller,
            Outcome::Fail(libc::EPERM),
            vec![model::Reason {
                code: "runtime-capset",
                cap: None,
                message: r.message(),
            }],
        ),
    }
}
