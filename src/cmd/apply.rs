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
