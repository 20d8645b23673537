//! A chain of links: execs, user switches done in user space, forks. Each exec is
//! predicted by [`model::predict`] (the one model of an exec), and the state it leaves
//! (five sets, ids, no_new_privs, SECBIT_NOROOT) is the caller of the next link
//! (shared spec exec-chains.md §4).
//!
//! A user switch is what gosu, su-exec, su/runuser, s6-setuidgid, chpst and
//! supervisord do: setgroups, setgid, setuid, and nothing about capabilities, so the
//! kernel's setuid fixup (`cap_emulate_setxuid`) decides what is left.

use super::model::{self, Caller, Node, Outcome, Prediction, Reason};
use crate::caps::{self, CAP_SETGID, CAP_SETUID, CapSet};
use crate::users::User;
use std::path::PathBuf;

/// One link of a chain as the command line gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// `--then PROG`: the process execs PROG.
    Exec(PathBuf),
    /// `--then-user USER`: the process switches to USER in user space.
    User(String),
    /// `--then-fork`: the process forks and the child goes on.
    Fork,
}

/// A link with the facts its prediction needs.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// The program as named, and the files the kernel opens for it.
    Exec {
        path: PathBuf,
        nodes: Vec<Node>,
    },
    /// The user as named, and the account it resolves to.
    User {
        spec: String,
        user: User,
    },
    Fork,
}

/// A predicted link: who ran it and what it gave.
#[derive(Clone, Debug)]
pub struct Step {
    pub link: Resolved,
    pub caller: Caller,
    pub prediction: Prediction,
}

impl Step {
    /// The state the link leaves, which runs the next one; None when the link fails
    /// (or fcap cannot tell): nothing after it runs.
    pub fn next_caller(&self) -> Option<Caller> {
        let p = &self.prediction;
        if p.outcome != Outcome::Ok {
            return None;
        }
        let mut c = self.caller.clone();
        c.uid = p.uid;
        c.euid = p.euid;
        c.gid = p.gid;
        c.egid = p.egid;
        // setuid and execve both set the fs ids to the effective ones.
        c.fsuid = p.euid;
        c.fsgid = p.egid;
        if let Resolved::User { user, .. } = &self.link {
            c.groups = groups_of(user);
        }
        c.permitted = p.permitted;
        c.effective = p.effective;
        c.inheritable = p.inheritable;
        c.ambient = p.ambient;
        c.bounding = p.bounding;
        Some(c)
    }
}

/// The supplementary groups a user switch sets: the account's, with its primary
/// group first (as initgroups lists it).
fn groups_of(u: &User) -> Vec<u32> {
    let mut g = vec![u.gid];
    g.extend(u.groups.iter().copied().filter(|x| *x != u.gid));
    g
}

/// Predict the links after the first, whose step is given; stops after a link that
/// fails.
pub fn follow(first: Step, rest: Vec<Resolved>) -> Vec<Step> {
    let mut steps = vec![first];
    for link in rest {
        let Some(c) = steps.last().and_then(Step::next_caller) else {
            break;
        };
        let prediction = predict_link(&c, &link);
        steps.push(Step {
            link,
            caller: c,
            prediction,
        });
    }
    steps
}

/// One link run by `c`.
fn predict_link(c: &Caller, link: &Resolved) -> Prediction {
    match link {
        Resolved::Exec { nodes, .. } => model::predict(c, nodes),
        Resolved::User { user, .. } => switch_user(c, user),
        Resolved::Fork => fork(c),
    }
}

/// Every link of a chain, the first run by `c`.
pub fn predict_all(c: &Caller, links: &[Resolved]) -> Vec<Step> {
    let Some((first, rest)) = links.split_first() else {
        return Vec::new();
    };
    let step = Step {
        link: first.clone(),
        caller: c.clone(),
        prediction: predict_link(c, first),
    };
    follow(step, rest.to_vec())
}

/// A fork: the child holds what its parent held.
pub fn fork(c: &Caller) -> Prediction {
    let mut p = Prediction::unexecuted(
        c,
        Outcome::Ok,
        vec![Reason {
            code: "fork",
            cap: None,
            message: "a forked child keeps every capability set, its ids and no_new_privs"
                .to_string(),
        }],
    );
    held(&mut p, c);
    p
}

/// The caller's own sets in a prediction (nothing exec'd, nothing changed yet).
fn held(p: &mut Prediction, c: &Caller) {
    p.permitted = c.permitted;
    p.effective = c.effective;
    p.inheritable = c.inheritable;
    p.ambient = c.ambient;
}

/// setgroups(user's groups), setgid(gid), setuid(uid) with no capability handling,
/// as gosu and su-exec do them; the kernel's fixup (`cap_emulate_setxuid`, with
/// SECBIT_KEEP_CAPS clear as it is after every exec) then drops capabilities.
pub fn switch_user(c: &Caller, u: &User) -> Prediction {
    let who = match &u.name {
        Some(n) => format!("{n} (uid {})", u.uid),
        None => format!("uid {}", u.uid),
    };
    let eperm = |what: String| {
        let mut p = Prediction::unexecuted(
            c,
            Outcome::Fail(libc::EPERM),
            vec![Reason {
                code: "user-switch-eperm",
                cap: None,
                message: what,
            }],
        );
        held(&mut p, c);
        p
    };
    // setgroups needs cap_setgid whatever the list (the switchers always call it).
    if !c.effective.has(CAP_SETGID) {
        return eperm(format!(
            "switching to {who} calls setgroups, which needs cap_setgid in the effective set; the process lacks it, so the switch fails with EPERM"
        ));
    }
    let to_other = u.uid != c.uid && u.uid != c.euid;
    if to_other && !c.effective.has(CAP_SETUID) {
        return eperm(format!(
            "switching to {who} calls setuid, which needs cap_setuid in the effective set for a uid the process does not already have; the process lacks it, so the switch fails with EPERM"
        ));
    }
    let mut p = Prediction::unexecuted(c, Outcome::Ok, Vec::new());
    held(&mut p, c);
    // With cap_setuid, setuid sets all three uids; without it only the effective one.
    let (uid, euid, suid) = if c.effective.has(CAP_SETUID) {
        (u.uid, u.uid, u.uid)
    } else {
        (c.uid, u.uid, c.euid)
    };
    p.uid = uid;
    p.euid = euid;
    p.gid = u.gid;
    p.egid = u.gid;
    p.reasons.push(Reason {
        code: "user-switch",
        cap: None,
        message: format!(
            "the process switches to {who} in user space (setgroups, setgid, setuid), as gosu, su-exec, su, runuser, s6-setuidgid and supervisord's user= do, without touching its capabilities"
        ),
    });
    let root = c.root_uid().unwrap_or(u32::MAX);
    // An exec leaves the saved uid equal to the effective one.
    let was_root = c.uid == root || c.euid == root;
    let is_root = uid == root || euid == root || suid == root;
    if was_root && !is_root {
        if !c.permitted.is_empty() {
            let n = c.permitted.iter().count();
            p.reasons.push(Reason {
                code: "setuid-clears",
                cap: None,
                message: format!(
                    "the permitted and effective sets are emptied ({}): the process gives up uid 0 without SECBIT_KEEP_CAPS (user-space switchers never set it)",
                    if n <= 4 {
                        c.permitted.names().join(",")
                    } else {
                        format!("{n} capabilities")
                    }
                ),
            });
        }
        for cap in c.ambient.iter() {
            p.reasons.push(Reason {
                code: "setuid-clears-ambient",
                cap: Some(cap),
                message: format!(
                    "{} is dropped from the ambient set: giving up uid 0 clears it, even with SECBIT_KEEP_CAPS",
                    caps::name(cap)
                ),
            });
        }
        p.permitted = CapSet::EMPTY;
        p.effective = CapSet::EMPTY;
        p.ambient = CapSet::EMPTY;
    }
    if c.euid == root && euid != root {
        p.effective = CapSet::EMPTY;
    } else if c.euid != root && euid == root {
        p.effective = p.permitted;
    }
    p
}

/// The state `fcap run` hands its program, from the state `c` it starts in: `user`
/// (when given) set with the capabilities kept, the bounding set cut to `bounding`,
/// `ambient` raised (so also inheritable and permitted), no_new_privs when asked.
/// A process that stays root keeps its permitted set; any other process keeps only
/// the ambient capabilities, so the program's exec sees what it gets and nothing of
/// the launcher's. Err: what the kernel would refuse, and why.
pub fn launched(
    c: &Caller,
    user: Option<(&User, Vec<u32>)>,
    ambient: CapSet,
    bounding: Option<CapSet>,
    no_new_privs: bool,
) -> Result<Caller, String> {
    let mut n = c.clone();
    let root = c.root_uid().unwrap_or(u32::MAX);
    // capset may only keep or make inheritable what the permitted set holds (root's
    // is its bounding set, unless something already lowered it).
    let can_hold = c.permitted;
    if let Some(b) = bounding {
        let cut = c.bounding - b;
        if !cut.is_empty() && !can_hold.has(caps::CAP_SETPCAP) {
            return Err(format!(
                "dropping {} from the bounding set needs cap_setpcap, which this process does not hold",
                cut.names().join(",")
            ));
        }
        n.bounding = c.bounding & b;
    }
    let outside = ambient - n.bounding;
    if !outside.is_empty() {
        return Err(format!(
            "{} not in the bounding set: no process can raise it",
            outside.names().join(",")
        ));
    }
    let lacking = ambient - can_hold;
    if !lacking.is_empty() {
        return Err(format!(
            "{} not in this process's permitted set: it cannot be made inheritable or ambient (run as root, or from a process that holds it)",
            lacking.names().join(",")
        ));
    }
    if let Some((u, groups)) = user {
        let need_uid = u.uid != c.uid || u.uid != c.euid;
        if need_uid && !can_hold.has(CAP_SETUID) {
            return Err(format!(
                "switching to uid {} needs cap_setuid, which this process does not hold",
                u.uid
            ));
        }
        if (groups != c.groups || u.gid != c.gid) && !can_hold.has(CAP_SETGID) {
            return Err(format!(
                "setting gid {} and the supplementary groups needs cap_setgid, which this process does not hold",
                u.gid
            ));
        }
        n.uid = u.uid;
        n.euid = u.uid;
        n.fsuid = u.uid;
        n.gid = u.gid;
        n.egid = u.gid;
        n.fsgid = u.gid;
        n.groups = groups;
    }
    let stays_root = (n.uid == root || n.euid == root) && !c.noroot;
    n.inheritable = (c.inheritable & n.bounding) | ambient;
    if stays_root {
        n.permitted = can_hold & n.bounding;
    } else {
        n.permitted = ambient;
        n.inheritable = ambient;
    }
    n.effective = n.permitted;
    n.ambient = ambient;
    n.no_new_privs |= no_new_privs;
    Ok(n)
}

/// Where a capability was last lost along the steps (from the permitted or ambient
/// sets, or with `ambient_only` from the ambient set): the step and the reason that
/// names it (or the step's first reason when none does). None when some step held
/// it and no later step lost it.
pub fn lost_at(steps: &[Step], cap: u32, ambient_only: bool) -> Option<(usize, Reason)> {
    let held = |p: CapSet, a: CapSet| if ambient_only { a } else { p | a }.has(cap);
    let mut at = None;
    for (i, s) in steps.iter().enumerate() {
        let before = held(s.caller.permitted, s.caller.ambient);
        let p = &s.prediction;
        let after = p.outcome == Outcome::Ok && held(p.permitted, p.ambient);
        if before && !after {
            // The reason about this capability, else the last general one (the
            // rule of a user switch, or the exec's failure).
            let r = p
                .reasons
                .iter()
                .find(|r| r.cap == Some(cap))
                .or_else(|| p.reasons.iter().rev().find(|r| r.cap.is_none()))
                .cloned();
            at = r.map(|r| (i, r));
        } else if after {
            at = None;
        }
    }
    at
}

/// What the chain ends with against `required`: the capabilities not effective in
/// the last program (all of them when a link fails or fcap cannot tell, or when the
/// chain stopped early).
pub fn missing(steps: &[Step], links: usize, required: CapSet) -> CapSet {
    match steps.last() {
        Some(s) if steps.len() == links && s.prediction.outcome == Outcome::Ok => {
            required - s.prediction.effective
        }
        _ => required,
    }
}

/// The file of an exec link whose capabilities count: the last one the kernel opens
/// (the interpreter of a script).
fn counting(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .rposition(|n| n.kind == model::Kind::Elf)
        .unwrap_or(nodes.len().saturating_sub(1))
}

/// The links with every file capability removed, and the files that had one.
pub fn stripped(links: &[Resolved]) -> (Vec<Resolved>, Vec<String>) {
    let mut had = Vec::new();
    let links = links
        .iter()
        .map(|l| match l {
            Resolved::Exec { path, nodes } => {
                let mut nodes = nodes.clone();
                for n in &mut nodes {
                    if matches!(n.xattr, model::Xattr::Value(_)) {
                        let shown = n.shown();
                        if !had.contains(&shown) {
                            had.push(shown);
                        }
                        n.xattr = model::Xattr::Absent;
                    }
                }
                Resolved::Exec {
                    path: path.clone(),
                    nodes,
                }
            }
            other => other.clone(),
        })
        .collect();
    (links, had)
}

fn meets(c: &Caller, links: &[Resolved], required: CapSet) -> bool {
    missing(&predict_all(c, links), links.len(), required).is_empty()
}

/// `fcap revoke all A; fcap revoke all B` for the files that hold a capability.
pub fn revoke(files: &[String]) -> String {
    files
        .iter()
        .map(|f| format!("fcap revoke all {f}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The shell words of an exec link's program.
fn program(l: &Resolved) -> String {
    match l {
        Resolved::Exec { path, .. } => crate::output::escape_path(path),
        _ => String::new(),
    }
}

/// Changes that make a chain end with `required` effective, each checked by
/// predicting the changed chain again (only those that pass are returned): give the
/// capability to the program at the end, let an ambient set through by removing file
/// capabilities that clear it, start the chain with an ambient set (`fcap run`,
/// systemd AmbientCapabilities=), or replace a user switch with `fcap run`.
pub fn fixes(c: &Caller, links: &[Resolved], required: CapSet, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    let caps_text = required.names().join(",");
    let upper = required
        .names()
        .iter()
        .map(|n| n.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ");
    // The program at the end gets it from its own file.
    if let Some(last) = links
        .iter()
        .rposition(|l| matches!(l, Resolved::Exec { .. }))
    {
        let mut moved = links.to_vec();
        if let Resolved::Exec { nodes, .. } = &mut moved[last] {
            let k = counting(nodes);
            let had = match &nodes[k].xattr {
                model::Xattr::Value(b) => crate::filecaps::FileCaps::decode(b).ok(),
                _ => None,
            }
            .unwrap_or(crate::filecaps::FileCaps::EMPTY);
            let fc = crate::filecaps::FileCaps {
                permitted: had.permitted | required,
                effective: true,
                ..had
            };
            nodes[k].xattr = model::Xattr::Value(fc.encode());
            let file = nodes[k].shown();
            if meets(c, &moved, required) {
                let earlier: Vec<String> = links[..last]
                    .iter()
                    .filter_map(|l| match l {
                        Resolved::Exec { nodes, .. } => Some(&nodes[counting(nodes)]),
                        _ => None,
                    })
                    .filter(|n| match &n.xattr {
                        model::Xattr::Value(b) => crate::filecaps::FileCaps::decode(b)
                            .is_ok_and(|f| !(f.permitted & required).is_empty()),
                        _ => false,
                    })
                    .map(Node::shown)
                    .collect();
                let from = if earlier.is_empty() {
                    String::new()
                } else {
                    format!("; on {} it ends at the next exec", earlier.join(", "))
                };
                out.push(format!(
                    "give it to the program that needs it, the last link: fcap grant {caps_text} {file} (file capabilities reach only the program they are on{from})"
                ));
            }
        }
    }
    let (bare, had) = stripped(links);
    // The caller's ambient set gets through once nothing clears it.
    if !(c.ambient & required).is_empty() && !had.is_empty() && meets(c, &bare, required) {
        out.push(format!(
            "remove the file capabilities that clear the ambient set on the way ({}): any file capability, even an empty one, empties it at exec",
            revoke(&had)
        ));
    }
    // Start the chain with the capability in the ambient set.
    let mut amb = c.clone();
    amb.inheritable = amb.inheritable | required;
    amb.ambient = amb.ambient | required;
    amb.permitted = amb.permitted | required;
    amb.effective = amb.effective | required;
    let first = program(&links[0]);
    let strip_first = if had.is_empty() {
        String::new()
    } else {
        format!("{}; then ", revoke(&had))
    };
    if (c.ambient & required) != required
        && (required - c.bounding).is_empty()
        && meets(&amb, &bare, required)
    {
        out.push(format!(
            "hand it down as an ambient capability, which survives every link without file capabilities or set-ID bits: {strip_first}fcap run --user {user} --ambient {caps_text} -- {first}, or in a systemd unit User={user} and AmbientCapabilities={upper} with no file capability on {first}"
        ));
    }
    // A user switch in user space clears the ambient set: fcap run switches and
    // keeps it.
    if let Some(k) = links
        .iter()
        .position(|l| matches!(l, Resolved::User { .. }))
        && k + 1 < links.len()
        && let Resolved::User { spec, user: u } = &links[k]
    {
        let before = predict_all(c, &bare[..k]);
        let state = if k == 0 {
            Some(c.clone())
        } else if before.len() == k {
            before.last().and_then(Step::next_caller)
        } else {
            None
        };
        if let Some(Ok(run)) =
            state.map(|s| launched(&s, Some((u, groups_of(u))), required, None, false))
            && meets(&run, &bare[k + 1..], required)
        {
            out.push(format!(
                "{strip_first}replace the user switch to {spec} with fcap run --user {spec} --ambient {caps_text} -- {}: a switch in user space (gosu, su-exec, su, runuser) clears every capability, fcap run keeps these as ambient ones",
                program(&bare[k + 1])
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{CAP_NET_BIND_SERVICE as NBS, CAP_SETPCAP};

    fn s(caps: &[u32]) -> CapSet {
        caps.iter()
            .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c))
    }

    fn root() -> Caller {
        Caller {
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            fsuid: 0,
            fsgid: 0,
            groups: vec![],
            inheritable: CapSet::EMPTY,
            permitted: CapSet::all(),
            effective: CapSet::all(),
            ambient: CapSet::EMPTY,
            bounding: CapSet::all(),
            noroot: false,
            no_new_privs: false,
            untrusted_tracer: false,
            shared_fs: false,
            userns: None,
            own_ns: None,
        }
    }

    fn nobody() -> User {
        User {
            name: Some("nobody".to_string()),
            uid: 65534,
            gid: 65534,
            groups: vec![],
        }
    }

    /// A non-root process holding `caps` in every set but bounding.
    fn holding(caps: CapSet) -> Caller {
        Caller {
            uid: 1000,
            euid: 1000,
            gid: 1000,
            egid: 1000,
            fsuid: 1000,
            fsgid: 1000,
            inheritable: caps,
            permitted: caps,
            effective: caps,
            ambient: caps,
            ..root()
        }
    }

    #[test]
    fn leaving_root_empties_permitted_effective_and_ambient() {
        let mut c = root();
        c.inheritable = s(&[NBS]);
        c.ambient = s(&[NBS]);
        let p = switch_user(&c, &nobody());
        assert_eq!(p.outcome, Outcome::Ok);
        assert_eq!(
            (p.permitted, p.effective, p.ambient),
            (CapSet::EMPTY, CapSet::EMPTY, CapSet::EMPTY)
        );
        assert_eq!(p.inheritable, s(&[NBS]));
        assert_eq!((p.uid, p.euid, p.gid, p.egid), (65534, 65534, 65534, 65534));
        let codes: Vec<&str> = p.reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            ["user-switch", "setuid-clears", "setuid-clears-ambient"]
        );
    }

    #[test]
    fn a_non_root_switch_keeps_everything_and_needs_setuid_and_setgid() {
        let c = holding(s(&[NBS, CAP_SETUID, CAP_SETGID]));
        let p = switch_user(&c, &nobody());
        assert_eq!(p.outcome, Outcome::Ok);
        assert_eq!(p.ambient, c.ambient);
        assert_eq!(p.effective, c.effective);
        for missing in [CAP_SETUID, CAP_SETGID] {
            let c = holding(s(&[NBS, CAP_SETUID, CAP_SETGID]) - s(&[missing]));
            let p = switch_user(&c, &nobody());
            assert_eq!(p.outcome, Outcome::Fail(libc::EPERM));
            assert_eq!(p.reasons[0].code, "user-switch-eperm");
        }
        // To root: effective becomes permitted.
        let mut c = holding(s(&[NBS, CAP_SETUID, CAP_SETGID]));
        c.effective = s(&[CAP_SETUID, CAP_SETGID]);
        let p = switch_user(
            &c,
            &User {
                name: None,
                uid: 0,
                gid: 0,
                groups: vec![],
            },
        );
        assert_eq!(p.effective, c.permitted);
    }

    #[test]
    fn the_state_after_a_switch_has_the_accounts_groups() {
        let u = User {
            groups: vec![4343],
            ..nobody()
        };
        let step = Step {
            link: Resolved::User {
                spec: "nobody".to_string(),
                user: u.clone(),
            },
            caller: root(),
            prediction: switch_user(&root(), &u),
        };
        let next = step.next_caller().unwrap();
        assert_eq!(next.groups, vec![65534, 4343]);
        assert_eq!((next.fsuid, next.fsgid), (65534, 65534));
    }

    #[test]
    fn launched_keeps_only_the_ambient_capabilities_of_a_non_root_target() {
        let u = nobody();
        let t = launched(&root(), Some((&u, vec![65534])), s(&[NBS]), None, true).unwrap();
        assert_eq!(
            (t.uid, t.gid, t.groups.clone()),
            (65534, 65534, vec![65534])
        );
        for set in [t.permitted, t.effective, t.inheritable, t.ambient] {
            assert_eq!(set, s(&[NBS]));
        }
        assert!(t.no_new_privs);
        // Root that stays root keeps its permitted set.
        let t = launched(
            &root(),
            None,
            s(&[NBS]),
            Some(s(&[NBS, CAP_SETPCAP])),
            false,
        )
        .unwrap();
        assert_eq!(t.permitted, s(&[NBS, CAP_SETPCAP]));
        assert_eq!(t.bounding, s(&[NBS, CAP_SETPCAP]));
        assert_eq!(t.ambient, s(&[NBS]));
    }

    #[test]
    fn launched_refuses_what_the_kernel_would() {
        let u = nobody();
        let none = holding(CapSet::EMPTY);
        type Case<'a> = (
            Caller,
            Option<(&'a User, Vec<u32>)>,
            CapSet,
            Option<CapSet>,
            &'a str,
        );
        let cases: [Case; 4] = [
            (
                none.clone(),
                None,
                s(&[NBS]),
                None,
                "not in this process's permitted set",
            ),
            (
                none.clone(),
                Some((&u, vec![65534])),
                CapSet::EMPTY,
                None,
                "needs cap_setuid",
            ),
            (
                none,
                None,
                CapSet::EMPTY,
                Some(CapSet::EMPTY),
                "needs cap_setpcap",
            ),
            (
                root(),
                None,
                s(&[NBS]),
                Some(CapSet::EMPTY),
                "not in the bounding set",
            ),
        ];
        for (c, user, amb, bnd, why) in cases {
            let e = launched(&c, user, amb, bnd, false).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn lost_at_names_the_last_departure_and_its_rule() {
        let c = holding(s(&[NBS]));
        let u = nobody();
        // A non-root switch keeps it; a fork keeps it; nothing is lost.
        let mut c2 = c.clone();
        c2.effective = c2.effective | s(&[CAP_SETUID, CAP_SETGID]);
        c2.permitted = c2.effective;
        let steps = predict_all(
            &c2,
            &[
                Resolved::Fork,
                Resolved::User {
                    spec: "nobody".into(),
                    user: u,
                },
            ],
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(lost_at(&steps, NBS, false), None);
        assert_eq!(missing(&steps, 2, s(&[NBS])), CapSet::EMPTY);
        // A failing switch ends the chain: everything required is missing.
        let steps = predict_all(
            &c,
            &[
                Resolved::Fork,
                Resolved::User {
                    spec: "nobody".into(),
                    user: nobody(),
                },
                Resolved::Fork,
            ],
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(missing(&steps, 3, s(&[NBS])), s(&[NBS]));
        let (i, r) = lost_at(&steps, NBS, false).unwrap();
        assert_eq!((i, r.code), (1, "user-switch-eperm"));
    }
}
