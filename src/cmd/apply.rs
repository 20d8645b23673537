//! `fcap apply`: make every file a manifest lists carry exactly the listed
//! capabilities.
//!
//! Each file goes through the one write path ([`crate::write::modify`]), so a file
//! that already carries its value is not touched (a second run reports every file
//! `unchanged`). A failure on one line (a missing file, a symlink, a read-only
//! filesystem) is reported with the manifest line and the other lines are still
//! applied; the exit status is then 2.

use crate::error::{self, Exit};
use crate::manifest::{self, Entry};
use crate::output::escape_path;
use crate::write::{self, Change, WriteOpts};
use colored::Colorize;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Make files carry exactly the capabilities manifests list.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A manifest is what 'fcap read -r DIR' prints (PATH CAPS per line, \
getcap's format) or what 'fcap read -r --json DIR' prints; '#' starts a comment. \
Capture with 'fcap read -r DIR > app.caps', restore with 'fcap apply app.caps'."
)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub sources: super::ManifestSources,

    /// Show what would change, write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print JSON Lines: one object per file.
    #[arg(long)]
    pub json: bool,

    /// Print only the files that change (and errors).
    #[arg(short, long)]
    pub quiet: bool,

    /// With --image: every other file with capabilities loses them (the manifests
    /// are the allowlist).
    #[arg(long, requires = "image")]
    pub prune: bool,

    /// With --image: clear the setuid and setgid bits of every file except those
    /// given with --keep-setid.
    #[arg(long, requires = "image")]
    pub strip_setid: bool,

    /// A file whose setuid/setgid bits --strip-setid keeps (repeatable).
    #[arg(long, value_name = "PATH", requires = "strip_setid")]
    pub keep_setid: Vec<PathBuf>,

    #[command(flatten)]
    pub image: super::inimage::ImageArgs,
}

/// Run `fcap apply`.
pub fn run(args: &ApplyArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut exit = Exit::Success;
    let mut fail = |e: anyhow::Error| {
        error::print(&e);
        exit = Exit::Error;
    };
    let files = args.sources.files()?;
    let mut load_failed = false;
    let entries = manifest::load_all(&files, &mut |e| {
        load_failed = true;
        fail(e)
    });
    // The package hook runs on every system, with or without manifests: nothing to
    // do is not an error, but say so (and where fcap looked) unless --quiet.
    if entries.is_empty() && !load_failed && !args.quiet && !args.json {
        writeln!(
            out,
            "nothing to apply: no manifest line in {}",
            args.sources.describe(&files)
        )?;
    }
    // A manifest names the file itself, as 'fcap read -r' prints it. Following a
    // symlink here, the last component or a directory, would let whoever controls it
    // aim a root-run `apply --system` at another file, so the write path refuses
    // links anywhere in the path (and walks it a directory at a time, which also
    // reaches the paths deeper than PATH_MAX that `read -r` lists).
    if args.image.image.is_some() {
        return in_image(args, &entries, exit, out);
    }
    let opts = WriteOpts {
        follow: false,
        dry_run: args.dry_run,
    };
    for e in &entries {
        match apply_one(e, opts) {
            Ok(change) => report(&change, e, args, out)?,
            Err(err) => fail(anyhow::anyhow!("{err:#} (listed at {})", e.source)),
        }
    }
    Ok(exit)
}

/// `apply --image`: the manifests' files changed inside the image, then `--prune`
/// and `--strip-setid` over every other file of it; one new layer, or nothing
/// after any error.
fn in_image(
    args: &ApplyArgs,
    entries: &[Entry],
    exit: Exit,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    use super::inimage::{open, run};
    let plan = open(&args.image, args.dry_run)?;
    let paths: Vec<PathBuf> = entries.iter().map(|e| e.path.clone()).collect();
    let mut keep = args.keep_setid.clone();
    let strip = args.strip_setid;
    keep.retain(|_| strip);
    let mut all = paths.clone();
    all.extend(keep.iter().cloned());
    let mut words = vec!["apply".to_string()];
    words.extend(args.sources.manifests.iter().map(|m| {
        crate::output::shell_word(std::path::Path::new(m.file_name().unwrap_or(m.as_os_str())))
    }));
    if args.prune {
        words.push("--prune".into());
    }
    if strip {
        words.push("--strip-setid".into());
        for k in &keep {
            words.push(format!("--keep-setid {}", crate::output::shell_word(k)));
        }
    }
    let created_by = format!("fcap {}", words.join(" "));
    let scan = super::inimage::Scan {
        paths: &all,
        follow: false,
        extra: &|w| {
            w.setid = strip;
            w.spool_privileged = args.prune || strip;
        },
    };
    let done = run(plan, scan, &created_by, args.json, out, |s, out| {
        if exit == Exit::Error {
            s.failed = true;
        }
        harden(s, args, entries, &keep, out)
    })?;
    Ok(exit.max(done))
}

/// One image of `apply --image`: the listed files, then `--prune` and
/// `--strip-setid` over the rest.
fn harden(
    s: &mut super::inimage::Session,
    args: &ApplyArgs,
    entries: &[Entry],
    keep: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    use super::inimage::unwritten;
    let strip = args.strip_setid;
    let mut listed = std::collections::HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        let caps = e.caps;
        match s.change(i, &e.path, |_| Ok(caps)) {
            Ok(change) => {
                if let Ok((_, real)) = &s.found.targets[i] {
                    listed.insert(s.found.inode(real));
                }
                report(&change, e, args, out)?;
            }
            Err(err) => {
                out.flush()?;
                error::print(&unwritten(
                    anyhow::anyhow!("{err:#} (listed at {})", e.source),
                    &args.image,
                ));
                s.failed = true;
            }
        }
    }
    if args.prune {
        for (inode, real) in s.found.capped() {
            if listed.contains(&inode) {
                continue;
            }
            let given = PathBuf::from(std::ffi::OsStr::from_bytes(&real));
            match s.found.change(&given, &real, &mut s.done, |_| Ok(None)) {
                Ok(c) => harden_line(out, args, &c, "pruned: not in the manifests")?,
                Err(err) => {
                    error::print(&unwritten(err, &args.image));
                    s.failed = true;
                }
            }
        }
    }
    if strip {
        let mut kept = std::collections::HashSet::new();
        for i in 0..keep.len() {
            match &s.found.targets[entries.len() + i] {
                Ok((_, real)) => {
                    kept.insert(s.found.inode(real));
                }
                Err(err) => {
                    error::print(&unwritten(
                        anyhow::anyhow!("--keep-setid: {err:#}"),
                        &args.image,
                    ));
                    s.failed = true;
                }
            }
        }
        for (inode, (real, mode)) in s.found.setid() {
            if kept.contains(&inode) {
                continue;
            }
            let new = mode & !0o6000;
            match s.found.set_mode(&real, new, &mut s.done) {
                Ok(()) => {
                    let given = PathBuf::from(std::ffi::OsStr::from_bytes(&real));
                    let bits = match mode & 0o6000 {
                        0o4000 => "setuid",
                        0o2000 => "setgid",
                        _ => "setuid and setgid",
                    };
                    let why = format!("{bits} cleared");
                    harden_line_mode(out, args, &given, mode, new, &why)?;
                }
                Err(err) => {
                    error::print(&unwritten(err, &args.image));
                    s.failed = true;
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// The line (or JSON record) for a file `--prune` changed.
fn harden_line(out: &mut dyn Write, args: &ApplyArgs, c: &Change, why: &str) -> anyhow::Result<()> {
    if args.json {
        let mut v = c.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("dry_run".into(), args.dry_run.into());
            o.insert("reason".into(), "prune".into());
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    if !c.changed {
        return Ok(());
    }
    let before = c.before.text().unwrap_or_else(|| "none".to_string());
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    writeln!(
        out,
        "{} {} none (was {before}; {why})",
        verb.yellow(),
        escape_path(&c.path)
    )?;
    Ok(())
}

/// The line (or JSON record) for a file `--strip-setid` changed.
fn harden_line_mode(
    out: &mut dyn Write,
    args: &ApplyArgs,
    path: &std::path::Path,
    before: u32,
    after: u32,
    why: &str,
) -> anyhow::Result<()> {
    if args.json {
        let v = serde_json::json!({
            "path": escape_path(path),
            "target": escape_path(path),
            "mode_before": format!("{before:04o}"),
            "mode_after": format!("{after:04o}"),
            "changed": true,
            "dry_run": args.dry_run,
            "reason": "strip-setid",
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    writeln!(
        out,
        "{} {} mode {after:04o} (was {before:04o}; {why})",
        verb.yellow(),
        escape_path(path)
    )?;
    Ok(())
}

fn apply_one(e: &Entry, opts: WriteOpts) -> anyhow::Result<Change> {
    let caps = e.caps;
    write::modify(&e.path, opts, |_| Ok(caps))
}

fn report(c: &Change, e: &Entry, args: &ApplyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let warnings = super::effect::warnings(c, true);
    out.flush()?;
    for w in &warnings {
        error::warn(&format!("{w} (listed at {})", e.source));
    }
    if args.json {
        let mut v = c.to_json();
        v["warnings"] = warnings.into();
        if let Some(o) = v.as_object_mut() {
            o.insert("dry_run".into(), args.dry_run.into());
            o.insert(
                "manifest".into(),
                escape_path(&e.source.file).to_string().into(),
            );
            o.insert("line".into(), e.source.line.into());
        }
        writeln!(out, "{v}")?;
        return Ok(());
    }
    if args.quiet && !c.changed {
        return Ok(());
    }
    let after = c.after.map_or_else(|| "none".to_string(), |a| a.to_text());
    let path = escape_path(&c.path);
    if !c.changed {
        writeln!(out, "unchanged {path} {after}")?;
        return Ok(());
    }
    let before = c.before.text().unwrap_or_else(|| "none".to_string());
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    writeln!(out, "{} {path} {after} (was {before})", verb.yellow())?;
    Ok(())
}
