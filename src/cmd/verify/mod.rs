//! `fcap verify`: predict what a process gets when it executes a file, and why.
//!
//! The facts come from [`crate::verify::facts`], the caller from
//! [`crate::verify::caller`] or a deployment descriptor
//! ([`crate::verify::runtime::descriptor`]), and the answer from the pure model
//! [`crate::verify::model::predict`]; this module picks them, [`render`] prints.

pub(crate) mod render;

use crate::caps::CapSet;
use crate::error::Exit;
use crate::verify::caller::{self, Described, Profile, Request};
use crate::verify::chain::{self, Link, Resolved, Step};
use crate::verify::facts;
use crate::verify::model::{self, Caller, Node, Outcome, Prediction};
use crate::verify::runtime::descriptor::{
    self, ContainerArgs, Descriptor, container_descriptor, from_oci, from_unit, shortest_fixes,
};
use crate::verify::runtime::engine::Engine;
use crate::verify::runtime::{ImageAccounts, oci};
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

    #[command(flatten)]
    pub chain: ChainArgs,
}

/// A capability list for the command line: names, numbers, `all`, or `none`/empty.
pub(crate) fn cap_list(s: &str) -> Result<CapSet, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(CapSet::EMPTY);
    }
    crate::capspec::parse_list(t, CapSet::all()).map_err(|e| e.to_string())
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
        None => match container_descriptor(&args.containers(), None)? {
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
        render::explain(out, d, &who, &path)?;
        return Ok(Exit::Success);
    }
    let mut chain = facts::gather_for(&path, args.pid);
    facts::mark_open_for_writing(&mut chain);
    first_exists(&path, &chain, "")?;
    if let Some(root) = root.as_ref().and_then(|r| std::fs::canonicalize(r).ok()) {
        // Inside the container the root is `/`: the host directories above it are
        // not on the entrypoint's lookup path.
        for n in &mut chain {
            n.dirs.retain(|(d, _)| d.starts_with(&root));
        }
    }
    let rest = resolve_host(&args.chain.links, root.as_deref())?;
    answer(args, out, desc.as_ref(), &who, &path, &chain, rest)
}

/// Where a bare program name (no `/`) is found, as execvp finds it: the first
/// executable file of that name in a directory of PATH.
pub fn on_path(p: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    if p.as_os_str().as_bytes().contains(&b'/') {
        return Some(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(p)).find(|f| {
        std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The facts for each link after the first, on this host: programs by path or
/// through PATH (inside `root`, a bundle's, when given), users in /etc/passwd.
pub(crate) fn resolve_host(links: &[Link], root: Option<&Path>) -> anyhow::Result<Vec<Resolved>> {
    links
        .iter()
        .map(|l| {
            Ok(match l {
                Link::Exec(p) => {
                    let found = match root {
                        Some(r) if p.is_absolute() => r.join(p.strip_prefix("/").unwrap_or(p)),
                        _ => on_path(p).ok_or_else(|| {
                            crate::error::at_path(p, "not found in PATH (--then)")
                        })?,
                    };
                    let mut nodes = facts::gather(&found);
                    facts::mark_open_for_writing(&mut nodes);
                    first_exists(&found, &nodes, "")?;
                    Resolved::Exec { path: found, nodes }
                }
                Link::User(spec) => Resolved::User {
                    spec: spec.clone(),
                    user: host_user(spec)?,
                },
                Link::Fork => Resolved::Fork,
            })
        })
        .collect()
}

/// `user[:group]` in this host's account files.
pub fn host_user(spec: &str) -> anyhow::Result<crate::users::User> {
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    crate::users::lookup_spec(spec, &read("/etc/passwd"), &read("/etc/group"), "")
}

/// An error when the program itself does not exist (a verify of nothing).
fn first_exists(path: &Path, nodes: &[Node], place: &str) -> anyhow::Result<()> {
    let first = &nodes[0];
    if first.inode.is_none() && first.lookup_errno != Some(libc::ENAMETOOLONG) {
        let e = std::io::Error::from_raw_os_error(first.lookup_errno.unwrap_or(libc::ENOENT));
        return Err(crate::error::at_path(
            path,
            format!("{}{place}", crate::error::strerror(&e)),
        ));
    }
    Ok(())
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
        None => container_descriptor(&args.containers(), None)
            .ok()
            .flatten(),
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
        None => container_descriptor(&args.containers(), Some(&accounts))?,
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
            req.accounts = Some(accounts.clone());
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
        render::explain(out, d, &who, &g.program)?;
        return Ok(Exit::Success);
    }
    first_exists(&g.program, &g.chain, &place)?;
    // Later links resolve in the image too: each is looked up in a new pass over it.
    let crate::verify::image::Gathered {
        tree,
        program,
        chain: nodes,
        ..
    } = g;
    let mut image = tree.image;
    let mut rest = Vec::new();
    for l in &args.chain.links {
        rest.push(match l {
            Link::Exec(p) => {
                let g = crate::verify::image::gather(image, p)?;
                first_exists(&g.program, &g.chain, &place)?;
                image = g.tree.image;
                Resolved::Exec {
                    path: g.program,
                    nodes: g.chain,
                }
            }
            Link::User(spec) => Resolved::User {
                spec: spec.clone(),
                user: accounts.resolve(spec)?,
            },
            Link::Fork => Resolved::Fork,
        });
    }
    answer(args, out, desc.as_ref(), &who, &program, &nodes, rest)
}

/// Predict, then print the answer and pick the exit status.
fn answer(
    args: &VerifyArgs,
    out: &mut dyn Write,
    desc: Option<&Descriptor>,
    who: &Described,
    path: &Path,
    chain: &[Node],
    rest: Vec<Resolved>,
) -> anyhow::Result<Exit> {
    let p = descriptor::predict(desc, who, chain);
    if !rest.is_empty() {
        return answer_chain(args, out, desc, who, path, chain, p, rest);
    }
    let missing = args
        .require
        .map(|r| match p.outcome {
            Outcome::Ok => r - p.effective,
            // Unknown is not met: a gate must not pass on what fcap cannot see.
            Outcome::Fail(_) | Outcome::Unknown => r,
        })
        .unwrap_or(CapSet::EMPTY);
    let fixes = match (desc, args.require) {
        (Some(d), Some(r)) if !missing.is_empty() => shortest_fixes(d, missing, &|c| {
            let pred = model::predict(c, chain);
            pred.outcome == Outcome::Ok && (r - pred.effective).is_empty()
        })?,
        _ => Vec::new(),
    };
    render::print(out, args, desc, who, path, chain, &p, missing, &fixes)?;
    Ok(match (p.outcome, missing.is_empty()) {
        (Outcome::Ok, true) => Exit::Success,
        _ => Exit::Negative,
    })
}

/// The answer for a chain: every link predicted from the state the one before left,
/// `--require` judged at the last, fixes re-verified over the whole chain.
#[allow(clippy::too_many_arguments)]
fn answer_chain(
    args: &VerifyArgs,
    out: &mut dyn Write,
    desc: Option<&Descriptor>,
    who: &Described,
    path: &Path,
    nodes: &[Node],
    first: Prediction,
    rest: Vec<Resolved>,
) -> anyhow::Result<Exit> {
    let links = rest.len() + 1;
    let first_link = Resolved::Exec {
        path: path.to_path_buf(),
        nodes: nodes.to_vec(),
    };
    let steps = chain::follow(
        Step {
            link: first_link.clone(),
            caller: who.caller.clone(),
            prediction: first,
        },
        rest.clone(),
    );
    let required = args.require.unwrap_or(CapSet::EMPTY);
    let missing = chain::missing(&steps, links, required);
    let mut all = vec![first_link];
    all.extend(rest);
    let meets = |c: &Caller, links_now: &[Resolved]| -> bool {
        let s = chain::predict_all(c, links_now);
        chain::missing(&s, links_now.len(), required).is_empty()
    };
    let (fixes, hints) = if missing.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let fixes = match desc {
            Some(d) => {
                let mut f = shortest_fixes(d, missing, &|c| meets(c, &all))?;
                // An ambient set the descriptor gives dies at a link with file
                // capabilities: the fix then also removes those.
                let (bare, had) = chain::stripped(&all);
                if f.is_empty() && !had.is_empty() {
                    f = shortest_fixes(d, missing, &|c| meets(c, &bare))?
                        .into_iter()
                        .map(|(t, text)| {
                            (
                                t,
                                format!(
                                    "{text}, and remove the file capabilities on the way ({})",
                                    chain::revoke(&had)
                                ),
                            )
                        })
                        .collect();
                }
                f
            }
            None => Vec::new(),
        };
        let user = who
            .user_name
            .clone()
            .unwrap_or_else(|| who.caller.uid.to_string());
        (fixes, chain::fixes(&who.caller, &all, required, &user))
    };
    let view = render::View {
        json: args.json,
        image: args.image.as_deref(),
        require: args.require,
        ambient: false,
    };
    render::print_chain(
        out, &view, desc, who, &steps, links, missing, &fixes, &hints,
    )?;
    Ok(
        match (
            steps.len() == links,
            steps.last().map(|s| s.prediction.outcome),
            missing.is_empty(),
        ) {
            (true, Some(Outcome::Ok), true) => Exit::Success,
            _ => Exit::Negative,
        },
    )
}

impl VerifyArgs {
    /// The container descriptor options, for [`container_descriptor`].
    fn containers(&self) -> ContainerArgs<'_> {
        ContainerArgs {
            k8s: self.k8s.as_deref(),
            container: self.container.as_deref(),
            compose: self.compose.as_deref(),
            service: self.service.as_deref(),
            docker_args: self.docker_args.as_deref(),
            runtime: self.runtime,
        }
    }
}

/// `--then PROG`, `--then-user USER` and `--then-fork`, in the order given: the links
/// after the first program. clap keeps each option's values apart, so their order is
/// read back from the positions it records.
#[derive(Clone, Debug, Default)]
pub struct ChainArgs {
    pub links: Vec<Link>,
}

impl clap::FromArgMatches for ChainArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut at: Vec<(usize, Link)> = Vec::new();
        if let (Some(v), Some(i)) = (m.get_many::<PathBuf>("then"), m.indices_of("then")) {
            at.extend(i.zip(v.map(|p| Link::Exec(p.clone()))));
        }
        if let (Some(v), Some(i)) = (m.get_many::<String>("then_user"), m.indices_of("then_user")) {
            at.extend(i.zip(v.map(|u| Link::User(u.clone()))));
        }
        if let Some(i) = m.indices_of("then_fork") {
            at.extend(i.map(|i| (i, Link::Fork)));
        }
        at.sort_by_key(|(i, _)| *i);
        Ok(ChainArgs {
            links: at.into_iter().map(|(_, l)| l).collect(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for ChainArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        use clap::{Arg, ArgAction};
        cmd.arg(
            Arg::new("then")
                .long("then")
                .value_name("PROG")
                .action(ArgAction::Append)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Then the process execs PROG (a bare name is looked up in PATH): predict each link of the chain in order")
                .long_help("Then the process execs PROG (a bare name is looked up in PATH, in the image with --image). Repeat it, mixed with --then-user and --then-fork, to follow a chain: each link's caller is the state the previous one left, --require is judged at the last link."),
        )
        .arg(
            Arg::new("then_user")
                .long("then-user")
                .value_name("USER")
                .action(ArgAction::Append)
                .help("Then the process switches to USER[:GROUP] in user space, as gosu, su-exec, su and s6-setuidgid do (setgroups, setgid, setuid, no capability handling)"),
        )
        .arg(
            Arg::new("then_fork")
                .long("then-fork")
                .action(ArgAction::Append)
                .num_args(0)
                .value_parser(clap::builder::ValueParser::bool())
                .default_missing_value("true")
                .help("Then the process forks and the child goes on (it keeps everything): a daemon's worker, pm2's cluster"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
