//! `fcap read`: show file capabilities, getcap-compatible by default.
//!
//! Default lines are exactly getcap's (`/usr/bin/ping cap_net_raw=ep`), `-v` and `-n`
//! mean what they mean for getcap, `-r` walks a tree (sorted output, see [`crate::scan`]).
//! `--json` prints JSON Lines and `-l` a human view with one capability per line.

use crate::caps;
use crate::error::{self, Exit};
use crate::filecaps::FileCaps;
use crate::manifest;
use crate::output::escape_path;
use crate::scan::{self, Entry, Found, Pattern, Progress, WalkOpts};
use colored::Colorize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Show the capabilities of files.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Paths with control characters, backslashes or invalid UTF-8 are printed escaped \
(\\n, \\t, \\r, \\\\, \\xHH); ordinary names print exactly as getcap prints them."
)]
pub struct ReadArgs {
    /// Files or (with -r) directories to read.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Walk directories recursively (never following symlinks; output sorted by path).
    #[arg(short, long)]
    pub recursive: bool,

    /// Also list files without capabilities, like getcap -v.
    #[arg(short, long)]
    pub verbose: bool,

    /// Append " [rootid=N]" to namespaced (v3) values, like getcap -n.
    #[arg(short = 'n', long = "rootid")]
    pub rootid: bool,

    /// With -r, do not descend into other filesystems.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,

    /// Follow a symlink named on the command line and read the file it points to.
    #[arg(short = 'L', long)]
    pub dereference: bool,

    /// With -r, leave out entries matching this glob (repeatable). Without a '/', it
    /// matches names at any depth (node_modules, '*.so'); with one, whole paths
    /// (/usr/share/doc). '*' stops at '/', '**' does not; an excluded directory is
    /// not entered.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<std::ffi::OsString>,

    /// Print JSON Lines: one object per file.
    #[arg(long, conflicts_with = "long")]
    pub json: bool,

    /// Human view: one capability per line with its sets and what it allows.
    #[arg(short, long)]
    pub long: bool,
}

enum Style {
    Getcap { rootid: bool },
    Json,
    Long,
}

/// Run `fcap read`.
pub fn run(args: &ReadArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let style = if args.json {
        Style::Json
    } else if args.long {
        Style::Long
    } else {
        Style::Getcap {
            rootid: args.rootid,
        }
    };
    let mut exit = Exit::Success;
    let mut fail = |e: anyhow::Error| {
        error::print(&e);
        exit = Exit::Error;
    };
    let opts = WalkOpts {
        one_file_system: args.one_file_system,
        verbose: args.verbose,
        exclude: args.exclude.iter().map(|p| Pattern::new(p)).collect(),
        progress: std::io::stderr().is_terminal().then(Default::default),
    };
    for path in &args.paths {
        if args.recursive {
            let mut entries = Vec::new();
            let root = if args.dereference {
                deref(path, &mut fail)
            } else {
                Some(path.clone())
            };
            let Some(root) = root else { continue };
            std::thread::scope(|s| {
                let shower = opts.progress.as_ref().map(|p| s.spawn(|| show_progress(p)));
                scan::walk(&root, &opts, &mut |e| entries.push(e), &mut fail);
                if let (Some(p), Some(h)) = (&opts.progress, shower) {
                    p.done.store(true, Ordering::Release);
                    // Wake it now rather than at its next tick.
                    h.thread().unpark();
                }
            });
            // Only the hits are sorted (and, with -v, everything listed).
            scan::sort(&mut entries);
            for e in entries {
                render(&e, &style, args.verbose, out, &mut fail)?;
            }
        } else if let Some(entry) = read_one(path, args.dereference, &mut fail) {
            render(&entry, &style, args.verbose, out, &mut fail)?;
        }
    }
    Ok(exit)
}

/// The progress line on a terminal's stderr: nothing for a quick scan, then
/// "files seen, hits so far" a few times a second, erased when the scan ends.
fn show_progress(p: &Progress) {
    let mut next = Instant::now() + Duration::from_millis(500);
    let mut shown = false;
    loop {
        // Parked until the next tick, or until the scan ends and unparks us.
        std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
        if p.done.load(Ordering::Acquire) {
            break;
        }
        if Instant::now() < next {
            continue;
        }
        next += Duration::from_millis(200);
        eprint!(
            "\r\x1b[Kfcap: scanning: {} files, {} with capabilities",
            p.files.load(Ordering::Relaxed),
            p.hits.load(Ordering::Relaxed)
        );
        shown = true;
    }
    if shown {
        eprint!("\r\x1b[K");
    }
}

/// Resolve a symlink named on the command line (`-L`).
fn deref(path: &Path, fail: &mut dyn FnMut(anyhow::Error)) -> Option<PathBuf> {
    match std::fs::canonicalize(path) {
        Ok(p) => Some(p),
        Err(e) => {
            fail(error::io_at_path(path, &e, false));
            None
        }
    }
}

/// One path named on the command line, without -r: like getcap, only regular files
/// are read and symlinks are not followed (unless -L).
fn read_one(path: &Path, dereference: bool, fail: &mut dyn FnMut(anyhow::Error)) -> Option<Entry> {
    let meta = if dereference {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            fail(error::io_at_path(path, &e, false));
            return None;
        }
    };
    if !meta.is_file() {
        return Some(Entry {
            path: path.to_path_buf(),
            found: Found::NotRegular,
        });
    }
    let found = if dereference {
        scan::read_caps(&deref(path, fail)?)
    } else {
        scan::read_caps(path)
    };
    Some(Entry {
        path: path.to_path_buf(),
        found,
    })
}

fn render(
    e: &Entry,
    style: &Style,
    verbose: bool,
    out: &mut dyn Write,
    fail: &mut dyn FnMut(anyhow::Error),
) -> anyhow::Result<()> {
    let path = escape_path(&e.path);
    let caps = match &e.found {
        Found::Unreadable(err) => {
            // Only this path's line is missing; the message says why.
            fail(anyhow::anyhow!("{err:#}"));
            return Ok(());
        }
        Found::NotRegular => {
            if verbose {
                match style {
                    Style::Json => writeln!(out, "{}", json_line(&path, None, false))?,
                    _ => writeln!(out, "{path} (Not a regular file)")?,
                }
            }
            return Ok(());
        }
        Found::File(c) => c,
    };
    match (style, caps) {
        (Style::Getcap { .. } | Style::Long, None) => {
            if verbose {
                writeln!(out, "{path}")?;
            }
        }
        // With -n, the manifest line is exactly getcap -n's line.
        (Style::Getcap { rootid: true }, Some(c)) => {
            writeln!(out, "{}", manifest::line(&e.path, c))?
        }
        (Style::Getcap { rootid: false }, Some(c)) => writeln!(out, "{path} {c}")?,
        (Style::Json, c) => writeln!(out, "{}", json_line(&path, c.as_ref(), true))?,
        (Style::Long, Some(c)) => long(&path, c, out)?,
    }
    Ok(())
}

/// The JSON Lines object for one file (`caps` is null for a file without capabilities
/// and for non-regular entries listed with -v).
pub fn json_line(path: &str, c: Option<&FileCaps>, regular: bool) -> serde_json::Value {
    match c {
        Some(c) => serde_json::json!({
            "path": path,
            "caps": c.to_text(),
            "permitted": c.permitted.names(),
            "inheritable": c.inheritable.names(),
            "effective": c.effective,
            "version": c.revision,
            "rootid": c.rootid,
        }),
        None => serde_json::json!({
            "path": path,
            "caps": null,
            "permitted": [],
            "inheritable": [],
            "effective": false,
            "version": null,
            "rootid": null,
            "regular": regular,
        }),
    }
}

fn long(path: &str, c: &FileCaps, out: &mut dyn Write) -> anyhow::Result<()> {
    write!(out, "{}  {}", path.bold(), c.to_text().dimmed())?;
    if let Some(r) = c.rootid {
        write!(out, "  (v3, namespace root uid {r})")?;
    }
    writeln!(out)?;
    let all = c.permitted | c.inheritable;
    if all.is_empty() {
        writeln!(
            out,
            "  {}",
            "no capabilities (an empty value still blocks ambient capabilities at exec)".yellow()
        )?;
    }
    let width = all.iter().map(|n| caps::name(n).len()).max().unwrap_or(0);
    for n in all.iter() {
        let mut sets = Vec::new();
        if c.permitted.has(n) {
            sets.push("permitted");
        }
        if c.inheritable.has(n) {
            sets.push("inheritable");
        }
        if c.effective {
            sets.push("effective");
        }
        let name = format!("{:width$}", caps::name(n));
        let name = if c.effective && c.permitted.has(n) {
            name.green()
        } else {
            name.normal()
        };
        writeln!(
            out,
            "  {name}  {:<33}  {}",
            sets.join(","),
            caps::summary(n)
        )?;
    }
    Ok(())
}
