//! `fcap run`: start a program as another user with ambient capabilities, the one
//! way capabilities survive a chain of plain execs (a wrapper script, `npm start`,
//! H2O's start_server).
//!
//! The kernel's order is fixed (shared spec exec-chains.md §3.1): bounding set while
//! still privileged, SECBIT_KEEP_CAPS, groups, gid, uid, the inheritable (and
//! permitted) set, then the ambient raise, which a uid change would have cleared, then
//! no_new_privs. Every call's result is checked and the sets are read back before the
//! exec, so fcap never starts a program without what it was asked to give it (setpriv
//! ignores a failed raise; capsh grants nothing when `--addamb` precedes `--user`).
//! Before that, verify's model predicts the exec (and any `--then` chain): a program
//! whose file capabilities or set-ID bits would clear the ambient set is refused.

use super::verify::{ChainArgs, cap_list, host_user, on_path, render, resolve_host};
use crate::caps::CapSet;
use crate::error::Exit;
use crate::output::escape_path;
use crate::sys;
use crate::verify::caller::{self, Described, Request};
use crate::verify::chain::{self, Resolved, Step};
use crate::verify::facts;
use crate::verify::model::{self, Caller, Outcome};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Run a program as another user with ambient capabilities, checked.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The setup follows the kernel's order and checks each step: bounding set, keep-caps, \
groups, gid, uid, inheritable set, ambient raise (after the user switch, which clears \
it), no_new_privs; the sets are read back before the exec. PROGRAM is checked first \
with verify's model: file capabilities or a set-ID bit on it (or on its #! \
interpreter) clear the ambient set, so fcap refuses to run it (--force runs it \
anyway). Ambient capabilities pass to every program it runs that has no file \
capabilities or set-ID bits.

Exit status: PROGRAM's own once it runs; 125 fcap failed or refused before the exec, \
126 PROGRAM cannot be executed, 127 PROGRAM is not found. --explain: 0 it would run \
with the capabilities, 1 it would be refused.")]
pub struct RunArgs {
    /// Run as this user (name or uid; its groups from /etc/group unless --groups).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Primary group (name or gid; default: the user's).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Supplementary groups, a comma list of names or gids ('' for none).
    #[arg(long, value_name = "LIST", conflicts_with = "init_groups")]
    pub groups: Option<String>,

    /// The user's groups from /etc/group (the default with --user).
    #[arg(long)]
    pub init_groups: bool,

    /// Capabilities to raise in the ambient set (also inheritable and permitted).
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub ambient: Option<CapSet>,

    /// Cut the bounding set to exactly these capabilities.
    #[arg(long, value_name = "CAPS", value_parser = cap_list)]
    pub bounding: Option<CapSet>,

    /// Set no_new_privs: no set-ID bit or file capability grants anything new.
    #[arg(long)]
    pub no_new_privs: bool,

    /// Print what PROGRAM (and each --then link) would get; run nothing.
    #[arg(long)]
    pub explain: bool,

    /// With --explain, print one JSON object.
    #[arg(long, requires = "explain")]
    pub json: bool,

    /// Run PROGRAM even when the check says the ambient set would not reach it.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub chain: ChainArgs,

    /// The program (looked up in PATH) and its arguments.
    #[arg(value_name = "PROGRAM", required = true, trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

/// Why fcap stops before the exec, with the exit status that says so.
type Refused = (Exit, anyhow::Error);

fn refuse(code: Exit, msg: String) -> Refused {
    (code, anyhow::anyhow!(msg))
}

/// Run `fcap run`: on success it does not return (the program replaces fcap).
pub fn run(args: &RunArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match launch(args, out) {
        Ok(code) => Ok(code),
        Err((code, e)) => {
            crate::error::print(&e);
            Ok(code)
        }
    }
}

/// The user, group and groups to switch to, when anything asks for a switch.
fn target_ids(
    args: &RunArgs,
    own: &Caller,
) -> anyhow::Result<Option<(crate::users::User, Vec<u32>)>> {
    if args.user.is_none() && args.group.is_none() && args.groups.is_none() && !args.init_groups {
        return Ok(None);
    }
    let group_file = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut user = match &args.user {
        Some(u) => host_user(u)?,
        None => {
            let mut u = host_user(&own.uid.to_string())?;
            u.gid = own.gid;
            u
        }
    };
    if let Some(g) = &args.group {
        user.gid = crate::users::group_text(g, &group_file, "/etc/group")?;
    }
    let groups = match &args.groups {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(|g| crate::users::group_text(g, &group_file, "/etc/group"))
            .collect::<anyhow::Result<Vec<u32>>>()?,
        None if args.user.is_some() || args.init_groups => {
            let mut g = vec![user.gid];
            g.extend(user.groups.iter().copied().filter(|x| *x != user.gid));
            g
        }
        None => own.groups.clone(),
    };
    Ok(Some((user, groups)))
}

fn launch(args: &RunArgs, out: &mut dyn Write) -> Result<Exit, Refused> {
    let setup = |e: anyhow::Error| (Exit::LaunchError, e);
    // Privileges from fcap's own file (set-ID bits, file capabilities) belong to
    // whoever set them up for another purpose (the setcap drop-in); a launcher
    // holding them would hand them to any user who runs it.
    // SAFETY: getauxval only reads the auxiliary vector.
    if unsafe { libc::getauxval(libc::AT_SECURE) } != 0 {
        return Err(refuse(
            Exit::LaunchError,
            "refusing to run: fcap was started in secure-execution mode (its file has set-ID bits or capabilities that raised its privileges); start fcap run from a process that holds the capabilities itself (root, a service manager)".to_string(),
        ));
    }
    let own = caller::build(&Request::default()).map_err(setup)?;
    let ids = target_ids(args, &own.caller).map_err(setup)?;
    let ambient = args.ambient.unwrap_or(CapSet::EMPTY);
    let name = PathBuf::from(&args.command[0]);
    let target = chain::launched(
        &own.caller,
        ids.as_ref().map(|(u, g)| (u, g.clone())),
        ambient,
        args.bounding,
        args.no_new_privs,
    )
    .map_err(|why| {
        refuse(
            Exit::LaunchError,
            format!("cannot set up the process: {why}"),
        )
    })?;
    let Some(program) = on_path(&name) else {
        return Err(refuse(
            Exit::NotFound,
            format!("{}: not found in PATH", crate::error::quote(&name)),
        ));
    };
    let mut nodes = facts::gather(&program);
    facts::mark_open_for_writing(&mut nodes);
    if nodes[0].inode.is_none() {
        let e = std::io::Error::from_raw_os_error(nodes[0].lookup_errno.unwrap_or(libc::ENOENT));
        let code = if e.raw_os_error() == Some(libc::ENOENT) {
            Exit::NotFound
        } else {
            Exit::CannotExecute
        };
        return Err((code, crate::error::io_at_path(&program, &e, false)));
    }
    let rest = resolve_host(&args.chain.links, None).map_err(setup)?;
    let links = rest.len() + 1;
    let first = Step {
        link: Resolved::Exec {
            path: program.clone(),
            nodes: nodes.clone(),
        },
        caller: target.clone(),
        prediction: model::predict(&target, &nodes),
    };
    let steps = chain::follow(first, rest);
    // What counts is the ambient set itself at the last link: a program that gets a
    // capability from its own file has still cut the ambient chain there.
    let missing = match steps.last() {
        Some(s) if steps.len() == links && s.prediction.outcome == Outcome::Ok => {
            ambient - s.prediction.ambient
        }
        _ => ambient,
    };
    if args.explain {
        let who = Described {
            caller: target.clone(),
            source: describe(args, &target, ambient),
            user_name: crate::users::user_name(target.uid),
            notes: Vec::new(),
        };
        let view = render::View {
            json: args.json,
            image: None,
            require: (!ambient.is_empty()).then_some(ambient),
            ambient: true,
        };
        render::print_chain(out, &view, None, &who, &steps, links, missing, &[], &[])
            .map_err(setup)?;
        return Ok(if missing.is_empty() && steps.len() == links {
            Exit::Success
        } else {
            Exit::Negative
        });
    }
    if !args.force {
        check(&steps, links, missing)?;
    }
    set_up(args, &own.caller, &target, ids.as_ref())?;
    exec(&program, &args.command)
}

/// The launched process, for `--explain`.
fn describe(args: &RunArgs, t: &Caller, ambient: CapSet) -> String {
    let who = match &args.user {
        Some(u) => format!("user {u} (uid {} gid {})", t.uid, t.gid),
        None => format!("uid {} gid {}", t.uid, t.gid),
    };
    format!(
        "the process fcap run prepares: {who}, ambient {}{}",
        if ambient.is_empty() {
            "none".to_string()
        } else {
            ambient.names().join(",")
        },
        if t.no_new_privs { ", no_new_privs" } else { "" }
    )
}

/// Refuse a run whose ambient capabilities would not reach the last program.
fn check(steps: &[Step], links: usize, missing: CapSet) -> Result<(), Refused> {
    let Some(last) = steps.last() else {
        return Ok(());
    };
    let program = |s: &Step| match &s.link {
        Resolved::Exec { path, .. } => crate::error::quote(path),
        Resolved::User { spec, .. } => format!("the switch to user {spec}"),
        Resolved::Fork => "the fork".to_string(),
    };
    // The program itself cannot be executed: say why, with the status env gives.
    if let (1, Outcome::Fail(errno)) = (steps.len(), last.prediction.outcome) {
        let why = last
            .prediction
            .reasons
            .iter()
            .find(|r| r.code != "exec-fails")
            .map(|r| format!(": {}", r.message))
            .unwrap_or_default();
        return Err(refuse(
            if errno == libc::ENOENT {
                Exit::NotFound
            } else {
                Exit::CannotExecute
            },
            format!(
                "{}: cannot execute: {}{why}",
                program(last),
                crate::error::strerror(&std::io::Error::from_raw_os_error(errno))
            ),
        ));
    }
    if steps.len() < links || last.prediction.outcome == Outcome::Unknown {
        let why = last
            .prediction
            .reasons
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(refuse(
            Exit::LaunchError,
            format!(
                "refusing to run: {} {}: {why} (--force runs it anyway)",
                program(last),
                if last.prediction.outcome == Outcome::Unknown {
                    "cannot be predicted"
                } else {
                    "would fail"
                }
            ),
        ));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let cap = missing.iter().next().unwrap_or(0);
    let (at, why, fix) = match chain::lost_at(steps, cap, true) {
        Some((i, r)) => (
            i,
            r.message,
            steps[i]
                .prediction
                .hints
                .first()
                .cloned()
                .unwrap_or_default(),
        ),
        None => (
            steps.len() - 1,
            "it is not effective there".to_string(),
            String::new(),
        ),
    };
    let fix = if fix.is_empty() {
        String::new()
    } else {
        format!("; {fix}")
    };
    Err(refuse(
        Exit::LaunchError,
        format!(
            "refusing to run {}: the ambient set would lose {} at {}: {why}{fix} (--force runs it anyway)",
            program(&steps[0]),
            missing.names().join(","),
            program(&steps[at]),
        ),
    ))
}

/// Build the launched process in this one, in the kernel's order, checking each
/// call, then read the result back.
fn set_up(
    args: &RunArgs,
    own: &Caller,
    t: &Caller,
    ids: Option<&(crate::users::User, Vec<u32>)>,
) -> Result<(), Refused> {
    let failed = |what: String, e: std::io::Error| {
        refuse(
            Exit::LaunchError,
            format!("{what}: {}", crate::error::strerror(&e)),
        )
    };
    // Every permitted capability effective, for the calls below.
    let mut now = sys::caps_get().map_err(|e| failed("capget".to_string(), e))?;
    now.effective = now.permitted;
    sys::caps_set(&now).map_err(|e| failed("capset".to_string(), e))?;
    // While this process may still (cap_setpcap): the bounding set.
    for cap in (own.bounding - t.bounding).iter() {
        sys::bounding_drop(cap).map_err(|e| {
            failed(
                format!("dropping {} from the bounding set", crate::caps::name(cap)),
                e,
            )
        })?;
    }
    if let Some((u, groups)) = ids {
        sys::keep_caps(true).map_err(|e| failed("PR_SET_KEEPCAPS".to_string(), e))?;
        sys::switch_ids(u.uid, u.gid, groups)
            .map_err(|(call, e)| failed(format!("{call} to uid {} gid {}", u.uid, u.gid), e))?;
        sys::keep_caps(false).map_err(|e| failed("PR_SET_KEEPCAPS".to_string(), e))?;
    }
    sys::caps_set(&sys::ThreadCaps {
        effective: t.effective,
        permitted: t.permitted,
        inheritable: t.inheritable,
    })
    .map_err(|e| failed("setting the inheritable and permitted sets".to_string(), e))?;
    sys::ambient_clear().map_err(|e| failed("clearing the ambient set".to_string(), e))?;
    for cap in t.ambient.iter() {
        sys::ambient_raise(cap).map_err(|e| {
            failed(
                format!("raising {} in the ambient set", crate::caps::name(cap)),
                e,
            )
        })?;
    }
    if args.no_new_privs {
        sys::no_new_privs().map_err(|e| failed("setting no_new_privs".to_string(), e))?;
    }
    // Read back what the kernel holds for this thread, the one that execs.
    let text = std::fs::read_to_string("/proc/thread-self/status")
        .map_err(|e| failed("reading /proc/thread-self/status".to_string(), e))?;
    let s = caller::parse_status(&text).map_err(|e| (Exit::LaunchError, e))?;
    let mut wrong = Vec::new();
    let set = |c: CapSet| {
        if c.is_empty() {
            "none".to_string()
        } else {
            c.names().join(",")
        }
    };
    if s.ambient != t.ambient {
        wrong.push(format!(
            "the ambient set is {}, not {}",
            set(s.ambient),
            set(t.ambient)
        ));
    }
    if s.inheritable != t.inheritable {
        wrong.push(format!(
            "the inheritable set is {}, not {}",
            set(s.inheritable),
            set(t.inheritable)
        ));
    }
    if s.bounding != t.bounding {
        wrong.push(format!(
            "the bounding set is {}, not {}",
            set(s.bounding),
            set(t.bounding)
        ));
    }
    if s.uid.iter().any(|u| *u != t.uid) || s.gid.iter().any(|g| *g != t.gid) {
        wrong.push(format!(
            "the ids are uid {:?} gid {:?}, not {} and {}",
            s.uid, s.gid, t.uid, t.gid
        ));
    }
    if s.no_new_privs != t.no_new_privs {
        wrong.push(format!("no_new_privs is {}", s.no_new_privs));
    }
    if !wrong.is_empty() {
        return Err(refuse(
            Exit::LaunchError,
            format!(
                "after the setup {}: refusing to run the program",
                wrong.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Replace this process with the program; only a failure returns.
fn exec(program: &Path, command: &[OsString]) -> Result<Exit, Refused> {
    use std::os::unix::process::CommandExt;
    let e = std::process::Command::new(program)
        .arg0(&command[0])
        .args(&command[1..])
        .exec();
    let code = if e.raw_os_error() == Some(libc::ENOENT) {
        Exit::NotFound
    } else {
        Exit::CannotExecute
    };
    Err(refuse(
        code,
        format!(
            "'{}': cannot execute: {}",
            escape_path(program),
            crate::error::strerror(&e)
        ),
    ))
}
