//! `fcap grant`: add capabilities to files, keeping the ones they have.
//!
//! The merge rule, and the one thing that can make a grant impossible: a file has a
//! single effective flag (libcap.md §4), so "cap_a effective, cap_b not" cannot be
//! stored. A grant that would need the flag both on and off is refused with the two
//! ways out, instead of silently changing what the existing capabilities do.

use crate::caps::{self, CapSet};
use crate::capspec::{self, GrantSpec};
use crate::cmd::set::{WriteFlags, write_each};
use crate::error::{Exit, quote, warn};
use crate::filecaps::FileCaps;
use crate::write::Current;
use std::io::Write;
use std::path::Path;

/// Add capabilities to files, keeping the ones they have.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "CAPS is a comma-separated list of capabilities (cap_net_raw, \
CAP_NET_RAW, net_raw or a number), optionally followed by flags: net_raw, net_raw=ep, \
net_raw+ep, net_admin,net_raw=eip, setuid=p. Without flags it means ep, what a program \
that does not manage its own capabilities (node, python) needs."
)]
pub struct GrantArgs {
    /// Capabilities to add, with optional flags (default: ep).
    #[arg(value_name = "CAPS")]
    pub caps: String,

    /// Write a namespaced (v3) value bound to this user-namespace root uid (without it,
    /// an existing rootid is kept).
    #[arg(long, value_name = "UID", value_parser = clap::value_parser!(u32).range(1..4_294_967_295))]
    pub rootid: Option<u32>,

    #[command(flatten)]
    pub write: WriteFlags,
}

/// Run `fcap grant`.
pub fn run(args: &GrantArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let spec = capspec::parse_grant(&args.caps)
        .map_err(|e| capspec::with_order_hint(e, &args.caps, "grant"))?;
    let dangerous: Vec<String> = spec
        .caps
        .iter()
        .filter(|n| caps::is_root_equivalent(*n))
        .map(caps::name)
        .collect();
    // Said once, and only when a file was (or would be) given them.
    let mut warned = dangerous.is_empty();
    let unknown = spec.caps - CapSet::all();
    if !unknown.is_empty() {
        warn(&format!(
            "capabilities {unknown} are not known to this kernel (it has {}): they are stored but grant nothing",
            caps::kernel_cap_count()
        ));
    }
    if args.write.image.image.is_some() {
        super::inimage::warn_rootid(args.rootid);
    }
    let what = format!(
        "grant {}",
        crate::output::shell_word(std::path::Path::new(&args.caps))
    );
    write_each(
        &args.write,
        &what,
        out,
        |path, cur| merge(path, cur, &spec, args.rootid),
        |ch| {
            // Not on an (unchanged) run: it was said when the file got them.
            if !warned && ch.changed {
                warned = true;
                warn(&format!(
                    "{} {} root-equivalent: anyone who can run the file can use it to become root",
                    dangerous.join(", "),
                    if dangerous.len() == 1 { "is" } else { "are" }
                ));
            }
        },
    )
}

/// The new value: `cur` plus what `spec` asks for, or a refusal.
fn merge(
    path: &Path,
    cur: &Current,
    spec: &GrantSpec,
    rootid: Option<u32>,
) -> anyhow::Result<Option<FileCaps>> {
    let base = match cur {
        Current::None => FileCaps::EMPTY,
        Current::Caps(c) => *c,
        Current::Malformed(why) => anyhow::bail!(
            "{why}; grant cannot merge into it. Replace it: fcap set EXPR {p}; or remove it: fcap revoke all {p}",
            p = quote(path)
        ),
    };
    let old = base.permitted | base.inheritable;
    let mut new = base;
    if spec.permitted {
        new.permitted = new.permitted | spec.caps;
    }
    if spec.inheritable {
        new.inheritable = new.inheritable | spec.caps;
    }
    new.effective = if old.is_empty() {
        spec.effective
    } else if base.effective == spec.effective {
        base.effective
    } else if base.effective {
        // The flag is on: new capabilities would be raised at exec although the user
        // asked for them not to be. Listed ones the file already had stay as they were.
        let added = spec.caps - old;
        if !added.is_empty() {
            anyhow::bail!(
                "cannot grant {added}={} without making it effective: a file has one effective flag for all its capabilities, and this file's is on ({}), so {added} would be raised at exec too. Either grant it effective as well: fcap grant {} {p}; or make none of them effective: fcap set {} {p}",
                spec.flags(),
                base.to_text(),
                spec.with_effective(true),
                shell_word(
                    &FileCaps {
                        effective: false,
                        ..new
                    }
                    .to_text()
                ),
                p = quote(path)
            );
        }
        true
    } else {
        // The flag is off: turning it on would change what the existing ones do.
        let others = old - spec.caps;
        if !others.is_empty() {
            anyhow::bail!(
                "cannot grant {spec}: a file has one effective flag for all its capabilities, and this file's is off ({}); turning it on would make {others} effective too. Either grant it without 'e' (the program must raise it itself): fcap grant {} {p}; or make all of them effective: fcap set {} {p}",
                base.to_text(),
                spec.with_effective(false),
                shell_word(
                    &FileCaps {
                        effective: true,
                        ..new
                    }
                    .to_text()
                ),
                p = quote(path)
            );
        }
        true
    };
    if rootid.is_some() {
        new.rootid = rootid;
    }
    new.revision = if new.rootid.is_some() { 3 } else { 2 };
    Ok(Some(new))
}

/// Quote text for a shell command line when it has spaces.
fn shell_word(s: &str) -> String {
    if s.contains(' ') {
        format!("'{s}'")
    } else {
        s.to_string()
    }
}

/// Interpreters and shells, by the file's base name (every script they run would get
/// the capabilities: users-and-peers.md pain point 18; warned about in
/// [`super::effect`]) with any version suffix removed
/// (`python3.11`, `node-22`, `perl5.36`, `lua5.4`).
pub fn is_interpreter(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "node",
        "nodejs",
        "deno",
        "bun",
        "python",
        "pypy",
        "perl",
        "ruby",
        "jruby",
        "php",
        "php-cgi",
        "lua",
        "luajit",
        "tclsh",
        "wish",
        "java",
        "bash",
        "sh",
        "dash",
        "zsh",
        "fish",
        "ksh",
        "mksh",
        "csh",
        "tcsh",
        "busybox",
        "pwsh",
        "julia",
        "rscript",
        "guile",
        "gawk",
        "awk",
        "osascript",
        "elixir",
        "erl",
        "escript",
    ];
    let lower = name.to_ascii_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    NAMES.contains(&stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(t: &str) -> Current {
        Current::Caps(FileCaps::from_text(t, None).unwrap())
    }

    fn grant(cur: &Current, s: &str) -> anyhow::Result<String> {
        let spec = capspec::parse_grant(s).unwrap();
        merge(Path::new("f"), cur, &spec, None).map(|v| v.map(|c| c.to_text()).unwrap_or_default())
    }

    #[test]
    fn grant_merges_and_keeps_the_effective_flag_consistent() {
        assert_eq!(grant(&Current::None, "net_raw").unwrap(), "cap_net_raw=ep");
        assert_eq!(grant(&Current::None, "setuid=p").unwrap(), "cap_setuid=p");
        assert_eq!(
            grant(&fc("cap_chown=ep"), "net_raw").unwrap(),
            "cap_chown,cap_net_raw=ep"
        );
        assert_eq!(
            grant(&fc("cap_chown=p"), "kill=i").unwrap(),
            "cap_kill=i cap_chown+p"
        );
        // Asking for p on a capability that is already ep keeps it ep.
        assert_eq!(
            grant(&fc("cap_chown=ep"), "chown=p").unwrap(),
            "cap_chown=ep"
        );
        // Turning the flag on is fine when every existing capability is listed.
        assert_eq!(
            grant(&fc("cap_chown=p"), "chown,kill=ep").unwrap(),
            "cap_chown,cap_kill=ep"
        );
        // An empty value counts as nothing.
        assert_eq!(grant(&fc("="), "kill=p").unwrap(), "cap_kill=p");
    }

    #[test]
    fn grant_refuses_to_change_what_existing_caps_do() {
        let e = grant(&fc("cap_chown=ep"), "net_raw=p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("one effective flag"), "{e}");
        assert!(e.contains("fcap grant cap_net_raw=ep"), "{e}");
        assert!(e.contains("fcap set cap_chown,cap_net_raw=p"), "{e}");
        let e = grant(&fc("cap_chown=p"), "net_raw")
            .unwrap_err()
            .to_string();
        assert!(e.contains("would make cap_chown effective"), "{e}");
        assert!(e.contains("fcap grant cap_net_raw=p"), "{e}");
        assert!(e.contains("fcap set cap_chown,cap_net_raw=ep"), "{e}");
    }

    #[test]
    fn interpreters_are_recognised_by_base_name() {
        for n in [
            "node",
            "nodejs",
            "python3",
            "python3.11",
            "perl5.36",
            "ruby3.1",
            "sh",
            "bash",
            "lua5.4",
            "php8.2",
            "tclsh8.6",
            "java",
            "node-22",
        ] {
            assert!(is_interpreter(n), "{n}");
        }
        for n in ["ping", "ssh", "nodemon", "true", "dumpcap"] {
            assert!(!is_interpreter(n), "{n}");
        }
    }
}
