//! `fcap set`: replace files' capabilities with a libcap text expression, writing
//! exactly the bytes `setcap EXPR FILE` writes (libcap.md §3.1), through the one write
//! path in [`crate::write`].
//!
//! This module also holds what the three write commands (grant, revoke, set) share:
//! their common flags ([`WriteFlags`]), the per-file loop ([`write_each`]) and the one
//! line printed per file.

use crate::error::{self, Exit, warn};
use crate::filecaps::FileCaps;
use crate::output::escape_path;
use crate::write::{self, Change, Current, WriteOpts};
use colored::Colorize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Flags shared by `grant`, `revoke` and `set`.
#[derive(Debug, clap::Args)]
pub struct WriteFlags {
    /// Files to change. A symlink is followed to the file it points to (the kernel uses
    /// the capabilities of the file it executes).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Show what would change, write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print one JSON object per file: path, target, before, after, changed, warnings.
    #[arg(long)]
    pub json: bool,

    /// Refuse symlinks anywhere in the path, directories included, instead of
    /// following them (this also reaches paths longer than PATH_MAX).
    #[arg(short = 'P', long)]
    pub no_dereference: bool,

    #[command(flatten)]
    pub image: super::inimage::ImageArgs,
}

/// Replace files' capabilities with a libcap text expression (setcap-compatible).
#[derive(Debug, clap::Args)]
#[command(after_help = "EXPR is libcap text, e.g. 'cap_net_bind_service=ep' or \
'cap_net_raw=p cap_net_admin=ei', or one list and flags in grant's spelling \
('net_raw,CAP_CHOWN=EP'); '-' reads it from standard input. Unlike 'fcap grant', \
set replaces everything the file had. Use '--' before an EXPR that starts with '-'. \
setcap's 'CAPS FILE CAPS FILE...' form is refused here (a PATH that reads as capability text \
is an error); 'fcap setcap' accepts it.")]
pub struct SetArgs {
    /// The libcap text expression, or '-' to read it from standard input.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: String,

    /// Write nothing; exit 1 when a file's value differs from EXPR (like setcap -v).
    #[arg(long)]
    pub check: bool,

    /// Write a namespaced (v3) value bound to this user-namespace root uid.
    #[arg(long, value_name = "UID", value_parser = clap::value_parser!(u32).range(1..4_294_967_295))]
    pub rootid: Option<u32>,

    #[command(flatten)]
    pub write: WriteFlags,
}

/// Run `fcap set`.
pub fn run(args: &SetArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    refuse_pairs(&args.expr, &args.write.paths)?;
    let expr = if args.expr == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| anyhow::anyhow!("cannot read the expression from standard input: {e}"))?;
        // setcap stops reading at an empty line and refuses when nothing came before
        // it (libcap.md §3.1): empty input is a mistake (a missing here-document, a
        // failed pipe), not a request for the empty value '='.
        if s.is_empty() || s.starts_with('\n') {
            anyhow::bail!(
                "no capability text on standard input (it was empty, or began with an empty line, which ends it as in setcap); nothing was written. To store an empty value on purpose, give '=' as EXPR"
            );
        }
        s
    } else {
        args.expr.clone()
    };
    let want = parse_expr(&expr, args.rootid)?;
    if args.check && args.write.image.image.is_some() {
        anyhow::bail!(
            "set --check does not take --image; compare an image with a manifest: fcap check MANIFEST --image IMAGE"
        );
    }
    if args.check {
        return check(args, &want, out);
    }
    if want.is_empty() {
        warn(
            "this expression stores an empty value ('='): the kernel still treats the file as privileged at exec and drops ambient capabilities; 'fcap revoke all PATH...' removes the attribute instead",
        );
    }
    if args.write.image.image.is_some() {
        super::inimage::warn_rootid(args.rootid);
    }
    let what = format!("set {}", crate::output::shell_word(Path::new(expr.trim())));
    write_each(&args.write, &what, out, |_, _| Ok(Some(want)), |_| {})
}

/// Refuse setcap's multi-pair form, `CAPS FILE CAPS FILE...`, before anything is
/// written: `fcap set` gives its one EXPR to every PATH, so `fcap set cap_net_raw=ep q1
/// cap_chown=ep q2` would give q2 the wrong capabilities. A PATH that reads as
/// capability text (and has no `/`, so `./cap_chown=ep` still names such a file) is
/// taken for that form.
fn refuse_pairs(expr: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    let Some(caps) = paths.iter().find_map(|p| {
        let s = p.to_str()?;
        let looks = !s.is_empty() && !s.contains('/') && crate::text::parse(s).is_ok();
        looks.then_some(s)
    }) else {
        return Ok(());
    };
    anyhow::bail!(
        "'{caps}' is capability text, not a file: 'fcap set' gives its one EXPR ('{}') to every PATH, so setcap's 'CAPS FILE CAPS FILE...' form would write the wrong capabilities; nothing was written. Use 'fcap setcap' for that form, one 'fcap set' per expression, or './{caps}' for a file of that name",
        expr.trim()
    )
}

/// The value `setcap EXPR` would store, or an error that says what is really wrong
/// (setcap only says "Invalid file" for a mixed effective flag).
fn parse_expr(expr: &str, rootid: Option<u32>) -> anyhow::Result<FileCaps> {
    let shown = expr.trim();
    // `fcap set cap_x FILE`: a list with no operator is grant's syntax, not libcap's.
    if !shown.is_empty()
        && !shown.contains(['=', '+', '-'])
        && crate::capspec::parse_grant(shown).is_ok()
    {
        anyhow::bail!(
            "'{shown}' has no operator: set takes libcap text and replaces everything, e.g. '{shown}=ep' (=ep is effective and permitted, what grant adds by default); to add it and keep the file's other capabilities: fcap grant {shown} PATH..."
        );
    }
    // Failing libcap text, one clause in grant's spelling (`net_raw=EP`, `CAP_CHOWN+ep`)
    // means what grant would give a file with nothing: the Ansible module's state=exact
    // passes its caps and flags in the spelling the other states accept. setcap refuses
    // every such text, so nothing setcap accepts changes meaning.
    let t = crate::text::parse(expr)
        .or_else(|e| {
            crate::capspec::parse_grant(shown)
                .ok()
                .and_then(|spec| crate::text::parse(&spec.to_string()).ok())
                .ok_or(e)
        })
        .map_err(|e| anyhow::anyhow!("invalid capability text '{shown}': {e}"))?;
    FileCaps::from_text_sets(&t, rootid).map_err(|m| {
        let as_file = |effective: bool| {
            FileCaps {
                permitted: t.permitted,
                inheritable: t.inheritable,
                effective,
                ..FileCaps::EMPTY
            }
            .to_text()
        };
        anyhow::anyhow!(
            "cannot store '{shown}' in a file: {m}. Make all of them effective ('{}') or none ('{}')",
            as_file(true),
            as_file(false)
        )
    })
}

/// `set --check`: compare, write nothing; exit 1 when any file differs.
fn check(args: &SetArgs, want: &FileCaps, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let opts = WriteOpts {
        follow: !args.write.no_dereference,
        dry_run: true,
    };
    each(
        &args.write.paths,
        opts,
        out,
        |_, _| Ok(Some(*want)),
        |ch, out| {
            if args.write.json {
                writeln!(out, "{}", ch.to_json())?;
            } else if ch.changed {
                let verdict = format!(
                    "differs: is {}, expression gives {}",
                    current_text(&ch.before),
                    want.to_text()
                );
                writeln!(out, "{}: {}", shown_path(ch), verdict.red())?;
            } else {
                writeln!(out, "{}: {}", shown_path(ch), "OK".green())?;
            }
            Ok(if ch.changed {
                Exit::Negative
            } else {
                Exit::Success
            })
        },
    )
}

/// Apply `compute` to every path through [`write::modify`], print one line (or one
/// JSON object) per file, and report errors without stopping: the other paths are
/// still processed and the exit status is 2 when any failed.
///
/// `compute` gets the path as given and the current value; `done` runs for each file
/// that was (or, with `--dry-run`, would be) written, e.g. to print warnings. What the
/// new value cannot do at exec ([`super::effect::warnings`]) is warned about here, on
/// stderr and in the JSON record's `warnings`.
///
/// With `--image`, the files are inside an image and the result is a new image
/// ([`super::inimage`]); `what` is the command for the new layer's history
/// (`grant cap_net_raw`), the paths added.
pub fn write_each(
    flags: &WriteFlags,
    what: &str,
    out: &mut dyn Write,
    mut compute: impl FnMut(&Path, &Current) -> anyhow::Result<Option<FileCaps>>,
    mut done: impl FnMut(&Change),
) -> anyhow::Result<Exit> {
    // One copy of the loop for grant, revoke and set (each copy was about 16 KB).
    write_each_dyn(flags, what, out, &mut compute, &mut done)
}

fn write_each_dyn(
    flags: &WriteFlags,
    what: &str,
    out: &mut dyn Write,
    compute: &mut dyn FnMut(&Path, &Current) -> anyhow::Result<Option<FileCaps>>,
    done: &mut dyn FnMut(&Change),
) -> anyhow::Result<Exit> {
    let opts = WriteOpts {
        follow: !flags.no_dereference,
        dry_run: flags.dry_run,
    };
    let on_host = flags.image.image.is_none();
    let report = |ch: &Change, out: &mut dyn Write| -> anyhow::Result<Exit> {
        done(ch);
        let warnings = super::effect::warnings(ch, on_host);
        out.flush()?;
        for w in &warnings {
            warn(w);
        }
        if flags.json {
            let mut v = ch.to_json();
            v["warnings"] = warnings.into();
            writeln!(out, "{v}")?;
        } else {
            writeln!(out, "{}", human_line(ch, flags.dry_run))?;
        }
        Ok(Exit::Success)
    };
    if on_host {
        return each(&flags.paths, opts, out, compute, report);
    }
    in_image(flags, what, out, compute, report)
}

/// [`write_each`] for files inside an image: every path is changed in one new
/// layer, or (after any error) nothing is written.
fn in_image(
    flags: &WriteFlags,
    what: &str,
    out: &mut dyn Write,
    compute: &mut dyn FnMut(&Path, &Current) -> anyhow::Result<Option<FileCaps>>,
    mut report: impl FnMut(&Change, &mut dyn Write) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    let plan = super::inimage::open(&flags.image, flags.dry_run)?;
    let paths: Vec<String> = flags
        .paths
        .iter()
        .map(|p| crate::output::shell_word(p))
        .collect();
    let created_by = format!("fcap {what} {}", paths.join(" "));
    let scan = super::inimage::Scan {
        paths: &flags.paths,
        follow: !flags.no_dereference,
        extra: &|_| {},
    };
    super::inimage::run(plan, scan, &created_by, flags.json, out, |s, out| {
        let mut exit = Exit::Success;
        for (i, path) in flags.paths.iter().enumerate() {
            match s.change(i, path, |cur| compute(path, cur)) {
                Ok(ch) => exit = exit.max(report(&ch, out)?),
                Err(e) => {
                    out.flush()?;
                    error::print(&super::inimage::unwritten(e, &flags.image));
                    s.failed = true;
                }
            }
        }
        Ok(exit)
    })
}

/// The loop `grant`, `revoke`, `set` and `set --check` share: each path through
/// [`write::modify`], `report` for each result, and an error about one path printed
/// without stopping the others (exit 2 at the end).
fn each(
    paths: &[PathBuf],
    opts: WriteOpts,
    out: &mut dyn Write,
    mut compute: impl FnMut(&Path, &Current) -> anyhow::Result<Option<FileCaps>>,
    mut report: impl FnMut(&Change, &mut dyn Write) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    let mut exit = Exit::Success;
    for path in paths {
        match write::modify(path, opts, |cur| compute(path, cur)) {
            Ok(ch) => exit = exit.max(report(&ch, out)?),
            Err(e) => {
                // Keep stdout and stderr in order when both go to one terminal.
                out.flush()?;
                error::print(&e);
                exit = Exit::Error;
            }
        }
    }
    Ok(exit)
}

/// `path[ -> target]: NEW (was OLD | unchanged | was OLD; dry run, nothing written)`.
fn human_line(ch: &Change, dry_run: bool) -> String {
    let new = after_text(ch.after.as_ref());
    let (new, status) = if !ch.changed {
        let s = "(unchanged)".to_string();
        (new, s.dimmed().to_string())
    } else {
        let old = current_text(&ch.before);
        // The same shape as a real run, so one parser reads both.
        let s = if dry_run {
            format!("(was {old}; dry run, nothing written)")
        } else {
            format!("(was {old})")
        };
        (new.green().to_string(), s)
    };
    format!("{}: {new} {status}", shown_path(ch))
}

/// The path as given, and `-> target` when resolving it went through a symlink.
fn shown_path(ch: &Change) -> String {
    let p = escape_path(&ch.path);
    if !crate::output::via_symlink(&ch.path, &ch.target) {
        p
    } else {
        format!("{p} -> {}", escape_path(&ch.target))
    }
}

/// The value a file carries, as one word or canonical text.
pub fn current_text(c: &Current) -> String {
    match c {
        Current::None => "none".to_string(),
        Current::Caps(f) => f.to_text(),
        Current::Malformed(_) => "a malformed value".to_string(),
    }
}

fn after_text(c: Option<&FileCaps>) -> String {
    c.map_or_else(|| "none".to_string(), FileCaps::to_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcap_pairs_are_refused_but_ordinary_names_are_not() {
        let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        for bad in [
            &["q1", "cap_chown=ep", "q2"][..],
            &["q1", "cap_net_raw+p"],
            &["cap_chown,cap_kill-e"],
            &["all=ep", "q"],
        ] {
            let e = refuse_pairs("cap_net_raw=ep", &paths(bad)).unwrap_err();
            assert!(e.to_string().contains("fcap setcap"), "{e}");
        }
        for good in [
            &["q1", "q2"][..],
            &["./cap_chown=ep"],
            &[
                "/usr/bin/ping",
                "prog",
                "chown",
                "kill",
                "a=b",
                "node-22",
                "x+y",
            ],
        ] {
            refuse_pairs("cap_net_raw=ep", &paths(good)).unwrap();
        }
    }

    #[test]
    fn grants_spelling_of_one_clause_is_the_value_grant_gives_an_empty_file() {
        let want = parse_expr("cap_chown,cap_net_raw=ep", None).unwrap();
        for e in [
            "net_raw,chown=ep",
            "CAP_NET_RAW,CAP_CHOWN=PE",
            "chown,13+Ep",
        ] {
            assert_eq!(parse_expr(e, None).unwrap(), want, "{e}");
        }
        // What neither spelling accepts keeps libcap's message.
        let e = parse_expr("net_rw=ep", None).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid capability text 'net_rw=ep': "),
            "{e}"
        );
        // `-` and several clauses are libcap's alone.
        assert!(parse_expr("net_raw-e", None).is_err());
        assert!(parse_expr("net_raw=p chown=ep", None).is_err());
    }

    #[test]
    fn mixed_effective_names_both_ways_out() {
        let e = parse_expr("cap_chown=ep cap_net_raw=p", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("one effective flag"), "{e}");
        assert!(e.contains("'cap_chown,cap_net_raw=ep'"), "{e}");
        assert!(e.contains("'cap_chown,cap_net_raw=p'"), "{e}");
    }
}
