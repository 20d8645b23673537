//! `fcap check`: compare files with manifests; exit 1 on any drift.
//!
//! One line per difference, nothing when everything matches:
//!
//! ```text
//! missing /usr/bin/tool (manifest: cap_net_raw=ep)
//! different /usr/bin/ping none (manifest: cap_net_raw=ep)
//! unexpected /usr/local/bin/new cap_sys_admin=ep
//! ```
//!
//! `unexpected` needs `--root DIR`: a file under DIR that carries capabilities but is
//! not listed. Listed files are recognised by device and inode, so `--root .` and a
//! manifest of absolute paths (or `/bin` and `/usr/bin` on a merged-usr system) agree.

use crate::error::{self, Exit};
use crate::filecaps::FileCaps;
use crate::manifest::{self, Entry};
use crate::output::escape_path;
use crate::scan::{self, Found, Pattern, WalkOpts};
use crate::tree::Tree;
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Compare files with manifests; exit 1 on any drift.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every listed file carries exactly its \
listed capabilities (and, with --root, nothing else under DIR carries any), 1 on any \
difference, 2 on an error."
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sources: super::ManifestSources,

    /// Also scan DIR (repeatable) and report files with capabilities that no manifest
    /// lists: the CI gate "no new privileged binaries".
    #[arg(long, value_name = "DIR")]
    pub root: Vec<PathBuf>,

    /// With --root, do not descend into other filesystems.
    #[arg(short = 'x', long, requires = "root")]
    pub one_file_system: bool,

    /// With --root, leave out entries matching this glob (as for 'fcap read -r').
    #[arg(long, value_name = "PATTERN", requires = "root")]
    pub exclude: Vec<OsString>,

    /// Check the files of a container image instead of the host's (see 'fcap read
    /// --image'); --root then names directories inside the image.
    #[arg(long, value_name = "IMAGE", conflicts_with = "one_file_system")]
    pub image: Option<PathBuf>,

    /// With --image, the platform to pick when the image has several.
    #[arg(long, value_name = "PLATFORM", requires = "image")]
    pub platform: Option<String>,

    /// Print JSON Lines: one object per difference.
    #[arg(long)]
    pub json: bool,

    /// Accept manifests that list nothing (without --root, such a check passes
    /// whatever the files carry, so it is an error unless asked for).
    #[arg(long)]
    pub allow_empty: bool,
}

/// One difference.
enum Drift<'a> {
    Missing(&'a Entry),
    Different(&'a Entry, Option<FileCaps>),
    Unexpected(PathBuf, FileCaps),
}

/// Run `fcap check`.
pub fn run(args: &CheckArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let mut errors = false;
    let mut fail = |e: anyhow::Error| {
        error::print(&e);
        errors = true;
    };
    let files = args.sources.files()?;
    let mut load_failed = false;
    let entries = manifest::load_all(&files, &mut |e| {
        load_failed = true;
        fail(e)
    });
    // A CI gate that reads no line passes on any system: a missing or mistyped
    // directory must not look like success. With --root the scan still checks
    // something ("nothing here may carry capabilities").
    if entries.is_empty() && !load_failed && args.root.is_empty() && !args.allow_empty {
        anyhow::bail!(
            "nothing to check: no manifest line in {}; such a check passes whatever the files carry (pass --allow-empty if that is intended)",
            args.sources.describe(&files)
        );
    }
    let tree = match &args.image {
        Some(image) => {
            let want = crate::image::apply::Want {
                paths: entries
                    .iter()
                    .filter_map(|e| crate::image::apply::clean(e.path.as_os_str().as_bytes()).ok())
                    .collect(),
                ..Default::default()
            };
            Tree::image(image, args.platform.as_deref(), &want)?
        }
        None => Tree::Host,
    };
    let mut drift = false;
    // (device, inode) of every listed file that exists, for --root.
    let mut listed: HashSet<(u64, u64)> = HashSet::new();
    for e in &entries {
        let meta = match tree.stat(&e.path) {
            Ok(m) => m,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                drift = true;
                print(&Drift::Missing(e), args.json, out)?;
                continue;
            }
            Err(err) => {
                fail(anyhow::anyhow!(
                    "{:#} (listed at {})",
                    error::io_at_path(&e.path, &err, false),
                    e.source
                ));
                continue;
            }
        };
        listed.insert(meta.id);
        // A symlink, directory or device never carries capabilities the kernel uses:
        // reading its attribute finds none, which is drift unless "none" is listed.
        let actual = if meta.is_file {
            match tree.read_caps(&e.path) {
                Found::File(c) => c,
                Found::Unreadable(err) => {
                    fail(anyhow::anyhow!("{err:#} (listed at {})", e.source));
                    continue;
                }
                Found::NotRegular => None,
            }
        } else {
            None
        };
        if !manifest::same(e.caps.as_ref(), actual.as_ref()) {
            drift = true;
            print(&Drift::Different(e, actual), args.json, out)?;
        }
    }
    let opts = WalkOpts {
        one_file_system: args.one_file_system,
        exclude: args.exclude.iter().map(|p| Pattern::new(p)).collect(),
        ..WalkOpts::default()
    };
    for root in &args.root {
        let mut hits = Vec::new();
        tree.walk(root, &opts, &mut |e| hits.push(e), &mut fail);
        scan::sort(&mut hits);
        for hit in hits {
            match hit.found {
                Found::File(Some(c)) => {
                    let known = tree.stat(&hit.path).is_ok_and(|m| listed.contains(&m.id));
                    if !known {
                        drift = true;
                        print(&Drift::Unexpected(hit.path, c), args.json, out)?;
                    }
                }
                Found::Unreadable(err) => fail(err),
                Found::File(None) | Found::NotRegular => {}
            }
        }
    }
    Ok(if errors {
        Exit::Error
    } else if drift {
        Exit::Negative
    } else {
        Exit::Success
    })
}

/// A value as a manifest line spells it: with its rootid, so two values that differ
/// only there do not print the same.
fn text(c: Option<&FileCaps>) -> String {
    match c {
        None => "none".to_string(),
        Some(c) => {
            let line = manifest::line(Path::new(""), c);
            line.trim_start().to_string()
        }
    }
}

fn print(d: &Drift, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        let v = match d {
            Drift::Missing(e) => obj("missing", &e.path, e.caps.as_ref(), None, Some(e)),
            Drift::Different(e, a) => {
                obj("different", &e.path, e.caps.as_ref(), a.as_ref(), Some(e))
            }
            Drift::Unexpected(p, a) => obj("unexpected", p, None, Some(a), None),
        };
        writeln!(out, "{v}")?;
        return Ok(());
    }
    match d {
        Drift::Missing(e) => writeln!(
            out,
            "missing {} (manifest: {})",
            escape_path(&e.path),
            text(e.caps.as_ref())
        )?,
        Drift::Different(e, a) => writeln!(
            out,
            "different {} {} (manifest: {})",
            escape_path(&e.path),
            text(a.as_ref()),
            text(e.caps.as_ref())
        )?,
        // The tail is a manifest line: append it to accept the file.
        Drift::Unexpected(p, a) => writeln!(out, "unexpected {}", manifest::line(p, a))?,
    }
    Ok(())
}

fn obj(
    status: &str,
    path: &Path,
    expected: Option<&FileCaps>,
    actual: Option<&FileCaps>,
    e: Option<&Entry>,
) -> serde_json::Value {
    serde_json::json!({
        "status": status,
        "path": escape_path(path),
        "expected": expected.map(FileCaps::to_text),
        "actual": actual.map(FileCaps::to_text),
        "manifest": e.map(|e| escape_path(&e.source.file)),
        "line": e.map(|e| e.source.line),
    })
}
