//! `fcap audit`'s judgement: every privileged file (file capabilities, set-user-ID,
//! set-group-ID) against a fixed set of rules, a policy of exceptions, and
//! optionally a deployment profile and manifests of what is allowed.
//!
//! * [`RULES`]: the rules. Their IDs are a public interface (policy files, SARIF
//!   alerts and CI suppressions name them): an ID never changes and is never reused.
//! * [`judge`]: the findings for one file. Danger comes from the catalogue
//!   ([`crate::catalogue::danger`]), what an exec under a profile does from verify's
//!   model ([`crate::verify::model::predict`]): no second copy of either.
//! * [`policy`]: the `.fcap-policy.yaml` exceptions; [`report`]: the output formats.

pub mod policy;
pub mod report;

use crate::caps::{self, CapSet};
use crate::catalogue::{self, Danger};
use crate::filecaps::FileCaps;
use crate::output::{escape_path, shell_word};
use crate::scan::Meta;
use crate::verify::model::{self, Caller, Inode, Node, Outcome, Xattr};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How bad a finding is, in SARIF's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// One level lower (a file only its owner and group can run).
    fn lower(self) -> Severity {
        match self {
            Severity::Error => Severity::Warning,
            _ => Severity::Note,
        }
    }
}

/// One rule: its stable ID, a slug, its default level and its texts.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub level: Severity,
    pub short: &'static str,
    /// Why it matters.
    pub full: &'static str,
    /// How to fix it.
    pub help: &'static str,
    /// SARIF `security-severity` of the rule's default level (GitHub: 9.0 and up
    /// critical, 7.0 high, 4.0 medium, below low).
    pub security: &'static str,
}

const fn rule(
    id: &'static str,
    name: &'static str,
    level: Severity,
    short: &'static str,
    full: &'static str,
    help: &'static str,
    security: &'static str,
) -> Rule {
    Rule {
        id,
        name,
        level,
        short,
        full,
        help,
        security,
    }
}

use Severity::{Error, Note, Warning};

/// Every rule, in ID order.
pub const RULES: [Rule; 13] = [
    rule(
        "FC101",
        "root-equivalent-cap",
        Error,
        "A file carries a root-equivalent capability",
        "The file's permitted set holds a capability with a short, well-known path to full root ('fcap explain CAP' names it: setuid(0), rewriting /etc/shadow, loading a kernel module...). Anyone who can run the file can become root. A file that others cannot execute (mode 0750 and a trusted group) is reported one level lower.",
        "Remove the capability (fcap revoke CAP PATH), or give it to the one service that needs it instead of to the file (systemd AmbientCapabilities=, fcap run), or make the file executable only by a trusted group (chmod o-x).",
        "9.0",
    ),
    rule(
        "FC102",
        "conditional-root-cap",
        Warning,
        "A file carries a capability that leads to root under common conditions",
        "The catalogue rates the capability high: it takes over a large part of the system (network configuration, BPF, kernel tracing, device nodes, chroot, the MAC policy) or reaches root under conditions that often hold.",
        "Remove the capability unless the program needs it (fcap revoke CAP PATH), and restrict who may run the file (chmod o-x, a trusted group).",
        "6.5",
    ),
    rule(
        "FC103",
        "dangerous-cap-combination",
        Warning,
        "A file carries a dangerous combination of capabilities",
        "Some capabilities that are moderate alone are dangerous together: net_raw with net_admin sniffs and redirects any local service, kill with net_bind_service replaces a service on its port, bpf with perfmon reads kernel memory, bpf with net_admin loads network programs, dac_override with fsetid modifies a set-user-ID program and keeps its bit.",
        "Split the work between programs that each hold one of the capabilities, or remove the one the program does not need (fcap revoke CAP PATH).",
        "5.5",
    ),
    rule(
        "FC110",
        "interpreter-with-caps",
        Warning,
        "An interpreter or shell carries capabilities",
        "An interpreter runs whatever code it is given (python3 -c, perl -e, node -e, a shell's -c), so its capabilities belong to every user who can run it, for any purpose. An error for a high or root-equivalent capability, a warning otherwise (node with cap_net_bind_service stays visible).",
        "Give the capability to the service, not to the interpreter: systemd AmbientCapabilities= or fcap run --ambient CAP with no file capability, or a small compiled wrapper that carries only what it needs; then fcap revoke all PATH.",
        "8.0",
    ),
    rule(
        "FC120",
        "cap-outside-profile",
        Error,
        "A file capability lies outside the target profile's bounding set",
        "Under the deployment profile (--profile, --runtime) the capability is not in the container's bounding set: with the effective bit on, the kernel refuses the exec (EPERM); without it the program silently runs without the capability. verify's exec model decides this.",
        "Add the capability to the container (docker run --cap-add, securityContext.capabilities.add) if the profile allows it, or remove it from the file (fcap revoke CAP PATH), or clear only the effective bit so the exec succeeds without it.",
        "7.0",
    ),
    rule(
        "FC121",
        "caps-inert-under-nnp",
        Note,
        "File capabilities do nothing under the profile's no_new_privs",
        "The profile runs its processes with no_new_privs (allowPrivilegeEscalation: false): exec grants no capability the process does not already hold, so the file's capabilities are dead weight there.",
        "Remove them (fcap revoke CAP PATH), and hand the capability to the process instead (securityContext.capabilities.add with the runtime's permitted set, or ambient capabilities).",
        "2.0",
    ),
    rule(
        "FC130",
        "inheritable-file-caps",
        Note,
        "A file has inheritable capability bits",
        "Inheritable file bits hand a capability to any caller whose inheritable set holds it (CAP_SETPCAP chains, ambient setups); they are rare and worth knowing about.",
        "Remove the inheritable bits unless a launcher relies on them (write only the permitted and effective parts with 'fcap set EXPR PATH', e.g. cap_net_raw=ep).",
        "3.0",
    ),
    rule(
        "FC140",
        "privileged-path-not-allowed",
        Error,
        "A file carries capabilities its allowlist does not grant",
        "The --allow manifests list the paths that may carry capabilities and the most each may carry; this file is not listed, or carries more than its line allows.",
        "Remove what is not allowed (fcap revoke CAP PATH), or review and add the file to the manifest (its line is 'PATH CAPS').",
        "7.5",
    ),
    rule(
        "FC150",
        "setuid-not-allowed",
        Error,
        "A set-user-ID file that no exception allows",
        "A set-user-ID file runs with its owner's uid for whoever runs it; owned by root, any flaw in it is a root exploit (CIS Docker Benchmark 4.8).",
        "Remove the bit (chmod u-s PATH; in an image, in the Dockerfile after the package install), or give the program a narrow file capability instead, or list it as a reviewed exception in .fcap-policy.yaml (builtin: [debian-base] covers Debian's stock set).",
        "7.5",
    ),
    rule(
        "FC151",
        "setgid-not-allowed",
        Warning,
        "A set-group-ID file that no exception allows",
        "A set-group-ID file runs with its group for whoever runs it. An error when the group is root, shadow, disk or docker: each of them reaches root (read /etc/shadow, write the root filesystem's block device, start a privileged container).",
        "Remove the bit (chmod g-s PATH), or list the file as a reviewed exception in .fcap-policy.yaml (builtin: [debian-base] covers Debian's stock set).",
        "5.0",
    ),
    rule(
        "FC152",
        "setid-interpreter",
        Error,
        "A set-user-ID or set-group-ID interpreter or shell",
        "An interpreter or shell runs arbitrary code, so a set-ID one hands its owner or group to every user who can run it.",
        "Remove the bit (chmod u-s,g-s PATH); run the script through sudo or a service instead.",
        "9.0",
    ),
    rule(
        "FC160",
        "foreign-rootid",
        Warning,
        "A namespaced (v3) capability bound to a user namespace root",
        "The image stores a v3 value bound to a rootid: the kernel applies it only in a user namespace whose root is that uid on the host. containerd and most runtimes keep it as written, so outside such a namespace the file has no capabilities.",
        "Write a plain (v2) value when building the image: fcap set CAPS PATH in a Dockerfile RUN step as root, or docker build, which rewrites v3 to v2.",
        "4.0",
    ),
    rule(
        "FC161",
        "cap-lost-in-image",
        Error,
        "A capability the container runtime will not apply",
        "The value is only in a LIBARCHIVE.xattr record (written by bsdtar), which Docker and containerd ignore, or it sits on a hard-link entry whose record the runtimes strip: the unpacked file will not have the capability.",
        "Write the layer with a SCHILY.xattr record (GNU tar --xattrs, docker build, umoci), and give the capability to the file itself rather than to a hard link of it (or set it in a RUN step).",
        "5.0",
    ),
];

/// The rule with this ID.
pub fn rule_of(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One finding: a rule that a file breaks.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static str,
    pub path: PathBuf,
    pub severity: Severity,
    pub message: String,
    /// The file's capabilities as text, when it has any.
    pub caps: Option<String>,
    /// Every capability the file names (permitted and inheritable), for an
    /// exception's `caps` ceiling.
    pub held: CapSet,
    pub meta: Option<Meta>,
    /// For an image: the layer that wrote the file.
    pub layer: Option<usize>,
    /// The reason of the exception that suppresses it.
    pub suppressed: Option<String>,
}

/// Programs that run code they are given: interpreters, shells, and the tools
/// GTFOBins lists for a shell from a capability or a set-ID bit. Matched on the
/// file name, with a version suffix (`python3.11`, `perl5.36.0`, `node22`).
const INTERPRETERS: &[&str] = &[
    "python", "perl", "php", "ruby", "node", "nodejs", "deno", "bun", "lua", "luajit", "tclsh",
    "wish", "expect", "gdb", "vim", "vi", "view", "rvim", "nvim", "emacs", "irb", "julia",
    "Rscript", "R", "java", "jjs", "jshell", "pwsh", "awk", "gawk", "mawk", "nawk", "busybox",
    "env", "bash", "sh", "dash", "zsh", "ksh", "ksh93", "mksh", "csh", "tcsh", "fish", "ash",
    "rbash", "yash", "osh",
];

/// Whether the file name is one of [`INTERPRETERS`], maybe with a version.
pub fn is_interpreter(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    INTERPRETERS.iter().any(|i| {
        name.strip_prefix(i).is_some_and(|rest| {
            rest.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '_')
                && !rest.starts_with(['-', '_'])
        })
    })
}

/// Groups whose membership reaches root.
const ROOT_GROUPS: &[&str] = &["root", "shadow", "disk", "docker"];

/// Pairs of capabilities dangerous together (FC103).
const COMBINATIONS: &[(&str, &str, &str)] = &[
    (
        "cap_net_raw",
        "cap_net_admin",
        "sniff and redirect any local service",
    ),
    (
        "cap_kill",
        "cap_net_bind_service",
        "kill a service and take its port",
    ),
    (
        "cap_bpf",
        "cap_perfmon",
        "read kernel memory with tracing programs",
    ),
    ("cap_bpf", "cap_net_admin", "load networking BPF programs"),
    (
        "cap_dac_override",
        "cap_fsetid",
        "modify a set-user-ID program and keep its bit",
    ),
];

/// The facts about one privileged file that the rules read.
pub struct Fact<'a> {
    pub path: &'a Path,
    pub caps: Option<&'a FileCaps>,
    pub meta: Option<Meta>,
    pub layer: Option<usize>,
    /// Image only: the value is only in a LIBARCHIVE record.
    pub libarchive_only: bool,
    /// Image only: the value sits on a hard-link entry a runtime strips.
    pub on_link_entry: bool,
}

/// What the rules need besides the file.
#[derive(Default)]
pub struct Context {
    /// Group names by gid (the host's, or the image's /etc/group).
    pub groups: HashMap<u32, String>,
    /// `--allow`: the most each path may carry (FC140), by path.
    pub allow: Option<HashMap<PathBuf, Option<FileCaps>>>,
    /// `--profile`: the caller that runs the files, and the profile's name.
    pub profile: Option<(Caller, String)>,
    /// The files are an image's: fixes are a Dockerfile's or `apply --image`'s.
    pub image: bool,
}

fn names(s: CapSet) -> String {
    s.names().join(",")
}

/// Every finding for one file.
pub fn judge(cx: &Context, f: &Fact) -> Vec<Finding> {
    let mut out = Vec::new();
    let shown = shell_word(f.path);
    let push = |out: &mut Vec<Finding>, rule: &'static str, severity: Severity, message: String| {
        out.push(Finding {
            rule,
            path: f.path.to_path_buf(),
            severity,
            message,
            caps: f.caps.map(FileCaps::to_text),
            held: f
                .caps
                .map_or(CapSet::EMPTY, |c| c.permitted | c.inheritable),
            meta: f.meta,
            layer: f.layer,
            suppressed: None,
        });
    };
    // Who can run it besides owner and group: nobody when 'other' lacks x.
    let others_run = f.meta.is_none_or(|m| m.mode & 0o001 != 0);
    let group = |m: Meta| {
        cx.groups
            .get(&m.gid)
            .cloned()
            .unwrap_or_else(|| m.gid.to_string())
    };
    let limited = |m: Option<Meta>| match m {
        Some(m) if m.mode & 0o001 == 0 => format!(
            " (only uid {} and group {} can run it, mode {:04o}: one level lower)",
            m.uid,
            group(m),
            m.mode & 0o7777
        ),
        _ => String::new(),
    };
    let interp = is_interpreter(f.path);
    if let Some(c) = f.caps {
        let held = c.permitted;
        let rated = |d: Danger| {
            held.iter()
                .filter(|n| catalogue::danger(*n) == Some(d))
                .fold(CapSet::EMPTY, |a, n| a | CapSet::single(n))
        };
        let (root, high) = (rated(Danger::RootEquivalent), rated(Danger::High));
        let level = |l: Severity| if others_run { l } else { l.lower() };
        if !root.is_empty() {
            push(
                &mut out,
                "FC101",
                level(Error),
                format!(
                    "root-equivalent capability {}: anyone who can run it can become root{}; fix: fcap revoke {} {shown} (or grant it to the service: AmbientCapabilities=, fcap run)",
                    names(root),
                    limited(f.meta),
                    names(root)
                ),
            );
        }
        if !high.is_empty() {
            push(
                &mut out,
                "FC102",
                Warning,
                format!(
                    "capability {} rated high: it takes over a large part of the system or reaches root under common conditions; fix: fcap revoke {} {shown} unless the program needs it",
                    names(high),
                    names(high)
                ),
            );
        }
        for (a, b, why) in COMBINATIONS {
            let (Ok(x), Ok(y)) = (caps::lookup(a), caps::lookup(b)) else {
                continue;
            };
            if held.has(x) && held.has(y) {
                push(
                    &mut out,
                    "FC103",
                    Warning,
                    format!(
                        "{a} with {b}: together they {why}; fix: keep only the one the program needs (fcap revoke {b} {shown}), or split the work"
                    ),
                );
            }
        }
        let all = c.permitted | c.inheritable;
        if interp && !all.is_empty() {
            let sev = if (root | high).is_empty() {
                Warning
            } else {
                level(Error)
            };
            push(
                &mut out,
                "FC110",
                sev,
                format!(
                    "interpreter with capabilities {}: any code it is given runs with them{}; fix: hand the capability to the service (AmbientCapabilities=, fcap run --ambient CAPS -- PROGRAM) and fcap revoke all {shown}",
                    names(all),
                    limited(f.meta)
                ),
            );
        }
        if !c.inheritable.is_empty() {
            push(
                &mut out,
                "FC130",
                Note,
                format!(
                    "inheritable file bits {}: a caller whose inheritable set holds them gets them at exec; fix: drop them unless a launcher relies on them (fcap set '{}' {shown})",
                    names(c.inheritable),
                    FileCaps {
                        inheritable: CapSet::EMPTY,
                        ..*c
                    }
                    .to_text()
                ),
            );
        }
        if let Some(allow) = &cx.allow {
            match allow.get(f.path) {
                None => push(
                    &mut out,
                    "FC140",
                    Error,
                    format!(
                        "carries {} but no --allow manifest lists it; fix: fcap revoke all {shown}, or add '{}' to the manifest after review",
                        c.to_text(),
                        crate::manifest::line(f.path, c)
                    ),
                ),
                Some(limit) => {
                    let most = limit.map_or(CapSet::EMPTY, |l| l.permitted | l.inheritable);
                    let more = all - most;
                    if !more.is_empty() {
                        push(
                            &mut out,
                            "FC140",
                            Error,
                            format!(
                                "carries {} where the --allow manifest allows at most {}; fix: fcap revoke {} {shown}",
                                c.to_text(),
                                limit.map_or("nothing".to_string(), |l| l.to_text()),
                                names(more)
                            ),
                        );
                    }
                }
            }
        }
        if let Some((caller, profile)) = &cx.profile
            && let Some(m) = f.meta
        {
            out.extend(profile_findings(caller, profile, f, m, c));
        }
        if f.libarchive_only {
            push(
                &mut out,
                "FC161",
                Error,
                "the capability is only in a LIBARCHIVE.xattr pax record (bsdtar): Docker and containerd apply only SCHILY.xattr records, so the container's file will not have it; fix: write the layer with GNU tar --xattrs, umoci or docker build".to_string(),
            );
        }
        // (On a host the kernel already shows a namespaced value as it applies
        // here; in an image it is the bytes a runtime will write.)
        if let Some(r) = c.rootid.filter(|_| cx.image) {
            push(
                &mut out,
                "FC160",
                Warning,
                format!(
                    "a v3 value bound to rootid {r}: it applies only in a user namespace whose root is uid {r} on the host, and containerd keeps it as written; fix: write a plain v2 value (fcap set '{}' {shown} as root in a RUN step)",
                    c.to_text()
                ),
            );
        }
    }
    if f.on_link_entry {
        push(
            &mut out,
            "FC161",
            Error,
            "a hard-link entry to this file has no capability record of its own: Docker and containerd chown each link entry (which clears the capability) and then set only that entry's records, so the file will not have it (umoci and podman keep it); fix: give every link entry the same SCHILY.xattr record (bsdtar, docker build), or set the capability in a RUN step".to_string(),
        );
    }
    // How to clear a set-ID bit (`u-s`, `g-s`) here.
    let clear = |bits: &str| {
        if cx.image {
            format!(
                "chmod {bits} {shown} in the Dockerfile, or rewrite the image with fcap apply MANIFEST --image IMAGE --output OUT --strip-setid (--keep-setid for the files to keep)"
            )
        } else {
            format!("chmod {bits} {shown}")
        }
    };
    if let Some(m) = f.meta {
        let owner = |uid: u32| {
            if uid == 0 {
                "root".to_string()
            } else {
                format!("uid {uid}")
            }
        };
        if m.setuid() {
            push(
                &mut out,
                "FC150",
                Error,
                format!(
                    "set-user-ID {} (mode {:04o}): it runs as its owner for whoever runs it; fix: {}, or allow it in .fcap-policy.yaml with a reason",
                    owner(m.uid),
                    m.mode & 0o7777,
                    clear("u-s")
                ),
            );
        }
        if m.setgid() {
            let g = group(m);
            let sev = if ROOT_GROUPS.contains(&g.as_str()) {
                Error
            } else {
                Warning
            };
            let why = if sev == Error {
                ", a group that reaches root"
            } else {
                ""
            };
            push(
                &mut out,
                "FC151",
                sev,
                format!(
                    "set-group-ID group {g}{why} (mode {:04o}): it runs with that group for whoever runs it; fix: {}, or allow it in .fcap-policy.yaml with a reason",
                    m.mode & 0o7777,
                    clear("g-s")
                ),
            );
        }
        if interp && (m.setuid() || m.setgid()) {
            push(
                &mut out,
                "FC152",
                Error,
                format!(
                    "set-ID interpreter or shell (mode {:04o}, {} group {}): any code it is given runs with those ids; fix: {}",
                    m.mode & 0o7777,
                    owner(m.uid),
                    group(m),
                    clear("u-s,g-s")
                ),
            );
        }
    }
    out
}

/// FC120 and FC121 for one capped file: what verify's model predicts when the
/// profile's caller executes it.
fn profile_findings(
    caller: &Caller,
    profile: &str,
    f: &Fact,
    m: Meta,
    c: &FileCaps,
) -> Vec<Finding> {
    let mut node = crate::verify::facts::blank(f.path);
    node.inode = Some(Inode {
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
    });
    node.xattr = Xattr::Value(c.encode());
    prediction_findings(caller, profile, f.path, &[node], f.layer, Some(c), f.meta)
}

/// FC120 and FC121 from verify's prediction for `chain` (one file, or an
/// entrypoint with its `#!` interpreters).
pub fn prediction_findings(
    caller: &Caller,
    profile: &str,
    path: &Path,
    chain: &[Node],
    layer: Option<usize>,
    c: Option<&FileCaps>,
    meta: Option<Meta>,
) -> Vec<Finding> {
    let p = model::predict(caller, chain);
    let mut outside = CapSet::EMPTY;
    let mut inert = CapSet::EMPTY;
    for r in &p.reasons {
        match (r.code, r.cap) {
            ("bounding-eperm" | "bounding", Some(cap)) => outside = outside | CapSet::single(cap),
            ("no-new-privs", Some(cap)) => inert = inert | CapSet::single(cap),
            _ => {}
        }
    }
    // Root gets the whole bounding set; only the file's own capabilities count.
    if let Some(fc) = p.file_caps.or(c.copied()) {
        let mine = fc.permitted | fc.inheritable;
        outside = outside & mine;
        inert = inert & mine;
    }
    let shown = shell_word(path);
    let mut out = Vec::new();
    let mk = |rule, severity, message| Finding {
        rule,
        path: path.to_path_buf(),
        severity,
        message,
        caps: c.map(FileCaps::to_text),
        held: c.map_or(CapSet::EMPTY, |c| c.permitted | c.inheritable),
        meta,
        layer,
        suppressed: None,
    };
    if !outside.is_empty() {
        let what = match p.outcome {
            Outcome::Fail(libc::EPERM) => {
                "with the effective bit on, the kernel refuses the exec (EPERM)"
            }
            _ => "the program runs without it, silently",
        };
        out.push(mk(
            "FC120",
            Error,
            format!(
                "{} is outside the {profile} bounding set: {what}; fix: add it to the container's capabilities if the profile allows, or fcap revoke {} {shown}",
                names(outside),
                names(outside)
            ),
        ));
    }
    if !inert.is_empty() {
        out.push(mk(
            "FC121",
            Note,
            format!(
                "{} does nothing under the {profile} profile's no_new_privs: exec grants nothing the process does not hold; fix: fcap revoke {} {shown} and give the process the capability instead",
                names(inert),
                names(inert)
            ),
        ));
    }
    out
}

/// Sort findings the way every format prints them: by path, then rule.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.path
            .as_os_str()
            .cmp(b.path.as_os_str())
            .then(a.rule.cmp(b.rule))
    });
}

/// How a path is spelled in every output.
pub fn shown(p: &Path) -> String {
    escape_path(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_are_known_by_name_and_version() {
        for p in [
            "/usr/bin/python3",
            "/usr/bin/python3.11",
            "/usr/bin/perl5.36.0",
            "/usr/local/bin/node",
            "/bin/bash",
            "/bin/sh",
        ] {
            assert!(is_interpreter(Path::new(p)), "{p}");
        }
        for p in [
            "/usr/bin/ping",
            "/usr/bin/shred",
            "/usr/bin/node-gyp",
            "/usr/bin/sha256sum",
        ] {
            assert!(!is_interpreter(Path::new(p)), "{p}");
        }
    }

    fn rules_for(caps: &str, mode: u32, name: &str) -> Vec<(&'static str, Severity)> {
        let c = FileCaps::from_text(caps, None).unwrap();
        let path = PathBuf::from(format!("/x/{name}"));
        let f = Fact {
            path: &path,
            caps: Some(&c),
            meta: Some(Meta {
                mode: libc::S_IFREG | mode,
                uid: 0,
                gid: 0,
            }),
            layer: None,
            libarchive_only: false,
            on_link_entry: false,
        };
        judge(&Context::default(), &f)
            .into_iter()
            .map(|f| (f.rule, f.severity))
            .collect()
    }

    /// The catalogue is the one source of "root-equivalent" and "high": every
    /// capability it rates so is FC101 or FC102, and no other is.
    #[test]
    fn the_catalogue_decides_fc101_and_fc102() {
        for n in 0..caps::NAMES.len() as u32 {
            let got = rules_for(&format!("{}=ep", caps::name(n)), 0o755, "prog");
            let want = match catalogue::danger(n) {
                Some(Danger::RootEquivalent) => vec![("FC101", Error)],
                Some(Danger::High) => vec![("FC102", Warning)],
                _ => vec![],
            };
            assert_eq!(got, want, "{}", caps::name(n));
        }
    }

    #[test]
    fn guards_lower_or_clear_a_finding() {
        // Only owner and group can run it: one level lower, for FC110 too.
        assert_eq!(
            rules_for("cap_setuid=ep", 0o750, "python3"),
            [("FC101", Warning), ("FC110", Warning)]
        );
        // An interpreter with a low capability is visible, and a warning.
        assert_eq!(
            rules_for("cap_net_bind_service=ep", 0o755, "node"),
            [("FC110", Warning)]
        );
        assert_eq!(rules_for("cap_net_bind_service=ep", 0o755, "web"), []);
        // One of a dangerous pair alone is nothing.
        assert_eq!(rules_for("cap_kill=ep", 0o755, "web"), []);
        assert_eq!(
            rules_for("cap_kill,cap_net_bind_service=ep", 0o755, "web"),
            [("FC103", Warning)]
        );
    }

    #[test]
    fn rule_ids_are_unique_and_ordered() {
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert!(RULES.iter().all(|r| r.full.len() <= 1024));
    }
}
