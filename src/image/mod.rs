//! Container images as a source of files: `docker save` tarballs (legacy and
//! Docker 25+), OCI layouts (a directory or a tar), and single layer tars (plain,
//! gzip, zstd), read without root and without unpacking.
//!
//! [`layout`] finds the layers, [`tar`] reads them, [`apply`] applies them in
//! order the way a runtime builds the container's root filesystem. Every layer is
//! streamed once: read, checked against its digest, decompressed and parsed, in
//! parallel across layers; nothing is written to disk.

pub mod apply;
pub mod layout;
pub mod out;
pub mod tar;
pub mod write;

use anyhow::anyhow;
use apply::{Kept, STOPPED, Shared, Want};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a layer is compressed, by its first bytes (as moby's `DetectCompression`):
/// never by a file name or media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(b: &[u8]) -> Compression {
        if b.starts_with(&[0x1f, 0x8b, 0x08]) {
            return Compression::Gzip;
        }
        if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Compression::Zstd;
        }
        // A zstd skippable frame: magic 0x184D2A50..5F, little-endian.
        if b.len() >= 4 && b[1..4] == [0x2a, 0x4d, 0x18] && b[0] & 0xf0 == 0x50 {
            return Compression::Zstd;
        }
        Compression::None
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// A zstd decompression context kept by one thread across the layers it reads
/// (`None` until its first zstd layer).
pub(crate) type ZstdCtx = Option<zstd::zstd_safe::DCtx<'static>>;

/// A zstd decoder over `r` using the thread's context, which it resets first. A new
/// context per layer would allocate its window buffers again for each layer, and
/// musl's allocator gives freed big blocks straight back to the kernel: every layer
/// then paid for the window's pages afresh (about half again glibc's page faults on
/// a zstd image).
pub(crate) fn zstd_decoder<'a, R: BufRead>(
    r: R,
    ctx: &'a mut ZstdCtx,
) -> io::Result<zstd::stream::read::Decoder<'a, R>> {
    let ctx = match ctx {
        Some(c) => c,
        None => ctx
            .insert(zstd::zstd_safe::DCtx::try_create().ok_or_else(|| {
                io::Error::other("zstd: cannot allocate a decompression context")
            })?),
    };
    Ok(zstd::stream::read::Decoder::with_context(r, ctx))
}

/// An image, opened and resolved to the layers of one manifest.
pub struct Image {
    /// IMAGE as the user wrote it (for messages).
    pub name: PathBuf,
    store: Option<layout::Store>,
    pub resolved: layout::Resolved,
}

/// The final root filesystem, as far as a scan kept it: image-absolute paths.
pub struct Snapshot {
    pub files: BTreeMap<Vec<u8>, Kept>,
    seen: apply::Seen,
    /// Paths the scan was asked to keep whatever they are: for these, `files` is
    /// the whole answer.
    asked: std::collections::HashSet<Vec<u8>>,
}

impl Snapshot {
    /// Whether some non-directory entry was ever at `path` (for one we did not keep;
    /// see [`apply::Seen`]).
    pub fn exists(&self, path: &[u8]) -> bool {
        self.files.contains_key(path) || (!self.asked.contains(path) && self.seen.contains(path))
    }
}

/// A layer's bytes with their SHA-256 computed as they pass.
struct Hashed<R> {
    r: R,
    h: Option<Sha256>,
    n: u64,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        if let Some(h) = &mut self.h {
            h.update(&buf[..n]);
        }
        self.n += n as u64;
        Ok(n)
    }
}

impl<R: Read> tar::Skip for Hashed<R> {}

/// A decompressor whose errors say which format failed ("gzip data: ...").
struct Named<R>(R, Compression);

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let c = self.1.name();
            io::Error::new(
                e.kind(),
                format!("{c} data: {}", crate::error::strerror(&e)),
            )
        })
    }
}

fn hashed<R>(r: R, on: bool) -> Hashed<R> {
    Hashed {
        r,
        h: on.then(Sha256::new),
        n: 0,
    }
}

impl Image {
    /// Open `IMAGE[:TAG]` and pick the image (`platform`: `os/arch[/variant]`).
    pub fn open(arg: &Path, platform: Option<&str>) -> anyhow::Result<Image> {
        let (path, tag) = layout::split_tag(arg);
        let at = |e: anyhow::Error| anyhow!("{}: {e:#}", crate::error::quote(arg));
        if let Some(p) = platform
            && p.split('/').count() < 2
        {
            return Err(anyhow!(
                "--platform {p:?}: expected OS/ARCH or OS/ARCH/VARIANT (for example linux/amd64)"
            ));
        }
        match layout::open(&path).map_err(at)? {
            layout::Opened::Image(store) => {
                let resolved = layout::resolve(&store, tag.as_deref(), platform).map_err(at)?;
                Ok(Image {
                    name: arg.to_path_buf(),
                    store: Some(store),
                    resolved,
                })
            }
            layout::Opened::Layer(p) => {
                if let Some(t) = tag {
                    return Err(at(anyhow!(
                        "a single layer tar has no tags (asked for {t:?})"
                    )));
                }
                let label = format!("layer {}", p.display());
                Ok(Image {
                    name: arg.to_path_buf(),
                    store: None,
                    resolved: layout::Resolved {
                        layers: vec![layout::Layer {
                            index: 0,
                            digest: None,
                            label,
                            bytes: layout::Bytes::File(p),
                            expected: None,
                            size: None,
                            created_by: None,
                        }],
                        user: None,
                        entrypoint: Vec::new(),
                        path_env: None,
                        workdir: None,
                        chosen: "a single layer".into(),
                        source: layout::Source::default(),
                    },
                })
            }
        }
    }

    /// Where the image's blobs are (none for a single layer tar).
    pub fn store(&self) -> Option<&layout::Store> {
        self.store.as_ref()
    }

    /// Apply every layer, keeping what `want` asks for.
    pub fn scan(&self, want: &Want) -> anyhow::Result<Snapshot> {
        let layers = &self.resolved.layers;
        let sh = Shared::new(want);
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<Option<Result<apply::LayerOut, String>>>> =
            Mutex::new((0..layers.len()).map(|_| None).collect());
        let workers = crate::scan::threads().min(layers.len()).max(1);
        let result = std::thread::scope(|s| -> Result<(), String> {
            let work = || {
                let mut zstd = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= layers.len() || sh.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = self.read_layer(&layers[i], &sh, &mut zstd);
                    if r.is_err() {
                        sh.stop.store(true, Ordering::Relaxed);
                    }
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                    sh.notify();
                }
            };
            for _ in 0..workers {
                s.spawn(work);
            }
            // This thread merges, in layer order.
            for (i, layer) in layers.iter().enumerate() {
                let out = {
                    let mut g = sh.lock.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                        match d[i].take() {
                            // This layer was stopped because a later one failed
                            // (every layer below merged): wait for that one's error.
                            Some(Err(e)) if e == STOPPED => {
                                d[i] = Some(Err(e));
                                let failed =
                                    d.iter().enumerate().skip(i + 1).find_map(|(j, r)| match r {
                                        Some(Err(e)) if e != STOPPED => Some((j, e.clone())),
                                        _ => None,
                                    });
                                if let Some((j, e)) = failed {
                                    break Err(format!("{}: {e}", layers[j].label));
                                }
                            }
                            Some(r) => break r.map_err(|e| format!("{}: {e}", layer.label)),
                            None => {}
                        }
                        drop(d);
                        g = sh.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                    }
                };
                let merged = out.and_then(|o| {
                    apply::merge(&sh, i, o).map_err(|e| format!("{}: {e}", layer.label))
                });
                if let Err(e) = merged {
                    sh.stop.store(true, Ordering::Relaxed);
                    sh.notify();
                    return Err(e);
                }
            }
            Ok(())
        });
        result.map_err(|e| anyhow!("{}: {e}", crate::error::quote(&self.name)))?;
        if self.store.is_none()
            && let Some(e) = self.compressed_archive(&sh.seen)
        {
            return Err(anyhow!("{}: {e}", crate::error::quote(&self.name)));
        }
        // Once per process: verify may scan an image more than once.
        static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
        for w in sh.warnings.into_inner().unwrap_or_else(|e| e.into_inner()) {
            if !said.contains(&w) {
                crate::error::warn(&w);
                said.push(w);
            }
        }
        drop(said);
        let files = sh.state.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(Snapshot {
            files,
            seen: sh.seen,
            asked: want
                .paths
                .iter()
                .chain(want.heads.keys())
                .cloned()
                .collect(),
        })
    }

    /// A compressed `docker save` or `oci-archive` tarball given as IMAGE reads as
    /// one layer whose top holds the archive's own files: say so, instead of
    /// listing nothing from it.
    fn compressed_archive(&self, seen: &apply::Seen) -> Option<String> {
        let has = |p: &str| seen.contains(p.as_bytes());
        let (a, b) = if has("/oci-layout") && has("/index.json") {
            ("index.json", "oci-layout")
        } else if has("/manifest.json") && (has("/repositories") || has("/oci-layout")) {
            let b = if has("/repositories") {
                "repositories"
            } else {
                "oci-layout"
            };
            ("manifest.json", b)
        } else {
            return None;
        };
        let mut magic = [0u8; 4];
        let n = std::fs::File::open(self.layer_path()?)
            .and_then(|mut f| f.read(&mut magic))
            .unwrap_or(0);
        let (what, tool) = match Compression::sniff(&magic[..n]) {
            Compression::Gzip => ("a gzip-compressed", "gzip -d"),
            Compression::Zstd => ("a zstd-compressed", "zstd -d"),
            Compression::None => return None,
        };
        Some(format!(
            "{what} image archive ({a} and {b} at its top), not a layer tar: decompress it first ({tool}) and give fcap the tar"
        ))
    }

    fn layer_path(&self) -> Option<&Path> {
        match &self.resolved.layers.first()?.bytes {
            layout::Bytes::File(p) => Some(p),
            layout::Bytes::Range { .. } => None,
        }
    }

    /// Stream one layer: read, hash, decompress, parse; then check the digest.
    fn read_layer(
        &self,
        layer: &layout::Layer,
        sh: &Shared,
        zstd: &mut ZstdCtx,
    ) -> Result<apply::LayerOut, String> {
        let raw = match &self.store {
            Some(s) => s.open(&layer.bytes),
            None => match &layer.bytes {
                layout::Bytes::File(p) => {
                    std::fs::File::open(p).map(|f| Box::new(f) as Box<dyn Read + Send>)
                }
                layout::Bytes::Range { .. } => Err(io::Error::other("no archive")),
            },
        }
        .map_err(|e| format!("cannot open it: {}", crate::error::strerror(&e)))?;
        // Never read past the size the manifest gives: a blob that is really a
        // huge (or sparse) file is refused at once, not after reading all of it.
        let raw: Box<dyn Read + Send> = match layer.size {
            Some(n) => Box::new(raw.take(n.saturating_add(1))),
            None => raw,
        };
        let hash_of = layer.expected.map(|(_, h)| h);
        let mut br = BufReader::with_capacity(
            1 << 17,
            hashed(raw, hash_of == Some(layout::HashOf::Stored)),
        );
        let comp = Compression::sniff(br.fill_buf().map_err(|e| crate::error::strerror(&e))?);
        let unpacked = hash_of == Some(layout::HashOf::Uncompressed);
        let (out, tail_hash) = {
            let dec: Box<dyn Read + Send + '_> = match comp {
                Compression::None => Box::new(&mut br),
                Compression::Gzip => {
                    Box::new(Named(flate2::bufread::MultiGzDecoder::new(&mut br), comp))
                }
                Compression::Zstd => Box::new(Named(
                    zstd_decoder(&mut br, zstd).map_err(|e| e.to_string())?,
                    comp,
                )),
            };
            // Headers and small files are read from the buffer, so the decompressor
            // always fills 128 KiB at a time.
            let mut tr = tar::Reader::new(BufReader::with_capacity(1 << 17, hashed(dec, unpacked)));
            let out = apply::read_layer(&mut tr, layer.index, sh);
            if out.as_ref().is_err_and(|e| e == STOPPED) {
                return out;
            }
            let mut rest = tr.into_inner();
            // What follows the end of the archive still counts for the digest and
            // must decompress cleanly. After a tar error too: garbage from a corrupt
            // blob is better explained by the decompressor or the digest.
            // (`Named` says which decompressor failed.)
            io::copy(&mut rest, &mut io::sink()).map_err(|e| crate::error::strerror(&e))?;
            (out, rest.into_inner().h.map(|h| h.finalize()))
        };
        io::copy(&mut br, &mut io::sink()).map_err(|e| crate::error::strerror(&e))?;
        let raw = br.into_inner();
        if let Some(want) = layer.size
            && want != raw.n
        {
            return Err(if raw.n > want {
                format!("larger than the {want} bytes the manifest says: corrupt or tampered")
            } else {
                format!(
                    "{} bytes where the manifest says {want}: truncated, corrupt or tampered",
                    raw.n
                )
            });
        }
        if let Some((want, how)) = layer.expected {
            let got = match how {
                layout::HashOf::Stored => raw.h.map(|h| h.finalize()),
                layout::HashOf::Uncompressed => tail_hash,
            };
            if got.is_some_and(|g| g.as_slice() != want) {
                return Err(format!(
                    "content does not match its digest sha256:{} (corrupt or tampered)",
                    layout::hex(&want)
                ));
            }
        }
        out
    }
}
