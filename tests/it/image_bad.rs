//! `read --image` on bad input: every damaged or malformed image is one line
//! `fcap: IMAGE: ...: cause` naming the image, the layer (its digest or its path in
//! the archive) and the cause, exit 2, nothing on stdout, no panic, no hang (each
//! run is killed after 20 s). A malformed capability value is the exception the
//! host scan also makes: that file's line is missing, the rest is listed.
//!
//! The images are real: umoci builds an OCI layout with a capped copy of
//! /bin/true, skopeo copies it to `docker-archive:`, `oci-archive:` and a zstd OCI
//! layout, GNU tar writes a layer with `--xattrs`; each test copies one and damages
//! it. Digests are recomputed where the damage must get past them (a well-formed
//! image a buggy writer produced). What no tool writes (a pax record claiming
//! 1 GiB, a 7-byte capability value, `..` names) is crafted with Python's tarfile.

use crate::util::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The images every test starts from, built once per test run.
struct Fixture {
    dir: PathBuf,
    /// The hex digest of the capped layer (gzip) in `oci`.
    layer: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn sh(cmd: &mut Command) {
    let r = run_bounded(std::mem::replace(cmd, Command::new("true")));
    assert!(r.out.status.success(), "{}: {}", r.cmd, r.stderr());
}

/// `DIR/oci` (umoci: tags `base` and `capped`; `capped` adds a layer with
/// /usr/bin/pingish cap_net_raw=ep and /usr/bin/plain), `DIR/docker.tar` (skopeo
/// docker-archive, legacy shape), `DIR/ociarch.tar` (skopeo oci-archive),
/// `DIR/zstd` (skopeo, zstd layers) and `DIR/gnu.tar` (GNU tar --xattrs of the
/// root filesystem).
fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        require_root();
        for t in ["umoci", "skopeo", "tar", "gzip", "python3", "setcap"] {
            require_tool(t);
        }
        // Statics are never dropped: the fixture lives under cargo's scratch dir,
        // named by pid; those of finished runs are removed here.
        let top = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(rd) = std::fs::read_dir(top) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("image_bad-")
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let d = top.join(format!("image_bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = |s: &str| d.join(s);
        sh(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(p("oci")));
        sh(Command::new("umoci")
            .args(["new", "--image"])
            .arg(p("oci:base")));
        sh(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(p("oci:base"))
            .arg(p("bundle")));
        let bin = p("bundle/rootfs/usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let ping = copy_prog(&bin, "pingish");
        setcap(&[os("cap_net_raw=ep"), ping.as_os_str()]).ok();
        copy_prog(&bin, "plain");
        sh(Command::new("umoci")
            .args(["repack", "--image"])
            .arg(p("oci:capped"))
            .arg(p("bundle")));
        let oci = format!("oci:{}:capped", p("oci").display());
        for dest in [
            format!("docker-archive:{}:capped:latest", p("docker.tar").display()),
            format!("oci-archive:{}:capped", p("ociarch.tar").display()),
        ] {
            sh(Command::new("skopeo").args(["--insecure-policy", "copy", "-q", &oci, &dest]));
        }
        sh(Command::new("skopeo").args([
            "--insecure-policy",
            "copy",
            "-q",
            "--dest-compress-format",
            "zstd",
            &oci,
            &format!("oci:{}:capped", p("zstd").display()),
        ]));
        sh(Command::new("tar")
            .args(["--xattrs", "-C"])
            .arg(p("bundle/rootfs"))
            .arg("-cf")
            .arg(p("gnu.tar"))
            .arg("."));
        let layer = last_layer(&p("oci"), "capped");
        Fixture { dir: d, layer }
    })
}

impl Fixture {
    /// A fresh copy of one of the fixture's images in `into`.
    fn copy(&self, name: &str, into: &Path) -> PathBuf {
        let dest = into.join(name);
        sh(Command::new("cp")
            .arg("-a")
            .arg(self.dir.join(name))
            .arg(&dest));
        dest
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The descriptor in `oci/index.json` tagged `tag`.
fn tagged(index: &Value, tag: &str) -> usize {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()
}

fn blob(oci: &Path, digest: &str) -> PathBuf {
    oci.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The hex digest of the last layer of the image tagged `tag`.
fn last_layer(oci: &Path, tag: &str) -> String {
    let index = read_json(&oci.join("index.json"));
    let m = read_json(&blob(
        oci,
        index["manifests"][tagged(&index, tag)]["digest"]
            .as_str()
            .unwrap(),
    ));
    let l = m["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    l.strip_prefix("sha256:").unwrap().to_string()
}

/// Store `data` as a blob; its descriptor's digest and size.
fn put_blob(oci: &Path, data: &[u8]) -> (String, usize) {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(oci.join("blobs/sha256").join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len())
}

/// Rewrite the manifest tagged `tag` with `edit`, storing it under its new digest
/// and pointing index.json at it: the image stays consistent, digests and all.
fn edit_manifest(oci: &Path, tag: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut index = read_json(&oci.join("index.json"));
    let i = tagged(&index, tag);
    let mut m = read_json(&blob(
        oci,
        index["manifests"][i]["digest"].as_str().unwrap(),
    ));
    edit(&mut m);
    let (digest, size) = put_blob(oci, &serde_json::to_vec(&m).unwrap());
    index["manifests"][i]["digest"] = json!(digest);
    index["manifests"][i]["size"] = json!(size);
    std::fs::write(oci.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    digest
}

/// Replace the last layer of the image tagged `tag` by `data` (digest and size
/// recomputed); the new layer's digest.
fn replace_layer(oci: &Path, tag: &str, data: &[u8]) -> String {
    let (digest, size) = put_blob(oci, data);
    let d = digest.clone();
    edit_manifest(oci, tag, |m| {
        let l = m["layers"].as_array_mut().unwrap().last_mut().unwrap();
        l["digest"] = json!(d);
        l["size"] = json!(size);
    });
    digest
}

/// Run a python3 script with arguments (it crafts what no tool writes).
fn python(script: &str, args: &[&OsStr]) {
    sh(Command::new("python3").arg("-c").arg(script).args(args));
}

/// Python's tarfile, writing pax layers: `python3 -c CRAFT MODE OUT [ARG]`.
const CRAFT: &str = r#"
import io, sys, tarfile
mode, out = sys.argv[1], sys.argv[2]
def value(eff, caps):
    perm = sum(1 << c for c in caps)
    return bytes([eff, 0, 0, 2]) + perm.to_bytes(4, 'little') + bytes(12)
NET_RAW_EP, CHOWN_EP = value(1, [13]), value(1, [0])
def cap(v):
    return {'SCHILY.xattr.security.capability': v.decode('utf-8', 'surrogateescape')}
def add(t, name, pax=None, typ=tarfile.REGTYPE, link='', data=b'\x7fELF'):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode = typ, link, 0o755
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    ti.pax_headers = pax or {}
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
if mode == 'absurd-pax':
    h = tarfile.TarInfo('PaxHeaders/pingish')
    h.type, h.size = tarfile.XHDTYPE, 1 << 30
    body = b'30 path=usr/bin/pingish-huge\n'
    open(out, 'wb').write(h.tobuf(format=tarfile.USTAR_FORMAT) + body.ljust(512, b'\0') + bytes(4096))
    sys.exit(0)
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as t:
    if mode == 'dotdot':
        add(t, 'usr/bin/ok', cap(NET_RAW_EP))
        add(t, 'usr/../..' + sys.argv[3], cap(CHOWN_EP))
    elif mode == 'absolute':
        add(t, sys.argv[3], cap(CHOWN_EP))
        add(t, '/usr/bin/ok', cap(NET_RAW_EP))
    elif mode == 'hardlink':
        add(t, 'usr/bin/ok', cap(NET_RAW_EP))
        add(t, 'usr/bin/link', typ=tarfile.LNKTYPE, link='usr/bin/nothing')
    elif mode == 'bad-value':
        add(t, 'usr/bin/a', cap(NET_RAW_EP))
        add(t, 'usr/bin/bad', cap(NET_RAW_EP[:7]))
        add(t, 'usr/bin/z', cap(CHOWN_EP))
    elif mode == 'v1-value':
        add(t, 'usr/bin/a', cap(NET_RAW_EP))
        add(t, 'usr/bin/bad', cap(bytes([1, 0, 0, 1]) + NET_RAW_EP[4:12]))
    elif mode == 'flag-bits':
        add(t, 'usr/bin/a', cap(NET_RAW_EP))
        add(t, 'usr/bin/bad', cap(bytes([0x11]) + NET_RAW_EP[1:]))
    elif mode == 'empty-value':
        add(t, 'usr/bin/a', cap(NET_RAW_EP))
        add(t, 'usr/bin/bad', cap(b''))
        # A later entry deletes the file: the layer fails all the same.
        add(t, 'usr/bin/bad', typ=tarfile.SYMTYPE, link='a')
    elif mode == 'bad-base64':
        add(t, 'usr/bin/a', cap(NET_RAW_EP))
        add(t, 'usr/bin/bad', {'LIBARCHIVE.xattr.security.capability': 'AQAAAg*not*base64!'})
        add(t, 'usr/bin/z', cap(CHOWN_EP))
"#;

fn craft(mode: &str, out: &Path, arg: Option<&Path>) {
    let mut args = vec![os(mode), out.as_os_str()];
    if let Some(a) = arg {
        args.push(a.as_os_str());
    }
    python(CRAFT, &args);
}

/// Where the data of the archive member ending in `suffix` starts, by Python's
/// tarfile (a second reader, not fcap's).
fn data_offset(tar: &Path, suffix: &str) -> u64 {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\n\
             t = tarfile.open(sys.argv[1])\n\
             print([m for m in t if m.name.endswith(sys.argv[2])][0].offset_data)",
        ])
        .arg(tar)
        .arg(suffix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn flip(p: &Path, at: u64, n: usize) {
    let mut b = std::fs::read(p).unwrap();
    for x in &mut b[at as usize..at as usize + n] {
        *x ^= 0x5a;
    }
    std::fs::write(p, b).unwrap();
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn gzip(p: &Path) -> PathBuf {
    sh(Command::new("gzip").args(["-n", "-k", "-f"]).arg(p));
    PathBuf::from(format!("{}.gz", p.display()))
}

fn read_image(image: &OsStr, more: &[&str]) -> Command {
    let mut c = fcap();
    c.args(["read", "--image"]).arg(image).args(more);
    c
}

/// The error lines of a run (warnings aside), after checking the promises every
/// bad input keeps: exit 2, no panic, and each error line names the image.
#[track_caller]
fn errors(r: &Run, image: &OsStr) -> Vec<String> {
    r.status(2);
    let err = r.stderr();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    let lines: Vec<String> = err
        .lines()
        .filter(|l| !l.starts_with("fcap: warning: "))
        .map(str::to_string)
        .collect();
    let head = format!("fcap: '{}': ", Path::new(image).display());
    for l in &lines {
        assert!(l.starts_with(&head), "{l:?} does not start with {head:?}");
    }
    // Printed for the record (`--nocapture` shows every message the tests see).
    for l in &lines {
        eprintln!("image_bad: {l}");
    }
    lines
}

/// `fcap read --image IMAGE MORE...` is refused: exit 2, nothing on stdout, one
/// error line naming the image that contains every one of `parts`.
#[track_caller]
fn refused(image: &OsStr, more: &[&str], parts: &[&str]) -> String {
    let r = run_bounded(read_image(image, more));
    r.stdout_is("");
    let lines = errors(&r, image);
    assert_eq!(lines.len(), 1, "one error line: {lines:?}");
    for p in parts {
        assert!(lines[0].contains(p), "{:?} lacks {p:?}", lines[0]);
    }
    lines[0].clone()
}

// ------------------------------------------------------------ compressed blobs

#[test]
fn truncated_gzip_layer() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let b = blob(&oci, &format!("sha256:{}", f.layer));
    let len = std::fs::metadata(&b).unwrap().len();
    truncate(&b, len / 2);
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[
            &format!("layer sha256:{}: ", f.layer),
            "gzip data: incomplete deflate stream",
        ],
    );
}

#[test]
fn corrupt_gzip_layer() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let b = blob(&oci, &format!("sha256:{}", f.layer));
    let len = std::fs::metadata(&b).unwrap().len();
    // Bytes in the middle of the deflate stream: the decoded tar is garbage, but
    // the cause is the gzip data (its checksum, or a block it cannot decode).
    flip(&b, len / 2, 16);
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!("layer sha256:{}: gzip data: ", f.layer)],
    );
}

#[test]
fn truncated_zstd_layer() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("zstd", d.path());
    let l = last_layer(&oci, "capped");
    let b = blob(&oci, &format!("sha256:{l}"));
    let magic = std::fs::read(&b).unwrap();
    assert_eq!(&magic[..4], b"\x28\xb5\x2f\xfd", "skopeo wrote zstd");
    truncate(&b, magic.len() as u64 / 2);
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!("layer sha256:{l}: zstd data: incomplete frame")],
    );
}

/// Layers are read in parallel: when an upper layer fails while a lower one is
/// still being read, the message names the failing layer and its cause (it named
/// the lower layer, with the cause "stopped").
#[test]
fn failing_upper_layer_while_a_lower_one_is_read() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    // Many files: a worker looks for the stop between entries.
    let big = d.path().join("big");
    sh(Command::new("sh").arg("-c").arg(format!(
        "mkdir {0} && for i in $(seq 400); do head -c 8000 /dev/urandom > {0}/$i; done",
        big.display()
    )));
    let small = d.path().join("small.txt");
    std::fs::write(&small, b"small\n").unwrap();
    let image = format!("{}:capped", oci.display());
    sh(Command::new("umoci")
        .args(["insert", "--image", &image])
        .arg(&big)
        .arg("/big"));
    sh(Command::new("umoci")
        .args(["insert", "--image", &image])
        .arg(&small)
        .arg("/small.txt"));
    let top = last_layer(&oci, "capped");
    truncate(&blob(&oci, &format!("sha256:{top}")), 40);
    for _ in 0..3 {
        let mut c = read_image(os(&image), &[]);
        c.env("FCAP_SCAN_THREADS", "2");
        let r = run_bounded(c);
        r.stdout_is("");
        let lines = errors(&r, os(&image));
        assert_eq!(
            lines,
            [format!(
                "fcap: '{image}': layer sha256:{top}: gzip data: incomplete deflate stream"
            )]
        );
    }
}

/// A blob that is really a huge file (sparse here: 64 GiB of zeros) is refused
/// after the size its manifest gives, not after reading and hashing all of it.
#[test]
fn layer_blob_far_larger_than_its_manifest_says() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let b = blob(&oci, &format!("sha256:{}", f.layer));
    let size = std::fs::metadata(&b).unwrap().len();
    std::fs::remove_file(&b).unwrap();
    std::fs::File::create(&b)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!(
            "layer sha256:{}: larger than the {size} bytes the manifest says: corrupt or tampered",
            f.layer
        )],
    );
}

// ------------------------------------------------------------ tar inside layers

#[test]
fn corrupt_tar_header_inside_a_layer() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    // The layer a buggy writer made: its gzip and its digest are right, the tar
    // header of usr/bin/pingish is not.
    let tar = f.copy("gnu.tar", d.path());
    let at = data_offset(&tar, "usr/bin/pingish") - 512 + 20;
    flip(&tar, at, 4);
    let gz = gzip(&tar);
    let digest = replace_layer(&oci, "capped", &std::fs::read(&gz).unwrap());
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[
            &format!("layer {digest}: "),
            "not a valid tar: a header whose checksum does not match (not a tar, or corrupt) after entry ./usr/bin/",
        ],
    );
}

#[test]
fn layer_cut_inside_a_files_data() {
    let f = fixture();
    let d = tempdir();
    let tar = f.copy("gnu.tar", d.path());
    let at = data_offset(&tar, "usr/bin/pingish");
    truncate(&tar, at + 1000);
    refused(
        tar.as_os_str(),
        &[],
        &[&format!(
            "layer {}: truncated tar: it ends inside the data of entry ./usr/bin/pingish",
            tar.display()
        )],
    );
    // The same cut inside a gzip layer of an image with a consistent digest.
    let oci = f.copy("oci", d.path());
    let digest = replace_layer(&oci, "capped", &std::fs::read(gzip(&tar)).unwrap());
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!(
            "layer {digest}: truncated tar: it ends inside the data of entry ./usr/bin/pingish"
        )],
    );
}

#[test]
fn digest_mismatch_of_an_uncompressed_layer() {
    let f = fixture();
    let d = tempdir();
    let archive = f.copy("docker.tar", d.path());
    // One byte of /usr/bin/pingish's data inside the layer inside the archive: the
    // tar still parses, only the diff_id check can see it.
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, tarfile\n\
             t = tarfile.open(sys.argv[1])\n\
             m = [m for m in t if m.isfile() and m.name.endswith('.tar')][0]\n\
             inner = tarfile.open(fileobj=t.extractfile(m))\n\
             p = [x for x in inner if x.name.endswith('usr/bin/pingish')][0]\n\
             print(m.name, m.offset_data + p.offset_data + 1000)",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (member, at) = text.trim().split_once(' ').unwrap();
    flip(&archive, at.parse().unwrap(), 1);
    let hex = member.strip_suffix(".tar").unwrap();
    refused(
        archive.as_os_str(),
        &[],
        &[&format!(
            "layer {member}: content does not match its digest sha256:{hex} (corrupt or tampered)"
        )],
    );
}

// ------------------------------------------------------------ blobs and JSON

#[test]
fn missing_layer_blob() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    std::fs::remove_file(blob(&oci, &format!("sha256:{}", f.layer))).unwrap();
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!(
            "layer sha256:{0}: its blob blobs/sha256/{0} is missing",
            f.layer
        )],
    );
}

/// A `docker save` whose manifest.json names a layer the archive lacks (the layer
/// tars removed, skopeo's `<v1id>/layer.tar` symlinks to them left).
#[test]
fn missing_layer_in_a_docker_save() {
    let f = fixture();
    let d = tempdir();
    let archive = f.copy("docker.tar", d.path());
    let stripped = d.path().join("stripped.tar");
    python(
        "import json, sys, tarfile\n\
         with tarfile.open(sys.argv[1]) as s, tarfile.open(sys.argv[2], 'w') as o:\n\
         \x20   for m in s:\n\
         \x20       if not (m.isfile() and m.name.endswith('.tar')):\n\
         \x20           o.addfile(m, s.extractfile(m) if m.isfile() else None)",
        &[archive.as_os_str(), stripped.as_os_str()],
    );
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, tarfile\n\
             print(json.load(tarfile.open(sys.argv[1]).extractfile('manifest.json'))[0]['Layers'][0])",
        ])
        .arg(&stripped)
        .output()
        .unwrap();
    let layer = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(layer.ends_with(".tar"), "{layer}");
    refused(
        stripped.as_os_str(),
        &[],
        &[&format!(
            "layer {layer}: missing from the archive (manifest.json names it)"
        )],
    );
}

#[test]
fn missing_manifest_blob_and_missing_manifest_json() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let index = read_json(&oci.join("index.json"));
    let m = index["manifests"][tagged(&index, "capped")]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(blob(&oci, &m)).unwrap();
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!(
            "manifest {m} is missing (no blobs/sha256/{})",
            &m[7..]
        )],
    );
    // An OCI layout without its index.json.
    let sub = d.path().join("noindex");
    std::fs::create_dir(&sub).unwrap();
    let oci = f.copy("oci", &sub);
    std::fs::remove_file(oci.join("index.json")).unwrap();
    refused(
        oci.as_os_str(),
        &[],
        &["an OCI image layout without index.json: nothing says which manifests it holds"],
    );
    // A docker save without its manifest.json: nothing says which layers, in
    // which order (before, it read as one layer and listed nothing).
    let archive = f.copy("docker.tar", d.path());
    let stripped = d.path().join("stripped.tar");
    python(
        "import sys, tarfile\n\
         with tarfile.open(sys.argv[1]) as s, tarfile.open(sys.argv[2], 'w') as o:\n\
         \x20   for m in s:\n\
         \x20       if m.name != 'manifest.json':\n\
         \x20           o.addfile(m, s.extractfile(m) if m.isfile() else None)",
        &[archive.as_os_str(), stripped.as_os_str()],
    );
    refused(
        stripped.as_os_str(),
        &[],
        &[
            "an image archive (it has ",
            "without manifest.json or index.json",
        ],
    );
}

#[test]
fn index_json_that_is_not_json() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    std::fs::write(
        oci.join("index.json"),
        b"{\"schemaVersion\": 2, \"manifests\": [",
    )
    .unwrap();
    refused(
        oci.as_os_str(),
        &[],
        &["index.json is not valid JSON: EOF while parsing"],
    );
}

#[test]
fn json_of_the_wrong_shape() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let mut index = read_json(&oci.join("index.json"));
    index["manifests"] = json!({"capped": index["manifests"][1].clone()});
    std::fs::write(oci.join("index.json"), index.to_string()).unwrap();
    refused(
        oci.as_os_str(),
        &[],
        &["index.json has no manifests[] list"],
    );

    let oci = d.path().join("nolayers");
    sh(Command::new("cp")
        .arg("-a")
        .arg(f.dir.join("oci"))
        .arg(&oci));
    let m = edit_manifest(&oci, "capped", |m| {
        m.as_object_mut().unwrap().remove("layers");
    });
    let image = format!("{}:capped", oci.display());
    refused(
        os(&image),
        &[],
        &[&format!("manifest {m} has no layers[] list")],
    );
}

// ------------------------------------------------------------ nested indexes

fn nested(desc: &Value) -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": desc["digest"],
        "size": desc["size"],
    })
}

/// index.json → `index` (a descriptor list) as the only entry.
fn set_index(oci: &Path, manifests: Value) {
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(oci.join("index.json"), index.to_string()).unwrap();
}

fn capped_descriptor(oci: &Path) -> Value {
    let index = read_json(&oci.join("index.json"));
    index["manifests"][tagged(&index, "capped")].clone()
}

/// An index blob listing `manifests`, stored under its digest; its descriptor.
fn index_blob(oci: &Path, manifests: Value) -> Value {
    let body = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let (digest, size) = put_blob(oci, body.to_string().as_bytes());
    nested(&json!({"digest": digest, "size": size}))
}

#[test]
fn index_nested_too_deep() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let mut desc = capped_descriptor(&oci);
    for _ in 0..12 {
        desc = index_blob(&oci, json!([desc]));
    }
    set_index(&oci, json!([desc]));
    refused(
        oci.as_os_str(),
        &[],
        &["index sha256:", "indexes nest more than 8 deep"],
    );
}

/// An index may list one nested index many times; at every level that multiplies
/// (40 entries, 6 levels deep: 4 billion reads). The walk stops at 1024 nested
/// indexes in all.
#[test]
fn index_fan_out_is_bounded() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let mut desc = index_blob(&oci, json!([capped_descriptor(&oci)]));
    for _ in 0..6 {
        desc = index_blob(&oci, Value::Array(vec![desc; 40]));
    }
    set_index(&oci, json!([desc]));
    refused(
        oci.as_os_str(),
        &[],
        &["the indexes name more than 1024 nested indexes in all"],
    );
}

/// A loop of content-addressed indexes cannot be written: an index naming itself
/// would need a SHA-256 fixed point. What a loop looks like on disk is an index
/// stored under a digest its content does not have, naming that digest: the digest
/// check stops it before any recursion.
#[test]
fn index_that_names_itself() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let fake = format!("sha256:{}", "ab".repeat(32));
    let me = nested(&json!({"digest": fake, "size": 200}));
    let body = json!({"schemaVersion": 2, "manifests": [me, capped_descriptor(&oci)]});
    std::fs::write(blob(&oci, &fake), body.to_string()).unwrap();
    set_index(&oci, json!([me]));
    refused(
        oci.as_os_str(),
        &[],
        &[&format!(
            "index {fake}: its content does not match its digest (corrupt or tampered)"
        )],
    );
}

/// Two tags of one nested index (a diamond, as containerd writes for two names of
/// one multi-platform image) are not a loop.
#[test]
fn two_tags_of_one_nested_index_are_not_a_loop() {
    let f = fixture();
    let d = tempdir();
    let oci = f.copy("oci", d.path());
    let sub = index_blob(&oci, json!([capped_descriptor(&oci)]));
    let tag = |t: &str| {
        let mut e = sub.clone();
        e["annotations"] = json!({"org.opencontainers.image.ref.name": t});
        e
    };
    set_index(&oci, json!([tag("one"), tag("two")]));
    for image in [oci.clone(), PathBuf::from(format!("{}:two", oci.display()))] {
        let r = run_bounded(read_image(image.as_os_str(), &[]));
        r.ok().stdout_is("/usr/bin/pingish cap_net_raw=ep\n");
    }
}

// ------------------------------------------------------------ tags and platforms

#[test]
fn ambiguous_tag() {
    let f = fixture();
    refused(
        f.dir.join("oci").as_os_str(),
        &[],
        &[
            "it holds 2 images: base (linux/amd64); capped (linux/amd64); pick one with IMAGE:TAG or --platform OS/ARCH[/VARIANT]",
        ],
    );
}

#[test]
fn missing_tag_and_missing_platform() {
    let f = fixture();
    let image = format!("{}:nope", f.dir.join("oci").display());
    refused(
        os(&image),
        &[],
        &["no image tagged \"nope\"; it has: base (linux/amd64); capped (linux/amd64)"],
    );
    let image = format!("{}:capped", f.dir.join("oci").display());
    refused(
        os(&image),
        &["--platform", "linux/arm64"],
        &["no image for platform linux/arm64; it has: base (linux/amd64); capped (linux/amd64)"],
    );
}

// ------------------------------------------------------------ names that escape

/// A capped file on the host that an image entry names; `fcap` must never touch it.
fn host_canary(d: &Path) -> PathBuf {
    let dir = d.join("host");
    std::fs::create_dir(&dir).unwrap();
    let p = copy_prog(&dir, "canary-7f3a9c");
    setcap(&[os("cap_sys_time=ep"), p.as_os_str()]).ok();
    p
}

/// Run `fcap read --image LAYER` under strace and check that no system call named
/// `canary` (and, so the check can fail, that one named the layer).
fn traced(d: &Path, layer: &Path, canary: &Path) -> Run {
    require_tool("strace");
    let log = d.join("strace.log");
    let mut c = Command::new("strace");
    // Path system calls only: read(2) would show the layer's own bytes, which
    // hold the name.
    c.args(["-f", "-qq", "-s", "4096", "-e", "trace=%file", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_fcap"))
        .args(["read", "--image"])
        .arg(layer)
        .env("LC_ALL", "C");
    let r = run_bounded(c);
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains(&*layer.to_string_lossy()),
        "strace saw fcap open the layer:\n{trace}"
    );
    let name = canary.file_name().unwrap().to_string_lossy();
    assert!(
        !trace.contains(&*name),
        "fcap touched the host file {}:\n{trace}",
        canary.display()
    );
    r
}

#[test]
fn entry_whose_dotdot_climbs_out_of_the_root() {
    require_root();
    let d = tempdir();
    let canary = host_canary(d.path());
    let layer = d.path().join("dotdot.tar");
    craft("dotdot", &layer, Some(&canary));
    let r = traced(d.path(), &layer, &canary);
    r.stdout_is("");
    let lines = errors(&r, layer.as_os_str());
    assert_eq!(lines.len(), 1, "{lines:?}");
    let want = format!(
        "layer {}: entry usr/../..{} climbs out of the image root",
        layer.display(),
        canary.display()
    );
    assert!(lines[0].contains(&want), "{:?} lacks {want:?}", lines[0]);
}

/// Absolute names are read inside the image (as runtimes do): the entry named by
/// the host file's absolute path reports the layer's value, never the host's.
#[test]
fn absolute_names_stay_inside_the_image() {
    require_root();
    let d = tempdir();
    let canary = host_canary(d.path());
    let layer = d.path().join("absolute.tar");
    craft("absolute", &layer, Some(&canary));
    let r = traced(d.path(), &layer, &canary);
    r.ok().stdout_is(&format!(
        "{} cap_chown=ep\n/usr/bin/ok cap_net_raw=ep\n",
        canary.display()
    ));
}

// ------------------------------------------------------------ records and links

#[test]
fn pax_record_of_absurd_size() {
    let d = tempdir();
    let layer = d.path().join("absurd.tar");
    craft("absurd-pax", &layer, None);
    let msg =
        "not a valid tar: a pax record of 1073741824 bytes (the limit is 1048576) at byte 512";
    refused(
        layer.as_os_str(),
        &[],
        &[&format!("layer {}: {msg}", layer.display())],
    );
    // Compressed: streamed, never allocated either.
    let gz = gzip(&layer);
    refused(
        gz.as_os_str(),
        &[],
        &[&format!("layer {}: {msg}", gz.display())],
    );
}

#[test]
fn hard_link_to_nothing() {
    let d = tempdir();
    let layer = d.path().join("hardlink.tar");
    craft("hardlink", &layer, None);
    refused(
        layer.as_os_str(),
        &[],
        &[&format!(
            "layer {}: hard link /usr/bin/link names /usr/bin/nothing, which no earlier entry of this layer created (containerd and Docker apply each layer into an empty directory, so a link to a lower layer's file fails too)",
            layer.display()
        )],
    );
}

/// A bad value in a LIBARCHIVE record, which no runtime applies, is that file's
/// error, as in a host scan: the other files are still listed, and the exit status
/// is 2.
#[track_caller]
fn one_bad_file(mode: &str, cause: &str) {
    let d = tempdir();
    let layer = d.path().join(format!("{mode}.tar"));
    craft(mode, &layer, None);
    let r = run_bounded(read_image(layer.as_os_str(), &[]));
    r.stdout_is("/usr/bin/a cap_net_raw=ep\n/usr/bin/z cap_chown=ep\n");
    let lines = errors(&r, layer.as_os_str());
    assert_eq!(
        lines,
        [format!(
            "fcap: '{0}': layer {0}: '/usr/bin/bad': {cause}",
            layer.display()
        )]
    );
}

/// A SCHILY value the kernel refuses to store (malformed, v1, unknown flag bits)
/// makes containerd and Docker fail to unpack the image (tested against both in
/// image_engines.rs): the whole image is refused, naming the layer and the file, even
/// when a later layer would delete the file.
#[test]
fn capability_values_no_runtime_can_write() {
    for (mode, cause) in [
        (
            "bad-value",
            "malformed security.capability: 7 bytes do not fit revision 2 (v1 is 12, v2 20, v3 24 bytes); the kernel refuses to execute this file (EINVAL); containerd, Docker and umoci fail to unpack the image there",
        ),
        (
            "v1-value",
            "a v1 security.capability value (12 bytes), which setxattr no longer accepts (EINVAL); containerd, Docker and umoci fail to unpack the image there",
        ),
        (
            "flag-bits",
            "a security.capability value with flag bits 0x10 the kernel does not know, which setxattr refuses (EINVAL); containerd, Docker and umoci fail to unpack the image there",
        ),
        (
            "empty-value",
            "malformed security.capability: empty value; the kernel refuses to execute this file (EINVAL); containerd fails to unpack the image there (Docker 20.10 skips an empty record)",
        ),
    ] {
        let d = tempdir();
        let layer = d.path().join(format!("{mode}.tar"));
        craft(mode, &layer, None);
        refused(
            layer.as_os_str(),
            &[],
            &[&format!("layer {}: /usr/bin/bad: {cause}", layer.display())],
        );
    }
}

#[test]
fn libarchive_record_that_is_not_base64() {
    one_bad_file(
        "bad-base64",
        "its LIBARCHIVE.xattr.security.capability record is not base64",
    );
}

// ------------------------------------------------------------ not an image

#[test]
fn compressed_image_archive_given_as_image() {
    let f = fixture();
    let d = tempdir();
    let archive = f.copy("docker.tar", d.path());
    let gz = gzip(&archive);
    refused(
        gz.as_os_str(),
        &[],
        &[
            "a gzip-compressed image archive (manifest.json and repositories at its top), not a layer tar: decompress it first (gzip -d) and give fcap the tar",
        ],
    );
    require_tool("zstd");
    let oa = f.copy("ociarch.tar", d.path());
    let zst = d.path().join("ociarch.tar.zst");
    sh(Command::new("zstd")
        .args(["-q", "-f"])
        .arg(&oa)
        .arg("-o")
        .arg(&zst));
    refused(
        zst.as_os_str(),
        &[],
        &[
            "a zstd-compressed image archive (index.json and oci-layout at its top), not a layer tar: decompress it first (zstd -d) and give fcap the tar",
        ],
    );
}

#[test]
fn empty_file() {
    let d = tempdir();
    let p = d.path().join("empty.tar");
    std::fs::write(&p, b"").unwrap();
    refused(
        p.as_os_str(),
        &[],
        &["an empty file: neither an image nor a layer tar"],
    );
}

#[test]
fn directory_that_is_not_an_image() {
    let d = tempdir();
    std::fs::create_dir_all(d.path().join("rootfs/usr/bin")).unwrap();
    let p = d.path().join("rootfs");
    refused(
        p.as_os_str(),
        &[],
        &[
            "a directory without index.json or manifest.json: not an OCI image layout (a root filesystem directory is read with 'fcap read -r DIR')",
        ],
    );
}

#[test]
fn nonexistent_path() {
    let d = tempdir();
    let p = d.path().join("no-such-image.tar");
    refused(p.as_os_str(), &[], &["No such file or directory"]);
    // Not split into IMAGE:TAG either when the part before ':' does not exist.
    let p = d.path().join("no-such-layout:capped");
    refused(p.as_os_str(), &[], &["No such file or directory"]);
}

/// `fcap read --image IMAGE` run as nobody (uid and gid 65534, no groups, no
/// capabilities), from a copy of the binary in `dir`: the build tree may be out of
/// nobody's reach.
fn read_as_nobody(dir: &Path, image: &Path) -> Command {
    require_tool("setpriv");
    let bin = dir.join("fcap");
    if !bin.exists() {
        cp(Path::new(env!("CARGO_BIN_EXE_fcap")), &bin);
    }
    let mut c = crate::util::as_nobody(&bin);
    c.args(["read", "--image"]).arg(image).env("LC_ALL", "C");
    c
}

#[test]
fn image_nobody_may_not_read() {
    let f = fixture();
    let d = tempdir();
    let archive = f.copy("docker.tar", d.path());
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = run_bounded(read_as_nobody(d.path(), &archive));
    r.stdout_is("");
    let lines = errors(&r, archive.as_os_str());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with(": Permission denied"), "{lines:?}");
    // umoci writes its layout's files 0600: nobody cannot read the index.
    let oci = f.copy("oci", d.path());
    let image = PathBuf::from(format!("{}:capped", oci.display()));
    let r = run_bounded(read_as_nobody(d.path(), &image));
    r.stdout_is("");
    let lines = errors(&r, image.as_os_str());
    assert_eq!(
        lines,
        [format!(
            "fcap: '{}': cannot open index.json: Permission denied",
            image.display()
        )]
    );
}

#[test]
fn image_0644_read_by_nobody() {
    let f = fixture();
    let d = tempdir();
    let archive = f.copy("docker.tar", d.path());
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run_bounded(read_as_nobody(d.path(), &archive));
    r.ok().stdout_is("/usr/bin/pingish cap_net_raw=ep\n");
    // The oci-archive, and the umoci layout once its files are 0644 too.
    let oa = f.copy("ociarch.tar", d.path());
    std::fs::set_permissions(&oa, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_bounded(read_as_nobody(d.path(), &oa))
        .ok()
        .stdout_is("/usr/bin/pingish cap_net_raw=ep\n");
    let oci = f.copy("oci", d.path());
    sh(Command::new("chmod").args(["-R", "a+rX"]).arg(&oci));
    let image = PathBuf::from(format!("{}:capped", oci.display()));
    run_bounded(read_as_nobody(d.path(), &image))
        .ok()
        .stdout_is("/usr/bin/pingish cap_net_raw=ep\n");
}

// ------------------------------------------------------------ the fuzz target

#[path = "../../fuzz/fuzz_targets/image_layer_check.rs"]
mod image_layer_check;

/// A header block whose checksum is right, after `edit` changed it.
fn rechecksum(block: &mut [u8]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
}

/// One random change to a layer tar, biased to get past the header checksum (a
/// field rewritten and the checksum recomputed) and into pax records.
fn mutate(d: &mut Vec<u8>, rng: &mut SplitMix, corpus: &[Vec<u8>]) {
    let headers: Vec<usize> = (0..d.len() / 512)
        .map(|i| i * 512)
        .filter(|&o| d[o + 257..o + 262] == *b"ustar")
        .collect();
    match rng.next() % 6 {
        0 if !d.is_empty() => {
            for _ in 0..1 + rng.next() % 8 {
                let i = (rng.next() % d.len() as u64) as usize;
                d[i] ^= 1 << (rng.next() % 8);
            }
        }
        1 | 2 if !headers.is_empty() => {
            let o = *rng.pick(&headers);
            let b = &mut d[o..o + 512];
            // A field: name, mode, uid, size, typeflag, linkname, prefix.
            let (at, len) = *rng.pick(&[
                (0usize, 100usize),
                (100, 8),
                (108, 8),
                (124, 12),
                (156, 1),
                (157, 100),
                (345, 155),
            ]);
            match rng.next() % 4 {
                0 => b[at] = *rng.pick(b"0125LKxgSD7./\0\xff\x80"),
                1 => {
                    let v = rng.next() % 8u64.pow(len.min(11) as u32);
                    let text = format!("{v:0w$o}", w = len - 1);
                    b[at..at + len - 1].copy_from_slice(&text.as_bytes()[..len - 1]);
                }
                2 => b[at..at + len].fill(*rng.pick(b"\0/.a\xff")),
                _ => {
                    let n = b"../".len().min(len);
                    b[at..at + n].copy_from_slice(&b"../"[..n]);
                }
            }
            rechecksum(b);
        }
        3 => {
            let n = (rng.next() % (d.len() as u64 + 1)) as usize;
            d.truncate(n);
        }
        4 => {
            // A stretch of another layer, at a block boundary.
            let other = rng.pick(corpus);
            let from = (rng.next() % (other.len() as u64 / 512 + 1)) as usize * 512;
            let len = (rng.next() % 8) as usize * 512;
            let chunk = other[from.min(other.len())..(from + len).min(other.len())].to_vec();
            let at = (rng.next() % (d.len() as u64 / 512 + 1)) as usize * 512;
            d.splice(at.min(d.len())..at.min(d.len()), chunk);
        }
        _ => {
            // Inside pax records: lengths, keys and values.
            let digits: Vec<usize> = (0..d.len())
                .filter(|&i| d[i].is_ascii_digit() || d[i] == b'=')
                .collect();
            if !digits.is_empty() {
                for _ in 0..1 + rng.next() % 3 {
                    let i = *rng.pick(&digits);
                    d[i] = *rng.pick(b"0123456789= \n\0");
                }
            }
        }
    }
}

/// The every-CI-run version of `fuzz/fuzz_targets/image_layer.rs`: the committed
/// corpus (real layers by GNU tar, bsdtar and umoci, and crafted ones), then
/// seeded mutations of it (`FCAP_LAYER_FUZZ_SEED`/`_CASES` to replay or go
/// longer). A panic fails the test with the seed printed above it.
#[test]
fn layer_reader_never_panics_on_the_fuzz_corpus_and_its_mutations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/image_layer");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let corpus: Vec<Vec<u8>> = names.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(
        corpus.len() >= 10,
        "{}: {} files",
        dir.display(),
        corpus.len()
    );
    for c in &corpus {
        image_layer_check::check(c);
    }
    let (_, cases, mut rng) = random_run("FCAP_LAYER_FUZZ", "layer reader mutations", 2000);
    for _ in 0..cases {
        let mut d = rng.pick(&corpus).clone();
        for _ in 0..1 + rng.next() % 3 {
            mutate(&mut d, &mut rng, &corpus);
        }
        image_layer_check::check(&d);
    }
}

// ------------------------------------------------------------ image JSON, mutated

/// Every node of a JSON document, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// A value of another shape than the spec says, or one that points elsewhere.
fn odd_value(rng: &mut SplitMix, digests: &[String]) -> Value {
    match rng.next() % 14 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(1e300),
        5 => json!(""),
        6 => json!("../../../../etc/passwd"),
        7 => json!(format!("sha256:{}", "+f".repeat(32))),
        8 => json!([]),
        9 => json!({}),
        10 => json!("x".repeat(100_000)),
        11 => json!(rng.pick(digests)),
        12 => {
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": rng.pick(digests), "size": 1})
        }
        _ => json!([{"digest": rng.pick(digests)}, "linux/amd64", 7]),
    }
}

/// The OCI documents of the image tagged `capped`, mutated at random (one node
/// replaced or removed) with every digest above recomputed, so the mutation gets
/// past the digest checks; then the image is opened and scanned in-process. No
/// panic, and every error is one line. `FCAP_IMAGE_JSON_SEED`/`_CASES` replay or
/// go longer.
#[test]
fn image_json_of_any_shape_is_an_error_never_a_panic() {
    let f = fixture();
    let d = tempdir();
    let pristine = f.copy("oci", d.path());
    let index0 = read_json(&pristine.join("index.json"));
    let mdesc = index0["manifests"][tagged(&index0, "capped")].clone();
    let manifest0 = read_json(&blob(&pristine, mdesc["digest"].as_str().unwrap()));
    let config0 = read_json(&blob(
        &pristine,
        manifest0["config"]["digest"].as_str().unwrap(),
    ));
    let digests: Vec<String> = std::fs::read_dir(pristine.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    let (_, cases, mut rng) = random_run("FCAP_IMAGE_JSON", "image JSON mutations", 300);
    let mut errors = 0;
    for case in 0..cases {
        let oci = d.path().join(format!("case{case}"));
        sh(Command::new("cp").arg("-a").arg(&pristine).arg(&oci));
        let (mut index, mut manifest, mut config) =
            (index0.clone(), manifest0.clone(), config0.clone());
        let target = match rng.next() % 3 {
            0 => &mut index,
            1 => &mut manifest,
            _ => &mut config,
        };
        let mut at = Vec::new();
        pointers(target, String::new(), &mut at);
        let p = rng.pick(&at).clone();
        if rng.chance(25) && !p.is_empty() {
            let (parent, key) = p.rsplit_once('/').unwrap();
            match target.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    a.remove(key.parse::<usize>().unwrap());
                }
                _ => {}
            }
        } else if let Some(v) = target.pointer_mut(&p) {
            *v = odd_value(&mut rng, &digests);
        }
        // Store bottom up: config, manifest (naming it), index.json (naming that).
        if manifest["config"].is_object() {
            let (cd, cs) = put_blob(&oci, &serde_json::to_vec(&config).unwrap());
            manifest["config"]["digest"] = json!(cd);
            manifest["config"]["size"] = json!(cs);
        }
        let (md, ms) = put_blob(&oci, &serde_json::to_vec(&manifest).unwrap());
        if let Some(Value::Array(list)) = index.get_mut("manifests")
            && let Some(e) = list.iter_mut().find(|e| e["digest"] == mdesc["digest"])
        {
            e["digest"] = json!(md);
            e["size"] = json!(ms);
        }
        std::fs::write(oci.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        let arg = PathBuf::from(format!("{}:capped", oci.display()));
        let result = fcap::image::Image::open(&arg, None)
            .and_then(|img| img.scan(&fcap::image::apply::Want::default()).map(|_| ()));
        if let Err(e) = result {
            errors += 1;
            let msg = format!("{e:#}");
            assert!(!msg.contains('\n'), "case {case} ({p}): {msg}");
            // Strings from the image are clipped: a 100,000-character tag or
            // digest must not flood a CI log.
            assert!(msg.len() < 4096, "case {case} ({p}): {} bytes", msg.len());
        }
        std::fs::remove_dir_all(&oci).unwrap();
    }
    // The mutations reach the errors (a generator that only made valid images
    // would test nothing).
    assert!(
        cases < 20 || errors * 5 >= cases,
        "{errors} errors in {cases} cases"
    );
}
