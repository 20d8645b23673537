//! Finding an image's layers: what IMAGE is (an OCI layout directory, a `docker
//! save` or `oci-archive` tarball, or a single layer tar), which manifest the
//! user means (tag, platform, nested indexes), its config and its layer blobs.
//!
//! Blobs inside a tarball are read in place: the archive is indexed once by its
//! headers (seeking over the data), then each blob is a byte range of the file.

use super::tar;
use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Indexes may nest (containerd writes index → index → manifests); deeper than this
/// is refused as a loop or an attack.
const MAX_DEPTH: usize = 8;
/// How many nested indexes one image may name in all: an index may list the same
/// nested index many times (one per tag), but a fan-out at every level must not
/// multiply into millions of reads.
const MAX_INDEXES: usize = 1024;
/// A JSON document (index, manifest, config) larger than this is refused.
const MAX_JSON: u64 = 16 << 20;

/// Where the bytes of a blob live.
#[derive(Clone, Debug)]
pub enum Bytes {
    /// A file of its own (an OCI layout directory, or a layer tar given directly).
    File(PathBuf),
    /// A range of the image tarball.
    Range { offset: u64, len: u64 },
}

/// What the digest of a layer covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashOf {
    /// The blob as stored (OCI descriptors).
    Stored,
    /// The uncompressed tar (a legacy `docker save`'s `rootfs.diff_ids`).
    Uncompressed,
}

/// One layer to apply.
#[derive(Clone, Debug)]
pub struct Layer {
    /// 0-based, in the manifest's order.
    pub index: usize,
    /// `sha256:<hex>` when known.
    pub digest: Option<String>,
    /// How messages name it: the digest, or its path in the archive.
    pub label: String,
    pub bytes: Bytes,
    pub expected: Option<([u8; 32], HashOf)>,
    pub size: Option<u64>,
    pub created_by: Option<String>,
}

/// The chosen image.
#[derive(Debug)]
pub struct Resolved {
    pub layers: Vec<Layer>,
    /// The config's `User` (empty when unset).
    pub user: Option<String>,
    /// The config's `Entrypoint` + `Cmd`.
    pub entrypoint: Vec<String>,
    /// `PATH` from the config's `Env`, where a bare command is looked for.
    pub path_env: Option<String>,
    /// The config's `WorkingDir` (a relative command starts there).
    pub workdir: Option<String>,
    /// Which image it is, for messages ("capped", "linux/arm64"…).
    pub chosen: String,
    /// What a writer needs to append a layer ([`super::write`]); empty for a single
    /// layer tar.
    pub source: Source,
}

/// The documents the chosen image was read from, kept whole (unknown fields
/// included) so a writer can edit them as JSON.
#[derive(Debug, Default, Clone)]
pub struct Source {
    /// The image config.
    pub config: Value,
    /// The OCI manifest (none for a legacy `docker save`).
    pub manifest: Option<Value>,
    /// The index descriptor that named the manifest (platform, annotations).
    pub descriptor: Option<Value>,
    /// The manifest.json entry (a `docker save`, either shape), when there is one.
    pub docker_entry: Option<Value>,
    /// The names the image had (ref.name annotations, RepoTags).
    pub tags: Vec<String>,
}

impl Resolved {
    /// The layers, and what verify needs of the image config.
    fn new(layers: Vec<Layer>, config: &Value, chosen: String, source: Source) -> Resolved {
        Resolved {
            source,
            layers,
            user: user_of(config),
            entrypoint: entrypoint_of(config),
            path_env: env_of(config, "PATH"),
            workdir: config
                .get("config")
                .and_then(|c| str_of(c, "WorkingDir"))
                .filter(|w| !w.is_empty())
                .map(str::to_string),
            chosen,
        }
    }
}

/// The bytes an image is read from.
pub enum Store {
    Dir(PathBuf),
    Archive {
        path: PathBuf,
        file: File,
        members: Members,
    },
}

impl Store {
    /// A member (archive path relative to the top, `/`-separated) as bytes.
    pub fn locate(&self, name: &str) -> Option<Bytes> {
        match self {
            Store::Dir(d) => {
                let p = d.join(name);
                p.is_file().then_some(Bytes::File(p))
            }
            Store::Archive { members, .. } => members
                .get(name)
                .map(|&(offset, len)| Bytes::Range { offset, len }),
        }
    }

    /// A reader over some bytes of the image.
    pub fn open(&self, b: &Bytes) -> io::Result<Box<dyn Read + Send>> {
        match (self, b) {
            (_, Bytes::File(p)) => Ok(Box::new(File::open(p)?)),
            (Store::Archive { path, .. }, Bytes::Range { offset, len }) => {
                let mut f = File::open(path)?;
                f.seek(SeekFrom::Start(*offset))?;
                Ok(Box::new(f.take(*len)))
            }
            (Store::Dir(_), Bytes::Range { .. }) => Err(io::Error::other("no archive")),
        }
    }

    fn read_small(&self, b: &Bytes, what: &str) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut r = self
            .open(b)
            .map_err(|e| anyhow!("cannot open {what}: {}", crate::error::strerror(&e)))?;
        (&mut r)
            .take(MAX_JSON + 1)
            .read_to_end(&mut out)
            .map_err(|e| anyhow!("cannot read {what}: {}", crate::error::strerror(&e)))?;
        if out.len() as u64 > MAX_JSON {
            bail!(
                "{what} is larger than {} MiB: not an image document",
                MAX_JSON >> 20
            );
        }
        Ok(out)
    }
}

/// Archive member name → (offset, length) of its data.
type Members = HashMap<String, (u64, u64)>;

/// Where a tar's members are: the archive is read header by header, seeking over
/// the data. Only names an image can use are remembered, so a large rootfs tarball
/// given as an image costs no memory per entry.
///
/// A tar error comes back with the members indexed before it, so the caller can
/// tell an image archive damaged in the middle from a layer tar.
fn index_archive(path: &Path, file: &File) -> (Members, Option<tar::Error>) {
    struct Seeker<'a> {
        f: &'a File,
        pos: u64,
    }
    impl Read for Seeker<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.f.read_at(buf, self.pos)?;
            self.pos += n as u64;
            Ok(n)
        }
    }
    impl tar::Skip for Seeker<'_> {
        fn skip(&mut self, n: u64, _: &mut [u8]) -> io::Result<u64> {
            let len = self.f.metadata()?.len();
            let by = n.min(len.saturating_sub(self.pos));
            self.pos += by;
            Ok(by)
        }
    }
    let _ = path;
    let mut r = tar::Reader::new(Seeker { f: file, pos: 0 });
    let mut members = HashMap::new();
    let mut links = Vec::new();
    let mut failed = None;
    loop {
        let h = match r.next_entry() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        let Some(name) = member_name(&h.name) else {
            continue;
        };
        let useful = name.ends_with(".json")
            || name.ends_with(".tar")
            || name.starts_with("blobs/")
            || name == "oci-layout"
            || name == "repositories";
        if !useful {
            continue;
        }
        match h.kind {
            tar::Kind::Regular => {
                members.insert(name, (r.offset, h.size));
            }
            tar::Kind::Symlink => {
                // skopeo makes <v1id>/layer.tar a symlink to ../<diffid>.tar.
                let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                let target = String::from_utf8_lossy(&h.link).into_owned();
                if let Some(t) = member_name(dir.join(target).as_os_str().as_encoded_bytes()) {
                    links.push((name, t));
                }
            }
            tar::Kind::HardLink => {
                if let Some(t) = member_name(&h.link) {
                    links.push((name, t));
                }
            }
            _ => {}
        }
    }
    // A link may lead to a link: follow a few steps.
    for _ in 0..4 {
        for (name, target) in &links {
            if let Some(&m) = members.get(target) {
                members.entry(name.clone()).or_insert(m);
            }
        }
    }
    (members, failed)
}

/// Whether these archive members are an image's (a `docker save` or `oci-archive`
/// tarball): the names only such archives have at their top.
fn image_like(members: &Members) -> Option<&str> {
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit());
    members
        .keys()
        .map(String::as_str)
        .filter(|k| {
            matches!(
                *k,
                "manifest.json" | "index.json" | "oci-layout" | "repositories"
            ) || k.strip_prefix("blobs/sha256/").is_some_and(hex)
                || k.strip_suffix("/layer.tar").is_some_and(hex)
                || k.strip_suffix(".tar").is_some_and(hex)
        })
        .min()
}

/// A member name as a clean relative path ("./a/../b" → "b"); None if it climbs out.
fn member_name(raw: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(raw).ok()?;
    let mut parts: Vec<&str> = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// What IMAGE turned out to be.
pub enum Opened {
    /// An image with manifests (OCI layout or `docker save`).
    Image(Store),
    /// One layer tar, plain or compressed.
    Layer(PathBuf),
}

/// Split `IMAGE[:TAG]`: the whole string when it names a file, else at the last ':'
/// that leaves an existing path before it. The tag may itself hold ':' and '/'
/// (`x.tar:docker.io/library/web:1.2`, as `docker save` users name images).
pub fn split_tag(arg: &Path) -> (PathBuf, Option<String>) {
    if arg.exists() {
        return (arg.to_path_buf(), None);
    }
    let s = arg.as_os_str().as_encoded_bytes();
    for (i, _) in s.iter().enumerate().rev().filter(|&(_, &c)| c == b':') {
        let (p, t) = (&s[..i], &s[i + 1..]);
        let p = PathBuf::from(String::from_utf8_lossy(p).into_owned());
        if !t.is_empty() && p.exists() {
            return (p, Some(String::from_utf8_lossy(t).into_owned()));
        }
    }
    (arg.to_path_buf(), None)
}

/// Look at IMAGE and say what it is.
pub fn open(path: &Path) -> anyhow::Result<Opened> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{}", crate::error::strerror(&e)))?;
    if meta.is_dir() {
        if path.join("index.json").is_file() || path.join("manifest.json").is_file() {
            return Ok(Opened::Image(Store::Dir(path.to_path_buf())));
        }
        if path.join("oci-layout").is_file() || path.join("blobs").is_dir() {
            bail!("an OCI image layout without index.json: nothing says which manifests it holds");
        }
        bail!(
            "a directory without index.json or manifest.json: not an OCI image layout (a root filesystem directory is read with 'fcap read -r DIR')"
        );
    }
    if !meta.is_file() {
        bail!("not a regular file or directory (save the image to a file first)");
    }
    if meta.len() == 0 {
        bail!("an empty file: neither an image nor a layer tar");
    }
    let file = File::open(path).map_err(|e| anyhow!("{}", crate::error::strerror(&e)))?;
    let mut magic = [0u8; 4];
    let n = file.read_at(&mut magic, 0).unwrap_or(0);
    if super::Compression::sniff(&magic[..n]) != super::Compression::None {
        return Ok(Opened::Layer(path.to_path_buf()));
    }
    let (members, failed) = index_archive(path, &file);
    if let Some(e) = failed {
        // A layer tar: reading it as a layer says the same, naming it as a layer.
        let Some(seen) = image_like(&members) else {
            return Ok(Opened::Layer(path.to_path_buf()));
        };
        bail!("an image archive (it has {seen}) that is not a valid tar past that: {e}");
    }
    if members.contains_key("manifest.json") || members.contains_key("index.json") {
        return Ok(Opened::Image(Store::Archive {
            path: path.to_path_buf(),
            file,
            members,
        }));
    }
    if let Some(seen) = image_like(&members) {
        bail!(
            "an image archive (it has {seen}) without manifest.json or index.json: nothing says which layers make the image, or in which order"
        );
    }
    Ok(Opened::Layer(path.to_path_buf()))
}

/// 64 lowercase hex digits (what the OCI spec allows for sha256) as bytes.
fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `sha256:<hex>` → the blob's path and its expected hash.
fn parse_digest(d: &str) -> anyhow::Result<(String, [u8; 32])> {
    let hex = d.strip_prefix("sha256:").ok_or_else(|| {
        anyhow!(
            "digest {:?} is not sha256:<64 hex digits> (the only algorithm fcap checks)",
            clip(d)
        )
    })?;
    let h =
        hex32(hex).ok_or_else(|| anyhow!("digest {:?} is not sha256:<64 hex digits>", clip(d)))?;
    Ok((format!("blobs/sha256/{hex}"), h))
}

/// A small blob by digest, checked.
fn blob(store: &Store, digest: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let (name, want) = parse_digest(digest).with_context(|| what.to_string())?;
    let b = store
        .locate(&name)
        .ok_or_else(|| anyhow!("{what} {digest} is missing (no {name})"))?;
    let data = store.read_small(&b, &format!("{what} {digest}"))?;
    if Sha256::digest(&data).as_slice() != want {
        bail!("{what} {digest}: its content does not match its digest (corrupt or tampered)");
    }
    Ok(data)
}

fn json(data: &[u8], what: &str) -> anyhow::Result<Value> {
    serde_json::from_slice(data).map_err(|e| anyhow!("{what} is not valid JSON: {e}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// One image the archive holds.
#[derive(Clone, Debug)]
struct Candidate {
    manifest: String,
    /// The index descriptor naming it (OCI).
    desc: Option<Value>,
    tags: Vec<String>,
    platform: Option<String>,
}

/// The host's platform, in OCI's words.
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        a => a,
    };
    format!("linux/{arch}")
}

fn platform_of(p: &Value) -> Option<String> {
    let os = str_of(p, "os")?;
    let arch = str_of(p, "architecture")?;
    Some(match str_of(p, "variant") {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    })
}

/// Whether `have` satisfies the asked `want` (`os/arch` matches any variant).
fn platform_matches(have: &str, want: &str) -> bool {
    have == want || have.strip_prefix(want).is_some_and(|r| r.starts_with('/'))
}

/// Where a walk through nested indexes is.
#[derive(Default)]
struct Walk {
    /// The nested indexes above the one being read.
    ancestors: Vec<String>,
    /// How many nested indexes were read.
    visits: usize,
}

/// Walk an index (and the indexes it names) for manifests.
fn walk_index(
    store: &Store,
    index: &Value,
    what: &str,
    tags: &[String],
    depth: usize,
    walk: &mut Walk,
    out: &mut Vec<Candidate>,
) -> anyhow::Result<()> {
    if depth > MAX_DEPTH {
        bail!("{what}: indexes nest more than {MAX_DEPTH} deep");
    }
    let list = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("{what} has no manifests[] list"))?;
    for d in list {
        let digest =
            str_of(d, "digest").ok_or_else(|| anyhow!("{what}: a descriptor without a digest"))?;
        let media = str_of(d, "mediaType").unwrap_or("");
        let ann = d.get("annotations");
        let mut here: Vec<String> = tags.to_vec();
        for key in [
            "org.opencontainers.image.ref.name",
            "io.containerd.image.name",
        ] {
            if let Some(t) = ann.and_then(|a| str_of(a, key)) {
                here.push(t.to_string());
            }
        }
        let nested =
            media.ends_with("image.index.v1+json") || media.ends_with("manifest.list.v2+json");
        if nested {
            // Only an index among its own ancestors is a loop: two entries naming
            // the same nested index (two tags of one image) are not.
            if walk.ancestors.iter().any(|a| a == digest) {
                bail!("{what}: index {digest} contains itself (a loop)");
            }
            walk.visits += 1;
            if walk.visits > MAX_INDEXES {
                bail!("{what}: the indexes name more than {MAX_INDEXES} nested indexes in all");
            }
            walk.ancestors.push(digest.to_string());
            let sub = json(&blob(store, digest, "index")?, &format!("index {digest}"))?;
            walk_index(
                store,
                &sub,
                &format!("index {digest}"),
                &here,
                depth + 1,
                walk,
                out,
            )?;
            walk.ancestors.pop();
            continue;
        }
        out.push(Candidate {
            manifest: digest.to_string(),
            desc: Some(d.clone()),
            tags: here,
            platform: d.get("platform").and_then(platform_of),
        });
    }
    Ok(())
}

fn tag_matches(tags: &[String], want: &str) -> bool {
    // skopeo and containerd write the full reference (docker.io/library/web:1.2);
    // people write Docker's short form (web:1.2, web).
    let short = |t: &str| {
        t.strip_prefix("docker.io/library/")
            .or_else(|| t.strip_prefix("docker.io/"))
            .map(str::to_string)
    };
    tags.iter()
        .flat_map(|t| std::iter::once(t.clone()).chain(short(t)))
        .any(|t| {
            t == want
                || t.rsplit_once(':').is_some_and(|(_, tag)| tag == want)
                || t.rsplit_once(':').is_some_and(|(name, _)| name == want)
        })
}

fn describe(c: &Candidate) -> String {
    let tags = if c.tags.is_empty() {
        "untagged".to_string()
    } else {
        c.tags
            .iter()
            .map(|t| clip(t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &c.platform {
        Some(p) => format!("{tags} ({})", clip(p)),
        None => tags,
    }
}

/// Images for a message: the first 20, then how many more.
fn list_of(all: &[String]) -> String {
    let mut s = all.iter().take(20).cloned().collect::<Vec<_>>().join("; ");
    if all.len() > 20 {
        s.push_str(&format!("; and {} more", all.len() - 20));
    }
    s
}

/// A string from the image as messages show it: at most 100 characters (a tag or
/// a digest of 16 MiB must not flood a CI log).
fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &s[..i]).into(),
        None => s.into(),
    }
}

/// Pick the one candidate the user means.
fn choose(
    mut cands: Vec<Candidate>,
    tag: Option<&str>,
    platform: Option<&str>,
    config_platform: &mut dyn FnMut(&Candidate) -> Option<String>,
) -> anyhow::Result<Candidate> {
    if cands.is_empty() {
        bail!("the image lists no manifests");
    }
    // Entries without a platform in the index: the config says (before the
    // listing, so an error names every image's platform).
    for c in &mut cands {
        if c.platform.is_none() {
            c.platform = config_platform(c);
        }
    }
    let all: Vec<String> = cands.iter().map(describe).collect();
    let listing = || list_of(&all);
    if let Some(t) = tag {
        cands.retain(|c| tag_matches(&c.tags, t));
        if cands.is_empty() {
            bail!("no image tagged {t:?}; it has: {}", listing());
        }
    }
    let want = platform.map(str::to_string);
    if let Some(w) = &want {
        cands.retain(|c| {
            c.platform
                .as_deref()
                .is_some_and(|p| platform_matches(p, w))
        });
        if cands.is_empty() {
            bail!("no image for platform {}; it has: {}", clip(w), listing());
        }
    } else if cands.len() > 1 {
        let host = host_platform();
        let on_host: Vec<_> = cands
            .iter()
            .filter(|c| {
                c.platform
                    .as_deref()
                    .is_some_and(|p| platform_matches(p, &host))
            })
            .cloned()
            .collect();
        if !on_host.is_empty() && on_host.len() < cands.len() {
            cands = on_host;
        }
    }
    // The same manifest listed twice (two tags) is one image.
    cands.dedup_by(|a, b| a.manifest == b.manifest);
    if cands.len() > 1 {
        let these: Vec<String> = cands.iter().map(describe).collect();
        bail!(
            "it holds {} images: {}; pick one with IMAGE:TAG or --platform OS/ARCH[/VARIANT]",
            cands.len(),
            list_of(&these)
        );
    }
    cands
        .pop()
        .ok_or_else(|| anyhow!("the image lists no manifests"))
}

/// Resolve the image the user asked for to its layers and config.
pub fn resolve(
    store: &Store,
    tag: Option<&str>,
    platform: Option<&str>,
) -> anyhow::Result<Resolved> {
    if store.locate("index.json").is_some() {
        return resolve_oci(store, tag, platform);
    }
    resolve_legacy(store, tag, platform)
}

/// The platforms of the images `tag` names (for a writer's `--all-platforms`), in
/// index order, and how many entries were attestations (`unknown/unknown`, which
/// describe another manifest by digest). A legacy `docker save` has one image.
pub fn platforms(store: &Store, tag: Option<&str>) -> anyhow::Result<(Vec<String>, usize)> {
    let Some(b) = store.locate("index.json") else {
        return Ok((Vec::new(), 0));
    };
    let mut cands = candidates(store, &b)?;
    if let Some(t) = tag {
        cands.retain(|c| tag_matches(&c.tags, t));
    }
    let mut out: Vec<String> = Vec::new();
    let mut attestations = 0;
    for c in cands {
        match c.platform {
            Some(p) if p == "unknown/unknown" => attestations += 1,
            Some(p) if !out.contains(&p) => out.push(p),
            _ => {}
        }
    }
    Ok((out, attestations))
}

/// Every image manifest below the layout's `index.json` (the blob `b`), nested
/// indexes walked, with its names and platform.
fn candidates(store: &Store, b: &Bytes) -> anyhow::Result<Vec<Candidate>> {
    let index = json(&store.read_small(b, "index.json")?, "index.json")?;
    let mut cands = Vec::new();
    walk_index(
        store,
        &index,
        "index.json",
        &[],
        0,
        &mut Walk::default(),
        &mut cands,
    )?;
    Ok(cands)
}

fn resolve_oci(
    store: &Store,
    tag: Option<&str>,
    platform: Option<&str>,
) -> anyhow::Result<Resolved> {
    let b = store
        .locate("index.json")
        .ok_or_else(|| anyhow!("index.json is missing"))?;
    let mut cands = candidates(store, &b)?;
    // Docker 25+ keeps manifest.json beside the layout: its RepoTags name images too.
    let mut docker_entries: Vec<(String, Value)> = Vec::new();
    if let Some(b) = store.locate("manifest.json")
        && let Ok(m) = json(&store.read_small(&b, "manifest.json")?, "manifest.json")
        && let Some(list) = m.as_array()
    {
        for e in list {
            let Some(cfg) = str_of(e, "Config") else {
                continue;
            };
            let tags: Vec<String> = repo_tags(e);
            // Match the manifest whose config is this blob.
            for c in &mut cands {
                if let Ok(mdata) = blob(store, &c.manifest, "manifest")
                    && let Ok(mv) = json(&mdata, "manifest")
                    && let Some(cd) = mv.get("config").and_then(|c| str_of(c, "digest"))
                    && cfg.ends_with(cd.trim_start_matches("sha256:"))
                {
                    c.tags.extend(tags.iter().cloned());
                    docker_entries.push((c.manifest.clone(), e.clone()));
                }
            }
        }
    }
    let mut config_platform = |c: &Candidate| -> Option<String> {
        let m = json(&blob(store, &c.manifest, "manifest").ok()?, "manifest").ok()?;
        let cd = str_of(m.get("config")?, "digest")?;
        let cfg = json(&blob(store, cd, "config").ok()?, "config").ok()?;
        platform_of(&cfg)
    };
    let chosen = choose(cands, tag, platform, &mut config_platform)?;
    let what = format!("manifest {}", chosen.manifest);
    let m = json(&blob(store, &chosen.manifest, "manifest")?, &what)?;
    if m.get("manifests").is_some() {
        bail!("{what} is an index where a manifest was expected");
    }
    let cd = m
        .get("config")
        .and_then(|c| str_of(c, "digest"))
        .ok_or_else(|| anyhow!("{what} has no config digest"))?;
    let config = json(&blob(store, cd, "config")?, &format!("config {cd}"))?;
    let list = m
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("{what} has no layers[] list"))?;
    let history = history(&config);
    let mut layers = Vec::new();
    for (i, l) in list.iter().enumerate() {
        let d = str_of(l, "digest").ok_or_else(|| anyhow!("{what}: layer {i} has no digest"))?;
        let (name, want) = parse_digest(d).with_context(|| format!("{what}: layer {i}"))?;
        let bytes = store
            .locate(&name)
            .ok_or_else(|| anyhow!("layer {d}: its blob {name} is missing"))?;
        layers.push(Layer {
            index: i,
            digest: Some(d.to_string()),
            label: format!("layer {d}"),
            bytes,
            expected: Some((want, HashOf::Stored)),
            size: l.get("size").and_then(Value::as_u64),
            created_by: history.get(i).cloned().flatten(),
        });
    }
    let source = Source {
        docker_entry: docker_entries
            .into_iter()
            .find(|(d, _)| *d == chosen.manifest)
            .map(|(_, e)| e),
        config: config.clone(),
        manifest: Some(m.clone()),
        descriptor: chosen.desc.clone(),
        tags: chosen.tags.clone(),
    };
    Ok(Resolved::new(layers, &config, describe(&chosen), source))
}

fn resolve_legacy(
    store: &Store,
    tag: Option<&str>,
    platform: Option<&str>,
) -> anyhow::Result<Resolved> {
    let b = store
        .locate("manifest.json")
        .ok_or_else(|| anyhow!("neither index.json nor manifest.json: not an image"))?;
    let m = json(&store.read_small(&b, "manifest.json")?, "manifest.json")?;
    let list = m
        .as_array()
        .ok_or_else(|| anyhow!("manifest.json is not a list of images"))?;
    let mut cands = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let cfg =
            str_of(e, "Config").ok_or_else(|| anyhow!("manifest.json: image {i} has no Config"))?;
        cands.push(Candidate {
            manifest: i.to_string(),
            desc: None,
            tags: repo_tags(e),
            platform: None,
        });
        let _ = cfg;
    }
    let config_of = |i: usize| -> anyhow::Result<Value> {
        let cfg = str_of(&list[i], "Config").unwrap_or("");
        let name = member_name(cfg.as_bytes()).ok_or_else(|| {
            anyhow!(
                "manifest.json: Config {:?} climbs out of the archive",
                clip(cfg)
            )
        })?;
        let b = store
            .locate(&name)
            .ok_or_else(|| anyhow!("config {} named by manifest.json is missing", clip(cfg)))?;
        json(
            &store.read_small(&b, &format!("config {}", clip(cfg)))?,
            &format!("config {}", clip(cfg)),
        )
    };
    let mut config_platform = |c: &Candidate| -> Option<String> {
        platform_of(&config_of(c.manifest.parse().ok()?).ok()?)
    };
    let chosen = choose(cands, tag, platform, &mut config_platform)?;
    let i: usize = chosen.manifest.parse().unwrap_or(0);
    let config = config_of(i)?;
    let diff_ids: Vec<Option<[u8; 32]>> = config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| {
                    d.as_str()
                        .and_then(|d| d.strip_prefix("sha256:"))
                        .and_then(hex32)
                })
                .collect()
        })
        .unwrap_or_default();
    let paths = list[i]
        .get("Layers")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("manifest.json: image {i} has no Layers list"))?;
    let history = history(&config);
    let mut layers = Vec::new();
    for (n, p) in paths.iter().enumerate() {
        let p = p
            .as_str()
            .ok_or_else(|| anyhow!("manifest.json: layer {n} is not a path"))?;
        let name = member_name(p.as_bytes()).ok_or_else(|| {
            anyhow!(
                "manifest.json: layer {:?} climbs out of the archive",
                clip(p)
            )
        })?;
        let bytes = store.locate(&name).ok_or_else(|| {
            anyhow!(
                "layer {}: missing from the archive (manifest.json names it)",
                clip(p)
            )
        })?;
        // Docker 25+ names blobs by their digest; older ones check the diff_id.
        let (digest, expected) = match name.strip_prefix("blobs/sha256/").and_then(hex32) {
            Some(h) => (
                Some(format!("sha256:{}", &name[13..])),
                Some((h, HashOf::Stored)),
            ),
            None => {
                let d = diff_ids.get(n).copied().flatten();
                (
                    d.map(|h| format!("sha256:{}", hex(&h))),
                    d.map(|h| (h, HashOf::Uncompressed)),
                )
            }
        };
        layers.push(Layer {
            index: n,
            digest,
            label: format!("layer {}", clip(p)),
            bytes,
            expected,
            size: None,
            created_by: history.get(n).cloned().flatten(),
        });
    }
    if !diff_ids.is_empty() && diff_ids.len() != layers.len() {
        bail!(
            "manifest.json lists {} layers but the config's rootfs.diff_ids has {}",
            layers.len(),
            diff_ids.len()
        );
    }
    let source = Source {
        config: config.clone(),
        manifest: None,
        descriptor: None,
        docker_entry: Some(list[i].clone()),
        tags: chosen.tags.clone(),
    };
    Ok(Resolved::new(layers, &config, describe(&chosen), source))
}

pub fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// `created_by` of each layer: the n-th history entry that made a layer.
fn history(config: &Value) -> Vec<Option<String>> {
    config
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .filter(|e| {
                    !e.get("empty_layer")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                })
                .map(|e| str_of(e, "created_by").map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn user_of(config: &Value) -> Option<String> {
    config
        .get("config")
        .and_then(|c| str_of(c, "User"))
        .filter(|u| !u.is_empty())
        .map(str::to_string)
}

fn env_of(config: &Value, key: &str) -> Option<String> {
    config
        .get("config")
        .and_then(|c| c.get("Env"))
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|e| e.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
}

fn entrypoint_of(config: &Value) -> Vec<String> {
    let list = |k: &str| -> Vec<String> {
        config
            .get("config")
            .and_then(|c| c.get(k))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut e = list("Entrypoint");
    e.extend(list("Cmd"));
    e
}

/// The `RepoTags` of one `docker save` manifest.json entry (none when absent or
/// malformed: a name is only a way to pick the image).
pub(crate) fn repo_tags(e: &Value) -> Vec<String> {
    e.get("RepoTags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_never_climb_out() {
        assert_eq!(member_name(b"./a/../b.json").as_deref(), Some("b.json"));
        assert_eq!(
            member_name(b"/blobs//sha256/x").as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(member_name(b"../x"), None);
    }

    #[test]
    fn digests_are_lowercase_hex_and_messages_are_short() {
        assert!(hex32(&"ab".repeat(32)).is_some());
        assert!(hex32(&"AB".repeat(32)).is_none());
        assert!(hex32(&"+f".repeat(32)).is_none());
        assert_eq!(clip(&"x".repeat(500)).len(), 103);
        assert_eq!(clip("short"), "short");
        let many: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert!(list_of(&many).ends_with("; 19; and 5 more"));
    }

    #[test]
    fn platforms_and_tags() {
        assert!(platform_matches("linux/arm/v7", "linux/arm"));
        assert!(!platform_matches("linux/arm64", "linux/arm"));
        assert!(platform_matches("linux/arm/v7", "linux/arm/v7"));
        let t = vec!["docker.io/library/web:1.2".to_string()];
        assert!(tag_matches(&t, "1.2"));
        assert!(tag_matches(&t, "docker.io/library/web:1.2"));
        assert!(!tag_matches(&t, "1.3"));
        assert!(tag_matches(&t, "web:1.2"));
        assert!(tag_matches(&t, "web"));
        assert!(!tag_matches(&t, "library/web:1.3"));
        let u = vec!["docker.io/someone/app:2".to_string()];
        assert!(tag_matches(&u, "someone/app:2"));
        assert!(!tag_matches(&u, "app:2"));
    }

    #[test]
    fn image_tag_split_at_the_last_colon_after_an_existing_path() {
        let d = std::env::temp_dir().join(format!("fcap-split-{}", std::process::id()));
        std::fs::create_dir_all(&d).ok();
        let x = d.join("x.tar");
        std::fs::write(&x, b"").ok();
        let s = |a: &str| split_tag(Path::new(a));
        let xs = x.display().to_string();
        assert_eq!(s(&xs), (x.clone(), None));
        assert_eq!(s(&format!("{xs}:1.2")), (x.clone(), Some("1.2".into())));
        assert_eq!(
            s(&format!("{xs}:web:1.2")),
            (x.clone(), Some("web:1.2".into()))
        );
        assert_eq!(
            s(&format!("{xs}:docker.io/library/web:1.2")),
            (x.clone(), Some("docker.io/library/web:1.2".into()))
        );
        let nope = format!("{xs}-not-there:1.2");
        assert_eq!(s(&nope), (PathBuf::from(&nope), None));
        std::fs::remove_dir_all(&d).ok();
    }
}
