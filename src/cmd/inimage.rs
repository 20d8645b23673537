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

    /// Change every platform's image of a multi-platform index (one new layer each;
    /// attestation manifests are left out, since they describe the old ones).
    #[arg(long, requires = "image", conflicts_with = "platform")]
    pub all_platforms: bool,

    /// Replace an existing OUT.
    #[arg(long, requires = "image")]
    pub force: bool,
}

/// What an image run works on: the image (one per platform with
/// `--all-platforms`), where the output goes, and the scratch directory beside it.
pub struct Plan {
    pub images: Vec<(Option<String>, Image)>,
    pub dest: Option<Dest>,
    pub staging: Option<Staging>,
}

/// Open the image and check where the output goes, before any layer is read.
pub fn open(args: &ImageArgs, dry_run: bool) -> anyhow::Result<Plan> {
    let Some(arg) = &args.image else {
        anyhow::bail!("no --image given");
    };
    if !dry_run && args.output.is_none() {
        anyhow::bail!(
            "--image {} needs --output OUT: the input is never modified (or --dry-run to only see what would change)",
            arg.display()
        );
    }
    let (path, tag) = crate::image::layout::split_tag(arg);
    // With --all-platforms, every platform the tag has (attestations left out: they
    // name the old manifests by digest).
    let mut platforms = vec![args.platform.clone()];
    if args.all_platforms {
        let (list, attestations) = match crate::image::layout::open(&path) {
            Ok(crate::image::layout::Opened::Image(store)) => {
                crate::image::layout::platforms(&store, tag.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", quote(arg)))?
            }
            _ => (Vec::new(), 0),
        };
        if attestations > 0 {
            error::note(&format!(
                "{attestations} attestation manifest{} of {} left out of the output: {} the input's manifests by digest, and the new ones differ",
                if attestations == 1 { "" } else { "s" },
                quote(arg),
                if attestations == 1 {
                    "it describes"
                } else {
                    "they describe"
                }
            ));
        }
        if list.len() > 1 {
            platforms = list.into_iter().map(Some).collect();
        }
    }
    let mut images = Vec::new();
    for p in platforms {
        let image = Image::open(arg, p.as_deref())?;
        if image.store().is_none() {
            anyhow::bail!(
                "{}: a single layer tar, not an image: it has no config or manifest to add a layer to",
                quote(arg)
            );
        }
        images.push((p, image));
    }
    let dest = match (&args.output, images.first().and_then(|(_, i)| i.store())) {
        (Some(o), Some(store)) if !dry_run => {
            let shape = args.format.unwrap_or_else(|| Shape::of(store));
            let d = Dest::parse(o, args.tag.as_deref(), shape, args.force)?;
            d.check(&path)?;
            Some(d)
        }
        _ => None,
    };
    let staging = dest.as_ref().map(|d| Staging::new(&d.path)).transpose()?;
    Ok(Plan {
        images,
        dest,
        staging,
    })
}

/// What a run changed in one image, to be written.
pub struct Session {
    pub found: Found,
    pub done: HashMap<Vec<u8>, write::Item>,
    pub failed: bool,
}

impl Session {
    /// Scan the image for `paths` (plus what `extra` asks the scan to keep).
    pub fn new(
        image: Image,
        staging: Option<&Staging>,
        paths: &[PathBuf],
        follow: bool,
        extra: impl Fn(&mut Want),
    ) -> anyhow::Result<Session> {
        let spool = staging.map(|s| s.dir.as_path());
        let found = write::find(image, paths, follow, spool, extra)?;
        Ok(Session {
            found,
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

    /// The new layer (none when nothing changed) and the image around it.
    fn prepare(
        &self,
        n: usize,
        dest: Option<&Dest>,
        staging: Option<&Staging>,
        created_by: &str,
    ) -> anyhow::Result<Option<(out::Prepared, Option<write::NewLayer>)>> {
        let (Some(dest), Some(staging)) = (dest, staging) else {
            return Ok(None);
        };
        let items = write::changed(&self.done);
        let layer = if items.is_empty() {
            None
        } else {
            let file = staging.dir.join(format!("layer-{n}.tar.gz"));
            Some(write::layer(&self.found, &items, &file)?)
        };
        let p = out::prepare(&self.found.tree.image, layer.as_ref(), created_by, dest)?;
        Ok(Some((p, layer)))
    }
}

/// What the scan of each image looks for: the paths (the last component followed
/// or not), and what else to keep (`--strip-setid`'s files).
pub struct Scan<'a> {
    pub paths: &'a [PathBuf],
    pub follow: bool,
    pub extra: &'a dyn Fn(&mut Want),
}

/// A run over every image of the plan: `each` changes one image's files (and
/// reports them); then, unless any failed, the output is written and summed up.
pub fn run(
    plan: Plan,
    scan: Scan<'_>,
    created_by: &str,
    json: bool,
    out: &mut dyn Write,
    mut each: impl FnMut(&mut Session, &mut dyn Write) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    let mut exit = Exit::Success;
    let several = plan.images.len() > 1;
    let mut prepared = Vec::new();
    let mut layers = Vec::new();
    let mut failed = false;
    let mut first: Option<Image> = None;
    let Plan {
        images,
        dest,
        staging,
    } = plan;
    for (n, (platform, image)) in images.into_iter().enumerate() {
        if several && !json {
            writeln!(out, "{}:", platform.as_deref().unwrap_or("?"))?;
        }
        let mut s = Session::new(image, staging.as_ref(), scan.paths, scan.follow, scan.extra)?;
        exit = exit.max(each(&mut s, out)?);
        failed |= s.failed;
        if !failed
            && let Some((p, l)) = s.prepare(n, dest.as_ref(), staging.as_ref(), created_by)?
        {
            prepared.push(p);
            layers.push(l);
        }
        if first.is_none() {
            first = Some(s.found.tree.image);
        }
    }
    if failed {
        return Ok(Exit::Error);
    }
    let (Some(dest), Some(staging), Some(image)) = (&dest, &staging, &first) else {
        return Ok(exit);
    };
    let w = out::emit(image, prepared, dest, staging)?;
    if !json {
        let tag = w.tag.map(|t| format!(" as {t:?}")).unwrap_or_default();
        let added: Vec<&write::NewLayer> = layers.iter().flatten().collect();
        let what = match (added.len(), w.platforms) {
            (0, _) => "nothing changed, so no layer was added (the same image".to_string(),
            (_, 1) => format!(
                "one new layer ({} entr{}, {}",
                added[0].entries,
                if added[0].entries == 1 { "y" } else { "ies" },
                added[0].digest
            ),
            (k, n) => format!("a new layer on {k} of {n} platforms (one per platform"),
        };
        writeln!(
            out,
            "wrote {}{tag}: {what}), {} {}",
            crate::output::escape_path(&dest.path),
            if w.platforms > 1 { "index" } else { "manifest" },
            w.manifest
        )?;
    }
    Ok(exit)
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
