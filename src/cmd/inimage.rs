//! The `--image IN --output OUT` side of the write commands: the same per-file
//! rules and lines as on the host ([`super::set::write_each`] hands its `compute`
//! and its report here), applied to files inside an image, and the result written
//! as a new image with one more layer ([`crate::image::write`], [`crate::image::out`]).

use crate::error::{self, Exit, quote};
use crate::filecaps::FileCaps;
use crate::image::Image;
use crate::image::apply::Want;
use crate::image::out::{self, Dest, Shape, Staging};
use crate::image::write::{self, Found};
use crate::write::{Change, Current};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the files are, when they are in an image.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Image options")]
pub struct ImageArgs {
    /// Change the files inside this image instead of on the host: an OCI layout
    /// (DIR[:TAG]), an oci-archive or a docker save tar. Paths are resolved inside
    /// it; the input is never modified.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<PathBuf>,

    /// Where the new image goes (a file, DIR or DIR:TAG; DIR:TAG may be the input's
    /// own layout, which then gets one more tag). Needed with --image unless --dry-run.
    #[arg(short = 'o', long, value_name = "OUT", requires = "image")]
    pub output: Option<PathBuf>,

    /// The output's shape (default: the input's).
    #[arg(long, value_enum, value_name = "SHAPE", requires = "image")]
    pub format: Option<Shape>,

    /// Name the result (a docker save's name:tag, an OCI layout's ref name).
    #[arg(long, value_name = "NAME", requires = "image")]
    pub tag: Option<String>,

    /// Which image of a multi-platform index (OS/ARCH[/VARIANT]).
    #[arg(long, value_name = "PLATFORM", requires = "image")]
    pub platform: Option<String>,

    /// Replace an existing OUT.
    #[arg(long, requires = "image")]
    pub force: bool,
}

/// Open the image and check where the output goes, before any layer is read.
pub fn open(args: &ImageArgs, dry_run: bool) -> anyhow::Result<(Image, Option<Dest>)> {
    let Some(arg) = &args.image else {
        anyhow::bail!("no --image given");
    };
    if !dry_run && args.output.is_none() {
        anyhow::bail!(
            "--image {} needs --output OUT: the input is never modified (or --dry-run to only see what would change)",
            arg.display()
        );
    }
    let image = Image::open(arg, args.platform.as_deref())?;
    let Some(store) = image.store() else {
        anyhow::bail!(
            "{}: a single layer tar, not an image: it has no config or manifest to add a layer to",
            quote(arg)
        );
    };
    let dest = match &args.output {
        Some(o) if !dry_run => {
            let shape = args.format.unwrap_or_else(|| Shape::of(store));
            let d = Dest::parse(o, args.tag.as_deref(), shape, args.force)?;
            d.check(&crate::image::layout::split_tag(arg).0)?;
            Some(d)
        }
        _ => None,
    };
    Ok((image, dest))
}

/// What a run changed, to be written.
pub struct Session {
    pub found: Found,
    /// Beside the output: the scan's copies of the targets' data, the new layer.
    staging: Option<Staging>,
    pub done: HashMap<Vec<u8>, write::Item>,
    pub failed: bool,
}

impl Session {
    /// Scan the image for `paths` (plus what `extra` asks the scan to keep).
    pub fn new(
        image: Image,
        dest: Option<&Dest>,
        paths: &[PathBuf],
        follow: bool,
        extra: impl Fn(&mut Want),
    ) -> anyhow::Result<Session> {
        let staging = dest.map(|d| Staging::new(&d.path)).transpose()?;
        let spool = staging.as_ref().map(|s| s.dir.as_path());
        let found = write::find(image, paths, follow, spool, extra)?;
        Ok(Session {
            found,
            staging,
            done: HashMap::new(),
            failed: false,
        })
    }

    /// The change for path number `i` (as given), or its error.
    pub fn change(
        &mut self,
        i: usize,
        given: &Path,
        compute: impl FnOnce(&Current) -> anyhow::Result<Option<FileCaps>>,
    ) -> anyhow::Result<Change> {
        let real = match &self.found.targets[i] {
            Ok((_, real)) => real.clone(),
            Err(e) => return Err(anyhow::anyhow!("{e:#}")),
        };
        self.found.change(given, &real, &mut self.done, compute)
    }

    /// Write the output (unless nothing may be written), and say what happened.
    pub fn finish(
        self,
        dest: Option<&Dest>,
        created_by: &str,
        json: bool,
        out: &mut dyn Write,
    ) -> anyhow::Result<Exit> {
        if self.failed {
            return Ok(Exit::Error);
        }
        let (Some(dest), Some(staging)) = (dest, &self.staging) else {
            return Ok(Exit::Success);
        };
        let items = write::changed(&self.done);
        let layer = if items.is_empty() {
            None
        } else {
            let file = staging.dir.join("layer.tar.gz");
            Some(write::layer(&self.found, &items, &file)?)
        };
        let w = out::write(
            &self.found.tree.image,
            layer.as_ref(),
            created_by,
            dest,
            staging,
        )?;
        if !json {
            let tag = w.tag.map(|t| format!(" as {t:?}")).unwrap_or_default();
            match &layer {
                Some(l) => writeln!(
                    out,
                    "wrote {}{tag}: one new layer ({} entr{}, {}), manifest {}",
                    crate::output::escape_path(&dest.path),
                    l.entries,
                    if l.entries == 1 { "y" } else { "ies" },
                    l.digest,
                    w.manifest
                )?,
                None => writeln!(
                    out,
                    "wrote {}{tag}: nothing changed, so no layer was added (the same image, manifest {})",
                    crate::output::escape_path(&dest.path),
                    w.manifest
                )?,
            }
        }
        Ok(Exit::Success)
    }
}

/// An error about one path of an image run, saying that the output was not written
/// (an image gets every change asked for or none).
pub fn unwritten(e: anyhow::Error, args: &ImageArgs) -> anyhow::Error {
    match &args.output {
        Some(o) => anyhow::anyhow!("{e:#}; {} was not written", quote(o)),
        None => e,
    }
}

/// Warn once that a v3 value (a rootid) in an image grants nothing outside a user
/// namespace whose root is that uid.
pub fn warn_rootid(rootid: Option<u32>) {
    if let Some(r) = rootid {
        error::warn(&format!(
            "--rootid {r} writes a v3 value: in a container it grants nothing unless the container runs in a user namespace whose root is uid {r} on the host; without --rootid fcap writes v2, which works in every container"
        ));
    }
}
