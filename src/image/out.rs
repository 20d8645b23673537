//! Writing the changed image: the config gets the new layer's diff_id and one
//! history entry, the manifest the layer and the new config, the index the new
//! manifest; every digest and size above the new blob is computed again.
//!
//! Documents are edited as generic JSON, so fields fcap does not know (BuildKit's
//! build info, `container_config`, annotations) are kept. The output appears whole
//! or not at all: it is built beside its final place and renamed into it; the input
//! is only read (a new tag in the input's own layout adds blobs and then replaces
//! `index.json` by a rename).
//!
//! Shapes: an OCI layout directory, an `oci-archive` tar, and a `docker save` tar
//! in Docker 25's shape (an OCI layout plus `manifest.json`; Docker's loader reads
//! the latter, containerd's importer the former, and both name the same blobs),
//! which `docker load` and `podman load` accept whichever shape the input had.

use super::layout::{self, Bytes, Store};
use super::write::{self, NewLayer};
use super::{Compression, Image};
use crate::error::quote;
use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The output's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// An OCI image layout directory (`DIR` or `DIR:TAG`).
    Oci,
    /// An OCI layout in a tar file (`skopeo`'s oci-archive).
    OciArchive,
    /// A `docker save` tar (Docker 25's shape: `docker load` and `podman load` take it).
    DockerArchive,
}

impl Shape {
    /// The shape of the input.
    pub fn of(store: &Store) -> Shape {
        match store {
            Store::Dir(_) => Shape::Oci,
            Store::Archive { .. } if store.locate("manifest.json").is_some() => {
                Shape::DockerArchive
            }
            Store::Archive { .. } => Shape::OciArchive,
        }
    }
}

/// Where the result goes.
pub struct Dest {
    /// The file or directory.
    pub path: PathBuf,
    /// The name to give it (a `DIR:TAG` tag, or `--tag`).
    pub tag: Option<String>,
    pub shape: Shape,
    pub force: bool,
}

impl Dest {
    /// `OUT` (or `DIR:TAG` for a directory), checked before any work: an existing
    /// output is refused unless `force` (or it is the input's own layout, which
    /// gets a new tag).
    pub fn parse(out: &Path, tag: Option<&str>, shape: Shape, force: bool) -> anyhow::Result<Dest> {
        let (path, dir_tag) = if shape == Shape::Oci {
            split_dir_tag(out)
        } else {
            (out.to_path_buf(), None)
        };
        let d = Dest {
            path,
            tag: tag.map(str::to_string).or(dir_tag),
            shape,
            force,
        };
        Ok(d)
    }

    /// True when this writes a new tag into the layout `input` (a directory).
    pub fn same_layout(&self, input: &Path) -> bool {
        self.shape == Shape::Oci
            && match (
                std::fs::canonicalize(&self.path),
                std::fs::canonicalize(input),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
    }

    /// Refuse an existing output (before any work is done).
    pub fn check(&self, input: &Path) -> anyhow::Result<()> {
        if self.same_layout(input) {
            if self.tag.is_none() {
                bail!(
                    "{}: the output is the input's own layout: name the new tag (--output {}:TAG or --tag); the input's images are never changed",
                    quote(&self.path),
                    self.path.display()
                );
            }
            return Ok(());
        }
        if let (Ok(a), Ok(b)) = (
            std::fs::canonicalize(&self.path),
            std::fs::canonicalize(input),
        ) && a == b
        {
            bail!(
                "{}: the output is the input, which fcap never modifies; write the new image elsewhere",
                quote(&self.path)
            );
        }
        if std::fs::symlink_metadata(&self.path).is_ok() && !self.force {
            bail!(
                "{}: already exists; fcap does not replace it without --force",
                quote(&self.path)
            );
        }
        let parent = parent_of(&self.path);
        if !parent.is_dir() {
            bail!(
                "{}: its directory {} does not exist",
                quote(&self.path),
                quote(&parent)
            );
        }
        Ok(())
    }
}

/// `DIR:TAG` → (DIR, TAG) when the part after the last ':' is a tag (no '/').
fn split_dir_tag(out: &Path) -> (PathBuf, Option<String>) {
    let s = out.as_os_str().to_string_lossy();
    if std::fs::symlink_metadata(out).is_ok() {
        return (out.to_path_buf(), None);
    }
    match s.rsplit_once(':') {
        Some((p, t)) if !p.is_empty() && !t.is_empty() && !t.contains('/') => {
            (PathBuf::from(p), Some(t.to_string()))
        }
        _ => (out.to_path_buf(), None),
    }
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A scratch directory beside the output, removed unless kept.
pub struct Staging {
    pub dir: PathBuf,
    keep: bool,
}

impl Staging {
    pub fn new(dest: &Path) -> anyhow::Result<Staging> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let dir = parent_of(dest).join(format!(".{name}.fcap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|e| crate::error::io_at_path(&dir, &e, true))?;
        Ok(Staging { dir, keep: false })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One blob of the output: where its bytes are, its digest and size.
struct Blob {
    digest: String,
    size: u64,
    from: From,
}

enum From {
    /// A blob of the input.
    Input(Bytes),
    /// A file written by this run.
    File(PathBuf),
    /// Small bytes (a JSON document).
    Mem(Vec<u8>),
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", layout::hex(&Sha256::digest(b)))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The time written into history: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds' convention), else the base image's own `created`, never "now".
fn created(config: &Value) -> Option<String> {
    if let Some(s) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return Some(rfc3339(s));
    }
    config
        .get("created")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What was written, for the summary line.
pub struct Written {
    pub manifest: String,
    pub tag: Option<String>,
    /// How many platforms' images.
    pub platforms: usize,
}

/// The image with `new` appended (or, with no layer, the image as it was): its
/// config, manifest and descriptor, written for `dest` by [`emit`].
pub fn prepare(
    image: &Image,
    new: Option<&NewLayer>,
    created_by: &str,
    dest: &Dest,
) -> anyhow::Result<Prepared> {
    let store = image
        .store()
        .ok_or_else(|| anyhow!("{}: not an image", quote(&image.name)))?;
    let src = &image.resolved.source;
    let mut blobs: Vec<Blob> = Vec::new();
    // The base layers' descriptors: from the OCI manifest, or made from the blobs
    // of a legacy `docker save` (named by diff_id, maybe compressed).
    let layers: Vec<Value> = match &src.manifest {
        Some(m) => m
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        None => image
            .resolved
            .layers
            .iter()
            .map(|l| legacy_descriptor(store, l))
            .collect::<anyhow::Result<_>>()?,
    };
    for (l, d) in image.resolved.layers.iter().zip(&layers) {
        blobs.push(Blob {
            digest: d
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            size: d.get("size").and_then(Value::as_u64).unwrap_or(0),
            from: From::Input(l.bytes.clone()),
        });
    }
    let docker_family = src
        .manifest
        .as_ref()
        .and_then(|m| m.get("mediaType"))
        .and_then(Value::as_str)
        == Some(DOCKER_MANIFEST);
    let mut config = src.config.clone();
    let mut layers = layers;
    if let Some(n) = new {
        let rootfs = config
            .as_object_mut()
            .ok_or_else(|| anyhow!("{}: the config is not a JSON object", quote(&image.name)))?
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        match rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            Some(a) => a.push(n.diff_id.clone().into()),
            None => rootfs["diff_ids"] = json!([n.diff_id]),
        }
        let when = created(&config);
        // A base without history gets none: one entry for n layers would make the
        // counts disagree the other way (image-write notes §1.1).
        if let Some(h) = config
            .get_mut("history")
            .and_then(Value::as_array_mut)
            .filter(|h| !h.is_empty())
        {
            let mut e = json!({"created_by": created_by, "comment": "fcap"});
            if let Some(w) = &when {
                e["created"] = w.clone().into();
            }
            h.push(e);
        }
        if std::env::var_os("SOURCE_DATE_EPOCH").is_some()
            && let Some(w) = when
        {
            config["created"] = w.into();
        }
        let media = if docker_family {
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        } else {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        };
        layers.push(json!({"mediaType": media, "digest": n.digest, "size": n.size}));
        blobs.push(Blob {
            digest: n.digest.clone(),
            size: n.size,
            from: From::File(n.file.clone()),
        });
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = sha(&config_bytes);
    let mut manifest = match &src.manifest {
        Some(m) => m.clone(),
        None => json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG},
        }),
    };
    manifest["config"]["digest"] = config_digest.clone().into();
    manifest["config"]["size"] = (config_bytes.len() as u64).into();
    manifest["layers"] = Value::Array(layers.clone());
    blobs.push(Blob {
        digest: config_digest.clone(),
        size: config_bytes.len() as u64,
        from: From::Mem(config_bytes),
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let manifest_digest = sha(&manifest_bytes);
    let manifest_media = manifest
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(OCI_MANIFEST)
        .to_string();
    blobs.push(Blob {
        digest: manifest_digest.clone(),
        size: manifest_bytes.len() as u64,
        from: From::Mem(manifest_bytes),
    });
    // The descriptor: the input's (platform and annotations kept) with the new
    // digest, or one made from the config.
    let mut desc = src.descriptor.clone().unwrap_or_else(|| json!({}));
    desc["mediaType"] = manifest_media.into();
    desc["digest"] = manifest_digest.clone().into();
    desc["size"] = (blobs.last().map_or(0, |b| b.size)).into();
    if desc.get("platform").is_none()
        && let (Some(os), Some(arch)) = (
            config.get("os").and_then(Value::as_str),
            config.get("architecture").and_then(Value::as_str),
        )
    {
        let mut p = json!({"os": os, "architecture": arch});
        if let Some(v) = config.get("variant").and_then(Value::as_str) {
            p["variant"] = v.into();
        }
        desc["platform"] = p;
    }
    // The input's names go; the output's are set below.
    if let Some(a) = desc.get_mut("annotations").and_then(Value::as_object_mut) {
        a.remove("io.containerd.image.name");
        a.remove("org.opencontainers.image.ref.name");
        if a.is_empty() {
            desc.as_object_mut().map(|o| o.remove("annotations"));
        }
    }
    let old_tag = src
        .descriptor
        .as_ref()
        .and_then(|d| d.get("annotations"))
        .and_then(|a| a.get("org.opencontainers.image.ref.name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| src.tags.first().cloned());
    let tag = dest.tag.clone().or(old_tag);
    let repo_tags: Vec<String> = match (&dest.tag, &src.docker_entry) {
        (Some(t), _) => vec![docker_ref(t)],
        (None, Some(e)) => layout::repo_tags(e),
        (None, None) => tag
            .iter()
            .filter(|t| t.contains(':') || t.contains('/'))
            .map(|t| docker_ref(t))
            .collect(),
    };
    let mut annotations = serde_json::Map::new();
    match dest.shape {
        Shape::DockerArchive => {
            if let Some(r) = repo_tags.first() {
                let full = full_name(r);
                let short = r.rsplit_once(':').map_or("latest", |(_, t)| t).to_string();
                annotations.insert("io.containerd.image.name".into(), full.into());
                annotations.insert("org.opencontainers.image.ref.name".into(), short.into());
            }
        }
        _ => {
            if let Some(t) = &tag {
                annotations.insert("org.opencontainers.image.ref.name".into(), t.clone().into());
            }
        }
    }
    if !annotations.is_empty() {
        let a = desc
            .as_object_mut()
            .ok_or_else(|| anyhow!("a descriptor that is not an object"))?
            .entry("annotations")
            .or_insert_with(|| json!({}));
        if let Some(o) = a.as_object_mut() {
            o.extend(annotations);
        }
    }
    Ok(Prepared {
        blobs,
        desc,
        config_digest,
        layers,
        repo_tags,
        tag,
        manifest: manifest_digest,
    })
}

/// Write the prepared images (one per platform) to `dest`: one image as the
/// index's entry, several behind a new nested index that the tag names.
pub fn emit(
    image: &Image,
    all: Vec<Prepared>,
    dest: &Dest,
    staging: &Staging,
) -> anyhow::Result<Written> {
    let store = image
        .store()
        .ok_or_else(|| anyhow!("{}: not an image", quote(&image.name)))?;
    let Some(first) = all.first() else {
        bail!("{}: no image to write", quote(&image.name));
    };
    let written = Written {
        manifest: first.manifest.clone(),
        tag: first.tag.clone(),
        platforms: all.len(),
    };
    let mut blobs: Vec<Blob> = Vec::new();
    let desc = if all.len() == 1 {
        first.desc.clone()
    } else {
        // The names go on the new index; its entries keep platform and the rest.
        let names = first.desc.get("annotations").cloned();
        let children: Vec<Value> = all
            .iter()
            .map(|p| {
                let mut d = p.desc.clone();
                if let Some(a) = d.get_mut("annotations").and_then(Value::as_object_mut) {
                    a.remove("io.containerd.image.name");
                    a.remove("org.opencontainers.image.ref.name");
                    if a.is_empty() {
                        d.as_object_mut().map(|o| o.remove("annotations"));
                    }
                }
                d
            })
            .collect();
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": children,
        }))?;
        let mut d = json!({"mediaType": OCI_INDEX, "digest": sha(&bytes), "size": bytes.len()});
        if let Some(n) = names {
            d["annotations"] = n;
        }
        blobs.push(Blob {
            digest: sha(&bytes),
            size: bytes.len() as u64,
            from: From::Mem(bytes),
        });
        d
    };
    let manifest_json = if dest.shape == Shape::DockerArchive {
        if all.len() > 1 {
            bail!(
                "{}: a docker save archive holds one image per name, and this is {} platforms: write an OCI layout or oci-archive (--format), or pick one with --platform",
                quote(&dest.path),
                all.len()
            );
        }
        Some(serde_json::to_vec(&json!([{
            "Config": format!("blobs/sha256/{}", hex_of(&first.config_digest)),
            "RepoTags": first.repo_tags,
            "Layers": first.layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", hex_of(l.get("digest").and_then(Value::as_str).unwrap_or_default())))
                .collect::<Vec<_>>(),
        }]))?)
    } else {
        None
    };
    for p in all {
        blobs.extend(p.blobs);
    }
    if dest.same_layout(&image.name_path()) {
        add_tag(store, &blobs, &desc, dest, staging)?;
        return Ok(written);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [desc],
    });
    let index_bytes = serde_json::to_vec(&index)?;
    let layout_bytes = br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec();
    let mut top: Vec<(&str, Vec<u8>)> =
        vec![("oci-layout", layout_bytes), ("index.json", index_bytes)];
    if let Some(m) = manifest_json {
        top.push(("manifest.json", m));
    }
    match dest.shape {
        Shape::Oci => write_dir(store, &blobs, &top, dest, staging)?,
        _ => write_archive(store, &blobs, &top, dest, staging)?,
    }
    Ok(written)
}

/// One image ready to be written: its new blobs (and the input blobs it keeps),
/// and the descriptor of its manifest.
pub struct Prepared {
    blobs: Vec<Blob>,
    desc: Value,
    config_digest: String,
    layers: Vec<Value>,
    repo_tags: Vec<String>,
    tag: Option<String>,
    manifest: String,
}

impl Image {
    /// The image's path without a `:TAG`.
    fn name_path(&self) -> PathBuf {
        layout::split_tag(&self.name).0
    }
}

/// `name[:tag]` as Docker's RepoTags want it (`name:latest` when untagged).
fn docker_ref(t: &str) -> String {
    let last = t.rsplit('/').next().unwrap_or(t);
    if last.contains(':') {
        t.to_string()
    } else {
        format!("{t}:latest")
    }
}

/// The full reference containerd and Docker 25 write (`docker.io/library/x:t`).
fn full_name(r: &str) -> String {
    let first = r.split('/').next().unwrap_or(r);
    let has_host =
        r.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        r.to_string()
    } else if r.contains('/') {
        format!("docker.io/{r}")
    } else {
        format!("docker.io/library/{r}")
    }
}

/// A descriptor for a legacy `docker save` layer: its stored bytes' digest (the
/// diff_id when it is not compressed) and size.
fn legacy_descriptor(store: &Store, l: &layout::Layer) -> anyhow::Result<Value> {
    let mut r = store
        .open(&l.bytes)
        .with_context(|| format!("{}: cannot open it", l.label))?;
    let mut magic = [0u8; 4];
    let n = read_full(&mut r, &mut magic)?;
    let comp = Compression::sniff(&magic[..n]);
    let (digest, size) = match (comp, l.expected) {
        (Compression::None, Some((h, layout::HashOf::Uncompressed))) => (
            format!("sha256:{}", layout::hex(&h)),
            blob_len(store, &l.bytes)?,
        ),
        _ => {
            let mut h = Sha256::new();
            h.update(&magic[..n]);
            let mut total = n as u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let k = r.read(&mut buf)?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
                total += k as u64;
            }
            (format!("sha256:{}", layout::hex(&h.finalize())), total)
        }
    };
    let media = match comp {
        Compression::None => "application/vnd.oci.image.layer.v1.tar",
        Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    };
    Ok(json!({"mediaType": media, "digest": digest, "size": size}))
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn blob_len(_store: &Store, b: &Bytes) -> anyhow::Result<u64> {
    Ok(match b {
        Bytes::Range { len, .. } => *len,
        Bytes::File(p) => std::fs::metadata(p)?.len(),
    })
}

/// Copy a blob's bytes to `w`.
fn copy_blob(store: &Store, b: &Blob, w: &mut dyn Write) -> anyhow::Result<u64> {
    Ok(match &b.from {
        From::Input(bytes) => io::copy(&mut store.open(bytes)?, w)?,
        From::File(p) => io::copy(&mut std::fs::File::open(p)?, w)?,
        From::Mem(v) => {
            w.write_all(v)?;
            v.len() as u64
        }
    })
}

/// Put a blob into `dir/blobs/sha256/` (a file of this run is moved, not copied).
fn place_blob(store: &Store, b: &Blob, blobs: &Path) -> anyhow::Result<()> {
    let to = blobs.join(hex_of(&b.digest));
    if to.exists() {
        return Ok(());
    }
    let tmp = blobs.join(format!(
        ".{}.fcap-{}",
        hex_of(&b.digest),
        std::process::id()
    ));
    match &b.from {
        From::File(p) => std::fs::rename(p, &tmp)
            .or_else(|_| std::fs::copy(p, &tmp).map(|_| ()))
            .map_err(|e| crate::error::io_at_path(&tmp, &e, true))?,
        From::Input(Bytes::File(p)) => {
            std::fs::copy(p, &tmp).map_err(|e| crate::error::io_at_path(&tmp, &e, true))?;
        }
        _ => {
            let mut f = std::fs::File::create(&tmp)
                .map_err(|e| crate::error::io_at_path(&tmp, &e, true))?;
            copy_blob(store, b, &mut f).map_err(|e| anyhow!("{}: {e:#}", quote(&tmp)))?;
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, &to).map_err(|e| crate::error::io_at_path(&to, &e, true))?;
    Ok(())
}

fn write_file(p: &Path, data: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::File::create(p).map_err(|e| crate::error::io_at_path(p, &e, true))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| crate::error::io_at_path(p, &e, true))
}

/// A new OCI layout directory: built in the staging directory, then renamed.
fn write_dir(
    store: &Store,
    blobs: &[Blob],
    top: &[(&str, Vec<u8>)],
    dest: &Dest,
    staging: &Staging,
) -> anyhow::Result<()> {
    let root = staging.dir.join("layout");
    let bdir = root.join("blobs/sha256");
    std::fs::create_dir_all(&bdir).map_err(|e| crate::error::io_at_path(&bdir, &e, true))?;
    for b in blobs {
        place_blob(store, b, &bdir)?;
    }
    for (name, data) in top {
        write_file(&root.join(name), data)?;
    }
    replace(&root, &dest.path, dest.force)
}

/// Rename `built` to `to`; an existing `to` (allowed by --force) is moved aside
/// first and removed after.
fn replace(built: &Path, to: &Path, force: bool) -> anyhow::Result<()> {
    let aside = parent_of(to).join(format!(
        ".{}.fcap-old-{}",
        to.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let had = std::fs::symlink_metadata(to).is_ok();
    if had {
        if !force {
            bail!(
                "{}: already exists; fcap does not replace it without --force",
                quote(to)
            );
        }
        std::fs::rename(to, &aside).map_err(|e| crate::error::io_at_path(to, &e, true))?;
    }
    if let Err(e) = std::fs::rename(built, to) {
        if had {
            let _ = std::fs::rename(&aside, to);
        }
        return Err(crate::error::io_at_path(to, &e, true));
    }
    if had {
        let m = std::fs::symlink_metadata(&aside);
        let _ = if m.is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir_all(&aside)
        } else {
            std::fs::remove_file(&aside)
        };
    }
    Ok(())
}

/// A tar of the layout (oci-archive or docker save), written beside the output.
fn write_archive(
    store: &Store,
    blobs: &[Blob],
    top: &[(&str, Vec<u8>)],
    dest: &Dest,
    staging: &Staging,
) -> anyhow::Result<()> {
    let tmp = staging.dir.join("archive.tar");
    let f = std::fs::File::create(&tmp).map_err(|e| crate::error::io_at_path(&tmp, &e, true))?;
    let mut w = io::BufWriter::with_capacity(1 << 17, f);
    let at = |e: io::Error| crate::error::io_at_path(&dest.path, &e, true);
    for (name, data) in top {
        write::archive_member(&mut w, name.as_bytes(), data.len() as u64, false).map_err(at)?;
        w.write_all(data).map_err(at)?;
        write::archive_pad(&mut w, data.len() as u64).map_err(at)?;
    }
    write::archive_member(&mut w, b"blobs/", 0, true).map_err(at)?;
    write::archive_member(&mut w, b"blobs/sha256/", 0, true).map_err(at)?;
    let mut done = std::collections::HashSet::new();
    for b in blobs {
        if !done.insert(b.digest.clone()) {
            continue;
        }
        let name = format!("blobs/sha256/{}", hex_of(&b.digest));
        write::archive_member(&mut w, name.as_bytes(), b.size, false).map_err(at)?;
        let n = copy_blob(store, b, &mut w).map_err(|e| anyhow!("{}: {e:#}", quote(&dest.path)))?;
        if n != b.size {
            bail!(
                "{}: blob {} has {n} bytes where its descriptor says {}",
                quote(&dest.path),
                b.digest,
                b.size
            );
        }
        write::archive_pad(&mut w, b.size).map_err(at)?;
    }
    w.write_all(&[0u8; 1024]).map_err(at)?;
    let f = w
        .into_inner()
        .map_err(|e| at(io::Error::other(e.to_string())))?;
    f.sync_all().map_err(at)?;
    replace(&tmp, &dest.path, dest.force)
}

/// A new tag in the input's own layout: the new blobs are added (the layout may
/// hold blobs nothing names), then `index.json` is replaced by a rename with one
/// more entry; every other entry stays as it was.
fn add_tag(
    store: &Store,
    blobs: &[Blob],
    desc: &Value,
    dest: &Dest,
    staging: &Staging,
) -> anyhow::Result<()> {
    let index_path = dest.path.join("index.json");
    let data =
        std::fs::read(&index_path).map_err(|e| crate::error::io_at_path(&index_path, &e, false))?;
    let mut index: Value = serde_json::from_slice(&data)
        .map_err(|e| anyhow!("{}: not valid JSON: {e}", quote(&index_path)))?;
    let tag = dest.tag.clone().unwrap_or_default();
    let list = index
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| anyhow!("{}: no manifests[] list", quote(&index_path)))?;
    let named = |d: &Value| {
        d.get("annotations")
            .and_then(|a| a.get("org.opencontainers.image.ref.name"))
            .and_then(Value::as_str)
            == Some(tag.as_str())
    };
    if list.iter().any(named) {
        if !dest.force {
            bail!(
                "{}: the layout already has a tag {tag:?}; pick a new one, or replace it with --force",
                quote(&dest.path)
            );
        }
        list.retain(|d| !named(d));
    }
    let bdir = dest.path.join("blobs/sha256");
    for b in blobs {
        if !matches!(b.from, From::Input(_)) {
            place_blob(store, b, &bdir)?;
        }
    }
    list.push(desc.clone());
    let tmp = staging.dir.join("index.json");
    write_file(&tmp, &serde_json::to_vec(&index)?)?;
    std::fs::rename(&tmp, &index_path)
        .map_err(|e| crate::error::io_at_path(&index_path, &e, true))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn docker_names() {
        assert_eq!(docker_ref("web"), "web:latest");
        assert_eq!(docker_ref("reg:5000/web"), "reg:5000/web:latest");
        assert_eq!(docker_ref("web:1"), "web:1");
        assert_eq!(full_name("web:1"), "docker.io/library/web:1");
        assert_eq!(full_name("me/web:1"), "docker.io/me/web:1");
        assert_eq!(full_name("reg.io/me/web:1"), "reg.io/me/web:1");
    }
}
