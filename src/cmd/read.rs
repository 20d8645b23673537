//! `fcap read`: show file capabilities, getcap-compatible by default.
//!
//! Default lines are exactly getcap's (`/usr/bin/ping cap_net_raw=ep`), `-v` and `-n`
//! mean what they mean for getcap, `-r` walks a tree (sorted output, see [`crate::scan`]).
//! `--json` prints JSON Lines and `-l` a human view with one capability per line.

use crate::caps;
use crate::error::{self, Exit};
use crate::filecaps::FileCaps;
use crate::manifest;
use crate::output::{escape_path, shell_word};
use crate::scan::{self, Entry, Found, Pattern, Progress, WalkOpts};
use crate::tree::Tree;
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
    /// Files or (with -r) directories to read. With --image, paths inside the image
    /// (default: all of it).
    #[arg(required_unless_present = "image", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Read the files of a container image instead of the host's: a docker save
    /// tarball, an OCI layout (directory or tar) or a layer tar (plain, gzip, zstd),
    /// as IMAGE or IMAGE:TAG. Implies -r; nothing is unpacked and no root is needed.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["dereference", "one_file_system"])]
    pub image: Option<PathBuf>,

    /// With --image, the platform to pick when the image has several
    /// (OS/ARCH[/VARIANT]; default: this machine's).
    #[arg(long, value_name = "PLATFORM", requires = "image")]
    pub platform: Option<String>,

    /// Walk directories recursively (never following symlinks; output sorted by path).
    #[arg(short, long)]
    pub recursive: bool,

    /// Also list files without capabilities, like getcap -v.
    #[arg(short, long)]
    pub verbose: bool,

    /// Append " [rootid=N]" to namespaced (v3) values (getcap's -n; fcap's -n is
    /// --dry-run, for the commands that write).
    #[arg(long = "rootid")]
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
        setid: false,
    };
    let tree = match &args.image {
        Some(image) => {
            let want = crate::image::apply::Want {
                all: args.verbose,
                ..Default::default()
            };
            Tree::image(image, args.platform.as_deref(), &want)?
        }
        None => Tree::Host,
    };
    let whole = [PathBuf::from("/")];
    let paths = match (&tree, args.paths.is_empty()) {
        (Tree::Image(_), true) => &whole[..],
        _ => &args.paths[..],
    };
    for path in paths {
        if args.recursive || matches!(tree, Tree::Image(_)) {
            let mut entries = Vec::new();
            let root = if args.dereference {
                deref(path, &mut fail)
            } else {
                Some(path.clone())
            };
            let Some(root) = root else { continue };
            std::thread::scope(|s| {
                let shower = opts.progress.as_ref().map(|p| s.spawn(|| show_progress(p)));
                tree.walk(&root, &opts, &mut |e| entries.push(e), &mut fail);
                if let (Some(p), Some(h)) = (&opts.progress, shower) {
                    p.done.store(true, Ordering::Release);
                    // Wake it now rather than at its next tick.
                    h.thread().unpark();
                }
            });
            // Only the hits are sorted (and, with -v, everything listed).
            scan::sort(&mut entries);
            for e in entries {
                render(&e, &style, args.verbose, &tree, out, &mut fail)?;
            }
        } else {
            named(path, args, &style, out, &mut fail)?;
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

/// One path named on the command line, without -r. getcap's lines stay exactly
/// getcap's: only regular files are read and a symlink is not followed (unless -L),
/// so a symlink or a directory prints nothing (or "(Not a regular file)" with -v). None
/// of them ends in silence though: the getcap-style view adds a note on stderr (where
/// the link leads and what that file has, or how to read a directory), `-l` follows
/// the link and names both (`node -> /srv/app/node-22`), and `--json` prints a record
/// for every named path.
fn named(
    path: &Path,
    args: &ReadArgs,
    style: &Style,
    out: &mut dyn Write,
    fail: &mut dyn FnMut(anyhow::Error),
) -> anyhow::Result<()> {
    let lmeta = match crate::openpath::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            fail(error::io_at_path(path, &e, false));
            return Ok(());
        }
    };
    let is_link = lmeta.file_type().is_symlink();
    let follow = is_link && (args.dereference || matches!(style, Style::Long));
    // Where a symlink leads, and that file's metadata (None when it dangles or loops).
    let real = if is_link {
        std::fs::canonicalize(path)
            .and_then(|r| std::fs::metadata(&r).map(|m| (r, m)))
            .map_err(|e| error::io_at_path(path, &e, false))
    } else {
        Ok((path.to_path_buf(), lmeta.clone()))
    };
    let (read_path, meta) = match real {
        Ok(r) => r,
        Err(e) if follow => {
            fail(e);
            return Ok(());
        }
        // A dangling or looping link: the link itself is what there is to report.
        Err(_) => (path.to_path_buf(), lmeta),
    };
    let found = |p: &Path| {
        if meta.is_file() {
            scan::read_caps(p)
        } else {
            Found::NotRegular
        }
    };
    let shown = escape_path(path);
    if let Style::Long = style {
        let shown = if follow {
            format!("{shown} -> {}", escape_path(&read_path))
        } else {
            shown
        };
        match found(&read_path) {
            Found::File(Some(c)) => long(&shown, &c, out)?,
            Found::File(None) => writeln!(out, "{}  {}", shown.bold(), "no capabilities".dimmed())?,
            Found::Unreadable(e) => fail(e),
            Found::NotRegular if meta.is_dir() => writeln!(
                out,
                "{}  a directory: 'fcap read -r -l {}' reads the files in it",
                shown.bold(),
                shell_word(path)
            )?,
            Found::NotRegular => {
                writeln!(out, "{}  not a regular file: no capabilities", shown.bold())?
            }
        }
        return Ok(());
    }
    let entry = Entry {
        path: path.to_path_buf(),
        found: if follow || !is_link {
            found(&read_path)
        } else {
            Found::NotRegular
        },
        layer: None,
        meta: None,
    };
    if let Style::Json = style {
        // A dangling link's target is its text; a live one's the file it leads to.
        let target = match (is_link, read_path == path) {
            (false, _) => None,
            (true, false) => Some(escape_path(&read_path)),
            (true, true) => std::fs::read_link(path).ok().map(|t| escape_path(&t)),
        };
        match &entry.found {
            Found::Unreadable(_) => render(&entry, style, args.verbose, &Tree::Host, out, fail)?,
            Found::File(c) => writeln!(out, "{}", json_line(&shown, c.as_ref(), true, None))?,
            Found::NotRegular => {
                writeln!(out, "{}", json_line(&shown, None, false, target.as_deref()))?
            }
        }
        return Ok(());
    }
    render(&entry, style, args.verbose, &Tree::Host, out, fail)?;
    if is_link && !follow {
        out.flush()?;
        if read_path == path {
            // Dangling or looping: there is nothing to read.
            let to = std::fs::read_link(path)
                .map(|t| format!(" to {}", error::quote(&t)))
                .unwrap_or_default();
            error::note(&format!(
                "{} is a symlink{to} that leads to no file",
                error::quote(path)
            ));
        } else {
            let has = match found(&read_path) {
                Found::File(Some(c)) => format!("which has {c}"),
                Found::File(None) => "which has no capabilities".to_string(),
                Found::NotRegular => "which is not a regular file".to_string(),
                Found::Unreadable(_) => "whose capabilities cannot be read".to_string(),
            };
            error::note(&format!(
                "{} is a symlink to {}, {has}; like getcap, read does not follow it: 'fcap read -L {}' reads the file it points to",
                error::quote(path),
                error::quote(&read_path),
                shell_word(path)
            ));
        }
    } else if meta.is_dir() {
        out.flush()?;
        error::note(&format!(
            "{} is a directory: 'fcap read -r {}' reads the files in it",
            error::quote(path),
            shell_word(path)
        ));
    }
    Ok(())
}

fn render(
    e: &Entry,
    style: &Style,
    verbose: bool,
    tree: &Tree,
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
                    Style::Json => writeln!(
                        out,
                        "{}",
                        with_layer(json_line(&path, None, false, None), e, tree)
                    )?,
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
        (Style::Json, c) => writeln!(
            out,
            "{}",
            with_layer(json_line(&path, c.as_ref(), true, None), e, tree)
        )?,
        (Style::Long, Some(c)) => long(&path, c, out)?,
    }
    Ok(())
}

/// For a file of an image, the layer that wrote it: its index in the manifest, its
/// digest, and the `created_by` of its history entry (the Dockerfile line).
fn with_layer(mut v: serde_json::Value, e: &Entry, tree: &Tree) -> serde_json::Value {
    if let (Tree::Image(t), Some(i)) = (tree, e.layer)
        && let Some(l) = t.image.resolved.layers.get(i)
    {
        v["layer"] = serde_json::json!({
            "index": i,
            "digest": l.digest,
            "created_by": l.created_by,
        });
    } else if let Tree::Image(_) = tree {
        // A directory no layer has an entry for (-v): unpacking made it.
        v["layer"] = serde_json::Value::Null;
    }
    v
}

/// The JSON Lines object for one file. Every record has every field: `caps` is null
/// for a file without capabilities and for an entry that is not a regular file
/// (`regular: false`); `target` is where a symlink named on the command line leads
/// (null otherwise).
pub fn json_line(
    path: &str,
    c: Option<&FileCaps>,
    regular: bool,
    target: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "caps": c.map(FileCaps::to_text),
        "permitted": c.map(|c| c.permitted.names()).unwrap_or_default(),
        "inheritable": c.map(|c| c.inheritable.names()).unwrap_or_default(),
        "effective": c.is_some_and(|c| c.effective),
        "version": c.map(|c| c.revision),
        "rootid": c.and_then(|c| c.rootid),
        "regular": regular,
        "target": target,
    })
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
