//! `fcap verify`: predict what a process gets when it executes a file, and why.
//!
//! The facts come from [`crate::verify::facts`], the caller from
//! [`crate::verify::caller`], and the answer from the pure model
//! [`crate::verify::model::predict`]; this module only prints.

use crate::caps::{self, CapSet};
use crate::error::Exit;
use crate::output::escape_path;
use crate::verify::caller::{self, Described, Profile, Request};
use crate::verify::facts;
use crate::verify::model::Caller;
use crate::verify::model::{self, Node, Outcome, Prediction};
use crate::verify::runtime::engine::Engine;
use crate::verify::runtime::{
    ImageAccounts, Process, Refusal, Runtime, Tweak, k8s, moby, oci, systemd,
};
use colored::Colorize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Predict what a process gets when it executes a file, and why.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The caller is this process unless told otherwise. --user simulates a fresh process of \
that user (empty capability sets unless given, this process's bounding set); any \
override while running as root simulates a fresh root process. CAPS is a comma list \
(net_raw,CAP_CHOWN,12), 'all' or 'none'.

Profiles: docker = Docker's default 14-capability bounding set, root unless --user; \
k8s-restricted = a Pod Security \"restricted\" container (drop ALL, add \
NET_BIND_SERVICE, allowPrivilegeEscalation: false) of a non-root --user on --runtime \
(containerd by default, which puts net_bind_service in its permitted set; docker \
does not); --drop net_bind_service is the same pod without the added capability.

Descriptors: --oci-config (a bundle's config.json), --k8s, --compose, --docker-args and \
--unit read the file the deployment already has and derive the caller the runtime or \
systemd builds; --explain-caller shows which line set what, and a failed --require \
prints the shortest fix in the descriptor's own terms.

Exit status: 0 the exec succeeds (and --require is met), 1 it fails or a required \
capability is not effective, 2 an error.")]
pub struct VerifyArgs {
    /// The program that would be executed (with a descriptor: its entrypoint by
    /// default).
    #[arg(value_name = "PATH", required_unless_present_any = ["oci_config", "k8s", "compose", "docker_args", "unit", "image"])]
    pub path: Option<PathBuf>,

    /// Verify PATH inside this container image (see 'fcap read --image'; PATH
    /// defaults to the image's entrypoint): its owner, mode, capabilities and `#!`
    /// lines come from the image, symlinks are followed inside it, --user is looked up
    /// in its /etc/passwd and defaults to its User, and the caller is a Docker
    /// container's process (--profile docker) unless told otherwise.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["pid", "unit"])]
    pub image: Option<PathBuf>,

    /// With --image, the platform to pick when the image has several.
    #[arg(long, value_name = "PLATFORM", requires = "image")]
    pub platform: Option<String>,

    /// The caller is the `process` section of this OCI runtime config (a bundle's
    /// config.json), applied as runc applies it; PATH defaults to `args[0]` in the
    /// bundle's root.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "pid", "profile", "inheritable", "ambient", "bounding", "drop", "no_new_privs", "noroot", "k8s"])]
    pub oci_config: Option<PathBuf>,

    /// The caller is a container of this Kubernetes manifest (Pod, Deployment,
    /// StatefulSet, DaemonSet, Job, CronJob; multi-document YAML), as the kubelet
    /// and --runtime start it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "pid", "profile", "inheritable", "ambient", "bounding", "drop", "no_new_privs", "noroot"])]
    pub k8s: Option<PathBuf>,

    /// The container to use when the manifest has several.
    #[arg(long, value_name = "NAME", requires = "k8s")]
    pub container: Option<String>,

    /// The caller is the main process of this systemd service unit (with its
    /// drop-ins FILE.d/*.conf); PATH defaults to ExecStart='s program.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "pid", "profile", "inheritable", "ambient", "bounding", "drop", "no_new_privs", "noroot", "oci_config", "k8s", "compose", "docker_args", "runtime"])]
    pub unit: Option<PathBuf>,

    /// The caller is a service of this Docker Compose file, as docker (or
    /// --runtime podman) starts it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["user", "pid", "profile", "inheritable", "ambient", "bounding", "drop", "no_new_privs", "noroot", "oci_config", "k8s"])]
    pub compose: Option<PathBuf>,

    /// The service to use when the Compose file has several.
    #[arg(long, value_name = "NAME", requires = "compose")]
    pub service: Option<String>,

    /// The caller is the container these `docker run` flags start ('--user 1000
    /// --cap-add NET_BIND_SERVICE IMAGE [COMMAND]').
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true, conflicts_with_all = ["user", "pid", "profile", "inheritable", "ambient", "bounding", "drop", "no_new_privs", "noroot", "oci_config", "k8s", "compose"])]
    pub docker_args: Option<String>,

    /// The engine that starts the container (--k8s and --profile k8s-restricted:
    /// containerd by default; --compose and --docker-args: docker by default).
    #[arg(long, value_enum, value_name = "ENGINE", conflicts_with = "oci_config")]
    pub runtime: Option<Engine>,

    /// Print the process section derived from the descriptor, which setting made
    /// each part, and the resulting caller; predict nothing.
    #[arg(long)]
    pub explain_caller: bool,

    /// Simulate a fresh process of this user (name or uid).
    #[arg(long, value_name = "USER", conflicts_with = "pid")]
    pub user: Option<String>,

    /// Use the state of a running process as the caller.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,

    /// The caller's inheritable set.
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub inheritable: Option<CapSet>,

    /// The caller's ambient set (systemd AmbientCapabilities=); also inheritable.
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub ambient: Option<CapSet>,

    /// The caller's bounding set, exactly (systemd CapabilityBoundingSet=).
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub bounding: Option<CapSet>,

    /// Remove these from the caller's bounding set (docker --cap-drop).
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub drop: Option<CapSet>,

    /// The caller has no_new_privs (allowPrivilegeEscalation: false, NoNewPrivileges=).
    #[arg(long)]
    pub no_new_privs: bool,

    /// The caller has SECBIT_NOROOT: root gets no capabilities for being root.
    #[arg(long)]
    pub noroot: bool,

    /// Start from a deployment target's setup.
    #[arg(long, value_enum, value_name = "NAME")]
    pub profile: Option<Profile>,

    /// Exit 1 unless the exec succeeds and each of these capabilities is effective.
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub require: Option<CapSet>,

    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// A capability list for the command line: names, numbers, `all`, or `none`/empty.
fn cap_list(s: &str) -> Result<CapSet, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(CapSet::EMPTY);
    }
    crate::capspec::parse_list(t, CapSet::all()).map_err(|e| e.to_string())
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
fn runtime_state() -> anyhow::Result<Runtime> {
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
fn from_oci(
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
fn from_unit(file: &Path) -> anyhow::Result<(Descriptor, Described, Option<String>)> {
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
    let m = systemd::map(&files, &|u: &str| crate::users::lookup(u), host)
        .map_err(|e| crate::error::at_path(file, e))?;
    let (mut d, w) = derive("systemd", file, m.process, m.notes)?;
    d.rebuild = Some(Rebuild {
        apply: Box::new(move |t: &Tweak| {
            let mut f = files.clone();
            f.push(("fix.conf".to_string(), unit_fix(t)));
            Ok(systemd::map(&f, &|u: &str| crate::users::lookup(u), host)?.process)
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
fn container_descriptor(
    args: &VerifyArgs,
    image: Option<&ImageAccounts>,
) -> anyhow::Result<Option<(Descriptor, Described)>> {
    if let Some(f) = &args.k8s {
        let engine = args.runtime.unwrap_or(Engine::Containerd);
        anyhow::ensure!(
            engine != Engine::Podman,
            "--runtime podman: Kubernetes runs containerd, cri-o or docker (cri-dockerd)"
        );
        return from_k8s(f, args.container.as_deref(), engine, image).map(Some);
    }
    let engine = args.runtime.unwrap_or(Engine::Docker);
    let (kind, file, mut settings) = if let Some(f) = &args.compose {
        let text =
            std::fs::read_to_string(f).map_err(|e| crate::error::io_at_path(f, &e, false))?;
        let s = moby::compose(&text, &escape_path(f), args.service.as_deref())
            .map_err(|e| crate::error::at_path(f, e))?;
        ("compose", f.clone(), s)
    } else if let Some(line) = &args.docker_args {
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
    let service = args.service.clone().unwrap_or_default();
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

/// Run `fcap verify`.
pub fn run(args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let req = Request {
        user: args.user.clone(),
        pid: args.pid,
        inheritable: args.inheritable,
        ambient: args.ambient,
        bounding: args.bounding,
        drop: args.drop,
        no_new_privs: args.no_new_privs,
        noroot: args.noroot,
        profile: args.profile,
        runtime: args.runtime,
        accounts: None,
    };
    if let Some(image) = &args.image {
        return run_image(args, req, image, out);
    }
    let (desc, who, path, root) = match &args.oci_config {
        Some(f) => {
            let (d, w, p, r) = from_oci(f, args.path.as_ref())?;
            (Some(d), w, p, r)
        }
        None if args.unit.is_some() => {
            let f = args.unit.clone().unwrap_or_default();
            let (d, w, exec) = from_unit(&f)?;
            let p = match (&args.path, exec) {
                (Some(p), _) => p.clone(),
                (None, Some(e)) => PathBuf::from(e),
                (None, None) => anyhow::bail!(
                    "{}: no ExecStart=: name the file to verify",
                    crate::error::quote(&f)
                ),
            };
            (Some(d), w, p, None)
        }
        None => match container_descriptor(args, None)? {
            Some((d, w)) => {
                let f = d.file.clone();
                let p = match (&args.path, d.process.args.first()) {
                    (Some(p), _) => p.clone(),
                    (None, c) if args.explain_caller => {
                        PathBuf::from(c.map_or("(the image's entrypoint)", String::as_str))
                    }
                    (None, Some(c)) => anyhow::bail!(
                        "{}: the container's command '{c}' lives in its image; name the file to verify (a copy of it)",
                        crate::error::quote(&f)
                    ),
                    (None, None) => anyhow::bail!(
                        "{}: the container has no command (the image's ENTRYPOINT runs); name the file to verify",
                        crate::error::quote(&f)
                    ),
                };
                (Some(d), w, p, None)
            }
            None => {
                let Some(p) = args.path.clone() else {
                    anyhow::bail!("name the file to verify");
                };
                (None, caller::build(&req)?, p, None)
            }
        },
    };
    if args.explain_caller {
        let Some(d) = &desc else {
            anyhow::bail!(
                "--explain-caller needs a descriptor: --oci-config, --k8s, --compose, --docker-args or --unit"
            );
        };
        explain(out, d, &who, &path)?;
        return Ok(Exit::Success);
    }
    let mut chain = facts::gather(&path);
    facts::mark_open_for_writing(&mut chain);
    if chain[0].inode.is_none() && chain[0].lookup_errno != Some(libc::ENAMETOOLONG) {
        let e = std::io::Error::from_raw_os_error(chain[0].lookup_errno.unwrap_or(libc::ENOENT));
        return Err(crate::error::io_at_path(&path, &e, false));
    }
    if let Some(root) = root.as_ref().and_then(|r| std::fs::canonicalize(r).ok()) {
        // Inside the container the root is `/`: the host directories above it are
        // not on the entrypoint's lookup path.
        for n in &mut chain {
            n.dirs.retain(|(d, _)| d.starts_with(&root));
        }
    }
    answer(args, out, desc.as_ref(), &who, &path, &chain)
}

/// `verify --image`: the same answer, with the file facts and the accounts taken
/// from the image.
fn run_image(
    args: &VerifyArgs,
    mut req: Request,
    name: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let image = crate::image::Image::open(name, args.platform.as_deref())?;
    let place = format!(" in {}", crate::error::quote(name));
    // The descriptor names the program; the image then says who runs it (below).
    let first_look = match &args.oci_config {
        Some(_) => None,
        None => container_descriptor(args, None).ok().flatten(),
    };
    let oci_descriptor = match &args.oci_config {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| crate::error::io_at_path(f, &e, false))?;
            let args0 = oci::parse(&text)
                .map_err(|e| crate::error::at_path(f, e))?
                .process
                .args
                .first()
                .cloned();
            let given = args.path.clone().or(args0.map(PathBuf::from));
            let (d, w, _, _) = from_oci(f, given.as_ref().or(Some(&PathBuf::from("/"))))?;
            Some((d, w))
        }
        None => None,
    };
    let from_descriptor = oci_descriptor
        .as_ref()
        .or(first_look.as_ref())
        .and_then(|(d, _)| d.process.args.first().cloned());
    let entrypoint = image.resolved.entrypoint.first().cloned();
    let program = match (&args.path, from_descriptor, entrypoint) {
        (Some(p), _, _) => p.clone(),
        (None, Some(a), _) => PathBuf::from(a),
        (None, None, Some(e)) => PathBuf::from(e),
        (None, None, None) => anyhow::bail!(
            "{}: the image config has no Entrypoint or Cmd: name the file to verify",
            crate::error::quote(name)
        ),
    };
    let g = crate::verify::image::gather(image, &program)?;
    let accounts = ImageAccounts {
        user: g.tree.image.resolved.user.clone(),
        passwd: String::from_utf8_lossy(g.passwd.as_deref().unwrap_or_default()).into_owned(),
        group: String::from_utf8_lossy(g.group.as_deref().unwrap_or_default()).into_owned(),
        place: place.clone(),
    };
    let descriptor = match oci_descriptor {
        Some(d) => Some(d),
        None => container_descriptor(args, Some(&accounts))?,
    };
    let (desc, who) = match descriptor {
        Some((d, w)) => (Some(d), w),
        None => {
            let mut notes = Vec::new();
            if req.user.is_none() {
                match &g.tree.image.resolved.user {
                    Some(u) => {
                        notes.push(format!("user {u}: the image config's User"));
                        req.user = Some(u.clone());
                    }
                    None => {
                        notes.push("user root: the image config sets no User".to_string());
                        req.user = Some("0".to_string());
                    }
                }
            }
            if req.profile.is_none() {
                notes.push(
                    "caller: a Docker container's process (--profile docker); --profile, --k8s, --compose, --docker-args or --oci-config describe another"
                        .to_string(),
                );
                req.profile = Some(Profile::Docker);
            }
            req.accounts = Some(accounts);
            let mut w = caller::build(&req)?;
            w.notes.extend(notes);
            (None, w)
        }
    };
    if args.explain_caller {
        let Some(d) = &desc else {
            anyhow::bail!(
                "--explain-caller needs a descriptor: --oci-config, --k8s, --compose, --docker-args or --unit"
            );
        };
        explain(out, d, &who, &g.program)?;
        return Ok(Exit::Success);
    }
    let first = &g.chain[0];
    if first.inode.is_none() && first.lookup_errno != Some(libc::ENAMETOOLONG) {
        let e = std::io::Error::from_raw_os_error(first.lookup_errno.unwrap_or(libc::ENOENT));
        return Err(crate::error::at_path(
            &g.program,
            format!("{}{place}", crate::error::strerror(&e)),
        ));
    }
    answer(args, out, desc.as_ref(), &who, &g.program, &g.chain)
}

/// Predict, then print the answer and pick the exit status.
fn answer(
    args: &VerifyArgs,
    out: &mut dyn Write,
    desc: Option<&Descriptor>,
    who: &Described,
    path: &Path,
    chain: &[Node],
) -> anyhow::Result<Exit> {
    let p = match desc.and_then(|d| d.refusal.as_ref()) {
        None => model::predict(&who.caller, chain),
        Some(r) => refused(&who.caller, r),
    };
    let missing = args
        .require
        .map(|r| match p.outcome {
            Outcome::Ok => r - p.effective,
            // Unknown is not met: a gate must not pass on what fcap cannot see.
            Outcome::Fail(_) | Outcome::Unknown => r,
        })
        .unwrap_or(CapSet::EMPTY);
    let fixes = match (desc, args.require) {
        (Some(d), Some(r)) if !missing.is_empty() => shortest_fixes(d, chain, r, missing)?,
        _ => Vec::new(),
    };
    if args.json {
        let mut v = to_json(args, path, chain, who, desc, &p, missing);
        if args.require.is_some() && desc.is_some() {
            v["fixes"] = fixes
                .iter()
                .map(|(t, text)| {
                    serde_json::json!({
                        "change": text,
                        "add": t.add.names(),
                        "allow_new_privileges": t.no_nnp,
                    })
                })
                .collect::<Vec<_>>()
                .into();
        }
        writeln!(out, "{v}")?;
    } else {
        if let Some(d) = desc {
            descriptor_lines(out, d)?;
        }
        human(out, args, path, chain, who, &p, missing)?;
        if !fixes.is_empty() {
            writeln!(out, "\n{}", "fix (each re-verified):".bold())?;
            for (i, (_, text)) in fixes.iter().enumerate() {
                let or = if i == 0 { "" } else { "or " };
                writeln!(out, "  - {or}{text}")?;
            }
        }
    }
    Ok(match (p.outcome, missing.is_empty()) {
        (Outcome::Ok, true) => Exit::Success,
        _ => Exit::Negative,
    })
}

/// The smallest changes to the descriptor that make `--require` pass: add the
/// missing capabilities its own way, allow new privileges, or both. Each candidate
/// is applied (the descriptor is mapped again with it) and verified against the same
/// file facts; only those that pass are returned, and only the ones with the fewest
/// edits.
fn shortest_fixes(
    d: &Descriptor,
    chain: &[Node],
    required: CapSet,
    missing: CapSet,
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
        let pred = model::predict(&c, chain);
        pred.outcome == Outcome::Ok && (required - pred.effective).is_empty()
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

/// The prediction when the runtime refuses the process section: nothing is exec'd.
fn refused(c: &Caller, r: &Refusal) -> Prediction {
    Prediction {
        outcome: Outcome::Fail(libc::EPERM),
        permitted: CapSet::EMPTY,
        effective: CapSet::EMPTY,
        inheritable: CapSet::EMPTY,
        ambient: CapSet::EMPTY,
        bounding: c.bounding,
        uid: c.uid,
        euid: c.euid,
        gid: c.gid,
        egid: c.egid,
        secure_exec: false,
        final_node: 0,
        file_caps: None,
        reasons: vec![model::Reason {
            code: "runtime-capset",
            cap: None,
            message: r.message(),
        }],
        hints: Vec::new(),
    }
}

/// The process section a descriptor gave, one field a line with where it came from.
fn descriptor_lines(out: &mut dyn Write, d: &Descriptor) -> anyhow::Result<()> {
    let p = &d.process;
    let bold = |s: &str| s.bold().to_string();
    writeln!(
        out,
        "{}  {} ({})",
        bold("descriptor:"),
        escape_path(&d.file),
        match d.kind {
            "oci-config" => "OCI runtime config",
            "kubernetes" => "Kubernetes manifest",
            "compose" => "Docker Compose file",
            "docker-args" => "docker run flags",
            "systemd" => "systemd unit",
            k => k,
        }
    )?;
    let groups = if p.additional_gids.is_empty() {
        "none".to_string()
    } else {
        p.additional_gids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let rows: Vec<(String, &str)> = vec![
        (format!("user.uid {}", p.uid), "user.uid"),
        (format!("user.gid {}", p.gid), "user.gid"),
        (
            format!("user.additionalGids {groups}"),
            "user.additionalGids",
        ),
        (
            format!("bounding {}", set_text(p.bounding)),
            "capabilities.bounding",
        ),
        (
            format!("effective {}", set_text(p.effective)),
            "capabilities.effective",
        ),
        (
            format!("permitted {}", set_text(p.permitted)),
            "capabilities.permitted",
        ),
        (
            format!("inheritable {}", set_text(p.inheritable)),
            "capabilities.inheritable",
        ),
        (
            format!("ambient {}", set_text(p.ambient)),
            "capabilities.ambient",
        ),
        (
            format!("noNewPrivileges {}", p.no_new_privs),
            "noNewPrivileges",
        ),
        (
            format!(
                "args[0] {}",
                p.args.first().map(String::as_str).unwrap_or("(none)")
            ),
            "args",
        ),
    ];
    let width = rows
        .iter()
        .map(|(t, _)| t.chars().count())
        .max()
        .unwrap_or(0);
    for (i, (text, field)) in rows.iter().enumerate() {
        let from = p.origin_of(field).unwrap_or("(not set: empty/default)");
        let label = if i == 0 {
            bold("process:")
        } else {
            String::new()
        };
        let pad = if i == 0 { "     " } else { "             " };
        writeln!(
            out,
            "{label}{pad}{text:<width$}  {}",
            format!("<- {from}").dimmed()
        )?;
    }
    Ok(())
}

/// `--explain-caller`: the derived section and the caller runc builds from it.
fn explain(
    out: &mut dyn Write,
    d: &Descriptor,
    who: &Described,
    path: &Path,
) -> anyhow::Result<()> {
    descriptor_lines(out, d)?;
    writeln!(out, "{}        {}", "file:".bold(), escape_path(path))?;
    if let Some(r) = &d.refusal {
        writeln!(out, "{}      {}", "caller:".bold(), r.message().red())?;
        return Ok(());
    }
    let c = &who.caller;
    writeln!(
        out,
        "{}      uid {} gid {}{}",
        "caller:".bold(),
        c.uid,
        c.gid,
        if c.no_new_privs { ", no_new_privs" } else { "" }
    )?;
    writeln!(
        out,
        "             inheritable {}; permitted {}; effective {}; ambient {}; bounding {}",
        set_text(c.inheritable),
        set_text(c.permitted),
        set_text(c.effective),
        set_text(c.ambient),
        set_text(c.bounding)
    )?;
    Ok(())
}

/// The file whose credentials counted, when it is an interpreter.
fn interpreter<'a>(chain: &'a [Node], p: &Prediction) -> Option<&'a Node> {
    (p.final_node > 0)
        .then(|| chain.get(p.final_node))
        .flatten()
}

/// The program loader (PT_INTERP) of the final program, as the program names it.
fn loader(chain: &[Node], p: &Prediction) -> Option<String> {
    match &chain.get(p.final_node)?.elf {
        model::ElfCheck::Loader(l) => Some(escape_path(&l.path)),
        _ => None,
    }
}

fn to_json(
    args: &VerifyArgs,
    path: &Path,
    chain: &[Node],
    who: &Described,
    desc: Option<&Descriptor>,
    p: &Prediction,
    missing: CapSet,
) -> serde_json::Value {
    let c = &who.caller;
    let reasons: Vec<serde_json::Value> = p
        .reasons
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({ "code": r.code, "message": r.message });
            if let Some(cap) = r.cap {
                o["cap"] = caps::name(cap).into();
            }
            o
        })
        .collect();
    let mut v = serde_json::json!({
        "path": escape_path(path),
        "image": args.image.as_deref().map(escape_path),
        "file": chain[0].shown(),
        "symlink_target": chain[0].symlink_target().map(|r| escape_path(r)),
        "interpreter": interpreter(chain, p).map(Node::shown),
        "chain": chain.iter().take(p.final_node + 1).map(Node::shown).collect::<Vec<_>>(),
        "loader": loader(chain, p),
        "file_caps": p.file_caps.map(|f| f.to_text()),
        "exec": p.outcome.code(),
        "errno": match p.outcome { Outcome::Ok => None, Outcome::Fail(e) => Some(crate::error::errno_name(e)), Outcome::Unknown => None },
        "permitted": p.permitted.names(),
        "effective": p.effective.names(),
        "inheritable": p.inheritable.names(),
        "ambient": p.ambient.names(),
        "bounding": p.bounding.names(),
        "uid": p.uid, "euid": p.euid, "gid": p.gid, "egid": p.egid,
        "secure_exec": p.secure_exec,
        "caller": {
            "source": who.source,
            "user": who.user_name,
            "uid": c.uid, "euid": c.euid, "gid": c.gid, "egid": c.egid,
            "groups": c.groups,
            "inheritable": c.inheritable.names(),
            "permitted": c.permitted.names(),
            "effective": c.effective.names(),
            "ambient": c.ambient.names(),
            "bounding": c.bounding.names(),
            "no_new_privs": c.no_new_privs,
            "noroot": c.noroot,
            "untrusted_tracer": c.untrusted_tracer,
            "user_namespace": c.userns.as_ref().map(|ns| serde_json::json!({
                "uid_map": ns.uid_map,
                "gid_map": ns.gid_map,
            })),
            "notes": who.notes,
        },
        "reasons": reasons,
        "hints": p.hints,
    });
    if let Some(d) = desc {
        let settings: Vec<serde_json::Value> = d
            .process
            .origins
            .iter()
            .map(|o| serde_json::json!({ "field": o.field, "from": o.from }))
            .collect();
        v["caller"]["descriptor"] = serde_json::json!({
            "kind": d.kind,
            "file": escape_path(&d.file),
            "process": d.process.to_json(),
            "settings": settings,
            "ignored_capabilities": d.process.ignored,
            "runtime_refuses": d.refusal.as_ref().map(Refusal::message),
        });
    }
    if let Some(r) = args.require {
        v["required"] = r.names().into();
        v["missing"] = missing.names().into();
    }
    v
}

/// A set for people: `none`, `all`, `all except cap_x`, or the list.
fn set_text(s: CapSet) -> String {
    let all = CapSet::all();
    if s.is_empty() {
        "none".to_string()
    } else if s == all {
        "all".to_string()
    } else if (all - s).iter().count() <= 6 && (s - all).is_empty() {
        format!("all except {}", (all - s).names().join(","))
    } else {
        s.names().join(",")
    }
}

fn human(
    out: &mut dyn Write,
    args: &VerifyArgs,
    path: &Path,
    chain: &[Node],
    who: &Described,
    p: &Prediction,
    missing: CapSet,
) -> anyhow::Result<()> {
    let bold = |s: &str| s.bold().to_string();
    let dim = |s: &str| s.dimmed().to_string();
    let first = &chain[0];
    match first.symlink_target() {
        Some(r) => writeln!(
            out,
            "{}        {} -> {}",
            bold("file:"),
            escape_path(path),
            escape_path(r)
        )?,
        None => writeln!(out, "{}        {}", bold("file:"), escape_path(path))?,
    }
    if let Some(i) = &args.image {
        writeln!(out, "{}       {}", bold("image:"), escape_path(i))?;
    }
    for n in chain.iter().take(p.final_node + 1).skip(1) {
        let target = n
            .symlink_target()
            .map(|r| format!(" -> {}", escape_path(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {}{target}",
            bold("interpreter:"),
            escape_path(&n.path)
        )?;
    }
    if let Some(f) = p.file_caps {
        let of = if p.final_node > 0 {
            " (the interpreter's)"
        } else {
            ""
        };
        writeln!(out, "{}   {}{of}", bold("file caps:"), f.to_text())?;
    }
    let c = &who.caller;
    let mut flags = Vec::new();
    if c.no_new_privs {
        flags.push("no_new_privs");
    }
    if c.noroot {
        flags.push("SECBIT_NOROOT");
    }
    if c.untrusted_tracer {
        flags.push("traced");
    }
    let ids = if c.uid == c.euid && c.gid == c.egid {
        format!("uid {} gid {}", c.uid, c.gid)
    } else {
        format!(
            "uid {} euid {} gid {} egid {}",
            c.uid, c.euid, c.gid, c.egid
        )
    };
    writeln!(
        out,
        "{}      {}: {ids}{}",
        bold("caller:"),
        who.source,
        if flags.is_empty() {
            String::new()
        } else {
            format!(", {}", flags.join(", "))
        }
    )?;
    writeln!(
        out,
        "             inheritable {}; permitted {}; ambient {}; bounding {}",
        set_text(c.inheritable),
        set_text(c.permitted),
        set_text(c.ambient),
        set_text(c.bounding)
    )?;
    for n in &who.notes {
        writeln!(out, "             {}", dim(&format!("note: {n}")))?;
    }
    match p.outcome {
        Outcome::Ok => {
            let ok = "succeeds";
            writeln!(out, "{}        {}", bold("exec:"), ok.green().bold())?;
            let sets = [
                ("permitted:", p.permitted),
                ("effective:", p.effective),
                ("inheritable:", p.inheritable),
                ("ambient:", p.ambient),
            ];
            for (label, s) in sets {
                writeln!(out, "{}{}", bold(&format!("{label:<13}")), set_text(s))?;
            }
            if p.euid != c.euid || p.egid != c.egid {
                writeln!(
                    out,
                    "{}          uid {} euid {} gid {} egid {}",
                    bold("ids:"),
                    p.uid,
                    p.euid,
                    p.gid,
                    p.egid
                )?;
            }
            writeln!(
                out,
                "{} {}",
                bold("secure exec:"),
                if p.secure_exec {
                    "yes (AT_SECURE)"
                } else {
                    "no"
                }
            )?;
        }
        Outcome::Fail(e) => {
            let msg = format!(
                "fails with {} ({})",
                crate::error::errno_name(e),
                crate::error::strerror(&std::io::Error::from_raw_os_error(e))
            );
            writeln!(out, "{}        {}", bold("exec:"), msg.red().bold())?;
        }
        Outcome::Unknown => {
            let msg = "unknown: fcap cannot see what decides it (see why)";
            writeln!(out, "{}        {}", bold("exec:"), msg.yellow().bold())?;
        }
    }
    if let Some(r) = args.require {
        if missing.is_empty() {
            writeln!(
                out,
                "{}     met ({})",
                bold("require:"),
                r.names().join(",")
            )?;
        } else {
            let msg = format!("NOT met: {} not effective", missing.names().join(","));
            writeln!(out, "{}     {}", bold("require:"), msg.red())?;
        }
    }
    if !p.reasons.is_empty() {
        writeln!(out, "\n{}", bold("why:"))?;
        for r in &p.reasons {
            writeln!(out, "  - {} {}", r.message, dim(&format!("[{}]", r.code)))?;
        }
    }
    if !p.hints.is_empty() {
        writeln!(out, "\n{}", bold("hints:"))?;
        for h in &p.hints {
            writeln!(out, "  - {h}")?;
        }
    }
    Ok(())
}
