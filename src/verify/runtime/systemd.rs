//! A systemd service unit mapped to the caller systemd builds before it execs
//! `ExecStart=` (systemd 252, the packaged version here; shared spec runtimes.md §4,
//! systemd.exec(5), systemd.service(5)).
//!
//! systemd (`exec_child`) drops the bounding set, makes the ambient capabilities
//! inheritable, switches to `User=` (with SECBIT_KEEP_CAPS only when there are
//! ambient capabilities or `SecureBits=`: then the service process keeps PID 1's
//! permitted set until its exec; otherwise a non-root user's permitted set is
//! cleared by the uid switch), raises the ambient set, applies `SecureBits=`, sets
//! no_new_privs, and execs. That state is written as a [`Process`] so the same
//! display and checks apply; `to_caller` then reproduces it.

use super::process::Process;
use crate::caps::CapSet;
use crate::users::User;

/// Options systemd.exec(5) says imply `NoNewPrivileges=yes` (for a service that
/// runs without CAP_SYS_ADMIN, i.e. with a non-root `User=`).
const IMPLY_NNP: [&str; 16] = [
    "SystemCallFilter",
    "SystemCallArchitectures",
    "RestrictAddressFamilies",
    "RestrictNamespaces",
    "RestrictFileSystems",
    "PrivateDevices",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectClock",
    "ProtectHostname",
    "MemoryDenyWriteExecute",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "LockPersonality",
    "DynamicUser",
];

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

/// Map a unit (`files[0]`, then its drop-ins in name order) to the caller systemd
/// builds. `lookup` resolves `User=`/`Group=` names (systemd resolves them on the
/// host); `host` is PID 1's capability set (this machine's bounding set).
pub fn map(
    files: &[(String, String)],
    lookup: &dyn Fn(&str) -> anyhow::Result<User>,
    host: CapSet,
) -> anyhow::Result<Mapped> {
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
    let mut implied: Option<(String, String)> = None;
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
            k if IMPLY_NNP.contains(&k) => {
                let off = l.value.is_empty() || yes(&l.value) == Some(false);
                if !off {
                    implied = Some((format!("{k}={}", l.value), l.at.clone()));
                } else if implied
                    .as_ref()
                    .is_some_and(|(x, _)| x.starts_with(&format!("{k}=")))
                {
                    implied = None;
                }
            }
            _ => {}
        }
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
    // The user switch.
    let switch = user.is_some() && !pre.full && !pre.no_setuid;
    if let (Some((u, at)), true) = (&user, switch) {
        let who = lookup(u).map_err(|e| anyhow::anyhow!("{at}: User={u}: {e}"))?;
        p.uid = who.uid;
        p.gid = who.gid;
        p.additional_gids = who.groups.clone();
        p.origin("user.uid", at.clone());
        p.origin("user.gid", at.clone());
        if let Some((g, gat)) = &group {
            p.gid = match g.parse() {
                Ok(n) => n,
                Err(_) => anyhow::bail!("{gat}: Group={g}: only a numeric gid is understood here"),
            };
            p.origin("user.gid", gat.clone());
        }
        for (g, gat) in &supp {
            let n: u32 = g.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{gat}: SupplementaryGroups={g}: only numeric gids are understood here"
                )
            })?;
            p.additional_gids.push(n);
            p.origin("user.additionalGids", gat.clone());
        }
    } else if user.is_some() {
        notes.push(format!(
            "ExecStart= prefix '{}': no user switch, the command runs as root",
            if pre.full { "+" } else { "!" }
        ));
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
    p.bounding = bounding;
    p.ambient = ambient;
    p.inheritable = ambient;
    if let Some(at) = &b_at {
        p.origin("capabilities.bounding", at.clone());
    } else {
        p.origin("capabilities.bounding", "systemd default: every capability");
    }
    if let Some(at) = &a_at {
        p.origin("capabilities.ambient", at.clone());
        p.origin(
            "capabilities.inheritable",
            format!("{at} (systemd makes ambient capabilities inheritable)"),
        );
    }
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
    if let Some((what, at)) = implied.filter(|_| !nnp && p.uid != 0) {
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
            _ => anyhow::bail!("no such user"),
        }
    }

    fn unit(files: &[(&str, &str)]) -> anyhow::Result<Mapped> {
        let f: Vec<(String, String)> = files
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        map(&f, &node, HOST)
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
}
