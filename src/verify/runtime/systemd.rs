//! A systemd service unit mapped to the caller systemd builds before it execs
//! `ExecStart=` (systemd 252, the packaged version here; shared spec runtimes.md §4,
//! systemd.exec(5), systemd.service(5)).
//!
//! Every rule here was checked against v252's code: `unit_patch_contexts()` (what
//! `PrivateDevices=`, `ProtectKernelModules=`, `ProtectKernelLogs=`, `ProtectClock=`
//! and `DynamicUser=` change), `exec_child()` and `context_has_no_new_privileges()`
//! in src/core/execute.c, `capability_ambient_set_apply()` in
//! src/basic/capability-util.c (doc/runtimes.md says how to re-check them).
//!
//! systemd (`exec_child`) drops the bounding set, makes the ambient capabilities
//! that are still in the bounding set inheritable and ambient (any other is dropped
//! without a word, and the service starts), switches to `User=` (with
//! SECBIT_KEEP_CAPS only when `AmbientCapabilities=` or `SecureBits=` is set: then
//! the service process keeps PID 1's permitted set until its exec; otherwise a
//! non-root user's permitted set is cleared by the uid switch), raises the ambient
//! set again, applies `SecureBits=`, sets no_new_privs, and execs. That state is
//! written as a [`Process`] so the same display and checks apply; `to_caller` then
//! reproduces it.

use super::process::Process;
use crate::caps::CapSet;
use crate::users::User;

/// The boolean options `context_has_no_new_privileges()` (v252) counts: any of them
/// on sets no_new_privs for a service that lacks CAP_SYS_ADMIN in its effective set
/// when the check runs, after the uid switch, so for every non-root `User=`.
const IMPLY_NNP_FLAGS: [&str; 10] = [
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "PrivateDevices",
    "ProtectClock",
    "ProtectHostname",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "RestrictRealtime",
    "RestrictSUIDSGID",
];

/// The list options it counts: any non-empty list (an empty assignment resets it).
/// `RestrictFileSystems=` (a BPF LSM program, no seccomp) is not among them.
const IMPLY_NNP_LISTS: [&str; 4] = [
    "RestrictAddressFamilies",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "SystemCallLog",
];

/// What `unit_patch_contexts()` removes from the bounding set for each option.
const BOUNDING_REMOVED: [(&str, &[u32]); 4] = [
    ("PrivateDevices", &[27, 17]),   // CAP_MKNOD, CAP_SYS_RAWIO
    ("ProtectKernelModules", &[16]), // CAP_SYS_MODULE
    ("ProtectKernelLogs", &[34]),    // CAP_SYSLOG
    ("ProtectClock", &[25, 35]),     // CAP_SYS_TIME, CAP_WAKE_ALARM
];

/// The namespace types `RestrictNamespaces=` knows in v252, and which of them count
/// (`NAMESPACE_FLAGS_ALL` leaves `time` out: allowing every other type restricts
/// nothing).
const NAMESPACES: [(&str, bool); 8] = [
    ("cgroup", true),
    ("ipc", true),
    ("net", true),
    ("mnt", true),
    ("pid", true),
    ("user", true),
    ("uts", true),
    ("time", false),
];

/// The first uid of the range DynamicUser= picks from (61184-65519).
const DYNAMIC_UID: u32 = 61184;

/// One `Key=value` of the `[Service]` section, with its place.
struct Line {
    key: String,
    value: String,
    at: String,
}

/// The `[Service]` assignments of a unit file and its drop-ins, in order.
fn service_lines(files: &[(String, String)]) -> Vec<Line> {
    let mut out = Vec::new();
    for (name, text) in files {
        let mut section = String::new();
        let mut pending: Option<(String, usize)> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            // A trailing backslash continues the line.
            let (mut joined, start) = match pending.take() {
                Some((p, s)) => (format!("{p} {}", raw.trim()), s),
                None => (raw.trim().to_string(), line_no),
            };
            if joined.ends_with('\\') {
                joined.pop();
                pending = Some((joined, start));
                continue;
            }
            if joined.is_empty() || joined.starts_with('#') || joined.starts_with(';') {
                continue;
            }
            if joined.starts_with('[') {
                section = joined.trim_matches(|c| c == '[' || c == ']').to_string();
                continue;
            }
            if section != "Service" {
                continue;
            }
            if let Some((k, v)) = joined.split_once('=') {
                out.push(Line {
                    key: k.trim().to_string(),
                    value: v.trim().to_string(),
                    at: format!("{name}:{start}"),
                });
            }
        }
    }
    out
}

fn yes(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// systemd's `config_parse_capability_set`: `~` inverts; an empty value, or the
/// first assignment, replaces; later ones merge (OR, or AND NOT when inverted).
fn cap_line(set: &mut CapSet, initial: CapSet, value: &str, all: CapSet) -> anyhow::Result<()> {
    let (invert, list) = match value.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let mut sum = CapSet::EMPTY;
    for name in list.split_whitespace() {
        let n = crate::caps::lookup(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        sum = sum | CapSet::single(n);
    }
    if sum.is_empty() || *set == initial {
        *set = if invert { all - sum } else { sum };
    } else if invert {
        *set = *set - sum;
    } else {
        *set = *set | sum;
    }
    Ok(())
}

/// What `ExecStart=`'s prefixes change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prefixes {
    /// `+`: full privileges: no user switch, no capability limits, no
    /// no_new_privs.
    pub full: bool,
    /// `!`: no user/group switch; the capability settings still apply.
    pub no_setuid: bool,
}

/// The mapped unit.
pub struct Mapped {
    pub process: Process,
    pub notes: Vec<String>,
    /// The file `ExecStart=` runs (after its prefixes), if any.
    pub exec_start: Option<String>,
}

/// The options that make `context_has_no_new_privileges()` true for an
/// unprivileged service, as the unit leaves them: each with the assignment that set
/// it, for origins.
#[derive(Default)]
struct Sandbox {
    /// Boolean and list options that are on, by name.
    on: Vec<(&'static str, String, String)>,
    /// `RestrictNamespaces=` as `config_parse_restrict_namespaces` keeps it: the
    /// allowed types (None: the initial "everything", before any assignment).
    namespaces: Option<(u16, String, String)>,
}

impl Sandbox {
    fn set(&mut self, key: &'static str, on: bool, value: &str, at: &str) {
        self.on.retain(|(k, _, _)| *k != key);
        if on {
            self.on.push((key, value.to_string(), at.to_string()));
        }
    }

    fn is_on(&self, key: &str) -> bool {
        self.on.iter().any(|(k, _, _)| *k == key)
    }

    /// `RestrictNamespaces=`: a boolean replaces (yes allows none, no allows all),
    /// an empty value resets, a list (`~` inverted) replaces the initial value and
    /// then adds to or removes from it. An unknown type makes systemd ignore the line.
    fn namespaces(&mut self, value: &str, at: &str) {
        let all: u16 = (1 << NAMESPACES.len()) - 1;
        let allowed = if value.is_empty() {
            None
        } else if let Some(b) = yes(value) {
            Some(if b { 0 } else { all })
        } else {
            let (invert, list) = match value.strip_prefix('~') {
                Some(rest) => (true, rest),
                None => (false, value),
            };
            let mut flags = 0u16;
            for w in list.split_whitespace() {
                match NAMESPACES.iter().position(|(n, _)| *n == w) {
                    Some(i) => flags |= 1 << i,
                    None => return,
                }
            }
            Some(match (&self.namespaces, invert) {
                (None, false) => flags,
                (None, true) => all & !flags,
                (Some((cur, _, _)), false) => cur | flags,
                (Some((cur, _, _)), true) => cur & !flags,
            })
        };
        self.namespaces = allowed.map(|a| (a, value.to_string(), at.to_string()));
    }

    /// The first option that implies no_new_privs, as `Key=value` and its place.
    fn implies_nnp(&self) -> Option<(String, String)> {
        let counted: u16 = NAMESPACES
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| *c)
            .fold(0, |a, (i, _)| a | 1 << i);
        let ns = self
            .namespaces
            .as_ref()
            .filter(|(allowed, _, _)| allowed & counted != counted)
            .map(|(_, v, at)| (format!("RestrictNamespaces={v}"), at.clone()));
        self.on
            .first()
            .map(|(k, v, at)| (format!("{k}={v}"), at.clone()))
            .or(ns)
    }
}

/// Where a unit's accounts are looked up: `user` finds a user by name or number (a
/// number without an account comes back without a name), `group` a group's gid
/// (None: no such group).
pub struct Accounts {
    pub user: fn(&str) -> anyhow::Result<User>,
    pub group: fn(&str) -> Option<u32>,
}

/// The group `Group=` or `SupplementaryGroups=` names, as `get_group_creds()` finds
/// it: root and nogroup are built in, any other name or number must be in the group
/// database, or the unit fails to start with status 216/GROUP.
fn group_creds(g: &str, key: &str, at: &str, accounts: &Accounts) -> anyhow::Result<u32> {
    match g {
        "root" | "0" => return Ok(0),
        "nogroup" | "65534" => return Ok(65534),
        _ => {}
    }
    (accounts.group)(g).ok_or_else(|| {
        anyhow::anyhow!(
            "{at}: {key}={g}: no such group on this machine: systemd fails to start the unit (status=216/GROUP)"
        )
    })
}

/// The account `User=` names, as `get_user_creds()` finds it: root and nobody are
/// built in, any other name or number must be in the user database, or the unit
/// fails to start with status 217/USER.
fn user_creds(u: &str, at: &str, accounts: &Accounts) -> anyhow::Result<User> {
    let lookup = accounts.user;
    let synthesized = |uid| User {
        name: None,
        uid,
        gid: uid,
        groups: Vec::new(),
    };
    match u {
        "root" | "0" => return Ok(lookup(u).unwrap_or(synthesized(0))),
        "nobody" | "65534" => return Ok(lookup(u).unwrap_or(synthesized(65534))),
        _ => {}
    }
    match lookup(u) {
        Ok(who) if who.name.is_some() => Ok(who),
        Ok(_) => anyhow::bail!(
            "{at}: User={u}: no account has uid {u} on this machine: systemd fails to start the unit (status=217/USER)"
        ),
        Err(e) => {
            anyhow::bail!("{at}: User={u}: {e}: systemd fails to start the unit (status=217/USER)")
        }
    }
}

/// Map a unit (`files[0]`, then its drop-ins in name order) to the caller systemd
/// builds. `accounts` resolves `User=`, `Group=` and `SupplementaryGroups=` (systemd
/// resolves them on the host); `host` is PID 1's capability set (this machine's
/// bounding set).
pub fn map(
    files: &[(String, String)],
    accounts: &Accounts,
    host: CapSet,
) -> anyhow::Result<Mapped> {
    let lookup = accounts.user;
    let mut p = Process {
        cwd: "/".to_string(),
        ..Process::default()
    };
    let mut notes = Vec::new();
    let mut bounding = host;
    let mut ambient = CapSet::EMPTY;
    let (mut b_at, mut a_at, mut nnp_at) = (None, None, None);
    let mut user: Option<(String, String)> = None;
    let mut group: Option<(String, String)> = None;
    let mut supp: Vec<(String, String)> = Vec::new();
    let mut secure: Vec<String> = Vec::new();
    let mut secure_at = None;
    let mut nnp = false;
    let mut dynamic: Option<String> = None;
    let mut sandbox = Sandbox::default();
    let mut exec: Option<(String, String)> = None;
    for l in service_lines(files) {
        let bad = |what: &str| anyhow::anyhow!("{}: {}={}: {what}", l.at, l.key, l.value);
        match l.key.as_str() {
            "User" => user = (!l.value.is_empty()).then(|| (l.value.clone(), l.at.clone())),
            "Group" => group = (!l.value.is_empty()).then(|| (l.value.clone(), l.at.clone())),
            "SupplementaryGroups" => {
                if l.value.is_empty() {
                    supp.clear();
                }
                for g in l.value.split_whitespace() {
                    supp.push((g.to_string(), l.at.clone()));
                }
            }
            "CapabilityBoundingSet" => {
                cap_line(&mut bounding, host, &l.value, host).map_err(|e| bad(&e.to_string()))?;
                b_at = Some(l.at.clone());
            }
            "AmbientCapabilities" => {
                cap_line(&mut ambient, CapSet::EMPTY, &l.value, host)
                    .map_err(|e| bad(&e.to_string()))?;
                a_at = Some(l.at.clone());
            }
            "NoNewPrivileges" => {
                nnp = yes(&l.value).ok_or_else(|| bad("expected yes or no"))?;
                nnp_at = Some(l.at.clone());
            }
            // A fatal boolean: a bad value stops the unit from loading.
            "DynamicUser" => match yes(&l.value) {
                Some(on) => dynamic = on.then(|| l.at.clone()),
                None => return Err(bad("expected yes or no (systemd refuses to load the unit)")),
            },
            "SecureBits" => {
                if l.value.is_empty() {
                    secure.clear();
                }
                for b in l.value.split_whitespace() {
                    const KNOWN: [&str; 6] = [
                        "keep-caps",
                        "keep-caps-locked",
                        "no-setuid-fixup",
                        "no-setuid-fixup-locked",
                        "noroot",
                        "noroot-locked",
                    ];
                    if !KNOWN.contains(&b) {
                        return Err(bad(&format!(
                            "unknown secure bit '{b}' (known: {})",
                            KNOWN.join(", ")
                        )));
                    }
                    secure.push(b.to_string());
                }
                secure_at = Some(l.at.clone());
            }
            "ExecStart" => {
                exec = (!l.value.is_empty()).then(|| (l.value.clone(), l.at.clone()));
            }
            "RestrictNamespaces" => sandbox.namespaces(&l.value, &l.at),
            k => {
                if let Some(key) = IMPLY_NNP_FLAGS.iter().find(|f| **f == k) {
                    // config_parse_bool: a value it cannot read is ignored.
                    if let Some(on) = yes(&l.value) {
                        sandbox.set(key, on, &l.value, &l.at);
                    }
                } else if let Some(key) = IMPLY_NNP_LISTS.iter().find(|f| **f == k) {
                    sandbox.set(key, !l.value.is_empty(), &l.value, &l.at);
                }
            }
        }
    }
    // unit_patch_contexts(): what the sandboxing options take from the bounding set,
    // and what DynamicUser= forces.
    let mut patched = Vec::new();
    for (key, caps) in BOUNDING_REMOVED {
        if sandbox.is_on(key) {
            let set = caps
                .iter()
                .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c));
            if !(bounding & set).is_empty() {
                patched.push(format!(
                    "{key}= removes {}",
                    (bounding & set).names().join(",")
                ));
            }
            bounding = bounding - set;
        }
    }
    if let Some(at) = &dynamic {
        if user.is_none() {
            // user_from_unit_name(): the unit's name up to '@' or the last '.'.
            let unit = files.first().map(|(n, _)| n.as_str()).unwrap_or("");
            let base = unit.rsplit('/').next().unwrap_or(unit);
            let stem = base.split('@').next().unwrap_or(base);
            let stem = stem.rsplit_once('.').map_or(stem, |(a, _)| a);
            user = Some((stem.to_string(), at.clone()));
        }
        nnp = true;
        nnp_at = Some(format!("{at} (DynamicUser=yes sets NoNewPrivileges=yes)"));
    }
    // ExecStart= prefixes: '-', '@', ':', '+', '!', '!!' in any order.
    let mut pre = Prefixes::default();
    let mut exec_start = None;
    if let Some((cmd, at)) = &exec {
        let mut rest = cmd.as_str();
        loop {
            if let Some(r) = rest.strip_prefix("!!") {
                rest = r; // ambient capabilities are supported here: no effect
            } else if let Some(r) = rest.strip_prefix('!') {
                pre.no_setuid = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix('+') {
                pre.full = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix(['-', '@', ':', '|']) {
                rest = r;
            } else {
                break;
            }
        }
        let words =
            super::moby::split(rest).map_err(|e| anyhow::anyhow!("{at}: ExecStart=: {e}"))?;
        p.args = words.clone();
        exec_start = words.first().cloned();
        p.origin("args", at.clone());
    }
    // The user and group switch (exec_child's needs_setuid).
    let switch = !pre.full && !pre.no_setuid;
    if let (Some((u, at)), true) = (&user, switch) {
        let who = match (&dynamic, lookup(u)) {
            // A user of that name that already exists is used as it is.
            (Some(_), Ok(who)) if who.name.is_some() => who,
            (Some(_), _) => {
                notes.push(format!(
                    "DynamicUser=yes: systemd picks the uid of user {u} from {DYNAMIC_UID}-65519 when the unit starts; {DYNAMIC_UID} stands for it here"
                ));
                User {
                    name: Some(u.clone()),
                    uid: DYNAMIC_UID,
                    gid: DYNAMIC_UID,
                    groups: Vec::new(),
                }
            }
            (None, _) => user_creds(u, at, accounts)?,
        };
        p.uid = who.uid;
        p.gid = who.gid;
        // get_supplementary_groups(): initgroups() only for a gid other than 0.
        if who.gid != 0 {
            p.additional_gids = who.groups.clone();
        }
        p.origin("user.uid", at.clone());
        p.origin("user.gid", at.clone());
    } else if user.is_some() {
        notes.push(format!(
            "ExecStart= prefix '{}': no user switch, the command runs as root",
            if pre.full { "+" } else { "!" }
        ));
    }
    if switch {
        if let Some((g, gat)) = &group {
            p.gid = match group_creds(g, "Group", gat, accounts) {
                Ok(n) => n,
                // DynamicUser= makes a group it cannot find, like the user.
                Err(_) if dynamic.is_some() => p.gid,
                Err(e) => return Err(e),
            };
            p.origin("user.gid", gat.clone());
        }
        for (g, gat) in &supp {
            let n = group_creds(g, "SupplementaryGroups", gat, accounts)?;
            if !p.additional_gids.contains(&n) {
                p.additional_gids.push(n);
            }
            p.origin("user.additionalGids", gat.clone());
        }
    }
    let noroot = secure.iter().any(|b| b.starts_with("noroot"));
    if pre.full {
        // '+': none of the privilege restrictions apply.
        p.bounding = host;
        p.permitted = host;
        p.effective = host;
        p.origin("capabilities.permitted", "ExecStart=+ (full privileges)");
        notes.push("ExecStart=+: CapabilityBoundingSet=, AmbientCapabilities=, NoNewPrivileges= and User= do not apply".to_string());
        return Ok(Mapped {
            process: p,
            notes,
            exec_start,
        });
    }
    // capability_ambient_set_apply(): a capability the bounding set no longer has is
    // left out (a debug message only), and the inheritable set is exactly what is
    // left.
    let raised = ambient & bounding & host;
    let dropped = ambient - raised;
    if !dropped.is_empty() {
        notes.push(format!(
            "AmbientCapabilities= {} {} outside the bounding set: systemd leaves {} out without a word and starts the service",
            dropped.names().join(","),
            if dropped.iter().count() == 1 { "is" } else { "are" },
            if dropped.iter().count() == 1 { "it" } else { "them" },
        ));
    }
    p.bounding = bounding;
    p.ambient = raised;
    p.inheritable = raised;
    match (&b_at, patched.is_empty()) {
        (Some(at), true) => p.origin("capabilities.bounding", at.clone()),
        (Some(at), false) => p.origin(
            "capabilities.bounding",
            format!("{at}, then {}", patched.join(", ")),
        ),
        (None, true) => p.origin("capabilities.bounding", "systemd default: every capability"),
        (None, false) => p.origin(
            "capabilities.bounding",
            format!("every capability, then {}", patched.join(", ")),
        ),
    }
    if let Some(at) = &a_at {
        p.origin("capabilities.ambient", at.clone());
        p.origin(
            "capabilities.inheritable",
            format!("{at} (systemd makes ambient capabilities inheritable)"),
        );
    }
    // enforce_user() asks for keep-caps on the unit's settings as written.
    let keep_caps = !ambient.is_empty() || !secure.is_empty();
    if p.uid == 0 {
        p.permitted = host;
        p.effective = host;
        p.origin("capabilities.permitted", "root: PID 1's capabilities");
    } else if keep_caps {
        p.permitted = host;
        p.origin(
            "capabilities.permitted",
            "SECBIT_KEEP_CAPS for AmbientCapabilities=/SecureBits=: PID 1's permitted set survives the uid switch",
        );
    } else {
        p.origin(
            "capabilities.permitted",
            "the uid switch clears it (no AmbientCapabilities=, no SecureBits=)",
        );
    }
    p.noroot = noroot;
    if let Some(at) = &secure_at {
        p.origin("secureBits", at.clone());
    }
    p.no_new_privs = nnp;
    if let Some(at) = nnp_at.filter(|_| nnp) {
        p.origin("noNewPrivileges", at);
    }
    // Root keeps CAP_SYS_ADMIN in its effective set whatever the bounding set says
    // (the bounding set is dropped without touching the effective set); any other
    // uid lost its effective set at the uid switch.
    if let Some((what, at)) = sandbox.implies_nnp().filter(|_| !nnp && p.uid != 0) {
        p.no_new_privs = true;
        p.origin(
            "noNewPrivileges",
            format!("{at} ({what} implies NoNewPrivileges=yes)"),
        );
    }
    Ok(Mapped {
        process: p,
        notes,
        exec_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: CapSet = CapSet(0x1fffeffffff);

    fn node(who: &str) -> anyhow::Result<User> {
        match who {
            "node" => Ok(User {
                name: Some("node".into()),
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 27],
            }),
            "root" => Ok(User {
                name: Some("root".into()),
                uid: 0,
                gid: 0,
                groups: vec![0],
            }),
            // users::lookup answers a number with no account like this.
            n if n.parse::<u32>().is_ok() => Ok(User {
                name: None,
                uid: n.parse().unwrap(),
                gid: n.parse().unwrap(),
                groups: Vec::new(),
            }),
            _ => anyhow::bail!("no such user"),
        }
    }

    fn unit(files: &[(&str, &str)]) -> anyhow::Result<Mapped> {
        let f: Vec<(String, String)> = files
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let accounts = Accounts {
            user: node,
            group: |g| match g {
                "node" | "1000" => Some(1000),
                "adm" | "4" => Some(4),
                _ => None,
            },
        };
        map(&f, &accounts, HOST)
    }

    const README_UNIT: &str = "[Unit]\nDescription=web\n\n[Service]\nUser=node\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nNoNewPrivileges=yes\nExecStart=/usr/bin/node /srv/app/server.js\n";

    #[test]
    fn the_readme_unit() {
        let m = unit(&[("web.service", README_UNIT)]).unwrap();
        let p = &m.process;
        let nbs = CapSet::single(10);
        assert_eq!((p.uid, p.gid, p.no_new_privs), (1000, 1000, true));
        assert_eq!((p.bounding, p.ambient, p.inheritable), (nbs, nbs, nbs));
        assert_eq!(
            p.permitted, HOST,
            "keep-caps: PID 1's permitted set until the exec"
        );
        assert_eq!(m.exec_start.as_deref(), Some("/usr/bin/node"));
        assert_eq!(p.origin_of("capabilities.ambient"), Some("web.service:6"));
    }

    #[test]
    fn capability_lists_follow_systemds_parser_and_drop_ins_apply_in_order() {
        let m = unit(&[
            ("a.service", "[Service]\nUser=node\nCapabilityBoundingSet=CAP_CHOWN CAP_KILL\nCapabilityBoundingSet=CAP_NET_RAW\nExecStart=/bin/x\n"),
            ("a.service.d/10-x.conf", "[Service]\nCapabilityBoundingSet=~CAP_KILL\nSystemCallFilter=@system-service\n"),
        ])
        .unwrap();
        let p = &m.process;
        assert_eq!(p.bounding, CapSet::single(0) | CapSet::single(13));
        assert_eq!(
            p.permitted,
            CapSet::EMPTY,
            "no ambient, no securebits: cleared by setuid"
        );
        assert!(
            p.no_new_privs,
            "SystemCallFilter= implies it for a non-root user"
        );
        assert!(
            p.origin_of("noNewPrivileges")
                .unwrap()
                .starts_with("a.service.d/10-x.conf:3")
        );
        // An empty assignment resets to empty, and a later '~' removes from that.
        let m = unit(&[("b.service", "[Service]\nCapabilityBoundingSet=CAP_CHOWN\nCapabilityBoundingSet=\nAmbientCapabilities=CAP_KILL\nAmbientCapabilities=\nCapabilityBoundingSet=~CAP_KILL\n")]).unwrap();
        assert_eq!(m.process.bounding, CapSet::EMPTY);
        // '~' first inverts from everything; a backslash continues the line.
        let m = unit(&[(
            "b.service",
            "[Service]\nCapabilityBoundingSet=~CAP_SYS_ADMIN \\\n  CAP_NET_RAW\n",
        )])
        .unwrap();
        assert_eq!(
            m.process.bounding,
            HOST - CapSet::single(21) - CapSet::single(13)
        );
        assert_eq!(m.process.ambient, CapSet::EMPTY);
        assert_eq!(m.process.uid, 0);
        assert!(!m.process.no_new_privs);
    }

    #[test]
    fn exec_start_prefixes_and_errors() {
        let plus = unit(&[("c.service", "[Service]\nUser=node\nNoNewPrivileges=yes\nCapabilityBoundingSet=CAP_KILL\nExecStart=+-/bin/x a\n")]).unwrap();
        assert_eq!(
            (
                plus.process.uid,
                plus.process.no_new_privs,
                plus.process.bounding
            ),
            (0, false, HOST)
        );
        assert_eq!(plus.exec_start.as_deref(), Some("/bin/x"));
        let bang = unit(&[("d.service", "[Service]\nUser=node\nNoNewPrivileges=yes\nCapabilityBoundingSet=CAP_KILL\nExecStart=!/bin/x\n")]).unwrap();
        assert_eq!(
            (
                bang.process.uid,
                bang.process.no_new_privs,
                bang.process.bounding
            ),
            (0, true, CapSet::single(5))
        );
        let e = |t: &str| unit(&[("e.service", t)]).err().unwrap().to_string();
        assert!(
            e("[Service]\nAmbientCapabilities=CAP_FOO\n")
                .starts_with("e.service:2: AmbientCapabilities=CAP_FOO: ")
        );
        assert!(e("[Service]\nNoNewPrivileges=maybe\n").contains("expected yes or no"));
        assert!(e("[Service]\nUser=ghost\n").contains("User=ghost"));
        assert!(e("[Service]\nSecureBits=keepcaps\n").contains("unknown secure bit"));
    }

    #[test]
    fn ambient_outside_the_bounding_set_is_dropped_and_the_service_starts() {
        let m = unit(&[("a.service", "[Service]\nUser=node\nAmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_TIME\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SYS_TIME\nProtectClock=yes\n")]).unwrap();
        let p = &m.process;
        let nbs = CapSet::single(10);
        assert_eq!((p.bounding, p.ambient, p.inheritable), (nbs, nbs, nbs));
        assert!(
            m.notes[0].starts_with(
                "AmbientCapabilities= cap_net_raw,cap_sys_time are outside the bounding set"
            ),
            "{:?}",
            m.notes
        );
        assert_eq!(
            p.origin_of("capabilities.bounding"),
            Some("a.service:4, then ProtectClock= removes cap_sys_time")
        );
        // keep-caps follows the setting as written, even when nothing is left of it.
        let m = unit(&[(
            "b.service",
            "[Service]\nUser=node\nAmbientCapabilities=CAP_KILL\nCapabilityBoundingSet=CAP_CHOWN\n",
        )])
        .unwrap();
        assert_eq!(
            (m.process.ambient, m.process.permitted),
            (CapSet::EMPTY, HOST)
        );
    }

    #[test]
    fn sandboxing_options_as_v252_reads_them() {
        let caller = |body: &str| {
            unit(&[("s.service", &format!("[Service]\nUser=node\n{body}"))])
                .unwrap()
                .process
        };
        for (body, nnp) in [
            ("RestrictFileSystems=ext4\n", false),
            ("SystemCallLog=@clock\n", true),
            (
                "SystemCallFilter=@system-service\nSystemCallFilter=\n",
                false,
            ),
            (
                "RestrictNamespaces=cgroup ipc net mnt pid user uts\n",
                false,
            ),
            (
                "RestrictNamespaces=cgroup ipc net mnt pid user uts time\n",
                false,
            ),
            ("RestrictNamespaces=~time\n", false),
            ("RestrictNamespaces=no\n", false),
            ("RestrictNamespaces=yes\n", true),
            ("RestrictNamespaces=~user\n", true),
            (
                "RestrictNamespaces=net\nRestrictNamespaces=cgroup ipc mnt pid user uts\n",
                false,
            ),
            ("RestrictNamespaces=yes\nRestrictNamespaces=\n", false),
            ("RestrictNamespaces=bogus\n", false),
            ("ProtectHostname=yes\nProtectHostname=\n", true),
            ("ProtectHostname=yes\nProtectHostname=no\n", false),
            ("LockPersonality=true\n", true),
            ("RestrictAddressFamilies=none\n", true),
        ] {
            assert_eq!(caller(body).no_new_privs, nnp, "{body}");
        }
        let p = caller("PrivateDevices=yes\nProtectKernelModules=yes\nProtectKernelLogs=yes\n");
        let gone = [27, 17, 16, 34]
            .iter()
            .fold(CapSet::EMPTY, |a, c| a | CapSet::single(*c));
        assert_eq!(p.bounding, HOST - gone);
        assert!(
            p.origin_of("noNewPrivileges")
                .unwrap()
                .contains("PrivateDevices=yes implies")
        );
        // Root keeps CAP_SYS_ADMIN in its effective set: nothing implied.
        let root = unit(&[(
            "r.service",
            "[Service]\nCapabilityBoundingSet=CAP_KILL\nSystemCallFilter=@system-service\n",
        )])
        .unwrap();
        assert!(!root.process.no_new_privs);
    }

    #[test]
    fn dynamic_and_numeric_users() {
        let m = unit(&[(
            "/etc/systemd/system/web@1.service",
            "[Service]\nDynamicUser=yes\nNoNewPrivileges=no\nExecStart=/bin/x\n",
        )])
        .unwrap();
        let p = &m.process;
        assert_eq!(
            (p.uid, p.gid, p.no_new_privs),
            (DYNAMIC_UID, DYNAMIC_UID, true)
        );
        assert!(
            m.notes[0].contains("uid of user web from 61184-65519"),
            "{:?}",
            m.notes
        );
        // An account of that name is used as it is.
        let m = unit(&[("x.service", "[Service]\nDynamicUser=yes\nUser=node\n")]).unwrap();
        assert_eq!((m.process.uid, m.process.no_new_privs), (1000, true));
        let e = unit(&[("n.service", "[Service]\nUser=4242\n")])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "n.service:2: User=4242: no account has uid 4242 on this machine: systemd fails to start the unit (status=217/USER)"
        );
        // root and nobody are built into systemd.
        assert_eq!(
            unit(&[("n.service", "[Service]\nUser=65534\n")])
                .unwrap()
                .process
                .uid,
            65534
        );
        assert!(unit(&[("n.service", "[Service]\nDynamicUser=maybe\n")]).is_err());
        // Groups by name or number, root and nogroup built in; any other must exist,
        // also without User=.
        let m = unit(&[("g.service", "[Service]\nGroup=adm\n")]).unwrap();
        assert_eq!((m.process.uid, m.process.gid), (0, 4));
        let m = unit(&[(
            "g.service",
            "[Service]\nUser=node\nGroup=adm\nSupplementaryGroups=0 nogroup 4\n",
        )])
        .unwrap();
        assert_eq!(
            (m.process.gid, m.process.additional_gids.clone()),
            (4, vec![1000, 27, 0, 65534, 4])
        );
        let e = unit(&[("g.service", "[Service]\nUser=node\nGroup=4242\n")])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "g.service:3: Group=4242: no such group on this machine: systemd fails to start the unit (status=216/GROUP)"
        );
    }
}
